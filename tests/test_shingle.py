from __future__ import annotations

import numpy as np
import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.config import ShingleConfig
from dedup.lexical.shingle import reference_hashes, shingle_texts, xxh32, xxh32_words
from dedup.text.normalize import canonical, canonical_bytes
from tests.kernel_paths import PATHS, kernel_path

TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300)
WORDY = st.lists(
    st.sampled_from(["the", "The", "cat", "sat", "on", "mat.", "Straße", "ﬁne", "—", "3.5", "\n"]),
    max_size=60,
).map(" ".join)


def _reference(text: str, cfg: ShingleConfig) -> list[int]:
    return reference_hashes(text, cfg)


@given(data=st.binary(max_size=80), seed=st.integers(0, 2**32 - 1))
def test_xxh32_matches_xxhash(data: bytes, seed: int) -> None:
    buf = np.frombuffer(data + b"\0", dtype=np.uint8)
    assert int(xxh32(buf, 0, len(data), np.uint64(seed))) == xxhash.xxh32_intdigest(data, seed)


@given(words=st.lists(st.integers(0, 2**32 - 1), max_size=20), seed=st.integers(0, 2**32 - 1))
def test_xxh32_words_matches_xxhash(words: list[int], seed: int) -> None:
    arr = np.array([*words, 0], dtype=np.uint32)
    expected = xxhash.xxh32_intdigest(arr[:-1].astype("<u4").tobytes(), seed)
    assert int(xxh32_words(arr, 0, len(words), np.uint64(seed))) == expected


@pytest.mark.parametrize("path", PATHS)
@settings(max_examples=150, deadline=None)
@given(
    texts=st.lists(st.one_of(TEXT, WORDY), max_size=6),
    kind=st.sampled_from(["word", "char"]),
    size=st.integers(1, 6),
)
def test_kernel_matches_reference(path: str, texts: list[str], kind: str, size: int) -> None:
    cfg = ShingleConfig(kind="word" if kind == "word" else "char", size=size)
    with kernel_path(path):
        batch = shingle_texts(texts, cfg)
    assert len(batch) == len(texts)
    for i, text in enumerate(texts):
        assert sorted(batch.doc(i).tolist()) == _reference(text, cfg)
        assert batch.n_tokens[i] == len(canonical(text).split())


@given(text=st.one_of(TEXT, WORDY))
def test_canonical_bytes_has_the_same_words(text: str) -> None:
    assert canonical_bytes(text).decode("utf-8").split() == canonical(text).split()


def test_normalization_folds_case_punctuation_and_compatibility_forms() -> None:
    a = "The ﬁrst CAFÉ — “opened” in 2024!"
    b = "the first café opened in 2024"
    batch = shingle_texts([a, b], ShingleConfig(size=2))
    assert batch.doc(0).tolist() == batch.doc(1).tolist()
    assert batch.content_hash[0] == batch.content_hash[1]


def test_short_text_is_one_shingle_and_empty_has_none() -> None:
    batch = shingle_texts(["two words", "", "  ... "], ShingleConfig(size=5))
    assert len(batch.doc(0)) == 1
    assert len(batch.doc(1)) == 0
    assert len(batch.doc(2)) == 0


def test_seed_changes_hashes() -> None:
    a = shingle_texts(["one two three four five six"], ShingleConfig(seed=0)).doc(0)
    b = shingle_texts(["one two three four five six"], ShingleConfig(seed=1)).doc(0)
    assert a.tolist() != b.tolist()
