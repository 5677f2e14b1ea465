"""Relations from aligned passages: is B derived from A, and how.

``exact`` and ``near_duplicate`` are decided on whole documents before this (content hash and
Jaccard of shingle sets); :func:`relate` decides the rest from a pair's passages only:

* ``derivative`` / ``paraphrase`` (a rewrite): passages cover at least ``rewrite_coverage`` of
  the shorter text's words, and at least ``in_order`` of the passage words lie in one common
  order of both texts. It is a ``paraphrase`` when most passage words are in ``paraphrase``
  passages, else a ``derivative``. Reason: a rewrite keeps the body of its source in order;
  two independent reports of one event share scattered sentences, not runs of them.
* ``partial``: otherwise, one passage of at least ``min_passage`` words, whatever share of
  either text it is (a passage lifted into a longer text).
* nothing (``None``): no passage, or only short ones; topic similarity alone is not
  derivation, whatever the document cosine.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from typing import Literal

from dedup.config import DerivationConfig
from dedup.passages import Passage, PassageAlignment

__all__ = ["Relation", "in_order_share", "relate"]

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


def relate(alignment: PassageAlignment, *, config: DerivationConfig | None = None) -> Relation | None:
    """The relation that a pair's passages show, or None when they show none.

    Args:
        alignment: From :func:`dedup.passages.align_passages`.
        config: Thresholds; defaults when None.

    Returns:
        ``derivative``, ``paraphrase``, ``partial`` or None.
    """
    cfg = config or DerivationConfig()
    passages = alignment.passages
    if not passages:
        return None
    shorter = min(
        (alignment.coverage_a, alignment.words_a), (alignment.coverage_b, alignment.words_b),
        key=lambda t: t[1],
    )[0]
    if shorter >= cfg.rewrite_coverage and in_order_share(passages) >= cfg.in_order:
        words = sum(p.n_words for p in passages)
        para = sum(p.n_words for p in passages if p.kind == "paraphrase")
        return "paraphrase" if 2 * para > words else "derivative"
    if max(p.n_words for p in passages) >= cfg.min_passage:
        return "partial"
    return None
