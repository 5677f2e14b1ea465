"""Size of `dedup report` on two runs: a synthetic corpus, and one pair with a long document.

1. ``dedup synth --docs N`` (default 5,000 documents), scanned with ``--no-semantic``
   (alignment on), then reported.
2. A long document (``--long-mb`` MB of synthetic sentences) that contains a 40-sentence
   passage, and the passage on its own: one ``partial`` pair, scanned and reported.

Each report is written by ``python -m dedup report`` in a child process, with this checkout
on ``PYTHONPATH``, and, with ``--before DIR``, a second time with the checkout ``DIR`` (an
older version, to compare with). Writes ``results/report_size.json``:

    python benchmarks/bench_report_size.py --work /tmp/dedup-report --before /path/to/old
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _dedup(args: list[str], checkout: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    t0 = time.perf_counter()
    # cwd is the checkout too: ``python -m`` puts it first on sys.path
    subprocess.run([sys.executable, "-m", "dedup", *args], check=True, env=env, cwd=checkout)
    return round(time.perf_counter() - t0, 1)


def _sentence(rng: random.Random) -> str:
    words = [f"w{rng.randrange(20000)}" for _ in range(rng.randrange(8, 16))]
    return " ".join(words).capitalize() + "."


def long_pair(folder: Path, mb: float) -> Path:
    """A folder with a text of ``mb`` MB holding a passage, and the passage alone."""
    corpus = folder / f"long-{mb:g}mb"
    if corpus.exists():
        return corpus
    corpus.mkdir(parents=True)
    rng = random.Random(0)
    passage = " ".join(_sentence(rng) for _ in range(40))
    (corpus / "passage.txt").write_text(passage)
    target = int(mb * 1e6)
    with (corpus / "long.txt").open("w") as f:
        written = 0
        placed = False
        while written < target:
            chunk = " ".join(_sentence(rng) for _ in range(2000)) + " "
            f.write(chunk)
            written += len(chunk)
            if not placed and written >= target // 2:
                f.write(passage + " ")
                placed = True
    return corpus


def measure(name: str, corpus: Path, run: Path, args: argparse.Namespace) -> dict[str, Any]:
    scan_s = 0.0
    if not (run / "manifest.json").exists():
        scan_s = _dedup(["scan", str(corpus), "--out", str(run), "--no-semantic", "-q"], ROOT)
    row: dict[str, Any] = {
        "case": name,
        "input_mb": round(sum(p.stat().st_size for p in corpus.rglob("*")) / 1e6, 2),
        "scan_s": scan_s,
        "pairs": json.loads((run / "manifest.json").read_text())["counts"]["pairs"],
    }
    checkouts = {"after": ROOT, **({"before": args.before} if args.before else {})}
    for label, checkout in checkouts.items():
        out = args.work / f"{name}-{label}.html"
        row[f"{label}_s"] = _dedup(["report", str(run), "--out", str(out)], checkout)
        row[f"{label}_mb"] = round(out.stat().st_size / 1e6, 3)
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("/tmp/dedup-report"))
    ap.add_argument("--docs", type=int, default=5000)
    ap.add_argument("--long-mb", type=float, default=20.0)
    ap.add_argument("--before", type=Path, help="an older checkout to compare with")
    ap.add_argument("--results", type=Path, default=ROOT / "results")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    synth = args.work / f"synth-{args.docs}"
    if not synth.exists():
        _dedup(["synth", str(synth), "--docs", str(args.docs), "--seed", "0"], ROOT)
    rows = [
        measure(f"synth-{args.docs}", synth / "docs", args.work / f"run-synth-{args.docs}", args),
        measure(
            f"long-{args.long_mb:g}mb",
            long_pair(args.work, args.long_mb),
            args.work / f"run-long-{args.long_mb:g}mb",
            args,
        ),
    ]
    args.results.mkdir(parents=True, exist_ok=True)
    doc = {
        "what": "bytes of dedup report's HTML (after: this version; before: --before)",
        "machine": f"{os.cpu_count()} CPUs, shared with other work",
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S"),
        "rows": rows,
    }
    (args.results / "report_size.json").write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
