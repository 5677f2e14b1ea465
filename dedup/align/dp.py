"""The dynamic-programming core of the sentence aligner, compiled with numba."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from dedup.jit import njit

__all__ = ["align_path"]

_MIN_REWARD = 0.01
_TOL = 1e-6


def _dp(sim: Any, threshold: float) -> Any:  # pragma: no cover - compiled by numba
    n, m = sim.shape
    score = np.zeros((n + 1, m + 1), dtype=np.float64)
    move = np.zeros((n + 1, m + 1), dtype=np.int8)  # 0: match, 1: skip a, 2: skip b
    for i in range(1, n + 1):
        move[i, 0] = 1
    for j in range(1, m + 1):
        move[0, j] = 2
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            best = score[i - 1, j]
            step = 1
            if score[i, j - 1] > best:
                best = score[i, j - 1]
                step = 2
            s = sim[i - 1, j - 1]
            if s >= threshold - _TOL:
                diag = score[i - 1, j - 1] + s - threshold + _MIN_REWARD
                if diag > best:  # ties: skip, so earlier matches win
                    best = diag
                    step = 0
            score[i, j] = best
            move[i, j] = step
    out = np.empty((min(n, m), 2), dtype=np.int64)
    k = 0
    i, j = n, m
    while i > 0 and j > 0:
        step = move[i, j]
        if step == 0:
            i -= 1
            j -= 1
            out[k, 0] = i
            out[k, 1] = j
            k += 1
        elif step == 1:
            i -= 1
        else:
            j -= 1
    return out[:k][::-1]


_dp_compiled = cast(Callable[[Any, float], Any], njit(cache=True, nogil=True)(_dp))


def align_path(sim: npt.NDArray[np.float32], threshold: float) -> list[tuple[int, int]]:
    """Matched ``(i, j)`` pairs of the in-order matching with the greatest total reward.

    A pair may match only when ``sim[i, j] >= threshold``; its reward is
    ``sim[i, j] - threshold + 0.01``; skipping a sentence costs nothing.

    Args:
        sim: ``(n, m)`` similarity matrix.
        threshold: Lowest similarity that may match.

    Returns:
        The pairs, increasing in both ``i`` and ``j``.
    """
    if sim.shape[0] == 0 or sim.shape[1] == 0:
        return []
    path = _dp_compiled(np.ascontiguousarray(sim, dtype=np.float32), float(threshold))
    return [(int(i), int(j)) for i, j in path]
