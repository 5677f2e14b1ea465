"""Recall of the cheap first stage against exact MiniLM search, on real English text.

For each corpus, the true rewrite pairs that today's exact search over MiniLM document vectors
proposes (cosine >= 0.6, top 50) are the reference; the figure is the share of them that the
static-vector search proposes (:func:`dedup.semantic.static_candidates` with the default
settings), with both candidate counts and the documents they touch (what the transformer
must then read).

Corpora: the seeds (3 rewrite pairs), Clough–Stevenson (57 answers that reuse their source:
cut, light, heavy), both mixed into a background of ``--background`` documents of English
prose (:mod:`english_corpus`), and, when given its folder, NewsWCL50 (no rewrite pairs: the
figure there is the share of MiniLM's same-event candidates also proposed, and the counts).

Usage: ``python benchmarks/semantic_recall.py [--seeds DIR] [--newswcl50 DIR]
[--background N] [--out results/semantic_recall.json]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from english_corpus import digest, english_documents  # noqa: E402

from dedup.config import SemanticConfig  # noqa: E402
from dedup.semantic import embed, static  # noqa: E402
from dedup.semantic.search import exact_candidates, static_candidates  # noqa: E402
from dedup.text.segment import split_sentences  # noqa: E402

Pair = tuple[int, int]


def _read(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252")


def clough(root: Path) -> tuple[list[str], list[str], set[Pair]]:
    """Names, texts and (answer, source) pairs of the reusing answers."""
    names = sorted(p.name for p in (root / "texts").glob("*.txt"))
    index = {n: i for i, n in enumerate(names)}
    with (root / "labels.csv").open(newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["category"] in ("cut", "light", "heavy")]
    pairs = {tuple(sorted((index[r["file"]], index[r["source_file"]]))) for r in rows}
    return names, [_read(root / "texts" / n) for n in names], pairs  # type: ignore[return-value]


def seeds(root: Path) -> tuple[list[str], list[str], set[Pair]]:
    """The seed articles; 000, 001 and 002 are rewrites of one report, 003 is not."""
    paths = sorted(root.glob("0*.txt"))
    return [p.name for p in paths], [_read(p) for p in paths], {(0, 1), (0, 2), (1, 2)}


def newswcl50(root: Path) -> tuple[list[str], list[str], set[Pair]]:
    """Articles and their same-event pairs (independent coverage, not rewrites)."""
    names = sorted(p.name for p in (root / "texts").glob("*.txt"))
    index = {n: i for i, n in enumerate(names)}
    with (root / "pairs.csv").open(newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["label"] == "same-event"]
    pairs = {tuple(sorted((index[r["a"]], index[r["b"]]))) for r in rows}
    return names, [_read(root / "texts" / n) for n in names], pairs  # type: ignore[return-value]


def _minilm(model: Any, texts: list[str], cache: Path | None) -> np.ndarray:
    """MiniLM document vectors (today's exact search input), cached by the corpus digest."""
    path = cache / f"minilm-{digest(texts)[:16]}.npy" if cache is not None else None
    if path is not None and path.is_file():
        return np.load(path)
    sents = [[s.text for s in split_sentences(t)] for t in texts]
    vecs = embed.embed_documents(model, sents)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, vecs)
    return vecs


def _as_set(pairs: np.ndarray) -> set[Pair]:
    return {(int(a), int(b)) for a, b in pairs.tolist()}


def evaluate(
    name: str, texts: list[str], truth: set[Pair], minilm_vecs: np.ndarray
) -> dict[str, Any]:
    """Recall of the static search relative to exact MiniLM search, and the costs."""
    cfg = SemanticConfig()
    ref = _as_set(exact_candidates(minilm_vecs, threshold=0.6, k=50))
    model = static.load_static_model()
    t0 = time.perf_counter()
    dv = static.document_vectors(model, texts)
    found = static_candidates(
        dv.vectors,
        dv.split_share,
        threshold=cfg.doc_threshold,
        k=cfg.top_k,
        max_split_share=cfg.max_split_share,
    )
    seconds = time.perf_counter() - t0
    got = _as_set(found.pairs)
    reference = truth & ref
    touched = {d for p in got for d in p}
    chars = sum(len(t) for t in texts)
    return {
        "corpus": name,
        "documents": len(texts),
        "megabytes": chars / 1e6,
        "true_pairs": len(truth),
        "true_pairs_minilm_exact": len(reference),
        "true_pairs_static": len(truth & got),
        "recall_vs_minilm": len(reference & got) / len(reference) if reference else None,
        "candidates_minilm_exact": len(ref),
        "candidates_static": len(got),
        "documents_touched_minilm": len({d for p in ref for d in p}),
        "documents_touched_static": len(touched),
        "chars_touched_static": sum(len(texts[d]) for d in touched),
        "left_out_unknown_words": int(found.left_out),
        "static_seconds": seconds,
        "static_mb_per_s": chars / 1e6 / seconds if seconds else None,
    }


def _mix(*parts: tuple[list[str], set[Pair]]) -> tuple[list[str], set[Pair]]:
    texts: list[str] = []
    truth: set[Pair] = set()
    for part_texts, part_truth in parts:
        base = len(texts)
        texts.extend(part_texts)
        truth |= {(a + base, b + base) for a, b in part_truth}
    return texts, truth


def corpus_arguments(parser: argparse.ArgumentParser, out: str) -> None:
    """The corpora's options (seeds, Clough–Stevenson, NewsWCL50, the English background) and
    ``--out`` (``results/OUT`` by default), shared with ``semantic_separation.py``."""
    parser.add_argument("--seeds", type=Path, default=REPO / "seeds")
    parser.add_argument(
        "--clough", type=Path, default=REPO / "benchmarks" / "data" / "clough-stevenson"
    )
    parser.add_argument("--newswcl50", type=Path, default=None)
    parser.add_argument("--background", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=REPO / "results" / out)


def main() -> None:
    """Measure every corpus and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    corpus_arguments(parser, "semantic_recall.json")
    parser.add_argument(
        "--minilm-cache", type=Path, default=None, help="folder keeping MiniLM vectors"
    )
    args = parser.parse_args()
    model = embed.load_model(None, device="cpu")
    corpora: list[tuple[str, list[str], set[Pair]]] = []
    seed_texts: tuple[list[str], set[Pair]] = ([], set())
    if args.seeds.is_dir():
        _, texts, truth = seeds(args.seeds)
        seed_texts = (texts, truth)
        corpora.append(("seeds", texts, truth))
    _, c_texts, c_truth = clough(args.clough)
    corpora.append(("clough-stevenson", c_texts, c_truth))
    if args.newswcl50 is not None:
        _, n_texts, n_truth = newswcl50(args.newswcl50)
        corpora.append(("newswcl50 (same-event pairs)", n_texts, n_truth))
    background = english_documents(args.background)
    mixed, m_truth = _mix(seed_texts, (c_texts, c_truth), (background, set()))
    corpora.append((f"seeds + clough-stevenson + {len(background)} English", mixed, m_truth))
    results = []
    for name, texts, truth in corpora:
        row = evaluate(name, texts, truth, _minilm(model, texts, args.minilm_cache))
        print(json.dumps(row), flush=True)
        results.append(row)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "background_sha256": digest(background),
        "python": sys.version.split()[0],
        "config": SemanticConfig().__dict__,
        "results": results,
    }
    args.out.write_text(json.dumps(payload, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
