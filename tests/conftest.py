from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"

# numba kernels compile (or load from cache) on first call: no per-example deadline.
settings.register_profile("dedup", deadline=None)
settings.load_profile("dedup")


@pytest.fixture
def seeds_dir() -> Path:
    return SEEDS


@pytest.fixture(scope="session")
def seed_texts() -> list[str]:
    return [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("0*.txt"))]


@pytest.fixture
def encoded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every string the transformer encodes while the test runs (through
    ``SentenceEncoder._encode``, which still encodes them), in order; the test may clear it."""
    from dedup.semantic import encoder

    seen: list[str] = []
    real = encoder.SentenceEncoder._encode

    def counting(self: encoder.SentenceEncoder, todo: list[str], progress: Any) -> Any:
        seen.extend(todo)
        return real(self, todo, progress)

    monkeypatch.setattr(encoder.SentenceEncoder, "_encode", counting)
    return seen
