"""Load the report in a real headless Chromium and check what the page became."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from dedup.report import write_report
from tests.fixtures_run import write_run

pytestmark = pytest.mark.browser

_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--enable-logging=stderr",
    "--v=0",
]


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI") == "true":
        pytest.fail("headless Chromium is required on CI but was not found on PATH")
    pytest.skip("no Chromium on PATH")


def _load(url: str, profile: Path, *extra: str) -> tuple[str, str]:
    """``(dumped DOM, browser log)`` of ``url`` after its scripts ran."""
    proc = subprocess.run(
        [
            _chromium(),
            *_FLAGS,
            f"--user-data-dir={profile}",
            "--virtual-time-budget=3000",
            *extra,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout, proc.stderr


def _console_errors(log: str) -> list[str]:
    return [
        line
        for line in log.splitlines()
        if "CONSOLE" in line or "Uncaught" in line or "Content Security Policy" in line
    ]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _chromium()
    run = write_run(tmp_path_factory.mktemp("run") / "run")
    return write_report(run)


def test_page_after_scripts_ran(report: Path, tmp_path: Path) -> None:
    dom, log = _load(report.as_uri(), tmp_path / "profile", "--dump-dom")
    assert _console_errors(log) == []
    # The report's own script ran to the end.
    assert re.search(r"<body[^>]*\bdata-ready=\"1\"", dom)
    assert re.search(r'id="shown"[^>]*>2 of 2 pairs shown<', dom)
    # Pair rows in the index, and the two-column views.
    assert len(re.findall(r'<tr data-relation="[^"]+" data-target="pair-', dom)) == 2
    assert dom.count('<table class="align">') == 2
    assert dom.count('<th colspan="3">A: ') == 2
    assert dom.count('<th colspan="3">B: ') == 2
    # The hostile documents' scripts and handlers did not run.
    assert "data-pwned" not in re.search(r"<body[^>]*>", dom).group(0)  # type: ignore[union-attr]
    assert "<title>dedup report: run</title>" in dom
    assert "PWNED</title>" not in dom
    assert "<img" not in dom
    # ...and they show as text.
    assert "&lt;script&gt;document.title='PWNED'" in dom


def test_hash_filters_and_sorts(report: Path, tmp_path: Path) -> None:
    url = report.as_uri() + "#!rel=derivative&sort=score&dir=asc"
    dom, log = _load(url, tmp_path / "profile", "--dump-dom")
    assert _console_errors(log) == []
    assert re.search(r'id="shown"[^>]*>1 of 2 pairs shown<', dom)
    assert re.search(r'<section class="pair" id="pair-2-3"[^>]*hidden', dom)
    assert 'aria-sort="ascending"' in dom
    rows = re.findall(r'<tr data-relation="([^"]+)" data-target="(pair-[0-9-]+)"( hidden="")?', dom)
    assert [r[1] for r in rows] == ["pair-0-1", "pair-2-3"]  # ascending score
    assert rows[1][2]  # the near_duplicate row is hidden


def test_screenshot(report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    _load(
        report.as_uri(),
        tmp_path / "profile",
        f"--screenshot={shot}",
        "--window-size=1400,1800",
        "--hide-scrollbars",
    )
    assert shot.stat().st_size > 10_000
    keep = os.environ.get("DEDUP_SCREENSHOT")
    if keep:
        shutil.copyfile(shot, keep)


def test_passage_marks_survive_the_page_script(tmp_path: Path) -> None:
    """A scanned pair sharing a copied passage: in the browser, after the page's script ran,
    both sides hold the passage's marks, with the passage's words, and nothing was refused."""
    from dedup.config import RunConfig, SemanticConfig
    from dedup.pipeline import scan

    words = [f"w{k}" for k in range(400)]
    passage = " ".join(
        f"The reused line {k} says {words[k]} and {words[k + 1]} again." for k in range(8)
    )
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, start in (("a.txt", 0), ("b.txt", 200)):
        own = " ".join(
            f"Own sentence {k} of {name} has {words[(start + 3 * k) % 400]}." for k in range(60)
        )
        (corpus / name).write_text(own + " " + passage + " " + own, encoding="utf-8")
    cfg = RunConfig(semantic=SemanticConfig(enabled=False))
    scan([corpus], tmp_path / "run", config=cfg)
    dom, log = _load(write_report(tmp_path / "run").as_uri(), tmp_path / "profile", "--dump-dom")
    assert _console_errors(log) == []
    assert re.search(r"<body[^>]*\bdata-ready=\"1\"", dom)
    for side in ("a", "b"):
        marked = re.findall(
            rf'<mark class="psg psg-\w+" data-p="1" data-side="{side}"[^>]*>([^<]*)<', dom
        )
        assert marked, side
        assert "The reused line 0 says w0 and w1 again." in " ".join(marked)
