"""What the report says: names, legend, settings, skipped documents, plurals, and a bound on
its size; and the layout rule that a dropped and an added sentence never share a row."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dedup import schema
from dedup.align.rows import alignment_rows
from dedup.align.sentences import align_texts
from dedup.config import RunConfig, SemanticConfig
from dedup.pipeline import scan
from dedup.report import build_report
from dedup.report.bound import Fold, ViewBound, bounded, prefold
from dedup.report.rows import display_rows

CFG = RunConfig(semantic=SemanticConfig(enabled=False))


def _sentence(rng: random.Random) -> str:
    words = [f"w{rng.randrange(5000)}" for _ in range(rng.randrange(6, 14))]
    return " ".join(words).capitalize() + "."


def _text(rng: random.Random, n: int) -> str:
    return " ".join(_sentence(rng) for _ in range(n))


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a long host text that reuses a passage, its exact copy, a skipped
    file and a JSONL file with ids (one record a near-copy of another)."""
    rng = random.Random(3)
    root = tmp_path_factory.mktemp("report")
    corpus = root / "corpus"
    (corpus / "sub").mkdir(parents=True)
    passage = _text(rng, 40)
    host = _text(rng, 3000) + " " + passage + " " + _text(rng, 3000)
    (corpus / "host.txt").write_text(host)
    (corpus / "sub" / "host_copy.txt").write_text(host)
    (corpus / "passage.txt").write_text(passage)
    (corpus / "empty.txt").write_text("")
    rec = _text(rng, 30)
    records = [{"text": rec, "id": "first"}, {"text": rec + " One more.", "id": "second"}]
    (corpus / "recs.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    scan([corpus], root / "run", config=CFG, id_column="id")
    return root


def test_names_are_relative_to_the_common_root(run: Path) -> None:
    html = build_report(run / "run")
    root = str(run / "corpus")
    body = html.split('<h2 id="settings">')[0]
    assert root not in body  # no absolute path in the index, clusters or skipped list
    assert ">sub/host_copy.txt<" in body
    assert "recs.jsonl:2 [id second]" in body  # external ids shown with the name
    settings = html.split('<h2 id="settings">')[1]
    assert root in settings  # said once, in the settings


def test_legend_settings_and_skipped_documents(run: Path) -> None:
    html = build_report(run / "run")
    assert 'id="legend"' in html
    for relation in ("exact", "near_duplicate", "derivative", "partial", "paraphrase"):
        assert f'<span class="rel">{relation}</span></td>' in html
    assert "Jaccard of the shingle sets at least 0.8" in html
    assert "copied passages adding up to 50 words" in html  # relations from passages
    assert "25 bands × 5 rows" in html
    assert "semantic channel</dt><dd>off: semantic channel disabled" in html
    skipped = html.split('<h2 id="skipped">')[1].split("</table>")[0]
    assert ">empty.txt<" in skipped
    assert "empty" in skipped.split(">empty.txt<")[1]


def test_plurals(run: Path) -> None:
    html = build_report(run / "run")
    assert re.search(r"\b1 clusters\b|\b1 pairs\b|\b1 documents\b", html) is None
    header = html.split('<p class="meta">')[1].split("</p>")[0]
    assert re.search(r"\d+ documents \(", header)
    clusters = len(re.findall(r'<tr><td class="num">\d+</td><td class="num">', html))
    assert f"{clusters} cluster{'' if clusters == 1 else 's'} ·" in header


def test_size_is_bounded_around_the_reused_passage(run: Path) -> None:
    host = (run / "corpus" / "host.txt").read_text()
    html = build_report(run / "run")
    assert len(html) < len(host) / 3, (len(html), len(host))
    passage = (run / "corpus" / "passage.txt").read_text()
    first = passage.split(". ")[0]
    assert first in html  # the reused passage is shown
    assert "only in B" in html or "only in A" in html  # the host's own text is folded
    assert "the same in A and B" in html  # the exact copy's identical run is folded


def test_tight_limits_fold_the_rest_of_a_view() -> None:
    rng = random.Random(1)
    a = [_sentence(rng) for _ in range(50)]
    b = [s if i % 3 else s.replace("w", "v", 1) for i, s in enumerate(a)]
    rows = display_rows(alignment_rows(0, 1, align_texts(" ".join(a), " ".join(b))))
    shown = bounded(rows, ViewBound(context=1, max_chars=500, max_cell=30))
    assert isinstance(shown[-1], Fold)
    assert shown[-1].why == "size"
    texts = [c.text for r in shown if not isinstance(r, Fold) for c in (r.left, r.right) if c]
    assert all(len(t) <= 30 + len(" … [999 more characters]") for t in texts)
    n_rows = sum(r.rows if isinstance(r, Fold) else 1 for r in shown)
    assert n_rows == len(rows)  # every row is shown or counted in a fold


@given(
    st.lists(st.sampled_from(["x", "y", "z", "q"]), max_size=12),
    st.lists(st.sampled_from(["x", "y", "z", "r"]), max_size=12),
    st.integers(0, 50),
)
def test_dropped_and_added_never_share_a_row(a: list[str], b: list[str], seed: int) -> None:
    rng = random.Random(seed)
    words = {k: _sentence(rng) for k in "xyzqr"}
    text_a = " ".join(words[k] for k in a)
    text_b = " ".join(words[k] for k in b)
    rows = display_rows(alignment_rows(0, 1, align_texts(text_a, text_b)))
    for row in rows:
        if row.left is not None and row.right is not None:
            assert row.left.tag == row.right.tag
            assert row.left.tag not in ("added", "dropped")


def test_prefolding_in_the_table_shows_what_laying_out_every_row_shows() -> None:
    rng = random.Random(5)
    a = [_sentence(rng) for _ in range(300)]
    passage = [_sentence(rng) for _ in range(6)]
    b = [*a[:100], *passage, *[_sentence(rng) for _ in range(150)], *a[100:]]
    b[50] = b[50].replace("w", "v", 2)
    table = pl.DataFrame(
        alignment_rows(0, 1, align_texts(" ".join(a), " ".join(b))), infer_schema_length=None
    )
    bound = ViewBound(prefold_rows=10, max_chars=10**9)
    table = schema.conform(table, "alignments")
    folded = prefold(table, bound)
    assert 0 < folded.height < table.height / 4
    full = bounded(display_rows(table.iter_rows(named=True)), bound)
    fast = bounded(display_rows(folded.iter_rows(named=True)), bound)

    def cells(shown: list[Any]) -> list[tuple[str | None, str | None]]:
        return [
            (r.left.text if r.left else None, r.right.text if r.right else None)
            for r in shown
            if not isinstance(r, Fold)
        ]

    def totals(shown: list[Any]) -> tuple[int, int, int]:
        fs = [r for r in shown if isinstance(r, Fold)]
        return sum(f.rows for f in fs), sum(f.a for f in fs), sum(f.b for f in fs)

    assert cells(fast) == cells(full)
    assert totals(fast) == totals(full)
    assert prefold(table, ViewBound()).equals(table)  # small pairs stay as they are


def test_one_pair_and_one_cluster_are_singular(tmp_path: Path) -> None:
    from tests.fixtures_run import write_run

    run = write_run(tmp_path / "run")
    for name, keep in (("pairs", pl.col("doc_a") == 0), ("clusters", pl.col("cluster_id") == 0)):
        path = run / f"{name}.parquet"
        pl.read_parquet(path).filter(keep).write_parquet(path)
    header = build_report(run).split('<p class="meta">')[1].split("</p>")[0]
    assert "1 pair ·" in header
    assert "1 cluster ·" in header
    assert "5 documents (4 read, 1 skipped)" in header


def test_legend_states_the_rules_the_run_used() -> None:
    from dedup.config import AlignConfig, DerivationConfig, RunConfig
    from dedup.report.sections import legend_html

    aligned = RunConfig(derivation=DerivationConfig(min_passage=30)).to_dict()
    page = legend_html({"config": aligned})
    assert "aligned passage by passage" in page
    assert "copied passages adding up to 30 words" in page
    assert "both containments" not in page
    fast = RunConfig(align=AlignConfig(enabled=False)).to_dict()
    page = legend_html({"config": fast})
    assert "first rule that holds" in page
    assert "both containments at least 0.5" in page
