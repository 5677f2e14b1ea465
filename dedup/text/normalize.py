"""Text normalization: Unicode NFKC, case folding, punctuation and whitespace removal.

The canonical form of a text is its words (Unicode ``\\w+`` runs of the NFKC-normalized,
case-folded text) joined by single spaces. Shingles and content hashes are computed on
the canonical form, so two texts that differ only in case, punctuation, spacing or
Unicode presentation have the same shingles.
"""

from __future__ import annotations

import re
import unicodedata

_WORD_RE = re.compile(r"\w+")
# ASCII bytes that are not word characters, mapped to a space for the fast path.
_ASCII_NONWORD = bytes(
    c if c < 128 and (chr(c).isalnum() or c == ord("_")) else ord(" ") for c in range(256)
)

# ... and A-Z lower-cased as well, for texts that are ASCII before folding.
_ASCII_FOLD_NONWORD = _ASCII_NONWORD.translate(
    bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz")
)


_ASCII_FOLD_NONWORD_STR = {
    c: (chr(c).lower() if chr(c).isalnum() or chr(c) == "_" else " ") for c in range(128)
}


def fold(text: str) -> str:
    """NFKC-normalize and case-fold ``text``."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return text.casefold()


def words(text: str) -> list[str]:
    """The words of ``text`` after :func:`fold`: its ``\\w+`` runs (the one tokenizer of
    dedup: shingles, scorers, synthetic truth and the benchmark's contenders use it)."""
    if text.isascii():  # split on the same boundaries, without a regex
        return text.translate(_ASCII_FOLD_NONWORD_STR).split()
    return _WORD_RE.findall(fold(text))


def canonical_bytes(text: str) -> bytes:
    """UTF-8 bytes of the canonical form, except that separators may be runs of spaces.

    ASCII texts take a fast path (``bytes.translate``): every non-word byte becomes a
    space. Word boundaries are then the same as those of :func:`words`, and the shingle
    kernel treats any run of spaces as one separator.
    """
    if text.isascii():  # one copy: ASCII case folding is lower-casing A-Z
        return text.encode("ascii").translate(_ASCII_FOLD_NONWORD)
    folded = fold(text)
    if folded.isascii():
        return folded.encode("ascii").translate(_ASCII_NONWORD)
    return " ".join(_WORD_RE.findall(folded)).encode("utf-8")


def canonical(text: str) -> str:
    """The canonical form: words joined by single spaces."""
    return " ".join(words(text))
