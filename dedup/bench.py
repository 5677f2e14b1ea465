"""Throughput and accuracy of `dedup.scan` against datasketch and rensa, in one run.

One synthetic corpus (`dedup.synth.generate`, txt files, planted derivatives and a truth table);
every contender reads the same files, shingles them into word 5-grams (lower-cased ``\\w+`` words)
and uses 128 permutations and the same LSH threshold:

- ``dedup``: ``scan`` end to end (read -> Parquet), alignment and semantic channel off; with
  all cores, and again with one worker.
- ``datasketch``: per document ``MinHash(num_perm=128, scheme="affine32")`` + ``update_batch``,
  ``MinHashLSH(threshold)`` insert, then query per document.
- ``rensa``: per document ``RMinHash`` + ``RMinHashLSH`` insert, then query per document; and
  ``rensa_batch``: ``RMinHash.from_token_sets`` + ``insert_many`` + ``query_all``.

Each contender runs in its own subprocess (peak RSS is that process's), after the files were
read once to warm the page cache; the fastest of ``--repeat`` runs counts. Accuracy against
``truth.parquet``: recall of the planted pairs whose true Jaccard is >= threshold + 0.1 (per
kind as well), recall of all planted pairs, and precision: the share of reported pairs that
are planted. dedup reports verified pairs (its overlap channel for partial reuse is on, as by
default); the datasketch and rensa loops report raw LSH candidates, as a plain loop does.

    dedup bench --docs 10000 --threshold 0.5
    (or: python -m dedup.bench --contenders dedup rensa ..., results in WORK/results)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from dedup.text.normalize import words

NUM_PERM = 128
SHINGLE = 5
CONTENDERS = ("dedup", "dedup_1worker", "datasketch", "rensa", "rensa_batch")

# --------------------------------------------------------------------------- contenders


def iter_docs(root: Path) -> Iterator[tuple[int, str]]:
    """(id, text) of every ``NNNNNN.txt`` under ``root``, in id order."""
    for path in sorted(root.rglob("*.txt")):
        yield int(path.stem), path.read_text(encoding="utf-8")


def shingles(text: str) -> list[str]:
    """Distinct word 5-grams of the lower-cased ``\\w+`` words (the whole text if shorter)."""
    w = words(text)
    if len(w) < SHINGLE:
        return [" ".join(w)] if w else []
    return list({" ".join(w[i : i + SHINGLE]) for i in range(len(w) - SHINGLE + 1)})


def rensa_bands(threshold: float, num_perm: int) -> int:
    """Bands for rensa, which needs bands x rows == num_perm: of those, the one with the least
    false positives + false negatives, datasketch's rule (datasketch itself may use fewer
    permutations than it has, e.g. 25 x 5 of 128)."""
    xs = np.linspace(0.0, 1.0, 2001)

    def error(b: int) -> float:
        p = 1 - (1 - xs ** (num_perm // b)) ** b
        fp, fn = np.where(xs < threshold, p, 0.0), np.where(xs >= threshold, 1 - p, 0.0)
        return float(np.trapezoid(fp, xs) + np.trapezoid(fn, xs))

    return min((b for b in range(1, num_perm + 1) if num_perm % b == 0), key=error)


def pairs_of(groups: Iterator[tuple[int, list[int]]]) -> set[tuple[int, int]]:
    """Unordered pairs (a < b) from each document's list of candidates."""
    return {(min(a, b), max(a, b)) for a, cands in groups for b in cands if a != b}


def run_dedup(root: Path, work: Path, threshold: float, workers: int) -> set[tuple[int, int]]:
    from dedup.config import AlignConfig, LSHConfig, MinHashConfig, RunConfig, SemanticConfig
    from dedup.pipeline import scan

    cfg = RunConfig(
        minhash=MinHashConfig(num_perm=NUM_PERM),
        lsh=LSHConfig(threshold=threshold),
        align=AlignConfig(enabled=False),
        semantic=SemanticConfig(enabled=False),
        workers=workers,
    )
    result = scan([root], work / f"scan-{workers}", config=cfg, overwrite=True)
    ids = [
        result.pairs[c].str.extract(r"(\d+)\.txt$").cast(pl.Int64).to_list()
        for c in ("path_a", "path_b")
    ]
    return {(min(a, b), max(a, b)) for a, b in zip(*ids, strict=True)}


def run_datasketch(root: Path, threshold: float) -> set[tuple[int, int]]:
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    sketches = []
    for doc_id, text in iter_docs(root):
        m = MinHash(num_perm=NUM_PERM, scheme="affine32")
        m.update_batch([s.encode("utf-8") for s in shingles(text)])
        lsh.insert(doc_id, m)
        sketches.append((doc_id, m))
    return pairs_of((doc_id, lsh.query(m)) for doc_id, m in sketches)


def run_rensa(root: Path, threshold: float) -> set[tuple[int, int]]:
    from rensa import RMinHash, RMinHashLSH

    bands = rensa_bands(threshold, NUM_PERM)
    lsh = RMinHashLSH(threshold, NUM_PERM, bands)
    sketches = []
    for doc_id, text in iter_docs(root):
        m = RMinHash(NUM_PERM, 42)
        m.update(shingles(text))
        lsh.insert(doc_id, m)
        sketches.append((doc_id, m))
    return pairs_of((doc_id, lsh.query(m)) for doc_id, m in sketches)


def run_rensa_batch(root: Path, threshold: float) -> set[tuple[int, int]]:
    from rensa import RMinHash, RMinHashLSH

    bands = rensa_bands(threshold, NUM_PERM)
    ids, token_sets = [], []
    for doc_id, text in iter_docs(root):
        ids.append(doc_id)
        token_sets.append(shingles(text))
    sketches = RMinHash.from_token_sets(token_sets, NUM_PERM, 42)
    lsh = RMinHashLSH(threshold, NUM_PERM, bands)
    lsh.insert_many(sketches, start_key=0)
    found = lsh.query_all(sketches)
    return pairs_of((ids[i], [ids[j] for j in cands]) for i, cands in enumerate(found))


def child(name: str, root: Path, work: Path, threshold: float) -> None:
    """Run one contender; print its measurements as one JSON line, its pairs to a file."""
    runs: dict[str, Callable[[], set[tuple[int, int]]]] = {
        "dedup": lambda: run_dedup(root, work, threshold, 0),
        "dedup_1worker": lambda: run_dedup(root, work, threshold, 1),
        "datasketch": lambda: run_datasketch(root, threshold),
        "rensa": lambda: run_rensa(root, threshold),
        "rensa_batch": lambda: run_rensa_batch(root, threshold),
    }
    if name.startswith("dedup"):  # compile numba kernels (cached on disk) outside the timing
        t0 = time.perf_counter()
        run_dedup(work / "warmup-docs", work / "warmup", threshold, 1)
        warmup = time.perf_counter() - t0
    else:
        warmup = 0.0
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cpu0, t0 = time.process_time(), time.perf_counter()
    found = runs[name]()
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    pl.DataFrame(sorted(found), schema=["a", "b"], orient="row").write_parquet(
        work / f"pairs-{name}.parquet"
    )
    print(json.dumps({
        "contender": name, "wall_s": wall, "cpu_s": cpu, "warmup_s": warmup,
        "rss_before_mb": rss0,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "reported_pairs": len(found),
    }))  # fmt: skip


# --------------------------------------------------------------------------- the run


def datasketch_bands_rows(threshold: float) -> tuple[int, int]:
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    return int(lsh.b), int(lsh.r)


def make_corpus(work: Path, docs: int, seed: int) -> Path:
    """The synthetic corpus (reused when one with the same parameters is there)."""
    from dedup.synth.generate import synthesize

    out = work / "corpus"
    meta = out / "synth.json"
    if meta.exists():
        params = json.loads(meta.read_text())["params"]
        if params["docs"] == docs and params["seed"] == seed and "txt" in params["formats"]:
            return out
    synthesize(out, docs=docs, seed=seed, formats=("txt",))
    return out


def accuracy(found: set[tuple[int, int]], truth: pl.DataFrame, threshold: float) -> dict[str, Any]:
    """Recall of planted pairs with Jaccard >= threshold + 0.1 (all and per kind); precision."""
    planted = {
        (a, b): (k, j) for a, b, k, j in truth.select("id_a", "id_b", "kind", "jaccard").rows()
    }
    target = {p for p, (_, j) in planted.items() if j >= threshold + 0.1}
    row: dict[str, Any] = {  # None where there is nothing to find, or nothing was reported
        "recall": len(found & target) / len(target) if target else None,
        "precision": len(found & planted.keys()) / len(found) if found else None,
        "recall_all_planted": len(found & planted.keys()) / len(planted) if planted else None,
        "target_pairs": len(target),
    }
    for kind in ("exact", "near_duplicate", "derivative", "partial"):
        of_kind = {p for p in target if planted[p][0] == kind}
        row[f"recall_{kind}"] = len(found & of_kind) / len(of_kind) if of_kind else None
    return row


def run_contender(name: str, corpus: Path, work: Path, threshold: float) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "dedup.bench", "--child", name, "--work", str(work)]
    cmd += ["--threshold", str(threshold), "--root", str(corpus / "docs")]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:  # its last line says why (a missing package, a bad threshold)
        why = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        raise ContenderError(f"contender {name} failed: {why}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def chart(table: pl.DataFrame, path: Path) -> bool:
    """The results' plot; False (no plot) without matplotlib."""
    try:
        import matplotlib
    except ImportError:
        return False

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = table["contender"].to_list()
    panels = [
        ("mb_per_s", "MB/s, wall clock (higher is better)"),
        ("cpu_s", "CPU seconds, all threads"),
        ("peak_rss_mb", "peak RSS, MiB"),
        ("recall", "recall of pairs with J >= t + 0.1"),
        ("recall_all_planted", "recall of all planted pairs"),
        ("precision", "precision"),
    ]
    fig, axes = plt.subplots(2, 3, figsize=(13, 6.4))
    for ax, (col, title) in zip(axes.flat, panels, strict=True):
        values = [0.0 if v is None else v for v in table[col].to_list()]
        ax.barh(
            names, values, color=["#2b6cb0" if n.startswith("dedup") else "#999" for n in names]
        )
        ax.set_title(title, fontsize=10)
        ax.invert_yaxis()
        for i, v in enumerate(table[col].to_list()):
            ax.text(values[i], i, " n/a" if v is None else f" {v:.3g}", va="center", fontsize=8)
        ax.margins(x=0.25)
    fig.suptitle(f"{table['docs'][0]:,} synthetic documents, word 5-shingles, 128 permutations")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return True


def measure(args: argparse.Namespace, corpus: Path) -> list[dict[str, Any]]:
    """Run every contender on ``corpus``; one row of measurements and accuracy each."""
    texts = [t for _, t in iter_docs(corpus / "docs")]  # warms the page cache for everyone
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    truth = pl.read_parquet(corpus / "truth.parquet")
    rows = []
    for name in args.contenders:  # the fastest of --repeat runs: the least disturbed one
        tries = [run_contender(name, corpus, args.work, args.threshold) for _ in range(args.repeat)]
        r = min(tries, key=lambda t: float(t["wall_s"]))
        r["wall_s_all"] = [t["wall_s"] for t in tries]
        found = set(pl.read_parquet(args.work / f"pairs-{name}.parquet").rows())
        r.update(accuracy(found, truth, args.threshold))
        r.update(docs=len(texts), mb=mb, mb_per_s=mb / r["wall_s"], mb_per_cpu_s=mb / r["cpu_s"])
        r["docs_per_s"] = len(texts) / r["wall_s"]
        rows.append(r)
        print(f"{name:>14}: {r['wall_s']:6.2f} s ({r['cpu_s']:6.2f} CPU s) {r['mb_per_s']:6.1f} "
              f"MB/s  RSS {r['peak_rss_mb']:5.0f} MiB  recall {_share(r['recall'])} "
              f"(all planted {_share(r['recall_all_planted'])})  "
              f"precision {_share(r['precision'])}", flush=True)  # fmt: skip
    return rows


def _share(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def write_results(args: argparse.Namespace, rows: list[dict[str, Any]]) -> None:
    """results/throughput.parquet, .json (with the run's parameters) and .png."""
    table = pl.DataFrame(rows)
    args.results.mkdir(parents=True, exist_ok=True)
    table.write_parquet(args.results / "throughput.parquet")
    meta = {
        "docs": rows[0]["docs"], "mb": rows[0]["mb"], "seed": args.seed,
        "threshold": args.threshold, "num_perm": NUM_PERM, "shingle": f"word:{SHINGLE}",
        "repeat": args.repeat, "cpus": os.cpu_count(), "python": platform.python_version(),
        "load_avg_1m": os.getloadavg()[0],
        "datasketch_bands_rows": datasketch_bands_rows(args.threshold),
        "rensa_bands": rensa_bands(args.threshold, NUM_PERM),
    }  # fmt: skip
    (args.results / "throughput.json").write_text(
        json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n"
    )
    if not chart(table, args.results / "throughput.png"):
        print("no throughput.png: matplotlib is not installed (the bench extra)", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--docs", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--repeat", type=int, default=3, help="runs per contender; the fastest counts")
    ap.add_argument("--contenders", nargs="+", default=list(CONTENDERS), choices=CONTENDERS)
    ap.add_argument("--work", type=Path, default=Path("bench-work"))
    ap.add_argument("--results", type=Path, default=None, help="default: WORK/results")
    ap.add_argument("--child", choices=CONTENDERS, help=argparse.SUPPRESS)
    ap.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.root, args.work, args.threshold)
        return
    args.results = args.results if args.results is not None else args.work / "results"
    missing = missing_packages(args.contenders)
    if missing:
        sys.exit(f"error: the contenders need {', '.join(missing)}, not installed")
    try:
        run(args)
    except ContenderError as exc:
        sys.exit(f"error: {exc}")


class ContenderError(RuntimeError):
    """A contender's process failed; the message is its last line of errors."""


def missing_packages(contenders: list[str]) -> list[str]:
    """The packages the chosen contenders need that are not installed (the bench extra)."""
    import importlib.util

    need = {"datasketch": "datasketch", "rensa": "rensa", "rensa_batch": "rensa"}
    wanted = dict.fromkeys(need[c] for c in contenders if c in need)
    return [p for p in wanted if importlib.util.find_spec(p) is None]


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Make (or reuse) the corpus, measure every contender, write the results; the rows."""
    args.work.mkdir(parents=True, exist_ok=True)
    corpus = make_corpus(args.work, args.docs, args.seed)
    if not (args.work / "warmup-docs").exists():
        from dedup.synth.generate import synthesize

        synthesize(args.work / "warmup", docs=200, seed=1, formats=("txt",))
        (args.work / "warmup" / "docs").rename(args.work / "warmup-docs")
    rows = measure(args, corpus)
    write_results(args, rows)
    return rows


if __name__ == "__main__":
    main()
