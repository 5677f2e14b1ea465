"""The index's store of sentence vectors: a query reads the indexed documents' vectors instead
of encoding them again, and gets the same answer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from dedup.config import SemanticConfig
from dedup.index.sentence_vectors import FOLDER, looked_up
from dedup.semantic.vector_store import SentenceVectorStore, store_key


def _vectors(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(n, 8)).astype(np.float32)
    out: np.ndarray = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def test_store_round_trip_by_sentence(tmp_path: Path) -> None:
    store = SentenceVectorStore(tmp_path / "s")
    text = "One sentence. Another one. A third."
    wanted = ["One sentence.", "Another one.", "A third."]
    vecs = _vectors(3)
    cache = dict(zip(wanted, vecs, strict=True))
    assert store.keep(cache, text, wanted)
    got: dict[str, np.ndarray] = {}
    # looked up sentence by sentence: what the file lacks is counted as missing
    assert store.fill(got, text, [*wanted[::-1], "Not in the file."]) == 1
    assert set(got) == set(wanted)
    for s, v in zip(wanted, vecs, strict=True):
        np.testing.assert_array_equal(got[s], v)
    # another text has no file: everything is missing, nothing is filled
    other: dict[str, np.ndarray] = {}
    assert store.fill(other, text + " More.", wanted) == 3
    assert other == {}


def test_store_keeps_what_the_cache_holds(tmp_path: Path) -> None:
    store = SentenceVectorStore(tmp_path / "s")
    assert not store.keep({}, "t", ["a", "b"])  # nothing to write
    assert store.keep({"a": _vectors(1)[0]}, "t", ["a", "b"])
    got: dict[str, np.ndarray] = {}
    assert store.fill(got, "t", ["a", "b"]) == 1
    assert list(got) == ["a"]


def test_a_cached_vector_is_not_replaced(tmp_path: Path) -> None:
    store = SentenceVectorStore(tmp_path / "s")
    store.keep({"a": _vectors(1, seed=1)[0]}, "t", ["a"])
    mine = _vectors(1, seed=2)[0]
    cache = {"a": mine}
    assert store.fill(cache, "t", ["a"]) == 0
    np.testing.assert_array_equal(cache["a"], mine)


def _npy() -> bytes:
    import io

    out = io.BytesIO()
    np.save(out, np.zeros(3))
    return out.getvalue()


@pytest.mark.parametrize(
    "damage",
    [b"", b"not a zip file", b"PK\x03\x04broken", _npy()],
    ids=["empty", "text", "zip", "npy"],
)
def test_damaged_file_is_a_miss_and_is_rewritten(tmp_path: Path, damage: bytes) -> None:
    store = SentenceVectorStore(tmp_path / "s")
    vec = _vectors(1)[0]
    store.keep({"a": vec}, "t", ["a"])
    (path,) = (tmp_path / "s").rglob("*.npz")
    path.write_bytes(damage)
    got: dict[str, np.ndarray] = {}
    assert store.fill(got, "t", ["a"]) == 1
    assert got == {}
    assert store.keep({"a": vec}, "t", ["a"])
    assert store.fill(got, "t", ["a"]) == 0
    np.testing.assert_array_equal(got["a"], vec)


def test_unwritable_store_is_left_alone(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    store = SentenceVectorStore(blocker / "s")  # a folder under a file cannot be made
    assert not store.keep({"a": _vectors(1)[0]}, "t", ["a"])
    assert not store.writable
    assert store.fill({}, "t", ["a"]) == 1
    assert blocker.read_text() == "x"


def test_keys_separate_models_precisions_and_devices(tmp_path: Path) -> None:
    base = SemanticConfig()
    keys = {
        store_key(base, device="cpu", precision="bfloat16"),
        store_key(base, device="cpu", precision="float32"),
        store_key(base, device="cuda:0", precision="float32"),
        store_key(SemanticConfig(model="/some/model"), device="cpu", precision="float32"),
    }
    assert len(keys) == 4
    # a local model folder is keyed by its weight files too
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"1234")
    one = store_key(SemanticConfig(model=str(folder)), device="cpu", precision="float32")
    (folder / "model.safetensors").write_bytes(b"12345")
    assert store_key(SemanticConfig(model=str(folder)), device="cpu", precision="float32") != one
    assert store_key(base, device="cuda:1", precision="float32") == store_key(
        base, device="cuda", precision="float32"
    )


def test_looked_up_adds_the_aligners_heads() -> None:
    from dedup.align.passage_sentences import MAX_SENTENCE_WORDS, head

    long = " ".join(f"w{i}" for i in range(MAX_SENTENCE_WORDS + 10))
    got = looked_up(["Short.", long, "Short."])
    assert got == ["Short.", long, head(long)]
    assert head(long) != long


@pytest.mark.semantic
@pytest.mark.slow
def test_second_query_reads_the_indexed_vectors(
    seeds_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second query, in a process that has encoded nothing yet, encodes none of the indexed
    documents' sentences and answers as the first did; an add keeps the new documents'."""
    pytest.importorskip("torch")
    pytest.importorskip("sentence_transformers")
    from dedup.config import RunConfig
    from dedup.index import Index, add, build
    from dedup.semantic import encoder
    from dedup.text.segment import split_sentences

    def seed(prefix: str) -> Path:
        return next(iter(sorted(seeds_dir.glob(f"{prefix}_*.txt"))))

    indexed, query, later = [seed("000"), seed("003")], seed("001"), seed("002")
    build(indexed, tmp_path / "ix", config=RunConfig(semantic=SemanticConfig(enabled=True)))
    encoded: list[str] = []
    real = encoder.SentenceEncoder._encode

    def counting(self: encoder.SentenceEncoder, todo: list[str], progress: object) -> np.ndarray:
        encoded.extend(todo)
        return real(self, todo, progress)  # type: ignore[arg-type]

    monkeypatch.setattr(encoder.SentenceEncoder, "_encode", counting)

    def fresh_query() -> pl.DataFrame:
        encoder._EMBEDDERS.clear()  # as in a new process: nothing cached
        encoded.clear()
        with Index.open(tmp_path / "ix") as ix:
            return ix.query_files([query]).matches.sort("doc_a", "doc_b")

    sents = {
        p.name[:3]: [s.text for s in split_sentences(p.read_text(encoding="utf-8"))]
        for p in (*indexed, query, later)
    }
    first = fresh_query()
    assert first["match_id"].to_list() == [0]  # 000; 003 is a candidate but no match
    assert set(sents["000"]) <= set(encoded)
    assert len(list((tmp_path / "ix" / FOLDER).rglob("*.npz"))) == 2  # 000 and 003

    second = fresh_query()
    assert encoded  # the query's own sentences (and the aligner's merged ones)
    assert not set(encoded) & (set(sents["000"]) | set(sents["003"]))
    assert set(sents["001"]) <= set(encoded)
    cols = ["doc_a", "doc_b", "relation", "channel", "n_same", "n_edited", "n_added"]
    assert second.select(cols).equals(first.select(cols))
    for col in ("score", "semantic", "kept_a"):
        assert second[col].to_numpy() == pytest.approx(first[col].to_numpy(), abs=1e-5)

    # an add keeps the new documents' vectors too (they are indexed once it commits)
    encoder._EMBEDDERS.clear()
    add([later], tmp_path / "ix")
    encoder._EMBEDDERS.clear()
    encoded.clear()
    with Index.open(tmp_path / "ix") as ix:
        ix.query_files([query])
    assert not set(encoded) & set(sents["002"])

    # the store is the index's own folder: compacting keeps it, a rebuild over it is allowed
    from dedup.index import compact

    compact(tmp_path / "ix")
    build(indexed, tmp_path / "ix", config=RunConfig(), overwrite=True)
    assert len(list((tmp_path / "ix" / FOLDER).rglob("*.npz"))) == 3
