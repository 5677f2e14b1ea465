"""A scan of a few small files runs without numba: same tables, no kernel loaded.

The lexical stages switch to plain numpy/Python twins below a size limit (see
``tests/kernel_paths.py``); each twin is also tested against its stage's oracle in the
stage's own test file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from dedup import RunConfig, SemanticConfig, jit
from dedup.pipeline import scan
from tests.corpora import corpus_texts, write_corpus
from tests.fresh_process import modules_loaded
from tests.kernel_paths import kernel_path

ROOT = Path(__file__).resolve().parent.parent
TABLES = ("documents", "pairs", "clusters", "passages", "alignments")


def _tables(out: Path) -> dict[str, pl.DataFrame]:
    return {name: pl.read_parquet(out / f"{name}.parquet") for name in TABLES}


@pytest.mark.parametrize("kind", ["word", "char"])
def test_small_twins_give_the_kernels_tables(tmp_path: Path, kind: str) -> None:
    corpus = write_corpus(tmp_path / "in", corpus_texts(60, seed=3))
    config = RunConfig(semantic=SemanticConfig(enabled=False))
    if kind == "char":
        from dataclasses import replace

        config = replace(config, shingle=replace(config.shingle, kind="char", size=5))
    runs = {}
    for path in ("numba", "small"):
        with kernel_path(path):
            scan([corpus], tmp_path / path, config=config)
        runs[path] = _tables(tmp_path / path)
    assert runs["numba"]["pairs"].height > 10  # copies, edits and hosts were found
    for name in TABLES:
        assert runs["small"][name].equals(runs["numba"][name]), name


def test_scan_of_one_small_file_loads_no_numba(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("One small file, a few words in it.\n")
    args = ["scan", tmp_path / "in", "--out", tmp_path / "out", "--no-semantic", "-q"]
    assert modules_loaded(args, ("numba", "pyarrow", "scipy", "torch")) == []
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["counts"]["documents"] == 1


def test_lazy_kernel_compiles_on_first_call_and_keeps_values() -> None:
    from dedup.lexical import shingle

    buf = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
    plain = shingle.xxh32.py_func  # type: ignore[attr-defined]
    # the undecorated function runs as Python when given numpy scalars
    with np.errstate(over="ignore"):
        expected = int(plain(buf, 0, len(buf), np.uint64(7)))
    assert int(shingle.xxh32(buf, 0, len(buf), np.uint64(7))) == expected
    assert jit.loaded()


def test_one_blas_thread_limits_numpy_blas_and_restores_it() -> None:
    """The per-pair loops' context once torch is loaded: numpy's BLAS on one thread inside,
    as before after."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    pytest.importorskip("torch")
    from dedup.jit import one_blas_thread

    def blas_threads() -> list[int]:
        return [
            i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"
        ]

    before = blas_threads()
    if not before:
        pytest.skip("numpy reports no BLAS library")
    with one_blas_thread():
        assert blas_threads() == [1] * len(before)
    assert blas_threads() == before
