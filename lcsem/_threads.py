"""One BLAS/OpenMP thread for lcsem's small-matrix algebra.

lcsem works on many small matrices (p x p with p in the tens); a multi-threaded BLAS
gains nothing there and, on a busy machine, its threads fight other processes for the
cores (an SVD of a 60 x 96 Jacobian took 40 ms instead of 2 ms at load 10). The
controller (which finds the loaded BLAS libraries) is built once per process, on first use.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

_CONTROLLER = None


def one_blas_thread() -> AbstractContextManager:
    """A context capping BLAS/OpenMP at one thread inside it."""
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1)
