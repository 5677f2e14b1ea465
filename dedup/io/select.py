"""Which files a folder walk reads: ``--include``/``--exclude`` globs, and dedup's own files.

Globs follow ``.gitignore`` habits. A pattern without ``/`` matches a file or folder
name at any depth (``*.html``, ``drafts``); a pattern with ``/`` matches the path
relative to the input folder it was found in (``2024/**/*.csv``). ``*``, ``?``,
``[abc]`` and ``[!abc]`` never cross a ``/``; ``**`` as a whole path segment matches any
number of folders (elsewhere it is a ``*``). An excluded folder is not entered.

dedup's own outputs are recognised by content, not by name: a folder whose
``manifest.json`` is a dedup run manifest is a run folder, a folder whose ``index.json`` is
a dedup index manifest is an index, and a folder whose ``synth.json`` is a ``dedup synth``
summary holds metadata (``synth.json``, ``truth.parquet``) beside its documents.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "INDEX_FORMAT",
    "INDEX_MANIFEST",
    "RUN_MANIFEST",
    "SYNTH_FILES",
    "SYNTH_SUMMARY",
    "PathFilter",
    "glob_regex",
    "is_index_manifest",
    "is_run_manifest",
    "is_synth_summary",
]

RUN_MANIFEST = "manifest.json"
#: The manifest of a ``dedup index`` folder, and the format it names.
INDEX_MANIFEST = "index.json"
INDEX_FORMAT = "dedup-index"
SYNTH_SUMMARY = "synth.json"
SYNTH_FILES = frozenset({SYNTH_SUMMARY, "truth.parquet"})
_MAX_JSON_BYTES = 1 << 20  # a manifest is a few KB; anything much larger is not one


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A regular expression for one glob, matched against a ``/``-separated relative path.

    Raises:
        ValueError: The pattern is empty.
    """
    pat = pattern.strip().removeprefix("./").lstrip("/")
    if not pat:
        raise ValueError(f"empty glob pattern {pattern!r}")
    if "/" not in pat.rstrip("/"):
        pat = "**/" + pat
    pat = pat.rstrip("/")
    out: list[str] = []
    i = 0
    while i < len(pat):
        at_segment = i == 0 or pat[i - 1] == "/"
        if at_segment and pat.startswith("**/", i):
            out.append("(?:[^/]+/)*")
            i += 3
        elif at_segment and pat.startswith("**", i) and i + 2 == len(pat):
            out.append(".*")
            i += 2
        elif pat[i] == "*":  # any other run of stars stays within one name
            out.append("[^/]*")
            while i < len(pat) and pat[i] == "*":
                i += 1
        elif pat[i] == "?":
            out.append("[^/]")
            i += 1
        elif pat[i] == "[" and (end := _class_end(pat, i)) != -1:
            out.append(_class_regex(pat[i : end + 1]))
            i = end + 1
        else:
            out.append(re.escape(pat[i]))
            i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def _class_end(pat: str, i: int) -> int:
    """Where the ``[...]`` class opening at ``i`` ends (fnmatch's rule), or -1: a literal."""
    j = i + 1
    if j < len(pat) and pat[j] == "!":
        j += 1
    if j < len(pat) and pat[j] == "]":
        j += 1
    end = pat.find("]", j)
    return end


def _class_regex(cls: str) -> str:
    """The regex of one ``[...]`` class, as :func:`fnmatch.translate` writes it, except
    that it never matches ``/``."""
    regex = fnmatch.translate(cls).removeprefix("(?s:").removesuffix(")\\Z")
    return "(?!/)" + regex


@dataclass(frozen=True)
class PathFilter:
    """``--include`` and ``--exclude`` globs, compiled once for a walk."""

    include: tuple[re.Pattern[str], ...]
    exclude: tuple[re.Pattern[str], ...]

    @classmethod
    def of(cls, include: Sequence[str], exclude: Sequence[str]) -> PathFilter:
        """Compile the globs (see the module docstring for their syntax)."""
        return cls(tuple(glob_regex(p) for p in include), tuple(glob_regex(p) for p in exclude))

    @property
    def active(self) -> bool:
        """Whether any glob was given."""
        return bool(self.include or self.exclude)

    def excluded(self, rel: str) -> bool:
        """Whether the file or folder at relative path ``rel`` matches an exclude glob."""
        return any(p.match(rel) for p in self.exclude)

    def reads(self, rel: str) -> bool:
        """Whether the file at relative path ``rel`` is read (not excluded; included)."""
        if self.excluded(rel):
            return False
        return not self.include or any(p.match(rel) for p in self.include)


def _small_json(path: Path) -> object:
    """The JSON value in ``path``, or None when it is missing, too large or not JSON."""
    try:
        with path.open("rb") as f:
            data = f.read(_MAX_JSON_BYTES + 1)
    except OSError:
        return None
    if len(data) > _MAX_JSON_BYTES:
        return None
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None


def is_run_manifest(path: Path) -> bool:
    """Whether ``path`` is the ``manifest.json`` of a run written by ``dedup scan``."""
    obj = _small_json(path)
    return (
        isinstance(obj, dict)
        and obj.get("tool") == "dedup"
        and isinstance(obj.get("fingerprint"), str)
        and isinstance(obj.get("counts"), dict)
    )


def is_index_manifest(path: Path) -> bool:
    """Whether ``path`` is the ``index.json`` of an index written by ``dedup index``."""
    obj = _small_json(path)
    return isinstance(obj, dict) and obj.get("format") == INDEX_FORMAT


def is_synth_summary(path: Path) -> bool:
    """Whether ``path`` is the ``synth.json`` written by ``dedup synth``."""
    obj = _small_json(path)
    if not isinstance(obj, dict):
        return False
    params, counts = obj.get("params"), obj.get("counts")
    return (
        isinstance(params, dict)
        and isinstance(counts, dict)
        and "rates" in params
        and "original" in counts
        and "pairs" in obj
    )
