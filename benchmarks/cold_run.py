"""A whole analysis as one fresh process: import, fit HS, 1,000 bootstrap replicates (issue 14).

    python benchmarks/cold_run.py [--replicates 1000]

Runs ``python -c "import lcsem; fit; bootstrap"`` and the equivalent
``Rscript -e "library(lavaan); cfa(); bootstrapLavaan()"`` as child processes, one after the
other, and reports each one's wall time and CPU time (user + system of the child, from
``resource.getrusage``), so start-up, imports and the first fit all count. One BLAS thread in
both (``OPENBLAS_NUM_THREADS=1``; lcsem also sets it itself). Prints the load average and the
ratios lavaan / lcsem.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HS = Path(__file__).resolve().parent.parent / "tests" / "reference" / "hs.csv"
MODEL = "visual =~ x1 + x2 + x3\\ntextual =~ x4 + x5 + x6\\nspeed =~ x7 + x8 + x9"


def run(cmd: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    t = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=1000)
    args = parser.parse_args()
    R = args.replicates
    python = (f"import pandas as pd, lcsem; d = pd.read_csv({str(HS)!r}); "
              f"res = lcsem.fit('{MODEL}', d); boot = lcsem.bootstrap(res, {R}, seed=1); "
              f"print(boot.ci().shape)")
    lcsem_wall, lcsem_cpu = run([sys.executable, "-c", python])
    print(f"{platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
          f"import + fit + {R} HS replicates, one fresh process each")
    print(f"lcsem : {lcsem_wall:7.2f} s wall, {lcsem_cpu:7.2f} s CPU")
    if shutil.which("Rscript") is None:
        print("lavaan: Rscript not found")
        return
    r = (f"suppressMessages(library(lavaan)); d <- read.csv('{HS}'); "
         f"fit <- cfa('{MODEL}', d); set.seed(1); b <- bootstrapLavaan(fit, R = {R}); print(dim(b))")
    r_wall, r_cpu = run(["Rscript", "-e", r])
    print(f"lavaan: {r_wall:7.2f} s wall, {r_cpu:7.2f} s CPU")
    print(f"lavaan / lcsem = {r_wall / lcsem_wall:.1f}x wall, {r_cpu / lcsem_cpu:.1f}x CPU")


if __name__ == "__main__":
    main()
