"""What every engine's run shares: checks, input signature, counts, manifest, threads.

A run folder holds the tables and ``manifest.json``, written last: a folder with a
manifest is complete. Both engines build the manifest here, with the same keys.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from dedup import jit, schema
from dedup.config import RunConfig
from dedup.errors import InputError, OutputError
from dedup.io import atomic, walk
from dedup.io.options import ReadOptions, skip_reason_table, skip_reasons
from dedup.lexical.lsh import bands_rows
from dedup.progress import Timings
from dedup.version import __version__

__all__ = [
    "MANIFEST",
    "RUN_LOCK",
    "InputSignature",
    "ScanResult",
    "check_inputs",
    "check_out",
    "counts",
    "input_signature",
    "input_warnings",
    "read_manifest",
    "run_lock",
    "set_threads",
    "write_manifest",
]

MANIFEST = "manifest.json"
# Bump when a reader's output changes for the same bytes (as when HTML came to be read
# for its main text; 3: TSV without quoting, index folders skipped; 4: UTF-16/32 without a
# BOM, long first JSONL records sniffed, XHTML declarations, short CSV rows padded), so that
# ``--resume`` does not reuse documents read the old way.
READER_VERSION = 4


@dataclass
class ScanResult:
    """The tables of a finished scan, as written under ``out``."""

    out: Path
    documents: pl.DataFrame
    pairs: pl.DataFrame
    clusters: pl.DataFrame
    manifest: dict[str, Any]


@dataclass(frozen=True)
class InputSignature:
    """A digest of the inputs as they are on disk, how many files it covers, and what is
    needed to read them again.

    Attributes:
        digest: hash of every input file's path, size and ``mtime_ns``, in reading order.
        files: the files it covers.
        paths: the inputs as given (relative to ``cwd``).
        cwd: the folder the scan ran in.
        read: the reader's options (:meth:`dedup.io.options.ReadOptions.to_dict`).
    """

    digest: str
    files: int
    paths: tuple[str, ...] = ()
    cwd: str = ""
    read: Mapping[str, Any] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """The manifest's ``inputs``."""
        return {
            "signature": self.digest,
            "files": self.files,
            "paths": list(self.paths),
            "cwd": self.cwd,
            "options": dict(self.read),
        }


def check_inputs(inputs: Sequence[str | Path]) -> None:
    """Raise :class:`InputError` when no input is given or one does not exist."""
    if not inputs:
        raise InputError("no input given")
    for path in inputs:
        if not Path(path).exists():
            raise InputError(f"input path does not exist: {path}")


def check_apart(inputs: Sequence[str | Path], out: Path) -> None:
    """Refuse a run folder that is an input folder or holds an input: a scan never reads its
    own output folder, so it would read nothing there (and its tables would land among the
    documents)."""
    where = out.resolve()
    for path in inputs:
        real = Path(path).resolve()
        if real == where:
            kind = "folder" if real.is_dir() else "file"
            raise OutputError(f"--out {out} is the input {kind} {path}; choose another --out")
        if where in real.parents:
            raise OutputError(f"input {path} is inside --out {out}; choose another --out")


#: Skip reasons of folders whose later content changes no document.
_UNREAD = frozenset({walk.OUT_REASON, walk.RUN_REASON, walk.INDEX_REASON})

#: The lock file of a run folder, held (flock) by the scan writing it.
RUN_LOCK = ".lock"


@contextlib.contextmanager
def run_lock(out: Path) -> Iterator[None]:
    """Hold ``out``'s lock while a scan writes it: a second scan into the same folder is
    refused at once rather than racing the first over its checkpoints and tables.

    Raises:
        OutputError: another process holds it, or the folder cannot be made.
    """
    if out.exists() and not out.is_dir():
        yield  # refused by check_out with its own message
        return
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd = os.open(out / RUN_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {out}: {exc.strerror}") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise OutputError(
                f"{out} is being written by another dedup scan; wait for it or choose another --out"
            ) from exc
        yield
    finally:
        os.close(fd)


def check_out(out: Path, cfg: RunConfig, *, overwrite: bool) -> None:
    """Refuse a run folder holding a run of another config (unless ``overwrite``); remove
    temporary files left by an atomic write killed halfway. Called under :func:`run_lock`,
    which makes the folder."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"output path {out} exists and is not a folder")
    manifest = out / MANIFEST
    if manifest.exists() and not overwrite:
        prev = atomic.read_json(manifest).get("fingerprint")
        if prev != cfg.fingerprint():
            raise OutputError(
                f"{out} holds a run with another config (fingerprint {prev}, this scan's "
                f"{cfg.fingerprint()}); choose another --out or pass --overwrite"
            )
    for leftover in out.glob(".*.tmp"):  # the folder itself was made by run_lock
        leftover.unlink(missing_ok=True)


def input_signature(inputs: Sequence[str | Path], *, read: ReadOptions) -> InputSignature:
    """Hash the path, size and ``mtime_ns`` of each input file, in the reader's order.

    Folders are walked with the reader's own rules (globs, skipped folders); run and index
    folders and the scan's output, which the walk skips unread, are left out, so writing
    into a run folder inside the corpus changes nothing (other skipped entries count by path
    and reason); the options
    that decide which documents come out (text and id columns, per-file cap, globs) and
    :data:`READER_VERSION` are part of the digest. Cheap (no file is opened), and it
    changes when any input does.
    """
    h = hashlib.sha256(json.dumps([READER_VERSION, *read.signature()]).encode())
    files = 0
    for path, reason in walk.iter_input_files(list(inputs), options=read):
        if reason in _UNREAD:
            # a run or index folder, or the scan's own output: what is written into it
            # later changes no document (other skipped entries count by path and reason)
            continue
        if reason is not None:  # a loop, an unreadable folder, a synth truth table...
            item = f"{path}\0{reason}"
        else:
            try:
                st = os.stat(path)  # noqa: PTH116 - pathlib costs ~7 µs a file here
                item = f"{path}\0{st.st_size}\0{st.st_mtime_ns}"
                files += 1
            except OSError as err:
                item = f"{path}\0{err.errno}"
        h.update(os.fsencode(item) + b"\0\n")
    return InputSignature(
        h.hexdigest()[:32],
        files,
        paths=tuple(os.fspath(p) for p in inputs),
        cwd=str(Path.cwd()),
        read=read.to_dict(),
    )


def set_threads(workers: int) -> None:
    """Threads of the numba kernels: ``workers``, or all (0); reset on every scan (applied
    when numba loads, if no kernel has run yet)."""
    jit.set_threads(workers)


def counts(
    *,
    documents: int,
    skipped: int,
    skipped_reasons: Mapping[str, int],
    by_relation: Mapping[str, int],
    clusters: int,
    documents_in_clusters: int,
) -> dict[str, Any]:
    """The manifest's ``counts`` (both engines; compared by ``--resume``)."""
    return {
        "documents": int(documents),
        "skipped": int(skipped),
        "skipped_reasons": {str(k): int(v) for k, v in skipped_reasons.items()},
        "pairs": int(sum(by_relation.values())),
        "pairs_by_relation": {r: int(by_relation.get(r, 0)) for r in schema.RELATIONS},
        "clusters": int(clusters),
        "documents_in_clusters": int(documents_in_clusters),
    }


def frame_counts(
    documents: pl.DataFrame, pairs: pl.DataFrame, clusters: pl.DataFrame
) -> dict[str, Any]:
    """:func:`counts` of tables held in memory."""
    by_rel = dict(pairs.group_by("relation").len().iter_rows()) if pairs.height else {}
    return counts(
        documents=documents.height,
        skipped=int((documents["status"] == "skipped").sum()) if documents.height else 0,
        skipped_reasons=skip_reasons(skip_reason_table(documents)),
        by_relation=by_rel,
        clusters=int(clusters["cluster_id"].n_unique()) if clusters.height else 0,
        documents_in_clusters=clusters.height,
    )


def write_manifest(
    out: Path,
    *,
    config: RunConfig,
    signature: InputSignature,
    read: ReadOptions,
    counts: dict[str, Any],
    stages: dict[str, Any],
    timings: Timings,
    engine: dict[str, Any],
    started: float,
) -> dict[str, Any]:
    """Write ``out/manifest.json`` atomically (last, after every table); return it."""
    bands, rows = bands_rows(config.lsh, config.minhash.num_perm)
    manifest: dict[str, Any] = {
        "tool": "dedup",
        "version": __version__,
        "fingerprint": config.fingerprint(),
        "config": config.to_dict(),
        "inputs": signature.record(),
        "derived": {"bands": bands, "rows": rows},
        "counts": counts,
        "warnings": input_warnings(counts, read),
        "stages": stages,
        "engine": engine,
        **timings.summary(),
        "seconds_total": round(time.perf_counter() - started, 4),
        "python": platform.python_version(),
        "pid": os.getpid(),
    }
    atomic.write_json_atomic(manifest, out / MANIFEST)
    return manifest


def input_warnings(counts: Mapping[str, Any], read: ReadOptions) -> list[str]:
    """What a user must hear about the inputs: nothing read, or everything skipped."""
    n, n_skipped = counts["documents"], counts["skipped"]
    globs = " (check --include/--exclude)" if read.include or read.exclude else ""
    if n == 0:
        return [f"no input file was read: the inputs hold no file dedup reads{globs}"]
    if n_skipped < n:
        return []
    reasons: Mapping[str, int] = counts.get("skipped_reasons", {})
    top = ", ".join(f"{r} ({k})" for r, k in list(reasons.items())[:3])
    hint = ""
    if any(r.startswith(("no column", "no field")) for r in reasons):
        hint = f"; the text is read from --text-column {read.text_column!r}"
    return [f"every document was skipped ({n_skipped}): {top}{hint}{globs}"]


def read_manifest(out: Path) -> dict[str, Any] | None:
    """The manifest in ``out``, or None when there is none or it cannot be read."""
    try:
        manifest = atomic.read_json(out / MANIFEST)
    except OutputError:
        return None
    return manifest if isinstance(manifest, dict) else None
