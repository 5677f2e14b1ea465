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
from dedup.jit import njit


def sampling_stride(n_entries: int, config: OverlapConfig) -> int:
    """1 (index every shingle) for small corpora, else ``config.sample``."""
    return 1 if n_entries <= config.full_index_max else max(1, config.sample)


def overlap_candidates(
    hashes: npt.NDArray[np.uint32],
    offsets: npt.NDArray[np.int64],
    rows: npt.NDArray[np.int64],
    config: OverlapConfig,
) -> pl.DataFrame:
    """Row pairs ``(a < b)`` among ``rows`` sharing at least ``min_shared`` rare shingles.

    The index is one sorted array of ``hash << 32 | row`` (8 bytes per indexed shingle);
    each run of equal hashes of length 2..``max_df`` gives its pairs of rows, packed the
    same way, and a sort counts how many shingles each pair shares. Nothing larger than
    the index and the linked pairs is ever held.

    Args:
        hashes: distinct shingle hashes per document, CSR with ``offsets``.
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
    if len(sizes) >= 1 << 32:
        raise ValueError("the overlap index packs row numbers into 32 bits")
    keep = np.zeros(len(sizes), dtype=bool)
    keep[rows] = True
    index = _entries(hashes, offsets, keep, sampling_stride(n_entries, config))
    index.sort()
    linked = (
        _small_linked(index, config.max_df)
        if len(index) <= SMALL
        else _linked(index, config.max_df)
    )
    del index
    if len(linked) == 0:
        return empty
    linked.sort()
    starts = np.flatnonzero(np.concatenate(([True], linked[1:] != linked[:-1])))
    shared = np.diff(np.append(starts, len(linked)))
    pairs = linked[starts[shared >= config.min_shared]]
    low = np.uint64(0xFFFFFFFF)
    return pl.DataFrame(
        {"a": (pairs >> np.uint64(32)).astype(np.int64), "b": (pairs & low).astype(np.int64)}
    )


SMALL = 1 << 16  # indexes of at most this many entries skip the numba kernel


def _small_linked(index: npt.NDArray[np.uint64], max_df: int) -> npt.NDArray[np.uint64]:
    """:func:`_linked` in numpy and Python (same values), for small indexes."""
    if len(index) == 0:
        return np.zeros(0, dtype=np.uint64)
    h = index >> np.uint64(32)
    starts = np.flatnonzero(np.concatenate(([True], h[1:] != h[:-1])))
    ends = np.append(starts[1:], len(index))
    low = np.uint64(0xFFFFFFFF)
    out: list[npt.NDArray[np.uint64]] = []
    for i, j in zip(starts.tolist(), ends.tolist(), strict=True):
        if 2 <= j - i <= max_df:
            rows = index[i:j] & low
            x, y = np.triu_indices(j - i, k=1)
            out.append((rows[x] << np.uint64(32)) | rows[y])
    return np.concatenate(out) if out else np.zeros(0, dtype=np.uint64)


@njit(cache=True, nogil=True)
def _linked(index: npt.NDArray[np.uint64], max_df: int) -> npt.NDArray[np.uint64]:
    """``a << 32 | b`` for every two rows ``a < b`` of each run of one hash in the sorted
    ``index`` that is 2..``max_df`` long (one entry per shared hash)."""
    low = np.uint64(0xFFFFFFFF)
    n = len(index)
    total = 0
    i = 0
    while i < n:  # count first, so the output is allocated once
        j = i + 1
        while j < n and (index[j] >> np.uint64(32)) == (index[i] >> np.uint64(32)):
            j += 1
        if 2 <= j - i <= max_df:
            total += (j - i) * (j - i - 1) // 2
        i = j
    out = np.empty(total, dtype=np.uint64)
    k = 0
    i = 0
    while i < n:
        j = i + 1
        while j < n and (index[j] >> np.uint64(32)) == (index[i] >> np.uint64(32)):
            j += 1
        if 2 <= j - i <= max_df:
            for x in range(i, j):
                a = (index[x] & low) << np.uint64(32)
                for y in range(x + 1, j):
                    out[k] = a | (index[y] & low)
                    k += 1
        i = j
    return out


def _read(hashes: npt.NDArray[np.uint32], lo: int, hi: int) -> npt.NDArray[np.uint32]:
    """``hashes[lo:hi]`` in memory; from a memory-mapped spill file it is read with a plain
    file read, so the scan does not leave the whole file resident."""
    if isinstance(hashes, np.memmap) and hashes.filename is not None:
        return np.fromfile(hashes.filename, dtype=np.uint32, count=hi - lo, offset=4 * lo)
    return np.asarray(hashes[lo:hi])


def _chunk(
    hashes: npt.NDArray[np.uint32],
    offsets: npt.NDArray[np.int64],
    keep: npt.NDArray[np.bool_],
    stride: int,
    lo: int,
    hi: int,
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint64], npt.NDArray[np.bool_]]:
    """Shingles ``lo:hi``: their hashes, their rows and which of them are indexed."""
    first = int(np.searchsorted(offsets, lo, side="right")) - 1
    last = int(np.searchsorted(offsets, hi, side="left"))  # rows first..last-1 meet it
    sizes = np.minimum(offsets[first + 1 : last + 1], hi) - np.maximum(offsets[first:last], lo)
    row = np.repeat(np.arange(first, last, dtype=np.uint64), sizes)
    h = _read(hashes, lo, hi)
    mask = keep[row]
    if stride > 1:
        mask &= (h % stride) == 0
    return h, row, mask


def _entries(
    hashes: npt.NDArray[np.uint32],
    offsets: npt.NDArray[np.int64],
    keep: npt.NDArray[np.bool_],
    stride: int,
    chunk: int = 1 << 22,
) -> npt.NDArray[np.uint64]:
    """The indexed entries ``hash << 32 | row``: rows in ``keep``, hashes divisible by
    ``stride``, in shingle order.

    Works through the shingles ``chunk`` at a time, so the temporary arrays stay small
    whatever the corpus (or one huge document) holds. The shingles are read twice, once
    to count the entries and once to fill them in, so the output is allocated once
    rather than gathered in pieces and copied (which would double the peak).
    """
    total = int(offsets[-1])
    bounds = [(lo, min(lo + chunk, total)) for lo in range(0, total, chunk)]
    counts = [int(_chunk(hashes, offsets, keep, stride, lo, hi)[2].sum()) for lo, hi in bounds]
    out = np.empty(sum(counts), dtype=np.uint64)
    at = 0
    for (lo, hi), n in zip(bounds, counts, strict=True):
        h, row, mask = _chunk(hashes, offsets, keep, stride, lo, hi)
        part = out[at : at + n]
        part[:] = h[mask]
        part <<= np.uint64(32)
        part |= row[mask]
        at += n
    return out
