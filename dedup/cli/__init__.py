"""Command line: parse options, call the library, print. No logic lives here.

:mod:`dedup.cli.common` holds the typer app; each command module registers its commands on
import, in the order ``dedup --help`` lists them: ``scan``, ``view`` (diff, report, filter),
``tools`` (synth, bench), ``index`` (index build|add, query).
"""

from __future__ import annotations

import atexit
import os
import sys
import threading

# isort: off
from dedup.cli import scan, view, tools, index
from dedup.cli.common import app, err

# isort: on

__all__ = ["app", "index", "main", "scan", "tools", "view"]


def main() -> None:
    """Entry point of the ``dedup`` console script."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        leave(130)
    except SystemExit as done:
        leave(done.code)
    leave(0)


def leave(code: str | int | None) -> None:
    """Exit with ``code`` without the interpreter's teardown of every module.

    Tearing down polars alone takes ~65 ms, an eighth of the start-up target of a small scan.
    Exit handlers (:mod:`atexit`, which also runs :func:`weakref.finalize` callbacks) still
    run and both streams are flushed; the ordinary exit is taken instead when a non-daemon
    thread is still alive, when the code is not an int (``sys.exit("message")``) or when a
    flush fails (a closed pipe).
    """
    others = [t for t in threading.enumerate() if t is not threading.main_thread()]
    if isinstance(code, str) or any(not t.daemon for t in others):
        sys.exit(code)
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(code)
    os._exit(code or 0)
