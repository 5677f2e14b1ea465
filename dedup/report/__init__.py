"""Static HTML report (one self-contained file) and the shared side-by-side HTML view."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dedup.report.build import build_report, write_report

__all__ = ["build_report", "write_report"]


def __getattr__(name: str) -> Any:
    """``build_report`` and ``write_report``, imported on first use (the CLI's progress
    bars live in this package too, and a scan should not load the report builder)."""
    if name in __all__:
        from dedup.report import build

        return getattr(build, name)
    raise AttributeError(f"module 'dedup.report' has no attribute {name!r}")
