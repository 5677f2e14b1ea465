"""Sentence seeds of the passage aligner: reworded sentences matched in order, grouped in runs.

Every sentence of A is scored against every sentence of B, lexically (word-level Indel ratio)
and, when an embedder is given, by the cosine of sentence embeddings. A pair is a seed when
either score reaches its threshold; the seeds are then matched in order by the aligner's
dynamic program (:func:`dedup.align.dp.align_path`), a sentence left out next to a match joins it
when it matches the same partner (one sentence rewritten as two), and matched pairs that
follow each other (at most ``max_gap`` unmatched sentences between them on either side) form
a run. A run is a paraphrased passage; a lone matched sentence is not (independent reports of
one event share single sentences, a rewrite shares runs of them).

The score matrix is quadratic in sentences, so it is computed only up to ``max_cells`` cells;
beyond that only the lexical seeds of :mod:`dedup.align.passage_seeds` are used.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from dedup.align.dp import align_path
from dedup.align.scorers import LexicalScorer
from dedup.text.segment import MAX_SENTENCE_WORDS, head

__all__ = [
    "MAX_SENTENCE_WORDS",
    "Embedder",
    "SentenceRun",
    "content_dice",
    "content_words",
    "head",
    "in_order_chain",
    "mutual_best",
    "plain_scores",
    "sentence_runs",
    "sentence_scores",
]

#: Embeds sentences: ``embed(sentences) -> (len(sentences), d)`` array of unit-length rows.
Embedder = Callable[[Sequence[str]], npt.NDArray[np.float32]]
FloatMatrix = npt.NDArray[np.float32]

_TOKEN = re.compile(r"\w+")
# Function words: they carry no content, so two sentences sharing them share nothing.
_STOP = frozenset(
    """a an the and or but if of to in on at by for with from as is are was were be been being
    have has had do does did not no this that these those it its they them their there here he
    she his her we our you your i me my who whom which what when where why how than then so
    such also into over under after before about more most many much some any each other others
    only just very can could will would should may might must said says say while amid even
    still however""".split()  # noqa: SIM905
)


@lru_cache(maxsize=65536)
def content_words(sentence: str) -> frozenset[str]:
    """Content words of a sentence: lower-cased, function words and words under 3 letters
    dropped, cut to their first 5 letters (a crude stem: ``rescued``/``rescue``). Cached:
    an article's sentences are scored against every candidate partner's."""
    words = _TOKEN.findall(sentence.casefold())
    return frozenset(w[:5] for w in words if len(w) > 2 and w not in _STOP)


def content_dice(a: Sequence[str], b: Sequence[str]) -> FloatMatrix:
    """Dice coefficient of the content words of every sentence pair (0 where either
    sentence has none), from one product of the pair's word-incidence matrices."""
    ca, cb = [content_words(s) for s in a], [content_words(s) for s in b]
    out = np.zeros((len(a), len(b)), dtype=np.float32)
    vocab: dict[str, int] = {}
    rows = [[vocab.setdefault(w, len(vocab)) for w in x] for x in (*ca, *cb)]
    if not vocab:
        return out
    inc = np.zeros((len(rows), len(vocab)), dtype=np.float32)
    for r, cols in enumerate(rows):
        inc[r, cols] = 1.0
    # counts of shared words: exact in float32 (far below 2**24)
    shared = (inc[: len(a)] @ inc[len(a) :].T).astype(np.float64)
    sizes_a = np.asarray([len(x) for x in ca], dtype=np.float64)[:, None]
    sizes_b = np.asarray([len(y) for y in cb], dtype=np.float64)[None, :]
    total = sizes_a + sizes_b
    both = (sizes_a > 0) & (sizes_b > 0)
    out[both] = (2.0 * shared / np.where(total > 0, total, 1.0))[both]
    return out


@dataclass(frozen=True)
class SentenceRun:
    """Matched sentence pairs that follow each other in both texts.

    Attributes:
        links: ``(i, j)`` sentence pairs, increasing in ``i``.
        score: Half the mean seed score of the links, capped at 1 (0.5: at the seed
            threshold; 1.0: twice as strong).
        lexical: Mean word-level ratio of the links.
    """

    links: tuple[tuple[int, int], ...]
    score: float
    lexical: float

    @property
    def a_range(self) -> tuple[int, int]:
        """First and one-past-last sentence of A."""
        return self.links[0][0], self.links[-1][0] + 1

    @property
    def b_range(self) -> tuple[int, int]:
        """First and one-past-last sentence of B."""
        js = [j for _, j in self.links]
        return min(js), max(js) + 1


def sentence_scores(
    a: Sequence[str],
    b: Sequence[str],
    *,
    embed: Embedder | None,
    lexical_threshold: float,
    embedding_threshold: float,
    dice_weight: float = 0.5,
) -> tuple[FloatMatrix, FloatMatrix, FloatMatrix]:
    """Seed strengths of every sentence pair (>= 1.0: strong enough to seed) and lexical ratios.

    The plain strength is ``max(lexical / lexical_threshold, cosine / embedding_threshold)``:
    either kind of evidence can make a seed, stronger evidence scores higher. The path
    strength adds ``dice_weight`` times the content-word Dice (:func:`content_dice`) to the
    cosine: the embedding says two sentences speak of the same thing, the shared names,
    numbers and content words that they say the same of it, which picks the right partner
    among sentences on one topic.

    Args:
        a: Sentences of A.
        b: Sentences of B.
        embed: Sentence embedder, or None for lexical scores only.
        lexical_threshold: Word-level ratio from which a pair may seed.
        embedding_threshold: Cosine from which a pair may seed.
        dice_weight: Weight of the content-word Dice in the path strength.

    Sentences longer than :data:`MAX_SENTENCE_WORDS` words are scored on their first words.

    Returns:
        ``(path, plain, lexical)``, each ``(len(a), len(b))``.
    """
    if not a or not b:
        z = np.zeros((len(a), len(b)), dtype=np.float32)
        return z, z.copy(), z.copy()
    a, b = [head(x) for x in a], [head(x) for x in b]
    plain, lex, cos = plain_scores(
        a,
        b,
        embed=embed,
        lexical_threshold=lexical_threshold,
        embedding_threshold=embedding_threshold,
    )
    path = lex / np.float32(lexical_threshold)
    if cos is not None:
        with_dice = cos + np.float32(dice_weight) * content_dice(a, b) if dice_weight else cos
        path = np.maximum(path, with_dice / np.float32(embedding_threshold))
    return (
        np.ascontiguousarray(path, dtype=np.float32),
        np.ascontiguousarray(plain, dtype=np.float32),
        lex,
    )


def plain_scores(
    a: Sequence[str],
    b: Sequence[str],
    *,
    embed: Embedder | None,
    lexical_threshold: float,
    embedding_threshold: float,
) -> tuple[FloatMatrix, FloatMatrix, FloatMatrix | None]:
    """The plain seed strengths of :func:`sentence_scores` (sentences already cut to their
    first words), with the lexical ratios and the cosines (None without an embedder)."""
    lex = LexicalScorer()(a, b)
    plain = lex / np.float32(lexical_threshold)
    cos = None
    if embed is not None:
        ea = np.asarray(embed(a), dtype=np.float32)
        eb = np.asarray(embed(b), dtype=np.float32)
        cos = np.clip(ea @ eb.T, 0.0, 1.0)
        plain = np.maximum(plain, cos / np.float32(embedding_threshold))
    return plain, lex, cos


#: Word-level ratio from which a matched sentence pair is a copy, not a rewrite: its partner
#: holds all its words, so a neighbour cannot be the other half of a sentence rewritten as two.
VERBATIM_RATIO = 0.9


def _attach_neighbours(
    pairs: list[tuple[int, int]], score: FloatMatrix, lexical: FloatMatrix, threshold: float = 1.0
) -> list[tuple[int, int]]:
    """Add ``(i', j)`` for an unmatched sentence ``i'`` next to a matched ``i`` whose partner
    ``j`` it also matches (and the same on B's side): one sentence rewritten as two. A pair
    copied word for word (:data:`VERBATIM_RATIO`) takes no neighbour: a sentence on the same
    subject beside a copy is not part of it."""
    used_a = {i for i, _ in pairs}
    used_b = {j for _, j in pairs}
    extra: list[tuple[int, int]] = []
    n, m = score.shape
    for i, j in pairs:
        if lexical[i, j] >= VERBATIM_RATIO:
            continue
        for ii in (i - 1, i + 1):
            if 0 <= ii < n and ii not in used_a and score[ii, j] >= threshold:
                extra.append((ii, j))
                used_a.add(ii)
        for jj in (j - 1, j + 1):
            if 0 <= jj < m and jj not in used_b and score[i, jj] >= threshold:
                extra.append((i, jj))
                used_b.add(jj)
    return sorted({*pairs, *extra})


def _fill(
    run: list[tuple[int, int]], score: FloatMatrix, lexical: FloatMatrix, extend: float
) -> list[tuple[int, int]]:
    """Extend a run: inside its box (one sentence wider on each side) sentences match from
    ``extend`` (< 1.0), in order, as a seed's neighbours need less evidence than a seed."""
    n, m = score.shape
    a_lo, a_hi = max(run[0][0] - 1, 0), min(run[-1][0] + 2, n)
    b_lo = max(min(j for _, j in run) - 1, 0)
    b_hi = min(max(j for _, j in run) + 2, m)
    box = np.ascontiguousarray(score[a_lo:a_hi, b_lo:b_hi])
    extra = [(a_lo + i, b_lo + j) for i, j in align_path(box, extend)]
    used_a, used_b = {i for i, _ in run}, {j for _, j in run}
    extra = [(i, j) for i, j in extra if i not in used_a and j not in used_b]
    used_a.update(i for i, _ in extra)
    used_b.update(j for _, j in extra)
    # moved inside the passage: the strongest leftover pairs, out of order, at seed strength
    for flat in np.argsort(-box, axis=None, kind="stable").tolist():
        i, j = divmod(int(flat), box.shape[1])
        if box[i, j] < 1.0:
            break
        if a_lo + i not in used_a and b_lo + j not in used_b:
            extra.append((a_lo + i, b_lo + j))
            used_a.add(a_lo + i)
            used_b.add(b_lo + j)
    return _attach_neighbours(sorted({*run, *extra}), score, lexical, extend)


def mutual_best(score: FloatMatrix) -> list[tuple[int, int]]:
    """Seed pairs: each sentence is the other's best match, with a seed score >= 1.0."""
    if score.size == 0:
        return []
    rb, cb = score.argmax(axis=1), score.argmax(axis=0)
    return [(i, int(j)) for i, j in enumerate(rb.tolist()) if cb[j] == i and score[i, j] >= 1.0]


def in_order_chain(seeds: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The longest subsequence of seeds increasing in both texts (patience sorting)."""
    ordered = sorted(seeds)
    tails: list[int] = []  # index into ordered of the smallest tail of each length
    back = [-1] * len(ordered)
    for k, (_, j) in enumerate(ordered):
        lo = bisect_left([ordered[t][1] for t in tails], j)
        back[k] = tails[lo - 1] if lo else -1
        if lo == len(tails):
            tails.append(k)
        else:
            tails[lo] = k
    out, k = [], tails[-1] if tails else -1
    while k >= 0:
        out.append(ordered[k])
        k = back[k]
    return out[::-1]


def sentence_runs(
    chain: Sequence[tuple[int, int]],
    score: FloatMatrix,
    lexical: FloatMatrix,
    *,
    max_gap: int,
    min_links: int,
    extend: float = 1.0,
) -> list[SentenceRun]:
    """Group in-order matched sentence pairs into runs, and extend each run inside its box.

    Args:
        chain: Matched pairs increasing in both texts (the aligner's dynamic program over
            the seed scores).
        score: Seed scores from :func:`sentence_scores` (a seed scores >= 1.0).
        lexical: Word-level ratios, same shape.
        max_gap: Most unmatched sentences between two links of one run, on either side.
        min_links: Fewest chain links a run needs.
        extend: Seed score from which sentences inside a run's box join it (<= 1.0).

    Returns:
        The runs, ordered by their first sentence of A.
    """
    runs: list[list[tuple[int, int]]] = []
    for i, j in _attach_neighbours(list(chain), score, lexical):
        if runs:
            pi, pj = runs[-1][-1]
            if i - pi <= max_gap + 1 and -1 <= j - pj <= max_gap + 1:
                runs[-1].append((i, j))
                continue
        runs.append([(i, j)])
    out = []
    for run in runs:
        if len({i for i, _ in run}) < min_links and len({j for _, j in run}) < min_links:
            continue
        run = _fill(run, score, lexical, extend)
        sc = float(np.mean([min(float(score[i, j]), 2.0) / 2.0 for i, j in run]))
        lx = float(np.mean([float(lexical[i, j]) for i, j in run]))
        out.append(SentenceRun(tuple(run), sc, lx))
    return out
