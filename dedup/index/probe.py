"""Candidate channels of new documents against an index: band keys, overlap, content hash.

They propose exactly the pairs a scan over the index and the new documents (in that
order) would propose for the new documents, by the scan's rules:

- only *representatives* (the first document of each content hash) are members of LSH
  buckets and of the overlap index; a later exact copy is probed like its representative
  (same band keys, same shingles) but counts in no bucket;
- an LSH bucket of 2..``max_bucket`` members gives every pair; a larger one pairs each
  member with its smallest ``doc_id`` only;
- a sampled shingle held by 2..``max_df`` representatives links them; pairs linked by
  ``min_shared`` shingles or more are proposed.

Each bucket's size is the index's count (summed over segments) plus the new documents'.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from dedup.config import RunConfig
from dedup.index.reader import IndexReader, Sorted
from dedup.index.segment import csr_entries
from dedup.jit import njit

PAIRS_SCHEMA = {"a": pl.Int64, "b": pl.Int64}


@dataclass
class Batch:
    """New documents, shingled and signed (rows are the shingled ones, by ``doc_id``).

    Attributes:
        ids: ``doc_id`` of each row (all >= the index's ``n_docs``, increasing).
        hashes: distinct shingle hashes per row, CSR with ``offsets``.
        offsets: row ``i`` owns ``hashes[offsets[i]:offsets[i+1]]``.
        keys: band keys, one row per row.
        content: content hash per row.
        is_rep: whether a row is the first of its content in the index and the batch.
    """

    ids: npt.NDArray[np.int64]
    hashes: npt.NDArray[np.uint32]
    offsets: npt.NDArray[np.int64]
    keys: npt.NDArray[np.uint64]
    content: npt.NDArray[np.uint64]
    is_rep: npt.NDArray[np.bool_]


def representatives(reader: IndexReader, content: npt.NDArray[np.uint64]) -> npt.NDArray[np.bool_]:
    """Which new rows are the first of their content (not in the index, first in the batch)."""
    lo, hi = reader.content_sorted.ranges(content)
    in_index = (hi - lo).sum(axis=1) > 0
    _, first = np.unique(content, return_index=True)
    first_mask = np.zeros(len(content), dtype=bool)
    first_mask[first] = True
    out: npt.NDArray[np.bool_] = first_mask & ~in_index
    return out


@njit(cache=True, nogil=True)
def _links(
    size: npt.NDArray[np.int64],
    lo: npt.NDArray[np.int64],
    hi: npt.NDArray[np.int64],
    docs: npt.NDArray[np.int64],
    own_lo: npt.NDArray[np.int64],
    own_hi: npt.NDArray[np.int64],
    own_docs: npt.NDArray[np.int64],
    self_id: npt.NDArray[np.int64],
    self_rep: npt.NDArray[np.bool_],
    max_size: int,
    star: bool,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Pairs ``(min, max)`` of each probe with the members of its bucket.

    ``size`` is each probe's bucket size (the index's segments and the batch together);
    ``lo``/``hi`` (probes x segments) are ranges into ``docs``, the members gathered from the
    index's segments (all of them for a bucket of up to ``max_size``, else the first of
    each segment); ``own_lo``/``own_hi`` are ranges into ``own_docs`` (the batch's
    representatives). A pair of two representatives of the batch is emitted from the
    larger side only, so once per key.
    """
    n, parts = lo.shape
    total = 0
    for i in range(n):
        if size[i] >= 2:
            total += size[i] if size[i] <= max_size else (1 if star else 0)
    out_a = np.empty(total, dtype=np.int64)
    out_b = np.empty(total, dtype=np.int64)
    k = 0
    for i in range(n):
        me = self_id[i]
        if size[i] < 2:
            continue
        if size[i] <= max_size:
            for s in range(parts):
                for t in range(lo[i, s], hi[i, s]):
                    p = docs[t]
                    if p != me:
                        out_a[k] = min(p, me)
                        out_b[k] = max(p, me)
                        k += 1
            for t in range(own_lo[i], own_hi[i]):
                p = own_docs[t]
                if p == me or (self_rep[i] and p > me):
                    continue
                out_a[k] = min(p, me)
                out_b[k] = max(p, me)
                k += 1
        elif star:
            low = np.int64(-1)
            for s in range(parts):
                if hi[i, s] > lo[i, s] and (low < 0 or docs[lo[i, s]] < low):
                    low = docs[lo[i, s]]
            if own_hi[i] > own_lo[i] and (low < 0 or own_docs[own_lo[i]] < low):
                low = own_docs[own_lo[i]]
            if low != me:
                out_a[k] = low
                out_b[k] = me
                k += 1
    return out_a[:k], out_b[:k]


def _probe(
    table: Sorted,
    own_keys: npt.NDArray[Any],
    own_docs: npt.NDArray[np.int64],
    probe: npt.NDArray[Any],
    self_id: npt.NDArray[np.int64],
    self_rep: npt.NDArray[np.bool_],
    max_size: int,
    *,
    star: bool,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Probe the index's segments and the batch's own representatives (``own_*``); only
    the members a pair needs are gathered from the segments."""
    order = np.lexsort((own_docs, own_keys))
    own = Sorted([own_keys[order]], [own_docs[order].astype(np.int64)])
    own_lo, own_hi = (r[:, 0] for r in own.ranges(probe))
    lo, hi = table.ranges(probe)
    size = (hi - lo).sum(axis=1) + (own_hi - own_lo)
    most = np.where((size <= max_size)[:, None], hi - lo, 1 if star else 0)
    docs, g_lo, g_hi = table.members(lo, hi, most)
    return _links(
        size, g_lo, g_hi, docs, own_lo, own_hi, own.docs[0], self_id, self_rep, max_size, star
    )


def probing(reader: IndexReader, batch: Batch, max_group: int) -> npt.NDArray[np.bool_]:
    """Which new rows are probed: representatives, and the copies that share their
    representative's pairs (a group of at most ``max_group``: larger groups are only
    linked to their first document, as the scan does)."""
    lo, hi = reader.content_sorted.ranges(batch.content)
    _, inverse, counts = np.unique(batch.content, return_inverse=True, return_counts=True)
    size = (hi - lo).sum(axis=1) + counts[inverse]
    out: npt.NDArray[np.bool_] = batch.is_rep | (size <= max_group)
    return out


def lsh_proposals(reader: IndexReader, batch: Batch, config: RunConfig) -> pl.DataFrame:
    """Pairs sharing a band key, by the scan's bucket rules (``a < b`` as doc ids)."""
    found_a: list[npt.NDArray[np.int64]] = []
    found_b: list[npt.NDArray[np.int64]] = []
    reps = batch.is_rep
    probe = probing(reader, batch, config.verify.max_exact_group)
    for j, band in enumerate(reader.bands):
        a, b = _probe(
            band,
            batch.keys[reps, j],
            batch.ids[reps],
            batch.keys[probe, j],
            batch.ids[probe],
            reps[probe],
            config.lsh.max_bucket,
            star=True,
        )
        found_a.append(a)
        found_b.append(b)
    if not found_a:
        return pl.DataFrame(schema=PAIRS_SCHEMA)
    both = np.unique(np.stack([np.concatenate(found_a), np.concatenate(found_b)], axis=1), axis=0)
    return pl.DataFrame({"a": both[:, 0], "b": both[:, 1]}, schema=PAIRS_SCHEMA)


def _entries(
    batch: Batch, rows: npt.NDArray[np.bool_], stride: int
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Sampled shingles of the rows where ``rows`` is true: hash, ``doc_id`` and row."""
    h, row = csr_entries(batch.hashes, batch.offsets, 0, len(batch.ids), stride)
    sel = rows[row]
    return h[sel], batch.ids[row[sel]], row[sel]


def overlap_proposals(reader: IndexReader, batch: Batch, config: RunConfig) -> pl.DataFrame:
    """Pairs sharing at least ``min_shared`` rare sampled shingles, by the scan's rules."""
    stride = int(reader.manifest["overlap_stride"])
    rep_h, rep_doc, _ = _entries(batch, batch.is_rep, stride)
    probe = probing(reader, batch, config.verify.max_exact_group)
    h, doc, row = _entries(batch, probe, stride)
    a, b = _probe(
        reader.overlap, rep_h, rep_doc, h, doc, batch.is_rep[row], config.overlap.max_df, star=False
    )
    if len(a) == 0:
        return pl.DataFrame(schema=PAIRS_SCHEMA)
    links = pl.DataFrame({"a": a, "b": b}, schema=PAIRS_SCHEMA)
    counted = links.group_by("a", "b").len()
    return counted.filter(pl.col("len") >= config.overlap.min_shared).select("a", "b")


def group_members(
    reader: IndexReader, content: npt.NDArray[np.uint64], most: int
) -> npt.NDArray[np.int64]:
    """The first ``most`` indexed documents (by ``doc_id``) of each content hash given."""
    lo, hi = reader.content_sorted.ranges(content)
    docs, _, _ = reader.content_sorted.members(lo, hi, np.full_like(lo, most))
    return np.unique(docs)
