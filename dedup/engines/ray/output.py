"""Output of the Ray engine: Parquet parts written by the workers, then one atomic commit.

Each table is sorted on the cluster (a range-partitioned sort) and written by the workers
as Parquet parts under a temporary folder in the run folder (which every node must see:
a shared file system). The driver then concatenates the parts, in key order, into the
same single files the local engine writes, each atomically, and writes the manifest last.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow.parquet as pq

from dedup import schema
from dedup.engines.ray.shuffle import Schema, collect, map_frames
from dedup.io import atomic
from dedup.run import counts as run_counts

if TYPE_CHECKING:
    from ray.data import Dataset


def write_parts(
    ds: Dataset | None, folder: Path, sort_keys: list[str], *, drop: list[str] | None = None
) -> list[Path]:
    """Sort ``ds`` on ``sort_keys`` and have the workers write it (less ``drop``) as parts.

    Returns:
        The part files in key order (a range-partitioned sort gives each part a key range).
    """
    if ds is None or ds.count() == 0:
        return []
    ordered = ds.sort(sort_keys)
    if drop:
        ordered = ordered.drop_columns(drop)
    ordered.write_parquet(str(folder))
    files = sorted(folder.glob("*.parquet"))

    keys = [k for k in sort_keys if k not in (drop or [])]

    def first_key(path: Path) -> tuple[Any, ...]:
        head = pq.ParquetFile(path).read_row_group(0, columns=keys).slice(0, 1)
        return tuple(head.column(k)[0].as_py() for k in keys)

    files = [f for f in files if pq.ParquetFile(f).metadata.num_rows > 0]
    return sorted(files, key=first_key)


def commit(tables: dict[str, list[Path]], out: Path) -> None:
    """Concatenate each table's parts into ``out/<table>.parquet``, atomically."""
    for name, parts in tables.items():
        atomic.write_parquet_parts_atomic(parts, out / f"{name}.parquet", empty=schema.empty(name))


def tally(ds: Dataset | None, fn: Any, columns: Schema, by: list[str]) -> pl.DataFrame:
    """A small aggregate: ``fn`` per batch on the workers, partial results summed here."""
    if ds is None:
        return pl.DataFrame(schema=dict(columns))
    part = collect(map_frames(ds, fn, schema=columns), columns)
    if not by:
        return part.sum()
    return part.group_by(by).agg(pl.all().sum())


def counts(
    n_docs: int, skipped: dict[str, int], pairs: Dataset | None, labels: Dataset | None
) -> dict[str, Any]:
    """The manifest's ``counts``, from aggregates computed on the cluster (``skipped``:
    the skipped documents counted by reason kind)."""
    rel = tally(
        pairs,
        lambda df: (
            df.filter(pl.col("relation").is_not_null())
            .group_by("relation")
            .agg(pl.len().cast(pl.Int64).alias("n"))
        ),
        {"relation": pl.String, "n": pl.Int64},
        ["relation"],
    )
    by_rel = dict(rel.iter_rows()) if rel.height else {}
    cl = tally(
        labels,
        lambda df: pl.DataFrame(
            {
                "rows": [df.height],
                "centres": [int((df["doc_id"] == df["cluster_id"]).sum())],
            }
        ),
        {"rows": pl.Int64, "centres": pl.Int64},
        [],
    )
    rows = int(cl["rows"][0] or 0) if cl.height else 0
    centres = int(cl["centres"][0] or 0) if cl.height else 0
    return run_counts(
        documents=n_docs,
        skipped=sum(skipped.values()),
        skipped_reasons=skipped,
        by_relation=by_rel,
        clusters=centres,
        documents_in_clusters=rows,
    )
