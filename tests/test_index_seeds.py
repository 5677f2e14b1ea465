"""The index on the seed articles: rewrites are found through the semantic channel, the
independent article is not (needs the semantic extra)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

pytest.importorskip("torch")
pytest.importorskip("sentence_transformers")

from dedup.config import AlignConfig, RunConfig, SemanticConfig
from dedup.index import Index, add, build
from dedup.pipeline import scan

pytestmark = [pytest.mark.semantic, pytest.mark.slow]

CFG = RunConfig(semantic=SemanticConfig(enabled=True))


def _seed(seeds_dir: Path, prefix: str) -> Path:
    return next(iter(sorted(seeds_dir.glob(f"{prefix}_*.txt"))))


@pytest.mark.parametrize("align", [True, False], ids=["aligned", "no-align"])
def test_seed_queries_match_000_not_003(seeds_dir: Path, tmp_path: Path, align: bool) -> None:
    """With or without alignment (then the rewrite rule decides the semantic candidates, as
    in a scan)."""
    indexed = [_seed(seeds_dir, "000"), _seed(seeds_dir, "003")]
    queries = [_seed(seeds_dir, "001"), _seed(seeds_dir, "002")]
    CFG = RunConfig(semantic=SemanticConfig(enabled=True), align=AlignConfig(enabled=align))
    build(indexed, tmp_path / "ix", config=CFG)
    with Index.open(tmp_path / "ix") as ix:
        got = ix.query_files(queries).matches
    assert sorted(got["query_id"].to_list()) == [0, 1]  # each query: one match ...
    assert set(got["match_id"].to_list()) == {0}  # ... 000, never 003
    assert set(got["relation"].to_list()) <= {"paraphrase", "derivative"}  # a rewrite
    # the same pairs, relations and numbers as a scan of all four
    pairs = scan([*indexed, *queries], tmp_path / "run", config=CFG).pairs
    expected = pairs.filter((pl.col("doc_a") < 2) & (pl.col("doc_b") >= 2)).sort("doc_a", "doc_b")
    got = got.sort("doc_a", "doc_b")
    cols = ["doc_a", "doc_b", "relation", "channel", "jaccard", "n_same", "n_edited"]
    assert got.select(cols).equals(expected.select(cols))
    for col in ("score", "semantic", "kept_a"):
        assert got[col].to_numpy() == pytest.approx(expected[col].to_numpy(), abs=1e-5, nan_ok=True)
    # an add reports the pairs of the new documents, among themselves too
    added = add(queries, tmp_path / "ix").pairs.sort("doc_a", "doc_b")
    exp_all = pairs.filter(pl.col("doc_b") >= 2).sort("doc_a", "doc_b")
    assert added.select(cols).equals(exp_all.select(cols))


def test_seed_sentence_windows_match_a_scan(seeds_dir: Path, tmp_path: Path) -> None:
    """Over 50 documents (so the first stage centres its vectors on the mean of the indexed
    and query documents) and a small ``top_k`` (so both directions of the nearest-neighbour
    rule matter), a query's pairs are the scan's."""
    from dedup.text.segment import split_sentences

    paths = []
    for seed in sorted(seeds_dir.glob("0*.txt")):
        sents = [s.text for s in split_sentences(seed.read_text(encoding="utf-8"))]
        for i in range(len(sents)):
            paths.append(tmp_path / f"{seed.stem[:3]}_{i:03d}.txt")
            paths[-1].write_text(" ".join(sents[i : i + 2]), encoding="utf-8")
    assert len(paths) > 50
    indexed, queries = paths[::4] + paths[1::4] + paths[2::4], paths[3::4]
    indexed.sort()
    cfg = RunConfig(semantic=SemanticConfig(enabled=True, top_k=2))
    build(indexed, tmp_path / "ix", config=cfg)
    with Index.open(tmp_path / "ix") as ix:
        got = ix.query_files(queries).matches.sort("doc_a", "doc_b")
    pairs = scan([*indexed, *queries], tmp_path / "run", config=cfg).pairs
    n = len(indexed)
    expected = pairs.filter((pl.col("doc_a") < n) & (pl.col("doc_b") >= n)).sort("doc_a", "doc_b")
    # the semantic channel's candidates reached the aligner (their relation is decided from
    # passages: two-sentence windows are too short for a reworded rewrite, so the copies
    # among the windows decide what is reported)
    assert expected.filter(pl.col("channel").str.contains("semantic")).height > 0
    cols = ["doc_a", "doc_b", "relation", "channel"]
    assert got.select(cols).equals(expected.select(cols))
    for col in ("score", "semantic"):
        assert got[col].to_numpy() == pytest.approx(expected[col].to_numpy(), abs=1e-5, nan_ok=True)
