"""The semantic stage: paraphrase candidates from sentence embeddings, verified and merged
with the lexical pairs.

It works on the verified pair table and on document texts kept in a
:class:`dedup.io.spill.TextStore`; it is optional and says why when it does not run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import polars as pl

from dedup.config import RunConfig
from dedup.io.spill import TextStore
from dedup.lexical.candidates import score_and_source, verify_pairs
from dedup.progress import Progress

if TYPE_CHECKING:
    from dedup.semantic.embed import Accept

Advance = Callable[[int], None]


@dataclass
class SemanticOutcome:
    """What the semantic stage did: the pairs, whether it ran and why, and its model."""

    pairs: pl.DataFrame
    ran: bool
    reason: str
    model: Any = None  # the sentence embedder (a scorer for the aligner), when one was made
    notes: dict[str, Any] = field(default_factory=dict)
    kept: Any = None  # with a vector cache: what to write back once aligned (``Kept``)


def _bar(progress: Progress, name: str) -> Callable[[int, int], None]:
    """A ``(done, total)`` callback that draws one progress stage."""
    seen = {"done": 0, "started": False}

    def update(done: int, total: int) -> None:
        if not seen["started"]:
            progress.stage(name, total=total)
            seen["started"] = True
        progress.advance(done - int(seen["done"]))
        seen["done"] = done

    return update


def semantic_stage(
    pairs: pl.DataFrame,
    *,
    rows: npt.NDArray[np.int64],
    texts: TextStore,
    hashes: npt.NDArray[np.uint32],
    offsets: npt.NDArray[np.int64],
    content: npt.NDArray[np.uint64],
    config: RunConfig,
    progress: Progress,
    accept: Accept | None = None,
    vector_cache: Path | None = None,
) -> SemanticOutcome:
    """Add paraphrase pairs (and ``semantic`` scores of lexical pairs) from embeddings.

    Static document vectors propose candidates (cosine >= ``doc_threshold``, top ``top_k``);
    the transformer's vectors of the candidates' sentences verify them
    (:func:`dedup.semantic.channel.run_channel`). A verified candidate that is not a lexical pair
    gets its relation by the same rules (:func:`_relate`), which is ``paraphrase`` unless its
    shingle sets say more; a lexical pair that is also a verified candidate gets ``semantic``
    in its ``channel``.

    ``accept`` decides the candidates (see :func:`dedup.semantic.embed.verify_candidates`): the
    engines pass the aligner's rewrite rule when the scan does not align its pairs, since then
    nothing after this stage would decide them.

    ``vector_cache``: a folder of sentence vectors kept between runs
    (:class:`dedup.semantic.vector_store.SentenceVectorStore`, one per model and precision
    under it), or None.
    """
    from dedup.semantic import cost, embed
    from dedup.semantic.channel import run_channel

    none = pairs.with_columns(pl.lit(None, pl.Float64).alias("semantic"))
    if len(rows) < 2:
        return SemanticOutcome(none, False, "fewer than two documents with text")
    doc_ids = rows.tolist()
    n_chars = sum(texts.nbytes(d) for d in doc_ids)
    run, reason = cost.should_run(config.semantic, len(rows), n_chars=n_chars)
    if not run:
        progress.message(f"paraphrase detection is off: {reason}")
        return SemanticOutcome(none, False, reason)
    device = embed.default_device()
    store = None
    if vector_cache is not None:
        from dedup.semantic.vector_store import SentenceVectorStore

        store = SentenceVectorStore.here(vector_cache, config.semantic)
    result = run_channel(
        texts,
        doc_ids,
        config=config.semantic,
        device=device,
        bar=lambda n: _bar(progress, n),
        accept=accept,
        store=store,
    )
    if "budget" in result.notes:
        progress.message(f"paraphrase detection: {result.notes['budget']}")
    merged = merge_semantic(
        pairs, result.scored, rows, hashes, offsets, content=content, config=config
    )
    return SemanticOutcome(merged, True, reason, result.embedder, result.notes, result.kept)


def merge_semantic(
    pairs: pl.DataFrame,
    sem: pl.DataFrame,
    rows: npt.NDArray[np.int64],
    hashes: npt.NDArray[np.uint32],
    offsets: npt.NDArray[np.int64],
    *,
    content: npt.NDArray[np.uint64],
    config: RunConfig,
) -> pl.DataFrame:
    ids = pl.Series(rows)
    sem = sem.with_columns(
        pl.col("a").map_batches(ids.gather, return_dtype=pl.Int64).alias("doc_a"),
        pl.col("b").map_batches(ids.gather, return_dtype=pl.Int64).alias("doc_b"),
    )
    # With alignment, every candidate the channel checked goes on to the passage aligner,
    # which decides; without, the score's acceptance is all there is.
    aligning = config.align.enabled
    take = sem if aligning else sem.filter(pl.col("accepted"))
    merged = pairs.join(
        sem.select("doc_a", "doc_b", "semantic", "accepted"), on=["doc_a", "doc_b"], how="left"
    )
    proposed = pl.col("accepted").is_not_null() if aligning else pl.col("accepted").fill_null(False)
    merged = merged.with_columns(
        pl.when(proposed)
        .then(pl.col("channel") + ",semantic")
        .otherwise(pl.col("channel"))
        .alias("channel"),
        pl.when(pl.col("accepted").fill_null(False))
        .then(pl.max_horizontal("score", "semantic"))
        .otherwise(pl.col("score"))
        .alias("score"),
    ).drop("accepted")
    new = take.join(pairs.select("doc_a", "doc_b"), on=["doc_a", "doc_b"], how="anti")
    if new.height == 0:
        return merged
    para = _relate(new, hashes, offsets, content, config)
    return pl.concat([merged, para.select(merged.columns)]).sort("doc_a", "doc_b")


def _relate(
    new: pl.DataFrame,
    hashes: npt.NDArray[np.uint32],
    offsets: npt.NDArray[np.int64],
    content: npt.NDArray[np.uint64],
    cfg: RunConfig,
) -> pl.DataFrame:
    """Relations of pairs only the semantic channel proposed, by the same first-match rules:
    ``exact`` (equal content), then the lexical rules on the real shingle sets (a pair the
    lexical channels did not propose, e.g. in a star-linked bucket), else ``paraphrase`` —
    or, when the scan aligns, null: the passage aligner decides."""
    checked, ok = verify_pairs(new, hashes, offsets, cfg)
    rel = checked["relation"].to_numpy().astype(object)
    rel[~ok] = None if cfg.align.enabled else "paraphrase"
    rel[content[new["a"].to_numpy()] == content[new["b"].to_numpy()]] = "exact"
    frame = checked.select(
        "doc_a",
        "doc_b",
        pl.Series("relation", rel.tolist(), dtype=pl.String),
        "jaccard",
        "containment_a",
        "containment_b",
        pl.lit("semantic").alias("channel"),
        "semantic",
    )
    frame = score_and_source(frame).with_columns(pl.Series("semantic", frame["semantic"]))
    return frame.with_columns(
        pl.when(pl.col("relation").eq_missing("paraphrase") | pl.col("relation").is_null())
        .then(pl.col("semantic"))
        .otherwise(pl.max_horizontal("score", "semantic"))
        .alias("score")
    )
