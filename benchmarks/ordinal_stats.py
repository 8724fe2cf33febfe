"""Ordinal sample statistics (issue 12): thresholds, polychorics, WLS.obs and Gamma.

    python benchmarks/ordinal_stats.py [--repeat 7] [--replicates 1000]

Times, in one process (BLAS limited to one thread), wall and CPU (process) seconds:

1. one ``ordinal_stats`` call (thresholds, 105 polychorics, Gamma 165 x 165) on the 15
   cut survey items (``tests/reference/lc_ordinal.csv``, N = 350), median of ``--repeat``;
2. 100 weighted replicates of the same data (bootstrap case counts): one
   ``ordinal_stats(weights=...)`` call per replicate, and one ``ordinal_stats_batch`` call;
3. ``--replicates`` replicates (default 1,000) of a 16-item, 5-category, N = 400 data set
   (simulated here with a fixed seed: two factors, loadings .55-.8) with
   ``ordinal_stats_batch`` (WLS.obs and DWLS weights of every replicate), started at the
   full-sample polychorics;
4. where ``Rscript`` with lavaan is available, in the same run: lavaan's ``lavCor`` (no
   Gamma) and ``lavaan:::muthen1984`` (thresholds, polychorics and Gamma: the computation
   of 1.) on the survey items, median of ``--repeat`` inside R (R's start-up excluded), and
   ``muthen1984`` on 100 resamples of the survey items.

Prints a Markdown table (wall and, in parentheses, CPU seconds) and the load average.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from lcsem.data.ordinal import ordinal_stats, prepare_ordinal, stats_of
from lcsem.data.ordinal_batch import ordinal_stats_batch
from _models import REF


def _time(call, repeat: int) -> tuple[float, float]:
    wall, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        call()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu)


def simulated_items(n: int = 400, items: int = 16, seed: int = 2026) -> pd.DataFrame:
    """Two correlated factors (r = .4), 8 items each, cut into 5 categories."""
    rng = np.random.default_rng(seed)
    lam = np.linspace(0.55, 0.8, items)
    eta = rng.multivariate_normal([0, 0], [[1, 0.4], [0.4, 1]], size=n)
    factor = np.repeat([0, 1], items // 2)
    ystar = lam * eta[:, factor] + np.sqrt(1 - lam ** 2) * rng.standard_normal((n, items))
    cuts = np.array([-1.5, -0.6, 0.2, 1.1])
    return pd.DataFrame(1 + (ystar[..., None] > cuts).sum(axis=2), columns=[f"i{j + 1}" for j in range(items)])


R_SCRIPT = r"""
suppressMessages(library(lavaan))
d <- read.csv("{csv}")
items <- setdiff(names(d), "sector")
d <- d[, items]
for (v in items) d[[v]] <- as.integer(d[[v]])
rep <- {repeat}
cpu <- function(t) t[["user.self"]] + t[["sys.self"]]
med <- function(f) { t <- replicate(rep, { s <- system.time(f()); c(s[["elapsed"]], cpu(s)) }); apply(t, 1, median) }
t_cor <- med(function() lavCor(d, ordered = items))
lev <- sapply(d, function(x) length(unique(x)))
m84 <- function(x) lavaan:::muthen1984(Data = as.matrix(x), ov.names = items,
          ov.types = rep("ordered", length(items)), ov.levels = lev, WLS.W = TRUE)
t_m84 <- med(function() m84(d))
set.seed(1)
s <- system.time(for (b in 1:100) m84(d[sample.int(nrow(d), replace = TRUE), ]))
t_boot <- c(s[["elapsed"]], cpu(s))
cat(sprintf("%.6f", c(t_cor, t_m84, t_boot)), "\n")
"""


def lavaan_times(repeat: int) -> tuple[tuple[float, float], ...] | None:
    """(wall, cpu) of lavCor, muthen1984, and muthen1984 on 100 resamples; None without R."""
    if shutil.which("Rscript") is None:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as fh:
        fh.write(R_SCRIPT.replace("{csv}", str(REF / "lc_ordinal.csv")).replace("{repeat}", str(repeat)))
        script = fh.name
    try:
        out = subprocess.run(["Rscript", script], capture_output=True, text=True, timeout=1800,
                             env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    except (OSError, subprocess.TimeoutExpired):
        return None
    finally:
        os.unlink(script)
    if out.returncode != 0:
        return None
    try:
        v = [float(x) for x in out.stdout.split()[-6:]]
    except ValueError:
        return None
    return (v[0], v[1]), (v[2], v[3]), (v[4], v[5])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--replicates", type=int, default=1000)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}\n")
    lc = pd.read_csv(REF / "lc_ordinal.csv")
    items = [c for c in lc.columns if c != "sector"]
    with threadpool_limits(1):
        one = _time(lambda: ordinal_stats(lc, items, True), args.repeat)
        design, _ = prepare_ordinal(lc, items, True)
        counts = np.random.default_rng(1).multinomial(design.n_rows, np.full(design.n_rows, 1 / design.n_rows),
                                                      size=100)
        loop = _time(lambda: [ordinal_stats(lc, items, True, weights=c) for c in counts], 1)
        batch = _time(lambda: ordinal_stats_batch(design, counts), max(1, args.repeat // 2))
        sim = simulated_items()
        sdesign, _ = prepare_ordinal(sim, list(sim.columns), True)
        full = stats_of(sdesign, np.ones(sdesign.n_rows), gamma=False)
        start = full.wls_obs[int((full.th_idx > 0).sum()):]
        scounts = np.random.default_rng(2).multinomial(sdesign.n_rows, np.full(sdesign.n_rows, 1 / sdesign.n_rows),
                                                       size=args.replicates)
        big = _time(lambda: ordinal_stats_batch(sdesign, scounts, start=start), 1)
    lav = lavaan_times(args.repeat)
    print("| what | lcsem wall s (cpu) | lavaan s |")
    print("| --- | --- | --- |")
    print(f"| one ordinal_stats call, 15 survey items (N = 350): th, 105 polychorics, Gamma "
          f"| {one[0]:.4f} ({one[1]:.4f}) | muthen1984 {lav[1][0]:.3f} ({lav[1][1]:.3f}); lavCor (no Gamma) "
          f"{lav[0][0]:.3f} ({lav[0][1]:.3f}) |"
          if lav else f"| one ordinal_stats call, 15 survey items | {one[0]:.4f} ({one[1]:.4f}) | – |")
    print(f"| 100 weighted replicates, one call each | {loop[0]:.3f} ({loop[1]:.3f}) "
          f"| muthen1984 on 100 resamples {lav[2][0]:.2f} ({lav[2][1]:.2f}) |" if lav else
          f"| 100 weighted replicates, one call each | {loop[0]:.3f} ({loop[1]:.3f}) | – |")
    print(f"| 100 weighted replicates, ordinal_stats_batch | {batch[0]:.3f} ({batch[1]:.3f}) | |")
    print(f"| {args.replicates} replicates, 16 items, N = 400, ordinal_stats_batch "
          f"| {big[0]:.2f} ({big[1]:.2f}) | |")
    if lav:
        print(f"\nratios (CPU): one call lavaan muthen1984 / lcsem = {lav[1][1] / one[1]:.1f}x; "
              f"100 replicates lavaan / lcsem batch = {lav[2][1] / batch[1]:.1f}x")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
