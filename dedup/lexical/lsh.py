"""Locality-sensitive hashing: bands x rows, band keys, candidate pairs.

Bands and rows are chosen from the threshold the way ``datasketch.MinHashLSH`` does:
the pair ``(b, r)`` with ``b * r <= num_perm`` that minimizes the weighted sum of the
false-positive area (probability of becoming a candidate, integrated over Jaccard below
the threshold) and the false-negative area (probability of not becoming one, above it).
Candidates are pairs of documents that share the key of at least one band, found with
a polars self-join on ``(band, key)``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt
import polars as pl

from dedup.config import LSHConfig
from dedup.jit import njit, prange

_GRID = 201  # Simpson points per integral (the choices equal a 2,001-point grid's and datasketch's)


def s_curve(s: npt.ArrayLike, bands: int, rows: int) -> npt.NDArray[np.float64]:
    """Probability that two documents of Jaccard ``s`` share at least one band."""
    x = np.asarray(s, dtype=np.float64)
    out: npt.NDArray[np.float64] = 1.0 - (1.0 - x**rows) ** bands
    return out


def _simpson(y: npt.NDArray[np.float64], width: float) -> npt.NDArray[np.float64]:
    """Simpson's rule along the last axis of ``y`` (odd number of points over ``width``)."""
    h = width / (y.shape[-1] - 1)
    out: npt.NDArray[np.float64] = (
        h / 3 * (y[..., 0] + y[..., -1] + 4 * y[..., 1:-1:2].sum(-1) + 2 * y[..., 2:-1:2].sum(-1))
    )
    return out


@lru_cache(maxsize=256)
def optimal_params(
    threshold: float, num_perm: int, fp_weight: float = 0.5, fn_weight: float = 0.5
) -> tuple[int, int]:
    """``(bands, rows)`` minimizing ``fp_weight * FP + fn_weight * FN`` for ``threshold``.

    Every ``(b, r)`` with ``b * r <= num_perm`` at once, in ``b``-then-``r`` order; the first
    minimum wins, as in datasketch."""
    b = np.repeat(np.arange(1, num_perm + 1), [num_perm // x for x in range(1, num_perm + 1)])
    r = np.concatenate([np.arange(1, num_perm // x + 1) for x in range(1, num_perm + 1)])
    b_, r_ = b[:, None].astype(np.float64), r[:, None].astype(np.float64)
    lo = np.linspace(0.0, threshold, _GRID)[None, :]
    hi = np.linspace(threshold, 1.0, _GRID)[None, :]
    fp = _simpson(1.0 - (1.0 - lo**r_) ** b_, threshold)
    fn = _simpson((1.0 - hi**r_) ** b_, 1.0 - threshold)
    best = int(np.argmin(fp * fp_weight + fn * fn_weight))
    return int(b[best]), int(r[best])


def bands_rows(config: LSHConfig, num_perm: int) -> tuple[int, int]:
    """The configured override, or the optimal choice for the threshold."""
    if config.bands is not None and config.rows is not None:
        return config.bands, config.rows
    return optimal_params(
        config.threshold, num_perm, config.false_positive_weight, config.false_negative_weight
    )


@njit(cache=True, parallel=True, nogil=True)
def _band_keys(sig: npt.NDArray[np.uint32], bands: int, rows: int) -> npt.NDArray[np.uint64]:
    n = sig.shape[0]
    keys = np.empty((n, bands), dtype=np.uint64)
    for d in prange(n):
        for j in range(bands):
            h = np.uint64(0x9E3779B97F4A7C15) ^ np.uint64(j)
            for i in range(j * rows, (j + 1) * rows):
                h ^= np.uint64(sig[d, i])
                h *= np.uint64(0xFF51AFD7ED558CCD)
                h ^= h >> np.uint64(29)
            keys[d, j] = h
    return keys


SMALL_DOCS = 256  # batches of at most this many signatures skip the numba kernel


def _small_band_keys(sig: npt.NDArray[np.uint32], bands: int, rows: int) -> npt.NDArray[np.uint64]:
    """:func:`_band_keys` in plain numpy (same values), for small batches."""
    keys = np.empty((sig.shape[0], bands), dtype=np.uint64)
    for j in range(bands):
        h = np.full(sig.shape[0], np.uint64(0x9E3779B97F4A7C15) ^ np.uint64(j), dtype=np.uint64)
        for i in range(j * rows, (j + 1) * rows):
            h ^= sig[:, i].astype(np.uint64)
            h *= np.uint64(0xFF51AFD7ED558CCD)
            h ^= h >> np.uint64(29)
        keys[:, j] = h
    return keys


def band_keys(sig: npt.NDArray[np.uint32], bands: int, rows: int) -> npt.NDArray[np.uint64]:
    """64-bit key of each band of each signature, shape ``(n_docs, bands)``."""
    if sig.shape[0] == 0:
        return np.empty((0, bands), dtype=np.uint64)
    if sig.shape[0] <= SMALL_DOCS:
        return _small_band_keys(sig, bands, rows)
    return _band_keys(np.ascontiguousarray(sig), bands, rows)


def candidate_pairs(
    keys: npt.NDArray[np.uint64], doc_ids: npt.NDArray[np.int64], *, max_bucket: int = 200
) -> pl.DataFrame:
    """Pairs ``(doc_a < doc_b)`` that share at least one band key.

    One band at a time (:func:`band_pairs`), so memory holds one band's shared keys.
    """
    parts = [band_pairs(keys[:, j], doc_ids, max_bucket) for j in range(keys.shape[1])]
    if not parts:
        return pl.DataFrame(schema={"doc_a": pl.Int64, "doc_b": pl.Int64})
    return pl.concat(parts).unique().sort("doc_a", "doc_b")


def band_pairs(
    key: npt.NDArray[np.uint64], doc_ids: npt.NDArray[np.int64], max_bucket: int
) -> pl.DataFrame:
    """Pairs ``(doc_a < doc_b)`` with equal ``key`` (one band's key per document).

    A sort keeps only the keys that another document shares (a few bytes per document,
    not a table of every key). A bucket larger than ``max_bucket`` (boilerplate, or many
    copies of one text) is not expanded into all its pairs: each member is paired with the
    bucket's smallest id, which keeps its members connected at linear cost.
    """
    empty = pl.DataFrame(schema={"doc_a": pl.Int64, "doc_b": pl.Int64})
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    same = ordered[1:] == ordered[:-1]
    if not same.any():
        return empty
    member = np.zeros(len(key), dtype=bool)
    member[1:] |= same
    member[:-1] |= same
    table = pl.DataFrame({"key": ordered[member], "doc": np.asarray(doc_ids)[order[member]]})
    table = table.with_columns(pl.len().over("key").alias("size"))
    small = table.filter(pl.col("size") <= max_bucket).select("key", "doc")
    joined = small.join(small, on="key", suffix="_b").filter(pl.col("doc") < pl.col("doc_b"))
    large = (
        table.filter(pl.col("size") > max_bucket)
        .with_columns(pl.col("doc").min().over("key").alias("first"))
        .filter(pl.col("doc") != pl.col("first"))
    )
    return pl.concat(
        [
            joined.select(pl.col("doc").alias("doc_a"), pl.col("doc_b")),
            large.select(pl.col("first").alias("doc_a"), pl.col("doc").alias("doc_b")),
        ]
    ).cast(pl.Int64)


def window_pairs(keys: npt.NDArray[np.uint64], *, max_bucket: int) -> npt.NDArray[np.int64]:
    """Row pairs ``(i, j)`` sharing a key, each row paired with up to ``max_bucket`` next rows
    of its bucket in sorted order.

    The semantic channel's bucketing: its candidates are nearest neighbours, so a large
    bucket is thinned to a sliding window (every row keeps its closest bucket mates in
    key order) rather than linked as a star as :func:`band_pairs` does for clusters.
    """
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    out_i: list[npt.NDArray[np.int64]] = []
    out_j: list[npt.NDArray[np.int64]] = []
    for d in range(1, max_bucket + 1):
        same = sk[d:] == sk[:-d]
        if not same.any():
            break
        pos = np.flatnonzero(same)
        out_i.append(order[pos].astype(np.int64))
        out_j.append(order[pos + d].astype(np.int64))
    if not out_i:
        return np.zeros((0, 2), dtype=np.int64)
    return np.stack([np.concatenate(out_i), np.concatenate(out_j)], axis=1)
