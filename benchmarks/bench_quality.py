"""Quality of derivation decided from aligned passages, on four corpora, in one command.

``--mode scan`` (default) measures what ``dedup scan`` reports with its defaults: candidate
channels (LSH, rare-shingle overlap, the semantic channel), then every candidate aligned
passage by passage and related from its passages. ``--mode all-pairs`` sends every pair of
documents of each corpus through the aligner (:func:`dedup.align.passages.align_passages`,
sentence embeddings from the bundled all-MiniLM-L6-v2 for real text) and the relation rules
(:func:`dedup.align.derivation.relate`) with no candidate channel, ``exact`` and
``near_duplicate`` decided on the whole documents: the aligner and the rules alone.

* seeds (``seeds/``): the rewrites 000, 001, 002 should be paired, nothing with 003; and the
  aligner's sentence links against the hand-labelled ``tests/data/seed_links.json``;
* Clough–Stevenson (bundled): answer paired with its own source (F1), reported pairs that
  involve a ``non`` answer (written without the source), cluster sizes;
* NewsWCL50 (``--newswcl50 DIR``, optional: its texts are not shipped): same-event and
  different-event pairs reported (independent coverage: none should be);
* a ``dedup synth`` corpus: planted partial-reuse passages of 50 words or more against the
  truth offsets, with PAN's macro precision, recall, granularity and plagdet (scan mode: the
  planted pairs reported, and reported pairs that were not planted; all-pairs mode: the
  planted pairs and as many random unrelated pairs, lexical seeds only).

``--mode scan-no-align`` measures ``dedup scan --no-align`` the same way (document-level rules,
the semantic channel decided by the rewrite rule; no synthetic passages: nothing is aligned).

Usage: python benchmarks/bench_quality.py [--newswcl50 DIR] [--mode scan|scan-no-align|all-pairs]
       [--out results/quality.json]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from dedup.align.derivation import relate
from dedup.align.pan import Span, link_scores, pan_scores
from dedup.align.passage_sentences import Embedder
from dedup.align.passages import align_passages
from dedup.cluster import connected_components
from dedup.config import AlignConfig, DerivationConfig, PassageConfig, RunConfig
from dedup.text.normalize import words

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _read(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _shingles(text: str) -> set[tuple[str, ...]]:
    w = words(text)
    return {tuple(w[i : i + 5]) for i in range(max(len(w) - 4, 1))}


def relation_of(
    a: str, b: str, *, embed: Embedder | None, cfg: PassageConfig, dcfg: DerivationConfig
) -> tuple[str | None, Any]:
    """Relation of two texts: document-level exact / near-duplicate, else from passages."""
    if words(a) == words(b) and words(a):
        return "exact", None
    sa, sb = _shingles(a), _shingles(b)
    if sa and sb and len(sa & sb) / len(sa | sb) >= 0.8:
        return "near_duplicate", None
    al = align_passages(a, b, config=cfg, embed=embed)
    return relate(al, config=dcfg), al


Found = dict[tuple[str, str], str]
#: ``pairs_of(files, names)``: relation of every reported pair of files, keyed by name pairs
#: in ``names`` order.
PairsOf = Callable[[list[Path], list[str]], Found]


def all_pairs(rel: Callable[[str, str], tuple[str | None, Any]]) -> PairsOf:
    """Every pair of files through the aligner and the relation rules (no candidate channel)."""

    def pairs_of(files: list[Path], names: list[str]) -> Found:
        texts = {n: _read(f) for f, n in zip(files, names, strict=True)}
        out = {}
        for x, y in combinations(names, 2):
            r, _ = rel(texts[x], texts[y])
            if r is not None:
                out[(x, y)] = r
        return out

    return pairs_of


def scanned(config: Any) -> PairsOf:
    """The pairs ``dedup scan`` reports on the files (candidate channels, then passages)."""
    import tempfile

    from dedup.pipeline import scan

    def pairs_of(files: list[Path], names: list[str]) -> Found:
        name = {str(f): n for f, n in zip(files, names, strict=True)}
        order = {n: k for k, n in enumerate(names)}
        with tempfile.TemporaryDirectory() as tmp:
            result = scan(files, Path(tmp) / "run", config=config)
        out = {}
        for pa, pb, r in result.pairs.select("path_a", "path_b", "relation").iter_rows():
            x, y = sorted((name[pa], name[pb]), key=order.__getitem__)
            out[(x, y)] = r
        return out

    return pairs_of


def seeds(pairs_of: PairsOf, embed: Embedder | None, cfg: PassageConfig) -> dict[str, Any]:
    """Relations among the four seed articles and link scores against the gold file."""
    files = sorted((ROOT / "seeds").glob("00[0-3]_*.txt"))
    texts = {p.name[:3]: p.read_text(encoding="utf-8") for p in files}
    found = pairs_of(files, [p.name[:3] for p in files])
    rewrites = {("000", "001"), ("000", "002"), ("001", "002")}
    gold = json.loads((ROOT / "tests" / "data" / "seed_links.json").read_text(encoding="utf-8"))
    per, pred_all, gold_all, ok_all = {}, set(), set(), set()
    for g in gold["pairs"]:
        a, b = g["a"][:3], g["b"][:3]
        al = align_passages(texts[a], texts[b], config=cfg, embed=embed)
        want = {(x["a"], x["b"]) for x in g["links"]}
        ok = {(x["a"], x["b"]) for x in g["acceptable"]}
        per[f"{a}-{b}"] = link_scores(al.links, want, ok)
        pred_all |= {(a, b, *lk) for lk in al.links}
        gold_all |= {(a, b, *lk) for lk in want}
        ok_all |= {(a, b, *lk) for lk in ok}
    return {
        "pairs": {f"{a}-{b}": r for (a, b), r in sorted(found.items())},
        "rewrites_found": len(rewrites & set(found)),
        "pairs_with_003": sum("003" in k for k in found),
        "links": {"all": link_scores(pred_all, gold_all, ok_all), **per},
    }


def clough(pairs_of: PairsOf, corpus: Path) -> dict[str, Any]:
    """Answer -> own source F1, pairs involving a `non` answer, cluster sizes."""
    labels = pl.read_csv(corpus / "labels.csv")
    names = sorted(p.name for p in (corpus / "texts").iterdir())
    found = pairs_of([corpus / "texts" / n for n in names], names)
    cat = dict(zip(labels["file"], labels["category"], strict=True))
    src = dict(zip(labels["file"], labels["source_file"], strict=True))
    tp = fp = fn = 0
    for f, c in cat.items():
        if c == "orig":
            continue
        paired = (f, src[f]) in found or (src[f], f) in found
        plag = c != "non"
        tp += paired and plag
        fp += paired and not plag
        fn += plag and not paired
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    idx = {n: k for k, n in enumerate(names)}
    edges = np.array([(idx[x], idx[y]) for x, y in found], dtype=np.int64).reshape(-1, 2)
    labels_cc = connected_components(len(names), edges[:, 0], edges[:, 1])
    sizes = sorted((int(s) for s in np.bincount(np.asarray(labels_cc)) if s > 1), reverse=True)
    per_cat: dict[str, dict[str, int]] = {}
    for f, c in cat.items():
        if c != "orig":
            d = per_cat.setdefault(c, {"n": 0, "paired_with_source": 0})
            d["n"] += 1
            d["paired_with_source"] += (f, src[f]) in found or (src[f], f) in found
    relations: dict[str, int] = {}
    for r_ in found.values():
        relations[r_] = relations.get(r_, 0) + 1
    return {
        "precision": p,
        "recall": r,
        "f1": 2 * p * r / (p + r) if p + r else 0.0,
        "per_category": per_cat,
        "pairs_reported": len(found),
        "relations": relations,
        "pairs_with_non": sum(cat.get(x) == "non" or cat.get(y) == "non" for x, y in found),
        "cluster_sizes": sizes,
    }


def newswcl(pairs_of: PairsOf, corpus: Path) -> dict[str, Any]:
    """Same-event and different-event pairs reported (independent coverage)."""
    pairs = pl.read_csv(corpus / "pairs.csv")
    names = sorted(p.name for p in (corpus / "texts").iterdir())
    found = pairs_of([corpus / "texts" / n for n in names], names)
    counts: dict[str, int] = {}
    total: dict[str, int] = {}
    reported = []
    for a, b, label in pairs.iter_rows():
        total[label] = total.get(label, 0) + 1
        r = found.get((a, b), found.get((b, a)))
        if r is not None:
            counts[label] = counts.get(label, 0) + 1
            reported.append({"a": a, "b": b, "label": label, "relation": r})
    return {"pairs": total, "reported": counts, "reported_pairs": reported}


def synth(cfg: PassageConfig, dcfg: DerivationConfig, docs: int, seed: int) -> dict[str, Any]:
    """PAN measures of planted partial-reuse passages (>= 50 words) against truth offsets."""
    import tempfile

    from dedup.synth.generate import synthesize

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        synthesize(out, docs=docs, seed=seed)
        truth = pl.read_parquet(out / "truth.parquet")
        part = truth.filter(pl.col("kind") == "partial")
        paths = dict(zip(truth["id_a"], truth["path_a"], strict=True)) | dict(
            zip(truth["id_b"], truth["path_b"], strict=True)
        )
        rng = random.Random(seed)
        related = {(a, b) for a, b in truth.select("id_a", "id_b").iter_rows()}
        ids = sorted(paths)
        negatives: set[tuple[int, int]] = set()
        while len(negatives) < part.height and len(ids) > 2:
            a, b = sorted(rng.sample(ids, 2))
            if (a, b) not in related:
                negatives.add((a, b))
        cases, dets, relations, t0 = [], [], {"planted": {}, "unrelated": {}}, time.perf_counter()
        todo = [(a, b, "planted") for a, b in part.select("id_a", "id_b").iter_rows()]
        todo += [(a, b, "unrelated") for a, b in sorted(negatives)]
        for r in part.iter_rows(named=True):
            if len(words(_read(out / r["path_a"])[r["a_start"] : r["a_end"]])) >= 50:
                cases.append(
                    Span((r["id_a"], r["id_b"]), r["a_start"], r["a_end"], r["b_start"], r["b_end"])
                )
        for a, b, group in todo:
            al = align_passages(_read(out / paths[a]), _read(out / paths[b]), config=cfg)
            rel_ = relate(al, config=dcfg) or "none"
            relations[group][rel_] = relations[group].get(rel_, 0) + 1
            dets.extend(Span((a, b), p.a_start, p.a_end, p.b_start, p.b_end) for p in al.passages)
        seconds = time.perf_counter() - t0
    return {
        "docs": docs,
        "seed": seed,
        "planted_pairs": part.height,
        "unrelated_pairs": len(negatives),
        "pan": pan_scores(cases, dets),
        "relations": relations,
        "seconds": seconds,
    }


def synth_scan(config: Any, docs: int, seed: int) -> dict[str, Any]:
    """``dedup scan`` of a synthetic corpus: planted partial-reuse passages (>= 50 words) found
    (pair reported, PAN measures of its passages against the truth offsets), and reported
    pairs that were not planted."""
    import tempfile

    from dedup.pipeline import scan
    from dedup.synth.generate import synthesize

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "corpus"
        synthesize(out, docs=docs, seed=seed)
        truth = pl.read_parquet(out / "truth.parquet")
        t0 = time.perf_counter()
        result = scan([out], Path(tmp) / "run", config=config)
        seconds = time.perf_counter() - t0
        rel_path = {
            d: str(Path(p).relative_to(out))
            for d, p in result.documents.select("doc_id", "path").iter_rows()
        }
        passages = pl.read_parquet(Path(tmp) / "run" / "passages.parquet")
        planted = {(a, b): k for a, b, k in truth.select("path_a", "path_b", "kind").iter_rows()}
        found: dict[tuple[str, str], str] = {}
        for a, b, r in result.pairs.select("doc_a", "doc_b", "relation").iter_rows():
            found[(rel_path[a], rel_path[b])] = r
        dets = []
        for row in passages.iter_rows(named=True):
            pa, pb = rel_path[row["doc_a"]], rel_path[row["doc_b"]]
            if (pa, pb) in planted:
                dets.append(
                    Span((pa, pb), row["a_start"], row["a_end"], row["b_start"], row["b_end"])
                )
            elif (pb, pa) in planted:
                dets.append(
                    Span((pb, pa), row["b_start"], row["b_end"], row["a_start"], row["a_end"])
                )
        cases, hit = [], 0
        for r in truth.filter(pl.col("kind") == "partial").iter_rows(named=True):
            if len(words(_read(out / r["path_a"])[r["a_start"] : r["a_end"]])) < 50:
                continue
            key = (r["path_a"], r["path_b"])
            cases.append(Span(key, r["a_start"], r["a_end"], r["b_start"], r["b_end"]))
            hit += key in found or key[::-1] in found
        case_keys = {c.pair for c in cases}
        unplanted = [k for k in found if k not in planted and k[::-1] not in planted]
        relations: dict[str, dict[str, int]] = {}
        for (a, b), r in found.items():
            kind = planted.get((a, b), planted.get((b, a), "unplanted"))
            relations.setdefault(kind, {})[r] = relations.setdefault(kind, {}).get(r, 0) + 1
    return {
        "docs": docs,
        "seed": seed,
        "planted_passages_50_words": len(cases),
        "found": hit,
        "recall": hit / len(cases) if cases else None,
        "pan": pan_scores(cases, [d for d in dets if d.pair in case_keys]),
        "planted_pairs": len(planted),
        "reported_pairs": len(found),
        "unplanted_reported": len(unplanted),
        "relations_by_planted_kind": relations,
        "scan_seconds": round(seconds, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--newswcl50", type=Path, default=None, help="NewsWCL50 folder")
    ap.add_argument("--clough", type=Path, default=HERE / "data" / "clough-stevenson")
    ap.add_argument("--synth-docs", type=int, default=3000)
    ap.add_argument("--no-embed", action="store_true", help="lexical seeds only (all-pairs)")
    ap.add_argument(
        "--mode",
        choices=("scan", "scan-no-align", "all-pairs"),
        default="scan",
        help="scan: what `dedup scan` reports (default); scan-no-align: what `dedup scan "
        "--no-align` reports; all-pairs: every pair through the aligner and the relation "
        "rules, no candidate channel",
    )
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help="default: results/quality.json, quality_no_align.json or quality_all_pairs.json",
    )
    args = ap.parse_args()
    if args.out is None:
        suffix = {"scan": "", "scan-no-align": "_no_align", "all-pairs": "_all_pairs"}
        args.out = ROOT / "results" / f"quality{suffix[args.mode]}.json"
    cfg, dcfg = PassageConfig(), DerivationConfig()
    embed: Embedder | None = None
    if not args.no_embed or args.mode != "all-pairs":
        from dedup.align.scorers import EmbeddingScorer
        from dedup.semantic.embed import load_model

        embed = EmbeddingScorer(load_model(None, device="cpu")).embed

    def rel(a: str, b: str) -> tuple[str | None, Any]:
        return relation_of(a, b, embed=embed, cfg=cfg, dcfg=dcfg)

    no_align = RunConfig(align=AlignConfig(enabled=False))
    pairs_of = {
        "scan": lambda: scanned(RunConfig()),
        "scan-no-align": lambda: scanned(no_align),
        "all-pairs": lambda: all_pairs(rel),
    }[args.mode]()
    result: dict[str, Any] = {
        "mode": args.mode,
        "passage_config": cfg.__dict__,
        "derivation_config": dcfg.__dict__,
        "embedder": None if embed is None else "all-MiniLM-L6-v2",
    }
    for name, fn in (
        ("seeds", lambda: seeds(pairs_of, embed, cfg)),
        ("clough_stevenson", lambda: clough(pairs_of, args.clough)),
        ("newswcl50", (lambda: newswcl(pairs_of, args.newswcl50)) if args.newswcl50 else None),
        (
            "synth",
            {
                "scan": lambda: synth_scan(RunConfig(), args.synth_docs, 7),
                "scan-no-align": None,
                "all-pairs": lambda: synth(cfg, dcfg, args.synth_docs, 7),
            }[args.mode],
        ),
    ):
        if fn is None:
            result[name] = (
                "not run: give --newswcl50 DIR"
                if name == "newswcl50"
                else "not run: plagdet needs the passages, which --no-align does not find"
            )
            continue
        t0 = time.perf_counter()
        result[name] = fn()
        if isinstance(result[name], dict):
            result[name]["wall_seconds"] = round(time.perf_counter() - t0, 1)
        print(name, json.dumps(result[name], default=str)[:600], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, default=str) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
