"""dedup: find duplicate and derivative texts and show what each derivative changed."""

from __future__ import annotations

__version__ = "0.1.0"

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

__all__ = [
    "AlignConfig",
    "ConfigError",
    "DedupError",
    "InputError",
    "LSHConfig",
    "MinHashConfig",
    "OutputError",
    "OverlapConfig",
    "RunConfig",
    "SemanticConfig",
    "ShingleConfig",
    "__version__",
]
