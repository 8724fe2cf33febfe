"""Simulation speed: power grid, dynamic cut-offs and Monte Carlo CIs, against R in the same run.

Run from the repository root::

    /work/venv/bin/python benchmarks/simulation.py              # a few minutes with R
    /work/venv/bin/python benchmarks/simulation.py --no-r       # lcsem only

Timed (median of ``--repeat`` runs after one warm-up; wall and CPU seconds; load average
before and after each):

* the power grid of issue 13: the canonical model fitted to ``tests/reference/lc_shared.csv``
  as the population, N = 100, 200, 300, 400, 600, 1,000 replicates each (5,000 refits,
  Wald and Monte Carlo CI tests), with ``n_jobs=1`` and ``n_jobs=2``;
* ``dynamic_cutoffs`` of the Holzinger–Swineford three-factor CFA (500 replicates per
  model: 1,500 refits);
* ``monte_carlo_ci`` of the canonical model, 20,000 draws;
* a two-group power grid (the two-sector latent path model of
  ``tests/reference/make_power_groups.R``, a sector difference ``diff := a1 - a2``): total
  N = 200, 300, 400, 500, 600 split 3:2, 1,000 replicates each (5,000 multi-group refits
  with means), Wald tests and the 1,000-draw Monte Carlo CI of the ``:=`` effects;
* the canonical power grid refitted by GLS and by ULS (Wald tests only).

R in the same run (when ``Rscript`` with lavaan is present): the lavaan loop
(``simulateData`` + ``sem``, as ``tests/reference/make_power.R``) timed on ``--r-reps``
replicates at N = 300 and scaled to 5,000; the two-group loop (as
``tests/reference/make_power_groups.R``) on ``--r-reps`` replicates at N = 240 + 160, scaled
to 5,000; semTools ``monteCarloCI`` at 20,000 draws; and
the ``dynamic`` package's ``cfaHB`` (run from its source, see
``tests/reference/make_dynamic.R``) on ``--r-dynamic-reps`` replicates, scaled to 500 when
``--dynamic-src`` points at the package's R files.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd

import lcsem

ROOT = Path(__file__).resolve().parent.parent
REF = ROOT / "tests" / "reference"
CANONICAL = """
culture =~ culture1 + culture2 + culture3 + culture4 + culture5 + culture6
kmsuse  =~ kmsuse1 + kmsuse2 + kmsuse3 + kmsuse4
perf    =~ perf1 + perf2 + perf3 + perf4 + perf5
kmsuse ~ a*culture
perf ~ b*kmsuse + c*culture
ind := a*b
total := c + a*b
"""
HS = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"


def load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def timed(fn, repeat: int) -> tuple[float, float, object]:
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus), out


def rscript(code: str, timeout: float = 3600) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.R"
        path.write_text(code)
        out = subprocess.run(["Rscript", str(path)], cwd=REF, capture_output=True, text=True, timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError(out.stderr[-2000:])
        return json.loads(out.stdout.strip().splitlines()[-1])


R_LOOP = """
suppressMessages(library(lavaan)); library(jsonlite)
lc <- read.csv("lc_shared.csv")
m <- '{model}'
fit <- sem(m, data = lc)
pe <- parameterEstimates(fit); pe <- pe[pe$op %in% c("=~", "~", "~~"), ]
pop <- paste(sprintf("%s %s %.17g*%s", pe$lhs, pe$op, pe$est, pe$rhs), collapse = "\\n")
set.seed(1)
t <- system.time(for (i in 1:{reps}) {{ d <- simulateData(pop, sample.nobs = 300)
  f <- suppressWarnings(sem(m, data = d)); parameterEstimates(f); fitMeasures(f) }})
suppressMessages(library(semTools)); set.seed(2)
t2 <- system.time(monteCarloCI(fit, nRep = 20000))
cat(toJSON(list(loop = unname(t["elapsed"]), loop_cpu = unname(t["user.self"] + t["sys.self"]),
                mc = unname(t2["elapsed"])), auto_unbox = TRUE), "\\n")
"""

R_GROUPS = """
suppressMessages(library(lavaan)); library(jsonlite)
ref <- fromJSON("power_groups_reference.json")
pop <- ref$groups$population_model; m <- ref$groups$model
set.seed(1)
t <- system.time(for (i in 1:{reps}) {{ d <- simulateData(pop, sample.nobs = c(240, 160))
  f <- suppressWarnings(sem(m, data = d, group = "group")); parameterEstimates(f); fitMeasures(f) }})
cat(toJSON(list(loop = unname(t["elapsed"]), loop_cpu = unname(t["user.self"] + t["sys.self"])),
           auto_unbox = TRUE), "\n")
"""

R_DYNAMIC = """
suppressMessages({{library(lavaan); library(dplyr); library(purrr); library(tidyr); library(jsonlite)}})
src <- "{src}"
source_lines <- readLines("make_dynamic.R")
start <- grep("^sim_standardized_standin <- function", source_lines)
stop <- grep("^hs <- read.csv", source_lines) - 1
eval(parse(text = source_lines[start:stop]))
hs <- read.csv("hs.csv")
fit <- cfa('{model}', data = hs)
t <- system.time(cfaHB(fit, reps = {reps}))
cat(toJSON(list(dynamic = unname(t["elapsed"]), dynamic_cpu = unname(t["user.self"] + t["sys.self"])),
           auto_unbox = TRUE), "\\n")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-r", action="store_true")
    parser.add_argument("--r-reps", type=int, default=50)
    parser.add_argument("--r-dynamic-reps", type=int, default=25)
    parser.add_argument("--dynamic-src", default="", help="folder with dynamic's helper.R, cfaHB.R, cfaOne.R")
    args = parser.parse_args()
    lines = [f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
             f"Python {platform.python_version()}, lcsem {lcsem.__version__}; "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"]
    res = lcsem.fit(CANONICAL, pd.read_csv(REF / "lc_shared.csv"))
    hs = lcsem.fit(HS, lcsem.datasets.load_holzinger_swineford())
    grid = [100, 200, 300, 400, 600]
    rows = []

    def record(name, fn, per=None):
        fn()                                  # warm-up
        before = load()
        wall, cpu, out = timed(fn, args.repeat)
        rows.append((name, wall, cpu, before, load()))
        return wall, out

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w_power, _ = record("power grid 5 N x 1,000 reps (n_jobs=1)",
                            lambda: lcsem.power(res, grid, 1000, seed=1))
        w_power2, _ = record("power grid 5 N x 1,000 reps (n_jobs=2)",
                             lambda: lcsem.power(res, grid, 1000, seed=1, n_jobs=2))
        record("power grid, Wald only (mc_draws=0)", lambda: lcsem.power(res, grid, 1000, seed=1, mc_draws=0))
        w_dyn, _ = record("dynamic_cutoffs HS CFA, 500 reps x 3 models", lambda: lcsem.dynamic_cutoffs(hs, seed=1))
        w_mc, _ = record("monte_carlo_ci 20,000 draws", lambda: lcsem.monte_carlo_ci(res, 20000, seed=1))
        group_ref = json.loads((REF / "power_groups_reference.json").read_text())["groups"]
        loadings = group_ref["population"]["loadings"]
        factor = {"c": "culture", "k": "kmsuse", "p": "perf"}
        params = {**{f"{factor[v[0]]} =~ {v}": x for v, x in loadings.items()},
                  "kmsuse ~ culture": group_ref["population"]["a"], "perf ~ kmsuse": 0.4, "perf ~ culture": 0.2}
        totals = [200, 300, 400, 500, 600]

        def group_grid(**kw):
            return lcsem.power(group_ref["model"], totals, 1000, params=params, groups=group_ref["labels"],
                               ratio=(3, 2), seed=1, **kw)
        w_groups, _ = record("two-group power grid 5 N x 1,000 reps (n_jobs=1)", group_grid)
        w_groups2, _ = record("two-group power grid 5 N x 1,000 reps (n_jobs=2)", lambda: group_grid(n_jobs=2))
        record("two-group power grid, Wald only (mc_draws=0)", lambda: group_grid(mc_draws=0))
        record("GLS power grid 5 N x 1,000 reps (mc_draws=0)",
               lambda: lcsem.power(res, grid, 1000, seed=1, mc_draws=0, estimator="GLS"))
        record("ULS power grid 5 N x 1,000 reps (mc_draws=0)",
               lambda: lcsem.power(res, grid, 1000, seed=1, mc_draws=0, estimator="ULS"))
    lines.append("")
    lines.append("| task | wall s | CPU s | load before | load after |")
    lines.append("| --- | ---: | ---: | --- | --- |")
    lines += [f"| {n} | {w:.3f} | {c:.3f} | {b} | {a} |" for n, w, c, b, a in rows]
    if not args.no_r and shutil.which("Rscript"):
        lines.append("")
        r = rscript(R_LOOP.format(model=CANONICAL.strip(), reps=args.r_reps))
        loop_5000 = r["loop"] / args.r_reps * 5000
        lines.append(f"R lavaan loop (simulateData + sem, N = 300): {r['loop']:.1f} s for {args.r_reps} reps "
                     f"-> {loop_5000:.0f} s per 5,000 (scaled); lcsem power grid {w_power:.2f} s: "
                     f"{loop_5000 / w_power:.0f}x faster (n_jobs=1), {loop_5000 / w_power2:.0f}x (n_jobs=2)")
        lines.append(f"semTools monteCarloCI 20,000 draws: {r['mc']:.3f} s; lcsem {w_mc:.3f} s")
        rg = rscript(R_GROUPS.format(reps=args.r_reps))
        groups_5000 = rg["loop"] / args.r_reps * 5000
        lines.append(f"R two-group lavaan loop (simulateData + sem(group=), N = 240 + 160): {rg['loop']:.1f} s for "
                     f"{args.r_reps} reps -> {groups_5000:.0f} s per 5,000 (scaled); lcsem two-group grid "
                     f"{w_groups:.2f} s: {groups_5000 / w_groups:.0f}x faster (n_jobs=1), "
                     f"{groups_5000 / w_groups2:.0f}x (n_jobs=2)")
        if args.dynamic_src:
            d = rscript(R_DYNAMIC.format(src=args.dynamic_src, model=HS.replace("\n", "\\n"), reps=args.r_dynamic_reps))
            d500 = d["dynamic"] / args.r_dynamic_reps * 500
            lines.append(f"dynamic::cfaHB (its source, simstandard stand-in): {d['dynamic']:.1f} s for "
                         f"{args.r_dynamic_reps} reps -> {d500:.0f} s per 500 (scaled); lcsem {w_dyn:.2f} s: "
                         f"{d500 / w_dyn:.0f}x faster")
        lines.append(f"load after R: {load()}")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
