"""Alignment throughput: pairs of ~30-sentence documents per second.

Documents are built from the seed articles' real sentences: B is A with words replaced,
sentences dropped, added, moved, split and merged. Measures the lexical scorer (sentence
lists given, and from raw text with segmentation), two processes in parallel, and the
embedding scorer (cold: every sentence encoded; warm: embeddings cached).

Writes ``results/align_bench.json`` and prints one line per measure.

    PYTHONPATH=. python benchmarks/bench_align.py [--pairs 2000] [--no-embed]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from dedup.align.scorers import clear_word_cache
from dedup.align.sentences import align_sentences, align_texts
from dedup.text.segment import split_sentences

ROOT = Path(__file__).resolve().parent.parent
N_SENTENCES = 30


def seed_sentences() -> list[str]:
    out: list[str] = []
    for path in sorted((ROOT / "seeds").glob("0*.txt")):
        out += [s.text for s in split_sentences(path.read_text(encoding="utf-8"))]
    return out


def mutate(a: list[str], rng: random.Random, pool: list[str]) -> list[str]:
    b: list[str] = []
    for s in a:
        r = rng.random()
        if r < 0.1:
            continue  # dropped
        if r < 0.35:
            words = s.split()
            for _ in range(rng.randint(1, 3)):
                words[rng.randrange(len(words))] = rng.choice(["new", "other", "said", "many"])
            s = " ".join(words)
        elif r < 0.4 and ", " in s:
            b += [p.strip() for p in s.split(", ", 1)]
            continue
        b.append(s)
        if rng.random() < 0.1:
            b.append(rng.choice(pool))  # added
    if len(b) > 4 and rng.random() < 0.5:
        i, j = rng.sample(range(len(b)), 2)
        b.insert(j, b.pop(i))  # moved
    return b


def make_pairs(n: int, seed: int = 0) -> list[tuple[list[str], list[str]]]:
    rng = random.Random(seed)
    pool = seed_sentences()
    pairs = []
    for _ in range(n):
        a = [rng.choice(pool) for _ in range(N_SENTENCES)]
        pairs.append((a, mutate(a, rng, pool)))
    return pairs


def _rate(fn: Any, items: list[Any]) -> float:
    fn(*items[0])  # warm-up (numba compile, imports)
    t0 = time.perf_counter()
    for item in items:
        fn(*item)
    return len(items) / (time.perf_counter() - t0)


def _lexical(a: list[str], b: list[str]) -> None:
    clear_word_cache()  # every pair starts cold: no sentence seen before
    align_sentences(a, b)


def _lexical_text(a: str, b: str) -> None:
    clear_word_cache()
    align_texts(a, b)


def _chunk(pairs: list[tuple[list[str], list[str]]]) -> int:
    for a, b in pairs:
        _lexical(a, b)
    return len(pairs)


def parallel_rate(pairs: list[tuple[list[str], list[str]]], workers: int) -> float:
    chunks = [pairs[i :: workers * 4] for i in range(workers * 4)]
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_chunk, [pairs[:2]] * workers))  # start and warm the workers
        t0 = time.perf_counter()
        done = sum(pool.map(_chunk, chunks))
        return done / (time.perf_counter() - t0)


def embed_rates(pairs: list[tuple[list[str], list[str]]]) -> dict[str, float]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from dedup.align.scorers import embedding_scorer

    torch.set_num_threads(os.cpu_count() or 1)
    scorer = embedding_scorer(device="cpu")
    subset = pairs[:100]
    scorer([subset[0][0][0]], [subset[0][1][0]])

    def cold(a: list[str], b: list[str]) -> None:
        scorer._cache.clear()
        clear_word_cache()
        align_sentences(a, b, scorer=scorer)

    def warm(a: list[str], b: list[str]) -> None:
        align_sentences(a, b, scorer=scorer)

    out = {"embedding_cold_pairs_per_s": _rate(cold, subset)}
    for a, b in subset:
        scorer.embed([*a, *b])
    out["embedding_warm_pairs_per_s"] = _rate(warm, subset)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=2000)
    ap.add_argument("--no-embed", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "align_bench.json")
    args = ap.parse_args()
    pairs = make_pairs(args.pairs)
    texts = [(" ".join(a), " ".join(b)) for a, b in pairs]
    res: dict[str, Any] = {
        "pairs": len(pairs),
        "mean_sentences_a": sum(len(a) for a, _ in pairs) / len(pairs),
        "mean_sentences_b": sum(len(b) for _, b in pairs) / len(pairs),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    res["lexical_pairs_per_s_1core"] = _rate(_lexical, pairs)
    res["lexical_texts_pairs_per_s_1core"] = _rate(_lexical_text, texts)
    workers = min(2, os.cpu_count() or 1)
    res[f"lexical_pairs_per_s_{workers}proc"] = parallel_rate(pairs, workers)
    if not args.no_embed:
        res.update(embed_rates(pairs))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    rates = {k: round(v, 1) for k, v in res.items() if k.endswith("per_s") or "per_s_" in k}
    print("align_bench:", ", ".join(f"{k}={v}" for k, v in rates.items()))


if __name__ == "__main__":
    main()
