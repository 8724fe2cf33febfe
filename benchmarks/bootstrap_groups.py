"""Multi-group bootstrap speed: lcsem vs lavaan's bootstrapLavaan, ratios in one run.

Run from the repository root::

    /work/venv/bin/python benchmarks/bootstrap_groups.py              # about a minute
    /work/venv/bin/python benchmarks/bootstrap_groups.py --lavaan-n 1000
    /work/venv/bin/python benchmarks/bootstrap_groups.py --no-lavaan

The model is the two-group survey model of ``tests/reference/groups_reference.json``
(``lc_configural``: the canonical learning-culture model by ``sector``, 15 indicators,
N = 175 + 175, 96 free parameters with means), bootstrapped by resampling cases within
groups. lcsem times are medians of ``--repeat`` runs after a warm-up (imports, first BLAS
calls, and with ``n_jobs=2`` the start of the loky worker processes), wall seconds and CPU
seconds of this process and its worker processes (psutil). On a loaded machine the wall
time exceeds CPU / cores; "CPU s" is what the run costs. lavaan's
``bootstrapLavaan(fit, R, FUN = c(coef, fitMeasures(chisq, cfi, rmsea, srmr)))`` (the
reference's statistic) is timed with Rscript on ``--lavaan-n`` replicates (one BLAS thread)
and scaled to 1,000. The single-group line (HS, 1,000 replicates) checks that the
single-group bootstrap kept its speed (issue 10: about 0.25 s).
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
from lcsem.exceptions import BootstrapFailureWarning
from _models import HS_MODEL

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "reference"


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def _cpu_all() -> float:
    """CPU seconds of this process and its (loky worker) child processes so far."""
    try:
        import psutil
    except ImportError:
        return time.process_time()
    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    for child in me.children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.Error:
            pass
    return total


def timed(fn, repeat: int) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds (this process and its workers)."""
    walls, cpus = [], []
    for _ in range(repeat):
        c0, w0 = _cpu_all(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(_cpu_all() - c0)
    return statistics.median(walls), statistics.median(cpus)


def boot(res, n, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BootstrapFailureWarning)
        return lcsem.bootstrap(res, n, progress=False, **kw)


def lavaan_seconds(model_text: str, replicates: int) -> float | None:
    """Elapsed seconds of bootstrapLavaan on ``replicates`` replicates, or None without R."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "boot.R"
        script.write_text(
            "suppressMessages(library(lavaan))\n"
            f"d <- read.csv('{REFERENCE / 'lc_shared.csv'}')\n"
            f"fit <- sem('{model_text.strip()}', data = d, group = 'sector')\n"
            "f <- function(x) c(coef(x), fitMeasures(x, c('chisq', 'cfi', 'rmsea', 'srmr')))\n"
            "t0 <- Sys.time()\n"
            f"b <- bootstrapLavaan(fit, R = {replicates}, FUN = f, iseed = 1)\n"
            "cat(as.numeric(difftime(Sys.time(), t0, units = 'secs')))\n")
        try:
            out = subprocess.run([rscript, str(script)], capture_output=True, text=True, timeout=3600,
                                 env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"})
        except (OSError, subprocess.TimeoutExpired):
            return None
        if out.returncode != 0:
            print(out.stderr[-2000:], file=sys.stderr)
            return None
        return float(out.stdout.strip().split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--lavaan-n", type=int, default=100, help="replicates timed for lavaan (default 100)")
    parser.add_argument("--no-lavaan", action="store_true")
    args = parser.parse_args()

    ref = json.loads((REFERENCE / "groups_reference.json").read_text())
    model = ref["fits"]["lc_configural"]["model"]
    data = pd.read_csv(REFERENCE / "lc_shared.csv")
    res = lcsem.fit(model, data, group="sector")
    hs = lcsem.fit(HS_MODEL, pd.read_csv(REFERENCE / "hs.csv"))

    print(f"machine: {machine()}; load average before: {load()}")
    print(f"model: lc_configural by sector, N = {res.n_obs} ({', '.join(res.group_labels)}), "
          f"{len(res.theta)} free parameters")
    rows = []
    boot(res, 200, seed=0)
    wall1, cpu1 = timed(lambda: boot(res, 1000, seed=1), args.repeat)
    rows.append(("two groups, 1,000 replicates, n_jobs=1", wall1, cpu1))
    boot(res, 200, seed=0, n_jobs=2)                       # start the loky workers
    wall2, cpu2 = timed(lambda: boot(res, 1000, seed=1, n_jobs=2), args.repeat)
    rows.append(("two groups, 1,000 replicates, n_jobs=2 (warm workers)", wall2, cpu2))
    boot(res, 100, seed=0, kind="bollen-stine")
    wall, cpu = timed(lambda: boot(res, 1000, seed=1, kind="bollen-stine"), args.repeat)
    rows.append(("two groups, Bollen-Stine, 1,000 replicates, n_jobs=1", wall, cpu))
    b = boot(res, 1000, seed=1)
    w0, c0 = time.perf_counter(), _cpu_all()
    b.ci(method="bca")
    rows.append((f"two groups, BCa incl. jackknife ({res.n_obs} leave-one-out fits)",
                 time.perf_counter() - w0, _cpu_all() - c0))
    boot(hs, 200, seed=0)
    wall_hs, cpu_hs = timed(lambda: boot(hs, 1000, seed=1), args.repeat)
    rows.append(("single group (HS), 1,000 replicates, n_jobs=1", wall_hs, cpu_hs))
    table = pd.DataFrame(rows, columns=["what", "wall s", "CPU s (all processes)"])
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))

    best = min(wall1, wall2)
    print(f"\ntarget: 1,000 two-group replicates <= 1 s on 2 cores: {best:.3f} s wall "
          f"({'met' if best <= 1 else 'NOT met'} at load {load()}); CPU cost {cpu1:.3f} s in one "
          f"process, {cpu2:.3f} s over two workers (wall on 2 idle cores ~ {cpu2 / 2:.3f} s)")
    r = ref["bootstrap_lc_configural"]
    per_ref = r["seconds"] / r["R"] * 1000
    print(f"lavaan reference run (tests/reference/make_groups.R, R = {r['R']}): {per_ref:.1f} s per 1,000 "
          f"elapsed, {r['cpu_seconds'] / r['R'] * 1000:.1f} s CPU; ratio to lcsem's best: "
          f"{per_ref / best:.0f}x")
    if not args.no_lavaan:
        sec = lavaan_seconds(model, args.lavaan_n)
        if sec is None:
            print("lavaan: Rscript or lavaan not available")
        else:
            per = sec / args.lavaan_n * 1000
            print(f"lavaan bootstrapLavaan in this run: {sec:.1f} s for {args.lavaan_n} replicates = "
                  f"{per:.1f} s per 1,000; lavaan / lcsem = {per / best:.0f}x (target >= 30x)")
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
