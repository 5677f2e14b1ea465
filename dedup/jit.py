"""Numba kernels compiled (or loaded from numba's cache) on first call, not at import.

Importing numba and loading cached kernels costs about half a second; a scan of a few
small files needs neither (the lexical stages have plain numpy twins for small inputs).
So kernel modules decorate with :func:`njit` from here instead of numba's: the decorator
only records the function. Its first call imports numba, swaps every lazy kernel the
function's module refers to for a numba dispatcher (so kernels can call each other) and
binds the module's ``prange`` to numba's, then compiles with the recorded options.
Numba's cache keys on the function's file, name and line, as with numba's decorator.

Threads (:func:`set_threads`) are recorded too and applied once numba is loaded.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any, TypeVar, cast

F = TypeVar("F", bound=Callable[..., Any])

prange = range  # rebound to ``numba.prange`` in a kernel module before it compiles

_threads: list[int] = []  # the last requested thread count, applied when numba loads


class LazyKernel:
    """A function to compile with numba on first call."""

    def __init__(self, fn: Callable[..., Any], options: dict[str, Any]) -> None:
        self.py_func = fn
        self.options = options
        self._dispatcher: Any = None
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__
        self.__wrapped__ = fn

    def dispatcher(self) -> Any:
        """The numba dispatcher (made on first use; numba is imported then)."""
        if self._dispatcher is None:
            numba = _numba()
            # A dispatcher compiles on its first call, so it can be made before the
            # module's names are swapped (which may reach back to this kernel).
            self._dispatcher = numba.njit(**self.options)(self.py_func)
            scope = self.py_func.__globals__
            if scope.get("prange") is range:
                scope["prange"] = numba.prange
            for name, value in list(scope.items()):
                if isinstance(value, LazyKernel):
                    scope[name] = value.dispatcher()
        return self._dispatcher

    def __call__(self, *args: Any) -> Any:
        return self.dispatcher()(*args)


def njit(**options: Any) -> Callable[[F], F]:
    """``numba.njit(**options)``, deferred to the kernel's first call."""

    def wrap(fn: F) -> F:
        return cast(F, LazyKernel(fn, options))

    return wrap


def loaded() -> bool:
    """Whether numba has been imported in this process."""
    return "numba" in sys.modules


def _numba() -> Any:
    import numba

    if _threads:
        _apply_threads(numba, _threads[-1])
    return numba


def _apply_threads(numba: Any, workers: int) -> None:
    most: int = numba.config.NUMBA_NUM_THREADS
    numba.set_num_threads(min(workers, most) if workers else most)


def set_threads(workers: int) -> None:
    """Threads of the numba kernels: ``workers``, or all (0). Applied now if numba is
    loaded, else when the first kernel compiles."""
    _threads[:] = [workers]
    if loaded():
        _apply_threads(sys.modules["numba"], workers)


def get_threads() -> int:
    """Threads the kernels run on now (numba's count once loaded, else the request, else 0
    for all)."""
    if loaded():
        return int(sys.modules["numba"].get_num_threads())
    return _threads[-1] if _threads else 0


def one_blas_thread() -> AbstractContextManager[Any]:
    """Numpy's BLAS on one thread, for loops of many small matrix products (the aligner's
    sentence matrices, pair scores).

    Once torch has run, its OpenMP threads and numpy's OpenBLAS threads contend for the same
    cores: a 35×384 by 384×40 product then took 180–250 µs on two BLAS threads against about
    40 µs on one (2 cores). Before torch is imported, or without threadpoolctl (both come with
    the ``semantic`` extra), nothing changes (and nothing is imported).
    """
    if "torch" not in sys.modules:
        return nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return nullcontext()
    return cast(AbstractContextManager[Any], threadpool_limits(limits=1, user_api="blas"))
