"""Stage checkpoints under ``RUN/.stages/<name>/``, so that ``--resume`` skips finished work.

A stage writes its files into its own folder, flushes them to disk, and writes
``done.json`` last, atomically. The marker holds the config fingerprint, the input
signature, the token of the checkpoint the stage was computed from, and the size and
xxh3-64 digest of each of the stage's files; a folder whose marker is missing or disagrees,
or whose files are not the ones it lists (damaged, truncated, replaced), is stale, and the
stage is computed again.

The input signature is :func:`dedup.run.input_signature`.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from dedup.io import atomic
from dedup.io.spill import ShingleStore, TextStore
from dedup.lexical.sign import Corpus

STAGES = ".stages"
MARKER = "done.json"
_ARRAYS = ("rows", "offsets", "keys", "content")
_CHUNK = 1 << 22


class Stages:
    """The checkpoint folders of one run, keyed by config fingerprint and input signature."""

    def __init__(self, run: Path, *, fingerprint: str, inputs: str, resume: bool) -> None:
        self.root = run / STAGES
        self.key = {"fingerprint": fingerprint, "inputs": inputs}
        self.resume = resume

    def valid(self, name: str, upstream: str = "") -> dict[str, Any] | None:
        """The marker of stage ``name`` when resuming and it matches this run, else None."""
        if not self.resume:
            return None
        try:
            marker = json.loads((self.root / name / MARKER).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        want = {**self.key, "upstream": upstream}
        if not isinstance(marker, dict) or any(marker.get(k) != v for k, v in want.items()):
            return None
        if marker.get("files") != _files(self.root / name):
            return None
        return marker

    def begin(self, name: str) -> Path:
        """An empty folder for stage ``name`` (any older checkpoint there is removed)."""
        folder = self.root / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        return folder

    def finish(self, name: str, upstream: str = "", **extra: Any) -> dict[str, Any]:
        """Flush the stage's files, then write its marker; return the marker."""
        folder = self.root / name
        for path in sorted(folder.iterdir()):
            atomic.fsync_path(path)
        marker = {
            **self.key,
            "upstream": upstream,
            "token": uuid.uuid4().hex,
            "files": _files(folder),
            **extra,
        }
        atomic.write_json_atomic(marker, folder / MARKER)
        return marker

    def clear(self) -> None:
        """Remove every checkpoint (the run is complete)."""
        shutil.rmtree(self.root, ignore_errors=True)


def _files(folder: Path) -> dict[str, list[Any]] | None:
    """``{name: [size, xxh3-64 hex]}`` of the stage's files (its marker aside); None when the
    folder cannot be read."""
    import xxhash

    out: dict[str, list[Any]] = {}
    try:
        for path in sorted(folder.iterdir()):
            if path.name == MARKER or not path.is_file():
                continue
            digest = xxhash.xxh3_64()
            with path.open("rb") as f:
                while chunk := f.read(_CHUNK):
                    digest.update(chunk)
            out[path.name] = [path.stat().st_size, digest.hexdigest()]
    except OSError:
        return None
    return out


def save_corpus(folder: Path, corpus: Corpus) -> None:
    """Write the in-memory part of ``corpus`` next to its spill files in ``folder``."""
    corpus.documents.write_parquet(folder / "documents.parquet")
    for name in _ARRAYS:
        np.save(folder / f"{name}.npy", getattr(corpus, name))
    if corpus.texts is not None:
        np.save(folder / "texts_index.npy", corpus.texts.index())


def load_corpus(folder: Path) -> Corpus | None:
    """The corpus saved in ``folder`` (spill files mapped), or None if it cannot be read."""
    try:
        arrays = {name: np.load(folder / f"{name}.npy") for name in _ARRAYS}
        texts = None
        if (folder / "texts_index.npy").exists():
            texts = TextStore.open(folder / "texts.utf8", np.load(folder / "texts_index.npy"))
        return Corpus(
            documents=pl.read_parquet(folder / "documents.parquet"),
            hashes=ShingleStore.open(folder / "shingles.u32", arrays["offsets"]),
            texts=texts,
            **arrays,
        )
    except (OSError, ValueError, pl.exceptions.PolarsError):
        return None


def load_frame(path: Path, *, rows: bool = True) -> pl.DataFrame | None:
    """A Parquet table, or None if it is missing or unreadable; with ``rows=False`` only its
    schema is read (an empty frame), to check that the file is whole."""
    with contextlib.suppress(OSError, pl.exceptions.PolarsError):
        if not rows:
            return pl.DataFrame(schema=pl.read_parquet_schema(path))
        return pl.read_parquet(path)
    return None
