"""The scan: validate → run folder → ``ENGINES[engine].run()`` → tables.

Stages (each a package): read (:mod:`dedup.io`) → normalize and segment
(:mod:`dedup.text`) → shingle, minhash, LSH, overlap, exact groups, verify
(:mod:`dedup.lexical`) → semantic candidates (:mod:`dedup.semantic`) → cluster
(:mod:`dedup.cluster`) → align (:mod:`dedup.align`) → write (:mod:`dedup.run`,
:mod:`dedup.io.atomic`). The engines (:mod:`dedup.engines`) run the same stages.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dedup import engines
from dedup.config import RunConfig
from dedup.io.options import DEFAULT_MAX_BYTES, ReadOptions
from dedup.progress import Progress, Silent
from dedup.run import MANIFEST, ScanResult, check_apart, check_inputs, check_out, run_lock

__all__ = ["MANIFEST", "ScanResult", "scan"]


def scan(
    inputs: Sequence[str | Path] | str | Path,
    out: str | Path,
    *,
    config: RunConfig | None = None,
    text_column: str = "text",
    id_column: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    overwrite: bool = False,
    resume: bool = False,
    progress: Progress | None = None,
    engine: str = "local",
    ray_address: str | None = None,
    vector_cache: str | Path | None = None,
) -> ScanResult:
    """Scan ``inputs`` for duplicates and derivatives; write the tables under ``out``.

    The local engine leaves a checkpoint of every stage under ``out/.stages/`` (removed
    once the run is complete), so a run that was killed can be resumed.

    Args:
        inputs: folders (walked recursively) and files: text, HTML, JSONL, CSV/TSV,
            Parquet, any of them gzip/bzip2/xz/zstd-compressed (Parquet excepted); one
            path alone is one input.
        out: run folder; created if missing. Never read as input, even inside one.
        config: parameters of every stage; defaults when ``None``.
        text_column: text field of JSONL/CSV/Parquet inputs.
        id_column: optional id field of JSONL/CSV/Parquet inputs, kept as ``external_id``.
        max_bytes: cap on one text file, JSONL line or CSV/Parquet text, and on the
            decompressed size of a compressed file; larger ones are skipped.
        include: globs; a file found in a folder is read only if one matches.
        exclude: globs of files and folders found in a folder that are not read.
        overwrite: replace a run in ``out`` made with another config.
        resume: reuse the checkpoints (or the finished run) in ``out`` made with the same
            config from the same inputs (same paths, sizes and modification times).
        progress: receives stage names and progress; silent when ``None``.
        engine: a name in :data:`dedup.engines.ENGINES`: ``local`` (this machine) or
            ``ray`` (a Ray cluster).
        ray_address: the Ray cluster to connect to (``engine="ray"`` only).
        vector_cache: a folder that keeps the transformer's sentence vectors between scans
            (:mod:`dedup.semantic.vector_store`): the candidates' documents found there are
            read, not encoded, and those encoded are added. With ``engine="ray"``, every
            node must be able to read and write it.

    Returns:
        The tables, as written.
    """
    if isinstance(inputs, (str, Path)):  # one folder or file, not its characters
        inputs = [inputs]
    cfg = (config or RunConfig()).validate()
    read = ReadOptions(
        text_column=text_column,
        id_column=id_column,
        max_bytes=max_bytes,
        include=tuple(include),
        exclude=tuple(exclude),
        # the scan's outputs are never read as its inputs, the vector store included
        skip=(str(out),) + (() if vector_cache is None else (str(vector_cache),)),
    ).validate()
    runner = engines.get(engine)
    runner.check(resume=resume)
    out = Path(out)
    check_inputs(inputs)
    check_apart(inputs, out)
    with run_lock(out):
        check_out(out, cfg, overwrite=overwrite)
        return runner.run(
            inputs,
            out,
            config=cfg,
            read=read,
            overwrite=overwrite,
            resume=resume,
            progress=progress or Silent(),
            ray_address=ray_address,
            vector_cache=None if vector_cache is None else Path(vector_cache),
        )
