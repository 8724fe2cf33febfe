"""Chunks of replicates on worker processes: this process works too, workers join when ready.

With joblib's default backend (loky), ``n_jobs = k`` runs the chunks in this process and
``k - 1`` loky worker processes (lcsem's own pool, kept between calls as joblib keeps its own). A new
worker first has to start Python and import lcsem (about a second here), longer than a
whole run of a few thousand small-model replicates; so this process never waits for
them: it takes chunks from the front of the queue while each worker first answers a
ping (:func:`_ready`, whose unpickling imports lcsem), and only workers that have
answered are given chunks, from the back of the queue, one at a time (the next the
moment they return one). A cold call whose work would be over before a worker is ready
(judged from its first chunk) does not wait for workers at all: it runs here, as
``n_jobs=1``, and starts them when the run is over; a warm call shares the work from the
start. The numbers do not depend on who computes a chunk.

With ``joblib.parallel_backend("dask")`` the chunks go to the backend's dask.distributed
client directly (:func:`run_with_dask`): ``joblib.Parallel`` on that backend adds about 30 ms
to every call (measured on a 2-worker LocalCluster: 31 ms for four empty tasks, 10 ms with
``client.map``), a tenth of a 4,000-replicate run. Other backends (``"threading"``, ray)
run through ``joblib.Parallel`` unchanged.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Any, Callable, Sequence

from .._threads import one_blas_thread

__all__ = ["default_backend_is_loky", "dask_client", "run_with_dask", "run_with_loky", "start_wanted_workers",
           "WORKER_TIMEOUT", "WORKER_START"]

#: Seconds an idle worker process is kept for the next call (joblib's default).
WORKER_TIMEOUT = 300
#: Seconds of remaining work below which a cold call does not start workers. A new worker
#: takes 0.5-0.6 s to start Python and import lcsem on an idle machine, 0.75 s while this
#: process computes, which it slows by about 0.15 s meanwhile: measured on 12,000 HS
#: replicates (1.1 s), starting one broke even, so workers start from 1.5 s of work on.
WORKER_START = 1.5


def _ready() -> bool:
    """Runs in a worker: answering means lcsem is imported there (unpickling this
    function imported it) and the BLAS thread controller every chunk uses is built."""
    with one_blas_thread():
        return True


def default_backend_is_loky() -> bool:
    """Whether joblib's active backend is loky (its default: no ``parallel_backend``
    context, or ``parallel_backend("loky")``). Without ``joblib.parallel`` imported no
    context can be active: that case does not import joblib (30 ms, a tenth of a short
    cold ``n_jobs=2`` call that then runs here)."""
    if "joblib.parallel" not in sys.modules:
        return True
    from joblib._parallel_backends import LokyBackend
    from joblib.parallel import get_active_backend

    backend, _ = get_active_backend()
    return isinstance(backend, LokyBackend)


def dask_client():
    """The dask.distributed client of an active ``joblib.parallel_backend("dask")``, or None."""
    from joblib.parallel import get_active_backend

    backend, _ = get_active_backend()
    if type(backend).__name__ != "DaskDistributedBackend":
        return None
    return getattr(backend, "client", None)


def run_with_dask(client, call: Callable[[Any], Any], tasks: Sequence[Any], done: Callable[[Any], None]) -> None:
    """``call(task)`` for every task on ``client``'s workers, ``done(result)`` in the order
    they finish; on an interruption or an error the chunks not yet finished are cancelled."""
    from distributed import as_completed

    futures = client.map(call, list(tasks), pure=False)
    try:
        for future in as_completed(futures):
            done(future.result())
    finally:
        left = [f for f in futures if not f.done()]
        if left:
            client.cancel(left)


_POOL: dict = {}                    # "executor", "workers"
_POOL_LOCK = threading.Lock()       # a call and the background start of the workers


_WANTED: set = set()                # pool sizes a short cold call wanted


def _start(n_workers: int) -> None:
    """Start lcsem's pool of ``n_workers`` processes (each answers a ping when ready)."""
    executor = _executor(n_workers)
    for _ in range(n_workers):
        executor.submit(_ready)


def start_wanted_workers() -> None:
    """Start, from a background thread, the workers that a short cold call of
    :func:`run_with_loky` ran without (for the next call); called when a run is over, as
    spawning them takes this process tens of milliseconds."""
    while _WANTED:
        threading.Thread(target=_start, args=(_WANTED.pop(),), daemon=True, name="lcsem-workers").start()


def _executor(n_workers: int):
    """lcsem's own loky pool of ``n_workers`` processes, kept between calls (idle workers
    exit after :data:`WORKER_TIMEOUT` seconds and are started again when needed). Not
    joblib's shared executor: joblib expects that one to be its memmapping executor."""
    from joblib.externals.loky import ProcessPoolExecutor

    with _POOL_LOCK:
        pool = _POOL.get("executor")
        flags = getattr(pool, "_flags", None)
        unusable = flags is not None and (getattr(flags, "broken", None) or getattr(flags, "shutdown", False))
        if pool is None or _POOL.get("workers") != n_workers or unusable:
            if pool is not None:
                pool.shutdown(wait=False)
            pool = ProcessPoolExecutor(max_workers=n_workers, timeout=WORKER_TIMEOUT)
            _POOL.update(executor=pool, workers=n_workers)
        return pool


def _warm(n_workers: int) -> bool:
    """Whether lcsem's pool has ``n_workers`` live worker processes (started by an earlier
    call and not yet timed out)."""
    pool = _POOL.get("executor")
    if pool is None or _POOL.get("workers") != n_workers:
        return False
    processes = getattr(pool, "_processes", None) or {}
    return len(processes) == n_workers and all(p.is_alive() for p in processes.values())


def run_with_loky(call: Callable[[Any], Any], tasks: Sequence[Any], n_jobs: int,
                  finished: Callable[[Any], Sequence[Any] | None]) -> None:
    """Run ``call(task)`` for every task in this process and ``n_jobs - 1`` loky workers;
    ``finished(output)`` is called in this thread as each task finishes (in any order)
    and may return more tasks to run. ``call`` must be picklable (a module-level function
    or a ``functools.partial`` of one).

    Without live workers, the first chunk is computed here first: when the others would
    take less than :data:`WORKER_START` seconds here, they are all computed here (a worker
    would be ready too late to win back what starting it costs this process) and
    :func:`start_wanted_workers` starts them when the run is over, for the next call.
    Otherwise this process computes in a helper thread, so this thread gives a worker its
    next chunk the moment it returns one; every process holds one chunk at a time, so the
    run ends at most one chunk after the last one starts.
    """
    pending = deque(tasks)
    if not _warm(n_jobs - 1):
        started = time.perf_counter()
        pending.extend(finished(call(pending.popleft())) or ())
        if (time.perf_counter() - started) * len(pending) < WORKER_START:
            while pending:
                pending.extend(finished(call(pending.popleft())) or ())
            _WANTED.add(n_jobs - 1)           # started by start_wanted_workers, for the next call
            return
    executor = _executor(n_jobs - 1)
    pings = {executor.submit(_ready) for _ in range(n_jobs - 1)}
    local = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lcsem-bootstrap")
    running: dict = {}             # future -> "here" or "worker"
    idle = 0                       # workers that answered and hold no chunk
    try:
        while pending or running:
            if pending and "here" not in running.values():
                running[local.submit(call, pending.popleft())] = "here"
            while pending and idle:
                running[executor.submit(call, pending.pop())] = "worker"
                idle -= 1
            done, _ = wait(set(running) | pings, return_when=FIRST_COMPLETED)
            for future in done:
                if future in pings:
                    pings.discard(future)
                    future.result()
                    idle += 1
                    continue
                if running.pop(future) == "worker":
                    idle += 1
                pending.extend(finished(future.result()) or ())
    finally:
        for future in running:
            future.cancel()
        local.shutdown(wait=False, cancel_futures=True)
