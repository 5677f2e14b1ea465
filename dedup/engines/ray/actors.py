"""Ray actors that hold the sentence-embedding model: document vectors, pair scores and
the alignment of paraphrase pairs (used by :mod:`dedup.engines.ray.semantic`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import pyarrow as pa

from dedup.config import DerivationConfig, SemanticConfig
from dedup.engines.ray import align as ap
from dedup.engines.ray.shuffle import from_arrow, to_arrow
from dedup.text.segment import sentence_texts

if TYPE_CHECKING:
    from dedup.semantic.embed import Accept
    from dedup.semantic.vector_store import Kept, SentenceVectorStore

__all__ = ["SEM", "DocVectors", "ModelActor", "PairScores", "ParaphraseAligner"]

I64 = pl.Int64
SEM = {"a": I64, "b": I64, "semantic": pl.Float64, "accepted": pl.Boolean}
#: :data:`SEM` with what a vector store did in the batch: whether each document's file was
#: read, and (on the batch's first row, 0 on the others) the files written.
SEM_STORED = {**SEM, "stored_a": pl.Boolean, "stored_b": pl.Boolean, "written": I64}


def _batch_docs(df: pl.DataFrame, ids: tuple[str, str] = ("a", "b")) -> dict[int, str]:
    """The batch's documents (id columns ``ids``, texts ``text_a``/``text_b``): their texts by
    doc_id."""
    texts: dict[int, str] = {}
    for col, text in zip(ids, ("text_a", "text_b"), strict=True):
        for doc, t in zip(df[col].to_list(), df[text].to_list(), strict=True):
            texts.setdefault(doc, t or "")
    return texts


def _preload(
    store: SentenceVectorStore | None, encoder: Any, texts: dict[int, str], sents: dict[int, Any]
) -> Kept | None:
    """The batch's documents read from ``store`` into ``encoder`` (None without a store)."""
    if store is None:
        return None
    from dedup.semantic.vector_store import Kept

    return Kept.preload(store, encoder, ((texts[d], sents[d]) for d in texts))


class ModelActor:
    """Loads the model once per actor."""

    def __init__(self, config: SemanticConfig, device: str, threads: int) -> None:
        from dedup.semantic import embed

        if device == "cpu":
            import torch

            torch.set_num_threads(max(threads, 1))
        self.config = config
        self.model = embed.load_model(config.model, device=device, precision=config.precision)


class DocVectors:
    """``doc_id, text`` batch → ``doc_id, vec, split``: static document vectors
    (:func:`dedup.semantic.static.document_vectors`; the table is loaded once per actor)."""

    def __init__(self, config: SemanticConfig) -> None:
        from dedup.semantic import static

        self.model = static.load_static_model(config.model)
        self.max_split_share = config.max_split_share

    def __call__(self, batch: pa.Table) -> pa.Table:
        from dedup.semantic import static

        df = from_arrow(batch)
        dv = static.document_vectors(
            self.model,
            [t or "" for t in df["text"].to_list()],
            max_split_share=self.max_split_share,
        )
        dim = dv.vectors.shape[1]
        flat = pa.array(np.ascontiguousarray(dv.vectors, dtype=np.float32).reshape(-1))
        return pa.table(
            {
                "doc_id": pa.array(df["doc_id"].to_numpy(), type=pa.int64()),
                "vec": pa.FixedSizeListArray.from_arrays(flat, dim),
                "split": pa.array(dv.split_share, type=pa.float64()),
            }
        )


class PairScores(ModelActor):
    """Candidate pairs with both texts → ``a, b, semantic, accepted``, by the local engine's
    :func:`dedup.semantic.embed.verify_candidates` (the batch's sentences encoded once each;
    ``accept``: the rewrite rule when the scan does not align its pairs)."""

    def __init__(
        self,
        config: SemanticConfig,
        device: str,
        threads: int,
        accept: Accept | None = None,
        store: SentenceVectorStore | None = None,
    ) -> None:
        super().__init__(config, device, threads)
        self.accept = accept
        self.store = store

    def __call__(self, batch: pa.Table) -> pa.Table:
        from dedup.semantic import embed
        from dedup.semantic.encoder import SentenceEncoder

        df = from_arrow(batch)
        texts = _batch_docs(df)
        sents = {d: sentence_texts(t) for d, t in texts.items()}
        # a fresh cache per batch: an actor's memory stays that of one batch's sentences
        encoder = SentenceEncoder(self.model, batch_size=self.config.batch_size)
        kept = _preload(self.store, encoder, texts, sents)
        pairs = df.select("a", "b").to_numpy().astype(np.int64).reshape(-1, 2)
        scores = embed.verify_candidates(
            encoder, sents, pairs, config=self.config, accept=self.accept
        )
        columns: dict[str, Any] = {
            "a": df["a"],
            "b": df["b"],
            "semantic": [s.score for s in scores],
            "accepted": [s.accepted for s in scores],
        }
        if kept is None:
            return to_arrow(pl.DataFrame(columns, schema=SEM))
        stored = {d for d, (_, _, found) in zip(texts, kept.docs, strict=True) if found}
        written = kept.write()  # the sentences' vectors, right after verification
        columns["stored_a"] = [d in stored for d in df["a"].to_list()]
        columns["stored_b"] = [d in stored for d in df["b"].to_list()]
        columns["written"] = [written if i == 0 else 0 for i in range(df.height)]
        return to_arrow(pl.DataFrame(columns, schema=SEM_STORED))


class ParaphraseAligner(ModelActor):
    """Aligns the pairs the semantic channel proposed in a batch with an
    :class:`dedup.align.scorers.EmbeddingScorer` and decides their relation, as the local
    engine's ``align_stage`` does."""

    def __init__(
        self,
        config: SemanticConfig,
        device: str,
        threads: int,
        cutoff: int | None,
        derivation: DerivationConfig,
        store: SentenceVectorStore | None = None,
    ) -> None:
        from dedup.align.stage import embedding_scorer_for

        super().__init__(config, device, threads)
        self.cutoff = cutoff
        self.derivation = derivation
        self.scorer = embedding_scorer_for(self.model, config.batch_size)
        self.store = store

    def __call__(self, batch: pa.Table) -> pa.Table:
        df = from_arrow(batch)
        kept = None
        if self.store is not None:  # the documents of the pairs aligned with embeddings
            from dedup.align.stage import semantic_proposed

            texts = _batch_docs(df.filter(semantic_proposed()), ("doc_a", "doc_b"))
            sents = {d: sentence_texts(t) for d, t in texts.items()}
            kept = _preload(self.store, self.scorer, texts, sents)
        out = ap.align_semantic(
            df, cutoff=self.cutoff, scorer=self.scorer, derivation=self.derivation
        )
        if kept is not None:
            kept.write()  # the joined sentences the aligner scored, and any sentence it lacked
        return to_arrow(out)
