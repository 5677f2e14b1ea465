"""Semantic (paraphrase) channel: candidate search against brute force, LSH recall, the cost
rule, and the seed rewrites end to end with the bundled MiniLM."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.align.scorers import EmbeddingScorer
from dedup.config import SemanticConfig
from dedup.errors import ModelError
from dedup.semantic import cost, embed
from dedup.semantic.search import (
    exact_candidates,
    lsh_candidates,
    lsh_parameters,
    semantic_candidates,
    sentence_similarity,
)

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")


def split_sentences(text: str) -> list[str]:
    """A plain regex splitter, standing in for dedup.text.segment in these tests."""
    out: list[str] = []
    for line in text.splitlines():
        out.extend(s.strip() for s in _SENTENCE_END.split(line.strip()) if s.strip())
    return out


def brute_force(x: np.ndarray, threshold: float, k: int) -> set[tuple[int, int]]:
    """Naive oracle: every row's k best others above the threshold, both directions unioned."""
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    sims = x @ x.T
    np.fill_diagonal(sims, -np.inf)
    pairs: set[tuple[int, int]] = set()
    for i in range(len(x)):
        order = sorted(range(len(x)), key=lambda j: (-sims[i, j], j))[:k]
        pairs.update((min(i, j), max(i, j)) for j in order if sims[i, j] >= threshold)
    return pairs


def clustered(n: int, dim: int, seed: int) -> np.ndarray:
    """Random vectors with near neighbours: groups of noisy copies of random centres."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(n // 4, 1), dim))
    x = centres[rng.integers(0, len(centres), n)] + 0.6 * rng.standard_normal((n, dim))
    return x.astype(np.float32)


# ---------------------------------------------------------------- candidates (numpy only)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(0, 40),
    dim=st.integers(2, 16),
    k=st.integers(1, 45),
    threshold=st.floats(-0.5, 0.95),
    seed=st.integers(0, 2**16),
)
def test_exact_candidates_match_brute_force(
    n: int, dim: int, k: int, threshold: float, seed: int
) -> None:
    x = clustered(n, dim, seed) if n else np.zeros((0, dim), np.float32)
    got = {tuple(p) for p in exact_candidates(x, threshold=threshold, k=k).tolist()}
    if n < 2:
        assert got == set()
        return
    want = brute_force(x, threshold, k)
    # ties at the k-th neighbour may be broken either way; compare where ranks are strict
    assert got == want or len(got ^ want) <= 2


def test_exact_candidates_blocked(monkeypatch: pytest.MonkeyPatch) -> None:
    import dedup.semantic.search as sem

    x = clustered(300, 24, 1)
    whole = exact_candidates(x, threshold=0.5, k=5)
    monkeypatch.setattr(sem, "_BLOCK_CELLS", 300 * 7)  # 7 rows per block
    assert np.array_equal(exact_candidates(x, threshold=0.5, k=5), whole)


def test_pairs_shape_and_order() -> None:
    pairs = semantic_candidates(clustered(200, 32, 2), threshold=0.6, k=10)
    assert pairs.dtype == np.int64
    assert pairs.ndim == 2
    assert pairs.shape[1] == 2
    assert (pairs[:, 0] < pairs[:, 1]).all()
    assert len({tuple(p) for p in pairs.tolist()}) == len(pairs)


def test_lsh_recall_against_exact() -> None:
    x = clustered(2_000, 64, 3)
    for threshold in (0.6, 0.8):
        exact = {tuple(p) for p in exact_candidates(x, threshold=threshold, k=20).tolist()}
        approx = {tuple(p) for p in lsh_candidates(x, threshold=threshold, k=20).tolist()}
        assert exact, "the random data must have pairs above the threshold"
        assert approx <= exact | approx  # every reported pair is verified exactly below
        recall = len(exact & approx) / len(exact)
        assert recall >= 0.97, (threshold, recall)
        xs = x / np.linalg.norm(x, axis=1, keepdims=True)
        sims = [float(xs[i] @ xs[j]) for i, j in approx]
        assert min(sims) >= threshold - 1e-6


def test_lsh_parameters_reach_recall() -> None:
    for threshold in (0.5, 0.6, 0.8, 0.95):
        bands, rows = lsh_parameters(threshold, recall=0.99)
        p = 1 - np.arccos(threshold) / np.pi
        assert 1 - (1 - p**rows) ** bands >= 0.99


def test_semantic_candidates_method() -> None:
    x = clustered(100, 16, 4)
    assert np.array_equal(
        semantic_candidates(x, threshold=0.7, k=5, method="exact"),
        semantic_candidates(x, threshold=0.7, k=5),
    )
    with pytest.raises(ValueError, match="unknown candidate method"):
        semantic_candidates(x, threshold=0.7, k=5, method="faiss")


def test_sentence_similarity_identical_and_disjoint() -> None:
    eye = np.eye(4, dtype=np.float32)
    same = sentence_similarity(eye, eye)
    assert same.coverage_a == same.coverage_b == 1.0
    assert same.accepted
    assert same.score == pytest.approx(1.0)
    apart = sentence_similarity(eye[:2], eye[2:])
    assert apart.coverage_a == apart.coverage_b == 0.0
    assert not apart.accepted
    empty = sentence_similarity(np.zeros((0, 4), np.float32), eye)
    assert not empty.accepted


def test_document_cosine_alone_accepts_nothing() -> None:
    a = np.eye(3, dtype=np.float32)
    b = np.roll(a, 1, axis=1) + np.eye(3, dtype=np.float32)  # each sentence ~0.7 off
    weak = sentence_similarity(a, b, doc_cosine=0.5)
    strong = sentence_similarity(a, b, doc_cosine=0.95)
    # no sentence matched: the score is half the document cosine, below acceptance however
    # high the cosine (independent coverage of one story has cosines as high as rewrites)
    assert not weak.accepted
    assert not strong.accepted
    assert strong.score == pytest.approx(0.475)
    assert 0.0 <= weak.score <= strong.score <= 1.0


# ---------------------------------------------------------------- the cost rule


@pytest.fixture
def on_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embed, "is_available", lambda: (True, ""))
    monkeypatch.setattr(embed, "default_device", lambda: "cpu")


@pytest.mark.usefixtures("on_cpu")
def test_should_run_on_cpu_by_estimated_seconds() -> None:
    cfg = SemanticConfig(max_seconds_cpu=10.0, precision="float32")
    small = 1_000_000  # characters
    assert cost.estimate_seconds(10, small, "cpu", precision="float32") <= 10.0
    assert cost.should_run(cfg, 10, n_chars=small)[0]
    # the same number of documents, but much more text: skipped
    big = 1_000_000_000
    assert cost.estimate_seconds(10, big, "cpu", precision="float32") > 10.0
    run, reason = cost.should_run(cfg, 10, n_chars=big)
    assert not run
    assert "--semantic" in reason
    assert "estimated" in reason
    # many small documents, little text: runs (the count alone does not decide)
    assert cost.should_run(cfg, 100_000, n_chars=small)[0]
    assert cost.should_run(replace(cfg, enabled=True), 10, n_chars=big)[0]
    assert not cost.should_run(replace(cfg, enabled=False), 5, n_chars=10)[0]


def test_should_run_on_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embed, "is_available", lambda: (True, ""))
    monkeypatch.setattr(embed, "default_device", lambda: "cuda")
    assert cost.should_run(SemanticConfig(max_seconds_cpu=0.0), 10**6, n_chars=10**10)[0]


def test_should_run_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embed, "is_available", lambda: (False, "torch is not installed"))
    run, reason = cost.should_run(SemanticConfig(), 10)
    assert not run
    assert "torch" in reason
    with pytest.raises(ModelError, match="requested but unavailable"):
        cost.should_run(SemanticConfig(enabled=True), 10)


def test_estimate_seconds_scales() -> None:
    small = cost.estimate_seconds(100, 300_000, "cpu")
    assert 0 < small < cost.estimate_seconds(1_000, 3_000_000, "cpu")
    # the text decides, not the count of documents
    assert cost.estimate_seconds(20, 3_000_000, "cpu") == pytest.approx(
        cost.estimate_seconds(1_000, 3_000_000, "cpu")
    )
    # known verification work replaces the assumed share
    assert cost.estimate_seconds(100, 300_000, "cpu", verify_chars=0) < small
    assert cost.estimate_seconds(1_000, 3_000_000, "cuda") < cost.estimate_seconds(
        1_000, 3_000_000, "cpu"
    )


# ---------------------------------------------------------------- the model, on the seeds


@pytest.fixture(scope="session")
def model() -> Any:
    pytest.importorskip("torch")
    pytest.importorskip("sentence_transformers")
    ok, reason = embed.is_available()
    if not ok:
        pytest.skip(reason)
    return embed.load_model(None, device="cpu")


@pytest.fixture(scope="session")
def seeds() -> list[list[str]]:
    files = sorted(SEEDS.glob("0*.txt"))
    assert len(files) == 4
    return [split_sentences(f.read_text(encoding="utf-8")) for f in files]


@pytest.mark.semantic
def test_seed_rewrites_found_and_verified(model: Any, seeds: list[list[str]]) -> None:
    cfg = SemanticConfig()
    seen: list[int] = []
    doc_emb = embed.embed_documents(model, seeds, progress=lambda done, total: seen.append(done))
    assert doc_emb.dtype == np.float32
    assert np.allclose(np.linalg.norm(doc_emb, axis=1), 1.0, atol=1e-5)
    assert seen
    pairs = semantic_candidates(doc_emb, threshold=0.6, k=cfg.top_k)
    embedder = EmbeddingScorer(model)
    scores = embed.verify_candidates(embedder, dict(enumerate(seeds)), pairs, config=cfg)
    assert {(0, 1), (0, 2), (1, 2)} <= {tuple(p) for p in pairs.tolist()}
    # the score ranks the candidates: the rewrites above the independent article (003); the
    # pairs' relations come from their passages (tests/test_semantic_pipeline.py)
    score = {tuple(p): s.score for p, s in zip(pairs.tolist(), scores, strict=True)}
    rewrites = [score[p] for p in ((0, 1), (0, 2), (1, 2))]
    others = [v for p, v in score.items() if 3 in p]
    assert min(rewrites) > max(others)


@pytest.mark.semantic
def test_embedding_scorer_on_a_loaded_model(model: Any) -> None:
    from dedup.align.scorers import embedding_scorer

    score = embedding_scorer(model)
    a = ["The cat sat on the mat.", "Stock markets fell sharply on Monday."]
    b = ["Shares dropped steeply at the start of the week.", "A cat was sitting on the rug."]
    m = score(a, b)
    assert m.shape == (2, 2)
    assert ((m >= 0) & (m <= 1)).all()
    assert m[0, 1] > m[0, 0]
    assert m[1, 0] > m[1, 1]
    assert score([], b).shape == (0, 2)


@pytest.mark.semantic
def test_embed_documents_long_and_empty(model: Any) -> None:
    long_doc = ["word " * 700]  # one sentence far over the 256-wordpiece limit
    emb = embed.embed_documents(model, [long_doc, [], ["A short one."]])
    assert emb.shape[0] == 3
    assert np.linalg.norm(emb[1]) == 0.0
    assert np.linalg.norm(emb[0]) == pytest.approx(1.0, abs=1e-5)


def test_load_unknown_model_is_a_domain_error() -> None:
    pytest.importorskip("sentence_transformers")
    with pytest.raises(ModelError, match="cannot load embedding model"):
        embed.load_model("/nonexistent/model-dir", device="cpu")
