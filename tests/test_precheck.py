"""The aligner's precheck never drops a pair that the aligner would relate.

:func:`dedup.align.precheck.could_relate` says False only when the passages could show no
relation; here every pair it rules out is aligned anyway and must get no relation, over
rewrites, edited copies, passages inside longer texts, shuffled sentences and unrelated
texts, with lexical evidence and with a bag-of-words embedder (so reworded sentence seeds
occur). A scan with the precheck equals one without it.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from dedup.align import precheck, stage
from dedup.align.derivation import relate
from dedup.align.passages import align_passages
from dedup.config import RunConfig, SemanticConfig
from dedup.pipeline import scan
from tests.corpora import VOCAB, corpus_texts, edited, sentences, write_corpus


def _bag_embed(sentences_: Sequence[str]) -> np.ndarray:
    """Unit vectors of hashed word counts: sentences sharing words get high cosines."""
    out = np.zeros((len(sentences_), 64), dtype=np.float32)
    for i, s in enumerate(sentences_):
        for w in s.lower().split():
            out[i, zlib.crc32(w.strip(".").encode()) % 64] += 1.0
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms == 0, 1.0, norms)


def _shuffled(rng: random.Random, text: str) -> str:
    parts = [p.strip() for p in text.split(".") if p.strip()]
    rng.shuffle(parts)
    return ". ".join(parts) + "."


def _reworded(rng: random.Random, text: str) -> str:
    """Each sentence with a third of its words replaced (same order)."""
    out = []
    for s in [p.strip() for p in text.split(".") if p.strip()]:
        words = s.split()
        for _ in range(len(words) // 3):
            words[rng.randrange(len(words))] = rng.choice(VOCAB)
        out.append(" ".join(words))
    return ". ".join(out) + "."


def _pairs(seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    pairs = []
    for _ in range(40):
        base = sentences(rng, rng.choice([30, 80, 200]))
        other = sentences(rng, rng.choice([30, 80, 200]))
        host = f"{sentences(rng, 150)} {base} {sentences(rng, 150)}"
        piece = " ".join(base.split()[: rng.choice([12, 25, 60])])
        pairs += [
            (base, other),
            (base, edited(rng, base, rng.randint(1, 20))),
            (base, host),
            (host, f"{other} {piece} {other}"),
            (base, _shuffled(rng, base)),
            (base, _reworded(rng, base)),
        ]
    return pairs


@pytest.mark.parametrize("embed", [None, _bag_embed], ids=["lexical", "embedded"])
def test_pairs_ruled_out_get_no_relation_when_aligned(embed: object) -> None:
    ruled_out = related = 0
    for text_a, text_b in _pairs(7):
        found = relate(align_passages(text_a, text_b, embed=embed))  # type: ignore[arg-type]
        related += found is not None
        if not precheck.could_relate(text_a, text_b, embed=embed):  # type: ignore[arg-type]
            ruled_out += 1
            assert found is None, (text_a[:60], text_b[:60])
    assert ruled_out >= 40
    assert related >= 40


def test_reworded_route_matches_the_aligner_chain() -> None:
    rng = random.Random(3)
    for _ in range(30):
        base = sentences(rng, 120)
        text_b = _reworded(rng, base)
        al = align_passages(base, text_b, embed=_bag_embed)
        sa = [s.text for s in al.sentences_a]
        sb = [s.text for s in al.sentences_b]
        n = min(len(sa), len(sb))
        expected = (
            al.sentence_chain / n >= 0.33
            and al.sentence_seeds > 0
            and al.sentence_chain / al.sentence_seeds >= 0.7
            and al.sentence_chain >= 4
        )
        got = precheck.reworded(
            sa,
            sb,
            embed=_bag_embed,
            passage=precheck.PassageConfig(),
            derivation=precheck.DerivationConfig(),
        )
        assert got == expected


def test_scan_with_the_precheck_equals_one_without(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = write_corpus(tmp_path / "in", corpus_texts(80, seed=5, words=120))
    config = RunConfig(semantic=SemanticConfig(enabled=False))
    scan([corpus], tmp_path / "with", config=config)
    monkeypatch.setattr(precheck, "could_relate", lambda *a, **k: True)
    assert stage  # derive_pair imports could_relate from the module at call time
    scan([corpus], tmp_path / "without", config=config)
    for name in ("pairs", "passages", "alignments", "clusters"):
        a = pl.read_parquet(tmp_path / "with" / f"{name}.parquet")
        b = pl.read_parquet(tmp_path / "without" / f"{name}.parquet")
        assert a.equals(b), name


def test_shared_positions_count_what_isin_counts() -> None:
    rng = np.random.default_rng(3)
    for _ in range(50):
        a = rng.integers(0, 30, size=int(rng.integers(0, 40))).astype(np.uint64)
        b = rng.integers(0, 30, size=int(rng.integers(0, 40))).astype(np.uint64)
        want = int(np.isin(a, b).sum()) if len(a) and len(b) else 0
        assert precheck.shared_positions(a, np.unique(b)) == want
    big = np.array([2**64 - 1, 5], dtype=np.uint64)  # past the last distinct value
    assert precheck.shared_positions(big, np.array([1, 5], dtype=np.uint64)) == 1
