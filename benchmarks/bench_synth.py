"""How fast does `dedup.synth.generate` write a corpus, and does its memory stay flat?

Each size runs in a fresh subprocess, which reports wall and CPU seconds, MB/s of text, peak RSS
and its RSS every ``--every`` documents. Writes ``results/synth_speed.json``.

    python benchmarks/bench_synth.py --docs 10000 100000 --formats txt --work /tmp/synth-bench
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    """Resident set size of this process now, in MiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(out: Path, docs: int, formats: list[str], every: int, workers: int) -> None:
    """Run one synthesis and print its measurements as one JSON line."""
    from dedup.synth.generate import synthesize

    samples: list[tuple[int, float]] = []

    def progress(n: int) -> None:
        if n % every == 0 or n == docs:
            samples.append((n, round(rss_mb(), 1)))

    cpu0, t0 = time.process_time(), time.perf_counter()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    s = synthesize(out, docs=docs, formats=formats, progress=progress, workers=workers)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    result = {
        "docs": docs,
        "formats": formats,
        "workers": workers,
        "text_mb": s.text_bytes / 1e6,
        "pairs": s.pairs,
        "wall_s": wall,
        "cpu_s": cpu,
        "mb_per_s": s.text_bytes / 1e6 / wall,
        "user_s": ru1.ru_utime - ru0.ru_utime,  # generating text
        "sys_s": ru1.ru_stime - ru0.ru_stime,  # mostly the kernel creating files
        "cpu_s_workers": kids.ru_utime + kids.ru_stime,
        "mb_per_cpu_s": s.text_bytes / 1e6 / (cpu + kids.ru_utime + kids.ru_stime),
        "docs_per_s": docs / wall,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_rss_mb_worker": kids.ru_maxrss / 1024,
        "rss_mb": samples,
    }
    print(json.dumps(result))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--docs", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--formats", nargs="+", default=["txt"])
    ap.add_argument("--work", type=Path, default=Path("/tmp/synth-bench"))
    ap.add_argument("--every", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--results", type=Path, default=ROOT / "results" / "synth_speed.json")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.work, args.docs[0], args.formats, args.every, args.workers)
        return
    runs = []
    for docs in args.docs:
        out = args.work / f"n{docs}"
        shutil.rmtree(out, ignore_errors=True)
        cmd = [sys.executable, __file__, "--child", "--docs", str(docs), "--work", str(out)]
        cmd += ["--every", str(args.every), "--workers", str(args.workers)]
        cmd += ["--formats", *args.formats]
        line = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout
        runs.append(json.loads(line.strip().splitlines()[-1]))
        runs[-1]["load_avg_1m_after"] = os.getloadavg()[0]
        r = runs[-1]
        print(
            f"{docs:>9,} docs {r['text_mb']:8.1f} MB  {r['wall_s']:7.1f} s wall "
            f"{r['mb_per_s']:6.1f} MB/s  ({r['mb_per_cpu_s']:.1f} MB per CPU s; "
            f"user {r['user_s']:.1f} s, sys {r['sys_s']:.1f} s)  "
            f"peak RSS {r['peak_rss_mb']:.0f} MiB"
        )
        shutil.rmtree(out, ignore_errors=True)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_avg_1m": os.getloadavg()[0],
        "work": str(args.work),
    }
    args.results.write_text(json.dumps({"meta": meta, "runs": runs}, indent=2) + "\n")


if __name__ == "__main__":
    main()
