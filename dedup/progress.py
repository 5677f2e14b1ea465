"""Progress reporting and per-stage timings, shared by every stage and both engines."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["STAGES", "Progress", "Silent", "Timings"]

STAGES = ("read+shingle+minhash", "candidates+verify", "semantic", "align", "cluster", "write")
_PART_OF = {"read": STAGES[0], "shingle": STAGES[0], "minhash": STAGES[0]}


class Progress(Protocol):
    """What the pipeline reports progress to (the CLI draws bars; the API may pass none)."""

    def stage(self, name: str, total: int | None = None) -> None: ...

    def advance(self, n: int = 1) -> None: ...

    def message(self, text: str) -> None: ...


class Silent:
    """A :class:`Progress` that reports nothing."""

    def stage(self, name: str, total: int | None = None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def message(self, text: str) -> None:
        pass


@dataclass
class Timings:
    """Seconds and output rows per stage, for the manifest.

    :meth:`summary` gives the same keys in both engines (:data:`STAGES`); the finer
    parts one engine can tell apart (``read``, ``shingle``, ``minhash`` and ``checkpoint``
    on the local engine) are kept as detail. Rows: documents read, verified pairs (all
    channels), pairs aligned, documents in clusters, pairs written.
    """

    seconds: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the ``with`` block as stage ``name`` (added to earlier time of that stage)."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - t0)

    def add(self, name: str, seconds: float) -> None:
        """Add ``seconds`` to stage ``name``."""
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    def count(self, name: str, rows: int) -> None:
        """Record that stage ``name`` output ``rows`` rows."""
        self.rows[name] = int(rows)

    def summary(self) -> dict[str, Any]:
        """``seconds`` and ``rows`` per stage of :data:`STAGES` (those that ran), and the
        finer ``seconds_detail`` of the parts that are not stages themselves."""
        seconds: dict[str, float] = {}
        for name, sec in self.seconds.items():
            stage = _PART_OF.get(name, name)
            if stage in STAGES:
                seconds[stage] = seconds.get(stage, 0.0) + sec
        return {
            "seconds": {k: round(seconds[k], 4) for k in STAGES if k in seconds},
            "rows": {k: self.rows[k] for k in STAGES if k in self.rows},
            "seconds_detail": {k: round(v, 4) for k, v in self.seconds.items() if k not in STAGES},
        }
