"""New documents against an index: channels propose, the scan's own code verifies.

:func:`match` is the whole path of a query (and of an add): the index's candidate channels
(:mod:`dedup.index.probe`, plus the semantic channel's first stage,
:mod:`dedup.index.semantic`, when the index holds its vectors) give
pairs of document ids; the documents involved are gathered into a small corpus (rows in
``doc_id`` order, shingle sets read back from the index), and that corpus goes through
the scan's functions, in the scan's order:

1. :func:`dedup.lexical.candidates.verify_candidates`: exact set statistics, relation rules, exact
   copies and their groups, score and source;
2. :func:`dedup.semantic.stage.merge_semantic`: candidates scored on their sentences by
   :func:`dedup.semantic.embed.verify_candidates` (the transformer's sentence vectors, from
   :func:`dedup.semantic.encoder.sentence_embedder`), merged by the scan's rules;
3. :func:`dedup.align.stage.align_stage`: sentence alignment (and, with it, the passages).

Nothing here decides a relation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from dedup import schema
from dedup.align.precheck import channel_rule
from dedup.align.stage import align_stage
from dedup.config import RunConfig
from dedup.index.probe import Batch, group_members, lsh_proposals, overlap_proposals
from dedup.index.reader import IndexReader
from dedup.index.semantic import propose, static_vectors
from dedup.index.sentence_vectors import index_store
from dedup.lexical.candidates import labelled_exact_groups, verify_candidates
from dedup.semantic.stage import merge_semantic
from dedup.semantic.static import DocumentVectors
from dedup.semantic.vector_store import Kept
from dedup.text.segment import sentence_texts

TextOf = Callable[[int], str]


@dataclass
class Matched:
    """Verified pairs that involve a new document, their alignment rows, the new documents'
    first-stage vectors (None when the index holds none), the sentence embedder (when
    the semantic channel verified a candidate) and the aligned pairs' ``passages`` rows."""

    pairs: pl.DataFrame
    alignments: pl.DataFrame
    vectors: DocumentVectors | None
    model: Any = None
    passages: pl.DataFrame = field(default_factory=lambda: schema.empty("passages"))


class _Texts:
    """Texts by ``doc_id``: the index's, or the new documents'."""

    def __init__(self, reader: IndexReader, batch_text: TextOf) -> None:
        self.reader = reader
        self.batch_text = batch_text

    def get(self, doc_id: int) -> str:
        if doc_id >= self.reader.n_docs:
            return self.batch_text(doc_id)
        return self.reader.text(doc_id)


@dataclass
class _Semantic:
    """The semantic channel for a batch: its first-stage vectors, whether it runs (the scan's
    cost rule over the index and the batch), and the candidate doc-id pairs a < b."""

    vectors: DocumentVectors
    ran: bool
    pairs: pl.DataFrame


def _semantic_candidates(
    reader: IndexReader, batch: Batch, texts: _Texts, config: RunConfig
) -> _Semantic | None:
    """The first stage's candidates of the batch (:func:`dedup.index.semantic.propose`), when
    the index holds vectors; when the scan's cost rule would skip the channel over the index
    and the batch, none (the batch's vectors are still made, for an add to keep)."""
    if reader.static is None or len(batch.ids) == 0:
        return None
    from dedup.semantic import cost, embed
    from dedup.semantic.channel import within_budget

    sem = config.semantic
    own = [texts.get(int(d)) for d in batch.ids]
    sizes = [len(t.encode("utf-8", "surrogatepass")) for t in own]
    n_rows = int(reader.ok.sum()) + len(own)
    run = False
    if n_rows >= 2:  # the scan's rule over the index and the batch together
        run, _ = cost.should_run(sem, n_rows, n_chars=reader.text_chars + sum(sizes))
    if not run and not embed.is_available()[0]:
        return None  # nothing to make the batch's vectors with
    t0 = time.perf_counter()
    dv = static_vectors(own, sem)
    if not run:
        return _Semantic(dv, False, pl.DataFrame(schema={"a": pl.Int64, "b": pl.Int64}))
    found = propose(reader.static, batch.ids, dv, config=sem)
    pairs = found.pairs
    size_of = np.zeros(int(batch.ids.max()) + 1, dtype=np.int64)
    size_of[: reader.n_docs] = reader.text_bytes
    size_of[batch.ids] = sizes
    touched = np.unique(pairs)
    verify_chars = int(size_of[touched].sum()) if touched.size else 0
    device = embed.default_device()
    rate = cost.transformer_chars_per_second(device, embed.running_precision(sem, device))
    budget = (sem.max_seconds_cpu - (time.perf_counter() - t0)) * rate
    if device == "cpu" and sem.enabled is not True and verify_chars > budget:
        keep = within_budget(pairs, found.cosines, size_of, max(budget, 0.0))
        pairs = pairs[keep]
    frame = pl.DataFrame(
        {"a": pairs[:, 0], "b": pairs[:, 1]}, schema={"a": pl.Int64, "b": pl.Int64}
    )
    return _Semantic(dv, True, frame)


def _local_rows(
    reader: IndexReader, batch: Batch, proposed: list[pl.DataFrame], config: RunConfig
) -> npt.NDArray[np.int64]:
    """The indexed documents the verification needs: every proposed partner, and the
    exact-copy groups (up to one more than ``max_exact_group``) of partners and new ones."""
    n = reader.n_docs
    ids = [f.select(pl.col("a")).to_series().to_numpy() for f in proposed]
    ids += [f.select(pl.col("b")).to_series().to_numpy() for f in proposed]
    flat = np.concatenate(ids) if ids else np.zeros(0, np.int64)
    partners = np.unique(flat[flat < n])
    most = config.verify.max_exact_group + 1
    content = np.concatenate([reader.content[partners], batch.content])
    members = group_members(reader, content, most)
    return np.union1d(partners, members).astype(np.int64)


def _corpus(
    reader: IndexReader, batch: Batch, index_rows: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint32], npt.NDArray[np.int64], Any]:
    """Rows (doc ids), shingle sets (CSR) and content hashes of the small corpus."""
    h_idx, off_idx = reader.shingles(index_rows)
    rows = np.concatenate([index_rows, batch.ids])
    hashes = np.concatenate([h_idx, np.asarray(batch.hashes[: batch.offsets[-1]])])
    offsets = np.concatenate([off_idx, batch.offsets[1:] + off_idx[-1]])
    content = np.concatenate([reader.content[index_rows], batch.content])
    return rows, hashes, offsets.astype(np.int64), content


def _to_rows(frame: pl.DataFrame, rows: npt.NDArray[np.int64]) -> pl.DataFrame:
    return frame.with_columns(
        pl.Series("a", np.searchsorted(rows, frame["a"].to_numpy()).astype(np.int64)),
        pl.Series("b", np.searchsorted(rows, frame["b"].to_numpy()).astype(np.int64)),
    )


def match(
    reader: IndexReader,
    batch: Batch,
    *,
    batch_text: TextOf,
    paths: pl.DataFrame,
    config: RunConfig,
    keep_new: bool = False,
) -> Matched:
    """Verified pairs of the new documents with the index and with each other.

    Args:
        reader: the open index.
        batch: the new documents, shingled and signed.
        batch_text: the text of a new document by ``doc_id``.
        paths: ``doc_id``, ``path`` (and ``external_id`` when known) of the new documents.
        config: the index's config.
        keep_new: also keep the new documents' sentence vectors in the index's store (an
            add, which indexes them); the indexed documents' are always kept.

    Returns:
        Pairs (the ``pairs`` table's columns) with ``doc_b`` a new document, their
        alignment rows, and the new documents' first-stage vectors when the index holds them.
    """
    texts = _Texts(reader, batch_text)
    proposals = [lsh_proposals(reader, batch, config).with_columns(pl.lit("lsh").alias("channel"))]
    if config.overlap.enabled:
        ov = overlap_proposals(reader, batch, config)
        proposals.append(ov.with_columns(pl.lit("overlap").alias("channel")))
    sem = _semantic_candidates(reader, batch, texts, config)
    index_rows = _local_rows(reader, batch, [*proposals, *([sem.pairs] if sem else [])], config)
    rows, hashes, offsets, content = _corpus(reader, batch, index_rows)
    exact, copies, _ = labelled_exact_groups(content, config=config)
    proposed = _to_rows(pl.concat(proposals), rows)
    # the scan proposes pairs of representatives only: two documents of equal content
    # are an exact pair (from the groups above), never a channel's proposal
    same = content[proposed["a"].to_numpy()] == content[proposed["b"].to_numpy()]
    proposed = proposed.filter(pl.Series(~same))
    pairs = verify_candidates(
        proposed,
        exact=exact,
        copies=copies,
        rows=rows,
        hashes=hashes,
        offsets=offsets,
        config=config,
    ).filter(pl.col("doc_b") >= reader.n_docs)
    pairs, model, pending = _merge(
        reader, pairs, sem, rows, hashes, offsets, content, texts, config, keep_new=keep_new
    )
    pairs = _with_paths(pairs, reader, paths)
    aligned, passages = schema.empty("alignments"), schema.empty("passages")
    if config.align.enabled and pairs.height:
        pairs, aligned, passages = align_stage(
            pairs,
            texts=texts,
            config=config.align,
            derivation=config.derivation,
            model=model,
            batch_size=config.semantic.batch_size,
            advance=_no,
        )
        pairs = schema.conform(pairs, "pairs")
    if pending is not None:  # after the aligner, which encodes joined sentences and cut heads
        pending.write()
    return Matched(pairs, aligned, sem.vectors if sem else None, model, passages)


def _no(n: int) -> None:
    pass


def _stored(
    reader: IndexReader,
    embedder: Any,
    sents: dict[int, list[str]],
    rows: npt.NDArray[np.int64],
    texts: _Texts,
    config: RunConfig,
    *,
    keep_new: bool,
) -> Kept:
    """Read the index's kept sentence vectors of the indexed documents among ``sents`` (and of
    the new ones when ``keep_new``: an add indexes them) into ``embedder``; what to write
    back once the query has encoded them."""
    store = index_store(reader.path, config.semantic)
    docs = [
        (texts.get(int(rows[r])), ss)
        for r, ss in sents.items()
        if keep_new or int(rows[r]) < reader.n_docs
    ]
    return Kept.preload(store, embedder, docs)


def _merge(
    reader: IndexReader,
    pairs: pl.DataFrame,
    sem: _Semantic | None,
    rows: npt.NDArray[np.int64],
    hashes: npt.NDArray[np.uint32],
    offsets: npt.NDArray[np.int64],
    content: npt.NDArray[np.uint64],
    texts: _Texts,
    config: RunConfig,
    *,
    keep_new: bool,
) -> tuple[pl.DataFrame, Any, Kept | None]:
    """The scan's verification and merge of the semantic candidates (or a null ``semantic``
    column when the channel does not run); also the sentence embedder, when it verified
    a candidate (the aligner's scorer, as in the scan), and the documents whose vectors the
    index's store lacks."""
    if sem is None or not sem.ran:
        return pairs.with_columns(pl.lit(None, pl.Float64).alias("semantic")), None, None
    from dedup.semantic import embed
    from dedup.semantic.channel import SCORED_SCHEMA
    from dedup.semantic.encoder import sentence_embedder

    pair_arr = _to_rows(sem.pairs, rows).select("a", "b").to_numpy().astype(np.int64)
    pair_arr = pair_arr.reshape(-1, 2)
    sents = {int(r): sentence_texts(texts.get(int(rows[r]))) for r in np.unique(pair_arr).tolist()}
    embedder, pending = None, None
    scores: list[Any] = []
    if len(pair_arr):
        cfg = config.semantic
        embedder = sentence_embedder(cfg.model, batch_size=cfg.batch_size, precision=cfg.precision)
        pending = _stored(reader, embedder, sents, rows, texts, config, keep_new=keep_new)
        scores = embed.verify_candidates(
            embedder, sents, pair_arr, config=cfg, accept=channel_rule(config)
        )
        pending.snapshot()
    frame = pl.DataFrame(
        {
            "a": pair_arr[:, 0],
            "b": pair_arr[:, 1],
            "semantic": np.array([s.score for s in scores], dtype=np.float64),
            "accepted": np.array([s.accepted for s in scores], dtype=bool),
        },
        schema=SCORED_SCHEMA,
    )
    merged = merge_semantic(pairs, frame, rows, hashes, offsets, content=content, config=config)
    return merged, embedder, pending


def _with_paths(pairs: pl.DataFrame, reader: IndexReader, paths: pl.DataFrame) -> pl.DataFrame:
    """Both documents' paths and external ids (the index's for indexed documents, ``paths``'
    for new ones), the ``pairs`` table's columns, sorted as the scan sorts."""
    n = reader.n_docs
    a_ids = pairs["doc_a"].to_list()
    at = np.minimum(pairs["doc_a"].to_numpy(), max(n - 1, 0))
    columns: dict[str, pl.Series] = {}
    for name in ("path", "external_id"):
        indexed = reader.documents[name].gather(at).to_list() if n else [None] * len(at)
        new = paths[name] if name in paths.columns else pl.Series([None] * paths.height)
        lookup = dict(zip(paths["doc_id"].to_list(), new.to_list(), strict=True))
        side_a = [v if i < n else lookup.get(i) for i, v in zip(a_ids, indexed, strict=True)]
        side_b = [lookup.get(int(i)) for i in pairs["doc_b"].to_list()]
        columns[f"{name}_a"] = pl.Series(f"{name}_a", side_a, dtype=pl.String)
        columns[f"{name}_b"] = pl.Series(f"{name}_b", side_b, dtype=pl.String)
    pairs = pairs.with_columns(list(columns.values()))
    return schema.conform(pairs.sort("doc_a", "doc_b"), "pairs")
