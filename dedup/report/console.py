"""Terminal output of the CLI: progress bars on stderr and the summary table of a scan."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

if TYPE_CHECKING:
    from rich.table import Table

__all__ = ["BarProgress", "PipeConsole", "quiet_broken_pipe", "summary_table", "visible"]

#: Control characters a terminal would obey (ESC starts sequences that clear the screen,
#: retitle the window or repaint what was printed), each as one visible character so that
#: offsets into a text still hold: C0 as its Control Pictures sign (U+241B for ESC), DEL as
#: U+2421, C1 as U+FFFD. Tab and line feed stay.
_CONTROLS = {c: 0x2400 + c for c in range(0x20) if c not in (0x09, 0x0A)}
_CONTROLS |= {0x7F: 0x2421} | dict.fromkeys(range(0x80, 0xA0), 0xFFFD)


def visible(text: str) -> str:
    """``text`` safe to print on a terminal: control characters shown, never obeyed."""
    return text.translate(_CONTROLS)


class BarProgress:
    """Rich progress bars on stderr for the pipeline's stages (with ``enabled=False`` only the
    messages are printed, and rich's progress module is not imported: it costs start-up)."""

    def __init__(self, console: Console, enabled: bool) -> None:
        self._console = console
        self._bar: Any = None
        self._task: Any = None
        if not enabled:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )

    def __enter__(self) -> BarProgress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is None:
            return
        if self._task is not None:
            self._bar.update(
                self._task,
                total=self._bar.tasks[-1].completed or 1,
                completed=self._bar.tasks[-1].completed or 1,
            )
        self._bar.stop()

    def stage(self, name: str, total: int | None = None) -> None:
        if self._bar is None:
            return
        if self._task is not None:
            done = self._bar.tasks[-1].completed
            self._bar.update(self._task, total=done or 1, completed=done or 1)
        self._task = self._bar.add_task(name, total=total)

    def advance(self, n: int = 1) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.advance(self._task, n)

    def message(self, text: str) -> None:
        self._console.print(visible(text), markup=False, highlight=False, soft_wrap=True)


def summary_table(manifest: dict[str, Any], out_dir: Path) -> Table:
    """The summary a scan prints: counts, LSH parameters, seconds per stage."""
    from rich.table import Table

    counts = manifest["counts"]
    table = Table(title=f"dedup scan → {out_dir}", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    table.add_row("documents", str(counts["documents"]))
    table.add_row("skipped", str(counts["skipped"]))
    for reason, n in counts.get("skipped_reasons", {}).items():
        table.add_row(f"  {reason}", str(n))
    table.add_row("pairs", str(counts["pairs"]))
    for rel, n in counts["pairs_by_relation"].items():
        if n:
            table.add_row(f"  {rel}", str(n))
    table.add_row("clusters", f"{counts['clusters']} ({counts['documents_in_clusters']} docs)")
    bands, rows = manifest["derived"]["bands"], manifest["derived"]["rows"]
    table.add_row("LSH", f"{bands} bands x {rows} rows")
    for stage, sec in manifest["seconds"].items():
        table.add_row(f"seconds: {stage}", f"{sec:.2f}")
    table.add_row("seconds: total", f"{manifest.get('seconds_total', 0.0):.2f}")
    return table


@contextlib.contextmanager
def quiet_broken_pipe() -> Iterator[None]:
    """End quietly (exit 0) when the reader of stdout goes away (``dedup diff | head``).

    Standard output is pointed at ``/dev/null`` first, so that the interpreter's final
    flush does not fail again on the closed pipe.
    """
    try:
        yield
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        raise SystemExit(0) from None


class PipeConsole(Console):
    """A console that lets a closed pipe surface as :class:`BrokenPipeError` (rich itself
    exits with code 1), for :func:`quiet_broken_pipe` to end quietly."""

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError
