"""What MLR adds to a FIML fit (issue 11: "MLR adds <= 20% to an ML fit"), with missing data.

    python benchmarks/mlr_fiml.py [--repeat 15]

For the HS-MCAR data (N = 301, p = 9, 8% MCAR per value) and the survey with missing answers
(lc_missing.csv: N = 348 used, p = 15): the median time of ``lcsem.fit(..., missing="ml")``
and of the MLR step alone (:func:`lcsem.estimation.robust_fiml.fiml_robust_result` on the FIML
result: Huber-White SEs, Yuan-Bentler test, baseline test, FIML-corrected robust indices), in
one process, BLAS limited to one thread (threadpoolctl). Prints a Markdown table with wall and
CPU (process) times, the number of missing-data patterns and the load average.
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
from lcsem.estimation.robust_fiml import fiml_robust_result

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
    cases = [("HS-MCAR CFA", HS_MODEL, pd.read_csv(REF / "hs_mcar.csv")),
             ("LC model, missing answers", LC_MODEL, pd.read_csv(REF / "lc_missing.csv"))]
    print(f"load average at start: {os.getloadavg()[0]:.2f}\n")
    print("| model | patterns | FIML fit ms (cpu) | MLR step ms (cpu) | MLR fit / FIML fit |")
    print("| --- | --- | --- | --- | --- |")
    warnings.simplefilter("ignore")
    with threadpool_limits(limits=1):
        for label, model, data in cases:
            base = lcsem.fit(model, data, missing="ml")
            fiml_robust_result(base)                                  # warm-up
            ml = _time(lambda: lcsem.fit(model, data, missing="ml"), args.repeat)
            step = _time(lambda: fiml_robust_result(base), args.repeat)
            print(f"| {label} | {len(base.missing_patterns)} | {ml[0] * 1e3:.1f} ({ml[1] * 1e3:.1f}) | "
                  f"{step[0] * 1e3:.1f} ({step[1] * 1e3:.1f}) | {(ml[1] + step[1]) / ml[1]:.2f} |")
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}; ratio from CPU times "
          f"(FIML fit + MLR step) / FIML fit")


if __name__ == "__main__":
    main()
