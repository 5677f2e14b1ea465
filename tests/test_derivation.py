"""Relations from passages, and the PAN measures against a brute-force character-set oracle."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.align.derivation import in_order_share, relate
from dedup.align.pan import Span, link_scores, pan_scores
from dedup.align.passages import Passage, PassageAlignment, align_passages
from dedup.config import DerivationConfig
from dedup.text.segment import split_sentences


def _al(
    passages: list[Passage],
    words_a: int,
    words_b: int,
    covered_a: int = 0,
    covered_b: int = 0,
    **kw: object,
) -> PassageAlignment:
    return PassageAlignment(tuple(passages), (), words_a, words_b, covered_a, covered_b, **kw)  # type: ignore[arg-type]


def _p(a: int, b: int, n: int, kind: str = "verbatim") -> Passage:
    return Passage(a, a + 6 * n, b, b + 6 * n, kind, 1.0, n)  # type: ignore[arg-type]


def test_no_passage_no_relation() -> None:
    assert relate(_al([], 500, 500)) is None


def test_short_passage_is_not_partial_long_one_is() -> None:
    cfg = DerivationConfig(min_passage=50)
    assert relate(_al([_p(0, 0, 49)], 5000, 5000), config=cfg) is None
    assert relate(_al([_p(0, 0, 50)], 5000, 5000), config=cfg) == "partial"
    # pieces of at least min_piece words add up; shorter ones do not
    assert relate(_al([_p(0, 0, 30), _p(500, 500, 30)], 5000, 5000), config=cfg) == "partial"
    three = [_p(0, 0, 19), _p(500, 500, 19), _p(900, 900, 19)]
    assert relate(_al(three, 5000, 5000), config=cfg) is None
    # a paraphrased passage alone never makes a pair partial
    assert relate(_al([_p(0, 0, 400, "paraphrase")], 5000, 5000), config=cfg) is None


def test_rewrite_needs_lexical_coverage_of_the_shorter_text() -> None:
    ordered = [_p(0, 0, 100), _p(1000, 1000, 100, "edited")]
    assert relate(_al(ordered, 400, 800, 200, 200)) == "derivative"
    swapped = [_p(0, 1000, 100), _p(1000, 0, 100)]
    assert in_order_share(swapped) == pytest.approx(0.5)
    # copied passages moved around
    assert relate(_al(swapped, 400, 800, 200, 200)) == "derivative"
    assert relate(_al(ordered, 600, 800, 200, 200)) == "partial"  # 200 of 600 words: a third


def test_a_text_inside_a_much_longer_one_is_partial_not_a_rewrite() -> None:
    inside = [_p(0, 2000, 300)]
    # all of the 300-word text, 300 of the 3,300 words of the other: a passage lifted into it
    assert relate(_al(inside, 300, 3300, 300, 300)) == "partial"
    # the same text as 300 of 1,000 words: a rewrite that added much
    assert relate(_al(inside, 300, 1000, 300, 300)) == "derivative"


def test_reworded_rewrite_from_the_sentence_chain() -> None:
    a = "One. Two. Three. Four. Five. Six. Seven. Eight. Nine."
    sa = tuple(split_sentences(a))
    cfg = DerivationConfig(chain_share=0.33, chain_order=0.7, min_chain=4)
    base = {"sentences_a": sa, "sentences_b": sa * 2}
    para = [_p(0, 0, 9, "paraphrase")]
    assert relate(
        _al(para, 9, 18, 9, 9, sentence_seeds=5, sentence_chain=4, **base), config=cfg
    ) == ("paraphrase")
    # as many best matches, but in another order: independent reports of one event
    assert relate(_al([], 9, 18, sentence_seeds=5, sentence_chain=2, **base), config=cfg) is None
    # in order, but only three: short texts on one question share that many by chance
    three = {"sentences_a": sa[:6], "sentences_b": sa[:6] * 2}
    assert relate(_al([], 6, 12, sentence_seeds=3, sentence_chain=3, **three), config=cfg) is None


def test_identical_texts_are_a_rewrite_of_each_other() -> None:
    text = " ".join(f"Sentence number {w} says something new {w}." for w in range(40))
    assert relate(align_passages(text, text)) == "derivative"


def _chars(s: Span) -> tuple[set[int], set[int]]:
    return set(range(s.a_start, s.a_end)), set(range(s.b_start, s.b_end))


def _oracle(cases: list[Span], dets: list[Span]) -> dict[str, float]:
    def detects(s: Span, r: Span) -> bool:
        (sa, sb), (ra, rb) = _chars(s), _chars(r)
        return s.pair == r.pair and bool(sa & ra) and bool(sb & rb)

    prec = []
    for r in dets:
        ra, rb = _chars(r)
        ca, cb = set(), set()
        for s in cases:
            if detects(s, r):
                sa, sb = _chars(s)
                ca |= sa & ra
                cb |= sb & rb
        prec.append((len(ca) + len(cb)) / (len(ra) + len(rb)))
    rec, gran = [], []
    for s in cases:
        sa, sb = _chars(s)
        ca, cb, hits = set(), set(), 0
        for r in dets:
            if detects(s, r):
                ra, rb = _chars(r)
                ca |= sa & ra
                cb |= sb & rb
                hits += 1
        rec.append((len(ca) + len(cb)) / (len(sa) + len(sb)))
        if hits:
            gran.append(hits)
    p = sum(prec) / len(prec) if prec else 0.0
    r = sum(rec) / len(rec) if rec else 0.0
    g = sum(gran) / len(gran) if gran else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "granularity": g, "plagdet": f / math.log2(1 + g)}


_spans = st.lists(
    st.tuples(
        st.integers(0, 2),
        st.integers(0, 60),
        st.integers(1, 30),
        st.integers(0, 60),
        st.integers(1, 30),
    ),
    max_size=6,
)


@settings(max_examples=80, deadline=None)
@given(cases=_spans, dets=_spans)
def test_pan_scores_match_the_character_set_oracle(
    cases: list[tuple[int, int, int, int, int]], dets: list[tuple[int, int, int, int, int]]
) -> None:
    cs = [Span(k, a, a + la, b, b + lb) for k, a, la, b, lb in cases]
    ds = [Span(k, a, a + la, b, b + lb) for k, a, la, b, lb in dets]
    got, want = pan_scores(cs, ds), _oracle(cs, ds)
    for key, value in want.items():
        assert got[key] == pytest.approx(value)


def test_pan_scores_split_detection_raises_granularity() -> None:
    case = [Span(0, 0, 100, 0, 100)]
    whole = pan_scores(case, [Span(0, 0, 100, 0, 100)])
    assert whole["plagdet"] == pytest.approx(1.0)
    split = pan_scores(case, [Span(0, 0, 50, 0, 50), Span(0, 50, 100, 50, 100)])
    assert split["recall"] == pytest.approx(1.0)
    assert split["granularity"] == pytest.approx(2.0)
    assert split["plagdet"] == pytest.approx(1 / math.log2(3))


def test_link_scores_ignore_acceptable_links() -> None:
    got = link_scores({(0, 0), (1, 1), (2, 5)}, {(0, 0), (3, 3)}, {(2, 5)})
    assert (got["tp"], got["fp"], got["fn"]) == (1, 1, 1)
    rng = random.Random(0)
    gold = {(rng.randrange(20), rng.randrange(20)) for _ in range(30)}
    assert link_scores(gold, gold)["f1"] == pytest.approx(1.0)
