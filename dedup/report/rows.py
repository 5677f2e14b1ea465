"""Display rows of a side-by-side diff, built from ``alignments`` table rows.

Both the terminal diff and the HTML views lay an alignment out the same way:

* ``same``, ``edited`` (and merges/splits) put the A and B text on one row;
* a ``dropped`` sentence has a row of its own (A side only), and so has an ``added`` one
  (B side only): a dropped A sentence and an unrelated added B sentence never share a row,
  which would read as if one had become the other; between two matches the dropped ones
  come first;
* a ``moved`` sentence shows twice: on the left where it was in A, pointing to its new place,
  and on the right where it is in B, pointing back.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dedup.text.words import word_spans

__all__ = [
    "FOLD_OP",
    "Cell",
    "DisplayRow",
    "Fold",
    "Mark",
    "Piece",
    "display_rows",
    "fold_row",
    "pieces",
    "segments",
]

#: The ``op`` of a synthetic alignment row standing for rows folded before layout; its
#: ``words`` holds the fold's kind, ``a_index`` the rows, ``a_hi``/``b_hi`` the sentences.
FOLD_OP = "fold"


@dataclass(frozen=True, slots=True)
class Mark:
    """A stretch of a cell's text inside an aligned passage.

    Attributes:
        lo: First character of the stretch in the cell's text.
        hi: One past its last character.
        number: The passage's number in its pair (1-based, in order of A).
        kind: The passage's kind (``verbatim``, ``edited`` or ``paraphrase``).
        first: The passage starts here (not in an earlier cell).
        size: The passage's length in characters on this side: where passages overlap,
            the text shows the shortest one's mark.
    """

    lo: int
    hi: int
    number: int
    kind: str
    first: bool = False
    size: int = 0


@dataclass(frozen=True, slots=True)
class Cell:
    """One side of a display row.

    Attributes:
        tag: The op of the sentence(s) shown.
        lo: First sentence index on this side.
        hi: One past the last sentence index.
        text: The text.
        changed: ``(start, end)`` character spans of changed words (edited/moved only).
        link: For a moved sentence, the first sentence index on the other side.
        marks: Stretches of the text inside aligned passages, in text order.
    """

    tag: str
    lo: int
    hi: int
    text: str
    changed: tuple[tuple[int, int], ...] = ()
    link: int | None = None
    marks: tuple[Mark, ...] = ()


@dataclass(frozen=True, slots=True)
class Fold:
    """Rows left out of a view.

    Attributes:
        rows: display rows left out.
        a: sentences of A they hold.
        b: sentences of B they hold.
        why: ``same`` (identical in both), ``one-sided`` (only in A or only in B) or
            ``size`` (the view's character budget was spent).
    """

    rows: int
    a: int
    b: int
    why: str


@dataclass(frozen=True, slots=True)
class DisplayRow:
    """One row: the left (A) cell, the right (B) cell, either may be empty; or, with
    ``fold``, rows folded before the view was laid out (:data:`FOLD_OP` rows)."""

    left: Cell | None
    right: Cell | None
    fold: Fold | None = None

    @property
    def tag(self) -> str:
        """The row's op: the tags of both cells joined by ``/`` when they differ."""
        tags = [c.tag for c in (self.left, self.right) if c is not None]
        return "/".join(dict.fromkeys(tags))


def _changed(text: str, ops: list[list[Any]], side: str) -> tuple[tuple[int, int], ...]:
    """Character spans of the words of ``text`` touched by a non-equal word opcode."""
    spans = word_spans(text)
    lo_i, hi_i = (1, 2) if side == "a" else (3, 4)
    out: list[tuple[int, int]] = []
    for op in ops:
        if op[0] == "equal":
            continue
        idx = [i for i in range(int(op[lo_i]), int(op[hi_i])) if i < len(spans)]
        if idx:
            out.append((spans[idx[0]][0], spans[idx[-1]][1]))
    return tuple(out)


def _cells(row: Mapping[str, Any]) -> tuple[Cell | None, Cell | None]:
    tag = str(row["op"])
    raw = row.get("words")
    ops: list[list[Any]] = json.loads(raw) if raw else []
    moved = tag == "moved"
    left = right = None
    if row.get("a_text") is not None and row["a_hi"] > row["a_lo"]:
        left = Cell(
            tag,
            int(row["a_lo"]),
            int(row["a_hi"]),
            str(row["a_text"]),
            _changed(str(row["a_text"]), ops, "a"),
            int(row["b_lo"]) if moved else None,
        )
    if row.get("b_text") is not None and row["b_hi"] > row["b_lo"]:
        right = Cell(
            tag,
            int(row["b_lo"]),
            int(row["b_hi"]),
            str(row["b_text"]),
            _changed(str(row["b_text"]), ops, "b"),
            int(row["a_lo"]) if moved else None,
        )
    return left, right


def _flush(dropped: list[Cell], added: list[Cell], out: list[DisplayRow]) -> None:
    out.extend(DisplayRow(d, None) for d in dropped)
    out.extend(DisplayRow(None, a) for a in added)
    dropped.clear()
    added.clear()


def display_rows(rows: Iterable[Mapping[str, Any]]) -> list[DisplayRow]:
    """Lay the alignment rows of one pair out as display rows, in op order.

    Args:
        rows: ``alignments`` rows of one pair, in op order.

    Returns:
        The display rows, top to bottom.
    """
    ordered = list(rows)
    pending = sorted(
        (r for r in ordered if r["op"] == "moved"), key=lambda r: int(r["b_lo"]), reverse=True
    )
    out: list[DisplayRow] = []
    dropped: list[Cell] = []
    added: list[Cell] = []
    for r in ordered:
        if r["op"] == FOLD_OP:
            _flush(dropped, added, out)
            out.append(fold_row(r))
            continue
        left, right = _cells(r)
        if r["op"] != "moved":
            while pending and int(pending[-1]["b_lo"]) < int(r["b_lo"]):
                _flush(dropped, added, out)
                out.append(DisplayRow(None, _cells(pending.pop())[1]))
        if r["op"] == "dropped" and left is not None:
            dropped.append(left)
        elif r["op"] == "added" and right is not None:
            added.append(right)
        else:
            _flush(dropped, added, out)
            out.append(DisplayRow(left, right if r["op"] != "moved" else None))
    _flush(dropped, added, out)
    out.extend(DisplayRow(None, _cells(p)[1]) for p in reversed(pending))
    return out


def fold_row(row: Mapping[str, Any]) -> DisplayRow:
    """The display row of a :data:`FOLD_OP` alignment row."""
    fold = Fold(int(row["a_index"]), int(row["a_hi"]), int(row["b_hi"]), str(row["words"]))
    return DisplayRow(None, None, fold)


def segments(cell: Cell) -> list[tuple[str, bool]]:
    """The cell's text cut into ``(piece, changed)`` runs, for highlighting."""
    out: list[tuple[str, bool]] = []
    pos = 0
    for lo, hi in cell.changed:
        if lo > pos:
            out.append((cell.text[pos:lo], False))
        out.append((cell.text[lo:hi], True))
        pos = hi
    if pos < len(cell.text):
        out.append((cell.text[pos:], False))
    return out


@dataclass(frozen=True, slots=True)
class Piece:
    """A run of a cell's text: changed or not, inside a passage (``mark``) or not."""

    text: str
    changed: bool
    mark: Mark | None


def pieces(cell: Cell) -> list[Piece]:
    """The cell's text cut where a changed word or a passage mark starts or ends."""
    n = len(cell.text)
    cuts = {0, n}
    for lo, hi in (*cell.changed, *((m.lo, m.hi) for m in cell.marks)):
        cuts.update((min(max(lo, 0), n), min(max(hi, 0), n)))
    edges = sorted(cuts)
    out: list[Piece] = []
    for lo, hi in itertools.pairwise(edges):
        changed = any(c_lo <= lo and hi <= c_hi for c_lo, c_hi in cell.changed)
        covering = [m for m in cell.marks if m.lo <= lo and hi <= m.hi]
        mark = min(covering, key=lambda m: (m.size, m.number)) if covering else None
        if out and out[-1].changed == changed and out[-1].mark == mark:
            out[-1] = Piece(out[-1].text + cell.text[lo:hi], changed, mark)
        else:
            out.append(Piece(cell.text[lo:hi], changed, mark))
    return out
