"""The sentence path of two texts too long for a sentence matrix (more than
``max_sentence_cells`` sentence pairs): which sentence of A goes with which of B, from the
word n-grams the passage aligner found they share.

A seed (an n-gram shared at word ``i`` of A and word ``j`` of B) inside a passage links the
sentence holding ``i`` to the one holding ``j``; the path is the heaviest chain of such links,
strictly increasing in both texts (:func:`heaviest_chain`), so a sentence's main partner
wins over a neighbour that a straddling n-gram touches; identical sentences left between the
chain's pairs (too short for a kept seed) are then paired in order (:func:`fill_same`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import numpy as np

from dedup.align.passage_seeds import Chain, WordSpans
from dedup.text.segment import Sentence

__all__ = ["fill_same", "heaviest_chain", "seed_links", "sentence_of"]


def sentence_of(sents: list[Sentence], offsets: np.ndarray) -> np.ndarray:
    """The index of the sentence holding each character offset (-1 before the first)."""
    starts = np.fromiter((s.start for s in sents), dtype=np.int64, count=len(sents))
    return np.searchsorted(starts, offsets, side="right") - 1


def seed_links(
    chains: list[Chain],
    seeds: tuple[np.ndarray, np.ndarray],
    sa: list[Sentence],
    sb: list[Sentence],
    wa: WordSpans,
    wb: WordSpans,
) -> Counter[tuple[int, int]]:
    """Sentence pairs joined by the seeds inside lexical passages: an n-gram shared at word
    ``i`` of A and word ``j`` of B links their sentences, exactly (no interpolation along the
    chain), with the number of seeds joining each pair."""
    ia, jb = seeds
    links: Counter[tuple[int, int]] = Counter()
    if not sa or not sb or not len(ia):
        return links
    for c in chains:  # seeds are sorted by A's word: each chain's are one slice
        lo, hi = np.searchsorted(ia, [c.a_lo, c.a_hi], side="left")
        i, j = ia[lo:hi], jb[lo:hi]
        inside = (j >= c.b_lo) & (j < c.b_hi)
        si = sentence_of(sa, wa.starts[i[inside]])
        sj = sentence_of(sb, wb.starts[j[inside]])
        links.update((x, y) for x, y in zip(si.tolist(), sj.tolist(), strict=True))
    return Counter({(x, y): n for (x, y), n in links.items() if x >= 0 and y >= 0})


def fill_same(
    path: list[tuple[int, int]], sa: list[Sentence], sb: list[Sentence]
) -> list[tuple[int, int]]:
    """``path`` with the sentences between (and around) its pairs that read the same paired
    in order, from each end of a gap: a sentence where no kept seed starts (one too short for
    an n-gram at a passage's end, or one whose positions the seed cap passed over)."""

    def same(i: int, j: int) -> bool:
        return sa[i].text.split() == sb[j].text.split()

    out: list[tuple[int, int]] = []
    prev_i = prev_j = -1
    for i, j in [*path, (len(sa), len(sb))]:
        a0, b0, a1, b1 = prev_i + 1, prev_j + 1, i - 1, j - 1
        while a0 <= a1 and b0 <= b1 and same(a0, b0):
            out.append((a0, b0))
            a0, b0 = a0 + 1, b0 + 1
        tail = []
        while a1 >= a0 and b1 >= b0 and same(a1, b1):
            tail.append((a1, b1))
            a1, b1 = a1 - 1, b1 - 1
        out.extend(reversed(tail))
        if i < len(sa):
            out.append((i, j))
        prev_i, prev_j = i, j
    return out


def heaviest_chain(weights: Mapping[tuple[int, int], int]) -> list[tuple[int, int]]:
    """The sentence pairs, strictly increasing in both texts, of the largest total weight:
    the sentence path when no sentence matrix is scored. A sentence's heaviest partner wins,
    not its first one: a word run that straddles a sentence boundary links a sentence to its
    partner's neighbour by a word or two, and must not shift the path.

    Weighted longest increasing subsequence: pairs by A's sentence, those of one sentence by
    B's sentence descending (so one sentence is used once), each extending the heaviest chain
    that ends before its B sentence (a Fenwick tree of prefix maxima)."""
    if not weights:
        return []
    ranks = {j: r + 1 for r, j in enumerate(sorted({j for _, j in weights}))}
    size = len(ranks)
    tree_w = [0] * (size + 1)
    tree_at = [-1] * (size + 1)
    order = sorted(weights, key=lambda p: (p[0], -p[1]))
    back = [-1] * len(order)
    total = [0] * len(order)
    for k, (i, j) in enumerate(order):
        best_w, best_at, r = 0, -1, ranks[j] - 1
        while r > 0:  # heaviest chain ending at a B sentence before j
            if tree_w[r] > best_w:
                best_w, best_at = tree_w[r], tree_at[r]
            r -= r & -r
        total[k], back[k] = best_w + weights[(i, j)], best_at
        r = ranks[j]
        while r <= size:
            if total[k] > tree_w[r]:
                tree_w[r], tree_at[r] = total[k], k
            r += r & -r
    k = max(range(len(order)), key=lambda x: (total[x], -x))
    out = []
    while k >= 0:
        out.append(order[k])
        k = back[k]
    return out[::-1]
