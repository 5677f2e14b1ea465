"""``dedup index build --engine ray``: an index built on a Ray cluster, in the local format.

The segment written is the one :func:`dedup.index.build` writes for the same inputs and
config (same tables, same spill files), built from the Ray scan's own stages:

- **read + shingle + minhash + band keys**: :func:`dedup.engines.ray.stages.read_docs`
  (texts kept, as the local build keeps them).
- **spill**: each batch's workers write its shingle sets and texts as part files (named by
  the batch's first ``doc_id``) and return its documents rows with offsets into them; the
  driver concatenates the parts in ``doc_id`` order into the segment's ``shingles.u32`` and
  ``texts.utf8`` and shifts the offsets.
- **representatives**: the scan's exact-duplicate shuffle
  (:func:`dedup.engines.ray.partitions.exact_partition`): the first document of each content.
- **bands / overlap**: the representatives' ``(band, key, doc_id)`` rows
  (:func:`~dedup.engines.ray.partitions.band_rows`) and sampled ``(hash, doc_id)`` rows
  (:func:`~dedup.engines.ray.partitions.shingle_rows`, at the stride of
  :func:`dedup.lexical.overlap.sampling_stride` over their shingles), sorted on the cluster
  and written by the workers as Parquet parts (:mod:`dedup.engines.ray.output`), copied in
  key order into the segment's column files (:func:`dedup.index.lookup.write_parts`).
- **vectors**: the semantic channel's first-stage vectors by the scan's ``DocVectors``
  actors, when the local build's cost rule (:func:`dedup.index.write.semantic_decision`)
  keeps them.

The manifest is written last, atomically, under the index's writer lock, as a local build
commits.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from dedup import schema
from dedup.config import RunConfig
from dedup.engines.ray import output as ro
from dedup.engines.ray import partitions as pt
from dedup.engines.ray.engine import check, ray_session
from dedup.engines.ray.shuffle import collect, map_frames, shuffle_apply
from dedup.engines.ray.stages import n_parts, read_docs
from dedup.index import lookup
from dedup.index import segment as seg
from dedup.index.write import (
    AddResult,
    check_build,
    finish_build,
    semantic_decision,
    semantic_meta,
    start_build,
)
from dedup.io import atomic
from dedup.io.options import ReadOptions
from dedup.lexical.lsh import bands_rows
from dedup.lexical.overlap import sampling_stride
from dedup.progress import Progress, Silent, Timings

if TYPE_CHECKING:
    from ray.data import Dataset

I64, U64 = pl.Int64, pl.UInt64
_META = {c: t for c, t in schema.DOCUMENTS.items() if c != "doc_id"}
#: The documents rows a spill task returns: offsets are into its own part files.
SPILLED: dict[str, Any] = {
    "doc_id": I64,
    **_META,
    "content": U64,
    "part": I64,
    "shingle_at": I64,
    "text_at": I64,
    "text_bytes": I64,
}
_BANDS = {"band": pl.UInt16, "key": U64, "doc_id": I64}
_OVERLAP = {"hash": pl.UInt32, "doc_id": I64}


def spill_batch(df: pl.DataFrame, *, folder: str) -> pl.DataFrame:
    """Write a batch's shingle sets and texts as ``<first doc_id>.u32`` / ``.utf8`` in
    ``folder`` (``doc_id`` order); its documents rows with offsets into those files."""
    if df.height == 0:
        return pl.DataFrame(schema=SPILLED)
    df = df.sort("doc_id")
    part = int(df["doc_id"][0])
    shingled = df["shingled"].to_numpy()
    sizes = df["hashes"].list.len().fill_null(0).to_numpy().astype(np.int64)
    starts = np.cumsum(sizes) - sizes
    hashes = pt.flat(df["hashes"]).astype(np.uint32)
    has_text = shingled & df["text"].is_not_null().to_numpy()
    texts = df["text"].to_list()
    data = [t.encode("utf-8") if keep else b"" for t, keep in zip(texts, has_text, strict=True)]
    lengths = np.array([len(b) for b in data], dtype=np.int64)
    text_at = np.cumsum(lengths) - lengths
    base = Path(folder) / f"{part:020d}"
    base.with_suffix(".u32").write_bytes(np.ascontiguousarray(hashes).tobytes())
    base.with_suffix(".utf8").write_bytes(b"".join(data))
    return df.select("doc_id", *_META, "content").with_columns(
        pl.lit(part, I64).alias("part"),
        pl.Series("shingle_at", np.where(shingled, starts, -1), dtype=I64),
        pl.Series("text_at", np.where(has_text, text_at, -1), dtype=I64),
        pl.Series("text_bytes", lengths, dtype=I64),
    )


def _join_spill(rows: pl.DataFrame, spill: Path, folder: Path) -> pl.DataFrame:
    """Concatenate the part files in ``doc_id`` order into the segment's spill files; the
    rows with ``shingle_start`` / ``text_start`` shifted to the concatenated files."""
    parts = sorted(set(rows["part"].to_list()))
    shift_sh: dict[int, int] = {}
    shift_tx: dict[int, int] = {}
    at_sh = at_tx = 0
    with (folder / "shingles.u32").open("wb") as sh, (folder / "texts.utf8").open("wb") as tx:
        for part in parts:
            shift_sh[part], shift_tx[part] = at_sh // 4, at_tx
            for suffix, out in ((".u32", sh), (".utf8", tx)):
                with (spill / f"{part:020d}{suffix}").open("rb") as fh:
                    shutil.copyfileobj(fh, out, 1 << 24)
            at_sh += (spill / f"{part:020d}.u32").stat().st_size
            at_tx += (spill / f"{part:020d}.utf8").stat().st_size
    shifts = pl.DataFrame(
        {"part": parts, "sh": [shift_sh[p] for p in parts], "tx": [shift_tx[p] for p in parts]},
        schema={"part": I64, "sh": I64, "tx": I64},
    )
    shifted = rows.join(shifts, on="part", how="left")

    def moved(col: str, by: str) -> pl.Expr:
        return pl.when(pl.col(col) >= 0).then(pl.col(col) + pl.col(by)).otherwise(-1)

    return shifted.with_columns(
        moved("shingle_at", "sh").alias("shingle_start"),
        moved("text_at", "tx").alias("text_start"),
    ).sort("doc_id")


def _documents(rows: pl.DataFrame, reps: np.ndarray[Any, np.dtype[np.int64]]) -> pl.DataFrame:
    """``documents.parquet``: the local build's columns, in its order and types."""
    docs = schema.conform(rows.select("doc_id", *_META), "documents")
    is_rep = np.zeros(rows.height, dtype=bool)
    is_rep[reps] = True
    extra = rows.select(
        pl.col("content").cast(U64),
        pl.Series("is_rep", is_rep),
        pl.col("shingle_start").cast(I64),
        pl.col("text_start").cast(I64),
        pl.col("text_bytes").cast(I64),
    )
    return pl.concat([docs, extra], how="horizontal")


def _representatives(docs: Dataset, cfg: RunConfig, n_docs: int) -> Dataset:
    """The first shingled document of each content (the scan's exact-duplicate shuffle)."""
    shingled = map_frames(
        docs, lambda df: df.filter(pl.col("shingled")).select(list(pt.SHINGLED)), schema=pt.SHINGLED
    )
    max_group = cfg.verify.max_exact_group
    return shuffle_apply(
        shingled,
        ["content"],
        lambda df: pt.exact_partition(df, max_group=max_group).filter(pl.col("is_rep")),
        schema=pt.REPS,
        parts=n_parts(n_docs),
    ).materialize()


def _tables(
    reps: Dataset, cfg: RunConfig, tmp: Path, folder: Path
) -> tuple[np.ndarray[Any, np.dtype[np.int64]], int, int]:
    """Write the band and overlap tables of the representatives ``reps`` (sorted on the
    cluster, Parquet parts written by the workers, then copied part by part into the
    segment's column files); their ``doc_id``, the overlap stride and their shingles."""
    sizes_schema = {"doc_id": I64, "n": I64}
    sizes = collect(
        map_frames(
            reps,
            lambda df: df.select("doc_id", pl.col("hashes").list.len().cast(I64).alias("n")),
            schema=sizes_schema,
        ),
        sizes_schema,
    )
    entries = int(sizes["n"].sum() or 0)
    stride = sampling_stride(entries, cfg.overlap)
    bands, _ = bands_rows(cfg.lsh, cfg.minhash.num_perm)
    band_rows = map_frames(
        reps,
        lambda df: pt.band_rows(df, bands=bands).rename({"doc": "doc_id"}),
        schema=_BANDS,
    )
    shingle_rows = map_frames(
        reps,
        lambda df: pt.shingle_rows(df, stride=stride).rename({"h": "hash", "doc": "doc_id"}),
        schema=_OVERLAP,
    )
    for name, ds, keys in (
        ("bands", band_rows, ["band", "key", "doc_id"]),
        ("overlap", shingle_rows, ["hash", "doc_id"]),
    ):
        lookup.write_parts(folder, name, ro.write_parts(ds, tmp / name, keys))
    return np.sort(sizes["doc_id"].to_numpy().astype(np.int64)), stride, entries


def _vectors(
    docs: Dataset, cfg: RunConfig, n_ok: int, n_chars: int, prog: Progress
) -> tuple[pl.DataFrame | None, dict[str, Any]]:
    """The first-stage vectors of the shingled documents, by the scan's ``DocVectors``
    actors, when the local build would keep them (its rule, on the same counts)."""
    from dedup.engines.ray.semantic import document_vectors, placement
    from dedup.index.semantic import static_vectors, vector_frame
    from dedup.semantic.static import DocumentVectors

    run, reason = semantic_decision(cfg, n_ok, n_chars)
    if not run:
        if cfg.semantic.enabled is not False:  # turned off on purpose: nothing to say
            prog.message(f"paraphrase detection is off: {reason}")
        return None, semantic_meta(False, reason)
    if n_ok == 0:
        dv = static_vectors([], cfg.semantic)
        return vector_frame(np.zeros(0, np.int64), dv), semantic_meta(
            True, reason, int(dv.vectors.shape[1])
        )
    ids, vecs, split = document_vectors(docs, cfg.semantic, placement())
    dv = DocumentVectors(vecs, np.zeros(len(ids), np.int64), split)
    return vector_frame(ids, dv), semantic_meta(True, reason, int(vecs.shape[1]))


def build(
    inputs: Sequence[str | Path],
    path: str | Path,
    *,
    config: RunConfig | None = None,
    text_column: str = "text",
    id_column: str | None = None,
    progress: Progress | None = None,
    overwrite: bool = False,
    ray_address: str | None = None,
) -> AddResult:
    """Build an index of ``inputs`` at ``path`` on a Ray cluster: the segment
    :func:`dedup.index.build` writes, in one.

    Args:
        ray_address: as for the Ray scan (:func:`dedup.engines.ray.engine.run`): ``None``
            uses the Ray already initialized in this process, else ``RAY_ADDRESS``, else
            starts a local one (``config.workers`` CPUs, 0: all cores). The index folder
            must be on a file system every node can write to.

    Raises:
        ConfigError: Ray is not installed.
        OutputError: ``path`` holds something else, or an index and not ``overwrite``.
    """
    cfg = (config or RunConfig()).validate()
    prog = progress or Silent()
    check(resume=False)
    path = check_build(inputs, path, overwrite=overwrite)
    read = ReadOptions(text_column=text_column, id_column=id_column, skip=(str(path),))
    timings = Timings()
    with seg.writer_lock(path):
        manifest, old = start_build(path, cfg)
        folder = seg.new_segment_dir(path)
        with (
            ray_session(ray_address, cfg.workers),
            tempfile.TemporaryDirectory(dir=path, prefix=".ray-") as tmp,
        ):
            documents, n_ok = _build(inputs, cfg, read, Path(tmp), folder, manifest, prog, timings)
        with timings.stage("write"):
            seg.seal_segment(folder)
            finish_build(path, manifest, folder.name, documents.height, n_ok, old)
    return AddResult(documents, schema.empty("pairs"), folder.name, timings.seconds)


def _build(
    inputs: Sequence[str | Path],
    cfg: RunConfig,
    read: ReadOptions,
    tmp: Path,
    folder: Path,
    manifest: dict[str, Any],
    prog: Progress,
    timings: Timings,
) -> tuple[pl.DataFrame, int]:
    """Every stage on the cluster; the segment's files in ``folder`` (not yet flushed), the
    manifest's overlap and semantic entries; the documents table and its shingled count."""
    with timings.stage("read+shingle+minhash"):
        prog.stage("read + shingle + minhash (ray)")
        docs = read_docs(inputs, cfg, read=read, keep_texts=True)
        n_docs = docs.count()
    timings.count("read+shingle+minhash", n_docs)
    with timings.stage("index"):
        prog.stage("index tables (ray)")
        spill = tmp / "spill"
        spill.mkdir()
        where = str(spill)
        rows = collect(
            map_frames(docs, lambda df: spill_batch(df, folder=where), schema=SPILLED), SPILLED
        )
        rows = _join_spill(rows, spill, folder)
        shutil.rmtree(spill)
        rep_ids, stride, entries = _tables(_representatives(docs, cfg, n_docs), cfg, tmp, folder)
        documents = _documents(rows, rep_ids)
    shingled = rows["shingle_at"] >= 0
    n_ok = int(shingled.sum())
    n_chars = int(rows.filter(shingled)["text_bytes"].sum())
    with timings.stage("semantic"):
        vectors, manifest["semantic"] = _vectors(docs, cfg, n_ok, n_chars, prog)
    with timings.stage("write"):
        atomic.write_parquet_atomic(documents, folder / "documents.parquet")
        if vectors is not None:
            atomic.write_parquet_atomic(vectors, folder / "vectors.parquet")
    manifest.update(overlap_stride=stride, overlap_entries=entries)
    return documents, n_ok
