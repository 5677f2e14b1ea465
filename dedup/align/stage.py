"""The align stage: sentence alignment and passages of every verified pair, for the tables."""

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
    passages: bool = True,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Align the sentences of every pair (up to ``max_pairs``); summary columns and rows.

    Lexical pairs are aligned with the rapidfuzz scorer; ``paraphrase`` pairs with sentence
    embeddings when the semantic stage loaded a model, so reworded sentences align. With
    ``passages``, the same pairs also get their passages
    (:func:`dedup.align.passages.align_passages`, lexical seeds only).

    Returns:
        The pairs with the alignment summary columns, the ``alignments`` rows and the
        ``passages`` rows (external ids left null).
    """
    from dedup.align.passages import align_passages, passage_rows
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
    passage_out: list[dict[str, Any]] = []
    todo = pairs.head(config.max_pairs).select("doc_a", "doc_b", "relation")
    for doc_a, doc_b, relation in todo.iter_rows():
        scorer = embed_scorer if relation == "paraphrase" else None
        text_a, text_b = texts.get(doc_a), texts.get(doc_b)
        al = align_texts(text_a, text_b, scorer=scorer)
        row = {"doc_a": doc_a, "doc_b": doc_b, **summarize(al)}
        out_rows.extend(alignment_rows(doc_a, doc_b, al))
        if passages:
            found = passage_rows(doc_a, doc_b, align_passages(text_a, text_b))
            passage_out.extend(found)
            row["n_passages"] = len(found)
        summaries.append(row)
        advance(1)
    if summaries:
        summary = pl.DataFrame(summaries, infer_schema_length=None)
        pairs = pairs.drop(
            [c for c in summary.columns if c in pairs.columns and c not in ("doc_a", "doc_b")]
        )
        pairs = pairs.join(summary, on=["doc_a", "doc_b"], how="left")
    return pairs, _table(out_rows, "alignments"), _table(passage_out, "passages")


def _table(rows: list[dict[str, Any]], name: str) -> pl.DataFrame:
    if not rows:
        return schema.empty(name)
    return schema.conform(pl.DataFrame(rows, infer_schema_length=None), name)
