from __future__ import annotations

import re
from pathlib import Path

import pytest

from dedup.errors import InputError
from dedup.report import build_report, write_report
from tests.fixtures_run import write_run


@pytest.fixture
def run(tmp_path: Path) -> Path:
    return write_run(tmp_path / "run")


def test_writes_one_self_contained_file(run: Path) -> None:
    out = write_report(run)
    assert out == run / "report.html"
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    # No network: no external script, stylesheet, image or font.
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", html)
    assert "@import" not in html
    assert html.count("<script>") == 1
    assert 'id="pairs"' in html
    assert html.count('<table class="align">') == 2


def test_hostile_text_is_escaped(run: Path) -> None:
    html = build_report(run)
    body = html.split("<body>", 1)[1].rsplit("<script>", 1)[0]
    assert "<script" not in body
    assert "</td></tr></table> here" not in body
    assert "&lt;script&gt;document.title=&#x27;PWNED&#x27;" in body
    assert "&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt; here" in body
    assert "<img" not in body
    assert "<b " not in body
    # The hostile path is text, never an attribute breaking out of its quotes.
    assert "x&quot;onmouseover=&#x27;alert(1)&#x27;.txt" in body
    assert not re.search(r"<[^>]*\sonmouseover=", body)
    assert not re.search(r"""href=["']?javascript:""", body, re.IGNORECASE)


def test_csp_allows_only_own_script(run: Path) -> None:
    html = build_report(run)
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert csp is not None
    assert "default-src 'none'" in csp.group(1)
    assert re.search(r"script-src 'sha256-[A-Za-z0-9+/=]+'", csp.group(1))


def test_pair_view_rows_and_moves(run: Path) -> None:
    html = build_report(run)
    section = html.split('id="pair-0-1"', 1)[1].split("</section>", 1)[0]
    # The moved sentence is linked from both sides.
    assert 'href="#pair-0-1-b0"' in section
    assert 'id="pair-0-1-a3"' in section
    assert 'href="#pair-0-1-a3"' in section
    assert 'id="pair-0-1-b0"' in section
    # Word-level change of the edited sentence.
    assert "<del>centers</del>" in section
    assert "<ins>centres</ins>" in section
    assert 'class="txt op-added"' in section
    assert 'class="txt op-added" dir="auto"' in section  # right-to-left text lays out as such
    assert 'class="txt op-dropped"' in section


def test_missing_alignments_is_fine(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", with_alignments=False)
    html = build_report(run)
    assert "No sentence alignment recorded" in html


def test_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"pairs\.parquet"):
        write_report(tmp_path)


def test_custom_output(run: Path, tmp_path: Path) -> None:
    out = write_report(run, tmp_path / "sub" / "r.html")
    assert out.read_text(encoding="utf-8").count("pair-2-3") >= 2


def test_report_of_a_scan_without_alignment(tmp_path: Path) -> None:
    """A ``--no-align`` scan's pairs have null per-op counts: the report shows the pair with
    a legend without counts."""
    from dedup.config import AlignConfig, RunConfig, SemanticConfig
    from dedup.pipeline import scan

    docs = tmp_path / "docs"
    docs.mkdir()
    text = " ".join(f"Sentence number {i} says something about topic {i % 7}." for i in range(40))
    (docs / "a.txt").write_text(text, encoding="utf-8")
    (docs / "b.txt").write_text(text, encoding="utf-8")
    config = RunConfig(semantic=SemanticConfig(enabled=False), align=AlignConfig(enabled=False))
    result = scan([docs], tmp_path / "run", config=config)
    assert result.pairs.height == 1
    assert result.pairs["n_same"].is_null().all()
    html = build_report(tmp_path / "run")
    assert (
        "No sentence alignment recorded for this pair: the run was scanned with --no-align" in html
    )
    legend = re.search(r'<p class="legend">(.*?)</p>', html)
    assert legend is not None
    assert not re.search(r"\d", legend.group(1))


def test_pages_never_replace_tables_inputs_or_folders(run: Path, tmp_path: Path) -> None:
    """The report and ``diff --html`` refuse a run's table, a diff's own input, a folder and
    any existing file that is not an HTML page (the CLI: a one-line error, exit 4); they
    replace an earlier page and make missing parent folders."""
    from typer.testing import CliRunner

    from dedup.cli import app
    from dedup.errors import OutputError

    cli = CliRunner()
    pairs = (run / "pairs.parquet").read_bytes()
    with pytest.raises(OutputError, match=r"not an \.html page"):
        write_report(run, run / "pairs.parquet")
    assert (run / "pairs.parquet").read_bytes() == pairs
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("One sentence here. Another one there.\n", encoding="utf-8")
    b.write_text("One sentence here. A third one.\n", encoding="utf-8")
    for target, why in ((a, "one of the inputs"), (tmp_path, "is a folder")):
        res = cli.invoke(app, ["diff", str(a), str(b), "--no-semantic", "--html", str(target)])
        assert res.exit_code == 4, res.output
        assert why in res.output
    assert a.read_text(encoding="utf-8").startswith("One sentence")
    page = tmp_path / "new" / "d.html"
    for _ in range(2):  # made, then replaced
        res = cli.invoke(app, ["diff", str(a), str(b), "--no-semantic", "--html", str(page)])
        assert res.exit_code == 0, res.output
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_report_never_lands_on_or_among_the_scan_inputs(tmp_path: Path) -> None:
    """An HTML input of the scan, or a page inside an input folder (which the next scan
    would read), is refused; inside the run folder (even within the inputs) is fine."""
    from dedup.config import RunConfig, SemanticConfig
    from dedup.errors import OutputError
    from dedup.pipeline import scan

    data = tmp_path / "data"
    data.mkdir()
    page = "<html><body><p>" + "Words of a page that repeat here. " * 30 + "</p></body></html>"
    (data / "a.html").write_text(page, encoding="utf-8")
    (data / "b.html").write_text(page, encoding="utf-8")
    cfg = RunConfig(semantic=SemanticConfig(enabled=False))
    run = data / "runs" / "r"
    scan([data], run, config=cfg)
    for target in (data / "a.html", data / "report.html"):
        with pytest.raises(OutputError, match="inside the scan's input"):
            write_report(run, target)
    files = tmp_path / "r2"
    scan([data / "a.html", data / "b.html"], files, config=cfg)
    with pytest.raises(OutputError, match="one of the inputs"):
        write_report(files, data / "a.html")
    assert (data / "a.html").read_text(encoding="utf-8") == page
    assert write_report(run) == run / "report.html"
