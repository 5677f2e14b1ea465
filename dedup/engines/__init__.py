"""Engines that run the scan: ``local`` (this machine) and ``ray`` (a Ray cluster).

Each engine is a module with a ``run`` function of the same keyword-only shape
(:class:`Engine`); :func:`get` imports it on first use, so the engines never import each
other and Ray is imported only when its engine runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

from dedup.config import RunConfig
from dedup.errors import ConfigError
from dedup.io.options import ReadOptions
from dedup.progress import Progress

if TYPE_CHECKING:
    from dedup.run import ScanResult

__all__ = ["ENGINES", "Engine", "get"]

ENGINES: dict[str, str] = {
    "local": "dedup.engines.local",
    "ray": "dedup.engines.ray.engine",
}


class Engine(Protocol):
    """What an engine module provides."""

    def check(self, *, resume: bool) -> None: ...

    def run(
        self,
        inputs: Sequence[str | Path],
        out: Path,
        *,
        config: RunConfig,
        read: ReadOptions,
        overwrite: bool,
        resume: bool,
        progress: Progress,
        ray_address: str | None,
    ) -> ScanResult: ...


def get(name: str) -> Engine:
    """The engine called ``name``.

    Raises:
        ConfigError: no engine has that name.
    """
    if name not in ENGINES:
        known = ", ".join(repr(k) for k in ENGINES)
        raise ConfigError(f"unknown engine {name!r}: expected one of {known}")
    return cast("Engine", importlib.import_module(ENGINES[name]))
