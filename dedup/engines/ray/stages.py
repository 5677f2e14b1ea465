"""The Ray Data stages of :mod:`dedup.engines.ray.engine`: read, candidates, overlap, align,
cluster.

Each function takes and returns Ray Datasets; the shuffles are hash
partitionings (:mod:`dedup.engines.ray.shuffle`) with one polars function per partition
(:mod:`dedup.engines.ray.partitions`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from dedup import schema
from dedup.config import RunConfig
from dedup.engines.ray import align as ap
from dedup.engines.ray import partitions as pt
from dedup.engines.ray.shuffle import (
    co_group,
    collect,
    map_frames,
    semi_join,
    shuffle_apply,
    to_arrow,
)
from dedup.io import walk as io
from dedup.lexical.lsh import bands_rows
from dedup.lexical.overlap import sampling_stride

if TYPE_CHECKING:
    from ray.data import Dataset

    from dedup.semantic.vector_store import SentenceVectorStore


ROWS_PER_PART = 500_000
FILES_PER_TASK = 64


def n_parts(rows: int) -> int:
    import ray

    cpus = int(ray.cluster_resources().get("CPU", 1))
    return max(cpus, -(-rows // ROWS_PER_PART), 1)


def _units(inputs: Sequence[str | Path], read: io.ReadOptions) -> pl.DataFrame:
    paths: list[bytes] = []
    reasons: list[str | None] = []
    for source in io.iter_sources(inputs, options=read):
        if isinstance(source, io.RawDoc):
            paths.append(pt.encode_path(source.path))
            reasons.append(source.reason)
        else:
            paths.append(pt.encode_path(source))
            reasons.append(None)
    return pl.DataFrame(
        {"unit": np.arange(len(paths), dtype=np.int64), "path": paths, "reason": reasons},
        schema=pt.UNITS,
    )


def read_docs(
    inputs: Sequence[str | Path],
    cfg: RunConfig,
    *,
    read: io.ReadOptions,
    keep_texts: bool | None = None,
) -> Dataset:
    """Every document, shingled, with its ``doc_id`` (materialized: used several times).

    ``keep_texts``: keep the shingled documents' texts (``None``: when alignment or the
    semantic channel may need them)."""
    import ray

    if keep_texts is None:
        keep_texts = cfg.align.enabled or cfg.semantic.enabled is not False
    keep = keep_texts

    units = _units(inputs, read)
    blocks = max(1, min(len(units), -(-len(units) // FILES_PER_TASK)))
    src = ray.data.from_arrow(to_arrow(units)).repartition(blocks)
    ingested = map_frames(
        src,
        lambda df: pt.ingest_units(
            df,
            config=cfg,
            read=read,
            keep_texts=keep,
        ),
        schema=pt.INGESTED,
        batch_size=FILES_PER_TASK,
    ).materialize()
    counts = collect(
        map_frames(ingested, pt.unit_counts, schema={"unit": pl.Int64, "n": pl.Int64}),
        {"unit": pl.Int64, "n": pl.Int64},
    )
    per_unit = np.zeros(len(units), dtype=np.int64)
    if counts.height:
        summed = counts.group_by("unit").agg(pl.col("n").sum())
        per_unit[summed["unit"].to_numpy()] = summed["n"].to_numpy()
    first = np.concatenate([[0], np.cumsum(per_unit)[:-1]]).astype(np.int64)
    out_schema = {"doc_id": pl.Int64, **pt.INGESTED}
    return map_frames(
        ingested, lambda df: pt.with_doc_ids(df, first=first), schema=out_schema
    ).materialize()


def candidates(docs: Dataset, cfg: RunConfig, n_docs: int) -> Dataset | None:
    """Verified lexical pairs (``doc_a < doc_b``, scored), or None when there are none."""
    from dedup.lexical.candidates import score_and_source

    parts = n_parts(n_docs)
    shingled = map_frames(
        docs, lambda df: df.filter(pl.col("shingled")).select(list(pt.SHINGLED)), schema=pt.SHINGLED
    )
    max_group = cfg.verify.max_exact_group
    reps_all = shuffle_apply(
        shingled,
        ["content"],
        lambda df: pt.exact_partition(df, max_group=max_group),
        schema=pt.REPS,
        parts=parts,
    ).materialize()
    if reps_all.count() == 0:
        return None
    reps = map_frames(reps_all, lambda df: df.filter(pl.col("is_rep")), schema=pt.REPS)
    bands, _ = bands_rows(cfg.lsh, cfg.minhash.num_perm)
    max_bucket = cfg.lsh.max_bucket
    proposals = shuffle_apply(
        map_frames(reps, lambda df: pt.band_rows(df, bands=bands), schema=_BAND),
        ["band", "key"],
        lambda df: pt.lsh_partition(df, max_bucket=max_bucket),
        schema=pt.PROPOSALS,
        parts=parts,
    )
    if cfg.overlap.enabled:
        proposals = proposals.union(_overlap(reps, cfg, parts))
    proposals = proposals.materialize()
    verified = _verify(proposals, reps, cfg, parts)
    exact = map_frames(reps_all, pt.exact_pairs, schema=pt.VERIFIED)
    return map_frames(
        verified.union(exact),
        lambda df: score_and_source(df.rename({"a": "doc_a", "b": "doc_b"})).with_columns(
            pl.lit(None, pl.Float64).alias("semantic")
        ),
        schema=ap.SCORED,
    ).materialize()


def _verify(proposals: Dataset, reps: Dataset, cfg: RunConfig, parts: int) -> Dataset:
    """The proposals verified on the shingle sets of both ends (two co-grouped shuffles,
    on ``a`` then on ``b``)."""
    sets = semi_join(
        map_frames(reps, lambda df: df.select(list(pt.SETS)), schema=pt.SETS),
        pt.SETS,
        proposals,
        ["a", "b"],
    ).materialize()
    min_shared = cfg.overlap.min_shared
    half = co_group(
        proposals,
        sets,
        left_on=["a"],
        right_on=["doc_id"],
        fn=lambda p, s: pt.gather_a(p, s, min_shared=min_shared),
        left_schema=pt.PROPOSALS,
        right_schema=pt.SETS,
        schema=pt.HALF,
        parts=parts,
    )
    verified = co_group(
        half,
        sets,
        left_on=["b"],
        right_on=["doc_id"],
        fn=lambda h, s: pt.verify_b(h, s, config=cfg),
        left_schema=pt.HALF,
        right_schema=pt.SETS,
        schema=pt.VERIFIED,
        parts=parts,
    )
    return verified


_BAND = {"band": pl.Int64, "key": pl.UInt64, "doc": pl.Int64}
_SHINGLE = {"h": pl.UInt32, "doc": pl.Int64}


def _overlap(reps: Dataset, cfg: RunConfig, parts: int) -> Dataset:
    sizes = map_frames(
        reps,
        lambda df: pl.DataFrame({"n": [int(df["hashes"].list.len().sum())]}),
        schema={"n": pl.Int64},
    )
    n_entries = int(sizes.sum("n") or 0)
    stride = sampling_stride(n_entries, cfg.overlap)
    max_df = cfg.overlap.max_df
    return shuffle_apply(
        map_frames(reps, lambda df: pt.shingle_rows(df, stride=stride), schema=_SHINGLE),
        ["h"],
        lambda df: pt.overlap_partition(df, max_df=max_df),
        schema=pt.PROPOSALS,
        parts=parts,
    )


def align_pairs(
    pairs: Dataset,
    docs: Dataset,
    cfg: RunConfig,
    n_pairs: int,
    *,
    embed_paraphrases: bool = False,
    store: SentenceVectorStore | None = None,
) -> Dataset:
    """Pairs with paths, alignment summary and nested alignment rows.

    With alignment on, each pair's relation is decided from its passages (null: not
    reported). With ``embed_paraphrases`` (the semantic channel ran), the pairs it proposed
    are aligned with sentence embeddings by model actors, as the local engine aligns them
    (reading and writing ``store``'s sentence vectors when given one).
    """
    parts = n_parts(n_pairs)
    texts = semi_join(
        map_frames(docs, lambda df: df.select(list(ap.TEXTS)), schema=ap.TEXTS),
        ap.TEXTS,
        pairs,
        ["doc_a", "doc_b"],
    ).materialize()
    cutoff = None
    if cfg.align.enabled and n_pairs > cfg.align.max_pairs:
        first = pairs.sort(["doc_a", "doc_b"]).limit(cfg.align.max_pairs)
        keyed = map_frames(
            first,
            lambda df: df.select(ap.pair_key(pl.col("doc_a"), pl.col("doc_b")).alias("k")),
            schema={"k": pl.Int64},
        )
        cutoff = int(keyed.max("k"))
    with_a = co_group(
        pairs,
        texts,
        left_on=["doc_a"],
        right_on=["doc_id"],
        fn=ap.attach_a,
        left_schema=ap.SCORED,
        right_schema=ap.TEXTS,
        schema=ap.WITH_A,
        parts=parts,
    )
    derivation = cfg.derivation if cfg.align.enabled else None
    skip = derivation is not None and embed_paraphrases
    aligned = co_group(
        with_a,
        texts,
        left_on=["doc_b"],
        right_on=["doc_id"],
        fn=lambda p, t: ap.attach_b(p, t, derivation=derivation, cutoff=cutoff, skip_semantic=skip),
        left_schema=ap.WITH_A,
        right_schema=ap.TEXTS,
        schema=ap.ALIGNED_TEXTS if skip else ap.ALIGNED,
        parts=parts,
    )
    if skip:
        from dedup.engines.ray.semantic import align_paraphrases

        aligned = align_paraphrases(aligned, cfg, cutoff, store)
    return aligned.materialize()


def cluster_docs(pairs: Dataset, docs: Dataset, n_pairs: int) -> Dataset:
    from dedup.engines.ray.components import LABELS, components

    parts = n_parts(n_pairs)
    edges = map_frames(
        pairs,
        lambda df: df.filter(pl.col("relation").is_not_null()).select(
            pl.col("doc_a").alias("a"), pl.col("doc_b").alias("b")
        ),
        schema={"a": pl.Int64, "b": pl.Int64},
    )
    labels, _ = components(edges, parts=parts)
    paths = {"doc_id": pl.Int64, "path": pl.String, "external_id": pl.String}
    return co_group(
        labels,
        map_frames(docs, lambda df: df.select(list(paths)), schema=paths),
        left_on=["doc_id"],
        right_on=["doc_id"],
        fn=lambda lab, p: lab.join(p, on="doc_id", how="left"),
        left_schema=LABELS,
        right_schema=paths,
        schema=dict(schema.CLUSTERS),
        parts=parts,
    ).materialize()
