from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup import overlap
from dedup.config import OverlapConfig

SETS = st.lists(st.sets(st.integers(0, 60), max_size=25), min_size=1, max_size=12)


def _brute_force(sets: list[set[int]], rows: list[int], cfg: OverlapConfig, stride: int):
    df = Counter(h for r in rows for h in sets[r] if h % stride == 0)
    rare = {h for h, n in df.items() if 2 <= n <= cfg.max_df}
    out = set()
    for a, b in itertools.combinations(sorted(rows), 2):
        if len(sets[a] & sets[b] & rare) >= cfg.min_shared:
            out.add((a, b))
    return out


@settings(max_examples=80)
@given(
    sets=SETS,
    data=st.data(),
    min_shared=st.integers(1, 4),
    max_df=st.integers(2, 6),
    sample=st.sampled_from([1, 2, 4]),
    chunk=st.integers(1, 5),
)
def test_candidates_equal_brute_force(
    sets: list[set[int]],
    data: st.DataObject,
    min_shared: int,
    max_df: int,
    sample: int,
    chunk: int,
) -> None:
    rows = sorted(data.draw(st.sets(st.integers(0, len(sets) - 1))))
    cfg = OverlapConfig(min_shared=min_shared, max_df=max_df, sample=sample, full_index_max=0)
    flat = np.array([h for s in sets for h in sorted(s)], dtype=np.uint32)
    offsets = np.cumsum([0] + [len(s) for s in sets]).astype(np.int64)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(overlap, "CHUNK_ROWS", chunk)
        got = overlap.overlap_candidates(flat, offsets, np.array(rows, dtype=np.int64), cfg)
    assert set(got.iter_rows()) == _brute_force(sets, rows, cfg, sample)


def test_small_corpora_index_every_shingle() -> None:
    cfg = OverlapConfig(sample=8, full_index_max=100)
    assert overlap.sampling_stride(100, cfg) == 1
    assert overlap.sampling_stride(101, cfg) == 8
