"""What the commands print and write: plain text without colour, quiet broken pipes, the
README's Python example, and `dedup bench` leaving the published results alone."""

from __future__ import annotations

import ast
import builtins
import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dedup.cli import app

ROOT = Path(__file__).resolve().parent.parent
SEED_A = ROOT / "seeds" / "000_654cfb4831939a43.txt"
SEED_B = ROOT / "seeds" / "002_5e9adce2734e71c8.txt"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _run_on_a_terminal(
    args: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT
) -> tuple[int, bytes]:
    """Run ``python -m dedup ARGS`` with stdout on a pseudo-terminal; its code and bytes."""
    main, sub = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dedup", *args],
        stdout=sub,
        stderr=sub,
        env={**ENV, **(env or {})},
        cwd=cwd,
    )
    os.close(sub)
    out = b""
    while True:
        try:
            chunk = os.read(main, 1 << 16)
        except OSError:  # the other end closed
            break
        if not chunk:
            break
        out += chunk
    os.close(main)
    return proc.wait(timeout=120), out


def test_diff_no_color_on_a_terminal_prints_no_escape_codes() -> None:
    code, out = _run_on_a_terminal(
        ["diff", str(SEED_A), str(SEED_B), "--no-color", "--no-semantic"]
    )
    assert code == 0, out[-500:]
    assert b"A: " in out
    assert b"\x1b[" not in out
    code, out = _run_on_a_terminal(["diff", str(SEED_A), str(SEED_B), "--no-semantic"])
    assert code == 0
    assert b"\x1b[" in out  # colour is still the default on a terminal


def test_diff_honours_no_color_on_a_terminal() -> None:
    args = ["diff", str(SEED_A), str(SEED_B), "--no-semantic"]
    code, out = _run_on_a_terminal(args, env={"NO_COLOR": "1"})
    assert code == 0, out[-500:]
    assert b"\x1b[" not in out
    assert b"passage text [[ ]]" in out  # the plain layout's legend


def test_diff_shows_control_characters_instead_of_sending_them(tmp_path: Path) -> None:
    """Escape sequences in a text or a file name (clear the screen, retitle the window)
    are printed as signs, even in colour on a terminal; so is an error's path."""
    text = "Alpha beta gamma delta epsilon. Iota kappa lambda mu nu xi. Rho sigma tau phi chi."
    (tmp_path / "a.txt").write_text(text)
    hostile = text.replace("Iota", "Iota \x1b[2J\x1b[31mRED\x1b[0m \x1b]0;pwned\x07")
    (tmp_path / "b\x1b[31mname.txt").write_text(hostile)
    args = ["diff", "a.txt", "b\x1b[31mname.txt", "--no-semantic", "--color"]
    code, out = _run_on_a_terminal(args, cwd=tmp_path)
    assert code == 0, out[-500:]
    for sequence in (b"\x1b[2J", b"\x1b[31mRED", b"\x1b]0;", b"\x1b[31mname", b"\x07"):
        assert sequence not in out
    assert "␛[2J".encode() in out
    assert "␛[31mname".encode() in out
    code, out = _run_on_a_terminal(["diff", "a.txt", "gone\x1b[2J.txt"], cwd=tmp_path)
    assert code == 3
    assert b"\x1b[2J" not in out


def test_diff_into_a_closed_pipe_exits_quietly(tmp_path: Path) -> None:
    sentences = [f"Sentence number {i} says something about item {i * 7}." for i in range(700)]
    (tmp_path / "a.txt").write_text(" ".join(sentences), encoding="utf-8")
    (tmp_path / "b.txt").write_text(" ".join(sentences[::-1][:600]), encoding="utf-8")
    for flags in ("--json", "--no-color"):
        cmd = (
            f"set -o pipefail; {sys.executable} -m dedup diff a.txt b.txt {flags} "
            "--no-semantic | head -c 100 > /dev/null"
        )
        res = subprocess.run(
            ["bash", "-c", cmd], cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=300
        )
        assert res.returncode == 0, res.stderr
        assert res.stderr == ""


def _python_blocks(readme: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", readme, flags=re.S)


def test_readme_python_example_defines_every_name_it_uses() -> None:
    blocks = _python_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    assert blocks
    for code in blocks:
        tree = ast.parse(code)
        defined = set(dir(builtins))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                defined |= {(a.asname or a.name).split(".")[0] for a in node.names}
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                defined.add(node.id)
        used = {
            n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
        }
        assert used <= defined, f"README example uses {sorted(used - defined)} undefined"


def test_python_block_check_catches_a_missing_import() -> None:
    tree = ast.parse('dedup.synthesize(Path("x"))\n')
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert "Path" in used  # the check above sees names like this one


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_bench_leaves_the_published_results_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["bench", "--docs", "120", "--repeat", "1", "--contender", "dedup", "--work", "w"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert not (tmp_path / "results").exists()
    data = json.loads((tmp_path / "w" / "results" / "throughput.json").read_text())
    assert {r["contender"] for r in data["rows"]} == {"dedup"}


def test_bench_refuses_what_it_cannot_run_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing contender package, a file where a folder goes, or a contender that fails:
    one line and an exit code, before any work where it can be known before."""
    import importlib.util

    from dedup import bench

    monkeypatch.chdir(tmp_path)
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "rensa" else real(name, *a)
    )
    assert bench.missing_packages(["dedup", "rensa", "rensa_batch", "datasketch"]) == ["rensa"]
    base = ["bench", "--docs", "60", "--repeat", "1"]
    res = CliRunner().invoke(app, [*base, "--contender", "rensa"])
    assert res.exit_code == 2
    assert "need rensa, not installed" in res.output
    monkeypatch.setattr(importlib.util, "find_spec", real)
    Path("afile").write_text("x")
    res = CliRunner().invoke(app, [*base, "--contender", "dedup", "--work", "afile"])
    assert res.exit_code == 4
    assert "--work afile is a file" in res.output
    res = CliRunner().invoke(app, [*base, "--contender", "datasketch", "--threshold", "1.0"])
    assert res.exit_code == 1
    assert "contender datasketch failed" in res.output
    assert "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_piped_scan_prints_its_whole_summary_and_exit_codes_survive(tmp_path: Path) -> None:
    """``main`` leaves through ``os._exit``: the summary must still reach a pipe whole, and
    an error's code and message must still come out."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("one small file of a few words\n")
    cmd = [sys.executable, "-m", "dedup", "scan", str(tmp_path / "in"), "--no-semantic"]
    done = subprocess.run(
        [*cmd, "--out", str(tmp_path / "o")], capture_output=True, env=ENV, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert b"seconds: total" in done.stdout  # the table's last row
    assert (tmp_path / "o" / "manifest.json").is_file()
    missing = subprocess.run(
        [sys.executable, "-m", "dedup", "scan", str(tmp_path / "nothing"), "--out", "x"],
        capture_output=True,
        env=ENV,
        cwd=tmp_path,
    )
    assert missing.returncode != 0
    assert b"does not exist" in missing.stderr


def test_leave_runs_exit_handlers_and_finalizers(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    code = (
        "import atexit, tempfile, sys\n"
        f"atexit.register(lambda: open({str(marker)!r}, 'w').write('ran'))\n"
        "kept = tempfile.TemporaryDirectory()\n"
        f"open({str(tmp_path / 'where')!r}, 'w').write(kept.name)\n"
        "print('last line', end='')\n"
        "from dedup.cli import leave\n"
        "leave(7)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, env=ENV, cwd=ROOT)
    assert done.returncode == 7
    assert done.stdout == b"last line"  # flushed, though unterminated
    assert marker.read_text() == "ran"
    assert not Path((tmp_path / "where").read_text()).exists()  # the finalizer removed it


def test_leave_takes_the_ordinary_exit_when_it_must() -> None:
    import threading

    from dedup.cli import leave

    with pytest.raises(SystemExit) as text:
        leave("a message")
    assert text.value.code == "a message"
    release = threading.Event()
    worker = threading.Thread(target=release.wait)  # non-daemon: the exit must wait for it
    worker.start()
    try:
        with pytest.raises(SystemExit) as busy:
            leave(0)
        assert busy.value.code == 0
    finally:
        release.set()
        worker.join()


def test_the_app_for_one_command_parses_and_helps_as_the_whole_app() -> None:
    """``main`` builds only the command named on the command line; its help and its errors
    must be the whole app's."""
    import typer

    from dedup.cli import app_for

    runner = CliRunner()
    names = [
        c.name or typer.main.get_command_name(c.callback.__name__)
        for c in app.registered_commands
        if c.callback
    ] + [str(g.name) for g in app.registered_groups]
    assert {"scan", "diff", "filter", "query", "index"} <= set(names)
    for name in names:
        one = app_for(["dedup", name])
        assert one is not app
        assert len(one.registered_commands) + len(one.registered_groups) == 1
        for args in ([name, "--help"], [name, "--no-such-option"]):
            whole, alone = runner.invoke(app, args), runner.invoke(one, args)
            assert (alone.exit_code, alone.output) == (whole.exit_code, whole.output), args
    for argv in (["dedup"], ["dedup", "--help"], ["dedup", "nosuch"]):
        assert app_for(argv) is app
