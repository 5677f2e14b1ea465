"""Index edge cases: an index of nothing, damaged lookup files, names that look like markup,
re-added files, and the format-version messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dedup.cli import app
from dedup.config import RunConfig, SemanticConfig
from dedup.errors import IndexStoreError
from dedup.index import Index, add, build
from tests.corpora import corpus_texts

runner = CliRunner()
CFG = RunConfig(semantic=SemanticConfig(enabled=False))


def _text() -> str:
    return next(iter(corpus_texts(1, seed=2).values()))


def test_an_index_of_nothing_answers_and_takes_additions(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    build([tmp_path / "empty"], tmp_path / "ix", config=CFG)
    with Index.open(tmp_path / "ix") as ix:
        assert ix.query([_text()]).matches.height == 0
    (tmp_path / "a.txt").write_text(_text())
    add([tmp_path / "a.txt"], tmp_path / "ix")
    with Index.open(tmp_path / "ix") as ix:
        got = ix.query([_text()]).matches
    assert got["relation"].to_list() == ["exact"]


def test_an_empty_lookup_file_is_a_damaged_index(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(_text())
    build([tmp_path / "a.txt"], tmp_path / "ix", config=CFG)
    (key,) = (tmp_path / "ix" / "segments").glob("*/bands.key.npy")
    key.write_bytes(b"")
    with pytest.raises(IndexStoreError, match="is damaged"):
        Index.open(tmp_path / "ix")
    res = runner.invoke(app, ["query", str(tmp_path / "a.txt"), "--index", str(tmp_path / "ix")])
    assert res.exit_code == 6, res.output


def test_names_are_printed_as_they_are_and_re_adds_are_counted_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    folder = Path("v[")
    folder.mkdir()
    (folder / "b].txt").write_text(_text())
    Path("[red]c.txt").write_text(_text())
    res = runner.invoke(app, ["index", "build", "v[/b].txt", "--index", "ix", "-q"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["query", "[red]c.txt", "--index", "ix"])
    assert res.exit_code == 0, res.output
    assert "[red]c.txt" in res.output
    assert "v[/b].txt" in res.output
    for expected in ("", "1 document added again"):  # two copies already held: still one
        res = runner.invoke(app, ["index", "add", "v[/b].txt", "--index", "ix"])
        assert res.exit_code == 0, res.output
        assert expected in " ".join(res.output.split())
    assert "2 documents added again" not in " ".join(res.output.split())


@pytest.mark.parametrize(
    ("version", "message"),
    [
        (1, "older than this dedup reads (2, 3): build it again"),
        ("3", "its format version '3' is not a number"),
        (99, "newer than this dedup reads"),
    ],
)
def test_format_versions_say_what_to_do(tmp_path: Path, version: object, message: str) -> None:
    (tmp_path / "a.txt").write_text(_text())
    build([tmp_path / "a.txt"], tmp_path / "ix", config=CFG)
    path = tmp_path / "ix" / "index.json"
    manifest = json.loads(path.read_text())
    manifest["version"] = version
    path.write_text(json.dumps(manifest))
    with pytest.raises(IndexStoreError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Index.open(tmp_path / "ix")
