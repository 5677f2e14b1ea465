from __future__ import annotations

import numpy as np
import pytest
from datasketch import LeanMinHash, MinHash
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.config import MinHashConfig
from dedup.lexical.minhash import EMPTY, signatures, to_lean_minhash
from tests.kernel_paths import PATHS, kernel_path

HASHES = st.lists(st.integers(0, 2**32 - 1), max_size=200, unique=True)


def _datasketch(values: list[int], num_perm: int, seed: int) -> np.ndarray:
    m = MinHash(num_perm=num_perm, seed=seed, scheme="affine32", hashfunc=lambda x: x)
    if values:
        m.update_batch(values)
    return np.asarray(m.hashvalues)


@pytest.mark.parametrize("path", PATHS)
@settings(max_examples=60, deadline=None)
@given(
    docs=st.lists(HASHES, min_size=1, max_size=5),
    num_perm=st.integers(1, 300),
    seed=st.integers(0, 2**31 - 1),
)
def test_bit_identical_to_datasketch(
    path: str, docs: list[list[int]], num_perm: int, seed: int
) -> None:
    flat = np.array([h for d in docs for h in sorted(d)], dtype=np.uint32)
    offsets = np.cumsum([0] + [len(d) for d in docs]).astype(np.int64)
    with kernel_path(path):
        sig = signatures(flat, offsets, MinHashConfig(num_perm=num_perm, seed=seed))
    assert sig.shape == (len(docs), num_perm)
    for i, d in enumerate(docs):
        np.testing.assert_array_equal(sig[i], _datasketch(d, num_perm, seed))


@pytest.mark.parametrize("path", PATHS)
def test_empty_document_signature_is_all_max(path: str) -> None:
    with kernel_path(path):
        sig = signatures(np.zeros(0, dtype=np.uint32), np.array([0, 0]), MinHashConfig())
    assert (sig == EMPTY).all()


def test_lean_minhash_export_round_trips() -> None:
    values = list(range(1000, 1500))
    sig = signatures(np.array(values, dtype=np.uint32), np.array([0, 500]), MinHashConfig())
    lean = to_lean_minhash(sig[0], MinHashConfig())
    assert isinstance(lean, LeanMinHash)
    other = LeanMinHash(MinHash(num_perm=128, seed=1, scheme="affine32", hashfunc=lambda x: x))
    ref = MinHash(num_perm=128, seed=1, scheme="affine32", hashfunc=lambda x: x)
    ref.update_batch(values)
    assert lean.jaccard(LeanMinHash(ref)) == 1.0
    assert lean.jaccard(other) < 1.0


@pytest.mark.parametrize("true_j", [0.2, 0.5, 0.8])
def test_estimate_stays_near_exact_jaccard(true_j: float) -> None:
    rng = np.random.default_rng(7)
    universe = rng.choice(2**32 - 1, size=4000, replace=False).astype(np.uint32)
    n = 1000
    shared = round(2 * n * true_j / (1 + true_j))
    a = universe[:n]
    b = np.concatenate([universe[:shared], universe[n : 2 * n - shared]])
    exact = len(set(a) & set(b)) / len(set(a) | set(b))
    flat = np.concatenate([np.sort(a), np.sort(b)])
    sig = signatures(flat, np.array([0, n, 2 * n]), MinHashConfig(num_perm=512))
    est = float((sig[0] == sig[1]).mean())
    # standard error sqrt(J(1-J)/512) <= 0.022; 4 sigma
    assert abs(est - exact) < 0.09
