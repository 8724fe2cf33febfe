"""Timing GLS/ULS with groups, their bootstrap, and measurement() through the statistic hook.

    PYTHONPATH=$PWD python benchmarks/ls_groups.py [--repeats 7] [--n-boot 1000] [--no-r]

* HS by school, metric invariance (``group_equal="loadings"``), estimator GLS and ULS:
  lcsem.fit (median of ``--repeats`` after a warm-up) against lavaan 0.6.14's
  ``cfa(..., estimator=, group="school", group.equal="loadings")`` timed inside R the same way
  (``OPENBLAS_NUM_THREADS=1``; R's start-up excluded). Ratio lavaan / lcsem.
* ``lcsem.bootstrap`` of the GLS metric fit, ``--n-boot`` replicates (one process), against
  ``bootstrapLavaan(fit, R = 100)`` scaled to ``--n-boot`` (per-replicate cost).
* ``lcsem.measurement(res, boot=boot)`` of the canonical survey model with a bootstrap of
  ``--n-boot`` replicates: the statistics are read from the bootstrap's replicates (the CFA
  is equivalent to the model: no refit). Compare with the same call on an older checkout
  (which refitted the CFA on every resample) by running this script with its PYTHONPATH.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import lcsem

warnings.simplefilter("ignore")
HS = Path(__file__).resolve().parents[1] / "tests" / "reference" / "hs.csv"
MODEL = "visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n speed =~ x7 + x8 + x9"
R_SCRIPT = r"""
suppressPackageStartupMessages(library(lavaan))
args <- commandArgs(trailingOnly = TRUE)
hs <- read.csv(args[1]); repeats <- as.integer(args[2])
m <- 'visual =~ x1 + x2 + x3
 textual =~ x4 + x5 + x6
 speed =~ x7 + x8 + x9'
for (est in c("GLS", "ULS")) {
  f <- function() cfa(m, data = hs, estimator = est, group = "school", group.equal = "loadings")
  invisible(f())
  t <- sapply(seq_len(repeats), function(i) system.time(f())[["elapsed"]])
  cat(est, median(t), "\n")
}
fit <- cfa(m, data = hs, estimator = "GLS", group = "school", group.equal = "loadings")
set.seed(1)
t <- system.time(bootstrapLavaan(fit, R = 100, FUN = "coef"))[["elapsed"]]
cat("boot100", t, "\n")
"""


def median_time(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--no-r", action="store_true")
    args = parser.parse_args()
    hs = pd.read_csv(HS)
    print(f"machine: {platform.node()} load {os.getloadavg()}")
    ours = {}
    for est in ("GLS", "ULS"):
        ours[est] = median_time(lambda: lcsem.fit(MODEL, hs, estimator=est, group="school",
                                                  group_equal="loadings"), args.repeats)
        print(f"lcsem.fit HS by school, metric, {est}: {ours[est] * 1000:.1f} ms")
    res = lcsem.fit(MODEL, hs, estimator="GLS", group="school", group_equal="loadings")
    t = time.perf_counter()
    lcsem.bootstrap(res, args.n_boot, seed=1, progress=False)
    boot_time = time.perf_counter() - t
    print(f"lcsem.bootstrap GLS metric, {args.n_boot} replicates: {boot_time:.2f} s")
    lc = lcsem.fit(lcsem.lc_model(), lcsem.datasets.load_lc_survey())
    boot = lcsem.bootstrap(lc, args.n_boot, seed=1, progress=False)
    t = time.perf_counter()
    lcsem.measurement(lc, boot=boot)
    print(f"lcsem.measurement(canonical model, boot of {args.n_boot}): {time.perf_counter() - t:.2f} s")
    if args.no_r or not shutil.which("Rscript"):
        return
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bench.R"
        script.write_text(R_SCRIPT)
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
        out = subprocess.run(["Rscript", str(script), str(HS), str(args.repeats)], capture_output=True,
                             text=True, env=env, check=True).stdout
    lav = {line.split()[0]: float(line.split()[1]) for line in out.splitlines() if line.strip()}
    for est in ("GLS", "ULS"):
        print(f"lavaan cfa {est}: {lav[est] * 1000:.1f} ms; lavaan / lcsem = {lav[est] / ours[est]:.1f}")
    per_rep = lav["boot100"] / 100
    print(f"lavaan bootstrapLavaan GLS: {per_rep * 1000:.1f} ms per replicate -> {per_rep * args.n_boot:.1f} s "
          f"for {args.n_boot}; lavaan / lcsem = {per_rep * args.n_boot / boot_time:.0f}")


if __name__ == "__main__":
    main()
