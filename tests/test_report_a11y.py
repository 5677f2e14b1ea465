"""The report read without a mouse, without colour, in a right-to-left script, and past its
size bound: links that resolve, keyboard sorting, isolated names."""

from __future__ import annotations

import random
import re
from pathlib import Path

from dedup.config import RunConfig, SemanticConfig
from dedup.pipeline import scan
from dedup.report import build_report

CFG = RunConfig(semantic=SemanticConfig(enabled=False))


def _sentences(rng: random.Random, n: int) -> list[str]:
    out = []
    for _ in range(n):
        words = [f"w{rng.randrange(6000)}" for _ in range(rng.randint(12, 18))]
        out.append(" ".join(words).capitalize() + ".")
    return out


def test_every_link_of_a_bounded_view_resolves(tmp_path: Path) -> None:
    """A sentence moved to the end of a long text: its counterpart lies past the view's size
    bound, so its row says where without linking to a row the page does not hold."""
    a = _sentences(random.Random(3), 700)
    b = list(a)
    for i in range(2, 700, 3):
        words = b[i].split()
        words[4] = f"edit{i}"
        b[i] = " ".join(words)
    b.append(b.pop(1))
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.txt").write_text(" ".join(a))
    (corpus / "b.txt").write_text(" ".join(b))
    scan([corpus], tmp_path / "run", config=CFG)
    page = build_report(tmp_path / "run")
    assert "not shown (the size bound of a pair view)" in page
    ids = set(re.findall(r'\bid="([^"]+)"', page))
    targets = re.findall(r'href="#([^"!]+)"', page)
    assert targets
    assert [t for t in targets if t not in ids] == []
    assert "→ B700 (not shown)" in page


def test_names_are_isolated_and_sorting_takes_the_keyboard(tmp_path: Path) -> None:
    """A right-to-left override in a file name stays inside the name; each sortable header
    is a button; a passage label does not decide a cell's direction."""
    text = " ".join(_sentences(random.Random(5), 40))
    corpus = tmp_path / "c"
    (corpus / "evil\u202etxt.exe").mkdir(parents=True)
    (corpus / "evil\u202etxt.exe" / "a.txt").write_text(text)
    (corpus / "b.txt").write_text(text)
    scan([corpus], tmp_path / "run", config=CFG)
    page = build_report(tmp_path / "run")
    assert "<h3><bdi>b.txt</bdi> ↔ <bdi>evil\u202etxt.exe/a.txt</bdi></h3>" in page
    assert "B: <bdi>evil\u202etxt.exe/a.txt</bdi>" in page
    assert '<td class="path"><bdi>evil\u202etxt.exe/a.txt</bdi></td>' in page
    heads = re.findall(r'<th class="sortable"[^>]*>(.*?)</th>', page)
    assert heads
    assert all(h.startswith('<button type="button">') for h in heads)
    assert '<th class="sortable" data-key="score" aria-sort="descending">' in page
    labels = re.findall(r'<span class="pno[^"]*"([^>]*)>P\d+</span>', page)
    assert labels
    assert all('dir="ltr"' in attrs for attrs in labels)
