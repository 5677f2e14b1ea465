"""Walking the inputs: :func:`iter_documents` walks folders and files (plain text, JSON Lines,
Parquet) and yields one :class:`RawDoc` per document. A bad file never raises: it
becomes a ``skipped`` record with a reason. Only a missing input raises
:class:`~dedup.errors.InputError`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path

from dedup.errors import InputError
from dedup.io.decode import decode_bytes, shown
from dedup.io.readers import (
    RawDoc,
    iter_jsonl,
    iter_parquet,
    os_reason,
    read_text_file,
    skipped,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "RawDoc",
    "decode_bytes",
    "iter_documents",
    "iter_input_files",
    "iter_sources",
    "read_source",
]

DEFAULT_MAX_BYTES = 256 * 1024 * 1024
JSONL_SUFFIXES = (".jsonl", ".ndjson")
PARQUET_SUFFIXES = (".parquet",)


@dataclass(frozen=True, slots=True)
class _Options:
    text_column: str
    id_column: str | None
    max_bytes: int


def iter_documents(
    inputs: Sequence[str | Path],
    *,
    text_column: str = "text",
    id_column: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Iterator[RawDoc]:
    """Yield one record per document found in ``inputs``, in a deterministic order.

    A folder is walked recursively in sorted name order, skipping names that start
    with ``.``; a symlinked folder is followed once (a loop is reported, not walked).
    ``.jsonl``/``.ndjson`` files give one document per line (path ``file:LINE``),
    ``.parquet`` files one per row (path ``file:ROW``), any other file one document.
    Inputs are read in the order given.

    Args:
        inputs: Folders and files.
        text_column: JSONL field / Parquet column holding the text.
        id_column: JSONL field / Parquet column holding an external id.
        max_bytes: Larger files (and JSONL lines, Parquet texts) are skipped.

    Returns:
        An iterator of :class:`RawDoc`; anything wrong with one file, line or row is a
        ``skipped`` record with a reason, never an exception.

    Raises:
        InputError: An input path does not exist (checked before anything is read).
    """
    paths = [os.fspath(p) for p in inputs]
    missing = [p for p in paths if not os.path.lexists(p)]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise InputError(f"input not found: {shown(missing[0])!r}{more}")
    return _iter_inputs(paths, _Options(text_column, id_column, max_bytes))


def _iter_inputs(paths: list[str], opts: _Options) -> Iterator[RawDoc]:
    for source in _iter_sources(paths):
        if isinstance(source, RawDoc):
            yield source
        else:
            yield from _read_file(source, opts)


def iter_sources(inputs: Sequence[str | Path]) -> Iterator[str | RawDoc]:
    """The files :func:`iter_documents` reads, in its order, without reading them.

    A folder that cannot be entered comes as its ``skipped`` record instead of a path.
    Reading each file with :func:`read_source` and concatenating the records gives the
    same sequence as :func:`iter_documents`, so a distributed reader can split the files
    among workers and still number the documents the same way.

    Raises:
        InputError: An input path does not exist.
    """
    paths = [os.fspath(p) for p in inputs]
    missing = [p for p in paths if not os.path.lexists(p)]
    if missing:
        raise InputError(f"input not found: {shown(missing[0])!r}")
    return _iter_sources(paths)


def iter_input_files(inputs: Sequence[str | Path]) -> Iterator[tuple[str, str | None]]:
    """The files :func:`iter_documents` would read from ``inputs``, in the same order.

    ``(path, None)`` per file, ``(path, reason)`` per folder the walk skips; no file is
    opened. Raises :class:`InputError` for a missing input, like :func:`iter_sources`.
    """
    for source in iter_sources(inputs):
        if isinstance(source, RawDoc):
            yield source.path, source.reason
        else:
            yield source, None


def read_source(
    path: str,
    *,
    text_column: str = "text",
    id_column: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Iterator[RawDoc]:
    """The records of one file listed by :func:`iter_sources` (never raises for a bad file)."""
    return _read_file(path, _Options(text_column, id_column, max_bytes))


def _distinct_inputs(paths: list[str]) -> list[str]:
    """``paths`` without repeats: an input given twice (``a`` and ``./a``), or a file inside
    a folder that is also an input, is read once, where it first comes."""
    real = [os.path.realpath(p) for p in paths]
    folders = [r for p, r in zip(paths, real, strict=True) if Path(p).is_dir()]
    out: list[str] = []
    seen: set[str] = set()
    for path, r in zip(paths, real, strict=True):
        inside = not Path(path).is_dir() and any(
            r.startswith(f.rstrip(os.sep) + os.sep) for f in folders
        )
        if r in seen or inside:
            continue
        seen.add(r)
        out.append(path)
    return out


def _iter_sources(paths: list[str]) -> Iterator[str | RawDoc]:
    seen: dict[tuple[int, int], str] = {}  # (device, inode) of each folder entered
    for path in _distinct_inputs(paths):
        if Path(path).is_dir():
            yield from _walk(path, seen)
        else:
            yield path


def _read_file(path: str, opts: _Options) -> Iterator[RawDoc]:
    """The records of one file, chosen by its suffix."""
    lower = path.lower()
    if not lower.endswith(JSONL_SUFFIXES + PARQUET_SUFFIXES):
        yield read_text_file(path, max_bytes=opts.max_bytes)
        return
    try:  # never open a FIFO or device named like a data file
        if not stat.S_ISREG(Path(path).stat().st_mode):
            yield skipped(shown(path), "not a regular file")
            return
    except OSError as err:
        yield skipped(shown(path), os_reason(err, path))
        return
    reader = iter_jsonl if lower.endswith(JSONL_SUFFIXES) else iter_parquet
    yield from reader(
        path, text_column=opts.text_column, id_column=opts.id_column, max_bytes=opts.max_bytes
    )


def _walk(root: str, seen: dict[tuple[int, int], str]) -> Iterator[str | RawDoc]:
    """File paths under ``root``, depth-first in sorted name order, without recursion."""
    stack: list[tuple[tuple[int, int], Iterator[os.DirEntry[str]]]] = []
    reason = _enter(root, seen, stack)
    if reason is not None:
        yield skipped(shown(root), reason)
    while stack:
        entry = next(stack[-1][1], None)
        if entry is None:
            stack.pop()
            continue
        if entry.name.startswith("."):
            continue
        try:
            is_dir = entry.is_dir()
        except OSError:  # symlink loop: reading it reports the reason
            is_dir = False
        if not is_dir:
            yield entry.path
            continue
        reason = _enter(entry.path, seen, stack)
        if reason is not None:
            yield skipped(shown(entry.path), reason)


def _enter(
    path: str,
    seen: dict[tuple[int, int], str],
    stack: list[tuple[tuple[int, int], Iterator[os.DirEntry[str]]]],
) -> str | None:
    """Push ``path``'s sorted entries on ``stack``; return why not, if it cannot be."""
    try:
        st = Path(path).stat()
        key = (st.st_dev, st.st_ino)
        if key in seen:
            if any(k == key for k, _ in stack):
                return f"symlink loop: links back to {shown(seen[key])!r}"
            return f"folder already read as {shown(seen[key])!r}"
        with os.scandir(path) as it:
            entries = sorted(it, key=attrgetter("name"))
    except OSError as err:
        return f"unreadable folder: {os_reason(err, path).removeprefix('unreadable: ')}"
    seen[key] = path
    stack.append((key, iter(entries)))
    return None
