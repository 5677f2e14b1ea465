"""Measures of passage detection: PAN's text-alignment measures and sentence-link scores.

PAN measures (Potthast, Stein, Barrón-Cedeño and Rosso, "An Evaluation Framework for
Plagiarism Detection", COLING 2010), written here from their definitions. A *case* (a planted
passage) and a *detection* (a found passage) are both a pair of character ranges, one in each
document of a pair; a detection detects a case when they overlap in both documents.

* macro precision: the mean over detections of the share of the detection's characters (both
  sides counted) that lie in cases it detects;
* macro recall: the mean over cases of the share of the case's characters that lie in
  detections detecting it;
* granularity: the mean, over cases detected at least once, of the number of detections
  detecting each;
* plagdet: ``F1(precision, recall) / log2(1 + granularity)``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Span", "link_scores", "pan_scores"]


@dataclass(frozen=True)
class Span:
    """A passage of a document pair: ``[a_start, a_end)`` in A, ``[b_start, b_end)`` in B."""

    pair: Hashable
    a_start: int
    a_end: int
    b_start: int
    b_end: int

    @property
    def size(self) -> int:
        """Characters on both sides."""
        return max(self.a_end - self.a_start, 0) + max(self.b_end - self.b_start, 0)


def _overlap(lo1: int, hi1: int, lo2: int, hi2: int) -> tuple[int, int] | None:
    lo, hi = max(lo1, lo2), min(hi1, hi2)
    return (lo, hi) if lo < hi else None


def _union_length(ranges: Iterable[tuple[int, int]]) -> int:
    total, end = 0, None
    for lo, hi in sorted(ranges):
        if end is None or lo >= end:
            total += hi - lo
            end = hi
        elif hi > end:
            total += hi - end
            end = hi
    return total


def _detects(s: Span, r: Span) -> tuple[tuple[int, int], tuple[int, int]] | None:
    a = _overlap(s.a_start, s.a_end, r.a_start, r.a_end)
    b = _overlap(s.b_start, s.b_end, r.b_start, r.b_end)
    return (a, b) if a is not None and b is not None else None


def _covered_share(x: Span, others: Sequence[Span]) -> tuple[float, int]:
    """Share of ``x``'s characters in the overlaps with the spans of ``others`` that it meets
    in both documents, and how many such spans there are."""
    side_a, side_b, hits = [], [], 0
    for o in others:
        ov = _detects(x, o)
        if ov is not None:
            side_a.append(ov[0])
            side_b.append(ov[1])
            hits += 1
    if x.size == 0:
        return 0.0, hits
    return (_union_length(side_a) + _union_length(side_b)) / x.size, hits


def pan_scores(cases: Sequence[Span], detections: Sequence[Span]) -> dict[str, float]:
    """PAN's macro precision, macro recall, granularity and plagdet.

    Args:
        cases: The true passages.
        detections: The found passages (same ``pair`` keys and orientation).

    Returns:
        ``{"precision", "recall", "granularity", "plagdet", "cases", "detections"}``;
        precision is 0 without detections, recall 0 without cases.
    """
    by_pair_s: dict[Hashable, list[Span]] = defaultdict(list)
    by_pair_r: dict[Hashable, list[Span]] = defaultdict(list)
    for s in cases:
        by_pair_s[s.pair].append(s)
    for r in detections:
        by_pair_r[r.pair].append(r)
    prec = [_covered_share(r, by_pair_s.get(r.pair, []))[0] for r in detections]
    rec, grans = [], []
    for s in cases:
        share, hits = _covered_share(s, by_pair_r.get(s.pair, []))
        rec.append(share)
        if hits:
            grans.append(hits)
    prc = sum(prec) / len(prec) if prec else 0.0
    rcl = sum(rec) / len(rec) if rec else 0.0
    gran = sum(grans) / len(grans) if grans else 1.0
    f1 = 2 * prc * rcl / (prc + rcl) if prc + rcl else 0.0
    return {
        "precision": prc,
        "recall": rcl,
        "granularity": gran,
        "plagdet": f1 / math.log2(1 + gran),
        "cases": float(len(cases)),
        "detections": float(len(detections)),
    }


def link_scores(
    predicted: Iterable[tuple[int, int]],
    gold: Iterable[tuple[int, int]],
    acceptable: Iterable[tuple[int, int]] = (),
) -> dict[str, float]:
    """Precision, recall and F1 of predicted sentence links against hand-labelled ones.

    A predicted link in ``acceptable`` (a partial correspondence the labeller allowed but did
    not require) is neither a true nor a false positive.

    Args:
        predicted: ``(i, j)`` links found.
        gold: ``(i, j)`` links required.
        acceptable: ``(i, j)`` links allowed.

    Returns:
        ``{"precision", "recall", "f1", "tp", "fp", "fn"}``.
    """
    pred, want, ok = set(predicted), set(gold), set(acceptable)
    tp = len(pred & want)
    fp = len(pred - want - ok)
    fn = len(want - pred)
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f, "tp": tp, "fp": fp, "fn": fn}
