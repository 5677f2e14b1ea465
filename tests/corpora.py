"""Generated corpora for the reliability tests: random words, with planted near-duplicates."""

from __future__ import annotations

import random
from pathlib import Path

VOCAB = [f"{a}{b}" for a in ("ka", "lo", "mi", "nu", "pe", "ri", "so", "tu") for b in range(400)]


def sentences(rng: random.Random, n_words: int) -> str:
    """``n_words`` random words cut into sentences of 6 to 14 words."""
    out: list[str] = []
    left = n_words
    while left > 0:
        k = min(left, rng.randint(6, 14))
        words = [rng.choice(VOCAB) for _ in range(k)]
        out.append(" ".join(words).capitalize() + ".")
        left -= k
    return " ".join(out)


def edited(rng: random.Random, text: str, n_edits: int) -> str:
    """``text`` with ``n_edits`` words replaced."""
    words = text.split(" ")
    for _ in range(n_edits):
        words[rng.randrange(len(words))] = rng.choice(VOCAB)
    return " ".join(words)


def corpus_texts(n_files: int, *, seed: int = 0, words: int = 60) -> dict[str, str]:
    """Relative path -> text: random documents, some with an edited copy, an exact copy
    (other case) or a longer text that holds them as a passage."""
    rng = random.Random(seed)
    texts: dict[str, str] = {}
    i = 0
    while len(texts) < n_files:
        text = sentences(rng, words)
        texts[f"d{i // 500:02d}/f{i:05d}.txt"] = text
        if i % 8 == 0 and len(texts) < n_files:
            texts[f"d{i // 500:02d}/f{i:05d}_copy.txt"] = edited(rng, text, 3)
        if i % 16 == 4 and len(texts) < n_files:
            texts[f"d{i // 500:02d}/f{i:05d}_same.txt"] = text.upper() + "\n"
        if i % 32 == 12 and len(texts) < n_files:  # the text as a passage of a longer one
            host = f"{sentences(rng, 4 * words)} {text} {sentences(rng, 4 * words)}"
            texts[f"d{i // 500:02d}/f{i:05d}_host.txt"] = host
        i += 1
    return texts


def write_corpus(root: Path, texts: dict[str, str], *, order_seed: int | None = None) -> Path:
    """Write ``texts`` under ``root``, in sorted order or shuffled by ``order_seed``."""
    names = sorted(texts)
    if order_seed is not None:
        random.Random(order_seed).shuffle(names)
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(texts[name], encoding="utf-8")
    return root
