"""Shingling: canonical text -> sorted unique 32-bit shingle hashes, per document.

A shingle is ``k`` consecutive words (joined by single spaces) or ``k`` consecutive
characters of the canonical form (see :mod:`dedup.text.normalize`). A word is
hashed with ``xxhash.xxh32(word_utf8, seed)``; a word shingle's hash is XXH32 of the
little-endian bytes of its ``k`` word hashes, a character shingle's hash is XXH32 of its
UTF-8. All are stable across versions, machines and processes (see :func:`reference_hashes`).
A document shorter than ``k`` units has one shingle, the whole canonical text.

The kernels run over a whole batch of documents at once (numba, parallel over
documents); no Python code runs per shingle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dedup.config import ShingleConfig
from dedup.jit import njit, prange
from dedup.text.normalize import canonical_bytes

U32 = np.uint64(0xFFFFFFFF)
P1 = np.uint64(2654435761)
P2 = np.uint64(2246822519)
P3 = np.uint64(3266489917)
P4 = np.uint64(668265263)
P5 = np.uint64(374761393)
SPACE = np.uint8(32)


@njit(cache=True, inline="always")
def _rotl(x: np.uint64, r: int) -> np.uint64:
    x &= U32
    return ((x << np.uint64(r)) | (x >> np.uint64(32 - r))) & U32


@njit(cache=True, inline="always")
def _read32(buf: npt.NDArray[np.uint8], i: int) -> np.uint64:
    return (
        np.uint64(buf[i])
        | (np.uint64(buf[i + 1]) << np.uint64(8))
        | (np.uint64(buf[i + 2]) << np.uint64(16))
        | (np.uint64(buf[i + 3]) << np.uint64(24))
    )


@njit(cache=True, inline="always")
def _round(v: np.uint64, lane: np.uint64) -> np.uint64:
    return (_rotl(v + lane * P2, 13) * P1) & U32


@njit(cache=True, inline="always")
def _merge(v1: np.uint64, v2: np.uint64, v3: np.uint64, v4: np.uint64) -> np.uint64:
    return (_rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)) & U32


@njit(cache=True, inline="always")
def _avalanche(acc: np.uint64) -> np.uint64:
    acc ^= acc >> np.uint64(15)
    acc = (acc * P2) & U32
    acc ^= acc >> np.uint64(13)
    acc = (acc * P3) & U32
    acc ^= acc >> np.uint64(16)
    return acc


@njit(cache=True)
def xxh32(buf: npt.NDArray[np.uint8], start: int, end: int, seed: np.uint64) -> np.uint64:
    """XXH32 of ``buf[start:end]`` (the published xxHash 32-bit algorithm)."""
    n = end - start
    i = start
    if n >= 16:
        v1, v2, v3, v4 = (seed + P1 + P2) & U32, (seed + P2) & U32, seed & U32, (seed - P1) & U32
        while i <= end - 16:
            v1 = _round(v1, _read32(buf, i))
            v2 = _round(v2, _read32(buf, i + 4))
            v3 = _round(v3, _read32(buf, i + 8))
            v4 = _round(v4, _read32(buf, i + 12))
            i += 16
        acc = _merge(v1, v2, v3, v4)
    else:
        acc = (seed + P5) & U32
    acc = (acc + np.uint64(n)) & U32
    while i + 4 <= end:
        acc = (_rotl(acc + _read32(buf, i) * P3, 17) * P4) & U32
        i += 4
    while i < end:
        acc = (_rotl(acc + np.uint64(buf[i]) * P5, 11) * P1) & U32
        i += 1
    return _avalanche(acc)


@njit(cache=True)
def xxh32_words(words: npt.NDArray[np.uint32], lo: int, hi: int, seed: np.uint64) -> np.uint64:
    """XXH32 of the little-endian bytes of ``words[lo:hi]`` (same value as :func:`xxh32`)."""
    n = hi - lo
    i = lo
    if n >= 4:
        v1, v2, v3, v4 = (seed + P1 + P2) & U32, (seed + P2) & U32, seed & U32, (seed - P1) & U32
        while i + 4 <= hi:
            v1 = _round(v1, np.uint64(words[i]))
            v2 = _round(v2, np.uint64(words[i + 1]))
            v3 = _round(v3, np.uint64(words[i + 2]))
            v4 = _round(v4, np.uint64(words[i + 3]))
            i += 4
        acc = _merge(v1, v2, v3, v4)
    else:
        acc = (seed + P5) & U32
    acc = (acc + np.uint64(4 * n)) & U32
    while i < hi:
        acc = (_rotl(acc + np.uint64(words[i]) * P3, 17) * P4) & U32
        i += 1
    return _avalanche(acc)


@njit(cache=True)
def _word_hashes(
    buf: npt.NDArray[np.uint8], lo: int, hi: int, seed: np.uint64
) -> npt.NDArray[np.uint32]:
    """XXH32 of every word of ``buf[lo:hi]``; words are separated by runs of spaces."""
    n = 0  # count first: allocating the bound, (hi - lo + 1) // 2, costs 2 bytes per byte
    for i in range(lo, hi):
        if buf[i] != SPACE and (i == lo or buf[i - 1] == SPACE):
            n += 1
    out = np.empty(n, dtype=np.uint32)
    n = 0
    i = lo
    while i < hi:
        while i < hi and buf[i] == SPACE:
            i += 1
        start = i
        while i < hi and buf[i] != SPACE:
            i += 1
        if i > start:
            out[n] = np.uint32(xxh32(buf, start, i, seed))
            n += 1
    return out[:n]


@njit(cache=True)
def _compact(buf: npt.NDArray[np.uint8], lo: int, hi: int) -> npt.NDArray[np.uint8]:
    """Copy ``buf[lo:hi]`` with runs of spaces collapsed and ends trimmed."""
    out = np.empty(hi - lo, dtype=np.uint8)
    n = 0
    for i in range(lo, hi):
        c = buf[i]
        if c == SPACE and (n == 0 or out[n - 1] == SPACE):
            continue
        out[n] = c
        n += 1
    if n > 0 and out[n - 1] == SPACE:
        n -= 1
    return out[:n]


@njit(cache=True)
def _char_shingles(text: npt.NDArray[np.uint8], k: int, seed: np.uint64) -> npt.NDArray[np.uint32]:
    """XXH32 of every ``k``-character substring of a compacted canonical text."""
    starts = np.empty(len(text) + 1, dtype=np.int64)
    n = 0
    for i in range(len(text)):
        if (text[i] & 0xC0) != 0x80:  # first byte of a UTF-8 character
            starts[n] = i
            n += 1
    starts[n] = len(text)
    m = max(n - k + 1, 1)
    out = np.empty(m, dtype=np.uint32)
    for i in range(m):
        out[i] = np.uint32(xxh32(text, starts[i], starts[min(i + k, n)], seed))
    return out


@njit(cache=True)
def _unique(values: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    """Distinct values in order of first occurrence (open-addressing hash set, O(n))."""
    n = len(values)
    size = 16
    while size < 2 * n:
        size *= 2
    mask = np.uint64(size - 1)
    slots = np.zeros(size, dtype=np.uint64)  # value + 1; 0 marks an empty slot
    out = np.empty(n, dtype=np.uint32)
    m = 0
    for i in range(n):
        v = np.uint64(values[i])
        k = ((v * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(32)) & mask
        while slots[k] != 0 and slots[k] != v + np.uint64(1):
            k = (k + np.uint64(1)) & mask
        if slots[k] == 0:
            slots[k] = v + np.uint64(1)
            out[m] = values[i]
            m += 1
    return out[:m]


@njit(cache=True)
def _doc_hashes(
    buf: npt.NDArray[np.uint8], lo: int, hi: int, word: bool, k: int, seed: np.uint64
) -> tuple[npt.NDArray[np.uint32], int, np.uint64]:
    """Distinct shingle hashes, word count and content hash of one document."""
    words = _word_hashes(buf, lo, hi, seed)
    n = len(words)
    content = (xxh32_words(words, 0, n, np.uint64(0)) << np.uint64(32)) | xxh32_words(
        words, 0, n, np.uint64(0x9E3779B9)
    )
    if n == 0:
        return np.empty(0, dtype=np.uint32), 0, content
    if word:
        m = max(n - k + 1, 1)
        out = np.empty(m, dtype=np.uint32)
        for i in range(m):
            out[i] = np.uint32(xxh32_words(words, i, min(i + k, n), seed))
        words = np.empty(0, dtype=np.uint32)  # free it before sorting (a huge text)
    else:
        out = _char_shingles(_compact(buf, lo, hi), k, seed)
    return _unique(out), n, content


@njit(cache=True, parallel=True, nogil=True)
def _batch_kernel(
    buf: npt.NDArray[np.uint8], offsets: npt.NDArray[np.int64], word: bool, k: int, seed: np.uint64
) -> tuple[
    npt.NDArray[np.uint32], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.uint64]
]:
    nd = len(offsets) - 1
    parts = [np.empty(0, dtype=np.uint32) for _ in range(nd)]
    n_units = np.zeros(nd, dtype=np.int64)
    content = np.zeros(nd, dtype=np.uint64)
    for d in prange(nd):
        parts[d], n_units[d], content[d] = _doc_hashes(
            buf, offsets[d], offsets[d + 1], word, k, seed
        )
    out_off = np.zeros(nd + 1, dtype=np.int64)
    for d in range(nd):
        out_off[d + 1] = out_off[d] + len(parts[d])
    if nd == 1:  # no copy (a batch of one huge document)
        return parts[0], out_off, n_units, content
    out = np.empty(out_off[nd], dtype=np.uint32)
    for d in prange(nd):
        out[out_off[d] : out_off[d + 1]] = parts[d]
    return out, out_off, n_units, content


@dataclass(frozen=True)
class ShingleBatch:
    """Shingles of a batch of documents in CSR layout.

    Attributes:
        hashes: distinct shingle hashes of every document (in order of first occurrence),
            concatenated.
        offsets: document ``i`` owns ``hashes[offsets[i]:offsets[i+1]]``.
        n_tokens: number of words of each document's canonical form.
        content_hash: 64-bit hash of each canonical form (equal texts, equal hashes).
    """

    hashes: npt.NDArray[np.uint32]
    offsets: npt.NDArray[np.int64]
    n_tokens: npt.NDArray[np.int64]
    content_hash: npt.NDArray[np.uint64]

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def doc(self, i: int) -> npt.NDArray[np.uint32]:
        return self.hashes[self.offsets[i] : self.offsets[i + 1]]


def pack(texts: list[str]) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """Canonical bytes of ``texts`` concatenated, with document offsets."""
    parts = [canonical_bytes(t) for t in texts]
    lengths = np.fromiter((len(p) for p in parts), dtype=np.int64, count=len(parts))
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    buf = np.frombuffer(b"".join(parts), dtype=np.uint8)
    return buf, offsets


SMALL_BYTES = 1 << 16  # batches up to this many canonical bytes skip the numba kernel


def _small_doc(data: bytes, word: bool, k: int, seed: int) -> tuple[list[int], int, int]:
    """:func:`_doc_hashes` with the ``xxhash`` package: the same values, for small inputs
    (no numba import; about a microsecond per shingle)."""
    import xxhash

    h32 = xxhash.xxh32_intdigest
    words = np.fromiter((h32(w, seed) for w in data.split(b" ") if w), dtype=np.uint32).astype(
        "<u4"
    )
    packed = words.tobytes()
    content = (h32(packed, 0) << 32) | h32(packed, 0x9E3779B9)
    n = len(words)
    if n == 0:
        return [], 0, content
    if word:
        grams = [h32(packed[4 * i : 4 * min(i + k, n)], seed) for i in range(max(n - k + 1, 1))]
    else:
        text = b" ".join(w for w in data.split(b" ") if w)
        starts = [i for i, c in enumerate(text) if (c & 0xC0) != 0x80] + [len(text)]
        m = len(starts) - 1
        grams = [
            h32(text[starts[i] : starts[min(i + k, m)]], seed) for i in range(max(m - k + 1, 1))
        ]
    return list(dict.fromkeys(grams)), n, content


def _small_batch(
    buf: npt.NDArray[np.uint8], offsets: npt.NDArray[np.int64], word: bool, k: int, seed: int
) -> ShingleBatch:
    data = buf.tobytes()
    parts = [
        _small_doc(data[offsets[d] : offsets[d + 1]], word, k, seed)
        for d in range(len(offsets) - 1)
    ]
    sizes = np.array([len(p[0]) for p in parts], dtype=np.int64)
    out_off = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum(sizes, out=out_off[1:])
    hashes = np.fromiter((h for p in parts for h in p[0]), dtype=np.uint32, count=out_off[-1])
    n_units = np.array([p[1] for p in parts], dtype=np.int64)
    content = np.array([p[2] for p in parts], dtype=np.uint64)
    return ShingleBatch(hashes, out_off, n_units, content)


def shingle_texts(texts: list[str], config: ShingleConfig) -> ShingleBatch:
    """Shingle a batch of raw texts (normalization included).

    A batch of at most :data:`SMALL_BYTES` canonical bytes is hashed with the ``xxhash``
    package instead of the numba kernel (same values; a small scan then loads no kernel).
    """
    buf, offsets = pack(texts)
    if len(buf) <= SMALL_BYTES:
        return _small_batch(buf, offsets, config.kind == "word", config.size, config.seed)
    if len(buf) == 0:  # numba needs a non-empty buffer to type some paths
        buf = np.zeros(1, dtype=np.uint8)
    out, out_off, n_units, content = _batch_kernel(
        buf, offsets, config.kind == "word", config.size, np.uint64(config.seed)
    )
    return ShingleBatch(out, out_off, n_units, content)


def reference_hashes(text: str, config: ShingleConfig) -> list[int]:
    """Sorted unique shingle hashes of one text, computed the slow way with ``xxhash``.

    This is the definition the kernel is tested against. A word shingle's hash is XXH32 of
    the little-endian bytes of its ``k`` word hashes (each XXH32 of the word's UTF-8); a
    character shingle's hash is XXH32 of its UTF-8.
    """
    import struct

    import xxhash

    from dedup.text.normalize import canonical

    canon = canonical(text)
    if not canon:
        return []
    seed, k = config.seed, config.size
    if config.kind == "char":
        grams = [canon[i : i + k] for i in range(max(len(canon) - k + 1, 1))]
        return sorted({xxhash.xxh32_intdigest(g.encode("utf-8"), seed) for g in grams})
    words = [xxhash.xxh32_intdigest(w.encode("utf-8"), seed) for w in canon.split(" ")]
    grams_w = [words[i : i + k] for i in range(max(len(words) - k + 1, 1))]
    return sorted({xxhash.xxh32_intdigest(struct.pack(f"<{len(g)}I", *g), seed) for g in grams_w})
