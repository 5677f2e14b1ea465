"""Atomic writes: a temporary file next to the target, fsynced, renamed into place.

A crash leaves the old file or the new one, never a part of one.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from dedup.errors import OutputError

__all__ = [
    "check_page_target",
    "fsync_path",
    "read_json",
    "umask",
    "write_json_atomic",
    "write_page",
    "write_parquet_atomic",
    "write_parquet_parts_atomic",
    "write_stream_atomic",
    "write_text_atomic",
]


@functools.cache
def umask() -> int:
    """The process's umask (read once: setting it back is not thread-safe to repeat)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: Suffixes of a file an HTML page may replace.
PAGE_SUFFIXES = (".html", ".htm")


def check_page_target(target: str | Path, *, option: str, protect: Sequence[Path] = ()) -> Path:
    """Refuse to write an HTML page over something else: a folder, a file of ``protect`` (the
    command's own inputs) or an existing file that is not an HTML page (a run's tables, a
    text). Returns ``target``.

    Raises:
        OutputError: Naming ``option`` (the command's option for the page).
    """
    path = Path(target)
    resolved = path.resolve()
    if any(resolved == Path(p).resolve() for p in protect):
        raise OutputError(f"{option} {path} is one of the inputs; choose another {option}")
    if path.is_dir():
        raise OutputError(f"{option} {path} is a folder; name an .html file")
    if path.exists() and path.suffix.lower() not in PAGE_SUFFIXES:
        raise OutputError(
            f"{option} {path} exists and is not an .html page; choose another {option}"
        )
    return path


def _write_atomic(path: str | Path, write: Callable[[str], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it over ``path``.

    Raises:
        OutputError: The temporary file cannot be created, written, synced or renamed.
    """
    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as err:
        raise OutputError(f"cannot write {str(target)!r}: {err.strerror or err}") from err
    try:
        try:
            if hasattr(os, "fchmod"):  # mkstemp makes 0o600; give the usual mode
                os.fchmod(fd, 0o666 & ~umask())
        finally:
            os.close(fd)
        write(tmp)
        _fsync(tmp)
        Path(tmp).replace(target)
    except BaseException as err:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        if isinstance(err, OSError):
            raise OutputError(f"cannot write {str(target)!r}: {err.strerror or err}") from err
        raise
    _fsync(str(target.parent), required=False)


def fsync_path(path: str | Path) -> None:
    """Flush a file written without the atomic writers to disk.

    Raises:
        OutputError: it cannot be opened or synced.
    """
    try:
        _fsync(os.fspath(path))
    except OSError as err:
        raise OutputError(f"cannot write {str(path)!r}: {err.strerror or err}") from err


def _fsync(path: str, *, required: bool = True) -> None:
    """Flush ``path`` (a file, or a folder so that a rename in it is durable) to disk."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        if required:
            raise
        return
    try:
        os.fsync(fd)
    except OSError:
        if required:
            raise
    finally:
        os.close(fd)


def write_parquet_atomic(df: pl.DataFrame, path: str | Path) -> None:
    """Write ``df`` as Parquet to ``path`` atomically (temp file, fsync, rename).

    Raises:
        OutputError: ``path``'s folder is missing or not writable, or the disk is full.
    """
    _write_atomic(path, df.write_parquet)


def write_parquet_parts_atomic(
    parts: Sequence[str | Path], path: str | Path, *, empty: pl.DataFrame
) -> None:
    """Concatenate Parquet files (same schema, in the order given) into ``path`` atomically.

    Row groups are copied one part at a time, so memory holds one part, not the table.
    With no parts, ``empty`` (a frame with the table's schema) is written.

    Raises:
        OutputError: ``path``'s folder is missing or not writable, or the disk is full.
    """
    if not parts:
        write_parquet_atomic(empty, path)
        return
    import pyarrow.parquet as pq

    def write(tmp: str) -> None:
        schema = pq.read_schema(parts[0])
        with pq.ParquetWriter(tmp, schema) as writer:
            for part in parts:
                writer.write_table(pq.read_table(part, schema=schema))

    _write_atomic(path, write)


def write_stream_atomic(path: str | Path, write: Callable[[str], None]) -> None:
    """Have ``write(tmp)`` fill a temporary file beside ``path``, then fsync and rename it.

    For writers that stream (a Parquet writer fed batch by batch): a crash or an exception
    in ``write`` leaves the old ``path`` (or none), never a part.

    Raises:
        OutputError: the temporary file cannot be created, written, synced or renamed.
    """
    _write_atomic(path, write)


def write_text_atomic(text: str, path: str | Path) -> None:
    """Write ``text`` as UTF-8 to ``path`` atomically (temp file, fsync, rename).

    Raises:
        OutputError: ``path``'s folder is missing or not writable, or the disk is full.
    """
    data = text.encode("utf-8")

    def write(tmp: str) -> None:
        Path(tmp).write_bytes(data)

    _write_atomic(path, write)


def write_page(text: str, path: str | Path) -> None:
    """:func:`write_text_atomic`, creating the missing parent folders first.

    Raises:
        OutputError: The folder or the file cannot be written.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from exc
    write_text_atomic(text, target)


def write_json_atomic(obj: Any, path: str | Path) -> None:
    """Write ``obj`` as indented JSON (UTF-8, strict: no NaN) to ``path`` atomically.

    Raises:
        TypeError, ValueError: ``obj`` is not JSON-serializable (nothing is written).
        OutputError: ``path``'s folder is missing or not writable, or the disk is full.
    """
    text = json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    write_text_atomic(text, path)


def read_json(path: str | Path) -> Any:
    """Read a JSON file written by :func:`write_json_atomic`.

    Raises:
        OutputError: the file cannot be read or is not valid JSON.
    """
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise OutputError(f"cannot read {path}: {exc}") from exc
