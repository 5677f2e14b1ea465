"""Passage aligner: offsets, kinds, bad input, bounded cost, and planted passages vs an oracle."""

from __future__ import annotations

import difflib
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.align.passage_seeds import chain_seeds, shared_ngram_seeds, word_spans
from dedup.align.passages import align_passages
from dedup.config import PassageConfig

_SYLLABLES = ["ka", "lo", "mi", "ne", "pu", "ra", "si", "to", "ve", "zu", "bri", "dan", "fel"]


def _prose(rng: random.Random, n_words: int) -> str:
    """Sentences of random pseudo-words (a vocabulary large enough that 4-grams rarely repeat)."""
    out, sentence = [], []
    for _ in range(n_words):
        w = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 3)))
        sentence.append(w)
        if len(sentence) >= rng.randint(8, 20):
            out.append(" ".join(sentence).capitalize() + ".")
            sentence = []
    if sentence:
        out.append(" ".join(sentence).capitalize() + ".")
    return " ".join(out)


def _words(text: str) -> list[str]:
    return [t.lower() for t in text.replace(".", " ").split()]


def test_planted_verbatim_passage_has_exact_offsets() -> None:
    rng = random.Random(1)
    passage = _prose(rng, 120)
    a = _prose(rng, 300) + " " + passage + " " + _prose(rng, 200)
    b = _prose(rng, 500) + "\n\n" + passage + "\n\n" + _prose(rng, 100)
    al = align_passages(a, b)
    assert len(al.passages) == 1
    p = al.passages[0]
    assert p.kind == "verbatim"
    assert a[p.a_start : p.a_end] == passage
    assert b[p.b_start : p.b_end] == passage
    assert p.n_words == 120


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("inside", ["a", "b"])
def test_a_passage_copied_into_the_middle_of_a_sentence_starts_and_ends_with_the_copy(
    seed: int, inside: str
) -> None:
    """The copy (whole sentences inside) begins after a few words of one text's sentence
    and ends a few words before it does; in the other text it is whole sentences. The
    passage is the copy, verbatim, not the sentences around its ends."""
    rng = random.Random(seed)
    copy = _prose(rng, 80)
    host = _prose(rng, 150) + " Lead words of a here " + copy.rstrip(".")
    host += " and a tail of words. " + _prose(rng, 150)
    plain = _prose(rng, 120) + " " + copy + " " + _prose(rng, 90)
    a, b = (host, plain) if inside == "a" else (plain, host)
    (p,) = align_passages(a, b).passages
    assert a[p.a_start : p.a_end].rstrip(".") == copy.rstrip(".")
    assert b[p.b_start : p.b_end].rstrip(".") == copy.rstrip(".")
    assert p.kind == "verbatim"


def test_an_edited_start_of_a_sentence_stays_in_the_passage() -> None:
    """Both texts have their own words before the shared ones, in the same sentence (an
    edited opening): those words are part of the passage on both sides."""
    rng = random.Random(8)
    body = _prose(rng, 100)
    a = _prose(rng, 100) + " In the older accounts of it " + body + " " + _prose(rng, 80)
    b = _prose(rng, 90) + " Within early reports about it " + body + " " + _prose(rng, 70)
    passages = align_passages(a, b).passages
    first = min(passages, key=lambda p: p.a_start)
    assert a[first.a_start :].startswith("In the older accounts")
    assert b[first.b_start :].startswith("Within early reports")


def test_offsets_index_the_text_as_given_not_its_normal_form() -> None:
    # NFKC turns the ligature into two letters and the decomposed accent into one character:
    # offsets computed on the normalized text would be off by one each.
    rng = random.Random(2)
    passage = _prose(rng, 60)
    a = "The ﬁrst café\u0301 ﬂoor. " + passage
    b = "Another text entirely here. " + passage.upper()
    al = align_passages(a, b)
    assert len(al.passages) == 1
    p = al.passages[0]
    assert a[p.a_start : p.a_end] == passage
    assert b[p.b_start : p.b_end] == passage.upper()
    assert p.kind == "verbatim"  # case is folded


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), edits=st.integers(0, 6))
def test_edited_passage_matches_difflib_oracle(seed: int, edits: int) -> None:
    """The found passage covers the blocks difflib's matcher finds between the two texts."""
    rng = random.Random(seed)
    src = _prose(rng, 150)
    words = src.split(" ")
    for _ in range(edits):
        k = rng.randrange(len(words))
        words[k] = "xq" + words[k]
    edited = " ".join(words)
    a = _prose(rng, 200) + " " + src
    b = edited + " " + _prose(rng, 200)
    al = align_passages(a, b)
    wa, wb = _words(a), _words(b)
    sm = difflib.SequenceMatcher(None, wa, wb, autojunk=False)
    big = [m for m in sm.get_matching_blocks() if m.size >= 8]
    assert big, "the oracle finds the shared text"
    p = max(al.passages, key=lambda q: q.n_words)
    got_a = set(range(len(_words(a[: p.a_start])), len(_words(a[: p.a_end]))))
    want_a = {i for m in big for i in range(m.a, m.a + m.size)}
    assert len(want_a & got_a) >= 0.95 * len(want_a)
    assert p.kind == ("verbatim" if edits == 0 else "edited")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("", ""),
        ("", "Some text here."),
        ("One sentence only.", "One sentence only."),
        ("   \n\n  ", "words"),
    ],
)
def test_empty_and_tiny_texts(a: str, b: str) -> None:
    al = align_passages(a, b)
    for p in al.passages:
        assert 0 <= p.a_start < p.a_end <= len(a)
        assert 0 <= p.b_start < p.b_end <= len(b)


def test_identical_and_unpunctuated_texts_are_one_passage() -> None:
    rng = random.Random(3)
    text = _prose(rng, 400).replace(".", "")  # no sentence punctuation at all
    al = align_passages(text, text)
    assert len(al.passages) == 1
    p = al.passages[0]
    assert (p.a_start, p.a_end) == (0, len(text))
    assert (p.b_start, p.b_end) == (0, len(text))
    assert al.coverage_a == pytest.approx(1.0)
    assert al.coverage_b == pytest.approx(1.0)


def test_unrelated_texts_have_no_passage() -> None:
    rng = random.Random(4)
    al = align_passages(_prose(rng, 800), _prose(rng, 800))
    assert al.passages == ()
    assert al.coverage_a == 0.0


def test_repeated_ngrams_and_seed_cap_bound_the_work() -> None:
    # A text made of one phrase repeated: every n-gram is frequent, so none seeds.
    text = "the same few words again " * 20_000
    vocab: dict[str, int] = {}
    wa, wb = word_spans(text, vocab), word_spans(text, vocab)
    ia, _ = shared_ngram_seeds(wa, wb, n=4, max_df=20, max_seeds=1000)
    assert len(ia) == 0
    rng = random.Random(5)
    prose = _prose(rng, 30_000)
    wa = word_spans(prose, vocab)
    ia, _ = shared_ngram_seeds(wa, wa, n=4, max_df=20, max_seeds=1000)
    assert len(ia) == 1000
    assert np.all(np.diff(ia) >= 0)
    cfg = PassageConfig(max_sentence_cells=10_000)  # sentence matrix skipped at this size
    al = align_passages(prose + text, prose, config=cfg)
    assert al.passages


def test_chain_seeds_follows_a_diagonal_across_a_gap() -> None:
    ia = np.array([0, 1, 2, 30, 31], dtype=np.int64)
    jb = np.array([10, 11, 12, 40, 41], dtype=np.int64)
    chains = chain_seeds(ia, jb, n=4, gap=30)
    assert len(chains) == 1
    assert (chains[0].a_lo, chains[0].a_hi, chains[0].b_lo, chains[0].b_hi) == (0, 35, 10, 45)
    chains = chain_seeds(ia, jb, n=4, gap=10)
    assert len(chains) == 2


@settings(max_examples=60, deadline=None)
@given(text=st.text(alphabet=st.sampled_from("aZ9_ .,!\n-éﬁ\u0301İß"), max_size=80))
def test_word_spans_match_the_regex_oracle(text: str) -> None:
    """Spans are those of ``\\w+`` on the text as given; equal folded words share a key."""
    import re
    import unicodedata

    vocab: dict[str, int] = {}
    ws = word_spans(text, vocab)
    spans = [m.span() for m in re.finditer(r"\w+", text)]
    assert list(zip(ws.starts.tolist(), ws.ends.tolist(), strict=True)) == spans
    folded = [unicodedata.normalize("NFKC", text[a:b]).casefold() for a, b in spans]
    for x, kx in zip(folded, ws.keys.tolist(), strict=True):
        for y, ky in zip(folded, ws.keys.tolist(), strict=True):
            assert (x == y) == (kx == ky)
    ascii_text = text.encode("ascii", "ignore").decode()
    fast = word_spans(ascii_text, {})
    assert list(zip(fast.starts.tolist(), fast.ends.tolist(), strict=True)) == [
        m.span() for m in re.finditer(r"\w+", ascii_text)
    ]


@settings(max_examples=60, deadline=None)
@given(
    a=st.text(alphabet=st.sampled_from("ab Zé9_.\nİß"), max_size=60),
    b=st.text(alphabet=st.sampled_from("ab Zé9_.\nİß"), max_size=60),
)
def test_word_spans_of_a_pair_give_the_word_by_word_ids_cached_or_not(a: str, b: str) -> None:
    """Each text's words are read once and cached; the ids a pair gets are still those of
    one pass over A's words then B's, in a shared vocabulary, on every call."""
    import re
    import unicodedata

    def oracle(texts: list[str]) -> list[list[int]]:
        vocab: dict[str, int] = {}
        out = []
        for t in texts:
            words = [
                unicodedata.normalize("NFKC", m.group()).casefold() for m in re.finditer(r"\w+", t)
            ]
            out.append([vocab.setdefault(w, len(vocab)) for w in words])
        return out

    for first, second in ((a, b), (b, a), (a, b)):  # the third call reads the cache
        vocab: dict[str, int] = {}
        got = [word_spans(first, vocab).keys.tolist(), word_spans(second, vocab).keys.tolist()]
        assert got == oracle([first, second])


def test_one_huge_unpunctuated_sentence_is_scored_on_its_first_words() -> None:
    from dedup.align.passage_sentences import MAX_SENTENCE_WORDS, sentence_scores

    rng = random.Random(6)
    text = _prose(rng, 40 * MAX_SENTENCE_WORDS).replace(".", "").lower()
    _, _, lex = sentence_scores(
        [text], [text], embed=None, lexical_threshold=0.5, embedding_threshold=0.6
    )
    assert lex.shape == (1, 1)
    assert float(lex[0, 0]) == pytest.approx(1.0)
    al = align_passages(text, text)
    assert len(al.passages) == 1
    assert al.passages[0].kind == "verbatim"


def test_sentence_view_past_the_matrix_bound_scores_the_matches_only() -> None:
    """Past ``max_sentence_cells`` the sentence view takes the passage matches as they are
    (no full sentence matrix: no merges or moves), so huge texts stay linear."""
    from dedup.align.pair import align_pair
    from dedup.config import PassageConfig

    class Counting:
        """The lexical scorer, recording the largest matrix asked of it."""

        def __init__(self) -> None:
            from dedup.align.scorers import LexicalScorer

            self.inner, self.cells = LexicalScorer(), 0

        def __call__(self, a: list[str], b: list[str]) -> object:
            self.cells = max(self.cells, len(a) * len(b))
            return self.inner(a, b)

        def pairwise(self, a: list[str], b: list[str]) -> object:
            return self.inner.pairwise(a, b)

    text = " ".join(f"Sentence {k} tells of item {k * 7} and place {k * 13}." for k in range(60))
    small, big = Counting(), Counting()
    bounded = align_pair(text, text, scorer=small, config=PassageConfig(max_sentence_cells=100))  # type: ignore[arg-type]
    full = align_pair(text, text, scorer=big)  # type: ignore[arg-type]
    assert small.cells == 0
    assert big.cells == 60 * 60
    assert [op.tag for op in bounded.sentences.ops] == ["same"] * 60
    assert bounded.sentences.ops == full.sentences.ops


def _brute_seeds(
    ha: np.ndarray, hb: np.ndarray, max_df: int, max_seeds: int
) -> tuple[list[int], list[int]]:
    """Every (i, j) with equal hashes, both counts <= max_df; the rarest (count_a * count_b)
    kept first when over max_seeds, among them every k-th position of A first (k = found /
    max_seeds, rounded up), then sorted by position: the oracle of both paths."""
    ca = {h: int((ha == h).sum()) for h in set(ha.tolist())}
    cb = {h: int((hb == h).sum()) for h in set(hb.tolist())}
    seeds = [
        (ca[int(x)] * cb[int(x)], i, j)
        for i, x in enumerate(ha.tolist())
        for j, y in enumerate(hb.tolist())
        if x == y and ca[x] <= max_df and cb[y] <= max_df
    ]
    k = -(-len(seeds) // max_seeds)
    ranked = sorted(seeds, key=lambda t: (t[0], t[1] % k, t[1], t[2]))
    kept = sorted(ranked[:max_seeds], key=lambda t: (t[1], t[2]))
    return [i for _, i, _ in kept], [j for _, _, j in kept]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, 9), min_size=1, max_size=50),
    st.lists(st.integers(0, 9), min_size=1, max_size=50),
    st.integers(1, 6),
    st.integers(1, 60),
)
def test_seed_paths_equal_brute_force(
    a: list[int], b: list[int], max_df: int, max_seeds: int
) -> None:
    """The numpy path (article-sized texts) and the polars path (large texts) give the brute
    force's seeds, in the same order, with the same cut at max_seeds."""
    from dedup.align import passage_seeds as ps

    ha, hb = np.asarray(a, dtype=np.uint64), np.asarray(b, dtype=np.uint64)
    want = _brute_seeds(ha, hb, max_df, max_seeds)
    for path in (ps._seeds_numpy, ps._seeds_polars):
        got_a, got_b = path(ha, hb, max_df=max_df, max_seeds=max_seeds)
        assert (got_a.tolist(), got_b.tolist()) == want, path.__name__


@settings(max_examples=80, deadline=None)
@given(
    a=st.lists(st.text(alphabet=st.sampled_from("abcde fg THE and ,."), max_size=30), max_size=6),
    b=st.lists(st.text(alphabet=st.sampled_from("abcde fg THE and ,."), max_size=30), max_size=6),
)
def test_content_dice_equals_the_set_by_set_oracle(a: list[str], b: list[str]) -> None:
    from dedup.align.passage_sentences import content_dice, content_words

    got = content_dice(a, b)
    assert got.shape == (len(a), len(b))
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            cx, cy = content_words(x), content_words(y)
            want = 2.0 * len(cx & cy) / (len(cx) + len(cy)) if cx and cy else 0.0
            assert got[i, j] == np.float32(want)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sentence_path_without_a_sentence_matrix_follows_the_edit_script(seed: int) -> None:
    """Above ``max_sentence_cells`` the sentence path comes from the passages' seeds: on texts
    of a small vocabulary (where n-grams straddling sentence boundaries abound), a text
    against itself gives the diagonal, and against a copy with sentences replaced, deleted
    and inserted it pairs exactly the sentences difflib keeps."""
    from dedup.align.sentence_path import heaviest_chain
    from dedup.text.segment import split_sentences

    rng = random.Random(seed)
    vocab = ["alpha", "beta", "gamma", "delta", "river", "house", "street", "garden", "table"]
    sents = [
        " ".join(rng.choice(vocab) for _ in range(rng.randint(8, 20))).capitalize() + "."
        for _ in range(300)
    ]
    edited = list(sents)
    edited[40] = "Completely new words inserted here for testing."
    del edited[120]
    edited.insert(200, "Another fresh sentence appears right here.")
    cfg = PassageConfig(max_sentence_cells=1)  # no sentence matrix: the seeds' path
    a = " ".join(sents)
    assert len(split_sentences(a)) == len(sents)
    same = align_passages(a, a, config=cfg)
    assert list(same.path) == [(i, i) for i in range(len(sents))]
    got = align_passages(a, " ".join(edited), config=cfg)
    matcher = difflib.SequenceMatcher(a=sents, b=edited, autojunk=False)
    blocks = matcher.get_matching_blocks()
    want = [(blk.a + k, blk.b + k) for blk in blocks for k in range(blk.size)]
    assert list(got.path) == want
    # the weighted chain: a sentence's heaviest partner, each sentence used once
    assert heaviest_chain({(0, 0): 1, (0, 1): 5, (1, 1): 1, (1, 2): 5}) == [(0, 1), (1, 2)]
    assert heaviest_chain({(0, 1): 2, (1, 0): 3}) == [(1, 0)]
    assert heaviest_chain({}) == []


def test_above_the_bound_no_sentence_is_embedded() -> None:
    """Past ``max_sentence_cells`` neither the passages nor the sentence view embed a
    sentence (a diff of two long texts stays lexical and fast)."""
    from dedup.align.pair import align_pair
    from dedup.align.scorers import EmbeddingScorer

    class Refusing(EmbeddingScorer):
        def embed(self, sentences: object, **kwargs: object) -> np.ndarray:
            raise AssertionError("embedded a sentence above the bound")

    text = " ".join(f"Sentence {i} talks about the river and the house." for i in range(30))
    edited = text.replace("Sentence 7 talks", "Sentence 7 speaks")
    refusing = Refusing(loader=lambda: None)
    pair = align_pair(text, edited, scorer=refusing, config=PassageConfig(max_sentence_cells=1))
    assert pair.sentences.ops
    small = align_pair(text, edited, config=PassageConfig())
    assert len(pair.sentences.ops) == len(small.sentences.ops)


def test_short_sentences_keep_their_partner_without_a_sentence_matrix() -> None:
    """Sentences where no kept seed starts (a last "Ok.", one-word replies, positions the seed
    cap passed over) still pair with their identical partner: a text against itself is the
    diagonal."""
    rng = random.Random(3)
    words = ["alpha", "beta", "gamma", "delta", "river", "house", "street", "garden", "table"]
    sents = []
    for k in range(300):
        if k % 3 == 0:
            sents.append(rng.choice(["Yes.", "No.", "Right."]))
        else:
            n = rng.randint(6, 14)
            sents.append(" ".join(rng.choice(words) for _ in range(n)).capitalize() + ".")
    text = " ".join(sents) + " Ok."
    for cap in (200_000, 400):  # every seed kept; a cap that passes over positions
        al = align_passages(text, text, config=PassageConfig(max_sentence_cells=0, max_seeds=cap))
        assert list(al.path) == [(i, i) for i in range(len(al.sentences_a))], cap


def test_a_sentence_beside_a_copied_one_is_not_taken_for_its_other_half() -> None:
    """A on one side matches B's second sentence word for word; B's first sentence, on the
    same subject, scores high against it too. A copy is not a sentence rewritten as two, so
    B's first sentence stays out of the run; a reworded pair still takes such a neighbour."""
    from dedup.align.passage_sentences import sentence_runs

    score = np.zeros((4, 5), dtype=np.float32)
    lexical = np.zeros((4, 5), dtype=np.float32)
    for i in range(4):  # A's sentence i is B's sentence i + 1
        score[i, i + 1] = 2.0
        lexical[i, i + 1] = 1.0
    score[0, 0] = 1.2  # B's first sentence: the same subject as A's first
    chain = [(i, i + 1) for i in range(4)]
    (run,) = sentence_runs(chain, score, lexical, max_gap=1, min_links=2, extend=0.8)
    assert all(j != 0 for _, j in run.links)
    lexical[0, 1] = 0.4  # reworded: then B's first sentence may be its other half
    (run,) = sentence_runs(chain, score, lexical, max_gap=1, min_links=2, extend=0.8)
    assert (0, 0) in run.links
