"""Build, add to and query an index: :class:`Index` (``dedup.Index``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from dedup import jit, schema
from dedup.config import RunConfig
from dedup.errors import IndexStoreError, InputError
from dedup.index import segment as seg
from dedup.index.match import Matched, match
from dedup.index.probe import Batch, representatives
from dedup.index.reader import IndexReader
from dedup.io import walk
from dedup.io.options import ReadOptions
from dedup.io.readers import RawDoc
from dedup.lexical.sign import doc_meta, sign_batch

# A match's passages (dedup.align.passages): a_* offsets into the indexed text, b_* into the
# query's, both as decoded, end exclusive.
PASSAGE_FIELDS = {
    "a_start": pl.Int64,
    "a_end": pl.Int64,
    "b_start": pl.Int64,
    "b_end": pl.Int64,
    "kind": pl.String,
    "score": pl.Float64,
    "n_words": pl.Int64,
}
PASSAGES = pl.List(pl.Struct(PASSAGE_FIELDS))
SMALL_BATCH = 64  # query batches smaller than this run the numba kernels single-threaded
#: The ``documents`` columns a query document has (``doc_id`` and :func:`doc_meta`'s).
_META_COLUMNS = (
    "doc_id", "path", "external_id", "status", "reason", "encoding", "n_bytes", "n_chars"
)  # fmt: skip
MATCH_COLUMNS = ["query", "match", "query_id", "match_id", "relation", "score", "passages"]


@dataclass
class QueryResult:
    """What a query found.

    Attributes:
        matches: one row per (query document, indexed document) pair: ``query`` and
            ``match`` (path, or external id when there is one), ``query_id`` (position in
            the query), ``match_id`` (the indexed ``doc_id``), ``relation``, ``score``,
            ``passages`` (list of the pair's aligned passages: ``a_*`` character offsets
            into the indexed text, ``b_*`` into the query's, end exclusive; empty beyond
            ``max_pairs`` or without alignment), and the ``pairs`` table's
            statistics (``jaccard``, containments, ``semantic``, ``channel``, alignment
            summary, both documents' ``external_id``); ``source`` says which of the two is
            the likely original (``"match"`` or ``"query"``, null when it cannot be told).
        skipped: query documents that could not be used: ``query_id``, ``query``, ``reason``.
        alignments: the matches' sentence alignment rows (``doc_b`` is ``n_docs`` +
            ``query_id``).
    """

    matches: pl.DataFrame
    skipped: pl.DataFrame
    alignments: pl.DataFrame = field(default_factory=lambda: schema.empty("alignments"))


def _raw(text: str, i: int, ident: str | None) -> RawDoc:
    name = ident if ident is not None else f"query:{i}"
    data = text.encode("utf-8", "surrogatepass")
    return RawDoc(name, ident, text, "ok", None, "utf-8", len(data))


class Index:
    """An on-disk index opened for queries; hold it open to answer many.

    ``Index.open(path).query(texts)`` answers, for each text, which indexed documents it is
    derived from, verified exactly as ``dedup scan`` verifies. The index stays as it was
    opened: a concurrent ``add`` becomes visible on the next :meth:`open`.
    """

    def __init__(self, reader: IndexReader) -> None:
        self.reader = reader
        self.config = reader.config
        self._index_names = _names(reader.documents)["name"]

    @classmethod
    def open(cls, path: str | Path, *, config: RunConfig | None = None) -> Index:
        """Open the index at ``path``.

        Args:
            path: the index folder.
            config: when given, must be the config the index was built with.

        Raises:
            IndexStoreError: no index there, or it is damaged.
            IndexConfigError: ``config`` differs from the index's.
        """
        path = Path(path)
        for attempt in range(3):  # a compaction may remove a segment between reads
            try:
                reader = IndexReader(path)
                break
            except IndexStoreError:
                if attempt == 2 or not (path / seg.MANIFEST).is_file():
                    raise
                time.sleep(0.05)
        seg.check_config(reader.manifest, config, path)
        return cls(reader)

    @property
    def n_docs(self) -> int:
        """Documents in the index (skipped ones included)."""
        return self.reader.n_docs

    def close(self) -> None:
        """Release the index's files."""
        self.reader.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def query(self, texts: Sequence[str], *, ids: Sequence[str] | None = None) -> QueryResult:
        """Matches in the index of each text.

        Args:
            texts: the query documents.
            ids: optional names for them (``query`` in the result); default ``query:i``.
        """
        if ids is not None and len(ids) != len(texts):
            raise InputError("give one id per text")
        docs = [_raw(t, i, None if ids is None else ids[i]) for i, t in enumerate(texts)]
        return self.query_docs(docs)

    def query_files(
        self,
        inputs: Sequence[str | Path],
        *,
        text_column: str = "text",
        id_column: str | None = None,
    ) -> QueryResult:
        """Matches of every document read from ``inputs`` (as ``dedup scan`` reads them)."""
        read = ReadOptions(text_column=text_column, id_column=id_column)
        docs = list(walk.iter_documents(inputs, options=read))
        return self.query_docs(docs)

    def query_docs(self, docs: Sequence[RawDoc]) -> QueryResult:
        """Matches of documents already read.

        A small batch runs the numeric kernels on the calling thread only: starting the
        kernels' thread pool costs more than one document's work.
        """
        threads = jit.get_threads()
        jit.set_threads(1 if len(docs) < SMALL_BATCH else threads)
        try:
            return self._query_docs(docs)
        finally:
            jit.set_threads(threads)

    def _query_docs(self, docs: Sequence[RawDoc]) -> QueryResult:
        cfg, n = self.config, self.reader.n_docs
        meta = [{"doc_id": n + i, **doc_meta(d)} for i, d in enumerate(docs)]
        signed = sign_batch(list(docs), meta, cfg)
        ids = signed.kept.astype(np.int64) + n
        batch = Batch(
            ids, signed.hashes, signed.offsets, signed.keys, signed.content,
            representatives(self.reader, signed.content),
        )  # fmt: skip
        frame = pl.DataFrame(meta, infer_schema_length=None)
        if not meta:  # no query document: the columns of the documents table, no row
            frame = schema.empty("documents").select(list(_META_COLUMNS))
        names = _names(frame)
        found = match(
            self.reader,
            batch,
            batch_text=lambda d: docs[d - n].text or "",
            paths=names.select("doc_id", pl.col("name").alias("path")).with_columns(
                frame["external_id"].cast(pl.String)
            ),
            config=cfg,
        )
        skipped = frame.filter(pl.col("status") == "skipped").select(
            (pl.col("doc_id") - n).cast(pl.Int64).alias("query_id"),
            pl.col("path").cast(pl.String).alias("query"),
            pl.col("reason").cast(pl.String),  # typed even when no document was skipped
        )
        return QueryResult(self._matches(found, names), skipped, found.alignments)

    def _matches(self, found: Matched, names: pl.DataFrame) -> pl.DataFrame:
        n = self.reader.n_docs
        pairs = found.pairs.filter(pl.col("doc_a") < n)
        out = pairs.with_columns(self._index_names.gather(pairs["doc_a"]).alias("match")).join(
            names.select(pl.col("doc_id").alias("doc_b"), pl.col("name").alias("query")),
            on="doc_b",
            how="left",
        )
        out = out.join(_nested(found.passages), on=["doc_a", "doc_b"], how="left")
        out = out.with_columns(
            (pl.col("doc_b") - n).alias("query_id"),
            pl.col("doc_a").alias("match_id"),
            pl.col("passages").fill_null(pl.lit([], dtype=PASSAGES)),
            # which side is the likely original: doc ids mean nothing to a caller here
            pl.when(pl.col("source") == pl.col("doc_a"))
            .then(pl.lit("match"))
            .when(pl.col("source") == pl.col("doc_b"))
            .then(pl.lit("query"))
            .otherwise(None)
            .alias("source"),
        )
        rest = [c for c in out.columns if c not in MATCH_COLUMNS]
        return out.select(MATCH_COLUMNS + rest).sort("query_id", "match_id")


def _nested(passages: pl.DataFrame) -> pl.DataFrame:
    """``doc_a``, ``doc_b`` and the pair's passages as one list (in ``a_start`` order)."""
    return (
        passages.sort("doc_a", "doc_b", "a_start", "b_start")
        .group_by("doc_a", "doc_b", maintain_order=True)
        .agg(pl.struct(list(PASSAGE_FIELDS)).alias("passages"))
        .with_columns(pl.col("passages").cast(PASSAGES))
    )


def _names(documents: pl.DataFrame) -> pl.DataFrame:
    """``doc_id`` and the name a match is reported by: the external id, else the path."""
    return documents.select(
        "doc_id", pl.coalesce(pl.col("external_id"), pl.col("path")).alias("name")
    )
