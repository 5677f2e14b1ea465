"""The scan on a Ray cluster (Ray Data): the same stages, config and tables as the local engine.

How each stage is distributed (every shuffle is a hash partitioning, see
:mod:`dedup.engines.ray.shuffle`):

- **list**: the driver lists the input files in :func:`dedup.io.walk.iter_documents` order
  (:func:`dedup.io.walk.iter_sources`); no file is read there.
- **read + shingle + minhash + band keys**: ``map_batches`` over batches of files
  (:func:`dedup.engines.ray.partitions.ingest_units`). ``doc_id`` = the file's first id (a
  prefix sum of per-file record counts, one integer per file) + the record's position in the file.
- **exact**: shuffle on the content hash; each document learns whether it represents its
  group, its ``exact`` partners and the copies that inherit its pairs.
- **LSH**: shuffle of ``(band, key, doc)`` rows on ``(band, key)``; buckets become pairs.
- **overlap**: shuffle of ``(shingle hash, doc)`` rows on the hash; shared rare shingles are
  counted per pair in each partition and summed in the next shuffle.
- **verify**: two co-grouped shuffles with the shingle-set table, on ``a`` then on ``b``
  (the first also merges the channels' proposals of each pair); then exact Jaccard and
  containments, and the expansion to exact copies.
- **align**: two co-grouped shuffles with the text table (paths and texts of both ends);
  the second aligns each pair.
- **cluster**: large-star / small-star connected components (:mod:`dedup.engines.ray.components`).
- **write**: each table sorted (a range-partitioned sort) and written as Parquet parts by
  the workers under the run folder, then concatenated part by part into the final file,
  atomically, with the manifest last, as the local engine does.

- **semantic** (paraphrases): batch inference with model actors, candidate search on the
  driver, the local engine's merge (:mod:`dedup.engines.ray.semantic`); the pairs it proposed are
  aligned with sentence embeddings by model actors, as the local engine aligns them.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl

from dedup import schema
from dedup.config import RunConfig
from dedup.engines.ray import align as ap
from dedup.engines.ray.semantic import semantic_pairs
from dedup.engines.ray.shuffle import map_frames
from dedup.engines.ray.stages import align_pairs, candidates, cluster_docs, n_parts, read_docs
from dedup.errors import ConfigError
from dedup.io.options import ReadOptions, skip_reason_table, skip_reasons
from dedup.progress import Progress, Timings
from dedup.run import MANIFEST, ScanResult, input_signature, write_manifest

LOAD_MAX_DOCS = 1_000_000


def require_ray() -> None:
    """Raise :class:`ConfigError` (one line) when Ray Data is not installed."""
    try:
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            f"--engine ray needs the ray extra (pip install 'dedup[ray]'): {exc}"
        ) from exc


@contextmanager
def ray_session(address: str | None, workers: int) -> Iterator[None]:
    """Connect to ``address`` (or start a local cluster) unless Ray is already initialized.

    Ray Data is set to the task-based sort shuffle (quick to start on small inputs, and
    spilling to disk on large ones), ordered execution and no progress bars; the previous
    settings are restored afterwards, and a cluster started here is shut down.
    """
    require_ray()
    import ray
    from ray.data.context import DataContext, ShuffleStrategy

    started = False
    if not ray.is_initialized():
        opts: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": False,
            "logging_level": logging.WARNING,
        }
        if address or os.environ.get("RAY_ADDRESS"):  # an existing cluster
            ray.init(address=address or None, **opts)
        else:
            ray.init(num_cpus=workers or None, **opts)
        started = True
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    with warnings.catch_warnings():  # Ray warns about a deprecated flag it sets itself
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx = DataContext.get_current()
        saved = (
            ctx.shuffle_strategy,
            ctx.enable_progress_bars,
            ctx.execution_options.preserve_order,
        )
        ctx.shuffle_strategy = ShuffleStrategy.SORT_SHUFFLE_PULL_BASED
    ctx.enable_progress_bars = False
    ctx.execution_options.preserve_order = True
    try:
        yield
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.shuffle_strategy = saved[0]
        ctx.enable_progress_bars = saved[1]
        ctx.execution_options.preserve_order = saved[2]
        if started:
            ray.shutdown()


def check(*, resume: bool) -> None:
    """Refuse what this engine cannot do, before the run folder is made.

    Raises:
        ConfigError: ``resume`` (checkpoints are local-engine only), or Ray is missing.
    """
    if resume:
        raise ConfigError("--resume works with the local engine only, not 'ray'")
    require_ray()


def run(
    inputs: Sequence[str | Path],
    out: Path,
    *,
    config: RunConfig,
    read: ReadOptions,
    overwrite: bool,
    resume: bool,
    progress: Progress,
    ray_address: str | None,
    vector_cache: Path | None = None,
    load: bool | None = None,
) -> ScanResult:
    """Scan ``inputs`` on a Ray cluster; write the same tables as the local engine.

    Args:
        inputs: folders (walked recursively) and files in any format the reader knows;
            every node must be able to read them at the same paths.
        out: run folder (already checked by :func:`dedup.pipeline.scan`), on a file
            system every node can write to.
        config: parameters of every stage.
        read: the reader's columns, per-file cap, globs and skipped folders; the
            driver lists the files with them and every worker reads with them.
        overwrite: checked by the pipeline.
        resume: refused by :func:`check`.
        progress: receives stage names and messages.
        ray_address: cluster to connect to (``ray.init(address=...)``, e.g. ``auto`` or
            ``HEAD:6379``); ``None`` uses the Ray already initialized in this process, else
            the cluster named by ``RAY_ADDRESS``, else starts a local one (``workers`` CPUs,
            0: all cores).
        vector_cache: a folder (every node can read and write it) of sentence vectors kept
            between scans: the semantic channel's actors read its candidates' vectors there
            instead of encoding them, and write those they encode.
        load: read the written tables back into the result's frames; ``None`` does so up
            to ``LOAD_MAX_DOCS`` documents. Otherwise the frames are empty and the tables
            are on disk only (read them with ``polars.scan_parquet``).

    Returns:
        The manifest, and the tables when ``load``.
    """
    del overwrite
    check(resume=resume)
    cfg, prog = config, progress
    timings = Timings()
    t_start = time.perf_counter()
    sig = input_signature(inputs, read=read)
    notes: dict[str, Any] = {}
    with (
        ray_session(ray_address, cfg.workers),
        tempfile.TemporaryDirectory(dir=out, prefix=".ray-") as tmp,
    ):
        counts = _run(
            inputs,
            out,
            Path(tmp),
            cfg,
            prog,
            timings,
            notes,
            read=read,
            vector_cache=vector_cache,
        )
        manifest = write_manifest(
            out,
            config=cfg,
            signature=sig,
            read=read,
            counts=counts,
            stages=notes,
            timings=timings,
            engine=_engine_info(),
            started=t_start,
        )
    if load is None:
        load = manifest["counts"]["documents"] <= LOAD_MAX_DOCS
    if not load:
        return ScanResult(
            out,
            schema.empty("documents"),
            schema.empty("pairs"),
            schema.empty("clusters"),
            manifest,
        )
    return ScanResult(
        out,
        pl.read_parquet(out / "documents.parquet"),
        pl.read_parquet(out / "pairs.parquet"),
        pl.read_parquet(out / "clusters.parquet"),
        manifest,
    )


def _run(
    inputs: Sequence[str | Path],
    out: Path,
    tmp: Path,
    cfg: RunConfig,
    prog: Progress,
    timings: Timings,
    notes: dict[str, Any],
    *,
    read: ReadOptions,
    vector_cache: Path | None = None,
) -> dict[str, Any]:
    """Every stage on the cluster; the tables committed; the manifest's counts."""
    with timings.stage("read+shingle+minhash"):
        prog.stage("read + shingle + minhash (ray)")
        docs = read_docs(inputs, cfg, read=read)
        n_docs = docs.count()
    timings.count("read+shingle+minhash", n_docs)
    with timings.stage("candidates+verify"):
        prog.stage("candidates + verify (ray)")
        scored = candidates(docs, cfg, n_docs)
    store = None
    if cfg.semantic.enabled is not False:
        with timings.stage("semantic"):
            prog.stage("semantic: embed + candidates + verify (ray)")
            outcome = semantic_pairs(scored, docs, cfg, n_parts(n_docs), vector_cache=vector_cache)
            scored, store = outcome.pairs, outcome.store
            if not outcome.notes["ran"]:
                prog.message(f"paraphrase detection is off: {outcome.notes['reason']}")
        notes["semantic"] = outcome.notes
    else:
        notes["semantic"] = {"ran": False, "reason": "semantic channel disabled"}
    with timings.stage("candidates+verify"):
        n_pairs = scored.count() if scored is not None else 0
        if n_pairs == 0:
            scored = None
    timings.count("candidates+verify", n_pairs)
    aligned = labels = None
    if scored is not None:
        # this stage also joins the paths, so it runs with --no-align (then timed as write)
        with timings.stage("align" if cfg.align.enabled else "write"):
            prog.stage("paths + align (ray)")
            aligned = align_pairs(
                scored,
                docs,
                cfg,
                n_pairs,
                embed_paraphrases=bool(notes["semantic"]["ran"]),
                store=store,
            )
    if cfg.align.enabled:
        timings.add("align", 0.0)
        notes["align"] = {"pairs_aligned": min(n_pairs, cfg.align.max_pairs)}
        timings.count("align", notes["align"]["pairs_aligned"])
    with timings.stage("cluster"):
        if scored is not None:
            prog.stage("cluster (ray)")
            labels = cluster_docs(aligned, docs, n_pairs)
    with timings.stage("write"):
        prog.stage("write (ray)")
        counts = _write(docs, aligned, labels, out=out, tmp=tmp, n_docs=n_docs)
    if cfg.align.enabled:
        notes["align"]["pairs_without_relation"] = n_pairs - counts["pairs"]
    timings.count("cluster", counts["documents_in_clusters"])
    timings.count("write", counts["pairs"])
    return counts


def _write(
    docs: Any, aligned: Any, labels: Any, *, out: Path, tmp: Path, n_docs: int
) -> dict[str, Any]:
    """Tables as Parquet parts written by the workers, committed atomically into ``out``
    (the old manifest removed first); the manifest's counts."""
    from dedup.engines.ray import output as ro

    documents = map_frames(
        docs, lambda df: schema.conform(df, "documents"), schema=dict(schema.DOCUMENTS)
    )
    reasons = skip_reasons(
        ro.tally(documents, skip_reason_table, {"reason": pl.String, "n": pl.Int64}, ["reason"])
    )
    parts = {
        "documents": ro.write_parts(documents, tmp / "documents", ["doc_id"]),
        "pairs": ro.write_parts(
            None
            if aligned is None
            else map_frames(aligned, ap.pairs_table, schema=dict(schema.PAIRS)),
            tmp / "pairs",
            ["doc_a", "doc_b"],
        ),
        "clusters": ro.write_parts(labels, tmp / "clusters", ["cluster_id", "doc_id"]),
        "alignments": ro.write_parts(
            None
            if aligned is None
            else map_frames(aligned, ap.alignment_table, schema=ap.ALIGN_ROWS),
            tmp / "alignments",
            ["doc_a", "doc_b", "seq"],
            drop=["seq"],
        ),
        "passages": ro.write_parts(
            None
            if aligned is None
            else map_frames(aligned, ap.passage_table, schema=dict(schema.PASSAGES)),
            tmp / "passages",
            ["doc_a", "doc_b", "a_start", "b_start"],
        ),
    }
    counts = ro.counts(n_docs, reasons, aligned, labels)
    (out / MANIFEST).unlink(missing_ok=True)
    ro.commit(parts, out)
    return counts


def _engine_info() -> dict[str, Any]:
    import ray

    return {
        "name": "ray",
        "ray": ray.__version__,
        "cpus": ray.cluster_resources().get("CPU", 0),
    }
