"""What MLR adds to a FIML fit (issue 11: "MLR adds <= 20% to an ML fit"), with missing data.

    python benchmarks/mlr_fiml.py [--repeat 15]

For the HS-MCAR data (N = 301, p = 9, 8% MCAR per value), the survey with missing answers
(lc_missing.csv: N = 348 used, p = 15) and the canonical model on the bundled survey with 8%
MCAR (benchmarks/bootstrap_fiml.py's deletion rule; N = 400, p = 16): the median CPU time of
``lcsem.fit(..., missing="ml")``, of ``lcsem.fit(..., missing="ml", estimator="MLR")`` and of
the MLR step alone (:func:`lcsem.estimation.robust_fiml.fiml_robust_result` on the FIML
result: Huber-White SEs, Yuan-Bentler test, baseline test, FIML-corrected robust indices), in
one process, BLAS limited to one thread (threadpoolctl). Prints a Markdown table with wall and
CPU (process) times (the three calls take turns, so they share the machine's load), the number of
missing-data patterns and the load average.
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
from _models import HS_MODEL, LC_MODEL, REF


def _interleaved(calls: dict, repeat: int) -> dict[str, float]:
    """Median CPU seconds of each call, the calls taking turns (so that they share the
    machine's load)."""
    times = {name: [] for name in calls}
    for _ in range(repeat):
        for name, call in calls.items():
            c = time.process_time()
            call()
            times[name].append(time.process_time() - c)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bootstrap_fiml import survey_with_missing

    text, survey, _ = survey_with_missing(0.08)
    cases = [("HS-MCAR CFA", HS_MODEL, pd.read_csv(REF / "hs_mcar.csv")),
             ("LC model, missing answers", LC_MODEL, pd.read_csv(REF / "lc_missing.csv")),
             ("canonical model, survey 8% MCAR", text, survey)]
    print(f"load average at start: {os.getloadavg()[0]:.2f}\n")
    print("| model | patterns | FIML fit ms | MLR step ms | MLR fit ms | MLR fit / FIML fit |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    warnings.simplefilter("ignore")
    with threadpool_limits(limits=1):
        for label, model, data in cases:
            base = lcsem.fit(model, data, missing="ml")
            lcsem.fit(model, data, missing="ml", estimator="MLR")               # warm-up
            t = _interleaved({"ml": lambda: lcsem.fit(model, data, missing="ml"),
                              "mlr": lambda: lcsem.fit(model, data, missing="ml", estimator="MLR"),
                              "step": lambda: fiml_robust_result(base)}, args.repeat)
            print(f"| {label} | {len(base.missing_patterns)} | {t['ml'] * 1e3:.1f} | {t['step'] * 1e3:.1f} | "
                  f"{t['mlr'] * 1e3:.1f} | {t['mlr'] / t['ml']:.2f} |")
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}; CPU (process) times, medians of {args.repeat} "
          f"interleaved calls")


if __name__ == "__main__":
    main()
