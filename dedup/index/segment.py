"""The on-disk format of an index: immutable segments and a manifest swapped atomically.

```
INDEX/
  index.json                 manifest: format, config + fingerprint, segments (written last)
  lock                       held (flock) by the one process that adds or compacts
  segments/<name>/
    documents.parquet        the scan's documents columns + content (UInt64), is_rep,
                             shingle_start, text_start, text_bytes (offsets into the files
                             below)
    bands.{band,key,doc_id}.npy
                             LSH band keys of the representatives (first document of each
                             content): band (uint16), key (uint64), doc_id (int64), one
                             ``.npy`` per column, rows sorted (:mod:`dedup.index.lookup`)
    overlap.{hash,doc_id}.npy
                             the overlap channel's sampled shingles of the representatives:
                             hash (uint32), doc_id, rows sorted
    vectors.parquet          doc_id, vector (Array[Float32]), split_share: the semantic
                             channel's first-stage (static) document vectors, when it runs
    pairs.parquet            the pairs an ``index add`` reported (absent after a build)
    shingles.u32             distinct shingle hashes of every shingled document (the
                             scan's spill format), read back by verification
    texts.utf8               the documents' texts, UTF-8, concatenated
```

Format 2 held the band and overlap tables as ``bands.parquet`` and ``overlap.parquet``; this
dedup still reads such segments (a reader holds them in memory), and writes format 3.

A segment is written in full (and fsynced) before the manifest that lists it replaces the
old one by an atomic rename, so a reader sees the old index or the new one, never a mix,
and a writer killed at any point leaves the old index as it was; the folder it left behind
is listed nowhere and removed by the next writer.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from dedup.config import RunConfig
from dedup.errors import IndexConfigError, IndexStoreError, OutputError
from dedup.index import lookup
from dedup.io import atomic as io
from dedup.io.select import INDEX_FORMAT, INDEX_MANIFEST
from dedup.version import __version__

MANIFEST = INDEX_MANIFEST  # the walker recognises an index by it (dedup.io.select)
FORMAT = INDEX_FORMAT

FORMAT_VERSION = 3  # 2: vectors.parquet holds static vectors; 3: lookup tables as .npy
READS_VERSIONS = (2, 3)
SEGMENTS = "segments"

BANDS_SCHEMA = {"band": pl.UInt16, "key": pl.UInt64, "doc_id": pl.Int64}
OVERLAP_SCHEMA = {"hash": pl.UInt32, "doc_id": pl.Int64}
EXTRA_DOC_COLUMNS = {
    "content": pl.UInt64,
    "is_rep": pl.Boolean,
    "shingle_start": pl.Int64,
    "text_start": pl.Int64,
    "text_bytes": pl.Int64,
}


@dataclass
class SegmentData:
    """What one segment holds, in memory, before it is written.

    Attributes:
        documents: one row per document (``doc_id`` global) with the extra columns of
            :data:`EXTRA_DOC_COLUMNS`.
        bands: rows of :data:`BANDS_SCHEMA`.
        overlap: rows of :data:`OVERLAP_SCHEMA`.
        vectors: ``doc_id``, ``vector``, ``split_share`` rows, or None when the semantic
            channel is off.
        pairs: the pairs an add reported, or None.
    """

    documents: pl.DataFrame
    bands: pl.DataFrame
    overlap: pl.DataFrame
    vectors: pl.DataFrame | None = None
    pairs: pl.DataFrame | None = None


def manifest_path(index: Path) -> Path:
    return index / MANIFEST


def read_manifest(index: Path) -> dict[str, Any]:
    """The manifest of ``index``.

    Raises:
        IndexStoreError: there is no index there, or its manifest is unreadable.
    """
    path = manifest_path(index)
    if not index.is_dir() or not path.is_file():
        raise IndexStoreError(f"no index at {index} ({MANIFEST} not found)")
    try:
        manifest = io.read_json(path)
    except OutputError as exc:
        raise IndexStoreError(f"index at {index} is damaged: {MANIFEST} is unreadable") from exc
    ok = (
        isinstance(manifest, dict)
        and manifest.get("format") == FORMAT
        and isinstance(manifest.get("segments"), list)
        and isinstance(manifest.get("config"), dict)
    )
    if not ok:
        raise IndexStoreError(f"index at {index} is damaged: {MANIFEST} is not a dedup index")
    version = manifest.get("version")
    if version not in READS_VERSIONS:
        reads = ", ".join(map(str, READS_VERSIONS))
        if not isinstance(version, int) or isinstance(version, bool):
            why = f"is damaged: its format version {version!r} is not a number"
        elif version < min(READS_VERSIONS):
            why = (
                f"has format version {version}, older than this dedup reads ({reads}): "
                "build it again with dedup index build"
            )
        else:
            why = f"has format version {version}, newer than this dedup reads ({reads})"
        raise IndexStoreError(f"index at {index} {why}")
    out: dict[str, Any] = manifest
    return out


def check_config(manifest: dict[str, Any], config: RunConfig | None, index: Path) -> None:
    """Refuse a config whose fingerprint differs from the index's.

    Raises:
        IndexConfigError: ``config`` is not the index's config.
    """
    if config is not None and config.fingerprint() != manifest["fingerprint"]:
        raise IndexConfigError(
            f"index at {index} was built with config {manifest['fingerprint']}, "
            f"not {config.fingerprint()}; leave out the options that change it, or give the "
            "values it was built with (an index built without --semantic or --no-semantic "
            "takes neither)"
        )


def new_manifest(config: RunConfig, bands: int, rows: int) -> dict[str, Any]:
    """The manifest of an empty index built with ``config``."""
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "tool_version": __version__,
        "fingerprint": config.fingerprint(),
        "config": config.to_dict(),
        "derived": {"bands": bands, "rows": rows},
        "overlap_stride": 1,
        "overlap_entries": 0,
        "semantic": {"ran": False, "reason": "not decided yet", "dim": 0},
        "n_docs": 0,
        "generation": 0,
        "segments": [],
    }


@contextlib.contextmanager
def writer_lock(index: Path) -> Iterator[None]:
    """Hold the index's writer lock; one writer at a time.

    Raises:
        IndexStoreError: another process holds it.
    """
    index.mkdir(parents=True, exist_ok=True)
    fd = os.open(index / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IndexStoreError(f"index at {index} is being written by another process") from exc
        yield
    finally:
        os.close(fd)


def remove_unlisted(index: Path, manifest: dict[str, Any]) -> None:
    """Remove segment folders no manifest lists (left by a writer that was killed).

    Called with the writer lock held; readers never open an unlisted folder.
    """
    listed = {s["name"] for s in manifest["segments"]}
    root = index / SEGMENTS
    if not root.is_dir():
        return
    for child in root.iterdir():
        if child.name not in listed:
            shutil.rmtree(child, ignore_errors=True)


def new_segment_dir(index: Path) -> Path:
    """A fresh, empty segment folder (not yet listed anywhere)."""
    folder = index / SEGMENTS / f"seg-{uuid.uuid4().hex[:16]}"
    folder.mkdir(parents=True)
    return folder


def write_segment(folder: Path, data: SegmentData) -> None:
    """Write the tables of a segment into ``folder`` and flush everything to disk.

    The spill files (``shingles.u32``, ``texts.utf8``) are already there.
    """
    io.write_parquet_atomic(data.documents, folder / "documents.parquet")
    lookup.write_table(folder, "bands", data.bands)
    lookup.write_table(folder, "overlap", data.overlap)
    if data.vectors is not None:
        io.write_parquet_atomic(data.vectors, folder / "vectors.parquet")
    if data.pairs is not None:
        io.write_parquet_atomic(data.pairs, folder / "pairs.parquet")
    seal_segment(folder)


def seal_segment(folder: Path) -> None:
    """Flush a segment's spill files (made empty when absent) and its folder to disk; its
    tables, written atomically, are already flushed."""
    for name in ("shingles.u32", "texts.utf8"):
        path = folder / name
        if not path.exists():
            path.touch()
        io.fsync_path(path)
    io.fsync_path(folder)


def commit(index: Path, manifest: dict[str, Any]) -> None:
    """Replace the manifest atomically: the new segments become visible at once."""
    manifest = {**manifest, "generation": int(manifest.get("generation", 0)) + 1}
    io.write_json_atomic(manifest, manifest_path(index))


def sorted_bands(keys: npt.NDArray[np.uint64], doc_ids: npt.NDArray[np.int64]) -> pl.DataFrame:
    """Band-key rows ``(band, key, doc_id)`` of documents ``doc_ids``, sorted."""
    n, bands = keys.shape
    frame = pl.DataFrame(
        {
            "band": np.repeat(np.arange(bands, dtype=np.uint16)[None, :], n, axis=0).ravel("F"),
            "key": np.ascontiguousarray(keys).ravel("F"),
            "doc_id": np.tile(doc_ids.astype(np.int64), bands),
        },
        schema=BANDS_SCHEMA,
    )
    return frame.sort("band", "key", "doc_id")


def csr_entries(
    hashes: npt.NDArray[np.uint32],
    offsets: npt.NDArray[np.int64],
    lo_row: int,
    hi_row: int,
    stride: int,
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
    """The hashes of CSR rows ``lo_row..hi_row-1`` divisible by ``stride``, and their row
    (one contiguous read of ``hashes``, a spill file's map or an array)."""
    a, b = int(offsets[lo_row]), int(offsets[hi_row])
    data = np.asarray(hashes[a:b]) if b > a else np.zeros(0, np.uint32)
    sizes = np.diff(offsets[lo_row : hi_row + 1])
    row = np.repeat(np.arange(lo_row, hi_row, dtype=np.int64), sizes)
    if stride > 1:
        keep = (data % np.uint32(stride)) == 0
        data, row = data[keep], row[keep]
    return data, row


def sampled_entries(
    hashes: npt.NDArray[np.uint32],
    offsets: npt.NDArray[np.int64],
    rows: npt.NDArray[np.int64],
    doc_ids: npt.NDArray[np.int64],
    stride: int,
    chunk_rows: int = 50_000,
) -> pl.DataFrame:
    """Overlap entries ``(hash, doc_id)`` of the CSR rows ``rows``, hashes divisible by
    ``stride``, sorted; read a block of rows at a time from a spill file."""
    n_rows = len(offsets) - 1
    pos = np.full(n_rows, -1, dtype=np.int64)
    pos[rows] = np.arange(len(rows))
    parts: list[pl.DataFrame] = [pl.DataFrame(schema=OVERLAP_SCHEMA)]
    for lo in range(0, n_rows, chunk_rows):
        h, row = csr_entries(hashes, offsets, lo, min(lo + chunk_rows, n_rows), stride)
        at = pos[row]
        sel = at >= 0
        parts.append(
            pl.DataFrame({"hash": h[sel], "doc_id": doc_ids[at[sel]]}, schema=OVERLAP_SCHEMA)
        )
    return pl.concat(parts).sort("hash", "doc_id")


def check_segment_files(index: Path, name: str) -> Path:
    """The folder of a listed segment.

    Raises:
        IndexStoreError: it or one of its required files is missing.
    """
    folder = index / SEGMENTS / name
    if not (folder / "documents.parquet").is_file():
        raise IndexStoreError(
            f"index at {index} is damaged: segment {name} has no documents.parquet"
        )
    for table in lookup.TABLES:
        if not lookup.has_table(folder, table):
            raise IndexStoreError(f"index at {index} is damaged: segment {name} has no {table}")
    return folder


def config_of(manifest: dict[str, Any]) -> RunConfig:
    """The :class:`RunConfig` an index was built with.

    Raises:
        IndexStoreError: the stored config cannot be read back.
    """
    from dedup.config import (
        AlignConfig,
        LSHConfig,
        MinHashConfig,
        OverlapConfig,
        SemanticConfig,
        ShingleConfig,
        VerifyConfig,
    )

    raw = manifest["config"]
    try:
        cfg = RunConfig(
            shingle=ShingleConfig(**raw["shingle"]),
            minhash=MinHashConfig(**raw["minhash"]),
            lsh=LSHConfig(**raw["lsh"]),
            verify=VerifyConfig(**raw["verify"]),
            overlap=OverlapConfig(**raw["overlap"]),
            semantic=SemanticConfig(**raw["semantic"]),
            align=AlignConfig(**raw["align"]),
            workers=int(raw.get("workers", 0)),
            batch_size=int(raw.get("batch_size", 2000)),
        )
    except (KeyError, TypeError) as exc:
        raise IndexStoreError(f"the index's stored config cannot be read: {exc}") from exc
    if cfg.fingerprint() != manifest.get("fingerprint"):
        raise IndexStoreError("the index's stored config does not match its fingerprint")
    return cfg
