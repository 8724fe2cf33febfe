"""Time the plots: every gallery path diagram at 7 in and 3.5 in, and residual heatmaps.

    python benchmarks/plots.py            # prints a Markdown table

Each figure is drawn and rendered to PNG at 200 dpi (``savefig`` into memory), so that
the time is what a user waits for; the median of 3 runs after one warm-up run (models
are fitted once, outside the timing). Targets (issue 15): each gallery figure ≤ 1 s;
the 48-variable annotated residual heatmap ≤ 2 s.
"""

from __future__ import annotations

import io
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "docs"))

import lcsem  # noqa: E402
import make_gallery as gallery  # noqa: E402
from lcsem.exceptions import PlotLegibilityWarning  # noqa: E402

RUNS = 3


def timed(draw) -> tuple[float, float]:
    """Median wall and CPU time of ``draw()`` + PNG rendering over ``RUNS`` runs (after a
    warm-up). CPU time is this process's alone, so it holds when other processes share
    the cores; wall time is what a user waits for on a free machine."""
    walls, cpus = [], []
    for k in range(RUNS + 1):
        start, cpu = time.perf_counter(), time.process_time()
        fig = draw()
        fig.savefig(io.BytesIO(), format="png", dpi=200)
        elapsed, used = time.perf_counter() - start, time.process_time() - cpu
        plt.close(fig)
        if k:
            walls.append(elapsed)
            cpus.append(used)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    warnings.simplefilter("ignore", PlotLegibilityWarning)
    for entry in gallery.ENTRIES:          # fit (and bootstrap) outside the timing
        gallery.fitted(entry.name)
        if entry.options.get("show") == "ci":
            gallery.bootstrapped(entry.name)
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, matplotlib {matplotlib.__version__}, "
          f"load average {os.getloadavg()[0]:.1f}\n")
    print("| figure | 7 in: wall (CPU) | 3.5 in: wall (CPU) |")
    print("| --- | ---: | ---: |")
    worst = (0.0, 0.0)
    for entry in gallery.ENTRIES:
        cells = []
        for width in gallery.WIDTHS:
            wall, cpu = timed(lambda: gallery.draw(entry, width).figure)
            worst = max(worst, (wall, cpu), key=lambda t: t[1])
            cells.append(f"{wall:.2f} s ({cpu:.2f} s)")
        print(f"| {entry.name} | " + " | ".join(cells) + " |")
    big = gallery.fitted("eight_by_six")
    heat = timed(lambda: lcsem.plot_residuals(big, annotate=True).figure)
    heat_auto = timed(lambda: lcsem.plot_residuals(big).figure)
    print(f"\nslowest gallery figure (CPU): {worst[1]:.2f} s CPU, {worst[0]:.2f} s wall (target ≤ 1 s)")
    print(f"48-variable residual heatmap, annotated: {heat[0]:.2f} s wall ({heat[1]:.2f} s CPU; target ≤ 2 s); "
          f"default (text off, too small for the cells): {heat_auto[0]:.2f} s ({heat_auto[1]:.2f} s CPU)")


if __name__ == "__main__":
    main()
