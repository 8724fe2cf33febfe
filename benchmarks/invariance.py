"""Timing the four-level invariance sequence of the canonical model by sector.

    PYTHONPATH=$PWD python benchmarks/invariance.py [--repeats 7] [--no-r]

lcsem: ``lcsem.invariance(lcsem.lc_model(), lcsem.datasets.load_lc_survey(), group="sector")``
(configural, metric, scalar, strict: four two-group ML fits with SEs, std solutions and fit
indices, lavTestLRT table, latent mean differences with delta-method SEs). Timed: the median
of ``--repeats`` calls after one warm-up in this process, wall and CPU; also the first (cold)
call, which includes one-time imports and caches.

lavaan 0.6.14 (when ``Rscript`` is available): the same model text on the same CSV, the
sequence of ``sem(..., group = "sector", group.equal = ...)`` calls, ``fitMeasures`` of each
and ``lavTestLRT`` of the four (what semTools users run by hand or via ``measEq.syntax``,
which builds the same models), timed inside R the same way (median after a warm-up;
``OPENBLAS_NUM_THREADS=1``; R's start-up and ``library(lavaan)`` are excluded). The ratio is
lavaan / lcsem in the same run. Also printed: χ² per level from both, to show that the same
models are timed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import lcsem

LEVELS = ("configural", "metric", "scalar", "strict")
R_SCRIPT = r"""
suppressPackageStartupMessages(library(lavaan))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
model <- paste(readLines(args[2]), collapse = "\n")
repeats <- as.integer(args[3])
levels <- list(character(0), "loadings", c("loadings", "intercepts"),
               c("loadings", "intercepts", "residuals"))
run <- function() {
  fits <- lapply(levels, function(eq) if (length(eq)) sem(model, data = d, group = "sector", group.equal = eq)
                                      else sem(model, data = d, group = "sector"))
  idx <- lapply(fits, fitMeasures, c("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea.ci.lower",
                                     "rmsea.ci.upper", "srmr", "aic", "bic"))
  lrt <- do.call(lavTestLRT, c(fits, list(model.names = c("configural", "metric", "scalar", "strict"))))
  list(idx = idx, lrt = lrt)
}
invisible(run())
walls <- cpus <- numeric(repeats)
for (i in seq_len(repeats)) {
  t <- system.time(out <- run())
  walls[i] <- t[["elapsed"]]; cpus[i] <- t[["user.self"]] + t[["sys.self"]]
}
cat(jsonlite::toJSON(list(wall = median(walls), cpu = median(cpus),
    chisq = sapply(out$idx, function(x) unname(x["chisq"])),
    version = as.character(packageVersion("lavaan"))), auto_unbox = TRUE, digits = 10))
"""


def time_lcsem(repeats: int) -> dict:
    model, data = lcsem.lc_model(), lcsem.datasets.load_lc_survey()
    w0, c0 = time.perf_counter(), time.process_time()
    inv = lcsem.invariance(model, data, group="sector")
    cold = (time.perf_counter() - w0, time.process_time() - c0)
    walls, cpus = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        inv = lcsem.invariance(model, data, group="sector")
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    per_fit = []
    for eq in ((), ("loadings",), ("loadings", "intercepts"), ("loadings", "intercepts", "residuals")):
        w0 = time.perf_counter()
        lcsem.fit(model, data, group="sector", group_equal=eq)
        per_fit.append(time.perf_counter() - w0)
    return {"wall": float(np.median(walls)), "cpu": float(np.median(cpus)), "cold_wall": cold[0],
            "cold_cpu": cold[1], "chisq": inv.table["chisq"].tolist(), "per_fit": per_fit,
            "n_obs": inv.fits["configural"].n_obs}


def time_lavaan(repeats: int) -> dict | None:
    if shutil.which("Rscript") is None:
        return None
    data = lcsem.datasets.load_lc_survey()
    model = lcsem.lc_model().to_syntax()
    with tempfile.TemporaryDirectory() as tmp:
        csv, txt, script = Path(tmp, "lc.csv"), Path(tmp, "model.txt"), Path(tmp, "bench.R")
        data.to_csv(csv, index=False)
        txt.write_text(model)
        script.write_text(R_SCRIPT)
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        proc = subprocess.run(["Rscript", str(script), str(csv), str(txt), str(repeats)], capture_output=True,
                              text=True, env=env, timeout=600)
    if proc.returncode != 0:
        print("lavaan run failed:", proc.stderr.strip()[-500:])
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-r", action="store_true", help="skip lavaan")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.2f} at the start; Python {platform.python_version()}, lcsem "
          f"{lcsem.__version__}, numpy {np.__version__}")
    mine = time_lcsem(args.repeats)
    print(f"lcsem.invariance, canonical model by sector (N = {mine['n_obs']}, 4 levels): "
          f"{mine['wall']:.3f} s wall ({mine['cpu']:.3f} s CPU), median of {args.repeats} after a warm-up; "
          f"first call {mine['cold_wall']:.3f} s wall ({mine['cold_cpu']:.3f} s CPU)")
    print("  lcsem.fit alone per level (s): " + ", ".join(f"{lv} {t:.3f}" for lv, t in zip(LEVELS, mine["per_fit"])))
    print("  target <= 0.5 s: " + ("met" if mine["wall"] <= 0.5 else "NOT met"))
    theirs = None if args.no_r else time_lavaan(args.repeats)
    if theirs is None:
        print("lavaan: skipped")
    else:
        print(f"lavaan {theirs['version']} sem() x 4 + fitMeasures + lavTestLRT: {theirs['wall']:.3f} s wall "
              f"({theirs['cpu']:.3f} s CPU), median of {args.repeats} after a warm-up")
        print(f"  lavaan / lcsem (wall): {theirs['wall'] / mine['wall']:.1f}x")
        print("  chisq per level, lcsem vs lavaan: " + "; ".join(
            f"{lv} {a:.3f} vs {b:.3f}" for lv, a, b in zip(LEVELS, mine["chisq"], theirs["chisq"])))
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    sys.exit(main())
