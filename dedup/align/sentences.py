"""In-order sentence alignment of two texts.

The aligner scores every sentence of A against every sentence of B (a similarity matrix in
[0, 1]), then finds the in-order matching of greatest total reward by dynamic programming
(a Needleman–Wunsch global alignment with free gaps, in :mod:`dedup.align.dp`). A pair can be
matched only when its similarity reaches ``match_threshold``; the reward of a match is
``similarity - match_threshold + 0.01``, so one strong match outweighs two barely-passing ones.

In a scan and in ``dedup diff`` the matches come from the passage aligner instead
(:mod:`dedup.align.pair`), so the sentence view and the passages are one alignment. Then:
* **merges and splits**: a matched sentence absorbs an unmatched neighbour on the other side
  when the joined text scores clearly higher (an op then spans several sentences);
* **moves**: unmatched pairs above the threshold are matched best-first as ``moved``;
* **words**: each ``edited`` or ``moved`` op carries word-level opcodes (difflib tags).
Ops follow difflib's conventions (``tag, a_lo, a_hi, b_lo, b_hi``, half-open ranges), in A
order (``added`` ops where they fall in B), so all but ``moved`` are in B order too; each
sentence lies in exactly one op with a non-empty range on its side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from dedup.align.dp import align_path
from dedup.align.scorers import LexicalScorer, Scorer, default_threshold, lexical_ratio, same_words
from dedup.text.segment import Sentence, split_sentences
from dedup.text.words import word_opcodes

__all__ = [
    "OPS",
    "Alignment",
    "Op",
    "OpTag",
    "align_sentences",
    "align_texts",
    "summarize",
]

OpTag = Literal["same", "edited", "added", "dropped", "moved"]
OPS: tuple[OpTag, ...] = ("same", "edited", "added", "dropped", "moved")
WordOp = tuple[str, int, int, int, int]

_MERGE_MARGIN = 0.05


@dataclass(frozen=True, slots=True)
class Op:
    """One aligned unit: a difflib-style opcode over sentence indices.

    Attributes:
        tag: ``same``, ``edited``, ``added``, ``dropped`` or ``moved``.
        a_lo: First sentence of A covered (for ``added``: where B's sentence falls in A).
        a_hi: One past the last sentence of A covered (``a_lo`` when nothing is).
        b_lo: First sentence of B covered (for ``dropped``: where A's sentence falls in B).
        b_hi: One past the last sentence of B covered.
        score: Similarity of the matched texts (1.0 for ``same``; 0.0 for added/dropped).
        words: Word-level opcodes ``(tag, a_lo, a_hi, b_lo, b_hi)`` over
            :func:`dedup.text.words.word_spans` of the joined A and B texts; empty unless edited
            or moved.
    """

    tag: OpTag
    a_lo: int
    a_hi: int
    b_lo: int
    b_hi: int
    score: float = 0.0
    words: tuple[WordOp, ...] = ()

    def as_tuple(self) -> tuple[str, int, int, int, int]:
        """The bare difflib opcode ``(tag, a_lo, a_hi, b_lo, b_hi)``."""
        return (self.tag, self.a_lo, self.a_hi, self.b_lo, self.b_hi)


@dataclass(frozen=True)
class Alignment:
    """The alignment of sentence sequence ``a`` with ``b``.

    Attributes:
        a: Sentences of A.
        b: Sentences of B.
        ops: The ops, ordered by A position (see the module docstring).
        a_spans: Character spans of A's sentences in A's text, when segmented here.
        b_spans: Same for B.
    """

    a: tuple[str, ...]
    b: tuple[str, ...]
    ops: tuple[Op, ...]
    a_spans: tuple[tuple[int, int], ...] = field(default=(), repr=False)
    b_spans: tuple[tuple[int, int], ...] = field(default=(), repr=False)

    def a_text(self, op: Op) -> str:
        """The text of A covered by ``op`` (sentences joined by a space)."""
        return " ".join(self.a[op.a_lo : op.a_hi])

    def b_text(self, op: Op) -> str:
        """The text of B covered by ``op``."""
        return " ".join(self.b[op.b_lo : op.b_hi])

    def opcodes(self) -> list[tuple[str, int, int, int, int]]:
        """The ops as bare difflib-style tuples."""
        return [op.as_tuple() for op in self.ops]


def _matrix(scorer: Scorer, a: Sequence[str], b: Sequence[str]) -> npt.NDArray[np.float32]:
    if not a or not b:
        return np.zeros((len(a), len(b)), dtype=np.float32)
    sim = np.asarray(scorer(a, b), dtype=np.float32)
    if sim.shape != (len(a), len(b)):
        raise ValueError(f"scorer returned shape {sim.shape}, expected {(len(a), len(b))}")
    return np.ascontiguousarray(np.clip(sim, 0.0, 1.0))


def _pairwise(scorer: Scorer, xs: list[str], ys: list[str]) -> list[float]:
    """Similarity of ``xs[k]`` with ``ys[k]`` for every k, in one scorer call, in [0, 1]."""
    pairwise = getattr(scorer, "pairwise", None)
    if callable(pairwise):
        values = np.asarray(pairwise(xs, ys), dtype=np.float64)
    else:
        values = np.diagonal(np.asarray(scorer(xs, ys), dtype=np.float64))
    return [float(v) for v in np.clip(values, 0.0, 1.0)]


@dataclass
class _Match:
    a_lo: int
    a_hi: int
    b_lo: int
    b_hi: int
    score: float


_Span = tuple[int, int, int, int]


def _neighbours(m: _Match, free_a: set[int], free_b: set[int]) -> list[tuple[str, int, _Span]]:
    """Ways to grow ``m`` by one unmatched neighbouring sentence: (side, index, new span)."""
    out = []
    for side, idx in (("b", m.b_hi), ("b", m.b_lo - 1), ("a", m.a_hi), ("a", m.a_lo - 1)):
        if idx not in (free_b if side == "b" else free_a):
            continue
        if side == "b":
            span = (m.a_lo, m.a_hi, min(m.b_lo, idx), max(m.b_hi, idx + 1))
        else:
            span = (min(m.a_lo, idx), max(m.a_hi, idx + 1), m.b_lo, m.b_hi)
        out.append((side, idx, span))
    return out


def _extend_all(
    matches: list[_Match],
    a: Sequence[str],
    b: Sequence[str],
    free_a: set[int],
    free_b: set[int],
    scorer: Scorer,
) -> None:
    """Merges and splits: grow matches over unmatched neighbours while the joined text scores
    clearly higher. Candidates of all matches are scored together, round by round; a match
    within the margin of a perfect score cannot grow (similarities are at most 1), so its
    joined texts are not scored (with embeddings, each would be a new transformer input)."""
    active = [m for m in matches if m.score + _MERGE_MARGIN <= 1.0]
    while active:
        cands = [(m, *c) for m in active for c in _neighbours(m, free_a, free_b)]
        if not cands:
            return
        scores = _pairwise(
            scorer,
            [" ".join(a[sp[0] : sp[1]]) for _, _, _, sp in cands],
            [" ".join(b[sp[2] : sp[3]]) for _, _, _, sp in cands],
        )
        grown: list[_Match] = []
        done: set[int] = set()
        for (m, side, idx, sp), sc in sorted(zip(cands, scores, strict=True), key=lambda t: -t[1]):
            free = free_b if side == "b" else free_a
            if id(m) in done or idx not in free or sc < m.score + _MERGE_MARGIN:
                continue
            m.a_lo, m.a_hi, m.b_lo, m.b_hi, m.score = (*sp, sc)
            free.discard(idx)
            grown.append(m)
            done.add(id(m))
        active = [m for m in grown if m.score + _MERGE_MARGIN <= 1.0]


def _moves(
    sim: npt.NDArray[np.float32], free_a: set[int], free_b: set[int], threshold: float
) -> list[_Match]:
    """Best-first matching of leftover sentences: the moved ones."""
    if not free_a or not free_b:
        return []
    ia = np.fromiter(sorted(free_a), dtype=np.int64)
    ib = np.fromiter(sorted(free_b), dtype=np.int64)
    sub = sim[np.ix_(ia, ib)]
    out: list[_Match] = []
    for flat in np.argsort(-sub, axis=None, kind="stable"):
        r, c = divmod(int(flat), len(ib))
        s = float(sub[r, c])
        if s < threshold:
            break
        i, j = int(ia[r]), int(ib[c])
        if i in free_a and j in free_b:
            free_a.discard(i)
            free_b.discard(j)
            out.append(_Match(i, i + 1, j, j + 1, s))
    return out


def _word_ops(x: str, y: str) -> tuple[WordOp, ...]:
    return tuple(word_opcodes(x, y))


def _matched_op(
    m: _Match, a: Sequence[str], b: Sequence[str], same_threshold: float, *, moved: bool
) -> Op:
    x, y = " ".join(a[m.a_lo : m.a_hi]), " ".join(b[m.b_lo : m.b_hi])
    lex = 1.0 if same_words(x, y) else lexical_ratio(x, y) if same_threshold < 1.0 else 0.0
    if lex >= same_threshold and not moved:
        return Op("same", m.a_lo, m.a_hi, m.b_lo, m.b_hi, 1.0 if lex >= 1.0 else m.score)
    words = () if lex >= 1.0 else _word_ops(x, y)
    return Op("moved" if moved else "edited", m.a_lo, m.a_hi, m.b_lo, m.b_hi, m.score, words)


def _assemble(
    n: int,
    m: int,
    matches: list[_Match],
    moves: list[_Match],
    a: Sequence[str],
    b: Sequence[str],
    same_threshold: float,
) -> tuple[Op, ...]:
    """Lay matches, moves and the leftover dropped/added sentences out as ordered ops."""
    moved_a = {mv.a_lo: mv for mv in moves}
    moved_b = {mv.b_lo for mv in moves}
    ops: list[Op] = []
    i = j = 0
    for mt in [*sorted(matches, key=lambda t: t.a_lo), _Match(n, n, m, m, 0.0)]:
        while i < mt.a_lo:
            mv = moved_a.get(i)
            ops.append(
                _matched_op(mv, a, b, same_threshold, moved=True)
                if mv is not None
                else Op("dropped", i, i + 1, j, j)
            )
            i += 1
        ops.extend(Op("added", i, i, jj, jj + 1) for jj in range(j, mt.b_lo) if jj not in moved_b)
        if mt.a_lo < n or mt.b_lo < m:
            ops.append(_matched_op(mt, a, b, same_threshold, moved=False))
        i, j = mt.a_hi, mt.b_hi
    return tuple(ops)


def align_sentences(
    a: Sequence[str],
    b: Sequence[str],
    *,
    scorer: Scorer | None = None,
    match_threshold: float | None = None,
    same_threshold: float = 1.0,
    move_threshold: float | None = None,
    merges: bool = True,
    moves: bool = True,
    groups: Sequence[tuple[int, int, int, int]] | None = None,
) -> Alignment:
    """Align two sentence sequences in order.

    Args:
        a: Sentences of the first text.
        b: Sentences of the second text.
        scorer: Similarity-matrix function ``scorer(a, b) -> (len(a), len(b))`` array in
            [0, 1]; defaults to :class:`dedup.align.scorers.LexicalScorer` (word-level Indel ratio).
        match_threshold: Lowest similarity that counts as a match; defaults to the scorer's
            ``match_threshold`` attribute, else 0.5.
        same_threshold: Lowest word-level ratio (after case and punctuation folding) for a
            match to count as ``same`` rather than ``edited``; 1.0 means equal words.
        move_threshold: Lowest similarity for an out-of-order (``moved``) match; defaults
            to ``match_threshold + 0.1`` (an out-of-order match needs stronger evidence).
        merges: Detect one-to-many merges and splits.
        moves: Detect moved sentences among the unmatched ones.
        groups: In-order matched spans ``(a_lo, a_hi, b_lo, b_hi)`` (half-open) found by the
            passage aligner (:func:`dedup.align.pair.align_pair`); the DP is then skipped and
            the scorer only scores further merges, splits and moves.

    Returns:
        The :class:`Alignment`.
    """
    scorer = scorer if scorer is not None else LexicalScorer()
    threshold = default_threshold(scorer) if match_threshold is None else match_threshold
    if groups is not None and not (merges or moves):  # no full matrix: the matches only
        scores = _pairwise(scorer, [a[g[0]] for g in groups], [b[g[2]] for g in groups])
        matches = [_Match(*g, s) for g, s in zip(groups, scores, strict=True)]
        ops = _assemble(len(a), len(b), matches, [], a, b, same_threshold)
        return Alignment(tuple(a), tuple(b), ops)
    sim = _matrix(scorer, a, b)
    if groups is None:
        groups = [(i, i + 1, j, j + 1) for i, j in align_path(sim, float(threshold))]
    matches = [_Match(*g, float(sim[g[0] : g[1], g[2] : g[3]].max())) for g in groups]
    free_a = set(range(len(a))) - {i for m in matches for i in range(m.a_lo, m.a_hi)}
    free_b = set(range(len(b))) - {j for m in matches for j in range(m.b_lo, m.b_hi)}
    if merges:
        _extend_all(matches, a, b, free_a, free_b, scorer)
    move_t = min(1.0, threshold + 0.1) if move_threshold is None else move_threshold
    moved = _moves(sim, free_a, free_b, float(move_t)) if moves else []
    ops = _assemble(len(a), len(b), matches, moved, a, b, same_threshold)
    return Alignment(tuple(a), tuple(b), ops)


def align_texts(
    text_a: str,
    text_b: str,
    *,
    scorer: Scorer | None = None,
    match_threshold: float | None = None,
    same_threshold: float = 1.0,
) -> Alignment:
    """Split both texts into sentences (:func:`dedup.text.segment.split_sentences`) and align them.

    Args:
        text_a: The first text.
        text_b: The second text.
        scorer: See :func:`align_sentences`.
        match_threshold: See :func:`align_sentences`.
        same_threshold: See :func:`align_sentences`.

    Returns:
        The :class:`Alignment`, with the sentences' character spans filled in.
    """
    sa, sb = split_sentences(text_a), split_sentences(text_b)
    al = align_sentences(
        [s.text for s in sa],
        [s.text for s in sb],
        scorer=scorer,
        match_threshold=match_threshold,
        same_threshold=same_threshold,
    )
    return Alignment(al.a, al.b, al.ops, _spans(sa), _spans(sb))


def _spans(sents: Sequence[Sentence]) -> tuple[tuple[int, int], ...]:
    return tuple((s.start, s.end) for s in sents)


def summarize(alignment: Alignment) -> dict[str, Any]:
    """Per-pair summary, the alignment columns of the ``pairs`` table.

    ``kept_a`` is the share of A's sentences inside a ``same``, ``edited`` or ``moved`` op
    (1.0 when A is empty); ``new_b`` the share of B's sentences that are ``added`` (0.0 when
    B is empty). The ``n_*`` fields count ops.

    Args:
        alignment: An alignment.

    Returns:
        ``{"kept_a", "new_b", "n_same", "n_edited", "n_added", "n_dropped", "n_moved"}``.
    """
    counts = {t: 0 for t in OPS}
    kept = added = 0
    for op in alignment.ops:
        counts[op.tag] += 1
        if op.tag in ("same", "edited", "moved"):
            kept += op.a_hi - op.a_lo
        elif op.tag == "added":
            added += op.b_hi - op.b_lo
    n, m = len(alignment.a), len(alignment.b)
    out: dict[str, Any] = {"kept_a": kept / n if n else 1.0, "new_b": added / m if m else 0.0}
    out.update({f"n_{t}": counts[t] for t in OPS})
    return out
