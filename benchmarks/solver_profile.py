"""Where a bootstrap replicate's time goes, and how far it is from the arithmetic limit.

Run from the repository root::

    PYTHONPATH=$PWD /work/venv/bin/python benchmarks/solver_profile.py            # HS and LC
    PYTHONPATH=$PWD /work/venv/bin/python benchmarks/solver_profile.py --profile  # + cProfile of HS
    PYTHONPATH=DIR /work/venv/bin/python benchmarks/solver_profile.py --time-only # another checkout

For the Holzinger-Swineford CFA and the canonical learning-culture model (bundled survey):

- **time**: ``lcsem.bootstrap(res, 1000, seed=1)`` (defaults: ``n_jobs=1``, all fit indices,
  parameters and std.all), median CPU and wall seconds of ``--repeat`` runs after a warm-up,
  one BLAS thread.
- **FLOPs**: the same 1,000 resampled covariance matrices fitted by the engine's solver, with
  the model's discrepancy evaluations (rows through ``RamStructure.row_values``) and Newton
  iterations counted as they happen. The count is the dense arithmetic the solver executes
  per evaluation and per Newton iteration, times those counts, plus the resampled moments
  (``2 N q``, q = p(p+1)/2):

  * evaluation: ``B = (I - A)^-1`` (0 when ``A^2 = 0``; the series' ``q - 2`` products,
    ``2 m^3`` each, when ``A^q = 0``; the inverse, ``2 m^3``, otherwise), ``C = B S B'``
    (``4 m^3``), Cholesky of Sigma (``p^3 / 3``), ``Sigma^-1`` (``2 p^3``), ``tr(S Sigma^-1)``
    (``2 p^2``);
  * Newton iteration: ``M = W (Sigma - S) W`` (``4 p^3``), ``K'WK`` and ``K'MK`` with ``K``
    the u used columns of ``[B_o | C_o]`` (``4 u p^2 + 4 u^2 p``), the Hessian and
    information on the ``E (E + 1) / 2`` entry pairs (about 12 per pair, plus 6 per pair of
    two paths and 4 per pair of a path and a covariance), the positive-definiteness test
    (Cholesky, ``k^3 / 3``) and the Newton solve with that factor (two triangular
    solves, ``2 k^2``; until commit "engine: Newton steps from the Hessian's Cholesky factor" it
    was an LU solve, ``2 k^3 / 3 + 2 k^2``).

  The "arithmetic limit" is that count at 10 GFLOP/s (the issue's yardstick; numpy on one
  core here reaches about 30 GFLOP/s on batched small products). Counting the old solver's
  arithmetic the same way (all 2m columns of K, ``(I - A)^-1`` by LU, the Hessian on all
  E^2 entries) gives more FLOPs; the issue's own count for HS was 0.42 MFLOP per replicate.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

import lcsem
from lcsem.exceptions import BootstrapFailureWarning
from _models import HS_MODEL

RATE = 10e9


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def boot(res, n=1000, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BootstrapFailureWarning)
        return lcsem.bootstrap(res, n, seed=1, progress=False, **kw)


def timed(fn, repeat):
    walls, cpus = [], []
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus)


def resampled_covariances(res, n=1000, seed=1):
    data = res.data[list(res.model.observed)].to_numpy(float) if hasattr(res, "data") else None
    if data is None:
        raise SystemExit("the result keeps no data")
    rng = np.random.default_rng(seed)
    N = data.shape[0]
    idx = rng.integers(0, N, size=(n, N))
    X = data[idx]
    Xc = X - X.mean(axis=1, keepdims=True)
    return np.einsum("rni,rnj->rij", Xc, Xc) / N, N


def flop_count(res, n_rep=1000):
    """Evaluations and iterations of the engine's solver on n resamples, and the FLOPs."""
    from lcsem.engine import batch

    struct = res.structure
    S, N = resampled_covariances(res, n_rep)
    from lcsem.engine import ml
    from lcsem.engine.ml import ml_plan

    calls = {"rows": 0, "derivatives": 0}
    real = type(struct).row_values   # called once per evaluation of the discrepancy
    real_derivatives = ml._derivatives

    def counting(self, theta):
        calls["rows"] += np.atleast_2d(theta).shape[0]
        return real(self, theta)

    def counting_derivatives(plan, p, Sigma, *args):
        calls["derivatives"] += Sigma.shape[0]
        return real_derivatives(plan, p, Sigma, *args)

    type(struct).row_values = counting
    ml._derivatives = counting_derivatives
    try:
        out = batch.fit_batch(struct, S, res.theta)
    finally:
        type(struct).row_values = real
        ml._derivatives = real_derivatives

    plan = ml_plan(struct)
    p, m, k = struct.p, struct.m, struct.k
    E, u, n = plan.E, plan.u, plan.n_pairs
    q = p * (p + 1) // 2
    evals = calls["rows"] / n_rep
    its = calls["derivatives"] / n_rep        # derivative passes (Newton iterations + final checks)
    f_series = 2 * m ** 3 * (max(plan.nilpotent - 2, 0) if plan.nilpotent else 1)   # B: products or the inverse
    f_eval = f_series + 4 * m ** 3 + p ** 3 / 3 + 2 * p ** 3 + 2 * p ** 2
    f_iter = (4 * p ** 3 + 4 * u * p ** 2 + 4 * u ** 2 * p + 12 * n + 6 * plan.n_pp + 4 * plan.n_pc
              + k ** 3 / 3 + 2 * k ** 2)
    f_moments = 2 * N * q
    total = evals * f_eval + its * f_iter + f_moments
    return dict(p=p, m=m, k=k, E=E, evals=evals, iterations=out.iterations.mean(), passes=its, flops=total,
                converged=int(out.converged.sum()))


def out_its(c) -> str:
    return f"{c['iterations']:.2f} Newton iterations ({c['passes']:.2f} derivative passes)"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--profile", action="store_true", help="cProfile 1,000 HS replicates")
    ap.add_argument("--time-only", action="store_true",
                    help="only the timing (runs on older checkouts too: PYTHONPATH=<checkout>)")
    args = ap.parse_args(argv)
    print(f"# solver profile {time.strftime('%Y-%m-%d %H:%M %Z')}, load {load()}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hs = lcsem.fit(HS_MODEL, lcsem.datasets.load_holzinger_swineford())
        lc = lcsem.fit(lcsem.lc_model(), lcsem.datasets.load_lc_survey())
    with threadpool_limits(limits=1):
        for name, res in (("HS", hs), ("LC", lc)):
            boot(res)
            wall, cpu = timed(lambda: boot(res), args.repeat)
            if args.time_only:
                print(f"{name}: 1,000 replicates {wall:.3f} s wall, {cpu:.3f} s CPU ({cpu:.3f} ms/replicate)")
                continue
            c = flop_count(res)
            limit = c["flops"] / RATE
            print(f"{name}: p={c['p']} m={c['m']} k={c['k']}: 1,000 replicates {wall:.3f} s wall, {cpu:.3f} s CPU "
                  f"({cpu:.3f} ms/replicate); {out_its(c)} and {c['evals']:.2f} "
                  f"evaluations per replicate; {c['flops'] / 1e6:.3f} MFLOP/replicate -> limit "
                  f"{limit * 1e3:.4f} ms at 10 GFLOP/s; CPU / limit = {cpu / 1000 / limit:.2f}x")
        if args.profile:
            prof = cProfile.Profile()
            prof.enable()
            boot(hs)
            prof.disable()
            s = io.StringIO()
            pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(25)
            print(s.getvalue())
            s = io.StringIO()
            pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(30)
            print(s.getvalue())
    print(f"load at end {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
