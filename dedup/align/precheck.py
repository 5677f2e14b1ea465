"""Can a pair's passages show any relation? A cheap check before the passage aligner.

The aligner costs tens of milliseconds per pair of news articles (sentence matrices,
content-word Dice, the dynamic program, word n-gram seeds). The semantic channel proposes
every pair of documents on one topic, and most of them are independent texts whose passages
show nothing. :func:`could_relate` says, from two cheap facts, when
:func:`dedup.align.derivation.relate` cannot return a relation, so the aligner is skipped:

- **Reworded route.** The rewrite rule reads the in-order chain of mutual-best sentence pairs
  over the *plain* seed strengths (lexical ratio, embedding cosine). Those are computed here
  exactly as the aligner computes them (:func:`dedup.align.passage_sentences.plain_scores`,
  same sentences, same embedder and its cache), and the rule is the one :func:`relate` applies.
- **Lexical route.** Every other relation needs words in verbatim or edited passages: at least
  ``rewrite_coverage`` of the shorter text's words, or ``min_passage`` words. Such a passage
  is a chain of shared word n-grams in which the n-grams cover at least ``edited_share`` of A's
  words, so its words are at most ``ngram * s / edited_share``, where ``s`` counts A's
  positions whose n-gram also occurs in B. The check keeps a factor 2 of slack on top of that
  bound (passages merged across sentence runs count some words twice), so it never drops a
  pair that the aligner would relate on lexical evidence.

So the check changes no result; it only saves the aligner's work on pairs that would be
dropped (``tests/test_precheck.py`` compares scans with and without it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from dedup.align.passage_seeds import ngram_hashes, word_spans
from dedup.align.passage_sentences import (
    Embedder,
    head,
    in_order_chain,
    mutual_best,
    plain_scores,
)
from dedup.config import DerivationConfig, PassageConfig, RunConfig
from dedup.text.segment import sentence_texts

__all__ = [
    "RewriteRule",
    "channel_rule",
    "could_relate",
    "lexical_bound",
    "reworded",
    "shared_positions",
]

#: Pairs longer than this (characters of both texts) go to the aligner unchecked: the check
#: saves time on article-sized pairs, and its per-text cache should not hold huge texts.
MAX_CHECKED_CHARS = 2_000_000


@lru_cache(maxsize=1024)
def _grams(text: str, n: int) -> tuple[int, npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """Words of ``text`` (the aligner's words), a 64-bit hash of each run of ``n`` of them,
    from the folded words themselves (so any two texts' hashes compare), and those hashes
    sorted and distinct (for looking up another text's)."""
    import xxhash

    vocabulary: dict[str, int] = {}
    keys = word_spans(text, vocabulary).keys
    words = np.fromiter(
        (xxhash.xxh64_intdigest(w.encode("utf-8")) for w in vocabulary),
        dtype=np.uint64,
        count=len(vocabulary),
    )
    # the aligner's n-gram hash, over the words' own hashes instead of this text's word ids
    grams = ngram_hashes(words[keys].view(np.int64), n)
    return len(keys), grams, np.unique(grams)


def shared_positions(grams_a: npt.NDArray[np.uint64], distinct_b: npt.NDArray[np.uint64]) -> int:
    """How many of A's n-gram positions hold an n-gram that B has (``distinct_b``: B's
    n-gram hashes, sorted and distinct)."""
    if not len(grams_a) or not len(distinct_b):
        return 0
    at = np.searchsorted(distinct_b, grams_a).clip(max=len(distinct_b) - 1)
    return int((distinct_b[at] == grams_a).sum())


def lexical_bound(text_a: str, text_b: str, config: PassageConfig) -> tuple[float, int, int]:
    """Most words the pair's verbatim and edited passages can hold (with the factor 2 of
    slack), and the two texts' word counts."""
    words_a, grams_a, _ = _grams(text_a, config.ngram)
    words_b, _, distinct_b = _grams(text_b, config.ngram)
    shared = shared_positions(grams_a, distinct_b)
    return 2.0 * config.ngram * shared / config.edited_share, words_a, words_b


def reworded(
    sentences_a: Sequence[str],
    sentences_b: Sequence[str],
    *,
    embed: Embedder | None,
    passage: PassageConfig,
    derivation: DerivationConfig,
) -> bool:
    """Whether the rewrite rule of :func:`dedup.align.derivation.relate` holds: the in-order
    chain of mutual-best sentence pairs (plain strengths) is long enough and in order."""
    n = min(len(sentences_a), len(sentences_b))
    if n == 0 or len(sentences_a) * len(sentences_b) > passage.max_sentence_cells:
        return False  # the aligner seeds no sentences either
    plain, _, _ = plain_scores(
        [head(s) for s in sentences_a],
        [head(s) for s in sentences_b],
        embed=embed,
        lexical_threshold=passage.sentence_lexical,
        embedding_threshold=passage.sentence_embedding,
    )
    seeds = mutual_best(plain)
    if not seeds:
        return False
    chain = len(in_order_chain(seeds))
    return (
        chain / n >= derivation.chain_share
        and chain / len(seeds) >= derivation.chain_order
        and chain >= derivation.min_chain
    )


@dataclass(frozen=True)
class RewriteRule:
    """:func:`reworded` as a callable for the semantic channel when nothing is aligned after it
    (``--no-align``): a candidate is accepted exactly when the aligner's rewrite rule holds on
    its sentences, so a scan calls the same pairs paraphrases with or without alignment (less
    what only passages show). Picklable, for the Ray engine's actors.

    Attributes:
        derivation: The relation rules (the chain's share, order and length).
        passage: The aligner's parameters (the sentence thresholds).
    """

    derivation: DerivationConfig = field(default_factory=DerivationConfig)
    passage: PassageConfig = field(default_factory=PassageConfig)

    def __call__(
        self, sentences_a: Sequence[str], sentences_b: Sequence[str], embed: Embedder
    ) -> bool:
        """Whether the rule holds for A's and B's sentences, with ``embed``'s vectors."""
        return reworded(
            sentences_a,
            sentences_b,
            embed=embed,
            passage=self.passage,
            derivation=self.derivation,
        )


def channel_rule(config: RunConfig) -> RewriteRule | None:
    """What the engines pass the semantic channel to decide its candidates: the rewrite rule
    when the scan does not align its pairs; None when it does (the aligner decides)."""
    return None if config.align.enabled else RewriteRule(config.derivation)


def could_relate(
    text_a: str,
    text_b: str,
    *,
    embed: Embedder | None,
    passage: PassageConfig | None = None,
    derivation: DerivationConfig | None = None,
) -> bool:
    """False only when the pair's passages cannot show a relation (see the module notes).

    Args:
        text_a: A's text, as decoded.
        text_b: B's text.
        embed: The sentence embedder the aligner would use (None: lexical evidence only).
        passage: The aligner's parameters; defaults when None.
        derivation: The relation rules; defaults when None.
    """
    if len(text_a) + len(text_b) > MAX_CHECKED_CHARS:
        return True
    pcfg, dcfg = passage or PassageConfig(), derivation or DerivationConfig()
    bound, words_a, words_b = lexical_bound(text_a, text_b, pcfg)
    if bound >= min(dcfg.rewrite_coverage * min(words_a, words_b), dcfg.min_passage):
        return True
    sa, sb = sentence_texts(text_a), sentence_texts(text_b)
    return reworded(sa, sb, embed=embed, passage=pcfg, derivation=dcfg)
