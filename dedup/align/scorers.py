"""Sentence-similarity scorers: functions from two sentence lists to a similarity matrix.

A scorer is any callable ``scorer(a, b)`` returning a ``(len(a), len(b))`` array of
similarities in [0, 1]. It may carry a ``match_threshold`` attribute, the similarity from which
two sentences count as the same sentence, possibly edited (see :func:`default_threshold`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from rapidfuzz import process
from rapidfuzz.distance import Indel

from dedup.semantic.encoder import SentenceEncoder
from dedup.text.normalize import words
from dedup.text.words import encode_words

__all__ = [
    "DEFAULT_MATCH_THRESHOLD",
    "EmbeddingScorer",
    "LexicalScorer",
    "Scorer",
    "clear_word_cache",
    "default_threshold",
    "embedding_scorer",
    "lexical_ratio",
    "norm_words",
    "same_words",
]

DEFAULT_MATCH_THRESHOLD = 0.5


class Scorer(Protocol):
    """``scorer(a, b) -> (len(a), len(b))`` similarity matrix in [0, 1]."""

    def __call__(self, a: Sequence[str], b: Sequence[str], /) -> npt.NDArray[Any]: ...


def default_threshold(scorer: object) -> float:
    """The scorer's ``match_threshold`` attribute, else :data:`DEFAULT_MATCH_THRESHOLD`."""
    value = getattr(scorer, "match_threshold", DEFAULT_MATCH_THRESHOLD)
    return float(value)


@functools.lru_cache(maxsize=1 << 16)
def _norm_words(text: str) -> tuple[str, ...]:
    return tuple(words(text))


def clear_word_cache() -> None:
    """Forget the memoized words of sentences (for benchmarks that must start cold)."""
    _norm_words.cache_clear()


def norm_words(text: str) -> list[str]:
    """Words of ``text`` after NFKC and case folding, punctuation dropped (memoized)."""
    return list(_norm_words(text))


def same_words(x: str, y: str) -> bool:
    """Whether two sentences have the same words after case and punctuation folding."""
    return x == y or _norm_words(x) == _norm_words(y)


def lexical_ratio(x: str, y: str) -> float:
    """Word-level Indel similarity of two sentences (1.0: the same words in the same order)."""
    ex, ey = encode_words([_norm_words(x), _norm_words(y)])
    return float(Indel.normalized_similarity(ex, ey))


class LexicalScorer:
    """Word-level Indel similarity (``2 * LCS / (len(a) + len(b))`` over folded words).

    The whole matrix is computed by :func:`rapidfuzz.process.cdist` on words encoded as
    characters, so it runs at string-kernel speed.

    Args:
        match_threshold: Default match threshold for :func:`dedup.align.sentences.align_sentences`.
        workers: Threads for ``cdist`` (1 is fastest for one pair of documents).
    """

    def __init__(self, *, match_threshold: float = DEFAULT_MATCH_THRESHOLD, workers: int = 1):
        self.match_threshold = match_threshold
        self.workers = workers

    def __call__(self, a: Sequence[str], b: Sequence[str], /) -> npt.NDArray[np.float32]:
        """Similarity matrix of ``a`` against ``b``."""
        enc = encode_words([_norm_words(s) for s in (*a, *b)])
        sim = process.cdist(
            enc[: len(a)],
            enc[len(a) :],
            scorer=Indel.normalized_similarity,
            dtype=np.float32,
            workers=self.workers,
        )
        return np.asarray(sim, dtype=np.float32)

    def pairwise(self, a: Sequence[str], b: Sequence[str], /) -> npt.NDArray[np.float32]:
        """Similarity of ``a[k]`` with ``b[k]`` for each k."""
        return np.array([lexical_ratio(x, y) for x, y in zip(a, b, strict=True)], np.float32)


class EmbeddingScorer(SentenceEncoder):
    """Cosine similarity of sentence embeddings (a sentence-transformers model), with the
    encoding and per-sentence cache of :class:`dedup.semantic.encoder.SentenceEncoder`.

    Args:
        model: An object with sentence-transformers' ``encode``, or None with ``loader``.
        loader: Returns the model when it is first needed.
        match_threshold: Cosine from which two sentences match.
        batch_size: Encoding batch size.
        cache_size: Most sentences kept in the cache.
    """

    def __init__(
        self,
        model: Any = None,
        *,
        loader: Callable[[], Any] | None = None,
        match_threshold: float = 0.6,
        batch_size: int = 32,
        cache_size: int = 200_000,
    ) -> None:
        super().__init__(model, loader=loader, batch_size=batch_size, cache_size=cache_size)
        self.match_threshold = match_threshold

    @classmethod
    def sharing(cls, encoder: SentenceEncoder, *, match_threshold: float = 0.6) -> EmbeddingScorer:
        """A scorer over ``encoder``'s model and cache (sentences verified are not encoded
        again when aligned)."""
        scorer = cls(loader=lambda: encoder.model, batch_size=encoder.batch_size)
        scorer.match_threshold = match_threshold
        scorer.cache_size = encoder.cache_size
        scorer.cache = encoder.cache
        scorer.kept = encoder.kept
        return scorer

    def __call__(self, a: Sequence[str], b: Sequence[str], /) -> npt.NDArray[np.float32]:
        """Cosine-similarity matrix of ``a`` against ``b``, clipped to [0, 1]."""
        if not a or not b:
            return np.zeros((len(a), len(b)), dtype=np.float32)
        ea, eb = self.embed(list(a)), self.embed(list(b))
        sim: npt.NDArray[np.float32] = np.clip(ea @ eb.T, 0.0, 1.0).astype(np.float32)
        return sim

    def pairwise(self, a: Sequence[str], b: Sequence[str], /) -> npt.NDArray[np.float32]:
        """Cosine of ``a[k]`` with ``b[k]`` for each k (texts encoded in one batch)."""
        if not a:
            return np.zeros(0, dtype=np.float32)
        emb = self.embed([*a, *b])
        sim: npt.NDArray[np.float32] = np.clip(
            np.einsum("ij,ij->i", emb[: len(a)], emb[len(a) :]), 0.0, 1.0
        ).astype(np.float32)
        return sim


def embedding_scorer(
    model: Any = None, *, match_threshold: float = 0.6, device: str | None = None
) -> EmbeddingScorer:
    """A scorer over sentence embeddings, for paraphrased rewrites.

    ``torch`` and ``sentence_transformers`` are imported only here (the ``semantic`` extra).

    Args:
        model: A loaded sentence-transformers model, a model name or path, or None for the
            bundled all-MiniLM-L6-v2 (loads offline).
        match_threshold: Cosine from which two sentences match.
        device: Torch device for a model loaded here (None: sentence-transformers' choice).

    Returns:
        An :class:`EmbeddingScorer`.
    """
    if model is None or isinstance(model, str):
        from dedup.semantic.embed import load_model

        model = load_model(model, device=device)
    return EmbeddingScorer(model, match_threshold=match_threshold)


class StaticScorer:
    """Cosine similarity of static sentence vectors (:mod:`dedup.semantic.static`), for aligning
    paraphrased rewrites without running the transformer (``dedup diff``).

    A sentence's vector is the mean of its wordpieces' vectors. Sentences that share most of
    their words also score high here, and the lexical ratio is kept as a floor, so verbatim and
    lightly edited sentences align as they do with :class:`LexicalScorer`.

    Args:
        model: A :class:`dedup.semantic.static.StaticModel`.
        match_threshold: Similarity from which two sentences match.
    """

    def __init__(self, model: Any, *, match_threshold: float = 0.75) -> None:
        self.model = model
        self.match_threshold = match_threshold
        self._lexical = LexicalScorer()

    def _vectors(self, sentences: Sequence[str]) -> npt.NDArray[np.float32]:
        from dedup.semantic.static import document_vectors

        return document_vectors(self.model, sentences).vectors

    def __call__(self, a: Sequence[str], b: Sequence[str], /) -> npt.NDArray[np.float32]:
        """Similarity matrix of ``a`` against ``b``: the larger of the static cosine and the
        lexical ratio, in [0, 1]."""
        if not a or not b:
            return np.zeros((len(a), len(b)), dtype=np.float32)
        cos = np.clip(self._vectors(a) @ self._vectors(b).T, 0.0, 1.0)
        sim: npt.NDArray[np.float32] = np.maximum(cos, self._lexical(a, b)).astype(np.float32)
        return sim

    def pairwise(self, a: Sequence[str], b: Sequence[str], /) -> npt.NDArray[np.float32]:
        """Similarity of ``a[k]`` with ``b[k]`` for each k."""
        if not a:
            return np.zeros(0, dtype=np.float32)
        va, vb = self._vectors(a), self._vectors(b)
        cos = np.clip(np.einsum("ij,ij->i", va, vb), 0.0, 1.0)
        sim: npt.NDArray[np.float32] = np.maximum(cos, self._lexical.pairwise(a, b)).astype(
            np.float32
        )
        return sim
