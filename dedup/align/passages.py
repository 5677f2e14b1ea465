"""Passage alignment of two texts: seed, extend, filter.

The shape of the strongest text-alignment systems of the PAN shared tasks (Sanchez-Perez et
al., PAN 2014) and of passim:

* **seed**: word n-grams shared by both texts (verbatim and lightly edited reuse,
  :mod:`dedup.align.passage_seeds`), and sentence pairs whose word-level ratio or embedding
  cosine is high (reworded reuse, :mod:`dedup.align.passage_sentences`);
* **extend**: n-gram seeds that follow each other within ``gap`` words in both texts are
  chained into one passage; matched sentences that follow each other form one passage;
  passages that overlap in both texts are merged;
* **filter**: a lexical passage needs ``min_matched`` words covered by shared n-grams; a
  sentence passage needs ``min_links`` matched sentences in a row.

Every passage has character offsets into each text exactly as given (end exclusive), so
``text_a[p.a_start:p.a_end]`` is the passage in A. Its ``kind`` is ``verbatim`` (the same words
in the same order), ``edited`` (mostly shared n-grams) or ``paraphrase`` (reworded).

The result depends on the two texts and the config only (no corpus state), so any engine can
call :func:`align_passages` per pair and get the same passages.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from dedup.align.dp import align_path
from dedup.align.passage_seeds import Chain, WordSpans, chain_seeds, shared_ngram_seeds, word_spans
from dedup.align.passage_sentences import (
    Embedder,
    SentenceRun,
    in_order_chain,
    mutual_best,
    sentence_runs,
    sentence_scores,
)
from dedup.align.sentence_path import fill_same, heaviest_chain, seed_links, sentence_of
from dedup.config import PassageConfig
from dedup.text.segment import Sentence, split_sentences

__all__ = [
    "Passage",
    "PassageAlignment",
    "PassageKind",
    "align_passages",
    "passage_rows",
]

PassageKind = Literal["verbatim", "edited", "paraphrase"]
_CLOSERS = ".!?;:,\"'”’)]»…"
_OPENERS = "\"'“‘([«"


@dataclass(frozen=True, slots=True)
class Passage:
    """One aligned passage.

    Attributes:
        a_start: Offset of the passage's first character in A.
        a_end: Offset one past its last character in A.
        b_start: Same in B.
        b_end: Same in B.
        kind: ``verbatim``, ``edited`` or ``paraphrase``.
        score: In [0, 1]: the share of the passage's words covered by shared n-grams for
            lexical passages; the mean seed strength of its sentence pairs for paraphrases.
        n_words: Words of the shorter side of the passage.
    """

    a_start: int
    a_end: int
    b_start: int
    b_end: int
    kind: PassageKind
    score: float
    n_words: int


@dataclass(frozen=True)
class PassageAlignment:
    """Passages of a pair, the sentence links behind them and how much of each text they cover.

    Attributes:
        passages: Ordered by ``a_start``.
        links: ``(i, j)`` sentence pairs (indexes into :func:`dedup.text.segment.split_sentences` of
            each text) that lie in a passage, sorted.
        words_a: Words of A.
        words_b: Words of B.
        covered_a: Words of A inside some passage.
        covered_b: Words of B inside some passage.
        sentence_seeds: Sentence pairs that are each other's best match above the seed
            threshold.
        sentence_chain: The most of those that lie in one order in both texts.
        sentences_a: A's sentences.
        sentences_b: B's sentences.
        path: In-order sentence matches (the DP over the seed strengths; without the
            sentence matrix, the longest in-order chain of the lexical passages' links):
            the matches of the sentence view (:func:`dedup.align.pair.align_pair`).
    """

    passages: tuple[Passage, ...]
    links: tuple[tuple[int, int], ...]
    words_a: int
    words_b: int
    covered_a: int
    covered_b: int
    sentence_seeds: int = 0
    sentence_chain: int = 0
    sentences_a: tuple[Sentence, ...] = field(default=(), repr=False)
    sentences_b: tuple[Sentence, ...] = field(default=(), repr=False)
    path: tuple[tuple[int, int], ...] = field(default=(), repr=False)

    @property
    def coverage_a(self) -> float:
        """Share of A's words inside a passage (0 for a text without words)."""
        return self.covered_a / self.words_a if self.words_a else 0.0

    @property
    def coverage_b(self) -> float:
        """Share of B's words inside a passage."""
        return self.covered_b / self.words_b if self.words_b else 0.0


@dataclass
class _Span:
    """A passage under construction, in word positions of A and B (half-open)."""

    a_lo: int
    a_hi: int
    b_lo: int
    b_hi: int
    matched: int  # words of A covered by shared n-grams
    score: float
    paraphrase: bool


def _lexical_spans(
    wa: WordSpans, wb: WordSpans, cfg: PassageConfig
) -> tuple[list[Chain], np.ndarray, np.ndarray]:
    """The chains of shared n-grams long enough to be passages, and the seeds (word
    positions of the shared n-grams in A and B, sorted by A's)."""
    ia, jb = shared_ngram_seeds(
        wa, wb, n=cfg.ngram, max_df=cfg.max_ngram_df, max_seeds=cfg.max_seeds
    )
    chains = chain_seeds(ia, jb, n=cfg.ngram, gap=cfg.gap)
    return [c for c in chains if min(c.matched_a, c.matched_b) >= cfg.min_matched], ia, jb


def _word_range(spans: WordSpans, start: int, end: int) -> tuple[int, int]:
    """Word positions ``[lo, hi)`` of the words inside characters ``[start, end)``."""
    lo = int(np.searchsorted(spans.starts, start, side="left"))
    hi = int(np.searchsorted(spans.ends, end, side="right"))
    return lo, max(lo, hi)


def _run_span(
    run: SentenceRun, sa: list[Sentence], sb: list[Sentence], wa: WordSpans, wb: WordSpans
) -> _Span:
    (ai, aj), (bi, bj) = run.a_range, run.b_range
    a_lo, a_hi = _word_range(wa, sa[ai].start, sa[aj - 1].end)
    b_lo, b_hi = _word_range(wb, sb[bi].start, sb[bj - 1].end)
    return _Span(a_lo, a_hi, b_lo, b_hi, 0, run.score, True)


def _trim_runs(
    runs: list[_Span], chains: list[Chain], sid_a: np.ndarray, sid_b: np.ndarray
) -> list[_Span]:
    """Sentence-run spans clipped to the lexical chains they overlap in both texts, before
    the two kinds are merged: a passage copied into the middle of a sentence of one text
    starts (ends) where the copy does, not where that sentence does.

    A run's words before (after) the chain are dropped in one text only when they lie in the
    same sentence as the chain's first (last) word and the other text has no such words:
    they then have no counterpart. Words on both sides are kept (an edited start).
    """
    for r in runs:
        for c in chains:
            if not (r.a_lo < c.a_hi and c.a_lo < r.a_hi and r.b_lo < c.b_hi and c.b_lo < r.b_hi):
                continue
            head_a = r.a_lo < c.a_lo and sid_a[r.a_lo] == sid_a[c.a_lo]
            head_b = r.b_lo < c.b_lo and sid_b[r.b_lo] == sid_b[c.b_lo]
            if head_a and r.b_lo >= c.b_lo:
                r.a_lo = c.a_lo
            elif head_b and r.a_lo >= c.a_lo:
                r.b_lo = c.b_lo
            tail_a = c.a_hi < r.a_hi and sid_a[r.a_hi - 1] == sid_a[c.a_hi - 1]
            tail_b = c.b_hi < r.b_hi and sid_b[r.b_hi - 1] == sid_b[c.b_hi - 1]
            if tail_a and r.b_hi <= c.b_hi:
                r.a_hi = c.a_hi
            elif tail_b and r.a_hi <= c.a_hi:
                r.b_hi = c.b_hi
    return runs


def _merge(spans: list[_Span]) -> list[_Span]:
    """Merge spans that overlap in both texts (union of ranges)."""
    out: list[_Span] = []
    for s in sorted(spans, key=lambda t: (t.a_lo, t.b_lo)):
        for o in out:
            if s.a_lo < o.a_hi and o.a_lo < s.a_hi and s.b_lo < o.b_hi and o.b_lo < s.b_hi:
                lex_words = o.matched + s.matched
                o.score = max(o.score, s.score) if o.paraphrase and s.paraphrase else o.score
                o.a_lo, o.a_hi = min(o.a_lo, s.a_lo), max(o.a_hi, s.a_hi)
                o.b_lo, o.b_hi = min(o.b_lo, s.b_lo), max(o.b_hi, s.b_hi)
                o.matched = min(lex_words, o.a_hi - o.a_lo)
                o.paraphrase = o.paraphrase and s.paraphrase
                break
        else:
            out.append(s)
    return out


def _snap(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen ``[start, end)`` over adjacent opening and closing punctuation."""
    while start > 0 and text[start - 1] in _OPENERS:
        start -= 1
    while end < len(text) and text[end] in _CLOSERS:
        end += 1
    return start, end


def _kind(s: _Span, wa: WordSpans, wb: WordSpans, edited_share: float) -> PassageKind:
    if np.array_equal(wa.keys[s.a_lo : s.a_hi], wb.keys[s.b_lo : s.b_hi]):
        return "verbatim"
    if s.matched >= edited_share * (s.a_hi - s.a_lo):
        return "edited"
    return "paraphrase"


def _passage(
    s: _Span, ta: str, tb: str, wa: WordSpans, wb: WordSpans, cfg: PassageConfig
) -> Passage:
    a0, a1 = _snap(ta, int(wa.starts[s.a_lo]), int(wa.ends[s.a_hi - 1]))
    b0, b1 = _snap(tb, int(wb.starts[s.b_lo]), int(wb.ends[s.b_hi - 1]))
    kind = _kind(s, wa, wb, cfg.edited_share)
    score = s.score if s.paraphrase else s.matched / max(s.a_hi - s.a_lo, 1)
    n_words = min(s.a_hi - s.a_lo, s.b_hi - s.b_lo)
    return Passage(a0, a1, b0, b1, kind, round(float(min(score, 1.0)), 6), n_words)


def _covered(spans: list[tuple[int, int]]) -> int:
    total, end = 0, -1
    for lo, hi in sorted(spans):
        if hi > end:
            total += hi - max(lo, end)
            end = hi
    return total


def _chain_links(
    chains: list[Chain], sa: list[Sentence], sb: list[Sentence], wa: WordSpans, wb: WordSpans
) -> Counter[tuple[int, int]]:
    """Sentence pairs joined by the words of lexical passages (word by word along a chain,
    by interpolation), with the number of words joining each."""
    links: Counter[tuple[int, int]] = Counter()
    if not sa or not sb:
        return links
    for c in chains:
        la, lb = c.a_hi - c.a_lo, c.b_hi - c.b_lo
        pos_a = np.arange(c.a_lo, c.a_hi)
        pos_b = c.b_lo + ((pos_a - c.a_lo) * lb) // max(la, 1)
        ia = sentence_of(sa, wa.starts[pos_a])
        ib = sentence_of(sb, wb.starts[pos_b])
        links.update(zip(ia.tolist(), ib.tolist(), strict=True))
    return Counter({(i, j): n for (i, j), n in links.items() if i >= 0 and j >= 0})


def align_passages(
    text_a: str,
    text_b: str,
    *,
    config: PassageConfig | None = None,
    embed: Embedder | None = None,
) -> PassageAlignment:
    """Aligned passages of two texts.

    Args:
        text_a: The first text, as decoded.
        text_b: The second text.
        config: Aligner parameters; defaults when None.
        embed: Sentence embedder for reworded passages (``embed(sentences)`` returns unit
            rows), or None for lexical seeds only.

    Returns:
        The :class:`PassageAlignment`. Empty texts give no passage.
    """
    cfg = config or PassageConfig()
    vocab: dict[str, int] = {}
    wa, wb = word_spans(text_a, vocab), word_spans(text_b, vocab)
    chains, ia, jb = _lexical_spans(wa, wb, cfg)
    spans = [_Span(c.a_lo, c.a_hi, c.b_lo, c.b_hi, c.matched_a, 0.0, False) for c in chains]
    sa, sb = split_sentences(text_a), split_sentences(text_b)
    runs: list[SentenceRun] = []
    n_seeds = n_chain = 0
    path: list[tuple[int, int]] | None = None
    if sa and sb and len(sa) * len(sb) <= cfg.max_sentence_cells:
        score, plain, lex = sentence_scores(
            [s.text for s in sa],
            [s.text for s in sb],
            embed=embed,
            lexical_threshold=cfg.sentence_lexical,
            embedding_threshold=cfg.sentence_embedding,
            dice_weight=cfg.dice_weight,
        )
        seeds = mutual_best(plain)
        chain = in_order_chain(seeds)
        n_seeds, n_chain = len(seeds), len(chain)
        path = align_path(score, 1.0)
        runs = sentence_runs(
            path, score, lex, max_gap=cfg.sentence_gap, min_links=cfg.min_links, extend=cfg.extend
        )
        run_spans = [_run_span(r, sa, sb, wa, wb) for r in runs]
        if run_spans and chains:
            sid_a, sid_b = sentence_of(sa, wa.starts), sentence_of(sb, wb.starts)
            run_spans = _trim_runs(run_spans, chains, sid_a, sid_b)
        spans.extend(run_spans)
    merged = [s for s in _merge(spans) if s.a_hi > s.a_lo and s.b_hi > s.b_lo]
    passages = tuple(_passage(s, text_a, text_b, wa, wb, cfg) for s in merged)
    links = set(_chain_links(chains, sa, sb, wa, wb))
    links.update(link for r in runs for link in r.links)
    if path is None:  # no sentence matrix: the passages' seeds, one partner per sentence
        path = fill_same(heaviest_chain(seed_links(chains, (ia, jb), sa, sb, wa, wb)), sa, sb)
    return PassageAlignment(
        passages=tuple(sorted(passages, key=lambda p: (p.a_start, p.b_start))),
        links=tuple(sorted(links)),
        words_a=len(wa),
        words_b=len(wb),
        covered_a=_covered([(s.a_lo, s.a_hi) for s in merged]),
        covered_b=_covered([(s.b_lo, s.b_hi) for s in merged]),
        sentence_seeds=n_seeds,
        sentence_chain=n_chain,
        sentences_a=tuple(sa),
        sentences_b=tuple(sb),
        path=tuple(path),
    )


def passage_rows(doc_a: int, doc_b: int, alignment: PassageAlignment) -> list[dict[str, object]]:
    """Rows of the ``passages`` table (:data:`dedup.schema.PASSAGES`) for one pair.

    Args:
        doc_a: ``doc_id`` of A.
        doc_b: ``doc_id`` of B.
        alignment: Their passage alignment.

    Returns:
        One dict per passage, ordered by ``a_start``.
    """
    return [
        {
            "doc_a": doc_a,
            "doc_b": doc_b,
            "a_start": p.a_start,
            "a_end": p.a_end,
            "b_start": p.b_start,
            "b_end": p.b_end,
            "kind": p.kind,
            "score": p.score,
            "n_words": p.n_words,
        }
        for p in alignment.passages
    ]
