"""Replicates of full-information ML fits (``missing="ml"``): lavaan's ``bootstrapLavaan``
of a FIML fit.

A replicate is a set of resampled rows per group (with their missing values), drawn
exactly as the grouped case bootstrap draws them
(:func:`lcsem.resampling.resample.group_resample_indices`), so the same seed gives the
same resamples. Each replicate's rows are turned into missing-data patterns
(:func:`lcsem.data.missing.missing_patterns`), their saturated (h1) moments are estimated
by EM, and the model is refitted by FIML (:func:`lcsem.engine.fiml.fit_fiml`, Fisher
scoring on :class:`~lcsem.engine.fiml.FIMLObjective`) from the full-sample estimate;
a replicate that does not converge is retried from lavaan's simple starts on its EM
moments. Fit indices are lavaan's FIML ones (χ² against the replicate's EM h1, CFI/TLI
against the FIML baseline: :func:`lcsem.estimation.fiml.fiml_fit_measures`).

The replicates are fitted one after the other (each has its own patterns); the
arithmetic of a replicate does not depend on the others, so the numbers do not depend on
``n_jobs`` or ``batch_size``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._warnings import quiet
from ..data.missing import em_moments, missing_patterns
from ..engine import GroupStats, group_starts
from ..engine.fiml import FIMLObjective, fit_fiml, pattern_loglik
from ..exceptions import LcsemError
from ..inference.fit_indices import BOOTSTRAP_INDEX_NAMES
from .groups import GroupedReplicateSpec
from .replicates import FAILED, INADMISSIBLE, OK, ChunkOutput
from .resample import symmetric_sqrt

__all__ = ["FIMLSource", "evaluate_fiml", "bollen_stine_missing"]

NOT_CONVERGED_REASON = ("FIML did not converge from the full-sample estimate nor from lavaan's simple "
                        "starting values on the resample's EM moments: no finite solution was found")
#: Fisher-scoring iterations per attempt
MAX_ITER = 500


@dataclass
class FIMLSource:
    """The data a FIML bootstrap resamples: ``X`` (N, p) the stored rows with NaN where
    missing, ``positions[g]`` group ``g``'s rows, ``group_of`` each row's group."""

    X: np.ndarray
    positions: tuple
    group_of: np.ndarray
    columns: tuple


def bollen_stine_missing(X: np.ndarray, columns: tuple, Sigma: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """One group's Bollen–Stine data with missing values: per missing-data pattern with
    observed variables ``o``, ``z_o = mu_o + (x_o - m_o) S_oo^(-1/2) Sigma_oo^(1/2)`` with
    ``m``, ``S`` the group's EM (h1) moments and ``mu``, ``Sigma`` the implied ones
    (symmetric roots); missing values stay missing, rows missing everything stay as they are.
    With complete data this is the listwise transform."""
    X = np.asarray(X, float)
    obs = ~np.isnan(X)
    used = obs.any(axis=1)
    m, S, _ = em_moments(missing_patterns(X, columns))
    Z = np.array(X, copy=True)
    keys, inverse = np.unique(obs[used], axis=0, return_inverse=True)
    rows_used = np.flatnonzero(used)
    for j, o in enumerate(keys):
        rows = rows_used[np.ravel(inverse) == j]
        o = np.flatnonzero(o)
        A = symmetric_sqrt(S[np.ix_(o, o)], inverse=True) @ symmetric_sqrt(Sigma[np.ix_(o, o)])
        Z[np.ix_(rows, o)] = mu[o] + (X[np.ix_(rows, o)] - m[o]) @ A
    return Z


def _replicate_rows(source: FIMLSource, indices: np.ndarray | None, leave_out: int | None) -> list[np.ndarray]:
    """Each group's rows of one replicate (resampled ``indices`` laid out group after
    group, or every row but ``leave_out``)."""
    if leave_out is not None:
        return [source.X[pos[pos != leave_out]] for pos in source.positions]
    out, start = [], 0
    for pos in source.positions:
        out.append(source.X[indices[start:start + pos.size]])
        start += pos.size
    return out


def _fit_one(spec: GroupedReplicateSpec, rows: list[np.ndarray], columns: tuple):
    """Patterns, EM moments and FIML solution of one replicate; raises LcsemError when its
    data cannot be fitted (e.g. a pair never observed together in the resample)."""
    patterns = [missing_patterns(values, columns) for values in rows]
    em = [em_moments(mp) for mp in patterns]
    S = np.stack([c for _, c, _ in em])
    xbar = np.stack([m for m, _, _ in em])
    n = np.array([float(mp.n_obs) for mp in patterns])
    objective = FIMLObjective(spec.struct, patterns)
    sol = fit_fiml(objective, spec.theta0[None], max_iter=MAX_ITER)
    theta, ok = sol.theta[0], bool(sol.converged[0] and np.isfinite(sol.fmin[0]))
    if not ok:
        start = np.atleast_2d(group_starts(spec.struct, GroupStats(cov=S[None], mean=xbar[None], n=n)))
        retry = fit_fiml(objective, start, max_iter=4 * MAX_ITER)
        if retry.converged[0] and np.isfinite(retry.fmin[0]):
            theta, ok = retry.theta[0], True
    return patterns, S, xbar, n, objective, theta, ok


def _fit_indices(spec: GroupedReplicateSpec, patterns, S, xbar, n, objective, theta) -> np.ndarray:
    """lavaan's FIML fit indices of one replicate, in the order of BOOTSTRAP_INDEX_NAMES."""
    from ..estimation.fiml import fiml_fit_measures, fiml_gfi, independence_moments

    Sigma, mu = spec.struct.implied(theta[None])
    Sigma, mu = Sigma[0], mu[0]
    ll_h0 = float(objective.loglik(theta)[0])
    ll_h1 = float(sum(pattern_loglik(mp, xbar[g], S[g]) for g, mp in enumerate(patterns)))
    ll_base = float(sum(pattern_loglik(mp, *independence_moments(mp)) for mp in patterns))
    fi = fiml_fit_measures(S, xbar, Sigma, mu, n, ll_h0, ll_h1, ll_base, df=spec.df, n_params=spec.n_params)
    fi.update(fiml_gfi(tuple(patterns), Sigma, mu, spec.df))
    return np.array([float(fi[k]) for k in BOOTSTRAP_INDEX_NAMES])


def evaluate_fiml(spec: GroupedReplicateSpec, source: FIMLSource, positions: np.ndarray,
                  indices: np.ndarray | None = None, leave_out: np.ndarray | None = None) -> ChunkOutput:
    """Refit FIML on every replicate of a chunk and compute its row of the distribution."""
    R = len(positions)
    values = np.full((R, len(spec.columns)), np.nan)
    status = np.full(R, FAILED, dtype=np.int8)
    reasons: dict[int, tuple[str, ...]] = {}
    for i in range(R):
        rows = _replicate_rows(source, None if indices is None else indices[i],
                               None if leave_out is None else int(leave_out[i]))
        key = int(positions[i])
        try:
            with quiet():
                patterns, S, xbar, n, objective, theta, ok = _fit_one(spec, rows, source.columns)
        except (LcsemError, np.linalg.LinAlgError) as exc:
            reasons[key] = (f"the resample cannot be fitted by FIML: {exc}",)
            continue
        if not ok:
            reasons[key] = (NOT_CONVERGED_REASON,)
            continue
        stats = GroupStats(cov=S[None], mean=xbar[None], n=n)
        with np.errstate(all="ignore"):
            row, std_rows = spec.values(theta[None], stats, np.zeros(1))
            row[0, :spec.n_index] = _fit_indices(spec, patterns, S, xbar, n, objective, theta)
        values[i] = row[0]
        status[i] = OK
        if spec.screen(theta[None], std_rows)[0]:
            why = spec.layout.inadmissible(theta, spec.labels)
            if why:
                status[i] = INADMISSIBLE
                reasons[key] = tuple(why)
    return ChunkOutput(positions=np.asarray(positions), values=values, status=status, reasons=reasons)
