"""A bound on the text one pair view embeds in the report.

The view of a pair keeps what tells the story: every edited, moved, merged or split row,
and a few rows of context at each end of a long run of identical sentences or of sentences
found on one side only. The middle of such a run is folded into one line that says what it
held. A cell's text is cut after a set number of characters, and once a view reaches its
character budget the rest of it is folded as well. So a pair with a 200 MB document, or a
copy of one, costs a bounded number of bytes, whatever the length of the documents.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

import polars as pl

from dedup.report.rows import FOLD_OP, Cell, DisplayRow, Fold

__all__ = ["Fold", "ViewBound", "bounded", "clip", "prefold"]


@dataclass(frozen=True, slots=True)
class ViewBound:
    """How much of one pair the report shows.

    Attributes:
        context: rows kept at each end of a long run of same or one-sided rows.
        max_chars: characters of text in one pair view; the rest is folded.
        max_cell: characters of one cell; longer sentences are cut.
        prefold_rows: a pair with more alignment rows than this has its long runs folded
            in the table (:func:`prefold`) before any row is laid out.
    """

    context: int = 3
    max_chars: int = 40_000
    max_cell: int = 2_000
    prefold_rows: int = 5_000


Shown = DisplayRow | Fold


def _kind(row: DisplayRow) -> str | None:
    """The run a row can be folded into, or None for a row that is always shown."""
    if row.fold is not None:
        return None
    if row.tag == "same":
        return "same"
    if row.tag in ("added", "dropped"):
        return "one-sided"
    return None


def _sentences(rows: Iterable[Shown]) -> tuple[int, int, int]:
    n = a = b = 0
    for row in rows:
        if isinstance(row, Fold):
            n, a, b = n + row.rows, a + row.a, b + row.b
            continue
        if row.fold is not None:
            n, a, b = n + row.fold.rows, a + row.fold.a, b + row.fold.b
            continue
        n += 1
        a += row.left.hi - row.left.lo if row.left is not None else 0
        b += row.right.hi - row.right.lo if row.right is not None else 0
    return n, a, b


def _fold_runs(rows: list[DisplayRow], context: int) -> list[Shown]:
    out: list[Shown] = []
    i = 0
    while i < len(rows):
        kind = _kind(rows[i])
        j = i + 1
        while kind is not None and j < len(rows) and _kind(rows[j]) == kind:
            j += 1
        run = rows[i:j]
        if kind is not None and len(run) > 2 * context + 1:
            middle = run[context : len(run) - context]
            n, a, b = _sentences(middle)
            out.extend([*run[:context], Fold(n, a, b, kind), *run[len(run) - context :]])
        else:
            out.extend(run)
        i = j
    return out


def clip(cell: Cell | None, limit: int) -> Cell | None:
    """``cell`` with its text cut after ``limit`` characters (and a note of how many more)."""
    if cell is None or len(cell.text) <= limit:
        return cell
    more = len(cell.text) - limit
    changed = tuple((lo, min(hi, limit)) for lo, hi in cell.changed if lo < limit)
    marks = tuple(replace(m, hi=min(m.hi, limit)) for m in cell.marks if m.lo < limit)
    text = f"{cell.text[:limit]} … [{more:,} more characters]"
    return replace(cell, text=text, changed=changed, marks=marks)


def bounded(rows: list[DisplayRow], bound: ViewBound) -> list[Shown]:
    """The rows of one pair view within ``bound``: long runs folded, cells cut, and the
    rows past the character budget folded into one.

    Args:
        rows: the pair's display rows (:func:`dedup.report.rows.display_rows`).
        bound: the limits.

    Returns:
        Display rows and folds, top to bottom.
    """
    out: list[Shown] = []
    chars = 0
    folded = _fold_runs(rows, bound.context)
    for k, row in enumerate(folded):
        if isinstance(row, Fold):
            out.append(row)
            continue
        if row.fold is not None:
            out.append(row.fold)
            continue
        left, right = clip(row.left, bound.max_cell), clip(row.right, bound.max_cell)
        chars += sum(len(c.text) for c in (left, right) if c is not None)
        out.append(DisplayRow(left, right))
        if chars >= bound.max_chars and k + 1 < len(folded):
            n, a, b = _sentences(folded[k + 1 :])
            out.append(Fold(n, a, b, "size"))
            break
    return out


def prefold(rows: pl.DataFrame, bound: ViewBound) -> pl.DataFrame:
    """Alignment rows (in op order) with the middle of each long run folded in the table.

    For a pair with more than ``bound.prefold_rows`` rows, every run of more than
    ``2 * context + 1`` consecutive ``same`` rows, or ``added``/``dropped`` rows, keeps
    ``context`` rows at each end; the middle becomes one :data:`FOLD_OP` row that counts
    what it held. A pair with a 200 MB document thus never has millions of rows laid out.
    Other pairs are returned as they are.
    """
    k = bound.context
    sizes = rows.group_by("doc_a", "doc_b").len()
    big = sizes.filter(pl.col("len") > bound.prefold_rows).select("doc_a", "doc_b")
    if big.is_empty():
        return rows
    pair = ["doc_a", "doc_b"]
    small = rows.join(big, on=pair, how="anti", maintain_order="left")
    kind = (
        pl.when(pl.col("op") == "same")
        .then(pl.lit("same"))
        .when(pl.col("op").is_in(["added", "dropped"]))
        .then(pl.lit("one-sided"))
    )
    marked = (
        rows.join(big, on=pair, how="semi", maintain_order="left")
        .with_row_index("i")
        .with_columns(kind.alias("kind"))
        .with_columns(
            (pl.col("kind").is_null() | (pl.col("kind") != pl.col("kind").shift(1)))
            .fill_null(True)
            .cum_sum()
            .alias("run")
        )
        .with_columns(
            pl.int_range(pl.len()).over("run").alias("pos"), pl.len().over("run").alias("n")
        )
    )
    middle = (
        pl.col("kind").is_not_null()
        & (pl.col("n") > 2 * k + 1)
        & (pl.col("pos") >= k)
        & (pl.col("pos") < pl.col("n") - k)
    )
    kept = marked.filter(~middle)
    folds = (
        marked.filter(middle)
        .group_by("run")
        .agg(
            pl.col("i").min(),
            pl.col("doc_a").first(),
            pl.col("doc_b").first(),
            pl.col("kind").first().alias("words"),
            pl.len().cast(pl.Int32).alias("a_index"),
            (pl.col("a_hi") - pl.col("a_lo")).sum().cast(pl.Int32).alias("a_hi"),
            (pl.col("b_hi") - pl.col("b_lo")).sum().cast(pl.Int32).alias("b_hi"),
        )
        .with_columns(pl.lit(FOLD_OP).alias("op"), a_lo=pl.lit(0), b_lo=pl.lit(0))
    )
    columns = rows.columns
    folded = pl.concat(
        [
            kept.select("i", *columns),
            folds.select("i", *[c for c in columns if c in folds.columns]),
        ],
        how="diagonal_relaxed",
    ).sort("i")
    return pl.concat([small, folded.select(columns)], how="vertical_relaxed")
