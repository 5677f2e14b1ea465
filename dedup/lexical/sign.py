"""The streaming stage: read documents in batches; shingle, sign and band-key each batch.

Everything that grows with the corpus's text (shingle hashes, texts kept for alignment) is
spilled to files in a work folder; what stays in memory is one metadata row, one band-key
row and a few integers per document.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from queue import Empty, Queue
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from dedup import schema
from dedup.config import RunConfig
from dedup.io import walk as io
from dedup.io.spill import ShingleStore, TextStore
from dedup.lexical.lsh import band_keys, bands_rows
from dedup.lexical.minhash import signatures
from dedup.lexical.shingle import shingle_texts
from dedup.progress import Progress, Timings


@dataclass
class Corpus:
    """What the streaming stage keeps: one row per document, shingles spilled to disk."""

    documents: pl.DataFrame
    rows: npt.NDArray[np.int64]  # doc_id of each shingled ("ok") document, by row
    hashes: npt.NDArray[np.uint32]
    offsets: npt.NDArray[np.int64]
    keys: npt.NDArray[np.uint64]  # band keys, one row per shingled document
    content: npt.NDArray[np.uint64]
    texts: TextStore | None = None  # texts of shingled documents, for alignment


def doc_meta(doc: io.RawDoc) -> dict[str, Any]:
    """The ``documents`` columns known from reading (no ``doc_id``)."""
    return {
        "path": doc.path,
        "external_id": doc.external_id,
        "status": doc.status,
        "reason": doc.reason,
        "encoding": doc.encoding,
        "n_bytes": doc.n_bytes,
        "n_chars": len(doc.text) if doc.text is not None else None,
    }


@dataclass
class SignedBatch:
    """One batch shingled and signed: the documents that have words, in CSR layout.

    Attributes:
        kept: index in the batch of each shingled document (status ok, at least one word).
        hashes: their distinct shingle hashes, concatenated.
        offsets: document ``kept[i]`` owns ``hashes[offsets[i]:offsets[i+1]]``.
        keys: LSH band keys, one row per kept document.
        content: content hash per kept document.
    """

    kept: npt.NDArray[np.int64]
    hashes: npt.NDArray[np.uint32]
    offsets: npt.NDArray[np.int64]
    keys: npt.NDArray[np.uint64]
    content: npt.NDArray[np.uint64]


def sign_batch(
    docs: list[io.RawDoc],
    meta: list[dict[str, Any]],
    cfg: RunConfig,
    timings: Timings | None = None,
) -> SignedBatch:
    """Shingle, sign and band-key ``docs``; fill their token/shingle/hash columns in ``meta``.

    A document with no words after normalization becomes ``skipped`` in ``meta``.
    """
    t0 = time.perf_counter()
    ok = np.array(
        [i for i, d in enumerate(docs) if d.status == "ok" and d.text is not None], dtype=np.int64
    )
    sb = shingle_texts([docs[i].text or "" for i in ok.tolist()], cfg.shingle)
    t1 = time.perf_counter()
    for j, i in enumerate(ok.tolist()):
        row = meta[i]
        row["n_tokens"] = int(sb.n_tokens[j])
        row["n_shingles"] = int(sb.offsets[j + 1] - sb.offsets[j])
        row["content_hash"] = f"{int(sb.content_hash[j]):016x}"
        if sb.n_tokens[j] == 0:
            row["status"], row["reason"] = "skipped", "no words after normalization"
    has_words = sb.n_tokens > 0
    keep = np.flatnonzero(has_words)
    sizes = np.diff(sb.offsets)
    hashes = sb.hashes if has_words.all() else sb.hashes[np.repeat(has_words, sizes)]
    offsets = np.zeros(len(keep) + 1, dtype=np.int64)
    np.cumsum(sizes[keep], out=offsets[1:])
    bands, rows = bands_rows(cfg.lsh, cfg.minhash.num_perm)
    keys = band_keys(signatures(hashes, offsets, cfg.minhash), bands, rows)
    if timings is not None:
        timings.add("shingle", t1 - t0)
        timings.add("minhash", time.perf_counter() - t1)
    return SignedBatch(ok[keep], hashes, offsets, keys, sb.content_hash[keep])


def _batches(docs: Iterator[io.RawDoc], size: int) -> Iterator[list[io.RawDoc]]:
    batch: list[io.RawDoc] = []
    for doc in docs:
        batch.append(doc)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _prefetch(batches: Iterator[list[io.RawDoc]], depth: int = 2) -> Iterator[list[io.RawDoc]]:
    """Read the next batches in a background thread while the kernels work on this one."""
    queue: Queue[tuple[str, Any]] = Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in batches:
                if stop.is_set():
                    return
                queue.put(("batch", batch))
            queue.put(("end", None))
        except BaseException as exc:  # re-raised in the consuming thread
            queue.put(("error", exc))

    worker = threading.Thread(target=produce, name="dedup-reader", daemon=True)
    worker.start()
    try:
        while True:
            kind, item = queue.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(Empty):
                queue.get_nowait()
            worker.join(timeout=0.05)


_META_SCHEMA = {c: schema.DOCUMENTS[c] for c in schema.DOCUMENTS}


class _Ingest:
    """Accumulates the streaming stage's output, one batch of documents at a time."""

    def __init__(self, cfg: RunConfig, work: Path, *, keep_texts: bool, timings: Timings) -> None:
        self.cfg = cfg
        self.store = ShingleStore(work / "shingles.u32")
        self.bands, self.rows_per_band = bands_rows(cfg.lsh, cfg.minhash.num_perm)
        self.keep_texts = keep_texts
        self.timings = timings
        self.frames: list[pl.DataFrame] = []  # documents table, one frame per batch
        self.n_docs = 0
        self.ids: list[npt.NDArray[np.int64]] = []
        self.keys: list[npt.NDArray[np.uint64]] = []
        self.content: list[npt.NDArray[np.uint64]] = []
        self.texts = TextStore(work / "texts.utf8") if keep_texts else None

    def add(self, batch: list[io.RawDoc]) -> None:
        """Shingle, sign and band-key one batch; spill its shingles."""
        first = self.n_docs
        meta = [{"doc_id": first + i, **doc_meta(d)} for i, d in enumerate(batch)]
        signed = sign_batch(batch, meta, self.cfg, self.timings)
        self.keys.append(signed.keys)
        self.store.append(signed.hashes, signed.offsets)
        ids = signed.kept + first
        self.ids.append(ids)
        self.content.append(signed.content)
        if self.texts is not None:
            self.texts.append(ids, [batch[int(d) - first].text or "" for d in ids])
        frame = pl.DataFrame(meta, schema=_META_SCHEMA, infer_schema_length=None)
        self.frames.append(schema.conform(frame, "documents"))
        self.n_docs += len(batch)

    def close(self) -> None:
        """Close the spill files (idempotent; also on error)."""
        self.store.close()
        if self.texts is not None:
            self.texts.close()

    def finish(self) -> Corpus:
        """Close the spill files and assemble the corpus."""
        hashes, offsets = self.store.finish()
        if self.texts is not None:
            self.texts.finish()
        documents = pl.concat(self.frames) if self.frames else schema.empty("documents")
        return Corpus(
            documents=documents,
            rows=np.concatenate(self.ids) if self.ids else np.zeros(0, dtype=np.int64),
            hashes=hashes,
            offsets=offsets,
            keys=(
                np.concatenate(self.keys)
                if self.keys
                else np.zeros((0, self.bands), dtype=np.uint64)
            ),
            content=np.concatenate(self.content) if self.content else np.zeros(0, np.uint64),
            texts=self.texts,
        )


def ingest(
    inputs: Sequence[str | Path],
    cfg: RunConfig,
    work: Path,
    *,
    read: io.ReadOptions,
    keep_texts: bool,
    progress: Progress,
    timings: Timings,
) -> Corpus:
    """Stream documents in batches: shingle, sign and band-key each batch."""
    acc = _Ingest(cfg, work, keep_texts=keep_texts, timings=timings)
    stream = io.iter_documents(inputs, options=read)
    progress.stage("read + shingle + minhash")
    try:
        t_read = time.perf_counter()
        for batch in _prefetch(_batches(stream, cfg.batch_size)):
            timings.add("read", time.perf_counter() - t_read)
            acc.add(batch)
            progress.advance(len(batch))
            t_read = time.perf_counter()
        timings.add("read", time.perf_counter() - t_read)
    finally:
        acc.close()
    return acc.finish()
