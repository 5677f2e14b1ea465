"""The bundled MiniLM in plain torch: the scan's sentence encoder, without sentence-transformers.

Importing sentence-transformers (and transformers with it) costs about 4 s on top of torch's
1.4 s before the first sentence. This module reads the bundled model's weights
(``model.safetensors``) and tokenizer (``tokenizer.json``) and runs the same BERT encoder and
mean pooling with torch's own operators, so a scan pays for torch alone. Its vectors equal the
sentence-transformers model's (the tests compare them to a cosine of 0.9999).

**Precision.** The linear layers, which take most of the time, may run in bfloat16 where the
CPU multiplies bfloat16 natively (AVX-512 BF16 or AMX): about 1.9× the float32 speed on 2
cores for news sentences, with every sentence vector within a cosine of 0.9999 of float32's.
Attention and GELU read the linear layers' bfloat16 outputs; residual sums, layer norms and
pooling are in float32 (converting every output back cost 15%). ``precision="auto"`` takes
bfloat16 only on such a CPU; a GPU, or a CPU that would emulate bfloat16, runs float32.

Used for the bundled model only; a model named by the user goes through sentence-transformers
(:func:`dedup.semantic.embed.load_model`).
"""

from __future__ import annotations

import functools
import math
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from dedup.config import PRECISIONS
from dedup.errors import ModelError
from dedup.semantic.minilm import (
    EPS,
    HEADS,
    BertEncoder,
    FloatArray,
    layer_count,
    read_tokenizer,
)


@functools.lru_cache(maxsize=1)
def native_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware (as oneDNN reports it)."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(precision: str, device: str) -> str:
    """``"float32"`` or ``"bfloat16"`` for a requested precision on ``device``.

    Raises:
        ValueError: For a precision not in :data:`PRECISIONS`.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if precision == "auto":
        return "bfloat16" if device == "cpu" and native_bfloat16() else "float32"
    return precision


class TorchMiniLM(BertEncoder):
    """A BERT sentence encoder with mean pooling, in torch.

    Args:
        folder: The model folder (``model.safetensors``, ``tokenizer.json``).
        device: Torch device (``"cpu"``, ``"cuda"``…).
        precision: ``"auto"``, ``"float32"`` or ``"bfloat16"`` for the linear layers.
    """

    def __init__(self, folder: Path, *, device: str = "cpu", precision: str = "auto") -> None:
        import torch
        from safetensors.torch import load_file

        self.device = device
        self.precision = resolve_precision(precision, device)
        try:
            w = load_file(str(folder / "model.safetensors"), device=device)
            self.tokenizer = read_tokenizer(folder)
        except (OSError, ValueError, RuntimeError) as exc:
            raise ModelError(f"cannot read the model in {folder}: {exc}") from exc
        self.w = {k: v.float() for k, v in w.items()}
        self.layers = layer_count(self.w)
        self.dtype = torch.bfloat16 if self.precision == "bfloat16" else torch.float32
        self.dim = int(self.w["embeddings.word_embeddings.weight"].shape[1])
        # one matrix for the query, key and value projections; the linear weights in the
        # multiplication dtype once, not at every batch
        self.linear: dict[str, tuple[Any, Any]] = {}
        for i in range(self.layers):
            pre = f"encoder.layer.{i}."
            att = pre + "attention.self."
            self.linear[pre + "qkv"] = (
                torch.cat([self.w[att + f"{k}.weight"] for k in ("query", "key", "value")]),
                torch.cat([self.w[att + f"{k}.bias"] for k in ("query", "key", "value")]),
            )
            for name in ("attention.output.dense", "intermediate.dense", "output.dense"):
                self.linear[pre + name] = (
                    self.w[pre + name + ".weight"],
                    self.w[pre + name + ".bias"],
                )
        self.linear = {
            k: (weight.to(self.dtype).contiguous(), bias.to(self.dtype))
            for k, (weight, bias) in self.linear.items()
        }

    def _dense(self, x: Any, name: str) -> Any:
        """A linear layer in the multiplication dtype (its output stays in it)."""
        import torch.nn.functional as F

        weight, bias = self.linear[name]
        return F.linear(x.to(self.dtype), weight, bias)

    def _norm(self, x: Any, name: str) -> Any:
        """Residual sum and layer norm in float32."""
        import torch.nn.functional as F

        return F.layer_norm(
            x.float(), (self.dim,), self.w[name + ".weight"], self.w[name + ".bias"], eps=EPS
        )

    def _layer(self, h: Any, attend: Any, i: int) -> Any:
        import torch
        import torch.nn.functional as F

        pre = f"encoder.layer.{i}."
        b, n, d = h.shape
        qkv = self._dense(h, pre + "qkv").view(b, n, 3, HEADS, d // HEADS)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        # attention as two batched products and a float32 softmax: on news sentences 3-7%
        # faster end to end than torch's fused CPU kernel (alternated runs), same vectors
        weights = torch.matmul(q, k.transpose(-1, -2)).float() * (1.0 / math.sqrt(d // HEADS))
        weights = torch.softmax(weights + attend, dim=-1).to(self.dtype)
        ctx = torch.matmul(weights, v).transpose(1, 2).reshape(b, n, d)
        out = self._dense(ctx, pre + "attention.output.dense")
        h = self._norm(out.float() + h, pre + "attention.output.LayerNorm")
        mid = F.gelu(self._dense(h, pre + "intermediate.dense"))
        out = self._dense(mid, pre + "output.dense")
        return self._norm(out.float() + h, pre + "output.LayerNorm")

    def _forward(self, ids_np: npt.NDArray[np.int64], keep_np: FloatArray) -> FloatArray:
        import torch

        ids = torch.from_numpy(ids_np).to(self.device)
        keep = torch.from_numpy(keep_np).to(self.device)
        n = ids.shape[1]
        h = (
            self.w["embeddings.word_embeddings.weight"][ids]
            + self.w["embeddings.position_embeddings.weight"][:n][None]
            + self.w["embeddings.token_type_embeddings.weight"][0]
        )
        h = self._norm(h, "embeddings.LayerNorm")
        # added to the attention logits: 0 for a real piece, -inf for padding
        attend = torch.zeros_like(keep).masked_fill(keep == 0, float("-inf"))[:, None, None, :]
        for i in range(self.layers):
            h = self._layer(h, attend, i)
        pooled = (h * keep[:, :, None]).sum(dim=1) / keep.sum(dim=1).clamp(min=1.0)[:, None]
        out: FloatArray = pooled.cpu().numpy().astype(np.float32)
        return out

    def _running(self) -> AbstractContextManager[Any]:
        import torch

        return cast(AbstractContextManager[Any], torch.inference_mode())
