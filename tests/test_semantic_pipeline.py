"""The semantic channel inside `dedup scan`, on the seed articles (needs the semantic extra)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

pytest.importorskip("torch")
pytest.importorskip("sentence_transformers")

from dedup.config import AlignConfig, RunConfig, SemanticConfig
from dedup.pipeline import scan

pytestmark = pytest.mark.semantic


def _name(path: str) -> str:
    return Path(path).name[:3]


def test_seed_rewrites_are_one_cluster_of_paraphrases(seeds_dir: Path, tmp_path: Path) -> None:
    seeds = sorted(seeds_dir.glob("0*.txt"))
    result = scan(seeds, tmp_path / "run", config=RunConfig())
    found = {
        (_name(a), _name(b)): rel
        for a, b, rel in result.pairs.select("path_a", "path_b", "relation").iter_rows()
    }
    assert set(found) == {("000", "001"), ("000", "002"), ("001", "002")}
    assert set(found.values()) <= {"paraphrase", "derivative"}
    assert result.clusters["cluster_id"].n_unique() == 1
    assert sorted(_name(p) for p in result.clusters["path"]) == ["000", "001", "002"]
    assert result.pairs["semantic"].min() > 0.5
    # every pair is aligned, and paraphrased sentences align as edits, not only add/drop
    aligned = pl.read_parquet(tmp_path / "run" / "alignments.parquet")
    assert aligned.select("doc_a", "doc_b").unique().height == 3
    assert (result.pairs["n_edited"] > 0).all()


def test_without_the_channel_the_rewrites_are_missed(seeds_dir: Path, tmp_path: Path) -> None:
    cfg = RunConfig(semantic=SemanticConfig(enabled=False), align=AlignConfig(enabled=False))
    result = scan(sorted(seeds_dir.glob("0*.txt")), tmp_path / "run", config=cfg)
    assert result.pairs.height == 0
    assert result.manifest["stages"]["semantic"]["ran"] is False


def test_copies_beyond_the_exact_group_limit_stay_exact(seeds_dir: Path, tmp_path: Path) -> None:
    from dedup.config import VerifyConfig

    text = (seeds_dir / "000_654cfb4831939a43.txt").read_text(encoding="utf-8")
    d = tmp_path / "copies"
    d.mkdir()
    for i in range(6):
        (d / f"copy{i}.txt").write_text(text, encoding="utf-8")
    cfg = RunConfig(verify=VerifyConfig(max_exact_group=3), align=AlignConfig(enabled=False))
    pairs = scan([d], tmp_path / "run", config=cfg).pairs
    # the group of 6 gives only star pairs lexically; the semantic channel finds the rest,
    # and they are labelled by the same rules: exact, never paraphrase
    assert pairs.height == 15
    assert set(pairs["relation"]) == {"exact"}
