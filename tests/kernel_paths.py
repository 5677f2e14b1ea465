"""Run a test on the numba kernels or on their plain twins for small inputs.

Each lexical stage (and clustering) picks its plain numpy/Python twin when the input is
small, so a scan of a few files loads no numba. Tests of a stage against its oracle run
on both: ``with kernel_path("numba")`` forces the kernels (limits below zero),
``kernel_path("small")`` forces the twins (limits above any test input).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dedup import cluster
from dedup.lexical import lsh, minhash, overlap, shingle

PATHS = ("small", "numba")

_LIMITS = (
    (shingle, "SMALL_BYTES"),
    (minhash, "SMALL_CELLS"),
    (lsh, "SMALL_DOCS"),
    (overlap, "SMALL"),
    (cluster, "SMALL_EDGES"),
    (cluster, "SMALL_NODES"),
)


@contextmanager
def kernel_path(path: str) -> Iterator[None]:
    """Force every stage onto the numba kernels (``"numba"``) or the twins (``"small"``)."""
    assert path in PATHS
    saved = [getattr(module, name) for module, name in _LIMITS]
    for module, name in _LIMITS:
        setattr(module, name, -1 if path == "numba" else 1 << 62)
    try:
        yield
    finally:
        for (module, name), value in zip(_LIMITS, saved, strict=True):
            setattr(module, name, value)
