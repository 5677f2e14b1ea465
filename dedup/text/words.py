"""Word tokens and word-level opcodes inside an edited sentence."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rapidfuzz.distance import Indel

__all__ = ["encode_words", "word_opcodes", "word_spans", "words"]

_WORD = re.compile(r"\S+")
# Code points used to stand for words; skips the surrogate block.
_BASE = 0x100
_SURROGATES = 0xD800 - _BASE


def word_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the white-space separated words of ``text``.

    Args:
        text: A sentence.

    Returns:
        ``(start, end)`` per word; word-level opcodes index into this list.
    """
    return [m.span() for m in _WORD.finditer(text)]


def words(text: str) -> list[str]:
    """The white-space separated words of ``text`` (punctuation stays attached)."""
    return _WORD.findall(text)


def _code(i: int) -> str:
    return chr(_BASE + i if i < _SURROGATES else _BASE + i + 0x800)


_CODES = [_code(i) for i in range(4096)]


def _codes(n: int) -> list[str]:
    """At least ``n`` code characters (grown on demand)."""
    if n > len(_CODES):
        _CODES.extend(_code(i) for i in range(len(_CODES), n))
    return _CODES


def encode_words(seqs: Sequence[Sequence[str]]) -> list[str]:
    """Encode word lists as strings, one character per distinct word, shared vocabulary.

    Character-level edit distances between the encodings are word-level distances between the
    word lists, so rapidfuzz's fast string kernels work on words.

    Args:
        seqs: Word lists.

    Returns:
        One string per list.
    """
    flat = [w for seq in seqs for w in seq]
    distinct = dict.fromkeys(flat)
    vocab = dict(zip(distinct, _codes(len(distinct)), strict=False))
    joined = "".join(map(vocab.__getitem__, flat))
    out, pos = [], 0
    for seq in seqs:
        out.append(joined[pos : pos + len(seq)])
        pos += len(seq)
    return out


def word_opcodes(a: str, b: str) -> list[tuple[str, int, int, int, int]]:
    """difflib-style opcodes turning the words of ``a`` into the words of ``b``.

    Adjacent deletions and insertions are merged into ``replace``, as difflib reports them.

    Args:
        a: Old sentence.
        b: New sentence.

    Returns:
        ``(tag, a_lo, a_hi, b_lo, b_hi)`` tuples over :func:`words` indices, covering both.
    """
    ea, eb = encode_words([words(a), words(b)])
    out: list[tuple[str, int, int, int, int]] = []
    for op in Indel.opcodes(ea, eb):
        tag: str = op.tag
        a_lo, a_hi, b_lo, b_hi = (
            int(v) for v in (op.src_start, op.src_end, op.dest_start, op.dest_end)
        )
        if out and tag != "equal" and out[-1][0] != "equal":
            _, pa, _, pb, _ = out[-1]
            out[-1] = ("replace", pa, a_hi, pb, b_hi)
        else:
            out.append((tag, a_lo, a_hi, b_lo, b_hi))
    return out
