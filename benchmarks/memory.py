"""Memory and time of a large-N bootstrap (issue 14): 1,000 replicates of the
Holzinger–Swineford CFA at N = 300,000.

Run from the repository root (each measurement in a fresh process, so peak RSS is the
run's own)::

    PYTHONPATH=$PWD /work/venv/bin/python benchmarks/memory.py             # N = 300,000
    PYTHONPATH=$PWD /work/venv/bin/python benchmarks/memory.py --n 50000 --replicates 200

Data: N normal rows drawn (seed 1) from the HS CFA's fitted covariance. Timed:
``lcsem.bootstrap(res, R, seed=1, progress=False)`` with default settings (n_jobs=1).
Reported: wall and CPU seconds, peak resident memory of the process (``ru_maxrss``;
before the bootstrap and at its end) and the peak of numpy/Python allocations during
the bootstrap (``tracemalloc``, in a second process, as it slows allocation).

"The arithmetic of the resampled moments": each replicate's moments are the
count-weighted sums of the N rows of ``[x, x_i x_j (i <= j)]``, ``2 N (p + p(p+1)/2)``
flops (p = 9: 54 columns, 32.4 MFLOP per replicate at N = 300,000); the script reports
that count at 10 GFLOP/s (the issue's reference rate) and the time of the bare product
``counts @ columns`` on this machine in the same run.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np
from _models import HS_MODEL


def _data(n: int):
    import pandas as pd

    import lcsem
    from lcsem.datasets import load_holzinger_swineford

    hs = lcsem.fit(HS_MODEL, load_holzinger_swineford())
    Sigma = hs.implied_cov.to_numpy()
    rng = np.random.default_rng(1)
    X = rng.multivariate_normal(np.zeros(9), Sigma, size=n)
    return pd.DataFrame(X, columns=list(hs.implied_cov.columns))


def _child(n: int, replicates: int, trace: bool) -> dict:
    import tracemalloc
    import warnings

    import lcsem

    data = _data(n)
    res = lcsem.fit(HS_MODEL, data)
    kwargs = {"seed": 1, "progress": False}
    if "keep_indices" in inspect.signature(lcsem.bootstrap).parameters:
        kwargs["keep_indices"] = False
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    if trace:
        tracemalloc.start()
    t0, c0 = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        boot = lcsem.bootstrap(res, replicates, **kwargs)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    out = {"wall": wall, "cpu": cpu, "rss_before_gb": rss_before,
           "rss_peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
           "failed": boot.n_failed}
    if trace:
        out["traced_peak_gb"] = tracemalloc.get_traced_memory()[1] / 2**30
        tracemalloc.stop()
    return out


def _bare_product(n: int, replicates: int) -> float:
    """CPU seconds of ``counts @ columns`` for ``replicates`` replicates (tiles of 25, one BLAS
    thread), the arithmetic floor of the resampled moments."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    cols = rng.standard_normal((n, 54))
    counts = rng.integers(0, 3, size=(25, n)).astype(float)
    with threadpool_limits(1):
        counts @ cols
        t0 = time.process_time()
        for _ in range(4):
            counts @ cols
        per = (time.process_time() - t0) / 100
    return per * replicates


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=300_000)
    ap.add_argument("--replicates", type=int, default=1000)
    ap.add_argument("--child", choices=["plain", "trace"])
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_child(args.n, args.replicates, args.child == "trace")))
        return
    print(f"load average at start: {os.getloadavg()}")
    runs = {}
    for mode in ("plain", "trace"):
        cmd = [sys.executable, __file__, "--n", str(args.n), "--replicates", str(args.replicates), "--child", mode]
        runs[mode] = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    flops = 2 * args.n * 54 * args.replicates
    limit = flops / 10e9
    bare = _bare_product(args.n, args.replicates)
    plain = runs["plain"]
    print(f"{args.replicates} replicates, N = {args.n:,} (HS CFA, p = 9)")
    print(f"  wall {plain['wall']:.2f} s, CPU {plain['cpu']:.2f} s, failed {plain['failed']}")
    print(f"  peak RSS: {plain['rss_before_gb']:.2f} GB before the bootstrap, {plain['rss_peak_gb']:.2f} GB at its end")
    print(f"  tracemalloc peak during the bootstrap: {runs['trace']['traced_peak_gb']:.3f} GB")
    print(f"  arithmetic of the moments: {flops / 1e9:.1f} GFLOP = {limit:.2f} s at 10 GFLOP/s "
          f"(CPU time / that = {plain['cpu'] / limit:.2f}); bare counts @ columns here: {bare:.2f} s "
          f"CPU ({flops / bare / 1e9:.1f} GFLOP/s; CPU time / that = {plain['cpu'] / bare:.2f})")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
