"""dedup: find duplicate and derivative texts and show what each derivative changed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
    """``dedup.scan``, ``dedup.ScanResult``, ``dedup.synthesize`` and ``dedup.Index``,
    imported on first use."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
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
