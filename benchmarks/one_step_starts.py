"""Would bootstrap replicates converge in fewer iterations from a one-step start? (issue 14)

Run from the repository root::

    PYTHONPATH=$PWD /work/venv/bin/python benchmarks/one_step_starts.py            # 5 seeds x 1,000
    PYTHONPATH=$PWD /work/venv/bin/python benchmarks/one_step_starts.py --seeds 2

lcsem starts every bootstrap replicate at the full-sample estimate ``theta_hat`` (as lavaan's
``bootstrapLavaan``) and takes exact Newton steps from there. The alternative measured here
is the classical one-step start: one Fisher-scoring step from ``theta_hat`` with the
full-sample information, which is the same for every replicate, so the step is one
(k x p^2) product per replicate and needs no derivative pass:

    theta_0 = theta_hat + I(theta_hat)^-1 J vec(S* - Sigma_hat),   J_a = vec(W D_a W),

kept where it lowers F_ML (else ``theta_hat``). Both starts are then fitted by the engine's
batched solver (``lcsem.engine.batch.fit_batch``, the fast path and the retry ladder) on the
same resampled covariance matrices. Printed per model: Newton iterations per replicate,
converged replicates, and the replicates whose two fits converged to different minima
(F_ML differs by more than 1e-8), split by which start found the lower one.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import pandas as pd

import lcsem
from lcsem.engine import batch
from lcsem.engine.ml import ml_discrepancy
from _models import HS_MODEL, POLITICAL_DEMOCRACY
from bootstrap import FRAGILE_MODEL, fragile_data


def resampled_covariances(res, n: int, seed: int) -> np.ndarray:
    data = res.data[list(res.model.observed)].to_numpy(float)
    rng = np.random.default_rng(seed)
    X = data[rng.integers(0, data.shape[0], size=(n, data.shape[0]))]
    Xc = X - X.mean(axis=1, keepdims=True)
    return np.einsum("rni,rnj->rij", Xc, Xc) / data.shape[0]


def one_step_starts(struct, theta: np.ndarray, S: np.ndarray) -> np.ndarray:
    """``theta_hat`` plus one scoring step with the full-sample information, where it
    lowers F_ML."""
    Sigma = struct.implied(theta[None])[0][0]
    W = np.linalg.inv(Sigma)
    D = struct.jacobian(theta[None])[0]                       # (k, p, p)
    J = (W @ D @ W).reshape(theta.size, -1)
    info = np.einsum("apq,bqp->ab", W @ D, W @ D)
    P = np.linalg.solve(info, J)
    step = ((S - Sigma).reshape(S.shape[0], 1, -1) @ P.T)[:, 0, :]
    start = theta + step
    lower = ml_discrepancy(struct, start, S) < ml_discrepancy(struct, np.tile(theta, (S.shape[0], 1)), S)
    return np.where(lower[:, None], start, theta)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--replicates", type=int, default=1000)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    cases = [("Holzinger-Swineford CFA", lcsem.fit(HS_MODEL, lcsem.datasets.load_holzinger_swineford())),
             ("canonical LC", lcsem.fit(lcsem.lc_model(), lcsem.datasets.load_lc_survey())),
             ("Political Democracy", lcsem.fit(POLITICAL_DEMOCRACY, lcsem.datasets.load_political_democracy())),
             ("fragile: N = 40, loadings .98", lcsem.fit(FRAGILE_MODEL, fragile_data(40, 0.98))),
             ("fragile: N = 40, loadings .7", lcsem.fit(FRAGILE_MODEL, fragile_data(40, 0.7)))]
    rows = []
    for name, res in cases:
        row = dict(model=name, its_hat=0.0, its_one_step=0.0, converged_hat=0, converged_one_step=0,
                   lower_from_hat=0, lower_from_one_step=0)
        for seed in range(1, args.seeds + 1):
            S = resampled_covariances(res, args.replicates, seed)
            a = batch.fit_batch(res.structure, S, res.theta)
            b = batch.fit_batch(res.structure, S, one_step_starts(res.structure, res.theta, S))
            both = a.converged & b.converged
            row["its_hat"] += a.iterations.mean() / args.seeds
            row["its_one_step"] += b.iterations.mean() / args.seeds
            row["converged_hat"] += int(a.converged.sum())
            row["converged_one_step"] += int(b.converged.sum())
            row["lower_from_hat"] += int(np.sum(both & (b.fmin - a.fmin > 1e-8)))
            row["lower_from_one_step"] += int(np.sum(both & (a.fmin - b.fmin > 1e-8)))
        rows.append(row)
        print(pd.DataFrame([row]).to_string(index=False, float_format=lambda x: f"{x:.2f}"), flush=True)
    print(f"\n{args.seeds} seeds x {args.replicates} replicates per model")
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda x: f"{x:.2f}"))


if __name__ == "__main__":
    main()
