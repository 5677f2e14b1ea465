"""Side-by-side diff of two texts: in the terminal (rich), as JSON and as an HTML page."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from dedup.align.sentences import Alignment, align_texts, alignment_rows, summarize
from dedup.report.html import MARKS, esc, legend, page, pair_table
from dedup.report.rows import Cell, display_rows, segments

__all__ = ["diff_json", "render_diff", "render_diff_html"]

_STYLES = {
    "same": "",
    "edited": "yellow",
    "added": "green",
    "dropped": "red",
    "moved": "cyan",
}
_WORD_STYLES = {"a": "bold white on red", "b": "bold black on green"}
_PLAIN_WORD = {"a": ("[-", "-]"), "b": ("{+", "+}")}


def _ensure(text_a: str, text_b: str, alignment: Alignment | None) -> Alignment:
    return alignment if alignment is not None else align_texts(text_a, text_b)


def _cell_text(cell: Cell | None, side: str, color: bool) -> Text:
    if cell is None:
        return Text("")
    style = _STYLES.get(cell.tag, "") if color else ""
    out = Text(f"{MARKS.get(cell.tag, '?')} ", style=style)
    for piece, changed in segments(cell):
        if not changed:
            out.append(piece, style=style)
        elif color:
            out.append(piece, style=_WORD_STYLES[side])
        else:
            lo, hi = _PLAIN_WORD[side]
            out.append(f"{lo}{piece}{hi}")
    if cell.link is not None:
        other = "B" if side == "a" else "A"
        arrow = "->" if side == "a" else "<-"
        out.append(f"  ({arrow} {other}{cell.link + 1})", style="dim" if color else "")
    return out


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


def render_diff(
    text_a: str,
    text_b: str,
    alignment: Alignment | None = None,
    *,
    console: Console,
    color: bool = True,
    label_a: str = "A",
    label_b: str = "B",
) -> None:
    """Print the two texts side by side, one aligned sentence per row.

    Rows are marked ``=`` same, ``~`` edited, ``+`` added, ``-`` dropped, ``>`` moved (with the
    sentence number on the other side). Inside edited sentences, changed words are highlighted;
    without colour they read ``[-old-]`` on the left and ``{+new+}`` on the right, so piped
    output stays readable.

    Args:
        text_a: The first text.
        text_b: The second text.
        alignment: Their alignment; computed with :func:`dedup.align.sentences.align_texts` when
            None.
        console: Where to print.
        color: Use colours and styles.
        label_a: Heading of the left column (a path, say).
        label_b: Heading of the right column.
    """
    al = _ensure(text_a, text_b, alignment)
    table = Table(
        box=box.SIMPLE_HEAD if color else box.ASCII2,
        expand=True,
        show_lines=not color,
        pad_edge=False,
        highlight=False,
        header_style="table.header" if color else "",
    )
    table.add_column("#", justify="right", no_wrap=True, min_width=3, style="dim" if color else "")
    table.add_column(Text(f"A: {label_a}"), ratio=1, overflow="fold")
    table.add_column("#", justify="right", no_wrap=True, min_width=3, style="dim" if color else "")
    table.add_column(Text(f"B: {label_b}"), ratio=1, overflow="fold")
    for row in display_rows(alignment_rows(0, 1, al)):
        table.add_row(
            _index(row.left),
            _cell_text(row.left, "a", color),
            _index(row.right),
            _cell_text(row.right, "b", color),
        )
    console.print(table)
    console.print(_legend_line(summarize(al), color))


def diff_json(alignment: Alignment) -> dict[str, Any]:
    """A JSON-ready description of an alignment (for ``dedup diff --json``).

    Args:
        alignment: The alignment.

    Returns:
        ``{"summary": summarize(...), "a": [...], "b": [...], "ops": [...]}`` where each op is
        ``{"op", "a_lo", "a_hi", "b_lo", "b_hi", "score", "a_text", "b_text", "words"}`` and
        ``words`` lists word opcodes ``[tag, a_lo, a_hi, b_lo, b_hi]``.
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
    return {
        "summary": summarize(alignment),
        "a": list(alignment.a),
        "b": list(alignment.b),
        "ops": ops,
    }


def render_diff_html(
    text_a: str,
    text_b: str,
    alignment: Alignment | None = None,
    *,
    label_a: str = "A",
    label_b: str = "B",
) -> str:
    """A self-contained HTML page with the side-by-side diff (for ``dedup diff --html``).

    Args:
        text_a: The first text.
        text_b: The second text.
        alignment: Their alignment; computed with :func:`dedup.align.sentences.align_texts` when
            None.
        label_a: Name of A (a path, say); escaped.
        label_b: Name of B.

    Returns:
        The HTML document.
    """
    al = _ensure(text_a, text_b, alignment)
    s = summarize(al)
    body = (
        f"<h1>{esc(label_a)} ↔ {esc(label_b)}</h1>\n"
        f"<p class=\"meta\">kept {s['kept_a']:.0%} of A's sentences · {s['new_b']:.0%} of B's "
        f"sentences are new</p>\n{legend(s)}\n"
        + pair_table(alignment_rows(0, 1, al), key="diff", label_a=label_a, label_b=label_b)
    )
    return page(f"dedup diff: {label_a} vs {label_b}", body, script=False)
