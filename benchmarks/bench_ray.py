"""Overhead of the Ray engine against the local engine, on one machine.

Generates a synthetic corpus (random-word documents, a few planted near-duplicates and
exact copies, as JSONL shards), scans it with both engines (semantic channel off, the
same config), checks that the tables agree, and writes per-stage seconds and throughputs
to ``results/ray_overhead.json``.

    python benchmarks/bench_ray.py --docs 10000 --docs 100000
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl

from dedup.config import RunConfig, SemanticConfig
from dedup.pipeline import scan

ROOT = Path(__file__).resolve().parent.parent
TABLES = {
    "documents": ["doc_id"],
    "pairs": ["doc_a", "doc_b"],
    "clusters": ["cluster_id", "doc_id"],
    "alignments": ["doc_a", "doc_b", "a_lo", "b_lo", "a_hi", "b_hi", "op"],
}


def make_corpus(folder: Path, n_docs: int, *, words: int, shards: int, seed: int = 0) -> int:
    """``n_docs`` documents in ``shards`` JSONL files; 1% near-duplicates, 0.5% exact copies."""
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(50_000)]
    texts: list[str] = []
    planted = 0
    for i in range(n_docs):
        if i > 10 and rng.random() < 0.015:
            src = texts[rng.randrange(len(texts))].split(" ")
            if rng.random() < 0.33:
                texts.append(" ".join(src))
            else:
                for _ in range(max(1, len(src) // 50)):
                    src[rng.randrange(len(src))] = rng.choice(vocab)
                texts.append(" ".join(src))
            planted += 1
        else:
            texts.append(" ".join(rng.choice(vocab) for _ in range(words)))
    folder.mkdir(parents=True, exist_ok=True)
    per = -(-n_docs // shards)
    for s in range(shards):
        with (folder / f"shard{s:04d}.jsonl").open("w") as fh:
            for t in texts[s * per : (s + 1) * per]:
                fh.write(json.dumps({"text": t}) + "\n")
    return planted


def _same(a: Path, b: Path) -> bool:
    for name, keys in TABLES.items():
        x = pl.read_parquet(a / f"{name}.parquet").sort(keys, nulls_last=True)
        y = pl.read_parquet(b / f"{name}.parquet").sort(keys, nulls_last=True)
        if not x.equals(y):
            return False
    return True


def run(n_docs: int, *, words: int, shards: int, work: Path) -> dict[str, Any]:
    corpus = work / f"corpus{n_docs}"
    planted = make_corpus(corpus, n_docs, words=words, shards=shards)
    cfg = RunConfig(semantic=SemanticConfig(enabled=False))
    out: dict[str, Any] = {"docs": n_docs, "words_per_doc": words, "shards": shards}
    out["planted"] = planted
    for engine in ("local", "ray"):
        t0 = time.perf_counter()
        res = scan([corpus], work / engine / str(n_docs), config=cfg, engine=engine)
        wall = time.perf_counter() - t0
        secs = res.manifest["seconds"]
        out[engine] = {
            "seconds_wall": round(wall, 2),
            "seconds": secs,
            "docs_per_s": round(n_docs / wall, 1),
            "pairs": res.manifest["counts"]["pairs"],
        }
    out["identical_tables"] = _same(work / "local" / str(n_docs), work / "ray" / str(n_docs))
    out["overhead_x"] = round(out["ray"]["seconds_wall"] / out["local"]["seconds_wall"], 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, action="append", default=None)
    parser.add_argument("--words", type=int, default=300)
    parser.add_argument("--shards", type=int, default=20)
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "ray_overhead.json")
    args = parser.parse_args()
    import ray

    ray.init(
        num_cpus=args.cpus,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.WARNING,
    )
    work = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    results = []
    try:
        for n in args.docs or [10_000]:
            r = run(n, words=args.words, shards=args.shards, work=work)
            print(json.dumps(r, indent=1))
            results.append(r)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        ray.shutdown()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "machine": {"cpus": args.cpus, "python": platform.python_version(), "ray": ray.__version__},
        "runs": results,
    }
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
