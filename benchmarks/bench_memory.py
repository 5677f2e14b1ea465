"""Peak memory of `dedup scan --no-semantic --no-align` on many small files and on one huge file.

Each scan runs as a child process; its peak resident set size is the ``ru_maxrss`` that
``os.wait4`` reports for that child alone. Writes ``results/memory.json``.

    python benchmarks/bench_memory.py                     # 200,000 files of ~200 bytes; 200 MB file
    python benchmarks/bench_memory.py --files 20000 --mb 20
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
VOCAB = np.array(
    [f"{a}{b}" for a in ("ka", "lo", "mi", "nu", "pe", "ri", "so", "tu") for b in range(800)]
)


def random_words(rng: np.random.Generator, n_bytes: int) -> str:
    """Random words (and a full stop now and then) adding up to about ``n_bytes``."""
    words = VOCAB[rng.integers(0, len(VOCAB), size=max(1, n_bytes // 5))]
    text = " ".join(words.tolist())
    return text[:n_bytes]


def make_small_files(folder: Path, n: int, size: int) -> int:
    """``n`` files of about ``size`` bytes in one folder; returns the bytes written."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    total = 0
    for i in range(n):
        text = random_words(rng, size)
        (folder / f"f{i:07d}.txt").write_text(text, encoding="ascii")
        total += len(text)
    return total


def make_huge_file(path: Path, mb: int) -> int:
    """One file of ``mb`` megabytes of random words, written 1 MB at a time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2)
    total = 0
    with path.open("w", encoding="ascii") as f:
        for _ in range(mb):
            chunk = random_words(rng, 1_000_000 - 1) + "\n"
            f.write(chunk)
            total += len(chunk)
    return total


def measure(inputs: Path, out: Path) -> dict[str, Any]:
    """Run one scan as a child; its exit code, seconds and peak RSS."""
    cmd = [sys.executable, "-m", "dedup", "scan", str(inputs), "--out", str(out)]
    cmd += ["--no-semantic", "--no-align", "-q", "--overwrite"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    peak = usage.ru_maxrss * scale
    manifest = json.loads((out / "manifest.json").read_text()) if proc.returncode == 0 else {}
    return {
        "exit_code": proc.returncode,
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(peak / 1e6, 1),
        "documents": manifest.get("counts", {}).get("documents"),
        "stage_seconds": manifest.get("seconds", {}),
    }


def baseline() -> dict[str, Any]:
    """Peak RSS of a child that only imports what a scan imports: the fixed cost."""
    code = "import dedup.pipeline, dedup.cli, numba, polars, pyarrow"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    _, _, usage = os.wait4(proc.pid, 0)
    scale = 1 if sys.platform == "darwin" else 1024
    return {"peak_rss_mb": round(usage.ru_maxrss * scale / 1e6, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200_000, help="small files (case a; 0: skip)")
    parser.add_argument("--file-bytes", type=int, default=200, help="size of each small file")
    parser.add_argument(
        "--mb", type=int, default=200, help="size of the huge file, MB (case b; 0: skip)"
    )
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: tmp)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "memory.json")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="dedup-mem-", dir=args.work))
    results: dict[str, Any] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "imports_only": baseline(),
    }
    try:
        if args.files:
            t0 = time.perf_counter()
            n_bytes = make_small_files(work / "small", args.files, args.file_bytes)
            took = time.perf_counter() - t0
            print(f"wrote {args.files} files ({n_bytes / 1e6:.1f} MB) in {took:.0f} s")
            case = measure(work / "small", work / "run_small")
            results["small_files"] = {
                "files": args.files,
                "input_mb": round(n_bytes / 1e6, 1),
                **case,
            }
            print("small files:", json.dumps(results["small_files"]))
            shutil.rmtree(work / "small")
        if args.mb:
            n_bytes = make_huge_file(work / "huge" / "huge.txt", args.mb)
            case = measure(work / "huge", work / "run_huge")
            results["huge_file"] = {
                "input_mb": round(n_bytes / 1e6, 1),
                **case,
                "peak_over_input": round(case["peak_rss_mb"] / (n_bytes / 1e6), 2),
                "peak_above_imports_over_input": round(
                    (case["peak_rss_mb"] - results["imports_only"]["peak_rss_mb"])
                    / (n_bytes / 1e6),
                    2,
                ),
            }
            print("huge file:", json.dumps(results["huge_file"]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
