"""Tests of dedup.io.walk: reading inputs into RawDoc records, and the atomic writers."""

from __future__ import annotations

import gzip
import io
import json
import math
import os
import stat
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dedup.errors import InputError, OutputError
from dedup.io.atomic import write_json_atomic, write_parquet_atomic, write_text_atomic
from dedup.io.walk import RawDoc, ReadOptions, iter_documents

CLOUGH = Path(__file__).parent / "data" / "clough"
CLOUGH_FULL = Path("/work/shared/corpora/clough-stevenson/texts")
C1 = {chr(c) for c in range(0x80, 0xA0)}


def one(path: Path, **kwargs: Any) -> RawDoc:
    docs = list(iter_documents([path], options=ReadOptions(**kwargs)))
    assert len(docs) == 1, docs
    return docs[0]


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def assert_clean(doc: RawDoc) -> None:
    assert doc.status == "ok", doc.reason
    assert doc.text is not None
    assert "\r" not in doc.text
    assert "\ufffd" not in doc.text
    assert not C1 & set(doc.text)


# ---------------------------------------------------------------- real files


def test_clough_windows_1252_curly_quotes_and_crlf() -> None:
    raw = (CLOUGH / "g1pB_taska.txt").read_bytes()
    assert b"\r\n" in raw
    doc = one(CLOUGH / "g1pB_taska.txt")
    assert doc.encoding == "cp1252"
    assert doc.n_bytes == len(raw)
    assert_clean(doc)
    assert doc.text is not None
    assert "It\u2019s objective" in doc.text
    assert "\u201c\u2026is a kind of\u201d" in doc.text
    assert doc.text == raw.decode("cp1252").replace("\r\n", "\n")


def test_clough_windows_1252_em_dash() -> None:
    doc = one(CLOUGH / "g4pD_taskd.txt")
    assert doc.encoding == "cp1252"
    assert_clean(doc)
    assert doc.text is not None
    assert "central insight \u2014 that a hypothesis" in doc.text


def test_clough_utf8_with_c1_controls_reads_them_as_windows_1252() -> None:
    raw = (CLOUGH / "g2pA_taske.txt").read_bytes()
    assert "\u0091" in raw.decode("utf-8")
    doc = one(CLOUGH / "g2pA_taske.txt")
    assert doc.encoding == "utf-8"
    assert_clean(doc)
    assert doc.text is not None
    assert "\u2018Greedy\u2019 algorithms" in doc.text
    assert "doesn\u2019t necessarily" in doc.text


def test_clough_utf8_accented() -> None:
    doc = one(CLOUGH / "g2pC_taske.txt")
    assert doc.encoding == "utf-8"
    assert_clean(doc)
    assert doc.text is not None
    assert "\u00ef" in doc.text


@pytest.mark.skipif(not CLOUGH_FULL.is_dir(), reason="full Clough-Stevenson corpus not present")
def test_clough_full_corpus_reads_every_file() -> None:
    docs = list(iter_documents([CLOUGH_FULL]))
    assert len(docs) == 100
    for doc in docs:
        assert_clean(doc)
    assert Counter(d.encoding for d in docs) == {"utf-8": 83, "cp1252": 17}
    assert [d.path for d in docs] == sorted(d.path for d in docs)


# ---------------------------------------------------------------- hostile files


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b" \n\t\r\n  ", "whitespace"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG"),
        (b"GIF89a\x01\x00\x01\x00", "GIF"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "PDF"),
        (b"\x00" * 900 + b"text", "mostly NUL"),
        (b"some text\x00 with a NUL byte", "NUL"),
        (bytes(range(1, 32)) * 20 + b"\xff", "control bytes"),
        (b"plain ascii \x81 then more", "undecodable"),
        ("日本語のテキストです。".encode("shift_jis") * 20, "undecodable"),
        ("Καλημέρα κόσμε, αυτό είναι ελληνικό κείμενο.".encode("cp1253") * 3, "non-ASCII"),
        (b"\xff\xfeA\x00\x00\xd8", "undecodable"),  # UTF-16 BOM, lone surrogate
        ("\ufeffsome text\x00more".encode("utf-16-le"), "NUL characters"),
    ],
)
def test_bad_file_is_skipped_with_reason(tmp_path: Path, data: bytes, reason: str) -> None:
    doc = one(write(tmp_path / "f.txt", data))
    assert doc.status == "skipped"
    assert doc.text is None
    assert doc.reason is not None
    assert reason.lower() in doc.reason.lower()
    assert doc.n_bytes == len(data)


def test_zip_file_is_skipped(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "a.txt", "w") as zf:
        zf.writestr("inner.txt", "hello")
    doc = one(tmp_path / "a.txt")
    assert doc.status == "skipped"
    assert doc.reason == "binary: zip archive"


TEXT = "Caf\u00e9 na\u00efve \u201cquoted\u201d line one\nline two \u20ac\n"


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (b"\xef\xbb\xbf" + TEXT.encode("utf-8"), "utf-8-sig"),
        (TEXT.encode("utf-16"), "utf-16"),
        (b"\xfe\xff" + TEXT.encode("utf-16-be"), "utf-16"),
        (b"\xff\xfe" + TEXT.encode("utf-16-le"), "utf-16"),
        (TEXT.encode("utf-16-le"), "utf-16-le"),
        (TEXT.encode("utf-16-be"), "utf-16-be"),
        (TEXT.encode("utf-32"), "utf-32"),
        (TEXT.encode("cp1252"), "cp1252"),
        (TEXT.replace("\n", "\r\n").encode("utf-8"), "utf-8"),
        (TEXT.replace("\n", "\r").encode("cp1252"), "cp1252"),
    ],
)
def test_encodings_are_detected(tmp_path: Path, data: bytes, encoding: str) -> None:
    doc = one(write(tmp_path / "f.txt", data))
    assert_clean(doc)
    assert (doc.text, doc.encoding) == (TEXT, encoding)


def test_invalid_utf8_in_the_middle(tmp_path: Path) -> None:
    ascii_with_latin = b"ASCII text, then a Windows-1252 caf\xe9, then more ASCII."
    doc = one(write(tmp_path / "a.txt", ascii_with_latin))
    assert (doc.text, doc.encoding) == (
        "ASCII text, then a Windows-1252 caf\u00e9, then more ASCII.",
        "cp1252",
    )
    mixed = "UTF-8 caf\u00e9 na\u00efve \u00fcber, ".encode() + b"pasted \x93quote\x94 here"
    doc = one(write(tmp_path / "b.txt", mixed))
    assert_clean(doc)
    assert doc.encoding == "utf-8+cp1252"
    assert doc.text == "UTF-8 caf\u00e9 na\u00efve \u00fcber, pasted \u201cquote\u201d here"


def test_short_windows_1252_text_with_many_accents(tmp_path: Path) -> None:
    doc = one(write(tmp_path / "a.txt", "\u00e9t\u00e9 \u00e0 Gr\u00fc\u00dfe".encode("cp1252")))
    assert (doc.text, doc.encoding) == ("\u00e9t\u00e9 \u00e0 Gr\u00fc\u00dfe", "cp1252")


def test_file_over_max_bytes_is_skipped(tmp_path: Path) -> None:
    doc = one(write(tmp_path / "big.txt", b"x" * 101), max_bytes=100)
    assert doc.status == "skipped"
    assert doc.reason == "too large: 101 bytes > max_bytes=100"
    assert one(tmp_path / "big.txt", max_bytes=101).status == "ok"


def test_huge_file_is_skipped_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "huge.txt"
    with path.open("wb") as f:
        f.truncate(300 * 1024 * 1024)  # sparse: no disk used

    def no_read(fd: int, n: int) -> bytes:
        raise AssertionError("a file over max_bytes was read")

    monkeypatch.setattr(os, "read", no_read)
    doc = one(path)
    assert doc.reason == f"too large: {300 * 1024 * 1024} bytes > max_bytes={256 * 1024 * 1024}"
    assert doc.n_bytes == 300 * 1024 * 1024


def test_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path / "secret.txt", b"hidden text")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("this user (root?) can read a mode-000 file")
        doc = one(path)
        assert doc.status == "skipped"
        assert doc.reason == "unreadable: permission denied"
    finally:
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)


def test_permission_error_is_reported_even_as_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "secret.txt", b"hidden text")
    real_open = os.open

    def deny(file: str, flags: int, mode: int = 0o777) -> int:
        if str(file).endswith("secret.txt"):
            raise PermissionError(13, "Permission denied", file)
        return real_open(file, flags, mode)

    monkeypatch.setattr(os, "open", deny)
    assert one(path).reason == "unreadable: permission denied"


def test_fifo_is_skipped_without_blocking(tmp_path: Path) -> None:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    os.mkfifo(tmp_path / "pipe.txt")
    os.mkfifo(tmp_path / "pipe.jsonl")
    docs = list(iter_documents([tmp_path]))
    assert [(Path(d.path).name, d.reason) for d in docs] == [
        ("pipe.jsonl", "not a regular file"),
        ("pipe.txt", "not a regular file"),
    ]


def test_symlink_loop_in_folder_is_walked_once(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    write(root / "sub" / "a.txt", b"alpha")
    (root / "sub" / "back").symlink_to(root, target_is_directory=True)
    (root / "twin").symlink_to(root / "sub", target_is_directory=True)
    docs = list(iter_documents([root]))
    by_name = {d.path.removeprefix(str(root) + os.sep): d for d in docs}
    assert set(by_name) == {"sub/a.txt", "sub/back", "twin"}
    assert by_name["sub/a.txt"].status == "ok"
    assert (by_name["sub/back"].reason or "").startswith("symlink loop")
    assert (by_name["twin"].reason or "").startswith("folder already read")


def test_file_symlinks(tmp_path: Path) -> None:
    write(tmp_path / "real.txt", b"real text")
    (tmp_path / "good.txt").symlink_to(tmp_path / "real.txt")
    (tmp_path / "broken.txt").symlink_to(tmp_path / "nowhere.txt")
    (tmp_path / "loop1.txt").symlink_to(tmp_path / "loop2.txt")
    (tmp_path / "loop2.txt").symlink_to(tmp_path / "loop1.txt")
    docs = {Path(d.path).name: d for d in iter_documents([tmp_path])}
    assert docs["good.txt"].text == "real text"
    assert docs["broken.txt"].reason == "broken symlink"
    assert docs["loop1.txt"].reason == "symlink loop"
    assert docs["loop2.txt"].reason == "symlink loop"
    assert one(tmp_path / "broken.txt").reason == "broken symlink"


def test_weird_names(tmp_path: Path) -> None:
    names = ["with space.txt", "new\nline.txt", "caf\u00e9 \u65e5\u672c.txt", "tab\there"]
    for i, name in enumerate(names):
        write(tmp_path / name, f"text {i}".encode())
    raw_name = os.fsencode(tmp_path) + b"/bad\xffname.txt"
    with open(raw_name, "wb") as f:  # noqa: PTH123 - a bytes path
        f.write(b"text 4")
    docs = list(iter_documents([tmp_path]))
    assert all(d.status == "ok" for d in docs)
    assert sorted(d.text or "" for d in docs) == [f"text {i}" for i in range(5)]
    paths = [Path(d.path).name for d in docs]
    assert set(names) < set(paths)
    assert "bad\\xffname.txt" in paths
    frame = pl.DataFrame({"path": [d.path for d in docs]})  # every path is storable
    assert frame.height == 5


def test_hidden_files_and_folders_are_skipped(tmp_path: Path) -> None:
    write(tmp_path / "shown.txt", b"shown")
    write(tmp_path / ".hidden.txt", b"hidden")
    (tmp_path / ".git").mkdir()
    write(tmp_path / ".git" / "config", b"hidden")
    assert [Path(d.path).name for d in iter_documents([tmp_path])] == ["shown.txt"]
    assert one(tmp_path / ".hidden.txt").text == "hidden"  # named explicitly: read


def test_order_is_sorted_whatever_the_creation_order(tmp_path: Path) -> None:
    rel = ["b/z.txt", "a.txt", "b/a/x.txt", "c.txt", "b/m.txt", "A.txt"]
    for root, order in ((tmp_path / "one", rel), (tmp_path / "two", rel[::-1])):
        for name in order:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            write(root / name, name.encode())
    one_docs = [
        d.path.removeprefix(str(tmp_path / "one")) for d in iter_documents([tmp_path / "one"])
    ]
    two_docs = [
        d.path.removeprefix(str(tmp_path / "two")) for d in iter_documents([tmp_path / "two"])
    ]
    assert (
        one_docs == two_docs == ["/A.txt", "/a.txt", "/b/a/x.txt", "/b/m.txt", "/b/z.txt", "/c.txt"]
    )


def test_inputs_keep_their_order_and_types(tmp_path: Path) -> None:
    write(tmp_path / "x.txt", b"x")
    write(tmp_path / "y.txt", b"y")
    docs = list(iter_documents([str(tmp_path / "y.txt"), tmp_path / "x.txt"]))
    assert [d.text for d in docs] == ["y", "x"]


def test_missing_input_raises_at_call(tmp_path: Path) -> None:
    write(tmp_path / "ok.txt", b"fine")
    with pytest.raises(InputError, match="input not found") as info:
        iter_documents([tmp_path / "ok.txt", tmp_path / "no\nsuch", tmp_path / "nope"])
    message = str(info.value)
    assert "\n" not in message
    assert "and 1 more" in message


# ---------------------------------------------------------------- JSONL


def test_jsonl_lines(tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": 7, "body": "first\r\ndocument"}),
        "",
        "{not json",
        json.dumps({"id": "b", "title": "no body"}),
        json.dumps({"id": "c", "body": 42}),
        json.dumps(["a", "list"]),
        json.dumps({"id": "d", "body": "   "}),
        '{"id": "e", "body": "lone \\ud800 surrogate"}',
        '{"id": "f", "body": "NUL \\u0000 inside"}',
        json.dumps({"body": "last, no id"}),
    ]
    path = write(tmp_path / "docs.jsonl", ("\n".join(lines) + "\n").encode())
    docs = list(iter_documents([path], options=ReadOptions(text_column="body", id_column="id")))
    got = [(d.path.rsplit(":", 1)[1], d.external_id, d.status, d.text, d.reason) for d in docs]
    assert got == [
        ("1", "7", "ok", "first\ndocument", None),
        (
            "3",
            None,
            "skipped",
            None,
            "invalid JSON: Expecting property name enclosed in double quotes",
        ),
        ("4", "b", "skipped", None, "no field 'body' (fields: id, title)"),
        ("5", "c", "skipped", None, "field 'body' is a number, not a string"),
        ("6", None, "skipped", None, "line is an array, not a JSON object"),
        ("7", "d", "skipped", None, "empty: whitespace only"),
        ("8", "e", "skipped", None, "undecodable: text has unpaired surrogates"),
        ("9", "f", "skipped", None, "binary: NUL characters in utf-8 text"),
        ("10", None, "ok", "last, no id", None),
    ]
    assert all(d.path.startswith(str(path) + ":") for d in docs)


def test_jsonl_odd_files(tmp_path: Path) -> None:
    bom = write(tmp_path / "bom.ndjson", b'\xef\xbb\xbf{"text": "a"}\r\n{"text": "b"}')
    assert [d.text for d in iter_documents([bom])] == ["a", "b"]
    bad = write(tmp_path / "bad.jsonl", b'{"text": "caf\xe9"}\n')
    assert one(bad).reason == "line is not valid UTF-8"
    assert one(write(tmp_path / "empty.jsonl", b"\n\n")).reason == "empty: no JSON lines"
    packed = write(tmp_path / "packed.jsonl", gzip.compress(b'{"text": "a"}\n'))
    assert one(packed).text == "a"  # compressed JSONL is read (by content, whatever the name)
    deep = write(tmp_path / "deep.jsonl", b"[" * 100_000 + b"\n")
    assert (one(deep).reason or "").startswith("invalid JSON")
    long = write(tmp_path / "long.jsonl", b'{"text": "' + b"x" * 200 + b'"}\n{"text": "ok"}\n')
    docs = list(iter_documents([long], options=ReadOptions(max_bytes=100)))
    assert [(d.status, d.text) for d in docs] == [("skipped", None), ("ok", "ok")]
    assert docs[0].reason == "too large: 213 bytes > max_bytes=100"


# ---------------------------------------------------------------- Parquet


def test_parquet_rows_in_row_groups(tmp_path: Path) -> None:
    n = 2500
    texts: list[str | None] = [f"document {i}\r\nline" for i in range(n)]
    texts[3] = None
    df = pl.DataFrame({"key": list(range(n)), "content": texts, "other": [1.5] * n})
    df.write_parquet(tmp_path / "t.parquet", row_group_size=700)
    docs = list(
        iter_documents(
            [tmp_path / "t.parquet"], options=ReadOptions(text_column="content", id_column="key")
        )
    )
    assert len(docs) == n
    assert [d.path for d in docs[:2]] == [
        f"{tmp_path / 't.parquet'}:0",
        f"{tmp_path / 't.parquet'}:1",
    ]
    assert (docs[0].text, docs[0].external_id, docs[0].encoding) == (
        "document 0\nline",
        "0",
        "utf-8",
    )
    assert (docs[3].status, docs[3].reason, docs[3].external_id) == ("skipped", "text is null", "3")
    assert docs[-1].text == f"document {n - 1}\nline"
    assert docs[-1].n_bytes == len(f"document {n - 1}\r\nline")


def test_parquet_without_the_text_column(tmp_path: Path) -> None:
    pl.DataFrame({"body": ["a", "b"], "id": [1, 2]}).write_parquet(tmp_path / "t.parquet")
    doc = one(tmp_path / "t.parquet")
    assert doc.path == str(tmp_path / "t.parquet")
    assert doc.status == "skipped"
    assert doc.reason == "no column 'text' (columns: body, id)"


def test_parquet_odd_files(tmp_path: Path) -> None:
    pl.DataFrame({"text": [1, 2]}).write_parquet(tmp_path / "ints.parquet")
    assert one(tmp_path / "ints.parquet").reason == "column 'text' is int64, not a string"
    pl.DataFrame({"text": []}, schema={"text": pl.String}).write_parquet(tmp_path / "e.parquet")
    assert one(tmp_path / "e.parquet").reason == "empty: Parquet file has no rows"
    junk = write(tmp_path / "junk.parquet", b"this is not parquet at all")
    assert (one(junk).reason or "").startswith("not a readable Parquet file")
    cats = pl.DataFrame({"text": ["x", "y"]}, schema={"text": pl.Categorical})
    cats.write_parquet(tmp_path / "cat.parquet")
    assert [d.text for d in iter_documents([tmp_path / "cat.parquet"])] == ["x", "y"]


# ---------------------------------------------------------------- atomic writers


def test_writers_round_trip(tmp_path: Path) -> None:
    df = pl.DataFrame({"a": [1, 2], "b": ["x", "\u00e9"]})
    write_parquet_atomic(df, tmp_path / "t.parquet")
    assert pl.read_parquet(tmp_path / "t.parquet").equals(df)
    write_json_atomic({"k": [1, "\u00e9"]}, tmp_path / "m.json")
    assert (tmp_path / "m.json").read_text(encoding="utf-8").endswith("\n")
    assert json.loads((tmp_path / "m.json").read_text(encoding="utf-8")) == {"k": [1, "\u00e9"]}
    write_text_atomic("line\n", str(tmp_path / "r.txt"))
    assert (tmp_path / "r.txt").read_bytes() == b"line\n"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "r.txt").stat().st_mode) == 0o666 & ~umask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "r.txt", "t.parquet"]


def test_failed_parquet_write_keeps_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "t.parquet"
    old = pl.DataFrame({"a": [1]})
    write_parquet_atomic(old, target)
    before = target.read_bytes()

    def half_write(self: pl.DataFrame, file: str | Path | io.BytesIO) -> None:
        Path(str(file)).write_bytes(b"PAR1 half written")
        raise RuntimeError("crash mid-write")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", half_write)
    with pytest.raises(RuntimeError, match="crash mid-write"):
        write_parquet_atomic(pl.DataFrame({"a": [2, 3]}), target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]


def test_failed_fsync_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "r.txt"
    write_text_atomic("old", target)

    def broken_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OutputError, match="Input/output error"):
        write_text_atomic("new", target)
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.txt"]


def test_writer_errors(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="cannot write"):
        write_text_atomic("x", tmp_path / "missing" / "r.txt")
    write_json_atomic({"ok": 1}, tmp_path / "m.json")
    with pytest.raises(ValueError, match="JSON"):
        write_json_atomic({"bad": math.nan}, tmp_path / "m.json")
    assert json.loads((tmp_path / "m.json").read_text(encoding="utf-8")) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


# ---------------------------------------------------------------- fuzz


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=4096) | st.text().map(lambda s: s.encode("utf-16-le")))
def test_any_bytes_give_exactly_one_record(fuzz_dir: Path, data: bytes) -> None:
    doc = one(write(fuzz_dir / "f.txt", data))
    assert doc.n_bytes == len(data)
    if doc.status == "ok":
        assert doc.text is not None
        assert doc.encoding is not None
        assert doc.reason is None
        assert "\r" not in doc.text
        assert not doc.text.isspace()
        if b"\xef\xbf\xbd" not in data:
            assert "\ufffd" not in doc.text
    else:
        assert doc.status == "skipped"
        assert doc.text is None
        assert doc.reason


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=2048))
def test_any_jsonl_bytes_never_raise(fuzz_dir: Path, data: bytes) -> None:
    docs = list(iter_documents([write(fuzz_dir / "f.jsonl", data)]))
    assert docs
    for doc in docs:
        assert (doc.status == "ok") == (doc.text is not None) == (doc.reason is None)
