"""Bootstrap on several processes (issue 14): loky ``n_jobs=2`` cold and warm, and a
2-worker dask LocalCluster, against one process, on 4,000 Holzinger–Swineford replicates.

Run from the repository root::

    PYTHONPATH=$PWD /work/venv/bin/python benchmarks/parallel.py                 # loky and dask
    PYTHONPATH=$PWD /work/venv/bin/python benchmarks/parallel.py --only loky
    PYTHONPATH=$PWD /work/venv/bin/python benchmarks/parallel.py --replicates 8000

Each part runs in a fresh Python process, so "cold" really is the first ``n_jobs=2``
call of a session (worker processes started and lcsem imported in them during the call).
Wall seconds, median of ``--repeat`` runs after a warm-up (``n_jobs=1``: one 500-replicate
run first). Ratios are ``n_jobs=1`` time / parallel time, measured in the same process
one after the other; the load average is printed before and after (the machine has 2
cores, often shared: compare ratios, not seconds).

dask: ``LocalCluster(n_workers=2, threads_per_worker=1)`` and
``joblib.parallel_backend("dask")``; three set-ups: dask's default worker environment
(``MALLOC_TRIM_THRESHOLD_=65536``) with lcsem's allocator fix (the default,
:mod:`lcsem.resampling.allocator`), the same with the fix switched off
(``LCSEM_MALLOC_TUNING=0``), and dask's variable removed through its config
(``distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_: None``). Also printed: CPU
seconds per run of this process and of the busiest worker (the allocator's page faults
show there whatever the load). On a loaded machine the wall ratio
says little (this session's processes share one scheduler group's slice of the cores), so
the script also prints the CPU seconds of this process and of the busiest worker per run:
one-process CPU / the larger of them is the speed-up the run would have with a core each.
Cold: the worker's CPU includes starting Python and importing lcsem.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from _models import HS_MODEL


def _fit():
    import lcsem
    from lcsem.datasets import load_holzinger_swineford

    warnings.simplefilter("ignore")
    return lcsem.fit(HS_MODEL, load_holzinger_swineford())


def _time(call, repeat: int, workers_cpu=None) -> tuple[float, float, float]:
    """Median wall seconds, and CPU seconds per run of this process and of the busiest
    worker (``workers_cpu()``: each worker's ``process_time``)."""
    times = []
    c0 = time.process_time()
    w0 = workers_cpu() if workers_cpu else None
    for _ in range(repeat):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    cpu = (time.process_time() - c0) / repeat
    busiest = max(b - a for a, b in zip(w0, workers_cpu())) / repeat if workers_cpu else 0.0
    return statistics.median(times), cpu, busiest


def _worker_cpu() -> float:
    return time.process_time()


def _loky(R: int, repeat: int) -> dict:
    import lcsem
    from lcsem.resampling.parallel import _executor

    res = _fit()
    lcsem.bootstrap(res, 500, seed=0, progress=False)
    one = _time(lambda: lcsem.bootstrap(res, R, seed=1, progress=False), repeat)
    cold = _time(lambda: lcsem.bootstrap(res, R, seed=1, n_jobs=2, progress=False), 1)
    executor = _executor(1)                                # the pool lcsem's n_jobs=2 used
    worker = lambda: [executor.submit(_worker_cpu).result()]                      # noqa: E731
    cold = (cold[0], cold[1], worker()[0])                # the worker's CPU since it started
    warm = _time(lambda: lcsem.bootstrap(res, R, seed=1, n_jobs=2, progress=False), repeat, worker)
    one_after = _time(lambda: lcsem.bootstrap(res, R, seed=1, progress=False), repeat)
    return {"one": one, "cold": cold, "warm": warm, "one_after": one_after}


def _dask(R: int, repeat: int, setup: str) -> dict:
    import dask
    import joblib
    from distributed import Client, LocalCluster

    import lcsem

    if setup == "no-fix":
        os.environ["LCSEM_MALLOC_TUNING"] = "0"                  # inherited by the workers
    if setup == "unset":
        dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None})
    res = _fit()
    lcsem.bootstrap(res, 500, seed=0, progress=False)
    one = _time(lambda: lcsem.bootstrap(res, R, seed=1, progress=False), repeat)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        env = client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
        workers = lambda: list(client.run(time.process_time).values())            # noqa: E731
        with joblib.parallel_backend("dask"):
            lcsem.bootstrap(res, 500, seed=0, n_jobs=2, progress=False)      # warm-up
            two = _time(lambda: lcsem.bootstrap(res, R, seed=1, n_jobs=2, progress=False), repeat, workers)
        tuned = client.run(lambda: __import__("lcsem.resampling.allocator", fromlist=["_done"])._done)
    one_after = _time(lambda: lcsem.bootstrap(res, R, seed=1, progress=False), repeat)
    return {"one": one, "two": two, "one_after": one_after, "worker_env": sorted(set(map(str, env.values()))),
            "tuned": sorted(set(map(str, tuned.values())))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--replicates", type=int, default=4000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", choices=["loky", "dask"])
    ap.add_argument("--child")
    args = ap.parse_args()
    if args.child:
        warnings.simplefilter("ignore")
        out = _loky(args.replicates, args.repeat) if args.child == "loky" else \
            _dask(args.replicates, args.repeat, args.child.split(":", 1)[1])
        print(json.dumps(out))
        return
    print(f"load average at start: {os.getloadavg()}; {os.cpu_count()} cores; {args.replicates} HS replicates")
    parts = []
    if args.only in (None, "loky"):
        parts.append("loky")
    if args.only in (None, "dask"):
        parts += ["dask:fix", "dask:no-fix", "dask:unset"]
    for part in parts:
        cmd = [sys.executable, __file__, "--replicates", str(args.replicates), "--repeat", str(args.repeat),
               "--child", part]
        out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
        one = statistics.mean([out["one"][0], out["one_after"][0]])
        one_cpu = statistics.mean([out["one"][1], out["one_after"][1]])
        runs = [("cold", out["cold"]), ("warm", out["warm"])] if part == "loky" else [("2 workers", out["two"])]
        print(f"{part}: n_jobs=1 {one:.3f} s wall, {one_cpu:.3f} s CPU")
        for label, (wall, here, busiest) in runs:
            path = max(here, busiest)
            print(f"  {label}: {wall:.3f} s wall ({one / wall:.2f}x); CPU s per run: this process {here:.3f}, "
                  f"busiest worker {busiest:.3f} (one-process CPU / the larger: {one_cpu / path:.2f}x)")
        if part != "loky":
            print(f"  workers' MALLOC_TRIM_THRESHOLD_ = {out['worker_env']}; lcsem's fix applied: {out['tuned']}")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
