"""Synthetic corpus with planted derivatives and an exact truth table.

Documents are sentences of Zipf-distributed pseudo-words grouped into paragraphs. A share of
them are planted derivatives of a recent original: ``exact`` copies, ``near_duplicate`` (a few
words changed, boilerplate added), ``derivative`` (sentences dropped, added, moved and lightly
reworded) and ``partial`` (a passage of about 300 words inside a much longer new text). Each
original is the source of at most one derivative, so the truth table lists every pair that is
similar by construction. Generation streams: only a bounded window of unused originals is held.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from itertools import accumulate
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from dedup.errors import ConfigError
from dedup.synth_io import Sinks, doc_path
from dedup.synth_lang import Language, lexicon, render, sentence_spans, split_text

KINDS = ("exact", "near_duplicate", "derivative", "partial")
FORMATS = ("txt", "jsonl", "parquet")
_WORD_RE = re.compile(r"\w+")
_ASCII_NONWORD = {c: " " for c in range(128) if not (chr(c).isalnum() or chr(c) == "_")}
_WINDOW = 128  # unused originals kept as possible sources
_BATCH = 4096  # kinds drawn at a time
_VOCABULARY = 50_000
_ZIPF_S = 1.0
_BOILERPLATE = (
    "This article was originally published by {0} and is republished with permission.",
    "Copyright {0} Media. All rights reserved.",
    "Sign up for the {0} newsletter to get stories like this one in your inbox.",
    "Reporting by {0}; editing by {1}.",
    "Follow {0} on social media for the latest updates.",
    "Read more from {0} at our website. Comments are closed.",
    "An earlier version of this story misspelled the name of {0}.",
    "{0} contributed reporting. Photographs by {1}.",
)


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


def words(text: str) -> list[str]:
    """The ``\\w+`` runs of the lower-cased text (a split, not a regex, for ASCII text)."""
    low = text.lower()
    if low.isascii():
        return low.translate(_ASCII_NONWORD).split()
    return _WORD_RE.findall(low)


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


@dataclass
class _Source:
    doc_id: int
    text: str


@dataclass
class _Planted:
    text: str
    span_a: tuple[int, int] | None = None
    span_b: tuple[int, int] | None = None


class _Planter:
    """Makes each kind of derivative from a source document."""

    def __init__(self, lang: Language, mean_words: float) -> None:
        self.lang, self.py, self.mean_words = lang, lang.py, mean_words
        fill = [lang.name() for _ in range(2 * len(_BOILERPLATE))]
        self.boilerplate = [t.format(*fill[2 * i : 2 * i + 2]) for i, t in enumerate(_BOILERPLATE)]

    def plant(self, kind: str, src: _Source) -> _Planted:
        if kind == "exact":
            return _Planted(src.text)
        if kind == "near_duplicate":
            return _Planted(self.near_duplicate(split_text(src.text)))
        if kind == "derivative":
            return _Planted(self.derivative(split_text(src.text)))
        return self.partial(src.text)

    def near_duplicate(self, paras: list[list[str]]) -> str:
        """A few words changed; a boilerplate footer and/or header added."""
        py = self.py
        for _ in range(py.randrange(1, 5)):
            para = paras[py.randrange(len(paras))]
            s = py.randrange(len(para))
            para[s] = self.lang.reword(para[s], 1)
        u = py.random()
        if u < 0.3:
            paras.insert(0, [py.choice(self.boilerplate)])
        if u > 0.2:
            paras.append([py.choice(self.boilerplate)])
        return render(paras)

    def derivative(self, paras: list[list[str]]) -> str:
        """Sentences dropped, added, moved and lightly reworded, paragraphs kept where they can."""
        py, lang = self.py, self.lang
        items = [(i, s) for i, p in enumerate(paras) for s in p]
        keep = py.randrange(len(items))
        drop = py.uniform(0.05, 0.25)
        items = [it for j, it in enumerate(items) if j == keep or py.random() >= drop]
        for j, (p, s) in enumerate(items):
            if py.random() < 0.2:
                items[j] = (p, lang.reword(s, py.randrange(1, 3)))
        for sentence in lang.sentences(int(len(items) * py.uniform(0.05, 0.2) * 17) + 5):
            j = py.randrange(len(items) + 1)
            items.insert(j, (items[min(j, len(items) - 1)][0], sentence))
        for _ in range(py.randrange(1, 3)):
            _, moved = items.pop(py.randrange(len(items)))
            j = py.randrange(len(items) + 1)
            items.insert(j, (items[min(j, len(items) - 1)][0], moved))
        out: list[list[str]] = []
        for n, (p, s) in enumerate(items):
            if n and p == items[n - 1][0]:
                out[-1].append(s)
            else:
                out.append([s])
        return render(out)

    def partial(self, source: str) -> _Planted:
        """A passage of about 300 words of ``source`` inside a new text 6x the mean length."""
        py = self.py
        spans = sentence_spans(split_text(source))
        counts = [source.count(" ", a, b) + 1 for a, b in spans]
        target = py.randrange(200, 400)
        to_end = list(accumulate(reversed(counts)))  # words from each sentence to the end
        first = py.randrange(max(1, sum(n >= target for n in to_end)))
        last, total = first, counts[first]
        while total < target and last + 1 < len(spans):
            last += 1
            total += counts[last]
        a = (spans[first][0], spans[last][1])
        size = int(py.lognormvariate(math.log(6 * self.mean_words), 0.3))
        host = self.lang.documents(np.array([size]))[0].split("\n\n")
        cut = py.randrange(len(host) + 1)
        before, after = "\n\n".join(host[:cut]), "\n\n".join(host[cut:])
        start = len(before) + 2 if before else 0
        passage = source[a[0] : a[1]]
        text = "\n\n".join(t for t in (before, passage, after) if t)
        return _Planted(text, a, (start, start + len(passage)))


@dataclass
class _Doc:
    """One generated document; ``source`` and ``planted`` are set for planted derivatives."""

    doc_id: int
    kind: str
    text: str
    source: _Source | None = None
    planted: _Planted | None = None


def _stream(docs: int, seed: int, mean_chars: int, rates: PlantRates) -> Iterator[_Doc]:
    """Generate ``docs`` documents in id order, holding only a bounded window of sources."""
    kind_seq, text_seq = np.random.SeedSequence(seed).spawn(2)
    kind_rng = np.random.default_rng(kind_seq)
    lang = Language(np.random.default_rng(text_seq), lexicon(_VOCABULARY, _ZIPF_S))
    mean_words = mean_chars / lang.chars_per_word
    planter = _Planter(lang, mean_words)
    probs = np.array([1 - rates.total(), *(getattr(rates, k) for k in KINDS)])
    window: deque[_Source] = deque(maxlen=_WINDOW)
    fresh: deque[str] = deque()
    for start in range(0, docs, _BATCH):
        kinds = kind_rng.choice(probs.size, size=_BATCH, p=probs / probs.sum()).tolist()
        for doc_id in range(start, min(docs, start + _BATCH)):
            k = kinds[doc_id - start]
            if k and window:
                pick = lang.py.randrange(len(window))
                src = window[pick]
                del window[pick]
                planted = planter.plant(KINDS[k - 1], src)
                yield _Doc(doc_id, KINDS[k - 1], planted.text, src, planted)
                continue
            if not fresh:
                n = lang.rng.lognormal(np.log(mean_words) - 0.125, 0.5, size=64)
                fresh.extend(lang.documents(np.maximum(n, 5).astype(np.int64)))
            window.append(_Source(doc_id, fresh.popleft()))
            yield _Doc(doc_id, "original", window[-1].text)


def synthesize(
    out: Path,
    *,
    docs: int,
    seed: int = 0,
    formats: Sequence[str] = ("txt",),
    mean_chars: int = 2600,
    rates: PlantRates | None = None,
    progress: Callable[[int], None] | None = None,
) -> SynthSummary:
    """Write a synthetic corpus with planted derivatives and its truth table.

    Writes into ``out``: ``docs/NNNN/NNNNNN.txt`` (format ``txt``), ``docs.jsonl`` (``jsonl``),
    ``docs.parquet`` (``parquet``), ``truth.parquet`` (one row per planted pair) and
    ``synth.json``. Each output appears whole or not at all; memory does not grow with ``docs``.
    The outputs are byte-identical for the same arguments.

    Args:
        out: Output folder; created if missing. It must be empty or hold an earlier synth run.
        docs: Number of documents.
        seed: Random seed.
        formats: Any of ``txt``, ``jsonl``, ``parquet``.
        mean_chars: Mean length of an original document, in characters (lognormal).
        rates: Share of documents planted as each kind (default :class:`PlantRates`).
        progress: Called with the number of documents written so far, every 1,000 and at the end.

    Returns:
        A :class:`SynthSummary` of the run.

    Raises:
        ConfigError: A parameter is out of range.
        OutputError: ``out`` holds something other than an earlier synth run.
    """
    rates = (rates or PlantRates()).validate()
    fmts = tuple(dict.fromkeys(formats))
    if docs < 0 or mean_chars < 50 or not fmts or not set(fmts) <= set(FORMATS):
        raise ConfigError(
            f"need docs >= 0, mean_chars >= 50, formats among {FORMATS}; "
            f"got docs={docs}, mean_chars={mean_chars}, formats={list(formats)}"
        )
    params: dict[str, Any] = {
        "docs": docs, "seed": seed, "formats": list(fmts), "mean_chars": mean_chars,
        "rates": asdict(rates), "vocabulary": _VOCABULARY, "zipf_s": _ZIPF_S, "shingle_words": 5,
        "window": _WINDOW,
    }  # fmt: skip
    t0 = time.perf_counter()
    with Sinks(Path(out), fmts, docs) as sinks:
        counts, n_bytes = _write(sinks, docs, seed, mean_chars, rates, progress)
        summary = SynthSummary(
            Path(out), docs, seed, fmts, dict(counts), sinks.pairs, n_bytes,
            time.perf_counter() - t0, params,
        )  # fmt: skip
        sinks.commit(_summary_json(summary))
    return summary


def _write(
    sinks: Sinks,
    docs: int,
    seed: int,
    mean_chars: int,
    rates: PlantRates,
    progress: Callable[[int], None] | None,
) -> tuple[Counter[str], int]:
    """Generate ``docs`` documents into ``sinks``; return the count per kind and text bytes."""
    counts: Counter[str] = Counter()
    n_bytes = 0
    for doc in _stream(docs, seed, mean_chars, rates):
        sinks.doc(doc.doc_id, doc.text)
        if doc.source is not None and doc.planted is not None:
            stats = exact_word_shingle_stats(doc.source.text, doc.text)
            span_a, span_b = doc.planted.span_a, doc.planted.span_b
            sinks.pair(doc.source.doc_id, doc.doc_id, doc.kind, stats, span_a, span_b)
        counts[doc.kind] += 1
        n_bytes += len(doc.text)  # ASCII: characters are bytes
        if progress is not None and (doc.doc_id + 1) % 1000 == 0:
            progress(doc.doc_id + 1)
    if progress is not None and docs % 1000:
        progress(docs)
    return counts, n_bytes


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
