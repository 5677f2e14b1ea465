"""``dedup scan --vector-cache``: a second scan reads the sentence vectors the first kept, and
writes the same tables."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from dedup.errors import ConfigError
from dedup.pipeline import scan

TABLES = ("pairs", "alignments", "passages", "clusters")


def assert_same_tables(one: Path, two: Path) -> None:
    """The two runs' tables are equal, float columns within 1e-5 (bfloat16 batch noise)."""
    for name in TABLES:
        a = pl.read_parquet(one / f"{name}.parquet")
        b = pl.read_parquet(two / f"{name}.parquet")
        floats = [c for c, t in a.schema.items() if t in (pl.Float32, pl.Float64)]
        assert a.drop(floats).equals(b.drop(floats)), name
        for c in floats:
            assert b[c].to_numpy() == pytest.approx(a[c].to_numpy(), abs=1e-5, nan_ok=True)


def test_environment_variable_sets_the_cache(
    seeds_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    import dedup.pipeline
    from dedup.cli import app

    seen: list[object] = []

    def fake_scan(*args: object, **kwargs: object) -> None:
        seen.append(kwargs["vector_cache"])
        raise ConfigError("stop here")

    monkeypatch.setattr(dedup.pipeline, "scan", fake_scan)
    monkeypatch.setenv("DEDUP_VECTOR_CACHE", str(tmp_path / "env"))
    out = str(tmp_path / "r")
    for extra in ([], ["--vector-cache", str(tmp_path / "opt")], ["--engine", "ray"]):
        CliRunner().invoke(app, ["scan", str(seeds_dir), "--out", out, *extra])
    # the variable, the option over it, and the variable for a Ray scan too
    assert seen == [tmp_path / "env", tmp_path / "opt", tmp_path / "env"]
    monkeypatch.setenv("DEDUP_VECTOR_CACHE", "~/vectors")  # as a shell would expand it
    CliRunner().invoke(app, ["scan", str(seeds_dir), "--out", out])
    assert seen[-1] == Path.home() / "vectors"


def test_a_cache_folder_inside_the_corpus_is_not_read(tmp_path: Path) -> None:
    """The vector store is an output of the scan: its files are never documents, and its
    growth changes no document."""
    from dedup.config import RunConfig, SemanticConfig

    corpus = tmp_path / "c"
    (corpus / "vectors" / "m").mkdir(parents=True)
    (corpus / "vectors" / "m" / "0a.npz").write_bytes(b"PK\x03\x04 not text")
    (corpus / "a.txt").write_text("Some words of a short document. " * 20)
    cfg = RunConfig(semantic=SemanticConfig(enabled=False))
    result = scan([corpus], tmp_path / "r", config=cfg, vector_cache=corpus / "vectors")
    docs = result.documents.filter(pl.col("status") == "ok")
    assert docs["path"].to_list() == [str(corpus / "a.txt")]
    assert "inside this command's output folder" in " ".join(
        result.documents["reason"].drop_nulls().to_list()
    )


@pytest.mark.semantic
@pytest.mark.slow
def test_second_scan_reads_the_kept_vectors(
    seeds_dir: Path, tmp_path: Path, encoded: list[str]
) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("sentence_transformers")
    from typer.testing import CliRunner

    from dedup.cli import app
    from dedup.semantic import encoder
    from dedup.text.segment import split_sentences

    cache = tmp_path / "vc"
    seeds = sorted(seeds_dir.glob("*.txt"))
    sentences = {s.text for p in seeds for s in split_sentences(p.read_text(encoding="utf-8"))}

    def fresh_scan(out: str, *args: str) -> dict[str, object]:
        encoder._EMBEDDERS.clear()  # as in a new process: nothing cached
        encoded.clear()
        res = CliRunner().invoke(
            app, ["scan", str(seeds_dir), "--out", str(tmp_path / out), "--quiet", *args]
        )
        assert res.exit_code == 0, res.output
        manifest = json.loads((tmp_path / out / "manifest.json").read_text())
        return dict(manifest["stages"]["semantic"])

    first = fresh_scan("one", "--vector-cache", str(cache))
    assert first["stored_documents"] == 0
    assert sentences & set(encoded)
    kept = len(list(cache.rglob("*.npz")))  # one file per candidate document
    assert kept >= 3
    assert first["vector_cache_written"] >= kept  # some rewritten with joined sentences

    second = fresh_scan("two", "--vector-cache", str(cache))
    assert second["stored_documents"] == kept
    assert second["vector_cache_written"] == 0  # nothing new to keep
    assert second["verify_chars"] == 0  # nothing left for the transformer's budget
    # the documents' sentences, and the joined ones the aligner scored for merges and splits,
    # all come from the cache: the transformer encodes nothing
    assert encoded == []
    assert second["accepted"] == first["accepted"]
    assert_same_tables(tmp_path / "one", tmp_path / "two")

    # without the option nothing is read or written there
    before = sorted(cache.rglob("*.npz"))
    fresh_scan("three")
    assert sentences & set(encoded)
    assert sorted(cache.rglob("*.npz")) == before


@pytest.mark.semantic
@pytest.mark.slow
def test_a_scan_killed_while_aligning_keeps_its_sentences_and_resume_reads_them(
    seeds_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, encoded: list[str]
) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("sentence_transformers")
    from dedup.engines import local
    from dedup.semantic import encoder
    from dedup.text.segment import split_sentences

    cache = tmp_path / "vc"
    scan([seeds_dir], tmp_path / "clean")

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("killed in align")

    encoder._EMBEDDERS.clear()
    with monkeypatch.context() as m:
        m.setattr(local, "align_stage", boom)
        with pytest.raises(RuntimeError, match="killed in align"):
            scan([seeds_dir], tmp_path / "run", vector_cache=cache)
    assert len(list(cache.rglob("*.npz"))) >= 3  # written after verification

    encoder._EMBEDDERS.clear()  # as in a new process
    encoded.clear()
    result = scan([seeds_dir], tmp_path / "run", vector_cache=cache, resume=True)
    sentences = {
        s.text
        for p in sorted(seeds_dir.glob("*.txt"))
        for s in split_sentences(p.read_text(encoding="utf-8"))
    }
    assert encoded  # the joined sentences of merges and splits, not kept before the kill
    assert not sentences & set(encoded)
    assert result.manifest["stages"]["semantic"]["vector_cache_written"] >= 1
    assert_same_tables(tmp_path / "clean", tmp_path / "run")
