"""HTML pages to their main text, with trafilatura.

A web page holds its article among navigation, menus, footers, scripts and cookie
banners that every page of the site repeats. Read as plain text, two different articles
of one site share that template and come out as related. trafilatura finds the main
content block (its own rules, with readability and jusText as fallbacks) and drops the
rest; ``benchmarks/html_extract.py`` measures it against the alternatives.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from dedup.io.decode import clean_text, decode_bytes
from dedup.io.readers import RawDoc, skipped

__all__ = ["HTML_SUFFIXES", "extract_main_text", "html_doc", "looks_like_html"]

HTML_SUFFIXES = (".html", ".htm", ".xhtml")
_HTML_START = re.compile(
    rb"\A(?:\xef\xbb\xbf)?\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)\b", re.I | re.S
)


def looks_like_html(head: bytes) -> bool:
    """Whether a file's first bytes open an HTML document (``<!DOCTYPE html>`` or ``<html``)."""
    return _HTML_START.match(head) is not None


@cache
def _extractor() -> Any:
    import trafilatura

    return trafilatura.extract


#: An XML declaration opening the page (XHTML): lxml's HTML parser, under trafilatura, reads
#: ``<?xml ... encoding=...?>`` in a decoded string as no document at all.
_XML_DECLARATION = re.compile(r"\A\ufeff?\s*<\?xml\b[^>]*\?>", re.I)


def extract_main_text(html: str) -> str | None:
    """The main text of one HTML page: paragraphs on their own lines, no boilerplate.

    Args:
        html: The page's markup.

    Returns:
        The text, or None when no main content was found.

    Raises:
        Exception: Whatever the HTML parser raises on markup it cannot handle.
    """
    text: str | None = _extractor()(
        _XML_DECLARATION.sub("", html, count=1),
        include_comments=False,
        include_tables=True,
        include_images=False,
        include_links=False,
        deduplicate=False,
        with_metadata=False,
        output_format="txt",
    )
    return text


def html_doc(name: str, data: bytes) -> RawDoc:
    """One HTML file's bytes as a record holding its main text; never raises.

    Args:
        name: The path shown in the record.
        data: The whole file (already decompressed).

    Returns:
        An ``ok`` record holding the main text (``n_bytes`` counts the markup), or a
        ``skipped`` one with the reason.
    """
    markup, encoding, reason = decode_bytes(data)
    if markup is None:
        return skipped(name, reason or "undecodable", len(data))
    try:
        main = extract_main_text(markup)
    except Exception as err:  # lxml and trafilatura raise many kinds
        detail = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        return skipped(name, f"HTML: cannot parse: {detail}", len(data))
    if not main or main.isspace():
        return skipped(name, "HTML: no main text found", len(data))
    text, _, why = clean_text(main, encoding or "utf-8")
    if text is None:
        return skipped(name, f"HTML: {why}", len(data))
    return RawDoc(name, None, text, "ok", None, encoding, len(data))
