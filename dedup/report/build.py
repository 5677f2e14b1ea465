"""The static HTML report of a scan run: one self-contained file."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl

from dedup import schema
from dedup.errors import InputError, OutputError
from dedup.io.atomic import check_page_target, read_json, write_page
from dedup.report.bound import ViewBound, prefold
from dedup.report.html import esc, legend, page, pair_table, passage_legend, plural
from dedup.report.marks import ViewPassages, passage_summary
from dedup.report.sections import Names, clusters_html, legend_html, settings_html, skipped_html
from dedup.report.sources import pair_views

__all__ = ["ReportLimits", "build_report", "write_report"]


@dataclass(frozen=True)
class ReportLimits:
    """Bounds on what one report holds, so its size does not grow with the corpus.

    Attributes:
        max_pairs: pairs given a side-by-side view (the best-scoring ones).
        max_chars: characters of all the side-by-side views together; the views stop there.
        index_rows: pairs listed in the sortable index (the best-scoring ones).
        clusters: clusters listed (the largest ones).
        cluster_members: documents listed per cluster.
        skipped: skipped documents listed.
        text_chars: characters of document text read again from the run's inputs to mark
            passages in the views (the first pairs' documents).
        view: the bound of one pair view.
    """

    max_pairs: int = 2_000
    max_chars: int = 4_000_000
    index_rows: int = 5_000
    clusters: int = 1_000
    cluster_members: int = 20
    skipped: int = 1_000
    text_chars: int = 20_000_000
    view: ViewBound = field(default_factory=ViewBound)


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
    ("n_passages", "passages", True),
    ("passage_share_a", "passages: A", True),
    ("passage_share_b", "passages: B", True),
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


def _index_row(i: int, row: dict[str, Any], names: Names, viewed: set[str]) -> str:
    """A row of the pairs index; its number links to the pair's view when it has one."""
    key = _pair_key(row)
    number = f'<a href="#{key}">{i}</a>' if key in viewed else str(i)
    cells = [f'<td class="num" data-v="{i}">{number}</td>']
    for end in ("a", "b"):
        name = names(row[f"path_{end}"], row[f"external_id_{end}"])
        cells.append(f'<td class="path"><bdi>{esc(name)}</bdi></td>')
    cells.append(f'<td><span class="rel">{esc(row["relation"])}</span></td>')
    for col, fmt in (
        ("score", "{:.3f}"),
        ("jaccard", "{:.3f}"),
        ("kept_a", "{:.0%}"),
        ("new_b", "{:.0%}"),
    ):
        v, shown = _num(row[col], fmt)
        cells.append(f'<td class="num" data-v="{v}">{shown}</td>')
    for col, fmt in (
        ("n_dropped", "{:.0f}"),
        ("n_passages", "{:.0f}"),
        ("passage_share_a", "{:.0%}"),
        ("passage_share_b", "{:.0%}"),
    ):
        v, shown = _num(row[col], fmt)
        cells.append(f'<td class="num" data-v="{v}">{shown}</td>')
    target = f' data-target="{key}"' if key in viewed else ""
    return f'<tr data-relation="{esc(row["relation"])}"{target}>{"".join(cells)}</tr>'


def _index(pairs: list[dict[str, Any]], total: int, names: Names, viewed: set[str]) -> str:
    # a button per header, so sorting works from the keyboard; the index starts by score
    sort = {"score": ' aria-sort="descending"'}
    heads = "".join(
        f'<th class="sortable" data-key="{key}"{sort.get(key, "")}>'
        f'<button type="button">{esc(title)}</button></th>'
        for key, title, _ in _INDEX_COLUMNS
    )
    relations = sorted({str(p["relation"]) for p in pairs if p["relation"] is not None})
    options = "".join(f'<option value="{esc(r)}">{esc(r)}</option>' for r in relations)
    body = "\n".join(_index_row(i + 1, p, names, viewed) for i, p in enumerate(pairs))
    more = total - len(pairs)
    tail = (
        f'<p class="muted">{plural(more, "more pair")} (lower scores) in pairs.parquet.</p>'
        if more > 0
        else ""
    )
    return (
        '<h2 id="pairs-index">Pairs</h2>\n<div class="controls">'
        '<input id="q" type="search" placeholder="filter by path or relation" '
        'aria-label="filter pairs">'
        f'<select id="rel" aria-label="relation"><option value="">all relations</option>'
        f'{options}</select><span id="shown" class="muted"></span></div>\n'
        f'<div class="scroll"><table id="pairs"><thead><tr>{heads}</tr></thead>\n'
        f"<tbody>\n{body}\n</tbody></table></div>{tail}"
    )


def _pair_section(
    row: dict[str, Any],
    aligned: list[dict[str, Any]],
    names: Names,
    bound: ViewBound,
    passages: ViewPassages | None,
    unaligned: str = "",
) -> str:
    """One pair's section; ``unaligned`` says why a pair has no alignment rows."""
    key = _pair_key(row)
    name_a = names(row["path_a"], row["external_id_a"])
    name_b = names(row["path_b"], row["external_id_b"])
    stats = (
        f'<span class="rel">{esc(row["relation"])}</span> score {_num(row["score"])[1]} · '
        f"jaccard {_num(row['jaccard'])[1]} · kept {_num(row['kept_a'], '{:.0%}')[1]} of A · "
        f"{_num(row['new_b'], '{:.0%}')[1]} of B new · channel {esc(row['channel'])}"
    )
    if passages is None:
        n = row["n_passages"]
        summary = passage_summary(
            None if n is None else int(n), row["passage_share_a"], row["passage_share_b"]
        )
        stats += f" · {esc(summary)}"
    view = (
        pair_table(aligned, key=key, label_a=name_a, label_b=name_b, bound=bound, passages=passages)
        if aligned
        else f'<p class="muted">No sentence alignment recorded for this pair{unaligned}.</p>'
    )
    unread = [
        f"{side} (<bdi>{esc(name)}</bdi>)"
        for side, name, spans in (
            ("A", name_a, passages.spans_a if passages else True),
            ("B", name_b, passages.spans_b if passages else True),
        )
        if not spans
    ]
    if unread and aligned:
        view = (
            f'<p class="muted">The text of {" and ".join(unread)} could not be read again '
            "(changed or gone since the scan, or past the report's size bound): its passages "
            f"are not marked.</p>\n{view}"
        )
    return (
        f'<section class="pair" id="{key}" data-relation="{esc(row["relation"])}">\n'
        f'<h3><bdi>{esc(name_a)}</bdi> ↔ <bdi>{esc(name_b)}</bdi></h3>\n<p class="meta">{stats} · '
        f'<a href="#pairs-index">index</a></p>\n{legend(row)}\n{passage_legend(passages)}\n'
        f"{view}\n</section>"
    )


def _manifest(run_dir: Path) -> dict[str, Any]:
    try:
        data = read_json(run_dir / "manifest.json")
    except OutputError:
        return {}
    return data if isinstance(data, dict) else {}


def _aligned_rows(
    run_dir: Path, shown: list[dict[str, Any]], bound: ViewBound
) -> dict[tuple[int, int], list[dict[str, Any]]]:
    """The alignment rows of the pairs given a view, by pair (only those rows are read)."""
    path = run_dir / "alignments.parquet"
    if not path.is_file():
        return {}
    keys = pl.LazyFrame(
        {"doc_a": [int(p["doc_a"]) for p in shown], "doc_b": [int(p["doc_b"]) for p in shown]},
        schema={"doc_a": pl.Int64, "doc_b": pl.Int64},
    )
    try:
        rows = (
            pl.scan_parquet(path)
            .join(keys, on=["doc_a", "doc_b"], how="semi", maintain_order="left")
            .collect()
        )
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from exc
    by_pair: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for r in prefold(schema.conform(rows, "alignments"), bound).iter_rows(named=True):
        by_pair.setdefault((int(r["doc_a"]), int(r["doc_b"])), []).append(r)
    return by_pair


def _views(
    pair_rows: list[dict[str, Any]],
    run_dir: Path,
    docs: pl.DataFrame,
    names: Names,
    limits: ReportLimits,
    manifest: dict[str, Any],
) -> tuple[list[str], set[str]]:
    """Side-by-side views of the best pairs, until ``max_pairs`` or the size budget; and the
    keys (``pair-A-B``) of the pairs given one."""
    shown = pair_rows[: limits.max_pairs]
    by_pair = _aligned_rows(run_dir, shown, limits.view)
    marked = pair_views(run_dir, shown, docs, max_chars=limits.text_chars)
    out: list[str] = []
    if marked.note and marked.views:
        out.append(
            '<p class="muted">Some passages are counted but not marked in the text: '
            f"{esc(marked.note)}.</p>"
        )
    config = manifest.get("config", {})
    unaligned = ""
    if isinstance(config, dict) and config.get("align", {}).get("enabled") is False:
        unaligned = (
            ": the run was scanned with --no-align (scan again without it, or run "
            "dedup diff A B, to see the two texts side by side)"
        )
    viewed: set[str] = set()
    size = 0
    for p in shown:
        if size >= limits.max_chars:
            break
        key = (int(p["doc_a"]), int(p["doc_b"]))
        out.append(
            _pair_section(
                p, by_pair.get(key, []), names, limits.view, marked.views.get(key), unaligned
            )
        )
        viewed.add(_pair_key(p))
        size += len(out[-1])
    more = len(pair_rows) - len(viewed)
    if more > 0:
        why = "the report's size bound" if len(viewed) < len(shown) else "--max-pairs"
        out.append(
            f'<p class="muted">{plural(more, "more pair")} have no view here ({why}); '
            "see pairs.parquet and alignments.parquet.</p>"
        )
    return out, viewed


def build_report(
    run_dir: Path, *, max_pairs: int = 2_000, limits: ReportLimits | None = None
) -> str:
    """The report of run ``run_dir`` as one HTML string.

    Args:
        run_dir: A directory written by ``dedup scan``.
        max_pairs: Most pairs given a side-by-side view (the best-scoring ones).
        limits: The other bounds on the page's size (:class:`ReportLimits`); ``max_pairs``
            overrides its field of that name.

    Returns:
        The HTML page.

    Raises:
        InputError: ``pairs.parquet`` is missing or a table cannot be read.
    """
    lim = replace(limits or ReportLimits(), max_pairs=max_pairs)
    pairs = _read(run_dir, "pairs", required=True).sort(
        ["score", "doc_a", "doc_b"], descending=[True, False, False], nulls_last=True
    )
    docs = _read(run_dir, "documents", required=False)
    clusters = _read(run_dir, "clusters", required=False)
    manifest = _manifest(run_dir)
    names = Names(docs["path"] if docs.height else pl.concat([pairs["path_a"], pairs["path_b"]]))
    pair_rows = list(pairs.head(max(lim.index_rows, lim.max_pairs)).iter_rows(named=True))
    n_ok = docs.filter(pl.col("status") == "ok").height
    n_clusters = clusters["cluster_id"].n_unique()
    header = (
        f'<h1>dedup report: {esc(run_dir.name)}</h1>\n<p class="meta">'
        f"{plural(docs.height, 'document')} ({n_ok:,} read, {docs.height - n_ok:,} skipped) · "
        f"{plural(pairs.height, 'pair')} · {plural(n_clusters, 'cluster')} · "
        '<a href="#pairs-index">pairs</a> · <a href="#clusters">clusters</a> · '
        '<a href="#skipped">skipped</a> · <a href="#legend">legend</a> · '
        '<a href="#settings">settings</a></p>'
    )
    views, viewed = _views(pair_rows, run_dir, docs, names, lim, manifest)
    body = "\n".join(
        [
            header,
            _index(pair_rows[: lim.index_rows], pairs.height, names, viewed),
            clusters_html(clusters, names, limit=lim.clusters, members=lim.cluster_members),
            skipped_html(docs, names, limit=lim.skipped),
            legend_html(manifest),
            settings_html(manifest, names),
            "<h2>Pairs side by side</h2>",
            *(views or ['<p class="muted">None.</p>']),
        ]
    )
    return page(f"dedup report: {run_dir.name}", body)


def _inputs_of(run_dir: Path) -> list[Path]:
    """The scan's inputs as the manifest records them, resolved (none when not recorded)."""
    record = _manifest(run_dir).get("inputs")
    if not isinstance(record, dict) or not isinstance(record.get("paths"), list):
        return []
    cwd = Path(str(record.get("cwd", ".")))
    return [(cwd / str(p)).resolve() for p in record["paths"]]


def _check_outside_inputs(target: Path, run_dir: Path) -> None:
    """Refuse a report inside one of the scan's input folders (outside the run folder): the
    next scan of those inputs would read it as a document."""
    where, run = target.resolve(), run_dir.resolve()
    if run in where.parents:
        return
    for src in _inputs_of(run_dir):
        if src in where.parents:
            raise OutputError(
                f"--out {target} is inside the scan's input {src}; write it elsewhere"
            )


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
        OutputError: The output cannot be written, or is not an HTML page (a folder, a
            run's table, a text: :func:`dedup.io.atomic.check_page_target`).
    """
    run_dir = Path(run_dir)
    target = Path(out) if out is not None else run_dir / "report.html"
    check_page_target(target, option="--out", protect=_inputs_of(run_dir))
    _check_outside_inputs(target, run_dir)
    text = build_report(run_dir, max_pairs=max_pairs)
    write_page(text, target)  # parents made; temp file, fsync, rename; usual permissions
    return target
