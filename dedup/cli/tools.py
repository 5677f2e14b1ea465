"""``dedup synth`` and ``dedup bench``: synthetic corpora and benchmarks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dedup.cli.common import app, err, fail, out
from dedup.errors import DedupError
from dedup.report.console import BarProgress


@app.command()
def synth(
    out_dir: Annotated[
        Path, typer.Argument(metavar="OUT_DIR", help="Folder for the corpus and its truth table.")
    ],
    docs: Annotated[int, typer.Option(help="Number of documents.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same bytes).")] = 0,
    fmt: Annotated[
        list[str] | None,
        typer.Option("--format", help="txt, jsonl and/or parquet (repeat the option)."),
    ] = None,
    mean_chars: Annotated[
        int, typer.Option(help="Mean document length in characters (500 to 100,000).")
    ] = 2600,
    workers: Annotated[int, typer.Option(help="Processes generating chunks in parallel.")] = 1,
) -> None:
    """Write a synthetic corpus with planted copies and derivatives, and its truth.

    The corpus holds planted copies, near-duplicates, derivatives and partial reuse;
    truth.parquet lists every planted pair with its exact Jaccard."""
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
            written = [0]

            def progress(total: int) -> None:  # synthesize reports documents so far
                bar.advance(total - written[0])
                written[0] = total

            summary = synthesize(
                out_dir,
                docs=docs,
                seed=seed,
                formats=formats,
                mean_chars=mean_chars,
                workers=workers,
                progress=progress,
            )
    except DedupError as exc:
        raise fail(exc) from None
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
    """Throughput and accuracy of dedup scan against datasketch and rensa.

    All three are measured in one run, on one synthetic corpus (needs the bench extra)."""
    import argparse

    from dedup import bench as bench_mod
    from dedup.errors import ConfigError, OutputError

    try:
        if docs < 1 or repeat < 1:
            raise ConfigError(f"--docs and --repeat must be >= 1, got {docs} and {repeat}")
        if not 0.0 < threshold <= 1.0:
            raise ConfigError(f"threshold must be in (0, 1], got {threshold}")
        names = list(dict.fromkeys(contender or bench_mod.CONTENDERS))
        bad = [n for n in names if n not in bench_mod.CONTENDERS]
        if bad:
            raise ConfigError(
                f"unknown contender {bad[0]!r}: one of {', '.join(bench_mod.CONTENDERS)}"
            )
        missing = bench_mod.missing_packages(names)
        if missing:
            raise ConfigError(
                f"the contenders need {', '.join(missing)}, not installed: pip install "
                "'dedup[bench]', or leave those contenders out (--contender)"
            )
        results = results if results is not None else work / "results"
        for option, folder in (("--work", work), ("--results", results)):
            if folder.exists() and not folder.is_dir():
                raise OutputError(f"{option} {folder} is a file, not a folder")
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
    except bench_mod.ContenderError as exc:
        raise fail(DedupError(str(exc))) from None
    except DedupError as exc:
        raise fail(exc) from None
    out.print(f"results: {results}/throughput.parquet, throughput.json, throughput.png")
