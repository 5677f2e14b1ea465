"""The scan: read, shingle, minhash, candidates, verify, cluster, align, write."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from dedup import __version__, schema
from dedup.config import RunConfig
from dedup.engines.checkpoint import (
    InputSignature,
    Stages,
    input_signature,
    load_corpus,
    load_frame,
)
from dedup.engines.checkpoint import save_corpus as save_corpus_checkpoint
from dedup.errors import ConfigError, InputError, OutputError
from dedup.io import walk as io
from dedup.lexical.candidates import lexical_pairs
from dedup.lexical.lsh import bands_rows
from dedup.lexical.sign import Corpus, Progress, Silent, Timings, ingest
from dedup.semantic.stage import align_stage, semantic_stage

__all__ = ["MANIFEST", "Corpus", "Progress", "ScanResult", "Timings", "clusters_of", "scan"]

MANIFEST = "manifest.json"


@dataclass
class ScanResult:
    """The tables of a finished scan, as written under ``out``."""

    out: Path
    documents: pl.DataFrame
    pairs: pl.DataFrame
    clusters: pl.DataFrame
    manifest: dict[str, Any]


def _check_inputs(inputs: Sequence[str | Path]) -> None:
    if not inputs:
        raise InputError("no input given")
    for path in inputs:
        if not Path(path).exists():
            raise InputError(f"input path does not exist: {path}")


def _check_out(out: Path, cfg: RunConfig, *, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise OutputError(f"output path {out} exists and is not a folder")
    manifest = out / MANIFEST
    if manifest.exists() and not overwrite:
        prev = io.read_json(manifest).get("fingerprint")
        if prev != cfg.fingerprint():
            raise OutputError(
                f"{out} holds a run with another config ({prev}); "
                "choose another --out or pass --overwrite"
            )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {out}: {exc.strerror}") from exc
    for leftover in out.glob(".*.tmp"):  # of an atomic write killed halfway
        leftover.unlink(missing_ok=True)


def clusters_of(documents: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    """Connected components of the pair graph, as the ``clusters`` table."""
    from dedup.cluster import connected_components

    n = int(documents.height)
    labels = connected_components(n, pairs["doc_a"].to_numpy(), pairs["doc_b"].to_numpy())
    frame = pl.DataFrame({"doc_id": np.arange(n, dtype=np.int64), "cluster_id": labels})
    frame = frame.with_columns(pl.len().over("cluster_id").alias("cluster_size")).filter(
        pl.col("cluster_size") > 1
    )
    frame = frame.join(documents.select("doc_id", "path"), on="doc_id", how="left")
    return schema.conform(frame.sort("cluster_id", "doc_id"), "clusters")


def scan(
    inputs: Sequence[str | Path],
    out: str | Path,
    *,
    config: RunConfig | None = None,
    text_column: str = "text",
    id_column: str | None = None,
    overwrite: bool = False,
    resume: bool = False,
    progress: Progress | None = None,
    engine: str = "local",
    ray_address: str | None = None,
) -> ScanResult:
    """Scan ``inputs`` for duplicates and derivatives; write the tables under ``out``.

    Every stage leaves a checkpoint under ``out/.stages/`` (removed once the run is
    complete), so a run that was killed can be resumed.

    Args:
        inputs: folders (walked recursively), text files, JSONL or Parquet files.
        out: run folder; created if missing.
        config: parameters of every stage; defaults when ``None``.
        text_column: text field of JSONL/Parquet inputs.
        id_column: optional id field of JSONL/Parquet inputs, kept as ``external_id``.
        overwrite: replace a run in ``out`` made with another config.
        resume: reuse the checkpoints (or the finished run) in ``out`` made with the same
            config from the same inputs (same paths, sizes and modification times).
        progress: receives stage names and progress; silent when ``None``.
        engine: ``local`` (this machine) or ``ray`` (a Ray cluster,
            :mod:`dedup.engines.ray.engine`).
        ray_address: the Ray cluster to connect to (``engine="ray"`` only).

    Returns:
        The tables, as written.
    """
    if engine != "local":
        from dedup.engines.ray.engine import dispatch

        if resume:
            raise ConfigError(f"--resume works with the local engine only, not {engine!r}")
        return dispatch(
            engine,
            inputs,
            out,
            config=config,
            text_column=text_column,
            id_column=id_column,
            overwrite=overwrite,
            progress=progress,
            ray_address=ray_address,
        )
    cfg = (config or RunConfig()).validate()
    prog: Progress = progress or Silent()
    out = Path(out)
    _check_inputs(inputs)
    _check_out(out, cfg, overwrite=overwrite)
    t_start = time.perf_counter()
    sig = input_signature(list(inputs), text_column=text_column, id_column=id_column)
    stages = Stages(out, fingerprint=cfg.fingerprint(), inputs=sig.digest, resume=resume)
    if resume and (done := _finished(out, cfg, sig)) is not None:
        stages.clear()  # left by a run killed after its manifest was written
        prog.message(f"{out} already holds this run (same config and inputs): nothing to do")
        return done
    _set_threads(cfg.workers)
    timings = Timings()
    corpus, token = _corpus(stages, inputs, cfg, text_column, id_column, prog, timings)
    pairs, notes, model = _pairs(stages, token, corpus, cfg, prog, timings)
    aligned = schema.empty("alignments")
    if cfg.align.enabled and corpus.texts is not None:
        with timings.stage("align"):
            prog.stage("align", total=min(pairs.height, cfg.align.max_pairs))
            pairs, aligned = align_stage(
                pairs, texts=corpus.texts, config=cfg, model=model, advance=prog.advance
            )
        pairs = schema.conform(pairs, "pairs")
        notes["align"] = {"pairs_aligned": min(pairs.height, cfg.align.max_pairs)}
    documents = corpus.documents
    del corpus
    with timings.stage("cluster"):
        clusters = clusters_of(documents, pairs)
    manifest = _write(out, cfg, documents, pairs, clusters, aligned, timings, notes, t_start, sig)
    stages.clear()
    return ScanResult(out, documents, pairs, clusters, manifest)


def _set_threads(workers: int) -> None:
    """Threads of the numba kernels: ``workers``, or all (0); reset on every scan."""
    import numba

    most: int = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]
    numba.set_num_threads(min(workers, most) if workers else most)


def _finished(out: Path, cfg: RunConfig, sig: InputSignature) -> ScanResult | None:
    """The complete run in ``out``, if it was made with this config from these inputs."""
    try:
        manifest = io.read_json(out / MANIFEST)
    except OutputError:
        return None
    inputs = manifest.get("inputs") if isinstance(manifest, dict) else None
    if manifest.get("fingerprint") != cfg.fingerprint() or not isinstance(inputs, dict):
        return None
    if inputs.get("signature") != sig.digest:
        return None
    tables = [load_frame(out / f"{name}.parquet") for name in ("documents", "pairs", "clusters")]
    documents, pairs, clusters = tables
    if documents is None or pairs is None or clusters is None:
        return None
    if _counts(documents, pairs, clusters) != manifest.get("counts"):
        return None
    return ScanResult(out, documents, pairs, clusters, manifest)


def _corpus(
    stages: Stages,
    inputs: Sequence[str | Path],
    cfg: RunConfig,
    text_column: str,
    id_column: str | None,
    prog: Progress,
    timings: Timings,
) -> tuple[Corpus, str]:
    """The ingest stage, or its checkpoint; and the checkpoint's token."""
    marker = stages.valid("ingest")
    if marker is not None:
        with timings.stage("resume"):
            corpus = load_corpus(stages.root / "ingest")
        if corpus is not None:
            prog.message("resumed: documents read, shingled and signed (checkpoint)")
            return corpus, str(marker["token"])
    work = stages.begin("ingest")
    corpus = ingest(
        inputs,
        cfg,
        work,
        text_column=text_column,
        id_column=id_column,
        keep_texts=cfg.align.enabled or cfg.semantic.enabled is not False,
        progress=prog,
        timings=timings,
    )
    with timings.stage("checkpoint"):
        save_corpus_checkpoint(work, corpus)
        marker = stages.finish("ingest")
    return corpus, str(marker["token"])


def _pairs(
    stages: Stages,
    upstream: str,
    corpus: Corpus,
    cfg: RunConfig,
    prog: Progress,
    timings: Timings,
) -> tuple[pl.DataFrame, dict[str, Any], Any]:
    """Verified pairs before alignment (or their checkpoint), notes, the semantic model."""
    marker = stages.valid("pairs", upstream)
    if marker is not None:
        pairs = load_frame(stages.root / "pairs" / "pairs.parquet")
        if pairs is not None:
            prog.message("resumed: verified pairs (checkpoint)")
            notes: dict[str, Any] = dict(marker["notes"])
            return pairs, notes, _model_for(pairs, notes, cfg)
    pairs, notes, model = _lexical_and_semantic(corpus, cfg, prog, timings)
    with timings.stage("checkpoint"):
        folder = stages.begin("pairs")
        pairs.write_parquet(folder / "pairs.parquet")
        stages.finish("pairs", upstream, notes=notes)
    return pairs, notes, model


def _model_for(pairs: pl.DataFrame, notes: dict[str, Any], cfg: RunConfig) -> Any:
    """The semantic model again, when resumed pairs hold paraphrases to align."""
    if not (cfg.align.enabled and notes.get("semantic", {}).get("ran")):
        return None
    if not (pairs["relation"] == "paraphrase").any():
        return None
    from dedup.semantic import embed

    return embed.load_model(cfg.semantic.model)


def _lexical_and_semantic(
    corpus: Corpus, cfg: RunConfig, prog: Progress, timings: Timings
) -> tuple[pl.DataFrame, dict[str, Any], Any]:
    """Candidates and verification, then the semantic channel."""
    notes: dict[str, Any] = {}
    with timings.stage("candidates+verify"):
        prog.stage("candidates + verify")
        pairs = lexical_pairs(
            rows=corpus.rows,
            hashes=corpus.hashes,
            offsets=corpus.offsets,
            keys=corpus.keys,
            content=corpus.content,
            config=cfg,
        )
    model = None
    if corpus.texts is not None and cfg.semantic.enabled is not False:
        with timings.stage("semantic"):
            outcome = semantic_stage(
                pairs,
                rows=corpus.rows,
                texts=corpus.texts,
                hashes=corpus.hashes,
                offsets=corpus.offsets,
                content=corpus.content,
                config=cfg,
                progress=prog,
            )
        pairs, model = outcome.pairs, outcome.model
        notes["semantic"] = {"ran": outcome.ran, "reason": outcome.reason}
    else:
        notes["semantic"] = {"ran": False, "reason": "semantic channel disabled"}
    return _with_paths(pairs, corpus.documents), notes, model


def _with_paths(pairs: pl.DataFrame, documents: pl.DataFrame) -> pl.DataFrame:
    paths = documents.select("doc_id", "path")
    pairs = pairs.join(paths.rename({"doc_id": "doc_a", "path": "path_a"}), on="doc_a", how="left")
    pairs = pairs.join(paths.rename({"doc_id": "doc_b", "path": "path_b"}), on="doc_b", how="left")
    return schema.conform(pairs.sort("doc_a", "doc_b"), "pairs")


def _counts(documents: pl.DataFrame, pairs: pl.DataFrame, clusters: pl.DataFrame) -> dict[str, Any]:
    by_rel = dict(pairs.group_by("relation").len().iter_rows()) if pairs.height else {}
    return {
        "documents": documents.height,
        "skipped": int((documents["status"] == "skipped").sum()) if documents.height else 0,
        "pairs": pairs.height,
        "pairs_by_relation": {r: int(by_rel.get(r, 0)) for r in schema.RELATIONS},
        "clusters": int(clusters["cluster_id"].n_unique()) if clusters.height else 0,
        "documents_in_clusters": clusters.height,
    }


def _write(
    out: Path,
    cfg: RunConfig,
    documents: pl.DataFrame,
    pairs: pl.DataFrame,
    clusters: pl.DataFrame,
    aligned: pl.DataFrame,
    timings: Timings,
    notes: dict[str, Any],
    t_start: float,
    sig: InputSignature,
) -> dict[str, Any]:
    """Write the tables, then the manifest last: a run folder with a manifest is complete.

    The previous manifest is removed first, so a run killed while writing leaves a folder
    without a manifest (incomplete, refused by ``dedup report``), never a manifest that
    describes a mix of old and new tables. Each table is itself written atomically.
    """
    t0 = time.perf_counter()
    (out / MANIFEST).unlink(missing_ok=True)
    tables = (
        ("documents", documents),
        ("pairs", pairs),
        ("clusters", clusters),
        ("alignments", aligned),
    )
    for name, frame in tables:
        io.write_parquet_atomic(frame, out / f"{name}.parquet")
    timings.add("write", time.perf_counter() - t0)
    bands, rows = bands_rows(cfg.lsh, cfg.minhash.num_perm)
    manifest: dict[str, Any] = {
        "tool": "dedup",
        "version": __version__,
        "fingerprint": cfg.fingerprint(),
        "config": cfg.to_dict(),
        "inputs": {"signature": sig.digest, "files": sig.files},
        "derived": {"bands": bands, "rows": rows},
        "counts": _counts(documents, pairs, clusters),
        "stages": notes,
        "seconds": {k: round(v, 4) for k, v in timings.seconds.items()},
        "seconds_total": round(time.perf_counter() - t_start, 4),
        "python": platform.python_version(),
        "pid": os.getpid(),
    }
    io.write_json_atomic(manifest, out / MANIFEST)
    return manifest
