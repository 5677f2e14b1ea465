"""Crash safety: a `dedup scan` killed with SIGKILL at any point leaves a usable run folder.

The folder holds either a complete run (manifest and the four tables, which agree) or no
manifest; never a table file that cannot be read. ``--resume`` then finishes the run and
gives the tables an uninterrupted run gives.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from dedup.config import LSHConfig, RunConfig, SemanticConfig
from dedup.engines.checkpoint import MARKER, STAGES
from dedup.pipeline import scan
from tests.corpora import corpus_texts, write_corpus

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

ROOT = Path(__file__).resolve().parent.parent
TABLES = ("documents", "pairs", "clusters", "alignments", "passages")
NEW = RunConfig(semantic=SemanticConfig(enabled=False))
OLD = RunConfig(semantic=SemanticConfig(enabled=False), lsh=LSHConfig(threshold=0.7))


class Runs:
    """The corpus, and the uninterrupted runs of the old and the new config."""

    def __init__(self, root: Path) -> None:
        self.corpus = write_corpus(root / "corpus", corpus_texts(4000, seed=11))
        self.old = scan([self.corpus], root / "old", config=OLD).out
        self.new = scan([self.corpus], root / "new", config=NEW).out


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    return Runs(tmp_path_factory.mktemp("crash"))


def tables(run: Path) -> dict[str, pl.DataFrame]:
    return {name: pl.read_parquet(run / f"{name}.parquet") for name in TABLES}


def same_tables(a: Path, b: Path) -> bool:
    ta, tb = tables(a), tables(b)
    return all(ta[name].equals(tb[name]) for name in TABLES)


def dedup(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "dedup", "scan", *map(str, args)]


def assert_consistent(out: Path, runs: Runs) -> None:
    """Every table file reads; a manifest describes exactly the tables beside it."""
    for name in TABLES:
        if (out / f"{name}.parquet").exists():
            pl.read_parquet(out / f"{name}.parquet")  # raises on a truncated file
    manifest_path = out / "manifest.json"
    if not manifest_path.exists():
        return
    manifest = json.loads(manifest_path.read_text())
    t = tables(out)
    counts = manifest["counts"]
    assert counts["documents"] == t["documents"].height
    assert counts["pairs"] == t["pairs"].height
    assert counts["documents_in_clusters"] == t["clusters"].height
    reference = {OLD.fingerprint(): runs.old, NEW.fingerprint(): runs.new}
    assert same_tables(out, reference[manifest["fingerprint"]])


def appeared(path: Path) -> Callable[[Path], bool]:
    return lambda out: (out / path).exists()


def vanished(path: Path) -> Callable[[Path], bool]:
    return lambda out: not (out / path).exists()


def after(seconds: float) -> Callable[[Path], bool]:
    t0 = time.monotonic()
    return lambda out: time.monotonic() - t0 >= seconds


KILL_POINTS = {
    "starting": lambda: after(0.3),
    "reading": lambda: appeared(Path(STAGES) / "ingest" / "shingles.u32"),
    "verifying": lambda: appeared(Path(STAGES) / "ingest" / MARKER),
    "aligning": lambda: appeared(Path(STAGES) / "pairs" / MARKER),
    "writing": lambda: vanished(Path("manifest.json")),
    "writing clusters": lambda: writing("clusters"),
    "finished": lambda: new_manifest,
}


def writing(table: str) -> Callable[[Path], bool]:
    return lambda out: any(out.glob(f".{table}.parquet.*.tmp"))


def new_manifest(out: Path) -> bool:
    try:
        return NEW.fingerprint() in (out / "manifest.json").read_text()
    except OSError:
        return False


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_sigkill_leaves_a_consistent_folder_and_resume_finishes(
    point: str, runs: Runs, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    shutil.copytree(runs.old, out)  # a complete run of another config is there first
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = dedup(runs.corpus, "--out", out, "--no-semantic", "--overwrite", "-q")
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stderr=subprocess.PIPE)
    ready = KILL_POINTS[point]()
    deadline = time.monotonic() + 60
    while proc.poll() is None and not ready(out) and time.monotonic() < deadline:
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    complete = new_manifest(out)
    ingest_done = (out / STAGES / "ingest" / MARKER).exists()

    assert_consistent(out, runs)

    res = subprocess.run(
        [*args, "--resume"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    if complete:
        assert "nothing to do" in res.stderr
    elif ingest_done:
        assert "resumed: documents read" in res.stderr
    assert same_tables(out, runs.new)
    assert json.loads((out / "manifest.json").read_text())["fingerprint"] == NEW.fingerprint()
    assert not (out / STAGES).exists()
    assert not list(out.glob(".*.tmp"))


def test_plain_rerun_after_a_kill_gives_the_same_tables(runs: Runs, tmp_path: Path) -> None:
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = dedup(runs.corpus, "--out", out, "--no-semantic", "-q")
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    ready = appeared(Path(STAGES) / "ingest" / "shingles.u32")
    deadline = time.monotonic() + 60
    while proc.poll() is None and not ready(out) and time.monotonic() < deadline:
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert_consistent(out, runs)
    result = scan([runs.corpus], out, config=NEW, overwrite=True)  # what --overwrite runs
    assert result.manifest["fingerprint"] == NEW.fingerprint()
    assert same_tables(out, runs.new)
