from __future__ import annotations

import io
import json

from rich.console import Console

from dedup.align.sentences import align_texts
from dedup.report.render import diff_json, render_diff, render_diff_html
from tests.fixtures_run import A_TEXT, B_TEXT, HOSTILE, HOSTILE_EDIT


def plain(text_a: str, text_b: str, width: int = 160) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system=None, force_terminal=False)
    render_diff(text_a, text_b, console=console, color=False, label_a="a.txt", label_b="b.txt")
    return buf.getvalue()


def test_plain_output_is_readable() -> None:
    out = plain(A_TEXT, B_TEXT)
    assert "\x1b[" not in out
    assert "A: a.txt" in out
    assert "B: b.txt" in out
    assert "~ Police rescued hundreds of workers from scam [-centers-]" in out
    assert "{+centres+}" in out
    assert "= The workers were flown home" in out
    assert "- Officials called it a victory." in out
    assert "+ A new sentence appears here." in out
    assert "> Construction of new buildings continued.  (-> B1)" in out
    assert "(<- A4)" in out
    assert "= same 1   ~ edited 1   + added 1   - dropped 1   > moved 1" in out


def test_color_output_has_styles() -> None:
    buf = io.StringIO()
    console = Console(file=buf, width=160, color_system="truecolor", force_terminal=True)
    render_diff(A_TEXT, B_TEXT, console=console, color=True)
    out = buf.getvalue()
    assert "\x1b[" in out
    assert "[-" not in out


def test_markup_in_text_is_not_interpreted() -> None:
    out = plain("The [bold]tag[/bold] stays.", "The [red]tag[/red] stays, edited.")
    assert "[bold]tag[/bold]" in out
    assert "[red]tag[/red]" in out


def test_json_round_trips() -> None:
    al = align_texts(A_TEXT, B_TEXT)
    data = json.loads(json.dumps(diff_json(al)))
    assert data["summary"]["n_moved"] == 1
    assert [op["op"] for op in data["ops"]] == ["edited", "same", "dropped", "moved", "added"]
    assert data["ops"][0]["words"][1] == ["replace", 7, 8, 7, 8]
    assert len(data["a"]) == 4


def test_html_diff_is_escaped_and_static() -> None:
    page = render_diff_html(HOSTILE, HOSTILE_EDIT, label_a="<a>", label_b='"b"')
    body = page.split("<body>", 1)[1]
    assert "<script" not in body
    assert "&lt;script&gt;" in body
    assert "&lt;a&gt;" in body
    assert "<ins>there.</ins>" in body
    assert "script-src 'sha256-" in page
