"""The reader's options (:class:`ReadOptions`) and the counting of skip reasons."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from dedup.errors import ConfigError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "ReadOptions",
    "reason_kind",
    "skip_reason_table",
    "skip_reasons",
]

DEFAULT_MAX_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """What to read and how: one value handed to the walker and every reader.

    Attributes:
        text_column: JSONL field / Parquet or CSV column holding the text.
        id_column: JSONL field / Parquet or CSV column holding an external id.
        max_bytes: Cap on one text file, one JSONL line, one Parquet or CSV text, and on
            the decompressed size of a compressed file.
        include: Globs; when given, a file found in a folder is read only if one matches.
        exclude: Globs of files and folders found in a folder that are not read.
        skip: Folders never read (a scan's own output folder).
    """

    text_column: str = "text"
    id_column: str | None = None
    max_bytes: int = DEFAULT_MAX_BYTES
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()

    def validate(self) -> ReadOptions:
        """Return self when every option is usable.

        Raises:
            ConfigError: ``max_bytes`` is not positive, or a glob is empty.
        """
        if self.max_bytes < 1:
            raise ConfigError(f"--max-bytes must be at least 1, not {self.max_bytes}")
        if not self.text_column:
            raise ConfigError("--text-column must not be empty")
        for glob in (*self.include, *self.exclude):
            if not glob.strip().strip("/").removeprefix("./"):
                raise ConfigError(f"empty glob {glob!r} in --include/--exclude")
        return self

    def to_dict(self) -> dict[str, object]:
        """The options as recorded in a run's manifest (``skip`` left out)."""
        return {
            "text_column": self.text_column,
            "id_column": self.id_column,
            "max_bytes": self.max_bytes,
            "include": list(self.include),
            "exclude": list(self.exclude),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, skip: Sequence[str] = ()) -> ReadOptions:
        """The options recorded by :meth:`to_dict` (with ``skip`` given again)."""
        return cls(
            text_column=str(d.get("text_column", "text")),
            id_column=d.get("id_column"),
            max_bytes=int(d.get("max_bytes", DEFAULT_MAX_BYTES)),
            include=tuple(d.get("include", ())),
            exclude=tuple(d.get("exclude", ())),
            skip=tuple(skip),
        )

    def signature(self) -> list[object]:
        """The options that decide which documents are read, for the input signature."""
        return [
            self.text_column,
            self.id_column,
            self.max_bytes,
            list(self.include),
            list(self.exclude),
        ]


def reason_kind(reason: pl.Expr) -> pl.Expr:
    """The kind of a skip reason: its text up to the first ``:`` or `` (``."""
    return reason.str.extract(r"^([^:(]*)", 1).str.strip_chars()


def skip_reason_table(documents: pl.DataFrame) -> pl.DataFrame:
    """Skipped documents counted by reason kind: columns ``reason`` and ``n``."""
    return (
        documents.filter(pl.col("status") == "skipped")
        .group_by(reason_kind(pl.col("reason")).alias("reason"))
        .agg(pl.len().cast(pl.Int64).alias("n"))
    )


def skip_reasons(table: pl.DataFrame) -> dict[str, int]:
    """:func:`skip_reason_table`'s counts as a dict, most frequent first."""
    rows = sorted(table.iter_rows(), key=lambda r: (-int(r[1]), str(r[0])))
    return {str(reason): int(n) for reason, n in rows}
