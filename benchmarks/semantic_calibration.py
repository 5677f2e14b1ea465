"""Calibrate the semantic channel on the seeds and on Clough–Stevenson.

Scans the 100 Clough–Stevenson texts together, with no hints, through the semantic channel alone
(document vectors → candidate pairs → sentence verification) and reports, per category, how the
answers score against their own source and whether they are paired with it. Also compares three
document representations and times the encoder. Writes ``results/semantic_calibration.json``.

Usage: ``python benchmarks/semantic_calibration.py [CORPUS_DIR]`` (default:
``../shared/corpora/clough-stevenson`` relative to the repository). Skips cleanly when the corpus
or the semantic extra is absent.
"""

from __future__ import annotations

import csv
import json
import re
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dedup.config import SemanticConfig  # noqa: E402
from dedup.semantic import embed  # noqa: E402
from dedup.semantic.search import semantic_candidates, sentence_similarity  # noqa: E402

CATEGORIES = ("cut", "light", "heavy", "non")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")


def read_text(path: Path) -> str:
    """Decode UTF-8 (with or without BOM), falling back to Windows-1252."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252")


def split_sentences(text: str) -> list[str]:
    """Plain regex splitter (stands in for dedup.text.segment)."""
    out: list[str] = []
    for line in text.splitlines():
        out.extend(s.strip() for s in _SENTENCE_END.split(line.strip()) if s.strip())
    return out


def load_corpus(root: Path) -> tuple[list[str], list[list[str]], list[dict[str, str]]]:
    """File names, their sentences, and the answer rows of labels.csv."""
    with (root / "labels.csv").open(newline="", encoding="utf-8") as fh:
        labels = [r for r in csv.DictReader(fh) if r["category"] in CATEGORIES]
    names = sorted(p.name for p in (root / "texts").glob("*.txt"))
    sentences = [split_sentences(read_text(root / "texts" / n)) for n in names]
    return names, sentences, labels


def quantiles(values: list[float]) -> dict[str, float]:
    q = np.quantile(np.asarray(values), [0.0, 0.25, 0.5, 0.75, 1.0]) if values else [np.nan] * 5
    return dict(zip(("min", "q25", "median", "q75", "max"), map(float, q), strict=True))


def auc(pos: list[float], neg: list[float]) -> float:
    """Probability that a random positive outscores a random negative."""
    p, n = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float((p > n).mean() + 0.5 * (p == n).mean())


def doc_representations(
    model: Any, texts: list[str], sentences: list[list[str]]
) -> dict[str, np.ndarray]:
    """Document vectors three ways: chunk mean (scans once used it), whole text, sentence mean."""
    chunk = embed.embed_documents(model, sentences)
    trunc = embed.embed_sentences(model, texts)
    flat = embed.embed_sentences(model, [s for doc in sentences for s in doc])
    mean = np.zeros_like(chunk)
    offset = 0
    for i, doc in enumerate(sentences):
        mean[i] = flat[offset : offset + len(doc)].sum(axis=0)
        offset += len(doc)
    mean /= np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)
    return {"chunk_mean": chunk, "truncated_text": trunc, "sentence_mean": mean}


def compare_representations(
    reps: dict[str, np.ndarray], index: dict[str, int], labels: list[dict[str, str]]
) -> dict[str, Any]:
    """Own-source cosine per category and heavy-vs-non AUC, for each representation."""
    out: dict[str, Any] = {}
    for name, vec in reps.items():
        by_cat: dict[str, list[float]] = {c: [] for c in CATEGORIES}
        for row in labels:
            cos = float(vec[index[row["file"]]] @ vec[index[row["source_file"]]])
            by_cat[row["category"]].append(cos)
        out[name] = {
            "own_source_cosine": {c: quantiles(v) for c, v in by_cat.items()},
            "auc_heavy_vs_non": auc(by_cat["heavy"], by_cat["non"]),
        }
    return out


def pair_scores(
    sent_emb: list[np.ndarray], sentences: list[list[str]], doc_emb: np.ndarray, a: int, b: int
) -> Any:
    """SemanticScore of documents a and b under the default thresholds."""
    cfg = SemanticConfig()
    return sentence_similarity(
        sent_emb[a],
        sent_emb[b],
        weights_a=[max(len(s.split()), 1) for s in sentences[a]],
        weights_b=[max(len(s.split()), 1) for s in sentences[b]],
        doc_cosine=float(doc_emb[a] @ doc_emb[b]),
        sentence_threshold=cfg.sentence_threshold,
        score_threshold=cfg.score_threshold,
    )


def split_embeddings(flat: np.ndarray, sentences: list[list[str]]) -> list[np.ndarray]:
    out, offset = [], 0
    for doc in sentences:
        out.append(flat[offset : offset + len(doc)])
        offset += len(doc)
    return out


def scan(
    model: Any, sentences: list[list[str]], doc_emb: np.ndarray, cfg: SemanticConfig
) -> dict[tuple[int, int], Any]:
    """The former channel end to end (MiniLM document vectors, cosine >= 0.6, then
    verification); {pair: SemanticScore}."""
    from dedup.semantic.encoder import SentenceEncoder

    pairs = semantic_candidates(doc_emb, threshold=0.6, k=cfg.top_k)
    scores = embed.verify_candidates(
        SentenceEncoder(model), dict(enumerate(sentences)), pairs, config=cfg
    )
    return {(int(a), int(b)): s for (a, b), s in zip(pairs.tolist(), scores, strict=True)}


def evaluate(
    found: dict[tuple[int, int], Any],
    index: dict[str, int],
    labels: list[dict[str, str]],
    score_threshold: float,
) -> dict[str, Any]:
    """Per-category pairing with the own source at a score threshold, and F1."""
    paired = {c: 0 for c in CATEGORIES}
    total = {c: 0 for c in CATEGORIES}
    false_pos: list[str] = []
    for row in labels:
        a, b = sorted((index[row["file"]], index[row["source_file"]]))
        hit = (a, b) in found and found[(a, b)].score >= score_threshold
        total[row["category"]] += 1
        paired[row["category"]] += int(hit)
        if hit and row["category"] == "non":
            false_pos.append(row["file"])
    tp = sum(paired[c] for c in ("cut", "light", "heavy"))
    fn = sum(total[c] for c in ("cut", "light", "heavy")) - tp
    fp = paired["non"]
    return {
        "score_threshold": score_threshold,
        "paired": paired,
        "total": total,
        "recall": {c: paired[c] / total[c] for c in CATEGORIES if total[c]},
        "false_positives_non": false_pos,
        "f1": 2 * tp / (2 * tp + fp + fn),
    }


def own_source_table(
    sent_emb: list[np.ndarray],
    sentences: list[list[str]],
    doc_emb: np.ndarray,
    index: dict[str, int],
    labels: list[dict[str, str]],
) -> dict[str, Any]:
    """Distribution of each verification feature per category (answer vs its own source)."""
    feats: dict[str, dict[str, list[float]]] = {c: {} for c in CATEGORIES}
    for row in labels:
        s = pair_scores(sent_emb, sentences, doc_emb, index[row["file"]], index[row["source_file"]])
        values = asdict(s)
        values["coverage"] = max(s.coverage_a, s.coverage_b)
        for key in ("doc_cosine", "coverage", "mean_a", "score"):
            feats[row["category"]].setdefault(key, []).append(float(values[key]))
    return {c: {k: quantiles(v) for k, v in f.items()} for c, f in feats.items()}


def seeds_table(model: Any) -> dict[str, Any]:
    """Seed pairs: document cosine, coverage and score; whether each is accepted."""
    files = sorted((REPO / "seeds").glob("0*.txt"))
    sentences = [split_sentences(read_text(f)) for f in files]
    doc_emb = embed.embed_documents(model, sentences)
    flat = embed.embed_sentences(model, [s for d in sentences for s in d])
    sent_emb = split_embeddings(flat, sentences)
    out = {}
    for a in range(len(files)):
        for b in range(a + 1, len(files)):
            s = pair_scores(sent_emb, sentences, doc_emb, a, b)
            key = f"{files[a].name[:3]}-{files[b].name[:3]}"
            out[key] = {**asdict(s), "coverage": max(s.coverage_a, s.coverage_b)}
    return out


def timings(model: Any, texts: list[str], sentences: list[list[str]]) -> dict[str, float]:
    """Encoder throughput: documents (chunk mean) per second, sentences per second."""
    t0 = time.perf_counter()
    embed.embed_documents(model, sentences)
    t1 = time.perf_counter()
    flat = [s for d in sentences for s in d]
    embed.embed_sentences(model, flat)
    t2 = time.perf_counter()
    return {
        "docs": len(texts),
        "docs_per_s": len(texts) / (t1 - t0),
        "chars_per_s_docs": sum(map(len, texts)) / (t1 - t0),
        "sentences": len(flat),
        "sentences_per_s": len(flat) / (t2 - t1),
        "chars_per_s_sentences": sum(map(len, flat)) / (t2 - t1),
    }


def calibrate(root: Path, model: Any) -> dict[str, Any]:
    names, sentences, labels = load_corpus(root)
    texts = [read_text(root / "texts" / n) for n in names]
    index = {n: i for i, n in enumerate(names)}
    reps = doc_representations(model, texts, sentences)
    doc_emb = reps["chunk_mean"]
    flat = embed.embed_sentences(model, [s for d in sentences for s in d])
    sent_emb = split_embeddings(flat, sentences)
    cfg = SemanticConfig()
    found = scan(model, sentences, doc_emb, replace(cfg, score_threshold=0.0))
    sweep = [evaluate(found, index, labels, t) for t in np.arange(0.46, 0.62, 0.02).round(2)]
    return {
        "config": asdict(cfg),
        "candidates": len(found),
        "representations": compare_representations(reps, index, labels),
        "own_source": own_source_table(sent_emb, sentences, doc_emb, index, labels),
        "at_default": evaluate(found, index, labels, cfg.score_threshold),
        "score_threshold_sweep": sweep,
        "seeds": seeds_table(model),
        "speed_cpu": timings(model, texts, sentences),
    }


def print_summary(res: dict[str, Any]) -> None:
    d = res["at_default"]
    print("category  n   paired  recall   doc_cos med  coverage med  score med")
    for c in CATEGORIES:
        o = res["own_source"][c]
        print(
            f"{c:8s} {d['total'][c]:3d} {d['paired'][c]:6d}  {d['recall'][c]:6.2f}"
            f"   {o['doc_cosine']['median']:10.3f}  {o['coverage']['median']:12.3f}"
            f"  {o['score']['median']:9.3f}"
        )
    print(f"F1 {d['f1']:.3f}; non paired: {d['false_positives_non']}")
    for k, v in res["seeds"].items():
        print(f"seeds {k}: doc {v['doc_cosine']:.3f} score {v['score']:.3f} {v['accepted']}")
    print(json.dumps(res["speed_cpu"]))


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else REPO.parent / "shared/corpora/clough-stevenson"
    if not (root / "labels.csv").is_file():
        print(f"skipped: no Clough–Stevenson corpus at {root}")
        return 0
    ok, reason = embed.is_available()
    if not ok:
        print(f"skipped: {reason}")
        return 0
    res = calibrate(root, embed.load_model(None, device="cpu"))
    out = REPO / "results" / "semantic_calibration.json"
    out.parent.mkdir(exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(res, indent=1, default=float), encoding="utf-8")
    tmp.replace(out)
    print_summary(res)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
