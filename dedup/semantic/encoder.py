"""Transformer sentence vectors for a run: each sentence encoded once, the model loaded only
when a sentence is not cached yet.

:func:`sentence_embedder` gives the process's :class:`SentenceEncoder` for a model (the
verifier and the aligner share it); :func:`embed_sentences_cached` is the one-call form.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from dedup.semantic.embed import Progress, encode_all, load_model
from dedup.semantic.search import FloatArray

_EMBEDDERS: dict[tuple[str | None, str | None, int, str], SentenceEncoder] = {}
_EMBEDDERS_LOCK = threading.Lock()


class SentenceEncoder:
    """Sentence vectors from a sentence encoder (sentence-transformers' ``encode``), cached per
    sentence text, so a document verified and then aligned, or aligned against many others, is
    encoded once. The model may be given as a loader, called on the first sentence that is not
    cached.

    Args:
        model: An object with sentence-transformers' ``encode``, or None with ``loader``.
        loader: Returns the model when it is first needed.
        batch_size: Encoding batch size.
        cache_size: Most sentences kept in the cache.
    """

    def __init__(
        self,
        model: Any = None,
        *,
        loader: Callable[[], Any] | None = None,
        batch_size: int = 32,
        cache_size: int = 200_000,
    ) -> None:
        if model is None and loader is None:
            raise ValueError("a sentence encoder needs a model or a loader")
        self._model = model
        self._loader = loader
        self.batch_size = batch_size
        self.cache_size = cache_size
        self.cache: dict[str, npt.NDArray[np.float32]] = {}
        #: Vectors read from a store (:mod:`dedup.semantic.vector_store`), by the 64-bit hash
        #: of their string: a string missing from :attr:`cache` is looked up here before it
        #: is encoded.
        self.kept: dict[int, npt.NDArray[np.float32]] = {}

    @property
    def model(self) -> Any:
        """The sentence encoder (loaded on first use when given a loader)."""
        if self._model is None and self._loader is not None:
            self._model = self._loader()
        return self._model

    def _encode(
        self, todo: list[str], progress: Callable[[int, int], None] | None
    ) -> npt.NDArray[np.float32]:
        return encode_all(self.model, todo, batch_size=self.batch_size, progress=progress)

    def embed(
        self,
        sentences: Sequence[str],
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> npt.NDArray[np.float32]:
        """Unit-length embeddings of ``sentences``, one row each.

        Args:
            sentences: The sentences; those already cached are not encoded again.
            progress: Called with (done, total) sentences to encode, after each slice.

        Returns:
            (len(sentences), d) float32; (0, 0) for no sentence.
        """
        if not sentences:
            return np.zeros((0, 0), dtype=np.float32)
        todo = list(dict.fromkeys(s for s in sentences if s not in self.cache))
        fresh: dict[str, npt.NDArray[np.float32]] = {}
        if todo and self.kept:
            from dedup.semantic.vector_store import string_hash

            for s in todo:
                if (v := self.kept.get(string_hash(s))) is not None:
                    fresh[s] = v
            todo = [s for s in todo if s not in fresh]
        if todo:
            fresh.update(zip(todo, self._encode(todo, progress), strict=True))
        rows = [fresh[s] if s in fresh else self.cache[s] for s in sentences]
        if len(self.cache) + len(fresh) > self.cache_size:
            self.cache.clear()
        self.cache.update(fresh)
        return np.asarray(np.stack(rows), dtype=np.float32)


def sentence_embedder(
    name: str | None = None,
    *,
    device: str | None = None,
    batch_size: int = 32,
    precision: str = "auto",
) -> SentenceEncoder:
    """The process's cached sentence embedder for a model: loads the transformer on the first
    sentence it has not seen, and keeps every sentence's vector for the rest of the run.

    Args:
        name: Model name or path; None for the bundled all-MiniLM-L6-v2.
        device: Torch device; None picks the GPU when there is one.
        batch_size: Sentences per forward pass.
        precision: The bundled model's precision (:func:`dedup.semantic.embed.load_model`).

    Returns:
        A :class:`SentenceEncoder` (the aligner scores with it through
        ``dedup.align.scorers.EmbeddingScorer.sharing``).
    """
    key = (name, device, batch_size, precision)
    with _EMBEDDERS_LOCK:
        if key not in _EMBEDDERS:
            _EMBEDDERS[key] = SentenceEncoder(
                loader=functools.partial(load_model, name, device=device, precision=precision),
                batch_size=batch_size,
            )
        return _EMBEDDERS[key]


def embed_sentences_cached(
    sentences: Sequence[str],
    *,
    name: str | None = None,
    device: str | None = None,
    batch_size: int = 32,
    progress: Progress | None = None,
) -> FloatArray:
    """Transformer vectors of sentences, each sentence encoded once per process.

    Args:
        sentences: The sentences.
        name: Model name or path; None for the bundled all-MiniLM-L6-v2.
        device: Torch device; None picks the GPU when there is one.
        batch_size: Sentences per forward pass.
        progress: Called with (done, total) sentences not yet cached, while encoding.

    Returns:
        (len(sentences), d) float32, L2-normalized rows.
    """
    embedder = sentence_embedder(name, device=device, batch_size=batch_size)
    return embedder.embed(sentences, progress=progress)
