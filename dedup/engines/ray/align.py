"""The distributed scan's last pair stage on one partition: paths, texts and alignment.

Pairs meet their documents' paths and texts in two co-grouped partitions (on ``doc_a``,
then on ``doc_b``); the second one aligns each pair and decides its relation as the local
engine does (:func:`dedup.align.stage.derive_pair`, lexical evidence) and nests the sentence
view's and the passages' rows in the pair's row, from which :func:`alignment_table` and
:func:`passage_table` unnest them. A pair whose passages show no relation gets a null
relation and is left out of every table (and of the clusters). When the semantic channel
ran, the pairs it proposed are left to :func:`align_semantic` (model actors with the
embedding scorer, :mod:`dedup.engines.ray.semantic`).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from dedup import schema
from dedup.align.stage import derive_pair, relabel, semantic_proposed
from dedup.config import DerivationConfig
from dedup.jit import one_blas_thread

I64 = pl.Int64
TEXTS = {"doc_id": I64, "path": pl.String, "external_id": pl.String, "text": pl.String}
SCORED = {
    "doc_a": I64,
    "doc_b": I64,
    "relation": pl.String,
    "jaccard": pl.Float64,
    "containment_a": pl.Float64,
    "containment_b": pl.Float64,
    "score": pl.Float64,
    "channel": pl.String,
    "source": I64,
    "semantic": pl.Float64,
}
WITH_A: dict[str, Any] = {
    **SCORED,
    "path_a": pl.String,
    "external_id_a": pl.String,
    "text_a": pl.String,
}
_PAIR_KEYS = ("doc_a", "doc_b", "external_id_a", "external_id_b")
_AL_FIELDS = {c: t for c, t in schema.ALIGNMENTS.items() if c not in _PAIR_KEYS}
_PS_FIELDS = {c: t for c, t in schema.PASSAGES.items() if c not in _PAIR_KEYS}
ALIGNED: dict[str, Any] = {
    **dict(schema.PAIRS),
    "alignment": pl.List(pl.Struct(_AL_FIELDS)),
    "passages": pl.List(pl.Struct(_PS_FIELDS)),
}
ALIGNED_TEXTS: dict[str, Any] = {**ALIGNED, "text_a": pl.String, "text_b": pl.String}
ALIGN_ROWS: dict[str, Any] = {**dict(schema.ALIGNMENTS), "seq": I64}
_SUMMARY = (
    "kept_a",
    "new_b",
    "n_same",
    "n_edited",
    "n_added",
    "n_dropped",
    "n_moved",
    "n_passages",
    "passage_share_a",
    "passage_share_b",
)


def pair_key(doc_a: pl.Expr, doc_b: pl.Expr) -> pl.Expr:
    """One sortable integer per pair (ids below 2**31)."""
    return doc_a * (1 << 32) + doc_b


def attach_a(pairs: pl.DataFrame, texts: pl.DataFrame) -> pl.DataFrame:
    """Partition on ``doc_a``: A's path, external id and text."""
    right = texts.rename(
        {"doc_id": "doc_a", "path": "path_a", "external_id": "external_id_a", "text": "text_a"}
    )
    return pairs.join(right, on="doc_a", how="left")


def attach_b(
    pairs: pl.DataFrame,
    texts: pl.DataFrame,
    *,
    derivation: DerivationConfig | None,
    cutoff: int | None,
    skip_semantic: bool = False,
) -> pl.DataFrame:
    """Partition on ``doc_b``: B's path, external id and text; each pair's alignment and
    relation up to ``cutoff`` (``derivation`` None: not aligned, ``--no-align``).

    ``cutoff`` is the key (:func:`pair_key`) of the last pair the local engine aligns
    (its first ``max_pairs`` pairs in ``(doc_a, doc_b)`` order); ``None`` aligns all.
    With ``skip_semantic``, pairs the semantic channel proposed are left unaligned and both
    texts are kept (:data:`ALIGNED_TEXTS`), for :func:`align_semantic` to align them.
    """
    right = texts.rename(
        {"doc_id": "doc_b", "path": "path_b", "external_id": "external_id_b", "text": "text_b"}
    )
    j = pairs.join(right, on="doc_b", how="left")
    if derivation is not None and j.height:
        j = _align(j, cutoff, derivation, skip_semantic=skip_semantic)
    return _conform(j, ALIGNED_TEXTS if skip_semantic else ALIGNED)


def align_semantic(
    df: pl.DataFrame, *, cutoff: int | None, scorer: Any, derivation: DerivationConfig
) -> pl.DataFrame:
    """Align the semantic channel's pairs left unaligned by :func:`attach_b` with ``scorer``
    (the local engine's scorer for them); rows in :data:`ALIGNED` form, texts dropped."""
    mine, others = df.filter(semantic_proposed()), df.filter(~semantic_proposed())
    if mine.height:
        mine = mine.drop([*_SUMMARY, "alignment", "passages"])
        mine = _align(mine, cutoff, derivation, scorer=scorer)
    return pl.concat([_conform(others, ALIGNED), _conform(mine, ALIGNED)])


def _conform(j: pl.DataFrame, columns: dict[str, Any]) -> pl.DataFrame:
    return j.select(
        [
            (pl.col(c) if c in j.columns else pl.lit(None)).cast(t).alias(c)
            for c, t in columns.items()
        ]
    )


def _align(
    j: pl.DataFrame,
    cutoff: int | None,
    derivation: DerivationConfig,
    *,
    skip_semantic: bool = False,
    scorer: Any = None,
) -> pl.DataFrame:
    todo = j.filter(pl.col("text_a").is_not_null() & pl.col("text_b").is_not_null())
    if cutoff is not None:
        todo = todo.filter(pair_key(pl.col("doc_a"), pl.col("doc_b")) <= cutoff)
    if skip_semantic:
        todo = todo.filter(~semantic_proposed())
    summaries: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    passages: list[dict[str, Any]] = []
    with one_blas_thread():  # many small sentence matrices
        for doc_a, doc_b, relation, text_a, text_b in todo.select(
            "doc_a", "doc_b", "relation", "text_a", "text_b"
        ).iter_rows():
            d = derive_pair(
                doc_a, doc_b, relation, text_a, text_b, scorer=scorer, derivation=derivation
            )
            summaries.append({**dict.fromkeys(_SUMMARY), **d.summary, "derived": d.relation})
            if d.relation is not None:
                rows.extend(d.alignments)
                passages.extend(d.passages)
    if not summaries:
        return j
    summary = pl.DataFrame(summaries, infer_schema_length=None).cast(
        {**{c: schema.PAIRS[c] for c in _SUMMARY}, "derived": pl.String}
    )
    j = pl.concat(
        [j.join(summary, on=["doc_a", "doc_b"], how="anti"), relabel(j, summary)],
        how="diagonal_relaxed",
    )
    return j.join(_nest(rows, "alignments", "alignment"), on=["doc_a", "doc_b"], how="left").join(
        _nest(passages, "passages", "passages"), on=["doc_a", "doc_b"], how="left"
    )


def _nest(rows: list[dict[str, Any]], table: str, column: str) -> pl.DataFrame:
    """Table rows grouped per pair into a list-of-structs ``column``."""
    fields = list(_AL_FIELDS if table == "alignments" else _PS_FIELDS)
    frame = (
        schema.conform(pl.DataFrame(rows, infer_schema_length=None), table)
        if rows
        else schema.empty(table)
    )
    return frame.group_by("doc_a", "doc_b", maintain_order=True).agg(
        pl.struct(fields).alias(column)
    )


def reported(df: pl.DataFrame) -> pl.DataFrame:
    """The pairs with a relation (those whose passages showed none are left out)."""
    return df.filter(pl.col("relation").is_not_null())


def pairs_table(df: pl.DataFrame) -> pl.DataFrame:
    """The ``pairs`` table's rows of aligned pairs."""
    return schema.conform(reported(df), "pairs")


def alignment_table(df: pl.DataFrame) -> pl.DataFrame:
    """The ``alignments`` table's rows (with ``seq``, their order within the pair)."""
    rows = (
        reported(df)
        .select(*_PAIR_KEYS, "alignment")
        .filter(pl.col("alignment").is_not_null())
        .explode("alignment")
        .filter(pl.col("alignment").is_not_null())
        .unnest("alignment")
    )
    rows = rows.with_columns(pl.int_range(pl.len()).over("doc_a", "doc_b").alias("seq"))
    return rows.select([pl.col(c).cast(t) for c, t in ALIGN_ROWS.items()])


def passage_table(df: pl.DataFrame) -> pl.DataFrame:
    """The ``passages`` table's rows."""
    rows = (
        reported(df)
        .select(*_PAIR_KEYS, "passages")
        .filter(pl.col("passages").is_not_null())
        .explode("passages")
        .filter(pl.col("passages").is_not_null())
        .unnest("passages")
    )
    return schema.conform(rows, "passages")
