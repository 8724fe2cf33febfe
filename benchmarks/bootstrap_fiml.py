"""The FIML bootstrap (issue 11 item 4): time per replicate of ``lcsem.bootstrap`` of a
FIML fit, case resampling and Bollen–Stine.

    python benchmarks/bootstrap_fiml.py [--replicates 200]

For the HS-MCAR data (N = 301, p = 9) and the survey with missing answers (lc_missing.csv):
wall and CPU (process) time of ``n`` replicates in one process (``n_jobs=1``), BLAS limited
to one thread; ms per replicate, the number of missing-data patterns and the load average.
Replicates are fitted one after the other (each has its own patterns: a per-replicate loop
of Fisher scoring on the FIML objective, plus EM for its saturated model).
lavaan's bootstrapLavaan of the HS-MCAR fit took 378 CPU seconds for 1,000 replicates
(tests/reference/missing_robust_reference.json, ``bootstrap_hs_mcar_fiml.cpu_seconds``).
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import pandas as pd
from threadpoolctl import threadpool_limits

import lcsem

REF = Path(__file__).resolve().parent.parent / "tests" / "reference"
HS_MODEL = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
LC_MODEL = """culture =~ culture1 + culture2 + culture3 + culture4 + culture5 + culture6
kmsuse =~ kmsuse1 + kmsuse2 + kmsuse3 + kmsuse4
perf =~ perf1 + perf2 + perf3 + perf4 + perf5
kmsuse ~ a*culture
perf ~ b*kmsuse + c*culture
ind := a*b"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=200)
    args = parser.parse_args()
    n = args.replicates
    cases = [("HS-MCAR CFA", HS_MODEL, pd.read_csv(REF / "hs_mcar.csv")),
             ("LC model, missing answers", LC_MODEL, pd.read_csv(REF / "lc_missing.csv"))]
    print(f"load average at start: {os.getloadavg()[0]:.2f}\n")
    print("| model | patterns | kind | replicates | wall s | cpu s | ms / replicate (cpu) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    warnings.simplefilter("ignore")
    with threadpool_limits(limits=1):
        for label, model, data in cases:
            res = lcsem.fit(model, data, missing="ml")
            patterns = len(res.missing_patterns)
            for kind in ("nonparametric", "bollen-stine"):
                t, c = time.perf_counter(), time.process_time()
                lcsem.bootstrap(res, n, kind=kind, seed=1, progress=False)
                wall, cpu = time.perf_counter() - t, time.process_time() - c
                print(f"| {label} | {patterns} | {kind} | {n} | {wall:.2f} | {cpu:.2f} | {1000 * cpu / n:.1f} |")


if __name__ == "__main__":
    main()
