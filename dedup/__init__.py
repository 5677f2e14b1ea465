"""dedup: find duplicate and derivative texts and show what each derivative changed."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

# OpenMP threads (torch's, and numba's when it uses OpenMP) sleep when idle instead of
# spinning: spinning threads starve the other pool, or another process, on a busy machine
# (the transformer ran 5-7x slower beside another job). Read when the runtime loads, so set
# before torch or numba is imported; a value the user set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Numba's parallel kernels on its own thread pool, not OpenMP: numba's OpenMP layer loads the
# system's libgomp beside torch's copy, and once both had run, torch's bfloat16 kernels ran
# 4x slower (12.3 s against 7.3 s for 1,788 news sentences; float32 unaffected). The lexical
# kernels measured the same on both layers (10,000-document scan, 2 cores).
os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

from dedup.config import (
    AlignConfig,
    LSHConfig,
    MinHashConfig,
    OverlapConfig,
    RunConfig,
    SemanticConfig,
    ShingleConfig,
)
from dedup.errors import ConfigError, DedupError, InputError, OutputError
from dedup.version import __version__

if TYPE_CHECKING:
    from dedup.index import Index
    from dedup.pipeline import ScanResult, scan
    from dedup.synth.generate import synthesize

_LAZY = {
    "scan": "dedup.pipeline",
    "ScanResult": "dedup.pipeline",
    "synthesize": "dedup.synth.generate",
    "Index": "dedup.index",
}


def __getattr__(name: str) -> Any:
    """``dedup.scan``, ``dedup.ScanResult``, ``dedup.synthesize`` and ``dedup.Index``, and
    the subpackages and modules (``dedup.index.build`` after ``import dedup``), imported on
    first use."""
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if not name.startswith("_") and name.isidentifier():
        import importlib.util

        if importlib.util.find_spec(f"{__name__}.{name}") is not None:
            return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'dedup' has no attribute {name!r}")


__all__ = [
    "AlignConfig",
    "ConfigError",
    "DedupError",
    "Index",
    "InputError",
    "LSHConfig",
    "MinHashConfig",
    "OutputError",
    "OverlapConfig",
    "RunConfig",
    "ScanResult",
    "SemanticConfig",
    "ShingleConfig",
    "__version__",
    "scan",
    "synthesize",
]
