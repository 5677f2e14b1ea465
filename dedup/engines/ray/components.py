"""Connected components of an edge table on Ray Data, without one process holding every edge.

The large-star / small-star algorithm (Kiveris, Lattanzi, Mirrokni, Rastogi, Vassilvitskii,
"Connected Components in MapReduce and Beyond", SoCC 2014) rewrites the edge set, one
shuffle per step, until every component is a star around its smallest node:

- **large-star**, grouped by node ``u`` over both directions of every edge: with ``m`` the
  smallest of ``u`` and its neighbours, each neighbour ``v > u`` is linked to ``m``.
- **small-star**, grouped by the larger end ``u`` of every edge: with ``m`` the smallest of
  ``u``'s smaller neighbours ``N``, every node of ``N ∪ {u}`` other than ``m`` is linked to ``m``.

A step reports whether it changed anything (large-star: ``m != u`` for a node with larger
neighbours; small-star: a node with two or more smaller neighbours); when a round of both
changes nothing the graph is a forest of stars, and each node's label is its star's centre,
the smallest node of its component: the label :func:`dedup.cluster.connected_components`
gives. Rounds grow as ``O(log² n)`` in the worst case; real duplicate graphs take a few.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from dedup.engines.ray.shuffle import shuffle_apply

if TYPE_CHECKING:
    from ray.data import Dataset

I64 = pl.Int64
EDGES = {"a": I64, "b": I64}
STEP = {"a": I64, "b": I64, "changed": pl.Int64}
DIRECTED = {"u": I64, "v": I64}
LABELS = {"doc_id": I64, "cluster_id": I64, "cluster_size": I64}


def both_directions(df: pl.DataFrame) -> pl.DataFrame:
    """``(u, v)`` and ``(v, u)`` for every edge ``(a, b)``."""
    return pl.concat(
        [
            df.select(pl.col("a").alias("u"), pl.col("b").alias("v")),
            df.select(pl.col("b").alias("u"), pl.col("a").alias("v")),
        ]
    )


def large_star(df: pl.DataFrame) -> pl.DataFrame:
    """Large-star on the directed edges of one partition on ``u``."""
    d = df.unique()
    m = d.group_by("u").agg(pl.col("v").min().alias("m"))
    m = m.with_columns(pl.min_horizontal("m", "u").alias("m"))
    return (
        d.filter(pl.col("v") > pl.col("u"))
        .join(m, on="u")
        .select(
            pl.col("m").alias("a"),
            pl.col("v").alias("b"),
            (pl.col("m") != pl.col("u")).cast(I64).alias("changed"),
        )
    )


def small_star(df: pl.DataFrame) -> pl.DataFrame:
    """Small-star on the edges ``(a < b)`` of one partition on ``b``."""
    d = df.select("a", "b").unique()
    m = d.group_by("b").agg(pl.col("a").min().alias("m"), pl.len().alias("deg"))
    changed = (pl.col("deg") > 1).cast(I64).alias("changed")
    leaves = (
        d.join(m, on="b")
        .filter(pl.col("a") != pl.col("m"))
        .select(pl.col("m").alias("a"), pl.col("a").alias("b"), changed)
    )
    centre = m.select(pl.col("m").alias("a"), pl.col("b"), changed)
    return pl.concat([leaves, centre])


def star_labels(df: pl.DataFrame) -> pl.DataFrame:
    """Star edges ``(centre, leaf)`` of one partition on the centre: a row per node."""
    d = df.select("a", "b").unique()
    size = d.group_by("a").agg((pl.len() + 1).cast(I64).alias("cluster_size"))
    leaves = d.join(size, on="a").select(
        pl.col("b").alias("doc_id"), pl.col("a").alias("cluster_id"), "cluster_size"
    )
    centres = size.select(
        pl.col("a").alias("doc_id"), pl.col("a").alias("cluster_id"), "cluster_size"
    )
    return pl.concat([leaves, centres])


def _total(ds: Dataset, column: str) -> int:
    value = ds.sum(column) if ds.count() else 0
    return int(value or 0)


def components(edges: Dataset, *, parts: int, max_rounds: int = 200) -> tuple[Dataset, int]:
    """Component of every node of ``edges`` (``a < b``): the ``LABELS`` table, and rounds run.

    Only nodes with at least one edge get a row; ``cluster_size`` counts its component.
    """
    from dedup.engines.ray.shuffle import map_frames

    current = edges
    rounds = 0
    changed = 1
    while changed:
        rounds += 1
        if rounds > max_rounds:  # pragma: no cover - the algorithm converges long before
            raise RuntimeError(f"connected components did not converge in {max_rounds} rounds")
        directed = map_frames(current, both_directions, schema=DIRECTED)
        large = shuffle_apply(directed, ["u"], large_star, schema=STEP, parts=parts).materialize()
        current = shuffle_apply(large, ["b"], small_star, schema=STEP, parts=parts).materialize()
        changed = _total(large, "changed") + _total(current, "changed")
    labels = shuffle_apply(current, ["a"], star_labels, schema=LABELS, parts=parts)
    return labels, rounds
