"""Tests of dedup.io.decode: bytes to text, checked against Python's codecs as the oracle."""

from __future__ import annotations

import re

from hypothesis import assume, given
from hypothesis import strategies as st

from dedup.io.decode import clean_text, decode_bytes, shown

C1 = "".join(chr(c) for c in range(0x80, 0xA0))
# Text the decoder must give back unchanged: no NUL, CR, C1 controls or surrogates,
# not whitespace only.
plain_text = st.text(
    st.characters(
        exclude_categories=["Cs"],
        exclude_characters="\x00\r" + C1,
    ),
    min_size=1,
).filter(lambda s: not s.isspace())
UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)


@given(plain_text)
def test_utf8_round_trip(text: str) -> None:
    assert decode_bytes(text.encode("utf-8")) == (text, "utf-8", None)


@given(plain_text)
def test_utf8_bom_round_trip(text: str) -> None:
    assert decode_bytes(text.encode("utf-8-sig")) == (text, "utf-8-sig", None)


@given(plain_text)
def test_utf16_bom_round_trip(text: str) -> None:
    assert decode_bytes(text.encode("utf-16")) == (text, "utf-16", None)


@given(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=2))
def test_utf16_without_bom_ascii(text: str) -> None:
    assume(not text.isspace())
    assert decode_bytes(text.encode("utf-16-le")) == (text, "utf-16-le", None)
    assert decode_bytes(text.encode("utf-16-be")) == (text, "utf-16-be", None)


# Mostly ASCII with Windows-1252 characters between runs of ASCII, as in real files.
cp1252_text = st.lists(
    st.tuples(
        st.text(st.sampled_from("abc XYZ 019.,;\n"), min_size=3),
        st.sampled_from("\u00e9\u00e8\u00fc\u00df\u00c9\u2019\u201c\u201d\u2014\u2026\u20ac"),
    ),
    min_size=1,
).map(lambda parts: "".join(a + b for a, b in parts))


@given(cp1252_text)
def test_windows_1252_round_trip(text: str) -> None:
    data = text.encode("cp1252")
    assert not UTF8_MULTIBYTE.search(data)
    assert decode_bytes(data) == (text, "cp1252", None)


@given(
    st.text(
        st.characters(exclude_categories=["Cs"], exclude_characters="\x00" + C1),
    )
)
def test_line_endings_become_lf(text: str) -> None:
    expected = text.replace("\r\n", "\n").replace("\r", "\n")
    decoded = decode_bytes(text.encode("utf-8"))
    if not expected or expected.isspace():
        assert decoded.text is None
        assert decoded.reason is not None
    else:
        assert decoded == (expected, "utf-8", None)


def test_clean_text() -> None:
    assert clean_text("a\r\nb\rc", "utf-8") == ("a\nb\nc", "utf-8", None)
    assert clean_text("\u0093q\u0094", "utf-8").text == "\u201cq\u201d"
    assert clean_text("x\ud800", "utf-8").reason == "undecodable: text has unpaired surrogates"
    assert clean_text(" \n ", "utf-8").reason == "empty: whitespace only"


def test_shown() -> None:
    assert shown("plain/caf\u00e9.txt") == "plain/caf\u00e9.txt"
    assert shown("bad\udcffname") == "bad\\xffname"
