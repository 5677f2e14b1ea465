"""The semantic channel on one machine: a cheap first stage over every document, the
transformer only for the sentences of candidate pairs.

1. Decide from the size of the text (:func:`dedup.semantic.cost.should_run`).
2. Static document vectors (:mod:`dedup.semantic.static`) for every document; documents whose
   words the model does not know are left out (:func:`dedup.semantic.search.static_candidates`).
3. Candidate pairs by cosine of those vectors (exact top-k, SimHash LSH for large corpora).
4. The sentences of the candidates' documents are encoded by the transformer, once each (the
   embedder keeps them for the aligner), within the time budget on CPU; with a store of
   sentence vectors (``dedup scan --vector-cache``), documents found there are read instead.
5. Each candidate is scored by :func:`dedup.semantic.embed.score_pair`; when the scan does not
   align its pairs, the aligner's rewrite rule decides it (the caller's ``accept``).

:func:`run_channel` returns the scored candidates and the notes for the manifest's
``stages.semantic``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt
import polars as pl

from dedup.config import SemanticConfig

if TYPE_CHECKING:
    from dedup.semantic.embed import Accept
    from dedup.semantic.vector_store import Kept, SentenceVectorStore

Bar = Callable[[str], Callable[[int, int], None]]

SCORED_SCHEMA = {"a": pl.Int64, "b": pl.Int64, "semantic": pl.Float64, "accepted": pl.Boolean}
#: Documents per call of the static stage (one progress step).
STATIC_BATCH = 512


class Texts(Protocol):
    """Where document texts come from (a :class:`dedup.io.spill.TextStore`)."""

    def get(self, doc_id: int) -> str: ...

    def nbytes(self, doc_id: int) -> int: ...


@dataclass
class ChannelResult:
    """Scored candidates (``a``, ``b`` row indices), notes for the manifest, the embedder and,
    with a store, the documents to write back to it (:class:`Kept`)."""

    scored: pl.DataFrame
    notes: dict[str, Any] = field(default_factory=dict)
    embedder: Any = None
    kept: Kept | None = None  # what to write back to the store, once aligned


def _static_vectors(texts: Texts, doc_ids: Sequence[int], config: SemanticConfig, bar: Bar) -> Any:
    """:class:`dedup.semantic.static.DocumentVectors` of every document, in batches, with
    progress."""
    from dedup.semantic import static

    model = static.load_static_model(config.model, progress=bar("semantic: distil static model"))
    update = bar("semantic: static document vectors")
    parts = []
    for start in range(0, len(doc_ids), STATIC_BATCH):
        chunk = [texts.get(d) for d in doc_ids[start : start + STATIC_BATCH]]
        parts.append(static.document_vectors(model, chunk, max_split_share=config.max_split_share))
        update(min(start + STATIC_BATCH, len(doc_ids)), len(doc_ids))
    return static.DocumentVectors(
        np.concatenate([p.vectors for p in parts]),
        np.concatenate([p.pieces for p in parts]),
        np.concatenate([p.split_share for p in parts]),
    )


def within_budget(
    pairs: npt.NDArray[np.int64],
    cosines: npt.NDArray[np.float32],
    sizes: npt.NDArray[np.int64],
    budget_chars: float,
) -> npt.NDArray[np.int64]:
    """Indices of the candidates to verify: best static cosine first, while the characters of
    the documents they bring in stay within ``budget_chars``.

    Args:
        pairs: (m, 2) candidate document indices.
        cosines: (m,) their static cosines.
        sizes: Characters of each document.
        budget_chars: Characters the transformer may read.

    Returns:
        Sorted indices into ``pairs``.
    """
    seen: set[int] = set()
    used = 0
    keep: list[int] = []
    for i in np.argsort(-cosines, kind="stable").tolist():
        a, b = int(pairs[i, 0]), int(pairs[i, 1])
        extra = sum(int(sizes[d]) for d in {a, b} - seen)
        if used + extra > budget_chars:
            continue
        used += extra
        seen.update((a, b))
        keep.append(i)
    return np.asarray(sorted(keep), dtype=np.int64)


#: Characters of the best candidates' sentences encoded to measure the transformer's speed.
SAMPLE_CHARS = 20_000


def _measured_rate(
    texts: Texts,
    doc_ids: Sequence[int],
    found: Any,
    config: SemanticConfig,
    assumed: float,
    sizes: npt.NDArray[np.int64],
) -> tuple[float, float]:
    """The transformer's characters per second here and now (load, threads, device), from
    the sentences of the best candidates' documents (kept in the encoder's cache for the
    verification; documents of size 0 in ``sizes``, those a vector store holds, are not
    read), and the seconds it took; ``assumed`` when too little text to time."""
    from dedup.semantic.encoder import sentence_embedder
    from dedup.text.segment import sentence_texts

    t0 = time.perf_counter()
    docs: list[int] = []
    size = 0
    for i in np.argsort(-found.cosines, kind="stable").tolist():
        for d in found.pairs[i].tolist():
            if d not in docs and size < SAMPLE_CHARS and sizes[d] > 0:
                docs.append(d)
                size += int(sizes[d])
        if size >= SAMPLE_CHARS:
            break
    # a prefix of each document is enough to time (and a 200 MB one must not be read whole)
    sentences: list[str] = []
    for d in docs:
        room = SAMPLE_CHARS - sum(len(s) for s in sentences)
        head = texts.get(doc_ids[d])[: max(room, 0) + 1000]
        sentences += sentence_texts(head)
    embedder = sentence_embedder(
        config.model, batch_size=config.batch_size, precision=config.precision
    )
    embedder.kept.clear()  # an earlier run's store vectors would time as free
    sentences = [s for s in dict.fromkeys(sentences) if s not in embedder.cache]  # not free
    _ = embedder.model  # load it outside the timing
    start = time.perf_counter()
    embedder.embed(sentences)
    seconds = time.perf_counter() - start
    chars = sum(len(s) for s in sentences)
    rate = chars / seconds if chars >= SAMPLE_CHARS // 4 and seconds > 0 else assumed
    return rate, time.perf_counter() - t0


def _verify(
    texts: Texts,
    doc_ids: Sequence[int],
    pairs: npt.NDArray[np.int64],
    config: SemanticConfig,
    bar: Bar,
    accept: Accept | None,
    store: SentenceVectorStore | None,
) -> tuple[list[Any], Any, Kept | None]:
    from dedup.semantic import embed
    from dedup.semantic.encoder import sentence_embedder
    from dedup.text.segment import sentence_texts

    needed = sorted({int(d) for d in np.unique(pairs)})
    text_of = {d: texts.get(doc_ids[d]) for d in needed}
    sentences = {d: sentence_texts(text_of[d]) for d in needed}
    embedder = sentence_embedder(
        config.model, batch_size=config.batch_size, precision=config.precision
    )
    kept = None
    if store is not None:
        from dedup.semantic.vector_store import Kept

        kept = Kept.preload(store, embedder, ((text_of[d], sentences[d]) for d in needed))
    scores = embed.verify_candidates(
        embedder,
        sentences,
        pairs,
        config=config,
        progress=bar("semantic: transformer on sentences of candidates"),
        accept=accept,
    )
    if kept is not None:
        kept.snapshot()
    return scores, embedder, kept


def _stored_free(
    store: SentenceVectorStore | None,
    texts: Texts,
    doc_ids: Sequence[int],
    touched: npt.NDArray[np.int64],
    sizes: npt.NDArray[np.int64],
) -> dict[str, int]:
    """Zero the size (the transformer's cost) of the touched documents that ``store`` holds,
    in place; the manifest's count of them (nothing without a store)."""
    if store is None:
        return {}
    stored = 0
    for d in touched.tolist():
        if store.has(texts.get(doc_ids[d])):
            sizes[d] = 0
            stored += 1
    return {"stored_documents": stored}


def run_channel(
    texts: Texts,
    doc_ids: Sequence[int],
    *,
    config: SemanticConfig,
    device: str,
    bar: Bar,
    accept: Accept | None = None,
    store: SentenceVectorStore | None = None,
) -> ChannelResult:
    """The cheap stage over every document, then the transformer on the candidates.

    Args:
        texts: Document texts by doc_id.
        doc_ids: The documents (row i of the result's ``a``/``b`` is ``doc_ids[i]``).
        config: The semantic settings (the run/skip decision is the caller's).
        device: Where the transformer runs (the CPU time budget applies on ``"cpu"``).
        bar: ``bar(name)`` starts a progress stage and returns its ``(done, total)`` callback.
        accept: Decides each verified candidate (``accepted``) from its sentences: the aligner's
            rewrite rule when the scan does not align its pairs; None: the score's threshold
            (see :func:`dedup.semantic.embed.verify_candidates`).
        store: Sentence vectors kept from earlier runs: the candidates' documents found there
            are not encoded again (nor counted against the CPU budget), and those encoded
            here are added to it.

    Returns:
        The :class:`ChannelResult`.
    """
    from dedup.semantic import cost, embed
    from dedup.semantic.search import static_candidates

    t0 = time.perf_counter()
    dv = _static_vectors(texts, doc_ids, config, bar)
    found = static_candidates(
        dv.vectors,
        dv.split_share,
        threshold=config.doc_threshold,
        k=config.top_k,
        max_split_share=config.max_split_share,
    )
    static_seconds = time.perf_counter() - t0
    sizes = np.asarray([texts.nbytes(d) for d in doc_ids], dtype=np.int64)
    touched = np.unique(found.pairs)
    stored = _stored_free(store, texts, doc_ids, touched, sizes)
    verify_chars = int(sizes[touched].sum()) if touched.size else 0
    rate = cost.transformer_chars_per_second(device, embed.running_precision(config, device))
    over = device == "cpu" and config.enabled is not True
    timing_seconds = 0.0  # spent on the budget too (the sentences timed stay cached)
    if over and verify_chars > (config.max_seconds_cpu - static_seconds) * rate:
        rate, timing_seconds = _measured_rate(texts, doc_ids, found, config, rate, sizes)
    notes: dict[str, Any] = {
        "documents": len(doc_ids),
        "left_out_unknown_words": found.left_out,
        "candidates": int(found.pairs.shape[0]),
        "static_seconds": round(static_seconds, 3),
        "verify_chars": verify_chars,
        "transformer_chars_per_second": round(rate),
        "timing_seconds": round(timing_seconds, 3),
        "verify_seconds_estimated": round(verify_chars / rate, 1),
        **stored,
    }
    pairs = found.pairs
    budget = (config.max_seconds_cpu - static_seconds - timing_seconds) * rate
    if over and verify_chars > budget:
        keep = within_budget(found.pairs, found.cosines, sizes, max(budget, 0.0))
        pairs = found.pairs[keep]
        notes["budget"] = (
            f"verified the {len(keep)} best of {found.pairs.shape[0]} candidates within "
            f"{config.max_seconds_cpu:.0f} s (--semantic verifies all)"
        )
    scores: list[Any] = []
    embedder, kept = None, None
    if len(pairs):
        scores, embedder, kept = _verify(texts, doc_ids, pairs, config, bar, accept, store)
    notes["verified"] = len(scores)
    if embedder is not None or timing_seconds > 0:  # the transformer ran (verified or timed)
        notes["precision"] = embed.running_precision(config, device)
    notes["accepted"] = sum(1 for s in scores if s.accepted)
    scored = pl.DataFrame(
        {
            "a": pairs[:, 0].astype(np.int64),
            "b": pairs[:, 1].astype(np.int64),
            "semantic": np.array([s.score for s in scores], dtype=np.float64),
            "accepted": np.array([s.accepted for s in scores], dtype=bool),
        },
        schema=SCORED_SCHEMA,
    )
    return ChannelResult(scored, notes, embedder, kept)
