from __future__ import annotations

import itertools

import numpy as np
import pytest
from datasketch.lsh import _optimal_param
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.config import LSHConfig
from dedup.lexical.lsh import band_keys, bands_rows, candidate_pairs, optimal_params, s_curve
from tests.kernel_paths import PATHS, kernel_path


@pytest.mark.parametrize("num_perm", [16, 128, 256])
@pytest.mark.parametrize("threshold", [0.1, 0.3, 0.5, 0.7, 0.85, 0.95])
def test_optimal_params_match_datasketch(threshold: float, num_perm: int) -> None:
    assert optimal_params(threshold, num_perm) == _optimal_param(threshold, num_perm, 0.5, 0.5)


def test_weights_shift_the_choice_like_datasketch() -> None:
    assert optimal_params(0.5, 128, 0.9, 0.1) == _optimal_param(0.5, 128, 0.9, 0.1)


def test_override_wins() -> None:
    assert bands_rows(LSHConfig(bands=4, rows=8), 128) == (4, 8)


def test_s_curve_is_monotone() -> None:
    y = s_curve(np.linspace(0, 1, 50), 20, 5)
    assert (np.diff(y) >= 0).all()
    assert y[0] == 0.0
    assert y[-1] == 1.0


def _brute_force(sig: np.ndarray, bands: int, rows: int) -> set[tuple[int, int]]:
    pairs = set()
    for i, j in itertools.combinations(range(len(sig)), 2):
        for b in range(bands):
            sl = slice(b * rows, (b + 1) * rows)
            if (sig[i, sl] == sig[j, sl]).all():
                pairs.add((i, j))
                break
    return pairs


@pytest.mark.parametrize("path", PATHS)
@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(0, 25), bands=st.integers(1, 6), rows=st.integers(1, 4), seed=st.integers(0, 1000)
)
def test_candidates_equal_brute_force(path: str, n: int, bands: int, rows: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    # few distinct values so that many bands collide
    sig = rng.integers(0, 3, size=(n, bands * rows)).astype(np.uint32)
    with kernel_path(path):
        keys = band_keys(sig, bands, rows)
    got = candidate_pairs(keys, np.arange(n, dtype=np.int64))
    assert set(got.iter_rows()) == _brute_force(sig, bands, rows)


def test_large_bucket_becomes_a_star() -> None:
    sig = np.zeros((10, 4), dtype=np.uint32)
    got = candidate_pairs(band_keys(sig, 2, 2), np.arange(10, dtype=np.int64), max_bucket=5)
    assert sorted(got.iter_rows()) == [(0, j) for j in range(1, 10)]
