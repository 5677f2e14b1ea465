"""The index on the seed articles: rewrites are found through the semantic channel, the
independent article is not (needs the semantic extra)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

pytest.importorskip("torch")
pytest.importorskip("sentence_transformers")

from dedup.config import RunConfig, SemanticConfig
from dedup.index import Index, add, build
from dedup.pipeline import scan

pytestmark = [pytest.mark.semantic, pytest.mark.slow]

CFG = RunConfig(semantic=SemanticConfig(enabled=True))


def _seed(seeds_dir: Path, prefix: str) -> Path:
    return next(iter(sorted(seeds_dir.glob(f"{prefix}_*.txt"))))


def test_seed_queries_match_000_not_003(seeds_dir: Path, tmp_path: Path) -> None:
    indexed = [_seed(seeds_dir, "000"), _seed(seeds_dir, "003")]
    queries = [_seed(seeds_dir, "001"), _seed(seeds_dir, "002")]
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
        assert got[col].to_numpy() == pytest.approx(expected[col].to_numpy(), abs=1e-5)
    # an add reports the pairs of the new documents, among themselves too
    added = add(queries, tmp_path / "ix").pairs.sort("doc_a", "doc_b")
    exp_all = pairs.filter(pl.col("doc_b") >= 2).sort("doc_a", "doc_b")
    assert added.select(cols).equals(exp_all.select(cols))
