"""The semantic (paraphrase) channel on Ray Data: batch inference, then the local merge.

- **document vectors**: ``map_batches`` with ``DocVectors`` of
  :mod:`dedup.engines.ray.actors`, CPU actors that each load the static table once
  (:func:`dedup.semantic.static.load_static_model`) and compute every document's static vector
  (:func:`dedup.semantic.static.document_vectors`).
- **candidates**: the vectors (256 float32 per document) are collected to the driver, up to
  :data:`COLLECT_MAX_DOCS` documents, and :func:`dedup.semantic.search.static_candidates`
  picks the pairs as the local engine does (exact top-k, or SimHash LSH above its size
  limit). Above that size the channel does not run and says why (the LSH bands would have to
  become a shuffle).
- **verification**: the candidates meet both documents' texts in two co-grouped shuffles,
  then ``map_batches`` with ``PairScores`` actors scores every pair with
  :func:`dedup.semantic.embed.verify_candidates`, the local engine's function (with the
  rewrite rule deciding when the scan does not align its pairs).
- **merge**: the lexical pairs that are also candidates, the verified candidates and the
  shingle sets of their documents are collected (all bounded by the candidates) and merged
  on the driver by :func:`dedup.semantic.stage.merge_semantic`, the local engine's rules;
  the other lexical pairs pass through with no ``semantic`` score.
- **alignment** of the pairs it proposed: :func:`align_paraphrases`, ``ParaphraseAligner``
  actors with the local engine's embedding scorer, after the texts' co-grouped shuffle of
  :func:`dedup.engines.ray.stages.align_pairs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import pyarrow as pa

from dedup.align.precheck import channel_rule
from dedup.config import RunConfig, SemanticConfig
from dedup.engines.ray import align as ap
from dedup.engines.ray.actors import SEM, SEM_STORED, DocVectors, PairScores, ParaphraseAligner
from dedup.engines.ray.shuffle import co_group, collect, map_frames, to_arrow

if TYPE_CHECKING:
    from ray.data import Dataset

    from dedup.semantic.embed import Accept
    from dedup.semantic.vector_store import SentenceVectorStore

#: Most documents whose vectors are collected to the driver for candidate search
#: (2 million × 384 float32 ≈ 3 GB).
COLLECT_MAX_DOCS = 2_000_000
#: Documents (or candidate pairs) per batch of an embedding actor.
DOCS_PER_BATCH = 256
PAIRS_PER_BATCH = 256
#: CPU threads given to one CPU embedding actor.
CPU_THREADS_PER_ACTOR = 4

I64 = pl.Int64
_CAND = {"a": I64, "b": I64, "cosine": pl.Float64}
_WITH_A = {**_CAND, "text_a": pl.String}
_WITH_TEXTS = {**_WITH_A, "text_b": pl.String}


@dataclass
class SemanticResult:
    """The lexical pairs with the channel's pairs merged in, what the channel did, and the
    store of sentence vectors its actors used (for the aligner's actors)."""

    pairs: Dataset | None
    notes: dict[str, Any]
    store: SentenceVectorStore | None = None


@dataclass(frozen=True)
class Placement:
    """Where the embedding actors run: device, actors, and resources of each."""

    device: str
    actors: int
    num_cpus: float
    num_gpus: float
    threads: int = 1

    def options(self) -> dict[str, Any]:
        return {
            "concurrency": self.actors,
            "num_cpus": self.num_cpus,
            "num_gpus": self.num_gpus,
        }


def placement() -> Placement:
    """One actor per GPU of the cluster; without GPUs, CPU actors of up to
    :data:`CPU_THREADS_PER_ACTOR` torch threads each, as many as the cluster's CPUs allow.

    A CPU actor reserves one CPU only (its threads are not reserved), so the tasks that
    feed it can still be scheduled on a small cluster.
    """
    import ray

    res = ray.cluster_resources()
    gpus = int(res.get("GPU", 0))
    if gpus:
        return Placement("cuda", gpus, 1.0, 1.0, 1)
    cpus = max(int(res.get("CPU", 1)), 1)
    threads = min(cpus, CPU_THREADS_PER_ACTOR)
    return Placement("cpu", max(cpus // threads, 1), 1.0, 0.0, threads)


def decide(
    config: SemanticConfig, n_docs: int, where: Placement, *, n_chars: int = 0
) -> tuple[bool, str]:
    """:func:`dedup.semantic.cost.should_run` for the cluster's device, and the size limit."""
    from dedup.semantic import cost

    run, reason = cost.should_run(config, n_docs, n_chars=n_chars, device=where.device)
    if run and n_docs > COLLECT_MAX_DOCS:
        return False, (
            f"semantic channel skipped: {n_docs} documents > {COLLECT_MAX_DOCS} on the ray "
            "engine (candidate search collects the vectors to the driver)"
        )
    if run:
        reason += f" (ray: {where.actors} {where.device} actor(s))"
    return run, reason


def _count_shingled(docs: Dataset) -> tuple[int, int]:
    """Shingled documents and their UTF-8 bytes."""
    counted = map_frames(
        docs,
        lambda df: df.filter(pl.col("shingled")).select(
            pl.len().cast(I64).alias("n"),
            pl.col("text").str.len_bytes().sum().cast(I64).alias("chars"),
        ),
        schema={"n": I64, "chars": I64},
    )
    return int(counted.sum("n") or 0), int(counted.sum("chars") or 0)


def semantic_pairs(
    scored: Dataset | None,
    docs: Dataset,
    cfg: RunConfig,
    parts: int,
    *,
    vector_cache: Path | None = None,
) -> SemanticResult:
    """The semantic channel on the lexical pairs ``scored`` (None: there are none).

    With ``vector_cache`` (a folder every node can read and write), the actors read the
    candidates' sentence vectors kept there by earlier scans instead of encoding them, and
    write those they encode (:mod:`dedup.semantic.vector_store`).

    Returns the pairs with a ``semantic`` column (the local engine's rules,
    :func:`dedup.semantic.stage.merge_semantic`) and the manifest's ``stages.semantic`` notes.
    """
    if cfg.semantic.enabled is False:
        return SemanticResult(scored, {"ran": False, "reason": "semantic channel disabled"})
    n_docs, n_chars = _count_shingled(docs)
    where = placement()
    run, reason = decide(cfg.semantic, n_docs, where, n_chars=n_chars)
    if not run:
        return SemanticResult(scored, {"ran": False, "reason": reason})
    notes: dict[str, Any] = {"ran": True, "reason": reason, "documents": n_docs}
    if n_docs < 2:  # nothing to pair: no model to load
        notes.update(candidates=0, accepted=0)
        return SemanticResult(scored, notes)
    ids, vecs, split = document_vectors(docs, cfg.semantic, where)
    from dedup.semantic.search import static_candidates

    found = static_candidates(
        vecs,
        split,
        threshold=cfg.semantic.doc_threshold,
        k=cfg.semantic.top_k,
        max_split_share=cfg.semantic.max_split_share,
    )
    cand, cosine = found.pairs, found.cosines.astype(np.float64)
    notes["candidates"] = int(cand.shape[0])
    notes["left_out_unknown_words"] = found.left_out
    if cand.shape[0] == 0:
        notes["accepted"] = 0
        return SemanticResult(scored, notes)
    from dedup.semantic.embed import running_precision

    precision = running_precision(cfg.semantic, where.device)
    store = None
    if vector_cache is not None:
        from dedup.semantic.vector_store import SentenceVectorStore

        store = SentenceVectorStore.under(
            vector_cache, cfg.semantic, device=where.device, precision=precision
        )
    sem = _verify(
        pl.DataFrame({"a": ids[cand[:, 0]], "b": ids[cand[:, 1]], "cosine": cosine}, schema=_CAND),
        docs,
        cfg.semantic,
        where,
        parts,
        accept=channel_rule(cfg),
        store=store,
    )
    if store is not None:
        stored = pl.concat([sem.filter("stored_a")["a"], sem.filter("stored_b")["b"]])
        notes["stored_documents"] = stored.n_unique()
        notes["vector_cache_written"] = int(sem["written"].sum())
        sem = sem.select(list(SEM))
    notes["accepted"] = int(sem["accepted"].sum())
    notes["precision"] = precision
    return SemanticResult(_merged(scored, sem, docs, cfg), notes, store)


def document_vectors(
    docs: Dataset, config: SemanticConfig, where: Placement
) -> tuple[
    np.ndarray[Any, np.dtype[np.int64]],
    np.ndarray[Any, np.dtype[np.float32]],
    np.ndarray[Any, np.dtype[np.float64]],
]:
    """Every shingled document's static vector and share of split words, in ``doc_id`` order
    (the local engine's rows); CPU actors, one per actor slot of the placement."""
    import ray

    texts = map_frames(
        docs,
        lambda df: df.filter(pl.col("shingled")).select("doc_id", "text"),
        schema={"doc_id": I64, "text": pl.String},
    )
    out = texts.map_batches(
        DocVectors,
        fn_constructor_kwargs={"config": config},
        batch_format="pyarrow",
        batch_size=DOCS_PER_BATCH,
        concurrency=where.actors,
        num_cpus=1.0,
    )
    tables = [t for t in (ray.get(r) for r in out.to_arrow_refs()) if t.num_rows]
    table = pa.concat_tables(tables)
    ids = np.asarray(table.column("doc_id").to_numpy(), dtype=np.int64)
    vec_col = table.column("vec").combine_chunks()
    dim = vec_col.type.list_size
    vecs = np.asarray(vec_col.flatten().to_numpy(), dtype=np.float32).reshape(-1, dim)
    split = np.asarray(table.column("split").to_numpy(), dtype=np.float64)
    order = np.argsort(ids, kind="stable")
    return ids[order], np.ascontiguousarray(vecs[order]), split[order]


def _verify(
    cand: pl.DataFrame,
    docs: Dataset,
    config: SemanticConfig,
    where: Placement,
    parts: int,
    *,
    accept: Accept | None,
    store: SentenceVectorStore | None = None,
) -> pl.DataFrame:
    """Scores of the candidate pairs (doc ids ``a < b``), by the model actors; with
    ``store``, also the :data:`SEM_STORED` columns."""
    import ray

    from dedup.engines.ray.shuffle import semi_join

    pairs = ray.data.from_arrow(to_arrow(cand))
    texts = semi_join(
        map_frames(
            docs, lambda df: df.select("doc_id", "text"), schema={"doc_id": I64, "text": pl.String}
        ),
        {"doc_id": I64, "text": pl.String},
        pairs,
        ["a", "b"],
    ).materialize()
    with_a = co_group(
        pairs,
        texts,
        left_on=["a"],
        right_on=["doc_id"],
        fn=lambda p, t: p.join(t.rename({"doc_id": "a", "text": "text_a"}), on="a", how="left"),
        left_schema=_CAND,
        right_schema={"doc_id": I64, "text": pl.String},
        schema=_WITH_A,
        parts=parts,
    )
    both = co_group(
        with_a,
        texts,
        left_on=["b"],
        right_on=["doc_id"],
        fn=lambda p, t: p.join(t.rename({"doc_id": "b", "text": "text_b"}), on="b", how="left"),
        left_schema=_WITH_A,
        right_schema={"doc_id": I64, "text": pl.String},
        schema=_WITH_TEXTS,
        parts=parts,
    )
    scored = both.map_batches(
        PairScores,
        fn_constructor_kwargs={
            "config": config,
            "device": where.device,
            "threads": where.threads,
            "accept": accept,
            "store": store,
        },
        batch_format="pyarrow",
        batch_size=PAIRS_PER_BATCH,
        **where.options(),
    )
    return collect(scored, SEM if store is None else SEM_STORED).sort("a", "b")


def _merged(scored: Dataset | None, sem: pl.DataFrame, docs: Dataset, config: RunConfig) -> Dataset:
    """The local engine's merge (:func:`dedup.semantic.stage.merge_semantic`) on the pairs
    the candidates touch."""
    import ray

    from dedup.semantic.stage import merge_semantic

    keys = sem.select(pl.col("a").alias("doc_a"), pl.col("b").alias("doc_b"))
    lexical = {c: t for c, t in ap.SCORED.items() if c != "semantic"}
    if scored is None:
        touched = pl.DataFrame(schema=lexical)
        rest = None
    else:
        ref = ray.put(keys)
        touched = collect(
            map_frames(
                scored,
                lambda df: df.join(ray.get(ref), on=["doc_a", "doc_b"], how="semi"),
                schema=ap.SCORED,
            ),
            ap.SCORED,
        ).select(list(lexical))
        rest = map_frames(
            scored,
            lambda df: df.join(ray.get(ref), on=["doc_a", "doc_b"], how="anti"),
            schema=ap.SCORED,
        )
    rows = np.unique(np.concatenate([sem["a"].to_numpy(), sem["b"].to_numpy()]))
    sets_schema = {"doc_id": I64, "hashes": pl.List(pl.UInt32), "content": pl.UInt64}
    rows_ref = ray.put(rows)
    sets = collect(
        map_frames(
            docs,
            lambda df: df.filter(pl.col("doc_id").is_in(pl.Series(ray.get(rows_ref)))).select(
                "doc_id", "hashes", "content"
            ),
            schema=sets_schema,
        ),
        sets_schema,
    ).sort("doc_id")
    assert sets["doc_id"].to_list() == rows.tolist()
    sizes = sets["hashes"].list.len().to_numpy().astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    hashes = sets["hashes"].explode().drop_nulls().to_numpy().astype(np.uint32)
    sem_rows = sem.with_columns(
        pl.Series("a", np.searchsorted(rows, sem["a"].to_numpy()), dtype=I64),
        pl.Series("b", np.searchsorted(rows, sem["b"].to_numpy()), dtype=I64),
    )
    content = sets["content"].to_numpy().astype(np.uint64)
    merged = merge_semantic(
        touched, sem_rows, rows.astype(np.int64), hashes, offsets, content=content, config=config
    )
    merged_ds = ray.data.from_arrow(to_arrow(merged.select(list(ap.SCORED))))
    return merged_ds if rest is None else rest.union(merged_ds).materialize()


def align_paraphrases(
    aligned: Dataset,
    cfg: RunConfig,
    cutoff: int | None,
    store: SentenceVectorStore | None = None,
) -> Dataset:
    """Pairs from :func:`dedup.engines.ray.align.attach_b` with ``skip_semantic``, the
    semantic channel's pairs aligned by model actors
    (:class:`dedup.engines.ray.actors.ParaphraseAligner`), which read and write ``store``'s
    sentence vectors when given one."""
    where = placement()
    return aligned.map_batches(
        ParaphraseAligner,
        fn_constructor_kwargs={
            "config": cfg.semantic,
            "device": where.device,
            "threads": where.threads,
            "cutoff": cutoff,
            "derivation": cfg.derivation,
            "store": store,
        },
        batch_format="pyarrow",
        batch_size=PAIRS_PER_BATCH,
        **where.options(),
    )
