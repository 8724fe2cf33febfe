"""What robust ML (MLM, MLR) adds to an ML fit (issue 11: "MLR adds <= 20% to an ML fit").

    python benchmarks/robust.py [--repeat 15]

For HS (CFA, N = 301, p = 9), the learning-culture model (N = 350, p = 15) and the same model
by sector (2 groups): the median time of ``lcsem.fit(..., estimator="ML")``, of the robust
step alone (:func:`lcsem.estimation.robust_fit.robust_result` on the ML result) and of the
whole ``lcsem.fit(..., estimator="MLM")``/``"MLR"`` call, in one process, BLAS limited to one
thread (threadpoolctl), the calls interleaved (one of each per round, in an order rotated
from round to round) so that machine load and the position in a round hit them alike.
Prints a Markdown table with wall and CPU (process) times, the ratios (ML fit + robust step)
/ ML fit and robust fit / ML fit (what a user sees) from CPU times, and the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

import pandas as pd
from threadpoolctl import threadpool_limits

import lcsem
from lcsem.estimation.robust_fit import robust_result
from _models import HS_MODEL, LC_MODEL, REF


def _time(calls: dict, repeat: int) -> dict[str, tuple[float, float]]:
    """Median wall and CPU seconds of each call, the calls interleaved: one of each per round,
    the order rotated from round to round (a call's time depends on what ran just before it,
    by up to ~0.4 ms here: caches, the allocator, the garbage collector)."""
    wall = {k: [] for k in calls}
    cpu = {k: [] for k in calls}
    keys = list(calls)
    for r in range(repeat):
        for key in keys[r % len(keys):] + keys[:r % len(keys)]:
            call = calls[key]
            t, c = time.perf_counter(), time.process_time()
            call()
            wall[key].append(time.perf_counter() - t)
            cpu[key].append(time.process_time() - c)
    return {k: (statistics.median(wall[k]), statistics.median(cpu[k])) for k in calls}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    hs = pd.read_csv(REF / "hs.csv")
    lc = pd.read_csv(REF / "lc_shared.csv")
    cases = [("HS CFA", HS_MODEL, hs, {}), ("LC model", LC_MODEL, lc, {}),
             ("LC model by sector", LC_MODEL, lc, {"group": "sector"})]
    print(f"load average at start: {os.getloadavg()[0]:.2f}\n")
    print("| model | ML fit ms (cpu) | robust step MLM ms (cpu) | robust step MLR ms (cpu) "
          "| ML + MLM step / ML | ML + MLR step / ML | fit MLM / fit ML | fit MLR / fit ML |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    warnings.simplefilter("ignore")
    with threadpool_limits(limits=1):
        for label, model, data, kw in cases:
            base = lcsem.fit(model, data, **kw)
            calls = {"ML": lambda: lcsem.fit(model, data, **kw),
                     "step MLM": lambda: robust_result(base, "MLM"),
                     "step MLR": lambda: robust_result(base, "MLR"),
                     "fit MLM": lambda: lcsem.fit(model, data, estimator="MLM", **kw),
                     "fit MLR": lambda: lcsem.fit(model, data, estimator="MLR", **kw)}
            for call in calls.values():                          # warm-up
                call()
            t = _time(calls, args.repeat)
            ml = t["ML"][1]

            def ms(key):
                return f"{t[key][0] * 1e3:.1f} ({t[key][1] * 1e3:.1f})"

            print(f"| {label} | {ms('ML')} | {ms('step MLM')} | {ms('step MLR')} "
                  f"| {(ml + t['step MLM'][1]) / ml:.2f} | {(ml + t['step MLR'][1]) / ml:.2f} "
                  f"| {t['fit MLM'][1] / ml:.2f} | {t['fit MLR'][1] / ml:.2f} |")
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}; ratios from CPU times")


if __name__ == "__main__":
    main()
