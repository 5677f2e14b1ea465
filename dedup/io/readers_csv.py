"""CSV and TSV files: one document per row, the text taken from ``--text-column``.

Rows are numbered from 0 after the header (``file.csv:0`` is the first data row), as
Parquet rows are, so ``path`` matches the row index polars or pandas give the file; in a
CSV file a quoted field holding line breaks is one row. A TSV file is read without quoting
(a quote is a character of the text, so a text that opens with a quotation mark is read as
written), unless its first 64 KB read as quoted TSV, as Python's ``csv`` module and pandas
write it (a field holding a quote, a tab or a line break is quoted, its quotes doubled):
then with quoting (:func:`tsv_quoted`). polars reads the file in batches of rows
(all columns as strings, only the text and id columns kept), so memory holds one batch.
When polars refuses the file (a row with more fields than the header, bytes that are not
UTF-8, a stray quote), the rest of the file is read row by row with Python's ``csv``
module, and each bad row becomes a ``skipped`` record with its reason.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from dedup.io.decode import clean_text, shown
from dedup.io.options import ReadOptions
from dedup.io.readers import RawDoc, skipped, too_large

__all__ = ["CSV_SUFFIXES", "TSV_SUFFIXES", "iter_csv", "separator_for", "tsv_quoted"]

CSV_SUFFIXES = (".csv",)
TSV_SUFFIXES = (".tsv", ".tab")
_ROW = "\x00row"
_BATCH_ROWS = 1024


def separator_for(name: str) -> str:
    """The field separator of a file named ``name``: a tab for ``.tsv``/``.tab``, else a comma."""
    return "\t" if name.lower().endswith(TSV_SUFFIXES) else ","


#: Bytes of a TSV file read to tell whether it is quoted.
TSV_SAMPLE_BYTES = 65_536


def tsv_quoted(path: str) -> bool:
    """Whether the TSV file ``path`` uses quoting: some field opens with a quote, and its
    first :data:`TSV_SAMPLE_BYTES` parse as strictly quoted TSV with every row as wide as the
    header (a row cut by the sample's end aside). A quote inside unquoted text (``"Hi," he
    said``, ``a 5" pipe``) breaks the strict parse, so such a file is read unquoted."""
    import io

    try:
        with Path(path).open("rb") as f:
            head = f.read(TSV_SAMPLE_BYTES)
    except OSError:
        return False
    text = head.decode("utf-8", "replace").removeprefix("\ufeff")
    if '"' not in text:
        return False
    lines = text.count("\n") + 1
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t", strict=True)
    rows: list[list[str]] = []
    try:
        rows.extend(reader)
    except csv.Error:
        if len(head) < TSV_SAMPLE_BYTES or reader.line_num < lines - 1:
            return False  # not at the sample's cut: the text is not quoted TSV
    if not rows:
        return False
    width = len(rows[0])
    full = rows[:-1] if len(head) == TSV_SAMPLE_BYTES else rows  # the last may be cut
    return all(len(r) == width for r in full if r) and any(
        f.startswith('"') for line in text.splitlines() for f in line.split("\t")
    )


def _fields(names: list[str], limit: int = 8) -> str:
    more = f", ... ({len(names)} in all)" if len(names) > limit else ""
    return ", ".join(shown(n) for n in names[:limit]) + more if names else "none"


def _row_doc(where: str, value: str | None, ext_id: str | None, opts: ReadOptions) -> RawDoc:
    if value is None or value == "":
        return skipped(where, f"empty: no text in column {opts.text_column!r}", 0, ext_id)
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > opts.max_bytes:
        return skipped(where, too_large(size, opts.max_bytes), size, ext_id)
    text, encoding, reason = clean_text(value, "utf-8")
    if text is None:
        return skipped(where, reason or "undecodable", size, ext_id)
    return RawDoc(where, ext_id, text, "ok", None, encoding, size)


def iter_csv(path: str, opts: ReadOptions, *, name: str, separator: str) -> Iterator[RawDoc]:
    """One record per data row of a CSV or TSV file; never raises.

    Args:
        path: The file on disk (for a compressed input, its decompressed copy).
        opts: The text and id columns and the per-text cap.
        name: The path shown in the records.
        separator: ``","`` or ``"\\t"``.

    Yields:
        A record per row, path ``name:ROW`` (0-based, header not counted); one ``skipped``
        record for the file when it is empty, has no header or lacks the text column.
    """
    quoted = separator != "\t" or tsv_quoted(path)
    quote = '"' if quoted else None
    try:
        lf = pl.scan_csv(
            path,
            separator=separator,
            quote_char=quote,
            infer_schema=False,
            row_index_name=_ROW,
            empty_string_is_null=False,
            truncate_ragged_lines=False,
        )
        names = [n for n in lf.collect_schema().names() if n != _ROW]
    except pl.exceptions.NoDataError:
        yield skipped(name, "empty: CSV file has no header")
        return
    except (pl.exceptions.PolarsError, OSError) as err:
        yield from _csv_module_rows(
            path, opts, name=name, separator=separator, quoted=quoted, start=0, err=err
        )
        return
    if opts.text_column not in names:
        yield skipped(name, f"no column {opts.text_column!r} (columns: {_fields(names)})")
        return
    cols = [_ROW, opts.text_column]
    if opts.id_column is not None and opts.id_column in names:
        cols.append(opts.id_column)
    done = 0
    try:
        # Every column is read (as a string): with a projection, polars would let a row
        # with too many fields pass unnoticed.
        for batch in lf.collect_batches(chunk_size=_BATCH_ROWS):
            ids = batch[cols[2]].to_list() if len(cols) > 2 else [None] * batch.height
            for row, value, ext in zip(batch[_ROW], batch[cols[1]], ids, strict=True):
                yield _row_doc(f"{name}:{row}", value, shown(ext) if ext else None, opts)
                done += 1
    except (pl.exceptions.PolarsError, OSError) as err:
        yield from _csv_module_rows(
            path, opts, name=name, separator=separator, quoted=quoted, start=done, err=err
        )
        return
    if done == 0:
        yield skipped(name, "empty: CSV file has no rows")


def _csv_module_rows(
    path: str,
    opts: ReadOptions,
    *,
    name: str,
    separator: str,
    quoted: bool,
    start: int,
    err: BaseException,
) -> Iterator[RawDoc]:
    """Rows ``start`` and on, read with the ``csv`` module, bad rows reported one by one."""
    csv.field_size_limit(max(csv.field_size_limit(), min(opts.max_bytes + 1, sys.maxsize)))
    try:
        f = Path(path).open(encoding="utf-8-sig", errors="surrogateescape", newline="")  # noqa: SIM115
    except OSError as exc:
        yield skipped(name, f"unreadable: {exc.strerror or exc}")
        return
    with f:
        if quoted:
            reader = csv.reader(f, delimiter=separator, strict=True)
        else:
            reader = csv.reader(f, delimiter=separator, strict=True, quoting=csv.QUOTE_NONE)
        try:
            header = next(reader)
        except (csv.Error, StopIteration, OSError) as exc:
            detail = str(exc) or str(err).splitlines()[0]
            yield skipped(name, f"not a readable CSV file: {detail}")
            return
        yield from _rows_after_header(reader, header, opts, name=name, start=start)


def _rows_after_header(
    reader: Iterator[list[str]], header: list[str], opts: ReadOptions, *, name: str, start: int
) -> Iterator[RawDoc]:
    if opts.text_column not in header:
        yield skipped(name, f"no column {opts.text_column!r} (columns: {_fields(header)})")
        return
    text_at = header.index(opts.text_column)
    id_at = header.index(opts.id_column) if opts.id_column in header else None
    row = -1
    while True:
        row += 1
        where = f"{name}:{row}"
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if row >= start:
                yield skipped(where, f"bad CSV row: {exc}")
            continue
        except OSError as exc:
            yield skipped(where, f"unreadable: {exc.strerror or exc}")
            return
        if row < start:
            continue
        if len(fields) > len(header):
            yield skipped(where, f"bad CSV row: {len(fields)} fields, header has {len(header)}")
            continue
        # a short row: the missing fields are empty, as polars (the fast path) reads it
        fields += [""] * (len(header) - len(fields))
        ext = fields[id_at] if id_at is not None else None
        ext_id = shown(ext) if ext else None
        value = fields[text_at]
        if not _is_utf8(value):
            yield skipped(where, "row is not valid UTF-8", 0, ext_id)
            continue
        yield _row_doc(where, value, ext_id, opts)


def _is_utf8(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
