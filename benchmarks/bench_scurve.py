"""Accuracy: the measured LSH S-curve against theory, and the full scan against planted pairs.

1. **S-curve of the LSH stage alone.** Source documents of the synthetic language
   (:mod:`dedup.synth.language`, 300-600 words) each get ``--mutants`` mutated copies: a copy
   has ``m`` distinct word positions replaced by other words, with ``m`` drawn so the
   Jaccard of word 5-shingles spreads evenly over 0..1 (keeping a share ``q`` of words keeps
   about ``q**5`` of the shingles: J = q^5 / (2 - q^5)). The exact Jaccard of every
   (source, copy) pair comes from :func:`dedup.synth.generate.exact_word_shingle_stats`. All texts
   go through the scan's own shingle -> :func:`dedup.lexical.minhash.signatures` ->
   :func:`dedup.lexical.lsh.band_keys` -> :func:`dedup.lexical.lsh.candidate_pairs`, with the
   bands x rows the scan picks for each threshold; a pair is *detected* when it is among the
   candidates (before verification, which would drop pairs below the threshold). Per Jaccard bin:
   the share detected with a 95% Wilson interval, next to the mean of
   ``dedup.lexical.lsh.s_curve(J, bands, rows)`` over the bin's pairs. A maximum-likelihood fit of
   a free (bands, rows) S-curve to the per-pair outcomes says how close the measured curve
   is to the configured one.
2. **The full scan against the truth table.** A :func:`dedup.synth.generate.synthesize` corpus
   (Parquet) is scanned (``--no-semantic --no-align``, overlap on) at each threshold;
   recall per planted kind (all planted pairs, and those the rules can accept: Jaccard >=
   threshold or a containment >= 0.5), precision per reported relation (share of reported
   pairs that were planted), and the kind x relation table.

Writes ``results/scurve.parquet`` (one row per threshold and Jaccard bin),
``results/scurve.png`` and ``results/scurve.json``:

    python benchmarks/bench_scurve.py                      # 600 sources x 25 copies, 20k docs
    python benchmarks/bench_scurve.py --sources 100 --docs 5000     # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from dedup.config import (
    AlignConfig,
    LSHConfig,
    MinHashConfig,
    RunConfig,
    SemanticConfig,
    ShingleConfig,
)
from dedup.lexical.lsh import band_keys, bands_rows, candidate_pairs, s_curve
from dedup.lexical.minhash import signatures
from dedup.lexical.shingle import shingle_texts
from dedup.synth.generate import KINDS, exact_word_shingle_stats, synthesize
from dedup.synth.language import Language, lexicon

ROOT = Path(__file__).resolve().parent.parent
THRESHOLDS = (0.5, 0.8)
BINS = np.linspace(0.0, 1.0, 21)
WORD = re.compile(r"\w+")
Z95 = 1.959964

# --------------------------------------------------------------------------- mutated pairs


def mutate(text: str, n_sub: int, rng: np.random.Generator, words: list[str]) -> str:
    """``text`` with ``n_sub`` distinct word positions replaced by other (random) words."""
    spans = [m.span() for m in WORD.finditer(text)]
    n_sub = min(n_sub, len(spans))
    chosen = sorted(rng.choice(len(spans), size=n_sub, replace=False).tolist())
    out, last = [], 0
    for i in chosen:
        a, b = spans[i]
        new = text[a:b]
        while new.lower() == text[a:b].lower():
            new = words[int(rng.integers(len(words)))]
        out += [text[last:a], new]
        last = b
    return "".join([*out, text[last:]])


def substitutions(jaccard: float, n_words: int) -> int:
    """Words to replace so that about ``jaccard`` of the 5-shingles survive (in J's sense)."""
    kept = (2 * jaccard / (1 + jaccard)) ** (1 / 5)  # share of words kept
    return round((1 - kept) * n_words)


def mutated_pairs(
    n_sources: int, n_mutants: int, seed: int
) -> tuple[list[str], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Texts (each source followed by its copies), and per copy: source row, row, Jaccard."""
    rng = np.random.default_rng(seed)
    lex = lexicon()
    lang = Language(np.random.default_rng(seed + 1), lex)
    lengths = rng.integers(300, 601, size=n_sources)
    texts: list[str] = []
    src_rows, rows, jac = [], [], []
    for source in lang.documents(lengths):
        src = len(texts)
        texts.append(source)
        n_words = len(WORD.findall(source))
        for target in rng.uniform(0.0, 1.0, size=n_mutants):
            copy = mutate(source, substitutions(float(target), n_words), rng, lex.words)
            src_rows.append(src)
            rows.append(len(texts))
            jac.append(exact_word_shingle_stats(source, copy)[0])
            texts.append(copy)
    return texts, np.array(src_rows), np.array(rows), np.array(jac)


def detected(
    texts: list[str], a: npt.NDArray[np.int64], b: npt.NDArray[np.int64], threshold: float
) -> tuple[npt.NDArray[np.bool_], int, int, int]:
    """Whether each pair (a, b) is an LSH candidate; bands, rows; unrelated candidates."""
    cfg = RunConfig(lsh=LSHConfig(threshold=threshold))
    bands, rows = bands_rows(cfg.lsh, cfg.minhash.num_perm)
    sb = shingle_texts(texts, ShingleConfig())
    keys = band_keys(signatures(sb.hashes, sb.offsets, MinHashConfig()), bands, rows)
    found = candidate_pairs(
        keys, np.arange(len(texts), dtype=np.int64), max_bucket=cfg.lsh.max_bucket
    )
    got = {(int(x), int(y)) for x, y in found.iter_rows()}
    hit = np.array([(int(x), int(y)) in got for x, y in zip(a, b, strict=True)])
    family = np.arange(len(texts), dtype=np.int64)  # a copy's family is its source's row
    family[b] = a
    fa, fb = family[found["doc_a"].to_numpy()], family[found["doc_b"].to_numpy()]
    unrelated = int((fa != fb).sum())
    return hit, bands, rows, unrelated


def wilson(k: int, n: int) -> tuple[float, float]:
    """95% Wilson score interval of a binomial proportion ``k / n``."""
    if n == 0:
        return (float("nan"), float("nan"))
    p = k / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * np.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def binned(
    jac: npt.NDArray[np.float64], hit: npt.NDArray[np.bool_], bands: int, rows: int
) -> list[dict[str, Any]]:
    """One row per Jaccard bin: pairs, detected, share with its interval, theory."""
    which = np.clip(np.digitize(jac, BINS) - 1, 0, len(BINS) - 2)
    out = []
    for i in range(len(BINS) - 1):
        sel = which == i
        n, k = int(sel.sum()), int(hit[sel].sum())
        lo, hi = wilson(k, n)
        out.append({
            "bin_lo": float(BINS[i]), "bin_hi": float(BINS[i + 1]), "pairs": n, "detected": k,
            "jaccard_mean": float(jac[sel].mean()) if n else float("nan"),
            "p_detected": k / n if n else float("nan"), "ci_lo": lo, "ci_hi": hi,
            "p_theory": float(s_curve(jac[sel], bands, rows).mean()) if n else float("nan"),
        })  # fmt: skip
    return out


def fit(jac: npt.NDArray[np.float64], hit: npt.NDArray[np.bool_]) -> tuple[float, float]:
    """Maximum-likelihood (bands, rows), both real, of the S-curve to the per-pair outcomes."""
    from scipy.optimize import minimize

    def nll(x: npt.NDArray[np.float64]) -> float:
        p = np.clip(s_curve(jac, float(np.exp(x[0])), float(np.exp(x[1]))), 1e-9, 1 - 1e-9)  # type: ignore[arg-type]
        return float(-(np.log(p[hit]).sum() + np.log(1 - p[~hit]).sum()))

    res = minimize(nll, np.log([10.0, 5.0]), method="Nelder-Mead")
    return float(np.exp(res.x[0])), float(np.exp(res.x[1]))


def s50(bands: float, rows: float) -> float:
    """Jaccard at which the S-curve crosses 0.5."""
    return float((1 - 0.5 ** (1 / bands)) ** (1 / rows))


def lsh_curves(args: argparse.Namespace) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Bins and summary of the measured S-curve at each threshold."""
    t0 = time.perf_counter()
    texts, a, b, jac = mutated_pairs(args.sources, args.mutants, args.seed)
    print(f"{len(a)} mutated pairs in {time.perf_counter() - t0:.0f} s", flush=True)
    rows_out: list[dict[str, Any]] = []
    summary: dict[str, Any] = {"pairs": len(a), "documents": len(texts)}
    for t in THRESHOLDS:
        hit, bands, rows, unrelated = detected(texts, a, b, t)
        bins = [
            {"threshold": t, "bands": bands, "rows": rows, **r}
            for r in binned(jac, hit, bands, rows)
        ]
        rows_out += bins
        full = [r for r in bins if r["pairs"]]
        theory = s_curve(jac, bands, rows)
        chi2 = sum(
            (r["detected"] - r["pairs"] * r["p_theory"]) ** 2
            / (r["pairs"] * r["p_theory"] * (1 - r["p_theory"]))
            for r in full
            if 1e-6 < r["p_theory"] < 1 - 1e-6
        )
        fb, fr = fit(jac, hit)
        summary[str(t)] = {
            "bands": bands, "rows": rows,
            "detected": int(hit.sum()), "expected_detected": round(float(theory.sum()), 1),
            "max_abs_diff": round(max(abs(r["p_detected"] - r["p_theory"]) for r in full), 4),
            "bins_theory_inside_ci": sum(bool(r["ci_lo"] <= r["p_theory"] <= r["ci_hi"])
                                         for r in full),
            "bins": len(full), "chi2": round(chi2, 2),
            "fit_bands": round(fb, 2), "fit_rows": round(fr, 2),
            "s50_theory": round(s50(bands, rows), 4), "s50_fit": round(s50(fb, fr), 4),
            "unrelated_candidates": unrelated,
        }  # fmt: skip
        print(f"t={t}: {json.dumps(summary[str(t)])}", flush=True)
    return rows_out, summary


# --------------------------------------------------------------------------- full scan


def scan_accuracy(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Recall per planted kind and precision per relation of ``scan`` at each threshold."""
    from dedup.pipeline import scan

    corpus = work / "corpus"
    synthesize(corpus, docs=args.docs, seed=args.seed, formats=("parquet",), workers=args.workers)
    truth = pl.read_parquet(corpus / "truth.parquet").select(
        pl.min_horizontal("id_a", "id_b").alias("doc_a"),
        pl.max_horizontal("id_a", "id_b").alias("doc_b"),
        "kind",
        "jaccard",
        pl.max_horizontal("containment_a", "containment_b").alias("cmax"),
    )
    out: dict[str, Any] = {"docs": args.docs, "planted": truth.height}
    for t in THRESHOLDS:
        cfg = RunConfig(
            lsh=LSHConfig(threshold=t),
            align=AlignConfig(enabled=False),
            semantic=SemanticConfig(enabled=False),
        )
        res = scan([corpus / "docs.parquet"], work / f"run-{t}", config=cfg, overwrite=True)
        found = res.pairs.select("doc_a", "doc_b", "relation", "channel")
        joined = truth.join(found, on=["doc_a", "doc_b"], how="left")
        eligible = (pl.col("jaccard") >= t) | (pl.col("cmax") >= cfg.overlap.containment)
        per_kind = {}
        for kind in KINDS:
            k = joined.filter(pl.col("kind") == kind)
            e = k.filter(eligible)
            per_kind[kind] = {
                "planted": k.height,
                "recall": _share(k["relation"].is_not_null().sum(), k.height),
                "eligible": e.height,
                "recall_eligible": _share(e["relation"].is_not_null().sum(), e.height),
            }
        marked = found.join(
            truth.select("doc_a", "doc_b", "kind"), on=["doc_a", "doc_b"], how="left"
        )
        per_rel = {
            rel: {
                "reported": g.height,
                "precision": _share(g["kind"].is_not_null().sum(), g.height),
            }
            for (rel,), g in marked.group_by("relation", maintain_order=True)
        }
        confusion = (
            joined.with_columns(pl.col("relation").fill_null("missed"))
            .group_by("kind", "relation")
            .len()
            .sort("kind", "relation")
        )
        out[str(t)] = {
            "reported": found.height,
            "precision": _share(marked["kind"].is_not_null().sum(), found.height),
            "recall": _share(joined["relation"].is_not_null().sum(), truth.height),
            "recall_eligible": _share(
                joined.filter(eligible)["relation"].is_not_null().sum(),
                joined.filter(eligible).height,
            ),
            "per_kind": per_kind,
            "per_relation": per_rel,
            "kind_x_relation": confusion.rows(),
            "seconds": res.manifest["seconds_total"],
        }
        print(f"scan t={t}: precision {out[str(t)]['precision']}, recall {out[str(t)]['recall']}"
              f" (eligible {out[str(t)]['recall_eligible']})", flush=True)  # fmt: skip
    return out


def _share(k: int, n: int) -> float | None:
    return round(int(k) / n, 4) if n else None


# --------------------------------------------------------------------------- output


def chart(table: pl.DataFrame, summary: dict[str, Any], path: Path) -> None:
    """Measured detection share per bin (95% Wilson bars) over the theoretical S-curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = np.linspace(0, 1, 401)
    fig, axes = plt.subplots(1, len(THRESHOLDS), figsize=(11, 4.4), sharey=True)
    for ax, t in zip(axes, THRESHOLDS, strict=True):
        part = table.filter((pl.col("threshold") == t) & (pl.col("pairs") > 0))
        s = summary[str(t)]
        ax.plot(xs, s_curve(xs, s["bands"], s["rows"]), color="#999",
                label=f"theory, {s['bands']} bands x {s['rows']} rows")  # fmt: skip
        p = part["p_detected"].to_numpy()
        err = np.vstack([p - part["ci_lo"].to_numpy(), part["ci_hi"].to_numpy() - p]).clip(0)
        ax.errorbar(part["jaccard_mean"].to_numpy(), p, yerr=err, fmt="o", ms=4, capsize=2,
                    color="#2b6cb0", label="measured (95% Wilson interval)")  # fmt: skip
        ax.axvline(t, color="#c53030", lw=0.8, ls=":", label=f"threshold {t}")
        title = f"threshold {t}: 50% detected at J = {s['s50_fit']:.3f} (fit)"
        title += f", {s['s50_theory']:.3f} in theory"
        ax.set(xlabel="exact Jaccard of word 5-shingles", title=title)
        ax.title.set_fontsize(9)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    axes[0].set_ylabel("share of pairs among LSH candidates")
    fig.suptitle(f"LSH stage alone, {summary['pairs']:,} (source, mutated copy) pairs, "
                 "128 permutations")  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawTextHelpFormatter
    )
    ap.add_argument("--sources", type=int, default=600, help="source documents to mutate")
    ap.add_argument("--mutants", type=int, default=25, help="mutated copies per source")
    ap.add_argument("--docs", type=int, default=20_000, help="synthetic corpus for the scan")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2, help="processes making the corpus")
    ap.add_argument("--results", type=Path, default=ROOT / "results")
    args = ap.parse_args()
    bins, summary = lsh_curves(args)
    with tempfile.TemporaryDirectory(prefix="dedup-scurve-") as tmp:
        summary["scan"] = scan_accuracy(args, Path(tmp))
    args.results.mkdir(parents=True, exist_ok=True)
    table = pl.DataFrame(bins)
    table.write_parquet(args.results / "scurve.parquet")
    meta = {"sources": args.sources, "mutants": args.mutants, "seed": args.seed,
            "num_perm": 128, "shingle": "word:5", "cpus": os.cpu_count()}  # fmt: skip
    (args.results / "scurve.json").write_text(
        json.dumps({"meta": meta, **summary}, indent=2) + "\n"
    )
    chart(table, summary, args.results / "scurve.png")
    print(f"wrote {args.results / 'scurve.json'}")


if __name__ == "__main__":
    main()
