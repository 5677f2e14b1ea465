"""Overlap channel: candidates from shared rare shingles (an inverted index).

Finds partial reuse that whole-document MinHash misses: a 300-word passage inside a
5,000-word text shares ~300 shingles with its source, but their Jaccard is ~0.05. Every
shingle hash that occurs in 2..``max_df`` documents links those documents; pairs linked
by at least ``min_shared`` shingles become candidates and are verified on containment.
A corpus of more than ``full_index_max`` shingles indexes only the shingles whose hash
is divisible by ``sample`` (the same shingles in every document, so shared passages stay
shared): a 300-word passage still has ~37 of its ~300 shingles indexed at the default 8.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

from dedup.config import OverlapConfig


def sampling_stride(n_entries: int, config: OverlapConfig) -> int:
    """1 (index every shingle) for small corpora, else ``config.sample``."""
    return 1 if n_entries <= config.full_index_max else max(1, config.sample)


CHUNK_ROWS = 20_000


def _read(hashes: npt.NDArray[np.uint32], lo: int, hi: int) -> npt.NDArray[np.uint32]:
    """``hashes[lo:hi]`` as an array in memory; from a memory-mapped spill file it is read
    with a plain file read, so the scan does not leave the whole file resident."""
    if isinstance(hashes, np.memmap) and hashes.filename is not None:
        return np.fromfile(hashes.filename, dtype=np.uint32, count=hi - lo, offset=4 * lo)
    return np.asarray(hashes[lo:hi])


def _sampled_index(
    hashes: npt.NDArray[np.uint32],
    offsets: npt.NDArray[np.int64],
    keep: npt.NDArray[np.bool_],
    stride: int,
) -> pl.DataFrame:
    """``(h, row)`` for every indexed shingle, built a chunk of rows at a time."""
    parts = []
    for lo in range(0, len(offsets) - 1, CHUNK_ROWS):
        hi = min(lo + CHUNK_ROWS, len(offsets) - 1)
        sizes = np.diff(offsets[lo : hi + 1])
        chunk = _read(hashes, int(offsets[lo]), int(offsets[hi]))
        row_of = np.repeat(np.arange(lo, hi, dtype=np.int64), sizes)
        mask = keep[row_of]
        if stride > 1:
            mask &= (chunk % stride) == 0
        parts.append(pl.DataFrame({"h": chunk[mask], "row": row_of[mask]}))
    return pl.concat(parts) if parts else pl.DataFrame(schema={"h": pl.UInt32, "row": pl.Int64})


def overlap_candidates(
    hashes: npt.NDArray[np.uint32],
    offsets: npt.NDArray[np.int64],
    rows: npt.NDArray[np.int64],
    config: OverlapConfig,
) -> pl.DataFrame:
    """Row pairs ``(a < b)`` among ``rows`` sharing at least ``min_shared`` rare shingles.

    Args:
        hashes: sorted unique shingle hashes, CSR with ``offsets``.
        offsets: row ``i`` owns ``hashes[offsets[i]:offsets[i+1]]``.
        rows: the rows to index (exact-duplicate copies are left out by the caller).
        config: document-frequency cut-off and minimum number of shared shingles.

    Returns:
        Frame with columns ``a``, ``b`` (Int64).
    """
    sizes = np.diff(offsets)
    n_entries = int(sizes[rows].sum()) if len(rows) else 0
    empty = pl.DataFrame(schema={"a": pl.Int64, "b": pl.Int64})
    if n_entries == 0:
        return empty
    keep = np.zeros(len(sizes), dtype=bool)
    keep[rows] = True
    index = _sampled_index(hashes, offsets, keep, sampling_stride(n_entries, config))
    index = (
        index.with_columns(pl.len().over("h").alias("df"))
        .filter((pl.col("df") > 1) & (pl.col("df") <= config.max_df))
        .select("h", "row")
    )
    if index.height == 0:
        return empty
    linked = index.join(index, on="h", suffix="_b").filter(pl.col("row") < pl.col("row_b"))
    counted = linked.group_by("row", "row_b").len().filter(pl.col("len") >= config.min_shared)
    return counted.select(pl.col("row").alias("a"), pl.col("row_b").alias("b"))
