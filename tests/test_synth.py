"""Tests of the synthetic corpus generator, checked against naive recomputations."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.errors import ConfigError, OutputError
from dedup.synth.generate import KINDS, PlantRates, exact_word_shingle_stats, synthesize
from dedup.synth.sinks import doc_path

ALL = ("txt", "jsonl", "parquet")


def naive_stats(a: str, b: str, k: int = 5) -> tuple[float, float, float]:
    """Sets of word tuples, straight from the definition."""

    def shingles(text: str) -> set[tuple[str, ...]]:
        w = re.findall(r"\w+", text.lower())
        if len(w) < k:
            return {tuple(w)} if w else set()
        return {tuple(w[i : i + k]) for i in range(len(w) - k + 1)}

    sa, sb = shingles(a), shingles(b)
    inter, union = len(sa & sb), len(sa | sb)
    return (
        inter / union if union else 0.0,
        inter / len(sa) if sa else 0.0,
        inter / len(sb) if sb else 0.0,
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    synthesize(out, docs=600, seed=7, formats=ALL)
    return out


@pytest.fixture(scope="module")
def truth(corpus: Path) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = pq.read_table(corpus / "truth.parquet").to_pylist()
    return rows


def read(corpus: Path, rel: object) -> str:
    return (corpus / str(rel)).read_text(encoding="utf-8")


def tree(root: Path) -> Iterator[tuple[str, bytes]]:
    for p in sorted(root.rglob("*")):
        if p.is_file():
            yield str(p.relative_to(root)), p.read_bytes()


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    synthesize(tmp_path / "a", docs=200, seed=3, formats=ALL)
    synthesize(tmp_path / "b", docs=200, seed=3, formats=ALL)
    synthesize(tmp_path / "c", docs=200, seed=4, formats=("jsonl",))
    a = list(tree(tmp_path / "a"))
    assert a == list(tree(tmp_path / "b"))
    assert len(a) == 200 + 4
    assert dict(a)["truth.parquet"] != dict(tree(tmp_path / "c"))["truth.parquet"]


def test_worker_processes_change_nothing(tmp_path: Path) -> None:
    synthesize(tmp_path / "one", docs=2100, seed=5, formats=("jsonl",), workers=1)
    synthesize(tmp_path / "two", docs=2100, seed=5, formats=("jsonl",), workers=2)
    assert list(tree(tmp_path / "one")) == list(tree(tmp_path / "two"))


def test_counts(corpus: Path, truth: list[dict[str, object]]) -> None:
    meta = json.loads((corpus / "synth.json").read_text())
    counts = meta["counts"]
    assert sum(counts.values()) == 600
    assert all(counts[k] > 0 for k in KINDS)
    assert len(truth) == meta["pairs"] == sum(counts[k] for k in KINDS)
    assert 0.15 < len(truth) / 600 < 0.25  # default rates sum to 0.20
    assert len(list((corpus / "docs").rglob("*.txt"))) == 600
    assert [d.name for d in (corpus / "docs").iterdir()] == ["0000"]
    assert sorted(r["id_b"] for r in truth) == sorted({r["id_b"] for r in truth})
    assert len({r["id_a"] for r in truth}) == len(truth)  # a source is used once
    assert all(0 < int(r["id_b"]) - int(r["id_a"]) < 3 * 128 for r in truth)  # type: ignore[call-overload]


def test_truth_matches_recomputation(corpus: Path, truth: list[dict[str, object]]) -> None:
    for r in truth:
        a, b = read(corpus, r["path_a"]), read(corpus, r["path_b"])
        expected = naive_stats(a, b)
        got = (r["jaccard"], r["containment_a"], r["containment_b"])
        assert got == pytest.approx(expected, abs=1e-12), r


def test_kinds_have_their_similarity(corpus: Path, truth: list[dict[str, object]]) -> None:
    by_kind: dict[str, list[float]] = {k: [] for k in KINDS}
    for r in truth:
        by_kind[str(r["kind"])].append(float(r["jaccard"]))  # type: ignore[arg-type]
        if r["kind"] == "exact":
            assert read(corpus, r["path_a"]) == read(corpus, r["path_b"])
    assert set(by_kind["exact"]) == {1.0}
    assert min(by_kind["near_duplicate"]) > 0.6
    assert max(by_kind["near_duplicate"]) < 1.0
    assert min(by_kind["derivative"]) > 0.15
    assert max(by_kind["derivative"]) < 0.95
    assert max(by_kind["partial"]) < 0.35


def test_partial_pairs_hold_the_passage(corpus: Path, truth: list[dict[str, object]]) -> None:
    partial = [r for r in truth if r["kind"] == "partial"]
    assert partial
    for r in partial:
        a, b = read(corpus, r["path_a"]), read(corpus, r["path_b"])
        passage = a[int(r["a_start"]) : int(r["a_end"])]  # type: ignore[call-overload]
        assert passage == b[int(r["b_start"]) : int(r["b_end"])]  # type: ignore[call-overload]
        assert min(200, len(a.split())) <= len(passage.split()) < 430
        assert naive_stats(passage, b)[1] == 1.0  # the passage's shingles are all in B
        assert float(r["containment_b"]) < 0.35  # type: ignore[arg-type]
        assert float(r["containment_a"]) > 0.1  # type: ignore[arg-type]
    others = [r for r in truth if r["kind"] != "partial"]
    assert all(r["a_start"] is None and r["b_end"] is None for r in others)


def test_unplanted_pairs_are_dissimilar(corpus: Path, truth: list[dict[str, object]]) -> None:
    planted = {(r["id_a"], r["id_b"]) for r in truth}
    rng = random.Random(0)
    jaccards = []
    while len(jaccards) < 150:
        i, j = sorted(rng.sample(range(600), 2))
        if (i, j) not in planted:
            a, b = read(corpus, doc_path(i, 600)), read(corpus, doc_path(j, 600))
            jaccards.append(exact_word_shingle_stats(a, b)[0])
    assert max(jaccards) < 0.05
    assert float(np.mean(jaccards)) < 0.005


def test_formats_hold_the_same_texts(corpus: Path) -> None:
    lines = (corpus / "docs.jsonl").read_text(encoding="utf-8").splitlines()
    jsonl = [json.loads(line) for line in lines]
    table = pq.read_table(corpus / "docs.parquet").to_pylist()
    assert [d["id"] for d in jsonl] == [d["id"] for d in table] == list(range(600))
    for doc, row in zip(jsonl, table, strict=True):
        assert doc["text"] == row["text"] == read(corpus, doc_path(doc["id"], 600))


def test_text_looks_like_prose(corpus: Path) -> None:
    meta = json.loads((corpus / "synth.json").read_text())
    texts = [read(corpus, doc_path(i, 600)) for i in range(600)]
    originals = [t for t in texts if t.isascii()]
    assert abs(np.mean([len(t) for t in originals]) / meta["params"]["mean_chars"] - 1) < 0.5
    for text in texts[:50]:
        assert "\n\n" in text or len(text) < 600
        for para in text.split("\n\n"):
            for sentence in re.split(r"(?<=[.?!]) ", para):
                n = len(sentence.split(" "))
                assert sentence[0].isupper()
                assert sentence[-1] in ".?!"
                assert 3 <= n <= 40, sentence
    counts: dict[str, int] = {}
    for t in texts:
        for w in re.findall(r"\w+", t.lower()):
            counts[w] = counts.get(w, 0) + 1
    freq = sorted(counts.values(), reverse=True)
    assert 0.04 < freq[0] / sum(freq) < 0.15  # Zipf: the top word is ~1/H(50,000) of text
    assert freq[0] / freq[9] == pytest.approx(10, rel=0.5)


def test_interrupted_run_leaves_earlier_outputs(tmp_path: Path) -> None:
    synthesize(tmp_path, docs=100, seed=1, formats=("txt", "parquet"))
    before = list(tree(tmp_path))

    def stop(n: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        synthesize(tmp_path, docs=150, seed=2, formats=ALL, progress=stop)
    assert list(tree(tmp_path)) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["docs", "docs.parquet", "truth.parquet", "synth.json"]
    )


def test_rerun_replaces_outputs_and_drops_other_formats(tmp_path: Path) -> None:
    synthesize(tmp_path, docs=50, seed=1, formats=ALL)
    seen: list[int] = []
    s = synthesize(tmp_path, docs=30, seed=1, formats=("jsonl",), progress=seen.append)
    assert seen == [30]
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["docs.jsonl", "synth.json", "truth.parquet"]
    assert len((tmp_path / "docs.jsonl").read_text().splitlines()) == 30
    assert s.docs == 30
    assert sum(s.counts.values()) == 30
    assert s.mb_per_s > 0


def test_refuses_foreign_folder_and_bad_parameters(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(OutputError):
        synthesize(tmp_path, docs=10)
    with pytest.raises(ConfigError):
        synthesize(tmp_path / "x", docs=10, rates=PlantRates(exact=0.5, partial=0.1))
    with pytest.raises(ConfigError):
        synthesize(tmp_path / "x", docs=10, formats=("csv",))
    with pytest.raises(ConfigError):
        exact_word_shingle_stats("a", "b", k=0)


def test_zero_rates_and_zero_docs(tmp_path: Path) -> None:
    none = PlantRates(exact=0, near_duplicate=0, derivative=0, partial=0)
    s = synthesize(tmp_path / "a", docs=20, rates=none)
    assert s.counts == {"original": 20}
    assert s.pairs == 0
    assert pq.read_table(tmp_path / "a" / "truth.parquet").num_rows == 0
    s = synthesize(tmp_path / "b", docs=0, formats=ALL)
    assert s.pairs == 0
    assert (tmp_path / "b" / "docs").is_dir()


def test_doc_path() -> None:
    assert doc_path(123, 10) == "docs/0000/000123.txt"
    assert doc_path(999_999, 1_000_000) == "docs/0999/999999.txt"
    assert doc_path(12_345_678, 20_000_000) == "docs/12345/12345678.txt"


words = st.sampled_from(["a", "b", "c", "Dé", "e_f", "x1", "ß", "İ"])
texts = st.lists(words, max_size=30).map(lambda w: ", ".join(w) + ".")


@settings(max_examples=200, deadline=None)
@given(texts, texts, st.integers(1, 14))
def test_shingle_stats_match_sets(a: str, b: str, k: int) -> None:
    assert exact_word_shingle_stats(a, b, k) == pytest.approx(naive_stats(a, b, k), abs=1e-12)


def test_shingle_stats_on_long_texts() -> None:
    rng = random.Random(5)
    vocab = [f"w{i}" for i in range(5000)]
    a = " ".join(rng.choice(vocab) for _ in range(6000))
    b = a[: len(a) // 2] + " " + " ".join(rng.choice(vocab) for _ in range(3000))
    for k in (1, 5, 9):  # 9 x 14 bits > 64: the row path
        assert exact_word_shingle_stats(a, b, k) == pytest.approx(naive_stats(a, b, k))


def test_the_cli_bar_reaches_the_total_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """synthesize reports documents written so far; the bar adds only what is new."""
    from typer.testing import CliRunner

    from dedup.cli import app, tools

    steps: list[int] = []

    class Bar:
        def __init__(self, *args: object, **kwargs: object) -> None:
            pass

        def __enter__(self) -> Bar:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def stage(self, name: str, total: int | None = None) -> None:
            pass

        def advance(self, n: int = 1) -> None:
            steps.append(n)

    monkeypatch.setattr(tools, "BarProgress", Bar)
    res = CliRunner().invoke(app, ["synth", str(tmp_path / "s"), "--docs", "2500", "--seed", "1"])
    assert res.exit_code == 0, res.output
    assert sum(steps) == 2500
    assert all(n > 0 for n in steps)


def test_mean_chars_outside_its_bounds_is_refused(tmp_path: Path) -> None:
    from dedup.errors import ConfigError

    for mean in (499, 100_001):
        with pytest.raises(ConfigError, match="mean_chars in"):
            synthesize(tmp_path / f"s{mean}", docs=3, seed=0, mean_chars=mean)
