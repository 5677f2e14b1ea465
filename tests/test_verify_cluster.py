from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.cluster import connected_components
from dedup.io.spill import ShingleStore, gather
from dedup.lexical import verify
from dedup.lexical.verify import classify, set_stats
from tests.kernel_paths import PATHS, kernel_path

SETS = st.lists(st.sets(st.integers(0, 40), max_size=30), min_size=2, max_size=8)


@settings(max_examples=80, deadline=None)
@given(sets=SETS, data=st.data())
def test_set_stats_match_python_sets(sets: list[set[int]], data: st.DataObject) -> None:
    flat = np.array([h for s in sets for h in sorted(s)], dtype=np.uint32)
    offsets = np.cumsum([0] + [len(s) for s in sets]).astype(np.int64)
    pairs = data.draw(
        st.lists(
            st.tuples(st.integers(0, len(sets) - 1), st.integers(0, len(sets) - 1)), max_size=10
        )
    )
    a = np.array([p[0] for p in pairs], dtype=np.int64)
    b = np.array([p[1] for p in pairs], dtype=np.int64)
    jac, ca, cb = set_stats(flat, offsets, a, b)
    for k, (i, j) in enumerate(pairs):
        sa, sb = sets[i], sets[j]
        inter, union = len(sa & sb), len(sa | sb)
        assert jac[k] == (inter / union if union else 0.0)
        assert ca[k] == (inter / len(sa) if sa else 0.0)
        assert cb[k] == (inter / len(sb) if sb else 0.0)


def test_classify_rules() -> None:
    jac = np.array([0.9, 0.6, 0.1, 0.1, 0.2])
    ca = np.array([0.95, 0.7, 0.9, 0.2, 0.6])
    cb = np.array([0.95, 0.7, 0.1, 0.2, 0.6])
    rel, ok = classify(jac, ca, cb, threshold=0.5, near_duplicate=0.8, containment=0.5)
    assert rel.tolist() == ["near_duplicate", "derivative", "partial", "", "derivative"]
    assert ok.tolist() == [True, True, True, False, True]


def _naive_components(n: int, edges: list[tuple[int, int]]) -> list[int]:
    label = list(range(n))
    changed = True
    while changed:
        changed = False
        for a, b in edges:
            m = min(label[a], label[b])
            if label[a] != m or label[b] != m:
                label[a] = label[b] = m
                changed = True
    return label


@pytest.mark.parametrize("path", PATHS)
@given(n=st.integers(0, 30), data=st.data())
def test_components_match_naive_propagation(path: str, n: int, data: st.DataObject) -> None:
    edges = (
        data.draw(
            st.lists(
                st.tuples(st.integers(0, max(n - 1, 0)), st.integers(0, max(n - 1, 0))), max_size=40
            )
        )
        if n
        else []
    )
    a = np.array([e[0] for e in edges], dtype=np.int64)
    b = np.array([e[1] for e in edges], dtype=np.int64)
    with kernel_path(path):
        assert connected_components(n, a, b).tolist() == _naive_components(n, edges)


def test_set_stats_from_a_spill_file_equal_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sets read from the spill file with pread, a few pairs at a time, give the same
    figures as the arrays in memory (runs of consecutive rows and empty sets included)."""
    rng = np.random.default_rng(7)
    sizes = rng.integers(0, 30, size=400)
    offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    hashes = rng.integers(0, 60, size=int(offsets[-1])).astype(np.uint32)
    store = ShingleStore(tmp_path / "shingles.u32")
    store.append(hashes, offsets)
    mapped, _ = store.finish()
    assert isinstance(mapped, np.memmap)
    rows = np.unique(rng.integers(0, len(sizes), size=150))
    got, got_offsets = gather(mapped, offsets, rows)
    want = [hashes[offsets[r] : offsets[r + 1]].tolist() for r in rows]
    assert [got[got_offsets[i] : got_offsets[i + 1]].tolist() for i in range(len(rows))] == want
    monkeypatch.setattr(verify, "_CHUNK", 37)
    a, b = rng.integers(0, len(sizes), size=(2, 1000))
    from_file, in_memory = set_stats(mapped, offsets, a, b), set_stats(hashes, offsets, a, b)
    for x, y in zip(from_file, in_memory, strict=True):
        assert x.tolist() == y.tolist()
