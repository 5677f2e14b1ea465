"""Streaming, all-or-nothing writers for :mod:`dedup.synth.generate`.

Every output is written under a temporary name in the output folder and renamed into place
by :meth:`Sinks.commit`, ``synth.json`` last; an interrupted run removes its temporaries and
leaves the earlier outputs, if any, as they were.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from dedup.errors import OutputError

OUTPUTS = {"txt": "docs", "jsonl": "docs.jsonl", "parquet": "docs.parquet"}
_OWN = {*OUTPUTS.values(), "truth.parquet", "synth.json"}
_TMP = ".synth-tmp-"
_DOC_ROWS = 2048  # documents per Parquet row group (about 6 MB of text)
_WRITERS = 4
_FILE_BATCH = 128
_TRUTH_ROWS = 16384
DOCS_SCHEMA = pa.schema([("id", pa.int64()), ("text", pa.string())])
TRUTH_SCHEMA = pa.schema(
    [
        ("id_a", pa.int64()),  # the source
        ("id_b", pa.int64()),  # the planted derivative
        ("path_a", pa.string()),
        ("path_b", pa.string()),
        ("kind", pa.string()),
        ("jaccard", pa.float64()),  # exact, over lower-cased word 5-shingles
        ("containment_a", pa.float64()),  # share of A's shingles found in B
        ("containment_b", pa.float64()),  # share of B's shingles found in A
        ("a_start", pa.int64()),  # partial only: the passage's character span in A ...
        ("a_end", pa.int64()),
        ("b_start", pa.int64()),  # ... and in B, where it appears verbatim
        ("b_end", pa.int64()),
    ]
)


def doc_path(doc_id: int, docs: int) -> str:
    """Relative path of document ``doc_id`` of ``docs`` in the txt layout.

    A thousand files to a folder: ``docs/0000/000123.txt``; wider numbers past a million.
    """
    width = max(6, len(str(max(docs - 1, 0))))
    return f"docs/{doc_id // 1000:0{max(4, width - 3)}d}/{doc_id:0{width}d}.txt"


class Sinks:
    """The open outputs of one synth run: documents in each format and the truth table."""

    def __init__(self, out: Path, formats: Sequence[str], docs: int) -> None:
        self.out, self.formats, self.docs = out, tuple(formats), docs
        self.pairs = 0
        self.text_bytes = 0
        _prepare(out)
        self._jsonl: IO[str] | None = None
        self._parquet: Any = None
        self._doc_buf: tuple[list[int], list[str]] = ([], [])
        self._truth_buf: dict[str, list[Any]] = {n: [] for n in TRUTH_SCHEMA.names}
        self._files = _FileWriter(self._tmp("docs"), docs) if "txt" in self.formats else None
        if "jsonl" in self.formats:
            self._jsonl = self._tmp("docs.jsonl").open("w", encoding="utf-8", newline="\n")
        if "parquet" in self.formats:
            self._parquet = pq.ParquetWriter(
                self._tmp("docs.parquet"), DOCS_SCHEMA, compression="zstd"
            )
        self._truth = pq.ParquetWriter(self._tmp("truth.parquet"), TRUTH_SCHEMA, compression="zstd")

    def _tmp(self, name: str) -> Path:
        return self.out / f"{_TMP}{name}"

    def __enter__(self) -> Sinks:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._close()
        if exc_type is not None:
            _remove_temporaries(self.out)

    def doc(self, doc_id: int, text: str) -> None:
        """Write document ``doc_id`` (documents come in id order, from 0)."""
        self.text_bytes += len(text)  # ASCII: characters are bytes
        if self._files is not None:
            self._files.add(doc_id, text)
        if self._jsonl is not None:
            self._jsonl.write(json.dumps({"id": doc_id, "text": text}) + "\n")
        if self._parquet is not None:
            self._doc_buf[0].append(doc_id)
            self._doc_buf[1].append(text)
            if len(self._doc_buf[0]) >= _DOC_ROWS:
                self._flush_docs()

    def pair(
        self,
        id_a: int,
        id_b: int,
        kind: str,
        stats: tuple[float, float, float],
        span_a: tuple[int, int] | None,
        span_b: tuple[int, int] | None,
    ) -> None:
        """Add one row to the truth table."""
        row = (
            id_a, id_b, doc_path(id_a, self.docs), doc_path(id_b, self.docs), kind, *stats,
            *(span_a or (None, None)), *(span_b or (None, None)),
        )  # fmt: skip
        for name, value in zip(TRUTH_SCHEMA.names, row, strict=True):
            self._truth_buf[name].append(value)
        self.pairs += 1
        if len(self._truth_buf["id_a"]) >= _TRUTH_ROWS:
            self._flush_truth()

    def _flush_docs(self) -> None:
        if self._parquet is not None and self._doc_buf[0]:
            ids, texts = self._doc_buf
            self._parquet.write_table(pa.table([ids, texts], schema=DOCS_SCHEMA))
            self._doc_buf = ([], [])

    def _flush_truth(self) -> None:
        if self._truth_buf["id_a"]:
            self._truth.write_table(pa.table(self._truth_buf, schema=TRUTH_SCHEMA))
            self._truth_buf = {n: [] for n in TRUTH_SCHEMA.names}

    def _close(self) -> None:
        if self._files is not None:
            self._files.close()
            self._files = None
        if self._jsonl is not None:
            self._jsonl.close()
            self._jsonl = None
        if self._parquet is not None:
            self._flush_docs()
            self._parquet.close()
            self._parquet = None
        if self._truth is not None:
            self._flush_truth()
            self._truth.close()
            self._truth = None

    def commit(self, summary_json: str) -> None:
        """Close every output and move it into place; ``synth.json`` goes last."""
        self._close()
        (self.out / "synth.json").unlink(missing_ok=True)
        for fmt, name in OUTPUTS.items():
            if fmt not in self.formats:
                _remove(self.out / name)
        for name in [OUTPUTS[f] for f in self.formats] + ["truth.parquet"]:
            _move_into_place(self._tmp(name), self.out / name)
        self._tmp("synth.json").write_text(summary_json + "\n", encoding="utf-8")
        self._tmp("synth.json").replace(self.out / "synth.json")


class _FileWriter:
    """One file per document, written by a few threads (file creation is mostly waiting)."""

    def __init__(self, root: Path, docs: int) -> None:
        self.root, self.docs = root, docs
        root.mkdir()
        self._pool = ThreadPoolExecutor(max_workers=_WRITERS, thread_name_prefix="synth-txt")
        self._pending: deque[Future[None]] = deque()
        self._batch: list[tuple[str, bytes]] = []

    def add(self, doc_id: int, text: str) -> None:
        rel = doc_path(doc_id, self.docs)[len("docs/") :]
        if doc_id % 1000 == 0:
            (self.root / rel).parent.mkdir()
        self._batch.append((f"{self.root}/{rel}", text.encode("utf-8")))
        if len(self._batch) >= _FILE_BATCH:
            self._pending.append(self._pool.submit(_write_files, self._batch))
            self._batch = []
            while len(self._pending) > 2 * _WRITERS:  # bounded memory; raises a writer's error
                self._pending.popleft().result()

    def close(self) -> None:
        """Write what is left and wait for every writer; raise the first error."""
        try:
            if self._batch:
                self._pending.append(self._pool.submit(_write_files, self._batch))
                self._batch = []
            while self._pending:
                self._pending.popleft().result()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)


def _write_files(batch: list[tuple[str, bytes]]) -> None:
    for path, data in batch:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)


def _prepare(out: Path) -> None:
    """Create ``out`` or check it holds only synth outputs; clear leftover temporaries."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    foreign = sorted(p.name for p in out.iterdir() if p.name not in _OWN)
    foreign = [n for n in foreign if not n.startswith(_TMP)]
    if foreign:
        raise OutputError(f"{out} holds files that synth did not write: {foreign[:5]}")
    _remove_temporaries(out)


def _remove_temporaries(out: Path) -> None:
    for p in out.iterdir():
        if p.name.startswith(_TMP):
            _remove(p)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _move_into_place(tmp: Path, final: Path) -> None:
    """Rename ``tmp`` to ``final``; a folder already there is moved aside first, then removed."""
    if final.is_dir() and not final.is_symlink():
        old = final.with_name(f"{_TMP}old-{final.name}")
        final.replace(old)
        tmp.replace(final)
        shutil.rmtree(old)
    else:
        tmp.replace(final)
