"""Chunks of replicates on worker processes: this process works too, workers join when ready.

With joblib's default backend (loky), ``n_jobs = k`` runs the chunks in this process and
``k - 1`` loky worker processes (reused between calls, as joblib reuses them). A new
worker first has to start Python and import lcsem (about a second here), longer than a
whole run of a few thousand small-model replicates; so this process never waits for
them: it takes chunks from the front of the queue while each worker first answers a
ping (:func:`_ready`, whose unpickling imports lcsem), and only workers that have
answered are given chunks, from the back of the queue, one at a time. A cold call is
therefore never slower than ``n_jobs=1`` by more than the cost of starting the workers
on the other cores, and a warm call shares the work from the start. The numbers do not
depend on who computes a chunk.

Other joblib backends (``with joblib.parallel_backend("dask")``, ``"threading"``, ray)
run through ``joblib.Parallel`` unchanged.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import FIRST_COMPLETED, wait
from typing import Any, Callable, Sequence

__all__ = ["default_backend_is_loky", "run_with_loky", "WORKER_TIMEOUT"]

#: Seconds an idle worker process is kept for the next call (joblib's default).
WORKER_TIMEOUT = 300


def _ready() -> bool:
    """Runs in a worker: answering means lcsem is imported there (unpickling this
    function imported it)."""
    return True


def default_backend_is_loky() -> bool:
    """Whether joblib's active backend is loky (its default: no ``parallel_backend``
    context, or ``parallel_backend("loky")``)."""
    from joblib._parallel_backends import LokyBackend
    from joblib.parallel import get_active_backend

    backend, _ = get_active_backend()
    return isinstance(backend, LokyBackend)


def run_with_loky(call: Callable[[Any], Any], tasks: Sequence[Any], n_jobs: int,
                  finished: Callable[[Any], None]) -> None:
    """Run ``call(task)`` for every task in this process and ``n_jobs - 1`` loky workers;
    ``finished(output)`` is called in this process as each task finishes (in any order).
    ``call`` must be picklable (a module-level function or a ``functools.partial`` of one).
    """
    from joblib.externals.loky import get_reusable_executor

    executor = get_reusable_executor(max_workers=n_jobs - 1, timeout=WORKER_TIMEOUT)
    pending = deque(tasks)
    pings = [executor.submit(_ready) for _ in range(n_jobs - 1)]
    running: dict = {}
    try:
        while pending or running:
            # workers that have answered get one chunk each, from the back of the queue
            ready = sum(ping.done() for ping in pings)
            while pending and len(running) < ready:
                task = pending.pop()
                running[executor.submit(call, task)] = task
            for future in [f for f in running if f.done()]:
                del running[future]
                finished(future.result())
            if pending:
                finished(call(pending.popleft()))
            elif running:
                wait(list(running), return_when=FIRST_COMPLETED)
    finally:
        for future in running:
            future.cancel()
