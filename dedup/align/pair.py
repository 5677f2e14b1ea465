"""One alignment of a pair: its passages and, from the same sentence matches, its sentence view.

The passage aligner (:func:`dedup.align.passages.align_passages`) finds the pair's passages and
the in-order sentence matches behind them; the sentence view (same / edited / added /
dropped / moved, :func:`dedup.align.sentences.align_sentences`) starts from those matches and
only adds merges, splits and moves. So ``passages.parquet``, ``alignments.parquet``, the pair's
relation, ``dedup diff`` and the report all show one alignment, not two.
"""

from __future__ import annotations

from dataclasses import dataclass

from dedup.align.passage_sentences import Embedder
from dedup.align.passages import PassageAlignment, align_passages
from dedup.align.scorers import EmbeddingScorer, Scorer
from dedup.align.sentences import Alignment, align_sentences
from dedup.config import PassageConfig

__all__ = ["PairAlignment", "align_pair", "embedder_of", "pair_passages", "sentence_view"]


@dataclass(frozen=True)
class PairAlignment:
    """Passages and sentence view of two texts.

    Attributes:
        passages: The passage alignment (passages, links, coverage, sentence evidence).
        sentences: The sentence view, with the sentences' character spans.
    """

    passages: PassageAlignment
    sentences: Alignment


def align_pair(
    text_a: str,
    text_b: str,
    *,
    scorer: Scorer | None = None,
    config: PassageConfig | None = None,
) -> PairAlignment:
    """Align two texts once: passages, then the sentence view from the same matches.

    Args:
        text_a: The first text, as decoded.
        text_b: The second text.
        scorer: An :class:`dedup.align.scorers.EmbeddingScorer` to seed reworded sentences with
            its embeddings (and score merges and moves with it), or None for lexical
            evidence only (word-level ratios and shared word n-grams).
        config: Passage aligner parameters; defaults when None.

    Returns:
        The :class:`PairAlignment`.
    """
    passages = pair_passages(text_a, text_b, scorer=scorer, config=config)
    return PairAlignment(passages, sentence_view(passages, scorer=scorer, config=config))


def pair_passages(
    text_a: str, text_b: str, *, scorer: Scorer | None = None, config: PassageConfig | None = None
) -> PassageAlignment:
    """The passages of two texts, seeded with ``scorer``'s embeddings when it has them."""
    return align_passages(text_a, text_b, config=config, embed=embedder_of(scorer))


def embedder_of(scorer: Scorer | None) -> Embedder | None:
    """The sentence embedder behind ``scorer`` (None: the scorer has no embeddings)."""
    return scorer.embed if isinstance(scorer, EmbeddingScorer) else None


def sentence_view(
    passages: PassageAlignment,
    *,
    scorer: Scorer | None = None,
    config: PassageConfig | None = None,
) -> Alignment:
    """The sentence view of a passage alignment: its in-order sentence matches, plus merges,
    splits and moves scored with ``scorer``; with the sentences' character spans."""
    sa, sb = passages.sentences_a, passages.sentences_b
    # past the passage aligner's sentence-matrix bound, no full matrix here either: the
    # matches only, scored pair by pair (no merges or moves), so huge texts stay linear
    small = len(sa) * len(sb) <= (config or PassageConfig()).max_sentence_cells
    view = align_sentences(
        [s.text for s in sa],
        [s.text for s in sb],
        scorer=scorer if small else None,  # lexical ratios: no embedding of every sentence
        groups=[(i, i + 1, j, j + 1) for i, j in passages.path],
        merges=small,
        moves=small,
    )
    spans_a = tuple((s.start, s.end) for s in sa)
    spans_b = tuple((s.start, s.end) for s in sb)
    return Alignment(view.a, view.b, view.ops, spans_a, spans_b)
