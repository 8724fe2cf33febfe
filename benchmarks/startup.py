"""Time ``import lcsem`` and one ``fit()`` of the canonical model (issue 14, start-up).

    python benchmarks/startup.py                 # this checkout
    python benchmarks/startup.py --root DIR      # another checkout of lcsem (e.g. an older commit)

- import: 10 fresh interpreters, each running ``import lcsem`` timed inside the process
  (``time.perf_counter`` around the import) and the whole ``python -c "import lcsem"``
  process timed from outside; medians. ``python -X importtime -c "import lcsem"`` shows
  where the time goes.
- fit: ``lcsem.fit(lcsem.lc_model(), lcsem.datasets.load_lc_survey())``, median of 20
  after one warm-up fit, BLAS limited to one thread with threadpoolctl.

Prints a Markdown table with the machine's load average.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

IMPORT = "import time; t = time.perf_counter(); import lcsem; print(time.perf_counter() - t)"
FIT = """
import statistics, time
from threadpoolctl import threadpool_limits
import lcsem
model, data = lcsem.lc_model(), lcsem.datasets.load_lc_survey()
with threadpool_limits(1):
    lcsem.fit(model, data)
    times = []
    for _ in range(20):
        t = time.perf_counter(); lcsem.fit(model, data); times.append(time.perf_counter() - t)
print(statistics.median(times))
"""


def _run(code: str, root: Path) -> tuple[float, float]:
    env = dict(os.environ, PYTHONPATH=str(root))
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=root,
                         check=True)
    return float(out.stdout.strip().splitlines()[-1]), time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout of lcsem to time")
    args = parser.parse_args()
    root = args.root.resolve()
    load = os.getloadavg()
    runs = [_run(IMPORT, root) for _ in range(10)]
    inside = statistics.median(r[0] for r in runs)
    process = statistics.median(r[1] for r in runs)
    fit, _ = _run(FIT, root)
    load_after = os.getloadavg()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; load average before {load[0]:.2f}, after {load_after[0]:.2f}")
    print(f"root: {root}\n")
    print("| measure | median |\n|---|---|")
    print(f"| `import lcsem` (inside the process, 10 fresh interpreters) | {inside:.3f} s |")
    print(f"| `python -c \"import lcsem\"` (whole process) | {process:.3f} s |")
    print(f"| `fit()` canonical model, 1 BLAS thread, 20 fits | {fit * 1000:.1f} ms |")


if __name__ == "__main__":
    main()
