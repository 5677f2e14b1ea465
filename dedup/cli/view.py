"""``dedup diff``, ``dedup report`` and ``dedup filter``: reading and acting on a run."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from dedup.cli.common import app, err, fail, out
from dedup.errors import DedupError
from dedup.report.console import BarProgress, PipeConsole, quiet_broken_pipe
from dedup.report.diff_input import diff_scorer, read_one

#: Fewest terminal columns ``dedup diff`` lays its two texts out in (narrower terminals wrap).
MIN_DIFF_WIDTH = 40


@app.command()
def diff(
    file_a: Annotated[
        Path, typer.Argument(metavar="A", help="The first text (the likely source).")
    ],
    file_b: Annotated[
        Path, typer.Argument(metavar="B", help="The second text (the likely derivative).")
    ],
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
    """Show two files side by side, sentence by sentence.

    Each sentence is same, edited, added, dropped or moved; the passages the two files share
    follow, with the share of each file they cover."""
    import json

    from dedup.align.pair import align_pair
    from dedup.io.atomic import check_page_target, write_page
    from dedup.report.render import diff_json, render_diff, render_diff_html

    try:
        if html is not None:  # refused before any work: the inputs, a folder, a non-page
            check_page_target(html, option="--html", protect=(file_a, file_b))
        text_a, text_b = read_one(file_a), read_one(file_b)
        pair = align_pair(text_a, text_b, scorer=diff_scorer(semantic))
        alignment, passages = pair.sentences, pair.passages
        if html is not None:
            page = render_diff_html(
                text_a,
                text_b,
                alignment,
                label_a=str(file_a),
                label_b=str(file_b),
                passages=passages,
            )
            write_page(page, html)
            err.print(f"wrote {html}")
        if as_json:
            data = diff_json(alignment, passages)
            with quiet_broken_pipe():
                sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=1))
                sys.stdout.write("\n")
                sys.stdout.flush()
        elif html is None:
            if color is None:  # NO_COLOR (no-color.org) asks for the readable plain layout
                color = out.is_terminal and not os.environ.get("NO_COLOR")
            use_color = color
            console = PipeConsole(
                color_system="auto" if use_color else None,
                no_color=not use_color,
                highlight=False,
                force_terminal=use_color or None,
            )
            # two text columns need room: below 40 columns they would show no words at all
            console.width = max(console.width, MIN_DIFF_WIDTH)
            with quiet_broken_pipe():
                render_diff(
                    text_a,
                    text_b,
                    alignment,
                    console=console,
                    color=use_color,
                    label_a=str(file_a),
                    label_b=str(file_b),
                    passages=passages,
                )
                console.file.flush()
    except DedupError as exc:
        raise fail(exc) from None


@app.command()
def report(
    run: Annotated[Path, typer.Argument(metavar="RUN", help="A run folder written by dedup scan.")],
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
        raise fail(exc) from None
    out.print(f"report: {path}")


@app.command(name="filter")
def filter_cmd(
    run: Annotated[Path, typer.Argument(metavar="RUN", help="A run folder written by dedup scan.")],
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
    """Write the corpus of RUN with one document per duplicate group.

    Also writes the list of dropped documents, with the kept one each duplicates. Texts are
    read again from the run's inputs, which must be unchanged since the scan."""
    from dedup.filter import DEFAULT_RELATIONS, filter_run

    chosen = tuple(r.strip() for v in relations or [] for r in v.split(",") if r.strip())
    try:
        with BarProgress(err, enabled=not quiet and err.is_terminal) as bar:
            bar.stage("filter")
            result = filter_run(
                run,
                output,
                # given but empty (--relations ''): refused by filter_run, not the default
                relations=chosen if relations else DEFAULT_RELATIONS,
                keep=keep,  # type: ignore[arg-type]  # checked by filter_run
                dropped=dropped,
                overwrite=overwrite,
                advance=bar.advance,
            )
    except DedupError as exc:
        raise fail(exc) from None
    if not quiet:
        out.print(result.summary(), highlight=False, soft_wrap=True)
