"""The report's reference sections: document names, run settings, legend, skipped documents
and clusters. Each list is bounded (the first rows, then a line saying how many more)."""

from __future__ import annotations

import os
from typing import Any

import polars as pl

from dedup.report.html import esc, plural

__all__ = ["Names", "clusters_html", "legend_html", "settings_html", "skipped_html"]

_DOCUMENT_RULES = (
    ("exact", "the same words in the same order (same content hash after normalizing)"),
    ("near_duplicate", "Jaccard of the shingle sets at least {near}"),
    (
        "derivative",
        "Jaccard at least {threshold}, or both containments at least {containment}",
    ),
    ("partial", "one document's containment at least {containment}: a passage of it reused"),
    ("paraphrase", "none of the above, but the sentence-embedding check verified the pair"),
)
_PASSAGE_RULES = (
    _DOCUMENT_RULES[0],
    _DOCUMENT_RULES[1],
    (
        "derivative",
        "a rewrite: verbatim and edited passages cover at least {coverage:.0%} of the shorter "
        "text, and the passages at least {longer:.0%} of the longer one",
    ),
    (
        "paraphrase",
        "a reworded rewrite: at least {chain} sentence pairs that are each other's best match "
        "lie in one order, holding at least {chain_share:.0%} of the shorter text's sentences; "
        "the passages cover at least {longer:.0%} of the longer text",
    ),
    (
        "partial",
        "a passage reused: copied passages adding up to {min_passage} words, whatever share of "
        "either text they are; or a text lying, copied or reworded, inside a much longer one "
        "({min_passage}+ words)",
    ),
)


class Names:
    """Document paths shown relative to the inputs' common folder, with external ids.

    ``FILE:LINE`` and ``FILE:ROW`` locators are kept; the common folder is that of every
    document's file, so a single input file shows as its own name.
    """

    def __init__(self, paths: pl.Series) -> None:
        files = paths.drop_nulls().str.replace(r":\d+$", "")
        folders = [os.path.dirname(f) for f in files.unique().to_list()]  # noqa: PTH120
        try:
            self.root = os.path.commonpath(folders) if folders else ""
        except ValueError:  # absolute and relative paths mixed
            self.root = ""
        self._cut = len(self.root) + 1 if self.root not in ("", os.sep) else len(self.root)

    def __call__(self, path: object, external_id: object = None) -> str:
        """The name of one document (``sub/a.txt``, ``docs.jsonl:12 [id r6]``)."""
        text = "" if path is None else str(path)
        name = text[self._cut :] if self._cut and text.startswith(self.root) else text
        return f"{name} [id {external_id}]" if external_id is not None else name


def settings_html(manifest: dict[str, Any], names: Names) -> str:
    """The run's settings, from its manifest (empty when there is none)."""
    if not manifest:
        return ""
    cfg = manifest.get("config", {})
    derived = manifest.get("derived", {})
    stages = manifest.get("stages", {})
    semantic = stages.get("semantic", {})
    inputs = manifest.get("inputs", {})
    shingle = cfg.get("shingle", {})
    rows = [
        ("inputs", ", ".join(str(p) for p in inputs.get("paths", [])) or "–"),
        ("names shown relative to", names.root or "the folder the scan ran in"),
        ("shingles", f"{shingle.get('kind', '?')} {shingle.get('size', '?')}-grams"),
        (
            "MinHash / LSH",
            f"{cfg.get('minhash', {}).get('num_perm', '?')} permutations; "
            f"{derived.get('bands', '?')} bands × {derived.get('rows', '?')} rows; "
            f"threshold {cfg.get('lsh', {}).get('threshold', '?')}",
        ),
        (
            "overlap channel",
            "on" if cfg.get("overlap", {}).get("enabled", True) else "off",
        ),
        (
            "semantic channel",
            "ran" if semantic.get("ran") else f"off: {semantic.get('reason', 'not recorded')}",
        ),
        ("alignment", "on" if cfg.get("align", {}).get("enabled", True) else "off"),
        ("engine", str(manifest.get("engine", {}).get("name", "local"))),
        ("dedup", f"{manifest.get('version', '?')} (config {manifest.get('fingerprint', '?')})"),
    ]
    items = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows)
    return f'<h2 id="settings">Run settings</h2>\n<dl class="settings">{items}</dl>'


def legend_html(manifest: dict[str, Any]) -> str:
    """What the relations and the score mean, with this run's thresholds."""
    cfg = manifest.get("config", {})
    der = cfg.get("derivation", {})
    values = {
        "near": cfg.get("verify", {}).get("near_duplicate", 0.8),
        "threshold": cfg.get("lsh", {}).get("threshold", 0.5),
        "containment": cfg.get("overlap", {}).get("containment", 0.5),
        "coverage": der.get("rewrite_coverage", 0.4),
        "longer": der.get("longer_share", 0.2),
        "chain": der.get("min_chain", 4),
        "chain_share": der.get("chain_share", 0.33),
        "min_passage": der.get("min_passage", 50),
    }
    aligned = cfg.get("align", {}).get("enabled", True) and "derivation" in cfg
    rules = "".join(
        f'<tr><td><span class="rel">{esc(rel)}</span></td><td>{esc(rule.format(**values))}</td>'
        "</tr>"
        for rel, rule in (_PASSAGE_RULES if aligned else _DOCUMENT_RULES)
    )
    intro = (
        "Every candidate pair was aligned passage by passage; exact and near-duplicate pairs "
        "are decided on whole documents, the others from their passages (a pair whose "
        "passages show none is not reported):"
        if aligned
        else "Every pair was verified on its shingle sets; the first rule that holds gives "
        "its relation:"
    )
    return (
        f'<h2 id="legend">Legend</h2>\n<p>{esc(intro)}</p>\n'
        f'<table class="legend-rel"><tbody>{rules}</tbody></table>\n<p><b>score</b>: the '
        "largest of the Jaccard, the two containments and (when the semantic channel accepted "
        "the pair) the semantic score, in [0, 1]; for a pair only the semantic channel "
        "proposed, its semantic score. "
        "<b>containment of A</b>: the share of A's shingles found in B. <b>kept of A</b>: the "
        "share of A's sentences found in B (same, edited or moved); <b>new in B</b>: the share "
        "of B's sentences found nowhere in A. <b>passages</b>: the pair's aligned passages "
        "(passages.parquet: verbatim, edited or paraphrased runs of text found in both); "
        "<b>passages: A</b> and <b>B</b>: the share of A's and of B's words inside them. In "
        "the views, passage text is underlined and numbered where each passage starts.</p>"
    )


def skipped_html(docs: pl.DataFrame, names: Names, *, limit: int) -> str:
    """The documents the scan skipped, with the reason of each (the first ``limit``)."""
    skipped = docs.filter(pl.col("status") == "skipped")
    if skipped.is_empty():
        return '<h2 id="skipped">Skipped documents</h2>\n<p class="muted">None.</p>'
    rows = "".join(
        f'<tr><td class="path">{esc(names(p, x))}</td><td>{esc(r)}</td></tr>'
        for p, x, r in skipped.head(limit).select("path", "external_id", "reason").iter_rows()
    )
    more = skipped.height - limit
    tail = (
        f'<p class="muted">{plural(more, "more skipped document")} in documents.parquet.</p>'
        if more > 0
        else ""
    )
    return (
        f'<h2 id="skipped">Skipped documents ({skipped.height:,})</h2>\n<table class="skipped">'
        f"<thead><tr><th>document</th><th>reason</th></tr></thead><tbody>{rows}</tbody>"
        f"</table>{tail}"
    )


def clusters_html(clusters: pl.DataFrame, names: Names, *, limit: int, members: int) -> str:
    """The largest ``limit`` clusters, each with its first ``members`` documents."""
    if clusters.is_empty():
        return '<h2 id="clusters">Clusters</h2>\n<p class="muted">No clusters.</p>'
    groups = (
        clusters.sort("doc_id")
        .group_by("cluster_id", maintain_order=True)
        .agg(pl.col("path").head(members), pl.col("external_id").head(members), pl.len().alias("n"))
        .sort(["n", "cluster_id"], descending=[True, False])
    )
    rows = []
    for g in groups.head(limit).iter_rows(named=True):
        shown = [
            f"<bdi>{esc(names(p, x))}</bdi>"
            for p, x in zip(g["path"], g["external_id"], strict=True)
        ]
        if g["n"] > len(shown):
            shown.append(f'<span class="muted">and {g["n"] - len(shown):,} more</span>')
        rows.append(
            f'<tr><td class="num">{int(g["cluster_id"])}</td><td class="num">{int(g["n"])}</td>'
            f'<td class="path">{"<br>".join(shown)}</td></tr>'
        )
    more = groups.height - limit
    tail = (
        f'<p class="muted">{plural(more, "more cluster")} in clusters.parquet.</p>'
        if more > 0
        else ""
    )
    return (
        '<h2 id="clusters">Clusters</h2>\n<table class="clusters"><thead><tr>'
        '<th class="num">cluster</th><th class="num">size</th><th>documents</th></tr></thead>\n'
        f"<tbody>\n{''.join(rows)}\n</tbody>"
        f"</table>{tail}"
    )
