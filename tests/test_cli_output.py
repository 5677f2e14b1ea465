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


def _run_on_a_terminal(args: list[str]) -> tuple[int, bytes]:
    """Run ``python -m dedup ARGS`` with stdout on a pseudo-terminal; its code and bytes."""
    main, sub = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dedup", *args], stdout=sub, stderr=sub, env=ENV, cwd=ROOT
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
