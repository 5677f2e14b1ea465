"""Ingest as a new user meets it: CSV exports, web pages, compressed dumps, old run folders.

Each ``test_why_*`` is one case of the bug report that led to these readers; each fails on
the readers that came before them (CSV read as one document, HTML read with its markup,
``.jsonl.gz`` refused as binary, an earlier run's files read as documents, no skip reasons,
no warning) and passes now.
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import random
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from dedup.cli import app
from tests.corpora import edited, sentences
from tests.ingest_fixtures import article, mixed_folder, page

runner = CliRunner()


def scan(*args: str | Path, cwd: Path | None = None) -> tuple[int, str, str]:
    """Run ``dedup scan`` (semantic channel off); return the exit code, stdout and stderr."""
    argv = ["scan", *map(str, args), "--no-semantic"]
    if cwd is None:
        res = runner.invoke(app, argv)
    else:
        here = Path.cwd()
        os.chdir(cwd)
        try:
            res = runner.invoke(app, argv)
        finally:
            os.chdir(here)
    assert "Traceback" not in res.output
    return res.exit_code, res.stdout, res.stderr


def tables(out: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    return pl.read_parquet(out / "documents.parquet"), pl.read_parquet(out / "pairs.parquet")


def pair_set(pairs: pl.DataFrame, root: Path) -> dict[tuple[str, str], str]:
    """``{(name_a, name_b): relation}`` with names relative to ``root``, each pair sorted."""
    prefix = f"{root}{os.sep}"
    out = {}
    for a, b, rel in pairs.select("path_a", "path_b", "relation").iter_rows():
        key = tuple(sorted((a.removeprefix(prefix), b.removeprefix(prefix))))
        out[key] = rel
    return out


# ---------------------------------------------------------------- the cases of the report


def test_why_csv_with_a_text_column_gives_one_document_per_row(tmp_path: Path) -> None:
    rng = random.Random(1)
    base = sentences(rng, 200)
    frame = pl.DataFrame(
        {"id": ["a", "b", "c"], "text": [base, edited(rng, base, 3), sentences(rng, 200)]}
    )
    frame.write_csv(tmp_path / "posts.csv")
    out = tmp_path / "run"
    code, _, _ = scan(tmp_path / "posts.csv", "--out", out, "--id-column", "id", "-q")
    assert code == 0
    docs, pairs = tables(out)
    assert docs["path"].to_list() == [f"{tmp_path / 'posts.csv'}:{i}" for i in range(3)]
    assert docs["external_id"].to_list() == ["a", "b", "c"]
    assert pair_set(pairs, tmp_path) == {("posts.csv:0", "posts.csv:1"): "near_duplicate"}


def test_why_articles_sharing_a_site_template_are_not_related(tmp_path: Path) -> None:
    rng = random.Random(2)
    story_a, story_b = article(rng), article(rng)
    site = tmp_path / "site"
    site.mkdir()
    (site / "a.html").write_text(page("planet", "A", story_a))
    (site / "b.html").write_text(page("planet", "B", story_b))
    (site / "a-elsewhere.htm").write_text(page("gazette", "A", story_a))
    out = tmp_path / "run"
    code, _, _ = scan(site, "--out", out, "-q")
    assert code == 0
    docs, pairs = tables(out)
    assert (docs["status"] == "ok").all()
    assert pair_set(pairs, site) == {("a-elsewhere.htm", "a.html"): "exact"}


@pytest.mark.parametrize(
    ("name", "pack"),
    [
        ("lines.jsonl.gz", gzip.compress),
        ("lines.jsonl.bz2", bz2.compress),
        ("lines.jsonl.xz", lzma.compress),
        ("lines.jsonl.zst", lambda b: pa.Codec("zstd").compress(b, asbytes=True)),
        ("lines.jsonl", gzip.compress),  # gzip data under a plain name: known by content
        ("dump", lambda b: pa.Codec("zstd").compress(b, asbytes=True)),  # no name at all
    ],
)
def test_why_compressed_jsonl_is_read(tmp_path: Path, name: str, pack: object) -> None:
    rng = random.Random(3)
    base = sentences(rng, 150)
    lines = [{"text": base}, {"text": sentences(rng, 150)}, {"text": edited(rng, base, 2)}]
    data = "".join(json.dumps(x) + "\n" for x in lines).encode()
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / name).write_bytes(pack(data))  # type: ignore[operator]
    out = tmp_path / "run"
    code, _, _ = scan(tmp_path / "in", "--out", out, "-q")
    assert code == 0
    docs, pairs = tables(out)
    assert (docs["status"] == "ok").all(), docs["reason"].to_list()
    assert docs.height == 3
    assert pair_set(pairs, tmp_path / "in") == {(f"{name}:1", f"{name}:3"): "near_duplicate"}


def test_why_scanning_a_folder_skips_earlier_runs_and_the_output(tmp_path: Path) -> None:
    rng = random.Random(4)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    base = sentences(rng, 300)
    (corpus / "a.txt").write_text(base)
    (corpus / "b.txt").write_text(edited(rng, base, 5))
    (corpus / "c.txt").write_text(sentences(rng, 300))
    code, _, _ = scan(".", "--out", "runs/a", "-q", cwd=corpus)
    assert code == 0
    assert runner.invoke(app, ["report", str(corpus / "runs" / "a")]).exit_code == 0
    assert (corpus / "runs" / "a" / "report.html").exists()
    code, _, _ = scan(".", "--out", "runs/b", "-q", cwd=corpus)
    assert code == 0
    docs, pairs = tables(corpus / "runs" / "b")
    ok = docs.filter(pl.col("status") == "ok")["path"].to_list()
    assert sorted(ok) == ["./a.txt", "./b.txt", "./c.txt"]
    skipped = dict(docs.filter(pl.col("status") == "skipped").select("path", "reason").iter_rows())
    assert skipped == {
        "./runs/a": "a dedup run folder (its manifest.json): not read",
        "./runs/b": "inside this command's output folder (--out, --index, --vector-cache)",
    }
    assert pair_set(pairs, Path()) == {("a.txt", "b.txt"): "near_duplicate"}


def test_why_synth_metadata_is_not_a_document(tmp_path: Path) -> None:
    res = runner.invoke(app, ["synth", str(tmp_path / "s"), "--docs", "30", "--format", "txt"])
    assert res.exit_code == 0, res.output
    out = tmp_path / "run"
    code, _, _ = scan(tmp_path / "s", "--out", out, "-q")
    assert code == 0
    docs, _ = tables(out)
    skipped = docs.filter(pl.col("status") == "skipped")
    names = {Path(p).name: r for p, r in skipped.select("path", "reason").iter_rows()}
    assert names == {
        "synth.json": "dedup synth metadata, not a document",
        "truth.parquet": "dedup synth metadata, not a document",
    }
    assert docs.filter(pl.col("status") == "ok").height == 30


def test_why_the_summary_counts_skip_reasons(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text(sentences(random.Random(5), 50))
    (tmp_path / "in" / "empty.txt").write_text("")
    (tmp_path / "in" / "empty2.txt").write_text("  \n")
    (tmp_path / "in" / "img.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    code, stdout, _ = scan(tmp_path / "in", "--out", tmp_path / "run")
    assert code == 0
    lines = [" ".join(line.strip("│ ").split()) for line in stdout.splitlines()]
    assert "skipped │ 3" in lines
    assert "empty │ 2" in lines
    assert "binary │ 1" in lines


def test_why_nothing_read_gives_a_warning(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    code, _, stderr = scan(tmp_path / "in", "--out", tmp_path / "run", "-q")
    assert code == 0
    assert "warning: no input file was read" in stderr


def test_why_everything_skipped_gives_a_warning(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    for i in range(3):
        (tmp_path / "in" / f"{i}.jsonl").write_text(json.dumps({"body": "words"}) + "\n")
    code, _, stderr = scan(tmp_path / "in", "--out", tmp_path / "run", "-q")
    assert code == 0
    warning = " ".join(stderr.split())
    assert "warning: every document was skipped (3): no field 'text' (3)" in warning
    assert "--text-column 'text'" in warning


def test_why_a_missing_id_column_gives_a_warning(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    rows = [{"text": f"document number {i} has words", "url": f"u{i}"} for i in range(3)]
    (tmp_path / "in" / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, _, stderr = scan(tmp_path / "in", "--out", tmp_path / "r1", "-q", "--id-column", "uri")
    assert code == 0
    assert "no document read has the id column 'uri'" in " ".join(stderr.split())
    code, _, stderr = scan(tmp_path / "in", "--out", tmp_path / "r2", "-q", "--id-column", "url")
    assert code == 0
    assert "warning" not in stderr


def test_why_max_bytes_can_be_changed(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "small.txt").write_text("x " * 100)
    (tmp_path / "in" / "big.txt").write_text("y " * 1000)
    code, _, _ = scan(tmp_path / "in", "--out", tmp_path / "run", "--max-bytes", "500", "-q")
    assert code == 0
    docs, _ = tables(tmp_path / "run")
    reasons = {Path(p).name: r for p, r in docs.select("path", "reason").iter_rows()}
    assert reasons == {"big.txt": "too large: 2000 bytes > max_bytes=500", "small.txt": None}
    code, _, stderr = scan(tmp_path / "in", "--out", tmp_path / "r2", "--max-bytes", "0")
    assert code != 0
    assert "--max-bytes must be at least 1" in stderr


# ---------------------------------------------------------------- end to end


def test_mixed_folder_end_to_end(tmp_path: Path) -> None:
    root = tmp_path / "mixed"
    names = mixed_folder(root)
    out = root / "runs" / "new"  # the output inside the input: never read
    code, _, _ = scan(
        root, "--out", out, "--text-column", "body", "--id-column", "id", "--exclude", "*.tmp"
    )
    assert code == 0
    docs, pairs = tables(out)
    rows = {
        p.removeprefix(f"{root}{os.sep}"): (s, r, e)
        for p, s, r, e in docs.select("path", "status", "reason", "external_id").iter_rows()
    }
    csv, jsonl = names["csv"], names["jsonl"]
    assert rows == {
        f"{jsonl}:1": ("ok", None, "j1"),
        f"{jsonl}:2": ("ok", None, "j2"),
        f"{csv}:0": ("ok", None, "p0"),
        f"{csv}:1": ("ok", None, "p1"),
        f"{csv}:2": ("ok", None, "p2"),
        f"{csv}:3": ("skipped", "bad CSV row: 4 fields, header has 3", None),
        names["old_run"]: ("skipped", "a dedup run folder (its manifest.json): not read", None),
        names["gazette_a"]: ("ok", None, None),
        names["planet_a"]: ("ok", None, None),
        names["planet_b"]: ("ok", None, None),
        "runs/new": (
            "skipped",
            "inside this command's output folder (--out, --index, --vector-cache)",
            None,
        ),
    }
    found = pair_set(pairs, root)
    assert found.pop((f"{jsonl}:2", f"{csv}:2")) == "exact"
    assert found.pop((names["gazette_a"], names["planet_a"])) == "exact"
    assert found.pop((f"{csv}:0", f"{csv}:1")) in {"near_duplicate", "derivative"}
    assert found == {}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["skipped_reasons"] == {
        "a dedup run folder": 1,
        "bad CSV row": 1,
        "inside this command's output folder": 1,
    }
    assert manifest["inputs"]["options"]["exclude"] == ["*.tmp"]
    assert manifest["warnings"] == []
