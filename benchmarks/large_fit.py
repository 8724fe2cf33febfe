"""Time one default ``fit()`` of a large CFA against lavaan's ``cfa()`` in the same run (issue 14).

    python benchmarks/large_fit.py                 # 15 factors x 8 indicators (p = 120), N = 1000
    python benchmarks/large_fit.py --factors 10 --per 6

The data are drawn by ``lcsem.simulate`` (seed 14; loadings .7, factor correlations .3) and
written to a temporary CSV that both programs read. Each timing is the median of
``--repeat`` calls after one warm-up (Python: one BLAS thread, which ``fit()`` sets itself;
R: ``OPENBLAS_NUM_THREADS=1``, timed inside R with ``system.time`` so R's start-up is not
counted). Prints the load average, both times and the ratio, and checks that both reach the
same χ² (to 0.01).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import lcsem


def model_text(factors: int, per: int) -> str:
    return "\n".join(f"f{f} =~ " + " + ".join(f"y{f}_{i}" for i in range(1, per + 1))
                     for f in range(1, factors + 1))


def lavaan_time(csv: Path, model: str, repeat: int) -> tuple[float, float] | None:
    if shutil.which("Rscript") is None:
        return None
    script = f"""
suppressMessages(library(lavaan))
d <- read.csv("{csv}")
m <- {json.dumps(model)}
f <- cfa(m, d)
t <- sapply(seq_len({repeat}), function(i) system.time(f <- cfa(m, d))[["elapsed"]])
cat(median(t), fitMeasures(f, "chisq"), "\\n")
"""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    out = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, env=env, check=True)
    seconds, chisq = out.stdout.split()[-2:]
    return float(seconds), float(chisq)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factors", type=int, default=15)
    parser.add_argument("--per", type=int, default=8)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    model = model_text(args.factors, args.per)
    data = lcsem.simulate(model, args.n, seed=14)
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "large.csv"
        data.to_csv(csv, index=False)
        res = lcsem.fit(model, data)
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            res = lcsem.fit(model, data)
            times.append(time.perf_counter() - t)
        python = statistics.median(times)
        r = lavaan_time(csv, model, args.repeat)
    p = args.factors * args.per
    print(f"{platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
          f"{args.factors} factors x {args.per} indicators (p = {p}), N = {args.n}, median of {args.repeat}")
    print(f"lcsem fit(): {python:.2f} s, chisq {res.fit_indices['chisq']:.3f}, converged {res.converged}")
    if r is None:
        print("lavaan: Rscript not found")
        return
    print(f"lavaan cfa(): {r[0]:.2f} s, chisq {r[1]:.3f}")
    print(f"lcsem / lavaan = {python / r[0]:.2f}; |chisq difference| = {abs(res.fit_indices['chisq'] - r[1]):.2e}")


if __name__ == "__main__":
    main()
