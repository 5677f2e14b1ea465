"""The align stage: sentence alignment of every verified pair, for the tables and views."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import polars as pl

from dedup import schema
from dedup.config import AlignConfig

Advance = Callable[[int], None]


class TextLookup(Protocol):
    """Texts by ``doc_id``: a :class:`dedup.io.spill.TextStore`, or an index's texts."""

    def get(self, doc_id: int) -> str: ...


def align_stage(
    pairs: pl.DataFrame,
    *,
    texts: TextLookup,
    config: AlignConfig,
    model: Any,
    batch_size: int = 64,
    advance: Advance,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Align the sentences of every pair (up to ``max_pairs``); summary columns and rows.

    Lexical pairs are aligned with the rapidfuzz scorer; ``paraphrase`` pairs with sentence
    embeddings when the semantic stage loaded a model, so reworded sentences align.
    """
    from dedup.align.sentences import align_texts, alignment_rows, summarize

    embed_scorer = None
    if model is not None:
        from dedup.align.scorers import EmbeddingScorer
        from dedup.semantic.encoder import SentenceEncoder

        embed_scorer = (
            EmbeddingScorer.sharing(model)
            if isinstance(model, SentenceEncoder)
            else EmbeddingScorer(model, batch_size=batch_size)
        )
    summaries: list[dict[str, Any]] = []
    out_rows: list[dict[str, Any]] = []
    todo = pairs.head(config.max_pairs).select("doc_a", "doc_b", "relation")
    for doc_a, doc_b, relation in todo.iter_rows():
        scorer = embed_scorer if relation == "paraphrase" else None
        al = align_texts(texts.get(doc_a), texts.get(doc_b), scorer=scorer)
        summaries.append({"doc_a": doc_a, "doc_b": doc_b, **summarize(al)})
        out_rows.extend(alignment_rows(doc_a, doc_b, al))
        advance(1)
    if summaries:
        summary = pl.DataFrame(summaries, infer_schema_length=None)
        pairs = pairs.drop(
            [c for c in summary.columns if c in pairs.columns and c not in ("doc_a", "doc_b")]
        )
        pairs = pairs.join(summary, on=["doc_a", "doc_b"], how="left")
    aligned = (
        schema.conform(pl.DataFrame(out_rows, infer_schema_length=None), "alignments")
        if out_rows
        else schema.empty("alignments")
    )
    return pairs, aligned
