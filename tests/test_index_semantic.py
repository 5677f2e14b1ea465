"""The index's semantic first stage proposes what the scan's static search proposes over the
index and the new documents together, for the pairs that involve a new document."""

from __future__ import annotations

import numpy as np
import pytest

from dedup.config import SemanticConfig
from dedup.index.semantic import StaticTable, propose
from dedup.semantic.search import static_candidates
from dedup.semantic.static import DocumentVectors


def _corpus(rng: np.random.Generator, n: int, dim: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors in a few clusters around a common component (as static vectors are),
    some left out (zero rows, unknown words)."""
    common = rng.standard_normal(dim)
    centres = rng.standard_normal((6, dim))
    x = 3 * common + centres[rng.integers(0, 6, n)] + 0.6 * rng.standard_normal((n, dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    share = rng.uniform(0, 0.4, n)  # above 0.3: left out
    x[rng.random(n) < 0.05] = 0.0
    return x.astype(np.float32), share


def _check(n_index: int, n_new: int, seed: int, cfg: SemanticConfig) -> int:
    rng = np.random.default_rng(seed)
    x, share = _corpus(rng, n_index + n_new)
    ok = np.ones(n_index, dtype=bool)
    table = StaticTable.of(x[:n_index], share[:n_index], ok, cfg)
    new = DocumentVectors(x[n_index:], np.ones(n_new, np.int64), share[n_index:])
    ids = np.arange(n_index, n_index + n_new, dtype=np.int64)
    got = propose(table, ids, new, config=cfg)
    scan = static_candidates(
        x, share, threshold=cfg.doc_threshold, k=cfg.top_k, max_split_share=cfg.max_split_share
    )
    mine = scan.pairs[:, 1] >= n_index
    expected = {tuple(p) for p in scan.pairs[mine].tolist()}
    assert {tuple(p) for p in got.pairs.tolist()} == expected
    cos = dict(zip(map(tuple, scan.pairs.tolist()), scan.cosines.tolist(), strict=True))
    for pair, c in zip(got.pairs.tolist(), got.cosines.tolist(), strict=True):
        assert c == pytest.approx(cos[tuple(pair)], abs=1e-4)
    return len(expected)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_centred_search_equals_the_scans(seed: int) -> None:
    # above SMALL_CORPUS: centred on the mean of index and new documents; small top_k so
    # both directions (the new document's top_k, the indexed document's) matter
    cfg = SemanticConfig(doc_threshold=0.3, top_k=3)
    assert _check(300, 40, seed, cfg) > 20


def test_small_corpus_proposes_every_pair_as_the_scan() -> None:
    cfg = SemanticConfig(top_k=50)
    assert _check(20, 6, 3, cfg) > 50


def test_nothing_to_search() -> None:
    cfg = SemanticConfig()
    empty = np.zeros((0, 8), np.float32)
    table = StaticTable.of(empty, np.zeros(0), np.zeros(0, bool), cfg)
    new = DocumentVectors(
        np.ones((1, 8), np.float32) / np.sqrt(8), np.ones(1, np.int64), np.zeros(1)
    )
    got = propose(table, np.array([0]), new, config=cfg)
    assert got.pairs.shape == (0, 2)
