"""`dedup filter`: one document per duplicate group, checked against a brute-force grouping."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from dedup.cli import app
from dedup.config import AlignConfig, RunConfig, SemanticConfig
from dedup.errors import InputError, OutputError
from dedup.filter import filter_run
from dedup.pipeline import scan

runner = CliRunner()
CFG = RunConfig(semantic=SemanticConfig(enabled=False), align=AlignConfig(enabled=False))


def _words(rng: random.Random, n: int) -> list[str]:
    vocab = [f"w{i}" for i in range(3000)]
    return [rng.choice(vocab) for _ in range(n)]


def _corpus(folder: Path) -> dict[str, str]:
    """Originals, exact copies, near-duplicates, a partial reuse and loners."""
    rng = random.Random(7)
    texts: dict[str, str] = {}
    for k in range(4):
        base = _words(rng, 400)
        texts[f"o{k}.txt"] = " ".join(base) + "."
        texts[f"o{k}_copy.txt"] = " ".join(base) + "."
        near = list(base)
        for i in range(0, 400, 80):
            near[i] = "changed"
        texts[f"o{k}_near.txt"] = " ".join(near) + " and a longer ending here."
    host = _words(rng, 900)
    texts["host.txt"] = " ".join(host[:300] + _words(rng, 300) + host[300:]) + "."
    texts["lifted.txt"] = " ".join(host[:300]) + "."
    for k in range(3):
        texts[f"loner{k}.txt"] = " ".join(_words(rng, 300)) + "."
    folder.mkdir()
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "punct.txt").write_text("... !!! ???")  # read, then skipped: no words
    (folder / "empty.txt").write_text("")  # skipped when read
    return texts


def _groups(pairs: pl.DataFrame, relations: set[str], n: int) -> list[set[int]]:
    """Connected components by breadth-first search: the oracle."""
    nbrs: dict[int, set[int]] = {i: set() for i in range(n)}
    for a, b, rel in pairs.select("doc_a", "doc_b", "relation").iter_rows():
        if rel in relations:
            nbrs[a].add(b)
            nbrs[b].add(a)
    seen: set[int] = set()
    out = []
    for start in range(n):
        if start in seen:
            continue
        comp, todo = {start}, [start]
        while todo:
            for nb in nbrs[todo.pop()] - comp:
                comp.add(nb)
                todo.append(nb)
        seen |= comp
        out.append(comp)
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("filter")
    texts = _corpus(root / "corpus")
    scan([root / "corpus"], root / "run", config=CFG)
    return root, texts


@pytest.mark.parametrize(
    ("relations", "keep"),
    [
        (("exact", "near_duplicate"), "first"),
        (("exact", "near_duplicate"), "longest"),
        (("exact", "near_duplicate", "derivative", "partial"), "first"),
    ],
)
def test_one_document_per_group_matches_brute_force(
    run: tuple[Path, dict[str, str]], relations: tuple[str, ...], keep: str, tmp_path: Path
) -> None:
    root, texts = run
    docs = pl.read_parquet(root / "run" / "documents.parquet")
    pairs = pl.read_parquet(root / "run" / "pairs.parquet")
    assert set(relations) & set(pairs["relation"]), "the corpus must have such pairs"
    result = filter_run(root / "run", tmp_path / "out.parquet", relations=relations, keep=keep)  # type: ignore[arg-type]
    expect_kept: set[int] = set()
    expect_dropped: dict[int, int] = {}
    n_chars = dict(docs.select("doc_id", "n_chars").iter_rows())
    for comp in _groups(pairs, set(relations), docs.height):
        best = min(comp) if keep == "first" else min(comp, key=lambda d: (-(n_chars[d] or 0), d))
        expect_kept.add(best)
        expect_dropped.update({d: best for d in comp - {best}})
    ok = set(docs.filter(pl.col("status") == "ok")["doc_id"])
    expect_kept &= ok
    written = pl.read_parquet(tmp_path / "out.parquet")
    assert set(written["doc_id"]) == expect_kept
    assert written["doc_id"].to_list() == sorted(expect_kept)  # input order
    for path, text in written.select("path", "text").iter_rows():
        assert text == texts[Path(path).name]
    dropped = pl.read_parquet(result.dropped_path)
    assert dict(dropped.select("doc_id", "kept_doc_id").iter_rows()) == expect_dropped
    assert result.kept + result.dropped + result.skipped == docs.height
    assert result.skipped == 2
    direct = {
        (min(a, b), max(a, b)): r
        for a, b, r in pairs.select("doc_a", "doc_b", "relation").iter_rows()
    }
    for d, k, rel in dropped.select("doc_id", "kept_doc_id", "relation").iter_rows():
        assert rel == direct.get((min(d, k), max(d, k)))


def test_rescanning_the_filtered_corpus_finds_no_duplicates(
    run: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    root, _ = run
    filter_run(root / "run", tmp_path / "clean.jsonl")
    again = scan([tmp_path / "clean.jsonl"], tmp_path / "again", config=CFG)
    assert again.documents.height > 0
    assert not set(again.pairs["relation"]) & {"exact", "near_duplicate"}
    assert "partial" in set(again.pairs["relation"])  # not in the default groups: kept


def test_formats_hold_the_same_texts(run: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    root, texts = run
    filter_run(root / "run", tmp_path / "a.parquet")
    filter_run(root / "run", tmp_path / "b.jsonl")
    filter_run(root / "run", tmp_path / "c")
    pq_texts = pl.read_parquet(tmp_path / "a.parquet")["text"].to_list()
    lines = (tmp_path / "b.jsonl").read_text(encoding="utf-8").splitlines()
    jl_texts = [json.loads(line)["text"] for line in lines]
    files = sorted((tmp_path / "c").iterdir())
    dir_texts = [f.read_text(encoding="utf-8") for f in files]
    assert pq_texts == jl_texts == dir_texts
    assert set(pq_texts) <= set(texts.values())
    assert (tmp_path / "c.dropped.parquet").exists()
    assert (tmp_path / "b.jsonl.dropped.parquet").exists()


def test_changed_input_fails_and_writes_nothing(tmp_path: Path) -> None:
    texts = _corpus(tmp_path / "corpus")
    scan([tmp_path / "corpus"], tmp_path / "run", config=CFG)
    victim = tmp_path / "corpus" / "o1.txt"
    victim.write_text(texts["o1.txt"] + " more", encoding="utf-8")
    with pytest.raises(InputError, match="changed since the scan"):
        filter_run(tmp_path / "run", tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()
    res = runner.invoke(app, ["filter", str(tmp_path / "run"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 3
    assert "changed since the scan" in res.output
    assert not (tmp_path / "o").exists()


def test_same_size_and_mtime_but_other_text_is_caught(tmp_path: Path) -> None:
    texts = _corpus(tmp_path / "corpus")
    scan([tmp_path / "corpus"], tmp_path / "run", config=CFG)
    victim = tmp_path / "corpus" / "o2.txt"
    st = victim.stat()
    victim.write_text("é" + texts["o2.txt"][2:], encoding="utf-8")  # same bytes, fewer chars
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))
    with pytest.raises(InputError, match="differs from what the scan read"):
        filter_run(tmp_path / "run", tmp_path / "out.jsonl")
    assert not (tmp_path / "out.jsonl").exists()


def test_filter_runs_from_another_folder(
    run: tuple[Path, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = run
    rel = tmp_path / "rel"
    rel.mkdir()
    (rel / "corpus").symlink_to(root / "corpus")
    monkeypatch.chdir(rel)
    scan(["corpus"], "run", config=CFG)  # relative input path
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, ["filter", "rel/run", "--out", "out.parquet", "-q"])
    assert res.exit_code == 0, res.output
    assert pl.read_parquet(tmp_path / "out.parquet")["path"][0].startswith("corpus/")


def test_refusals(run: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    root, _ = run
    (tmp_path / "x.parquet").write_bytes(b"old")
    with pytest.raises(OutputError, match="exists"):
        filter_run(root / "run", tmp_path / "x.parquet")
    assert (tmp_path / "x.parquet").read_bytes() == b"old"
    filter_run(root / "run", tmp_path / "x.parquet", overwrite=True)
    assert pl.read_parquet(tmp_path / "x.parquet").height > 0
    res = runner.invoke(app, ["filter", str(root / "run"), "--out", str(tmp_path / "y.csv")])
    assert res.exit_code == 2
    res = runner.invoke(
        app, ["filter", str(root / "run"), "--out", str(tmp_path / "z"), "--relations", "copy"]
    )
    assert res.exit_code == 2
    assert "unknown relation" in res.output
    for empty in ("", ","):  # given but naming none: not the default
        res = runner.invoke(
            app, ["filter", str(root / "run"), "--out", str(tmp_path / "z"), "--relations", empty]
        )
        assert res.exit_code == 2
        assert "needs at least one relation" in res.output
    res = runner.invoke(app, ["filter", str(tmp_path), "--out", str(tmp_path / "z")])
    assert res.exit_code == 3
    old = tmp_path / "old-run"
    old.mkdir()
    manifest = json.loads((root / "run" / "manifest.json").read_text())
    manifest["inputs"] = {"signature": "x", "files": 1}
    (old / "manifest.json").write_text(json.dumps(manifest))
    res = runner.invoke(app, ["filter", str(old), "--out", str(tmp_path / "z")])
    assert res.exit_code == 3
    assert "scan the inputs again" in res.output


def test_outputs_never_replace_the_run_or_its_inputs(
    run: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    """The dropped table and the corpus are refused on each other, in the run folder and
    over (or inside) the scan's inputs, even with ``overwrite``; nothing is written then."""
    root, _ = run
    tables = {p.name: p.read_bytes() for p in (root / "run").iterdir() if p.is_file()}
    inputs = {p.name: p.read_bytes() for p in (root / "corpus").iterdir()}
    refused = [
        ("both", tmp_path / "c.parquet", tmp_path / "c.parquet"),
        ("inside the run folder", tmp_path / "c.parquet", root / "run" / "pairs.parquet"),
        ("inside the run folder", root / "run" / "c.jsonl", tmp_path / "d.parquet"),
        ("input", root / "corpus" / "o1.txt.jsonl", tmp_path / "d.parquet"),
        ("input", tmp_path / "c.jsonl", root / "corpus" / "dropped.parquet"),
        ("holds the run folder", root, tmp_path / "d.parquet"),  # a folder output over both
    ]
    for why, out, dropped in refused:
        with pytest.raises(OutputError, match=why):
            filter_run(root / "run", out, dropped=dropped, overwrite=True)
    assert {p.name: p.read_bytes() for p in (root / "run").iterdir() if p.is_file()} == tables
    assert {p.name: p.read_bytes() for p in (root / "corpus").iterdir()} == inputs
    assert not list(tmp_path.iterdir())
    (tmp_path / "d.parquet").write_bytes(b"old")
    with pytest.raises(OutputError, match="choose another --dropped"):
        filter_run(root / "run", tmp_path / "c.jsonl", dropped=tmp_path / "d.parquet")


def test_folder_output_gets_the_usual_mode_and_missing_parents(
    run: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    from dedup.io.atomic import umask

    root, _ = run
    res = filter_run(root / "run", tmp_path / "new" / "clean")
    assert res.kept > 0
    assert (tmp_path / "new" / "clean").stat().st_mode & 0o777 == 0o777 & ~umask() != 0o700
    assert res.dropped_path.parent == tmp_path / "new"


def test_folder_file_names_keep_letters_of_any_script() -> None:
    from dedup.filter.sinks import Kept, file_name

    def name(path: str) -> str:
        return file_name(Kept(3, path, None, "text"))

    assert name("corpus/é ü.txt") == "000000003_é_ü.txt"
    assert name("news.jsonl:43") == "000000003_news.jsonl_43.txt"
    assert name("a/x\udcff.txt") == "000000003_x_.txt"  # an undecodable byte: not a letter
    long = name("x/" + "日" * 200 + ".txt")
    assert len(long.encode("utf-8")) <= 255
    assert long.startswith("000000003_日")


def test_a_folder_output_never_holds_the_inputs(tmp_path: Path) -> None:
    """A folder output replaces the folder it names: one holding the scan's inputs is
    refused even with ``overwrite``, and the corpus stays."""
    (tmp_path / "data").mkdir()
    _corpus(tmp_path / "data" / "corpus")
    scan([tmp_path / "data" / "corpus"], tmp_path / "runs" / "r", config=CFG)
    before = sorted(p.name for p in (tmp_path / "data" / "corpus").iterdir())
    with pytest.raises(OutputError, match="holds the scan's input"):
        filter_run(tmp_path / "runs" / "r", tmp_path / "data", overwrite=True)
    with pytest.raises(OutputError, match="holds the run folder"):
        filter_run(tmp_path / "runs" / "r", tmp_path / "runs", overwrite=True)
    assert sorted(p.name for p in (tmp_path / "data" / "corpus").iterdir()) == before
    assert (tmp_path / "runs" / "r" / "manifest.json").is_file()
