"""An on-disk index of a corpus, asked whether new documents derive from what it holds.

``dedup index build`` writes it, ``dedup index add`` appends to it, ``dedup query`` and
:class:`Index` ask it. Candidates come from the index's channels; verification, relations
and alignment are the scan's own functions (:mod:`dedup.index.match`).
"""

from __future__ import annotations

from dedup.index.api import Index, QueryResult
from dedup.index.write import AddResult, add, build, compact

__all__ = ["AddResult", "Index", "QueryResult", "add", "build", "compact"]
