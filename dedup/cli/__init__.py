"""Command line: parse options, call the library, print. No logic lives here.

:mod:`dedup.cli.common` holds the typer app; each command module registers its commands on
import, in the order ``dedup --help`` lists them: ``scan``, ``view`` (diff, report, filter),
``tools`` (synth, bench), ``index`` (index build|add, query).
"""

from __future__ import annotations

import sys

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
        sys.exit(130)
