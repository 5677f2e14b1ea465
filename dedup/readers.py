"""Turn bytes, JSONL lines and Parquet rows into :class:`RawDoc` records.

Nothing here raises for a bad document: whatever is wrong with one file, line or row
becomes a ``skipped`` record with a short reason. :mod:`dedup.io` walks the inputs and
calls these readers.
"""

from __future__ import annotations

import codecs
import errno
import json
import os
import re
import stat
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from io import BufferedReader
from pathlib import Path
from typing import Any, Literal, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

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


class Decoded(NamedTuple):
    """Result of :func:`decode_bytes`: ``text`` and ``encoding``, or a ``reason``."""

    text: str | None
    encoding: str | None
    reason: str | None


# ---------------------------------------------------------------- decoding

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"II*\x00", "TIFF image"),
    (b"MM\x00*", "TIFF image"),
    (b"%PDF-", "PDF document"),
    (b"\x1f\x8b", "gzip archive"),
    (b"PK\x03\x04", "zip archive"),
    (b"PK\x05\x06", "zip archive"),
    (b"\xfd7zXZ\x00", "xz archive"),
    (b"(\xb5/\xfd", "zstd archive"),
    (b"7z\xbc\xaf'\x1c", "7z archive"),
    (b"Rar!\x1a\x07", "RAR archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "OLE2 (old Office) document"),
    (b"SQLite format 3\x00", "SQLite database"),
    (b"PAR1", "Parquet file"),
    (b"\x7fELF", "ELF executable"),
    (b"\x1aE\xdf\xa3", "Matroska/WebM video"),
)
_MAGIC_PREFIXES = tuple(m for m, _ in _MAGIC)
_BOMS: tuple[tuple[bytes, str], ...] = (  # UTF-32 first: its LE BOM starts like UTF-16's
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
_BOM_PREFIXES = tuple(b for b, _ in _BOMS)
# Control bytes that do not occur in text (TAB, LF, VT, FF, CR and ESC are allowed).
_CONTROL = bytes([*range(0, 9), 14, 15, *range(16, 27), *range(28, 32), 127])
_NOT_CONTROL = bytes(b for b in range(256) if b not in _CONTROL)
_HIGH = bytes(range(0x80, 0x100))
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
_UTF8_C1 = re.compile(rb"\xc2[\x80-\x9f]")
_CP1252_UNDEFINED = frozenset(b"\x81\x8d\x8f\x90\x9d")
# C1 controls (U+0080..U+009F) mapped to the Windows-1252 characters with the same byte.
_C1_TO_CP1252 = {
    c: bytes([c]).decode("cp1252") for c in range(0x80, 0xA0) if c not in _CP1252_UNDEFINED
}
_MAX_CONTROL_SHARE = 0.10
_MAX_LEGACY_HIGH_SHARE = 0.30


def _cp1252_for_bad_utf8(err: UnicodeError) -> tuple[str, int]:
    """Codec error handler: read the undecodable bytes of a UTF-8 text as Windows-1252."""
    if not isinstance(err, UnicodeDecodeError):
        raise err
    bad = err.object[err.start : err.end]
    return bytes(bad).decode("cp1252"), err.end  # raises when a byte is undefined there


codecs.register_error("dedup-cp1252", _cp1252_for_bad_utf8)


def decode_bytes(data: bytes) -> Decoded:
    """Decode the bytes of one text file.

    Tries, in order: binary signatures (PNG, gzip, PDF ...), a byte-order mark (UTF-8,
    UTF-16, UTF-32), NUL bytes (UTF-16 without BOM, else binary), strict UTF-8, then
    Windows-1252. Line endings become LF. No decode ever substitutes U+FFFD.

    Args:
        data: The whole file.

    Returns:
        ``Decoded(text, encoding, None)``, or ``Decoded(None, None, reason)`` when the
        bytes are empty, binary or undecodable.
    """
    if not data:
        return Decoded(None, None, "empty file (0 bytes)")
    if data.startswith(_MAGIC_PREFIXES):
        kind = next(k for m, k in _MAGIC if data.startswith(m))
        return Decoded(None, None, f"binary: {kind}")
    if data.startswith(_BOM_PREFIXES):
        return _decode_bom(data)
    if b"\x00" in data:
        return _decode_with_nul(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        return _decode_legacy(data, err)
    if not data.isascii() and _UTF8_C1.search(data):
        text = text.translate(_C1_TO_CP1252)
    return _finish(text, "utf-8")


def _finish(text: str, encoding: str) -> Decoded:
    if "\x00" in text:
        return Decoded(None, None, f"binary: NUL characters in {encoding} text")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text or text.isspace():
        return Decoded(None, None, "empty: whitespace only")
    return Decoded(text, encoding, None)


def _decode_bom(data: bytes) -> Decoded:
    codec = next(c for b, c in _BOMS if data.startswith(b))
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as err:
        return Decoded(None, None, f"undecodable: invalid {codec} after its BOM ({err.reason})")
    return _finish(text, codec)


def _decode_with_nul(data: bytes) -> Decoded:
    n = len(data)
    nul = data.count(0)
    if n % 2 == 0 and nul * 4 >= n:  # ASCII-heavy UTF-16 has a NUL in every other byte
        half = n // 2
        even, odd = data[0::2].count(0), data[1::2].count(0)
        codec = None
        if odd >= 0.5 * half and even <= 0.05 * half:
            codec = "utf-16-le"
        elif even >= 0.5 * half and odd <= 0.05 * half:
            codec = "utf-16-be"
        if codec is not None:
            try:
                return _finish(data.decode(codec), codec)
            except UnicodeDecodeError:
                pass
    if nul * 2 > n:
        return Decoded(None, None, f"binary: mostly NUL bytes ({100 * nul // n}%)")
    return Decoded(None, None, f"binary: {nul} NUL byte{'s' if nul > 1 else ''}")


def _decode_legacy(data: bytes, err: UnicodeDecodeError) -> Decoded:
    """Bytes that are not valid UTF-8: Windows-1252, or mixed, or binary."""
    n = len(data)
    where = f"byte 0x{data[err.start]:02X} at offset {err.start}"
    n_control = n - len(data.translate(None, _NOT_CONTROL))
    if n_control > _MAX_CONTROL_SHARE * n:
        return Decoded(None, None, f"binary: {n_control} control bytes, not UTF-8 ({where})")
    n_high = n - len(data.translate(None, _HIGH))
    utf8_chars = _UTF8_MULTIBYTE.findall(data)
    n_stray = n_high - sum(len(c) for c in utf8_chars)
    if utf8_chars and len(utf8_chars) >= n_stray:
        # UTF-8 with a few stray Windows-1252 bytes (text pasted between editors).
        try:
            return _finish(data.decode("utf-8", errors="dedup-cp1252"), "utf-8+cp1252")
        except UnicodeDecodeError:
            return Decoded(None, None, f"undecodable: invalid UTF-8 ({where})")
    if n_high > _MAX_LEGACY_HIGH_SHARE * n:
        return Decoded(
            None, None, f"undecodable: not UTF-8 ({where}), {100 * n_high // n}% non-ASCII bytes"
        )
    try:
        return _finish(data.decode("cp1252"), "cp1252")
    except UnicodeDecodeError as err2:
        return Decoded(
            None,
            None,
            f"undecodable: not UTF-8 ({where}) nor Windows-1252 "
            f"(byte 0x{data[err2.start]:02X} at offset {err2.start})",
        )


def clean_text(text: str, encoding: str) -> Decoded:
    """Apply :func:`decode_bytes`'s clean-up to text that is already a ``str``.

    Line endings become LF; C1 controls become the Windows-1252 characters of the same
    byte; text with NUL characters, lone surrogates or only whitespace is refused.

    Args:
        text: A JSON string or Parquet value.
        encoding: What to record as the encoding of the text.

    Returns:
        ``Decoded(text, encoding, None)`` or ``Decoded(None, None, reason)``.
    """
    if not text.isascii():
        text = text.translate(_C1_TO_CP1252)
        if not _is_encodable(text):
            return Decoded(None, None, "undecodable: text has unpaired surrogates")
    return _finish(text, encoding)


def _is_encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown(path: str) -> str:
    """``path`` as storable text: undecodable bytes of a file name become ``\\xNN``."""
    if path.isascii() or _is_encodable(path):
        return path
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


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


def read_text_file(path: str, *, max_bytes: int) -> RawDoc:
    """Read and decode one plain text file; never raises.

    Args:
        path: The file to read (a symlink is followed).
        max_bytes: Files larger than this are skipped unread.

    Returns:
        An ``ok`` record with the decoded text, or a ``skipped`` one with the reason.
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
        head = f.peek(64)[:64]
        if head.startswith(_MAGIC_PREFIXES):
            yield skipped(name, decode_bytes(head).reason or "binary")
            return
        n_docs = yield from _jsonl_lines(f, name, text_column, id_column, max_bytes)
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
            line: bytes = f.readline(max_bytes + 1)
        except OSError as err:
            yield skipped(f"{name}:{lineno + 1}", f"unreadable: {err.strerror or err}")
            return n_docs
        if not line:
            return n_docs
        lineno += 1
        where = f"{name}:{lineno}"
        if len(line) > max_bytes:
            n = len(line) + _skip_line(f)
            n_docs += 1
            yield skipped(where, too_large(n, max_bytes), n)
            continue
        if lineno == 1 and line.startswith(codecs.BOM_UTF8):
            line = line[3:]
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

_ARROW_ERRORS = (pa.ArrowException, OSError, ValueError)
_PARQUET_BATCH_ROWS = 1024


def _is_text_type(t: pa.DataType) -> bool:
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
    name = shown(path)
    try:
        pf = pq.ParquetFile(path)
        schema = pf.schema_arrow
    except _ARROW_ERRORS as err:
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
        except _ARROW_ERRORS as err:
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
