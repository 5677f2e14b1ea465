"""Static HTML report (one self-contained file) and the shared side-by-side HTML view."""

from __future__ import annotations

from dedup.report.build import build_report, write_report

__all__ = ["build_report", "write_report"]
