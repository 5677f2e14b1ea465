"""A tiny run directory written with polars, independent of the scan pipeline."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from dedup import schema
from dedup.align.rows import alignment_rows
from dedup.align.sentences import align_texts, summarize

HOSTILE = (
    "Breaking news. <script>document.title='PWNED';"
    "document.body.setAttribute('data-pwned','1')</script> More text follows here.\n"
    "Cells end </td></tr></table> here. A javascript:alert(1) link. "
    "<img src=x onerror=\"document.body.setAttribute('data-pwned','2')\"> The end."
)
HOSTILE_EDIT = HOSTILE.replace("More text follows here.", "More text follows there.") + (
    " <b onmouseover=alert(3)>added</b> sentence."
)
A_TEXT = (
    "Police rescued hundreds of workers from scam centers on the border. "
    "The workers were flown home on chartered flights. "
    "Officials called it a victory. Construction of new buildings continued."
)
B_TEXT = (
    "Construction of new buildings continued. "
    "Police rescued hundreds of workers from scam centres on the border. "
    "The workers were flown home on chartered flights. A new sentence appears here."
)
PATHS = [
    "corpus/a.txt",
    "corpus/b.txt",
    'corpus/<script>alert("p")</script>.txt',
    "corpus/x\"onmouseover='alert(1)'.txt",
]
TEXTS = [A_TEXT, B_TEXT, HOSTILE, HOSTILE_EDIT]


def write_run(run: Path, *, with_alignments: bool = True) -> Path:
    run.mkdir(parents=True, exist_ok=True)
    docs = pl.DataFrame(
        {
            "doc_id": [0, 1, 2, 3, 4],
            "path": [*PATHS, "corpus/empty.txt"],
            "status": ["ok"] * 4 + ["skipped"],
            "reason": [None] * 4 + ["empty file"],
            "n_chars": [len(t) for t in TEXTS] + [0],
        }
    )
    schema.conform(docs, "documents").write_parquet(run / "documents.parquet")
    pairs, aligned = [], []
    for a, b, relation, score in ((0, 1, "derivative", 0.71), (2, 3, "near_duplicate", 0.93)):
        al = align_texts(TEXTS[a], TEXTS[b])
        pairs.append(
            {
                "doc_a": a,
                "doc_b": b,
                "path_a": PATHS[a],
                "path_b": PATHS[b],
                "relation": relation,
                "jaccard": score - 0.1,
                "score": score,
                "channel": "lsh",
                **summarize(al),
            }
        )
        aligned += alignment_rows(a, b, al)
    schema.conform(pl.DataFrame(pairs), "pairs").write_parquet(run / "pairs.parquet")
    clusters = pl.DataFrame(
        {
            "doc_id": [0, 1, 2, 3],
            "cluster_id": [0, 0, 2, 2],
            "cluster_size": [2, 2, 2, 2],
            "path": PATHS,
        }
    )
    schema.conform(clusters, "clusters").write_parquet(run / "clusters.parquet")
    if with_alignments:
        frame = pl.DataFrame(aligned, schema=schema.ALIGNMENTS)
        schema.conform(frame, "alignments").write_parquet(run / "alignments.parquet")
    return run
