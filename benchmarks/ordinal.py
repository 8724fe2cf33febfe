"""A WLSMV fit of the canonical model, lcsem vs lavaan in the same run (issue 12: "a WLSMV
fit of the canonical model (16 items, N=400) no slower than lavaan's").

    python benchmarks/ordinal.py [--repeat 15]

Cases, all with every item ordered (lavaan's ``ordered = TRUE``, WLSMV, delta):

- the canonical model ``lcsem.lc_model()`` on the bundled survey (16 seven-point items,
  N = 400, 386 complete rows);
- the canonical model on ``tests/reference/lc_ordinal.csv`` (15 items cut to 5 categories,
  N = 350);
- the same by sector (2 groups).

lcsem: median wall and CPU (process) time of ``lcsem.fit(model, data, ordered=True)`` after
one warm-up call, BLAS limited to one thread (threadpoolctl). lavaan: median of the same
number of ``sem(model, data, ordered = TRUE)`` calls inside one ``Rscript`` (after a
warm-up fit; ``OPENBLAS_NUM_THREADS=1``), timed with ``proc.time()``; the R start-up and
package load are not counted. Both include the whole fit (thresholds, polychorics, Gamma,
estimation, robust SEs, scaled test, fit measures) — lavaan's ``sem()`` computes its fit
measures lazily, so ``fitMeasures()`` is called inside its timed loop too.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import pandas as pd
from threadpoolctl import threadpool_limits

import lcsem
from lcsem.datasets import load_lc_survey, path_of
from _models import LC_MODEL, REF


R_SCRIPT = r"""
suppressMessages(library(lavaan)); library(jsonlite)
args <- commandArgs(TRUE)
cases <- fromJSON(args[1], simplifyVector = FALSE)
out <- list()
for (cs in cases) {
  d <- read.csv(cs$data)
  run <- function() {
    f <- if (is.null(cs$group)) sem(cs$model, d, ordered = TRUE) else sem(cs$model, d, ordered = TRUE, group = cs$group)
    fitMeasures(f)
    f
  }
  f <- run()
  wall <- cpu <- numeric(cs$repeat_)
  for (i in seq_len(cs$repeat_)) {
    t0 <- proc.time(); run(); t1 <- proc.time() - t0
    wall[i] <- t1[["elapsed"]]; cpu[i] <- t1[["user.self"]] + t1[["sys.self"]]
  }
  out[[cs$name]] <- list(wall = median(wall), cpu = median(cpu), chisq = unname(fitMeasures(f, "chisq")),
                         chisq_scaled = unname(fitMeasures(f, "chisq.scaled")))
}
write_json(out, args[2], auto_unbox = TRUE, digits = NA)
"""


def _time(call, repeat: int) -> tuple[float, float]:
    call()
    wall, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        call()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu)


def _lavaan(cases: list[dict], repeat: int) -> dict:
    if shutil.which("Rscript") is None:
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        spec, script, out = Path(tmp) / "cases.json", Path(tmp) / "bench.R", Path(tmp) / "out.json"
        spec.write_text(json.dumps([{"name": c["name"], "model": c["model"], "data": c["path"],
                                     "group": c.get("group"), "repeat_": repeat} for c in cases]))
        script.write_text(R_SCRIPT)
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        subprocess.run(["Rscript", str(script), str(spec), str(out)], check=True, env=env, capture_output=True)
        return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    cases = [
        {"name": "canonical, bundled survey (16 items x 7 categories, N=400)", "model": lcsem.lc_model().to_syntax(),
         "data": load_lc_survey(), "path": path_of("lc_survey")},
        {"name": "canonical, lc_ordinal.csv (15 items x 5 categories, N=350)", "model": LC_MODEL,
         "data": pd.read_csv(REF / "lc_ordinal.csv"), "path": str(REF / "lc_ordinal.csv")},
        {"name": "same by sector (2 groups)", "model": LC_MODEL, "data": pd.read_csv(REF / "lc_ordinal.csv"),
         "path": str(REF / "lc_ordinal.csv"), "group": "sector"},
    ]
    print(f"load average at start: {os.getloadavg()[0]:.2f}; {args.repeat} timed runs each (median)\n")
    mine = {}
    with threadpool_limits(1):
        for c in cases:
            res = lcsem.fit(c["model"], c["data"], ordered=True, group=c.get("group"))
            wall, cpu = _time(lambda: lcsem.fit(c["model"], c["data"], ordered=True, group=c.get("group")),
                              args.repeat)
            mine[c["name"]] = (wall, cpu, res.fit_indices["chisq"], res.fit_indices["chisq_scaled"])
    theirs = _lavaan(cases, args.repeat)
    print("| case | lcsem ms wall (cpu) | lavaan ms wall (cpu) | lavaan / lcsem (cpu) | chisq, scaled: lcsem | lavaan |")
    print("| --- | --- | --- | --- | --- | --- |")
    for c in cases:
        w, u, x2, x2s = mine[c["name"]]
        r = theirs.get(c["name"])
        lav = f"{1000 * r['wall']:.0f} ({1000 * r['cpu']:.0f})" if r else "n/a"
        ratio = f"{r['cpu'] / u:.1f}x" if r else "n/a"
        ref = f"{r['chisq']:.3f}, {r['chisq_scaled']:.3f}" if r else "n/a"
        print(f"| {c['name']} | {1000 * w:.0f} ({1000 * u:.0f}) | {lav} | {ratio} | {x2:.3f}, {x2s:.3f} | {ref} |")
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
