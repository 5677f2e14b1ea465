"""Writing an index: ``build`` (one segment), ``add`` (one more), ``compact`` (merge)."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from dedup import schema
from dedup.config import RunConfig
from dedup.errors import InputError, OutputError
from dedup.index import lookup
from dedup.index import segment as seg
from dedup.index.match import match
from dedup.index.probe import Batch, representatives
from dedup.index.reader import IndexReader
from dedup.index.semantic import VECTORS, static_vectors, vector_frame
from dedup.index.sentence_vectors import FOLDER as SENTENCE_VECTORS
from dedup.io.options import ReadOptions
from dedup.lexical.candidates import exact_groups
from dedup.lexical.lsh import bands_rows
from dedup.lexical.overlap import sampling_stride
from dedup.lexical.sign import Corpus, ingest
from dedup.progress import Progress, Silent, Timings


@dataclass
class AddResult:
    """What an add (or a build) wrote: the new documents and the pairs they are in."""

    documents: pl.DataFrame
    pairs: pl.DataFrame
    segment: str
    seconds: dict[str, float]


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


def semantic_decision(cfg: RunConfig, n_rows: int, n_chars: int | None) -> tuple[bool, str]:
    """Whether a build keeps the semantic channel's first-stage vectors of ``n_rows``
    shingled documents of ``n_chars`` UTF-8 bytes (``None``: no texts kept): when the
    scan's cost rule would run the channel over the same documents."""
    from dedup.semantic import cost

    if n_chars is None:
        return False, "no texts kept"
    return cost.should_run(cfg.semantic, n_rows, n_chars=n_chars)


def semantic_meta(run: bool, reason: str, dim: int = 0) -> dict[str, Any]:
    """The manifest's ``semantic`` entry."""
    if not run:
        return {"ran": False, "reason": reason, "dim": 0}
    return {"ran": True, "reason": reason, "dim": dim, "kind": VECTORS}


def _vectors(
    corpus: Corpus, first: int, cfg: RunConfig, progress: Progress
) -> tuple[pl.DataFrame | None, dict[str, Any]]:
    """The semantic channel's first-stage vectors of a build, when the scan's cost rule
    would run the channel over the same documents."""
    texts = corpus.texts
    n_chars = sum(texts.nbytes(int(d)) for d in corpus.rows) if texts is not None else None
    run, reason = semantic_decision(cfg, len(corpus.rows), n_chars)
    if not run or texts is None:
        if cfg.semantic.enabled is not False:  # turned off on purpose: nothing to say
            progress.message(f"paraphrase detection is off: {reason}")
        return None, semantic_meta(False, reason)
    dv = static_vectors([texts.get(int(d)) for d in corpus.rows], cfg.semantic)
    return vector_frame(corpus.rows + first, dv), semantic_meta(
        True, reason, int(dv.vectors.shape[1])
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
    """Read and sign ``inputs`` into the segment ``folder``; the index it belongs to is
    never read as input (its files are being written)."""
    index = folder.parent.parent  # INDEX/segments/<segment>
    return ingest(
        inputs,
        cfg,
        folder,
        read=ReadOptions(text_column=text_column, id_column=id_column, skip=(str(index),)),
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
    """Build an index of ``inputs`` at ``path`` (one segment), on this machine.

    ``dedup.engines.build_index`` builds the same index with another engine (Ray).

    Raises:
        OutputError: ``path`` holds something else, or an index and not ``overwrite``.
    """
    cfg = (config or RunConfig()).validate()
    prog = progress or Silent()
    path = check_build(inputs, path, overwrite=overwrite)
    with seg.writer_lock(path):
        manifest, old = start_build(path, cfg)
        timings = Timings()
        folder = seg.new_segment_dir(path)
        corpus = _ingest(inputs, cfg, folder, text_column, id_column, prog, timings)
        with timings.stage("index"):
            _, _, first = exact_groups(corpus.content, max_group=cfg.verify.max_exact_group)
            entries = int(np.diff(corpus.offsets)[first].sum())
            stride = sampling_stride(entries, cfg.overlap)
            data = _segment_frames(corpus, 0, first, stride, int(manifest["derived"]["bands"]))
        with timings.stage("semantic"):
            data.vectors, manifest["semantic"] = _vectors(corpus, 0, cfg, prog)
        with timings.stage("write"):
            seg.write_segment(folder, data)
            manifest.update(overlap_stride=stride, overlap_entries=entries)
            finish_build(path, manifest, folder.name, data.documents.height, len(corpus.rows), old)
    return AddResult(data.documents, schema.empty("pairs"), folder.name, timings.seconds)


def check_build(inputs: Sequence[str | Path], path: str | Path, *, overwrite: bool) -> Path:
    """Refuse a build of ``inputs`` into ``path`` that could not succeed; the index folder.

    Raises:
        InputError: no input, or one that does not exist.
        OutputError: ``path`` holds something else, or an index and not ``overwrite``.
    """
    path = Path(path)
    _check_inputs(inputs)
    if path.exists() and not path.is_dir():
        raise OutputError(f"index path {path} exists and is not a folder")
    if (path / seg.MANIFEST).exists() and not overwrite:
        raise OutputError(f"{path} already holds an index; use `dedup index add` or --overwrite")
    ours = {seg.SEGMENTS, seg.MANIFEST, "lock", SENTENCE_VECTORS}
    if path.is_dir() and any(
        not c.name.startswith(".") and c.name not in ours for c in path.iterdir()
    ):
        raise OutputError(f"{path} is not empty and holds no index")
    return path


def start_build(path: Path, cfg: RunConfig) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """With the writer lock held: the new index's manifest, and the one it replaces (its
    segments stay until the new manifest is committed; unlisted folders are removed)."""
    bands, rows = bands_rows(cfg.lsh, cfg.minhash.num_perm)
    manifest = seg.new_manifest(cfg, bands, rows)
    old = seg.read_manifest(path) if (path / seg.MANIFEST).exists() else None
    seg.remove_unlisted(path, old or manifest)
    return manifest, old


def finish_build(
    path: Path,
    manifest: dict[str, Any],
    name: str,
    n_docs: int,
    n_ok: int,
    old: dict[str, Any] | None,
) -> None:
    """List the written segment ``name`` as the whole index; commit; remove the old one."""
    _append(manifest, name, 0, n_docs, n_ok)
    seg.commit(path, manifest)
    if old is not None:
        seg.remove_unlisted(path, manifest)


def _check_inputs(inputs: Sequence[str | Path]) -> None:
    if not inputs:
        raise InputError("no input given")
    for p in inputs:
        if not Path(p).exists():
            raise InputError(f"input path does not exist: {p}")


def _append(manifest: dict[str, Any], name: str, first: int, n: int, n_ok: int) -> None:
    manifest["segments"] = [
        *manifest["segments"],
        {"name": name, "first_doc": first, "n_docs": n, "n_ok": n_ok},
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
    manifest = {**reader.manifest, "version": seg.FORMAT_VERSION}  # the new segment's format
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
            names = corpus.documents.select(pl.col("doc_id") + n, "path", "external_id")
            found = match(
                reader,
                batch,
                batch_text=lambda d: texts.get(d - n),
                paths=names,
                config=cfg,
                keep_new=True,  # indexed once this add commits
            )
        with timings.stage("index"):
            entries = int(manifest["overlap_entries"]) + int(np.diff(corpus.offsets)[is_rep].sum())
            stride = max(int(manifest["overlap_stride"]), sampling_stride(entries, cfg.overlap))
            data = _segment_frames(corpus, n, is_rep, stride, int(manifest["derived"]["bands"]))
            if found.vectors is not None:
                data.vectors = vector_frame(corpus.rows + n, found.vectors)
            data.pairs = found.pairs
        with timings.stage("write"):
            seg.write_segment(folder, data)
            manifest.update(overlap_stride=stride, overlap_entries=entries)
            _append(manifest, folder.name, n, corpus.documents.height, len(corpus.rows))
            seg.commit(path, manifest)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return AddResult(data.documents, found.pairs, folder.name, timings.seconds)


def compact(path: str | Path) -> str:
    """Merge every segment of the index at ``path`` into one; return its name.

    Queries and ``add`` stay exact with any number of segments; each segment costs a
    lookup per band key and shingle of a query (a few microseconds), so merge them once
    there are many. Readers that opened the index before keep their snapshot (their files
    stay open); the old segment folders are removed after the new manifest is in place.

    Raises:
        IndexStoreError: no index there, it is damaged, or another process writes it.
    """
    path = Path(path)
    with seg.writer_lock(path):
        manifest = seg.read_manifest(path)
        seg.remove_unlisted(path, manifest)
        if len(manifest["segments"]) <= 1:
            return str(manifest["segments"][0]["name"]) if manifest["segments"] else ""
        folder = seg.new_segment_dir(path)
        manifest["version"] = seg.FORMAT_VERSION
        try:
            data = _merged(path, manifest, folder)
            seg.write_segment(folder, data)
            n_ok = int(data.documents["status"].eq("ok").sum())
            manifest["segments"] = [
                {"name": folder.name, "first_doc": 0, "n_docs": data.documents.height, "n_ok": n_ok}
            ]
            seg.commit(path, manifest)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        seg.remove_unlisted(path, manifest)
    return folder.name


def _merged(path: Path, manifest: dict[str, Any], folder: Path) -> seg.SegmentData:
    """The tables of every segment as one segment, its spill files concatenated."""
    docs: list[pl.DataFrame] = []
    bands: list[pl.DataFrame] = []
    overlap: list[pl.DataFrame] = []
    vectors: list[pl.DataFrame] = []
    pairs: list[pl.DataFrame] = []
    shingle_at = text_at = 0
    stride = int(manifest["overlap_stride"])
    with (folder / "shingles.u32").open("wb") as sh, (folder / "texts.utf8").open("wb") as tx:
        for entry in manifest["segments"]:
            src = seg.check_segment_files(path, entry["name"])
            frame = pl.read_parquet(src / "documents.parquet")
            docs.append(
                frame.with_columns(
                    pl.when(pl.col(c) >= 0).then(pl.col(c) + at).otherwise(pl.col(c)).alias(c)
                    for c, at in (("shingle_start", shingle_at // 4), ("text_start", text_at))
                )
            )
            for name, out in (("shingles.u32", sh), ("texts.utf8", tx)):
                with (src / name).open("rb") as fh:
                    shutil.copyfileobj(fh, out, 1 << 24)
            shingle_at += (src / "shingles.u32").stat().st_size
            text_at += (src / "texts.utf8").stat().st_size
            bands.append(lookup.table_frame(src, "bands"))
            overlap.append(lookup.table_frame(src, "overlap").filter(pl.col("hash") % stride == 0))
            for name, acc in (("vectors.parquet", vectors), ("pairs.parquet", pairs)):
                if (src / name).is_file():
                    acc.append(pl.read_parquet(src / name))
    return seg.SegmentData(
        documents=pl.concat(docs),
        bands=pl.concat(bands).sort("band", "key", "doc_id"),
        overlap=pl.concat(overlap).sort("hash", "doc_id"),
        vectors=pl.concat(vectors) if vectors else None,
        pairs=pl.concat(pairs, how="diagonal_relaxed") if pairs else None,
    )
