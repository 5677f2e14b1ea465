"""Engines that run the scan: ``local`` (this machine) and ``ray`` (a Ray cluster).

Each engine is a module with a ``run`` function of the same keyword-only shape
(:class:`Engine`); :func:`get` imports it on first use, so the engines never import each
other and Ray is imported only when its engine runs. An index (:mod:`dedup.index`) is built
the same way: :func:`build_index` looks up the engine's ``build`` in :data:`INDEX_BUILDERS`.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from dedup.config import RunConfig
from dedup.errors import ConfigError
from dedup.io.options import ReadOptions
from dedup.progress import Progress

if TYPE_CHECKING:
    from dedup.index.write import AddResult
    from dedup.run import ScanResult

__all__ = ["ENGINES", "INDEX_BUILDERS", "Engine", "IndexBuilder", "build_index", "get"]

ENGINES: dict[str, str] = {
    "local": "dedup.engines.local",
    "ray": "dedup.engines.ray.engine",
}

#: The module of each engine whose ``build`` writes an index (:class:`IndexBuilder`).
INDEX_BUILDERS: dict[str, str] = {
    "local": "dedup.index.write",
    "ray": "dedup.engines.ray.index",
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
        vector_cache: Path | None = None,
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


class IndexBuilder(Protocol):
    """What an index-building engine module provides (``**options``: the engine's own,
    ``ray_address`` for Ray)."""

    def build(
        self,
        inputs: Sequence[str | Path],
        path: str | Path,
        *,
        config: RunConfig | None = None,
        text_column: str = "text",
        id_column: str | None = None,
        progress: Progress | None = None,
        overwrite: bool = False,
        **options: Any,
    ) -> AddResult: ...


def build_index(
    inputs: Sequence[str | Path],
    path: str | Path,
    *,
    engine: str = "local",
    config: RunConfig | None = None,
    text_column: str = "text",
    id_column: str | None = None,
    progress: Progress | None = None,
    overwrite: bool = False,
    ray_address: str | None = None,
) -> AddResult:
    """Build an index of ``inputs`` at ``path`` with ``engine`` (the same index either way).

    Args:
        engine: ``local`` (:func:`dedup.index.build`) or ``ray``
            (:func:`dedup.engines.ray.index.build`).
        ray_address: the Ray cluster (``engine="ray"`` only); see the Ray scan.

    Raises:
        ConfigError: an unknown engine, ``ray_address`` without Ray, Ray not installed.
        OutputError: ``path`` holds something else, or an index and not ``overwrite``.
    """
    if engine not in INDEX_BUILDERS:
        known = ", ".join(repr(k) for k in INDEX_BUILDERS)
        raise ConfigError(f"unknown engine {engine!r}: expected one of {known}")
    options: dict[str, Any] = {}
    if ray_address is not None:
        if engine != "ray":
            raise ConfigError("--ray-address works with --engine ray only")
        options["ray_address"] = ray_address
    builder = cast("IndexBuilder", importlib.import_module(INDEX_BUILDERS[engine]))
    return builder.build(
        inputs,
        path,
        config=config,
        text_column=text_column,
        id_column=id_column,
        progress=progress,
        overwrite=overwrite,
        **options,
    )
