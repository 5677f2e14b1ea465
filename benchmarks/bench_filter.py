"""Peak memory and time of `dedup filter` against corpus size: does memory stay flat?

For each size, the synthetic Parquet corpus of ``bench_scaling.py`` (made once under
``--corpora``, reused after) is scanned with ``--no-semantic --no-align`` (once; the run
is reused while its manifest records the same inputs), then ``python -m dedup filter RUN
--out OUT.parquet`` runs in a child process. Measured per size: wall and CPU seconds, peak
RSS (``ru_maxrss`` from ``os.wait4``) and peak anonymous / file-backed RSS sampled from
``/proc/PID/status``, the documents kept and dropped, and the size of the output.

    python benchmarks/bench_filter.py --docs 100000 1000000 --corpora /tmp/dedup-scale

Rows are merged by size into ``results/filter.json`` (``--results`` moves it).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench_scaling import Sampler, corpus

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def ensure_run(data: Path, run: Path) -> float:
    """Scan ``data`` into ``run`` unless it holds a finished scan of it; the scan's seconds."""
    manifest = run / "manifest.json"
    if manifest.exists():
        record = json.loads(manifest.read_text()).get("inputs", {})
        if record.get("paths") == [str(data)]:
            return 0.0
    cmd = [sys.executable, "-m", "dedup", "scan", str(data), "--out", str(run)]
    cmd += ["--id-column", "id", "--no-semantic", "--no-align", "-q", "--overwrite"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=ENV, cwd=ROOT)
    return round(time.perf_counter() - t0, 1)


def run_filter(run: Path, out: Path) -> dict[str, Any]:
    """``dedup filter`` in a child process: exit code, seconds, peak RSS (and its kinds)."""
    for stale in (out, out.with_name(out.stem + ".dropped.parquet")):
        stale.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "dedup", "filter", str(run), "--out", str(out), "-q"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=ENV, cwd=ROOT)
    sampler = Sampler(proc.pid)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    sampler.stop()
    scale = 1 if sys.platform == "darwin" else 1024
    return {
        "exit_code": os.waitstatus_to_exitcode(status),
        "wall_s": round(seconds, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_rss_mb": round(usage.ru_maxrss * scale / 1e6, 1),
        "peak_rss_anon_mb": round(sampler.peak["RssAnon"] * 1024 / 1e6, 1),
        "peak_rss_file_mb": round(sampler.peak["RssFile"] * 1024 / 1e6, 1),
        "rss_trace": sampler.trace[:: max(1, len(sampler.trace) // 100)],
    }


def measure(docs: int, args: argparse.Namespace) -> dict[str, Any]:
    """One row: make or reuse the corpus and its run, then filter it."""
    import polars as pl

    folder = corpus(args.corpora, docs, args.synth_workers)
    data = folder / "docs.parquet"
    run = args.corpora / f"run-filter-{docs}"
    row: dict[str, Any] = {"docs": docs, "scan_s": ensure_run(data, run)}
    out = args.corpora / f"filtered-{docs}.parquet"
    row.update(run_filter(run, out))
    if row["exit_code"] == 0:
        kept = pl.scan_parquet(out).select(pl.len()).collect().item()
        dropped = pl.scan_parquet(out.with_name(out.stem + ".dropped.parquet"))
        row["kept"] = int(kept)
        row["dropped"] = int(dropped.select(pl.len()).collect().item())
        row["out_mb"] = round(out.stat().st_size / 1e6, 1)
        row["input_mb"] = round(data.stat().st_size / 1e6, 1)
    row["load_avg_1m"] = round(os.getloadavg()[0], 2)
    row["measured_at"] = time.strftime("%Y-%m-%d %H:%M:%S")
    print(json.dumps({k: v for k, v in row.items() if k != "rss_trace"}), flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--docs", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--corpora", type=Path, default=Path("/tmp/dedup-scale"))
    ap.add_argument("--synth-workers", type=int, default=2)
    ap.add_argument("--results", type=Path, default=ROOT / "results")
    args = ap.parse_args()
    args.corpora.mkdir(parents=True, exist_ok=True)
    path = args.results / "filter.json"
    old = json.loads(path.read_text())["rows"] if path.exists() else []
    rows = {r["docs"]: r for r in old}
    for docs in args.docs:
        rows[docs] = measure(docs, args)
    args.results.mkdir(parents=True, exist_ok=True)
    doc = {
        "what": "dedup filter RUN --out OUT.parquet (default groups: exact + near_duplicate)",
        "machine": f"{os.cpu_count()} CPUs, shared with other work",
        "rows": [rows[k] for k in sorted(rows)],
    }
    path.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
