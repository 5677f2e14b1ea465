"""What ``dedup diff`` compares: one document read from each file, and the sentence scorer."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from dedup.errors import InputError, ModelError
from dedup.io.walk import iter_documents

__all__ = ["diff_scorer", "read_one"]


def read_one(path: Path) -> str:
    """The text of the one document in ``path``.

    Raises:
        InputError: ``path`` is a folder, holds no document or several, or was skipped
            (binary, unreadable ...), with the reason.
    """
    if path.is_dir():
        raise InputError(f"cannot diff {path}: it is a folder; give two files")
    docs = list(itertools.islice(iter_documents([path]), 2))
    if len(docs) != 1 or docs[0].text is None:
        reason = (
            docs[0].reason
            if len(docs) == 1
            else f"it holds {'several documents' if docs else 'no document'}, not one"
        )
        raise InputError(f"cannot diff {path}: {reason}")
    return docs[0].text


def diff_scorer(semantic: bool | None) -> Any:
    """The sentence-embedding scorer when asked for (``True``) or installed (``None``);
    None for the default lexical scorer.

    Raises:
        ModelError: ``semantic`` is True and the semantic extra is missing.
    """
    from dedup.semantic import embed

    if semantic is False:
        return None
    ok, reason = embed.is_available()
    if not ok:
        if semantic:
            raise ModelError(f"--semantic needs the semantic extra: {reason}")
        return None
    from dedup.align.scorers import EmbeddingScorer
    from dedup.semantic.minilm import bundled

    # the bundled MiniLM run in numpy (no torch to import), loaded on the first sentence
    # pair to score
    return EmbeddingScorer(loader=bundled)
