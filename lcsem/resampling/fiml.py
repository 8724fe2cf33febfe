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

All replicates of a chunk are fitted at once (:func:`evaluate_fiml`): a replicate is a
vector of case weights on the stored rows, and :mod:`lcsem.engine.fiml_weighted` evaluates
the FIML discrepancy, its gradient and expected information, and the EM steps of every
replicate from its weights (pattern blocks by Schur complements of ``Sigma^-1``), so one
Fisher-scoring run of the batched solver (:func:`lcsem.engine.optimize.fisher_scoring`)
refits the whole chunk. The numbers are those of refitting each replicate's resampled rows
on their own (:func:`evaluate_fiml_unbatched`, to rounding); replicates the batch cannot
settle (a pair of variables never observed together in the resample, or no convergence
from the full-sample estimate) go through that one-by-one path, with its retry from
lavaan's simple starts and its failure reasons. A replicate's arithmetic does not depend
on the other replicates, so the numbers do not depend on ``n_jobs`` or ``batch_size``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._warnings import quiet
from ..data.missing import em_moments, missing_patterns
from ..engine import GroupStats, group_starts
from ..engine.fiml import FIMLObjective, fit_fiml, pattern_loglik
from ..engine.fiml_weighted import WeightedFIMLObjective, WeightedRows, em_batch, gfi_quadratic_forms
from ..engine.optimize import fisher_scoring
from ..exceptions import LcsemError
from ..inference.fit_indices import BOOTSTRAP_INDEX_NAMES
from .groups import GroupedReplicateSpec
from .group_indices import bootstrap_group_indices
from .replicates import FAILED, INADMISSIBLE, OK, ChunkOutput
from .resample import counts_from_indices, symmetric_sqrt
from ..estimation.fiml import fiml_fit_measures, fiml_gfi, independence_moments
from ..inference.fit_indices import cfi, covariate_loglik, nfi, tli

__all__ = ["FIMLSource", "evaluate_fiml", "evaluate_fiml_unbatched", "bollen_stine_missing", "replicate_weights"]

NOT_CONVERGED_REASON = ("FIML did not converge from the full-sample estimate nor from lavaan's simple "
                        "starting values on the resample's EM moments: no finite solution was found")
#: Fisher-scoring iterations per attempt
MAX_ITER = 500


@dataclass
class FIMLSource:
    """The data a FIML bootstrap resamples: ``X`` (N, p) the stored rows with NaN where
    missing, ``positions[g]`` group ``g``'s rows, ``group_of`` each row's group;
    ``hessian`` the Hessian of ``F`` of these data at the full-sample estimate (the start
    of every replicate's quasi-Newton run; computed once by :func:`fiml_source`, or per
    chunk when None)."""

    X: np.ndarray
    positions: tuple
    group_of: np.ndarray
    columns: tuple
    hessian: np.ndarray | None = None


def fiml_source(spec: GroupedReplicateSpec, X: np.ndarray, positions: tuple, group_of: np.ndarray,
                columns: tuple) -> FIMLSource:
    """A :class:`FIMLSource` with its full-sample Hessian (computed once for all chunks)."""
    source = FIMLSource(X=X, positions=positions, group_of=group_of, columns=columns)
    source.hessian = _full_sample_hessian(spec, source)
    return source


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

    Sigma, mu = spec.struct.implied(theta[None])
    Sigma, mu = Sigma[0], mu[0]
    ll_h0 = float(objective.loglik(theta)[0])
    ll_h1 = float(sum(pattern_loglik(mp, xbar[g], S[g]) for g, mp in enumerate(patterns)))
    ll_base = float(sum(pattern_loglik(mp, *independence_moments(mp, spec.exogenous)) for mp in patterns))
    fi = fiml_fit_measures(S, xbar, Sigma, mu, n, ll_h0, ll_h1, ll_base, df=spec.df, n_params=spec.n_params,
                           exogenous=spec.exogenous)
    fi.update(fiml_gfi(tuple(patterns), Sigma, mu, spec.df, spec.exogenous))
    return np.array([float(fi[k]) for k in BOOTSTRAP_INDEX_NAMES])


def evaluate_fiml_unbatched(spec: GroupedReplicateSpec, source: FIMLSource, positions: np.ndarray,
                            indices: np.ndarray | None = None, leave_out: np.ndarray | None = None) -> ChunkOutput:
    """Refit FIML on every replicate of a chunk, one replicate after the other (its rows
    turned into missing-data patterns), and compute its row of the distribution."""
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


def replicate_weights(source: FIMLSource, n_replicates: int, indices: np.ndarray | None,
                      leave_out: np.ndarray | None) -> list[np.ndarray]:
    """Per group, the case weights (R, n_g) of the replicates: how often each of the
    group's rows is drawn (``indices``), or 1 but for the row left out (``leave_out``)."""
    N = source.X.shape[0]
    if leave_out is not None:
        counts = np.ones((n_replicates, N))
        counts[np.arange(n_replicates), np.asarray(leave_out)] = 0.0
    else:
        counts = counts_from_indices(np.asarray(indices), N)
    return [counts[:, pos] for pos in source.positions]


def evaluate_fiml(spec: GroupedReplicateSpec, source: FIMLSource, positions: np.ndarray,
                  indices: np.ndarray | None = None, leave_out: np.ndarray | None = None) -> ChunkOutput:
    """Refit FIML on all replicates of a chunk at once and compute their rows of the
    distribution (module text); replicates the batch cannot settle go one by one."""
    positions = np.asarray(positions)
    R = positions.size
    weights = replicate_weights(source, R, indices, leave_out)
    groups = [WeightedRows(source.X[pos], w) for pos, w in zip(source.positions, weights)]
    # a pair never observed together (or a variable never observed) in some group's resample:
    # the one-by-one path gives its reason
    fallback = np.zeros(R, dtype=bool)
    for rows in groups:
        fallback |= np.any(rows.pair_counts == 0, axis=(1, 2))
    good = np.flatnonzero(~fallback)
    values = np.full((R, len(spec.columns)), np.nan)
    status = np.full(R, FAILED, dtype=np.int8)
    reasons: dict[int, tuple[str, ...]] = {}
    if good.size:
        groups = [WeightedRows(source.X[pos], w[good]) for pos, w in zip(source.positions, weights)]
        with quiet(), np.errstate(all="ignore"):
            em = [em_batch(rows) for rows in groups]
            xbar = np.stack([m for m, _, _ in em], axis=1)                     # (r, G, p)
            S = np.stack([c for _, c, _ in em], axis=1)                        # (r, G, p, p)
            objective = WeightedFIMLObjective(spec.struct, groups)
            hessian = source.hessian if source.hessian is not None else _full_sample_hessian(spec, source)
            if hessian is not None:
                objective.use_quasi_newton(hessian)
            sol = fisher_scoring(objective, spec.theta0[None], max_iter=MAX_ITER)
        ok = sol.converged & np.isfinite(sol.fmin)
        fallback[good[~ok]] = True
        keep = np.flatnonzero(ok)
        if keep.size:
            done = good[keep]
            theta = sol.theta[keep]
            n = np.stack([rows.n for rows in groups], axis=1)[keep]
            stats = GroupStats(cov=S[keep], mean=xbar[keep], n=n)
            with np.errstate(all="ignore"):
                row, std_rows = spec.values(theta, stats, np.zeros(keep.size))
                row[:, :spec.n_index] = _batch_fit_indices(spec, groups, objective, keep, theta,
                                                           sol.fmin[keep], S[keep], xbar[keep], n)
            values[done] = row
            status[done] = OK
            flagged = np.flatnonzero(spec.screen(theta, std_rows))
            for j in flagged:
                why = spec.layout.inadmissible(theta[j], spec.labels)
                if why:
                    status[done[j]] = INADMISSIBLE
                    reasons[int(positions[done[j]])] = tuple(why)
    redo = np.flatnonzero(fallback)
    if redo.size:
        part = evaluate_fiml_unbatched(spec, source, positions[redo],
                                       None if indices is None else np.asarray(indices)[redo],
                                       None if leave_out is None else np.asarray(leave_out)[redo])
        values[redo], status[redo] = part.values, part.status
        reasons.update(part.reasons)
    return ChunkOutput(positions=positions, values=values, status=status, reasons=reasons)


def _full_sample_hessian(spec: GroupedReplicateSpec, source: FIMLSource) -> np.ndarray | None:
    """The Hessian of ``F`` at the full-sample estimate (the observed information of the
    fit): the start of every replicate's quasi-Newton run; None when it cannot be computed
    (the replicates then take Fisher-scoring steps; a Hessian that is not positive definite
    is refused by ``use_quasi_newton`` the same way)."""
    try:
        patterns = [missing_patterns(source.X[pos], source.columns) for pos in source.positions]
        with np.errstate(all="ignore"):
            H = FIMLObjective(spec.struct, patterns).observed_information(spec.theta0)
    except (LcsemError, np.linalg.LinAlgError):
        return None
    return H if np.isfinite(H).all() else None


def _batch_fit_indices(spec: GroupedReplicateSpec, groups: list[WeightedRows], objective: WeightedFIMLObjective,
                       keep: np.ndarray, theta: np.ndarray, fmin: np.ndarray, S: np.ndarray, xbar: np.ndarray,
                       n: np.ndarray) -> np.ndarray:
    """lavaan's FIML fit indices of the replicates ``keep`` (columns of BOOTSTRAP_INDEX_NAMES):
    as :func:`lcsem.estimation.fiml.fiml_fit_measures` and
    :func:`~lcsem.estimation.fiml.fiml_gfi` compute them for one fit."""

    r = keep.size
    G, p = S.shape[1], S.shape[-1]
    Sigma, mu = spec.struct.implied(theta)
    N_all = objective.N
    ll_h0 = -0.5 * N_all[keep] * (fmin + objective.constant[keep])
    S_all = np.zeros((objective.n_replicates, G, p, p))
    m_all = np.zeros((objective.n_replicates, G, p))
    S_all[keep], m_all[keep] = S, xbar
    base_S, base_m = np.zeros_like(S_all), np.zeros_like(m_all)
    x = np.array(spec.exogenous, dtype=int)
    for g, rows in enumerate(groups):
        mean, var = rows.available_moments()
        base_m[:, g] = mean
        base_S[:, g] = var[:, :, None] * np.eye(p)[None]
        if x.size:      # fixed.x covariates (observed in every row) keep their ML covariances
            xx = (slice(None), x[:, None], x[None, :])
            base_S[:, g, x[:, None], x[None, :]] = (rows.cross[xx] / rows.pair_counts[xx]
                                                    - mean[:, x, None] * mean[:, None, x])
    ll_h1 = objective.loglik(objective.moment_value(S_all, m_all))[keep]
    ll_base = objective.loglik(objective.moment_value(base_S, base_m))[keep]
    chisq = np.maximum(2.0 * (ll_h1 - ll_h0), 0.0)
    fi = bootstrap_group_indices(S, xbar, Sigma, mu, n, chisq, df=spec.df, n_params=spec.n_params)
    chisq0 = 2.0 * (ll_h1 - ll_base)
    q = x.size
    df0 = G * (p * (p - 1) // 2 - q * (q - 1) // 2)
    Ntot = n.sum(axis=1)
    gfi_sum = np.zeros(r)
    for g, rows in enumerate(groups):
        mean, cov = rows.pairwise_moments()
        num, den = gfi_quadratic_forms(rows, keep, Sigma[:, g], mu[:, g], cov[keep], mean[keep], spec.exogenous)
        gfi_sum = gfi_sum + n[:, g] * (1.0 - num / den)
    gfi = gfi_sum / Ntot
    n_elements = G * (p * (p + 1) // 2 + p)
    # fixed.x: the log-likelihood is conditional on the covariates
    ll = ll_h0 - covariate_loglik(S, n, spec.exogenous).sum(axis=1) if spec.exogenous else ll_h0
    fi.update(cfi=cfi(chisq, spec.df, chisq0, df0), tli=tli(chisq, spec.df, chisq0, df0), nfi=nfi(chisq, chisq0),
              loglik=ll, aic=-2.0 * ll + 2.0 * spec.n_params,
              bic=-2.0 * ll + spec.n_params * np.log(Ntot), gfi=gfi,
              agfi=1.0 - n_elements / spec.df * (1.0 - gfi) if spec.df > 0 else np.ones(r))
    return np.column_stack([np.broadcast_to(np.asarray(fi[k], float), (r,)) for k in BOOTSTRAP_INDEX_NAMES])
