"""Turn replicate covariance matrices into rows of the bootstrap distribution.

A :class:`ReplicateSpec` holds everything a worker needs (picklable, built once per run);
:func:`evaluate` fits a batch of covariance matrices with the batched engine and
computes every column: fit indices (with :func:`lcsem.inference.fit_indices.fit_measures`, the
formulas of :func:`lcsem.fit`), parameters, defined parameters and standardised values
(with :mod:`lcsem.inference.standardized`), plus each replicate's status.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..engine import RamStructure, free_variance_rows, residual_blocks
from ..estimation.estimate import fixed_x_positions
from ..estimation.robust_fit import ROBUST_ESTIMATORS
from ..inference.fit_indices import BOOTSTRAP_INDEX_NAMES, fit_measures, test_statistic
from ..results.fit_result import FitResult, parameter_name
from ..inference.standardized import DefinedParameters, admissibility, standardized_values
from ..engine.batch import (RETRY_ITER, RETRY_STARTS, BatchFit, cholesky_factors, fast_path, needs_retry,
                            retry_unconverged)
from ..engine.least_squares import fit_least_squares

__all__ = ["OK", "INADMISSIBLE", "FAILED", "STATUS_NAMES", "ReplicateSpec", "ChunkOutput", "PendingRetries",
           "evaluate", "evaluate_pending"]

OK, INADMISSIBLE, FAILED = 0, 1, 2
NOT_PD_REASON = ("the resampled covariance matrix is singular or not positive definite (a variable is "
                 "constant or collinear in this resample): not fitted")
NOT_CONVERGED_REASON = (f"the optimiser did not converge from the full-sample estimate nor from "
                        f"{len(RETRY_STARTS)} other starts ({', '.join(RETRY_STARTS)}; at most "
                        f"{RETRY_ITER} Newton iterations each): no finite ML solution was found, as when "
                        f"a near-Heywood resample's estimates diverge")
LS_MAX_ITER = 200
#: a chunk's last few replicates still iterating (at most this many) are finished with the
#: other chunks' (:class:`PendingRetries`)
PARK = 8
STATUS_NAMES = np.array(["ok", "inadmissible", "failed"], dtype=object)


@dataclass
class PendingRetries:
    """Replicates whose fast path had not converged when few of its chunk were left,
    finished together over the whole run (:func:`evaluate_pending`: the rest of their
    Newton iterations, then the retry ladder): a handful per run, which iterating per chunk
    would run in batches of a few rows where every call costs its fixed overhead. A
    replicate's numbers do not depend on the batch it is finished in."""

    positions: np.ndarray          # replicate numbers
    S: np.ndarray                  # (n, p, p) their covariance matrices (as fitted)
    fitted: BatchFit               # the fast path's outcome for them
    n_obs: int

    @staticmethod
    def merge(parts: list["PendingRetries"]) -> "PendingRetries":
        """One set of pending replicates from several chunks' (in the order given)."""
        return PendingRetries(np.concatenate([p.positions for p in parts]), np.concatenate([p.S for p in parts]),
                              BatchFit.concat([p.fitted for p in parts]), parts[0].n_obs)

    def split(self, parts: int) -> list["PendingRetries"]:
        """At most ``parts`` non-empty consecutive pieces (one per process)."""
        return [PendingRetries(self.positions[rows], self.S[rows], self.fitted.take(rows), self.n_obs)
                for rows in np.array_split(np.arange(self.positions.size), min(parts, self.positions.size))]


@dataclass
class ChunkOutput:
    """Results of one chunk of replicates."""

    positions: np.ndarray          # replicate numbers (int)
    values: np.ndarray             # (R, n_columns)
    status: np.ndarray             # (R,) int8: OK, INADMISSIBLE or FAILED
    reasons: dict[int, tuple[str, ...]]   # replicate number -> reasons (failed / inadmissible)
    pending: PendingRetries | None = None  # replicates not finished yet (their rows are not final)


def refit_estimator(estimator: str) -> str:
    """The estimator each replicate is refitted with: a robust ML variant (MLM, MLMV, MLMVS,
    MLR) has ML's estimates, so its replicates are ML fits (as lavaan's bootstrapLavaan)."""
    return "ML" if estimator in ROBUST_ESTIMATORS else estimator


class ReplicateSpec:
    """What is computed for each replicate, derived from a :class:`~lcsem.FitResult`."""

    def __init__(self, res: FitResult):
        model = res.model
        self.struct = RamStructure(model.rows, model.observed, model.latent)
        self.estimator = refit_estimator(res.estimator)
        self.theta0 = np.array(res.theta, dtype=float)
        self.defined = DefinedParameters(model.rows)
        self.df = int(model.df)
        self.n_params = int(res.fit_indices["n_params"])
        self.exogenous = fixed_x_positions(model)
        self._baseline_basis = baseline_basis(self.struct.p, self.exogenous)
        est = res.estimates
        n_rows = len(self.struct.rows)
        names = [parameter_name(l, o, r) for l, o, r in zip(est["lhs"], est["op"], est["rhs"])]
        ops = est["op"].to_numpy()
        positions = np.arange(len(est))
        is_defined = ops == ":="
        free = np.zeros(len(est), dtype=bool)
        free[:n_rows] = self.struct.row_free >= 0
        param = free | is_defined
        std = param | np.isin(ops, ["=~", "~"])
        self.param_pos = positions[param]          # positions in estimates (rows, then defined)
        self.std_pos = positions[std]
        self.n_rows = n_rows
        self.columns = (tuple(BOOTSTRAP_INDEX_NAMES) + tuple(names[i] for i in self.param_pos)
                        + tuple("std:" + names[i] for i in self.std_pos))
        self.n_index = len(BOOTSTRAP_INDEX_NAMES)
        self.n_param = len(self.param_pos)
        # vectorised admissibility screen (exact reasons come from lcsem.inference.standardized)
        self.free_var_rows = free_variance_rows(self.struct)[0]
        self.loading_rows = np.flatnonzero([r.op == "=~" for r in self.struct.rows])

    # ------------------------------------------------------------------ values
    def values(self, theta: np.ndarray, S: np.ndarray, Sigma: np.ndarray, fmin: np.ndarray, n_obs: int
               ) -> tuple[np.ndarray, np.ndarray]:
        """Every column for fitted replicates, and the standardised row values."""
        chisq = test_statistic(fmin, n_obs, self.estimator)
        chisq0 = None if self.estimator == "ML" else baseline_chisq_batch(S, n_obs, self._baseline_basis,
                                                                           self.estimator)
        with np.errstate(divide="ignore", invalid="ignore"):
            fi = fit_measures(S, Sigma, chisq, chisq0, n_obs=n_obs, df=self.df, n_params=self.n_params,
                              with_ci=False, exogenous=self.exogenous, estimator=self.estimator)
        rows = self.struct.row_values(theta)
        std_rows = standardized_values(self.struct, theta)
        return replicate_columns(self, fi, rows, std_rows), std_rows

    def screen(self, theta: np.ndarray, std_rows: np.ndarray) -> np.ndarray:
        """Replicates that may be inadmissible (a superset; checked exactly afterwards)."""
        Theta, Psi = residual_blocks(self.struct, theta)
        values = self.struct.row_values(theta)
        flag = np.any(values[:, self.free_var_rows] <= 0, axis=1) if self.free_var_rows.size else \
            np.zeros(theta.shape[0], dtype=bool)
        if self.loading_rows.size:
            flag |= np.any(np.abs(std_rows[:, self.loading_rows]) > 1 + 1e-8, axis=1)
        for block in (Psi, Theta):
            if block.shape[-1]:
                with np.errstate(all="ignore"):
                    ev = np.linalg.eigvalsh(np.where(np.isfinite(block), block, 0.0))[:, 0]
                flag |= ~(ev > 0)
        return flag


def baseline_basis(p: int, exogenous: tuple[int, ...]) -> np.ndarray:
    """The baseline model's covariance structure as a basis (q, p, p): every variance and
    the covariances among the exogenous observed predictors (lavaan's baseline)."""
    basis = []
    for i in range(p):
        E = np.zeros((p, p))
        E[i, i] = 1.0
        basis.append(E)
    for a, i in enumerate(exogenous):
        for j in exogenous[a + 1:]:
            E = np.zeros((p, p))
            E[i, j] = E[j, i] = 1.0
            basis.append(E)
    return np.array(basis)


def baseline_chisq_batch(S: np.ndarray, n_obs: int, basis: np.ndarray, estimator: str) -> np.ndarray:
    """GLS or ULS baseline chi-square of every replicate (``S`` (R, p, p), unbiased), in
    closed form: the baseline covariance is linear in its parameters, so its GLS estimate
    solves the normal equations ``sum_b tr(W E_a W E_b) t_b = tr(W E_a)`` (``W = S^-1``;
    lcsem.fit reaches the same minimum iteratively) and its ULS estimate copies the
    modelled entries of ``S``. ``(N - 1) F`` as the models' statistic."""
    if estimator == "ULS":
        free = basis.sum(axis=0) > 0
        iu = np.triu_indices(S.shape[-1])
        resid = np.where(free, 0.0, S)[:, iu[0], iu[1]]
        F = np.sum(np.ascontiguousarray(resid) ** 2, axis=1)
    else:
        W = np.linalg.inv(S)
        WE = np.einsum("rij,ajk->raik", W, basis)                       # (R, q, p, p)
        gram = np.einsum("raij,rbji->rab", WE, WE)
        rhs = np.einsum("raii->ra", WE)
        t = np.linalg.solve(gram, rhs[..., None])[..., 0]
        Sigma0 = np.einsum("ra,aij->rij", t, basis)
        D = np.eye(S.shape[-1]) - W @ Sigma0
        F = 0.5 * np.einsum("rij,rji->r", D, D)
    return (n_obs - 1) * F


def _fit_other(spec: ReplicateSpec, S: np.ndarray):
    """GLS / ULS refits from the full-sample estimate (the engine's solver loop with Newton
    steps, :mod:`lcsem.engine.least_squares`): theta, F, Sigma and convergence per
    replicate."""
    sol = fit_least_squares(spec.struct, S, spec.theta0[None], spec.estimator, max_iter=LS_MAX_ITER)
    Sigma = spec.struct.implied(sol.theta)[0]
    ok = sol.converged & np.isfinite(sol.fmin)
    return sol.theta, sol.fmin, Sigma, ok


def replicate_columns(spec, fi: dict[str, np.ndarray], rows: np.ndarray, std_rows: np.ndarray,
                      index_names: tuple[str, ...] = BOOTSTRAP_INDEX_NAMES) -> np.ndarray:
    """Each replicate's row of the distribution: the fit indices ``fi`` (``index_names``),
    the parameters of ``spec.param_pos`` (table rows, then ``:=`` values) and the
    standardised values of ``spec.std_pos``; ``spec`` is a replicate spec (one group,
    groups, FIML or ordinal)."""
    if spec.defined.names:
        with np.errstate(all="ignore"):
            params = np.concatenate([rows, spec.defined.evaluate(rows)], axis=1)
            stds = np.concatenate([std_rows, spec.defined.evaluate(std_rows)], axis=1)
    else:
        params, stds = rows, std_rows
    out = np.empty((rows.shape[0], len(spec.columns)))
    out[:, :spec.n_index] = np.column_stack([fi[k] for k in index_names])
    out[:, spec.n_index:spec.n_index + spec.n_param] = params[:, spec.param_pos]
    out[:, spec.n_index + spec.n_param:] = stds[:, spec.std_pos]
    return out


def evaluate(spec: ReplicateSpec, S: np.ndarray, n_obs: int, positions: np.ndarray, *,
             defer_retries: bool = False) -> ChunkOutput:
    """Fit every covariance matrix in ``S`` (denominator ``n_obs``) and compute its row of
    the distribution. GLS and ULS fit the unbiased covariance (denominator ``n_obs - 1``),
    as lavaan. With ``defer_retries``, ML replicates still iterating when few of the chunk
    are left, or that need the retry ladder, are returned in ``pending`` instead (finish
    them with :func:`evaluate_pending`)."""
    positions = np.asarray(positions)
    R = S.shape[0]
    if spec.estimator != "ML":
        S = S * (n_obs / (n_obs - 1.0))
    out = ChunkOutput(positions=positions, values=np.full((R, len(spec.columns)), np.nan),
                      status=np.full(R, FAILED, dtype=np.int8), reasons={})
    # hopeless replicates are failed at once, with their reason: a resampled covariance
    # that is not positive definite (by its own Cholesky factorisation) has no ML fit
    usable = cholesky_factors(S)[0]
    for i in np.flatnonzero(~usable):
        out.reasons[int(positions[i])] = (NOT_PD_REASON,)
    idx = np.flatnonzero(usable)
    if not idx.size:
        return out
    if spec.estimator != "ML":
        why_failed = (f"the {spec.estimator} optimiser did not converge from the full-sample estimate "
                      f"within {LS_MAX_ITER} iterations: no finite {spec.estimator} solution was found, "
                      f"as when a near-Heywood resample's estimates diverge")
        _record(spec, out, idx, S, *_fit_other(spec, S[idx]), n_obs, why_failed)
        return out
    fitted = fast_path(spec.struct, S[idx], spec.theta0, park=PARK if defer_retries else 0)
    if defer_retries:
        todo = needs_retry(fitted)
        if todo.size:
            out.pending = PendingRetries(positions[idx[todo]], S[idx[todo]], fitted.take(todo), n_obs)
            rest = np.setdiff1d(np.arange(idx.size), todo)
            idx, fitted = idx[rest], fitted.take(rest)
    else:
        retry_unconverged(spec.struct, S[idx], spec.theta0, fitted)
    done = fitted.finished()
    _record(spec, out, idx, S, done.theta, done.fmin, done.Sigma, done.converged, n_obs, NOT_CONVERGED_REASON)
    return out


def evaluate_pending(spec: ReplicateSpec, pending: PendingRetries) -> ChunkOutput:
    """The rows of replicates :func:`evaluate` deferred, all in one batch: the rest of
    their Newton iterations, the retry ladder, then their columns."""
    fitted = pending.fitted
    retry_unconverged(spec.struct, pending.S, spec.theta0, fitted)
    done = fitted.finished()
    n = pending.positions.size
    out = ChunkOutput(positions=pending.positions, values=np.full((n, len(spec.columns)), np.nan),
                      status=np.full(n, FAILED, dtype=np.int8), reasons={})
    _record(spec, out, np.arange(n), pending.S, done.theta, done.fmin, done.Sigma, done.converged,
            pending.n_obs, NOT_CONVERGED_REASON)
    return out


def _record(spec: ReplicateSpec, out: ChunkOutput, idx: np.ndarray, S: np.ndarray, theta_all: np.ndarray,
            fmin_all: np.ndarray, Sigma_all: np.ndarray, ok: np.ndarray, n_obs: int, why_failed: str) -> None:
    """Fill ``out``'s rows ``idx`` (fitted from ``S[idx]``): columns and status of the
    converged replicates, the reason of the others."""
    positions, reasons = out.positions, out.reasons
    for i in idx[~ok]:
        reasons[int(positions[i])] = (why_failed,)
    good = idx[ok]
    if not good.size:
        return
    theta = theta_all[ok]
    vals, std_rows = spec.values(theta, S[good], Sigma_all[ok], fmin_all[ok], n_obs)
    out.values[good] = vals
    out.status[good] = OK
    flagged = np.flatnonzero(spec.screen(theta, std_rows))
    if flagged.size:
        why = admissibility(spec.struct, theta[flagged], std=std_rows[flagged])
        for j, r in zip(flagged, why):
            if r:
                out.status[good[j]] = INADMISSIBLE
                reasons[int(positions[good[j]])] = tuple(r)
