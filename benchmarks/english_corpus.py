"""A larger English corpus, composed reproducibly from text every installation has.

The documents are the docstrings of the modules, classes and functions of the Python standard
library, then of the installed packages (English prose written by people, under the PSF and
the packages' open licences), read with :mod:`ast` from the ``.py`` files of the running
interpreter, prose paragraphs only, joined into documents of about ``mean_chars`` characters.
Nothing is shipped or downloaded: the same Python and package versions give the same corpus
(its SHA-256 is recorded with every figure). The standard library alone gives ~350 documents;
the project's environment with every extra gives over 3,000.

Used as the background against which the real rewrites (the seeds, Clough–Stevenson) must still
be found, and as realistic English text for throughput figures.
"""

from __future__ import annotations

import ast
import hashlib
import sysconfig
from pathlib import Path

#: Larger source files (generated tables, vendored bundles) are skipped.
MAX_FILE_BYTES = 300_000


def _docstrings(path: Path) -> list[str]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
        return []
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node)
            if doc and len(doc) >= 200:
                out.append(doc)
    return out


def _prose(paragraph: str) -> bool:
    """A paragraph of sentences, not code, tables or signatures."""
    words = paragraph.split()
    if len(words) < 12 or ">>>" in paragraph:
        return False
    letters = sum(c.isalpha() or c.isspace() for c in paragraph)
    return letters / len(paragraph) > 0.9


def english_documents(n_docs: int, *, mean_chars: int = 2500) -> list[str]:
    """Up to ``n_docs`` documents of standard-library prose, in a fixed order.

    Args:
        n_docs: How many documents.
        mean_chars: Paragraphs are joined until a document reaches this length.

    Returns:
        The documents (fewer when the library has less prose).
    """
    roots = [Path(sysconfig.get_paths()[k]) for k in ("stdlib", "purelib")]
    files = sorted(
        p
        for root in dict.fromkeys(roots)
        for p in root.rglob("*.py")
        if not {"test", "tests"} & set(p.parts) and p.stat().st_size < MAX_FILE_BYTES
    )
    docs: list[str] = []
    current: list[str] = []
    size = 0
    for path in files:
        for doc in _docstrings(path):
            for paragraph in doc.split("\n\n"):
                text = " ".join(paragraph.split())
                if not _prose(text):
                    continue
                current.append(text)
                size += len(text)
                if size >= mean_chars:
                    docs.append("\n\n".join(current))
                    current, size = [], 0
                    if len(docs) >= n_docs:
                        return docs
    return docs


def digest(docs: list[str]) -> str:
    """SHA-256 of the corpus (to tell whether two runs saw the same text)."""
    h = hashlib.sha256()
    for d in docs:
        h.update(d.encode())
        h.update(b"\0")
    return h.hexdigest()
