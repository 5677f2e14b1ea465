"""The real distilled table and the numpy MiniLM, on the bundled model: synthetic pseudo-word
documents are left out, English kept; the numpy encoder matches sentence-transformers; the
diff aligns paraphrases without importing torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dedup.config import SemanticConfig
from dedup.semantic import embed
from tests.reference_model import reference_model

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"

pytestmark = pytest.mark.semantic


@pytest.fixture(scope="module")
def available() -> None:
    ok, reason = embed.is_available()
    if not ok:
        pytest.skip(reason)


@pytest.mark.usefixtures("available")
def test_numpy_minilm_matches_sentence_transformers() -> None:
    from dedup.semantic.minilm import bundled

    sentences = [
        "The cat sat on the mat.",
        "Stock markets fell sharply on Monday after the announcement of new tariffs.",
        "Hundreds of people were rescued from scam centres near the border.",
        "ok",
        "word " * 400,  # past the 256-piece limit: truncated the same way
    ]
    ours = bundled().encode(sentences, batch_size=2)
    ref = reference_model().encode(sentences, normalize_embeddings=True, convert_to_numpy=True)
    cos = (ours * ref).sum(axis=1)
    assert cos.min() > 0.9999, cos


@pytest.mark.usefixtures("available")
def test_pseudo_word_documents_are_left_out_and_english_is_kept(tmp_path: Path) -> None:
    from dedup.semantic import static
    from dedup.synth.generate import synthesize

    synthesize(tmp_path / "synth", docs=80, seed=3, formats=("jsonl",))
    synth_texts = [
        json.loads(line)["text"]
        for f in sorted((tmp_path / "synth").rglob("*.jsonl"))
        for line in f.read_text().splitlines()
    ]
    english = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("0*.txt"))]
    model = static.load_static_model()
    cfg = SemanticConfig()
    synth = static.document_vectors(model, synth_texts)
    eng = static.document_vectors(model, english)
    assert (synth.split_share > cfg.max_split_share).all()
    assert (eng.split_share <= cfg.max_split_share).all()


@pytest.mark.usefixtures("available")
def test_diff_aligns_rewrites_without_torch(tmp_path: Path) -> None:
    a, b = sorted(SEEDS.glob("0*.txt"))[:2]
    code = (
        "import sys, json\n"
        "from typer.testing import CliRunner\n"
        "from dedup.cli import app\n"
        f"res = CliRunner().invoke(app, ['diff', {str(a)!r}, {str(b)!r}, '--json'])\n"
        "assert res.exit_code == 0, res.output\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'out': json.loads(res.stdout)}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(Path.home())},
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["torch"] is False
    ops = [op["op"] for op in result["out"]["ops"]]
    # reworded sentences align (the lexical scorer alone finds none of them)
    assert sum(op in ("edited", "moved") for op in ops) >= 3
