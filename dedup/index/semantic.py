"""The semantic channel of an index: the scan's cheap first stage, searched from new documents.

The index keeps, for every shingled document, the static vector and split share that the
scan's first stage computes (:func:`dedup.semantic.static.document_vectors`; a document's
vector does not depend on what else is scanned with it). A query or an add computes the new
documents' vectors the same way and proposes, among the pairs that involve a new document,
those :func:`dedup.semantic.search.static_candidates` proposes over the index and the new
documents together:

- the same documents are left out (words unknown to the model, or no wordpiece at all);
- up to :data:`~dedup.semantic.search.SMALL_CORPUS` searched documents, every pair (``top_k``
  still applies) by plain cosine; above, the cosine of the vectors centred on the mean of all
  searched documents (indexed and new), at least ``doc_threshold``;
- a pair is proposed when either document is among the other's ``top_k`` nearest, as the
  exact search does.

The centred cosine is computed without centring the index's matrix:
``cos(x - m, y - m) = (x·y - x·m - y·m + m·m) / (|x - m| |y - m|)`` with ``|x - m|² = 1 - 2x·m +
m·m`` for unit ``x``, so a query reads the stored vectors once. Above
:data:`~dedup.semantic.search.EXACT_MAX_DOCS` searched documents the scan searches by LSH
(approximate) and this search looks from the new documents only (their ``top_k``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from dedup.config import SemanticConfig
from dedup.semantic.channel import STATIC_BATCH
from dedup.semantic.search import EXACT_MAX_DOCS, SMALL_CORPUS
from dedup.semantic.static import VERSION, DocumentVectors

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
#: What the stored vectors are (the manifest's ``semantic.kind``): a static table's version.
VECTORS = f"static-v{VERSION}"
#: Cells of the cosine block held at once (its float64 temporaries: ~100 MiB).
BLOCK_CELLS = 1 << 22


def vector_frame(ids: IntArray, dv: DocumentVectors) -> pl.DataFrame:
    """The rows of ``vectors.parquet``: ``doc_id``, ``vector``, ``split_share``."""
    dim = dv.vectors.shape[1]
    return pl.DataFrame(
        {"doc_id": ids.astype(np.int64), "vector": dv.vectors, "split_share": dv.split_share},
        schema={
            "doc_id": pl.Int64,
            "vector": pl.Array(pl.Float32, dim),
            "split_share": pl.Float64,
        },
    )


def static_vectors(
    texts: Sequence[str],
    config: SemanticConfig,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> DocumentVectors:
    """The scan's first-stage vectors of ``texts`` (in batches of the scan's size).

    Args:
        texts: Document texts.
        config: The semantic settings (model, ``max_split_share``).
        progress: Called with (done, total) documents.

    Returns:
        Their :class:`~dedup.semantic.static.DocumentVectors`.
    """
    from dedup.semantic import static

    model = static.load_static_model(config.model)
    parts = [
        static.document_vectors(
            model, texts[start : start + STATIC_BATCH], max_split_share=config.max_split_share
        )
        for start in range(0, len(texts), STATIC_BATCH)
    ]
    if progress is not None:
        progress(len(texts), len(texts))
    if not parts:
        dim = model.vectors.shape[1]
        return DocumentVectors(
            np.zeros((0, dim), np.float32), np.zeros(0, np.int64), np.zeros(0, np.float64)
        )
    return DocumentVectors(
        np.concatenate([p.vectors for p in parts]),
        np.concatenate([p.pieces for p in parts]),
        np.concatenate([p.split_share for p in parts]),
    )


@dataclass(frozen=True)
class StaticTable:
    """An index's static vectors, as a reader holds them.

    Attributes:
        vectors: (n_docs, d) unit rows by ``doc_id``; zero rows where there is none.
        keep: (n_docs,) whether the document is searched (shingled, words known, a vector).
        total: (d,) float64 sum of the searched documents' vectors.
    """

    vectors: FloatArray
    keep: npt.NDArray[np.bool_]
    total: npt.NDArray[np.float64]

    @classmethod
    def of(
        cls,
        vectors: FloatArray,
        split_share: npt.NDArray[np.float64],
        ok: npt.NDArray[np.bool_],
        config: SemanticConfig,
    ) -> StaticTable:
        """The table of stored vectors and split shares (``ok``: shingled documents)."""
        keep = _searched(vectors, split_share, config) & ok
        total = vectors[keep].sum(axis=0, dtype=np.float64)
        return cls(vectors, keep, total)


def _searched(
    vectors: FloatArray, split_share: npt.NDArray[np.float64], config: SemanticConfig
) -> npt.NDArray[np.bool_]:
    """What :func:`~dedup.semantic.search.static_candidates` searches."""
    nonzero = np.abs(vectors).sum(axis=1) > 0
    out: npt.NDArray[np.bool_] = (split_share <= config.max_split_share) & nonzero
    return out


@dataclass(frozen=True)
class Proposals:
    """Candidate pairs of the first stage that involve a new document.

    Attributes:
        pairs: (m, 2) ``doc_id`` pairs, a < b, sorted, unique.
        cosines: (m,) their (centred) static cosine.
    """

    pairs: IntArray
    cosines: FloatArray


class _Union:
    """The searched documents of the index and the batch as one set of columns: column ``c``
    is ``doc_id`` ``c`` below ``n_index``, else batch row ``c - n_index``."""

    def __init__(self, table: StaticTable, new: DocumentVectors, config: SemanticConfig) -> None:
        self.index = table.vectors
        self.new = new.vectors
        self.n_index = table.vectors.shape[0]
        new_keep = _searched(new.vectors, new.split_share, config)
        self.keep = np.concatenate([table.keep, new_keep])
        self.n_keep = int(self.keep.sum())
        mean = np.zeros(self.index.shape[1], dtype=np.float64)
        self.threshold = -1.0
        if self.n_keep > SMALL_CORPUS:
            total = table.total + new.vectors[new_keep].sum(axis=0, dtype=np.float64)
            mean, self.threshold = total / self.n_keep, config.doc_threshold
        self.mean = mean.astype(np.float32)
        self.mm = float(mean @ mean)
        dots = np.concatenate([self.index @ self.mean, self.new @ self.mean])
        self.dots = dots.astype(np.float64)
        self.norms = np.sqrt(np.maximum(1.0 - 2.0 * self.dots + self.mm, 1e-12))

    def rows(self, cols: IntArray) -> FloatArray:
        """The vectors of columns ``cols``."""
        at = cols < self.n_index
        out = np.empty((len(cols), self.index.shape[1]), dtype=np.float32)
        out[at] = self.index[cols[at]]
        out[~at] = self.new[cols[~at] - self.n_index]
        return out

    def cosines(self, cols: IntArray) -> FloatArray:
        """Centred cosines of columns ``cols`` with every column; -inf for unsearched
        columns and for each column with itself."""
        a = self.rows(cols)
        raw = np.concatenate([a @ self.index.T, a @ self.new.T], axis=1).astype(np.float64)
        num = raw - self.dots[cols][:, None] - self.dots[None, :] + self.mm
        sims: FloatArray = (num / (self.norms[cols][:, None] * self.norms[None, :])).astype(
            np.float32
        )
        sims[:, ~self.keep] = -np.inf
        sims[np.arange(len(cols)), cols] = -np.inf
        return sims


def propose(
    table: StaticTable, new_ids: IntArray, new: DocumentVectors, *, config: SemanticConfig
) -> Proposals:
    """The first stage's candidate pairs over the index and the new documents together, for
    the pairs that involve a new document.

    Args:
        table: The index's vectors.
        new_ids: ``doc_id`` of each new document (all above the index's).
        new: Their vectors, from :func:`static_vectors`.
        config: The semantic settings (``doc_threshold``, ``top_k``, ``max_split_share``).

    Returns:
        The :class:`Proposals`.
    """
    u = _Union(table, new, config)
    kk = min(config.top_k, u.n_keep - 1)
    empty = Proposals(np.zeros((0, 2), np.int64), np.zeros(0, np.float32))
    mine = np.flatnonzero(u.keep[u.n_index :]) + u.n_index
    if kk < 1 or mine.size == 0:
        return empty
    step = max(1, BLOCK_CELLS // max(u.keep.size, 1))
    found: list[tuple[IntArray, IntArray, FloatArray]] = []
    pending: list[tuple[IntArray, IntArray]] = []
    for start in range(0, mine.size, step):
        cols = mine[start : start + step]
        sims = u.cosines(cols)
        top = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
        in_top = np.zeros(sims.shape, dtype=bool)
        np.put_along_axis(in_top, top, True, axis=1)
        above = sims >= u.threshold
        r, c = np.nonzero(above & in_top)
        found.append((cols[r], c, sims[r, c]))
        r, c = np.nonzero(above & ~in_top)
        pending.append((cols[r], c))
    if u.n_keep <= EXACT_MAX_DOCS:
        found.append(_reverse(u, pending, kk))
    return _proposals(found, u.n_index, new_ids)


def _reverse(
    u: _Union, pending: list[tuple[IntArray, IntArray]], kk: int
) -> tuple[IntArray, IntArray, FloatArray]:
    """Of the pairs (new column, column) above the threshold but outside the new document's
    ``top_k``, those where the new document is among the other's ``top_k``."""
    q = np.concatenate([p[0] for p in pending])
    j = np.concatenate([p[1] for p in pending])
    out_q: list[IntArray] = [np.zeros(0, np.int64)]
    out_j: list[IntArray] = [np.zeros(0, np.int64)]
    out_s: list[FloatArray] = [np.zeros(0, np.float32)]
    targets = np.unique(j)
    step = max(1, BLOCK_CELLS // max(u.keep.size, 1))
    for start in range(0, targets.size, step):
        cols = targets[start : start + step]
        sims = u.cosines(cols)
        kth = -np.partition(-sims, kk - 1, axis=1)[:, kk - 1]
        sel = np.flatnonzero((j >= cols[0]) & (j <= cols[-1]))
        at = np.searchsorted(cols, j[sel])
        val = sims[at, q[sel]]
        ok = (val >= kth[at]) & (val >= u.threshold)
        out_q.append(q[sel][ok])
        out_j.append(j[sel][ok])
        out_s.append(val[ok])
    return np.concatenate(out_q), np.concatenate(out_j), np.concatenate(out_s)


def _proposals(
    found: list[tuple[IntArray, IntArray, FloatArray]], n_index: int, new_ids: IntArray
) -> Proposals:
    """Column pairs as sorted unique ``doc_id`` pairs."""
    a = np.concatenate([f[0] for f in found]).astype(np.int64)
    b = np.concatenate([f[1] for f in found]).astype(np.int64)
    s = np.concatenate([f[2] for f in found]).astype(np.float32)

    def doc(c: IntArray) -> IntArray:
        return np.where(c < n_index, c, new_ids[np.maximum(c - n_index, 0)])

    da, db = doc(a), doc(b)
    frame = pl.DataFrame(
        {"a": np.minimum(da, db), "b": np.maximum(da, db), "cos": s},
        schema={"a": pl.Int64, "b": pl.Int64, "cos": pl.Float32},
    )
    frame = frame.group_by("a", "b").agg(pl.col("cos").max()).sort("a", "b")
    pairs = frame.select("a", "b").to_numpy().astype(np.int64).reshape(-1, 2)
    return Proposals(pairs, frame["cos"].to_numpy().astype(np.float32))
