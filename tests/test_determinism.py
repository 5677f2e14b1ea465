"""Same inputs and config give the same tables, whatever the disk order, threads or batches."""

from __future__ import annotations

import contextlib
import os
import random
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from dedup.config import RunConfig, SemanticConfig
from dedup.pipeline import scan
from tests.corpora import corpus_texts, write_corpus

REAL_SCANDIR = os.scandir
CFG = RunConfig(semantic=SemanticConfig(enabled=False))
TEXTS = corpus_texts(400, seed=21)
PATHS = {"documents": ("path",), "pairs": ("path_a", "path_b"), "clusters": ("path",)}


def tables(run: Path, corpus: Path) -> dict[str, pl.DataFrame]:
    """The four tables, with paths made relative to ``corpus``."""
    out = {}
    for name in ("documents", "pairs", "clusters", "alignments"):
        frame = pl.read_parquet(run / f"{name}.parquet")
        prefix = f"{corpus}/"
        out[name] = frame.with_columns(
            pl.col(c).str.strip_prefix(prefix) for c in PATHS.get(name, ())
        )
    return out


def by_inode(corpus: Path) -> list[str]:
    files = [p for p in corpus.rglob("*.txt")]
    return [p.name for p in sorted(files, key=lambda p: p.stat().st_ino)]


def assert_same(a: dict[str, pl.DataFrame], b: dict[str, pl.DataFrame]) -> None:
    for name in a:
        assert a[name].equals(b[name]), name


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, pl.DataFrame]]:
    root = tmp_path_factory.mktemp("determinism")
    corpus = write_corpus(root / "a", TEXTS, order_seed=1)
    run = scan([corpus], root / "run", config=CFG).out
    ref = tables(run, corpus)
    relations = set(ref["pairs"]["relation"].to_list())
    assert {"exact", "derivative", "partial"} <= relations  # every channel has work
    assert ref["alignments"].height > 100
    return corpus, ref


def test_creation_order_on_disk_does_not_matter(
    reference: tuple[Path, dict[str, pl.DataFrame]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    corpus_a, ref = reference
    corpus_b = write_corpus(tmp_path / "b", TEXTS, order_seed=2)
    assert by_inode(corpus_a) != by_inode(corpus_b)  # the files were made in another order
    # Many file systems list a folder in hash order, the same for both copies; make this one
    # list it in a shuffled order, as others do (creation order, or after deletions).
    monkeypatch.setattr(os, "scandir", shuffled_scandir)
    run = scan([corpus_b], tmp_path / "run", config=CFG).out
    assert_same(ref, tables(run, corpus_b))


def shuffled_scandir(path: Any = ".") -> Any:
    entries = list(REAL_SCANDIR(path))
    random.Random(len(entries)).shuffle(entries)
    return contextlib.nullcontext(iter(entries))


def test_one_worker_or_all_cores(
    reference: tuple[Path, dict[str, pl.DataFrame]], tmp_path: Path
) -> None:
    corpus, ref = reference
    cfg = RunConfig(semantic=CFG.semantic, workers=1)
    run = scan([corpus], tmp_path / "run", config=cfg).out
    assert_same(ref, tables(run, corpus))


@pytest.mark.parametrize("batch_size", [7, 2000])
def test_batch_size(
    batch_size: int, reference: tuple[Path, dict[str, pl.DataFrame]], tmp_path: Path
) -> None:
    corpus, ref = reference
    cfg = RunConfig(semantic=CFG.semantic, batch_size=batch_size)
    run = scan([corpus], tmp_path / "run", config=cfg).out
    assert_same(ref, tables(run, corpus))
