"""Command line: parse options, call the library, print. No logic lives here.

:mod:`dedup.cli.common` holds the typer app; each command module registers its commands on
import, in the order ``dedup --help`` lists them: ``scan``, ``view`` (diff, report, filter),
``tools`` (synth, bench), ``index`` (index build|add, query).
"""

from __future__ import annotations

import atexit
import copy
import os
import sys
import threading

import typer

# isort: off
from dedup.cli import scan, view, tools, index
from dedup.cli.common import app, err

# isort: on

__all__ = ["app", "app_for", "index", "leave", "main", "scan", "tools", "view"]


def app_for(argv: list[str]) -> typer.Typer:
    """The app with only the command that ``argv`` names, or the whole app (no command, an
    option first, an unknown name). Typer reads the signature of every registered command
    when it builds the command line (~50 ms for these); the one named is all a run needs,
    and its parsing, help and errors are the same."""
    name = argv[1] if len(argv) > 1 else ""
    if not name or name.startswith("-"):
        return app
    commands = [
        c
        for c in app.registered_commands
        if (c.name or typer.main.get_command_name(c.callback.__name__ if c.callback else ""))
        == name
    ]
    groups = [g for g in app.registered_groups if g.name == name]
    if len(commands) + len(groups) != 1:
        return app
    one = copy.copy(app)
    one.registered_commands = commands
    one.registered_groups = groups
    return one


def main() -> None:
    """Entry point of the ``dedup`` console script."""
    try:
        app_for(sys.argv)()
    except KeyboardInterrupt:  # before typer runs the command (typer turns it into 130)
        err.print("interrupted")
        leave(130)
    except SystemExit as done:
        if done.code == 130:  # typer's exit for Ctrl-C inside a command
            err.print("interrupted")
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
