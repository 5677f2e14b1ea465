"""Command line of the index: ``dedup index build|add`` and ``dedup query`` (thin)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from dedup.cli.common import app, err, fail, out
from dedup.config import RunConfig, ShingleConfig
from dedup.errors import DedupError
from dedup.report.console import visible

index_app = typer.Typer(
    help="An on-disk index of a corpus: build it, add to it (then ask it with `dedup query`).",
    no_args_is_help=True,
)
Inputs = Annotated[
    list[Path],
    typer.Argument(
        metavar="INPUTS...",
        help="Folders and files: text, HTML, JSONL, CSV/TSV, Parquet; gzip, bzip2, xz or zstd "
        "compressed too.",
    ),
]
IndexDir = Annotated[Path, typer.Option("--index", "-i", help="The index folder.")]
TextColumn = Annotated[str, typer.Option(help="Text field of JSONL/CSV/Parquet input.")]
IdColumn = Annotated[str | None, typer.Option(help="Id field of JSONL/CSV/Parquet input.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or summary.")]
Threshold = Annotated[float | None, typer.Option(help="Jaccard threshold (default 0.5).")]
NumPerm = Annotated[
    int | None, typer.Option(help="MinHash permutations (default 128, at most 4096).")
]
Shingle = Annotated[str | None, typer.Option(help="Shingles: word:N or char:N (default word:5).")]
Containment = Annotated[float | None, typer.Option(help="Containment rule (default 0.5).")]
Overlap = Annotated[
    bool | None, typer.Option("--overlap/--no-overlap", help="Overlap channel (default on).")
]
Semantic = Annotated[
    bool | None,
    typer.Option(
        "--semantic/--no-semantic",
        help="Paraphrase channel (build: as dedup scan decides; add, query: as the index).",
    ),
]
Align = Annotated[
    bool | None, typer.Option("--align/--no-align", help="Sentence alignment (default on).")
]


def _config(
    base: Path | None,
    threshold: float | None,
    num_perm: int | None,
    shingle: str | None,
    containment: float | None,
    overlap: bool | None,
    semantic: bool | None,
    align: bool | None,
) -> RunConfig | None:
    """The config the options ask for: the index's (``base``; defaults for a build) with
    the options given replaced; None when no option was given (use the index's as is)."""
    given = (threshold, num_perm, shingle, containment, overlap, semantic, align)
    if all(v is None for v in given):
        return None
    cfg = RunConfig()
    if base is not None:
        from dedup.index.segment import config_of, read_manifest

        cfg = config_of(read_manifest(base))
    rep = dataclasses.replace
    if shingle is not None:
        cfg = rep(cfg, shingle=ShingleConfig.parse(shingle))
    if num_perm is not None:
        cfg = rep(cfg, minhash=rep(cfg.minhash, num_perm=num_perm))
    if threshold is not None:
        cfg = rep(cfg, lsh=rep(cfg.lsh, threshold=threshold))
    if containment is not None:
        cfg = rep(cfg, overlap=rep(cfg.overlap, containment=containment))
    if overlap is not None:
        cfg = rep(cfg, overlap=rep(cfg.overlap, enabled=overlap))
    if semantic is not None:
        cfg = rep(cfg, semantic=rep(cfg.semantic, enabled=semantic))
    if align is not None:
        cfg = rep(cfg, align=rep(cfg.align, enabled=align))
    return cfg.validate()


def _progress(quiet: bool) -> Any:
    from dedup.report.console import BarProgress

    return BarProgress(err, enabled=not quiet and err.is_terminal)


@index_app.command("build")
def build_cmd(
    inputs: Inputs,
    index: IndexDir,
    threshold: Threshold = None,
    num_perm: NumPerm = None,
    shingle: Shingle = None,
    containment: Containment = None,
    overlap: Overlap = None,
    semantic: Semantic = None,
    align: Align = None,
    text_column: TextColumn = "text",
    id_column: IdColumn = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an index in --index.")] = False,
    engine: Annotated[
        str, typer.Option(help="Where the build runs: local (this machine) or ray (Ray cluster).")
    ] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(help="Ray cluster address for --engine ray (default: start a local one)."),
    ] = None,
    quiet: Quiet = False,
) -> None:
    """Index INPUTS (texts, shingles, band keys, overlap entries, vectors) into --index."""
    from dedup.engines import build_index

    try:
        cfg = _config(None, threshold, num_perm, shingle, containment, overlap, semantic, align)
        with _progress(quiet) as bar:
            result = build_index(
                inputs,
                index,
                engine=engine,
                config=cfg,
                text_column=text_column,
                id_column=id_column,
                progress=bar,
                overwrite=overwrite,
                ray_address=ray_address,
            )
    except DedupError as exc:
        raise fail(exc) from None
    skipped = _say_skipped(result.documents, text_column, quiet=quiet)
    if not quiet:
        from dedup.report.html import plural

        n_ok = result.documents.height - skipped
        out.print(
            f"indexed {plural(n_ok, 'document')} ({skipped} skipped) into {index}", soft_wrap=True
        )


@index_app.command("add")
def add_cmd(
    inputs: Inputs,
    index: IndexDir,
    threshold: Threshold = None,
    num_perm: NumPerm = None,
    shingle: Shingle = None,
    containment: Containment = None,
    overlap: Overlap = None,
    semantic: Semantic = None,
    align: Align = None,
    text_column: TextColumn = "text",
    id_column: IdColumn = None,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per pair.")] = False,
    quiet: Quiet = False,
) -> None:
    """Append INPUTS to --index; print the pairs they are in (with the index, each other)."""
    from dedup.index import add

    try:
        cfg = _config(index, threshold, num_perm, shingle, containment, overlap, semantic, align)
        with _progress(quiet or json_out) as bar:
            result = add(
                inputs,
                index,
                config=cfg,
                text_column=text_column,
                id_column=id_column,
                progress=bar,
            )
    except DedupError as exc:
        raise fail(exc) from None
    pairs = result.pairs.select("doc_a", "doc_b", "path_a", "path_b", "relation", "score")
    skipped = _say_skipped(result.documents, text_column, quiet=quiet)
    again = pairs.filter((pl.col("relation") == "exact") & (pl.col("path_a") == pl.col("path_b")))
    from dedup.report.html import plural

    if again.height:  # an add does not check what the index holds by path
        added = again.select(pl.max_horizontal("doc_a", "doc_b")).to_series().n_unique()
        err.print(
            f"[bold yellow]warning:[/] {plural(added, 'document')} added again: "
            "the index already held the same text under the same path",
            highlight=False,
            soft_wrap=True,
        )
    if json_out:
        for row in pairs.iter_rows(named=True):
            print(json.dumps(row, ensure_ascii=False))
    elif not quiet:
        n_ok = result.documents.height - skipped
        out.print(
            f"added {plural(n_ok, 'document')} ({skipped} skipped) to {index}: "
            f"{plural(pairs.height, 'pair')}"
        )
        _table(pairs.rename({"path_a": "a", "path_b": "b"}).select("a", "b", "relation", "score"))


@index_app.command("compact")
def compact_cmd(index: IndexDir, quiet: Quiet = False) -> None:
    """Merge the segments of --index into one (queries then search one segment)."""
    from dedup.index import compact

    try:
        name = compact(index)
    except DedupError as exc:
        raise fail(exc) from None
    if not quiet:
        out.print(f"{index}: one segment, {name}")


#: ``skipped:`` lines printed by a build or an add; the rest are counted.
MAX_SKIPPED_LINES = 20


def _say_skipped(documents: pl.DataFrame, text_column: str, *, quiet: bool) -> int:
    """The skipped documents of a build or an add on stderr (``skipped: PATH: reason``, the
    first :data:`MAX_SKIPPED_LINES`), and the scan's warnings when nothing was read or every
    document was skipped (those even when ``quiet``); returns how many were skipped."""
    from dedup.io.options import ReadOptions, skip_reason_table, skip_reasons
    from dedup.run import input_warnings

    skipped = documents.filter(pl.col("status") == "skipped")
    if not quiet:
        for path, reason in skipped.select("path", "reason").head(MAX_SKIPPED_LINES).iter_rows():
            err.print(
                f"skipped: {escape(str(path))}: {escape(str(reason))}",
                highlight=False,
                soft_wrap=True,
            )
        if skipped.height > MAX_SKIPPED_LINES:
            err.print(f"skipped: {skipped.height - MAX_SKIPPED_LINES} more", highlight=False)
    counts = {
        "documents": documents.height,
        "skipped": skipped.height,
        "skipped_reasons": skip_reasons(skip_reason_table(documents)),
    }
    for warning in input_warnings(counts, ReadOptions(text_column=text_column)):
        err.print(f"[bold yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)
    return skipped.height


def _table(frame: pl.DataFrame) -> None:
    if frame.height == 0:
        return
    table = Table(show_header=True)
    for col in frame.columns:
        table.add_column(col)
    for row in frame.iter_rows():  # names as text: "[red]" in a path is no style
        table.add_row(*[Text(f"{v:.3f}" if isinstance(v, float) else visible(str(v))) for v in row])
    out.print(table)


def query_cmd(
    inputs: Inputs,
    index: IndexDir,
    threshold: Threshold = None,
    num_perm: NumPerm = None,
    shingle: Shingle = None,
    containment: Containment = None,
    overlap: Overlap = None,
    semantic: Semantic = None,
    align: Align = None,
    text_column: TextColumn = "text",
    id_column: IdColumn = None,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per match.")] = False,
) -> None:
    """For each document of INPUTS, its matches in --index (relation, score, passages).

    Options that set the config must repeat the index's (or be left out); a skipped query
    document gets a `skipped:` line on stderr with the reason.
    """
    from dedup.index import Index

    try:
        cfg = _config(index, threshold, num_perm, shingle, containment, overlap, semantic, align)
        with Index.open(index, config=cfg) as ix:
            result = ix.query_files(inputs, text_column=text_column, id_column=id_column)
    except DedupError as exc:
        raise fail(exc) from None
    for q, reason in result.skipped.select("query", "reason").iter_rows():
        err.print(
            f"skipped: {escape(str(q))}: {escape(str(reason))}", highlight=False, soft_wrap=True
        )
    matches = result.matches
    if json_out:
        keep = [c for c in matches.columns if c not in ("doc_a", "doc_b", "path_a", "path_b")]
        for row in matches.select(keep).iter_rows(named=True):
            print(json.dumps(row, ensure_ascii=False))
        return
    if matches.height == 0:
        out.print("no matches")
        return
    _table(matches.select("query", "match", "relation", "score"))


app.add_typer(index_app, name="index")
app.command("query")(query_cmd)
