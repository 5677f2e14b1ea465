"""Edge cases of reading inputs: boundaries, encodings, sniffing, overlapping inputs, and a
run folder inside the corpus it scanned."""

from __future__ import annotations

import contextlib
import json
import random
import struct
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dedup.cli import app
from dedup.errors import OutputError
from dedup.filter import filter_run
from dedup.io.decode import decode_bytes
from dedup.io.walk import RawDoc, ReadOptions, iter_documents
from tests.corpora import sentences as _sentences

runner = CliRunner()


def sentences(n_words: int, *, seed: int) -> str:
    return _sentences(random.Random(seed), n_words)


def docs(*paths: Path | str, **kwargs: object) -> list[RawDoc]:
    return list(iter_documents(list(paths), options=ReadOptions(**kwargs)))  # type: ignore[arg-type]


def test_a_run_folder_inside_the_corpus_can_be_filtered_and_resumed(tmp_path: Path) -> None:
    """``dedup scan . --out runs/b``: the run folder the scan writes into (skipped unread)
    is no change of the inputs, for the filter and for ``--resume``."""
    corpus = tmp_path / "c"
    corpus.mkdir()
    text = sentences(40, seed=3)
    for name in ("a.txt", "b.txt", "c.txt"):
        (corpus / name).write_text(text if name != "c.txt" else sentences(40, seed=4))
    with contextlib.chdir(corpus):
        args = ["scan", ".", "--out", "runs/b", "--no-semantic", "-q"]
        assert runner.invoke(app, args).exit_code == 0
        assert runner.invoke(app, ["report", "runs/b"]).exit_code == 0  # writes into runs/b
        res = runner.invoke(app, ["filter", "runs/b", "--out", str(tmp_path / "clean.jsonl")])
        assert res.exit_code == 0, res.output
        res = runner.invoke(app, [*args[:-1], "--resume"])
        assert res.exit_code == 0, res.output
        assert "already holds" in res.output
    rows = [json.loads(x) for x in (tmp_path / "clean.jsonl").read_text().splitlines()]
    assert sorted(r["path"] for r in rows) == ["./a.txt", "./c.txt"]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
def test_a_jsonl_line_of_exactly_max_bytes_is_read(tmp_path: Path, newline: bytes) -> None:
    lines = [json.dumps({"id": k, "text": f"record {k} with some words"}).encode() for k in "ABCD"]
    cap = len(lines[0])
    (tmp_path / "x.jsonl").write_bytes(newline.join(lines) + newline)
    got = docs(tmp_path / "x.jsonl", id_column="id", max_bytes=cap)
    assert [(d.path.rsplit(":", 1)[1], d.status, d.external_id) for d in got] == [
        ("1", "ok", "A"),
        ("2", "ok", "B"),
        ("3", "ok", "C"),
        ("4", "ok", "D"),
    ]
    got = docs(tmp_path / "x.jsonl", id_column="id", max_bytes=cap - 1)
    assert [d.status for d in got] == ["skipped"] * 4  # each line one byte over, none lost
    assert [d.path.rsplit(":", 1)[1] for d in got] == ["1", "2", "3", "4"]


def test_a_named_file_the_folder_walk_leaves_out_is_still_read(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.csv").write_text("text\nfirst csv document with several words\n")
    (tmp_path / "sub" / "note.md").write_text("a markdown file named on the command line")
    (tmp_path / "sub" / ".hidden.txt").write_text("a dot-file named on the command line")
    for order in (
        (tmp_path, tmp_path / "sub" / "note.md"),
        (tmp_path / "sub" / "note.md", tmp_path),
    ):
        got = [Path(d.path).name for d in docs(*order, include=("*.csv",))]
        assert sorted(got) == ["a.csv:0", "note.md"]
    got = [Path(d.path).name for d in docs(tmp_path, tmp_path / "sub" / ".hidden.txt")]
    assert sorted(got) == [".hidden.txt", "a.csv:0", "note.md"]


def test_a_named_file_reached_through_a_symlinked_folder_is_read_once(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "c.txt").write_text("some words in the file c for testing")
    (tmp_path / "real" / "link").symlink_to(tmp_path / "other")
    named = tmp_path / "real" / "link" / "c.txt"
    for order in ((tmp_path / "real", named), (named, tmp_path / "real")):
        assert len(docs(*order)) == 1
    assert len(docs(tmp_path / "other" / "c.txt", named)) == 1  # two names, one file


def test_the_filter_never_writes_into_a_folder_read_through_a_symlink(tmp_path: Path) -> None:
    corpus, other = tmp_path / "real", tmp_path / "other"
    corpus.mkdir()
    other.mkdir()
    (corpus / "a.txt").write_text(sentences(30, seed=1))
    (other / "c.txt").write_text(sentences(30, seed=1))
    (corpus / "link").symlink_to(other)
    run = tmp_path / "run"
    res = runner.invoke(app, ["scan", str(corpus), "--out", str(run), "--no-semantic", "-q"])
    assert res.exit_code == 0, res.output
    for out in (other / "clean.jsonl", other / "deeper" / "clean.jsonl", other):
        with pytest.raises(OutputError, match="a folder the scan read"):
            filter_run(run, out, overwrite=True)
    assert sorted(p.name for p in other.iterdir()) == ["c.txt"]
    filter_run(run, tmp_path / "clean.jsonl")  # outside: written
    # a symlink to one file does not make its target's folder one the scan read
    home = tmp_path / "home"
    home.mkdir()
    (home / "notes.txt").write_text(sentences(30, seed=2))
    (corpus / "notes.txt").symlink_to(home / "notes.txt")
    run2 = tmp_path / "run2"
    res = runner.invoke(app, ["scan", str(corpus), "--out", str(run2), "--no-semantic", "-q"])
    assert res.exit_code == 0, res.output
    filter_run(run2, home / "clean.jsonl")


def test_jsonl_without_a_suffix_and_a_long_first_record(tmp_path: Path) -> None:
    rows = [{"id": i, "text": sentences(900, seed=i)} for i in range(3)]
    assert len(json.dumps(rows[0])) > 4096
    (tmp_path / "part-00000.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    got = docs(tmp_path / "part-00000.json", id_column="id")
    assert [(d.status, d.external_id, d.text) for d in got] == [
        ("ok", str(r["id"]), r["text"]) for r in rows
    ]
    pretty = json.dumps({"text": sentences(200, seed=9)}, indent=2)  # "{" alone on line 1
    (tmp_path / "pretty").write_text(pretty)
    assert [d.text for d in docs(tmp_path / "pretty")] == [pretty]
    one = json.dumps({"name": "pkg", "version": "1.0"})  # a short JSON document, no newline
    (tmp_path / "package").write_text(one)
    assert [d.text for d in docs(tmp_path / "package")] == [one]
    prose = "{" + sentences(200, seed=8)  # no key after the brace: text
    (tmp_path / "prose").write_text(prose)
    assert [d.text for d in docs(tmp_path / "prose")] == [prose]


def test_a_short_csv_row_reads_the_same_on_both_paths(tmp_path: Path) -> None:
    """polars pads a row with fewer fields; the csv-module path (taken after a bad row)
    reads it the same way rather than skipping it."""
    body = "id,text,lang\n1,alpha bravo charlie delta,en\n2,foxtrot golf hotel india\n"
    (tmp_path / "fast.csv").write_text(body)
    (tmp_path / "slow.csv").write_text(body + "3,too,many,fields\n4,echo kilo lima\n")
    fast = [(d.status, d.external_id, d.text) for d in docs(tmp_path / "fast.csv", id_column="id")]
    slow = [(d.status, d.external_id, d.text) for d in docs(tmp_path / "slow.csv", id_column="id")]
    assert fast == [
        ("ok", "1", "alpha bravo charlie delta"),
        ("ok", "2", "foxtrot golf hotel india"),
    ]
    assert slow[:2] == fast
    assert slow[2][0] == "skipped"
    assert slow[3] == ("ok", "4", "echo kilo lima")


@pytest.mark.parametrize(
    ("text", "codec"),
    [
        ("Plain English text for the encoding test, with several words.\n", "utf-32-le"),
        ("Plain English text for the encoding test, with several words.\n", "utf-32-be"),
        ("Это абзац на русском языке для проверки определения кодировки. " * 3, "utf-16-le"),
        ("Это абзац на русском языке для проверки определения кодировки. " * 3, "utf-16-be"),
        ("这是一个用于测试编码检测的中文段落，其中包含多个句子。" * 3, "utf-16-le"),
        ("这是一个用于测试编码检测的中文段落，其中包含多个句子。" * 3, "utf-16-be"),
        ("第一行有一个字和ASCII字符 abc 123。\n第二行也是中文的内容。" * 2, "utf-16-le"),
        ("日本語のテキストです。ひらがなとカタカナ、そして漢字。\n" * 2, "utf-16-be"),
        ("مرحبا بكم في هذا النص العربي للاختبار.\n" * 2, "utf-16-le"),
    ],
    ids=["en-32le", "en-32be", "ru-16le", "ru-16be", "zh-16le", "zh-16be", "zh-mixed", "ja", "ar"],
)
def test_utf16_and_utf32_without_a_bom(tmp_path: Path, text: str, codec: str) -> None:
    (tmp_path / "t.txt").write_bytes(text.encode(codec))
    (got,) = docs(tmp_path / "t.txt")
    assert (got.status, got.encoding, got.text) == ("ok", codec, text)


def test_binary_with_nul_bytes_stays_binary(tmp_path: Path) -> None:
    """Arrays of numbers, and random bytes whose NULs all fall on one side of 2-byte units
    (what UTF-16 text looks like at first sight), are not taken for text."""
    (tmp_path / "ints.bin").write_bytes(struct.pack("<100i", *range(1, 101)))
    (tmp_path / "floats.bin").write_bytes(struct.pack("<60f", *[i / 7 for i in range(60)]))
    (tmp_path / "bytes.bin").write_bytes(bytes(range(256)) * 4)
    got = docs(tmp_path)
    assert len(got) == 3
    for d in got:
        assert d.status == "skipped"
        assert d.reason is not None
        assert d.reason.startswith("binary")
    rng = random.Random(0)
    for _ in range(3000):
        data = bytearray(rng.randrange(1, 256) for _ in range(2 * rng.randrange(16, 120)))
        for at in rng.sample(range(1, len(data), 2), 2):
            data[at] = 0
        decoded = decode_bytes(bytes(data))
        assert decoded.encoding is None or not decoded.encoding.startswith("utf-16")


def test_an_xhtml_page_with_an_xml_declaration(tmp_path: Path) -> None:
    para = sentences(8, seed=5)
    page = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html>\n'
        f"<html><body><p>{para}</p></body></html>"
    )
    (tmp_path / "x.xhtml").write_text(page, encoding="utf-8")
    (got,) = docs(tmp_path / "x.xhtml")
    assert got.status == "ok"
    assert got.text is not None
    assert " ".join(got.text.split()) == " ".join(para.split())
