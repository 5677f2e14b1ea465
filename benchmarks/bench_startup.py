"""Start-up: `dedup scan` of one small file as a whole process, and what it is made of.

Each case runs ``--runs`` times as a fresh ``python`` process (interleaved, so load changes
hit every case alike); the figures are the minimum and the median wall time:

- ``python``: ``python -c pass`` (the interpreter alone);
- ``import``: ``python -c "import dedup.cli"`` (the command line's imports);
- ``scan``: ``python -m dedup scan ONE_FILE --out NEW_DIR --no-semantic -q`` (the target:
  at most 0.5 s); one more run, untimed, records the modules it left loaded (numba,
  pyarrow, torch: none expected);
- ``scan (baseline)``: the same scan with ``--baseline DIR`` on ``PYTHONPATH`` (another
  checkout of dedup, e.g. ``git worktree add /tmp/base HEAD~5``), side by side; with
  ``--baseline-python`` it runs under another interpreter (a venv with other dependency
  versions).

The runs write bytecode (``PYTHONDONTWRITEBYTECODE`` is dropped for them), as an installed
package has it; the warm-up runs write it before the timings.

Usage: ``python benchmarks/bench_startup.py [--runs 15] [--baseline DIR]
[--out results/startup.json]``. The load average is recorded with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def _scan_code(report: Path) -> str:
    """``python -m dedup`` that also writes which heavy modules were loaded."""
    return (
        "import atexit, json, sys, runpy\n"
        "def _loaded():\n"
        f"    open({str(report)!r}, 'w').write(json.dumps(sorted(m for m in"
        " ('numba', 'pyarrow', 'scipy', 'torch', 'transformers') if m in sys.modules)))\n"
        "atexit.register(_loaded)\n"
        "sys.argv = ['dedup', *sys.argv[1:]]\n"
        "runpy.run_module('dedup', run_name='__main__')\n"
    )


def _time(cmd: list[str], env: dict[str, str]) -> float:
    if "--out" in cmd:  # a new run folder each time, as a first scan writes it
        shutil.rmtree(cmd[cmd.index("--out") + 1], ignore_errors=True)
    t0 = time.perf_counter()
    # run from the checkout on PYTHONPATH: ``-m``/``-c`` put the working folder first
    cwd = env["PYTHONPATH"]
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, cwd=cwd)
    return time.perf_counter() - t0


def _summary(times: list[float]) -> dict[str, float]:
    return {"min_s": round(min(times), 3), "median_s": round(statistics.median(times), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--baseline", type=Path, default=None)
    parser.add_argument(
        "--baseline-python",
        default=sys.executable,
        help="interpreter for the baseline case (a venv with other dependency versions)",
    )
    parser.add_argument("--out", type=Path, default=REPO / "results" / "startup.json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dedup-startup-"))
    (work / "in").mkdir()
    (work / "in" / "one.txt").write_text("A small file: one sentence of a few words.\n")
    loaded = work / "loaded.json"
    # bytecode is written as an installed package's would be (the warm-up runs write it)
    base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env = {**base, "PYTHONPATH": str(REPO)}
    scan_args = [str(work / "in"), "--no-semantic", "-q", "--out"]
    cases: dict[str, tuple[list[str], dict[str, str]]] = {
        "python": ([sys.executable, "-c", "pass"], env),
        "import": ([sys.executable, "-c", "import dedup.cli"], env),
        "scan": ([sys.executable, "-m", "dedup", "scan", *scan_args, str(work / "o1")], env),
    }
    # which heavy modules a scan leaves loaded: one run with a probe, outside the timings
    probe = [sys.executable, "-c", _scan_code(loaded), "scan", *scan_args, str(work / "o0")]
    subprocess.run(probe, env=env, check=True, stdout=subprocess.DEVNULL, cwd=REPO)
    if args.baseline is not None:
        base_env = {**base, "PYTHONPATH": str(args.baseline.resolve())}
        cases["scan (baseline)"] = (
            [args.baseline_python, "-m", "dedup", "scan", *scan_args, str(work / "o2")],
            base_env,
        )
    for cmd, case_env in cases.values():  # warm the file cache and numba's kernel cache
        _time(cmd, case_env)
    times: dict[str, list[float]] = {name: [] for name in cases}
    load_before = os.getloadavg()
    for _ in range(args.runs):
        for name, (cmd, case_env) in cases.items():
            times[name].append(_time(cmd, case_env))
    result: dict[str, Any] = {
        "meta": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "runs": args.runs,
            "load_before": [round(x, 2) for x in load_before],
            "load_after": [round(x, 2) for x in os.getloadavg()],
            "baseline": str(args.baseline) if args.baseline else None,
            "baseline_python": args.baseline_python if args.baseline else None,
        },
        "results": {name: _summary(t) for name, t in times.items()},
        "scan_loaded_heavy_modules": json.loads(loaded.read_text()),
        "target_s": 0.5,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
