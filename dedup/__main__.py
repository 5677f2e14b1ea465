"""``python -m dedup`` and the ``dedup`` console script.

The command line's modules (typer, rich, the commands) are imported inside :func:`run`, so a
Ctrl-C while they load ends with the same one-line ``interrupted`` and exit status 130 as a
Ctrl-C inside a command, not a traceback of the import.
"""

from __future__ import annotations

import sys


def run() -> None:
    """Import the command line and run it."""
    try:
        from dedup.cli import main
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    main()


if __name__ == "__main__":
    run()
