"""Shuffles on Ray Data: run a polars function on every hash partition of a dataset.

Two shapes, both built on ``groupby(<partition>).map_groups``:

- :func:`shuffle_apply`: rows are hash-partitioned on key columns; the function sees one
  whole partition (all rows sharing a key value are in it) as a polars frame.
- :func:`co_group`: two datasets partitioned on their join keys the same way; the function
  sees the left and right rows of one partition (a hash join, or a join fused with a
  group-by, done by the function with polars).

The group-by key is a small partition number computed from the keys, not the keys
themselves, so the function is called once per partition and does its work vectorized,
never once per key value. Every function returns a frame with a fixed schema (an empty
partition gives an empty frame of that schema), so all blocks of a result agree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

if TYPE_CHECKING:
    from ray.data import Dataset

PART = "_part"
SIDE = "_side"
Schema = Mapping[str, Any]
PartFn = Callable[[pl.DataFrame], pl.DataFrame]
PairFn = Callable[[pl.DataFrame, pl.DataFrame], pl.DataFrame]


def to_arrow(df: pl.DataFrame) -> pa.Table:
    """Polars to Arrow with classic (large) string and list types, which every worker reads."""
    return df.to_arrow(compat_level=pl.CompatLevel.oldest())


def from_arrow(table: pa.Table) -> pl.DataFrame:
    """Arrow batch to polars (a table with no columns gives an empty frame)."""
    out = pl.from_arrow(table)
    assert isinstance(out, pl.DataFrame)
    return out


def _mix(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """splitmix64 finalizer: spreads consecutive ids over all partitions."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def partition_of(df: pl.DataFrame, keys: list[str], parts: int) -> npt.NDArray[np.int64]:
    """Partition number in ``[0, parts)`` of every row, from integer key columns."""
    h = np.full(df.height, 0x9E3779B97F4A7C15, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in keys:
            col = df[k].cast(pl.UInt64, wrap_numerical=True).to_numpy().astype(np.uint64)
            h = _mix(h ^ col)
    return (h % np.uint64(parts)).astype(np.int64)


def _tag(batch: pa.Table, keys: list[str], parts: int) -> pa.Table:
    df = from_arrow(batch)
    return to_arrow(df.with_columns(pl.Series(PART, partition_of(df, keys, parts))))


def _run(batch: pa.Table, fn: PartFn, schema: Schema) -> pa.Table:
    df = from_arrow(batch).drop(PART)
    out = fn(df)
    return to_arrow(out.select([pl.col(c).cast(t) for c, t in schema.items()]))


def shuffle_apply(
    ds: Dataset, keys: list[str], fn: PartFn, *, schema: Schema, parts: int
) -> Dataset:
    """``fn`` on every hash partition of ``ds`` on ``keys``; its results, cast to ``schema``."""
    tagged = ds.map_batches(_tag, batch_format="pyarrow", fn_kwargs={"keys": keys, "parts": parts})
    return tagged.groupby(PART, num_partitions=parts).map_groups(
        _run, batch_format="pyarrow", fn_kwargs={"fn": fn, "schema": schema}
    )


def _side_batch(
    batch: pa.Table, *, keys: list[str], parts: int, side: int, prefix: str, full: Schema
) -> pa.Table:
    df = from_arrow(batch)
    part = partition_of(df, keys, parts)
    df = df.rename({c: prefix + c for c in df.columns})
    cols = [
        (pl.col(c) if c in df.columns else pl.lit(None)).cast(t).alias(c) for c, t in full.items()
    ]
    df = df.select(cols).with_columns(
        pl.Series(PART, part), pl.lit(side, dtype=pl.Int8).alias(SIDE)
    )
    return to_arrow(df)


def _run_pair(batch: pa.Table, *, fn: PairFn, left: Schema, right: Schema, out: Schema) -> pa.Table:
    df = from_arrow(batch)
    lhs = df.filter(pl.col(SIDE) == 0).select(
        [pl.col("l." + c).cast(t).alias(c) for c, t in left.items()]
    )
    rhs = df.filter(pl.col(SIDE) == 1).select(
        [pl.col("r." + c).cast(t).alias(c) for c, t in right.items()]
    )
    res = fn(lhs, rhs)
    return to_arrow(res.select([pl.col(c).cast(t) for c, t in out.items()]))


def co_group(
    left: Dataset,
    right: Dataset,
    *,
    left_on: list[str],
    right_on: list[str],
    fn: PairFn,
    left_schema: Schema,
    right_schema: Schema,
    schema: Schema,
    parts: int,
) -> Dataset:
    """``fn(left_rows, right_rows)`` on every partition of both datasets hashed on their keys.

    Rows of ``left`` and ``right`` whose keys are equal land in the same call, so ``fn``
    can join them (and group either side by its key) with polars.
    """
    full: dict[str, Any] = {"l." + c: t for c, t in left_schema.items()}
    full.update({"r." + c: t for c, t in right_schema.items()})
    common = {"parts": parts, "full": full}
    lhs = left.map_batches(
        _side_batch,
        batch_format="pyarrow",
        fn_kwargs={"keys": left_on, "side": 0, "prefix": "l.", **common},
    )
    rhs = right.map_batches(
        _side_batch,
        batch_format="pyarrow",
        fn_kwargs={"keys": right_on, "side": 1, "prefix": "r.", **common},
    )
    return (
        lhs.union(rhs)
        .groupby(PART, num_partitions=parts)
        .map_groups(
            _run_pair,
            batch_format="pyarrow",
            fn_kwargs={"fn": fn, "left": left_schema, "right": right_schema, "out": schema},
        )
    )


def map_frames(
    ds: Dataset, fn: PartFn, *, schema: Schema, batch_size: int | None = None
) -> Dataset:
    """``fn`` on every batch of ``ds`` (no shuffle), cast to ``schema``."""
    return ds.map_batches(
        _run_plain,
        batch_format="pyarrow",
        batch_size=batch_size,
        fn_kwargs={"fn": fn, "schema": schema},
    )


def _run_plain(batch: pa.Table, fn: PartFn, schema: Schema) -> pa.Table:
    out = fn(from_arrow(batch))
    return to_arrow(out.select([pl.col(c).cast(t) for c, t in schema.items()]))


def collect(ds: Dataset, schema: Schema) -> pl.DataFrame:
    """A (small) dataset as one polars frame on the driver."""
    import ray

    frames = [from_arrow(ray.get(ref)) for ref in ds.to_arrow_refs()]
    frames = [f for f in frames if f.width]
    if not frames:
        return pl.DataFrame(schema=dict(schema))
    return pl.concat(frames).select([pl.col(c).cast(t) for c, t in schema.items()])


BROADCAST_MAX = 50_000_000  # ids (8 bytes each) sent to every task by a semi-join


def semi_join(table: Dataset, table_schema: Any, pairs: Dataset, columns: list[str]) -> Dataset:
    """The rows of ``table`` whose ``doc_id`` occurs in ``pairs``' ``columns``.

    A semi-join by broadcast: the distinct ids (usually a few percent of the documents)
    go to every task as one array, so the big per-document tables (shingle sets, texts)
    enter the following shuffles with only the documents that have a pair. Past
    ``BROADCAST_MAX`` ids the table is passed through whole.
    """
    import ray

    ids_schema = {"id": pl.Int64}
    ids = collect(
        map_frames(
            pairs,
            lambda df: pl.concat([df.select(pl.col(c).alias("id")) for c in columns]).unique(),
            schema=ids_schema,
        ),
        ids_schema,
    )["id"].unique()
    if len(ids) > BROADCAST_MAX:
        return table
    ref = ray.put(ids.to_numpy())
    return map_frames(
        table,
        lambda df: df.filter(pl.col("doc_id").is_in(pl.Series(ray.get(ref)))),
        schema=table_schema,
    )
