"""Spill storage for shingle sets, so memory does not grow with the corpus's total text."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt


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
        self._fh.write(np.ascontiguousarray(hashes, dtype=np.uint32).tobytes())
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
        hashes = np.memmap(self.path, dtype=np.uint32, mode="r", shape=(self._total,))
        return hashes, offsets


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

    def get(self, doc_id: int) -> str:
        """The text of ``doc_id`` (KeyError if it was not stored)."""
        start, size = self._where[doc_id]
        if self._map is None:
            return ""
        return bytes(self._map[start : start + size]).decode("utf-8")
