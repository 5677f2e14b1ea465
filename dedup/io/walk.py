"""Walking the inputs: :func:`iter_documents` walks folders and files (plain text, JSON Lines,
Parquet, CSV/TSV, HTML, any of them compressed) and yields one :class:`RawDoc` per
document. A bad file never raises: it becomes a ``skipped`` record with a reason. Only a
missing input raises :class:`~dedup.errors.InputError`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from operator import attrgetter
from pathlib import Path

from dedup.errors import InputError
from dedup.io.decode import decode_bytes, shown
from dedup.io.formats import read_file
from dedup.io.options import DEFAULT_MAX_BYTES, ReadOptions
from dedup.io.readers import RawDoc, os_reason, skipped
from dedup.io.select import (
    INDEX_MANIFEST,
    RUN_MANIFEST,
    SYNTH_FILES,
    SYNTH_SUMMARY,
    PathFilter,
    is_index_manifest,
    is_run_manifest,
    is_synth_summary,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "RawDoc",
    "ReadOptions",
    "decode_bytes",
    "iter_documents",
    "iter_input_files",
    "iter_sources",
    "read_source",
]

OUT_REASON = "inside this command's output folder (--out, --index, --vector-cache)"
RUN_REASON = "a dedup run folder (its manifest.json): not read"
INDEX_REASON = "a dedup index folder (its index.json): not read"
SYNTH_REASON = "dedup synth metadata, not a document"


def _check_missing(paths: list[str]) -> None:
    missing = [p for p in paths if not os.path.lexists(p)]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise InputError(f"input not found: {shown(missing[0])!r}{more}")


def iter_documents(
    inputs: Sequence[str | Path], *, options: ReadOptions | None = None
) -> Iterator[RawDoc]:
    """Yield one record per document found in ``inputs``, in a deterministic order.

    A folder is walked recursively in sorted name order, skipping names that start
    with ``.``, files and folders the ``include``/``exclude`` globs leave out
    (:mod:`dedup.select`), dedup run folders, ``dedup synth`` metadata and the
    ``skip`` folders; a symlinked folder is followed once (a loop is reported, not
    walked). Each file is read by the reader for its format (:mod:`dedup.formats`):
    JSON Lines give one document per line (path ``file:LINE``, 1-based), Parquet and
    CSV/TSV one per row (``file:ROW``, 0-based), HTML its main text, anything else one
    document. Inputs are read in the order given.

    Args:
        inputs: Folders and files.
        options: Columns, per-file cap, globs and folders to skip; defaults when None.

    Returns:
        An iterator of :class:`RawDoc`; anything wrong with one file, line or row is a
        ``skipped`` record with a reason, never an exception.

    Raises:
        InputError: An input path does not exist (checked before anything is read).
    """
    opts = options or ReadOptions()
    paths = [os.fspath(p) for p in inputs]
    _check_missing(paths)
    return _iter_inputs(paths, opts)


def _iter_inputs(paths: list[str], opts: ReadOptions) -> Iterator[RawDoc]:
    for source in _iter_sources(paths, opts):
        if isinstance(source, RawDoc):
            yield source
        else:
            yield from read_file(source, opts)


def iter_sources(
    inputs: Sequence[str | Path], *, options: ReadOptions | None = None
) -> Iterator[str | RawDoc]:
    """The files :func:`iter_documents` reads, in its order, without reading them.

    A folder or file the walk skips comes as its ``skipped`` record instead of a path.
    Reading each file with :func:`read_source` and concatenating the records gives the
    same sequence as :func:`iter_documents` (given the same ``options``), so a
    distributed reader can split the files among workers and still number the
    documents the same way.

    Raises:
        InputError: An input path does not exist.
    """
    paths = [os.fspath(p) for p in inputs]
    _check_missing(paths)
    return _iter_sources(paths, options or ReadOptions())


def iter_input_files(
    inputs: Sequence[str | Path], *, options: ReadOptions | None = None
) -> Iterator[tuple[str, str | None]]:
    """The files :func:`iter_documents` would read from ``inputs``, in the same order.

    ``(path, None)`` per file, ``(path, reason)`` per folder or file the walk skips; no
    file is opened. Raises :class:`InputError` for a missing input, like
    :func:`iter_sources`.
    """
    for source in iter_sources(inputs, options=options):
        if isinstance(source, RawDoc):
            yield source.path, source.reason
        else:
            yield source, None


def read_source(path: str, *, options: ReadOptions | None = None) -> Iterator[RawDoc]:
    """The records of one file listed by :func:`iter_sources` (never raises for a bad file)."""
    return read_file(path, options or ReadOptions())


def _distinct_inputs(paths: list[str]) -> list[str]:
    """``paths`` without repeats: an input given twice (``a`` and ``./a``) comes where it
    first comes."""
    out: list[str] = []
    seen: set[str] = set()
    for path in paths:
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            out.append(path)
    return out


def _iter_sources(paths: list[str], opts: ReadOptions) -> Iterator[str | RawDoc]:
    """Every input's files in order. A file named on the command line that a folder's walk
    also reaches (directly or through a symlinked folder) is read once, where it first
    comes; one the walk leaves out (a glob, a dot-name) is still read where it is named."""
    walker = _Walker(opts)
    inputs = _distinct_inputs(paths)
    named = {os.path.realpath(p) for p in inputs if not Path(p).is_dir()}
    watch = bool(named) and any(Path(p).is_dir() for p in inputs)
    done: set[str] = set()
    for path in inputs:
        if Path(path).is_dir():
            for source in walker.walk(path):
                if watch and isinstance(source, str):
                    real = os.path.realpath(source)
                    if real in named:
                        if real in done:
                            continue
                        done.add(real)
                yield source
        elif walker.in_skipped_folder(path):
            yield skipped(shown(path), OUT_REASON)
        elif not watch or os.path.realpath(path) not in done:
            done.add(os.path.realpath(path))
            yield path


_Frame = tuple[tuple[int, int], Iterator[os.DirEntry[str]], str, bool]


class _Walker:
    """Walks folders with one set of rules; remembers the folders entered across inputs."""

    def __init__(self, opts: ReadOptions) -> None:
        self.filter = PathFilter.of(opts.include, opts.exclude)
        self.seen: dict[tuple[int, int], str] = {}  # (device, inode) of each folder entered
        self.skip_keys: set[tuple[int, int]] = set()
        self.skip_real: list[str] = []
        for folder in opts.skip:
            with contextlib.suppress(OSError):
                st = Path(folder).stat()
                self.skip_keys.add((st.st_dev, st.st_ino))
                self.skip_real.append(os.path.realpath(folder).rstrip(os.sep) + os.sep)

    def in_skipped_folder(self, path: str) -> bool:
        """Whether the file ``path`` lies under one of the ``skip`` folders."""
        real = os.path.realpath(path)
        return any(real.startswith(folder) for folder in self.skip_real)

    def walk(self, root: str) -> Iterator[str | RawDoc]:
        """File paths under ``root``, depth-first in sorted name order, without recursion."""
        stack: list[_Frame] = []
        reason = self._enter(root, "", stack)
        if reason is not None:
            yield skipped(shown(root), reason)
        while stack:
            _, entries, prefix, synth = stack[-1]
            entry = next(entries, None)
            if entry is None:
                stack.pop()
                continue
            if entry.name.startswith("."):
                continue
            rel = prefix + entry.name
            try:
                is_dir = entry.is_dir()
            except OSError:  # symlink loop: reading it reports the reason
                is_dir = False
            if is_dir:
                if not self.filter.excluded(rel):
                    reason = self._enter(entry.path, rel + "/", stack)
                    if reason is not None:
                        yield skipped(shown(entry.path), reason)
            elif self.filter.reads(rel):
                if synth and entry.name in SYNTH_FILES:
                    yield skipped(shown(entry.path), SYNTH_REASON)
                else:
                    yield entry.path

    def _enter(self, path: str, prefix: str, stack: list[_Frame]) -> str | None:
        """Push ``path``'s sorted entries on ``stack``; return why not, if it cannot be."""
        try:
            st = Path(path).stat()
            key = (st.st_dev, st.st_ino)
            if key in self.skip_keys:
                return OUT_REASON
            if key in self.seen:
                if any(frame[0] == key for frame in stack):
                    return f"symlink loop: links back to {shown(self.seen[key])!r}"
                return f"folder already read as {shown(self.seen[key])!r}"
            with os.scandir(path) as it:
                entries = sorted(it, key=attrgetter("name"))
        except OSError as err:
            return f"unreadable folder: {os_reason(err, path).removeprefix('unreadable: ')}"
        names = {e.name for e in entries}
        if RUN_MANIFEST in names and is_run_manifest(Path(path, RUN_MANIFEST)):
            return RUN_REASON
        if INDEX_MANIFEST in names and is_index_manifest(Path(path, INDEX_MANIFEST)):
            return INDEX_REASON
        synth = SYNTH_SUMMARY in names and is_synth_summary(Path(path, SYNTH_SUMMARY))
        self.seen[key] = path
        stack.append((key, iter(entries), prefix, synth))
        return None
