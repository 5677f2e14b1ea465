"""The CSV, HTML and compressed readers and the walk's globs, against simple oracles."""

from __future__ import annotations

import bz2
import csv
import fnmatch
import gzip
import io
import json
import lzma
import random
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dedup.io.decode import clean_text
from dedup.io.readers_html import extract_main_text, looks_like_html
from dedup.io.select import glob_regex
from dedup.io.walk import RawDoc, ReadOptions, iter_documents, iter_input_files
from dedup.run import input_signature
from tests.corpora import sentences
from tests.ingest_fixtures import article, page

PACKERS: dict[str, Callable[[bytes], bytes]] = {
    "gz": gzip.compress,
    "bz2": bz2.compress,
    "xz": lzma.compress,
    "zst": lambda b: pa.Codec("zstd").compress(b, asbytes=True),
}


def docs_of(path: Path, **kwargs: object) -> list[RawDoc]:
    return list(iter_documents([path], options=ReadOptions(**kwargs)))  # type: ignore[arg-type]


# ---------------------------------------------------------------- CSV


cell = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"), max_size=30
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(cell, cell), min_size=1, max_size=20), tsv=st.booleans())
def test_csv_rows_match_the_csv_module(
    tmp_path: Path, rows: list[tuple[str, str]], tsv: bool
) -> None:
    """polars' reading of a well-formed file is what Python's csv module reads from it: a
    fully quoted CSV, and a TSV quoted as the csv module and pandas write one (only fields
    that hold a quote, a tab or a line break)."""
    sep = "\t" if tsv else ","
    path = tmp_path / ("t.tsv" if tsv else "t.csv")
    quoting = csv.QUOTE_MINIMAL if tsv else csv.QUOTE_ALL
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, delimiter=sep, lineterminator="\n", quoting=quoting)
    writer.writerow(["id", "text"])
    writer.writerows(rows)
    data = buf.getvalue()
    oracle = list(csv.DictReader(io.StringIO(data, newline=""), delimiter=sep))
    path.write_text(data, encoding="utf-8", newline="")
    got = docs_of(path, id_column="id")
    assert len(got) == len(oracle)
    for i, (doc, want) in enumerate(zip(got, oracle, strict=True)):
        assert doc.path == f"{path}:{i}"
        assert doc.external_id == (want["id"] or None)
        text = clean_text(want["text"], "utf-8").text if want["text"] else None
        if text is not None:
            assert doc.status == "ok"
            assert doc.text == text
        else:
            assert doc.status == "skipped"
            assert (doc.reason or "").startswith("empty")


def test_csv_bad_rows_are_skipped_one_by_one(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(
        b'id,text\n1,"fine, quoted"\n2,too,many\n3,\n4,caf\xe9 latin-1\n5,"multi\nline"\n6,last\n'
    )
    got = [(d.path.rsplit(":", 1)[1], d.status, d.reason, d.text) for d in docs_of(path)]
    assert got == [
        ("0", "ok", None, "fine, quoted"),
        ("1", "skipped", "bad CSV row: 3 fields, header has 2", None),
        ("2", "skipped", "empty: no text in column 'text'", None),
        ("3", "skipped", "row is not valid UTF-8", None),
        ("4", "ok", None, "multi\nline"),
        ("5", "ok", None, "last"),
    ]


@pytest.mark.parametrize(
    ("data", "want"),
    [
        # unquoted: a field that opens or holds a quotation mark is read as written, and a
        # row with too many fields is skipped alone (polars, then the csv module after it)
        (
            'id\ttext\n0\t"Quoted," she said\n1\ta 5" pipe\n2\ttoo\tmany\n3\t"last"\n',
            [
                ("0", "ok", '"Quoted," she said'),
                ("1", "ok", 'a 5" pipe'),
                (None, "skipped", None),  # a malformed row: no field is trusted
                ("3", "ok", '"last"'),
            ],
        ),
        # quoted as pandas and the csv module write it: quotes doubled, line breaks kept
        (
            'id\ttext\n1\t"He said ""hi"" to me."\n2\t"line one\nline two"\n3\tplain\n',
            [
                ("1", "ok", 'He said "hi" to me.'),
                ("2", "ok", "line one\nline two"),
                ("3", "ok", "plain"),
            ],
        ),
    ],
    ids=["unquoted", "quoted"],
)
def test_tsv_quoting_is_told_from_the_file(
    tmp_path: Path, data: str, want: list[tuple[str | None, str, str | None]]
) -> None:
    path = tmp_path / "t.tsv"
    path.write_text(data, encoding="utf-8")
    got = [(d.external_id, d.status, d.text) for d in docs_of(path, id_column="id")]
    assert got == want


def test_csv_file_level_problems(tmp_path: Path) -> None:
    (tmp_path / "nohead.csv").write_bytes(b"")
    (tmp_path / "norows.csv").write_text("id,text\n")
    (tmp_path / "nocol.csv").write_text("id,body\n1,x\n")
    (tmp_path / "open.csv").write_text('id,text\n1,"never closed\n2,x\n')
    reasons = {Path(d.path).name: d.reason for d in docs_of(tmp_path)}
    assert reasons == {
        "nocol.csv": "no column 'text' (columns: id, body)",
        "nohead.csv": "empty: CSV file has no header",
        "norows.csv": "empty: CSV file has no rows",
        "open.csv:0": "bad CSV row: unexpected end of data",
    }


def test_csv_text_over_the_cap_is_skipped(tmp_path: Path) -> None:
    pl.DataFrame({"text": ["short", "x" * 500]}).write_csv(tmp_path / "t.csv")
    got = docs_of(tmp_path / "t.csv", max_bytes=100)
    assert [d.reason for d in got] == [None, "too large: 500 bytes > max_bytes=100"]


# ---------------------------------------------------------------- compressed


@pytest.mark.parametrize("kind", sorted(PACKERS))
def test_every_compression_and_format(tmp_path: Path, kind: str) -> None:
    pack = PACKERS[kind]
    rng = random.Random(kind)
    texts = [sentences(rng, 40) for _ in range(3)]
    jsonl = "".join(json.dumps({"text": t}) + "\n" for t in texts).encode()
    (tmp_path / f"a.jsonl.{kind}").write_bytes(pack(jsonl))
    pl.DataFrame({"text": texts}).write_csv(tmp_path / "b.csv")
    (tmp_path / f"b.csv.{kind}").write_bytes(pack((tmp_path / "b.csv").read_bytes()))
    (tmp_path / "b.csv").unlink()
    (tmp_path / f"c.txt.{kind}").write_bytes(pack(texts[0].encode("utf-16")))
    html = page("planet", "T", "\n\n".join(texts)).encode()
    (tmp_path / f"d.html.{kind}").write_bytes(pack(html))
    got = {Path(d.path).name: d for d in docs_of(tmp_path)}
    assert all(d.status == "ok" for d in got.values()), {k: d.reason for k, d in got.items()}
    assert [got[f"a.jsonl.{kind}:{i}"].text for i in (1, 2, 3)] == texts
    assert [got[f"b.csv.{kind}:{i}"].text for i in (0, 1, 2)] == texts
    assert got[f"c.txt.{kind}"].text == texts[0]
    assert got[f"c.txt.{kind}"].encoding == "utf-16"
    assert got[f"d.html.{kind}"].text == "T\n" + "\n".join(texts)


@pytest.mark.parametrize("kind", sorted(PACKERS))
def test_decompression_bomb_stops_at_the_cap(tmp_path: Path, kind: str) -> None:
    cap = 1 << 20
    bomb = PACKERS[kind](b"a" * (64 << 20))  # 64 MiB out of a few KB
    assert len(bomb) < cap // 8
    for name in (f"bomb.txt.{kind}", f"bomb.jsonl.{kind}", f"bomb.csv.{kind}"):
        (tmp_path / name).write_bytes(bomb)
        tracemalloc.start()
        got = docs_of(tmp_path / name, max_bytes=cap)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert len(got) == 1, got
        assert got[0].status == "skipped"
        assert f"decompressed size > max_bytes={cap}" in (got[0].reason or "")
        dictionary = 8 << 20 if kind == "xz" else 0  # xz's decoder holds its dictionary
        assert peak < 8 * cap + dictionary, (name, peak)  # never the 64 MiB


def test_compressed_jsonl_keeps_lines_read_before_the_cap(tmp_path: Path) -> None:
    lines = "".join(json.dumps({"text": f"line {i} " + "w" * 100}) + "\n" for i in range(100))
    (tmp_path / "a.jsonl.gz").write_bytes(gzip.compress(lines.encode()))
    got = docs_of(tmp_path / "a.jsonl.gz", max_bytes=2000)
    assert all(d.status == "ok" for d in got[:-1])
    assert got[-1].status == "skipped"
    assert got[-1].reason == "too large: decompressed size > max_bytes=2000; the rest is not read"
    assert len(got) < 100


def test_corrupt_and_truncated_compressed_files(tmp_path: Path) -> None:
    data = gzip.compress(("word " * 5000).encode())
    (tmp_path / "cut.txt.gz").write_bytes(data[: len(data) // 2])
    (tmp_path / "junk.jsonl.xz").write_bytes(b"\xfd7zXZ\x00" + bytes(range(256)))
    (tmp_path / "cut.csv.bz2").write_bytes(bz2.compress(b"text\nabc\n")[:-8])
    got = {Path(d.path).name: d.reason or "" for d in docs_of(tmp_path)}
    assert got["cut.txt.gz"].startswith("corrupt gzip data")
    assert got["junk.jsonl.xz:1"].startswith("corrupt xz data")  # no line read whole
    assert got["cut.csv.bz2"].startswith("corrupt bzip2 data")


@pytest.mark.parametrize("kind", ["gz", "xz"])
def test_truncated_compressed_jsonl_keeps_every_whole_line(tmp_path: Path, kind: str) -> None:
    """Each line that decompresses whole before the cut is a record; the first one cut is
    the skipped row, with the reason (gzip's own read buffer would drop up to 64 KB of
    lines). bzip2 decodes whole 900 KB blocks only, and zstd is read through pyarrow, which
    gives nothing of a damaged frame: those keep the lines of the blocks before the cut."""
    rng = random.Random(4)
    lines = [json.dumps({"text": f"record {i} " + sentences(rng, 40)}) for i in range(300)]
    data = PACKERS[kind]("".join(x + "\n" for x in lines).encode())
    # cut mid-stream, and cut in the trailer only: every line whole, the end still damaged
    for cut, least in ((len(data) * 2 // 3, 100), (len(data) - 4, 300)):
        (tmp_path / f"cut.jsonl.{kind}").write_bytes(data[:cut])
        got = docs_of(tmp_path / f"cut.jsonl.{kind}")
        ok = [d for d in got if d.status == "ok"]
        assert [d.text for d in ok] == [json.loads(x)["text"] for x in lines[: len(ok)]]
        assert len(ok) >= least
        assert got[-1].path.endswith(f":{len(ok) + 1}")
        assert got[-1].status == "skipped"
        assert "data" in (got[-1].reason or "")
        assert (got[-1].reason or "").endswith("the rest is not read")


def test_text_starting_like_bzip2_stays_text(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("BZh is how this note starts")
    assert docs_of(tmp_path / "a.txt")[0].text == "BZh is how this note starts"


# ---------------------------------------------------------------- HTML


def test_html_main_text_drops_the_template() -> None:
    rng = random.Random(9)
    body = article(rng, 3)
    text = extract_main_text(page("gazette", "Title", body))
    assert text == "Title\n" + body.replace("\n\n", "\n")


def test_html_recognised_by_content_without_a_suffix(tmp_path: Path) -> None:
    body = article(random.Random(10), 2)
    (tmp_path / "saved_page").write_text(page("planet", "T", body))
    (tmp_path / "notes.txt").write_text("<html> is a tag, said the note")
    got = {Path(d.path).name: d.text for d in docs_of(tmp_path)}
    assert got["saved_page"] == "T\n" + body.replace("\n\n", "\n")
    assert got["notes.txt"] == "<html> is a tag, said the note"  # .txt names the format
    assert looks_like_html(b"\xef\xbb\xbf  <!-- x -->\n<!DOCTYPE html><html>")
    assert not looks_like_html(b"<htmlish>")


def test_html_without_text_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text("<html><body><script>var x = 1;</script></body></html>")
    assert docs_of(tmp_path / "a.html")[0].reason == "HTML: no main text found"


# ---------------------------------------------------------------- globs and the walk


@settings(max_examples=300)
@given(
    pattern=st.text(st.sampled_from("ab.*?[]!-"), min_size=1, max_size=6),
    name=st.text(st.sampled_from("ab.-"), max_size=6),
)
def test_glob_without_slash_matches_names_like_fnmatch(pattern: str, name: str) -> None:
    assert bool(glob_regex(pattern).match(name)) == fnmatch.fnmatchcase(name, pattern)
    assert bool(glob_regex(pattern).match(f"x/y/{name}")) == fnmatch.fnmatchcase(name, pattern)


@pytest.mark.parametrize(
    ("pattern", "path", "hit"),
    [
        ("news/*.csv", "news/a.csv", True),
        ("news/*.csv", "news/x/a.csv", False),
        ("news/**/*.csv", "news/a.csv", True),
        ("news/**/*.csv", "news/x/y/a.csv", True),
        ("/news", "news", True),
        ("./news/a.csv", "news/a.csv", True),
        ("**/drafts", "a/b/drafts", True),
        ("drafts/", "a/drafts", True),
        ("news/**", "news/x/y.csv", True),
        ("a**b", "a/x/b", False),  # ** inside a name is a *
        ("a[--0]b", "a/b", False),  # a class never matches the slash (here in a range)
    ],
)
def test_glob_with_slash_is_relative_to_the_input(pattern: str, path: str, hit: bool) -> None:
    assert bool(glob_regex(pattern).match(path)) == hit


def test_include_and_exclude(tmp_path: Path) -> None:
    for name in ("a.txt", "b.html", "drafts/c.txt", "news/d.txt", "news/old/e.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(f"text of {name}")

    def names(**kwargs: object) -> list[str]:
        opts = ReadOptions(**kwargs)  # type: ignore[arg-type]
        prefix = f"{tmp_path}/"
        return [p.removeprefix(prefix) for p, _ in iter_input_files([tmp_path], options=opts)]

    assert names() == ["a.txt", "b.html", "drafts/c.txt", "news/d.txt", "news/old/e.txt"]
    assert names(include=("*.txt",), exclude=("drafts",)) == [
        "a.txt",
        "news/d.txt",
        "news/old/e.txt",
    ]
    assert names(exclude=("news/*",)) == ["a.txt", "b.html", "drafts/c.txt"]
    assert names(include=("news/**/*.txt",), exclude=("old",)) == ["news/d.txt"]
    direct = [
        p for p, _ in iter_input_files([tmp_path / "a.txt"], options=ReadOptions(exclude=("*",)))
    ]
    assert direct == [str(tmp_path / "a.txt")]  # a file named on the command line is read


def test_a_folder_is_a_run_folder_only_by_its_manifest_content(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "manifest.json").write_text(json.dumps({"name": "my package"}))
    (tmp_path / "notes" / "a.txt").write_text("kept")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "synth.json").write_text(json.dumps({"what": "my own synth.json"}))
    names = [Path(p).name for p, r in iter_input_files([tmp_path]) if r is None]
    assert names == ["synth.json", "a.txt", "manifest.json"]


def test_input_signature_covers_the_read_options(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "b.csv").write_text("text\nb\n")
    base = input_signature([tmp_path], read=ReadOptions()).digest
    variants = [
        ReadOptions(text_column="body"),
        ReadOptions(id_column="id"),
        ReadOptions(max_bytes=10),
        ReadOptions(include=("*.txt",)),
        ReadOptions(exclude=("*.csv",)),
    ]
    digests = {input_signature([tmp_path], read=v).digest for v in variants}
    assert base not in digests
    assert len(digests) == len(variants)
    assert input_signature([tmp_path], read=ReadOptions(include=("*.txt",))).files == 1


def test_xz_decoder_memory_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file whose declared dictionary needs more than the cap is refused, not decoded."""
    from dedup.io import compressed

    (tmp_path / "a.txt.xz").write_bytes(lzma.compress(b"words " * 1000))  # 8 MiB dictionary
    assert docs_of(tmp_path / "a.txt.xz")[0].status == "ok"
    monkeypatch.setattr(compressed, "XZ_MEMLIMIT", 1 << 20)
    reason = docs_of(tmp_path / "a.txt.xz")[0].reason or ""
    assert reason.startswith("corrupt xz data: Memory usage limit")


def test_concatenated_xz_streams_are_one_file(tmp_path: Path) -> None:
    data = lzma.compress(b"first part, ") + lzma.compress(b"second part") + b"\0" * 4
    (tmp_path / "a.txt.xz").write_bytes(data)
    assert docs_of(tmp_path / "a.txt.xz")[0].text == "first part, second part"
