"""Lexical seeds of the passage aligner: word spans, shared word n-grams, seed chaining.

Words are Unicode ``\\w+`` runs found on the text *as given*, so their character spans index
the original string; each word is then NFKC-normalized and case-folded on its own to get its
key. Normalizing the whole text first would move offsets (NFKC can change a string's length).

A seed is a position ``(i, j)`` where A's words ``i .. i+n`` equal B's words ``j .. j+n``.
N-grams that occur more than ``max_df`` times in either text are skipped (boilerplate and
repeated phrases would multiply seeds), and at most ``max_seeds`` seeds are kept, the rarest
first; among equally rare ones every ``k``-th position of A first (``k`` = seeds found /
``max_seeds``, rounded up), so the seeds kept of two long shared texts are spread evenly along
them (within the chaining gap while ``k`` is small), not bunched at their start. Chaining
walks the seeds once in A order and grows at most ``max_open`` open chains, so the cost is
linear in the words of both texts plus the seeds kept.
"""

from __future__ import annotations

import re
import unicodedata
from array import array
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import polars as pl

from dedup.text.segment import CACHED_CHARS, CACHED_TEXTS

__all__ = ["Chain", "WordSpans", "chain_seeds", "ngram_hashes", "shared_ngram_seeds", "word_spans"]

_WORD = re.compile(r"\w+")
_PRIME = np.uint64(0x9E3779B97F4A7C15)
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class WordSpans:
    """The words of a text: integer keys (shared vocabulary) and character spans.

    Attributes:
        keys: Word ids; equal ids mean equal folded words (within one vocabulary).
        starts: Offset of each word's first character in the text.
        ends: Offset one past each word's last character.
    """

    keys: IntArray
    starts: IntArray
    ends: IntArray

    def __len__(self) -> int:
        return len(self.keys)


def word_spans(text: str, vocabulary: dict[str, int]) -> WordSpans:
    """Words of ``text`` with their spans, keyed through ``vocabulary`` (grown in place).

    A text is read once (:func:`_local_words`, cached for texts up to
    :data:`dedup.text.segment.CACHED_CHARS` characters, as its sentences are: an article is
    aligned with every candidate partner); each call then only maps
    the text's distinct words into ``vocabulary``, in order of first occurrence, so the ids
    are those a word-by-word pass would give.

    Args:
        text: Any text, as decoded.
        vocabulary: Folded word to id; pass the same dict for both texts of a pair.

    Returns:
        The :class:`WordSpans`.
    """
    local = _local_words(text) if len(text) <= CACHED_CHARS else _read_words(text)
    ids = np.fromiter(
        (vocabulary.setdefault(w, len(vocabulary)) for w in local.words),
        dtype=np.int64,
        count=len(local.words),
    )
    return WordSpans(ids[local.keys], local.starts, local.ends)


@dataclass(frozen=True)
class _LocalWords:
    """A text's words keyed by the order of their first occurrence (``words[k]`` is the
    folded word of key ``k``), with their character spans."""

    words: tuple[str, ...]
    keys: IntArray
    starts: IntArray
    ends: IntArray


@lru_cache(maxsize=CACHED_TEXTS)
def _local_words(text: str) -> _LocalWords:
    return _read_words(text)


def _read_words(text: str) -> _LocalWords:
    local: dict[str, int] = {}
    if text.isascii():
        spans = _ascii_word_spans(text, local)
    else:
        raw: dict[str, int] = {}
        keys, starts, ends = array("q"), array("q"), array("q")
        for m in _WORD.finditer(text):
            token = m.group()
            key = raw.get(token)
            if key is None:
                folded = token.casefold() if token.isascii() else _fold(token)
                key = local.setdefault(folded, len(local))
                raw[token] = key
            keys.append(key)
            starts.append(m.start())
            ends.append(m.end())
        spans = WordSpans(
            np.frombuffer(keys, dtype=np.int64).copy(),
            np.frombuffer(starts, dtype=np.int64).copy(),
            np.frombuffer(ends, dtype=np.int64).copy(),
        )
    for arr in (spans.keys, spans.starts, spans.ends):
        arr.flags.writeable = False  # shared between calls
    return _LocalWords(tuple(local), spans.keys, spans.starts, spans.ends)


_ASCII_WORD = np.zeros(256, dtype=bool)
for _c in b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_":
    _ASCII_WORD[_c] = True


def _ascii_word_spans(text: str, vocabulary: dict[str, int]) -> WordSpans:
    """:func:`word_spans` of an ASCII text, with word boundaries found by numpy."""
    mask = _ASCII_WORD[np.frombuffer(text.encode("ascii"), dtype=np.uint8)]
    edges = np.diff(np.concatenate(([False], mask, [False])).astype(np.int8))
    starts = np.flatnonzero(edges == 1).astype(np.int64)
    ends = np.flatnonzero(edges == -1).astype(np.int64)
    tokens = _WORD.findall(text.lower())
    keys = np.fromiter(
        (vocabulary.setdefault(t, len(vocabulary)) for t in tokens),
        dtype=np.int64,
        count=len(tokens),
    )
    return WordSpans(keys, starts, ends)


def _fold(token: str) -> str:
    return unicodedata.normalize("NFKC", token).casefold()


def ngram_hashes(keys: IntArray, n: int) -> npt.NDArray[np.uint64]:
    """A 64-bit hash of each run of ``n`` consecutive word ids."""
    m = len(keys) - n + 1
    if m <= 0:
        return np.zeros(0, dtype=np.uint64)
    k = keys.astype(np.uint64) + np.uint64(1)
    h = np.zeros(m, dtype=np.uint64)
    for t in range(n):
        h = h * _PRIME + k[t : t + m]
    return h


def shared_ngram_seeds(
    a: WordSpans, b: WordSpans, *, n: int, max_df: int, max_seeds: int
) -> tuple[IntArray, IntArray]:
    """Positions ``(i, j)`` where A and B share a word n-gram, sorted by ``i`` then ``j``.

    Args:
        a: Words of A.
        b: Words of B (same vocabulary).
        n: N-gram length in words.
        max_df: Skip n-grams occurring more often than this in either text.
        max_seeds: Keep at most this many seeds: those of the rarest n-grams, then evenly
            spread along A (see the module notes).

    Returns:
        Two int64 arrays of equal length.
    """
    ha, hb = ngram_hashes(a.keys, n), ngram_hashes(b.keys, n)
    if len(ha) == 0 or len(hb) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy()
    if len(ha) + len(hb) <= SMALL_SEED_WORDS:
        return _seeds_numpy(ha, hb, max_df=max_df, max_seeds=max_seeds)
    return _seeds_polars(ha, hb, max_df=max_df, max_seeds=max_seeds)


#: Below this many n-grams in both texts, seeds are found with numpy (sorting), above with
#: polars' joins: one pair of news articles cost ~3.5 ms in polars' per-call overhead.
SMALL_SEED_WORDS = 200_000


def _stride(total: int, max_seeds: int) -> int:
    """Every how many positions of A a seed is kept first, when ``total`` are over the cap."""
    return max(-(-total // max(max_seeds, 1)), 1)


def _seeds_numpy(
    ha: npt.NDArray[np.uint64], hb: npt.NDArray[np.uint64], *, max_df: int, max_seeds: int
) -> tuple[IntArray, IntArray]:
    """:func:`shared_ngram_seeds` of two hash arrays, in numpy (same seeds, same order)."""
    ua, inv_a, cnt_a = np.unique(ha, return_inverse=True, return_counts=True)
    ub, inv_b, cnt_b = np.unique(hb, return_inverse=True, return_counts=True)
    _, ia, ib = np.intersect1d(ua, ub, assume_unique=True, return_indices=True)
    keep = (cnt_a[ia] <= max_df) & (cnt_b[ib] <= max_df)
    ia, ib = ia[keep], ib[keep]
    group_a = np.full(len(ua), -1, dtype=np.int64)
    group_a[ia] = np.arange(len(ia))
    group_b = np.full(len(ub), -1, dtype=np.int64)
    group_b[ib] = np.arange(len(ib))
    ga, gb = group_a[inv_a.ravel()], group_b[inv_b.ravel()]
    pos_a = np.flatnonzero(ga >= 0)
    pos_b = np.flatnonzero(gb >= 0)
    # B's positions grouped by shared n-gram, ascending within each group
    by_group = pos_b[np.argsort(gb[pos_b], kind="stable")]
    per_group = np.bincount(gb[pos_b], minlength=len(ia))
    first = np.concatenate(([0], np.cumsum(per_group)[:-1])) if len(ia) else per_group
    g = ga[pos_a]
    reps = per_group[g]
    total = int(reps.sum())
    seeds_a = np.repeat(pos_a, reps)  # ascending in A, then in B within one A position
    within = np.arange(total) - np.repeat(np.cumsum(reps) - reps, reps)
    seeds_b = by_group[np.repeat(first[g], reps) + within]
    if total > max_seeds:  # the rarest n-grams' seeds (fewest pairings), spread along A
        weight = np.repeat(cnt_a[ia][g] * cnt_b[ib][g], reps)
        stride = seeds_a % _stride(total, max_seeds)
        pick = np.lexsort((seeds_b, seeds_a, stride, weight))[:max_seeds]
        pick = pick[np.lexsort((seeds_b[pick], seeds_a[pick]))]
        seeds_a, seeds_b = seeds_a[pick], seeds_b[pick]
    return seeds_a.astype(np.int64), seeds_b.astype(np.int64)


def _seeds_polars(
    ha: npt.NDArray[np.uint64], hb: npt.NDArray[np.uint64], *, max_df: int, max_seeds: int
) -> tuple[IntArray, IntArray]:
    """:func:`shared_ngram_seeds` of two hash arrays, with polars' joins (large texts)."""
    fa = pl.DataFrame({"h": ha, "i": np.arange(len(ha), dtype=np.int64)})
    fb = pl.DataFrame({"h": hb, "j": np.arange(len(hb), dtype=np.int64)})
    ca = fa.group_by("h").agg(pl.len().alias("ca")).filter(pl.col("ca") <= max_df)
    cb = fb.group_by("h").agg(pl.len().alias("cb")).filter(pl.col("cb") <= max_df)
    common = ca.join(cb, on="h").with_columns((pl.col("ca") * pl.col("cb")).alias("w"))
    seeds = fa.join(common, on="h").join(fb, on="h")
    if seeds.height > max_seeds:
        stride = pl.col("i") % _stride(seeds.height, max_seeds)
        seeds = seeds.with_columns(stride.alias("s")).sort("w", "s", "i", "j").head(max_seeds)
    seeds = seeds.sort("i", "j")
    return seeds["i"].to_numpy().astype(np.int64), seeds["j"].to_numpy().astype(np.int64)


@dataclass
class Chain:
    """Seeds chained into one candidate passage, in word positions (half-open ranges).

    Attributes:
        a_lo: First word of A.
        a_hi: One past the last word of A.
        b_lo: First word of B.
        b_hi: One past the last word of B.
        matched_a: Words of A covered by a seed.
        matched_b: Words of B covered by a seed.
        seeds: Seeds chained.
    """

    a_lo: int
    a_hi: int
    b_lo: int
    b_hi: int
    matched_a: int
    matched_b: int
    seeds: int = 1
    _last_i: int = 0
    _last_j: int = 0


def _extend(c: Chain, i: int, j: int, n: int) -> None:
    c.matched_a += min(n, i + n - c.a_hi) if i + n > c.a_hi else 0
    c.matched_b += min(n, j + n - c.b_hi) if j + n > c.b_hi else 0
    c.a_hi = max(c.a_hi, i + n)
    c.b_hi = max(c.b_hi, j + n)
    c.b_lo = min(c.b_lo, j)
    c.seeds += 1
    c._last_i, c._last_j = i, j


def chain_seeds(
    seeds_a: IntArray, seeds_b: IntArray, *, n: int, gap: int, max_open: int = 64
) -> list[Chain]:
    """Chain seeds that follow each other within ``gap`` words in both texts, in order.

    A seed joins the open chain whose last seed precedes it by at most ``gap`` words in A and
    in B and whose diagonal (``j - i``) is closest to its own; otherwise it opens a chain.

    Args:
        seeds_a: Seed positions in A, sorted (with ``seeds_b`` as tie-breaker).
        seeds_b: Seed positions in B.
        n: The n-gram length the seeds came from (each covers ``n`` words).
        gap: Largest distance in words between consecutive seeds of one chain.
        max_open: Chains kept open at once (the most recently extended).

    Returns:
        Every chain, open or closed, ordered by ``a_lo``.
    """
    done: list[Chain] = []
    live: list[Chain] = []
    for i, j in zip(seeds_a.tolist(), seeds_b.tolist(), strict=True):
        best, best_cost = None, gap + 1
        keep: list[Chain] = []
        for c in live:
            if i - c._last_i > gap + n:
                done.append(c)
                continue
            keep.append(c)
            dj = j - c._last_j
            if -n < dj <= gap + n:
                cost = abs(dj - (i - c._last_i))
                if cost < best_cost:
                    best, best_cost = c, cost
        live = keep
        if best is not None:
            _extend(best, i, j, n)
            continue
        live.append(Chain(i, i + n, j, j + n, n, n, 1, i, j))
        if len(live) > max_open:
            live.sort(key=lambda c: c._last_i)
            done.append(live.pop(0))
    done.extend(live)
    done.sort(key=lambda c: (c.a_lo, c.b_lo))
    return done
