"""Side-by-side diff of two texts: in the terminal (rich), as JSON and as an HTML page."""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from dedup.align.passages import PassageAlignment
from dedup.align.rows import alignment_rows
from dedup.align.sentences import Alignment, align_texts, summarize
from dedup.report.console import visible
from dedup.report.html import MARKS, esc, legend, page, pair_table, passage_legend
from dedup.report.marks import ViewPassages, mark_rows
from dedup.report.rows import Cell, Mark, display_rows, pieces

__all__ = [
    "diff_json",
    "passages_json",
    "render_diff",
    "render_diff_html",
    "view_passages",
]

_STYLES = {
    "same": "",
    "edited": "yellow",
    "added": "green",
    "dropped": "red",
    "moved": "cyan",
}
_WORD_STYLES = {"a": "bold white on red", "b": "bold black on green"}
_PLAIN_WORD = {"a": ("[-", "-]"), "b": ("{+", "+}")}
_PLAIN_MARK = ("[[", "]]")


def _ensure(text_a: str, text_b: str, alignment: Alignment | None) -> Alignment:
    return alignment if alignment is not None else align_texts(text_a, text_b)


def view_passages(
    alignment: Alignment,
    passages: PassageAlignment | None,
    text_a: str | None = None,
    text_b: str | None = None,
) -> ViewPassages | None:
    """The passages of a pair as the views mark them (None when there are none to show)."""
    if passages is None:
        return None
    return ViewPassages.from_rows(
        (asdict(p) for p in passages.passages),
        spans_a=alignment.a_spans,
        spans_b=alignment.b_spans,
        share_a=passages.coverage_a,
        share_b=passages.coverage_b,
        text_a=text_a,
        text_b=text_b,
    )


def _partial(mark: Mark | None, cell: Cell) -> bool:
    """A mark that covers only part of the cell's text (plain output brackets it)."""
    return mark is not None and (mark.lo > 0 or mark.hi < len(cell.text))


def _text_pieces(out: Text, cell: Cell, side: str, style: str, color: bool) -> None:
    prev: Mark | None = None
    for piece in pieces(cell):
        if piece.mark != prev and not color:
            if _partial(prev, cell):
                out.append(_PLAIN_MARK[1])
            if _partial(piece.mark, cell):
                out.append(_PLAIN_MARK[0])
        prev = piece.mark
        under = " underline" if piece.mark is not None and color else ""
        if not piece.changed:
            out.append(piece.text, style=(style + under).strip())
        elif color:
            out.append(piece.text, style=_WORD_STYLES[side] + under)
        else:
            lo, hi = _PLAIN_WORD[side]
            out.append(f"{lo}{piece.text}{hi}")
    if not color and _partial(prev, cell):
        out.append(_PLAIN_MARK[1])


def _cell_text(cell: Cell | None, side: str, color: bool) -> Text:
    if cell is None:
        return Text("")
    style = _STYLES.get(cell.tag, "") if color else ""
    out = Text(f"{MARKS.get(cell.tag, '?')} ", style=style)
    _text_pieces(out, cell, side, style, color)
    if cell.link is not None:
        other = "B" if side == "a" else "A"
        arrow = "->" if side == "a" else "<-"
        out.append(f"  ({arrow} {other}{cell.link + 1})", style="dim" if color else "")
    return out


def _passage_label(cell: Cell | None) -> str:
    """``1v``, ``2e,3p``: the passages (number and kind's initial) a cell shows."""
    if cell is None:
        return ""
    seen = dict.fromkeys(f"{m.number}{m.kind[0]}" for m in cell.marks)
    return ",".join(seen)


def _index(cell: Cell | None) -> str:
    if cell is None:
        return ""
    return str(cell.lo + 1) if cell.hi - cell.lo <= 1 else f"{cell.lo + 1}-{cell.hi}"


def _legend_line(summary: dict[str, Any], color: bool) -> Text:
    out = Text()
    for op, mark in MARKS.items():
        out.append(f"{mark} {op} {summary[f'n_{op}']}", style=_STYLES[op] if color else "")
        out.append("   ")
    out.append(
        f"| kept {summary['kept_a']:.0%} of A's sentences, {summary['new_b']:.0%} of B's are new"
    )
    return out


def _passage_line(view: ViewPassages, color: bool) -> Text:
    how = "underlined" if color else "[[ ]] where a passage covers part of a sentence"
    return Text(
        f"{view.summary()} | P: passage number and kind (v verbatim, e edited, "
        f"p paraphrase); passage text {how}"
    )


def _table(view: ViewPassages | None, color: bool, label_a: str, label_b: str) -> Table:
    table = Table(
        box=box.SIMPLE_HEAD if color else box.ASCII2,
        expand=True,
        show_lines=not color,
        pad_edge=False,
        highlight=False,
        header_style="table.header" if color else "",
    )
    dim = "dim" if color else ""
    for side, label in (("A", label_a), ("B", label_b)):
        table.add_column("#", justify="right", no_wrap=True, min_width=3, style=dim)
        if view is not None:
            table.add_column("P", no_wrap=True, style=dim)
        table.add_column(Text(f"{side}: {label}"), ratio=1, overflow="fold")
    return table


def render_diff(
    text_a: str,
    text_b: str,
    alignment: Alignment | None = None,
    *,
    console: Console,
    color: bool = True,
    label_a: str = "A",
    label_b: str = "B",
    passages: PassageAlignment | None = None,
) -> None:
    """Print the two texts side by side, one aligned sentence per row.

    Rows are marked ``=`` same, ``~`` edited, ``+`` added, ``-`` dropped, ``>`` moved (with the
    sentence number on the other side). Inside edited sentences, changed words are highlighted;
    without colour they read ``[-old-]`` on the left and ``{+new+}`` on the right, so piped
    output stays readable. With ``passages``, a ``P`` column beside each side names the
    passages a row lies in (``1v``: passage 1, verbatim), passage text is underlined (without
    colour, ``[[...]]`` brackets the part of a sentence a passage covers) and a last line
    gives the passage count and the share of each text they cover.

    Args:
        text_a: The first text.
        text_b: The second text.
        alignment: Their alignment, with the sentences' character spans; computed with
            :func:`dedup.align.sentences.align_texts` when None.
        console: Where to print.
        color: Use colours and styles.
        label_a: Heading of the left column (a path, say).
        label_b: Heading of the right column.
        passages: The pair's passages (:func:`dedup.align.pair.align_pair`), or None.
    """
    # control characters of the texts and names are shown, not sent to the terminal (one
    # character for one, so the alignment's offsets hold)
    text_a, text_b = visible(text_a), visible(text_b)
    label_a, label_b = visible(label_a), visible(label_b)
    al = _ensure(text_a, text_b, alignment)
    al = replace(al, a=tuple(map(visible, al.a)), b=tuple(map(visible, al.b)))
    view = view_passages(al, passages, text_a, text_b)
    table = _table(view, color, label_a, label_b)
    rows = display_rows(alignment_rows(0, 1, al))
    for row in mark_rows(rows, view) if view is not None else rows:
        cells: list[str | Text] = []
        for side, cell in (("a", row.left), ("b", row.right)):
            cells.append(_index(cell))
            if view is not None:
                cells.append(_passage_label(cell))
            cells.append(_cell_text(cell, side, color))
        table.add_row(*cells)
    console.print(table)
    console.print(_legend_line(summarize(al), color))
    if view is not None:
        console.print(_passage_line(view, color))


def passages_json(passages: PassageAlignment) -> dict[str, Any]:
    """The passages of a pair for ``dedup diff --json``: ``{"passages": [...],
    "passage_share_a", "passage_share_b"}``, each passage with its number ``n``, character
    offsets (end exclusive), ``kind``, ``score`` and ``n_words``."""
    return {
        "passages": [{"n": i + 1, **asdict(p)} for i, p in enumerate(passages.passages)],
        "passage_share_a": passages.coverage_a,
        "passage_share_b": passages.coverage_b,
    }


def diff_json(alignment: Alignment, passages: PassageAlignment | None = None) -> dict[str, Any]:
    """A JSON-ready description of an alignment (for ``dedup diff --json``).

    Args:
        alignment: The alignment.
        passages: The pair's passages; adds :func:`passages_json`'s keys when given.

    Returns:
        ``{"summary": summarize(...), "a": [...], "b": [...], "ops": [...]}`` where each op is
        ``{"op", "a_lo", "a_hi", "b_lo", "b_hi", "score", "a_text", "b_text", "words"}`` and
        ``words`` lists word opcodes ``[tag, a_lo, a_hi, b_lo, b_hi]``; with ``passages``,
        also ``passages``, ``passage_share_a`` and ``passage_share_b``.
    """
    ops = []
    for op in alignment.ops:
        ops.append(
            {
                "op": op.tag,
                "a_lo": op.a_lo,
                "a_hi": op.a_hi,
                "b_lo": op.b_lo,
                "b_hi": op.b_hi,
                "score": round(op.score, 6),
                "a_text": alignment.a_text(op) if op.a_hi > op.a_lo else None,
                "b_text": alignment.b_text(op) if op.b_hi > op.b_lo else None,
                "words": [list(w) for w in op.words],
            }
        )
    out = {
        "summary": summarize(alignment),
        "a": list(alignment.a),
        "b": list(alignment.b),
        "ops": ops,
    }
    if passages is not None:
        out.update(passages_json(passages))
    return out


def render_diff_html(
    text_a: str,
    text_b: str,
    alignment: Alignment | None = None,
    *,
    label_a: str = "A",
    label_b: str = "B",
    passages: PassageAlignment | None = None,
) -> str:
    """A self-contained HTML page with the side-by-side diff (for ``dedup diff --html``).

    Args:
        text_a: The first text.
        text_b: The second text.
        alignment: Their alignment; computed with :func:`dedup.align.sentences.align_texts` when
            None.
        label_a: Name of A (a path, say); escaped.
        label_b: Name of B.
        passages: The pair's passages, marked in the view and counted in the header.

    Returns:
        The HTML document.
    """
    al = _ensure(text_a, text_b, alignment)
    s = summarize(al)
    view = view_passages(al, passages, text_a, text_b)
    body = (
        f"<h1>{esc(label_a)} ↔ {esc(label_b)}</h1>\n"
        f"<p class=\"meta\">kept {s['kept_a']:.0%} of A's sentences · {s['new_b']:.0%} of B's "
        f"sentences are new</p>\n{legend(s)}\n{passage_legend(view)}\n"
        + pair_table(
            alignment_rows(0, 1, al), key="diff", label_a=label_a, label_b=label_b, passages=view
        )
    )
    return page(f"dedup diff: {label_a} vs {label_b}", body, script=False)
