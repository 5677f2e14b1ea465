"""The command line's shared parts: the typer app, consoles, one-line errors, --version."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from dedup.errors import DedupError
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


def fail(exc: DedupError) -> typer.Exit:
    from dedup.report.console import visible

    err.print(f"[bold red]error:[/] {escape(visible(str(exc)))}", highlight=False, soft_wrap=True)
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
