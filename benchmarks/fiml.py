"""Time a FIML fit (``missing="ml"``) against lavaan's ``sem(missing = "ml")`` in the same run (issue 11).

    python benchmarks/fiml.py              # quiet machine
    python benchmarks/fiml.py --load 2     # with 2 busy processes competing for the cores

Data: tests/reference/hs_mcar.csv (HS three-factor CFA, 301 rows, 8% MCAR per value, 45
missing-data patterns), tests/reference/lc_missing.csv (the learning-culture model with ``:=``
effects, 350 rows, 74 patterns, 2 empty rows) and the canonical model (``lcsem.lc_model()``,
16 items) on the bundled survey (400 rows) with 8% of the values deleted MCAR by the fixed-seed
rule of benchmarks/bootstrap_fiml.py (135 patterns). Both fits report the
observed-information SEs (lavaan's default for FIML) and every fit index. Each timing is the
median of ``--repeat`` calls after one warm-up; BLAS limited to one thread (threadpoolctl) in
Python and ``OPENBLAS_NUM_THREADS=1`` for R; lavaan's time is measured inside R
(``system.time``), so R's start-up is not counted.

A second table shows how lcsem's cost grows with the number of missing-data patterns: the
HS model on 301 rows with MCAR rates from 2% to 30% (more patterns as the rate grows).
Prints Markdown tables with the load average and the ratios lcsem / lavaan.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

import lcsem

ROOT = Path(__file__).resolve().parent.parent
REF = ROOT / "tests" / "reference"
SPEC = json.loads((REF / "missing_robust_reference.json").read_text())["fits"]
CASES = {"HS-MCAR (3-factor CFA)": ("hs_mcar_fiml", "hs_mcar.csv"),
         "LC-missing (canonical SEM with :=)": ("lc_missing_fiml", "lc_missing.csv")}
#: the canonical model on the bundled survey, 8% MCAR (benchmarks/bootstrap_fiml.py's rule)
CANONICAL = "canonical model, survey N = 400, 8% MCAR"


def _cases() -> dict[str, tuple[str, pd.DataFrame]]:
    """Every timed case: label -> (model text, data)."""
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bootstrap_fiml import survey_with_missing

    out = {label: (SPEC[name]["model"], pd.read_csv(REF / csv)) for label, (name, csv) in CASES.items()}
    text, data, items = survey_with_missing(0.08)
    out[CANONICAL] = (text, data[items])
    return out


def _burn(stop) -> None:
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def _median_time(call, repeat: int) -> float:
    call()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def python_timings(repeat: int) -> dict[str, float]:
    out = {}
    with threadpool_limits(1):
        for label, (model, data) in _cases().items():
            out[label] = _median_time(lambda: lcsem.fit(model, data, missing="ml"), repeat)
    return out


def pattern_scaling(repeat: int) -> list[tuple[float, int, float]]:
    """(MCAR rate, number of patterns, median seconds) of the HS FIML fit."""
    hs = pd.read_csv(REF / "hs.csv")
    cols = [f"x{i}" for i in range(1, 10)]
    rows = []
    with threadpool_limits(1):
        for rate in (0.02, 0.05, 0.10, 0.20, 0.30):
            rng = np.random.default_rng(11)
            data = hs.copy()
            mask = rng.random((len(hs), 9)) < rate
            data[cols] = data[cols].mask(mask)
            res = lcsem.fit(SPEC["hs_mcar_fiml"]["model"], data, missing="ml")
            seconds = _median_time(lambda: lcsem.fit(SPEC["hs_mcar_fiml"]["model"], data, missing="ml"), repeat)
            rows.append((rate, len(res.missing_patterns), seconds))
    return rows


R_SCRIPT = r"""
suppressMessages(library(lavaan))
args <- commandArgs(trailingOnly = TRUE)
repeat_n <- as.integer(args[1])
cases <- jsonlite::fromJSON(args[2], simplifyVector = FALSE)
med <- function(f) { f(); median(sapply(seq_len(repeat_n), function(i) system.time(f())[["elapsed"]])) }
out <- list()
for (label in names(cases)) {
  d <- read.csv(cases[[label]]$data); m <- readLines(cases[[label]]$model)
  out[[label]] <- med(function() suppressWarnings(sem(m, d, missing = "ml")))
}
cat(jsonlite::toJSON(out, auto_unbox = TRUE, digits = NA))
"""


def lavaan_timings(repeat: int) -> dict[str, float]:
    if shutil.which("Rscript") is None:
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cases = {}
        for i, (label, (model, data)) in enumerate(_cases().items()):
            (tmp / f"model{i}.txt").write_text(model)
            data.to_csv(tmp / f"data{i}.csv", index=False, na_rep="NA")
            cases[label] = {"data": str(tmp / f"data{i}.csv"), "model": str(tmp / f"model{i}.txt")}
        script, spec = tmp / "time.R", tmp / "cases.json"
        script.write_text(R_SCRIPT)
        spec.write_text(json.dumps(cases))
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        proc = subprocess.run(["Rscript", str(script), str(repeat), str(spec)], capture_output=True, text=True,
                              env=env, check=True)
        return json.loads(proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--load", type=int, default=0, help="busy processes to run alongside")
    parser.add_argument("--no-scaling", action="store_true", help="skip the pattern-scaling table")
    args = parser.parse_args()
    stop = mp.Event()
    burners = [mp.Process(target=_burn, args=(stop,)) for _ in range(args.load)]
    for b in burners:
        b.start()
    try:
        time.sleep(1.0 if burners else 0.0)
        ours = python_timings(args.repeat)
        theirs = lavaan_timings(args.repeat)
        scaling = [] if args.no_scaling else pattern_scaling(max(args.repeat // 2, 3))
        load = os.getloadavg()[0]
    finally:
        stop.set()
        for b in burners:
            b.join()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{args.load} busy processes, load average {load:.2f}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
    print("| FIML fit | lcsem | lavaan sem(missing = \"ml\") | lcsem / lavaan |")
    print("|---|---:|---:|---:|")
    for label, seconds in ours.items():
        lav = theirs.get(label)
        print(f"| {label} | {seconds * 1000:.0f} ms | "
              + (f"{lav * 1000:.0f} ms | {seconds / lav:.2f} |" if lav else "– | – |"))
    if scaling:
        print("\n| HS, MCAR rate | patterns | lcsem FIML fit |")
        print("|---:|---:|---:|")
        for rate, n_patterns, seconds in scaling:
            print(f"| {rate:.0%} | {n_patterns} | {seconds * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
