"""``dedup filter``: the corpus of a run with one document per duplicate group.

The groups and their survivors come from the run's tables (:mod:`dedup.filter.groups`);
the texts come from reading the run's inputs again, as the scan read them (its manifest
records the inputs, the working folder and the reader's options). The inputs must be
unchanged: their signature (path, size and modification time of every file) must match
the manifest's, and each document read again must have the path, byte count and length
recorded in ``documents.parquet``; otherwise the filter stops with an error and writes
nothing. Documents stream from the reader to the output a batch at a time.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow.parquet as pq

from dedup.errors import InputError, OutputError
from dedup.filter.groups import DEFAULT_RELATIONS, DROPPED, Keep, check_relations, select
from dedup.filter.sinks import Kept, format_of, write
from dedup.io import atomic, walk
from dedup.io.options import ReadOptions
from dedup.report.html import plural
from dedup.run import input_signature

__all__ = ["DEFAULT_RELATIONS", "DROPPED", "FilterResult", "dropped_path_for", "filter_run"]

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class FilterResult:
    """What a filter wrote.

    Attributes:
        out: the filtered corpus.
        dropped_path: the table of dropped documents (:data:`DROPPED`).
        kept: documents written.
        dropped: documents left out as duplicates of a kept one.
        groups: duplicate groups (of two or more documents).
        skipped: documents the scan skipped (no text; not written).
    """

    out: Path
    dropped_path: Path
    kept: int
    dropped: int
    groups: int
    skipped: int

    def summary(self) -> str:
        """One line for the terminal."""
        return (
            f"kept {plural(self.kept, 'document')}, dropped {self.dropped:,} "
            f"({plural(self.groups, 'duplicate group')}; {self.skipped:,} skipped by the scan)"
            f" -> {self.out}; dropped list -> {self.dropped_path}"
        )


def dropped_path_for(out: Path) -> Path:
    """The default place of the dropped table: ``corpus.parquet`` →
    ``corpus.dropped.parquet``, ``corpus.jsonl`` → ``corpus.jsonl.dropped.parquet``, folder
    ``clean`` → ``clean.dropped.parquet``."""
    stem = out.stem if out.suffix.lower() == ".parquet" else out.name
    return out.with_name(f"{stem}.dropped.parquet")


def filter_run(
    run: str | Path,
    out: str | Path,
    *,
    relations: tuple[str, ...] = DEFAULT_RELATIONS,
    keep: Keep = "first",
    dropped: str | Path | None = None,
    overwrite: bool = False,
    advance: Callable[[int], None] | None = None,
) -> FilterResult:
    """Write the corpus of ``run`` with one document per duplicate group.

    Args:
        run: a complete run folder written by ``dedup scan``.
        out: ``.parquet`` or ``.jsonl`` file, or a folder (one ``.txt`` per document); its
            rows are ``doc_id``, ``path``, ``external_id``, ``text``, in input order.
        relations: pairs of these relations join documents into one group.
        keep: the survivor of a group: ``first`` (input order) or ``longest``.
        dropped: where the table of dropped documents goes (default:
            :func:`dropped_path_for`).
        overwrite: replace an existing ``out`` (and dropped table).
        advance: called with the number of documents read, batch by batch.

    Returns:
        What was written.

    Raises:
        InputError: ``run`` is not a complete run, its manifest does not say what it
            read, or an input changed since the scan.
        OutputError: ``out`` or ``dropped`` exists (without ``overwrite``), cannot be
            written, is the other one, or lies in the run folder or the scan's inputs.
        ConfigError: unknown relation, ``keep`` value or output suffix.
    """
    run, out = Path(run).resolve(), Path(out).resolve()
    relations = check_relations(relations)
    fmt = format_of(out)
    side = Path(dropped).resolve() if dropped is not None else dropped_path_for(out)
    record = _inputs_of(run)
    _check_targets(run, record, out, side, overwrite=overwrite)
    chosen = select(run, relations=relations, keep=keep)
    with contextlib.chdir(record["cwd"]):
        _check_signature(record)
        docs = _kept_docs(run, record, chosen.keep, advance)
        kept = write(docs, out, fmt)
    atomic.write_parquet_atomic(chosen.dropped, side)
    n_ok = int(np.count_nonzero(chosen.keep)) + chosen.dropped.height
    return FilterResult(
        out=out,
        dropped_path=side,
        kept=kept,
        dropped=chosen.dropped.height,
        groups=chosen.groups,
        skipped=len(chosen.keep) - n_ok,
    )


def _check_targets(
    run: Path, record: dict[str, Any], out: Path, side: Path, *, overwrite: bool
) -> None:
    """Refuse outputs that would replace what the filter reads or the run holds: the run
    folder, an input of the scan (or a path inside an input folder), the same path for both
    outputs, or an existing path without ``overwrite``; then make their parent folders."""
    if side == out:
        raise OutputError(f"--dropped and --out are both {out}; choose another --dropped")
    cwd = Path(record["cwd"])
    inputs = [(cwd / p).resolve() for p in record["paths"]]
    for option, target in (("--out", out), ("--dropped", side)):
        if target == run or run in target.parents:
            raise OutputError(
                f"{option} {target} is inside the run folder {run}; write it elsewhere"
            )
        if target in run.parents:  # a folder output replaces what it names: the run too
            raise OutputError(f"{option} {target} holds the run folder {run}; write it elsewhere")
        for src in inputs:
            if target == src or src in target.parents:
                raise OutputError(
                    f"{option} {target} is inside the scan's input {src}; write it elsewhere"
                )
            if target in src.parents:
                raise OutputError(
                    f"{option} {target} holds the scan's input {src}; write it elsewhere"
                )
    walked = _walked_folders(inputs, _read_options(record))
    for option, target in (("--out", out), ("--dropped", side)):
        for hit in sorted(walked):  # reached through a symlinked folder, say
            where = "is in" if hit == target or hit in target.parents else "holds"
            if where == "is in" or target in hit.parents:
                raise OutputError(
                    f"{option} {target} {where} {hit}, a folder the scan read; write it elsewhere"
                )
        if target.exists() and not overwrite:
            raise OutputError(f"{target} exists; choose another {option} or pass --overwrite")
    for target in (out, side):
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from exc


def _walked_folders(inputs: list[Path], read: ReadOptions) -> set[Path]:
    """The real folders holding the files the scan's folder inputs gave (symlinks resolved)."""
    out: set[Path] = set()
    for src in inputs:
        if src.is_dir():
            for path, reason in walk.iter_input_files([src], options=read):
                if reason is None:  # the folder walked into (a file symlink's target's is not)
                    out.add(Path(os.path.realpath(Path(path).parent)))
    return out


def _inputs_of(run: Path) -> dict[str, Any]:
    """The manifest's record of the inputs, checked for what a filter needs."""
    if not (run / MANIFEST).exists():
        raise InputError(f"{run} is not a complete dedup run (no manifest.json)")
    manifest = atomic.read_json(run / MANIFEST)
    record = manifest.get("inputs") if isinstance(manifest, dict) else None
    if not isinstance(record, dict) or not {"paths", "cwd", "options"} <= record.keys():
        raise InputError(
            f"{run}: its manifest does not record the inputs' paths "
            "(a run from an older dedup); scan the inputs again"
        )
    if not Path(record["cwd"]).is_dir():
        raise InputError(f"{run}: the folder the scan ran in ({record['cwd']}) is gone")
    return record


def _read_options(record: dict[str, Any]) -> ReadOptions:
    """The reader's options the scan recorded in its manifest."""
    return ReadOptions.from_dict(record["options"])


def _check_signature(record: dict[str, Any]) -> None:
    """Stop when any input file changed (path, size or mtime) since the scan."""
    try:
        sig = input_signature(list(record["paths"]), read=_read_options(record))
    except InputError as exc:
        raise InputError(f"an input of the run is gone: {exc}") from exc
    if sig.digest != record["signature"]:
        raise InputError(
            "the run's inputs changed since the scan (a file's size or modification time "
            "differs, or files were added or removed); scan them again before filtering"
        )


def _kept_docs(
    run: Path,
    record: dict[str, Any],
    keep: npt.NDArray[np.bool_],
    advance: Callable[[int], None] | None,
) -> Iterator[Kept]:
    """Read the inputs again, in the scan's order; check each document against the
    documents table; yield the kept ones."""
    docs = walk.iter_documents(list(record["paths"]), options=_read_options(record))
    table = pq.ParquetFile(run / "documents.parquet", pre_buffer=False)
    columns = ["doc_id", "path", "n_bytes", "n_chars"]
    for batch in table.iter_batches(batch_size=4096, columns=columns):
        rows = batch.to_pylist()
        for row in rows:
            doc = next(docs, None)
            if doc is None:
                raise InputError(f"{row['path']} is gone from the inputs; scan them again")
            _check_same(doc, row)
            if doc.text is not None and keep[row["doc_id"]]:
                yield Kept(row["doc_id"], doc.path, doc.external_id, doc.text)
        if advance is not None:
            advance(len(rows))
    if next(docs, None) is not None:
        raise InputError("the inputs hold more documents than the run; scan them again")


def _check_same(doc: walk.RawDoc, row: dict[str, Any]) -> None:
    n_chars = len(doc.text) if doc.text is not None else None
    # not the status: the scan also skips a document it read but found no words in
    same = doc.path == row["path"] and doc.n_bytes == row["n_bytes"] and n_chars == row["n_chars"]
    if not same:
        raise InputError(
            f"{row['path']} (doc {row['doc_id']}) differs from what the scan read "
            f"(now {doc.path}, {doc.n_bytes} bytes, {n_chars} characters); "
            "scan the inputs again"
        )
