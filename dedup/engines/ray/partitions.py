"""The distributed scan's work on one batch or one partition: pure polars, no Ray.

Each function is what a Ray worker runs (see :mod:`dedup.engines.ray.engine`) and reuses the
local engine's kernels, so both engines compute the same values: shingles and
signatures (:func:`dedup.lexical.shingle.shingle_texts`, :func:`dedup.lexical.minhash.signatures`,
:func:`dedup.lexical.lsh.band_keys`), exact groups, LSH buckets, verification and the expansion
of exact copies (:mod:`dedup.lexical.candidates`), and alignment (:mod:`dedup.align.sentences`).
Documents are keyed by ``doc_id`` throughout (the local engine's row order is
``doc_id`` order, so "smallest row" and "smallest ``doc_id``" agree).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from dedup import schema
from dedup.config import RunConfig
from dedup.io.options import ReadOptions
from dedup.io.readers import skipped
from dedup.io.walk import RawDoc, read_source
from dedup.lexical.candidates import exact_groups, expand_copies, verify_proposals
from dedup.lexical.lsh import band_pairs
from dedup.lexical.sign import doc_meta, sign_batch

I64, U64, U32 = pl.Int64, pl.UInt64, pl.UInt32

UNITS = {"unit": I64, "path": pl.Binary, "reason": pl.String}
_META = {c: t for c, t in schema.DOCUMENTS.items() if c != "doc_id"}
INGESTED: dict[str, Any] = {
    "unit": I64,
    "sub": I64,
    **_META,
    "shingled": pl.Boolean,
    "content": U64,
    "hashes": pl.List(U32),
    "keys": pl.List(U64),
    "text": pl.String,
}
SHINGLED = {"doc_id": I64, "content": U64, "hashes": pl.List(U32), "keys": pl.List(U64)}
REPS = {
    "doc_id": I64,
    "is_rep": pl.Boolean,
    "hashes": pl.List(U32),
    "keys": pl.List(U64),
    "exact_with": pl.List(I64),
    "copies": pl.List(I64),
}
SETS = {"doc_id": I64, "hashes": pl.List(U32), "copies": pl.List(I64)}
PROPOSALS = {"a": I64, "b": I64, "lsh": pl.Boolean, "ov": pl.Boolean, "n": I64}
HALF = {
    "a": I64,
    "b": I64,
    "channel": pl.String,
    "hashes_a": pl.List(U32),
    "copies_a": pl.List(I64),
}
VERIFIED = {
    "a": I64,
    "b": I64,
    "relation": pl.String,
    "jaccard": pl.Float64,
    "containment_a": pl.Float64,
    "containment_b": pl.Float64,
    "channel": pl.String,
}


def encode_path(path: str) -> bytes:
    """A path as bytes (file names need not be valid UTF-8)."""
    return os.fsencode(path)


def _read_units(
    units: pl.DataFrame, *, read: ReadOptions
) -> tuple[list[RawDoc], list[int], list[int]]:
    docs: list[RawDoc] = []
    unit_of: list[int] = []
    sub_of: list[int] = []
    for unit, raw, reason in units.select(list(UNITS)).iter_rows():
        path = os.fsdecode(raw)
        recs = [skipped(path, reason)] if reason is not None else read_source(path, options=read)
        for j, doc in enumerate(recs):
            docs.append(doc)
            unit_of.append(unit)
            sub_of.append(j)
    return docs, unit_of, sub_of


def _lists(values: npt.NDArray[Any], sizes: npt.NDArray[np.int64], dtype: Any) -> pl.Series:
    offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    arr = pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(values))
    return pl.Series(pl.from_arrow(arr)).cast(pl.List(dtype))


def ingest_units(
    units: pl.DataFrame,
    *,
    config: RunConfig,
    read: ReadOptions,
    keep_texts: bool,
) -> pl.DataFrame:
    """Read a batch of input files and shingle, sign and band-key their documents.

    The same per-document values as the local engine's ingest (one row per document,
    keyed by ``(unit, sub)``: the file's position in the listing and the record's
    position in the file), with shingle hashes and band keys as list columns.
    """
    import numba

    numba.set_num_threads(1)  # one Ray task per CPU
    docs, unit_of, sub_of = _read_units(units, read=read)
    meta = [doc_meta(d) for d in docs]
    signed = sign_batch(docs, meta, config)
    hashes, keys = signed.hashes, signed.keys
    bands = keys.shape[1]
    sizes = np.diff(signed.offsets)
    n = len(docs)
    idx = signed.kept
    shingled = np.zeros(n, dtype=bool)
    shingled[idx] = True
    full_sizes = np.zeros(n, dtype=np.int64)
    full_sizes[idx] = sizes
    key_sizes = np.zeros(n, dtype=np.int64)
    key_sizes[idx] = bands
    content = np.zeros(n, dtype=np.uint64)
    content[idx] = signed.content
    texts = [d.text if keep_texts and shingled[i] else None for i, d in enumerate(docs)]
    frame = pl.DataFrame(meta, schema=_META, infer_schema_length=None)
    return frame.with_columns(
        pl.Series("unit", unit_of, dtype=I64),
        pl.Series("sub", sub_of, dtype=I64),
        pl.Series("shingled", shingled),
        pl.Series("content", content),
        _lists(hashes, full_sizes, U32).alias("hashes"),
        _lists(keys.reshape(-1), key_sizes, U64).alias("keys"),
        pl.Series("text", texts, dtype=pl.String),
    ).select(list(INGESTED))


def unit_counts(df: pl.DataFrame) -> pl.DataFrame:
    """Documents per input unit in a batch (to number documents in input order)."""
    return df.group_by("unit").agg(pl.len().cast(I64).alias("n"))


def with_doc_ids(df: pl.DataFrame, *, first: npt.NDArray[np.int64]) -> pl.DataFrame:
    """``doc_id`` = first id of the unit + position in the unit (the local engine's ids)."""
    base = first[df["unit"].to_numpy()]
    return df.with_columns(pl.Series("doc_id", base + df["sub"].to_numpy(), dtype=I64))


def exact_partition(df: pl.DataFrame, *, max_group: int) -> pl.DataFrame:
    """One content-hash partition: representatives, exact partners and copies per document.

    ``is_rep``: first (smallest ``doc_id``) of its content group; ``exact_with``: the
    smaller partners it forms an ``exact`` pair with; ``copies``: for the first of a group
    of up to ``max_group``, the other members (they inherit its verified pairs).
    """
    df = df.sort("doc_id")
    ids = df["doc_id"].to_numpy()
    pairs, copies, first = exact_groups(df["content"].to_numpy(), max_group=max_group)
    partners = pl.DataFrame(
        {"doc_id": ids[pairs["b"].to_numpy()], "p": ids[pairs["a"].to_numpy()]},
        schema={"doc_id": I64, "p": I64},
    )
    members = pl.DataFrame(
        {"doc_id": ids[copies["first"].to_numpy()], "c": ids[copies["row"].to_numpy()]},
        schema={"doc_id": I64, "c": I64},
    )
    out = df.with_columns(pl.Series("is_rep", first)).join(
        partners.group_by("doc_id").agg(pl.col("p").sort().alias("exact_with")),
        on="doc_id",
        how="left",
    )
    out = out.join(
        members.group_by("doc_id").agg(pl.col("c").sort().alias("copies")), on="doc_id", how="left"
    )
    empty = pl.lit([], dtype=pl.List(I64))
    return out.with_columns(
        pl.col("exact_with").fill_null(empty), pl.col("copies").fill_null(empty)
    )


def band_rows(df: pl.DataFrame, *, bands: int) -> pl.DataFrame:
    """``(band, key, doc)`` for every band of every representative."""
    n = df.height
    keys = flat(df["keys"]).astype(np.uint64).reshape(n, bands)
    return pl.DataFrame(
        {
            "band": np.tile(np.arange(bands, dtype=np.int64), n),
            "key": keys.reshape(-1),
            "doc": np.repeat(df["doc_id"].to_numpy(), bands),
        },
        schema={"band": I64, "key": U64, "doc": I64},
    )


def lsh_partition(df: pl.DataFrame, *, max_bucket: int) -> pl.DataFrame:
    """LSH candidate pairs of the ``(band, key)`` buckets in one partition."""
    parts = [pl.DataFrame(schema={"doc_a": I64, "doc_b": I64})]
    for (_,), band in df.group_by(["band"]):
        parts.append(
            band_pairs(band["key"].to_numpy(), band["doc"].to_numpy(), max_bucket).cast(
                {"doc_a": I64, "doc_b": I64}
            )
        )
    return (
        pl.concat(parts)
        .unique()
        .select(
            pl.col("doc_a").alias("a"),
            pl.col("doc_b").alias("b"),
            pl.lit(True).alias("lsh"),
            pl.lit(False).alias("ov"),
            pl.lit(0, I64).alias("n"),
        )
    )


def flat(lists: pl.Series) -> npt.NDArray[Any]:
    """The values of a list column, concatenated (empty lists contribute nothing)."""
    arr = lists.to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return np.asarray(arr.flatten().to_numpy(zero_copy_only=False))


def shingle_rows(df: pl.DataFrame, *, stride: int) -> pl.DataFrame:
    """``(h, doc)`` for every indexed shingle of every representative (one in ``stride``)."""
    h = flat(df["hashes"]).astype(np.uint32)
    doc = np.repeat(df["doc_id"].to_numpy(), df["hashes"].list.len().to_numpy())
    if stride > 1:
        mask = (h % stride) == 0
        h, doc = h[mask], doc[mask]
    return pl.DataFrame({"h": h, "doc": doc}, schema={"h": U32, "doc": I64})


def overlap_partition(df: pl.DataFrame, *, max_df: int) -> pl.DataFrame:
    """Rare shingles of one partition: how many each pair of documents shares."""
    index = (
        df.with_columns(pl.len().over("h").alias("df"))
        .filter((pl.col("df") > 1) & (pl.col("df") <= max_df))
        .select("h", "doc")
    )
    linked = index.join(index, on="h", suffix="_b").filter(pl.col("doc") < pl.col("doc_b"))
    return (
        linked.group_by("doc", "doc_b")
        .len()
        .select(
            pl.col("doc").alias("a"),
            pl.col("doc_b").alias("b"),
            pl.lit(False).alias("lsh"),
            pl.lit(True).alias("ov"),
            pl.col("len").cast(I64).alias("n"),
        )
    )


def gather_a(proposals: pl.DataFrame, sets: pl.DataFrame, *, min_shared: int) -> pl.DataFrame:
    """Partition on ``a``: merge the channels' proposals of each pair, attach A's set."""
    agg = proposals.group_by("a", "b").agg(
        pl.col("lsh").any(), pl.col("ov").any(), pl.col("n").sum()
    )
    lsh = pl.col("lsh")
    ov = pl.col("ov") & (pl.col("n") >= min_shared)
    channel = (
        pl.when(lsh & ov)
        .then(pl.lit("lsh,overlap"))
        .when(lsh)
        .then(pl.lit("lsh"))
        .when(ov)
        .then(pl.lit("overlap"))
        .otherwise(None)
    )
    agg = agg.with_columns(channel.alias("channel")).filter(pl.col("channel").is_not_null())
    right = sets.rename({"doc_id": "a", "hashes": "hashes_a", "copies": "copies_a"})
    return agg.join(right, on="a", how="inner").select(list(HALF))


def verify_b(half: pl.DataFrame, sets: pl.DataFrame, *, config: RunConfig) -> pl.DataFrame:
    """Partition on ``b``: attach B's set, verify, give exact copies their pairs."""
    right = sets.rename({"doc_id": "b", "hashes": "hashes_b", "copies": "copies_b"})
    j = half.join(right, on="b", how="inner")
    n = j.height
    if n == 0:
        return pl.DataFrame(schema=VERIFIED)
    sizes = np.concatenate(
        [j["hashes_a"].list.len().to_numpy(), j["hashes_b"].list.len().to_numpy()]
    ).astype(np.int64)
    offsets = np.zeros(2 * n + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    hashes = np.concatenate([flat(j["hashes_a"]), flat(j["hashes_b"])]).astype(np.uint32)
    local = pl.DataFrame(
        {"a": np.arange(n, dtype=np.int64), "b": np.arange(n, 2 * n, dtype=np.int64)}
    ).with_columns(j["channel"])
    import numba

    numba.set_num_threads(1)
    checked = verify_proposals(local, hashes, offsets, config)
    a_ids, b_ids = j["a"].to_numpy(), j["b"].to_numpy()
    checked = checked.with_columns(
        pl.Series("a", a_ids[checked["a"].to_numpy()]),
        pl.Series("b", b_ids[checked["b"].to_numpy() - n]),
    )
    copies = pl.concat(
        [
            j.select(pl.col("a").alias("first"), pl.col("copies_a").alias("row")),
            j.select(pl.col("b").alias("first"), pl.col("copies_b").alias("row")),
        ]
    )
    copies = copies.explode("row").drop_nulls().unique()
    return expand_copies(checked, copies).select(list(VERIFIED))


def exact_pairs(df: pl.DataFrame) -> pl.DataFrame:
    """``exact`` pairs of documents with their smaller exact partners."""
    return (
        df.select(pl.col("exact_with").alias("a"), pl.col("doc_id").alias("b"))
        .explode("a")
        .drop_nulls()
        .with_columns(
            pl.lit("exact").alias("relation"),
            pl.lit(1.0).alias("jaccard"),
            pl.lit(1.0).alias("containment_a"),
            pl.lit(1.0).alias("containment_b"),
            pl.lit("exact").alias("channel"),
        )
        .select(list(VERIFIED))
    )
