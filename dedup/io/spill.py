"""Spill storage for shingle sets, so memory does not grow with the corpus's total text."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt


def gather(
    hashes: npt.NDArray[np.uint32], offsets: npt.NDArray[np.int64], rows: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
    """The shingle sets of ``rows`` (sorted, distinct) copied into memory, CSR again.

    From a memory-mapped spill file they are read with ``pread``, one read per run of
    consecutive rows, rather than through the map: the page cache holds the file in large
    folios (up to 2 MB), and a process touching a few random sets of a map gets them all
    mapped, so its RSS soon counts the whole file (2.5 GB for a million synthetic documents).
    """
    sizes = offsets[rows + 1] - offsets[rows]
    local = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(sizes, out=local[1:])
    filename = hashes.filename if isinstance(hashes, np.memmap) else None
    if filename is None:
        take = np.repeat(offsets[rows] - local[:-1], sizes) + np.arange(local[-1])
        return np.asarray(hashes)[take], local
    out = np.empty(int(local[-1]), dtype=np.uint32)
    view = out.data.cast("B")
    starts = np.flatnonzero(np.concatenate(([True], rows[1:] != rows[:-1] + 1)))
    ends = np.append(starts[1:], len(rows))  # rows[start:end] are consecutive
    fd = os.open(filename, os.O_RDONLY)
    try:
        for i, j in zip(starts.tolist(), ends.tolist(), strict=True):
            lo, hi = int(local[i]), int(local[j])
            if hi > lo:
                _pread_into(fd, view[4 * lo : 4 * hi], 4 * int(offsets[rows[i]]))
    finally:
        os.close(fd)
    return out, local


def _pread_into(fd: int, buf: memoryview, offset: int) -> None:
    while len(buf):
        n = os.preadv(fd, [buf], offset)
        if n <= 0:
            raise OSError(f"short read from the shingle spill file at byte {offset}")
        buf, offset = buf[n:], offset + n


class ShingleStore:
    """Appends per-document sorted shingle hashes to a file; reads them back as a memmap.

    The offsets (8 bytes per document) stay in memory; the hashes (4 bytes per shingle)
    live on disk and are paged in by the OS when verification needs them.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: BinaryIO | None = path.open("wb")
        self._sizes: list[npt.NDArray[np.int64]] = []
        self._total = 0

    def append(self, hashes: npt.NDArray[np.uint32], offsets: npt.NDArray[np.int64]) -> None:
        """Add a batch in CSR layout (``offsets`` starts at 0)."""
        if self._fh is None:
            raise RuntimeError("store is closed")
        self._fh.write(np.ascontiguousarray(hashes, dtype=np.uint32).data)  # no copy
        self._sizes.append(np.diff(offsets))
        self._total += len(hashes)

    def close(self) -> None:
        """Close the file if still open (idempotent)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def finish(self) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
        """Close for writing; return ``(hashes, offsets)`` over every document appended."""
        self.close()
        sizes = np.concatenate(self._sizes) if self._sizes else np.zeros(0, dtype=np.int64)
        offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        if self._total == 0:
            return np.zeros(0, dtype=np.uint32), offsets
        return self.open(self.path, offsets), offsets

    @staticmethod
    def open(path: Path, offsets: npt.NDArray[np.int64]) -> npt.NDArray[np.uint32]:
        """Map the hashes of a finished store back, given its ``offsets``.

        Raises:
            ValueError: the file is shorter than ``offsets`` say.
        """
        total = int(offsets[-1]) if len(offsets) else 0
        if total == 0:
            return np.zeros(0, dtype=np.uint32)
        if path.stat().st_size < 4 * total:
            raise ValueError(f"{path} holds fewer than {total} hashes")
        return np.memmap(path, dtype=np.uint32, mode="r", shape=(total,))


class TextStore:
    """Appends document texts (UTF-8) to a file; reads one back by ``doc_id``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: BinaryIO | None = path.open("wb")
        self._pos = 0
        self._where: dict[int, tuple[int, int]] = {}
        self._map: npt.NDArray[np.uint8] | None = None

    def append(self, doc_ids: npt.NDArray[np.int64], texts: list[str]) -> None:
        """Add the texts of ``doc_ids``."""
        if self._fh is None:
            raise RuntimeError("store is closed")
        for doc_id, text in zip(doc_ids.tolist(), texts, strict=True):
            data = text.encode("utf-8")
            self._fh.write(data)
            self._where[doc_id] = (self._pos, len(data))
            self._pos += len(data)

    def close(self) -> None:
        """Close the file for writing (idempotent)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def finish(self) -> None:
        """Close for writing and map the file for reading."""
        self.close()
        if self._pos:
            self._map = np.memmap(self.path, dtype=np.uint8, mode="r", shape=(self._pos,))

    def index(self) -> npt.NDArray[np.int64]:
        """Where each text lies in the file: rows of ``(doc_id, start, size)``."""
        rows = [(d, start, size) for d, (start, size) in self._where.items()]
        return np.array(rows, dtype=np.int64).reshape(len(rows), 3)

    @classmethod
    def open(cls, path: Path, index: npt.NDArray[np.int64]) -> TextStore:
        """Reopen a finished store for reading from its file and :meth:`index`.

        Raises:
            ValueError: the file is shorter than the index says.
        """
        store = cls.__new__(cls)
        store.path, store._fh = path, None
        store._where = {int(d): (int(a), int(n)) for d, a, n in index.tolist()}
        store._pos = int((index[:, 1] + index[:, 2]).max()) if len(index) else 0
        if store._pos and path.stat().st_size < store._pos:
            raise ValueError(f"{path} is shorter than its index")
        store._map = None
        store.finish()
        return store

    def nbytes(self, doc_id: int) -> int:
        """UTF-8 size of the text of ``doc_id`` (KeyError if it was not stored)."""
        return self._where[doc_id][1]

    def get(self, doc_id: int) -> str:
        """The text of ``doc_id`` (KeyError if it was not stored)."""
        start, size = self._where[doc_id]
        if self._map is None:
            return ""
        return bytes(self._map[start : start + size]).decode("utf-8")
