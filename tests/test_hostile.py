"""A folder of every kind of hostile input, scanned end to end by `dedup scan`."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from dedup.cli import app
from tests.corpora import edited, sentences

# file name -> a piece of the reason it must be skipped with
BAD = {
    "empty.txt": "empty",
    "image.png": "PNG",
    "paper.pdf": "PDF",
    "bomb.txt.gz": "decompressed size > max_bytes",
    "nul.txt": "mostly NUL",
    "broken.txt": "broken symlink",
    "loop": "symlink loop",
    "self.txt": "symlink loop",
    "table.parquet": "no column 'text'",
    "lines.jsonl:2": "invalid JSON",
}


def build(root: Path) -> dict[str, str]:
    """Write the hostile folder; return the names of the planted pair."""
    rng = random.Random(7)
    root.mkdir()
    (root / "empty.txt").write_bytes(b"")
    (root / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200))
    (root / "paper.pdf").write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n" + bytes(range(256)))
    (root / "notes.txt.gz").write_bytes(gzip.compress(sentences(rng, 200).encode()))
    (root / "bomb.txt.gz").write_bytes(gzip.compress(b"\n" * (300 << 20), 9))  # 300 MiB out
    (root / "nul.txt").write_bytes(b"\x00" * 900 + b"text")
    (root / "broken.txt").symlink_to(root / "nowhere.txt")
    (root / "loop").symlink_to(root, target_is_directory=True)
    (root / "self.txt").symlink_to(root / "self.txt")
    pl.DataFrame({"body": ["a", "b"], "id": [1, 2]}).write_parquet(root / "table.parquet")
    lines = [json.dumps({"text": sentences(rng, 30)}), '{"text": "unterminated', "{}"]
    lines[2] = json.dumps({"text": sentences(rng, 30)})
    (root / "lines.jsonl").write_text("\n".join(lines) + "\n")
    # readable, if odd
    (root / "utf16 bom.txt").write_bytes(sentences(rng, 80).encode("utf-16"))
    (root / "utf16 no bom.txt").write_bytes(sentences(rng, 80).encode("utf-16-le"))
    (root / "mixed.txt").write_bytes(
        sentences(rng, 40).encode()
        + " caf\u00e9 na\u00efve ".encode()
        + b"\x93quoted\x94 "
        + sentences(rng, 40).encode()
    )
    (root / "new\nline.txt").write_text(sentences(rng, 50))
    (root / "caf\u00e9 \u65e5\u672c.txt").write_text(sentences(rng, 50) + " \u65e5\u672c\u8a9e")
    tiny = root / "tiny"
    tiny.mkdir()
    for i in range(2000):
        (tiny / f"t{i:04d}.txt").write_text(sentences(rng, rng.randint(2, 6)))
    # the planted pair: a source, and an edited copy 50 folders down under an odd name
    source = sentences(rng, 300)
    (root / "source text.txt").write_text(source)
    deep = root.joinpath(*["deeper"] * 50)
    deep.mkdir(parents=True)
    (deep / "r\u00e9\u00e9crit \u2014 copy.txt").write_text(edited(rng, source, 6))
    return {"source": "source text.txt", "copy": "r\u00e9\u00e9crit \u2014 copy.txt"}


def test_hostile_folder_scans_cleanly(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    planted = build(corpus)
    out = tmp_path / "run"
    res = CliRunner().invoke(app, ["scan", str(corpus), "--out", str(out), "--no-semantic", "-q"])
    assert res.exit_code == 0, res.output
    docs = pl.read_parquet(out / "documents.parquet")
    name = docs["path"].str.strip_prefix(f"{corpus}/").alias("name")
    docs = docs.with_columns(name)
    skipped = {
        n: r
        for n, r in docs.filter(pl.col("status") == "skipped").select("name", "reason").iter_rows()
    }
    for bad, reason in BAD.items():
        assert bad in skipped, f"{bad} not skipped"
        assert reason in skipped[bad], (bad, skipped[bad])
    assert set(skipped) == set(BAD), set(skipped) ^ set(BAD)
    assert docs.filter(pl.col("status") == "ok")["reason"].is_null().all()
    encodings = dict(docs.select("name", "encoding").iter_rows())
    assert encodings["utf16 bom.txt"] == "utf-16"
    assert encodings["utf16 no bom.txt"] == "utf-16-le"
    assert encodings["mixed.txt"] == "utf-8+cp1252"
    assert docs.filter(pl.col("name").str.starts_with("tiny/")).height == 2000
    assert (docs.filter(pl.col("name").str.starts_with("tiny/"))["status"] == "ok").all()
    assert "lines.jsonl:1" in encodings
    assert "lines.jsonl:3" in encodings
    assert "new\nline.txt" in encodings
    assert encodings["notes.txt.gz"] == "utf-8"  # compressed text is read

    pairs = pl.read_parquet(out / "pairs.parquet")
    found = {
        (Path(a).name, Path(b).name): rel
        for a, b, rel in pairs.select("path_a", "path_b", "relation").iter_rows()
    }
    pair = (planted["copy"], planted["source"])
    assert found.get(pair, found.get(pair[::-1])) in {"near_duplicate", "derivative"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["skipped"] == len(BAD)


@pytest.fixture(autouse=True)
def _no_symlinks_no_test(tmp_path: Path) -> None:
    try:
        (tmp_path / "probe").symlink_to(tmp_path)
    except OSError:
        pytest.skip("symlinks are not available here")
    (tmp_path / "probe").unlink()
