"""New documents against an index: channels propose, the scan's own code verifies.

:func:`match` is the whole path of a query (and of an add): the index's candidate channels
(:mod:`dedup.index.probe`, plus semantic neighbours when the index holds vectors) give
pairs of document ids; the documents involved are gathered into a small corpus (rows in
``doc_id`` order, shingle sets read back from the index), and that corpus goes through
the scan's functions, in the scan's order:

1. :func:`dedup.lexical.candidates.verify_candidates`: exact set statistics, relation rules, exact
   copies and their groups, score and source;
2. :func:`dedup.semantic.stage.merge_semantic`: candidates scored on their sentences by
   :func:`dedup.semantic.embed.verify_candidates`, merged by the scan's rules;
3. :func:`dedup.align.stage.align_stage`: sentence alignment (and, with it, the passages).

Nothing here decides a relation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from dedup import schema
from dedup.align.stage import align_stage
from dedup.config import RunConfig
from dedup.index.probe import Batch, group_members, lsh_proposals, overlap_proposals
from dedup.index.reader import IndexReader
from dedup.lexical.candidates import labelled_exact_groups, verify_candidates
from dedup.semantic.stage import merge_semantic
from dedup.text.segment import split_sentences

TextOf = Callable[[int], str]


@dataclass
class Matched:
    """Verified pairs that involve a new document, their alignment rows, and the new
    documents' semantic vectors (None when the channel is off)."""

    pairs: pl.DataFrame
    alignments: pl.DataFrame
    vectors: npt.NDArray[np.float32] | None
    model: Any = None


class _Texts:
    """Texts by ``doc_id``: the index's, or the new documents'."""

    def __init__(self, reader: IndexReader, batch_text: TextOf) -> None:
        self.reader = reader
        self.batch_text = batch_text

    def get(self, doc_id: int) -> str:
        if doc_id >= self.reader.n_docs:
            return self.batch_text(doc_id)
        return self.reader.text(doc_id)


def sentences(text: str) -> list[str]:
    """A text as the scan's semantic stage sees it: its sentences."""
    return [s.text for s in split_sentences(text)]


@dataclass
class _Semantic:
    model: Any
    vectors: npt.NDArray[np.float32]  # the batch's document vectors, by batch row
    pairs: pl.DataFrame  # candidate doc-id pairs a < b


def _semantic_candidates(
    reader: IndexReader, batch: Batch, texts: _Texts, config: RunConfig, model: Any
) -> _Semantic | None:
    """The semantic channel's candidates: each new document's ``top_k`` nearest (indexed or
    new) documents with cosine >= ``doc_threshold``, as the scan's exact search finds them."""
    if reader.vectors is None or len(batch.ids) == 0:
        return None
    from dedup.semantic import embed

    model = model if model is not None else embed.load_model(config.semantic.model)
    sents = [sentences(texts.get(int(d))) for d in batch.ids]
    vec = embed.embed_documents(model, sents, batch_size=config.semantic.batch_size)
    index_vec = reader.vectors
    found_a: list[npt.NDArray[np.int64]] = []
    found_b: list[npt.NDArray[np.int64]] = []
    n_total = reader.n_docs + len(batch.ids)
    k = min(config.semantic.top_k, max(1, int(reader.ok.sum()) + len(batch.ids) - 1))
    for lo in range(0, len(batch.ids), 256):
        q = vec[lo : lo + 256]
        sims = np.full((len(q), n_total), -np.inf, dtype=np.float32)
        sims[:, : reader.n_docs] = np.where(reader.ok, q @ index_vec.T, -np.inf)
        sims[:, batch.ids] = q @ vec.T
        own = batch.ids[lo : lo + 256]
        sims[np.arange(len(q)), own] = -np.inf
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        ok = np.take_along_axis(sims, top, axis=1) >= config.semantic.doc_threshold
        found_a.append(np.repeat(own[:, None], k, axis=1)[ok])
        found_b.append(top[ok].astype(np.int64))
    a, b = np.concatenate(found_a), np.concatenate(found_b)
    frame = pl.DataFrame(
        {"a": np.minimum(a, b), "b": np.maximum(a, b)}, schema={"a": pl.Int64, "b": pl.Int64}
    )
    return _Semantic(model, vec, frame.unique().sort("a", "b"))


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
    model: Any = None,
) -> Matched:
    """Verified pairs of the new documents with the index and with each other.

    Args:
        reader: the open index.
        batch: the new documents, shingled and signed.
        batch_text: the text of a new document by ``doc_id``.
        paths: ``doc_id``, ``path`` of the new documents.
        config: the index's config.
        model: a loaded sentence model to reuse (semantic channel), or None.

    Returns:
        Pairs (the ``pairs`` table's columns) with ``doc_b`` a new document, their
        alignment rows, and the new documents' vectors when the semantic channel ran.
    """
    texts = _Texts(reader, batch_text)
    proposals = [lsh_proposals(reader, batch, config).with_columns(pl.lit("lsh").alias("channel"))]
    if config.overlap.enabled:
        ov = overlap_proposals(reader, batch, config)
        proposals.append(ov.with_columns(pl.lit("overlap").alias("channel")))
    sem = _semantic_candidates(reader, batch, texts, config, model)
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
    pairs, model = _merge(pairs, sem, rows, hashes, offsets, content, texts, config)
    pairs = _with_paths(pairs, reader, paths)
    aligned = schema.empty("alignments")
    if config.align.enabled and pairs.height:
        pairs, aligned = align_stage(
            pairs,
            texts=texts,
            config=config.align,
            model=model,
            batch_size=config.semantic.batch_size,
            advance=_no,
        )
        pairs = schema.conform(pairs, "pairs")
    return Matched(pairs, aligned, sem.vectors if sem else None, model)


def _no(n: int) -> None:
    pass


def _merge(
    pairs: pl.DataFrame,
    sem: _Semantic | None,
    rows: npt.NDArray[np.int64],
    hashes: npt.NDArray[np.uint32],
    offsets: npt.NDArray[np.int64],
    content: npt.NDArray[np.uint64],
    texts: _Texts,
    config: RunConfig,
) -> tuple[pl.DataFrame, Any]:
    """The scan's semantic merge of the scored candidates (or a null ``semantic`` column)."""
    if sem is None:
        return pairs.with_columns(pl.lit(None, pl.Float64).alias("semantic")), None
    from dedup.semantic import embed

    cand = _to_rows(sem.pairs, rows)
    needed = np.unique(cand.select("a", "b").to_numpy())
    sents: list[list[str]] = [[] for _ in range(len(rows))]
    for r in needed.tolist():
        sents[r] = sentences(texts.get(int(rows[r])))
    n_index = len(rows) - len(sem.vectors)
    reader_vec = texts.reader.vectors
    assert reader_vec is not None
    doc_emb = np.concatenate([reader_vec[rows[:n_index]], sem.vectors])
    pair_arr = cand.select("a", "b").to_numpy()
    scores = embed.verify_candidates(sem.model, sents, pair_arr, doc_emb, config=config.semantic)
    frame = pl.DataFrame(
        {
            "a": pair_arr[:, 0].astype(np.int64),
            "b": pair_arr[:, 1].astype(np.int64),
            "semantic": np.array([s.score for s in scores], dtype=np.float64),
            "accepted": np.array([s.accepted for s in scores], dtype=bool),
        },
        schema={"a": pl.Int64, "b": pl.Int64, "semantic": pl.Float64, "accepted": pl.Boolean},
    )
    merged = merge_semantic(pairs, frame, rows, hashes, offsets, content=content, config=config)
    return merged, sem.model


def _with_paths(pairs: pl.DataFrame, reader: IndexReader, paths: pl.DataFrame) -> pl.DataFrame:
    """Both documents' paths, the ``pairs`` table's columns, sorted as the scan sorts."""
    n = reader.n_docs
    a_ids = pairs["doc_a"].to_list()
    at = np.minimum(pairs["doc_a"].to_numpy(), max(n - 1, 0))
    index_paths = reader.documents["path"].gather(at) if n else pl.Series([None] * len(at))
    lookup = dict(zip(paths["doc_id"].to_list(), paths["path"].to_list(), strict=True))
    pa = [p if i < n else lookup.get(i) for i, p in zip(a_ids, index_paths.to_list(), strict=True)]
    pb = [lookup.get(int(i)) for i in pairs["doc_b"].to_list()]
    pairs = pairs.with_columns(
        pl.Series("path_a", pa, dtype=pl.String), pl.Series("path_b", pb, dtype=pl.String)
    )
    return schema.conform(pairs.sort("doc_a", "doc_b"), "pairs")
