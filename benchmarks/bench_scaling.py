"""Wall time and peak memory of `dedup scan --no-semantic --no-align` against corpus size.

For each size a synthetic corpus (`dedup.synth.generate`, one Parquet file, planted pairs and a
truth
table) is made once under ``--corpora`` (reused when one with the same size and seed is
there), then scanned by ``python -m dedup scan`` in a child process, after a scan of 500
documents has filled numba's on-disk kernel cache. Measured per size:

- wall seconds of the child, and its stage seconds from ``manifest.json``;
- peak RSS: ``ru_maxrss`` of the child from ``os.wait4`` (resident pages of every kind,
  file-backed ones included: mapped libraries, and any page of the shingle spill file);
- peak anonymous and file-backed RSS, sampled every 0.2 s from ``/proc/PID/status``
  (``RssAnon``, ``RssFile``), which tells heap from page cache mapped into the process;
- recall of the planted pairs (all, and those with Jaccard >= 0.6) and how many pairs were
  reported that are not planted.

Rows are merged into ``results/scaling.json`` by size, so the large case can run on its own:

    python benchmarks/bench_scaling.py --docs 10000 100000
    python benchmarks/bench_scaling.py --docs 1000000 --corpora /tmp/dedup-scale
        # 1M documents: ~3 GB of text, 1.6 GB of Parquet and a 2.5 GB spill file on disk;
        # ~2.7 min to make the corpus (2 processes), ~1 min to scan on 2 cores

Writes ``results/scaling.{parquet,json,png}`` (time and peak RSS against documents, log-log).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import polars as pl

ROOT = Path(__file__).resolve().parent.parent
SEED = 0


def corpus(folder: Path, docs: int, workers: int) -> Path:
    """A Parquet corpus of ``docs`` documents under ``folder`` (made once, then reused)."""
    from dedup.synth.generate import synthesize

    out = folder / f"synth-{docs}"
    meta = out / "synth.json"
    if meta.exists():
        params = json.loads(meta.read_text())["params"]
        if params["docs"] == docs and params["seed"] == SEED and "parquet" in params["formats"]:
            return out
    t0 = time.perf_counter()
    synthesize(out, docs=docs, seed=SEED, formats=("parquet",), workers=workers)
    print(f"made {out} in {time.perf_counter() - t0:.0f} s", flush=True)
    return out


class Sampler:
    """Polls ``/proc/PID/status`` of a process for its anonymous and file-backed RSS."""

    def __init__(self, pid: int, every: float = 0.2) -> None:
        self.pid, self.every = pid, every
        self.peak: dict[str, int] = {"RssAnon": 0, "RssFile": 0, "VmRSS": 0}
        self.trace: list[tuple[float, int, int]] = []  # seconds, anon MB, file MB
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._t0 = time.perf_counter()
        self._thread.start()

    def _run(self) -> None:
        status = Path(f"/proc/{self.pid}/status")
        while not self._stop.is_set():
            try:
                fields = dict(
                    line.split(":", 1) for line in status.read_text().splitlines() if ":" in line
                )
            except OSError:
                return
            kb = {k: int(fields[k].split()[0]) for k in self.peak if k in fields}
            for k, v in kb.items():
                self.peak[k] = max(self.peak[k], v)
            self.trace.append(
                (
                    round(time.perf_counter() - self._t0, 1),
                    kb.get("RssAnon", 0) // 1024,
                    kb.get("RssFile", 0) // 1024,
                )
            )
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def scan(inputs: Path, out: Path) -> dict[str, Any]:
    """Run one scan as a child process: exit code, seconds, peak RSS (and its kinds)."""
    cmd = [sys.executable, "-m", "dedup", "scan", str(inputs), "--out", str(out)]
    cmd += ["--id-column", "id", "--no-semantic", "--no-align", "-q", "--overwrite"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    sampler = Sampler(proc.pid)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    sampler.stop()
    proc.returncode = os.waitstatus_to_exitcode(status)
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    manifest = json.loads((out / "manifest.json").read_text()) if proc.returncode == 0 else {}
    return {
        "exit_code": proc.returncode,
        "wall_s": round(seconds, 1),
        "peak_rss_mb": round(usage.ru_maxrss * scale / 1e6, 1),
        "peak_rss_anon_mb": round(sampler.peak["RssAnon"] * 1024 / 1e6, 1),
        "peak_rss_file_mb": round(sampler.peak["RssFile"] * 1024 / 1e6, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "stage_seconds": manifest.get("seconds", {}),
        "counts": manifest.get("counts", {}),
        "rss_trace": sampler.trace[:: max(1, len(sampler.trace) // 200)],
    }


def accuracy(run: Path, truth_path: Path) -> dict[str, Any]:
    """Recall of the planted pairs (all; Jaccard >= 0.6) and the unplanted pairs reported."""
    found = pl.read_parquet(run / "pairs.parquet", columns=["doc_a", "doc_b"])
    truth = pl.read_parquet(truth_path, columns=["id_a", "id_b", "jaccard"]).select(
        pl.min_horizontal("id_a", "id_b").alias("doc_a"),
        pl.max_horizontal("id_a", "id_b").alias("doc_b"),
        "jaccard",
    )
    hit = truth.join(found, on=["doc_a", "doc_b"], how="semi")
    strong = truth.filter(pl.col("jaccard") >= 0.6)
    return {
        "planted_pairs": truth.height,
        "reported_pairs": found.height,
        "recall": round(hit.height / max(truth.height, 1), 4),
        "recall_j06": round(
            strong.join(found, on=["doc_a", "doc_b"], how="semi").height / max(strong.height, 1), 4
        ),
        "unplanted_reported": found.join(truth, on=["doc_a", "doc_b"], how="anti").height,
    }


def warm_up(args: argparse.Namespace) -> None:
    """Scan a 500-document corpus once, so numba's on-disk cache holds every compiled
    kernel and no measured run pays for compilation."""
    folder = corpus(args.corpora, 500, 1)
    scan(folder / "docs.parquet", args.corpora / "run-warm-up")


def measure(docs: int, args: argparse.Namespace) -> dict[str, Any]:
    """Make (or reuse) the corpus of ``docs`` documents and scan it; one row."""
    folder = corpus(args.corpora, docs, args.synth_workers)
    data = folder / "docs.parquet"
    run = args.corpora / f"run-{docs}"
    print(f"scanning {docs:,} documents ({data.stat().st_size / 1e9:.2f} GB Parquet)", flush=True)
    row: dict[str, Any] = {"docs": docs, "text_mb": _text_mb(folder)}
    row.update(scan(data, run))
    if row["exit_code"] == 0:
        row.update(accuracy(run, folder / "truth.parquet"))
    row["load_avg_1m"] = round(os.getloadavg()[0], 2)
    row["measured_at"] = time.strftime("%Y-%m-%d %H:%M:%S")
    print(json.dumps({k: v for k, v in row.items() if k != "rss_trace"}), flush=True)
    return row


def _text_mb(folder: Path) -> float:
    """UTF-8 megabytes of the corpus's texts (from ``synth.json``)."""
    return round(json.loads((folder / "synth.json").read_text())["text_bytes"] / 1e6, 1)


def chart(table: pl.DataFrame, path: Path) -> None:
    """Wall seconds and peak RSS against documents, both axes logarithmic."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = table.filter(pl.col("exit_code") == 0).sort("docs")
    docs = ok["docs"].to_list()
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 4.4))
    ax_t.loglog(docs, ok["wall_s"].to_list(), "o-", color="#2b6cb0", label="wall")
    ax_t.loglog(docs, ok["cpu_s"].to_list(), "s--", color="#999", label="CPU (user + system)")
    if docs:  # a line of slope 1 through the smallest case: linear scaling
        x0, y0 = docs[0], ok["wall_s"][0]
        ax_t.loglog(docs, [y0 * d / x0 for d in docs], ":", color="#c05621", label="linear")
    ax_t.set(xlabel="documents", ylabel="seconds", title="scan time")
    ax_m.loglog(docs, ok["peak_rss_mb"].to_list(), "o-", color="#2b6cb0", label="peak RSS")
    ax_m.loglog(docs, ok["peak_rss_anon_mb"].to_list(), "^--", color="#2f855a", label="anonymous")
    ax_m.loglog(docs, ok["peak_rss_file_mb"].to_list(), "v--", color="#999", label="file-backed")
    ax_m.axhline(4000, color="#c53030", lw=0.8, ls=":", label="4 GB")
    ax_m.set(xlabel="documents", ylabel="MB", title="peak resident memory")
    for ax in (ax_t, ax_m):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("dedup scan --no-semantic --no-align, synthetic Parquet corpus, 2 cores")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def write(rows: list[dict[str, Any]], results: Path) -> None:
    """Merge ``rows`` into results/scaling.json by size; rewrite the Parquet table and chart."""
    results.mkdir(parents=True, exist_ok=True)
    path = results / "scaling.json"
    old = json.loads(path.read_text())["rows"] if path.exists() else []
    merged = {r["docs"]: r for r in [*old, *rows]}
    ordered = [merged[d] for d in sorted(merged)]
    meta = {
        "command": "dedup scan DOCS.parquet --id-column id --no-semantic --no-align",
        "seed": SEED,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    path.write_text(json.dumps({"meta": meta, "rows": ordered}, indent=2) + "\n")
    flat = [
        {k: v for k, v in r.items() if k not in ("rss_trace", "stage_seconds", "counts")}
        for r in ordered
    ]
    table = pl.DataFrame(flat, infer_schema_length=None)
    table.write_parquet(results / "scaling.parquet")
    chart(table, results / "scaling.png")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawTextHelpFormatter
    )
    ap.add_argument("--docs", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--corpora", type=Path, default=Path("/tmp/dedup-scale"))
    ap.add_argument("--synth-workers", type=int, default=2, help="processes making a corpus")
    ap.add_argument("--results", type=Path, default=ROOT / "results")
    args = ap.parse_args()
    args.corpora.mkdir(parents=True, exist_ok=True)
    warm_up(args)
    rows = [measure(d, args) for d in args.docs]
    write(rows, args.results)
    print(f"wrote {args.results / 'scaling.json'}")


if __name__ == "__main__":
    main()
