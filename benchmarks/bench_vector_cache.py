"""Whole default scans (semantic channel on, alignment on) without and with
``--vector-cache``, side by side in one run.

For each corpus, three ``dedup scan`` processes in turn: without the option, with an empty
cache folder (the first scan, which fills it) and again with the filled folder (a rescan, as
when a user tries other settings on the same corpus). The three scans' tables are compared:
pairs, passages, alignments and clusters equal, float columns within 1e-5.

Corpora: the English corpus of ``english_corpus.py`` (``--english-docs`` documents of
docstring prose, plus the seeds and Clough–Stevenson, composed here), and with ``--news DIR``
a folder of news articles (NewsWCL50's ``texts``).

    python benchmarks/bench_vector_cache.py --news PATH/TO/newswcl50/texts

Writes ``results/vector_cache.json`` (``--out`` to write elsewhere). The machine is shared
with other work: compare figures within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import polars as pl

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_semantic import _english, _scan  # noqa: E402

TABLES = ("pairs", "passages", "alignments", "clusters")


def _same_tables(one: Path, two: Path) -> bool:
    for name in TABLES:
        a, b = pl.read_parquet(one / f"{name}.parquet"), pl.read_parquet(two / f"{name}.parquet")
        floats = [c for c, t in a.schema.items() if t in (pl.Float32, pl.Float64)]
        if not a.drop(floats).equals(b.drop(floats)):
            return False
        for c in floats:
            diff = (a[c] - b[c]).abs().max()
            if diff is not None and float(diff) > 1e-5:
                return False
    return True


def _case(name: str, inputs: list[Path], work: Path) -> dict[str, Any]:
    cache = work / f"{name}-cache"
    shutil.rmtree(cache, ignore_errors=True)
    row: dict[str, Any] = {"case": name}
    outs = {}
    for label, flags in (
        ("without_cache", ()),
        ("first_with_cache", ("--vector-cache", str(cache))),
        ("rescan_with_cache", ("--vector-cache", str(cache))),
    ):
        out = work / f"{name}-{label}"
        shutil.rmtree(out, ignore_errors=True)
        res = _scan(inputs, out, *flags)
        row[label] = res
        outs[label] = out
        print(name, label, json.dumps(res)[:300], flush=True)
    row["cache_megabytes"] = round(sum(p.stat().st_size for p in cache.rglob("*.npz")) / 1e6, 2)
    row["rescan_speedup"] = round(
        row["without_cache"]["wall_s"] / row["rescan_with_cache"]["wall_s"], 2
    )
    row["same_tables"] = _same_tables(
        outs["without_cache"], outs["first_with_cache"]
    ) and _same_tables(outs["without_cache"], outs["rescan_with_cache"])
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--english-docs", type=int, default=1_000)
    parser.add_argument("--news", type=Path, default=None)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=REPO / "results" / "vector_cache.json")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    work = args.work or Path(tempfile.mkdtemp(prefix="dedup-vector-cache-"))
    rows = []
    if args.news is not None:
        rows.append(_case("newswcl50", [args.news], work))
    inputs, n_docs, n_bytes, sha = _english(work, args.english_docs)
    english = _case("english", inputs, work)
    english.update(documents=n_docs, megabytes=round(n_bytes / 1e6, 2), english_sha256=sha)
    rows.append(english)
    result = {
        "rows": rows,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "shared": True},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
