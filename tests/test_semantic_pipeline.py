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
    # the relation comes from passages: each pair has paraphrased passages covering a good
    # share of the shorter text, though its document-level score alone would not accept it
    assert (result.pairs["n_passages"] >= 1).all()
    shorter = result.pairs.select(pl.max_horizontal("passage_share_a", "passage_share_b"))
    assert shorter.to_series().min() > 0.3
    assert result.pairs["semantic"].min() < SemanticConfig().score_threshold
    passages = pl.read_parquet(tmp_path / "run" / "passages.parquet")
    assert set(passages["kind"]) == {"paraphrase"}
    # every pair is aligned, and paraphrased sentences align as edits, not only add/drop
    aligned = pl.read_parquet(tmp_path / "run" / "alignments.parquet")
    assert aligned.select("doc_a", "doc_b").unique().height == 3
    assert (result.pairs["n_edited"] > 0).all()


def test_independent_coverage_is_not_reported(seeds_dir: Path, tmp_path: Path) -> None:
    """003 covers the same crisis independently: same topic, high document cosine, but no
    in-order run of matched sentences, so no pair with it, even when every candidate of the
    semantic channel reaches the aligner."""
    result = scan(sorted(seeds_dir.glob("0*.txt")), tmp_path / "run", config=RunConfig())
    ends = [*result.pairs["path_a"], *result.pairs["path_b"]]
    assert ends
    assert not any(_name(p) == "003" for p in ends)
    assert result.manifest["stages"]["semantic"]["verified"] >= 4


def test_without_alignment_the_rewrite_rule_decides(
    seeds_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``--no-align`` a candidate is a paraphrase exactly when the aligner's rewrite rule
    holds on its sentences (checked against :func:`dedup.align.precheck.reworded` on every
    pair of the seeds, all candidates in so small a corpus), and the text is read once: no
    chunk vectors. The three rewrites are found, nothing with 003."""
    from itertools import combinations

    from dedup.align.precheck import reworded
    from dedup.config import DerivationConfig, PassageConfig
    from dedup.semantic import embed
    from dedup.semantic.encoder import sentence_embedder
    from dedup.text.segment import split_sentences

    def no_second_pass(*args: object, **kwargs: object) -> None:
        raise AssertionError("the candidates' text was read a second time")

    monkeypatch.setattr(embed, "embed_documents", no_second_pass)
    seeds = sorted(seeds_dir.glob("0*.txt"))
    cfg = RunConfig(semantic=SemanticConfig(precision="float32"), align=AlignConfig(enabled=False))
    result = scan(seeds, tmp_path / "run", config=cfg)
    found = {
        (_name(a), _name(b)): rel
        for a, b, rel in result.pairs.select("path_a", "path_b", "relation").iter_rows()
    }
    encoder = sentence_embedder(None, precision="float32")
    sents = {_name(str(p)): [s.text for s in split_sentences(p.read_text("utf-8"))] for p in seeds}
    rule = {
        (a, b)
        for a, b in combinations(sorted(sents), 2)
        if reworded(
            sents[a],
            sents[b],
            embed=encoder.embed,
            passage=PassageConfig(),
            derivation=DerivationConfig(),
        )
    }
    assert set(found) == rule == {("000", "001"), ("000", "002"), ("001", "002")}
    assert set(found.values()) == {"paraphrase"}
    notes = result.manifest["stages"]["semantic"]
    assert notes["accepted"] == 3
    assert notes["verified"] == 6
    assert notes["verify_chars"] == sum(p.stat().st_size for p in seeds)


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
