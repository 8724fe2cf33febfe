"""Time one ``fit()`` against lavaan's ``cfa()``/``sem()`` and semopy in the same run (issue 10).

    python benchmarks/fit.py            # quiet machine
    python benchmarks/fit.py --load 2   # with 2 busy processes competing for the cores

Models: HS three-factor CFA (single group; lcsem's default, lcsem without semopy's start,
semopy alone, lavaan ``cfa()``), HS by school configural and scalar, and the learning-culture
model by sector (configural). Each timing is the median of ``--repeat`` calls after one
warm-up, BLAS limited to one thread (threadpoolctl) in Python and ``OPENBLAS_NUM_THREADS=1``
for R. lavaan runs through ``Rscript`` when it is installed; its times are measured inside
R (``system.time`` around each call), so R's start-up is not counted.
Prints a Markdown table with the load average and the ratios lcsem / lavaan.
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
import warnings
from pathlib import Path

import pandas as pd
from threadpoolctl import threadpool_limits

import lcsem
from _models import HS_MODEL

ROOT = Path(__file__).resolve().parent.parent
REF = ROOT / "tests" / "reference"


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
    # the canonical model's labels a, b, c hold its paths equal across sectors (as lavaan)
    warnings.simplefilter("ignore", lcsem.SharedLabelWarning)
    hs = pd.read_csv(REF / "hs.csv")
    lc = lcsem.datasets.load_lc_survey()
    lc_model = lcsem.lc_model()
    out = {}
    with threadpool_limits(1):
        out["HS CFA: lcsem default"] = _median_time(lambda: lcsem.fit(HS_MODEL, hs), repeat)
        out["HS CFA: lcsem use_semopy=False"] = _median_time(
            lambda: lcsem.fit(HS_MODEL, hs, use_semopy=False), repeat)
        import semopy

        def semopy_fit():
            m = semopy.Model(HS_MODEL)
            m.fit(hs[[f"x{i}" for i in range(1, 10)]])
        out["HS CFA: semopy Model.fit"] = _median_time(semopy_fit, repeat)
        out["HS by school, configural: lcsem"] = _median_time(
            lambda: lcsem.fit(HS_MODEL, hs, group="school"), repeat)
        out["HS by school, scalar: lcsem"] = _median_time(
            lambda: lcsem.fit(HS_MODEL, hs, group="school", group_equal=["loadings", "intercepts"]), repeat)
        out["LC by sector, configural: lcsem"] = _median_time(
            lambda: lcsem.fit(lc_model, lc, group="sector"), repeat)
    return out


R_SCRIPT = r"""
suppressMessages(library(lavaan))
args <- commandArgs(trailingOnly = TRUE)
hs <- read.csv(args[1]); lc <- read.csv(args[2]); lc_model <- readLines(args[3]); repeat_n <- as.integer(args[4])
lc_model <- paste(lc_model, collapse = "\n")
hs_model <- "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
med <- function(f) { f(); median(sapply(seq_len(repeat_n), function(i) system.time(f())[["elapsed"]])) }
out <- list(
  "HS CFA: lavaan cfa()" = med(function() cfa(hs_model, hs)),
  "HS by school, configural: lavaan" = med(function() cfa(hs_model, hs, group = "school")),
  "HS by school, scalar: lavaan" = med(function() cfa(hs_model, hs, group = "school",
                                                  group.equal = c("loadings", "intercepts"))),
  "LC by sector, configural: lavaan" = med(function() sem(lc_model, lc, group = "sector")))
cat(jsonlite::toJSON(out, auto_unbox = TRUE, digits = NA))
"""


def lavaan_timings(repeat: int) -> dict[str, float]:
    if shutil.which("Rscript") is None:
        return {}
    lc = lcsem.datasets.load_lc_survey()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        lc_path, model_path, script = tmp / "lc.csv", tmp / "lc_model.txt", tmp / "time.R"
        lc.to_csv(lc_path, index=False)
        model_path.write_text(lcsem.lc_model().to_syntax())
        script.write_text(R_SCRIPT)
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        proc = subprocess.run(["Rscript", str(script), str(REF / "hs.csv"), str(lc_path), str(model_path),
                               str(repeat)], capture_output=True, text=True, env=env, check=True)
        return json.loads(proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--load", type=int, default=0, help="busy processes to run alongside")
    args = parser.parse_args()
    stop = mp.Event()
    burners = [mp.Process(target=_burn, args=(stop,)) for _ in range(args.load)]
    for b in burners:
        b.start()
    try:
        time.sleep(1.0 if burners else 0.0)
        ours = python_timings(args.repeat)
        theirs = lavaan_timings(args.repeat)
        load = os.getloadavg()[0]
    finally:
        stop.set()
        for b in burners:
            b.join()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{args.load} busy processes, load average {load:.2f}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
    print("| fit | median time | vs lavaan |")
    print("|---|---:|---:|")
    for name, seconds in {**ours, **theirs}.items():
        model = name.split(":")[0]
        lav = next((v for k, v in theirs.items() if k.split(":")[0] == model), None)
        ratio = f"{seconds / lav:.2f}x" if lav and "lavaan" not in name else ""
        print(f"| {name} | {seconds * 1000:.1f} ms | {ratio} |")


if __name__ == "__main__":
    main()
