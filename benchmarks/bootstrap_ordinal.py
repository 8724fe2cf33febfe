"""1,000 ordinal bootstrap replicates, lcsem vs lavaan's bootstrapLavaan in the same run (issue 12:
"1,000 ordinal bootstrap replicates <= 15 s on 2 cores and >= 10x faster than bootstrapLavaan").

    python benchmarks/bootstrap_ordinal.py [--replicates 1000] [--lavaan-replicates 1000]

Cases (every item ordered, WLSMV, delta; nonparametric bootstrap):

- the canonical model ``lcsem.lc_model()`` on the bundled survey (16 seven-point items,
  N = 400, 386 complete rows);
- the canonical model on ``tests/reference/lc_ordinal.csv`` (15 items cut to 5 categories,
  N = 350; the data of the lavaan reference ``make_ordinal_boot.R``).

lcsem: ``lcsem.bootstrap(res, R, seed=1)`` after one short warm-up run, in this process
(``n_jobs=1``: wall and CPU seconds) and with two loky workers (``n_jobs=2``: wall seconds,
the workers started beforehand); and where the time goes in the ``n_jobs=1`` run: the CPU
seconds spent in the sample statistics of the replicates (thresholds, polychorics, DWLS
weights: ``ordinal_stats_batch``), the rest (resampling, refits, fit indices, parameters,
std.all) as the difference.
lavaan: ``bootstrapLavaan(fit, R, type = "nonparametric")`` (``FUN = coef``; serial) timed
inside one ``Rscript`` with ``proc.time()`` (start-up, package load and the full-sample fit
not counted), ``OPENBLAS_NUM_THREADS=1``. Ratios use CPU seconds per replicate (lavaan's
count may be smaller than lcsem's to keep the run short: ``--lavaan-replicates``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import lcsem
from lcsem.datasets import load_lc_survey, path_of
from lcsem.exceptions import BootstrapFailureWarning
from lcsem.resampling.ordinal import OrdinalReplicateSpec
from _models import LC_MODEL, REF


R_SCRIPT = r"""
suppressMessages(library(lavaan)); library(jsonlite)
args <- commandArgs(TRUE)
cases <- fromJSON(args[1], simplifyVector = FALSE)
out <- list()
for (cs in cases) {
  d <- read.csv(cs$data)
  obs <- lavNames(lavaanify(cs$model), "ov")
  d <- d[, obs]
  fit <- sem(cs$model, d, ordered = obs)
  set.seed(1)
  t0 <- proc.time()
  B <- bootstrapLavaan(fit, R = cs$R, type = "nonparametric")
  t1 <- proc.time() - t0
  out[[cs$name]] <- list(wall = t1[["elapsed"]], cpu = t1[["user.self"]] + t1[["sys.self"]], R = cs$R,
                         failed = sum(!stats::complete.cases(B)))
}
write_json(out, args[2], auto_unbox = TRUE, digits = NA)
"""


def _lavaan(cases: list[dict], replicates: int) -> dict:
    if shutil.which("Rscript") is None or replicates <= 0:
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        spec, script, out = Path(tmp) / "cases.json", Path(tmp) / "bench.R", Path(tmp) / "out.json"
        spec.write_text(json.dumps([{"name": c["name"], "model": c["model"], "data": c["path"], "R": replicates}
                                    for c in cases]))
        script.write_text(R_SCRIPT)
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        subprocess.run(["Rscript", str(script), str(spec), str(out)], check=True, env=env, capture_output=True)
        return json.loads(out.read_text())


def _bootstrap(res, n: int, n_jobs: int):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BootstrapFailureWarning)
        return lcsem.bootstrap(res, n, seed=1, n_jobs=n_jobs, progress=False)


class _StatisticsClock:
    """Accumulates the CPU seconds spent in :meth:`OrdinalReplicateSpec.statistics` (the
    thresholds, polychorics and weights of every replicate) during an in-process run."""

    def __init__(self):
        self.seconds = 0.0
        self._original = OrdinalReplicateSpec.statistics

    def __enter__(self):
        clock, original = self, self._original

        def timed(spec, g, counts):
            c = time.process_time()
            try:
                return original(spec, g, counts)
            finally:
                clock.seconds += time.process_time() - c

        OrdinalReplicateSpec.statistics = timed
        return self

    def __exit__(self, *exc):
        OrdinalReplicateSpec.statistics = self._original


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--lavaan-replicates", type=int, default=1000)
    args = parser.parse_args()
    cases = [
        {"name": "canonical, bundled survey (16 items x 7 categories, N=400)", "model": lcsem.lc_model().to_syntax(),
         "data": load_lc_survey(), "path": path_of("lc_survey")},
        {"name": "canonical, lc_ordinal.csv (15 items x 5 categories, N=350)", "model": LC_MODEL,
         "data": pd.read_csv(REF / "lc_ordinal.csv"), "path": str(REF / "lc_ordinal.csv")},
    ]
    print(f"load average at start: {os.getloadavg()[0]:.2f}; {args.replicates} lcsem replicates, "
          f"{args.lavaan_replicates} lavaan replicates\n")
    n = args.replicates
    mine = {}
    for c in cases:
        res = lcsem.fit(c["model"], c["data"], ordered=True)
        _bootstrap(res, 20, 1)
        with _StatisticsClock() as clock:
            t, u = time.perf_counter(), time.process_time()
            one = _bootstrap(res, n, 1)
            wall1, cpu1 = time.perf_counter() - t, time.process_time() - u
        _bootstrap(res, 40, 2)                      # start the loky workers
        t = time.perf_counter()
        two = _bootstrap(res, n, 2)
        wall2 = time.perf_counter() - t
        assert np.array_equal(one.distribution.to_numpy(), two.distribution.to_numpy(), equal_nan=True)
        stats_cpu = clock.seconds
        mine[c["name"]] = dict(wall1=wall1, cpu1=cpu1, wall2=wall2, stats=stats_cpu, failed=one.n_failed,
                               inadmissible=one.n_inadmissible)
    theirs = _lavaan(cases, args.lavaan_replicates)
    print("| case | lcsem n_jobs=1 s wall (cpu) | lcsem n_jobs=2 s wall | statistics / refits (cpu s) "
          "| lavaan s wall (cpu) [R] | lavaan / lcsem per replicate (cpu) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for c in cases:
        m = mine[c["name"]]
        r = theirs.get(c["name"])
        lav = f"{r['wall']:.1f} ({r['cpu']:.1f}) [{r['R']}]" if r else "n/a"
        ratio = f"{(r['cpu'] / r['R']) / (m['cpu1'] / n):.0f}x" if r else "n/a"
        print(f"| {c['name']} | {m['wall1']:.2f} ({m['cpu1']:.2f}) | {m['wall2']:.2f} "
              f"| {m['stats']:.2f} / {m['cpu1'] - m['stats']:.2f} | {lav} | {ratio} |")
    for c in cases:
        m = mine[c["name"]]
        print(f"\n{c['name']}: lcsem failed {m['failed']}, inadmissible {m['inadmissible']}"
              + (f"; lavaan failed {theirs[c['name']]['failed']}" if c["name"] in theirs else ""))
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
