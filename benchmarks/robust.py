"""What robust ML (MLM, MLR) adds to an ML fit (issue 11: "MLR adds <= 20% to an ML fit").

    python benchmarks/robust.py [--repeat 15]

For HS (CFA, N = 301, p = 9), the learning-culture model (N = 350, p = 15) and the same model
by sector (2 groups): the median time of ``lcsem.fit(..., estimator="ML")``, of the
``estimator="MLM"``/``"MLR"`` fit, and of the robust step alone
(:func:`lcsem.estimation.robust_fit.robust_result` on the ML result), in one process, BLAS
limited to one thread (threadpoolctl), ML and robust calls interleaved so that machine load
hits both alike. Prints a Markdown table with wall and CPU (process) times and the load
average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from pathlib import Path

import pandas as pd
from threadpoolctl import threadpool_limits

import lcsem
from lcsem.estimation.robust_fit import robust_result

REF = Path(__file__).resolve().parent.parent / "tests" / "reference"
HS_MODEL = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
LC_MODEL = """culture =~ culture1 + culture2 + culture3 + culture4 + culture5 + culture6
kmsuse =~ kmsuse1 + kmsuse2 + kmsuse3 + kmsuse4
perf =~ perf1 + perf2 + perf3 + perf4 + perf5
kmsuse ~ a*culture
perf ~ b*kmsuse + c*culture
ind := a*b"""


def _time(call, repeat: int) -> tuple[float, float]:
    wall, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        call()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu)


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
          "| MLM fit / ML fit | MLR fit / ML fit |")
    print("| --- | --- | --- | --- | --- | --- |")
    warnings.simplefilter("ignore")
    with threadpool_limits(limits=1):
        for label, model, data, kw in cases:
            base = lcsem.fit(model, data, **kw)
            robust_result(base, "MLR")                           # warm-up
            ml = _time(lambda: lcsem.fit(model, data, **kw), args.repeat)
            step = {e: _time(lambda e=e: robust_result(base, e), args.repeat) for e in ("MLM", "MLR")}
            ratio = {e: (ml[1] + step[e][1]) / ml[1] for e in step}
            print(f"| {label} | {ml[0] * 1e3:.1f} ({ml[1] * 1e3:.1f}) | {step['MLM'][0] * 1e3:.1f} "
                  f"({step['MLM'][1] * 1e3:.1f}) | {step['MLR'][0] * 1e3:.1f} ({step['MLR'][1] * 1e3:.1f}) "
                  f"| {ratio['MLM']:.2f} | {ratio['MLR']:.2f} |")
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}; ratios from CPU times "
          f"(ML fit + robust step) / ML fit")


if __name__ == "__main__":
    main()
