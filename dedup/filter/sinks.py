"""Where a filtered corpus goes: one Parquet file, one JSON Lines file, or a folder of texts.

Each sink consumes a stream of kept documents and holds at most one batch of them in
memory. Every output appears atomically: a file is written beside its target and renamed
over it; a folder is filled under a temporary name beside its target and renamed into
place, so an interrupted filter leaves the old output (or none), never a part.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.parquet as pq

from dedup.errors import ConfigError, OutputError
from dedup.io import atomic

Format = Literal["parquet", "jsonl", "folder"]
BATCH_DOCS = 1000
BATCH_CHARS = 32 << 20
ARROW_SCHEMA = pa.schema(
    [
        ("doc_id", pa.int64()),
        ("path", pa.string()),
        ("external_id", pa.string()),
        ("text", pa.large_string()),
    ]
)
_UNSAFE = re.compile(r"[^\w.-]+")  # letters and digits of any script are kept
#: Most UTF-8 bytes of the name part of a file name (a name is at most 255 bytes).
_STEM_BYTES = 120


@dataclass(frozen=True, slots=True)
class Kept:
    """One document of the filtered corpus."""

    doc_id: int
    path: str
    external_id: str | None
    text: str


def format_of(out: Path) -> Format:
    """The sink for ``out``: by its suffix (``.parquet``, ``.jsonl``), else a folder.

    Raises:
        ConfigError: ``out`` ends in another data suffix a folder name would not have.
    """
    suffix = out.suffix.lower()
    if suffix == ".parquet":
        return "parquet"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix in (".json", ".csv", ".tsv", ".txt", ".gz"):
        raise ConfigError(f"--out {out}: write .parquet, .jsonl, or a folder (no suffix)")
    return "folder"


def write(docs: Iterable[Kept], out: Path, fmt: Format) -> int:
    """Write ``docs`` to ``out`` in format ``fmt``, atomically; return how many were written.

    Raises:
        OutputError: ``out``'s folder is missing or not writable, or the disk is full.
    """
    count = [0]

    def counted() -> Iterator[Kept]:
        for doc in docs:
            count[0] += 1
            yield doc

    if fmt == "parquet":
        atomic.write_stream_atomic(out, lambda tmp: _parquet(counted(), tmp))
    elif fmt == "jsonl":
        atomic.write_stream_atomic(out, lambda tmp: _jsonl(counted(), tmp))
    else:
        _folder(counted(), out)
    return count[0]


def _batches(docs: Iterable[Kept]) -> Iterator[list[Kept]]:
    batch: list[Kept] = []
    chars = 0
    for doc in docs:
        batch.append(doc)
        chars += len(doc.text)
        if len(batch) >= BATCH_DOCS or chars >= BATCH_CHARS:
            yield batch
            batch, chars = [], 0
    if batch:
        yield batch


def _parquet(docs: Iterable[Kept], tmp: str) -> None:
    # no min/max statistics of whole texts in every row group's metadata
    stats = ["doc_id", "path", "external_id"]
    with pq.ParquetWriter(tmp, ARROW_SCHEMA, compression="zstd", write_statistics=stats) as writer:
        for batch in _batches(docs):
            columns = {
                "doc_id": [d.doc_id for d in batch],
                "path": [d.path for d in batch],
                "external_id": [d.external_id for d in batch],
                "text": [d.text for d in batch],
            }
            writer.write_table(pa.table(columns, schema=ARROW_SCHEMA))


def _jsonl(docs: Iterable[Kept], tmp: str) -> None:
    with Path(tmp).open("w", encoding="utf-8", newline="\n") as f:
        for batch in _batches(docs):
            f.writelines(
                json.dumps(
                    {
                        "doc_id": d.doc_id,
                        "path": d.path,
                        "external_id": d.external_id,
                        "text": d.text,
                    },
                    ensure_ascii=False,
                )
                + "\n"
                for d in batch
            )


def file_name(doc: Kept, width: int = 9) -> str:
    """A document's file name in a folder sink: its ``doc_id`` and a safe form of its path's
    last part (``000000042_news.jsonl_43.txt``), unique because the id is."""
    stem = _UNSAFE.sub("_", Path(doc.path.replace(":", "_")).name)
    stem = stem.encode("utf-8")[:_STEM_BYTES].decode("utf-8", "ignore").strip("._")
    if stem.lower().endswith(".txt"):
        stem = stem[:-4]
    return f"{doc.doc_id:0{width}d}_{stem or 'doc'}.txt"


def _folder(docs: Iterable[Kept], out: Path) -> None:
    """Fill a temporary folder beside ``out`` with one UTF-8 file per document, fsync it,
    then put it in ``out``'s place (an existing ``out`` is moved aside, then removed)."""
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
        tmp.chmod(0o777 & ~atomic.umask())  # mkdtemp makes 0o700: others read the corpus too
    except OSError as err:
        raise OutputError(f"cannot write {str(out)!r}: {err.strerror or err}") from err
    try:
        for doc in docs:
            path = tmp / file_name(doc)
            path.write_text(doc.text, encoding="utf-8", newline="")
            atomic.fsync_path(path)
        atomic.fsync_path(tmp)
        _swap(tmp, out)
    except BaseException as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(err, OSError):
            raise OutputError(f"cannot write {str(out)!r}: {err.strerror or err}") from err
        raise


def _swap(new: Path, out: Path) -> None:
    """Rename ``new`` to ``out``; an existing ``out`` folder is moved aside first."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
    new.rename(out)
    with contextlib.suppress(OSError):
        atomic.fsync_path(out.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
