"""Which reader reads a file: compression by content, then the format by name or content.

1. Compression is recognised by the first bytes (gzip, bzip2, xz, zstd), whatever the
   name; the name without its compression suffix (``a.jsonl.gz`` → ``a.jsonl``) then
   stands for the file.
2. A known suffix names the format: ``.jsonl``/``.ndjson``, ``.parquet``, ``.csv``,
   ``.tsv``/``.tab``, ``.html``/``.htm``/``.xhtml``, ``.txt``/``.text``/``.md``/``.rst``.
3. Any other name is recognised by content: Parquet's ``PAR1``, an HTML document start,
   a first line that is a JSON object (JSON Lines); anything else is one text document.

For a compressed file the per-file cap (``max_bytes``) bounds the decompressed bytes:
text and HTML are read whole up to the cap; JSON Lines are streamed and, past the cap,
the records already read stand and one ``skipped`` record says where reading stopped;
CSV is decompressed into a temporary file (at most ``max_bytes``) that polars reads.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from io import BufferedReader
from pathlib import Path
from typing import Literal

from dedup.io.compressed import (
    Compression,
    TooLarge,
    check_end,
    inner_name,
    open_decompressed,
    sniff_compression,
)
from dedup.io.decode import decode_bytes, shown
from dedup.io.options import ReadOptions
from dedup.io.readers import (
    RawDoc,
    iter_jsonl,
    iter_jsonl_stream,
    iter_parquet,
    os_reason,
    read_bytes_capped,
    read_text_file,
    skipped,
)
from dedup.io.readers_csv import CSV_SUFFIXES, TSV_SUFFIXES, iter_csv, separator_for
from dedup.io.readers_html import HTML_SUFFIXES, html_doc, looks_like_html

__all__ = ["Format", "format_of", "read_file"]

Format = Literal["jsonl", "parquet", "csv", "html", "text"]
_BY_SUFFIX: tuple[tuple[tuple[str, ...], Format], ...] = (
    ((".jsonl", ".ndjson"), "jsonl"),
    ((".parquet",), "parquet"),
    (CSV_SUFFIXES + TSV_SUFFIXES, "csv"),
    (HTML_SUFFIXES, "html"),
    ((".txt", ".text", ".md", ".rst"), "text"),
)
_HEAD = 4096


def format_of(name: str, head: bytes) -> Format:
    """The format of a (decompressed) file called ``name`` whose first bytes are ``head``."""
    lower = name.lower()
    for suffixes, fmt in _BY_SUFFIX:
        if lower.endswith(suffixes):
            return fmt
    if head.startswith(b"PAR1"):
        return "parquet"
    if looks_like_html(head):
        return "html"
    if _first_line_is_object(head):
        return "jsonl"
    return "text"


#: A JSON object's opening up to its first key: ``{"text":`` (no line break inside).
_OBJECT_START = re.compile(rb'\{[ \t]*"(?:[^"\\\n]|\\.)*"[ \t]*:')


def _first_line_is_object(head: bytes) -> bool:
    line = head.lstrip().split(b"\n", 1)
    if not line[0].startswith(b"{"):
        return False
    if len(line) < 2:
        # a first line longer than the head (a long record): JSONL if it opens as an
        # object with a key, which prose and pretty-printed JSON (``{`` alone) never do; a
        # short file of one line without its newline (a JSON document) stays text
        return len(head) >= _HEAD and _OBJECT_START.match(line[0]) is not None
    try:
        return isinstance(json.loads(line[0]), dict)
    except (ValueError, RecursionError):
        return False


def read_file(path: str, opts: ReadOptions) -> Iterator[RawDoc]:
    """The records of one file, whatever its format; never raises for a bad file."""
    name = shown(path)
    try:  # never open a FIFO or device
        st = Path(path).stat()
        if not stat.S_ISREG(st.st_mode):
            yield skipped(name, "not a regular file")
            return
        with Path(path).open("rb") as f:
            head = f.read(_HEAD)
    except OSError as err:
        yield skipped(name, os_reason(err, path))
        return
    comp = sniff_compression(head)
    if comp is not None:
        for doc in _read_compressed(path, name, comp, opts):
            # a compressed file refused as a whole counts its bytes on disk
            yield replace(doc, n_bytes=st.st_size) if doc.path == name and not doc.n_bytes else doc
        return
    fmt = format_of(path, head)
    if fmt == "jsonl":
        yield from iter_jsonl(
            path, text_column=opts.text_column, id_column=opts.id_column, max_bytes=opts.max_bytes
        )
    elif fmt == "parquet":
        yield from iter_parquet(
            path, text_column=opts.text_column, id_column=opts.id_column, max_bytes=opts.max_bytes
        )
    elif fmt == "csv":
        yield from iter_csv(path, opts, name=name, separator=separator_for(path))
    elif fmt == "html":
        data = read_bytes_capped(path, max_bytes=opts.max_bytes)
        yield data if isinstance(data, RawDoc) else html_doc(name, data)
    else:
        yield read_text_file(path, max_bytes=opts.max_bytes)


def _read_compressed(
    path: str, name: str, comp: Compression, opts: ReadOptions
) -> Iterator[RawDoc]:
    inner = inner_name(path, comp)
    try:
        stream = open_decompressed(path, comp, max_bytes=opts.max_bytes)
    except OSError as err:
        yield skipped(name, os_reason(err, path))
        return
    with stream:
        try:
            head = stream.peek(_HEAD)[:_HEAD]
        except OSError as err:
            yield skipped(name, err.strerror or str(err))
            return
        fmt = format_of(inner, head)
        if fmt == "jsonl":
            yield from iter_jsonl_stream(stream, name, opts)
        elif fmt == "csv":
            yield from _compressed_csv(stream, name, comp, inner, opts)
        elif fmt == "parquet":
            yield skipped(name, f"{comp.name}-compressed Parquet is not read; decompress it")
        else:
            yield _compressed_whole(stream, name, fmt, opts.max_bytes)


def _compressed_whole(stream: BufferedReader, name: str, fmt: Format, max_bytes: int) -> RawDoc:
    try:
        data = stream.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise TooLarge(max_bytes)
        check_end(stream)  # the data ended damaged rather than complete
    except OSError as err:
        return skipped(name, err.strerror or str(err))
    if fmt == "html":
        return html_doc(name, data)
    text, encoding, reason = decode_bytes(data)
    if text is None:
        return skipped(name, reason or "undecodable", len(data))
    return RawDoc(name, None, text, "ok", None, encoding, len(data))


def _compressed_csv(
    stream: BufferedReader, name: str, comp: Compression, inner: str, opts: ReadOptions
) -> Iterator[RawDoc]:
    """Decompress into a temporary file (bounded by the cap), then read it as CSV."""
    fd, tmp = tempfile.mkstemp(prefix="dedup-", suffix=".csv")
    try:
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(stream, out, 1 << 20)
            check_end(stream)  # the data ended damaged rather than complete
        except OSError as err:
            yield skipped(name, err.strerror or str(err))
            return
        yield from iter_csv(tmp, opts, name=name, separator=separator_for(inner))
    finally:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
