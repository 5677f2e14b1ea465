"""The passages of the pairs a report shows, and the texts to mark them in.

A passage's offsets point into its documents' texts, which a run does not store: the texts
are read again from the run's inputs, as the scan read them (its manifest records the inputs,
the folder the scan ran in and the reader's options), and only the files that hold a wanted
document are opened. Each document read again must have the path, byte count and length the
documents table records, and a view's sentence must read as the alignment table recorded it
(:mod:`dedup.report.marks`); otherwise the passages are counted but not marked, and the report
says why. Nothing here raises for a missing or changed input.
"""

from __future__ import annotations

import bisect
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from dedup import schema
from dedup.errors import DedupError, InputError
from dedup.io import walk
from dedup.io.atomic import read_json
from dedup.io.decode import shown
from dedup.io.options import ReadOptions
from dedup.report.marks import ViewPassages
from dedup.text.segment import split_sentences

__all__ = ["PairViews", "Texts", "pair_views", "read_passages", "read_texts"]

PairKey = tuple[int, int]


@dataclass(frozen=True)
class Texts:
    """Texts read again, by ``doc_id``, and why any wanted one is missing (None: none is)."""

    texts: dict[int, str]
    note: str | None = None


@dataclass(frozen=True)
class PairViews:
    """The passages of the shown pairs, by ``(doc_a, doc_b)``, and why some are not marked."""

    views: dict[PairKey, ViewPassages]
    note: str | None = None


def read_passages(run_dir: Path, keys: Sequence[PairKey]) -> dict[PairKey, list[dict[str, Any]]]:
    """The ``passages`` rows of the pairs ``keys`` (only those rows are read); empty when
    the run has no ``passages.parquet`` (a run from an older dedup).

    Raises:
        InputError: The table cannot be read.
    """
    path = run_dir / "passages.parquet"
    if not path.is_file() or not keys:
        return {}
    wanted = pl.LazyFrame(
        {"doc_a": [k[0] for k in keys], "doc_b": [k[1] for k in keys]},
        schema={"doc_a": pl.Int64, "doc_b": pl.Int64},
    )
    try:
        rows = pl.scan_parquet(path).join(wanted, on=["doc_a", "doc_b"], how="semi").collect()
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from exc
    by_pair: dict[PairKey, list[dict[str, Any]]] = {}
    for r in schema.conform(rows, "passages").iter_rows(named=True):
        by_pair.setdefault((int(r["doc_a"]), int(r["doc_b"])), []).append(r)
    return by_pair


def _inputs(run_dir: Path) -> dict[str, Any]:
    manifest = read_json(run_dir / "manifest.json")
    record = manifest.get("inputs") if isinstance(manifest, dict) else None
    if not isinstance(record, dict) or not {"paths", "cwd", "options"} <= set(record):
        raise InputError("the run's manifest does not record its inputs")
    if not Path(record["cwd"]).is_dir():
        raise InputError(f"the folder the scan ran in ({record['cwd']}) is gone")
    return record


def _count(paths: Sequence[str], first: int, name: str) -> int:
    """How many documents from ``first`` on come from the file shown as ``name``."""
    i = first
    while i < len(paths) and (
        paths[i] == name
        or (paths[i].startswith(f"{name}:") and paths[i][len(name) + 1 :].isdigit())
    ):
        i += 1
    return i - first


def _starts(paths: Sequence[str]) -> dict[str, list[int]]:
    """Where each source's documents may start, by the source's shown name: a document's
    path, and for a record (``name:ROW``) its file's name; rising ``doc_id`` lists."""
    out: dict[str, list[int]] = {}
    for i, path in enumerate(paths):
        out.setdefault(path, []).append(i)
        name, colon, row = path.rpartition(":")
        if colon and row.isdigit():
            out.setdefault(name, []).append(i)
    return out


def _read_wanted(
    record: dict[str, Any], docs: pl.DataFrame, wanted: list[int]
) -> tuple[dict[int, str], int]:
    """Texts of ``wanted`` (sorted ids) and how many of them differ from the scan's.

    Each source found now is placed at the next document of its name from where the previous
    one ended, so a file deleted since the scan costs only its own documents, and one added
    since is passed over."""
    opts = ReadOptions.from_dict(record["options"])
    paths: list[str] = docs["path"].to_list()
    starts = _starts(paths)
    sizes = list(zip(docs["n_bytes"].to_list(), docs["n_chars"].to_list(), strict=True))
    wanted_set = set(wanted)
    out: dict[int, str] = {}
    differ = 0
    first = 0
    for source in walk.iter_sources(list(record["paths"]), options=opts):
        if first > wanted[-1]:
            break
        name = source.path if isinstance(source, walk.RawDoc) else shown(source)
        at = starts.get(name, [])
        k = bisect.bisect_left(at, first)
        if k == len(at):
            continue  # not a source of the run (added since the scan)
        first = at[k]
        if isinstance(source, walk.RawDoc):  # a skipped folder or file: one document
            first += 1
            continue
        count = _count(paths, first, name)
        lo = bisect.bisect_left(wanted, first)
        if lo < len(wanted) and wanted[lo] < first + count:
            for k, doc in enumerate(walk.read_source(source, options=opts)):
                d = first + k
                if k >= count or d not in wanted_set:
                    continue
                text = doc.text
                if text is None or doc.path != paths[d] or (doc.n_bytes, len(text)) != sizes[d]:
                    differ += 1
                else:
                    out[d] = text
        first += count
    return out, differ


def read_texts(run_dir: Path, wanted: set[int], docs: pl.DataFrame) -> Texts:
    """The texts of documents ``wanted`` of run ``run_dir``, read again from its inputs.

    Args:
        run_dir: The run.
        wanted: ``doc_id`` of each document wanted.
        docs: The run's documents table (``doc_id``, ``path``, ``n_bytes``, ``n_chars``).

    Returns:
        The texts found, and a note saying why any wanted one is missing.
    """
    if not wanted:
        return Texts({})
    docs = docs.sort("doc_id")
    if docs["doc_id"].to_list() != list(range(docs.height)):
        return Texts({}, "the run's documents table does not list every document")
    run_dir = run_dir.resolve()
    try:
        record = _inputs(run_dir)
        with contextlib.chdir(record["cwd"]):
            texts, differ = _read_wanted(record, docs, sorted(wanted))
    except (DedupError, OSError, ValueError, KeyError, TypeError) as exc:
        return Texts({}, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    missing = len(wanted) - len(texts)
    if not missing:
        return Texts(texts)
    verb = "differs" if differ == 1 else "differ"
    why = f"{differ:,} {verb} from what the scan read" if differ else "not found in the inputs"
    return Texts(texts, f"{missing:,} of the documents could not be read again ({why})")


def _spans(text: str) -> tuple[tuple[int, int], ...]:
    return tuple((s.start, s.end) for s in split_sentences(text))


def _wanted(
    keys: Sequence[PairKey], n_chars: dict[int, int], max_chars: int
) -> tuple[set[int], bool]:
    """Documents of the pairs ``keys``, in order, while their length fits ``max_chars``;
    and whether any pair was left out for that."""
    out: set[int] = set()
    total = 0
    left_out = False
    for key in keys:
        new = [d for d in dict.fromkeys(key) if d not in out]
        cost = sum(n_chars.get(d, 0) for d in new)
        if total + cost > max_chars:
            left_out = True
            continue
        total += cost
        out.update(new)
    return out, left_out


def pair_views(
    run_dir: Path,
    pairs: Sequence[dict[str, Any]],
    docs: pl.DataFrame,
    *,
    max_chars: int = 20_000_000,
) -> PairViews:
    """The passages of ``pairs`` (``pairs`` table rows), ready to be marked in their views.

    Args:
        run_dir: The run.
        pairs: The pairs given a view.
        docs: The run's documents table.
        max_chars: Most characters of text read again (the first pairs' documents).

    Returns:
        A :class:`PairViews`; a pair without ``passages`` rows has no entry.

    Raises:
        InputError: ``passages.parquet`` cannot be read.
    """
    found = read_passages(run_dir, [(int(p["doc_a"]), int(p["doc_b"])) for p in pairs])
    keys = [k for k in ((int(p["doc_a"]), int(p["doc_b"])) for p in pairs) if k in found]
    needed = {d for k in keys for d in k}
    sizes = docs.filter(pl.col("doc_id").is_in(list(needed))).select("doc_id", "n_chars")
    n_chars = {int(d): int(n or 0) for d, n in sizes.iter_rows()}
    wanted, left_out = _wanted(keys, n_chars, max_chars)
    texts = read_texts(run_dir, wanted, docs)
    spans = {d: _spans(t) for d, t in texts.texts.items()}
    views: dict[PairKey, ViewPassages] = {}
    for p in pairs:
        key = (int(p["doc_a"]), int(p["doc_b"]))
        if key in found:
            views[key] = ViewPassages.from_rows(
                found[key],
                spans_a=spans.get(key[0], ()),
                spans_b=spans.get(key[1], ()),
                text_a=texts.texts.get(key[0]),
                text_b=texts.texts.get(key[1]),
                share_a=p.get("passage_share_a"),
                share_b=p.get("passage_share_b"),
            )
    bound = "the texts of some pairs exceed the report's bound" if left_out else None
    return PairViews(views, "; ".join(x for x in (texts.note, bound) if x) or None)
