"""The index against the batch scan: build, add and query costs, side by side in one run.

Two cases, each made from a synthetic corpus (``dedup.synth``, one Parquet file with an
``id`` column and a truth table of planted pairs), scanned and indexed with
``--no-semantic`` (the embedding model sees synthetic pseudo-words as alike):

``--case synth`` (default): 10,000 documents split into 8,000 indexed, 1,000 added and
1,000 queries that are the derived side of planted pairs whose source is indexed. Every
command runs as ``python -m dedup ...`` in a child process (process start included):
``index build`` of the 8,000; ``scan`` of the 1,000 to add, alone; ``index add`` of them;
``query --json`` of the 1,000 queries (per document: the wall time / 1,000). Reports
whether every planted source was found.

``--case scale --docs N``: the corpus of ``bench_scaling.py`` (made under ``--corpora``,
reused when there): the first N - 10,000 documents indexed, the last 10,000 scanned alone
and then added; then, in one warm process, 200 one-document queries (median, p90), with
the index opened once. Index size on disk and peak RSS (the ``VmHWM`` of each child, read
by the child as it exits) are recorded.

    python benchmarks/bench_index.py
    python benchmarks/bench_index.py --case scale --docs 1000000 --corpora /tmp/dedup-scale

Writes ``results/index_bench.json`` (rows merged by case and size). The machine is shared
with other work: figures are wall times on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_scaling import corpus  # noqa: E402

LEXICAL = ["--no-semantic"]


# Runs ARGS (``-m MODULE ...`` or ``-c CODE ...``) and, at exit, writes its own peak RSS
# (VmHWM of the process after exec) to stderr. The child's ``ru_maxrss`` would not do: it
# counts the parent's pages at the fork, and this process holds the corpus's tables.
PEAK = """
import atexit, runpy, sys
def _peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            sys.stderr.write(f"\\n@peak_kb {line.split()[1]}\\n")
atexit.register(_peak)
flag, target, *rest = sys.argv[1:]
sys.argv = [target, *rest]
if flag == "-m":
    runpy.run_module(target, run_name="__main__", alter_sys=True)
else:
    sys.argv[0] = "-c"
    exec(compile(target, "<bench>", "exec"), {"__name__": "__main__"})
"""


def run(args: list[str]) -> dict[str, Any]:
    """Run ``python ARGS`` in a child: wall seconds, its peak RSS (``VmHWM``), stdout."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", PEAK, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
    )
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{args} failed: {err.decode()[-2000:]}")
    peaks = [line.split()[1] for line in err.decode().splitlines() if line.startswith("@peak_kb")]
    return {
        "seconds": round(wall, 3),
        "peak_rss_mb": round(int(peaks[-1]) * 1024 / 1e6, 1) if peaks else None,
        "stdout": out,
    }


def dedup(*args: str | Path) -> list[str]:
    return ["-m", "dedup", *[str(a) for a in args]]


def size_mb(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6, 1)


def split_synth(src: Path, work: Path) -> dict[str, Any]:
    """8,000 indexed / 1,000 added / 1,000 queries with their planted sources indexed."""
    docs = pl.read_parquet(src / "docs.parquet")
    truth = pl.read_parquet(src / "truth.parquet").select("id_a", "id_b", "kind")
    chosen: dict[int, int] = {}
    sources: set[int] = set()
    for a, b, _ in truth.sort("id_b").iter_rows():
        if len(chosen) == 1000:
            break
        if b in chosen or b in sources or a in chosen:
            continue
        chosen[b] = a
        sources.add(a)
    queries = docs.filter(pl.col("id").is_in(list(chosen)))
    rest = docs.filter(~pl.col("id").is_in(list(chosen)))
    must = rest.filter(pl.col("id").is_in(list(sources)))
    other = rest.filter(~pl.col("id").is_in(list(sources)))
    index = pl.concat([must, other.head(8000 - must.height)]).sort("id")
    added = other.slice(8000 - must.height, 1000)
    for name, frame in (("index", index), ("add", added), ("queries", queries)):
        frame.write_parquet(work / f"{name}.parquet")
    planted = truth.filter(pl.col("id_b").is_in(list(chosen)) & pl.col("id_a").is_in(list(sources)))
    planted = planted.filter(pl.col("id_a").is_in(index["id"].implode()))
    return {"planted": planted, "n": (index.height, added.height, queries.height)}


def warm_up(work: Path, src: Path) -> None:
    """Fill numba's kernel cache so no measured child compiles."""
    small = work / "warm.parquet"
    pl.scan_parquet(src / "docs.parquet").head(500).collect().write_parquet(small)
    run(dedup("scan", small, "--out", work / "warm-run", "--overwrite", "-q", *LEXICAL))
    run(dedup("index", "build", small, "--index", work / "warm-ix", "--overwrite", "-q", *LEXICAL))
    run(dedup("index", "add", small, "--index", work / "warm-ix", "-q"))
    run(dedup("query", "--index", work / "warm-ix", small, "--id-column", "id", "--json"))


def case_synth(work: Path, corpora: Path) -> dict[str, Any]:
    src = corpus(corpora, 10_000, 2)
    parts = split_synth(src, work)
    warm_up(work, src)
    ix = work / "ix"
    shutil.rmtree(ix, ignore_errors=True)
    idcol = ["--id-column", "id"]
    build = run(
        dedup("index", "build", work / "index.parquet", "--index", ix, "-q", *idcol, *LEXICAL)
    )
    scan_alone = run(
        dedup(
            "scan",
            work / "add.parquet",
            "--out",
            work / "add-run",
            "--overwrite",
            "-q",
            *idcol,
            *LEXICAL,
        )
    )
    added = run(dedup("index", "add", work / "add.parquet", "--index", ix, "-q", *idcol))
    query = run(dedup("query", "--index", ix, work / "queries.parquet", "--json", *idcol))
    rows = [
        json.loads(line) for line in query["stdout"].decode().splitlines() if line.startswith("{")
    ]
    found = {(int(r["match"]), int(r["query"])) for r in rows}
    batch = run(
        dedup("scan", work / "index.parquet", work / "queries.parquet", "--out", work / "batch",
              "--overwrite", "-q", *idcol, *LEXICAL)
    )  # fmt: skip
    by_scan = _scan_pairs(work / "batch", parts["n"][0])
    planted = parts["planted"]
    want = {(int(a), int(b)) for a, b in planted.select("id_a", "id_b").iter_rows()}
    per_query = {b for _, b in want}
    hit_queries = {b for a, b in want if (a, b) in found}
    n_q = parts["n"][2]
    return {
        "case": "synth",
        "docs": sum(parts["n"]),
        "indexed": parts["n"][0],
        "added": parts["n"][1],
        "queries": n_q,
        "build": _clean(build),
        "scan_of_added_alone": _clean(scan_alone),
        "add": _clean(added),
        "add_over_scan": round(added["seconds"] / scan_alone["seconds"], 2),
        "query": _clean(query),
        "query_ms_per_doc": round(1000 * query["seconds"] / n_q, 2),
        "planted_pairs": len(want),
        "planted_pairs_found": len(want & found),
        "queries_with_source_found": len(hit_queries),
        "queries_with_planted_source": len(per_query),
        "matches": len(rows),
        "batch_scan_of_index_and_queries": _clean(batch),
        "batch_scan_planted_pairs_found": len(want & by_scan),
        "query_pairs_equal_batch_scan_pairs": found == by_scan,
        "index_mb": size_mb(ix),
    }


def _scan_pairs(run_dir: Path, n_index: int) -> set[tuple[int, int]]:
    """(indexed id, query id) of a scan's pairs between the two parts."""
    docs = pl.read_parquet(run_dir / "documents.parquet").select("doc_id", "external_id")
    ext = dict(docs.iter_rows())
    pairs = pl.read_parquet(run_dir / "pairs.parquet")
    cross = pairs.filter((pl.col("doc_a") < n_index) & (pl.col("doc_b") >= n_index))
    return {(int(ext[a]), int(ext[b])) for a, b in cross.select("doc_a", "doc_b").iter_rows()}


def _clean(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != "stdout"}


WARM = """
import json, sys, time, statistics
import polars as pl
from dedup.index import Index
t0 = time.perf_counter()
ix = Index.open(sys.argv[1])
opened = time.perf_counter() - t0
texts = pl.read_parquet(sys.argv[2])["text"].to_list()
ix.query(texts[:2])  # first call: lazy imports
times, matched = [], 0
for t in texts:
    t1 = time.perf_counter()
    res = ix.query([t])
    times.append(time.perf_counter() - t1)
    matched += res.matches.height > 0
times.sort()
print(json.dumps({"open_s": round(opened, 3), "n": len(times),
    "median_ms": round(1000 * statistics.median(times), 2),
    "p90_ms": round(1000 * times[int(0.9 * len(times))], 2),
    "max_ms": round(1000 * times[-1], 2), "queries_with_a_match": matched}))
"""


def case_scale(work: Path, corpora: Path, docs: int) -> dict[str, Any]:
    src = corpus(corpora, docs, 2)
    warm_up(work, src)
    table = pl.scan_parquet(src / "docs.parquet")
    n_add = 10_000
    table.head(docs - n_add).sink_parquet(work / "index.parquet")
    table.tail(n_add).sink_parquet(work / "add.parquet")
    truth = pl.read_parquet(src / "truth.parquet")
    q_ids = truth.filter(pl.col("id_b") < docs - n_add)["id_b"].unique().sort().head(200)
    table.filter(pl.col("id").is_in(q_ids.implode())).collect().write_parquet(
        work / "queries.parquet"
    )
    ix = work / "ix"
    shutil.rmtree(ix, ignore_errors=True)
    idcol = ["--id-column", "id"]
    build = run(
        dedup("index", "build", work / "index.parquet", "--index", ix, "-q", *idcol, *LEXICAL)
    )
    size_built = size_mb(ix)
    scan_alone = run(
        dedup(
            "scan",
            work / "add.parquet",
            "--out",
            work / "add-run",
            "--overwrite",
            "-q",
            *idcol,
            *LEXICAL,
        )
    )
    added = run(dedup("index", "add", work / "add.parquet", "--index", ix, "-q", *idcol))
    warm = run(["-c", WARM, str(ix), str(work / "queries.parquet")])
    return {
        "case": "scale",
        "docs": docs,
        "indexed": docs - n_add,
        "added": n_add,
        "build": _clean(build),
        "index_mb_after_build": size_built,
        "scan_of_added_alone": _clean(scan_alone),
        "add": _clean(added),
        "add_over_scan": round(added["seconds"] / scan_alone["seconds"], 2),
        "index_mb": size_mb(ix),
        "warm_query": {**json.loads(warm["stdout"]), "peak_rss_mb": warm["peak_rss_mb"]},
    }


def add_again(work: Path) -> dict[str, Any]:
    """The scale case's scan-alone and add, again, on the index as built."""
    src, again = work / "ix", work / "ix-again"
    shutil.rmtree(again, ignore_errors=True)
    manifest = json.loads((src / "index.json").read_text())
    first = manifest["segments"][0]
    (again / "segments").mkdir(parents=True)
    subprocess.run(
        ["cp", "-al", str(src / "segments" / first["name"]), str(again / "segments")], check=True
    )
    manifest.update(segments=[first], n_docs=first["n_docs"])
    (again / "index.json").write_text(json.dumps(manifest))
    idcol = ["--id-column", "id"]
    scan_alone = run(
        dedup("scan", work / "add.parquet", "--out", work / "add-run", "--overwrite", "-q",
              *idcol, *LEXICAL)
    )  # fmt: skip
    added = run(dedup("index", "add", work / "add.parquet", "--index", again, "-q", *idcol))
    shutil.rmtree(again, ignore_errors=True)
    return {
        "scan_of_added_alone": _clean(scan_alone),
        "add": _clean(added),
        "add_over_scan": round(added["seconds"] / scan_alone["seconds"], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", choices=["synth", "scale"], default="synth")
    parser.add_argument("--docs", type=int, default=100_000, help="scale case: corpus size")
    parser.add_argument("--corpora", type=Path, default=Path("/tmp/dedup-bench-corpora"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/dedup-bench-index"))
    parser.add_argument("--results", type=Path, default=ROOT / "results")
    parser.add_argument(
        "--add-only",
        action="store_true",
        help="scale case: time the scan of the 10,000 alone and their add again, on the built "
        "index left by an earlier run (its first segment, hard-linked)",
    )
    parser.add_argument(
        "--warm-only",
        action="store_true",
        help="scale case: measure the warm queries again on the index left by an earlier run",
    )
    args = parser.parse_args()
    work = args.work / f"{args.case}-{args.docs if args.case == 'scale' else 10_000}"
    work.mkdir(parents=True, exist_ok=True)
    args.corpora.mkdir(parents=True, exist_ok=True)
    out = args.results / "index_bench.json"
    rows = json.loads(out.read_text()) if out.exists() else []
    if args.warm_only:
        row = next(r for r in rows if (r["case"], r["docs"]) == ("scale", args.docs))
        warm = run(["-c", WARM, str(work / "ix"), str(work / "queries.parquet")])
        row["warm_query"] = {**json.loads(warm["stdout"]), "peak_rss_mb": warm["peak_rss_mb"]}
        print(json.dumps(row["warm_query"], indent=2))
        out.write_text(json.dumps(rows, indent=2) + "\n")
        return
    if args.add_only:
        row = next(r for r in rows if (r["case"], r["docs"]) == ("scale", args.docs))
        row.update(add_again(work))
        print(json.dumps({k: row[k] for k in ("scan_of_added_alone", "add", "add_over_scan")}))
        out.write_text(json.dumps(rows, indent=2) + "\n")
        return
    if args.case == "synth":
        row = case_synth(work, args.corpora)
    else:
        row = case_scale(work, args.corpora, args.docs)
    row["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(), "shared": True}
    print(json.dumps(row, indent=2))
    rows = [r for r in rows if (r["case"], r["docs"]) != (row["case"], row["docs"])] + [row]
    out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
