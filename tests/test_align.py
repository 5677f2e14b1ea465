from __future__ import annotations

import difflib
import json

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup import schema
from dedup.align.rows import alignment_rows
from dedup.align.scorers import LexicalScorer, lexical_ratio
from dedup.align.sentences import (
    Alignment,
    align_sentences,
    align_texts,
    summarize,
)
from dedup.text.segment import split_sentences
from dedup.text.words import words

VOCAB = ["the", "scam", "centers", "border", "police", "rescued", "workers", "Myanmar"]

sentence = st.lists(st.sampled_from(VOCAB), min_size=1, max_size=6).map(" ".join)
doc = st.lists(sentence, max_size=8)


def tag_counts(al: Alignment) -> dict[str, int]:
    s = summarize(al)
    return {k: s[k] for k in s if k.startswith("n_")}


def check_tiling(al: Alignment) -> None:
    """Every sentence of A and of B lies in exactly one op."""
    for side, n in (("a", len(al.a)), ("b", len(al.b))):
        ranges = sorted(
            (getattr(op, f"{side}_lo"), getattr(op, f"{side}_hi"))
            for op in al.ops
            if getattr(op, f"{side}_hi") > getattr(op, f"{side}_lo")
        )
        pos = 0
        for lo, hi in ranges:
            assert lo == pos
            pos = hi
        assert pos == n


def rebuild_b(al: Alignment) -> list[str]:
    """B's text, op by op in B order, from A's sentences plus the ops (and inserted words)."""
    out = []
    for op in sorted((o for o in al.ops if o.b_hi > o.b_lo), key=lambda o: o.b_lo):
        target = al.b_text(op)
        if op.tag == "same":
            assert lexical_ratio(al.a_text(op), target) == 1.0
            text = al.a_text(op) if op.a_hi - op.a_lo == 1 == op.b_hi - op.b_lo else target
        elif op.tag in ("edited", "moved") and op.words:
            aw, bw = words(al.a_text(op)), words(target)
            rebuilt: list[str] = []
            for tag, a_lo, a_hi, b_lo, b_hi in op.words:
                if tag == "equal":
                    assert aw[a_lo:a_hi] == bw[b_lo:b_hi]
                    rebuilt += aw[a_lo:a_hi]
                else:
                    rebuilt += bw[b_lo:b_hi]
            text = " ".join(rebuilt)
        elif op.tag in ("edited", "moved"):
            text = al.a_text(op)
        else:
            assert op.tag == "added"
            text = target
        out.append(text)
    return out


@given(doc, doc)
@settings(max_examples=300, deadline=None)
def test_rebuild_b_from_a_and_ops(a: list[str], b: list[str]) -> None:
    al = align_sentences(a, b)
    check_tiling(al)
    assert " ".join(rebuild_b(al)) == " ".join(b)
    # Ops are ordered by A position; all but moved are also in B order.
    assert [op.a_lo for op in al.ops] == sorted(op.a_lo for op in al.ops)
    in_order = [op.b_lo for op in al.ops if op.tag != "moved"]
    assert in_order == sorted(in_order)
    for op in al.ops:
        if op.tag == "dropped":
            assert op.b_lo == op.b_hi
            assert op.a_hi == op.a_lo + 1
        if op.tag == "added":
            assert op.a_lo == op.a_hi
            assert op.b_hi == op.b_lo + 1


@given(doc)
@settings(deadline=None)
def test_identical_is_all_same(a: list[str]) -> None:
    al = align_sentences(a, list(a))
    assert [op.as_tuple() for op in al.ops] == [("same", i, i + 1, i, i + 1) for i in range(len(a))]
    assert summarize(al)["kept_a"] == 1.0


@given(doc)
@settings(deadline=None)
def test_against_empty(a: list[str]) -> None:
    assert {op.tag for op in align_sentences(a, []).ops} <= {"dropped"}
    assert len(align_sentences(a, []).ops) == len(a)
    assert {op.tag for op in align_sentences([], a).ops} <= {"added"}
    assert len(align_sentences([], a).ops) == len(a)


def reward(al: Alignment, threshold: float = 0.5) -> float:
    return sum(op.score - threshold + 0.01 for op in al.ops if op.tag in ("same", "edited"))


@given(doc, doc)
@settings(max_examples=200, deadline=None)
def test_swap_turns_added_into_dropped(a: list[str], b: list[str]) -> None:
    ab = align_sentences(a, b, merges=False, moves=False)
    ba = align_sentences(b, a, merges=False, moves=False)
    assert reward(ab) == pytest.approx(reward(ba), abs=1e-4)
    swapped = {"added": "dropped", "dropped": "added"}
    ab_pairs = {(op.a_lo, op.b_lo) for op in ab.ops if op.tag in ("same", "edited")}
    ba_pairs = {(op.b_lo, op.a_lo) for op in ba.ops if op.tag in ("same", "edited")}
    if ab_pairs == ba_pairs:  # same optimum chosen (no tie): tags mirror exactly
        assert sorted(swapped.get(op.tag, op.tag) for op in ab.ops) == sorted(
            op.tag for op in ba.ops
        )


def exact_sentence(k: int) -> str:
    return f"s{k}a s{k}b s{k}c."


def lcs(a: list[int], b: list[int]) -> int:
    t = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            t[i + 1][j + 1] = t[i][j] + 1 if x == y else max(t[i][j + 1], t[i + 1][j])
    return t[-1][-1]


ids = st.lists(st.integers(0, 6), max_size=12)


@given(ids, ids)
@settings(max_examples=300, deadline=None)
def test_exact_sentences_against_difflib(x: list[int], y: list[int]) -> None:
    a, b = [exact_sentence(k) for k in x], [exact_sentence(k) for k in y]
    al = align_sentences(a, b)
    counts = tag_counts(al)
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    matched = sum(block.size for block in sm.get_matching_blocks())
    assert counts["n_edited"] == 0
    # The DP finds a longest common subsequence; difflib's heuristic never finds more.
    assert counts["n_same"] == lcs(x, y) >= matched
    # Leftovers equal to each other are moves; the rest are dropped / added.
    common = sum(min(x.count(k), y.count(k)) for k in set(x))
    assert counts["n_moved"] == common - counts["n_same"]
    assert counts["n_dropped"] == len(x) - common
    assert counts["n_added"] == len(y) - common
    # On a unique longest match the two agree on which sentences are the same.
    if x == y or (len(set(x)) == len(x) and y == sorted(set(y) & set(x), key=x.index)):
        mine = {(op.a_lo, op.b_lo) for op in al.ops if op.tag == "same"}
        theirs = {
            (blk.a + k, blk.b + k) for blk in sm.get_matching_blocks() for k in range(blk.size)
        }
        assert mine == theirs


# ---- real sentences -------------------------------------------------------------------------


@pytest.fixture
def s000(seed_texts: list[str]) -> list[str]:
    return [s.text for s in split_sentences(seed_texts[0])]


def test_constructed_revision_of_seed(s000: list[str]) -> None:
    a = s000[:8]
    b = [
        a[0],
        a[1].replace("increasing reports", "growing reports"),  # edited
        "Officials declined to comment on the operation.",  # added
        a[3],
        a[5],
        a[2],  # moved: was before a[3]
        # a[4] dropped
        *a[6].split(", ", 1),  # split into two pieces
        a[7],
    ]
    al = align_sentences(a, b)
    check_tiling(al)
    tags = [op.as_tuple() for op in al.ops]
    assert tags == [
        ("same", 0, 1, 0, 1),
        ("edited", 1, 2, 1, 2),
        ("moved", 2, 3, 5, 6),
        ("added", 3, 3, 2, 3),
        ("same", 3, 4, 3, 4),
        ("dropped", 4, 5, 4, 4),
        ("same", 5, 6, 4, 5),
        ("same", 6, 7, 6, 8),  # split; the words are unchanged
        ("same", 7, 8, 8, 9),
    ]
    edited = al.ops[1]
    assert edited.words == (("equal", 0, 3, 0, 3), ("replace", 3, 4, 3, 4), ("equal", 4, 24, 4, 24))
    s = summarize(al)
    assert s == {
        "kept_a": 7 / 8,
        "new_b": 1 / 9,
        "n_same": 5,
        "n_edited": 1,
        "n_added": 1,
        "n_dropped": 1,
        "n_moved": 1,
    }


def test_seed_rewrites_share_no_lexical_sentence(seed_texts: list[str]) -> None:
    al = align_texts(seed_texts[0], seed_texts[1])
    s = summarize(al)
    assert (s["n_same"], s["n_edited"], s["n_dropped"], s["n_added"]) == (0, 0, 11, 18)


def test_pluggable_scorer_makes_paraphrases_align() -> None:
    a = ["The cat sat on the mat.", "It was raining."]
    b = ["Rain fell all day.", "A feline rested on the rug."]
    table = {(0, 1): 0.9, (1, 0): 0.8}

    def scorer(x: object, y: object) -> np.ndarray:
        sim = np.zeros((2, 2), dtype=np.float32)
        for (i, j), v in table.items():
            sim[i, j] = v
        return sim

    al = align_sentences(a, b, scorer=scorer, match_threshold=0.7, merges=False)
    assert [op.tag for op in al.ops] == ["edited", "moved"]
    assert al.ops[0].as_tuple() == ("edited", 0, 1, 1, 2)


def test_scorer_shape_is_checked() -> None:
    with pytest.raises(ValueError, match="shape"):
        align_sentences(["a"], ["b"], scorer=lambda x, y: np.zeros((2, 2)))


def test_lexical_scorer_matches_pairwise_ratio(s000: list[str]) -> None:
    sim = LexicalScorer()(s000[:4], s000[2:6])
    for i in range(4):
        for j in range(4):
            assert sim[i, j] == pytest.approx(lexical_ratio(s000[i], s000[2 + j]), abs=1e-6)


def test_rows_match_schema(s000: list[str]) -> None:
    b = [s000[0], s000[1] + " Really.", "New one."]
    al = align_sentences(s000[:3], b)
    rows = alignment_rows(3, 7, al)
    df = schema.conform(pl.DataFrame(rows, schema=schema.ALIGNMENTS), "alignments")
    assert df.schema == schema.ALIGNMENTS
    assert df["op"].to_list() == ["same", "edited", "dropped", "added"]
    edited = df.filter(pl.col("op") == "edited")
    assert json.loads(edited["words"][0])[-1][0] == "insert"
    dropped = df.filter(pl.col("op") == "dropped")
    assert dropped["b_index"][0] is None
    assert dropped["b_text"][0] is None


def _extend_unpruned(matches, a, b, free_a, free_b, scorer):  # type: ignore[no-untyped-def]
    """The merge rounds without skipping matches that cannot grow (the oracle)."""
    from dedup.align import sentences as S

    active = list(matches)
    while active:
        cands = [(m, *c) for m in active for c in S._neighbours(m, free_a, free_b)]
        if not cands:
            return
        scores = S._pairwise(
            scorer,
            [" ".join(a[sp[0] : sp[1]]) for _, _, _, sp in cands],
            [" ".join(b[sp[2] : sp[3]]) for _, _, _, sp in cands],
        )
        grown, done = [], set()
        for (m, side, idx, sp), sc in sorted(zip(cands, scores, strict=True), key=lambda t: -t[1]):
            free = free_b if side == "b" else free_a
            if id(m) in done or idx not in free or sc < m.score + S._MERGE_MARGIN:
                continue
            m.a_lo, m.a_hi, m.b_lo, m.b_hi, m.score = (*sp, sc)
            free.discard(idx)
            grown.append(m)
            done.add(id(m))
        active = grown


long_sentence = st.lists(st.sampled_from(VOCAB), min_size=4, max_size=10)


@st.composite
def split_rewrite(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    """A text and a rewrite of it with some sentences cut in two and some words changed, so
    that merges and splits happen."""
    a_words = draw(st.lists(long_sentence, min_size=1, max_size=6))
    b: list[str] = []
    for words_ in a_words:
        words_ = list(words_)
        if draw(st.booleans()):
            words_[draw(st.integers(0, len(words_) - 1))] = draw(st.sampled_from(VOCAB))
        if draw(st.booleans()):
            cut = draw(st.integers(1, len(words_) - 1))
            b += [" ".join(words_[:cut]), " ".join(words_[cut:])]
        else:
            b.append(" ".join(words_))
    return [" ".join(w) for w in a_words], b


@given(split_rewrite())
@settings(max_examples=150, deadline=None)
def test_merges_skip_only_matches_that_cannot_grow(texts: tuple[list[str], list[str]]) -> None:
    from dedup.align import sentences as S

    a, b = texts
    fast = align_sentences(a, b)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(S, "_extend_all", _extend_unpruned)
        slow = align_sentences(a, b)
    assert fast.ops == slow.ops


def test_a_perfect_match_scores_no_joined_text() -> None:
    seen: list[str] = []

    class Counting(LexicalScorer):
        def pairwise(self, a, b):  # type: ignore[no-untyped-def]
            seen.extend(a)
            return super().pairwise(a, b)

    a = ["the police rescued workers", "border scam centers"]
    b = ["the police rescued workers", "Myanmar the the the"]
    align_sentences(a, b, scorer=Counting())
    assert "the police rescued workers border scam centers" not in seen
