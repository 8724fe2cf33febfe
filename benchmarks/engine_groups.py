"""Timing the multi-group engine: ``minimize`` for one fit and for a batch of replicates.

    PYTHONPATH=$PWD python benchmarks/engine_groups.py [--replicates 1000] [--repeats 5]

The model is lavaan's ``lc_configural`` (the canonical learning-culture model, 15 items,
3 factors, two regressions, by ``sector``: 2 groups, mean structure, 96 parameters), its
table taken from tests/reference/groups_reference.json. Timed, median of ``--repeats`` runs
after one warm-up, wall and CPU time:

- one fit: ``minimize`` from ``group_starts`` on the sample moments;
- a batch: ``R`` two-group replicates whose covariances are Wishart draws (N_g - 1 degrees
  of freedom, scaled by 1 / N_g, around the fitted implied covariance) and whose means are
  normal draws around the implied means, minimised together from the sample estimate
  (warm start), as a parametric bootstrap would; with ``method="fisher"`` (scoring) and
  ``method="newton"`` (exact Hessian).

Also prints the model sizes, the convergence rate and the mean number of iterations.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from test_engine_groups import group_moments, lavaan_table  # noqa: E402

from lcsem.engine import GroupStats, GroupStructure, group_starts, minimize  # noqa: E402


def timed(fn, repeats: int) -> tuple[float, float, object]:
    fn()                                                      # warm-up
    walls, cpus = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return float(np.median(walls)), float(np.median(cpus)), out


def wishart_replicates(struct: GroupStructure, stats: GroupStats, theta: np.ndarray, R: int,
                       seed: int = 1) -> GroupStats:
    rng = np.random.default_rng(seed)
    Sigma, mu = struct.implied(theta[None])
    n = stats.n.astype(int)
    covs = np.empty((R, struct.n_groups, struct.p, struct.p))
    means = np.empty((R, struct.n_groups, struct.p))
    for g in range(struct.n_groups):
        L = np.linalg.cholesky(Sigma[0, g])
        Z = rng.standard_normal((R, n[g] - 1, struct.p)) @ L.T
        covs[:, g] = np.einsum("rni,rnj->rij", Z, Z) / n[g]
        means[:, g] = mu[0, g] + rng.standard_normal((R, struct.p)) @ L.T / np.sqrt(n[g])
    return GroupStats(covs, means, stats.n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--model", default="lc_configural")
    args = parser.parse_args()
    rows, observed, latent, G, means = lavaan_table(args.model)
    struct = GroupStructure(rows, observed, latent, G, means)
    stats, _ = group_moments(args.model, observed)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f}; numpy {np.__version__}")
    print(f"model {args.model}: G={G}, p={struct.p}, m={struct.m}, k={struct.k}, N={stats.n.tolist()}")
    start = group_starts(struct, stats)
    for method in ("fisher", "newton"):
        wall, cpu, sol = timed(lambda: minimize(struct, stats, start, method=method), args.repeats)
        print(f"one fit from group_starts, method={method!r}: {1e3 * wall:.1f} ms wall ({1e3 * cpu:.1f} ms CPU), "
              f"{int(sol.iterations[0])} iterations, converged={bool(sol.converged[0])}, "
              f"chisq={float(np.sum(stats.n)) * sol.fmin[0]:.4f}")
    theta = sol.theta[0]
    batch = wishart_replicates(struct, stats, theta, args.replicates)
    for method in ("fisher", "newton"):
        wall, cpu, out = timed(lambda: minimize(struct, batch, theta, method=method), args.repeats)
        print(f"{args.replicates} replicates, warm start, method={method!r}: {wall:.3f} s wall ({cpu:.3f} s CPU), "
              f"{1e6 * wall / args.replicates:.0f} us per replicate; converged {out.converged.mean():.1%}, "
              f"mean iterations {out.iterations.mean():.2f}")


def lavaan_context() -> None:
    """lavaan's bootstrapLavaan of the same model, as recorded by make_groups.R (another run,
    and more work per replicate: resampling and four fit measures besides the refit)."""
    import json
    ref = json.loads((ROOT / "tests" / "reference" / "groups_reference.json").read_text())
    boot = ref.get("bootstrap_lc_configural")
    if boot:
        print(f"context: lavaan bootstrapLavaan({boot['fit']}, R={boot['R']}) in make_groups.R took "
              f"{boot['seconds']:.1f} s wall, {boot['cpu_seconds']:.1f} s CPU: "
              f"{1e3 * boot['cpu_seconds'] / boot['R']:.1f} ms CPU per replicate")


if __name__ == "__main__":
    main()
    lavaan_context()
