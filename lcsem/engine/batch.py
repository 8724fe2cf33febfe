"""Batched ML fitting of many covariance matrices at once (the bootstrap's entry to the solver).

Each replicate is an honest full ML fit: the engine's one solver (:func:`lcsem.engine.solve.solve`
with its :data:`~lcsem.engine.solve.NEWTON` rules) on the fused single-group ML objective
(:class:`lcsem.engine.ml.MLObjective`): Newton's method with the exact analytic Hessian of
``F_ML`` (quadratic convergence from the warm start at the full-sample estimate), Fisher scoring
where the Hessian does not give a descent direction, a line search, and a per-replicate
stopping rule on the Newton decrement. Replicates that do not converge here are retried
together from other starts with a bounded Newton budget each
(:func:`~lcsem.engine.solve.retry_ladder`); those that still fail are reported.

Every operation is replicate by replicate, so a replicate's result is bit-identical whichever
batch it is fitted in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .linalg import cholesky_factors
from .ml import MLObjective, ml_discrepancy, ml_gradient_hessian
from .ram import RamStructure
from .solve import NEWTON, retry_ladder, solve
from .starts import simple_starts

__all__ = ["BatchFit", "fit_batch", "ml_discrepancy", "ml_gradient_hessian", "cholesky_factors", "RETRY_ITER",
           "RETRY_STARTS"]


@dataclass
class BatchFit:
    """Outcome of :func:`fit_batch` for R covariance matrices."""

    theta: np.ndarray        # (R, k)
    fmin: np.ndarray         # (R,) F_ML at theta (inf when it could not be evaluated)
    Sigma: np.ndarray        # (R, p, p) implied covariance at theta
    converged: np.ndarray    # (R,) bool
    iterations: np.ndarray   # (R,) int (Newton iterations, plus retry iterations)
    retried: np.ndarray      # (R,) bool: the fast path failed and the retry ladder was used


@dataclass
class _Reached:
    """Where the fast path ended: F there and the objective (for Sigma)."""

    f: np.ndarray
    objective: MLObjective


def _newton(struct: RamStructure, S: np.ndarray, theta0: np.ndarray, tol: float, max_iter: int,
            max_halvings: int):
    """The fast path: the solver's Newton rules on the fused ML objective."""
    objective = MLObjective(struct, S)
    sol = solve(objective, theta0, rules=NEWTON, exact=True, max_iter=max_iter, tol=tol,
                max_halvings=max_halvings)
    return sol.theta, _Reached(sol.fmin, objective), sol.converged, sol.iterations


RETRY_ITER = 40
RETRY_HALVINGS = 8
RETRY_STARTS = ("the fast path's end point", "simple starting values",
                "the fast path's end point with observed residual variances reset",
                "the full-sample estimate with observed residual variances reset")


def _reset_observed_variances(struct: RamStructure, theta: np.ndarray, S: np.ndarray) -> np.ndarray:
    """Starts with every free observed residual variance set to half the replicate's
    sample variance (lavaan's simple rule) and the other parameters kept: it moves a
    start away from a Heywood boundary without losing its loadings and paths."""
    out = np.array(theta, dtype=float)
    e = struct.row_entries
    for row in np.flatnonzero((struct.row_free >= 0) & ~e.is_path & (e.row == e.col) & (e.row < struct.p)):
        i = e.row[row]
        out[:, struct.row_free[row]] = 0.5 * S[:, i, i]
    return out


def fit_batch(struct: RamStructure, S: np.ndarray, theta0: np.ndarray, *, tol: float = 1e-12,
              max_iter: int = 20, max_halvings: int = 12, retry: bool = True) -> BatchFit:
    """Fit the model to every covariance matrix in ``S`` (shape (R, p, p), N denominator).

    Every step is computed replicate by replicate (stacked linear algebra), so a
    replicate's result does not depend on the other replicates of the batch.

    Parameters
    ----------
    struct
        The model's RAM structure.
    S
        Sample covariance matrices, one per replicate.
    theta0
        Warm start (k,) or (R, k), usually the full-sample estimate.
    tol
        Stop a replicate when the Newton decrement (predicted decrease of F_ML) is below
        ``tol * max(1, F)`` or its largest gradient is below 1e-12.
    max_iter, max_halvings
        Newton iterations and step-halvings per iteration on the fast path (most
        replicates converge in 5-10 from the warm start; the others go to the retries).
    retry
        Refit replicates that did not converge from four starts (:data:`RETRY_STARTS`:
        the fast path's end point, simple starting values, and two starts with the observed
        residual variances moved off a Heywood boundary), all replicates and starts in one
        batch with a bounded budget of :data:`RETRY_ITER` Newton iterations: a hopeless replicate costs a
        bounded amount of work. The converged solution with the lowest discrepancy is
        kept only when no lower value was reached anywhere for that replicate (a local
        optimum above a diverging path is not the ML estimate).
    """
    S = np.asarray(S, dtype=float)
    theta0 = np.asarray(theta0, dtype=float)
    R = S.shape[0]
    theta, reached, converged, iterations = _newton(struct, S, theta0, tol, max_iter, max_halvings)
    fmin = np.array(reached.f, dtype=float)
    Sigma = reached.objective.implied_at(theta, np.arange(R))
    retried = np.zeros(R, dtype=bool)
    logdet_S = reached.objective.logdet_S
    todo = np.flatnonzero(~converged & np.isfinite(logdet_S))
    if retry and todo.size:
        retried[todo] = True
        n = todo.size
        Sb = S[todo]
        warm = np.broadcast_to(theta0, (R, struct.k))[todo]
        # every start of every retried replicate in one batch (start-major), so the
        # ladder costs RETRY_ITER iterations in all, not per start
        starts = [theta[todo], np.stack([simple_starts(struct, s) for s in Sb]),
                  _reset_observed_variances(struct, theta[todo], Sb),
                  _reset_observed_variances(struct, warm, Sb)]
        keep, sol, pick, objective = retry_ladder(
            lambda m: MLObjective(struct, np.concatenate([Sb] * m), np.concatenate([logdet_S[todo]] * m)),
            starts, fmin[todo], rules=NEWTON, exact=True, max_iter=RETRY_ITER, max_halvings=RETRY_HALVINGS, tol=tol)
        iterations[todo] += sol.iterations.reshape(len(starts), n).sum(axis=0)
        rows = todo[keep]
        theta[rows] = sol.theta[pick]
        fmin[rows] = sol.fmin[pick]
        converged[rows] = True
        Sigma[rows] = objective.implied_at(sol.theta[pick], pick)
    f = np.where(converged, fmin, np.inf)
    return BatchFit(theta=theta, fmin=f, Sigma=Sigma, converged=converged & np.isfinite(f),
                    iterations=iterations, retried=retried)
