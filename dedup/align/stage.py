"""The align stage: one alignment per verified pair (passages and sentence view), and the
pair's relation decided from its passages.

``exact`` and ``near_duplicate`` pairs keep their document-level relation; every other
aligned pair gets the relation its passages show (:func:`dedup.align.derivation.relate`), and a
pair whose passages show none is dropped, whatever its channel or scores said. Pairs past
``max_pairs`` are not aligned: they keep their document-level relation, and candidates that
only the aligner could decide (null relation) are dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import polars as pl

from dedup import schema
from dedup.config import AlignConfig, DerivationConfig
from dedup.jit import one_blas_thread

Advance = Callable[[int], None]

__all__ = [
    "Derived",
    "align_stage",
    "apply_derived",
    "derive_pair",
    "embedding_scorer_for",
    "relabel",
    "semantic_proposed",
    "with_source",
]

#: Relations decided on whole documents, before alignment.
DOCUMENT_LEVEL = ("exact", "near_duplicate")


class TextLookup(Protocol):
    """Texts by ``doc_id``: a :class:`dedup.io.spill.TextStore`, or an index's texts."""

    def get(self, doc_id: int) -> str: ...


@dataclass(frozen=True)
class Derived:
    """One pair's alignment as table rows, and its relation.

    Attributes:
        relation: The relation (document-level kept; else from the passages), or None when
            the passages show none (the pair is not reported).
        summary: The ``pairs`` table's alignment columns.
        alignments: The ``alignments`` rows.
        passages: The ``passages`` rows.
    """

    relation: str | None
    summary: dict[str, Any]
    alignments: list[dict[str, Any]]
    passages: list[dict[str, Any]]


def semantic_proposed() -> pl.Expr:
    """Whether the semantic channel proposed a pair (its ``channel`` names ``semantic``): such
    a pair is aligned with sentence embeddings."""
    return pl.col("channel").str.split(",").list.contains("semantic").fill_null(False)


def embedding_scorer_for(model: Any, batch_size: int = 32) -> Any:
    """The aligner's embedding scorer sharing the semantic stage's model (None: none)."""
    if model is None:
        return None
    from dedup.align.scorers import EmbeddingScorer
    from dedup.semantic.encoder import SentenceEncoder

    if isinstance(model, SentenceEncoder):
        return EmbeddingScorer.sharing(model)
    return EmbeddingScorer(model, batch_size=batch_size)


def derive_pair(
    doc_a: int,
    doc_b: int,
    relation: str | None,
    text_a: str,
    text_b: str,
    *,
    scorer: Any,
    derivation: DerivationConfig,
) -> Derived:
    """Align one pair (:func:`dedup.align.pair.align_pair`) and decide its relation.

    Args:
        doc_a: ``doc_id`` of A.
        doc_b: ``doc_id`` of B.
        relation: The document-level relation (kept when exact or near-duplicate), or None.
        text_a: A's text as decoded.
        text_b: B's text.
        scorer: An embedding scorer (reworded sentences), or None for lexical evidence only.
        derivation: The relation rules.

    Returns:
        The :class:`Derived` rows and relation.
    """
    from dedup.align.derivation import relate
    from dedup.align.pair import embedder_of, pair_passages, sentence_view
    from dedup.align.passages import passage_rows
    from dedup.align.precheck import could_relate
    from dedup.align.rows import alignment_rows
    from dedup.align.sentences import summarize

    if relation not in DOCUMENT_LEVEL and not could_relate(
        text_a, text_b, embed=embedder_of(scorer), derivation=derivation
    ):  # the passages could show nothing: skip the aligner
        return Derived(None, {"doc_a": doc_a, "doc_b": doc_b}, [], [])
    passages = pair_passages(text_a, text_b, scorer=scorer)
    if relation not in DOCUMENT_LEVEL:
        relation = relate(passages, config=derivation)
        if relation is None:  # not reported: no sentence view to build
            return Derived(None, {"doc_a": doc_a, "doc_b": doc_b}, [], [])
    view = sentence_view(passages, scorer=scorer)
    found = passage_rows(doc_a, doc_b, passages)
    summary = {
        "doc_a": doc_a,
        "doc_b": doc_b,
        **summarize(view),
        "n_passages": len(found),
        "passage_share_a": round(passages.coverage_a, 6),
        "passage_share_b": round(passages.coverage_b, 6),
    }
    return Derived(relation, summary, alignment_rows(doc_a, doc_b, view), found)


def align_stage(
    pairs: pl.DataFrame,
    *,
    texts: TextLookup,
    config: AlignConfig,
    derivation: DerivationConfig,
    model: Any,
    batch_size: int = 32,
    advance: Advance,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Align every pair (up to ``max_pairs``) and decide its relation from its passages.

    Pairs the semantic channel proposed are aligned with sentence embeddings when the
    semantic stage loaded a model (reworded sentences seed passages); the others with
    lexical evidence (word-level ratios, shared word n-grams).

    Returns:
        The reported pairs (relation from passages, alignment summary columns), the
        ``alignments`` rows and the ``passages`` rows (external ids left null) of those pairs.
    """
    scorer = embedding_scorer_for(model, batch_size)
    summaries: list[dict[str, Any]] = []
    out_rows: list[dict[str, Any]] = []
    passage_out: list[dict[str, Any]] = []
    todo = pairs.head(config.max_pairs).select(
        "doc_a", "doc_b", "relation", semantic_proposed().alias("embed")
    )
    with one_blas_thread():  # many small sentence matrices
        for doc_a, doc_b, relation, embed in todo.iter_rows():
            d = derive_pair(
                doc_a,
                doc_b,
                relation,
                texts.get(doc_a),
                texts.get(doc_b),
                scorer=scorer if embed else None,
                derivation=derivation,
            )
            advance(1)
            if d.relation is None:
                continue
            summaries.append({**d.summary, "derived": d.relation})
            out_rows.extend(d.alignments)
            passage_out.extend(d.passages)
    kept = apply_derived(pairs, summaries, aligned=todo.height)
    return kept, _table(out_rows, "alignments"), _table(passage_out, "passages")


def apply_derived(
    pairs: pl.DataFrame, summaries: list[dict[str, Any]], *, aligned: int
) -> pl.DataFrame:
    """The pairs with their derived relation and alignment summary: of the first ``aligned``
    pairs, those in ``summaries``; of the rest, those with a document-level relation."""
    rest = pairs.slice(aligned).filter(pl.col("relation").is_not_null())
    head = pairs.head(aligned)
    if summaries:
        head = relabel(head, pl.DataFrame(summaries, infer_schema_length=None))
    else:
        head = head.clear()
    return pl.concat([head, rest], how="diagonal_relaxed")


def relabel(pairs: pl.DataFrame, summary: pl.DataFrame) -> pl.DataFrame:
    """The pairs listed in ``summary`` (:attr:`Derived.summary` rows with the ``derived``
    relation), with its alignment columns, ``derived`` as their relation and its ``source``."""
    keys = ("doc_a", "doc_b")
    pairs = pairs.drop([c for c in summary.columns if c in pairs.columns and c not in keys])
    done = pairs.join(summary, on=list(keys), how="inner", maintain_order="left")
    return with_source(done.with_columns(pl.col("derived").alias("relation")).drop("derived"))


def with_source(pairs: pl.DataFrame) -> pl.DataFrame:
    """``source`` of derived pairs: for ``partial``, the document more of which lies in
    passages (the contained one, as with the document-level rule); for exact and
    near-duplicate pairs, the first; else null."""
    return pairs.with_columns(
        pl.when(pl.col("relation") == "partial")
        .then(
            pl.when(pl.col("passage_share_a") >= pl.col("passage_share_b"))
            .then(pl.col("doc_a"))
            .otherwise(pl.col("doc_b"))
        )
        .when(pl.col("relation").is_in(DOCUMENT_LEVEL))
        .then(pl.col("doc_a"))
        .otherwise(None)
        .alias("source")
    )


def _table(rows: list[dict[str, Any]], name: str) -> pl.DataFrame:
    if not rows:
        return schema.empty(name)
    return schema.conform(pl.DataFrame(rows, infer_schema_length=None), name)
