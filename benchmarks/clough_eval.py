"""Accuracy on the Clough–Stevenson corpus of plagiarised short answers.

All 100 files are scanned together with default settings (no hint of which file is a
source). Each of the 95 answers is scored on whether it is paired with its own
``orig_task`` file: ``cut``/``light``/``heavy`` answers should be, ``non`` answers should
not; pairs between two answers are not scored. Writes ``results/clough_eval.json``.

Relations come from aligned passages (the scan's default); ``--no-align`` measures the
document-level rules alone.

Usage: python benchmarks/clough_eval.py [--corpus DIR] [--no-semantic] [--no-align]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import polars as pl

from dedup.config import AlignConfig, RunConfig, SemanticConfig
from dedup.pipeline import scan

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _f1(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def _score_table(labels: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    """One row per answer: its category, and the pair with its own source (if any)."""
    names = pairs.select(
        pl.col("path_a").map_elements(lambda p: Path(p).name, return_dtype=pl.String).alias("x"),
        pl.col("path_b").map_elements(lambda p: Path(p).name, return_dtype=pl.String).alias("y"),
        "score",
        "relation",
        "channel",
    )
    both = pl.concat([names, names.rename({"x": "y", "y": "x"}).select(names.columns)])
    answers = labels.filter(pl.col("category") != "orig")
    joined = answers.join(both, left_on=["file", "source_file"], right_on=["x", "y"], how="left")
    return joined.select("file", "category", "plagiarised", "score", "relation", "channel")


def evaluate(table: pl.DataFrame) -> dict[str, object]:
    """F1 of 'paired with own source' against the labels; recall per category."""
    found = table["score"].is_not_null()
    plag = table["plagiarised"] == 1
    tp = int((found & plag).sum())
    fp = int((found & ~plag).sum())
    fn = int((~found & plag).sum())
    precision, recall, f1 = _f1(tp, fp, fn)
    per_cat = {
        cat: {"n": int(g.height), "paired": int(g["score"].is_not_null().sum())}
        for (cat,), g in table.group_by("category")
    }
    best = (0.0, 0.0)
    for t in sorted({0.0, *table["score"].drop_nulls().to_list()}):
        hit = found & (table["score"].fill_null(-1.0) >= t)
        f = _f1(int((hit & plag).sum()), int((hit & ~plag).sum()), int((~hit & plag).sum()))[2]
        if f > best[1]:
            best = (t, f)
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "per_category": per_cat,
        "best_threshold": best[0],
        "best_f1": best[1],
    }


def datasketch_baseline(texts: Path, labels: pl.DataFrame) -> dict[str, float]:
    """Recall of plain datasketch MinHashLSH (word 5-shingles, threshold 0.5)."""
    from datasketch import MinHash, MinHashLSH

    from dedup.text.normalize import words

    lsh = MinHashLSH(threshold=0.5, num_perm=128)
    sigs = {}
    for path in sorted(texts.iterdir()):
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("cp1252", errors="replace")
        w = words(text)
        m = MinHash(num_perm=128)
        m.update_batch([" ".join(w[i : i + 5]).encode() for i in range(max(len(w) - 4, 1))])
        sigs[path.name] = m
        lsh.insert(path.name, m)
    plag = labels.filter(pl.col("plagiarised") == 1)
    hits = sum(src in lsh.query(sigs[f]) for f, src in plag.select("file", "source_file").rows())
    return {"recall": hits / plag.height}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", type=Path, default=HERE / "data" / "clough-stevenson")
    ap.add_argument("--no-semantic", action="store_true")
    ap.add_argument(
        "--no-align",
        action="store_true",
        help="document-level relations only (no passages): the fast mode",
    )
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "clough_eval.json")
    args = ap.parse_args()
    labels = pl.read_csv(args.corpus / "labels.csv")
    cfg = RunConfig(
        align=AlignConfig(enabled=not args.no_align),
        semantic=SemanticConfig(enabled=False if args.no_semantic else None),
    )
    t0 = time.perf_counter()
    run = scan([args.corpus / "texts"], ROOT / "runs" / "clough_eval", config=cfg, overwrite=True)
    seconds = time.perf_counter() - t0
    table = _score_table(labels, run.pairs)
    result = {
        "config": cfg.fingerprint(),
        "align": not args.no_align,
        "semantic": run.manifest["stages"]["semantic"],
        "seconds": round(seconds, 2),
        **evaluate(table),
        "datasketch_lsh_0.5": datasketch_baseline(args.corpus / "texts", labels),
    }
    missed = table.filter((pl.col("plagiarised") == 1) & pl.col("score").is_null())
    wrong = table.filter((pl.col("plagiarised") == 0) & pl.col("score").is_not_null())
    result["missed"] = missed["file"].to_list()
    result["false_positives"] = wrong["file"].to_list()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
