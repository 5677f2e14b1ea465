"""Clustering: connected components of the verified-pair graph (union-find)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

from dedup import schema
from dedup.jit import njit


@njit(cache=True)
def _find(parent: npt.NDArray[np.int64], x: int) -> int:
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:  # path compression
        nxt = parent[x]
        parent[x] = root
        x = nxt
    return root


@njit(cache=True)
def _components(
    n: int, a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    parent = np.arange(n, dtype=np.int64)
    for k in range(len(a)):
        ra, rb = _find(parent, a[k]), _find(parent, b[k])
        if ra != rb:  # the smaller index becomes the root: the label is the component's minimum
            if ra < rb:
                parent[rb] = ra
            else:
                parent[ra] = rb
    for x in range(n):
        parent[x] = _find(parent, x)
    return parent


SMALL_EDGES, SMALL_NODES = 4096, 1 << 16  # graphs this small skip the numba kernel


def _small_components(n: int, a: list[int], b: list[int]) -> npt.NDArray[np.int64]:
    """:func:`_components` in plain Python (same labels), for small graphs."""
    parent = list(range(n))

    def find(x: int) -> int:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    for x, y in zip(a, b, strict=True):
        rx, ry = find(x), find(y)
        if rx != ry:
            parent[max(rx, ry)] = min(rx, ry)
    return np.array([find(x) for x in range(n)], dtype=np.int64)


def connected_components(
    n: int, a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Label of each of ``n`` nodes: the smallest node index of its component.

    Args:
        n: number of nodes, ``0..n-1``.
        a: first endpoint of each edge.
        b: second endpoint of each edge.
    """
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if len(a) <= SMALL_EDGES and n <= SMALL_NODES:
        return _small_components(n, np.asarray(a).tolist(), np.asarray(b).tolist())
    return _components(n, np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64))


def clusters_of(documents: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    """Connected components of the pair graph, as the ``clusters`` table."""
    n = int(documents.height)
    labels = connected_components(n, pairs["doc_a"].to_numpy(), pairs["doc_b"].to_numpy())
    frame = pl.DataFrame({"doc_id": np.arange(n, dtype=np.int64), "cluster_id": labels})
    frame = frame.with_columns(pl.len().over("cluster_id").alias("cluster_size")).filter(
        pl.col("cluster_size") > 1
    )
    names = documents.select("doc_id", "path", "external_id")
    frame = frame.join(names, on="doc_id", how="left")
    return schema.conform(frame.sort("cluster_id", "doc_id"), "clusters")
