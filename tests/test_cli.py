from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dedup.cli import app

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def _commands() -> list[str]:
    import typer.main

    group = typer.main.get_command(app)
    return sorted(group.commands)  # type: ignore[attr-defined]


def test_every_command_has_help_and_a_readme_entry() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = _commands()
    assert "scan" in commands
    for name in commands:
        res = runner.invoke(app, [name, "--help"])
        assert res.exit_code == 0, res.output
        assert "Usage" in res.output
        assert f"`dedup {name}" in readme, f"README lacks dedup {name}"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--threshold", "1.5"], 2, "threshold"),
        (["--threshold", "0"], 2, "threshold"),
        (["--num-perm", "0"], 2, "num_perm"),
        (["--num-perm", "100000000"], 2, "num_perm must be in [1, 4096]"),
        (["--bands", "20", "--rows", "10"], 2, "exceeds num_perm"),
        (["--bands", "4"], 2, "--rows"),
        (["--shingle", "sentence:3"], 2, "shingle spec"),
        (["--batch-size", "0"], 2, "batch size must be >= 1"),
        (["--min-passage", "0"], 2, "min_passage must be >= 1"),
        (["--workers", "-1"], 2, "workers must be >= 0"),
        (["--containment", "1.5"], 2, "containment"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_code(
    args: list[str], code: int, message: str, tmp_path: Path
) -> None:
    res = runner.invoke(app, ["scan", str(ROOT / "seeds"), "--out", str(tmp_path / "r"), *args])
    assert res.exit_code == code
    assert message in res.output
    assert "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_missing_input_and_file_as_output(tmp_path: Path) -> None:
    res = runner.invoke(app, ["scan", str(tmp_path / "nope"), "--out", str(tmp_path / "r")])
    assert res.exit_code == 3
    assert "does not exist" in res.output
    f = tmp_path / "f"
    f.write_text("x")
    res = runner.invoke(app, ["scan", str(ROOT / "seeds"), "--out", str(f), "--no-semantic"])
    assert res.exit_code == 4
    assert "not a folder" in res.output


def test_scan_as_a_subprocess_prints_a_summary(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dedup",
            "scan",
            str(ROOT / "seeds"),
            "--out",
            str(out),
            "--no-semantic",
            "--no-align",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "documents" in proc.stdout
    assert "Traceback" not in proc.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["documents"] >= 4


def test_diff_json_and_html_on_two_seeds(tmp_path: Path) -> None:
    a = ROOT / "seeds" / "000_654cfb4831939a43.txt"
    b = ROOT / "seeds" / "001_f8330044a3a1b8ed.txt"
    res = runner.invoke(app, ["diff", str(a), str(b), "--json", "--no-semantic"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    ops = {op["op"] for op in data["ops"]}
    assert {"added", "dropped"} <= ops  # lexical scorer: paraphrases do not match
    html = tmp_path / "d.html"
    res = runner.invoke(app, ["diff", str(a), str(b), "--html", str(html), "--no-semantic"])
    assert res.exit_code == 0, res.output
    assert "Mae Sot" in html.read_text()


def test_diff_without_color_has_plain_markers() -> None:
    a = ROOT / "seeds" / "000_654cfb4831939a43.txt"
    b = ROOT / "seeds" / "002_5e9adce2734e71c8.txt"
    res = runner.invoke(app, ["diff", str(a), str(b), "--no-color", "--no-semantic"])
    assert res.exit_code == 0, res.output
    assert "\x1b[" not in res.output
    assert "~ " in res.output


def test_report_of_a_scan(tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = runner.invoke(
        app,
        ["scan", str(ROOT / "tests" / "data" / "clough"), "--out", str(out), "--no-semantic", "-q"],
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["report", str(out)])
    assert res.exit_code == 0, res.output
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")
    res = runner.invoke(app, ["report", str(tmp_path)])
    assert res.exit_code == 3
    assert "no manifest" in res.output


def _one_line_error(args: list[str], code: int, message: str) -> None:
    res = runner.invoke(app, args)
    assert res.exit_code == code, res.output
    assert res.output.startswith("error: ")
    assert message in res.output
    assert len(res.output.strip().splitlines()) == 1, res.output
    assert "Traceback" not in res.output


def test_output_folder_with_a_run_of_another_config(tmp_path: Path) -> None:
    out = tmp_path / "r"
    base = ["scan", str(ROOT / "seeds"), "--out", str(out), "--no-semantic", "--no-align", "-q"]
    assert runner.invoke(app, base).exit_code == 0
    before = (out / "manifest.json").read_text()
    _one_line_error([*base, "--threshold", "0.7"], 4, "holds a run with another config")
    _one_line_error([*base, "--threshold", "0.7", "--resume"], 4, "--overwrite")
    assert (out / "manifest.json").read_text() == before
    res = runner.invoke(app, [*base, "--threshold", "0.7", "--overwrite"])
    assert res.exit_code == 0
    assert json.loads((out / "manifest.json").read_text())["config"]["lsh"]["threshold"] == 0.7


def test_resume_says_when_there_is_nothing_to_do(tmp_path: Path) -> None:
    out = tmp_path / "r"
    base = ["scan", str(ROOT / "seeds"), "--out", str(out), "--no-semantic", "--no-align", "-q"]
    assert runner.invoke(app, base).exit_code == 0
    res = runner.invoke(app, [*base, "--resume"])
    assert res.exit_code == 0
    assert "nothing to do" in res.output


def test_report_needs_a_complete_run(tmp_path: Path) -> None:
    _one_line_error(["report", str(tmp_path)], 3, "not a complete dedup run")
    _one_line_error(["report", str(tmp_path / "missing")], 3, "not a complete dedup run")


def test_diff_of_missing_binary_or_folder(tmp_path: Path) -> None:
    good = sorted((ROOT / "seeds").glob("0*.txt"))[0]
    _one_line_error(["diff", str(tmp_path / "nope.txt"), str(good)], 3, "input not found")
    png = tmp_path / "image.txt"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    _one_line_error(["diff", str(good), str(png)], 3, "binary")
    _one_line_error(["diff", str(ROOT / "seeds"), str(good)], 3, "it is a folder")
    jsonl = tmp_path / "two.jsonl"
    jsonl.write_text('{"text": "one text"}\n{"text": "another"}\n')
    _one_line_error(["diff", str(good), str(jsonl)], 3, "several documents, not one")


def test_unusable_output_folder_and_seed_out_of_range(tmp_path: Path) -> None:
    seeds = str(ROOT / "seeds")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    _one_line_error(
        ["scan", seeds, "--out", str(blocker / "sub"), "--no-semantic"],
        4,
        "cannot create the output folder",
    )
    _one_line_error(["scan", seeds, "--out", str(tmp_path / "r"), "--seed", "-1"], 2, "seed")
    _one_line_error(["scan", seeds, "--out", str(tmp_path / "r"), "--seed", str(2**32)], 2, "seed")


def test_synth_then_bench_on_a_tiny_corpus(tmp_path: Path) -> None:
    res = runner.invoke(app, ["synth", str(tmp_path / "c"), "--docs", "120", "--seed", "3"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "c" / "truth.parquet").exists()
    res = runner.invoke(app, ["synth", str(tmp_path / "d"), "--docs", "10", "--format", "pdf"])
    assert res.exit_code == 2
    res = runner.invoke(
        app,
        [
            "bench",
            "--docs",
            "150",
            "--repeat",
            "1",
            "--contender",
            "dedup",
            "--contender",
            "datasketch",
            "--work",
            str(tmp_path / "w"),
            "--results",
            str(tmp_path / "r"),
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "r" / "throughput.json").read_text())
    rows = {r["contender"]: r for r in data["rows"]}
    assert set(rows) == {"dedup", "datasketch"}
    assert rows["dedup"]["precision"] == 1.0
    assert rows["dedup"]["recall"] >= rows["datasketch"]["recall"]


def test_resume_with_the_ray_engine_is_refused(tmp_path: Path) -> None:
    res = runner.invoke(
        app,
        [
            "scan",
            str(ROOT / "seeds"),
            "--out",
            str(tmp_path / "r"),
            "--engine",
            "ray",
            "--resume",
            "--no-semantic",
        ],
    )
    assert res.exit_code == 2
    assert "--resume works with the local engine only" in res.output


def test_report_rejects_negative_max_pairs_and_writes_a_readable_file(tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = runner.invoke(
        app,
        ["scan", str(ROOT / "tests" / "data" / "clough"), "--out", str(out), "--no-semantic", "-q"],
    )
    assert res.exit_code == 0, res.output
    _one_line_error(["report", str(out), "--max-pairs", "-1"], 2, "--max-pairs")
    res = runner.invoke(app, ["report", str(out)])
    assert res.exit_code == 0, res.output
    assert (out / "report.html").stat().st_mode & 0o044 == 0o044  # group/others may read


def test_ctrl_c_in_a_command_says_interrupted_and_exits_130(tmp_path: Path) -> None:
    """A KeyboardInterrupt inside a command (typer turns it into exit 130) is said on stderr."""
    code = (
        "import sys, dedup.pipeline as p\n"
        "def stop(*a, **k):\n"
        "    raise KeyboardInterrupt\n"
        "p.scan = stop\n"
        f"sys.argv = ['dedup', 'scan', {str(ROOT / 'seeds')!r}, '--out', {str(tmp_path / 'r')!r}]\n"
        "from dedup.cli import main\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 130
    assert done.stderr.strip() == "interrupted"


def test_ctrl_c_while_the_command_line_loads_says_interrupted_and_exits_130() -> None:
    """A KeyboardInterrupt during the command line's imports is the same one line, not a
    traceback (the console script is ``dedup.__main__:run``)."""
    code = (
        "import sys\n"
        "class Loading:\n"
        "    def __getattr__(self, name):\n"
        "        raise KeyboardInterrupt\n"
        "sys.modules['dedup.cli'] = Loading()\n"
        "from dedup.__main__ import run\n"
        "run()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 130
    assert done.stderr.strip() == "interrupted"


def test_index_build_and_add_say_what_they_skipped(tmp_path: Path) -> None:
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "empty.txt").write_text("")
    base = ["--index", str(tmp_path / "ix"), "--no-semantic"]
    res = runner.invoke(app, ["index", "build", str(corpus), *base])
    assert res.exit_code == 0, res.output
    assert "skipped: " in res.output
    assert "empty.txt: empty" in res.output
    assert "warning: every document was skipped (1)" in res.output
    assert "indexed 0 documents (1 skipped)" in res.output
    (corpus / "a.txt").write_text((ROOT / "seeds" / "README.md").read_text(encoding="utf-8"))
    res = runner.invoke(app, ["index", "add", str(corpus), "--index", str(tmp_path / "ix")])
    assert res.exit_code == 0, res.output
    assert "added 1 document (1 skipped)" in res.output
    assert "warning" not in res.output


def test_a_model_that_is_not_a_local_folder_is_one_clear_error(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("sentence_transformers")
    model = "sentence-transformers/all-MiniLM-L6-v2"  # a hub id: never downloaded
    args = ["scan", str(ROOT / "seeds"), "--out", str(tmp_path / "r"), "--semantic"]
    res = runner.invoke(app, [*args, "--model", model])
    assert res.exit_code == 5
    assert "must be a local sentence-transformers model folder" in res.output
    (tmp_path / "not-a-model").mkdir()  # a folder, but no tokenizer or weights
    res = runner.invoke(app, [*args, "--model", str(tmp_path / "not-a-model")])
    assert res.exit_code == 5
    assert "is not a sentence-transformers model folder" in res.output


def test_index_add_warns_when_a_file_is_added_again(tmp_path: Path) -> None:
    corpus = tmp_path / "c"
    corpus.mkdir()
    for seed in sorted((ROOT / "seeds").glob("00[01]*.txt")):
        (corpus / seed.name).write_text(seed.read_text(encoding="utf-8"), encoding="utf-8")
    ix = ["--index", str(tmp_path / "ix")]
    assert runner.invoke(app, ["index", "build", str(corpus), *ix, "--no-semantic"]).exit_code == 0
    res = runner.invoke(app, ["index", "add", str(sorted(corpus.iterdir())[0]), *ix])
    assert res.exit_code == 0, res.output
    assert "warning: 1 document added again" in res.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--docs", "0"], "--docs and --repeat must be >= 1"),
        (["--repeat", "0"], "--docs and --repeat must be >= 1"),
        (["--threshold", "1.5"], "threshold must be in (0, 1]"),
    ],
)
def test_bench_refuses_bad_parameters_before_any_work(
    args: list[str], message: str, tmp_path: Path
) -> None:
    res = runner.invoke(app, ["bench", "--work", str(tmp_path / "w"), *args])
    assert res.exit_code == 2
    assert message in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert not (tmp_path / "w").exists()
