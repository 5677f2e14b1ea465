"""Duplicate groups of a run and the survivor of each: which documents a filter keeps.

A group is a connected component of the pairs whose relation is one of the chosen ones
(by default ``exact`` and ``near_duplicate``). Each group keeps one document, the first in
input order or the longest; every other member is dropped and points at the survivor.
Memory: two integers per document and the chosen pairs; no text is read here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from dedup import schema
from dedup.cluster import connected_components
from dedup.errors import ConfigError

Keep = Literal["first", "longest"]
DEFAULT_RELATIONS = ("exact", "near_duplicate")
DROPPED = pl.Schema(
    {
        "doc_id": pl.Int64,
        "path": pl.String,
        "external_id": pl.String,
        "kept_doc_id": pl.Int64,
        "kept_path": pl.String,
        "kept_external_id": pl.String,
        "relation": pl.String,
        "group_size": pl.Int64,
    }
)


@dataclass(frozen=True)
class Selection:
    """What a filter writes.

    Attributes:
        keep: one flag per ``doc_id``: written to the filtered corpus (ok documents that
            are alone or the survivors of their group).
        dropped: one row per dropped document (:data:`DROPPED`), by ``doc_id``.
        groups: the number of groups of two or more documents.
    """

    keep: npt.NDArray[np.bool_]
    dropped: pl.DataFrame
    groups: int


def check_relations(relations: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The relations, validated against :data:`dedup.schema.RELATIONS`.

    Raises:
        ConfigError: none given, or one that no pair can have.
    """
    if not relations:
        raise ConfigError("--relations needs at least one relation")
    bad = [r for r in relations if r not in schema.RELATIONS]
    if bad:
        raise ConfigError(f"unknown relation {bad[0]!r}: one of {', '.join(schema.RELATIONS)}")
    return tuple(dict.fromkeys(relations))


def select(run: Path, *, relations: tuple[str, ...], keep: Keep) -> Selection:
    """The documents a filter of ``run`` keeps, and which survivor each dropped one has.

    Args:
        run: a complete run folder (``documents.parquet``, ``pairs.parquet``).
        relations: relations whose pairs join documents into one group.
        keep: ``first`` keeps the smallest ``doc_id`` of a group (the first in input
            order), ``longest`` the one with the most characters (ties: the first).

    Returns:
        The keep flags, the dropped documents and the number of groups.
    """
    if keep not in ("first", "longest"):
        raise ConfigError(f"--keep must be 'first' or 'longest', got {keep!r}")
    docs = pl.read_parquet(run / "documents.parquet", columns=["doc_id", "status", "n_chars"])
    n = docs.height
    edges = (
        pl.scan_parquet(run / "pairs.parquet")
        .filter(pl.col("relation").is_in(list(relations)))
        .select("doc_a", "doc_b", "relation")
        .collect()
    )
    labels = connected_components(n, edges["doc_a"].to_numpy(), edges["doc_b"].to_numpy())
    members = (
        pl.DataFrame(
            {"doc_id": np.arange(n, dtype=np.int64), "group": labels, "n_chars": docs["n_chars"]}
        )
        .with_columns(pl.len().over("group").alias("group_size"))
        .filter(pl.col("group_size") > 1)
    )
    if keep == "longest":
        ranked = members.sort(
            [pl.col("n_chars").fill_null(-1), pl.col("doc_id")], descending=[True, False]
        )
    else:
        ranked = members.sort("doc_id")
    survivors = (
        ranked.group_by("group", maintain_order=True)
        .first()
        .select("group", pl.col("doc_id").alias("kept_doc_id"))
    )
    dropped = members.join(survivors, on="group").filter(pl.col("doc_id") != pl.col("kept_doc_id"))
    keep_flags = (docs["status"] == "ok").to_numpy().copy()
    keep_flags[dropped["doc_id"].to_numpy()] = False
    dropped = _with_relation(dropped, edges)
    return Selection(keep_flags, _with_names(run, dropped), int(survivors.height))


def _with_relation(dropped: pl.DataFrame, edges: pl.DataFrame) -> pl.DataFrame:
    """The relation of the pair joining each dropped document to its survivor directly
    (null when they are in one group only through other documents)."""
    direct = edges.select(
        pl.min_horizontal("doc_a", "doc_b").alias("lo"),
        pl.max_horizontal("doc_a", "doc_b").alias("hi"),
        "relation",
    ).unique(["lo", "hi"], keep="first")
    return (
        dropped.with_columns(
            pl.min_horizontal("doc_id", "kept_doc_id").alias("lo"),
            pl.max_horizontal("doc_id", "kept_doc_id").alias("hi"),
        )
        .join(direct, on=["lo", "hi"], how="left")
        .select("doc_id", "kept_doc_id", "relation", "group_size")
        .sort("doc_id")
    )


def _with_names(run: Path, dropped: pl.DataFrame) -> pl.DataFrame:
    """Paths and external ids of both ends, read for the dropped rows only."""
    wanted = pl.concat([dropped["doc_id"], dropped["kept_doc_id"]]).unique()
    names = (
        pl.scan_parquet(run / "documents.parquet")
        .select("doc_id", "path", "external_id")
        .filter(pl.col("doc_id").is_in(wanted.implode()))
        .collect()
    )
    kept = names.rename(
        {"doc_id": "kept_doc_id", "path": "kept_path", "external_id": "kept_external_id"}
    )
    out = dropped.join(names, on="doc_id", how="left").join(kept, on="kept_doc_id", how="left")
    return out.select([pl.col(c).cast(t) for c, t in DROPPED.items()]).sort("doc_id")
