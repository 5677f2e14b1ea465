"""An index opened for reading: its segments' lookup arrays, mapped, and their documents.

Opening reads the manifest once and then only the segments it lists, so a reader keeps
the snapshot it opened while a writer adds segments. Each segment's band keys and
overlap entries are its ``.npy`` column files mapped read-only (:mod:`dedup.index.lookup`),
searched where they lie: nothing is copied or merged at open, whatever the number of
segments; a lookup searches every segment, which costs a few microseconds per segment
(see ``dedup index compact``). What opening reads into memory is the documents' columns a
match needs (and the semantic vectors, when the index holds them).

Overlap entries of a segment written before the index's sampling stride grew hold more
hashes than the stride keeps; they need no filtering: a probe's hashes are sampled at the
index's stride, and a search only finds entries equal to the hash searched.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from dedup.config import RunConfig
from dedup.errors import IndexStoreError
from dedup.index.lookup import Columns, read_table
from dedup.index.segment import check_segment_files, config_of, read_manifest
from dedup.index.semantic import VECTORS, StaticTable

#: The columns of ``documents.parquet`` a reader holds.
DOC_COLUMNS = [
    "doc_id",
    "path",
    "external_id",
    "status",
    "n_shingles",
    "content",
    "is_rep",
    "shingle_start",
    "text_start",
    "text_bytes",
]


@dataclass
class Sorted:
    """Sorted lookup keys in parts, one per segment, each searched where it lies (parts are
    never merged): part ``s`` holds ``keys[s]``, sorted by key then ``doc_id``, and the
    ``docs[s]`` they belong to."""

    keys: list[npt.NDArray[Any]]  # UInt64 band keys, UInt32 shingle hashes, UInt64 contents
    docs: list[npt.NDArray[np.int64]]

    def ranges(self, probe: npt.NDArray[Any]) -> tuple[npt.NDArray[np.int64], ...]:
        """Per probe key and part, the ``[lo, hi)`` range of equal keys (in the part).

        ``probe`` is cast to the parts' key type (numpy would otherwise convert the keys)."""
        lo = np.zeros((len(probe), len(self.keys)), dtype=np.int64)
        hi = np.zeros((len(probe), len(self.keys)), dtype=np.int64)
        if not self.keys or not len(probe):
            return lo, hi
        # distinct keys, in order: each search starts near the last one (cache, page cache)
        keys, inverse = np.unique(probe.astype(self.keys[0].dtype), return_inverse=True)
        for s, part in enumerate(self.keys):
            lo[:, s] = np.searchsorted(part, keys, side="left")[inverse]
            hi[:, s] = np.searchsorted(part, keys, side="right")[inverse]
        return lo, hi

    def members(
        self, lo: npt.NDArray[np.int64], hi: npt.NDArray[np.int64], most: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The first ``most[i, s]`` documents of each range of :meth:`ranges`, gathered into
        one array (part after part); the ``[lo, hi)`` range of each in that array."""
        n, parts = lo.shape
        counts = np.minimum(np.maximum(most, 0), hi - lo)
        flat = counts.T.ravel()  # part-major
        starts = np.cumsum(flat) - flat
        out = np.empty(int(flat.sum()), dtype=np.int64)
        for s in range(parts):
            c = counts[:, s]
            total = int(c.sum())
            if total:
                at = int(starts[s * n])
                take = np.repeat(lo[:, s] - (np.cumsum(c) - c), c) + np.arange(total)
                out[at : at + total] = self.docs[s][take]
        new_lo = starts.reshape(parts, n).T
        return out, new_lo, new_lo + counts


@dataclass
class Segment:
    """One segment's files, for reading shingle sets and texts by ``doc_id``."""

    folder: Path
    first_doc: int
    n_docs: int
    shingles_fd: int
    texts_fd: int


def _pread(fd: int, size: int, offset: int) -> bytes:
    out = bytearray()
    while len(out) < size:
        chunk = os.pread(fd, size - len(out), offset + len(out))
        if not chunk:
            raise IndexStoreError("index is damaged: a segment file is shorter than its table")
        out += chunk
    return bytes(out)


class IndexReader:
    """The lookup arrays of every listed segment, and access to shingles and texts.

    Attributes:
        manifest: the manifest read at open.
        config: the config the index was built with.
        n_docs: documents in the index (``doc_id`` 0..n_docs-1).
        documents: ``doc_id``, ``path``, ``external_id``, ``status`` of every document.
        content: content hash per ``doc_id`` (0 for a skipped document).
        ok: whether each ``doc_id`` was shingled.
        bands: one :class:`Sorted` per band (representatives only), parts mapped.
        overlap: :class:`Sorted` overlap entries (representatives only), parts mapped; a
            segment written at a smaller stride than the manifest's holds more hashes.
        content_sorted: :class:`Sorted` content hash → ``doc_id`` of every shingled document.
        static: the semantic channel's first-stage vectors
            (:class:`dedup.index.semantic.StaticTable`), or None when the index holds none.
        text_chars: UTF-8 bytes of the texts of the shingled documents (the cost rule's
            measure of size).
    """

    def __init__(self, index: Path) -> None:
        self.path = index
        self.manifest: dict[str, Any] = read_manifest(index)
        self.config: RunConfig = config_of(self.manifest)
        self.n_docs = int(self.manifest["n_docs"])
        self.segments: list[Segment] = []
        try:
            self._load()
        except IndexStoreError:
            self.close()
            raise
        except (OSError, EOFError, pl.exceptions.PolarsError, ValueError) as exc:
            self.close()  # EOFError: numpy reading an empty .npy file
            raise IndexStoreError(
                f"index at {index} is damaged: {exc or type(exc).__name__}"
            ) from exc

    def _load(self) -> None:
        docs, bands, overlap, vectors = [], [], [], []
        n_bands = int(self.manifest["derived"]["bands"])
        for entry in self.manifest["segments"]:
            folder = check_segment_files(self.path, entry["name"])
            frame = pl.read_parquet(folder / "documents.parquet", columns=DOC_COLUMNS)
            if frame.height != int(entry["n_docs"]):
                raise ValueError(f"segment {entry['name']} holds {frame.height} documents")
            docs.append(frame)
            bands.append(read_table(folder, "bands"))
            overlap.append(read_table(folder, "overlap"))
            if (folder / "vectors.parquet").is_file():
                vectors.append(pl.read_parquet(folder / "vectors.parquet"))
            self.segments.append(
                Segment(
                    folder,
                    int(entry["first_doc"]),
                    int(entry["n_docs"]),
                    os.open(folder / "shingles.u32", os.O_RDONLY),
                    os.open(folder / "texts.utf8", os.O_RDONLY),
                )
            )
        self._documents(docs)
        self.bands = self._bands(bands, n_bands)
        self.overlap = Sorted([t["hash"] for t in overlap], [t["doc_id"] for t in overlap])
        self.static = self._static(vectors)

    def _documents(self, docs: list[pl.DataFrame]) -> None:
        frame = pl.concat(docs) if docs else pl.DataFrame()
        if frame.height != self.n_docs or (
            frame.height and not (frame["doc_id"] == np.arange(self.n_docs)).all()
        ):
            raise ValueError("documents are not numbered 0..n-1 across segments")
        self.documents = frame.select("doc_id", "path", "external_id", "status")
        ok = (frame["status"] == "ok").to_numpy() if frame.height else np.zeros(0, bool)
        self.content = (
            frame["content"].fill_null(0).to_numpy() if frame.height else np.zeros(0, np.uint64)
        )
        self.ok = ok
        self.shingle_start = frame["shingle_start"].to_numpy() if frame.height else np.zeros(0)
        self.n_shingles = (
            frame["n_shingles"].fill_null(0).to_numpy() if frame.height else np.zeros(0, np.int64)
        )
        self.text_start = frame["text_start"].to_numpy() if frame.height else np.zeros(0)
        self.text_bytes = frame["text_bytes"].to_numpy() if frame.height else np.zeros(0)
        self.is_rep = frame["is_rep"].to_numpy() if frame.height else np.zeros(0, bool)
        self.text_chars = int(self.text_bytes[ok].sum()) if frame.height else 0
        ids = np.flatnonzero(ok)
        order = np.lexsort((ids, self.content[ids]))
        self.content_sorted = Sorted([self.content[ids][order]], [ids[order].astype(np.int64)])
        self.seg_of = np.zeros(self.n_docs, dtype=np.int32)
        for s, seg in enumerate(self.segments):
            self.seg_of[seg.first_doc : seg.first_doc + seg.n_docs] = s

    @staticmethod
    def _bands(tables: list[Columns], n_bands: int) -> list[Sorted]:
        """One :class:`Sorted` per band: each segment's rows are sorted by band first, so
        a band's part is a slice (a view) of the segment's arrays."""
        per_band = [Sorted([], []) for _ in range(n_bands)]
        for table in tables:
            band = table["band"]
            at = np.searchsorted(band, np.arange(n_bands + 1, dtype=band.dtype))
            for j in range(n_bands):
                per_band[j].keys.append(table["key"][at[j] : at[j + 1]])
                per_band[j].docs.append(table["doc_id"][at[j] : at[j + 1]])
        return per_band

    def _static(self, frames: list[pl.DataFrame]) -> StaticTable | None:
        """The stored first-stage vectors (and split shares) by ``doc_id``."""
        meta = self.manifest["semantic"]
        if not meta.get("ran"):
            return None
        if meta.get("kind") != VECTORS:
            raise IndexStoreError(
                f"index at {self.path} holds semantic vectors of kind {meta.get('kind')!r}, "
                f"this dedup reads {VECTORS!r}: build it again"
            )
        dim = int(self.manifest["semantic"]["dim"])
        out = np.zeros((self.n_docs, dim), dtype=np.float32)
        share = np.ones(self.n_docs, dtype=np.float64)
        for frame in frames:
            if frame.height:
                at = frame["doc_id"].to_numpy()
                out[at] = frame["vector"].to_numpy().reshape(-1, dim)
                share[at] = frame["split_share"].to_numpy()
        return StaticTable.of(out, share, self.ok, self.config.semantic)

    def shingles(
        self, doc_ids: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
        """The shingle sets of ``doc_ids`` (shingled documents), CSR in that order."""
        assert self.n_shingles is not None
        sizes = self.n_shingles[doc_ids].astype(np.int64)
        offsets = np.zeros(len(doc_ids) + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        out = np.empty(int(offsets[-1]), dtype=np.uint32)
        for i, d in enumerate(doc_ids.tolist()):
            n = int(sizes[i])
            if n:
                fd = self.segments[int(self.seg_of[d])].shingles_fd
                raw = _pread(fd, 4 * n, 4 * int(self.shingle_start[d]))
                out[offsets[i] : offsets[i + 1]] = np.frombuffer(raw, dtype=np.uint32)
        return out, offsets

    def text(self, doc_id: int) -> str:
        """The text of a shingled document."""
        fd = self.segments[int(self.seg_of[doc_id])].texts_fd
        size = int(self.text_bytes[doc_id])
        return _pread(fd, size, int(self.text_start[doc_id])).decode("utf-8")

    def close(self) -> None:
        """Close the segment files (idempotent)."""
        for seg in self.segments:
            for fd in (seg.shingles_fd, seg.texts_fd):
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.segments = []
