"""Sentence segmentation for news-like text.

Rule based and offset preserving: every :class:`Sentence` is an exact slice of the input
(``text[s.start:s.end] == s.text``), so a renderer can map sentences back onto the source.

Rules, in order:

* A line break ends a sentence (headlines, photo captions and datelines carry no final
  punctuation), unless the next line plainly continues the sentence (it starts with a
  lower-case letter, or the line ends with ``,``, ``;`` or a hyphen), as in hard-wrapped text.
* Blank lines separate paragraphs. A text without any blank line is taken to have one
  paragraph per line (the common "one paragraph per line" export).
* Inside a line, ``.``, ``!``, ``?`` and ellipses end a sentence when followed by white space
  (closing quotes and brackets after the mark stay with the sentence) and then a capital
  letter, a digit, a letter of a script without case (Arabic, Hebrew, Chinese…) or an
  opening quote or bracket. A lower-case continuation never starts a new sentence. The
  Arabic question mark ``؟`` and the Urdu and Devanagari full stops ``۔`` ``।`` act as ``?``
  and ``.``; the full-width marks ``。！？`` of Chinese and Japanese end a sentence
  wherever they stand (those scripts put no space between sentences), except inside a
  quotation that the text runs on from (``「好。」他说。`` is one sentence).
* Titles (``Mr.``, ``Gen.``, ``St.``) never end a sentence; single-letter initials,
  dotted acronyms (``U.S.``), company suffixes, months and ``etc.`` end one only when the
  next word is a typical sentence opener (``in the U.S. The ...``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["MAX_SENTENCE_WORDS", "Sentence", "head", "sentence_texts", "split_sentences"]

#: Words of a sentence that the aligner scores: a text without sentence punctuation is one huge
#: "sentence", and the word-level ratio is quadratic in its length (the model reads fewer).
MAX_SENTENCE_WORDS = 400


def head(sentence: str) -> str:
    """The sentence, cut after :data:`MAX_SENTENCE_WORDS` words."""
    if len(sentence) <= MAX_SENTENCE_WORDS * 4:
        return sentence
    words = sentence.split(maxsplit=MAX_SENTENCE_WORDS)
    return " ".join(words[:MAX_SENTENCE_WORDS])


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence: its text and where it lies in the original string.

    Attributes:
        text: The sentence, exactly ``original[start:end]``.
        start: Offset of the first character in the original text.
        end: Offset one past the last character.
        paragraph: Zero-based paragraph index.
    """

    text: str
    start: int
    end: int
    paragraph: int


def _words(spec: str) -> frozenset[str]:
    return frozenset(spec.split())


# Never end a sentence: titles and forms of address, "No. 5", "vs.", "e.g.".
_TITLES = _words(
    """mr mrs ms messrs dr prof gen lt col maj capt sgt cpl pvt adm cmdr brig gov sen sens rep
    reps rev hon pres supt insp det st ste mt ft vs cf e.g i.e approx dept est fig figs
    no nos vol vols pp ch sec"""
)
# End a sentence only before a sentence opener.
_WEAK = _words(
    """inc ltd corp co bros llc plc jr sr etc al jan feb mar apr jun jul aug sep sept oct
    nov dec mon tue tues wed thu thur thurs fri sat sun ave blvd rd hwy a.m p.m"""
)
_MONTHS = _words("jan feb mar apr jun jul aug sep sept oct nov dec")
_OPENERS = _words(
    """the a an he she it they we i you his her its their our my this that these those there
    here but and or so yet nor for in on at by from with after before when while if as
    however meanwhile still then now also instead some many most several one two no not
    what who why how where officials police authorities"""
)

# A candidate end: terminal marks, optional closing quotes/brackets, then white space; or a
# full-width mark (Chinese, Japanese) with its closing quotes and brackets, anywhere.
_END = re.compile(r"(?:\.{3}|…|[.!?؟۔।])+[\"'”’)\]»]*(?=\s)|[。！？｡]+[\"'”’)\]»」』）】]*")
_FULL_WIDTH = frozenset("。！？｡")
_NEXT = re.compile(r"\s+([\"'“‘(\[«]*)(\S*)")
_ACRONYM = re.compile(r"^(?:[A-Za-z]\.){2,}$")
_CLOSERS = "\"'”’)]»"


def _token_before(line: str, pos: int) -> str:
    """The word that ends at ``pos`` (where the terminal mark starts), without quotes."""
    lo = pos
    while lo > 0 and not line[lo - 1].isspace():
        lo -= 1
    return line[lo:pos].lstrip("\"'“‘([«")


def _is_boundary(line: str, mark_start: int, mark_end: int) -> bool:
    """Decide whether the terminal mark ``line[mark_start:mark_end]`` ends a sentence."""
    if line[mark_start] in _FULL_WIDTH:
        # 「好。」と言った: a quotation closed and run on by its verb is one sentence
        closed = line[mark_end - 1] not in _FULL_WIDTH
        return not closed or mark_end >= len(line) or line[mark_end].isspace()
    nxt = _NEXT.match(line, mark_end)
    if nxt is None:
        return True
    opener, word = nxt.group(1), nxt.group(2)
    first = word[:1]
    caseless = first.isalpha() and not first.islower() and not first.isupper()
    if not opener and first and not (first.isupper() or first.isdigit() or caseless):
        return False  # lower-case or symbol continuation
    mark = line[mark_start:mark_end].rstrip(_CLOSERS)
    if mark != ".":
        return True  # ?, !, ellipsis followed by a capital
    token = _token_before(line, mark_start)
    key = token.lower()
    if key in _TITLES:
        return False
    weak = (
        key in _WEAK
        or bool(_ACRONYM.match(token + "."))
        or (len(token) == 1 and token.isalpha() and token.isupper())
    )
    if not weak:
        return True
    if key in _MONTHS and first.isdigit():
        return False
    bare = re.sub(r"\W+$", "", word).lower()
    return bare in _OPENERS


def _split_line(line: str, offset: int, paragraph: int) -> list[Sentence]:
    """Split one logical line (no sentence-ending line break inside) into sentences."""
    out: list[Sentence] = []
    start = 0
    for m in _END.finditer(line):
        if _is_boundary(line, m.start(), m.end()):
            _emit(line, start, m.end(), offset, paragraph, out)
            start = m.end()
    _emit(line, start, len(line), offset, paragraph, out)
    return out


def _emit(line: str, lo: int, hi: int, offset: int, paragraph: int, out: list[Sentence]) -> None:
    """Append ``line[lo:hi]`` stripped of surrounding white space, if anything is left."""
    chunk = line[lo:hi]
    stripped = chunk.strip()
    if not stripped:
        return
    s = offset + lo + (len(chunk) - len(chunk.lstrip()))
    out.append(Sentence(stripped, s, s + len(stripped), paragraph))


def _continues(prev: str, nxt: str) -> bool:
    """Whether line ``nxt`` continues the sentence of line ``prev`` (hard-wrapped text)."""
    p, n = prev.rstrip(), nxt.lstrip()
    if not p or not n:
        return False
    return n[0].islower() or p[-1] in ",;-–" or p.endswith(("(", "“"))


def _physical_lines(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each line of ``text``, without the ``\\n``."""
    out, pos = [], 0
    for line in text.split("\n"):
        out.append((pos, pos + len(line)))
        pos += len(line) + 1
    return out


def _logical_lines(text: str) -> list[tuple[int, int, int]]:
    """``(start, end, paragraph)`` for each run of physical lines that forms one block."""
    blank_seps = re.search(r"\n[ \t\r\f\v]*\n", text.strip()) is not None
    blocks: list[tuple[int, int, int]] = []
    paragraph, pending_blank = 0, False
    for lo, hi in _physical_lines(text):
        if not text[lo:hi].strip():
            pending_blank = bool(blocks)
            continue
        if blocks:
            plo, phi, ppar = blocks[-1]
            if not pending_blank and _continues(text[plo:phi], text[lo:hi]):
                blocks[-1] = (plo, hi, ppar)
                continue
            if pending_blank or not blank_seps:
                paragraph += 1
        blocks.append((lo, hi, paragraph))
        pending_blank = False
    return blocks


#: Texts up to this many characters keep their sentences (and, in the aligner, their words)
#: in a per-process cache: a scan's verifier, precheck and aligner read every article again
#: for each pair it is in. Articles are far shorter; the bound and the cache size keep the
#: cache's memory bounded (2,048 texts of at most 0.2 MB each).
CACHED_CHARS = 200_000
#: Texts kept in each per-text cache.
CACHED_TEXTS = 2048


@lru_cache(maxsize=CACHED_TEXTS)
def _split_cached(text: str) -> tuple[Sentence, ...]:
    return tuple(_split(text))


def _split(text: str) -> list[Sentence]:
    out: list[Sentence] = []
    for lo, hi, paragraph in _logical_lines(text):
        out.extend(_split_line(text[lo:hi], lo, paragraph))
    return out


def split_sentences(text: str) -> list[Sentence]:
    """Split ``text`` into sentences with their character offsets and paragraph index.

    Texts of up to :data:`CACHED_CHARS` characters are split once per process (the result is
    a new list each call; the sentences are immutable).

    Args:
        text: Any text; ``\\r\\n`` line ends are handled like ``\\n``.

    Returns:
        The sentences in order. Empty or white-space-only text gives an empty list.

    Example:
        >>> [s.text for s in split_sentences("Mr. Smith went to Washington. He won.")]
        ['Mr. Smith went to Washington.', 'He won.']
    """
    if len(text) <= CACHED_CHARS:
        return list(_split_cached(text))
    return _split(text)


def sentence_texts(text: str) -> list[str]:
    """The texts of :func:`split_sentences` (what the semantic stage and the aligner read)."""
    return [s.text for s in split_sentences(text)]
