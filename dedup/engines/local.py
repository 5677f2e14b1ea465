"""The local engine: the whole scan in this process, with checkpoints for ``--resume``.

read + shingle + minhash (streamed in batches, shingles spilled to disk) → candidates and
verification → semantic channel → align → cluster → write (tables atomically, the
manifest last).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from dedup import schema
from dedup.align.stage import align_stage, semantic_proposed
from dedup.cluster import clusters_of
from dedup.config import RunConfig
from dedup.engines.checkpoint import Stages, load_corpus, load_frame, save_corpus
from dedup.io import atomic
from dedup.io.options import ReadOptions
from dedup.lexical.candidates import lexical_pairs
from dedup.lexical.sign import Corpus, ingest
from dedup.progress import Progress, Timings
from dedup.run import (
    MANIFEST,
    InputSignature,
    ScanResult,
    frame_counts,
    input_signature,
    read_manifest,
    set_threads,
    write_manifest,
)
from dedup.semantic.stage import semantic_stage

__all__ = ["check", "run"]


def check(*, resume: bool) -> None:
    """Nothing to check before the run folder is made: every option works locally."""
    del resume


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
) -> ScanResult:
    """Run the scan here (see :func:`dedup.pipeline.scan` for the arguments)."""
    del overwrite, ray_address  # checked by the pipeline; no cluster here
    cfg, prog = config, progress
    t_start = time.perf_counter()
    sig = input_signature(inputs, read=read)
    stages = Stages(out, fingerprint=cfg.fingerprint(), inputs=sig.digest, resume=resume)
    if resume and (done := _finished(out, cfg, sig)) is not None:
        stages.clear()  # left by a run killed after its manifest was written
        prog.message(f"{out} already holds this run (same config and inputs): nothing to do")
        return done
    set_threads(cfg.workers)
    timings = Timings()
    corpus, token, resumed = _corpus(stages, inputs, cfg, read, prog, timings)
    pairs, notes, model, kept = _pairs(stages, token, corpus, cfg, prog, timings, vector_cache)
    if resumed:  # the documents came from their checkpoint
        notes.setdefault("resume", {"from": "documents read"})
    aligned, passages = schema.empty("alignments"), schema.empty("passages")
    if cfg.align.enabled and corpus.texts is not None:
        n_aligned, n_candidates = min(pairs.height, cfg.align.max_pairs), pairs.height
        with timings.stage("align"):
            prog.stage("align", total=n_aligned)
            pairs, aligned, passages = align_stage(
                pairs,
                texts=corpus.texts,
                config=cfg.align,
                derivation=cfg.derivation,
                model=model,
                batch_size=cfg.semantic.batch_size,
                advance=prog.advance,
            )
        pairs = schema.conform(pairs, "pairs")
        aligned = _with_pair_ids(aligned, pairs, "alignments")
        passages = _with_pair_ids(passages, pairs, "passages")
        notes["align"] = {
            "pairs_aligned": n_aligned,
            "pairs_without_relation": n_candidates - pairs.height,
        }
        timings.count("align", notes["align"]["pairs_aligned"])
    if kept is not None:  # after the aligner, which encodes joined texts
        _keep_vectors(kept, notes, prog)
    documents = corpus.documents
    del corpus
    with timings.stage("cluster"):
        clusters = clusters_of(documents, pairs)
    timings.count("cluster", clusters.height)
    _write_tables(out, documents, pairs, clusters, (aligned, passages), timings)
    timings.count("write", pairs.height)
    manifest = write_manifest(
        out,
        config=cfg,
        signature=sig,
        read=read,
        counts=frame_counts(documents, pairs, clusters),
        stages=notes,
        timings=timings,
        engine={"name": "local", "workers": cfg.workers},
        started=t_start,
    )
    stages.clear()
    return ScanResult(out, documents, pairs, clusters, manifest)


def _finished(out: Path, cfg: RunConfig, sig: InputSignature) -> ScanResult | None:
    """The complete run in ``out``, if it was made with this config from these inputs."""
    manifest = read_manifest(out)
    if manifest is None or manifest.get("fingerprint") != cfg.fingerprint():
        return None
    inputs = manifest.get("inputs")
    if not isinstance(inputs, dict) or inputs.get("signature") != sig.digest:
        return None
    tables = [load_frame(out / f"{name}.parquet") for name in ("documents", "pairs", "clusters")]
    documents, pairs, clusters = tables
    if documents is None or pairs is None or clusters is None:
        return None
    if frame_counts(documents, pairs, clusters) != manifest.get("counts"):
        return None
    for name in ("alignments", "passages"):  # written by every run, empty or not
        if load_frame(out / f"{name}.parquet", rows=False) is None:
            return None
    return ScanResult(out, documents, pairs, clusters, manifest)


def _corpus(
    stages: Stages,
    inputs: Sequence[str | Path],
    cfg: RunConfig,
    read: ReadOptions,
    prog: Progress,
    timings: Timings,
) -> tuple[Corpus, str, bool]:
    """The ingest stage, or its checkpoint; the checkpoint's token; whether it was resumed."""
    marker = stages.valid("ingest")
    if marker is not None:
        with timings.stage("resume"):
            corpus = load_corpus(stages.root / "ingest")
        if corpus is not None:
            prog.message("resumed: documents read, shingled and signed (checkpoint)")
            # the stage's keys as in any run; its time is in seconds_detail's "resume"
            timings.add("read+shingle+minhash", 0.0)
            timings.count("read+shingle+minhash", corpus.documents.height)
            return corpus, str(marker["token"]), True
    work = stages.begin("ingest")
    corpus = ingest(
        inputs,
        cfg,
        work,
        read=read,
        keep_texts=cfg.align.enabled or cfg.semantic.enabled is not False,
        progress=prog,
        timings=timings,
    )
    timings.count("read+shingle+minhash", corpus.documents.height)
    with timings.stage("checkpoint"):
        save_corpus(work, corpus)
        marker = stages.finish("ingest")
    return corpus, str(marker["token"]), False


def _pairs(
    stages: Stages,
    upstream: str,
    corpus: Corpus,
    cfg: RunConfig,
    prog: Progress,
    timings: Timings,
    vector_cache: Path | None,
) -> tuple[pl.DataFrame, dict[str, Any], Any, Any]:
    """Verified pairs before alignment (or their checkpoint), notes, the semantic model, and
    what to write back to the vector cache (``Kept``, or None)."""
    marker = stages.valid("pairs", upstream)
    if marker is not None:
        pairs = load_frame(stages.root / "pairs" / "pairs.parquet")
        if pairs is not None:
            prog.message("resumed: verified pairs (checkpoint)")
            notes: dict[str, Any] = dict(marker["notes"])
            notes["resume"] = {"from": "verified pairs"}
            timings.add("candidates+verify", 0.0)  # the stages' keys, as in any run
            timings.count("candidates+verify", pairs.height)
            if "semantic" in notes and cfg.semantic.enabled is not False:
                timings.add("semantic", 0.0)
            model = _model_for(pairs, notes, cfg)
            return pairs, notes, model, _resumed_kept(pairs, model, corpus, cfg, vector_cache)
    pairs, notes, model, kept = _lexical_and_semantic(corpus, cfg, prog, timings, vector_cache)
    with timings.stage("checkpoint"):
        folder = stages.begin("pairs")
        pairs.write_parquet(folder / "pairs.parquet")
        stages.finish("pairs", upstream, notes=notes)
    return pairs, notes, model, kept


def _model_for(pairs: pl.DataFrame, notes: dict[str, Any], cfg: RunConfig) -> Any:
    """The semantic model again, when resumed pairs hold paraphrases to align."""
    if not (cfg.align.enabled and notes.get("semantic", {}).get("ran")):
        return None
    if not pairs.select(semantic_proposed().any()).item():
        return None
    from dedup.semantic.encoder import sentence_embedder

    return sentence_embedder(
        cfg.semantic.model,
        batch_size=cfg.semantic.batch_size,
        precision=cfg.semantic.precision,
    )


def _resumed_kept(
    pairs: pl.DataFrame, model: Any, corpus: Corpus, cfg: RunConfig, vector_cache: Path | None
) -> Any:
    """With a vector cache, a run resumed after verification reads the kept vectors of the
    documents the aligner embeds (``Kept``, or None)."""
    if model is None or vector_cache is None or corpus.texts is None:
        return None
    from dedup.semantic.vector_store import Kept, SentenceVectorStore
    from dedup.text.segment import sentence_texts

    store = SentenceVectorStore.here(vector_cache, cfg.semantic)
    sem = pairs.filter(semantic_proposed())
    ids = sorted(set(sem["doc_a"].to_list()) | set(sem["doc_b"].to_list()))
    texts = [corpus.texts.get(d) for d in ids]
    docs = [(t, sentence_texts(t)) for t in texts]
    return Kept.preload(store, model, docs)


def _keep_vectors(kept: Any, notes: dict[str, Any], prog: Progress) -> None:
    """Write the vector cache's new files; say so when its folder cannot be written."""
    kept.write()
    notes.setdefault("semantic", {})["vector_cache_written"] = kept.written
    if not kept.store.writable:
        prog.message(f"vector cache {kept.store.folder} cannot be written: nothing was kept")


def _lexical_and_semantic(
    corpus: Corpus,
    cfg: RunConfig,
    prog: Progress,
    timings: Timings,
    vector_cache: Path | None = None,
) -> tuple[pl.DataFrame, dict[str, Any], Any, Any]:
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
    model = kept = None
    if corpus.texts is not None and cfg.semantic.enabled is not False:
        from dedup.align.precheck import channel_rule

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
                accept=channel_rule(cfg),
                vector_cache=vector_cache,
            )
        pairs, model, kept = outcome.pairs, outcome.model, outcome.kept
        notes["semantic"] = {"ran": outcome.ran, "reason": outcome.reason, **outcome.notes}
    else:
        notes["semantic"] = {"ran": False, "reason": "semantic channel disabled"}
    timings.count("candidates+verify", pairs.height)
    return _with_paths(pairs, corpus.documents), notes, model, kept


def _with_paths(pairs: pl.DataFrame, documents: pl.DataFrame) -> pl.DataFrame:
    """Both ends' paths and external ids."""
    names = documents.select("doc_id", "path", "external_id")
    for end in ("a", "b"):
        pairs = pairs.drop([f"path_{end}", f"external_id_{end}"], strict=False).join(
            names.rename(
                {"doc_id": f"doc_{end}", "path": f"path_{end}", "external_id": f"external_id_{end}"}
            ),
            on=f"doc_{end}",
            how="left",
        )
    return schema.conform(pairs.sort("doc_a", "doc_b"), "pairs")


def _with_pair_ids(aligned: pl.DataFrame, pairs: pl.DataFrame, name: str) -> pl.DataFrame:
    """Table ``name``'s rows (alignments or passages) with their pair's external ids (row
    order kept)."""
    ids = pairs.select("doc_a", "doc_b", "external_id_a", "external_id_b")
    joined = aligned.drop(["external_id_a", "external_id_b"]).join(
        ids, on=["doc_a", "doc_b"], how="left", maintain_order="left"
    )
    return schema.conform(joined, name)


def _write_tables(
    out: Path,
    documents: pl.DataFrame,
    pairs: pl.DataFrame,
    clusters: pl.DataFrame,
    aligned: tuple[pl.DataFrame, pl.DataFrame],
    timings: Timings,
) -> None:
    """Write the tables (each atomically) after removing the old manifest.

    A run killed while writing leaves a folder without a manifest (incomplete, refused by
    ``dedup report``), never a manifest that describes a mix of old and new tables; the
    new manifest is written last by the caller.
    """
    with timings.stage("write"):
        (out / MANIFEST).unlink(missing_ok=True)
        tables = (
            ("documents", documents),
            ("pairs", pairs),
            ("clusters", clusters),
            ("alignments", aligned[0]),
            ("passages", aligned[1]),
        )
        for name, frame in tables:
            atomic.write_parquet_atomic(frame, out / f"{name}.parquet")
