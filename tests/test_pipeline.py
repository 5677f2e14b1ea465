from __future__ import annotations

import json
import random
import re
from collections import Counter
from pathlib import Path

import polars as pl
import pytest

from dedup import schema
from dedup.config import AlignConfig, LSHConfig, OverlapConfig, RunConfig, SemanticConfig
from dedup.errors import ConfigError, InputError, OutputError
from dedup.pipeline import scan

LEXICAL = RunConfig(semantic=SemanticConfig(enabled=False), align=AlignConfig(enabled=False))


def _words(rng: random.Random, n: int) -> list[str]:
    vocab = [f"w{i}" for i in range(5000)]
    return [rng.choice(vocab) for _ in range(n)]


def _text(words: list[str]) -> str:
    return ". ".join(" ".join(words[i : i + 12]).capitalize() for i in range(0, len(words), 12))


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    rng = random.Random(3)
    d = tmp_path / "corpus"
    d.mkdir()
    base = _words(rng, 400)
    (d / "a_source.txt").write_text(_text(base))
    (d / "b_copy.txt").write_text(_text(base).upper() + "\n\n")  # same canonical text
    near = list(base)
    for i in range(0, 400, 100):
        near[i] = "changed"
    (d / "c_near.txt").write_text(_text(near) + " Subscribe to our newsletter.")
    passage = _words(rng, 300)
    (d / "d_passage.txt").write_text(_text(passage))
    host = _words(rng, 2400) + passage + _words(rng, 2300)
    (d / "e_host.txt").write_text(_text(host))
    for i in range(5):
        (d / f"z_other{i}.txt").write_text(_text(_words(rng, 300)))
    return d


def _pairs(result_pairs: pl.DataFrame) -> dict[tuple[str, str], str]:
    return {
        (Path(a).name, Path(b).name): rel
        for a, b, rel in result_pairs.select("path_a", "path_b", "relation").iter_rows()
    }


def test_planted_kinds_are_found_and_nothing_else(corpus: Path, tmp_path: Path) -> None:
    result = scan([corpus], tmp_path / "run", config=LEXICAL)
    pairs = _pairs(result.pairs)
    assert pairs[("a_source.txt", "b_copy.txt")] == "exact"
    assert pairs[("a_source.txt", "c_near.txt")] == "near_duplicate"
    assert pairs[("b_copy.txt", "c_near.txt")] == "near_duplicate"
    assert pairs[("d_passage.txt", "e_host.txt")] == "partial"
    assert len(pairs) == 4
    row = result.pairs.filter(pl.col("relation") == "partial").row(0, named=True)
    assert row["containment_a"] > 0.95
    assert row["jaccard"] < 0.1
    assert row["source"] == row["doc_a"]  # the passage is the contained text
    clusters = result.clusters.group_by("cluster_id").agg(pl.col("path").count())
    assert sorted(clusters["path"].to_list()) == [2, 3]


def test_tables_on_disk_have_the_schemas(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    scan([corpus], out, config=LEXICAL)
    for name, sch in schema.TABLES.items():
        if name == "alignments":
            continue
        assert pl.read_parquet(out / f"{name}.parquet").schema == sch
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["fingerprint"] == LEXICAL.fingerprint()
    assert manifest["counts"]["documents"] == 10
    assert set(manifest["seconds"]) >= {
        "read+shingle+minhash",
        "candidates+verify",
        "cluster",
        "write",
    }
    assert set(manifest["seconds_detail"]) >= {"read", "shingle", "minhash"}
    assert manifest["rows"]["read+shingle+minhash"] == 10


def _word_overlap(got: str, want: str) -> float:
    a, b = (Counter(re.findall(r"\w+", t.lower())) for t in (got, want))
    return sum((a & b).values()) / max(sum(a.values()), sum(b.values()))


def test_planted_passage_is_a_row_of_the_passages_table(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = scan([corpus], out, config=RunConfig(semantic=SemanticConfig(enabled=False)))
    ids = {Path(p).name: i for i, p in result.documents.select("doc_id", "path").iter_rows()}
    passages = pl.read_parquet(out / "passages.parquet")
    assert passages.schema == schema.PASSAGES
    aligned = set(pl.read_parquet(out / "alignments.parquet").select("doc_a", "doc_b").rows())
    assert set(passages.select("doc_a", "doc_b").rows()) <= aligned
    pair = passages.filter(
        (pl.col("doc_a") == ids["d_passage.txt"]) & (pl.col("doc_b") == ids["e_host.txt"])
    )
    assert pair.height >= 1
    row = pair.sort("n_words", descending=True).row(0, named=True)
    planted = (corpus / "d_passage.txt").read_text()
    host = (corpus / "e_host.txt").read_text()
    assert _word_overlap(planted[row["a_start"] : row["a_end"]], planted) >= 0.9
    assert _word_overlap(host[row["b_start"] : row["b_end"]], planted) >= 0.9
    assert row["n_words"] >= 270
    unrelated = passages.filter(
        pl.col("doc_a").is_in([ids[f"z_other{i}.txt"] for i in range(5)])
        | pl.col("doc_b").is_in([ids[f"z_other{i}.txt"] for i in range(5)])
    )
    assert unrelated.height == 0
    per_pair = passages.group_by("doc_a", "doc_b").len()
    counted = result.pairs.join(per_pair, on=["doc_a", "doc_b"], how="left")
    assert counted["n_passages"].null_count() == 0  # every pair is aligned here
    assert counted["n_passages"].to_list() == counted["len"].fill_null(0).to_list()


def test_without_overlap_the_passage_is_missed(corpus: Path, tmp_path: Path) -> None:
    cfg = RunConfig(
        overlap=OverlapConfig(enabled=False),
        semantic=SemanticConfig(enabled=False),
        align=AlignConfig(enabled=False),
    )
    pairs = _pairs(scan([corpus], tmp_path / "run", config=cfg).pairs)
    assert ("d_passage.txt", "e_host.txt") not in pairs


def test_same_tables_whatever_the_batch_size(corpus: Path, tmp_path: Path) -> None:
    a = scan([corpus], tmp_path / "a", config=LEXICAL)
    b = scan(
        [corpus],
        tmp_path / "b",
        config=RunConfig(
            batch_size=3, semantic=SemanticConfig(enabled=False), align=AlignConfig(enabled=False)
        ),
    )
    assert a.pairs.equals(b.pairs)
    assert a.clusters.equals(b.clusters)


def test_bad_config_and_paths_raise_domain_errors(corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        scan([corpus], tmp_path / "r", config=RunConfig(lsh=LSHConfig(threshold=0)))
    with pytest.raises(ConfigError):
        scan([corpus], tmp_path / "r", config=RunConfig(lsh=LSHConfig(bands=20, rows=10)))
    with pytest.raises(InputError):
        scan([tmp_path / "missing"], tmp_path / "r2", config=LEXICAL)
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(OutputError):
        scan([corpus], a_file, config=LEXICAL)


def test_rerun_with_another_config_needs_overwrite(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    scan([corpus], out, config=LEXICAL)
    other = RunConfig(
        lsh=LSHConfig(threshold=0.7),
        semantic=SemanticConfig(enabled=False),
        align=AlignConfig(enabled=False),
    )
    with pytest.raises(OutputError, match="another config"):
        scan([corpus], out, config=other)
    scan([corpus], out, config=other, overwrite=True)
    assert json.loads((out / "manifest.json").read_text())["fingerprint"] == other.fingerprint()


def test_sampled_overlap_index_still_finds_the_passage(corpus: Path, tmp_path: Path) -> None:
    cfg = RunConfig(
        overlap=OverlapConfig(full_index_max=0, sample=8),
        semantic=SemanticConfig(enabled=False),
        align=AlignConfig(enabled=False),
    )
    pairs = _pairs(scan([corpus], tmp_path / "run", config=cfg).pairs)
    assert pairs[("d_passage.txt", "e_host.txt")] == "partial"


def test_package_exposes_scan(corpus: Path, tmp_path: Path) -> None:
    import dedup

    result = dedup.scan([corpus], tmp_path / "run", config=LEXICAL)
    assert isinstance(result, dedup.ScanResult)
    assert result.pairs.height == 4


def test_an_input_given_twice_is_read_once(corpus: Path, tmp_path: Path) -> None:
    source = corpus / "a_source.txt"
    once = scan([corpus], tmp_path / "once", config=LEXICAL)
    twice = scan(
        [corpus, Path(f"{corpus}/"), source, corpus / ".." / corpus.name],
        tmp_path / "t",
        config=LEXICAL,
    )
    assert twice.documents.height == once.documents.height
    assert twice.pairs.select("doc_a", "doc_b", "relation").equals(
        once.pairs.select("doc_a", "doc_b", "relation")
    )


def test_containment_rules_hold_without_the_overlap_channel(tmp_path: Path) -> None:
    rng = random.Random(5)
    d = tmp_path / "c"
    d.mkdir()
    base = _words(rng, 600)
    (d / "a.txt").write_text(_text(base))
    # B keeps 60% of A and adds 40% new words: Jaccard ~0.43 < 0.5, both containments ~0.6
    (d / "b.txt").write_text(_text(base[:360] + _words(rng, 240)))
    for i in range(3):
        (d / f"z{i}.txt").write_text(_text(_words(rng, 300)))
    cfg = RunConfig(
        lsh=LSHConfig(bands=64, rows=2),
        overlap=OverlapConfig(enabled=False),
        semantic=SemanticConfig(enabled=False),
        align=AlignConfig(enabled=False),
    )
    pairs = scan([d], tmp_path / "run", config=cfg).pairs
    assert pairs.height == 1
    row = pairs.row(0, named=True)
    assert row["channel"] == "lsh"
    assert row["jaccard"] < 0.5
    assert min(row["containment_a"], row["containment_b"]) >= 0.5
    assert row["relation"] == "derivative"
