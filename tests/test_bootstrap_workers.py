"""Issue 14: this process computes chunks while loky workers start; dask workers get
glibc's allocator thresholds back."""

from __future__ import annotations

import os
import time
import warnings

import pandas as pd
import pytest

import lcsem
from lcsem.resampling import allocator
from lcsem.resampling import parallel
from lcsem.resampling.parallel import default_backend_is_loky, run_with_loky


def _slow_pid(task: int) -> tuple[int, int]:
    time.sleep(0.15)
    return task, os.getpid()


def test_every_task_runs_once_and_this_process_works_too():
    for _ in range(2):                           # cold, then warm workers
        out = []
        run_with_loky(_slow_pid, list(range(12)), 2, out.append)
        assert sorted(task for task, _ in out) == list(range(12))
        assert os.getpid() in {pid for _, pid in out}
    # warm: the worker answers at once and shares the work
    assert len({pid for _, pid in out}) == 2


def _quick_pid(task: int) -> tuple[int, int]:
    time.sleep(0.01)
    return task, os.getpid()


def test_a_short_cold_call_runs_here_and_starts_the_workers_for_the_next():
    """A cold call whose chunks would be done before a worker could start runs in this
    process alone (as n_jobs=1) and leaves the workers starting for the next call."""
    pool = parallel._POOL.pop("executor", None)
    parallel._POOL.pop("workers", None)
    if pool is not None:
        pool.shutdown(wait=True)
    out = []
    run_with_loky(_quick_pid, list(range(6)), 2, out.append)
    assert sorted(task for task, _ in out) == list(range(6))
    assert {pid for _, pid in out} == {os.getpid()}
    assert not parallel._warm(1)                  # none started during the call
    parallel.start_wanted_workers()               # as a run ends (runner.run_all)
    deadline = time.monotonic() + 60
    while not parallel._warm(1) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert parallel._warm(1)
    out = []
    run_with_loky(_slow_pid, list(range(12)), 2, out.append)      # warm: shared from the start
    assert len({pid for _, pid in out}) == 2


def test_joblib_parallel_still_works_after_a_run_with_workers():
    """lcsem's worker pool is its own: joblib's shared loky executor stays joblib's."""
    from joblib import Parallel, delayed

    run_with_loky(_slow_pid, [0, 1], 2, lambda out: None)
    assert len(Parallel(n_jobs=2)(delayed(os.getpid)() for _ in range(4))) == 4
    out = []
    run_with_loky(_slow_pid, [0, 1, 2], 2, out.append)
    assert sorted(task for task, _ in out) == [0, 1, 2]


def test_other_joblib_backends_are_used_as_they_are():
    import joblib

    assert default_backend_is_loky()
    with joblib.parallel_backend("threading"):
        assert not default_backend_is_loky()


@pytest.fixture(scope="module")
def hs_fit(fitted):
    return fitted["holzinger_swineford"]


def _bootstrap(res, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lcsem.BootstrapFailureWarning)
        return lcsem.bootstrap(res, progress=False, **kwargs)


def test_loky_workers_give_the_numbers_of_one_process(hs_fit, monkeypatch):
    monkeypatch.setattr(parallel, "WORKER_START", 0.0)      # workers even for a short cold run
    a = _bootstrap(hs_fit, n_resamples=300, seed=31)
    b = _bootstrap(hs_fit, n_resamples=300, seed=31, n_jobs=2, batch_size=25)
    pd.testing.assert_frame_equal(a.distribution, b.distribution)
    assert a.status.equals(b.status)


def test_allocator_thresholds_are_left_alone_outside_dask_workers(monkeypatch):
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    monkeypatch.setattr(allocator, "_done", False)
    assert allocator.restore_dynamic_thresholds() is False


def _tune_in_worker() -> tuple[str | None, bool]:
    from lcsem.resampling.allocator import restore_dynamic_thresholds

    return os.environ.get("MALLOC_TRIM_THRESHOLD_"), restore_dynamic_thresholds()


@pytest.mark.parametrize("tuning, expected", [(None, True), ("0", False)])
def test_dask_workers_get_glibc_thresholds_back(monkeypatch, tuning, expected):
    distributed = pytest.importorskip("distributed")
    if tuning is not None:
        monkeypatch.setenv("LCSEM_MALLOC_TUNING", tuning)        # inherited by the worker
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        env, tuned = client.submit(_tune_in_worker, pure=False).result()
    assert env == "65536"                  # dask's nanny sets it ...
    assert tuned is expected               # ... and lcsem resets glibc's thresholds unless told not to


def test_stragglers_queued_and_shared_among_loky_workers_give_the_same_numbers(hs_fit, monkeypatch):
    """With workers, waiting stragglers go back into the queue as a task and the last ones
    are split among the processes: the distribution is that of one process, bit for bit."""
    from lcsem.resampling import runner

    merges = {"n": 0}
    real_merge = runner.PendingRetries.merge

    def counting_merge(parts):
        merges["n"] += 1
        return real_merge(parts)

    one = _bootstrap(hs_fit, n_resamples=400, seed=5, batch_size=40)
    monkeypatch.setattr(parallel, "WORKER_START", 0.0)
    monkeypatch.setattr(runner, "PENDING_BATCH", 6)
    monkeypatch.setattr(runner.PendingRetries, "merge", staticmethod(counting_merge))
    two = _bootstrap(hs_fit, n_resamples=400, seed=5, batch_size=40, n_jobs=2)
    assert merges["n"] >= 2                       # queued mid-run, and the last ones shared
    pd.testing.assert_frame_equal(one.distribution, two.distribution)
    assert one.status.equals(two.status)


def test_dask_chunks_go_to_the_client_directly_with_the_numbers_of_one_process(hs_fit, monkeypatch):
    """With ``parallel_backend("dask")`` the chunks are submitted to the backend's client
    (joblib.Parallel costs about 30 ms a call there), with the numbers of one process."""
    distributed = pytest.importorskip("distributed")
    joblib = pytest.importorskip("joblib")
    from lcsem.resampling import runner

    def no_joblib(*args, **kwargs):
        raise AssertionError("joblib.Parallel was used with the dask backend")

    one = _bootstrap(hs_fit, n_resamples=120, seed=6)
    monkeypatch.setattr(joblib, "Parallel", no_joblib)
    with distributed.Client(processes=False, n_workers=2, threads_per_worker=1, dashboard_address=None) as client:
        with joblib.parallel_backend("dask"):
            assert runner.dask_client() is client
            two = _bootstrap(hs_fit, n_resamples=120, seed=6, n_jobs=2, batch_size=20)
    assert runner.dask_client() is None                # outside the context: not dask
    pd.testing.assert_frame_equal(one.distribution, two.distribution)
    assert one.status.equals(two.status)


@pytest.mark.parametrize("n, workers, k", [(4000, 2, 21), (12000, 2, 21), (4000, 2, 35), (1000, 3, 21),
                                           (4000, 4, 120), (50, 2, 21), (3, 2, 21)])
def test_remote_backends_get_larger_chunks_the_same_number_for_every_worker(n, workers, k):
    from lcsem.resampling.api import REMOTE_BATCH, default_batch_size

    size = default_batch_size(n, workers, k, remote=True)
    local = default_batch_size(n, workers, k)
    chunks = -(-n // size)
    assert size >= local and size <= max(REMOTE_BATCH, 25)
    # every worker as many chunks (within one when each has many: rounding to tiles)
    assert chunks % workers == 0 or chunks < workers or chunks >= 8 * workers
    assert n - (chunks - 1) * size <= size                # the last chunk is not larger
    if n >= 1000:
        assert chunks * size - n < size                   # no empty chunk


def test_a_non_loky_backend_gets_equal_remote_chunks_with_the_numbers_of_one_process(hs_fit, monkeypatch):
    """With joblib's threading backend (as with dask): 2,000-replicate chunks for 2 workers
    on 4,000 HS replicates (not four of 1,000), the numbers of one process."""
    joblib = pytest.importorskip("joblib")
    from lcsem.resampling import api

    sizes = []
    real = api.make_tasks

    def spy(positions, batch_size, draws):
        sizes.append(batch_size)
        return real(positions, batch_size, draws)

    monkeypatch.setattr(api, "make_tasks", spy)
    one = _bootstrap(hs_fit, n_resamples=4000, seed=12)
    with joblib.parallel_backend("threading"):
        two = _bootstrap(hs_fit, n_resamples=4000, seed=12, n_jobs=2)
    assert sizes == [600, 2000]
    pd.testing.assert_frame_equal(one.distribution, two.distribution)


def test_ctrl_c_on_dask_keeps_the_finished_chunks_and_cancels_the_rest(hs_fit, monkeypatch):
    """A KeyboardInterrupt while chunks arrive from a dask cluster: the finished prefix is
    returned with its warning and the chunks still queued or running are cancelled."""
    distributed = pytest.importorskip("distributed")
    joblib = pytest.importorskip("joblib")
    from lcsem.resampling import runner

    one = _bootstrap(hs_fit, n_resamples=120, seed=6)
    arrived = {"n": 0}
    real_finished = runner._finished

    def interrupting(store, out, *args, **kwargs):
        arrived["n"] += 1
        if arrived["n"] == 3:
            raise KeyboardInterrupt
        return real_finished(store, out, *args, **kwargs)

    cancelled = []
    monkeypatch.setattr(runner, "_finished", interrupting)
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None) as client:
        real_cancel = client.cancel
        monkeypatch.setattr(client, "cancel", lambda futures, **kw: (cancelled.extend(futures),
                                                                      real_cancel(futures, **kw)))
        with joblib.parallel_backend("dask"), pytest.warns(lcsem.BootstrapInterruptedWarning, match=r"first \d+ of 120"):
            got = lcsem.bootstrap(hs_fit, 120, seed=6, n_jobs=2, batch_size=20, progress=False)
    assert 0 < got.n_resamples <= 40                     # two chunks stored before the third arrived
    assert cancelled                                     # the chunks still running or queued
    pd.testing.assert_frame_equal(got.distribution, one.distribution.iloc[:got.n_resamples])


def test_the_default_backend_is_known_without_importing_joblib():
    """No joblib context can be active before joblib is imported: the check then costs
    nothing (importing joblib took 30 ms, a tenth of a short cold n_jobs=2 call)."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from lcsem.resampling.parallel import default_backend_is_loky\n"
            "print(default_backend_is_loky(), 'joblib.parallel' in sys.modules)\n"
            "import joblib\n"
            "with joblib.parallel_backend('threading'):\n"
            "    print(default_backend_is_loky())\n"
            "print(default_backend_is_loky())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "False", "False", "True"]
