"""Passages in the report: counted in the index and the pair's legend, and marked in the
side-by-side views from their offsets (texts read again from the run's inputs)."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import polars as pl
import pytest

from dedup.config import RunConfig, SemanticConfig
from dedup.pipeline import scan
from dedup.report import build_report

CFG = RunConfig(semantic=SemanticConfig(enabled=False))

COPIED = (
    "Officials said the new plan would cut spending on roads and bridges by ten percent. "
    "Residents protested outside the city hall for several hours on Tuesday. "
    "The mayor promised a second public hearing before the end of next month."
)
HOSTILE = (
    'The <script>alert("x")</script> council said the </td></tr></table> plan '
    "would cut spending on <b>roads</b> and bridges by ten percent this year. "
    "Residents protested outside the city hall <img src=x onerror=alert(1)> for hours."
)
TEXTS = {
    "a.txt": f"The council met on Monday to discuss the budget.\n\n{COPIED}\n\nIt stayed cold.",
    "b.txt": f"Something entirely different opens this story about cats.\n\n{COPIED}\n\nThe end.",
    "h1.txt": f"A first line stands here alone.\n\n{HOSTILE}\n\nAnother closing line.",
    "h2.txt": f"An opening remark of another kind.\n\n{HOSTILE}",
}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("passages")
    corpus = root / "corpus"
    corpus.mkdir()
    for name, text in TEXTS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    scan([corpus], root / "run", config=CFG)
    return root / "run"


def _texts(run: Path) -> dict[int, str]:
    docs = pl.read_parquet(run / "documents.parquet")
    return {d: TEXTS[Path(p).name] for d, p in docs.select("doc_id", "path").iter_rows()}


def _section(page: str, a: int, b: int) -> str:
    return page.split(f'<section class="pair" id="pair-{a}-{b}"', 1)[1].split("</section>", 1)[0]


def _marked(section: str, number: int, side: str) -> str:
    parts = re.findall(
        rf'<mark class="psg psg-\w+" data-p="{number}" data-side="{side}"[^>]*>(.*?)</mark>',
        section,
    )
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", p)) for p in parts)


def _norm(text: str) -> str:
    return " ".join(text.split())


def test_marked_text_is_the_passage_of_each_row(run: Path) -> None:
    page = build_report(run)
    texts = _texts(run)
    passages = pl.read_parquet(run / "passages.parquet").sort("doc_a", "doc_b", "a_start")
    assert passages.height >= 2
    for (a, b), rows in passages.group_by("doc_a", "doc_b", maintain_order=True):
        section = _section(page, int(a), int(b))  # type: ignore[call-overload]
        for n, p in enumerate(rows.sort("a_start", "b_start").iter_rows(named=True), 1):
            want_a = texts[int(a)][p["a_start"] : p["a_end"]]  # type: ignore[call-overload]
            want_b = texts[int(b)][p["b_start"] : p["b_end"]]  # type: ignore[call-overload]
            assert _norm(_marked(section, n, "a")) == _norm(want_a)
            assert _norm(_marked(section, n, "b")) == _norm(want_b)
            assert f">P{n}</span>" in section
    assert "not marked" not in page


def test_index_and_legend_show_count_and_shares(run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    pairs = pl.read_parquet(copy / "pairs.parquet")
    pairs = pairs.with_columns(
        passage_share_a=pl.when(pl.col("doc_a") == 0).then(0.41).otherwise(None),
        passage_share_b=pl.when(pl.col("doc_a") == 0).then(0.38).otherwise(None),
    )
    pairs.write_parquet(copy / "pairs.parquet")
    page = build_report(copy)
    heads = re.findall(r'data-key="(\w+)"', page.split('id="pairs"', 1)[1])
    assert heads[-3:] == ["n_passages", "passage_share_a", "passage_share_b"]
    first = pairs.filter(pl.col("doc_a") == 0).row(0, named=True)
    section = _section(page, first["doc_a"], first["doc_b"])
    n = first["n_passages"]
    assert f"{n} passage{'s' if n != 1 else ''} · 41% of A, 38% of B" in section
    assert '<td class="num" data-v="0.41">41%</td>' in page
    other = pairs.filter(pl.col("doc_a") != 0).row(0, named=True)
    assert "· – of A, – of B" in _section(page, other["doc_a"], other["doc_b"])


def test_hostile_text_in_passages_stays_escaped(run: Path) -> None:
    page = build_report(run)
    body = page.split("<body>", 1)[1].rsplit("<script>", 1)[0]
    assert "<script" not in body
    assert "<img" not in body
    assert "<b>roads" not in body
    assert "</td></tr></table> plan" not in body
    assert re.search(r'data-side="a"[^>]*>[^<]*&lt;script&gt;', body)


def test_a_run_without_passages_still_renders(run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    (copy / "passages.parquet").unlink()
    page = build_report(copy)
    assert "data-p=" not in page
    assert 'class="align"' in page
    # the count and the shares come from pairs.parquet
    assert re.search(r" passages? · \d+% of A, \d+% of B", page)


def _scan_pair(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("a.txt", "b.txt"):
        (corpus / name).write_text(TEXTS[name], encoding="utf-8")
    scan([corpus], tmp_path / "run", config=CFG)
    return corpus


def test_a_changed_input_leaves_passages_unmarked(tmp_path: Path) -> None:
    corpus = _scan_pair(tmp_path)
    (corpus / "a.txt").write_text(TEXTS["a.txt"] + " More.", encoding="utf-8")
    page = build_report(tmp_path / "run")
    assert 'data-side="a"' not in page  # A changed: not marked
    assert 'data-p="1" data-side="b"' in page  # B is as the scan read it
    assert "counted but not marked in the text: 1 of the documents could not be read" in page
    assert "(1 differs from what the scan read)" in page
    assert "The text of A (<bdi>a.txt</bdi>) could not be read again" in _section(page, 0, 1)
    assert "1 passage · " in page


def test_a_sentence_changed_in_place_is_not_marked(tmp_path: Path) -> None:
    corpus = _scan_pair(tmp_path)
    same_length = TEXTS["a.txt"].replace("roads and bridges", "ROADS AND BRIDGES")
    (corpus / "a.txt").write_text(same_length, encoding="utf-8")
    section = _section(build_report(tmp_path / "run"), 0, 1)
    marked = _marked(section, 1, "a")
    assert "Residents protested" in marked
    assert "Officials said" not in marked
    assert "ROADS" not in section
    assert "Officials said" in _marked(section, 1, "b")
    assert "1 row left unmarked: the text no longer reads as the scan aligned it" in section


def test_a_deleted_input_costs_only_its_own_documents(tmp_path: Path) -> None:
    """A file deleted since the scan, sorted before the pair's files: the pair's documents
    are still read again and marked (the others are placed by their names)."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "0gone.txt").write_text("A text that will be deleted before the report.")
    (corpus / "1other.jsonl").write_text('{"text": "one record"}\n{"text": "two record"}\n')
    for name in ("a.txt", "b.txt"):
        (corpus / name).write_text(TEXTS[name], encoding="utf-8")
    scan([corpus], tmp_path / "run", config=CFG)
    (corpus / "0gone.txt").unlink()
    (corpus / "0new.txt").write_text("A file added after the scan.")
    docs = pl.read_parquet(tmp_path / "run" / "documents.parquet")
    ids = {Path(p).name: d for d, p in docs.select("doc_id", "path").iter_rows()}
    page = build_report(tmp_path / "run")
    section = _section(page, ids["a.txt"], ids["b.txt"])
    assert "Officials said" in _marked(section, 1, "a")
    assert "Officials said" in _marked(section, 1, "b")
    assert "could not be read" not in page


def test_only_pairs_with_a_view_are_linked(run: Path) -> None:
    """Rows of the pairs index link to a view only where the page has one (--max-pairs and
    the size bound leave the others out); the count of pairs without a view is exact."""
    pairs = pl.read_parquet(run / "pairs.parquet").height
    assert pairs >= 2
    page = build_report(run, max_pairs=1)
    ids = set(re.findall(r'id="([^"]+)"', page))
    links = re.findall(r'href="#([^"]+)"', page)
    assert all(x in ids for x in links)
    assert len(re.findall(r'<section class="pair"', page)) == 1
    assert len([x for x in links if x.startswith("pair-")]) == 1
    assert f"{pairs - 1} more pair" in page


def test_a_moved_run_folder_still_renders(tmp_path: Path) -> None:
    _scan_pair(tmp_path)
    shutil.rmtree(tmp_path / "corpus")
    page = build_report(tmp_path / "run")
    assert "data-p=" not in page
    assert "counted but not marked in the text: input not found" in page


def test_passages_of_jsonl_records_are_marked(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("A lone text about nothing in particular.", encoding="utf-8")
    records = [
        {"id": "r1", "text": TEXTS["a.txt"]},
        {"id": "r2", "text": "Unrelated words only here."},
        {"id": "r3", "text": TEXTS["b.txt"]},
    ]
    (corpus / "recs.jsonl").write_text(
        "\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8"
    )
    scan([corpus], tmp_path / "run", config=CFG, id_column="id")
    pairs = pl.read_parquet(tmp_path / "run" / "pairs.parquet")
    assert pairs.select("external_id_a", "external_id_b").row(0) == ("r1", "r3")
    a, b = pairs.select("doc_a", "doc_b").row(0)
    section = _section(build_report(tmp_path / "run"), a, b)
    assert _norm(_marked(section, 1, "a")) == _norm(COPIED)
    assert _norm(_marked(section, 1, "b")) == _norm(COPIED)
