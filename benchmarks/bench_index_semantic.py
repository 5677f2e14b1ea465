"""One-document ``dedup query`` runs with the semantic channel on, with and without the index's
store of sentence vectors, side by side.

A query verifies its semantic candidates with the transformer's vectors of their sentences.
The indexed documents' vectors are kept in the index (``INDEX/sentence-vectors/``) by the
first query that encodes them; this measures what that saves a later query.

Of the corpus's files (sorted by name), every ``--every``-th is a query (up to
``--queries`` of them) and the rest are indexed (``dedup index build --semantic``). Then, for
each query in turn, as separate ``python -m dedup query --json`` processes (process start
included):

- **without store**: the store folder is removed first, so the query encodes every candidate;
- **with store**: the same query again, which finds its candidates' vectors stored.

The two runs of a query are alternated, so the machine's load falls on both alike. The
answers of the two are compared (matches and relations equal, scores within 1e-5).

    python benchmarks/bench_index_semantic.py PATH/TO/newswcl50/texts

Writes ``results/index_query_semantic.json`` (``--results`` to write elsewhere). The machine
is shared with other work: figures are wall times on 2 cores.
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
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STORE = "sentence-vectors"


def _run(args: list[str]) -> tuple[float, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "dedup", *args], capture_output=True, text=True, env=env
    )
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"dedup {' '.join(args[:2])} failed ({done.returncode}): {done.stderr}")
    return wall, done.stdout


def _matches(stdout: str) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    return sorted(rows, key=lambda r: r["match_id"])


def _same(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    if [(r["match_id"], r["relation"]) for r in a] != [(r["match_id"], r["relation"]) for r in b]:
        return False
    return all(abs(x["score"] - y["score"]) <= 1e-5 for x, y in zip(a, b, strict=True))


def _size(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*.npz")] if folder.is_dir() else []
    return len(files), sum(p.stat().st_size for p in files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path, help="a folder of text files (e.g. NewsWCL50)")
    parser.add_argument("--every", type=int, default=5, help="every n-th file is a query")
    parser.add_argument("--queries", type=int, default=10)
    parser.add_argument("--work", type=Path, default=Path("/tmp/dedup-bench-index-semantic"))
    parser.add_argument("--results", type=Path, default=ROOT / "results")
    args = parser.parse_args()

    files = sorted(p for p in args.corpus.iterdir() if p.is_file())
    picked = files[args.every - 1 :: args.every][: args.queries]
    indexed = [p for p in files if p not in picked]
    if not picked or not indexed:
        raise SystemExit(f"{args.corpus}: too few files to split into an index and queries")
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    index = args.work / "ix"
    build_s, _ = _run(
        ["index", "build", *map(str, indexed), "--index", str(index), "--semantic", "--quiet"]
    )
    rows = []
    for q in picked:
        shutil.rmtree(index / STORE, ignore_errors=True)
        cold_s, cold = _run(["query", "--index", str(index), str(q), "--json"])
        warm_s, warm = _run(["query", "--index", str(index), str(q), "--json"])
        rows.append(
            {
                "query": q.name,
                "chars": len(q.read_text(encoding="utf-8", errors="replace")),
                "matches": len(_matches(cold)),
                "without_store_s": round(cold_s, 3),
                "with_store_s": round(warm_s, 3),
                "same_answer": _same(_matches(cold), _matches(warm)),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    files_kept, bytes_kept = _size(index / STORE)
    cold_med = statistics.median(r["without_store_s"] for r in rows)
    warm_med = statistics.median(r["with_store_s"] for r in rows)
    out = {
        "corpus": args.corpus.name if args.corpus.name != "texts" else args.corpus.parent.name,
        "indexed": len(indexed),
        "indexed_chars": sum(len(p.read_text(encoding="utf-8", errors="replace")) for p in indexed),
        "queries": len(rows),
        "build_s": round(build_s, 3),
        "query_without_store_median_s": round(cold_med, 3),
        "query_with_store_median_s": round(warm_med, 3),
        "speedup_median": round(cold_med / warm_med, 2),
        "all_answers_same": all(r["same_answer"] for r in rows),
        "store_files_after_last_query": files_kept,
        "store_bytes_after_last_query": bytes_kept,
        "rows": rows,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "shared": True},
    }
    args.results.mkdir(parents=True, exist_ok=True)
    path = args.results / "index_query_semantic.json"
    path.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in out.items() if k != "rows"}, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
