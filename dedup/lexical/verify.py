"""Verification: exact Jaccard and both containments on the real shingle sets."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from dedup.io.spill import gather
from dedup.jit import njit, prange

_CHUNK = 1 << 15  # pairs whose shingle sets are in memory at once (<= 65,536 sets)


@njit(cache=True, parallel=True, nogil=True)
def _intersections(
    hashes: npt.NDArray[np.uint32],
    offsets: npt.NDArray[np.int64],
    a: npt.NDArray[np.int64],
    b: npt.NDArray[np.int64],
) -> npt.NDArray[np.int64]:
    out = np.zeros(len(a), dtype=np.int64)
    for k in prange(len(a)):
        xs = np.sort(hashes[offsets[a[k]] : offsets[a[k] + 1]])
        ys = np.sort(hashes[offsets[b[k]] : offsets[b[k] + 1]])
        i, i_end = 0, len(xs)
        j, j_end = 0, len(ys)
        n = 0
        while i < i_end and j < j_end:
            x, y = xs[i], ys[j]
            if x == y:
                n += 1
                i += 1
                j += 1
            elif x < y:
                i += 1
            else:
                j += 1
        out[k] = n
    return out


def set_stats(
    hashes: npt.NDArray[np.uint32],
    offsets: npt.NDArray[np.int64],
    a: npt.NDArray[np.int64],
    b: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Jaccard, containment of A in B and of B in A for each pair ``(a[k], b[k])``.

    Args:
        hashes: distinct shingle hashes of every document (any order), concatenated.
        offsets: document ``i`` owns ``hashes[offsets[i]:offsets[i+1]]``.
        a: row index of the first document of each pair.
        b: row index of the second document of each pair.

    Returns:
        Three float arrays; a pair with an empty set scores 0.
    """
    a = np.ascontiguousarray(a, dtype=np.int64)
    b = np.ascontiguousarray(b, dtype=np.int64)
    if len(a) == 0:
        z = np.zeros(0, dtype=np.float64)
        return z, z.copy(), z.copy()
    if len(hashes) == 0:
        hashes = np.zeros(1, dtype=np.uint32)
    if isinstance(hashes, np.memmap):  # read the sets of a slice of the pairs at a time
        inter = np.empty(len(a), dtype=np.float64)
        for lo in range(0, len(a), _CHUNK):
            pa, pb = a[lo : lo + _CHUNK], b[lo : lo + _CHUNK]
            rows = np.unique(np.concatenate([pa, pb]))
            sets, local = gather(hashes, offsets, rows)
            la, lb = np.searchsorted(rows, pa), np.searchsorted(rows, pb)
            inter[lo : lo + _CHUNK] = _intersections(sets, local, la, lb)
    else:
        inter = _intersections(hashes, offsets, a, b).astype(np.float64)
    size_a = (offsets[a + 1] - offsets[a]).astype(np.float64)
    size_b = (offsets[b + 1] - offsets[b]).astype(np.float64)
    union = size_a + size_b - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        jac = np.where(union > 0, inter / union, 0.0)
        ca = np.where(size_a > 0, inter / size_a, 0.0)
        cb = np.where(size_b > 0, inter / size_b, 0.0)
    return jac, ca, cb


def classify(
    jaccard: npt.NDArray[np.float64],
    ca: npt.NDArray[np.float64],
    cb: npt.NDArray[np.float64],
    *,
    threshold: float,
    near_duplicate: float,
    containment: float,
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.bool_]]:
    """Relation of each verified lexical pair, and whether it passes verification.

    Rules, first match wins:
    ``near_duplicate`` when Jaccard >= ``near_duplicate``; ``derivative`` when Jaccard >=
    ``threshold`` or both containments >= ``containment``; ``partial`` when one
    containment >= ``containment``. Anything else fails verification.
    """
    cmax = np.maximum(ca, cb)
    cmin = np.minimum(ca, cb)
    rel = np.full(len(jaccard), "", dtype=object)
    near = jaccard >= near_duplicate
    deriv = ~near & ((jaccard >= threshold) | (cmin >= containment))
    part = ~near & ~deriv & (cmax >= containment)
    rel[near] = "near_duplicate"
    rel[deriv] = "derivative"
    rel[part] = "partial"
    return rel, near | deriv | part
