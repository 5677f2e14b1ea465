"""A bound on the text one pair view embeds in the report.

The view of a pair keeps what tells the story: every edited, moved, merged or split row,
and a few rows of context at each end of a long run of identical sentences or of sentences
found on one side only. The middle of such a run is folded into one line that says what it
held. A cell's text is cut after a set number of characters, and once a view reaches its
character budget the rest of it is folded as well. So a pair with a 200 MB document, or a
copy of one, costs a bounded number of bytes, whatever the length of the documents.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from dedup.report.rows import Cell, DisplayRow

__all__ = ["Fold", "ViewBound", "bounded", "clip"]


@dataclass(frozen=True, slots=True)
class ViewBound:
    """How much of one pair the report shows.

    Attributes:
        context: rows kept at each end of a long run of same or one-sided rows.
        max_chars: characters of text in one pair view; the rest is folded.
        max_cell: characters of one cell; longer sentences are cut.
    """

    context: int = 3
    max_chars: int = 40_000
    max_cell: int = 2_000


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


Shown = DisplayRow | Fold


def _kind(row: DisplayRow) -> str | None:
    """The run a row can be folded into, or None for a row that is always shown."""
    if row.tag == "same":
        return "same"
    if row.tag in ("added", "dropped"):
        return "one-sided"
    return None


def _sentences(rows: Iterable[Shown]) -> tuple[int, int, int]:
    n = a = b = 0
    for row in rows:
        if isinstance(row, Fold):
            n, a, b = n + row.rows, a + row.a, b + row.b
            continue
        n += 1
        a += row.left.hi - row.left.lo if row.left is not None else 0
        b += row.right.hi - row.right.lo if row.right is not None else 0
    return n, a, b


def _fold_runs(rows: list[DisplayRow], context: int) -> list[Shown]:
    out: list[Shown] = []
    i = 0
    while i < len(rows):
        kind = _kind(rows[i])
        j = i + 1
        while kind is not None and j < len(rows) and _kind(rows[j]) == kind:
            j += 1
        run = rows[i:j]
        if kind is not None and len(run) > 2 * context + 1:
            middle = run[context : len(run) - context]
            n, a, b = _sentences(middle)
            out.extend([*run[:context], Fold(n, a, b, kind), *run[len(run) - context :]])
        else:
            out.extend(run)
        i = j
    return out


def clip(cell: Cell | None, limit: int) -> Cell | None:
    """``cell`` with its text cut after ``limit`` characters (and a note of how many more)."""
    if cell is None or len(cell.text) <= limit:
        return cell
    more = len(cell.text) - limit
    changed = tuple((lo, min(hi, limit)) for lo, hi in cell.changed if lo < limit)
    return replace(cell, text=f"{cell.text[:limit]} … [{more:,} more characters]", changed=changed)


def bounded(rows: list[DisplayRow], bound: ViewBound) -> list[Shown]:
    """The rows of one pair view within ``bound``: long runs folded, cells cut, and the
    rows past the character budget folded into one.

    Args:
        rows: the pair's display rows (:func:`dedup.report.rows.display_rows`).
        bound: the limits.

    Returns:
        Display rows and folds, top to bottom.
    """
    out: list[Shown] = []
    chars = 0
    folded = _fold_runs(rows, bound.context)
    for k, row in enumerate(folded):
        if isinstance(row, Fold):
            out.append(row)
            continue
        left, right = clip(row.left, bound.max_cell), clip(row.right, bound.max_cell)
        chars += sum(len(c.text) for c in (left, right) if c is not None)
        out.append(DisplayRow(left, right))
        if chars >= bound.max_chars and k + 1 < len(folded):
            n, a, b = _sentences(folded[k + 1 :])
            out.append(Fold(n, a, b, "size"))
            break
    return out
