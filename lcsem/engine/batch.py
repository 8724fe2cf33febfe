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

from dataclasses import dataclass, replace

import numpy as np

from .linalg import cholesky_factors
from .ml import MLObjective, ml_discrepancy, ml_gradient_hessian
from .ram import RamStructure
from .solve import NEWTON, Resume, retry_ladder, solve
from .starts import simple_starts

__all__ = ["BatchFit", "fit_batch", "fast_path", "finish_parked", "needs_retry", "retry_unconverged", "ml_discrepancy",
           "ml_gradient_hessian", "cholesky_factors", "RETRY_ITER", "RETRY_STARTS"]


@dataclass
class BatchFit:
    """Outcome of :func:`fit_batch` for R covariance matrices."""

    theta: np.ndarray        # (R, k)
    fmin: np.ndarray         # (R,) F_ML at theta (inf when it could not be evaluated)
    Sigma: np.ndarray        # (R, p, p) implied covariance at theta
    converged: np.ndarray    # (R,) bool
    iterations: np.ndarray   # (R,) int (Newton iterations, plus retry iterations)
    retried: np.ndarray      # (R,) bool: the fast path failed and the retry ladder was used
    logdet_S: np.ndarray     # (R,) log|S| (-inf/nan: S not positive definite)
    parked: np.ndarray       # (R,) bool: the fast path stopped early (:func:`fast_path`'s ``park``)
    state: Resume            # (R rows) where the fast path stands, to continue parked replicates

    def finished(self) -> "BatchFit":
        """The outcome as reported: F is inf and ``converged`` False where no finite
        solution was found."""
        f = np.where(self.converged, self.fmin, np.inf)
        return replace(self, fmin=f, converged=self.converged & np.isfinite(f))

    def take(self, rows: np.ndarray) -> "BatchFit":
        """The outcome of replicates ``rows``."""
        return BatchFit(**{name: getattr(self, name)[rows] for name in _PER_REPLICATE}, state=self.state.take(rows))

    @staticmethod
    def concat(parts: list["BatchFit"]) -> "BatchFit":
        """The outcomes of several batches as one."""
        return BatchFit(**{name: np.concatenate([getattr(p, name) for p in parts]) for name in _PER_REPLICATE},
                        state=Resume.concat([p.state for p in parts]))


_PER_REPLICATE = ("theta", "fmin", "Sigma", "converged", "iterations", "retried", "logdet_S", "parked")


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
        Refit replicates that did not converge with :func:`retry_unconverged` (False:
        leave them unconverged, e.g. to retry those of many batches together later: the
        numbers are the same either way).
    """
    S = np.asarray(S, dtype=float)
    theta0 = np.asarray(theta0, dtype=float)
    fitted = fast_path(struct, S, theta0, tol=tol, max_iter=max_iter, max_halvings=max_halvings)
    if retry:
        retry_unconverged(struct, S, theta0, fitted, tol=tol)
    return fitted.finished()


def fast_path(struct: RamStructure, S: np.ndarray, theta0: np.ndarray, *, tol: float = 1e-12,
              max_iter: int = 20, max_halvings: int = 12, park: int = 0) -> BatchFit:
    """Newton from ``theta0`` for every replicate (:func:`fit_batch` without the retries);
    ``fmin`` is where each replicate got to, converged or not (:meth:`BatchFit.finished`
    gives the reported outcome). With ``park``, the last few replicates still iterating
    stop early (``parked``; :func:`finish_parked` continues them)."""
    S = np.asarray(S, dtype=float)
    R = S.shape[0]
    objective = MLObjective(struct, S)
    sol = solve(objective, theta0, rules=NEWTON, exact=True, max_iter=max_iter, tol=tol,
                max_halvings=max_halvings, park=park)
    parked = np.zeros(R, dtype=bool) if sol.parked is None else sol.parked
    state = sol.state or Resume(np.full(R, max_iter), np.zeros(R, dtype=bool), sol.fmin)
    return BatchFit(theta=sol.theta, fmin=np.array(sol.fmin, dtype=float),
                    Sigma=objective.implied_at(sol.theta, np.arange(R)), converged=sol.converged,
                    iterations=sol.iterations, retried=np.zeros(R, dtype=bool), logdet_S=objective.logdet_S,
                    parked=parked, state=state)


def finish_parked(struct: RamStructure, S: np.ndarray, fitted: BatchFit, *, tol: float = 1e-12,
                  max_iter: int = 20, max_halvings: int = 12) -> None:
    """Continue, in place, the replicates :func:`fast_path` parked (``S`` and the other
    arguments as given to it): the same steps and end points as without the stop."""
    rows = np.flatnonzero(fitted.parked)
    if not rows.size:
        return
    objective = MLObjective(struct, np.asarray(S, dtype=float)[rows], fitted.logdet_S[rows])
    sol = solve(objective, fitted.theta[rows], rules=NEWTON, exact=True, max_iter=max_iter, tol=tol,
                max_halvings=max_halvings, resume=fitted.state.take(rows))
    fitted.theta[rows] = sol.theta
    fitted.fmin[rows] = sol.fmin
    fitted.converged[rows] = sol.converged
    fitted.iterations[rows] += sol.iterations
    fitted.Sigma[rows] = objective.implied_at(sol.theta, np.arange(rows.size))
    fitted.parked[rows] = False


def needs_retry(fitted: BatchFit) -> np.ndarray:
    """Replicates the fast path left unconverged that a retry can still fit (their
    covariance matrix has a log-determinant)."""
    return np.flatnonzero(~fitted.converged & np.isfinite(fitted.logdet_S))


def retry_unconverged(struct: RamStructure, S: np.ndarray, theta0: np.ndarray, fitted: BatchFit, *,
                      tol: float = 1e-12) -> None:
    """Refit, in place, the replicates of ``fitted`` (the fast path's outcome for ``S``
    from ``theta0``; parked replicates are continued first) that did not converge, from
    four starts (:data:`RETRY_STARTS`: the fast path's end point, simple starting values,
    and two starts with the observed residual variances moved off a Heywood boundary),
    all replicates and starts in one batch with a bounded budget of :data:`RETRY_ITER`
    Newton iterations: a hopeless replicate costs a bounded amount of work. The converged solution with the lowest
    discrepancy is kept only when no lower value was reached anywhere for that replicate
    (a local optimum above a diverging path is not the ML estimate)."""
    finish_parked(struct, S, fitted, tol=tol)
    todo = needs_retry(fitted)
    if not todo.size:
        return
    theta, fmin, logdet_S = fitted.theta, fitted.fmin, fitted.logdet_S
    fitted.retried[todo] = True
    n = todo.size
    Sb = np.asarray(S, dtype=float)[todo]
    warm = np.broadcast_to(theta0, (S.shape[0], struct.k))[todo]
    # every start of every retried replicate in one batch (start-major), so the
    # ladder costs RETRY_ITER iterations in all, not per start
    starts = [theta[todo], np.stack([simple_starts(struct, s) for s in Sb]),
              _reset_observed_variances(struct, theta[todo], Sb),
              _reset_observed_variances(struct, warm, Sb)]
    keep, sol, pick, objective = retry_ladder(
        lambda m: MLObjective(struct, np.concatenate([Sb] * m), np.concatenate([logdet_S[todo]] * m)),
        starts, fmin[todo], rules=NEWTON, exact=True, max_iter=RETRY_ITER, max_halvings=RETRY_HALVINGS, tol=tol)
    fitted.iterations[todo] += sol.iterations.reshape(len(starts), n).sum(axis=0)
    rows = todo[keep]
    theta[rows] = sol.theta[pick]
    fmin[rows] = sol.fmin[pick]
    fitted.converged[rows] = True
    fitted.Sigma[rows] = objective.implied_at(sol.theta[pick], pick)
