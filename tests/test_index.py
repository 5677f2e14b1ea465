"""The index: answers equal a batch scan's; appends are atomic; bad input and bad indexes."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from dedup.cli import app
from dedup.config import LSHConfig, OverlapConfig, RunConfig, SemanticConfig, VerifyConfig
from dedup.errors import IndexConfigError, IndexStoreError
from dedup.index import Index, add, build, compact, lookup
from dedup.index import segment as seg
from dedup.pipeline import scan
from tests.corpora import VOCAB, corpus_texts, edited, sentences

# small bucket, group and document-frequency limits, so the corpus below crosses each
LEXICAL = RunConfig(
    lsh=LSHConfig(max_bucket=20),
    verify=VerifyConfig(max_exact_group=10),
    overlap=OverlapConfig(max_df=12),
    semantic=SemanticConfig(enabled=False),
)
COMPARED = [
    "doc_a",
    "doc_b",
    "path_a",
    "path_b",
    "relation",
    "jaccard",
    "containment_a",
    "containment_b",
    "score",
    "channel",
    "source",
    "kept_a",
    "new_b",
    "n_same",
    "n_edited",
    "n_added",
    "n_dropped",
    "n_moved",
    "n_passages",
]


def _texts() -> tuple[list[str], list[str]]:
    """Index and query texts: planted copies, edits, passages and copy groups, some of
    each across the split, an exact-copy group larger than ``max_exact_group``, an LSH
    bucket larger than ``max_bucket`` and shingles above ``max_df``."""
    rng = random.Random(7)
    base = list(corpus_texts(300, seed=3).values())
    index, queries = [], []
    for text in base:
        (queries if rng.random() < 0.3 else index).append(text)
    big = sentences(rng, 60)
    index += [big] * 7
    queries += [big] * 6 + [edited(rng, big, 2)]
    crowd = sentences(rng, 80)
    variants = [edited(rng, crowd, 1) for _ in range(30)]
    index += variants[:18]
    queries += variants[18:]
    for text in rng.sample(index[:200], 20):  # copies and edits of indexed documents
        queries += [text, edited(rng, text, 4), f"{sentences(rng, 200)} {text}"]
    queries.append(" ".join(rng.choice(VOCAB) for _ in range(5)))
    return index, queries


def _jsonl(path: Path, texts: list[str]) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for t in texts:
            fh.write(json.dumps({"text": t}) + "\n")
    return path


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("split")
    index_texts, query_texts = _texts()
    idx = _jsonl(root / "index.jsonl", index_texts)
    qry = _jsonl(root / "queries.jsonl", query_texts)
    return root, idx, qry


@pytest.fixture(scope="module")
def scanned(split: tuple[Path, Path, Path]) -> pl.DataFrame:
    root, idx, qry = split
    return scan([idx, qry], root / "run", config=LEXICAL).pairs


@pytest.fixture(scope="module")
def built(split: tuple[Path, Path, Path]) -> Path:
    root, idx, _ = split
    build([idx], root / "index", config=LEXICAL)
    return root / "index"


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(COMPARED).sort("doc_a", "doc_b")


def test_query_equals_scan(scanned: pl.DataFrame, built: Path, split: tuple[Path, ...]) -> None:
    with Index.open(built) as ix:
        n = ix.n_docs
        result = ix.query_files([split[2]])
    expected = scanned.filter((pl.col("doc_a") < n) & (pl.col("doc_b") >= n))
    assert expected.height > 100  # copies, edits, passages, stars and copy groups
    assert set(expected["relation"]) >= {"exact", "near_duplicate", "partial"}
    got = result.matches
    assert got["query_id"].to_list() == (got["doc_b"] - n).to_list()
    same = [c for c in COMPARED if c != "source"] + ["external_id_a", "external_id_b"]
    assert (
        got.select(same).sort("doc_a", "doc_b").equals(expected.select(same).sort("doc_a", "doc_b"))
    )
    # the scan's source doc_id, as the side of the match it names
    side = expected.sort("doc_a", "doc_b").select(
        pl.when(pl.col("source") == pl.col("doc_a"))
        .then(pl.lit("match"))
        .when(pl.col("source") == pl.col("doc_b"))
        .then(pl.lit("query"))
        .alias("source")
    )
    assert got.sort("doc_a", "doc_b")["source"].equals(side["source"])
    assert set(got["source"].drop_nulls()) == {"match", "query"}


def test_add_equals_scan(
    scanned: pl.DataFrame, split: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    _, idx, qry = split
    build([idx], tmp_path / "ix", config=LEXICAL)
    n = Index.open(tmp_path / "ix").n_docs
    result = add([qry], tmp_path / "ix")
    expected = scanned.filter(pl.col("doc_b") >= n)
    assert expected.filter(pl.col("doc_a") >= n).height > 0  # pairs among the new ones
    assert _sorted(result.pairs).equals(_sorted(expected))
    stored = pl.read_parquet(tmp_path / "ix" / seg.SEGMENTS / result.segment / "pairs.parquet")
    assert _sorted(stored).equals(_sorted(expected))
    with Index.open(tmp_path / "ix") as ix:  # the added documents are now found
        again = ix.query_files([qry])
    twins = again.matches.filter(
        (pl.col("match_id") == pl.col("query_id") + n) & (pl.col("relation") == "exact")
    )
    index_texts, query_texts = _texts()
    counts = Counter(index_texts + query_texts)
    small_groups = {i for i, t in enumerate(query_texts) if 2 * counts[t] <= 10}
    assert set(twins["query_id"].to_list()) == small_groups  # larger: linked to the first


def test_api_query_texts(built: Path) -> None:
    index_texts, _ = _texts()
    with Index.open(built) as ix:
        res = ix.query(
            [index_texts[5], "", edited(random.Random(1), index_texts[9], 3)], ids=["x", "e", "y"]
        )
    assert res.skipped["query"].to_list() == ["e"]
    first = res.matches.filter(pl.col("query") == "x")
    assert 5 in first.filter(pl.col("relation") == "exact")["match_id"].to_list()
    assert 9 in res.matches.filter(pl.col("query") == "y")["match_id"].to_list()
    exact = first.filter((pl.col("relation") == "exact") & (pl.col("match_id") == 5))
    (passages,) = exact["passages"].to_list()
    longest = max(passages, key=lambda p: p["n_words"])
    text = index_texts[5]
    assert (
        text[longest["a_start"] : longest["a_end"]] == text[longest["b_start"] : longest["b_end"]]
    )
    assert longest["a_end"] - longest["a_start"] >= 0.9 * len(text.strip())
    assert longest["kind"] == "verbatim"


def test_config_mismatch_and_bad_index(
    built: Path, tmp_path: Path, split: tuple[Path, ...]
) -> None:
    with pytest.raises(IndexConfigError):
        Index.open(built, config=RunConfig())  # semantic channel: default, not off
    runner = CliRunner()
    res = runner.invoke(app, ["query", "--index", str(built), str(split[2]), "--threshold", "0.7"])
    assert res.exit_code == IndexConfigError.exit_code
    res = runner.invoke(
        app, ["index", "add", str(split[2]), "--index", str(built), "--shingle", "char:9"]
    )
    assert res.exit_code == IndexConfigError.exit_code
    same = runner.invoke(app, ["query", "--index", str(built), str(split[2]), "--no-semantic"])
    assert same.exit_code == 0, same.output
    res = runner.invoke(app, ["query", "--index", str(tmp_path / "none"), str(split[2])])
    assert res.exit_code == IndexStoreError.exit_code
    assert "no index" in res.output
    broken = tmp_path / "broken"
    (broken).mkdir()
    (broken / seg.MANIFEST).write_text("{not json")
    res = runner.invoke(app, ["query", "--index", str(broken), str(split[2])])
    assert res.exit_code == IndexStoreError.exit_code
    assert "damaged" in res.output


def test_damaged_segment(split: tuple[Path, ...], tmp_path: Path) -> None:
    build([split[1]], tmp_path / "ix", config=LEXICAL)
    manifest = seg.read_manifest(tmp_path / "ix")
    name = manifest["segments"][0]["name"]
    (tmp_path / "ix" / seg.SEGMENTS / name / "bands.key.npy").unlink()
    with pytest.raises(IndexStoreError, match="damaged"):
        Index.open(tmp_path / "ix")
    build([split[1]], tmp_path / "ix2", config=LEXICAL)
    name = seg.read_manifest(tmp_path / "ix2")["segments"][0]["name"]
    docs = tmp_path / "ix2" / seg.SEGMENTS / name / "documents.parquet"
    docs.write_bytes(b"PAR1 garbage")
    with pytest.raises(IndexStoreError, match="damaged"):
        Index.open(tmp_path / "ix2")


def test_skip_lines_and_json(built: Path, tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "binary.bin").write_bytes(bytes(range(256)) * 8)
    index_texts, _ = _texts()
    (tmp_path / "copy.txt").write_text(index_texts[3])
    runner = CliRunner()
    res = runner.invoke(app, ["query", "--index", str(built), str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("{")]
    rows = [json.loads(ln) for ln in lines]
    assert rows
    assert all({"query", "match", "relation", "score", "passages"} <= r.keys() for r in rows)
    assert any(r["relation"] == "exact" and r["match_id"] == 3 for r in rows)
    assert "skipped:" in res.stderr
    assert "empty.txt" in res.stderr
    assert "binary.bin" in res.stderr


def test_failed_add_leaves_index(
    split: tuple[Path, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build([split[1]], tmp_path / "ix", config=LEXICAL)
    before = (tmp_path / "ix" / seg.MANIFEST).read_bytes()
    with Index.open(tmp_path / "ix") as ix:
        answer = ix.query_files([split[2]]).matches

    def boom(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(seg, "commit", boom)
    with pytest.raises(KeyboardInterrupt):
        add([split[2]], tmp_path / "ix")
    monkeypatch.undo()
    assert (tmp_path / "ix" / seg.MANIFEST).read_bytes() == before
    assert len(list((tmp_path / "ix" / seg.SEGMENTS).iterdir())) == 1
    with Index.open(tmp_path / "ix") as ix:
        assert ix.query_files([split[2]]).matches.equals(answer)


def test_reader_keeps_its_snapshot(split: tuple[Path, ...], tmp_path: Path) -> None:
    build([split[1]], tmp_path / "ix", config=LEXICAL)
    old = Index.open(tmp_path / "ix")
    n = old.n_docs
    add([split[2]], tmp_path / "ix")
    assert old.query_files([split[2]]).matches["match_id"].max() < n  # type: ignore[operator]
    old.close()
    with Index.open(tmp_path / "ix") as new:
        assert new.n_docs > n


_ADD = """
import sys
from dedup.index import add
add([sys.argv[2]], sys.argv[1])
"""


def _killed_add(index: Path, inputs: Path, delay: float) -> None:
    """Start an add in a child process and ``kill -9`` it ``delay`` seconds after it has
    started writing its segment (or when it ends, whichever comes first)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    listed = {s["name"] for s in seg.read_manifest(index)["segments"]}
    proc = subprocess.Popen([sys.executable, "-c", _ADD, str(index), str(inputs)], env=env)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if {p.name for p in (index / seg.SEGMENTS).iterdir()} - listed:
            break
        time.sleep(0.005)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_kill_during_add(split: tuple[Path, ...], tmp_path: Path) -> None:
    """``kill -9`` at several moments of an add's writing: every query afterwards answers as
    the old index or as the new one, never a mix; the next writer clears what was left."""
    _, idx, qry = split
    build([idx], tmp_path / "old", config=LEXICAL)
    with Index.open(tmp_path / "old") as ix:
        old = ix.query_files([qry]).matches
    add([qry], tmp_path / "old")
    with Index.open(tmp_path / "old") as ix:
        new = ix.query_files([qry]).matches
    assert new.height > old.height
    outcomes = []
    for i, delay in enumerate((0.0, 0.01, 0.05, 0.2, 1.0)):
        index = tmp_path / f"ix{i}"
        build([idx], index, config=LEXICAL)
        _killed_add(index, qry, delay)
        with Index.open(index) as ix:
            got = ix.query_files([qry]).matches
        assert got.equals(old) or got.equals(new)
        outcomes.append(got.equals(new))
        listed = {s["name"] for s in seg.read_manifest(index)["segments"]}
        result = add([idx], index)  # the next writer clears what was left
        names = {p.name for p in (index / seg.SEGMENTS).iterdir()}
        assert names == listed | {result.segment}
    assert not all(outcomes)  # at least one add was killed before its commit


def test_compact_keeps_answers(split: tuple[Path, ...], tmp_path: Path) -> None:
    _, idx, qry = split
    build([idx], tmp_path / "ix", config=LEXICAL)
    add([qry], tmp_path / "ix")
    with Index.open(tmp_path / "ix") as ix:
        before = ix.query_files([qry])
    name = compact(tmp_path / "ix")
    manifest = seg.read_manifest(tmp_path / "ix")
    assert [s["name"] for s in manifest["segments"]] == [name]
    assert [p.name for p in (tmp_path / "ix" / seg.SEGMENTS).iterdir()] == [name]
    with Index.open(tmp_path / "ix") as ix:
        after = ix.query_files([qry])
    assert after.matches.equals(before.matches)
    assert after.matches.height > 0


def test_segments_answer_as_compacted(split: tuple[Path, ...], tmp_path: Path) -> None:
    """An index of four segments, searched segment by segment (their arrays as read, never
    merged), answers queries and adds exactly as the same index compacted into one."""
    root, idx, qry = split
    lines = idx.read_text(encoding="utf-8").splitlines(keepends=True)
    chunks = [_jsonl(root / f"chunk{i}.jsonl", []) for i in range(4)]
    for i, path in enumerate(chunks):
        path.write_text("".join(lines[i::4]), encoding="utf-8")
    build([chunks[0]], tmp_path / "many", config=LEXICAL)
    for path in chunks[1:]:
        add([path], tmp_path / "many")
    shutil.copytree(tmp_path / "many", tmp_path / "one")
    compact(tmp_path / "one")
    answers = []
    for name in ("many", "one"):
        with Index.open(tmp_path / name) as ix:
            assert len(ix.reader.overlap.keys) == len(ix.reader.bands[0].keys)
            answers.append((len(ix.reader.overlap.keys), ix.query_files([qry])))
    (n_many, many), (n_one, one) = answers
    assert (n_many, n_one) == (4, 1)
    assert many.matches.height > 100
    assert many.matches.equals(one.matches)
    assert many.alignments.equals(one.alignments)
    added = [add([qry], tmp_path / name).pairs for name in ("many", "one")]
    assert added[0].height > 100
    assert added[0].equals(added[1])


def test_format_2_segments_are_read(split: tuple[Path, ...], tmp_path: Path) -> None:
    """An index of format 2 (lookup tables as Parquet) answers as the same index in format
    3; an add writes a format-3 segment beside its segments; bad column files are damage."""
    _, idx, qry = split
    build([idx], tmp_path / "new", config=LEXICAL)
    shutil.copytree(tmp_path / "new", tmp_path / "old")
    manifest = seg.read_manifest(tmp_path / "old")
    folder = tmp_path / "old" / seg.SEGMENTS / manifest["segments"][0]["name"]
    for table, columns in lookup.TABLES.items():
        lookup.table_frame(folder, table).write_parquet(folder / f"{table}.parquet")
        for column in columns:
            lookup.column_path(folder, table, column).unlink()
    (tmp_path / "old" / seg.MANIFEST).write_text(json.dumps({**manifest, "version": 2}))
    answers = []
    for name in ("new", "old"):
        with Index.open(tmp_path / name) as ix:
            answers.append(ix.query_files([qry]).matches)
    assert answers[0].height > 100
    assert answers[0].equals(answers[1])
    add([qry], tmp_path / "old")
    assert seg.read_manifest(tmp_path / "old")["version"] == seg.FORMAT_VERSION
    with Index.open(tmp_path / "old") as ix:
        assert ix.query_files([qry]).matches.height > answers[0].height
    name = seg.read_manifest(tmp_path / "new")["segments"][0]["name"]
    bad = lookup.column_path(tmp_path / "new" / seg.SEGMENTS / name, "overlap", "hash")
    np.save(bad, np.zeros(3, np.float32))
    with pytest.raises(IndexStoreError, match="damaged"):
        Index.open(tmp_path / "new")


def test_an_index_inside_its_corpus_is_never_read_as_documents(tmp_path: Path) -> None:
    """An index built inside the folder it indexes: the build does not read its own files
    (lock, segments), a later add or scan of the folder skips it (recognised by its
    index.json), so no pair involves an index file."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    texts, _ = _texts()
    for i, text in enumerate(texts[:12]):
        (corpus / f"d{i:02d}.txt").write_text(text, encoding="utf-8")
    built_docs = build([corpus], corpus / "ix", config=LEXICAL).documents
    assert built_docs.filter(pl.col("status") == "ok").height == 12
    # the index being written: one skipped row, never its lock or segment files
    assert built_docs.filter(pl.col("status") != "ok")["path"].to_list() == [str(corpus / "ix")]
    (corpus / "d99.txt").write_text(texts[0], encoding="utf-8")  # an exact copy of d00
    added = add([corpus], corpus / "ix")
    inside = [p for p in added.documents["path"].to_list() if "/ix" in p.replace("\\", "/")]
    assert inside == [str(corpus / "ix")]  # one skipped row for the index folder
    assert added.documents.filter(pl.col("status") == "ok")["path"].str.contains("ix/").sum() == 0
    for col in ("path_a", "path_b"):
        assert not added.pairs[col].str.contains("/ix/").any()
    assert added.pairs.height >= 1
    result = scan([corpus], tmp_path / "run", config=LEXICAL)
    skipped = result.documents.filter(pl.col("status") == "skipped")
    assert skipped["path"].to_list() == [str(corpus / "ix")]
    assert "index.json" in skipped["reason"][0]
    for col in ("path_a", "path_b"):
        assert not result.pairs[col].str.contains("/ix/").any()


def test_scan_refuses_an_output_folder_that_is_or_holds_an_input(tmp_path: Path) -> None:
    from dedup.errors import OutputError

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("some words here", encoding="utf-8")
    with pytest.raises(OutputError, match="is the input folder"):
        scan([corpus], corpus, config=LEXICAL)
    with pytest.raises(OutputError, match="is inside --out"):
        scan([corpus / "a.txt"], tmp_path, config=LEXICAL)
    assert sorted(p.name for p in corpus.iterdir()) == ["a.txt"]
    res = CliRunner().invoke(app, ["scan", str(corpus), "--out", str(corpus), "--no-semantic"])
    assert res.exit_code == 4, res.output


def test_query_and_add_report_both_external_ids(tmp_path: Path) -> None:
    """Matches name both documents by their external ids, as the scan's pairs do."""
    texts, _ = _texts()
    (tmp_path / "ix.jsonl").write_text(
        "".join(json.dumps({"id": f"r{i}", "text": t}) + "\n" for i, t in enumerate(texts[:8]))
    )
    (tmp_path / "q.jsonl").write_text(json.dumps({"id": "q0", "text": texts[3]}) + "\n")
    build([tmp_path / "ix.jsonl"], tmp_path / "ix", config=LEXICAL, id_column="id")
    with Index.open(tmp_path / "ix") as ix:
        got = ix.query_files([tmp_path / "q.jsonl"], id_column="id").matches
    exact = got.filter(pl.col("relation") == "exact")
    assert exact.select("external_id_a", "external_id_b").rows() == [("r3", "q0")]
    added = add([tmp_path / "q.jsonl"], tmp_path / "ix", id_column="id").pairs
    assert ("r3", "q0") in added.select("external_id_a", "external_id_b").rows()


def test_query_skipped_table_is_typed_when_nothing_is_skipped(built: Path) -> None:
    with Index.open(built) as ix:
        skipped = ix.query(["a few words of a query text"]).skipped
    assert skipped.height == 0
    assert skipped.schema == pl.Schema(
        {"query_id": pl.Int64, "query": pl.String, "reason": pl.String}
    )
    with Index.open(built) as ix:  # no query document at all: empty tables, no error
        none = ix.query([])
        one = ix.query(["a few words of a query text"])
    assert none.matches.height == 0
    assert none.matches.columns == one.matches.columns
    assert none.skipped.schema == skipped.schema


def test_scan_takes_one_path_as_one_input(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, text in enumerate(_texts()[0][:3]):
        (corpus / f"{i}.txt").write_text(text, encoding="utf-8")
    for one in (str(corpus), corpus):
        result = scan(one, tmp_path / f"run-{type(one).__name__}", config=LEXICAL)
        assert result.documents.height == 3
    from dedup.errors import OutputError

    with pytest.raises(OutputError, match="is the input file"):
        scan([corpus / "0.txt"], corpus / "0.txt", config=LEXICAL)
