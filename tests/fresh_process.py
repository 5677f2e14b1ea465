"""A `dedup` command run in a fresh interpreter, reporting which heavy modules it imported
(start-up and lazy-import tests)."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def modules_loaded(args: Sequence[str], modules: Sequence[str]) -> list[str]:
    """Run ``dedup ARGS`` in a new process (it must succeed) and return, sorted, those of
    ``modules`` it left in ``sys.modules``."""
    code = (
        "import sys\n"
        "from dedup.cli import app\n"
        "try:\n"
        f"    app({list(map(str, args))!r})\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        f"print(sorted(m for m in {tuple(modules)!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = ast.literal_eval(done.stdout.strip().splitlines()[-1])  # a printed list of names
    return [str(m) for m in loaded]
