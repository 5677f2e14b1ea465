"""Synthetic corpus with planted derivatives and an exact truth table.

Documents are sentences of Zipf-distributed pseudo-words grouped into paragraphs. A share of
them are planted derivatives of a recent original: ``exact`` copies, ``near_duplicate`` (a few
words changed, boilerplate added), ``derivative`` (sentences dropped, added, moved and lightly
reworded) and ``partial`` (a passage of about 300 words inside a much longer new text). Each
original is the source of at most one derivative, so the truth table lists every pair that is
similar by construction. Generation streams in chunks of 1,000 documents, each drawn from its
own random stream (so chunks can be made by worker processes with the same result); a
derivative's source is a recent original of its chunk. Memory does not grow with the corpus.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from dedup.errors import ConfigError
from dedup.synth.language import Language, Planter, boilerplate, lexicon
from dedup.synth.sinks import Sinks, doc_path
from dedup.text.normalize import words

KINDS = ("exact", "near_duplicate", "derivative", "partial")
FORMATS = ("txt", "jsonl", "parquet")
_WINDOW = 128  # unused originals kept as possible sources
_CHUNK = 1000  # documents generated from one random stream, by one process
_VOCABULARY = 50_000
_ZIPF_S = 1.0


@dataclass(frozen=True)
class PlantRates:
    """Share of all documents planted as each kind of derivative (the rest are originals)."""

    exact: float = 0.05
    near_duplicate: float = 0.06
    derivative: float = 0.06
    partial: float = 0.03

    def total(self) -> float:
        """Share of documents that are planted derivatives."""
        return self.exact + self.near_duplicate + self.derivative + self.partial

    def validate(self) -> PlantRates:
        """Raise :class:`ConfigError` unless each rate is >= 0 and they sum to <= 0.5."""
        rates = asdict(self)
        if any(r < 0 for r in rates.values()) or self.total() > 0.5:
            raise ConfigError(f"plant rates must be >= 0 and sum to <= 0.5, got {rates}")
        return self


@dataclass(frozen=True)
class SynthSummary:
    """What :func:`synthesize` wrote."""

    out: Path
    docs: int
    seed: int
    formats: tuple[str, ...]
    counts: dict[str, int]  # documents per kind, "original" included
    pairs: int
    text_bytes: int
    seconds: float
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def mb_per_s(self) -> float:
        """Text generated and written, in MB (10**6 bytes) per second."""
        return self.text_bytes / 1e6 / max(self.seconds, 1e-9)


def exact_word_shingle_stats(a: str, b: str, k: int = 5) -> tuple[float, float, float]:
    """Exact Jaccard and containments of two texts over word k-shingles.

    Words are the ``\\w+`` runs of the lower-cased text. A text with fewer than ``k`` words has
    one shingle (all its words); a text without words has none.

    Args:
        a: First text.
        b: Second text.
        k: Words per shingle (>= 1).

    Returns:
        ``(jaccard, containment_a, containment_b)``, where ``containment_a`` is the share of
        ``a``'s shingles found in ``b``. Empty sets give 0.0.
    """
    if k < 1:
        raise ConfigError(f"shingle size must be >= 1, got {k}")
    wa = words(a)
    if a == b:  # the common case of exact copies, without the work
        return (1.0, 1.0, 1.0) if wa else (0.0, 0.0, 0.0)
    wb = words(b)
    first: dict[str, int] = {}  # word -> position of its first occurrence in a + b
    ids_a = np.fromiter(map(first.setdefault, wa, range(len(wa))), np.uint64, len(wa))
    ids_b = np.fromiter(map(first.setdefault, wb, range(len(wa), len(wa) + len(wb))), np.uint64)
    n_ids = len(wa) + len(wb)
    sa, sb = _shingle_keys(ids_a, k, n_ids), _shingle_keys(ids_b, k, n_ids)
    inter = 0
    if sa.size and sb.size:  # both sorted and distinct
        inter = int(np.count_nonzero(sa[np.minimum(np.searchsorted(sa, sb), sa.size - 1)] == sb))
    union = sa.size + sb.size - inter
    return (
        inter / union if union else 0.0,
        inter / sa.size if sa.size else 0.0,
        inter / sb.size if sb.size else 0.0,
    )


def _shingle_keys(ids: npt.NDArray[np.uint64], k: int, n_ids: int) -> npt.NDArray[Any]:
    """Sorted distinct keys, one per k-shingle of word ids below ``n_ids``."""
    a = ids
    if a.size == 0:
        return a
    if a.size < k:  # one short shingle, padded with an id no word has
        a = np.concatenate([a, np.full(k - a.size, n_ids, dtype=np.uint64)])
    bits = n_ids.bit_length()
    n = a.size - k + 1
    if bits * k <= 64:  # pack the k ids into one integer
        key = a[:n].copy()
        for j in range(1, k):
            key <<= np.uint64(bits)
            key |= a[j : j + n]
        return _distinct(key)
    rows = np.ascontiguousarray(np.lib.stride_tricks.sliding_window_view(a, k))
    return _distinct(rows.view(np.dtype((np.void, 8 * k))).ravel())


def _distinct(keys: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Sorted distinct values (``np.unique`` is several times slower on small arrays)."""
    keys = np.sort(keys)
    return keys[np.concatenate(([True], keys[1:] != keys[:-1]))]


@dataclass(frozen=True)
class _Job:
    start: int
    stop: int
    seed: int
    mean_chars: int
    rates: PlantRates


@dataclass
class _Chunk:
    """Documents ``start``, ``start + 1``, ... and the truth rows of those that are planted."""

    start: int
    texts: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    pairs: list[tuple[Any, ...]] = field(default_factory=list)


def _make_chunk(job: _Job) -> _Chunk:
    """Generate one chunk from its own random stream (so chunks can run in any process).

    Sources come from a window of the last ``_WINDOW`` unused originals of the chunk; each is
    used once, so the planted pairs are the only similar pairs.
    """
    kind_seq, text_seq = np.random.SeedSequence([job.seed, job.start // _CHUNK]).spawn(2)
    lex = lexicon(_VOCABULARY, _ZIPF_S)
    lang = Language(np.random.default_rng(text_seq), lex)
    mean_words = job.mean_chars / lang.chars_per_word
    planter = Planter(lang, mean_words, boilerplate(lex, job.seed))
    probs = np.array([1 - job.rates.total(), *(getattr(job.rates, k) for k in KINDS)])
    draws = np.random.default_rng(kind_seq).choice(
        probs.size, job.stop - job.start, p=probs / probs.sum()
    )
    window: deque[tuple[int, str]] = deque(maxlen=_WINDOW)
    fresh: deque[str] = deque()
    chunk = _Chunk(job.start)
    for doc_id, k in enumerate(draws.tolist(), job.start):
        if k and window:
            pick = lang.py.randrange(len(window))
            src_id, src = window[pick]
            del window[pick]
            kind, planted = KINDS[k - 1], planter.plant(KINDS[k - 1], src)
            stats = exact_word_shingle_stats(src, planted.text)
            chunk.pairs.append((src_id, doc_id, kind, stats, planted.span_a, planted.span_b))
            text = planted.text
        else:
            if not fresh:
                n = lang.rng.lognormal(np.log(mean_words) - 0.125, 0.5, size=64)
                fresh.extend(lang.documents(np.maximum(n, 5).astype(np.int64)))
            kind, text = "original", fresh.popleft()
            window.append((doc_id, text))
        chunk.texts.append(text)
        chunk.kinds.append(kind)
    return chunk


def _chunks(jobs: Iterator[_Job], workers: int) -> Iterator[_Chunk]:
    """The chunks of ``jobs`` in order, made by ``workers`` processes (here if 1)."""
    if workers <= 1:
        yield from map(_make_chunk, jobs)
        return
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        pending = deque(pool.submit(_make_chunk, job) for job in islice(jobs, 2 * workers))
        while pending:
            chunk = pending.popleft().result()
            for job in islice(jobs, 1):  # keep at most 2 x workers chunks in memory
                pending.append(pool.submit(_make_chunk, job))
            yield chunk
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


#: Bounds of ``mean_chars``. Shorter texts are dominated by the sentences every planted
#: near-duplicate shares, so unplanted pairs become similar and the truth table is no longer
#: every similar pair; longer ones hold chunks of 64 originals' words in memory (gigabytes).
MEAN_CHARS = (500, 100_000)


def synthesize(
    out: Path,
    *,
    docs: int,
    seed: int = 0,
    formats: Sequence[str] = ("txt",),
    mean_chars: int = 2600,
    rates: PlantRates | None = None,
    progress: Callable[[int], None] | None = None,
    workers: int = 1,
) -> SynthSummary:
    """Write a synthetic corpus with planted derivatives and its truth table.

    Writes into ``out``: ``docs/NNNN/NNNNNN.txt`` (format ``txt``), ``docs.jsonl`` (``jsonl``),
    ``docs.parquet`` (``parquet``), ``truth.parquet`` (one row per planted pair) and
    ``synth.json``. Each output appears whole or not at all; memory does not grow with ``docs``.
    The outputs are byte-identical for the same arguments, whatever ``workers`` is.

    Args:
        out: Output folder; created if missing. It must be empty or hold an earlier synth run.
        docs: Number of documents.
        seed: Random seed (>= 0).
        formats: Any of ``txt``, ``jsonl``, ``parquet``.
        mean_chars: Mean length of an original document, in characters (lognormal), within
            :data:`MEAN_CHARS`.
        rates: Share of documents planted as each kind (default :class:`PlantRates`).
        progress: Called with the number of documents written so far, every 1,000 and at the end.
        workers: Processes generating text: 1 generates here; 0 starts one per core. Other
            processes are spawned, so a script that asks for them needs the usual
            ``if __name__ == "__main__":`` guard.

    Returns:
        A :class:`SynthSummary` of the run.

    Raises:
        ConfigError: A parameter is out of range.
        OutputError: ``out`` holds something other than an earlier synth run.
    """
    rates = (rates or PlantRates()).validate()
    fmts = tuple(dict.fromkeys(formats))
    lo, hi = MEAN_CHARS
    if (
        min(docs, seed, workers) < 0
        or not lo <= mean_chars <= hi
        or not fmts
        or set(fmts) - set(FORMATS)
    ):
        raise ConfigError(
            f"need docs, seed, workers >= 0, mean_chars in [{lo:,}, {hi:,}], formats among "
            f"{FORMATS}; got "
            f"docs={docs}, seed={seed}, workers={workers}, mean_chars={mean_chars}, "
            f"formats={list(formats)}"
        )
    n_chunks = -(-docs // _CHUNK)
    workers = min(workers or os.cpu_count() or 1, n_chunks)
    jobs = (_Job(i, min(i + _CHUNK, docs), seed, mean_chars, rates) for i in range(0, docs, _CHUNK))
    params: dict[str, Any] = {
        "docs": docs, "seed": seed, "formats": list(fmts), "mean_chars": mean_chars,
        "rates": asdict(rates), "vocabulary": _VOCABULARY, "zipf_s": _ZIPF_S, "shingle_words": 5,
        "window": _WINDOW, "chunk": _CHUNK,
    }  # fmt: skip
    t0 = time.perf_counter()
    counts: Counter[str] = Counter()
    with Sinks(Path(out), fmts, docs) as sinks:
        for chunk in _chunks(jobs, workers):
            for doc_id, text in enumerate(chunk.texts, chunk.start):
                sinks.doc(doc_id, text)
            for pair in chunk.pairs:
                sinks.pair(*pair)
            counts.update(chunk.kinds)
            if progress is not None:
                progress(chunk.start + len(chunk.texts))
        summary = SynthSummary(
            Path(out), docs, seed, fmts, dict(counts), sinks.pairs, sinks.text_bytes,
            time.perf_counter() - t0, params,
        )  # fmt: skip
        sinks.commit(_summary_json(summary))
    return summary


def _summary_json(s: SynthSummary) -> str:
    counts = {k: s.counts.get(k, 0) for k in ("original", *KINDS)}
    return json.dumps(
        {
            "params": s.params,
            "counts": counts,
            "pairs": s.pairs,
            "text_bytes": s.text_bytes,
            "doc_path_example": doc_path(0, s.docs),
        },
        indent=2,
    )
