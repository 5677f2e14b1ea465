"""A passage reused inside two long texts, a small share of both: found as ``partial`` with
its offsets, which the document-level rules could not do."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from dedup.config import AlignConfig, RunConfig, SemanticConfig
from dedup.pipeline import scan
from dedup.text.segment import split_sentences

CLOUGH = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "clough-stevenson" / "texts"


def _long(tasks: str) -> str:
    """A long English text: the source articles of Clough–Stevenson tasks, joined."""
    return "\n\n".join(
        (CLOUGH / f"orig_task{t}.txt").read_text(encoding="utf-8", errors="replace") for t in tasks
    )


def _corpus(tmp_path: Path, seeds_dir: Path) -> tuple[Path, str]:
    article = (seeds_dir / "000_654cfb4831939a43.txt").read_text(encoding="utf-8")
    sents = [s.text for s in split_sentences(article)]
    passage = " ".join(sents[2:5])  # about 70 words
    d = tmp_path / "corpus"
    d.mkdir()
    one, two = _long("ab"), _long("cde")
    (d / "one.txt").write_text(
        one[: len(one) // 2] + "\n\n" + passage + "\n\n" + one[len(one) // 2 :],
        encoding="utf-8",
    )
    (d / "two.txt").write_text(two[:900] + "\n\n" + passage + "\n\n" + two[900:], encoding="utf-8")
    return d, passage


def test_passage_inside_two_long_texts(tmp_path: Path, seeds_dir: Path) -> None:
    corpus, passage = _corpus(tmp_path, seeds_dir)
    cfg = RunConfig(semantic=SemanticConfig(enabled=False))
    result = scan([corpus], tmp_path / "run", config=cfg)
    assert result.pairs.height == 1
    pair = result.pairs.row(0, named=True)
    assert pair["relation"] == "partial"
    assert max(pair["containment_a"], pair["containment_b"]) < 0.2  # a small share of both
    assert pair["passage_share_a"] < 0.2
    passages = pl.read_parquet(tmp_path / "run" / "passages.parquet")
    texts = {p: Path(p).read_text(encoding="utf-8") for p in (pair["path_a"], pair["path_b"])}
    found = passages.row(0, named=True)
    assert texts[pair["path_a"]][found["a_start"] : found["a_end"]].strip() == passage
    assert texts[pair["path_b"]][found["b_start"] : found["b_end"]].strip() == passage
    assert found["kind"] == "verbatim"


def test_without_alignment_the_passage_is_missed(tmp_path: Path, seeds_dir: Path) -> None:
    """The document-level rules (``--no-align``) see a containment far below 0.5."""
    corpus, _ = _corpus(tmp_path, seeds_dir)
    cfg = RunConfig(semantic=SemanticConfig(enabled=False), align=AlignConfig(enabled=False))
    assert scan([corpus], tmp_path / "run", config=cfg).pairs.height == 0


def test_min_passage_sets_how_long_a_reused_passage_must_be(
    tmp_path: Path, seeds_dir: Path
) -> None:
    """The passage is about 70 words: partial at --min-passage 50, not at 100."""
    from typer.testing import CliRunner

    from dedup.cli import app

    corpus, _ = _corpus(tmp_path, seeds_dir)
    runner = CliRunner()
    for words, expected in ((50, 1), (100, 0)):
        out = tmp_path / f"run{words}"
        args = ["scan", str(corpus), "--out", str(out), "--no-semantic", "-q"]
        result = runner.invoke(app, [*args, "--min-passage", str(words)])
        assert result.exit_code == 0, result.output
        assert pl.read_parquet(out / "pairs.parquet").height == expected
