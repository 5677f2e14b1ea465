"""Passages in ``dedup diff``: marked at the right sentences, counted, and in the JSON."""

from __future__ import annotations

import html
import io
import json
import re
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from dedup.align.pair import align_pair
from dedup.cli import app
from dedup.report.marks import ViewPassages, mark_rows
from dedup.report.render import render_diff, render_diff_html
from dedup.report.rows import Cell, DisplayRow, pieces

runner = CliRunner()

COPIED = (
    "Officials said the new plan would cut spending on roads and bridges by ten percent. "
    "Residents protested outside the city hall for several hours on Tuesday. "
    "The mayor promised a second public hearing before the end of next month."
)
TEXT_A = (
    f"The council met on Monday to discuss the budget.\n\n{COPIED}\n\nMeanwhile it stayed cold."
)
TEXT_B = (
    "Something entirely different opens this story about cats and dogs.\n\n"
    f"{COPIED}\n\nA brand new closing remark appears here."
)
PARTIAL_A = (
    "The council met on Monday to discuss the budget. Officials said the new plan would cut "
    "spending on roads and bridges by ten percent over the next three years, according to a "
    "statement released late on Sunday evening. The mayor promised a second hearing."
)
PARTIAL_B = (
    "A short opening line comes first here. In a surprise twist, a reporter wrote that "
    "officials said the new plan would cut spending on roads and bridges by ten percent over "
    "the next three years, according to a statement released late on Sunday evening. "
    "Nothing else was said."
)


def _plain(text_a: str, text_b: str, *, color: bool = False) -> str:
    pair = align_pair(text_a, text_b)
    buf = io.StringIO()
    console = Console(
        file=buf, width=200, color_system="truecolor" if color else None, force_terminal=color
    )
    render_diff(
        text_a, text_b, pair.sentences, console=console, color=color, passages=pair.passages
    )
    return buf.getvalue()


def _rows(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("|") and "#" not in line[:6]]


def test_terminal_marks_the_copied_sentences_and_counts_the_passage() -> None:
    pair = align_pair(TEXT_A, TEXT_B)
    assert len(pair.passages.passages) == 1
    out = _plain(TEXT_A, TEXT_B)
    rows = _rows(out)
    marked = [r for r in rows if "1v" in r]
    assert len(marked) == 3
    for row in marked:
        assert re.search(r"\|\s+[234] \| 1v \| = ", row)
    for word in ("council", "Meanwhile", "Something", "closing"):
        assert "1v" not in next(r for r in rows if word in r)
    share = f"1 passage · {pair.passages.coverage_a:.0%} of A, {pair.passages.coverage_b:.0%} of B"
    assert share in out
    assert not any("[[" in r for r in rows)  # whole sentences in the passage: no brackets


def test_plain_output_brackets_a_passage_that_covers_part_of_a_sentence() -> None:
    out = _plain(PARTIAL_A, PARTIAL_B)
    assert "\x1b[" not in out
    assert "a reporter wrote that +}[[{+officials+} said" in out
    assert "Sunday evening.]]" in out


def test_color_output_underlines_passages() -> None:
    out = _plain(PARTIAL_A, PARTIAL_B, color=True)
    assert "\x1b[4" in out or ";4m" in out or ";4;" in out
    assert not any("[[" in r for r in _rows(out))


def test_without_passages_the_view_is_unchanged() -> None:
    buf = io.StringIO()
    render_diff(TEXT_A, TEXT_B, console=Console(file=buf, width=200, color_system=None))
    assert "passage" not in buf.getvalue()
    assert "| P " not in buf.getvalue()


def _mark_text(page: str, number: int, side: str) -> str:
    parts = re.findall(
        rf'<mark class="psg psg-\w+" data-p="{number}" data-side="{side}"[^>]*>(.*?)</mark>', page
    )
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", p)) for p in parts)


def _norm(text: str) -> str:
    return " ".join(text.split())


def test_html_marks_hold_the_passage_text() -> None:
    for text_a, text_b in ((TEXT_A, TEXT_B), (PARTIAL_A, PARTIAL_B)):
        pair = align_pair(text_a, text_b)
        page = render_diff_html(text_a, text_b, pair.sentences, passages=pair.passages)
        for n, p in enumerate(pair.passages.passages, 1):
            assert _norm(_mark_text(page, n, "a")) == _norm(text_a[p.a_start : p.a_end])
            assert _norm(_mark_text(page, n, "b")) == _norm(text_b[p.b_start : p.b_end])
            assert f'title="passage {n}: {p.kind}">P{n}</span>' in page
        share = pair.passages
        assert f"{share.coverage_a:.0%} of A, {share.coverage_b:.0%} of B" in page


def test_html_marks_keep_hostile_text_escaped() -> None:
    hostile = "<script>alert(1)</script> " + COPIED.replace("roads", "<b>roads</b>")
    pair = align_pair(hostile, hostile + " Another <img src=x> line.")
    page = render_diff_html(hostile, hostile, pair.sentences, passages=pair.passages)
    body = page.split("<body>", 1)[1]
    assert "<script" not in body
    assert "<b>" not in body
    assert "<img" not in body
    assert "&lt;b&gt;roads&lt;/b&gt;" in body


def test_json_has_the_passages_and_shares(tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text(TEXT_A, encoding="utf-8")
    b.write_text(TEXT_B, encoding="utf-8")
    res = runner.invoke(app, ["diff", str(a), str(b), "--json", "--no-semantic"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    pair = align_pair(TEXT_A, TEXT_B)
    assert data["passage_share_a"] == pair.passages.coverage_a
    assert data["passage_share_b"] == pair.passages.coverage_b
    assert len(data["passages"]) == len(pair.passages.passages) == 1
    got, want = data["passages"][0], pair.passages.passages[0]
    assert got["n"] == 1
    for key in ("a_start", "a_end", "b_start", "b_end", "kind", "score", "n_words"):
        assert got[key] == getattr(want, key)
    assert TEXT_A[got["a_start"] : got["a_end"]] == TEXT_B[got["b_start"] : got["b_end"]]
    assert data["summary"]["n_same"] == 3


def test_cli_plain_and_html_show_the_passages(tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text(TEXT_A, encoding="utf-8")
    b.write_text(TEXT_B, encoding="utf-8")
    res = runner.invoke(app, ["diff", str(a), str(b), "--no-color", "--no-semantic"])
    assert res.exit_code == 0, res.output
    assert "1v" in res.output
    assert "1 passage · " in res.output
    out = tmp_path / "d.html"
    res = runner.invoke(app, ["diff", str(a), str(b), "--html", str(out), "--no-semantic"])
    assert res.exit_code == 0, res.output
    assert 'data-p="1" data-side="a"' in out.read_text(encoding="utf-8")


def test_overlapping_passages_show_the_shorter_mark_and_odd_kinds_a_fixed_word() -> None:
    text = "One two three. Four five six."
    spans = ((0, 14), (15, 29))
    rows = [
        {"a_start": 0, "a_end": 29, "b_start": 0, "b_end": 29, "kind": "edited"},
        {"a_start": 15, "a_end": 29, "b_start": 0, "b_end": 14, "kind": '"><script>'},
    ]
    view = ViewPassages.from_rows(rows, spans_a=spans, spans_b=spans, text_a=text, text_b=text)
    assert [p.kind for p in view.passages] == ["edited", "passage"]
    [row] = mark_rows([DisplayRow(Cell("same", 0, 2, text), None)], view)
    assert row.left is not None
    got = [(p.text, p.mark.number if p.mark else None) for p in pieces(row.left)]
    assert got == [("One two three. ", 1), ("Four five six.", 2)]
    # a cell whose text is not the text's sentences (another segmentation) gets no marks
    [row] = mark_rows([DisplayRow(Cell("same", 0, 1, "One two"), None)], view)
    assert row.left is not None
    assert row.left.marks == ()
