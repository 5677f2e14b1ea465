"""``dedup scan``: the batch job."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from dedup.cli.common import app, err, fail, out
from dedup.config import (
    AlignConfig,
    DerivationConfig,
    LSHConfig,
    MinHashConfig,
    OverlapConfig,
    RunConfig,
    SemanticConfig,
    ShingleConfig,
)
from dedup.errors import DedupError
from dedup.report.console import BarProgress, summary_table

_INCLUDE_HELP = "Read only files in folders matching this glob (repeatable): '*.csv'."
_EXCLUDE_HELP = "Skip files and folders matching this glob (repeatable)."
_MAX_BYTES_HELP = "Cap in bytes on a file, JSONL line or CSV/Parquet text (decompressed size)."
_TEXT_HELP = "Text field of JSONL/CSV/Parquet input."


@app.command()
def scan(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            metavar="INPUTS...",
            help="Folders and files: text, HTML, JSONL, CSV/TSV, Parquet; gzip, bzip2, xz "
            "or zstd compressed too.",
        ),
    ],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Run folder for the tables.")],
    threshold: Annotated[
        float, typer.Option(help="Jaccard threshold of LSH and verification.")
    ] = 0.5,
    num_perm: Annotated[int, typer.Option(help="MinHash permutations (1 to 4096).")] = 128,
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
        str | None,
        typer.Option(
            help="A local sentence-transformers model folder (default: the bundled "
            "all-MiniLM-L6-v2; nothing is downloaded)."
        ),
    ] = None,
    precision: Annotated[
        str,
        typer.Option(
            help="Bundled model's linear layers: auto (bfloat16 where the CPU computes it "
            "natively, else float32), float32 or bfloat16."
        ),
    ] = "auto",
    vector_cache: Annotated[
        Path | None,
        typer.Option(
            help="Folder that keeps the transformer's sentence vectors between scans: "
            "documents found there are not encoded again (8-14 bytes per byte of text). "
            "Default: $DEDUP_VECTOR_CACHE. With --engine ray, a folder every node can write.",
        ),
    ] = None,
    align: Annotated[
        bool,
        typer.Option(
            "--align/--no-align",
            help="Align every pair and decide its relation from its passages "
            "(--no-align: document-level rules only, faster).",
        ),
    ] = True,
    min_passage: Annotated[
        int,
        typer.Option(
            help="Copied words (verbatim or edited passages of 20+ words) that make a pair "
            "`partial`, whatever share of either text they are."
        ),
    ] = 50,
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
            semantic=SemanticConfig(enabled=semantic, model=model, precision=precision),
            align=AlignConfig(enabled=align),
            derivation=DerivationConfig(min_passage=min_passage),
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
                vector_cache=_vector_cache(vector_cache),
            )
    except DedupError as exc:
        raise fail(exc) from None
    if not quiet:
        out.print(summary_table(result.manifest, out_dir))
    warnings = list(result.manifest.get("warnings", []))
    docs = result.documents
    if id_column is not None and docs.height and "external_id" in docs.columns:
        read = docs.filter(docs["status"] == "ok")
        if read.height and read["external_id"].null_count() == read.height:
            warnings.append(
                f"no document read has the id column {id_column!r} (--id-column): "
                "external_id is empty"
            )
    for warning in warnings:
        err.print(f"[bold yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)


def _vector_cache(option: Path | None) -> Path | None:
    """``--vector-cache``, else ``$DEDUP_VECTOR_CACHE``."""
    if option is not None:
        return option
    value = os.environ.get("DEDUP_VECTOR_CACHE", "")
    return Path(value).expanduser() if value else None
