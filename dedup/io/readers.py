"""Turn bytes, JSONL lines and Parquet rows into :class:`RawDoc` records.

Nothing here raises for a bad document: whatever is wrong with one file, line or row
becomes a ``skipped`` record with a short reason. :mod:`dedup.io.walk` walks the inputs and
calls these readers.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from io import BufferedReader
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from dedup.io.compressed import CorruptData, TooLarge, check_end
from dedup.io.decode import binary_kind, clean_text, decode_bytes, shown
from dedup.io.options import ReadOptions

if TYPE_CHECKING:
    import pyarrow as pa

Status = Literal["ok", "skipped"]
_READ_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class RawDoc:
    """One input document as read, before any normalization.

    Attributes:
        path: File path; ``file.jsonl:LINE`` (1-based) or ``file.parquet:ROW`` (0-based).
        external_id: The value of the id column for JSONL/Parquet rows, else None.
        text: Decoded text with LF line endings; None when skipped.
        status: ``"ok"`` or ``"skipped"``.
        reason: Why the document was skipped; None when ok.
        encoding: The codec used (``utf-8``, ``utf-8-sig``, ``utf-16-le``, ``cp1252`` ...).
        n_bytes: Size of the raw document in bytes.
    """

    path: str
    external_id: str | None
    text: str | None
    status: Status
    reason: str | None
    encoding: str | None
    n_bytes: int


def skipped(path: str, reason: str, n_bytes: int = 0, external_id: str | None = None) -> RawDoc:
    """A ``skipped`` record for ``path`` with a short human-readable ``reason``."""
    return RawDoc(path, external_id, None, "skipped", reason, None, n_bytes)


# ---------------------------------------------------------------- plain files

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


def os_reason(err: OSError, path: str) -> str:
    """A short reason for an ``OSError`` met while opening or reading ``path``."""
    code = err.errno
    if code == errno.ELOOP:
        return "symlink loop"
    if code == errno.ENOENT:
        return "broken symlink" if Path(path).is_symlink() else "file vanished while reading"
    if code in (errno.EACCES, errno.EPERM):
        return "unreadable: permission denied"
    if code == errno.EISDIR:
        return "is a directory"
    return f"unreadable: {err.strerror or err}"


def too_large(n_bytes: int, max_bytes: int) -> str:
    """The reason given for a document over the ``max_bytes`` limit."""
    return f"too large: {n_bytes} bytes > max_bytes={max_bytes}"


def read_bytes_capped(path: str, *, max_bytes: int) -> bytes | RawDoc:
    """The bytes of one regular file of at most ``max_bytes``, or why it cannot be read.

    Args:
        path: The file to read (a symlink is followed).
        max_bytes: Files larger than this are skipped unread.

    Returns:
        The whole file, or a ``skipped`` record with the reason; never raises.
    """
    name = shown(path)
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as err:
        return skipped(name, os_reason(err, path))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return skipped(name, "not a regular file")
        if st.st_size > max_bytes:
            return skipped(name, too_large(st.st_size, max_bytes), st.st_size)
        data = _read_fd(fd, st.st_size, max_bytes)
    except OSError as err:
        return skipped(name, os_reason(err, path))
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        return skipped(name, too_large(len(data), max_bytes), len(data))
    return data


def read_text_file(path: str, *, max_bytes: int) -> RawDoc:
    """Read and decode one plain text file; never raises.

    Args:
        path: The file to read (a symlink is followed).
        max_bytes: Files larger than this are skipped unread.

    Returns:
        An ``ok`` record with the decoded text, or a ``skipped`` one with the reason.
    """
    data = read_bytes_capped(path, max_bytes=max_bytes)
    if isinstance(data, RawDoc):
        return data
    name = shown(path)
    text, encoding, reason = decode_bytes(data)
    if text is None:
        return skipped(name, reason or "undecodable", len(data))
    return RawDoc(name, None, text, "ok", None, encoding, len(data))


def _read_fd(fd: int, size: int, max_bytes: int) -> bytes:
    """At most ``max_bytes + 1`` bytes, in one read for a file whose size is known."""
    limit = max_bytes + 1
    chunks = [os.read(fd, min(size + 1, limit))]
    total = len(chunks[0])
    while chunks[-1] and total < limit:
        chunks.append(os.read(fd, min(_READ_CHUNK, limit - total)))
        total += len(chunks[-1])
    return b"".join(chunks)


# ---------------------------------------------------------------- JSONL

_JSON_TYPES = {
    dict: "an object",
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
}


def _json_type(value: object) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _fields(names: list[str], limit: int = 8) -> str:
    more = f", ... ({len(names)} in all)" if len(names) > limit else ""
    return ", ".join(shown(n) for n in names[:limit]) + more if names else "none"


def _external_id(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return shown(value)
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return shown(str(value))


def iter_jsonl(
    path: str, *, text_column: str, id_column: str | None, max_bytes: int
) -> Iterator[RawDoc]:
    """One record per non-blank line of a JSON Lines file, streamed; never raises.

    Args:
        path: The ``.jsonl`` / ``.ndjson`` file.
        text_column: The field holding the text.
        id_column: The field holding an external id, if any.
        max_bytes: Lines longer than this are skipped.

    Yields:
        A record per line, with path ``path:LINE`` (1-based); a single ``skipped`` record
        for the file when it cannot be opened, is binary or holds no line.
    """
    name = shown(path)
    try:
        f = Path(path).open("rb")  # noqa: SIM115 - closed by the with below
    except OSError as err:
        yield skipped(name, os_reason(err, path))
        return
    with f:
        kind = binary_kind(f.peek(64)[:64])
        if kind is not None:
            yield skipped(name, f"binary: {kind}")
            return
        n_docs = yield from _jsonl_lines(f, name, text_column, id_column, max_bytes)
    if n_docs == 0:
        yield skipped(name, "empty: no JSON lines")


def iter_jsonl_stream(f: BufferedReader, name: str, opts: ReadOptions) -> Iterator[RawDoc]:
    """One record per non-blank line of an open JSON Lines stream (a decompressed file).

    Past the decompression cap or at damaged data, the records read so far stand and one
    ``skipped`` record at the next line says why the rest was not read."""
    n_docs = yield from _jsonl_lines(f, name, opts.text_column, opts.id_column, opts.max_bytes)
    if n_docs == 0:
        yield skipped(name, "empty: no JSON lines")


def _jsonl_lines(
    f: BufferedReader, name: str, text_column: str, id_column: str | None, max_bytes: int
) -> Generator[RawDoc, None, int]:
    """Yield the records of ``f``'s lines; return how many lines were not blank."""
    n_docs = 0
    lineno = 0
    while True:
        try:
            line: bytes = f.readline(max_bytes + 2)  # a line of max_bytes, and its CRLF
            if not line.endswith(b"\n"):  # the end, or a line cut by damaged data
                check_end(f)
        except (TooLarge, CorruptData) as err:
            yield skipped(f"{name}:{lineno + 1}", f"{err.strerror}; the rest is not read")
            return n_docs + 1
        except OSError as err:
            yield skipped(f"{name}:{lineno + 1}", f"unreadable: {err.strerror or err}")
            return n_docs
        if not line:
            return n_docs
        lineno += 1
        where = f"{name}:{lineno}"
        if len(line.rstrip(b"\r\n")) > max_bytes:
            try:
                n = len(line) + (0 if line.endswith(b"\n") else _skip_line(f))
            except OSError as err:
                yield skipped(where, f"unreadable: {err.strerror or err}")
                return n_docs + 1
            n_docs += 1
            yield skipped(where, too_large(n, max_bytes), n)
            continue
        if line.strip():
            n_docs += 1
            yield _jsonl_doc(where, line.rstrip(b"\r\n"), text_column, id_column)


def _skip_line(f: BufferedReader) -> int:
    """Read past the rest of an over-long line; return the bytes skipped."""
    n = 0
    while True:
        chunk = f.readline(_READ_CHUNK)
        n += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            return n


def _jsonl_doc(where: str, line: bytes, text_column: str, id_column: str | None) -> RawDoc:
    """One JSONL line (without its newline) as a record."""
    try:
        obj = json.loads(line)
    except UnicodeDecodeError:
        return skipped(where, "line is not valid UTF-8", len(line))
    except ValueError as err:
        msg = err.msg if isinstance(err, json.JSONDecodeError) else str(err)
        return skipped(where, f"invalid JSON: {msg}", len(line))
    except RecursionError:
        return skipped(where, "invalid JSON: nested too deeply", len(line))
    if not isinstance(obj, dict):
        return skipped(where, f"line is {_json_type(obj)}, not a JSON object", len(line))
    ext_id = _external_id(obj.get(id_column)) if id_column is not None else None
    if text_column not in obj:
        reason = f"no field {text_column!r} (fields: {_fields(list(obj))})"
        return skipped(where, reason, len(line), ext_id)
    value = obj[text_column]
    if not isinstance(value, str):
        reason = f"field {text_column!r} is {_json_type(value)}, not a string"
        return skipped(where, reason, len(line), ext_id)
    text, encoding, why = clean_text(value, "utf-8")
    if text is None:
        return skipped(where, why or "undecodable", len(line), ext_id)
    return RawDoc(where, ext_id, text, "ok", None, encoding, len(line))


# ---------------------------------------------------------------- Parquet


def _arrow_errors() -> tuple[type[BaseException], ...]:
    """Errors of a Parquet read (pyarrow is imported only to read Parquet: ~0.1 s)."""
    import pyarrow as pa

    return (pa.ArrowException, OSError, ValueError)


_PARQUET_BATCH_ROWS = 1024


def _is_text_type(t: pa.DataType) -> bool:
    import pyarrow as pa

    if pa.types.is_dictionary(t):
        t = t.value_type
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t))


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:200]


def iter_parquet(
    path: str, *, text_column: str, id_column: str | None, max_bytes: int
) -> Iterator[RawDoc]:
    """One record per row of a Parquet file, read one batch of a row group at a time.

    Args:
        path: The ``.parquet`` file.
        text_column: The string column holding the text.
        id_column: The column holding an external id, if any (null ids when absent).
        max_bytes: Texts longer than this (in UTF-8 bytes) are skipped.

    Yields:
        A record per row, with path ``path:ROW`` (0-based); a single ``skipped`` record
        for the file when it is unreadable, lacks the text column or has no rows.
    """
    import pyarrow.parquet as pq

    name = shown(path)
    try:
        # pre_buffer (on by default since pyarrow 21) keeps every byte range it has read
        # cached until the file is closed: RSS grew with the file (~1.5 GB for 1M documents).
        pf = pq.ParquetFile(path, pre_buffer=False)
        schema = pf.schema_arrow
    except _arrow_errors() as err:
        yield skipped(name, f"not a readable Parquet file: {_first_line(err)}")
        return
    names: list[str] = list(schema.names)
    if text_column not in names:
        yield skipped(name, f"no column {text_column!r} (columns: {_fields(names)})")
        return
    text_type = schema.field(text_column).type
    if not _is_text_type(text_type):
        yield skipped(name, f"column {text_column!r} is {text_type}, not a string")
        return
    columns = [text_column]
    if id_column is not None and id_column in names and id_column != text_column:
        columns.append(id_column)
    batches = pf.iter_batches(batch_size=_PARQUET_BATCH_ROWS, columns=columns)
    n_rows = yield from _parquet_rows(name, batches, id_column, max_bytes)
    if n_rows == 0:
        yield skipped(name, "empty: Parquet file has no rows")


def _parquet_rows(
    name: str, batches: Iterator[Any], id_column: str | None, max_bytes: int
) -> Generator[RawDoc, None, int]:
    """Yield a record per row of ``batches``; return the number of rows."""
    import pyarrow as pa
    import pyarrow.compute as pc

    row = 0
    while True:
        try:
            batch = next(batches, None)
            if batch is None:
                return row
            texts = batch.column(0)
            sizes: list[int | None] = pc.binary_length(texts.cast(pa.large_string())).to_pylist()
            values: list[str | None] = texts.to_pylist()
            ids: list[object] = (
                batch.column(1).to_pylist() if batch.num_columns > 1 else [None] * len(values)
            )
        except _arrow_errors() as err:
            yield skipped(f"{name}:{row}", f"unreadable Parquet data: {_first_line(err)}")
            return row + 1
        for value, size, ext in zip(values, sizes, ids, strict=True):
            yield _parquet_doc(f"{name}:{row}", value, size or 0, _external_id(ext), max_bytes)
            row += 1


def _parquet_doc(
    where: str, value: str | None, size: int, ext_id: str | None, max_bytes: int
) -> RawDoc:
    if value is None:
        return skipped(where, "text is null", 0, ext_id)
    if size > max_bytes:
        return skipped(where, too_large(size, max_bytes), size, ext_id)
    text, encoding, reason = clean_text(value, "utf-8")
    if text is None:
        return skipped(where, reason or "undecodable", size, ext_id)
    return RawDoc(where, ext_id, text, "ok", None, encoding, size)
