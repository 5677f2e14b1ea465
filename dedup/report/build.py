"""The static HTML report of a scan run: one self-contained file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from dedup import schema
from dedup.errors import InputError, OutputError
from dedup.io.atomic import write_text_atomic
from dedup.report.html import esc, legend, page, pair_table

__all__ = ["build_report", "write_report"]

_INDEX_COLUMNS = (
    # key, heading, numeric
    ("pair", "#", True),
    ("path_a", "A", False),
    ("path_b", "B", False),
    ("relation", "relation", False),
    ("score", "score", True),
    ("jaccard", "jaccard", True),
    ("kept_a", "kept of A", True),
    ("new_b", "new in B", True),
    ("n_dropped", "dropped", True),
)


def _read(run_dir: Path, name: str, *, required: bool) -> pl.DataFrame:
    path = run_dir / f"{name}.parquet"
    if not path.is_file():
        if required:
            raise InputError(f"{path} not found: is {run_dir} the output of `dedup scan`?")
        return schema.empty(name)
    try:
        return schema.conform(pl.read_parquet(path), name)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from exc


def _num(value: Any, fmt: str = "{:.3f}") -> tuple[str, str]:
    """``(data-v, shown text)`` of a possibly-null number."""
    if value is None:
        return "", "–"
    return repr(float(value)), fmt.format(value)


def _pair_key(row: dict[str, Any]) -> str:
    return f"pair-{int(row['doc_a'])}-{int(row['doc_b'])}"


def _index_row(i: int, row: dict[str, Any]) -> str:
    key = _pair_key(row)
    cells = [f'<td class="num" data-v="{i}"><a href="#{key}">{i}</a></td>']
    for col in ("path_a", "path_b"):
        cells.append(f'<td class="path">{esc(row[col])}</td>')
    cells.append(f'<td><span class="rel">{esc(row["relation"])}</span></td>')
    for col, fmt in (
        ("score", "{:.3f}"),
        ("jaccard", "{:.3f}"),
        ("kept_a", "{:.0%}"),
        ("new_b", "{:.0%}"),
    ):
        v, shown = _num(row[col], fmt)
        cells.append(f'<td class="num" data-v="{v}">{shown}</td>')
    v, shown = _num(row["n_dropped"], "{:.0f}")
    cells.append(f'<td class="num" data-v="{v}">{shown}</td>')
    return f'<tr data-relation="{esc(row["relation"])}" data-target="{key}">{"".join(cells)}</tr>'


def _index(pairs: list[dict[str, Any]]) -> str:
    heads = "".join(
        f'<th class="sortable" data-key="{key}">{esc(title)}</th>'
        for key, title, _ in _INDEX_COLUMNS
    )
    relations = sorted({str(p["relation"]) for p in pairs if p["relation"] is not None})
    options = "".join(f'<option value="{esc(r)}">{esc(r)}</option>' for r in relations)
    body = "\n".join(_index_row(i + 1, p) for i, p in enumerate(pairs))
    return (
        '<h2 id="pairs-index">Pairs</h2>\n<div class="controls">'
        '<input id="q" type="search" placeholder="filter by path or relation" '
        'aria-label="filter pairs">'
        f'<select id="rel" aria-label="relation"><option value="">all relations</option>'
        f'{options}</select><span id="shown" class="muted"></span></div>\n'
        f'<table id="pairs"><thead><tr>{heads}</tr></thead>\n<tbody>\n{body}\n</tbody></table>'
    )


def _clusters(clusters: pl.DataFrame) -> str:
    if clusters.is_empty():
        return '<h2 id="clusters">Clusters</h2>\n<p class="muted">No clusters.</p>'
    groups = (
        clusters.sort("doc_id")
        .group_by("cluster_id", maintain_order=True)
        .agg(pl.col("path"), pl.len().alias("n"))
        .sort(["n", "cluster_id"], descending=[True, False])
    )
    rows = []
    for g in groups.iter_rows(named=True):
        members = "<br>".join(esc(p) for p in g["path"])
        rows.append(
            f'<tr><td class="num">{int(g["cluster_id"])}</td><td class="num">{int(g["n"])}</td>'
            f'<td class="path">{members}</td></tr>'
        )
    return (
        '<h2 id="clusters">Clusters</h2>\n<table class="clusters"><thead><tr><th>cluster</th>'
        f"<th>size</th><th>documents</th></tr></thead>\n<tbody>\n{''.join(rows)}\n</tbody></table>"
    )


def _pair_section(row: dict[str, Any], aligned: list[dict[str, Any]]) -> str:
    key = _pair_key(row)
    stats = (
        f'<span class="rel">{esc(row["relation"])}</span> score {_num(row["score"])[1]} · '
        f"jaccard {_num(row['jaccard'])[1]} · kept {_num(row['kept_a'], '{:.0%}')[1]} of A · "
        f"{_num(row['new_b'], '{:.0%}')[1]} of B new · channel {esc(row['channel'])}"
    )
    view = (
        pair_table(aligned, key=key, label_a=str(row["path_a"]), label_b=str(row["path_b"]))
        if aligned
        else '<p class="muted">No sentence alignment recorded for this pair.</p>'
    )
    return (
        f'<section class="pair" id="{key}" data-relation="{esc(row["relation"])}">\n'
        f'<h3>{esc(row["path_a"])} ↔ {esc(row["path_b"])}</h3>\n<p class="meta">{stats} · '
        f'<a href="#pairs-index">index</a></p>\n{legend(row)}\n{view}\n</section>'
    )


def build_report(run_dir: Path, *, max_pairs: int = 2_000) -> str:
    """The report of run ``run_dir`` as one HTML string.

    Args:
        run_dir: A directory written by ``dedup scan``.
        max_pairs: Most pairs given a side-by-side view (the best-scoring ones); the index
            lists every pair.

    Returns:
        The HTML page.

    Raises:
        InputError: ``pairs.parquet`` is missing or a table cannot be read.
    """
    pairs = _read(run_dir, "pairs", required=True).sort(
        ["score", "doc_a", "doc_b"], descending=[True, False, False], nulls_last=True
    )
    docs = _read(run_dir, "documents", required=False)
    clusters = _read(run_dir, "clusters", required=False)
    aligned = _read(run_dir, "alignments", required=False)
    by_pair: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for r in aligned.iter_rows(named=True):
        by_pair.setdefault((int(r["doc_a"]), int(r["doc_b"])), []).append(r)
    pair_rows = list(pairs.iter_rows(named=True))
    n_ok = docs.filter(pl.col("status") == "ok").height
    header = (
        f'<h1>dedup report: {esc(run_dir.name)}</h1>\n<p class="meta">{docs.height} documents '
        f"({n_ok} read, {docs.height - n_ok} skipped) · {len(pair_rows)} pairs · "
        f"{clusters['cluster_id'].n_unique()} clusters · "
        '<a href="#pairs-index">pairs</a> · <a href="#clusters">clusters</a></p>'
    )
    sections = [
        _pair_section(p, by_pair.get((int(p["doc_a"]), int(p["doc_b"])), []))
        for p in pair_rows[:max_pairs]
    ]
    more = len(pair_rows) - max_pairs
    tail = f'<p class="muted">{more} more pairs have no view here.</p>' if more > 0 else ""
    body = "\n".join(
        [
            header,
            _index(pair_rows),
            _clusters(clusters),
            "<h2>Pairs side by side</h2>",
            *sections,
            tail,
        ]
    )
    return page(f"dedup report: {run_dir.name}", body)


def write_report(run_dir: Path, out: Path | None = None, *, max_pairs: int = 2_000) -> Path:
    """Write the static, self-contained HTML report of a run.

    Args:
        run_dir: A directory written by ``dedup scan`` (``pairs.parquet`` required;
            ``documents``, ``clusters`` and ``alignments`` used when present).
        out: Output file; defaults to ``run_dir / "report.html"``.
        max_pairs: See :func:`build_report`.

    Returns:
        The path written.

    Raises:
        InputError: The run directory lacks ``pairs.parquet`` or a table is unreadable.
        OutputError: The output cannot be written.
    """
    run_dir = Path(run_dir)
    target = Path(out) if out is not None else run_dir / "report.html"
    text = build_report(run_dir, max_pairs=max_pairs)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc}") from exc
    write_text_atomic(text, target)  # temp file, fsync, rename; usual permissions
    return target
