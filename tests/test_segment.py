from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dedup.text.segment import Sentence, split_sentences


def texts(t: str) -> list[str]:
    return [s.text for s in split_sentences(t)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Mr. Smith met Gen. Jones in St. Louis on Jan. 5. They talked.",
            ["Mr. Smith met Gen. Jones in St. Louis on Jan. 5.", "They talked."],
        ),
        ("Dr. Chan and Mrs. Lee spoke. Both left.", ["Dr. Chan and Mrs. Lee spoke.", "Both left."]),
        (
            "J. R. R. Tolkien wrote books. He died in 1973.",
            ["J. R. R. Tolkien wrote books.", "He died in 1973."],
        ),
        (
            "Growth was 3.5 percent in 2.0 years. It rose.",
            ["Growth was 3.5 percent in 2.0 years.", "It rose."],
        ),
        ('He said, "It is over." Then he left.', ['He said, "It is over."', "Then he left."]),
        ("She said “It is over.” Then she left.", ["She said “It is over.”", "Then she left."]),
        ("Wait... what? No! Really… Yes.", ["Wait... what?", "No!", "Really…", "Yes."]),
        (
            "He lives in the U.S. The country is big.",
            ["He lives in the U.S.", "The country is big."],
        ),
        (
            "The U.S. Army and U.N. officials said so.",
            ["The U.S. Army and U.N. officials said so."],
        ),
        ("Prices rose, etc. and more.", ["Prices rose, etc. and more."]),
        ("Is it? Yes. (Maybe.)", ["Is it?", "Yes.", "(Maybe.)"]),
        # Scripts without case: a caseless letter opens a sentence as a capital does.
        (
            "قال المسؤولون إن الخطة ستخفض الإنفاق. وتظاهر السكان. هل سيعقد جلسة؟ نعم.",
            ["قال المسؤولون إن الخطة ستخفض الإنفاق.", "وتظاهر السكان.", "هل سيعقد جلسة؟", "نعم."],
        ),
        ("הם אמרו את זה. הוא הלך הביתה.", ["הם אמרו את זה.", "הוא הלך הביתה."]),
        # Chinese and Japanese: full-width marks end a sentence without a space after them.
        (
            "数据显示经济增长。专家认为势头将会延续！但是呢？「好。」他说。「走吧。」",
            [
                "数据显示经济增长。",
                "专家认为势头将会延续！",
                "但是呢？",
                "「好。」他说。",
                "「走吧。」",
            ],
        ),
        ("東京は晴れです。明日は雨でしょう。", ["東京は晴れです。", "明日は雨でしょう。"]),
        ("「本当？」と彼は言った。次。", ["「本当？」と彼は言った。", "次。"]),
        # Real sentences from the seeds.
        (
            "Despite various international efforts, including U.S. sanctions directed at "
            "specific entities, the problem persists. The scope is vast.",
            [
                "Despite various international efforts, including U.S. sanctions directed at "
                "specific entities, the problem persists.",
                "The scope is vast.",
            ],
        ),
        (
            "“It must address the root causes: poor governance, corruption, and the "
            "intertwining of criminal, political and economic interests.” Even as Thai police "
            "tightened border controls, human trafficking continued.",
            [
                "“It must address the root causes: poor governance, corruption, and the "
                "intertwining of criminal, political and economic interests.”",
                "Even as Thai police tightened border controls, human trafficking continued.",
            ],
        ),
    ],
)
def test_sentences(text: str, expected: list[str]) -> None:
    assert texts(text) == expected


def test_headline_and_caption_lines_end_sentences() -> None:
    text = (
        "Thailand’s Crackdown Efforts\n"
        "Led by Police General Thatchai Pitaneelaboot\n"
        "The operation, spearheaded by Thai Police General Thatchai Pitaneelaboot, involves a "
        "comprehensive strategy. A notable component of this plan includes cutting off power.\n"
        "A scam center in Myanmar seen from the Thai border in February\n"
    )
    assert texts(text) == [
        "Thailand’s Crackdown Efforts",
        "Led by Police General Thatchai Pitaneelaboot",
        "The operation, spearheaded by Thai Police General Thatchai Pitaneelaboot, involves a "
        "comprehensive strategy.",
        "A notable component of this plan includes cutting off power.",
        "A scam center in Myanmar seen from the Thai border in February",
    ]


def test_paragraphs_from_blank_lines() -> None:
    text = "Title line\n\nFirst para one. First para two.\n\n\nSecond para.\r\n"
    sents = split_sentences(text)
    assert [(s.text, s.paragraph) for s in sents] == [
        ("Title line", 0),
        ("First para one.", 1),
        ("First para two.", 1),
        ("Second para.", 2),
    ]


def test_one_paragraph_per_line_without_blank_lines() -> None:
    sents = split_sentences("One. Two.\nThree.\nFour.")
    assert [s.paragraph for s in sents] == [0, 0, 1, 2]


def test_hard_wrapped_lines_are_joined() -> None:
    text = "The scam centers continued to operate,\nconstructing new warehouses for\ncrime.\n"
    assert texts(text) == [
        "The scam centers continued to operate,\nconstructing new warehouses for\ncrime."
    ]


def test_empty() -> None:
    assert split_sentences("") == []
    assert split_sentences(" \n\n \t") == []


def test_seeds(seed_texts: list[str]) -> None:
    counts = [len(split_sentences(t)) for t in seed_texts]
    assert counts == [11, 18, 22, 23]
    s000 = split_sentences(seed_texts[0])
    assert s000[0].text.startswith("In a recent development")
    assert s000[0].text.endswith("trapped in online scam operations.")
    assert s000[1].text.startswith("This comes amid")
    assert [s.paragraph for s in s000] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5]


@given(st.text(alphabet=st.sampled_from(list('ab .?!\n"”U.S3 '))))
def test_offsets_are_exact_slices(text: str) -> None:
    sents = split_sentences(text)
    last = 0
    for s in sents:
        assert isinstance(s, Sentence)
        assert text[s.start : s.end] == s.text
        assert s.text == s.text.strip()
        assert s.text
        assert s.start >= last
        last = s.end
    # Nothing but white space is lost.
    kept = "".join(s.text for s in sents)
    assert "".join(text.split()) == "".join(kept.split())


def test_cached_split_equals_uncached_and_is_a_fresh_list(
    seed_texts: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Texts up to CACHED_CHARS are split once per process: the same sentences as splitting
    afresh, and a caller that changes its list does not change the next caller's."""
    from dedup.text import segment

    text = seed_texts[1]
    first = split_sentences(text)
    first.pop()
    again = split_sentences(text)
    assert len(again) == len(first) + 1
    monkeypatch.setattr(segment, "CACHED_CHARS", 0)  # the uncached path
    assert split_sentences(text) == again
    assert segment._split_cached.cache_info().currsize >= 1
