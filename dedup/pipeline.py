"""The scan: read, shingle, minhash, candidates, verify, cluster, align, write."""

from __future__ import annotations

import contextlib
import os
import platform
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty, Queue
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import polars as pl

from dedup import __version__, io, schema
from dedup.candidates import lexical_pairs
from dedup.config import RunConfig
from dedup.errors import InputError, OutputError
from dedup.lsh import band_keys, bands_rows
from dedup.minhash import signatures
from dedup.shingle import shingle_texts
from dedup.stages import align_stage, semantic_stage
from dedup.store import ShingleStore, TextStore

MANIFEST = "manifest.json"


class Progress(Protocol):
    """What the pipeline reports progress to (the CLI draws bars; the API may pass none)."""

    def stage(self, name: str, total: int | None = None) -> None: ...

    def advance(self, n: int = 1) -> None: ...

    def message(self, text: str) -> None: ...


class _Silent:
    def stage(self, name: str, total: int | None = None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def message(self, text: str) -> None:
        pass


@dataclass
class Timings:
    """Seconds and row counts per stage, for the manifest."""

    seconds: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - t0)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds


@dataclass
class Corpus:
    """What the streaming stage keeps: one row per document, shingles spilled to disk."""

    documents: pl.DataFrame
    rows: npt.NDArray[np.int64]  # doc_id of each shingled ("ok") document, by row
    hashes: npt.NDArray[np.uint32]
    offsets: npt.NDArray[np.int64]
    keys: npt.NDArray[np.uint64]  # band keys, one row per shingled document
    content: npt.NDArray[np.uint64]
    texts: TextStore | None = None  # texts of shingled documents, for alignment


@dataclass
class ScanResult:
    """The tables of a finished scan, as written under ``out``."""

    out: Path
    documents: pl.DataFrame
    pairs: pl.DataFrame
    clusters: pl.DataFrame
    manifest: dict[str, Any]


def _doc_row(doc: io.RawDoc, doc_id: int) -> dict[str, Any]:
    return {
        "doc_id": doc_id,
        "path": doc.path,
        "external_id": doc.external_id,
        "status": doc.status,
        "reason": doc.reason,
        "encoding": doc.encoding,
        "n_bytes": doc.n_bytes,
        "n_chars": len(doc.text) if doc.text is not None else None,
    }


def _batches(docs: Iterator[io.RawDoc], size: int) -> Iterator[list[io.RawDoc]]:
    batch: list[io.RawDoc] = []
    for doc in docs:
        batch.append(doc)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _prefetch(batches: Iterator[list[io.RawDoc]], depth: int = 2) -> Iterator[list[io.RawDoc]]:
    """Read the next batches in a background thread while the kernels work on this one."""
    queue: Queue[tuple[str, Any]] = Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in batches:
                if stop.is_set():
                    return
                queue.put(("batch", batch))
            queue.put(("end", None))
        except BaseException as exc:  # re-raised in the consuming thread
            queue.put(("error", exc))

    worker = threading.Thread(target=produce, name="dedup-reader", daemon=True)
    worker.start()
    try:
        while True:
            kind, item = queue.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(Empty):
                queue.get_nowait()
            worker.join(timeout=0.05)


_META_SCHEMA = {c: schema.DOCUMENTS[c] for c in schema.DOCUMENTS}


class _Ingest:
    """Accumulates the streaming stage's output, one batch of documents at a time."""

    def __init__(self, cfg: RunConfig, tmp: Path, *, keep_texts: bool, timings: Timings) -> None:
        self.cfg = cfg
        self.store = ShingleStore(tmp / "shingles.u32")
        self.bands, self.rows_per_band = bands_rows(cfg.lsh, cfg.minhash.num_perm)
        self.keep_texts = keep_texts
        self.timings = timings
        self.frames: list[pl.DataFrame] = []  # documents table, one frame per batch
        self.n_docs = 0
        self.ids: list[npt.NDArray[np.int64]] = []
        self.keys: list[npt.NDArray[np.uint64]] = []
        self.content: list[npt.NDArray[np.uint64]] = []
        self.texts = TextStore(tmp / "texts.utf8") if keep_texts else None

    def add(self, batch: list[io.RawDoc]) -> None:
        """Shingle, sign and band-key one batch; spill its shingles."""
        t0 = time.perf_counter()
        first = self.n_docs
        meta = [_doc_row(d, first + i) for i, d in enumerate(batch)]
        ok = [i for i, d in enumerate(batch) if d.status == "ok" and d.text is not None]
        sb = shingle_texts([batch[i].text or "" for i in ok], self.cfg.shingle)
        t1 = time.perf_counter()
        self.timings.add("shingle", t1 - t0)
        for j, i in enumerate(ok):
            row = meta[i]
            row["n_tokens"] = int(sb.n_tokens[j])
            row["n_shingles"] = int(sb.offsets[j + 1] - sb.offsets[j])
            row["content_hash"] = f"{int(sb.content_hash[j]):016x}"
            if sb.n_tokens[j] == 0:
                row["status"], row["reason"] = "skipped", "no words after normalization"
        has_words = sb.n_tokens > 0
        keep = np.flatnonzero(has_words)
        sizes = np.diff(sb.offsets)
        hashes = sb.hashes if has_words.all() else sb.hashes[np.repeat(has_words, sizes)]
        offsets = np.zeros(len(keep) + 1, dtype=np.int64)
        np.cumsum(sizes[keep], out=offsets[1:])
        sig = signatures(hashes, offsets, self.cfg.minhash)
        self.keys.append(band_keys(sig, self.bands, self.rows_per_band))
        self.timings.add("minhash", time.perf_counter() - t1)
        self.store.append(hashes, offsets)
        ids = np.asarray(ok, dtype=np.int64)[keep] + first
        self.ids.append(ids)
        self.content.append(sb.content_hash[keep])
        if self.texts is not None:
            self.texts.append(ids, [batch[int(d) - first].text or "" for d in ids])
        frame = pl.DataFrame(meta, schema=_META_SCHEMA, infer_schema_length=None)
        self.frames.append(schema.conform(frame, "documents"))
        self.n_docs += len(batch)

    def close(self) -> None:
        """Close the spill files (idempotent; also on error)."""
        self.store.close()
        if self.texts is not None:
            self.texts.close()

    def finish(self) -> Corpus:
        """Close the spill files and assemble the corpus."""
        hashes, offsets = self.store.finish()
        if self.texts is not None:
            self.texts.finish()
        documents = pl.concat(self.frames) if self.frames else schema.empty("documents")
        return Corpus(
            documents=documents,
            rows=np.concatenate(self.ids) if self.ids else np.zeros(0, dtype=np.int64),
            hashes=hashes,
            offsets=offsets,
            keys=(
                np.concatenate(self.keys)
                if self.keys
                else np.zeros((0, self.bands), dtype=np.uint64)
            ),
            content=np.concatenate(self.content) if self.content else np.zeros(0, np.uint64),
            texts=self.texts,
        )


def _ingest(
    inputs: Sequence[str | Path],
    cfg: RunConfig,
    tmp: Path,
    *,
    text_column: str,
    id_column: str | None,
    keep_texts: bool,
    progress: Progress,
    timings: Timings,
) -> Corpus:
    """Stream documents in batches: shingle, sign and band-key each batch."""
    acc = _Ingest(cfg, tmp, keep_texts=keep_texts, timings=timings)
    stream = io.iter_documents(inputs, text_column=text_column, id_column=id_column)
    progress.stage("read + shingle + minhash")
    try:
        t_read = time.perf_counter()
        for batch in _prefetch(_batches(stream, cfg.batch_size)):
            timings.add("read", time.perf_counter() - t_read)
            acc.add(batch)
            progress.advance(len(batch))
            t_read = time.perf_counter()
        timings.add("read", time.perf_counter() - t_read)
    finally:
        acc.close()
    return acc.finish()


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
    out.mkdir(parents=True, exist_ok=True)


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
    progress: Progress | None = None,
    engine: str = "local",
    ray_address: str | None = None,
) -> ScanResult:
    """Scan ``inputs`` for duplicates and derivatives; write the tables under ``out``.

    Args:
        inputs: folders (walked recursively), text files, JSONL or Parquet files.
        out: run folder; created if missing.
        config: parameters of every stage; defaults when ``None``.
        text_column: text field of JSONL/Parquet inputs.
        id_column: optional id field of JSONL/Parquet inputs, kept as ``external_id``.
        overwrite: replace a run in ``out`` made with another config.
        progress: receives stage names and progress; silent when ``None``.
        engine: ``local`` (this machine) or ``ray`` (a Ray cluster, :mod:`dedup.engine_ray`).
        ray_address: the Ray cluster to connect to (``engine="ray"`` only).

    Returns:
        The tables, as written.
    """
    if engine != "local":
        from dedup.engine_ray import dispatch

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
    prog: Progress = progress or _Silent()
    out = Path(out)
    _check_inputs(inputs)
    _check_out(out, cfg, overwrite=overwrite)
    if cfg.workers:
        import numba

        numba.set_num_threads(min(cfg.workers, numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]
    timings = Timings()
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=out, prefix=".scan-") as tmp:
        keep_texts = cfg.align.enabled or cfg.semantic.enabled is not False
        corpus = _ingest(
            inputs,
            cfg,
            Path(tmp),
            text_column=text_column,
            id_column=id_column,
            keep_texts=keep_texts,
            progress=prog,
            timings=timings,
        )
        pairs, aligned, notes = _after_ingest(corpus, cfg, prog, timings)
        documents = corpus.documents
        del corpus
    with timings.stage("cluster"):
        clusters = clusters_of(documents, pairs)
    manifest = _write(out, cfg, documents, pairs, clusters, aligned, timings, notes, t_start)
    return ScanResult(out, documents, pairs, clusters, manifest)


def _after_ingest(
    corpus: Corpus, cfg: RunConfig, prog: Progress, timings: Timings
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """Candidates and verification, the semantic channel, alignment."""
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
            prog.stage("semantic", total=len(corpus.rows))
            outcome = semantic_stage(
                pairs,
                rows=corpus.rows,
                texts=corpus.texts,
                hashes=corpus.hashes,
                offsets=corpus.offsets,
                config=cfg,
                message=prog.message,
                advance=prog.advance,
            )
        pairs, model = outcome.pairs, outcome.model
        notes["semantic"] = {"ran": outcome.ran, "reason": outcome.reason}
    else:
        notes["semantic"] = {"ran": False, "reason": "semantic channel disabled"}
    pairs = _with_paths(pairs, corpus.documents)
    aligned = schema.empty("alignments")
    if cfg.align.enabled and corpus.texts is not None:
        with timings.stage("align"):
            prog.stage("align", total=min(pairs.height, cfg.align.max_pairs))
            pairs, aligned = align_stage(
                pairs, texts=corpus.texts, config=cfg, model=model, advance=prog.advance
            )
        pairs = schema.conform(pairs, "pairs")
        notes["align"] = {"pairs_aligned": min(pairs.height, cfg.align.max_pairs)}
    return pairs, aligned, notes


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
