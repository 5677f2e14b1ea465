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
import re
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from dedup.errors import ConfigError
from dedup.synth_io import Sinks, doc_path

KINDS = ("exact", "near_duplicate", "derivative", "partial")
FORMATS = ("txt", "jsonl", "parquet")
_WORD_RE = re.compile(r"\w+")
_WINDOW = 128  # unused originals kept as possible sources
_ONSETS = "b c d f g h j k l m n p r s t v w z br ch cr dr fl gr pl pr sh st th tr".split() + [""]
_NUCLEI = "a e i o u a e i o ai ea ou ie".split()
_CODAS = ["", "", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ck", "rt"]
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
        k: Words per shingle.

    Returns:
        ``(jaccard, containment_a, containment_b)``, where ``containment_a`` is the share of
        ``a``'s shingles found in ``b``. Empty sets give 0.0.
    """
    sa, sb = word_shingles(a, k), word_shingles(b, k)
    inter = len(sa & sb)
    union = len(sa) + len(sb) - inter
    return (
        inter / union if union else 0.0,
        inter / len(sa) if sa else 0.0,
        inter / len(sb) if sb else 0.0,
    )


def word_shingles(text: str, k: int = 5) -> set[tuple[str, ...]]:
    """The set of word k-shingles of ``text`` (see :func:`exact_word_shingle_stats`)."""
    words = _WORD_RE.findall(text.lower())
    if len(words) < k:
        return {tuple(words)} if words else set()
    return set(zip(*(words[i:] for i in range(k)), strict=False))


class _Language:
    """Pseudo-words drawn from a Zipf law, rendered as sentences and paragraphs."""

    def __init__(self, rng: np.random.Generator, vocab: int, zipf_s: float = 1.0) -> None:
        self.rng = rng
        words = _vocabulary(rng, vocab)
        self.vocab = len(words)
        cap = [w.capitalize() for w in words]
        # forms[variant * V + word]: variant = cap bit + 2 * comma bit; 4-6 end a sentence.
        forms = words + cap + [w + "," for w in words] + [w + "," for w in cap]
        forms += [w + p for p in ".?!" for w in words]
        self.forms = np.array(forms, dtype=object)
        weights = 1.0 / np.arange(1, self.vocab + 1, dtype=np.float64) ** zipf_s
        self.cdf = np.cumsum(weights / weights.sum())
        self.cdf[-1] = 1.0
        lengths = np.array([len(w) for w in words], dtype=np.float64)
        self.chars_per_word = float((weights / weights.sum()) @ lengths) + 1.1

    def word_ids(self, n: int) -> npt.NDArray[np.intp]:
        """``n`` Zipf-distributed word ranks."""
        return np.searchsorted(self.cdf, self.rng.random(n), side="right")

    def sentences(self, n_words: int) -> list[str]:
        """Sentences of 5-30 words, about ``n_words`` words in all (at least one sentence)."""
        rng = self.rng
        lens = rng.integers(5, 31, size=n_words // 5 + 1)
        ends = np.cumsum(lens)
        n_sent = int(np.searchsorted(ends, n_words)) + 1
        ends = ends[:n_sent]
        total = int(ends[-1])
        u = rng.random(total)
        variant = (u < 0.03).astype(np.intp) + 2 * (u > 0.95)
        variant[ends - lens[:n_sent]] |= 1
        variant[ends - 1] = 4 + (u[ends - 1] > 0.9) + (u[ends - 1] > 0.95)
        toks: list[str] = self.forms[variant * self.vocab + self.word_ids(total)].tolist()
        starts = [0, *ends[:-1].tolist()]
        return [" ".join(toks[s:e]) for s, e in zip(starts, ends.tolist(), strict=True)]

    def paragraphs(self, n_words: int) -> list[list[str]]:
        """About ``n_words`` words of sentences, grouped 1-6 sentences to a paragraph."""
        sents = self.sentences(n_words)
        sizes = self.rng.integers(1, 7, size=len(sents)).tolist()
        paras, i = [], 0
        for size in sizes:
            if i >= len(sents):
                break
            paras.append(sents[i : i + size])
            i += size
        return paras

    def reword(self, sentence: str, n: int) -> str:
        """Replace ``n`` words of ``sentence``, keeping capitals and punctuation."""
        toks = sentence.split(" ")
        picks = self.rng.choice(len(toks), size=min(n, len(toks)), replace=False)
        for pos, wid in zip(picks.tolist(), self.word_ids(len(picks)).tolist(), strict=True):
            old = toks[pos]
            word = str(self.forms[wid])
            if old[:1].isupper():
                word = word.capitalize()
            toks[pos] = word + old[len(old.rstrip(".,?!")) :]
        return " ".join(toks)

    def name(self) -> str:
        """A capitalized pseudo-word of middling frequency."""
        return str(self.forms[self.vocab + int(self.rng.integers(100, 5000))])


def _vocabulary(rng: np.random.Generator, size: int) -> list[str]:
    """``size`` distinct pseudo-words of 1-4 syllables, shortest first (to get high ranks)."""
    syllables = np.array([o + n + c for o in _ONSETS for n in _NUCLEI for c in _CODAS])
    seen: dict[str, None] = {}
    while len(seen) < size:
        n_syl = rng.choice(4, size=size, p=[0.2, 0.4, 0.3, 0.1]) + 1
        picks = syllables[rng.integers(0, len(syllables), size=(size, 4))]
        for row, n in zip(picks.tolist(), n_syl.tolist(), strict=True):
            seen.setdefault("".join(row[:n]), None)
    words = list(seen)[:size]
    return sorted(words, key=len)


def render(paras: Sequence[Sequence[str]]) -> str:
    """Paragraphs of sentences as text: sentences joined by spaces, paragraphs by a blank line."""
    return "\n\n".join(" ".join(p) for p in paras)


def _sentence_spans(paras: Sequence[Sequence[str]]) -> list[tuple[int, int]]:
    """Character span of each sentence of ``render(paras)``, in order."""
    spans, pos = [], 0
    for p in paras:
        for s in p:
            spans.append((pos, pos + len(s)))
            pos += len(s) + 1
        pos += 1
    return spans


@dataclass
class _Source:
    doc_id: int
    paras: list[list[str]]
    text: str


@dataclass
class _Planted:
    text: str
    span_a: tuple[int, int] | None = None
    span_b: tuple[int, int] | None = None


class _Planter:
    """Makes each kind of derivative from a source document."""

    def __init__(self, lang: _Language, mean_words: float) -> None:
        self.lang = lang
        self.rng = lang.rng
        self.mean_words = mean_words
        fill = [lang.name() for _ in range(2 * len(_BOILERPLATE))]
        self.boilerplate = [t.format(*fill[2 * i : 2 * i + 2]) for i, t in enumerate(_BOILERPLATE)]

    def plant(self, kind: str, src: _Source) -> _Planted:
        if kind == "exact":
            return _Planted(src.text)
        if kind == "near_duplicate":
            return _Planted(self.near_duplicate(src.paras))
        if kind == "derivative":
            return _Planted(self.derivative(src.paras))
        return self.partial(src)

    def near_duplicate(self, paras: list[list[str]]) -> str:
        """A few words changed; a boilerplate footer and/or header added."""
        rng, out = self.rng, [list(p) for p in paras]
        for _ in range(int(rng.integers(1, 5))):
            p = int(rng.integers(len(out)))
            s = int(rng.integers(len(out[p])))
            out[p][s] = self.lang.reword(out[p][s], 1)
        u = rng.random()
        if u < 0.3:
            out.insert(0, [self._boiler()])
        if u > 0.2:
            out.append([self._boiler()])
        return render(out)

    def _boiler(self) -> str:
        return self.boilerplate[int(self.rng.integers(len(self.boilerplate)))]

    def derivative(self, paras: list[list[str]]) -> str:
        """Sentences dropped, added, moved and lightly reworded, paragraphs kept where they can."""
        rng, lang = self.rng, self.lang
        items = [(i, s) for i, p in enumerate(paras) for s in p]
        keep = rng.random(len(items)) >= rng.uniform(0.05, 0.25)
        keep[int(rng.integers(len(items)))] = True
        items = [it for it, k in zip(items, keep.tolist(), strict=True) if k]
        for j in np.flatnonzero(rng.random(len(items)) < 0.2).tolist():
            items[j] = (items[j][0], lang.reword(items[j][1], int(rng.integers(1, 3))))
        for _ in range(int(len(items) * rng.uniform(0.05, 0.2)) + 1):
            j = int(rng.integers(len(items) + 1))
            near = items[min(j, len(items) - 1)][0]
            items.insert(j, (near, lang.sentences(int(rng.integers(5, 25)))[0]))
        for _ in range(int(rng.integers(1, 3))):
            s = items.pop(int(rng.integers(len(items))))
            j = int(rng.integers(len(items) + 1))
            items.insert(j, (items[min(j, len(items) - 1)][0], s[1]))
        out: list[list[str]] = []
        for n, (p, s) in enumerate(items):
            if n and p == items[n - 1][0]:
                out[-1].append(s)
            else:
                out.append([s])
        return render(out)

    def partial(self, src: _Source) -> _Planted:
        """A passage of about 300 words of ``src`` inside a new text about 6x the mean length."""
        rng = self.rng
        spans = _sentence_spans(src.paras)
        words = np.array([len(src.text[a:b].split(" ")) for a, b in spans])
        target = int(rng.integers(200, 400))
        tail = np.cumsum(words[::-1])[::-1]  # words from each sentence to the end
        first = int(rng.integers(max(1, int(np.count_nonzero(tail >= target)))))
        last = first + int(np.searchsorted(np.cumsum(words[first:]), target))
        a = (spans[first][0], spans[min(last, len(spans) - 1)][1])
        host = self.lang.paragraphs(int(rng.lognormal(np.log(6 * self.mean_words), 0.3)))
        cut = int(rng.integers(len(host) + 1))
        before, after = render(host[:cut]), render(host[cut:])
        start = len(before) + 2 if before else 0
        passage = src.text[a[0] : a[1]]
        text = "\n\n".join(t for t in (before, passage, after) if t)
        return _Planted(text, a, (start, start + len(passage)))


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
        "rates": asdict(rates), "vocabulary": 50_000, "zipf_s": 1.0, "shingle_words": 5,
        "window": _WINDOW,
    }  # fmt: skip
    t0 = time.perf_counter()
    with Sinks(Path(out), fmts, docs) as sinks:
        counts, n_bytes = _generate(sinks, docs, seed, mean_chars, rates, progress)
        summary = SynthSummary(
            Path(out), docs, seed, fmts, dict(counts), sinks.pairs, n_bytes,
            time.perf_counter() - t0, params,
        )  # fmt: skip
        sinks.commit(_summary_json(summary))
    return summary


def _generate(
    sinks: Sinks,
    docs: int,
    seed: int,
    mean_chars: int,
    rates: PlantRates,
    progress: Callable[[int], None] | None,
) -> tuple[Counter[str], int]:
    """Generate ``docs`` documents into ``sinks``; return the count per kind and text bytes."""
    kind_seq, text_seq = np.random.SeedSequence(seed).spawn(2)
    kind_rng = np.random.default_rng(kind_seq)
    lang = _Language(np.random.default_rng(text_seq), 50_000)
    mean_words = mean_chars / lang.chars_per_word
    planter = _Planter(lang, mean_words)
    probs = np.array([1 - rates.total(), *(getattr(rates, k) for k in KINDS)])
    window: deque[_Source] = deque(maxlen=_WINDOW)
    counts: Counter[str] = Counter()
    n_bytes = 0
    for i in range(docs):
        if i % 4096 == 0:
            kinds = kind_rng.choice(len(probs), size=4096, p=probs / probs.sum()).tolist()
        kind = "original" if kinds[i % 4096] == 0 or not window else KINDS[kinds[i % 4096] - 1]
        if kind == "original":
            n_words = max(5, int(lang.rng.lognormal(np.log(mean_words) - 0.125, 0.5)))
            paras = lang.paragraphs(n_words)
            text = render(paras)
            window.append(_Source(i, paras, text))
        else:
            src = window[int(lang.rng.integers(len(window)))]
            window.remove(src)
            planted = planter.plant(kind, src)
            text = planted.text
            stats = exact_word_shingle_stats(src.text, text)
            sinks.pair(src.doc_id, i, kind, stats, planted.span_a, planted.span_b)
        sinks.doc(i, text)
        counts[kind] += 1
        n_bytes += len(text)  # ASCII: characters are bytes
        if progress is not None and (i + 1) % 1000 == 0:
            progress(i + 1)
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
