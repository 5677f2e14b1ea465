from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from dedup.overlap import _entries


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
    h, row = _entries(hashes, offsets, keep, stride, chunk=chunk)
    assert h.tolist() == hashes[mask].tolist()
    assert row.tolist() == row_of[mask].tolist()
