"""The index's store of sentence vectors: a query reads the indexed documents' vectors instead
of encoding them again, and gets the same answer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from dedup.config import SemanticConfig
from dedup.index.sentence_vectors import FOLDER
from dedup.semantic.vector_store import (
    MAX_JOINED,
    Kept,
    SentenceVectorStore,
    doc_strings,
    store_key,
    string_hash,
)


def _vectors(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(n, 8)).astype(np.float32)
    out: np.ndarray = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def test_store_round_trip_by_string_hash(tmp_path: Path) -> None:
    store = SentenceVectorStore(tmp_path / "s")
    text = "One sentence. Another one. A third."
    strings = ["One sentence.", "Another one.", "A third."]
    vecs = _vectors(3)
    cache = dict(zip(strings, vecs, strict=True))
    assert store.has(text) is False
    assert store.keep(text, [*strings, "Not in the cache."], cache)
    assert store.has(text)
    got = store.load(text)
    assert got is not None
    assert set(got) == {string_hash(s) for s in strings}  # what the cache held, only
    for s, v in zip(strings, vecs, strict=True):
        np.testing.assert_array_equal(got[string_hash(s)], v)
    assert store.load(text + " More.") is None  # another text has no file


def test_a_rewrite_keeps_what_the_file_held(tmp_path: Path) -> None:
    store = SentenceVectorStore(tmp_path / "s")
    a, b = _vectors(2)
    assert not store.keep("t", ["a"], {})  # nothing to write
    store.keep("t", ["a"], {"a": a})
    old = store.load("t")
    store.keep("t", ["b"], {"b": b}, old)
    got = store.load("t")
    assert got is not None
    assert set(got) == {string_hash("a"), string_hash("b")}


def _npy() -> bytes:
    import io

    out = io.BytesIO()
    np.save(out, np.zeros(3))
    return out.getvalue()


def _bad_deflate() -> bytes:
    """A compressed npz whose deflate stream is damaged (zlib fails while reading)."""
    import io

    out = io.BytesIO()
    np.savez_compressed(out, keys=np.arange(50, dtype=np.uint64), vectors=np.ones((50, 8)))
    data = bytearray(out.getvalue())
    for i in range(60, 160):
        data[i] ^= 0xFF
    return bytes(data)


@pytest.mark.parametrize(
    "damage",
    [b"", b"not a zip file", b"PK\x03\x04broken", _npy(), _bad_deflate()],
    ids=["empty", "text", "zip", "npy", "deflate"],
)
def test_damaged_file_is_a_miss_and_is_rewritten(tmp_path: Path, damage: bytes) -> None:
    store = SentenceVectorStore(tmp_path / "s")
    vec = _vectors(1)[0]
    store.keep("t", ["a"], {"a": vec})
    (path,) = (tmp_path / "s").rglob("*.npz")
    path.write_bytes(damage)
    assert store.load("t") is None
    assert store.keep("t", ["a"], {"a": vec})
    got = store.load("t")
    assert got is not None
    np.testing.assert_array_equal(got[string_hash("a")], vec)


def test_unwritable_store_is_left_alone(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    store = SentenceVectorStore(blocker / "s")  # a folder under a file cannot be made
    assert not store.keep("t", ["a"], {"a": _vectors(1)[0]})
    assert not store.writable
    assert store.load("t") is None
    assert blocker.read_text() == "x"


def test_doc_strings_are_sentences_heads_and_short_joins() -> None:
    from dedup.text.segment import MAX_SENTENCE_WORDS, head

    long = " ".join(f"w{i}" for i in range(MAX_SENTENCE_WORDS + 10))
    sents = ["A.", "B.", long, "C.", "D.", "E."]
    joins = [" ".join(sents[lo:hi]) for lo in range(6) for hi in range(lo + 2, 7)]
    cache = dict.fromkeys([*sents, head(long), *joins, "unrelated"], 0)
    got = doc_strings(sents, cache)
    assert head(long) != long
    # a join is of 2 to MAX_JOINED sentences (the long one counts as one)
    expected = {*sents, head(long)} | {
        " ".join(sents[lo:hi])
        for lo in range(6)
        for hi in range(lo + 2, min(lo + MAX_JOINED, 6) + 1)
    }
    assert set(got) == expected
    assert len(got) == len(set(got))
    assert doc_strings(sents, {}) == []


def test_encoder_reads_kept_vectors_before_encoding() -> None:
    from dedup.semantic.encoder import SentenceEncoder

    class Model:
        def __init__(self) -> None:
            self.calls: list[list[str]] = []

        def encode(self, sentences: list[str], **_: object) -> np.ndarray:
            self.calls.append(list(sentences))
            return _vectors(len(sentences), seed=len(self.calls))

    model = Model()
    enc = SentenceEncoder(model)
    mine = _vectors(1, seed=9)[0]
    enc.kept[string_hash("kept one")] = mine
    out = enc.embed(["kept one", "new one"])
    assert model.calls == [["new one"]]
    np.testing.assert_array_equal(out[0], mine)
    assert "kept one" in enc.cache  # now cached as any encoded string


def test_kept_writes_documents_with_new_strings_only(tmp_path: Path) -> None:
    from dedup.semantic.encoder import SentenceEncoder

    store = SentenceVectorStore(tmp_path / "s")
    a, b, ab = _vectors(3)
    store.keep("doc one", ["a", "b"], {"a": a, "b": b})
    enc = SentenceEncoder(model=object())
    enc.kept[123] = ab  # an earlier run's: emptied by the preload
    kept = Kept.preload(store, enc, [("doc one", ["a", "b"]), ("doc two", ["c"])])
    assert kept.stored_documents() == 1
    assert set(enc.kept) == {string_hash("a"), string_hash("b")}
    before = next((tmp_path / "s").rglob("*.npz")).stat().st_mtime_ns
    # nothing new for doc one, and doc two's sentence was not encoded: nothing written
    enc.cache.update({"a": a, "b": b})
    kept.snapshot()
    assert kept.write() == 0
    assert next((tmp_path / "s").rglob("*.npz")).stat().st_mtime_ns == before
    assert enc.kept == {}  # emptied once written: a later run in the process reads nothing
    # a joined text of doc one was scored: its file is rewritten, the old strings kept
    enc.cache["a b"] = ab
    assert kept.write() == 1
    got = store.load("doc one")
    assert got is not None
    assert set(got) == {string_hash(s) for s in ("a", "b", "a b")}


def test_sentences_are_kept_when_the_cache_is_emptied_before_the_write(tmp_path: Path) -> None:
    """The aligner may empty the encoder's cache (past ``cache_size``) after verification: the
    snapshot taken then still writes every sentence."""
    from dedup.semantic.encoder import SentenceEncoder

    store = SentenceVectorStore(tmp_path / "s")
    enc = SentenceEncoder(model=object())
    sents = ["x.", "y.", "z."]
    kept = Kept.preload(store, enc, [("x. y. z.", sents)])
    enc.cache.update(zip(sents, _vectors(3), strict=True))
    kept.snapshot()
    enc.cache.clear()
    enc.cache["x. y."] = _vectors(1, seed=5)[0]  # a join scored after the cache was emptied
    assert kept.write() == 1
    got = store.load("x. y. z.")
    assert got is not None
    assert set(got) == {string_hash(s) for s in [*sents, "x. y."]}


def test_preload_leaves_out_vectors_of_another_width(tmp_path: Path) -> None:
    from dedup.semantic.encoder import SentenceEncoder

    store = SentenceVectorStore(tmp_path / "s")
    store.keep("one", ["a"], {"a": _vectors(1)[0]})
    store.keep("two", ["b"], {"b": np.ones(5, dtype=np.float32)})
    enc = SentenceEncoder(model=object())
    kept = Kept.preload(store, enc, [("one", ["a"]), ("two", ["b"])])
    assert kept.stored_documents() == 1
    assert set(enc.kept) == {string_hash("a")}


def test_store_files_have_the_usual_mode(tmp_path: Path) -> None:
    import os

    store = SentenceVectorStore(tmp_path / "s")
    store.keep("t", ["a"], {"a": _vectors(1)[0]})
    (path,) = (tmp_path / "s").rglob("*.npz")
    mask = os.umask(0o022)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


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
    two = store_key(SemanticConfig(model=str(folder)), device="cpu", precision="float32")
    assert two != one
    # the same size, written again in place (a model fine-tuned where it lies)
    import os

    st = (folder / "model.safetensors").stat()
    os.utime(folder / "model.safetensors", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert store_key(SemanticConfig(model=str(folder)), device="cpu", precision="float32") != two
    assert store_key(base, device="cuda:1", precision="float32") == store_key(
        base, device="cuda", precision="float32"
    )


@pytest.mark.semantic
@pytest.mark.slow
def test_second_query_reads_the_indexed_vectors(
    seeds_dir: Path, tmp_path: Path, encoded: list[str]
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
