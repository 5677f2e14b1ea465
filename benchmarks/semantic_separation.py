"""Can the cheap stage tell a rewrite from independent coverage? Static cosines by pair class.

The semantic channel's first stage proposes candidate pairs by the centred cosine of static
document vectors; every document in a candidate pair is then read by the transformer. On a news
corpus where every article shares its story with others, the stage saves transformer time only
if independent reports of one story sit below the rewrites of a report.

This script puts the corpora in one mixture (the seeds, Clough–Stevenson, NewsWCL50 when given,
and ``--background`` documents of English prose from :mod:`english_corpus`), so the vectors are
centred on one corpus mean as in a scan, and reports, per pair class, the centred static cosine's
quantiles and, for a grid of thresholds, the share of each class kept and the share of the news
articles' text that the transformer would still read:

- rewrites: the seeds' three rewrite pairs and Clough–Stevenson's cut, light and heavy answers
  with their source;
- independent writing on the same subject: seed 003 with each rewrite, Clough–Stevenson's
  ``non`` answers with their source, NewsWCL50's same-event pairs;
- unrelated: NewsWCL50's different-event pairs.

Usage: ``python benchmarks/semantic_separation.py [--newswcl50 DIR] [--background N]
[--out results/semantic_separation.json]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from english_corpus import digest, english_documents  # noqa: E402
from semantic_recall import Pair, clough, corpus_arguments, newswcl50, seeds  # noqa: E402

from dedup.semantic import static  # noqa: E402
from dedup.semantic.search import normalize_rows  # noqa: E402

THRESHOLDS = (0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85)
QUANTILES = (0.0, 0.02, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0)
#: Share of the rewrites the candidate stage must keep (the issue's recall target).
RECALL = 0.98


def _clough_non(root: Path) -> set[Pair]:
    """(answer, source) pairs of the answers written without the source."""
    names = sorted(p.name for p in (root / "texts").glob("*.txt"))
    index = {n: i for i, n in enumerate(names)}
    with (root / "labels.csv").open(newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["category"] == "non"]
    return {tuple(sorted((index[r["file"]], index[r["source_file"]]))) for r in rows}  # type: ignore[misc]


def _shift(pairs: set[Pair], base: int) -> list[Pair]:
    return sorted((a + base, b + base) for a, b in pairs)


def _summary(cos: np.ndarray) -> dict[str, Any]:
    return {
        "pairs": int(cos.size),
        "quantiles": {str(q): round(float(np.quantile(cos, q)), 4) for q in QUANTILES},
    }


def _news_read(cos: np.ndarray, pairs: list[Pair], sizes: dict[int, int], t: float) -> float:
    """Share of the news articles' characters in at least one pair at or above ``t``."""
    touched = {d for (a, b), c in zip(pairs, cos, strict=True) if c >= t for d in (a, b)}
    return sum(sizes[d] for d in touched) / sum(sizes.values())


def main() -> None:
    """Measure and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    corpus_arguments(parser, "semantic_separation.json")
    args = parser.parse_args()
    texts: list[str] = []
    classes: dict[str, list[Pair]] = {}
    _, s_texts, s_truth = seeds(args.seeds)
    classes["rewrites: seeds"] = sorted(s_truth)
    classes["independent: seed 003 with each rewrite"] = [(0, 3), (1, 3), (2, 3)]
    texts += s_texts
    _, c_texts, c_truth = clough(args.clough)
    classes["rewrites: Clough-Stevenson cut, light, heavy"] = _shift(c_truth, len(texts))
    classes["independent: Clough-Stevenson non"] = _shift(_clough_non(args.clough), len(texts))
    texts += c_texts
    news: list[Pair] = []
    sizes: dict[int, int] = {}
    if args.newswcl50 is not None:
        _, n_texts, n_same = newswcl50(args.newswcl50)
        base = len(texts)
        same = _shift(n_same, base)
        n = len(n_texts)
        news = [(base + i, base + j) for i in range(n) for j in range(i + 1, n)]
        classes["independent: NewsWCL50 same-event"] = same
        classes["unrelated: NewsWCL50 different-event"] = sorted(set(news) - set(same))
        sizes = {base + i: len(t) for i, t in enumerate(n_texts)}
        texts += n_texts
    background = english_documents(args.background)
    texts += background
    dv = static.document_vectors(static.load_static_model(), texts)
    x = normalize_rows(dv.vectors)
    x = normalize_rows(x - x.mean(axis=0))

    def cosines(pairs: list[Pair]) -> np.ndarray:
        return np.array([float(x[a] @ x[b]) for a, b in pairs], dtype=np.float64)

    values = {name: cosines(pairs) for name, pairs in classes.items()}
    rewrites = np.concatenate([v for k, v in values.items() if k.startswith("rewrites")])
    grid = []
    for t in THRESHOLDS:
        row: dict[str, Any] = {"threshold": t}
        row.update({name: round(float((v >= t).mean()), 4) for name, v in values.items()})
        row["rewrites kept"] = round(float((rewrites >= t).mean()), 4)
        if news:
            row["news text read"] = round(_news_read(cosines(news), news, sizes, t), 4)
        grid.append(row)
    best = max((t for t in THRESHOLDS if (rewrites >= t).mean() >= RECALL), default=None)
    payload = {
        "background_documents": len(background),
        "background_sha256": digest(background),
        "python": sys.version.split()[0],
        "recall_target": RECALL,
        "classes": {name: _summary(v) for name, v in values.items()},
        "thresholds": grid,
        "highest_threshold_keeping_recall": best,
    }
    print(json.dumps(payload, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
