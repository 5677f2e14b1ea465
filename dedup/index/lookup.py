"""A segment's lookup tables (band keys, overlap entries): one ``.npy`` file per column.

``bands.band.npy``, ``bands.key.npy``, ``bands.doc_id.npy`` and ``overlap.hash.npy``,
``overlap.doc_id.npy`` hold the columns of :data:`TABLES`, rows sorted as the tables are
(band, key, doc_id; hash, doc_id). A reader maps them (``numpy.load(mmap_mode="r")``):
opening costs nothing whatever their size, a lookup pages in only what its binary searches
touch, and the pages are the operating system's cache, shared by every process that opens
the index. Indexes of format 2 hold the same tables as ``bands.parquet`` and
``overlap.parquet``; :func:`read_table` reads those into memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from dedup.io import atomic

#: Each lookup table's columns and their types (the rows' order: these columns, sorted).
TABLES: dict[str, dict[str, Any]] = {
    "bands": {"band": np.uint16, "key": np.uint64, "doc_id": np.int64},
    "overlap": {"hash": np.uint32, "doc_id": np.int64},
}

Columns = dict[str, npt.NDArray[Any]]


def column_path(folder: Path, table: str, column: str) -> Path:
    return folder / f"{table}.{column}.npy"


def _write_array(path: Path, values: npt.NDArray[Any]) -> None:
    def write(tmp: str) -> None:
        with Path(tmp).open("wb") as fh:
            np.lib.format.write_array(fh, np.ascontiguousarray(values), allow_pickle=False)

    atomic.write_stream_atomic(path, write)


def write_table(folder: Path, table: str, frame: pl.DataFrame) -> None:
    """Write ``frame`` (the table's columns, rows sorted) as its column files, atomically."""
    for column, dtype in TABLES[table].items():
        values = frame[column].to_numpy().astype(dtype, copy=False)
        _write_array(column_path(folder, table, column), values)


def write_parts(folder: Path, table: str, parts: Sequence[Path]) -> None:
    """Write the table from Parquet parts (each sorted, in key order) as its column files,
    one part in memory at a time."""
    n_rows = sum(pl.scan_parquet(p).select(pl.len()).collect().item() for p in parts)
    for column, dtype in TABLES[table].items():

        def write(tmp: str, column: str = column, dtype: Any = dtype) -> None:
            if n_rows == 0:
                with Path(tmp).open("wb") as fh:
                    np.lib.format.write_array(fh, np.zeros(0, dtype), allow_pickle=False)
                return
            out = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=(n_rows,))
            at = 0
            for part in parts:
                values = pl.read_parquet(part, columns=[column])[column].to_numpy()
                out[at : at + len(values)] = values
                at += len(values)
            out.flush()
            del out

        atomic.write_stream_atomic(column_path(folder, table, column), write)


def has_table(folder: Path, table: str) -> bool:
    """Whether ``folder`` holds the table (column files, or a format-2 Parquet file)."""
    if (folder / f"{table}.parquet").is_file():
        return True
    return all(column_path(folder, table, c).is_file() for c in TABLES[table])


def read_table(folder: Path, table: str) -> Columns:
    """The table's columns: its column files mapped read-only, or (format 2) its Parquet
    file read into memory.

    Raises:
        ValueError: a column file is not an array of its column's type.
    """
    if not column_path(folder, table, "doc_id").is_file():
        frame = pl.read_parquet(folder / f"{table}.parquet")
        return {c: frame[c].to_numpy().astype(t, copy=False) for c, t in TABLES[table].items()}
    out: Columns = {}
    for column, dtype in TABLES[table].items():
        values = np.load(column_path(folder, table, column), mmap_mode="r", allow_pickle=False)
        if values.dtype != np.dtype(dtype) or values.ndim != 1:
            raise ValueError(f"{table}.{column}.npy holds {values.dtype}{list(values.shape)}")
        out[column] = values
    if len({len(v) for v in out.values()}) > 1:
        raise ValueError(f"the column files of {table} differ in length")
    return out


def table_frame(folder: Path, table: str) -> pl.DataFrame:
    """The table as a polars frame (in memory)."""
    cols = read_table(folder, table)
    return pl.DataFrame({c: np.asarray(v) for c, v in cols.items()})
