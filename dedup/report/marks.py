"""Aligned passages marked in the side-by-side views.

A passage has character offsets into each text (``text[a_start:a_end]`` is the passage in A).
A view's cell shows sentences ``lo`` to ``hi`` of one text joined by a space; knowing where
each sentence lies in its text (its character span), every passage maps onto stretches of
the cells' text: :class:`dedup.report.rows.Mark`. Passages are numbered 1, 2 ... in order of
their start in A, so a number names the same passage on both sides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from dedup.report.rows import Cell, DisplayRow, Mark

__all__ = [
    "KINDS",
    "PassageSpan",
    "ViewPassages",
    "kind_of",
    "mark_rows",
    "passage_summary",
    "share_text",
    "stale_cells",
]

#: The passage kinds; any other value read from a table shows as ``passage``.
KINDS = ("verbatim", "edited", "paraphrase")

Span = tuple[int, int]


def kind_of(value: object) -> str:
    """``value`` when it is a known passage kind, else ``passage`` (a fixed word either way)."""
    return str(value) if value in KINDS else "passage"


@dataclass(frozen=True, slots=True)
class PassageSpan:
    """One passage of a pair: its number, kind, score, size and offsets in A and B."""

    number: int
    kind: str
    a_start: int
    a_end: int
    b_start: int
    b_end: int
    score: float | None = None
    n_words: int | None = None


@dataclass(frozen=True)
class ViewPassages:
    """The passages of one pair and where the sentences of each text lie.

    Attributes:
        passages: The passages, numbered in order of A.
        spans_a: Character span of each sentence of A (the view's sentence numbering);
            empty when unknown (then A's cells get no marks).
        spans_b: Same for B.
        share_a: Share of A's words inside a passage (None when unknown).
        share_b: Share of B's words inside a passage.
        text_a: A's text, to check that a cell shows A's sentences as they are in it; when
            None, only the lengths are checked.
        text_b: Same for B.
    """

    passages: tuple[PassageSpan, ...]
    spans_a: tuple[Span, ...] = ()
    spans_b: tuple[Span, ...] = ()
    share_a: float | None = None
    share_b: float | None = None
    text_a: str | None = field(default=None, repr=False)
    text_b: str | None = field(default=None, repr=False)

    @classmethod
    def from_rows(
        cls,
        rows: Iterable[Mapping[str, Any]],
        *,
        spans_a: Sequence[Span] = (),
        spans_b: Sequence[Span] = (),
        share_a: float | None = None,
        share_b: float | None = None,
        text_a: str | None = None,
        text_b: str | None = None,
    ) -> ViewPassages:
        """From ``passages`` table rows (or dicts with the same keys) of one pair."""
        ordered = sorted(rows, key=lambda r: (int(r["a_start"]), int(r["b_start"])))
        found = tuple(
            PassageSpan(
                i + 1,
                kind_of(r.get("kind")),
                int(r["a_start"]),
                int(r["a_end"]),
                int(r["b_start"]),
                int(r["b_end"]),
                None if r.get("score") is None else float(r["score"]),
                None if r.get("n_words") is None else int(r["n_words"]),
            )
            for i, r in enumerate(ordered)
        )
        return cls(found, tuple(spans_a), tuple(spans_b), share_a, share_b, text_a, text_b)

    def summary(self) -> str:
        """``3 passages · 41% of A, 38% of B``."""
        return passage_summary(len(self.passages), self.share_a, self.share_b)


def share_text(value: float | None) -> str:
    """A share as a whole percentage, ``–`` when unknown."""
    return "–" if value is None else f"{value:.0%}"


def passage_summary(n: int | None, share_a: float | None, share_b: float | None) -> str:
    """``3 passages · 41% of A, 38% of B``; ``passages: –`` when the pair was not aligned."""
    if n is None:
        return "passages: –"
    noun = "passage" if n == 1 else "passages"
    return f"{n:,} {noun} · {share_text(share_a)} of A, {share_text(share_b)} of B"


def _sentence_marks(
    span: Span, offset: int, passages: Sequence[PassageSpan], side: str
) -> list[Mark]:
    start, end = span
    out = []
    for p in passages:
        p_start, p_end = (p.a_start, p.a_end) if side == "a" else (p.b_start, p.b_end)
        lo, hi = max(p_start, start), min(p_end, end)
        if lo < hi:
            first = p_start >= start
            size = p_end - p_start
            out.append(
                Mark(offset + lo - start, offset + hi - start, p.number, p.kind, first, size)
            )
    return out


def _reads_as_aligned(cell: Cell, spans: Sequence[Span], text: str) -> bool:
    """Whether ``cell`` shows its sentences of ``text`` (joined by a space) as they are."""
    if cell.hi > len(spans):
        return False
    return " ".join(text[s:e] for s, e in spans[cell.lo : cell.hi]) == cell.text


def stale_cells(rows: Iterable[DisplayRow], view: ViewPassages) -> int:
    """Cells of ``rows`` whose sentences no longer read in the text read again as the scan
    aligned them (their input changed since): :func:`mark_rows` leaves them unmarked. Sides
    whose text was not read again are not counted (the report says so for the documents)."""
    if not view.passages:
        return 0
    n = 0
    for row in rows:
        for cell, spans, text in (
            (row.left, view.spans_a, view.text_a),
            (row.right, view.spans_b, view.text_b),
        ):
            if cell is not None and text is not None and not _reads_as_aligned(cell, spans, text):
                n += 1
    return n


def _cell_marks(
    cell: Cell,
    spans: Sequence[Span],
    text: str | None,
    passages: Sequence[PassageSpan],
    side: str,
) -> tuple[Mark, ...]:
    """The marks of one cell; none when the cell's text is not its sentences of ``text``
    joined by a space (the text or its segmentation is not the one aligned)."""
    if cell.hi > len(spans) or not passages:
        return ()
    own = spans[cell.lo : cell.hi]
    if text is not None:
        if not _reads_as_aligned(cell, spans, text):
            return ()
    elif sum(e - s for s, e in own) + len(own) - 1 != len(cell.text):
        return ()
    marks: list[Mark] = []
    offset = 0
    for span in own:
        marks.extend(_sentence_marks(span, offset, passages, side))
        offset += span[1] - span[0] + 1
    merged: list[Mark] = []
    for m in sorted(marks, key=lambda x: (x.lo, x.number)):
        last = merged[-1] if merged else None
        if last is not None and last.number == m.number and m.lo <= last.hi + 1:
            merged[-1] = replace(last, hi=max(last.hi, m.hi))
        else:
            merged.append(m)
    return tuple(merged)


def mark_rows(rows: Iterable[DisplayRow], view: ViewPassages) -> list[DisplayRow]:
    """``rows`` with the passages of ``view`` marked in their cells."""
    out = []
    for row in rows:
        left, right = row.left, row.right
        if left is not None:
            marks = _cell_marks(left, view.spans_a, view.text_a, view.passages, "a")
            left = replace(left, marks=marks)
        if right is not None:
            marks = _cell_marks(right, view.spans_b, view.text_b, view.passages, "b")
            right = replace(right, marks=marks)
        out.append(DisplayRow(left, right, row.fold))
    return out
