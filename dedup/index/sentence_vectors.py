"""The transformer's sentence vectors of indexed documents, kept in the index for later queries.

A query verifies its semantic candidates with the transformer's vectors of their sentences
(:func:`dedup.semantic.embed.verify_candidates`), and each candidate is an indexed document
whose vectors are the same at every query. Without a store, every ``dedup query`` process
encoded its candidates again (``benchmarks/bench_index_semantic.py``: one news article
against 40 indexed ones, a median of 9.4 s without the store, 3.4 s with it, most of it
loading torch). So the first query (or ``index add``) that encodes an indexed document keeps
its vectors in ``INDEX/sentence-vectors/`` (a
:class:`dedup.semantic.vector_store.SentenceVectorStore`), and later queries, in any process,
read them: a query then encodes its own sentences only (and joined sentences of merges and
splits it has not scored before).

Segments do not refer to these files: ``index add`` and ``index compact`` leave them, a
document's file serves it in any segment, and deleting the folder costs only transformer time.
A read-only index is read and never written.
"""

from __future__ import annotations

from pathlib import Path

from dedup.config import SemanticConfig
from dedup.semantic.vector_store import SentenceVectorStore

__all__ = ["FOLDER", "index_store"]

#: The store's folder in an index.
FOLDER = "sentence-vectors"


def index_store(index: Path, config: SemanticConfig) -> SentenceVectorStore:
    """The store of ``index`` for ``config``'s model as it runs on this machine."""
    return SentenceVectorStore.here(index / FOLDER, config)
