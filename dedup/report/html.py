"""HTML building blocks shared by the report and ``dedup diff --html``.

Every piece of document text, path or label goes through :func:`esc` (``html.escape`` with
quotes), and only integers and fixed words are ever put into ``id``/``href``/``class``
attributes. The page carries a Content-Security-Policy that allows no network access and only
the page's own inline script (by hash), so even text that slipped through unescaped could not
run a script.
"""

from __future__ import annotations

import base64
import hashlib
import html
import itertools
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from operator import attrgetter
from typing import Any

from dedup.report.bound import ViewBound, bounded
from dedup.report.marks import ViewPassages, mark_rows, stale_cells
from dedup.report.rows import Cell, DisplayRow, Fold, display_rows, pieces

__all__ = ["MARKS", "esc", "legend", "page", "pair_table", "passage_legend", "plural"]

MARKS = {"same": "=", "edited": "~", "added": "+", "dropped": "-", "moved": ">"}
_SAFE_KEY = re.compile(r"[^A-Za-z0-9-]")
_OPS = ("same", "edited", "added", "dropped", "moved")


def esc(value: object) -> str:
    """Escape any value for HTML text and (quoted) attribute values."""
    return html.escape("" if value is None else str(value), quote=True)


def _asset(name: str) -> str:
    return resources.files("dedup.report").joinpath(name).read_text(encoding="utf-8")


def page(title: str, body: str, *, script: bool = True) -> str:
    """A complete self-contained HTML page (inline CSS and JS, no external resource).

    Args:
        title: Page title (escaped here).
        body: Body HTML, already escaped.
        script: Include the report's sorting/filtering script.

    Returns:
        The HTML document.
    """
    js = _asset("report.js") if script else ""
    digest = base64.b64encode(hashlib.sha256(js.encode("utf-8")).digest()).decode("ascii")
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    )
    script_tag = f"<script>{js}</script>" if script else ""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{esc(title)}</title>\n<style>{_asset('report.css')}</style>\n</head>\n"
        f"<body>\n{body}\n{script_tag}\n</body>\n</html>\n"
    )


def legend(counts: Mapping[str, int] | None = None) -> str:
    """The colour legend, with per-op counts when given (none for a pair not aligned, whose
    counts are null)."""
    parts = []
    for op in _OPS:
        value = None if counts is None else counts.get(f"n_{op}")
        n = "" if value is None else f" {int(value)}"
        parts.append(f'<span class="op-{op}">{MARKS[op]} {op}{n}</span>')
    return f'<p class="legend">{"".join(parts)}</p>'


def passage_legend(view: ViewPassages | None) -> str:
    """How passages are marked, with the pair's passage count and shares."""
    if view is None:
        return ""
    if not view.passages or not (view.spans_a or view.spans_b):
        return f'<p class="legend psg-legend">{esc(view.summary())}</p>'
    kinds = "".join(
        f'<mark class="psg psg-{k}">{k}</mark> ' for k in ("verbatim", "edited", "paraphrase")
    )
    return (
        f'<p class="legend psg-legend">{esc(view.summary())} · passage text is underlined: '
        f"{kinds}(P1, P2 … where a passage starts; the same number on both sides)</p>"
    )


def _text_html(cell: Cell, side: str) -> str:
    """The cell's text, escaped: changed words in ``<del>``/``<ins>``, passage text in
    ``<mark>`` (after the passage's number where it starts)."""
    tag = "del" if side == "a" else "ins"
    out = []
    badged: set[int] = set()
    for m, group in itertools.groupby(pieces(cell), key=attrgetter("mark")):
        text = "".join(f"<{tag}>{esc(p.text)}</{tag}>" if p.changed else esc(p.text) for p in group)
        if m is None:
            out.append(text)
            continue
        title = f"passage {m.number}: {m.kind}"
        if m.first and m.number not in badged:
            badged.add(m.number)
            # dir="ltr": the label does not decide the cell's direction (dir="auto")
            out.append(
                f'<span class="pno psg-{m.kind}" dir="ltr" title="{title}">P{m.number}</span>'
            )
        out.append(
            f'<mark class="psg psg-{m.kind}" data-p="{m.number}" data-side="{side}" '
            f'title="{title}">{text}</mark>'
        )
    return "".join(out)


def _index_label(cell: Cell) -> str:
    return str(cell.lo + 1) if cell.hi - cell.lo <= 1 else f"{cell.lo + 1}–{cell.hi}"


def _cell_html(cell: Cell | None, side: str, key: str, anchors: set[str]) -> str:
    if cell is None:
        return '<td class="idx"></td><td class="mark"></td><td class="txt"></td>'
    other = "b" if side == "a" else "a"
    anchor = f' id="{key}-{side}{cell.lo}"' if cell.tag == "moved" else ""
    jump = ""
    if cell.link is not None:
        arrow = "→" if side == "a" else "←"
        where = f"{arrow} {other.upper()}{cell.link + 1}"
        if f"{other}{cell.link}" in anchors:
            jump = f' <a class="jump" href="#{key}-{other}{cell.link}">{where}</a>'
        else:  # past the view's size bound
            jump = f' <span class="jump">{where} (not shown)</span>'
    op = cell.tag
    return (
        f'<td class="idx op-{op}">{_index_label(cell)}</td>'
        f'<td class="mark op-{op}" title="{op}">{MARKS.get(op, "?")}</td>'
        f'<td class="txt op-{op}" dir="auto"{anchor}>{_text_html(cell, side)}{jump}</td>'
    )


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """``1 pair``, ``2 pairs``, ``1,000 sentences`` (``nouns``: an irregular plural)."""
    return f"{n:,} {noun if n == 1 else nouns or noun + 's'}"


def _fold_text(fold: Fold) -> str:
    a, b = plural(fold.a, "sentence"), plural(fold.b, "sentence")
    if fold.why == "same":
        return f"{plural(fold.rows, 'row')} not shown: {a} the same in A and B"
    if fold.why == "one-sided":
        sides = [f"{a} only in A" if fold.a else "", f"{b} only in B" if fold.b else ""]
        return f"{plural(fold.rows, 'row')} not shown: {', '.join(x for x in sides if x)}"
    return (
        f"{plural(fold.rows, 'more row')} not shown (the size bound of a pair view): "
        f"{a} of A, {b} of B"
    )


def _row_html(row: DisplayRow | Fold, key: str, anchors: set[str]) -> str:
    if isinstance(row, DisplayRow) and row.fold is not None:
        row = row.fold
    if isinstance(row, Fold):
        return f'<tr class="fold"><td colspan="6">⋯ {esc(_fold_text(row))}</td></tr>'
    left, right = _cell_html(row.left, "a", key, anchors), _cell_html(row.right, "b", key, anchors)
    return f"<tr>{left}{right}</tr>"


def _anchors(rows: list[DisplayRow | Fold]) -> set[str]:
    """The moved rows a view shows (``a12``, ``b7``): the only targets its links may have."""
    out: set[str] = set()
    for row in rows:
        if isinstance(row, DisplayRow) and row.fold is None:
            for side, cell in (("a", row.left), ("b", row.right)):
                if cell is not None and cell.tag == "moved":
                    out.add(f"{side}{cell.lo}")
    return out


def pair_table(
    rows: Iterable[Mapping[str, Any]],
    *,
    key: str,
    label_a: str,
    label_b: str,
    bound: ViewBound | None = None,
    passages: ViewPassages | None = None,
) -> str:
    """The two-column aligned view of one pair.

    Args:
        rows: The pair's ``alignments`` rows in op order.
        key: A prefix for element ids, made of letters, digits and ``-`` only.
        label_a: Heading of the left column (escaped here).
        label_b: Heading of the right column.
        bound: Limits on the text shown (:func:`dedup.report.bound.bounded`); None shows
            every row in full.
        passages: The pair's passages, marked in the cells (:mod:`dedup.report.marks`).

    Returns:
        A ``<table class="align">``, after a note when some sentences no longer read as
        aligned (:func:`dedup.report.marks.stale_cells`).
    """
    key = _SAFE_KEY.sub("", key)
    laid_out = display_rows(rows)
    note = ""
    if passages is not None:
        stale = stale_cells(laid_out, passages)
        if stale:
            note = (
                f'<p class="muted">{plural(stale, "row")} left unmarked: the text no longer '
                "reads as the scan aligned it (its input, or the sentence splitting of this "
                "dedup, changed since the scan).</p>\n"
            )
        laid_out = mark_rows(laid_out, passages)
    shown: list[DisplayRow | Fold] = list(laid_out) if bound is None else bounded(laid_out, bound)
    anchors = _anchors(shown)
    body = "\n".join(_row_html(r, key, anchors) for r in shown)
    return (
        f'{note}<table class="align">\n'
        '<colgroup><col class="idx"><col class="mark"><col class="txt">'
        '<col class="idx"><col class="mark"><col class="txt"></colgroup>\n<thead><tr>'
        f'<th colspan="3">A: <bdi>{esc(label_a)}</bdi></th>'
        f'<th colspan="3">B: <bdi>{esc(label_b)}</bdi></th>'
        f"</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"
    )
