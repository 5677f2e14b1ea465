"""The text of :mod:`dedup.synth.generate`: a Zipf pseudo-language, and the planted edits.

Drawing is vectorized with numpy: Walker's alias method for the Zipf law, and the characters of
a whole batch of documents gathered from one buffer of word forms and separators.
"""

from __future__ import annotations

import functools
import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate

import numpy as np
import numpy.typing as npt

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
# fmt: off
_ONSETS = ["", "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v",
           "w", "z", "br", "ch", "cr", "dr", "fl", "gr", "pl", "pr", "sh", "st", "th", "tr"]
# fmt: on
_NUCLEI = ["a", "e", "i", "o", "u", "a", "e", "i", "o", "ai", "ea", "ou", "ie"]
# Between two words: " " or ", "; after a sentence's last word: its end mark, then " " in a
# paragraph, a blank line after a paragraph, nothing at the end of the text.
_SEPARATORS = [" ", ", ", ". ", ".\n\n", ".", "? ", "?\n\n", "?", "! ", "!\n\n", "!"]
_LEXICON_SEED = 20_240_601
_SENTENCE_END = re.compile(r"(?<=[.?!]) ")
_CODAS = ["", "", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ck", "rt"]


@dataclass(frozen=True)
class Lexicon:
    """The words of the language, their Zipf law and their written forms.

    The same for every seed: corpora of different seeds share one language.
    """

    words: list[str]  # by rank, shortest first
    forms: npt.NDArray[np.object_]  # the words, then the capitalized words
    accept: npt.NDArray[np.float64]  # alias table of the Zipf law over ranks
    alias: npt.NDArray[np.int64]
    piece_len: npt.NDArray[np.int64]  # forms, then separators, as bytes in one buffer
    piece_off: npt.NDArray[np.int64]
    chars: npt.NDArray[np.uint8]
    chars_per_word: float  # expected, with the space or punctuation after a word


@functools.lru_cache(maxsize=2)
def lexicon(size: int = 50_000, zipf_s: float = 1.0) -> Lexicon:
    """The ``size`` words of the language, the word of rank r drawn with weight 1 / r**zipf_s."""
    words = _vocabulary(np.random.default_rng(_LEXICON_SEED), size)
    cap = [w.capitalize() for w in words]
    encoded = [t.encode("ascii") for t in [*words, *cap, *_SEPARATORS]]
    piece_len = np.array([len(b) for b in encoded], dtype=np.int64)
    p = 1.0 / np.arange(1, len(words) + 1, dtype=np.float64) ** zipf_s
    p /= p.sum()
    accept, alias = _alias_table(p)
    return Lexicon(
        words=words,
        forms=np.array(words + cap, dtype=object),
        accept=accept,
        alias=alias,
        piece_len=piece_len,
        piece_off=np.cumsum(piece_len) - piece_len,
        chars=np.frombuffer(b"".join(encoded), dtype=np.uint8),
        chars_per_word=float(p @ piece_len[: len(words)]) + 1.1,
    )


class Language:
    """Random text in the words of a :class:`Lexicon`: sentences, paragraphs, documents."""

    def __init__(self, rng: np.random.Generator, lex: Lexicon) -> None:
        self.rng = rng  # vectors are drawn with numpy, single values with ``py``
        self.py = random.Random(int(rng.integers(2**63)))
        self.lex = lex
        self.vocab = len(lex.words)
        self.forms = lex.forms
        self.chars_per_word = lex.chars_per_word
        self._accept, self._alias = lex.accept.tolist(), lex.alias.tolist()

    def word_ids(self, n: int) -> npt.NDArray[np.int64]:
        """``n`` Zipf-distributed word ranks (Walker's alias method)."""
        i = self.rng.integers(0, self.vocab, size=n)
        return np.where(self.rng.random(n) < self.lex.accept[i], i, self.lex.alias[i])

    def documents(self, n_words: npt.NDArray[np.int64]) -> list[str]:
        """One text of about ``n`` words per ``n`` in ``n_words``, drawn all at once.

        Sentences have 5-30 words, start with a capital and end with ``.``, ``?`` or ``!``;
        paragraphs have 1-6 sentences and are separated by a blank line.
        """
        rng = self.rng
        lens = rng.integers(5, 31, size=int(n_words.sum()) // 5 + n_words.size + 1)
        last = np.searchsorted(np.cumsum(lens), np.cumsum(n_words))
        order = np.arange(n_words.size)
        last = np.maximum.accumulate(last - order) + order  # at least one sentence each
        lens = lens[: int(last[-1]) + 1]
        ends = np.cumsum(lens)
        u = rng.random(int(ends[-1]))
        cap = (u < 0.03).astype(np.int64)
        cap[ends - lens] = 1
        sep = (u > 0.95).astype(np.int64)  # 0: " ", 1: ", "
        para_end = np.zeros(lens.size, dtype=np.int64)
        breaks = np.cumsum(rng.integers(1, 7, size=lens.size))
        para_end[breaks[breaks <= lens.size] - 1] = 1
        para_end[last] = 2  # 0: more in the paragraph, 1: paragraph ends, 2: document ends
        sep[ends - 1] = 2 + 3 * ((u[ends - 1] > 0.9).astype(np.int64) + (u[ends - 1] > 0.95))
        sep[ends - 1] += para_end
        piece = np.empty(2 * u.size, dtype=np.int64)  # word, separator, word, ...
        piece[0::2] = cap * self.vocab + self.word_ids(u.size)
        piece[1::2] = 2 * self.vocab + sep
        n = self.lex.piece_len[piece]
        out_end = np.cumsum(n)
        at = np.repeat(self.lex.piece_off[piece] - (out_end - n), n) + np.arange(int(out_end[-1]))
        text = self.lex.chars[at].tobytes().decode("ascii")
        bounds = out_end[2 * ends[last] - 1].tolist()
        return [text[a:b] for a, b in zip([0, *bounds[:-1]], bounds, strict=True)]

    def sentences(self, n_words: int) -> list[str]:
        """Sentences of about ``n_words`` words in all."""
        return [s for p in split_text(self.documents(np.array([n_words]))[0]) for s in p]

    def word_id(self) -> int:
        """One Zipf-distributed word rank."""
        i = self.py.randrange(self.vocab)
        return i if self.py.random() < self._accept[i] else int(self._alias[i])

    def reword(self, sentence: str, n: int) -> str:
        """Replace ``n`` words of ``sentence`` (fewer if a word is drawn twice)."""
        toks = sentence.split(" ")
        for _ in range(n):
            pos = self.py.randrange(len(toks))
            old = toks[pos]
            word: str = self.forms[self.word_id()]
            if old[:1].isupper():
                word = word.capitalize()
            toks[pos] = word + old[len(old.rstrip(".,?!")) :]
        return " ".join(toks)


def _alias_table(
    p: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Walker/Vose alias table of the distribution ``p``: (acceptance, alias) per outcome."""
    n = p.size
    scaled = p * n
    accept = np.ones(n)
    alias = np.arange(n)
    small = np.flatnonzero(scaled < 1.0).tolist()
    large = np.flatnonzero(scaled >= 1.0).tolist()
    while small and large:
        s, g = small.pop(), large[-1]
        accept[s], alias[s] = scaled[s], g
        scaled[g] -= 1.0 - scaled[s]
        if scaled[g] < 1.0:
            small.append(large.pop())
    return accept, alias


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


def split_text(text: str) -> list[list[str]]:
    """The paragraphs and sentences of a generated text: the inverse of :func:`render`."""
    return [_SENTENCE_END.split(p) for p in text.split("\n\n")]


def render(paras: Sequence[Sequence[str]]) -> str:
    """Paragraphs of sentences as text: sentences joined by spaces, paragraphs by a blank line."""
    return "\n\n".join(" ".join(p) for p in paras)


def sentence_spans(paras: Sequence[Sequence[str]]) -> list[tuple[int, int]]:
    """Character span of each sentence of ``render(paras)``, in order."""
    spans, pos = [], 0
    for p in paras:
        for s in p:
            spans.append((pos, pos + len(s)))
            pos += len(s) + 1
        pos += 1
    return spans


def boilerplate(lex: Lexicon, seed: int) -> list[str]:
    """The corpus's header and footer lines, with names drawn for ``seed``."""
    py = random.Random(seed)
    names = [str(lex.forms[len(lex.words) + py.randrange(100, 5000)]) for _ in range(16)]
    return [t.format(names[2 * i], names[2 * i + 1]) for i, t in enumerate(_BOILERPLATE)]


@dataclass
class Planted:
    """A planted derivative; the spans locate a reused passage in source and derivative."""

    text: str
    span_a: tuple[int, int] | None = None
    span_b: tuple[int, int] | None = None


class Planter:
    """Makes each kind of derivative from a source document."""

    def __init__(self, lang: Language, mean_words: float, boilerplate: list[str]) -> None:
        self.lang, self.py, self.mean_words = lang, lang.py, mean_words
        self.boilerplate = boilerplate

    def plant(self, kind: str, source: str) -> Planted:
        """A derivative of ``source`` of the given kind (one of ``KINDS``)."""
        if kind == "exact":
            return Planted(source)
        if kind == "near_duplicate":
            return Planted(self.near_duplicate(split_text(source)))
        if kind == "derivative":
            return Planted(self.derivative(split_text(source)))
        return self.partial(source)

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

    def partial(self, source: str) -> Planted:
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
        return Planted(text, a, (start, start + len(passage)))
