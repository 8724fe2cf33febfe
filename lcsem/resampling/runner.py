"""Run replicates in chunks: in process or through joblib, with checkpoints and progress.

Chunks are independent tasks (a worker needs the :class:`ReplicateSpec`, the data and
which replicates to make), so any joblib backend -- processes (loky), threads, a
dask.distributed or ray cluster -- runs them. Each task caps BLAS at one thread
(threadpoolctl): the batched linear algebra is on small matrices, where a second BLAS
thread only fights the other workers for the cores. Each chunk is stored as soon as it
finishes, so a ``KeyboardInterrupt`` keeps every chunk finished so far.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np

from .._threads import one_blas_thread
from ..exceptions import ArgumentError
from .allocator import restore_dynamic_thresholds, warm_dynamic_threshold
from .fiml import FIMLSource, evaluate_fiml
from .parallel import dask_client, default_backend_is_loky, run_with_dask, run_with_loky, start_wanted_workers
from .groups import GroupedReplicateSpec, GroupSource, evaluate_groups, group_moments
from .ordinal import OrdinalSource, evaluate_ordinal
from .replicates import FAILED, ChunkOutput, PendingRetries, ReplicateSpec, evaluate, evaluate_pending
from .draws import CaseDraws
from .resample import case_moments, leave_one_out_covariances, parametric_covariances

__all__ = ["Source", "Task", "run_task", "run_all", "Progress"]

SAVE_INTERVAL = 2.0   # seconds between checkpoint writes during a run


@dataclass
class Source:
    """Where replicate covariance matrices come from."""

    kind: str                     # "cases" (resampled rows of X) or "parametric"
    n_obs: int
    X: np.ndarray | None = None   # centred data (cases)
    Sigma: np.ndarray | None = None
    entropy: object = None        # SeedSequence entropy and spawn key (parametric)
    spawn_key: tuple = ()


@dataclass
class Task:
    positions: np.ndarray                      # replicate numbers (ascending)
    draws: CaseDraws | None = None             # how cases are resampled (drawn in the worker)
    leave_out: np.ndarray | None = None        # (R,) row left out of each replicate (jackknife)
    defer: bool = False                        # return the chunk's stragglers as pending
    pending: PendingRetries | None = None      # or: finish these stragglers of other chunks


def run_task(spec: ReplicateSpec | GroupedReplicateSpec, source: Source | GroupSource, task: Task
             ) -> ChunkOutput:
    """Make and evaluate one chunk of replicates (runs in a worker)."""
    if not restore_dynamic_thresholds():       # in a dask worker: glibc's own thresholds
        warm_dynamic_threshold()               # elsewhere: raise the dynamic one once
    with one_blas_thread():
        if task.pending is not None:
            return evaluate_pending(spec, task.pending)
        if isinstance(source, OrdinalSource):
            indices = None if task.draws is None else task.draws.rows(task.positions)
            return evaluate_ordinal(spec, source, task.positions, indices, task.leave_out)
        if isinstance(source, FIMLSource):
            indices = None if task.draws is None else task.draws.rows(task.positions)
            return evaluate_fiml(spec, source, task.positions, indices, task.leave_out)
        if isinstance(source, GroupSource):
            stats = group_moments(source, task.positions, task.draws, task.leave_out)
            return evaluate_groups(spec, stats, task.positions)
        if source.kind == "parametric":
            root = np.random.SeedSequence(source.entropy, spawn_key=source.spawn_key)
            S = parametric_covariances(root, source.Sigma, source.n_obs, int(task.positions[0]),
                                       int(task.positions[-1]) + 1)
            n_obs = source.n_obs
        elif task.leave_out is not None:
            S = leave_one_out_covariances(source.X, task.leave_out)
            n_obs = source.X.shape[0] - 1
        else:
            S = case_moments([source.X], task.draws, task.positions)[1][:, 0]
            n_obs = source.n_obs
        return evaluate(spec, S, n_obs, task.positions, defer_retries=task.defer)


def make_tasks(positions: np.ndarray, batch_size: int, draws: CaseDraws | None) -> list[Task]:
    """Split replicate numbers (ascending) into chunks of at most ``batch_size``; each
    chunk draws its own resamples (``draws``) in the worker."""
    tasks = []
    # contiguous runs first (a resumed checkpoint can have holes): a chunk's parametric
    # draws are made for the range of replicates it covers
    for run in np.split(positions, np.flatnonzero(np.diff(positions) != 1) + 1):
        tasks += [Task(positions=run[start:start + batch_size], draws=draws)
                  for start in range(0, run.size, batch_size)]
    return tasks


def jackknife_tasks(n: int, batch_size: int) -> list[Task]:
    """Leave-one-out replicates in chunks (each chunk holds only the rows it leaves out)."""
    return [Task(positions=np.arange(s, min(n, s + batch_size)), leave_out=np.arange(s, min(n, s + batch_size)))
            for s in range(0, n, batch_size)]


# ---------------------------------------------------------------------- checkpoint
@dataclass
class Store:
    """Accumulated results of a run (all replicates), optionally mirrored to a file."""

    n: int
    n_columns: int
    path: Path | None = None
    meta: dict = field(default_factory=dict)
    values: np.ndarray = field(init=False)
    status: np.ndarray = field(init=False)
    done: np.ndarray = field(init=False)
    reasons: dict = field(default_factory=dict)
    _saved_at: float = field(default=-np.inf, init=False, repr=False)

    def __post_init__(self):
        self.values = np.full((self.n, self.n_columns), np.nan)
        self.status = np.full(self.n, FAILED, dtype=np.int8)
        self.done = np.zeros(self.n, dtype=bool)

    def add(self, out: ChunkOutput) -> None:
        self.values[out.positions] = out.values
        self.status[out.positions] = out.status
        self.reasons.update(out.reasons)
        finished = out.positions if out.pending is None else np.setdiff1d(out.positions, out.pending.positions)
        self.done[finished] = True               # last: a chunk interrupted here is not done

    def save(self, force: bool = True) -> None:
        """Write the store to the checkpoint file (atomically). Unless ``force``, at most
        every :data:`SAVE_INTERVAL` seconds: the whole store is written each time, so
        saving after every chunk would make long runs quadratic; a run saves once more
        when it ends or is interrupted."""
        if self.path is None:
            return
        now = time.monotonic()
        if not force and now - self._saved_at < SAVE_INTERVAL:
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "wb") as fh:
            np.savez(fh, values=self.values, status=self.status, done=self.done,
                     reasons=json.dumps({str(k): list(v) for k, v in self.reasons.items()}),
                     meta=json.dumps(self.meta, sort_keys=True))
        os.replace(tmp, self.path)
        self._saved_at = time.monotonic()

    def load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        try:
            with np.load(self.path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                values, status, done = z["values"], z["status"], z["done"]
                reasons = json.loads(str(z["reasons"]))
        except Exception as exc:  # noqa: BLE001 - any unreadable file is the same problem
            raise ArgumentError(f"checkpoint: {str(self.path)!r} is not an lcsem bootstrap checkpoint "
                                f"({exc}); delete it or pass another path") from exc
        if meta != self.meta:
            raise ArgumentError(
                f"checkpoint: {str(self.path)!r} belongs to a different run (another model, data, kind, "
                f"seed or number of replicates); delete it or pass another path")
        self.values[:], self.status[:], self.done[:] = values, status, done
        self.reasons.update({int(k): tuple(v) for k, v in reasons.items()})


def fingerprint(*arrays: np.ndarray, text: str = "") -> str:
    """A short hash identifying a run's inputs (for checkpoints)."""
    h = hashlib.sha256(text.encode())
    for a in arrays:
        h.update(np.ascontiguousarray(a, dtype=float).tobytes())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------------- progress
class Progress:
    """A tqdm.auto bar (shown only when the run lasts more than a second), or nothing."""

    def __init__(self, enabled: bool, total: int, initial: int, desc: str):
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm        # silences its own experimental-import warning

            self.bar = tqdm(total=total, initial=initial, desc=desc, unit="rep", delay=1.0, leave=False)

    def update(self, k: int) -> None:
        if self.bar is not None:
            self.bar.update(k)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_all(spec: ReplicateSpec | GroupedReplicateSpec, source: Source | GroupSource, tasks: list[Task], store: Store, *, n_jobs: int,
            progress: Progress | None = None) -> bool:
    """Run ``tasks`` into ``store``; return False if interrupted (Ctrl-C).

    Every chunk is stored (and checkpointed) the moment it finishes: in process one after
    the other, with workers in the order they finish, so an interruption keeps every
    finished chunk, wherever it lies in the run. With joblib's default backend (loky)
    this process computes chunks too and ``n_jobs - 1`` workers join as soon as they are
    ready (:mod:`lcsem.resampling.parallel`); with joblib's dask backend the chunks go to
    its client directly; other backends run through ``joblib.Parallel`` (its unordered
    generator).

    Single-group ML chunks run in this process or on lcsem's loky workers leave their last
    few iterating replicates pending (:class:`PendingRetries`); whenever
    :data:`PENDING_BATCH` are waiting they are finished together (with workers, as a task
    of their own), and the last ones are shared among the processes at the end. A
    replicate's numbers do not depend on where it is finished.
    """
    pending: list[PendingRetries] = []
    # stragglers are left pending in one process and with lcsem's own loky scheduling
    # (which shares the last ones among the processes); with other joblib backends (dask,
    # ray) every chunk finishes its own: a second round of their scheduling, or this
    # process finishing them while it collects results, costs more (measured)
    one = n_jobs == 1 or len(tasks) <= 1
    share = not one and default_backend_is_loky()
    try:
        _run(spec, source, [replace(t, defer=one or share) for t in tasks], store, n_jobs, progress, pending)
        if pending and share:
            merged = PendingRetries.merge(pending)
            pending.clear()
            _run(spec, source, [Task(positions=p.positions, pending=p) for p in merged.split(n_jobs)], store,
                 n_jobs, progress, pending)
        _finish_pending(spec, store, pending, progress)
    except KeyboardInterrupt:
        try:                            # a few replicates: finished chunks are then complete
            _finish_pending(spec, store, pending, progress)
        finally:
            store.save()                # every chunk stored so far, whenever the last write was
        return False
    finally:
        if progress:
            progress.close()
        start_wanted_workers()          # workers a short cold call ran without, for the next
    store.save()
    return True


def _run(spec: ReplicateSpec | GroupedReplicateSpec, source: Source | GroupSource, tasks: list[Task], store: Store,
         n_jobs: int, progress: Progress | None, pending: list) -> None:
    """Run ``tasks`` in this process or with workers (:func:`run_all`)."""
    if n_jobs == 1 or len(tasks) <= 1:
        for task in tasks:
            _finished(store, run_task(spec, source, task), progress, pending, spec)
    elif default_backend_is_loky():
        # waiting stragglers go back into the queue as a task: this thread only hands out work
        run_with_loky(partial(run_task, spec, source), tasks, n_jobs,
                      lambda out: _finished(store, out, progress, pending, spec, as_task=True))
    elif (client := dask_client()) is not None:
        run_with_dask(client, partial(run_task, spec, source), tasks,
                      lambda out: _finished(store, out, progress, pending, spec))
    else:
        from joblib import Parallel, delayed

        calls = [delayed(run_task)(spec, source, t) for t in tasks]
        try:
            parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
            outputs = parallel(calls)
        except ValueError:          # a backend without generators (multiprocessing)
            outputs = Parallel(n_jobs=n_jobs)(calls)
        for out in outputs:
            _finished(store, out, progress, pending, spec)


#: chunks' unfinished replicates are finished together once this many are waiting (and at
#: the end of a run): few enough to keep little, many enough to share the per-call costs
PENDING_BATCH = 64


def _finished(store: Store, out: ChunkOutput, progress: Progress | None, pending: list,
              spec: ReplicateSpec | None = None, as_task: bool = False) -> list[Task] | None:
    """Store a finished chunk; when :data:`PENDING_BATCH` stragglers are waiting, finish
    them here, or (``as_task``) return them as a task for the queue."""
    store.add(out)
    store.save(force=False)
    if out.pending is not None:
        pending.append(out.pending)
    if progress:
        progress.update(out.positions.size - (0 if out.pending is None else out.pending.positions.size))
    if spec is None or sum(p.positions.size for p in pending) < PENDING_BATCH:
        return None
    if as_task:
        merged = PendingRetries.merge(pending)
        pending.clear()
        return [Task(positions=merged.positions, pending=merged)]
    _finish_pending(spec, store, pending, progress)
    return None


def _finish_pending(spec: ReplicateSpec, store: Store, pending: list, progress: Progress | None) -> None:
    """Finish the replicates chunks left pending (:class:`PendingRetries`), in one batch."""
    if not pending:
        return
    merged = PendingRetries.merge(pending)
    with one_blas_thread():
        out = evaluate_pending(spec, merged)
    pending.clear()
    _finished(store, out, progress, pending)
