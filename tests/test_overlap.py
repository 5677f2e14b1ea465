from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.config import OverlapConfig
from dedup.lexical import overlap
from dedup.lexical.overlap import _entries
from tests.kernel_paths import PATHS, kernel_path

SETS = st.lists(st.sets(st.integers(0, 60), max_size=25), min_size=1, max_size=12)


def _brute_force(sets: list[set[int]], rows: list[int], cfg: OverlapConfig, stride: int):
    df = Counter(h for r in rows for h in sets[r] if h % stride == 0)
    rare = {h for h, n in df.items() if 2 <= n <= cfg.max_df}
    out = set()
    for a, b in itertools.combinations(sorted(rows), 2):
        if len(sets[a] & sets[b] & rare) >= cfg.min_shared:
            out.add((a, b))
    return out


@pytest.mark.parametrize("path", PATHS)
@settings(max_examples=80)
@given(
    sets=SETS,
    data=st.data(),
    min_shared=st.integers(1, 4),
    max_df=st.integers(2, 6),
    sample=st.sampled_from([1, 2, 4]),
)
def test_candidates_equal_brute_force(
    path: str,
    sets: list[set[int]],
    data: st.DataObject,
    min_shared: int,
    max_df: int,
    sample: int,
) -> None:
    rows = sorted(data.draw(st.sets(st.integers(0, len(sets) - 1))))
    cfg = OverlapConfig(min_shared=min_shared, max_df=max_df, sample=sample, full_index_max=0)
    flat = np.array([h for s in sets for h in sorted(s)], dtype=np.uint32)
    offsets = np.cumsum([0] + [len(s) for s in sets]).astype(np.int64)
    with kernel_path(path):
        got = overlap.overlap_candidates(flat, offsets, np.array(rows, dtype=np.int64), cfg)
    assert set(got.iter_rows()) == _brute_force(sets, rows, cfg, sample)


def test_small_corpora_index_every_shingle() -> None:
    cfg = OverlapConfig(sample=8, full_index_max=100)
    assert overlap.sampling_stride(100, cfg) == 1
    assert overlap.sampling_stride(101, cfg) == 8


@given(
    sizes=st.lists(st.integers(0, 9), min_size=1, max_size=30),
    chunk=st.integers(1, 20),
    stride=st.sampled_from([1, 2, 3, 8]),
    seed=st.integers(0, 1000),
)
def test_chunked_entries_match_the_whole_array_way(
    sizes: list[int], chunk: int, stride: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    hashes = rng.integers(0, 2**32, size=int(offsets[-1]), dtype=np.uint64).astype(np.uint32)
    keep = rng.random(len(sizes)) < 0.7
    row_of = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)
    mask = keep[row_of] & ((hashes % stride) == 0)
    packed = _entries(hashes, offsets, keep, stride, chunk=chunk)
    assert (packed >> np.uint64(32)).tolist() == hashes[mask].tolist()
    assert (packed & np.uint64(0xFFFFFFFF)).tolist() == row_of[mask].tolist()
