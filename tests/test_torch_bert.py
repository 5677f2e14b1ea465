"""The scan's torch encoder of the bundled model: float32 equals sentence-transformers,
bfloat16 stays within a cosine of 0.999 of it, the precision is resolved and recorded, and the
scan never imports sentence-transformers for the bundled model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dedup.config import RunConfig, SemanticConfig
from dedup.errors import ConfigError
from dedup.semantic import embed
from tests.fresh_process import modules_loaded
from tests.reference_model import reference_model

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"

pytestmark = pytest.mark.semantic

SENTENCES = [
    "The cat sat on the mat.",
    "Stock markets fell sharply on Monday after the announcement of new tariffs.",
    "Hundreds of people were rescued from scam centres near the border.",
    "Police freed hundreds of workers held in fraud compounds close to the frontier.",
    "ok",
    "",
    "word " * 400,  # past the 256-piece limit: truncated the same way
    "Prices rose 3.5% in the year to March, the statistics office said on Tuesday.",
]


@pytest.fixture(scope="module")
def available() -> None:
    ok, reason = embed.is_available()
    if not ok:
        pytest.skip(reason)


def _model(precision: str) -> object:
    from dedup.semantic.minilm import bundled_folder
    from dedup.semantic.torch_bert import TorchMiniLM

    return TorchMiniLM(bundled_folder(), device="cpu", precision=precision)


@pytest.mark.usefixtures("available")
@pytest.mark.parametrize("batch_size", [1, 3, 32])
def test_float32_matches_sentence_transformers(batch_size: int) -> None:
    ours = _model("float32").encode(SENTENCES, batch_size=batch_size)  # type: ignore[attr-defined]
    ref = reference_model().encode(SENTENCES, normalize_embeddings=True, convert_to_numpy=True)
    assert ours.shape == ref.shape == (len(SENTENCES), 384)
    cos = (ours * ref).sum(axis=1)
    assert cos.min() > 0.9999, cos


@pytest.mark.usefixtures("available")
def test_batches_by_wordpieces_keep_rows_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sentences are regrouped by length, in groups, across batches: each row is still its
    own sentence's vector (against one forward pass per sentence), and progress reaches the
    total."""
    from dedup.semantic import minilm

    model = _model("float32")
    texts = [s + f" Number {i}." for i, s in enumerate(SENTENCES * 3)]
    alone = np.stack([model.encode([t])[0] for t in texts])  # type: ignore[attr-defined]
    monkeypatch.setattr(minilm, "SORT_GROUP", 5)  # several groups, the last one short
    calls: list[tuple[int, int]] = []
    together = model.encode(  # type: ignore[attr-defined]
        texts, batch_size=2, progress=lambda done, total: calls.append((done, total))
    )
    assert (alone * together).sum(axis=1).min() > 0.9999
    assert calls[-1] == (len(texts), len(texts))
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    empty = embed.encode_all(model, [], batch_size=4, progress=None)
    assert empty.shape == (0, 384)


@pytest.mark.usefixtures("available")
def test_bfloat16_stays_close_to_float32() -> None:
    full = _model("float32").encode(SENTENCES)  # type: ignore[attr-defined]
    half = _model("bfloat16").encode(SENTENCES)  # type: ignore[attr-defined]
    assert not np.array_equal(full, half)  # it did run in another precision
    assert (full * half).sum(axis=1).min() > 0.999
    # what the aligner reads: cosines between sentences
    assert np.abs(full @ full.T - half @ half.T).max() < 0.01


@pytest.mark.usefixtures("available")
def test_precision_is_resolved_per_device() -> None:
    from dedup.semantic.torch_bert import native_bfloat16, resolve_precision

    assert resolve_precision("auto", "cuda") == "float32"
    assert resolve_precision("auto", "cpu") == ("bfloat16" if native_bfloat16() else "float32")
    assert resolve_precision("bfloat16", "cuda") == "bfloat16"
    with pytest.raises(ValueError, match="precision"):
        resolve_precision("int8", "cpu")
    with pytest.raises(ConfigError, match="precision"):
        RunConfig(semantic=SemanticConfig(precision="half")).validate()


@pytest.mark.usefixtures("available")
def test_scan_records_precision_without_sentence_transformers(tmp_path: Path) -> None:
    """A forced-float32 scan of the seeds: the manifest says so, and the process imported
    torch but not sentence-transformers or transformers."""
    out = tmp_path / "run"
    args = ["scan", SEEDS, "-o", out, "--quiet", "--precision", "float32"]
    modules = ("torch", "sentence_transformers", "transformers")
    assert modules_loaded(args, modules) == ["torch"]
    notes = json.loads((out / "manifest.json").read_text())["stages"]["semantic"]
    assert notes["precision"] == "float32"
    assert notes["verified"] > 0
