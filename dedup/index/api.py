"""Build, add to and query an index: :class:`Index` (``dedup.Index``)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from dedup import io, schema
from dedup.candidates import exact_groups
from dedup.config import RunConfig
from dedup.errors import IndexStoreError, InputError
from dedup.index import segment as seg
from dedup.index.match import Matched, match, sentences
from dedup.index.probe import Batch, representatives
from dedup.index.reader import IndexReader
from dedup.ingest import Corpus, Progress, Silent, Timings, doc_meta, ingest, sign_batch
from dedup.lsh import bands_rows
from dedup.overlap import sampling_stride
from dedup.readers import RawDoc

# TODO(passages): filled from the passage stage once the scan has one; empty until then.
PASSAGES = pl.List(
    pl.Struct(
        {
            "a_start": pl.Int64,
            "a_end": pl.Int64,
            "b_start": pl.Int64,
            "b_end": pl.Int64,
            "kind": pl.String,
            "score": pl.Float64,
            "n_words": pl.Int64,
        }
    )
)
MATCH_COLUMNS = ["query", "match", "query_id", "match_id", "relation", "score", "passages"]


@dataclass
class QueryResult:
    """What a query found.

    Attributes:
        matches: one row per (query document, indexed document) pair: ``query`` and
            ``match`` (path, or external id when there is one), ``query_id`` (position in
            the query), ``match_id`` (the indexed ``doc_id``), ``relation``, ``score``,
            ``passages`` (list; filled by the passage stage), and the ``pairs`` table's
            statistics (``jaccard``, containments, ``semantic``, ``channel``, alignment
            summary).
        skipped: query documents that could not be used: ``query_id``, ``query``, ``reason``.
        alignments: the matches' sentence alignment rows (``doc_b`` is ``n_docs`` +
            ``query_id``).
    """

    matches: pl.DataFrame
    skipped: pl.DataFrame
    alignments: pl.DataFrame = field(default_factory=lambda: schema.empty("alignments"))


@dataclass
class AddResult:
    """What an add (or a build) wrote: the new documents and the pairs they are in."""

    documents: pl.DataFrame
    pairs: pl.DataFrame
    segment: str
    seconds: dict[str, float]


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
        self._model: Any = None

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
        docs = list(io.iter_documents(inputs, text_column=text_column, id_column=id_column))
        return self.query_docs(docs)

    def query_docs(self, docs: Sequence[RawDoc]) -> QueryResult:
        """Matches of documents already read."""
        cfg, n = self.config, self.reader.n_docs
        meta = [{"doc_id": n + i, **doc_meta(d)} for i, d in enumerate(docs)]
        signed = sign_batch(list(docs), meta, cfg)
        ids = signed.kept.astype(np.int64) + n
        batch = Batch(
            ids, signed.hashes, signed.offsets, signed.keys, signed.content,
            representatives(self.reader, signed.content),
        )  # fmt: skip
        frame = pl.DataFrame(meta, infer_schema_length=None)
        names = _names(frame)
        found = match(
            self.reader,
            batch,
            batch_text=lambda d: docs[d - n].text or "",
            paths=names.select("doc_id", pl.col("name").alias("path")),
            config=cfg,
            model=self._model,
        )
        self._model = found.model or self._model
        skipped = frame.filter(pl.col("status") == "skipped").select(
            (pl.col("doc_id") - n).alias("query_id"),
            pl.col("path").alias("query"),
            "reason",
        )
        return QueryResult(self._matches(found, names), skipped, found.alignments)

    def _matches(self, found: Matched, names: pl.DataFrame) -> pl.DataFrame:
        n = self.reader.n_docs
        pairs = found.pairs.filter(pl.col("doc_a") < n)
        index_names = _names(self.reader.documents)
        out = pairs.join(
            index_names.select(pl.col("doc_id").alias("doc_a"), pl.col("name").alias("match")),
            on="doc_a",
            how="left",
        ).join(
            names.select(pl.col("doc_id").alias("doc_b"), pl.col("name").alias("query")),
            on="doc_b",
            how="left",
        )
        out = out.with_columns(
            (pl.col("doc_b") - n).alias("query_id"),
            pl.col("doc_a").alias("match_id"),
            pl.lit([], dtype=PASSAGES).alias("passages"),
        )
        rest = [c for c in out.columns if c not in MATCH_COLUMNS]
        return out.select(MATCH_COLUMNS + rest).sort("query_id", "match_id")


def _names(documents: pl.DataFrame) -> pl.DataFrame:
    """``doc_id`` and the name a match is reported by: the external id, else the path."""
    return documents.select(
        "doc_id", pl.coalesce(pl.col("external_id"), pl.col("path")).alias("name")
    )


def _segment_frames(
    corpus: Corpus,
    first: int,
    is_rep: npt.NDArray[np.bool_],
    stride: int,
    bands: int,
) -> seg.SegmentData:
    """A segment's tables from an ingested corpus whose ids start at ``first``."""
    docs = corpus.documents.with_columns(pl.col("doc_id") + first)
    rows = corpus.rows
    n = docs.height
    content = np.zeros(n, dtype=np.uint64)
    content[rows] = corpus.content
    rep = np.zeros(n, dtype=bool)
    rep[rows] = is_rep
    start = np.full(n, -1, dtype=np.int64)
    start[rows] = corpus.offsets[:-1]
    t_start = np.full(n, -1, dtype=np.int64)
    t_bytes = np.zeros(n, dtype=np.int64)
    if corpus.texts is not None:
        where = corpus.texts.index()
        t_start[where[:, 0]] = where[:, 1]
        t_bytes[where[:, 0]] = where[:, 2]
    docs = docs.with_columns(
        pl.Series("content", content, dtype=pl.UInt64),
        pl.Series("is_rep", rep),
        pl.Series("shingle_start", start),
        pl.Series("text_start", t_start),
        pl.Series("text_bytes", t_bytes),
    )
    ids = rows + first
    reps = np.flatnonzero(is_rep)
    keys = corpus.keys[reps] if len(reps) else np.zeros((0, bands), dtype=np.uint64)
    return seg.SegmentData(
        documents=docs,
        bands=seg.sorted_bands(keys, ids[reps]),
        overlap=seg.sampled_entries(corpus.hashes, corpus.offsets, reps, ids[reps], stride),
    )


def _vectors(
    corpus: Corpus, first: int, cfg: RunConfig, progress: Progress
) -> tuple[pl.DataFrame | None, dict[str, Any]]:
    """Document vectors of a build, when the scan would run the semantic channel."""
    from dedup import embed

    run, reason = embed.should_run(cfg.semantic, len(corpus.rows))
    if not run or corpus.texts is None or len(corpus.rows) < 2:
        progress.message(f"paraphrase detection is off: {reason}")
        return None, {"ran": False, "reason": reason, "dim": 0}
    model = embed.load_model(cfg.semantic.model)
    texts = corpus.texts
    sents = [sentences(texts.get(int(d))) for d in corpus.rows]
    vec = embed.embed_documents(model, sents, batch_size=cfg.semantic.batch_size)
    return _vector_frame(corpus.rows + first, vec), {
        "ran": True,
        "reason": reason,
        "dim": int(vec.shape[1]),
    }


def _vector_frame(ids: npt.NDArray[np.int64], vec: npt.NDArray[np.float32]) -> pl.DataFrame:
    dim = vec.shape[1]
    return pl.DataFrame(
        {"doc_id": ids.astype(np.int64), "vector": vec},
        schema={"doc_id": pl.Int64, "vector": pl.Array(pl.Float32, dim)},
    )


def _ingest(
    inputs: Sequence[str | Path],
    cfg: RunConfig,
    folder: Path,
    text_column: str,
    id_column: str | None,
    progress: Progress,
    timings: Timings,
) -> Corpus:
    return ingest(
        inputs,
        cfg,
        folder,
        text_column=text_column,
        id_column=id_column,
        keep_texts=True,
        progress=progress,
        timings=timings,
    )


def build(
    inputs: Sequence[str | Path],
    path: str | Path,
    *,
    config: RunConfig | None = None,
    text_column: str = "text",
    id_column: str | None = None,
    progress: Progress | None = None,
    overwrite: bool = False,
) -> AddResult:
    """Build an index of ``inputs`` at ``path`` (one segment).

    Raises:
        OutputError: ``path`` holds something else, or an index and not ``overwrite``.
    """
    from dedup.errors import OutputError

    cfg = (config or RunConfig()).validate()
    prog = progress or Silent()
    path = Path(path)
    _check_inputs(inputs)
    if path.exists() and not path.is_dir():
        raise OutputError(f"index path {path} exists and is not a folder")
    if (path / seg.MANIFEST).exists() and not overwrite:
        raise OutputError(f"{path} already holds an index; use `dedup index add` or --overwrite")
    ours = {seg.SEGMENTS, seg.MANIFEST, "lock"}
    if path.is_dir() and any(
        not c.name.startswith(".") and c.name not in ours for c in path.iterdir()
    ):
        raise OutputError(f"{path} is not empty and holds no index")
    with seg.writer_lock(path):
        bands, rows = bands_rows(cfg.lsh, cfg.minhash.num_perm)
        manifest = seg.new_manifest(cfg, bands, rows)
        old = seg.read_manifest(path) if (path / seg.MANIFEST).exists() else None
        seg.remove_unlisted(path, old or manifest)
        timings = Timings()
        folder = seg.new_segment_dir(path)
        corpus = _ingest(inputs, cfg, folder, text_column, id_column, prog, timings)
        with timings.stage("index"):
            _, _, first = exact_groups(corpus.content, max_group=cfg.verify.max_exact_group)
            entries = int(np.diff(corpus.offsets)[first].sum())
            stride = sampling_stride(entries, cfg.overlap)
            data = _segment_frames(corpus, 0, first, stride, bands)
        with timings.stage("semantic"):
            data.vectors, manifest["semantic"] = _vectors(corpus, 0, cfg, prog)
        with timings.stage("write"):
            seg.write_segment(folder, data)
            manifest.update(overlap_stride=stride, overlap_entries=entries)
            _append(manifest, folder.name, 0, corpus.documents.height, corpus)
            seg.commit(path, manifest)
            if old is not None:
                seg.remove_unlisted(path, manifest)
    return AddResult(data.documents, schema.empty("pairs"), folder.name, timings.seconds)


def _check_inputs(inputs: Sequence[str | Path]) -> None:
    if not inputs:
        raise InputError("no input given")
    for p in inputs:
        if not Path(p).exists():
            raise InputError(f"input path does not exist: {p}")


def _append(manifest: dict[str, Any], name: str, first: int, n: int, corpus: Corpus) -> None:
    manifest["segments"] = [
        *manifest["segments"],
        {"name": name, "first_doc": first, "n_docs": n, "n_ok": len(corpus.rows)},
    ]
    manifest["n_docs"] = first + n


def add(
    inputs: Sequence[str | Path],
    path: str | Path,
    *,
    config: RunConfig | None = None,
    text_column: str = "text",
    id_column: str | None = None,
    progress: Progress | None = None,
) -> AddResult:
    """Append the documents of ``inputs`` to the index at ``path`` as one new segment.

    The new documents are matched against the index and against each other, and their
    pairs returned (and kept in the segment's ``pairs.parquet``), as a scan over the index
    and the new documents would give them.

    Raises:
        IndexStoreError: no index there, it is damaged, or another process writes it.
        IndexConfigError: ``config`` differs from the index's.
    """
    prog = progress or Silent()
    path = Path(path)
    _check_inputs(inputs)
    with seg.writer_lock(path):
        reader = IndexReader(path)
        try:
            seg.check_config(reader.manifest, config, path)
            seg.remove_unlisted(path, reader.manifest)
            return _add(reader, inputs, path, text_column, id_column, prog)
        finally:
            reader.close()


def _add(
    reader: IndexReader,
    inputs: Sequence[str | Path],
    path: Path,
    text_column: str,
    id_column: str | None,
    prog: Progress,
) -> AddResult:
    cfg, n = reader.config, reader.n_docs
    manifest = dict(reader.manifest)
    timings = Timings()
    folder = seg.new_segment_dir(path)
    try:
        corpus = _ingest(inputs, cfg, folder, text_column, id_column, prog, timings)
        texts = corpus.texts
        assert texts is not None
        with timings.stage("match"):
            is_rep = representatives(reader, corpus.content)
            batch = Batch(
                corpus.rows + n, corpus.hashes, corpus.offsets, corpus.keys, corpus.content,
                is_rep,
            )  # fmt: skip
            names = corpus.documents.select(pl.col("doc_id") + n, "path")
            found = match(
                reader, batch, batch_text=lambda d: texts.get(d - n), paths=names, config=cfg
            )
        with timings.stage("index"):
            entries = int(manifest["overlap_entries"]) + int(np.diff(corpus.offsets)[is_rep].sum())
            stride = max(int(manifest["overlap_stride"]), sampling_stride(entries, cfg.overlap))
            data = _segment_frames(corpus, n, is_rep, stride, int(manifest["derived"]["bands"]))
            if found.vectors is not None:
                data.vectors = _vector_frame(corpus.rows + n, found.vectors)
            data.pairs = found.pairs
        with timings.stage("write"):
            seg.write_segment(folder, data)
            manifest.update(overlap_stride=stride, overlap_entries=entries)
            _append(manifest, folder.name, n, corpus.documents.height, corpus)
            seg.commit(path, manifest)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return AddResult(data.documents, found.pairs, folder.name, timings.seconds)
