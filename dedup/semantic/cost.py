"""What the semantic channel costs, predicted from the size of the text, and whether to run it.

The decision (:func:`should_run`) counts characters, not documents: one 200 MB file costs what
it costs, whatever the number of files.
"""

from __future__ import annotations

import os

from dedup.config import SemanticConfig
from dedup.errors import ModelError
from dedup.semantic import embed

#: Throughput of the bundled MiniLM in characters per second: measured on CPU in float32
#: (19–25k chars/s on 2 threads, documents and sentences alike); the GPU figure is an
#: unmeasured assumption.
CPU_CHARS_PER_SECOND_PER_THREAD = 10_000.0
GPU_CHARS_PER_SECOND = 1_000_000.0
#: Speed of bfloat16 linear layers over float32 on a CPU that computes them natively
#: (1.5–1.95× measured in whole scans on 2 cores, 1.9× on news sentences alone; the lower end
#: is assumed; :mod:`dedup.semantic.torch_bert`).
BFLOAT16_SPEEDUP = 1.5
#: Share of the text whose sentences are embedded for verification, assumed by the estimate
#: before the candidates are known.
VERIFY_SHARE = 0.1
#: Throughput of the cheap stage (tokenizer and static table) in characters per second.
STATIC_CHARS_PER_SECOND = 2_000_000.0


def transformer_chars_per_second(device: str = "cpu", precision: str = "auto") -> float:
    """Assumed throughput of the transformer on ``device``, in characters per second, in
    ``precision`` (:func:`dedup.semantic.torch_bert.resolve_precision`)."""
    if device != "cpu":
        return GPU_CHARS_PER_SECOND
    try:
        import torch

        from dedup.semantic.torch_bert import resolve_precision

        threads = max(int(torch.get_num_threads()), 1)
        fast = resolve_precision(precision, device) == "bfloat16"
    except ImportError:
        threads, fast = os.cpu_count() or 1, False
    return CPU_CHARS_PER_SECOND_PER_THREAD * threads * (BFLOAT16_SPEEDUP if fast else 1.0)


def estimate_seconds(
    n_docs: int,
    n_chars: int,
    device: str = "cpu",
    *,
    verify_chars: int | None = None,
    precision: str = "auto",
) -> float:
    """Predicted wall time of the channel, from the size of the text (not the document count).

    The cheap stage reads every document (at most
    :data:`dedup.semantic.static.MAX_DOC_CHARS` of each) at :data:`STATIC_CHARS_PER_SECOND`;
    the transformer reads the sentences of the documents
    in candidate pairs: ``verify_chars`` when known, else :data:`VERIFY_SHARE` of the text.

    Args:
        n_docs: Number of documents.
        n_chars: Total characters.
        device: ``"cpu"`` or a GPU device name (where the transformer runs).
        verify_chars: Characters of the documents whose sentences are embedded, when known.
        precision: The transformer's precision setting.

    Returns:
        Seconds (model loading and first-use distillation excluded).
    """
    from dedup.semantic.static import MAX_DOC_CHARS

    read = min(n_chars, n_docs * MAX_DOC_CHARS)
    verify = VERIFY_SHARE * read if verify_chars is None else verify_chars
    return read / STATIC_CHARS_PER_SECOND + verify / transformer_chars_per_second(device, precision)


def should_run(
    config: SemanticConfig, n_docs: int, *, n_chars: int = 0, device: str | None = None
) -> tuple[bool, str]:
    """Whether the pipeline runs the semantic channel, and why (or why not).

    Rules: ``enabled=False`` never; not installed: no, and an error when ``enabled=True``;
    on a GPU, yes; on CPU, yes when :func:`estimate_seconds` is within
    ``max_seconds_cpu``, above that only when ``enabled=True``.

    Args:
        config: The semantic settings.
        n_docs: Number of documents to scan.
        n_chars: Their characters (the estimate's input).
        device: Where the model would run (``"cpu"``, ``"cuda"``…); None: this machine's
            :func:`dedup.semantic.embed.default_device`.

    Returns:
        (run, reason).

    Raises:
        ModelError: When the channel is explicitly enabled but not installed.
    """
    if config.enabled is False:
        return False, "semantic channel disabled"
    ok, reason = embed.is_available()
    if not ok:
        if config.enabled:
            raise ModelError(f"semantic channel requested but unavailable: {reason}")
        return False, f"semantic channel unavailable: {reason}"
    device = device or embed.default_device()
    if device != "cpu":
        return True, f"semantic channel on {device}"
    precision = embed.running_precision(config, device)
    seconds = estimate_seconds(n_docs, n_chars, device, precision=precision)
    size = (
        f"{n_docs} documents, {n_chars / 1e6:.1f} MB: ~{seconds:.0f} s estimated before the "
        "candidates are known"
    )
    if seconds <= config.max_seconds_cpu:
        return True, f"semantic channel on CPU ({size} <= {config.max_seconds_cpu:.0f} s)"
    if config.enabled:
        return True, f"semantic channel on CPU ({size}), as requested"
    return False, (
        f"semantic channel skipped: {size} > {config.max_seconds_cpu:.0f} s on CPU "
        "(--semantic runs it anyway)"
    )
