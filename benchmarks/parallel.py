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
seconds per run of this process (``n_jobs=1``) and of the two workers together (the
allocator's page faults show there whatever the load).
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

HS_MODEL = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"


def _fit():
    import lcsem
    from lcsem.datasets import load_holzinger_swineford

    warnings.simplefilter("ignore")
    return lcsem.fit(HS_MODEL, load_holzinger_swineford())


def _time(call, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _loky(R: int, repeat: int) -> dict:
    import lcsem

    res = _fit()
    lcsem.bootstrap(res, 500, seed=0, progress=False)
    one = _time(lambda: lcsem.bootstrap(res, R, seed=1, progress=False), repeat)
    t0 = time.perf_counter()
    lcsem.bootstrap(res, R, seed=1, n_jobs=2, progress=False)
    cold = time.perf_counter() - t0
    warm = _time(lambda: lcsem.bootstrap(res, R, seed=1, n_jobs=2, progress=False), repeat)
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
        with joblib.parallel_backend("dask"):
            lcsem.bootstrap(res, 500, seed=0, n_jobs=2, progress=False)      # warm-up
            cpu0 = sum(client.run(time.process_time).values())
            two = _time(lambda: lcsem.bootstrap(res, R, seed=1, n_jobs=2, progress=False), repeat)
            cpu = (sum(client.run(time.process_time).values()) - cpu0) / repeat
        tuned = client.run(lambda: __import__("lcsem.resampling.allocator", fromlist=["_done"])._done)
    c0 = time.process_time()
    one_after = _time(lambda: lcsem.bootstrap(res, R, seed=1, progress=False), repeat)
    one_cpu = (time.process_time() - c0) / repeat
    return {"one": one, "two": two, "one_after": one_after, "worker_env": sorted(set(map(str, env.values()))),
            "worker_cpu": cpu, "one_cpu": one_cpu, "tuned": sorted(set(map(str, tuned.values())))}


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
        one = statistics.mean([out["one"], out["one_after"]])
        if part == "loky":
            print(f"loky: n_jobs=1 {one:.3f} s (before {out['one']:.3f}, after {out['one_after']:.3f}); "
                  f"n_jobs=2 cold {out['cold']:.3f} s ({one / out['cold']:.2f}x), "
                  f"warm {out['warm']:.3f} s ({one / out['warm']:.2f}x)")
        else:
            print(f"{part}: n_jobs=1 {one:.3f} s (before {out['one']:.3f}, after {out['one_after']:.3f}); "
                  f"2 dask workers {out['two']:.3f} s ({one / out['two']:.2f}x); CPU s per run: one "
                  f"process {out['one_cpu']:.2f}, workers together {out['worker_cpu']:.2f}; workers' "
                  f"MALLOC_TRIM_THRESHOLD_ = {out['worker_env']}, lcsem's fix applied: {out['tuned']}")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
