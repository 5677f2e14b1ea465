"""The polars schema of every output table. Every writer casts to these; tests check them."""

from __future__ import annotations

import polars as pl

DOCUMENTS = pl.Schema(
    {
        "doc_id": pl.Int64,
        "path": pl.String,
        "external_id": pl.String,
        "status": pl.String,  # "ok" | "skipped"
        "reason": pl.String,
        "encoding": pl.String,
        "n_bytes": pl.Int64,
        "n_chars": pl.Int64,
        "n_tokens": pl.Int64,
        "n_shingles": pl.Int64,
        "content_hash": pl.String,
    }
)

RELATIONS = ("exact", "near_duplicate", "derivative", "partial", "paraphrase")
CHANNELS = ("exact", "lsh", "overlap", "semantic")

PAIRS = pl.Schema(
    {
        "doc_a": pl.Int64,
        "doc_b": pl.Int64,
        "path_a": pl.String,
        "path_b": pl.String,
        "external_id_a": pl.String,  # the id column's value (--id-column), when given
        "external_id_b": pl.String,
        "relation": pl.String,
        "jaccard": pl.Float64,
        "containment_a": pl.Float64,  # share of A's shingles found in B
        "containment_b": pl.Float64,  # share of B's shingles found in A
        "semantic": pl.Float64,  # sentence-level similarity when the semantic stage ran
        "score": pl.Float64,
        "channel": pl.String,  # comma-joined channels that proposed the pair
        "source": pl.Int64,  # likely source document, when it can be told
        "kept_a": pl.Float64,  # share of A's sentences kept (same/edited/moved) in B
        "new_b": pl.Float64,  # share of B's sentences that are new (added)
        "n_same": pl.Int32,
        "n_edited": pl.Int32,
        "n_added": pl.Int32,
        "n_dropped": pl.Int32,
        "n_moved": pl.Int32,
        "n_passages": pl.Int32,  # rows of the pair in the passages table (aligned pairs only)
        "passage_share_a": pl.Float64,  # share of A's words inside the pair's passages
        "passage_share_b": pl.Float64,  # share of B's words inside the pair's passages
    }
)

CLUSTERS = pl.Schema(
    {
        "doc_id": pl.Int64,
        "cluster_id": pl.Int64,
        "cluster_size": pl.Int64,
        "path": pl.String,
        "external_id": pl.String,
    }
)

ALIGNMENTS = pl.Schema(
    {
        "doc_a": pl.Int64,
        "doc_b": pl.Int64,
        "external_id_a": pl.String,
        "external_id_b": pl.String,
        "op": pl.String,  # same | edited | added | dropped | moved
        "a_index": pl.Int32,  # first sentence index in A (null for added)
        "b_index": pl.Int32,  # first sentence index in B (null for dropped)
        "a_lo": pl.Int32,  # difflib-style sentence ranges
        "a_hi": pl.Int32,
        "b_lo": pl.Int32,
        "b_hi": pl.Int32,
        "a_text": pl.String,
        "b_text": pl.String,
        "score": pl.Float64,
        "words": pl.String,  # JSON list of word-level opcodes for edited rows
    }
)

# The passages table: rows from dedup.align.passages.passage_rows for every aligned pair.
PASSAGES = pl.Schema(
    {
        "doc_a": pl.Int64,
        "doc_b": pl.Int64,
        "external_id_a": pl.String,
        "external_id_b": pl.String,
        "a_start": pl.Int64,  # character offsets into each text as decoded, end exclusive
        "a_end": pl.Int64,
        "b_start": pl.Int64,
        "b_end": pl.Int64,
        "kind": pl.String,  # verbatim | edited | paraphrase
        "score": pl.Float64,
        "n_words": pl.Int32,  # words of the shorter side
    }
)

TABLES: dict[str, pl.Schema] = {
    "documents": DOCUMENTS,
    "pairs": PAIRS,
    "clusters": CLUSTERS,
    "alignments": ALIGNMENTS,
    "passages": PASSAGES,
}


def empty(name: str) -> pl.DataFrame:
    """An empty frame with the schema of table ``name``."""
    return pl.DataFrame(schema=TABLES[name])


def conform(df: pl.DataFrame, name: str) -> pl.DataFrame:
    """Add missing columns as nulls, cast and order columns to table ``name``'s schema."""
    schema = TABLES[name]
    exprs = [
        (pl.col(c) if c in df.columns else pl.lit(None)).cast(t).alias(c) for c, t in schema.items()
    ]
    return df.select(exprs)
