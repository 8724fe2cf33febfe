"""glibc's allocator in dask workers: undo the setting that makes the bootstrap slow.

dask's nanny starts every worker with ``MALLOC_TRIM_THRESHOLD_=65536``
(``distributed.nanny.pre-spawn-environ``) so that freed memory goes back to the system
quickly. Setting any of glibc's thresholds switches off glibc's *dynamic* mmap threshold,
so every array above 128 kB is then mapped and unmapped by the kernel on each allocation,
and the heap top is trimmed whenever 64 kB are free: the bootstrap allocates many
short-lived arrays of that size, and each replicate chunk ran 1.4--1.9x slower in such a
worker (measured, issue 14). :func:`restore_dynamic_thresholds` sets the values glibc's
dynamic rule would reach on its own -- mmap threshold 32 MB (its ceiling on 64-bit
systems) and trim threshold twice that -- once per process, only in a dask worker whose
environment carries ``MALLOC_TRIM_THRESHOLD_`` and only on glibc (a user's own process
keeps whatever it was started with).
The cost: a worker keeps up to 64 MB of freed heap for reuse instead of returning it.
Set ``LCSEM_MALLOC_TUNING=0`` in the workers' environment to keep dask's setting.

In every other process the dynamic rule is active but starts at 128 kB and rises only
when a mapped block is freed, to that block's size: until the engine's largest temporary
has been freed once, each of them is a fresh mapping, zero-filled page by page (the
two-group bootstrap spent a third of its CPU in such page faults: 1.39 s against 0.91 s
per 1,000 replicates). :func:`warm_dynamic_threshold` allocates and frees one 24 MB block
once per process, which moves the threshold there by glibc's own rule -- no ``mallopt``,
no environment variable, nothing a later allocation could notice beyond heap reuse.
"""

from __future__ import annotations

import ctypes
import os
import sys

import numpy as np

__all__ = ["restore_dynamic_thresholds", "warm_dynamic_threshold", "MMAP_THRESHOLD", "TRIM_THRESHOLD"]

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3      # glibc's mallopt parameters (malloc.h)
MMAP_THRESHOLD = 32 * 2**20
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD

WARM_BYTES = 24 * 2**20

_done = False
_warm = False


def _in_dask_worker() -> bool:
    """Whether this code runs in a dask.distributed worker."""
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return False
    try:
        distributed.get_worker()
    except ValueError:
        return False
    return True


def restore_dynamic_thresholds() -> bool:
    """Once per process: in a dask worker started with ``MALLOC_TRIM_THRESHOLD_`` in its
    environment, set glibc's mmap and trim thresholds to the ceiling of its dynamic rule.
    Returns whether the thresholds were set (by this call or an earlier one)."""
    global _done
    if _done:
        return True
    if (not sys.platform.startswith("linux") or "MALLOC_TRIM_THRESHOLD_" not in os.environ
            or os.environ.get("LCSEM_MALLOC_TUNING", "1") == "0" or not _in_dask_worker()):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt          # glibc only: musl has no mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    _done = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _done


def warm_dynamic_threshold() -> None:
    """Once per process: allocate and free one 24 MB block, so that glibc's dynamic mmap
    threshold rises above the engine's temporaries (see the module docstring)."""
    global _warm
    if not _warm:
        np.empty(WARM_BYTES, dtype=np.uint8)     # freed at once: glibc raises its threshold
        _warm = True
