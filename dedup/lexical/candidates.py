"""Candidate channels and their verification: exact content hash, MinHash LSH, overlap.

Every channel proposes pairs of rows; all proposals are verified the same way, on the
real shingle sets (:func:`dedup.lexical.verify.set_stats`), and only verified pairs are returned.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

from dedup.config import RunConfig
from dedup.lexical.lsh import candidate_pairs
from dedup.lexical.verify import classify, set_stats

PAIR_COLUMNS = [
    "doc_a",
    "doc_b",
    "relation",
    "jaccard",
    "containment_a",
    "containment_b",
    "score",
    "channel",
    "source",
]


def exact_groups(
    content: npt.NDArray[np.uint64], *, max_group: int
) -> tuple[pl.DataFrame, pl.DataFrame, npt.NDArray[np.bool_]]:
    """Row pairs with equal content hash, copies of each group's first row, and its mask.

    Groups of up to ``max_group`` rows give all their pairs; a larger group gives only
    the pairs of its first row with every other (which keeps it one cluster).
    """
    frame = pl.DataFrame({"row": np.arange(len(content), dtype=np.int64), "h": content})
    frame = frame.with_columns(
        pl.col("row").min().over("h").alias("first"), pl.len().over("h").alias("size")
    )
    is_first = (frame["row"] == frame["first"]).to_numpy()
    dup = frame.filter(pl.col("size") > 1)
    small = dup.filter(pl.col("size") <= max_group).select("h", "row")
    pairs = small.join(small, on="h", suffix="_b").filter(pl.col("row") < pl.col("row_b"))
    big = dup.filter((pl.col("size") > max_group) & (pl.col("row") != pl.col("first")))
    out = pl.concat(
        [
            pairs.select(pl.col("row").alias("a"), pl.col("row_b").alias("b")),
            big.select(pl.col("first").alias("a"), pl.col("row").alias("b")),
        ]
    )
    copies = dup.filter((pl.col("size") <= max_group) & (pl.col("row") != pl.col("first")))
    return out, copies.select("first", "row"), is_first


def expand_copies(pairs: pl.DataFrame, copies: pl.DataFrame) -> pl.DataFrame:
    """Give every exact copy the verified pairs of its group's first row."""
    if copies.height == 0 or pairs.height == 0:
        return pairs
    members = pl.concat(
        [copies, copies.select(pl.col("first"), pl.col("first").alias("row")).unique()]
    )
    out = (
        pairs.join(members, left_on="a", right_on="first", how="left")
        .with_columns(pl.coalesce("row", "a").alias("a"))
        .drop("row")
    )
    out = (
        out.join(members, left_on="b", right_on="first", how="left")
        .with_columns(pl.coalesce("row", "b").alias("b"))
        .drop("row")
    )
    swap = pl.col("a") > pl.col("b")
    out = out.with_columns(
        pl.when(swap).then(pl.col("b")).otherwise(pl.col("a")).alias("a"),
        pl.when(swap).then(pl.col("a")).otherwise(pl.col("b")).alias("b"),
        pl.when(swap)
        .then(pl.col("containment_b"))
        .otherwise(pl.col("containment_a"))
        .alias("containment_a"),
        pl.when(swap)
        .then(pl.col("containment_a"))
        .otherwise(pl.col("containment_b"))
        .alias("containment_b"),
    )
    return pl.concat([pairs, out.select(pairs.columns)]).unique(["a", "b"], keep="first")


def verify_pairs(
    pairs: pl.DataFrame,
    hashes: npt.NDArray[np.uint32],
    offsets: npt.NDArray[np.int64],
    cfg: RunConfig,
) -> tuple[pl.DataFrame, npt.NDArray[np.bool_]]:
    """Exact set statistics and relation of the row pairs ``(a, b)``, and which pass.

    The rules (:func:`dedup.lexical.verify.classify`) hold whichever channel proposed a pair.
    When the scan aligns its pairs, a pair that fails them but shares at least
    :func:`passage_shingles` shingles passes too, with a null relation: it may hold a passage
    reused inside longer texts, which the passage aligner then finds or rules out.
    """
    a, b = pairs["a"].to_numpy(), pairs["b"].to_numpy()
    jac, ca, cb = set_stats(hashes, offsets, a, b)
    rel, ok = classify(
        jac,
        ca,
        cb,
        threshold=cfg.lsh.threshold,
        near_duplicate=cfg.verify.near_duplicate,
        containment=cfg.overlap.containment,
    )
    if cfg.align.enabled and len(a):
        shared = np.rint(ca * (offsets[a + 1] - offsets[a]))
        more = ~ok & (shared >= passage_shingles(cfg))
        rel[more] = None
        ok = ok | more
    return pairs.with_columns(
        pl.Series("relation", rel.tolist(), dtype=pl.String),
        pl.Series("jaccard", jac),
        pl.Series("containment_a", ca),
        pl.Series("containment_b", cb),
    ), ok


def passage_shingles(cfg: RunConfig) -> int:
    """Shared shingles that make a pair worth aligning for a reused passage: half of those a
    verbatim passage of ``min_passage`` words has (word shingles), so edited passages pass."""
    size = cfg.shingle.size if cfg.shingle.kind == "word" else 1
    return max(3, (cfg.derivation.min_passage - size + 1) // 2)


def verify_proposals(
    pairs: pl.DataFrame,
    hashes: npt.NDArray[np.uint32],
    offsets: npt.NDArray[np.int64],
    cfg: RunConfig,
) -> pl.DataFrame:
    """The pairs that pass verification, with their relation and set statistics."""
    checked, ok = verify_pairs(pairs, hashes, offsets, cfg)
    return checked.filter(pl.Series(ok))


def lexical_pairs(
    *,
    rows: npt.NDArray[np.int64],
    hashes: npt.NDArray[np.uint32],
    offsets: npt.NDArray[np.int64],
    keys: npt.NDArray[np.uint64],
    content: npt.NDArray[np.uint64],
    config: RunConfig,
) -> pl.DataFrame:
    """Verified pairs from the exact and LSH channels (and overlap, when enabled).

    Args:
        rows: ``doc_id`` of each shingled document (row ``i`` of the arrays below).
        hashes: distinct shingle hashes per document, CSR with ``offsets``.
        offsets: row ``i`` owns ``hashes[offsets[i]:offsets[i+1]]``.
        keys: LSH band keys, one row per document.
        content: content hash per row.
        config: the run's parameters.

    Returns:
        One row per verified pair with ``doc_a < doc_b`` and the columns of
        :data:`PAIR_COLUMNS`.
    """
    exact, copies, first = labelled_exact_groups(content, config=config)
    reps = np.flatnonzero(first)
    proposals = [
        candidate_pairs(keys[reps], reps.astype(np.int64), max_bucket=config.lsh.max_bucket).select(
            pl.col("doc_a").alias("a"), pl.col("doc_b").alias("b"), pl.lit("lsh").alias("channel")
        )
    ]
    if config.overlap.enabled:
        from dedup.lexical.overlap import overlap_candidates

        proposals.append(
            overlap_candidates(hashes, offsets, reps, config.overlap).with_columns(
                pl.lit("overlap").alias("channel")
            )
        )
    return verify_candidates(
        pl.concat(proposals),
        exact=exact,
        copies=copies,
        rows=rows,
        hashes=hashes,
        offsets=offsets,
        config=config,
    )


def labelled_exact_groups(
    content: npt.NDArray[np.uint64], *, config: RunConfig
) -> tuple[pl.DataFrame, pl.DataFrame, npt.NDArray[np.bool_]]:
    """:func:`exact_groups`, with the exact pairs labelled as verified ``exact`` pairs."""
    exact, copies, first = exact_groups(content, max_group=config.verify.max_exact_group)
    exact = exact.with_columns(
        pl.lit("exact").alias("relation"),
        pl.lit(1.0).alias("jaccard"),
        pl.lit(1.0).alias("containment_a"),
        pl.lit(1.0).alias("containment_b"),
        pl.lit("exact").alias("channel"),
    )
    return exact, copies, first


def verify_candidates(
    proposed: pl.DataFrame,
    *,
    exact: pl.DataFrame,
    copies: pl.DataFrame,
    rows: npt.NDArray[np.int64],
    hashes: npt.NDArray[np.uint32],
    offsets: npt.NDArray[np.int64],
    config: RunConfig,
) -> pl.DataFrame:
    """Verify what the channels proposed: the one lexical verification of the scan and of
    an index query (:mod:`dedup.index`).

    Args:
        proposed: row pairs ``a < b`` with the ``channel`` that proposed each (a pair may
            appear once per channel).
        exact: exact-copy row pairs, labelled (:func:`labelled_exact_groups`).
        copies: ``(first, row)`` of every copy that shares its group's verified pairs.
        rows: ``doc_id`` of each row.
        hashes: distinct shingle hashes per row, CSR with ``offsets``.
        offsets: row ``i`` owns ``hashes[offsets[i]:offsets[i+1]]``.
        config: the run's parameters.

    Returns:
        One row per verified pair with ``doc_a < doc_b`` and the columns of
        :data:`PAIR_COLUMNS`.
    """
    proposed = proposed.group_by("a", "b").agg(pl.col("channel").unique().sort().str.join(","))
    verified = expand_copies(verify_proposals(proposed, hashes, offsets, config), copies)
    both = pl.concat([exact, verified.select(exact.columns)])
    return _finish(both, rows)


def _finish(pairs: pl.DataFrame, rows: npt.NDArray[np.int64]) -> pl.DataFrame:
    """Row indices to doc ids; score and likely source."""
    ids = pl.Series(rows)
    pairs = pairs.with_columns(
        pl.col("a").map_batches(lambda s: ids.gather(s), return_dtype=pl.Int64).alias("doc_a"),
        pl.col("b").map_batches(lambda s: ids.gather(s), return_dtype=pl.Int64).alias("doc_b"),
    )
    return score_and_source(pairs)


def score_and_source(pairs: pl.DataFrame) -> pl.DataFrame:
    """Add ``score`` and ``source`` to verified pairs keyed by ``doc_a``/``doc_b``."""
    cmax = pl.max_horizontal("containment_a", "containment_b")
    return pairs.with_columns(
        pl.max_horizontal("jaccard", cmax).alias("score"),
        pl.when(pl.col("relation") == "partial")
        .then(
            pl.when(pl.col("containment_a") >= pl.col("containment_b"))
            .then(pl.col("doc_a"))
            .otherwise(pl.col("doc_b"))
        )
        .when(pl.col("relation").is_in(["exact", "near_duplicate"]))
        .then(pl.col("doc_a"))
        .otherwise(None)
        .alias("source"),
    ).select(PAIR_COLUMNS)
