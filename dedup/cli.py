"""Command line: parse options, call the library, print. No logic lives here."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from dedup.config import (
    AlignConfig,
    LSHConfig,
    MinHashConfig,
    OverlapConfig,
    RunConfig,
    SemanticConfig,
    ShingleConfig,
)
from dedup.errors import DedupError
from dedup.report.console import BarProgress, PipeConsole, quiet_broken_pipe, summary_table
from dedup.report.diff_input import diff_scorer, read_one
from dedup.version import __version__

app = typer.Typer(
    help="Find duplicate and derivative texts; show what each derivative kept, changed, "
    "added and dropped.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
out = Console()


def _fail(exc: DedupError) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    return typer.Exit(exc.exit_code)


def _version(value: bool) -> None:
    if value:
        out.print(f"dedup {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """dedup: duplicates and derivatives, found at scale and explained sentence by sentence."""


_INCLUDE_HELP = "Read only files in folders matching this glob (repeatable): '*.csv'."
_EXCLUDE_HELP = "Skip files and folders matching this glob (repeatable)."
_MAX_BYTES_HELP = "Cap in bytes on a file, JSONL line or CSV/Parquet text (decompressed size)."
_TEXT_HELP = "Text field of JSONL/CSV/Parquet input."


@app.command()
def scan(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            help="Folders and files: text, HTML, JSONL, CSV/TSV, Parquet; gzip, bzip2, xz "
            "or zstd compressed too."
        ),
    ],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Run folder for the tables.")],
    threshold: Annotated[
        float, typer.Option(help="Jaccard threshold of LSH and verification.")
    ] = 0.5,
    num_perm: Annotated[int, typer.Option(help="MinHash permutations.")] = 128,
    seed: Annotated[int, typer.Option(help="MinHash seed (datasketch-compatible).")] = 1,
    shingle: Annotated[str, typer.Option(help="Shingles: word:N or char:N.")] = "word:5",
    bands: Annotated[
        int | None, typer.Option(help="LSH bands (with --rows; default: from threshold).")
    ] = None,
    rows: Annotated[int | None, typer.Option(help="LSH rows per band (with --bands).")] = None,
    containment: Annotated[
        float, typer.Option(help="Containment that makes a pair partial/derivative.")
    ] = 0.5,
    overlap: Annotated[
        bool,
        typer.Option(
            "--overlap/--no-overlap", help="Rare-shingle overlap channel (partial reuse)."
        ),
    ] = True,
    semantic: Annotated[
        bool | None,
        typer.Option(
            "--semantic/--no-semantic",
            help="Paraphrase channel (default: on when the extra is installed).",
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="sentence-transformers model name or path.")
    ] = None,
    align: Annotated[
        bool, typer.Option("--align/--no-align", help="Sentence alignment of every pair.")
    ] = True,
    text_column: Annotated[str, typer.Option(help=_TEXT_HELP)] = "text",
    id_column: Annotated[
        str | None, typer.Option(help="Id field of JSONL/CSV/Parquet input.")
    ] = None,
    include: Annotated[list[str] | None, typer.Option(help=_INCLUDE_HELP)] = None,
    exclude: Annotated[list[str] | None, typer.Option(help=_EXCLUDE_HELP)] = None,
    max_bytes: Annotated[int, typer.Option(help=_MAX_BYTES_HELP)] = 256 * 1024 * 1024,
    workers: Annotated[
        int, typer.Option(help="Threads for the numeric kernels (0: all cores).")
    ] = 0,
    batch_size: Annotated[int, typer.Option(help="Documents per streaming batch.")] = 2000,
    overwrite: Annotated[
        bool, typer.Option(help="Replace a run with another config in --out.")
    ] = False,
    resume: Annotated[
        bool,
        typer.Option(
            help="Reuse what an earlier run of the same config on the same inputs finished "
            "in --out (stage checkpoints, or the complete run)."
        ),
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bars or summary.")
    ] = False,
    engine: Annotated[
        str, typer.Option(help="Where the scan runs: local (this machine) or ray (Ray cluster).")
    ] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(help="Ray cluster address for --engine ray (default: start a local one)."),
    ] = None,
) -> None:
    """Scan INPUTS for duplicates and derivatives; write Parquet tables to --out."""
    from dedup.pipeline import scan as run_scan

    try:
        cfg = RunConfig(
            shingle=ShingleConfig.parse(shingle),
            minhash=MinHashConfig(num_perm=num_perm, seed=seed),
            lsh=LSHConfig(threshold=threshold, bands=bands, rows=rows),
            overlap=OverlapConfig(enabled=overlap, containment=containment),
            semantic=SemanticConfig(enabled=semantic, model=model),
            align=AlignConfig(enabled=align),
            workers=workers,
            batch_size=batch_size,
        ).validate()
        with BarProgress(err, enabled=not quiet and err.is_terminal) as bar:
            result = run_scan(
                inputs,
                out_dir,
                config=cfg,
                text_column=text_column,
                id_column=id_column,
                max_bytes=max_bytes,
                include=include or (),
                exclude=exclude or (),
                overwrite=overwrite,
                resume=resume,
                progress=bar,
                engine=engine,
                ray_address=ray_address,
            )
    except DedupError as exc:
        raise _fail(exc) from None
    if not quiet:
        out.print(summary_table(result.manifest, out_dir))
    for warning in result.manifest.get("warnings", []):
        err.print(f"[bold yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)


@app.command()
def diff(
    file_a: Annotated[Path, typer.Argument(help="The first text (the likely source).")],
    file_b: Annotated[Path, typer.Argument(help="The second text (the likely derivative).")],
    html: Annotated[
        Path | None, typer.Option("--html", help="Write a side-by-side HTML page.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the alignment as JSON.")] = False,
    color: Annotated[
        bool | None,
        typer.Option("--color/--no-color", help="Colour (default: when stdout is a terminal)."),
    ] = None,
    semantic: Annotated[
        bool | None,
        typer.Option(
            "--semantic/--no-semantic",
            help="Align with sentence embeddings (default: when installed).",
        ),
    ] = None,
) -> None:
    """Show two files side by side, sentence by sentence: same, edited, added, dropped, moved."""
    import json

    from dedup.align.sentences import align_texts
    from dedup.report.render import diff_json, render_diff, render_diff_html

    try:
        text_a, text_b = read_one(file_a), read_one(file_b)
        alignment = align_texts(text_a, text_b, scorer=diff_scorer(semantic))
        if html is not None:
            from dedup.io.atomic import write_text_atomic

            write_text_atomic(
                render_diff_html(
                    text_a, text_b, alignment, label_a=str(file_a), label_b=str(file_b)
                ),
                html,
            )
            err.print(f"wrote {html}")
        if as_json:
            with quiet_broken_pipe():
                sys.stdout.write(json.dumps(diff_json(alignment), ensure_ascii=False, indent=1))
                sys.stdout.write("\n")
                sys.stdout.flush()
        elif html is None:
            use_color = out.is_terminal if color is None else color
            console = PipeConsole(
                color_system="auto" if use_color else None,
                no_color=not use_color,
                highlight=False,
                force_terminal=use_color or None,
            )
            with quiet_broken_pipe():
                render_diff(
                    text_a,
                    text_b,
                    alignment,
                    console=console,
                    color=use_color,
                    label_a=str(file_a),
                    label_b=str(file_b),
                )
                console.file.flush()
    except DedupError as exc:
        raise _fail(exc) from None


@app.command()
def report(
    run: Annotated[Path, typer.Argument(help="A run folder written by dedup scan.")],
    output: Annotated[
        Path | None, typer.Option("--out", "-o", help="HTML file (default: RUN/report.html).")
    ] = None,
    max_pairs: Annotated[
        int, typer.Option(help="Pairs shown side by side (highest score first).")
    ] = 2000,
) -> None:
    """Write a static, self-contained HTML report of a scan: clusters, pairs, side-by-side views."""
    from dedup.errors import InputError
    from dedup.report import write_report

    try:
        if max_pairs < 0:
            from dedup.errors import ConfigError

            raise ConfigError(f"--max-pairs must be >= 0, got {max_pairs}")
        if not (run / "manifest.json").exists():
            raise InputError(f"{run} is not a complete dedup run (no manifest.json)")
        path = write_report(run, output, max_pairs=max_pairs)
    except DedupError as exc:
        raise _fail(exc) from None
    out.print(f"report: {path}")


@app.command(name="filter")
def filter_cmd(
    run: Annotated[Path, typer.Argument(help="A run folder written by dedup scan.")],
    output: Annotated[Path, typer.Option("--out", "-o", help="OUT.parquet, OUT.jsonl or OUT/.")],
    relations: Annotated[
        list[str] | None,
        typer.Option(help="Relations that group documents (default: exact,near_duplicate)."),
    ] = None,
    keep: Annotated[
        str, typer.Option(help="Survivor of a group: first (input order) or longest.")
    ] = "first",
    dropped: Annotated[
        Path | None,
        typer.Option(help="Table of dropped documents (default: OUT-NAME.dropped.parquet)."),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or summary.")] = False,
) -> None:
    """Write the corpus of RUN with one document per duplicate group, and the list of
    dropped documents with the kept one each duplicates. Texts are read again from the
    run's inputs, which must be unchanged since the scan."""
    from dedup.filter import DEFAULT_RELATIONS, filter_run

    chosen = tuple(r.strip() for v in relations or [] for r in v.split(",") if r.strip())
    try:
        with BarProgress(err, enabled=not quiet and err.is_terminal) as bar:
            bar.stage("filter")
            result = filter_run(
                run,
                output,
                relations=chosen or DEFAULT_RELATIONS,
                keep=keep,  # type: ignore[arg-type]  # checked by filter_run
                dropped=dropped,
                overwrite=overwrite,
                advance=bar.advance,
            )
    except DedupError as exc:
        raise _fail(exc) from None
    if not quiet:
        out.print(result.summary(), highlight=False, soft_wrap=True)


@app.command()
def synth(
    out_dir: Annotated[Path, typer.Argument(help="Folder for the corpus and its truth table.")],
    docs: Annotated[int, typer.Option(help="Number of documents.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same bytes).")] = 0,
    fmt: Annotated[
        list[str] | None,
        typer.Option("--format", help="txt, jsonl and/or parquet (repeat the option)."),
    ] = None,
    mean_chars: Annotated[int, typer.Option(help="Mean document length in characters.")] = 2600,
    workers: Annotated[int, typer.Option(help="Processes generating chunks in parallel.")] = 1,
) -> None:
    """Write a synthetic corpus with planted copies, near-duplicates, derivatives and partial
    reuse, and truth.parquet (every planted pair with its exact Jaccard)."""
    from dedup.errors import ConfigError
    from dedup.synth.generate import synthesize

    formats = tuple(fmt or ["txt"])
    try:
        if docs < 1:
            raise ConfigError(f"--docs must be >= 1, got {docs}")
        bad = [f for f in formats if f not in ("txt", "jsonl", "parquet")]
        if bad:
            raise ConfigError(f"unknown --format {bad[0]!r}: expected txt, jsonl or parquet")
        with BarProgress(err, enabled=err.is_terminal) as bar:
            bar.stage("synth", total=docs)
            summary = synthesize(
                out_dir,
                docs=docs,
                seed=seed,
                formats=formats,
                mean_chars=mean_chars,
                workers=workers,
                progress=bar.advance,
            )
    except DedupError as exc:
        raise _fail(exc) from None
    out.print(
        f"{summary.docs} documents, {summary.pairs} planted pairs "
        f"({summary.text_bytes / 1e6:.1f} MB, {summary.mb_per_s:.1f} MB/s) -> {out_dir}"
    )


@app.command()
def bench(
    docs: Annotated[int, typer.Option(help="Synthetic documents.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Corpus seed.")] = 0,
    threshold: Annotated[float, typer.Option(help="LSH threshold for every contender.")] = 0.5,
    repeat: Annotated[int, typer.Option(help="Runs per contender; the fastest counts.")] = 3,
    contender: Annotated[
        list[str] | None, typer.Option(help="Only these contenders (repeat).")
    ] = None,
    work: Annotated[Path, typer.Option(help="Work folder for the corpus and outputs.")] = Path(
        "bench-work"
    ),
    results: Annotated[
        Path | None,
        typer.Option(
            help="Folder for the result tables and plot (default: WORK/results; "
            "--results results replaces the project's published figures)."
        ),
    ] = None,
) -> None:
    """Throughput and accuracy of dedup scan against datasketch and rensa, in one run, on
    one synthetic corpus (needs the bench extra)."""
    import argparse

    from dedup import bench as bench_mod
    from dedup.errors import ConfigError

    try:
        names = contender or list(bench_mod.CONTENDERS)
        bad = [n for n in names if n not in bench_mod.CONTENDERS]
        if bad:
            raise ConfigError(
                f"unknown contender {bad[0]!r}: one of {', '.join(bench_mod.CONTENDERS)}"
            )
        results = results if results is not None else work / "results"
        args = argparse.Namespace(
            docs=docs,
            seed=seed,
            threshold=threshold,
            repeat=repeat,
            contenders=names,
            work=work,
            results=results,
        )
        bench_mod.run(args)
    except DedupError as exc:
        raise _fail(exc) from None
    out.print(f"results: {results}/throughput.parquet, throughput.json, throughput.png")


def _register_index() -> None:
    from dedup.cli_index import index_app, query_cmd

    app.add_typer(index_app, name="index")
    app.command("query")(query_cmd)


_register_index()


def main() -> None:
    """Entry point of the ``dedup`` console script."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
