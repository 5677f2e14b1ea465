"""scan(resume=True): stage checkpoints are reused only when config and inputs match."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from dedup.config import LSHConfig, RunConfig, SemanticConfig
from dedup.engines import local as pipeline
from dedup.engines.checkpoint import MARKER, STAGES
from dedup.io.options import ReadOptions
from dedup.pipeline import scan
from dedup.run import input_signature
from tests.corpora import corpus_texts, write_corpus

CFG = RunConfig(semantic=SemanticConfig(enabled=False))
TABLES = ("documents", "pairs", "clusters", "alignments", "passages")


class Recorder:
    """A Progress that keeps the messages."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def stage(self, name: str, total: int | None = None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def message(self, text: str) -> None:
        self.messages.append(text)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus", corpus_texts(120, seed=5))


def tables(run: Path) -> dict[str, pl.DataFrame]:
    return {name: pl.read_parquet(run / f"{name}.parquet") for name in TABLES}


def assert_same_tables(a: Path, b: Path) -> None:
    ta, tb = tables(a), tables(b)
    for name in TABLES:
        assert ta[name].equals(tb[name]), name
    assert ta["pairs"].height > 10


def crash_in_align(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("killed in align")

    monkeypatch.setattr(pipeline, "align_stage", boom)


def interrupted(corpus: Path, run: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``run`` after a scan of ``corpus`` killed while aligning (its checkpoints written)."""
    with monkeypatch.context() as m:
        crash_in_align(m)
        with pytest.raises(RuntimeError, match="killed in align"):
            scan([corpus], run, config=CFG)
    return run


def forbid(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    for name in names:

        def fail(*args: Any, _name: str = name, **kwargs: Any) -> Any:
            raise AssertionError(f"{_name} ran although its checkpoint is valid")

        monkeypatch.setattr(pipeline, name, fail)


def test_resume_skips_finished_stages_and_gives_the_same_tables(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scan([corpus], tmp_path / "clean", config=CFG)
    run = interrupted(corpus, tmp_path / "run", monkeypatch)
    assert not (run / "manifest.json").exists()
    assert (run / STAGES / "ingest" / MARKER).exists()
    assert (run / STAGES / "pairs" / MARKER).exists()
    rec = Recorder()
    with monkeypatch.context() as m:
        forbid(m, "ingest", "lexical_pairs")
        result = scan([corpus], run, config=CFG, resume=True, progress=rec)
    assert any("resumed: documents" in msg for msg in rec.messages)
    assert any("resumed: verified pairs" in msg for msg in rec.messages)
    assert_same_tables(tmp_path / "clean", run)
    assert result.manifest["counts"] == json.loads((run / "manifest.json").read_text())["counts"]
    assert not (run / STAGES).exists()  # checkpoints go once the run is complete
    # the manifest has every stage's keys, as a clean run's, and says where it resumed from
    clean = json.loads((tmp_path / "clean" / "manifest.json").read_text())
    assert set(result.manifest["seconds"]) == set(clean["seconds"])
    assert result.manifest["rows"] == clean["rows"]
    assert result.manifest["stages"]["resume"] == {"from": "verified pairs"}
    assert "resume" not in clean["stages"]


def test_resume_after_a_complete_run_finishes_at_once(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tmp_path / "run"
    first = scan([corpus], run, config=CFG)
    mtimes = {p.name: p.stat().st_mtime_ns for p in run.iterdir()}
    rec = Recorder()
    with monkeypatch.context() as m:
        forbid(m, "ingest", "lexical_pairs", "align_stage", "_write_tables")
        again = scan(
            [corpus],
            run,
            config=RunConfig(semantic=SemanticConfig(enabled=False)),
            resume=True,
            progress=rec,
        )
    assert any("nothing to do" in msg for msg in rec.messages)
    assert again.pairs.equals(first.pairs)
    assert again.documents.equals(first.documents)
    assert {p.name: p.stat().st_mtime_ns for p in run.iterdir()} == mtimes
    # workers and batch size do not change results: the run is still the same
    quick = scan([corpus], run, config=RunConfig(semantic=CFG.semantic, batch_size=7), resume=True)
    assert quick.manifest == first.manifest


def test_without_resume_checkpoints_are_ignored(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = interrupted(corpus, tmp_path / "run", monkeypatch)
    calls: list[int] = []
    real = pipeline.ingest

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "ingest", counting)
    scan([corpus], run, config=CFG)
    assert calls == [1]
    scan([corpus], run, config=CFG, resume=True)  # complete: no ingest either way
    assert calls == [1]


def test_changed_input_makes_checkpoints_stale(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = interrupted(corpus, tmp_path / "run", monkeypatch)
    victim = sorted(corpus.rglob("*_copy.txt"))[0]
    victim.write_text("An entirely different text now, nothing like its source.")
    scan([corpus], tmp_path / "clean", config=CFG)
    rec = Recorder()
    scan([corpus], run, config=CFG, resume=True, progress=rec)
    assert not any("resumed" in msg for msg in rec.messages)
    assert_same_tables(tmp_path / "clean", run)
    assert str(victim) not in set(pl.read_parquet(run / "pairs.parquet")["path_b"].to_list())
    # and a complete run is not taken for this one once an input changes
    victim.write_text("Changed once more, to yet another short text about nothing.")
    rec = Recorder()
    scan([corpus], run, config=CFG, resume=True, progress=rec)
    assert not any("nothing to do" in msg for msg in rec.messages)


def test_another_config_recomputes_every_stage(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = interrupted(corpus, tmp_path / "run", monkeypatch)
    other = RunConfig(semantic=CFG.semantic, lsh=LSHConfig(threshold=0.7))
    rec = Recorder()
    result = scan([corpus], run, config=other, resume=True, progress=rec)
    assert not any("resumed" in msg for msg in rec.messages)
    assert result.manifest["fingerprint"] == other.fingerprint()
    assert_same_tables(scan([corpus], tmp_path / "clean", config=other).out, run)


def test_damaged_checkpoint_is_recomputed(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scan([corpus], tmp_path / "clean", config=CFG)
    run = interrupted(corpus, tmp_path / "run", monkeypatch)
    ingest = run / STAGES / "ingest"
    (ingest / "keys.npy").write_bytes(b"not numpy")
    with (ingest / "shingles.u32").open("r+b") as f:
        f.truncate(8)
    rec = Recorder()
    result = scan([corpus], run, config=CFG, resume=True, progress=rec)
    # ingest is recomputed; the pairs checkpoint hung off the old ingest token, so it is too
    assert not any("resumed" in msg for msg in rec.messages)
    assert "resume" not in result.manifest["stages"]  # nothing was taken from a checkpoint
    assert_same_tables(tmp_path / "clean", run)


@pytest.mark.parametrize("name", ["texts.utf8", "rows.npy", "offsets.npy", "keys.npy"])
def test_same_size_damage_to_a_checkpoint_is_recomputed(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """Damage that keeps a file's size and still parses (a flipped byte range) is caught by
    the marker's digests: the stage is computed again, never used (wrong tables) nor a crash."""
    scan([corpus], tmp_path / "clean", config=CFG)
    run = interrupted(corpus, tmp_path / "run", monkeypatch)
    path = run / STAGES / "ingest" / name
    raw = bytearray(path.read_bytes())
    mid = len(raw) // 2
    raw[mid : mid + 8] = bytes(b ^ 0xFF for b in raw[mid : mid + 8])
    path.write_bytes(bytes(raw))
    rec = Recorder()
    scan([corpus], run, config=CFG, resume=True, progress=rec)
    assert not any("resumed" in msg for msg in rec.messages)
    assert_same_tables(tmp_path / "clean", run)


@pytest.mark.parametrize("damage", ["missing", "truncated"])
def test_a_complete_run_with_a_damaged_table_is_computed_again(
    corpus: Path, tmp_path: Path, damage: str
) -> None:
    run = tmp_path / "run"
    scan([corpus], run, config=CFG)
    clean = tables(run)
    for name in ("passages", "alignments"):
        path = run / f"{name}.parquet"
        if damage == "missing":
            path.unlink()
        else:
            path.write_bytes(path.read_bytes()[:100])
        rec = Recorder()
        scan([corpus], run, config=CFG, resume=True, progress=rec)
        assert not any("nothing to do" in msg for msg in rec.messages)
        assert tables(run)[name].equals(clean[name])


def test_checkpoint_marker_is_written_last(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stage killed while saving its arrays leaves no marker, so nothing is resumed."""
    run = tmp_path / "run"

    def half_save(*args: Any, **kwargs: Any) -> None:
        np.save(run / STAGES / "ingest" / "rows.npy", np.zeros(3, dtype=np.int64))
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(pipeline, "save_corpus", half_save)
        with pytest.raises(KeyboardInterrupt):
            scan([corpus], run, config=CFG)
    assert not (run / STAGES / "ingest" / MARKER).exists()
    rec = Recorder()
    scan([corpus], run, config=CFG, resume=True, progress=rec)
    assert not any("resumed" in msg for msg in rec.messages)


def test_input_signature_tracks_paths_sizes_and_mtimes(tmp_path: Path) -> None:
    root = write_corpus(tmp_path / "c", {"a.txt": "alpha", "b/c.txt": "gamma", ".h": "x"})

    def sig() -> str:
        return input_signature([root], read=ReadOptions()).digest

    first = sig()
    assert sig() == first
    assert input_signature([root], read=ReadOptions()).files == 2
    (root / ".hidden.txt").write_text("ignored by the reader, so by the signature")
    assert sig() == first
    assert input_signature([root], read=ReadOptions(text_column="body")).digest != first
    target = root / "a.txt"
    st = target.stat()
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 1000))
    assert sig() != first
    second = sig()
    target.write_text("alphb")  # same size: the mtime still moves
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 1000))
    assert sig() == second  # the signature is cheap: it reads no content
    target.write_text("alpha, longer")
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 1000))
    assert sig() != second
    shutil.move(root / "b", root / "d")
    assert sig() != second


def test_a_second_scan_into_a_folder_being_written_is_refused(corpus: Path, tmp_path: Path) -> None:
    """Two scans into one --out would race over its checkpoints and tables: while one holds
    the folder's lock, another is refused at once (exit 4), and the folder is left alone."""
    import fcntl

    from dedup.errors import OutputError
    from dedup.run import RUN_LOCK

    run = tmp_path / "run"
    first = scan([corpus], run, config=CFG)
    fd = os.open(run / RUN_LOCK, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a scan in progress holds it
        with pytest.raises(OutputError, match="being written by another dedup scan") as err:
            scan([corpus], run, config=CFG, overwrite=True)
        assert err.value.exit_code == 4
    finally:
        os.close(fd)
    assert tables(run)["pairs"].equals(first.pairs)
    scan([corpus], run, config=CFG, overwrite=True)  # free again
