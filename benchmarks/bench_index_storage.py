"""How to store the index's lookup tables: Parquet segments + numpy, SQLite, or DuckDB.

The hot lookup of a query is its band keys (25 per document at the default threshold)
against every indexed document's. For ``--docs`` documents of random band keys (the
``(band, key, doc_id)`` rows an index holds), each contender is measured side by side in
one run:

- **parquet+numpy** (what ``dedup.index`` does): rows written sorted to Parquet; opening
  reads them into numpy arrays; a lookup is one binary search per band;
- **sqlite**: a table with a ``(band, key)`` index (WAL mode), one ``SELECT ... WHERE
  band = ? AND key = ?`` per band, or one ``IN`` query over ``(band, key)`` pairs;
- **duckdb**: a table queried with a join against the 25 probe keys.

Recorded: time to write, time to open, size on disk, and per-query latency (median and
p90 over 200 one-document queries, each probing 25 keys, half of them present). The
machine is shared (2 cores): these are wall times.

    python benchmarks/bench_index_storage.py --docs 200000

Writes ``results/index_storage.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
BANDS = 25


def rows(docs: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    keys = rng.integers(0, 2**63, size=(docs, BANDS), dtype=np.int64)
    return pl.DataFrame(
        {
            "band": np.tile(np.arange(BANDS, dtype=np.int32), docs),
            "key": keys.ravel(),
            "doc_id": np.repeat(np.arange(docs, dtype=np.int64), BANDS),
        }
    ).sort("band", "key")


def probes(frame: pl.DataFrame, n: int, seed: int = 1) -> list[np.ndarray]:
    """``n`` one-document probes: 25 keys, one per band, about half present."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        keys = rng.integers(0, 2**63, size=BANDS, dtype=np.int64)
        doc = int(rng.integers(0, frame.height // BANDS))
        present = frame.filter(pl.col("doc_id") == doc).sort("band")["key"].to_numpy()
        half = rng.random(BANDS) < 0.5
        keys[half] = present[half]
        out.append(keys)
    return out


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, value


def latency(query: Callable[[np.ndarray], int], keys: list[np.ndarray]) -> dict[str, float]:
    query(keys[0])
    times, hits = [], 0
    for k in keys:
        t0 = time.perf_counter()
        hits += query(k)
        times.append(time.perf_counter() - t0)
    times.sort()
    return {
        "median_ms": round(1000 * statistics.median(times), 4),
        "p90_ms": round(1000 * times[int(0.9 * len(times))], 4),
        "hits": hits,
    }


def parquet_numpy(frame: pl.DataFrame, work: Path, keys: list[np.ndarray]) -> dict[str, Any]:
    path = work / "bands.parquet"
    t_write, _ = timed(lambda: frame.write_parquet(path))

    def open_() -> tuple[list[np.ndarray], list[np.ndarray]]:
        table = pl.read_parquet(path)
        band = table["band"].to_numpy()
        starts = np.searchsorted(band, np.arange(BANDS + 1))
        k, d = table["key"].to_numpy(), table["doc_id"].to_numpy()
        return [k[starts[j] : starts[j + 1]] for j in range(BANDS)], [
            d[starts[j] : starts[j + 1]] for j in range(BANDS)
        ]

    t_open, (bk, bd) = timed(open_)

    def query(probe: np.ndarray) -> int:
        n = 0
        for j in range(BANDS):
            lo = np.searchsorted(bk[j], probe[j], side="left")
            hi = np.searchsorted(bk[j], probe[j], side="right")
            n += len(bd[j][lo:hi])
        return n

    return {
        "write_s": round(t_write, 3),
        "open_s": round(t_open, 3),
        "mb": round(path.stat().st_size / 1e6, 1),
        **latency(query, keys),
    }


def sqlite(frame: pl.DataFrame, work: Path, keys: list[np.ndarray]) -> dict[str, Any]:
    path = work / "bands.sqlite"

    def write() -> None:
        con = sqlite3.connect(path)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("CREATE TABLE bands (band INTEGER, key INTEGER, doc_id INTEGER)")
        con.executemany("INSERT INTO bands VALUES (?, ?, ?)", frame.iter_rows())
        con.execute("CREATE INDEX bands_key ON bands (band, key)")
        con.commit()
        con.close()

    t_write, _ = timed(write)
    t_open, con = timed(lambda: sqlite3.connect(path))

    def query(probe: np.ndarray) -> int:
        n = 0
        for j in range(BANDS):
            cur = con.execute(
                "SELECT doc_id FROM bands WHERE band = ? AND key = ?", (j, int(probe[j]))
            )
            n += len(cur.fetchall())
        return n

    out = {
        "write_s": round(t_write, 3),
        "open_s": round(t_open, 3),
        "mb": round(sum(p.stat().st_size for p in work.glob("bands.sqlite*")) / 1e6, 1),
        **latency(query, keys),
    }
    con.close()
    return out


def duckdb(frame: pl.DataFrame, work: Path, keys: list[np.ndarray]) -> dict[str, Any]:
    import duckdb as ddb

    path = work / "bands.duckdb"

    def write() -> None:
        con = ddb.connect(str(path))
        con.register("frame", frame.to_arrow())
        con.execute("CREATE TABLE bands AS SELECT * FROM frame")
        con.close()

    t_write, _ = timed(write)
    t_open, con = timed(lambda: ddb.connect(str(path), read_only=True))

    def query(probe: np.ndarray) -> int:
        pairs = ", ".join(f"({j}, {int(probe[j])})" for j in range(BANDS))
        sql = f"SELECT b.doc_id FROM bands b JOIN (VALUES {pairs}) p(band, key) USING (band, key)"
        return len(con.execute(sql).fetchall())

    out = {
        "write_s": round(t_write, 3),
        "open_s": round(t_open, 3),
        "mb": round(path.stat().st_size / 1e6, 1),
        **latency(query, keys),
    }
    con.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--work", type=Path, default=Path("/tmp/dedup-bench-storage"))
    parser.add_argument("--results", type=Path, default=ROOT / "results")
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    frame = rows(args.docs)
    keys = probes(frame, args.queries)
    result: dict[str, Any] = {"docs": args.docs, "rows": frame.height, "queries": args.queries}
    for name, fn in (("parquet+numpy", parquet_numpy), ("sqlite", sqlite), ("duckdb", duckdb)):
        result[name] = fn(frame, args.work, keys)
        print(name, result[name], flush=True)
    hits = {result[n]["hits"] for n in ("parquet+numpy", "sqlite", "duckdb")}
    result["same_answers"] = len(hits) == 1
    result["machine"] = "2 cores, shared with other work"
    (args.results / "index_storage.json").write_text(json.dumps(result, indent=2) + "\n")
    shutil.rmtree(args.work, ignore_errors=True)


if __name__ == "__main__":
    main()
