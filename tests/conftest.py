from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"


@pytest.fixture
def seeds_dir() -> Path:
    return SEEDS


from hypothesis import settings  # noqa: E402

# numba kernels compile (or load from cache) on first call: no per-example deadline.
settings.register_profile("dedup", deadline=None)
settings.load_profile("dedup")
