"""MinHash signatures, vectorized over a batch of documents.

Bit-identical to ``datasketch.MinHash(num_perm, seed=seed, scheme="affine32")`` fed the
same 32-bit shingle hashes with an identity ``hashfunc``: each hash is pre-mixed with the
MurmurHash3 32-bit finalizer, then mapped by ``h -> a*h + b mod 2^32`` for every
permutation ``(a, b)``, and the minimum is kept.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt

from dedup.config import MinHashConfig
from dedup.jit import njit, prange

EMPTY = np.uint32(0xFFFFFFFF)
M32 = np.uint64(0xFFFFFFFF)


@lru_cache(maxsize=16)
def permutations(num_perm: int, seed: int) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    """The ``(a, b)`` permutation parameters datasketch draws for ``affine32``."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    a.setflags(write=False)
    b.setflags(write=False)
    return a, b


@njit(cache=True, inline="always")
def _fmix32(h: np.uint64) -> np.uint64:
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x85EBCA6B)) & M32
    h ^= h >> np.uint64(13)
    h = (h * np.uint64(0xC2B2AE35)) & M32
    h ^= h >> np.uint64(16)
    return h


@njit(cache=True, parallel=True, nogil=True)
def _signatures(
    hashes: npt.NDArray[np.uint32],
    offsets: npt.NDArray[np.int64],
    a: npt.NDArray[np.uint64],
    b: npt.NDArray[np.uint64],
) -> npt.NDArray[np.uint32]:
    nd = len(offsets) - 1
    p = len(a)
    sig = np.empty((nd, p), dtype=np.uint32)
    for d in prange(nd):
        acc = np.full(p, M32, dtype=np.uint64)
        for i in range(offsets[d], offsets[d + 1]):
            hv = _fmix32(np.uint64(hashes[i]))
            for j in range(p):
                v = (a[j] * hv + b[j]) & M32
                if v < acc[j]:
                    acc[j] = v
        for j in range(p):
            sig[d, j] = np.uint32(acc[j])
    return sig


SMALL_CELLS = 1 << 21  # batches up to this many hash x permutation cells skip numba


def _small_signatures(
    hashes: npt.NDArray[np.uint32],
    offsets: npt.NDArray[np.int64],
    a: npt.NDArray[np.uint64],
    b: npt.NDArray[np.uint64],
) -> npt.NDArray[np.uint32]:
    """:func:`_signatures` in plain numpy (same values), for small batches."""
    # the kernel's finalizer as plain Python: its operations work on whole arrays too
    h = _fmix32.py_func(hashes.astype(np.uint64))  # type: ignore[attr-defined]
    sig = np.full((len(offsets) - 1, len(a)), EMPTY, dtype=np.uint32)
    if len(h) == 0:
        return sig
    values = ((h[:, None] * a[None, :] + b[None, :]) & M32).astype(np.uint32)
    starts = offsets[:-1]
    full = offsets[1:] > starts
    sig[full] = np.minimum.reduceat(values, starts[full], axis=0)
    return sig


def signatures(
    hashes: npt.NDArray[np.uint32], offsets: npt.NDArray[np.int64], config: MinHashConfig
) -> npt.NDArray[np.uint32]:
    """MinHash signatures, shape ``(n_docs, num_perm)``, of documents in CSR layout.

    Args:
        hashes: 32-bit shingle hashes of all documents, concatenated.
        offsets: document ``i`` owns ``hashes[offsets[i]:offsets[i+1]]``.
        config: number of permutations and seed.

    Returns:
        ``uint32`` signatures; an empty document's row is all ``2**32 - 1``, as in datasketch.
    """
    a, b = permutations(config.num_perm, config.seed)
    if len(hashes) * config.num_perm <= SMALL_CELLS:
        return _small_signatures(hashes, offsets, a.astype(np.uint64), b.astype(np.uint64))
    if len(hashes) == 0:
        hashes = np.zeros(1, dtype=np.uint32)
    return _signatures(hashes, offsets, a.astype(np.uint64), b.astype(np.uint64))


def to_lean_minhash(signature: npt.NDArray[np.uint32], config: MinHashConfig) -> object:
    """A ``datasketch.LeanMinHash`` holding one document's signature."""
    from datasketch import LeanMinHash

    return LeanMinHash(seed=config.seed, hashvalues=signature, scheme="affine32")
