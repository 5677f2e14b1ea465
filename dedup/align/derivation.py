"""Relations from aligned passages: is B derived from A, and how.

``exact`` and ``near_duplicate`` are decided on whole documents before this (content hash and
Jaccard of shingle sets); :func:`relate` decides the rest from a pair's passages only:

* a rewrite, when either
  - verbatim and edited passages cover at least ``rewrite_coverage`` of the shorter text's
    words, in any order (``derivative``, or ``paraphrase`` when most passage words are
    paraphrased): runs of eight or more shared words do not happen by chance, so copied
    passages moved around are still a derivative; or
  - the sentences that are each other's best match (the sentence seeds) keep one order: the
    longest in-order chain of them holds at least ``chain_share`` of the shorter text's
    sentences, at least ``chain_order`` of the seeds and at least ``min_chain`` sentences
    (``paraphrase``): three seeds fall in one order by chance one time in six, four one
    time in 24, and short texts on one question (answers to one exam question) share three.
  and, either way, the passages cover at least ``longer_share`` of the longer text: when
  they cover less, the shorter text lies inside the longer one (``partial``), as a passage
  lifted into a longer text, not a rewrite of it.
  Reason: a rewrite keeps the body of its source in its order. Two independent reports of one
  event also have sentences that are each other's best match, as many as a rewrite, but in
  the order each reporter chose, so fewer of them fall in one chain.
* ``partial``: the rewrite evidence above over at least ``min_passage`` passage words, but
  under ``longer_share`` of the longer text; or verbatim or edited passages of at least
  ``min_piece`` words that add up to ``min_passage`` words, whatever share of either text
  they are (a passage lifted into a longer text, possibly cut in two or three by a changed
  sentence). A paraphrased passage without the chain evidence does not make a pair
  partial: two reports of one event have runs of sentences on the same facts.
* nothing (``None``): no passage, or only short ones; topic similarity alone is not
  derivation, whatever the document cosine.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from typing import Literal

from dedup.align.passages import Passage, PassageAlignment
from dedup.config import DerivationConfig

__all__ = [
    "Relation",
    "chain_shares",
    "in_order_share",
    "lexical_share",
    "longer_share",
    "relate",
]

Relation = Literal["derivative", "partial", "paraphrase"]


def in_order_share(passages: Sequence[Passage]) -> float:
    """Share of passage words (A side order, B side order) in one common order.

    The heaviest set of passages increasing in both texts (a weighted longest increasing
    subsequence), over the words of all passages; 1.0 for none or one passage.

    Args:
        passages: The pair's passages.

    Returns:
        A share in [0, 1].
    """
    if len(passages) <= 1:
        return 1.0
    ordered = sorted(passages, key=lambda p: (p.a_start, p.b_start))
    total = sum(p.n_words for p in ordered)
    if total == 0:
        return 1.0
    # best[k]: heaviest chain ending at ordered[k]; O(n^2) on the few passages of a pair,
    # with a sorted-key shortcut when passages are many.
    if len(ordered) > 2000:
        return _lis_count_share(ordered)
    best = [0] * len(ordered)
    for k, p in enumerate(ordered):
        prev = [best[q] for q in range(k) if ordered[q].b_start <= p.b_start]
        best[k] = p.n_words + max(prev, default=0)
    return max(best) / total


def _lis_count_share(ordered: Sequence[Passage]) -> float:
    """Unweighted increasing subsequence on ``b_start`` (for very many passages)."""
    tails: list[int] = []
    for p in ordered:
        k = bisect_left(tails, p.b_start)
        if k == len(tails):
            tails.append(p.b_start)
        else:
            tails[k] = p.b_start
    return len(tails) / len(ordered)


def _shorter(alignment: PassageAlignment) -> str:
    return "a" if alignment.words_a <= alignment.words_b else "b"


def lexical_share(alignment: PassageAlignment) -> float:
    """Share of the shorter text's words in verbatim or edited passages."""
    side = _shorter(alignment)
    total = alignment.words_a if side == "a" else alignment.words_b
    if total == 0:
        return 0.0
    words = sum(p.n_words for p in alignment.passages if p.kind != "paraphrase")
    return min(words / total, 1.0)


def chain_shares(alignment: PassageAlignment) -> tuple[float, float]:
    """Sentence-level evidence of a rewrite: the share of the sentences of the text with fewer
    sentences in the in-order chain of mutual-best sentence pairs, and the share of those
    pairs that the chain keeps."""
    n = min(len(alignment.sentences_a), len(alignment.sentences_b))
    if n == 0 or alignment.sentence_seeds == 0:
        return 0.0, 0.0
    return alignment.sentence_chain / n, alignment.sentence_chain / alignment.sentence_seeds


def relate(
    alignment: PassageAlignment, *, config: DerivationConfig | None = None
) -> Relation | None:
    """The relation that a pair's passages show, or None when they show none.

    Args:
        alignment: From :func:`dedup.align.passages.align_passages`.
        config: Thresholds; defaults when None.

    Returns:
        ``derivative``, ``paraphrase``, ``partial`` or None.
    """
    cfg = config or DerivationConfig()
    passages = alignment.passages
    lexical = lexical_share(alignment) >= cfg.rewrite_coverage
    chain, kept = chain_shares(alignment)
    reworded = (
        chain >= cfg.chain_share
        and kept >= cfg.chain_order
        and alignment.sentence_chain >= cfg.min_chain
    )
    words = sum(p.n_words for p in passages)
    if (lexical or reworded) and longer_share(alignment) >= cfg.longer_share:
        para = sum(p.n_words for p in passages if p.kind == "paraphrase")
        return "derivative" if 2 * (words - para) > words else "paraphrase"
    if (lexical or reworded) and words >= cfg.min_passage:
        return "partial"  # the shorter text lies, copied or reworded, inside a longer one
    copied = [p.n_words for p in passages if p.kind != "paraphrase"]
    piece = min(cfg.min_piece, cfg.min_passage)
    if sum(n for n in copied if n >= piece) >= cfg.min_passage:
        return "partial"
    return None


def longer_share(alignment: PassageAlignment) -> float:
    """Share of the longer text's words inside the pair's passages."""
    if alignment.words_a >= alignment.words_b:
        return alignment.coverage_a
    return alignment.coverage_b
