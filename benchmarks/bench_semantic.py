"""Throughput of the semantic channel: whole `dedup scan` processes, semantic on and off,
side by side in one run, on realistic English text and on a `dedup synth` corpus.

Cases (each scanned with ``--no-align``, the channel on by default and with ``--no-semantic``;
with ``--aligned`` also the whole default scan, alignment on):

- ``synth``: a ``dedup synth`` corpus of ``--synth-docs`` documents (pseudo-words: the cheap
  stage must leave it out, so the channel costs little).
- ``english``: ``--english-docs`` documents of English prose (:mod:`english_corpus`) with the
  seeds and Clough–Stevenson mixed in.
- ``news``: every ``.txt`` under ``--news DIR`` (e.g. a folder of news articles), when given.
- ``big``: one document of ``--big-mb`` MB of English prose plus a short excerpt of it.

Figures: wall seconds of the process, documents/s and MB/s, the ratio semantic/lexical, and
the manifest's ``stages.semantic`` (what ran, why, candidates, verified, accepted).

Usage: ``python benchmarks/bench_semantic.py [--synth-docs 10000] [--english-docs 1000]
[--news DIR] [--big-mb 200] [--aligned] [--float32] [--out results/semantic_throughput.json]``. The
machine may be shared: the load average is recorded with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

from english_corpus import digest, english_documents  # noqa: E402


def _scan(inputs: list[Path], out: Path, *flags: str) -> dict[str, Any]:
    """Run one scan as its own process; wall seconds and the manifest's semantic notes."""
    cmd = [sys.executable, "-m", "dedup", "scan", *map(str, inputs), "--out", str(out), "-q"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    t0 = time.perf_counter()
    proc = subprocess.run([*cmd, *flags], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"wall_s": wall, "error": proc.stderr.strip()[-500:]}
    manifest = json.loads((out / "manifest.json").read_text())
    return {
        "wall_s": round(wall, 2),
        "semantic": manifest.get("stages", {}).get("semantic"),
        "seconds": manifest.get("seconds"),
        "pairs": manifest.get("counts", {}).get("pairs"),
    }


#: The scans of each case: ``--no-align`` with the channel off and on, and, with
#: ``--aligned``, the whole default scan (alignment on: passages decide the relations).
RUNS = (("lexical_only", ("--no-align", "--no-semantic")), ("default", ("--no-align",)))
ALIGNED = ("default_aligned", ())


#: With ``--float32``, the same default scans with the transformer forced to float32 (the
#: default takes bfloat16 where the CPU computes it natively).
FLOAT32 = (
    ("default_float32", ("--no-align", "--precision", "float32")),
    ("default_aligned_float32", ("--precision", "float32")),
)


def _runs(aligned: bool, float32: bool) -> list[tuple[str, tuple[str, ...]]]:
    runs = [*RUNS, ALIGNED] if aligned else list(RUNS)
    if float32:
        runs += [FLOAT32[0], *([FLOAT32[1]] if aligned else [])]
    return runs


def _case(
    name: str,
    inputs: list[Path],
    n_docs: int,
    n_bytes: int,
    work: Path,
    runs: list[tuple[str, tuple[str, ...]]],
) -> dict[str, Any]:
    row: dict[str, Any] = {"case": name, "documents": n_docs, "megabytes": n_bytes / 1e6}
    for label, flags in runs:
        out = work / f"{name}-{label}"
        shutil.rmtree(out, ignore_errors=True)
        res = _scan(inputs, out, *flags)
        res["docs_per_s"] = round(n_docs / res["wall_s"], 1)
        res["mb_per_s"] = round(n_bytes / 1e6 / res["wall_s"], 3)
        row[label] = res
        print(name, label, json.dumps(res)[:400], flush=True)
    row["ratio_default_to_lexical"] = round(
        row["default"]["wall_s"] / row["lexical_only"]["wall_s"], 2
    )
    for label in ("default", "default_aligned"):
        if f"{label}_float32" in row and label in row:
            row[f"ratio_{label}_float32_to_auto"] = round(
                row[f"{label}_float32"]["wall_s"] / row[label]["wall_s"], 2
            )
    return row


def _write_docs(folder: Path, texts: list[str]) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    for i, t in enumerate(texts):
        data = t.encode()
        (folder / f"{i:06d}.txt").write_bytes(data)
        total += len(data)
    return total


def _synth(work: Path, n_docs: int) -> tuple[list[Path], int, int]:
    folder = work / "synth"
    shutil.rmtree(folder, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run(
        [sys.executable, "-m", "dedup", "synth", str(folder), "--docs", str(n_docs)],
        env=env,
        check=True,
        capture_output=True,
    )
    files = [p for p in folder.rglob("*") if p.is_file() and p.suffix in (".txt", ".jsonl")]
    size = sum(p.stat().st_size for p in files)
    return [folder / "docs"] if (folder / "docs").is_dir() else files, n_docs, size


def _english(work: Path, n_docs: int) -> tuple[list[Path], int, int, str]:
    texts = english_documents(n_docs)
    for extra in (REPO / "seeds", REPO / "benchmarks" / "data" / "clough-stevenson" / "texts"):
        texts += [p.read_bytes().decode("utf-8", "replace") for p in sorted(extra.glob("*.txt"))]
    folder = work / "english"
    shutil.rmtree(folder, ignore_errors=True)
    size = _write_docs(folder, texts)
    return [folder], len(texts), size, digest(texts)


def _big(work: Path, megabytes: int, english: list[str]) -> tuple[list[Path], int, int]:
    folder = work / "big"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    target = megabytes * 1_000_000
    written = 0
    with (folder / "big.txt").open("w", encoding="utf-8") as fh:
        i = 0
        while written < target:
            text = english[i % len(english)] + "\n\n"
            fh.write(text)
            written += len(text.encode())
            i += 1
    excerpt = english[len(english) // 2]
    (folder / "excerpt.txt").write_text(excerpt, encoding="utf-8")
    return [folder], 2, written + len(excerpt.encode())


def main() -> None:
    """Run every case and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--synth-docs", type=int, default=10_000)
    parser.add_argument("--english-docs", type=int, default=1_000)
    parser.add_argument("--news", type=Path, default=None)
    parser.add_argument("--big-mb", type=int, default=200)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=REPO / "results" / "semantic_throughput.json")
    parser.add_argument(
        "--aligned", action="store_true", help="also time the whole default scan (alignment on)"
    )
    parser.add_argument(
        "--float32",
        action="store_true",
        help="also time the default scans with --precision float32, side by side",
    )
    args = parser.parse_args()
    runs = _runs(args.aligned, args.float32)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-semantic-"))
    rows: list[dict[str, Any]] = []
    meta: dict[str, Any] = {"cpus": os.cpu_count(), "load_before": os.getloadavg()}
    if args.synth_docs:
        inputs, n, size = _synth(work, args.synth_docs)
        rows.append(_case(f"synth {n}", inputs, n, size, work, runs))
    if args.english_docs:
        inputs, n, size, sha = _english(work, args.english_docs)
        meta["english_sha256"] = sha
        rows.append(_case(f"english {n}", inputs, n, size, work, runs))
    if args.news is not None:
        files = sorted(args.news.rglob("*.txt"))
        size = sum(p.stat().st_size for p in files)
        rows.append(_case(f"news {len(files)}", [args.news], len(files), size, work, runs))
    if args.big_mb:
        inputs, n, size = _big(work, args.big_mb, english_documents(max(args.english_docs, 300)))
        name = f"one {args.big_mb} MB document + excerpt"
        rows.append(_case(name, inputs, n, size, work, runs))
    meta["load_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "results": rows}, indent=2) + "\n")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
