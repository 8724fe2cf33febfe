"""The FIML bootstrap (issue 11) against lavaan's ``bootstrapLavaan`` in the same run.

    python benchmarks/bootstrap_fiml.py                      # about 2 minutes
    python benchmarks/bootstrap_fiml.py --lavaan-replicates 0  # lcsem only

Data: the canonical model (``lcsem.lc_model()``, 16 items) on the bundled survey (N = 400)
with values deleted completely at random by a fixed-seed rule: the value of respondent ``i``
on the model's item ``j`` (the model's order) is deleted when
``numpy.random.default_rng(11).random((400, 16))[i, j] < rate`` (rate 8% for the main
table; tests/test_fiml_batched.py uses the same rule).

Timed, in one process with BLAS limited to one thread:

* lcsem: ``lcsem.bootstrap(res, 1000, seed=1)`` of ``lcsem.fit(model, data, missing="ml")``
  (every replicate a FIML refit with EM for its saturated model, all 12 fit indices,
  parameters, ``:=`` values and std.all), ``n_jobs=1`` (wall and CPU) and ``n_jobs=2``
  (wall; loky workers warmed up by a first short run);
* the same replicates one after the other (the path before batching,
  ``evaluate_fiml_unbatched``), on ``--unbatched`` replicates, reported per 1,000;
* lavaan 0.6.14: ``bootstrapLavaan(fit, R, FUN = function(x) c(coef(x), fitMeasures(x,
  <the same 12 indices>)))`` of ``sem(model, data, missing = "ml")`` through ``Rscript`` with
  ``OPENBLAS_NUM_THREADS=1``, timed inside R (``system.time``, elapsed and CPU), reported per
  1,000 replicates.

A second table: lcsem's cost at three MCAR rates (more missing-data patterns as the rate
grows), 1,000 replicates, ``n_jobs=1``, CPU seconds.
"""

from __future__ import annotations

import argparse
import json
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
from threadpoolctl import threadpool_limits

import lcsem
from lcsem.inference.fit_indices import BOOTSTRAP_INDEX_NAMES

#: the seed of the deletion rule (module text)
DELETION_SEED = 11


def survey_with_missing(rate: float) -> tuple[str, pd.DataFrame, list[str]]:
    """The canonical model's text, the bundled survey with its items deleted MCAR at ``rate``
    (module text), and the model's items."""
    model = lcsem.lc_model()
    data = lcsem.datasets.load_lc_survey()
    items = list(lcsem.fit(model, data).model.observed)
    mask = np.random.default_rng(DELETION_SEED).random((len(data), len(items))) < rate
    data = data.copy()
    data[items] = data[items].mask(mask)
    text = model if isinstance(model, str) else str(model)
    return text, data, items


def time_lcsem(res, n: int, n_jobs: int) -> tuple[float, float, object]:
    t, c = time.perf_counter(), time.process_time()
    boot = lcsem.bootstrap(res, n, seed=1, n_jobs=n_jobs, progress=False)
    return time.perf_counter() - t, time.process_time() - c, boot


def time_unbatched(res, n: int) -> float:
    """CPU seconds of ``n`` replicates refitted one after the other (the pre-batching path)."""
    from lcsem.resampling.api import _group_data
    from lcsem.resampling.fiml import evaluate_fiml_unbatched, fiml_source
    from lcsem.resampling.groups import GroupedReplicateSpec
    from lcsem.resampling.resample import group_resample_indices

    spec = GroupedReplicateSpec(res)
    X, positions, group_of = _group_data(res)
    source = fiml_source(spec, X=X, positions=positions, group_of=group_of, columns=tuple(res.model.observed))
    indices = group_resample_indices(np.random.SeedSequence(1), n, positions)
    c = time.process_time()
    evaluate_fiml_unbatched(spec, source, np.arange(n), indices)
    return time.process_time() - c


R_SCRIPT = r"""
suppressMessages(library(lavaan))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1]); R <- as.integer(args[2]); model <- readLines(args[3])
idx <- strsplit(args[4], ",")[[1]]
fit <- sem(model, d, missing = "ml")
stat <- function(x) c(coef(x), fitMeasures(x, idx))
t <- system.time(b <- bootstrapLavaan(fit, R = R, FUN = stat, iseed = 1))
cat(jsonlite::toJSON(list(elapsed = t[["elapsed"]], cpu = t[["user.self"]] + t[["sys.self"]], R = R,
                          failed = sum(!is.finite(b[, 1]))), auto_unbox = TRUE, digits = NA))
"""


def time_lavaan(text: str, data: pd.DataFrame, items: list[str], n: int) -> dict | None:
    if shutil.which("Rscript") is None or n <= 0:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "boot.R").write_text(R_SCRIPT)
        (tmp / "model.txt").write_text(text)
        data[items].to_csv(tmp / "data.csv", index=False, na_rep="NA")
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        proc = subprocess.run(["Rscript", str(tmp / "boot.R"), str(tmp / "data.csv"), str(n),
                               str(tmp / "model.txt"), ",".join(n.replace("_", ".") for n in BOOTSTRAP_INDEX_NAMES)],
                              capture_output=True, text=True, env=env, check=True)
        return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--unbatched", type=int, default=50, help="replicates timed one by one")
    parser.add_argument("--lavaan-replicates", type=int, default=50)
    parser.add_argument("--rates", default="0.03,0.08,0.15")
    args = parser.parse_args()
    n = args.replicates
    warnings.simplefilter("ignore")
    load_start = os.getloadavg()
    text, data, items = survey_with_missing(0.08)
    with threadpool_limits(limits=1):
        res = lcsem.fit(text, data, missing="ml")
        n_patterns = len(res.missing_patterns)
        time_lcsem(res, 20, 1)                                         # warm-up
        wall1, cpu1, boot = time_lcsem(res, n, 1)
        time_lcsem(res, 40, 2)                                         # start the loky workers
        wall2, _, boot2 = time_lcsem(res, n, 2)
        same = np.array_equal(boot.distribution.to_numpy(), boot2.distribution.to_numpy(), equal_nan=True)
        unbatched = time_unbatched(res, args.unbatched) if args.unbatched else None
    lav = time_lavaan(text, data, items, args.lavaan_replicates)
    scaling = []
    with threadpool_limits(limits=1):
        for rate in (float(r) for r in args.rates.split(",")):
            t_, d_, _ = survey_with_missing(rate)
            r_ = lcsem.fit(t_, d_, missing="ml")
            _, cpu, _ = time_lcsem(r_, n, 1)
            scaling.append((rate, len(r_.missing_patterns), cpu))
    load_end = os.getloadavg()
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average {load_start[0]:.1f} at the start, "
          f"{load_end[0]:.1f} at the end\n")
    print(f"Canonical model, survey N = 400, 8% MCAR ({n_patterns} missing-data patterns), {n} replicates:\n")
    print("| run | wall s | CPU s | per 1,000 (CPU s) |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| lcsem `n_jobs=1` | {wall1:.2f} | {cpu1:.2f} | {cpu1 * 1000 / n:.2f} |")
    print(f"| lcsem `n_jobs=2` (identical numbers: {same}) | {wall2:.2f} | – | – |")
    if unbatched is not None:
        print(f"| one replicate after the other (before), {args.unbatched} replicates | – | {unbatched:.2f} | "
              f"{unbatched * 1000 / args.unbatched:.1f} |")
    if lav:
        per = lav["cpu"] * 1000 / lav["R"]
        print(f"| lavaan `bootstrapLavaan`, {lav['R']} replicates | {lav['elapsed']:.2f} | {lav['cpu']:.2f} | "
              f"{per:.1f} |")
        print(f"\nlavaan / lcsem per replicate (CPU, n_jobs=1): {per / (cpu1 * 1000 / n):.0f}x; "
              f"lavaan CPU / lcsem n_jobs=2 wall: {per / (wall2 * 1000 / n):.0f}x")
    print(f"\nfailed replicates: {int(boot.n_failed)}")
    print("\n| MCAR rate | patterns | lcsem CPU s per 1,000 |")
    print("| ---: | ---: | ---: |")
    for rate, n_pat, cpu in scaling:
        print(f"| {rate:.0%} | {n_pat} | {cpu * 1000 / n:.2f} |")


if __name__ == "__main__":
    main()
