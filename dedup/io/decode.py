"""Bytes to text: encoding detection for one file, and the same clean-up for str values.

The common case costs one strict UTF-8 decode. The rest handles what real corpora hold:
byte-order marks, UTF-16 without a BOM, Windows-1252 files, UTF-8 files with C1
controls left by a Windows-1252 round trip, and binary files that must be refused.
"""

from __future__ import annotations

import codecs
import collections
import re
import unicodedata
from typing import NamedTuple


class Decoded(NamedTuple):
    """Result of :func:`decode_bytes`: ``text`` and ``encoding``, or a ``reason``."""

    text: str | None
    encoding: str | None
    reason: str | None


# ---------------------------------------------------------------- decoding

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"II*\x00", "TIFF image"),
    (b"MM\x00*", "TIFF image"),
    (b"%PDF-", "PDF document"),
    (b"\x1f\x8b", "gzip archive"),
    (b"PK\x03\x04", "zip archive"),
    (b"PK\x05\x06", "zip archive"),
    (b"\xfd7zXZ\x00", "xz archive"),
    (b"(\xb5/\xfd", "zstd archive"),
    (b"7z\xbc\xaf'\x1c", "7z archive"),
    (b"Rar!\x1a\x07", "RAR archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "OLE2 (old Office) document"),
    (b"SQLite format 3\x00", "SQLite database"),
    (b"PAR1", "Parquet file"),
    (b"\x7fELF", "ELF executable"),
    (b"\x1aE\xdf\xa3", "Matroska/WebM video"),
)
_MAGIC_PREFIXES = tuple(m for m, _ in _MAGIC)
_BOMS: tuple[tuple[bytes, str], ...] = (  # UTF-32 first: its LE BOM starts like UTF-16's
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
_BOM_PREFIXES = tuple(b for b, _ in _BOMS)
# Control bytes that do not occur in text (TAB, LF, VT, FF, CR and ESC are allowed).
_CONTROL = bytes([*range(0, 9), 14, 15, *range(16, 27), *range(28, 32), 127])
_NOT_CONTROL = bytes(b for b in range(256) if b not in _CONTROL)
_HIGH = bytes(range(0x80, 0x100))
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
_UTF8_C1 = re.compile(rb"\xc2[\x80-\x9f]")
_CP1252_UNDEFINED = frozenset(b"\x81\x8d\x8f\x90\x9d")
# C1 controls (U+0080..U+009F) mapped to the Windows-1252 characters with the same byte.
_C1_TO_CP1252 = {
    c: bytes([c]).decode("cp1252") for c in range(0x80, 0xA0) if c not in _CP1252_UNDEFINED
}
_MAX_CONTROL_SHARE = 0.10
# Western text in Windows-1252 is mostly ASCII; a file of some length with more
# non-ASCII bytes than this is in another legacy encoding (Greek, Cyrillic, CJK ...).
_MAX_LEGACY_HIGH_SHARE = 0.30
_MIN_BYTES_FOR_SHARE = 64


def _cp1252_for_bad_utf8(err: UnicodeError) -> tuple[str, int]:
    """Codec error handler: read the undecodable bytes of a UTF-8 text as Windows-1252."""
    if not isinstance(err, UnicodeDecodeError):
        raise err
    bad = err.object[err.start : err.end]
    return bytes(bad).decode("cp1252"), err.end  # raises when a byte is undefined there


codecs.register_error("dedup-cp1252", _cp1252_for_bad_utf8)


def binary_kind(head: bytes) -> str | None:
    """The kind of binary file (``"PNG image"`` ...) whose signature ``head`` starts with."""
    if not head.startswith(_MAGIC_PREFIXES):
        return None
    return next(k for m, k in _MAGIC if head.startswith(m))


def decode_bytes(data: bytes) -> Decoded:
    """Decode the bytes of one text file.

    Tries, in order: binary signatures (PNG, gzip, PDF ...), a byte-order mark (UTF-8,
    UTF-16, UTF-32), NUL bytes (UTF-32 or UTF-16 without BOM, else binary), strict UTF-8, then
    Windows-1252. Line endings become LF. No decode ever substitutes U+FFFD.

    Args:
        data: The whole file.

    Returns:
        ``Decoded(text, encoding, None)``, or ``Decoded(None, None, reason)`` when the
        bytes are empty, binary or undecodable.
    """
    if not data:
        return Decoded(None, None, "empty: 0 bytes")
    kind = binary_kind(data)
    if kind is not None:
        return Decoded(None, None, f"binary: {kind}")
    if data.startswith(_BOM_PREFIXES):
        return _decode_bom(data)
    if b"\x00" in data:
        return _decode_with_nul(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        return _decode_legacy(data, err)
    if b"\xc2" in data and _UTF8_C1.search(data):
        text = text.translate(_C1_TO_CP1252)
    return _finish(text, "utf-8")


def _finish(text: str, encoding: str) -> Decoded:
    if "\x00" in text:
        return Decoded(None, None, f"binary: NUL characters in {encoding} text")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text or text.isspace():
        return Decoded(None, None, "empty: whitespace only")
    return Decoded(text, encoding, None)


def _decode_bom(data: bytes) -> Decoded:
    codec = next(c for b, c in _BOMS if data.startswith(b))
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as err:
        return Decoded(None, None, f"undecodable: invalid {codec} after its BOM ({err.reason})")
    return _finish(text, codec)


def _unicode_without_bom(data: bytes) -> tuple[str, ...]:
    """The codecs to try on UTF-32 or UTF-16 text without a BOM, told by its NUL bytes.

    UTF-32: every 4-byte unit is at most U+10FFFF, so its top byte is NUL and the next at
    most 0x10. UTF-16: even-sized data with NUL bytes, the byte order whose high side holds
    more of them first (spaces, punctuation and Latin letters have a NUL high byte; CJK
    characters such as U+4E00 a NUL low byte). :func:`_reads_as_text` then decides.
    """
    n = len(data)
    if n % 4 == 0:
        if data[3::4].count(0) == n // 4 and max(data[2::4]) <= 0x10:
            return ("utf-32-le",)
        if data[0::4].count(0) == n // 4 and max(data[1::4]) <= 0x10:
            return ("utf-32-be",)
    if n % 2 == 0 and n >= 2 * _MIN_UTF16_CHARS and data.count(0) >= 2:
        even, odd = data[0::2].count(0), data[1::2].count(0)
        return ("utf-16-le", "utf-16-be") if odd >= even else ("utf-16-be", "utf-16-le")
    return ()


#: Fewest characters of a text taken for UTF-16 without a BOM (shorter: too little evidence).
_MIN_UTF16_CHARS = 32


def _block(c: str) -> int:
    """A script-sized block of the code point: CJK ideographs and Hangul syllables are one
    block each, anything else its 128 code points."""
    o = ord(c)
    if 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF:
        return -1
    if 0xAC00 <= o <= 0xD7AF:
        return -2
    return o >> 7


def _reads_as_text(text: str) -> bool:
    """Whether decoded bytes read as text of a language: no control, private-use or
    unassigned characters, and nine in ten of the others from three blocks (ASCII, accented
    letters or a script's punctuation, and the script; Japanese: kana and ideographs).
    Bytes that are not text decode to characters spread over many blocks."""
    seen = [c for c in text if not c.isspace()]
    if not seen or any(unicodedata.category(c) in ("Cc", "Co", "Cn", "Cs") for c in seen):
        return False
    counts = collections.Counter(map(_block, seen)).most_common(3)
    return sum(k for _, k in counts) >= 0.9 * len(seen)


def _decode_with_nul(data: bytes) -> Decoded:
    n = len(data)
    nul = data.count(0)
    for codec in _unicode_without_bom(data):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        if _reads_as_text(text):
            return _finish(text, codec)
    if n % 2 == 0 and nul * 4 >= n:  # ASCII-heavy UTF-16 has a NUL in every other byte
        half = n // 2
        even, odd = data[0::2].count(0), data[1::2].count(0)
        pick = None  # a few NULs on the other side too (U+0100, U+0200 ...)
        if odd >= 0.5 * half and even <= 0.05 * half:
            pick = "utf-16-le"
        elif even >= 0.5 * half and odd <= 0.05 * half:
            pick = "utf-16-be"
        if pick is not None:
            try:
                return _finish(data.decode(pick), pick)
            except UnicodeDecodeError:
                pass
    if nul * 2 > n:
        return Decoded(None, None, f"binary: mostly NUL bytes ({100 * nul // n}%)")
    return Decoded(None, None, f"binary: {nul} NUL byte{'s' if nul > 1 else ''}")


def _decode_legacy(data: bytes, err: UnicodeDecodeError) -> Decoded:
    """Bytes that are not valid UTF-8: Windows-1252, or mixed, or binary."""
    n = len(data)
    where = f"byte 0x{data[err.start]:02X} at offset {err.start}"
    n_control = len(data.translate(None, _NOT_CONTROL))
    if n_control > _MAX_CONTROL_SHARE * n:
        return Decoded(None, None, f"binary: {n_control} control bytes, not UTF-8 ({where})")
    n_high = n - len(data.translate(None, _HIGH))
    utf8_chars = _UTF8_MULTIBYTE.findall(data)
    n_stray = n_high - sum(len(c) for c in utf8_chars)
    if utf8_chars and len(utf8_chars) >= n_stray:
        # UTF-8 with a few stray Windows-1252 bytes (text pasted between editors).
        try:
            return _finish(data.decode("utf-8", errors="dedup-cp1252"), "utf-8+cp1252")
        except UnicodeDecodeError:
            return Decoded(None, None, f"undecodable: invalid UTF-8 ({where})")
    if n >= _MIN_BYTES_FOR_SHARE and n_high > _MAX_LEGACY_HIGH_SHARE * n:
        return Decoded(
            None, None, f"undecodable: not UTF-8 ({where}), {100 * n_high // n}% non-ASCII bytes"
        )
    try:
        return _finish(data.decode("cp1252"), "cp1252")
    except UnicodeDecodeError as err2:
        return Decoded(
            None,
            None,
            f"undecodable: not UTF-8 ({where}) nor Windows-1252 "
            f"(byte 0x{data[err2.start]:02X} at offset {err2.start})",
        )


def clean_text(text: str, encoding: str) -> Decoded:
    """Apply :func:`decode_bytes`'s clean-up to text that is already a ``str``.

    Line endings become LF; C1 controls become the Windows-1252 characters of the same
    byte; text with NUL characters, lone surrogates or only whitespace is refused.

    Args:
        text: A JSON string or Parquet value.
        encoding: What to record as the encoding of the text.

    Returns:
        ``Decoded(text, encoding, None)`` or ``Decoded(None, None, reason)``.
    """
    if not text.isascii():
        text = text.translate(_C1_TO_CP1252)
        if not _is_encodable(text):
            return Decoded(None, None, "undecodable: text has unpaired surrogates")
    return _finish(text, encoding)


def _is_encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown(path: str) -> str:
    """``path`` as storable text: undecodable bytes of a file name become ``\\xNN``."""
    if path.isascii() or _is_encodable(path):
        return path
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
