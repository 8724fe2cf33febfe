"""Full-information ML estimation (lavaan's ``missing = "ml"``) of single- and multi-group
models; the fields :func:`lcsem.estimation.grouped.fit_groups` returns.

* Starts: lavaan's simple starts computed from the EM (h1) moments of each group.
* Estimation: Fisher scoring on :class:`~lcsem.engine.fiml.FIMLObjective` (casewise
  likelihood over missing-data patterns), retried from starts with larger latent
  variances when the first does not converge.
* Standard errors: the observed information (the Hessian of the log-likelihood, lavaan's
  default for FIML: ``information = "observed"``, ``observed.information = "hessian"``)
  or, with ``information="expected"``, the structured expected information.
* Test and fit: ``chisq = 2 (loglik_h1 - loglik)`` with the saturated model by EM; the
  baseline (independence) model by FIML (per variable, its available cases' mean and ML
  variance maximise the likelihood); CFI/TLI/NFI against that baseline; RMSEA with the
  total N; SRMR, GFI against the EM moments (lavaan); loglik, AIC, BIC from the casewise
  likelihood.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._warnings import warn
from ..data.groups import GroupedMoments
from ..data.missing import MissingPatterns, pattern_inverse
from ..engine import GroupStats, GroupStructure, group_starts
from ..engine.fiml import FIMLObjective, fit_fiml, pattern_loglik, without_fixed_x
from ..exceptions import (ArgumentError, ConvergenceWarning, EstimationError,
                          ModelSpecificationError, NonAdmissibleWarning)
from ..inference.fit_indices import cfi, covariate_loglik, grouped_fit_measures, nfi, tli
from ..inference.grouped import GroupLayout, fixed_x_ids
from ..spec.model import Model
from .grouped import _estimates, _parameter_names, information_vcov
from ..spec.partable import ParRow

#: values of ``fit(information=...)``
INFORMATION_KINDS = ("observed", "expected")
#: latent variances of the retry starts, as multiples of the largest observed variance
RETRY_LATENT_VARIANCES = (1.0, 10.0)


def fiml_fit(model: Model, rows: tuple[ParRow, ...], moments: GroupedMoments, level: float,
             information: str = "observed") -> dict:
    """Estimate ``rows`` by FIML on the missing-data patterns of ``moments``."""
    if information not in INFORMATION_KINDS:
        raise ArgumentError(f"information: {information!r} is not one of "
                            f"{', '.join(map(repr, INFORMATION_KINDS))}; lavaan's default for FIML is "
                            f"'observed'")
    patterns: tuple[MissingPatterns, ...] = moments.patterns
    G = len(patterns)
    p = len(model.observed)
    n = np.array([float(mp.n_obs) for mp in patterns])
    N = float(n.sum())
    S = np.stack([g.cov for g in moments.groups])
    xbar = np.stack([g.mean for g in moments.groups])
    struct = GroupStructure(rows, model.observed, model.latent, n_groups=G, meanstructure=True)
    n_moments = G * (p * (p + 1) // 2 + p)
    if n_moments < struct.k:
        raise ModelSpecificationError(
            f"the model has {struct.k} free parameters but only {n_moments} sample moments to fit "
            f"(df = {n_moments - struct.k}); it is not identified: fix parameters or add equality "
            f"constraints")
    objective = FIMLObjective(struct, patterns)
    start = np.atleast_2d(group_starts(struct, GroupStats(cov=S[None], mean=xbar[None], n=n)))
    sol, best = _solve(objective, struct, start, S)
    theta = sol.theta[best]
    converged = bool(sol.converged[best])
    if not converged:
        warn(f"the optimiser did not converge (largest gradient {sol.max_gradient[best]:.2e} after "
             f"{int(sol.iterations[best])} iterations); estimates are not reliable", ConvergenceWarning,
             stacklevel=5)
    layout = GroupLayout(rows, model.observed, model.latent)
    names = _parameter_names(layout, moments.labels)
    vcov, unidentified = information_vcov(
        struct, theta, N, names, lambda: (objective.observed_information(theta) if information == "observed"
                                          else objective.expected_information(theta)),
        what=f"{information} information", stacklevel=6)
    Sigma, mu = struct.implied(theta[None])
    Sigma, mu = Sigma[0], mu[0]
    df = n_moments - struct.k
    ll_h0 = float(objective.loglik(theta)[0])
    ll_h1 = float(sum(pattern_loglik(mp, xbar[g], S[g]) for g, mp in enumerate(patterns)))
    x_idx = covariate_columns(model)
    ll_base = float(sum(pattern_loglik(mp, *independence_moments(mp, x_idx)) for mp in patterns))
    fixed_x = fixed_x_ids(rows, model)
    fi = fiml_fit_measures(S, xbar, Sigma, mu, n, ll_h0, ll_h1, ll_base, df=df,
                           n_params=struct.k - len(fixed_x), exogenous=x_idx)
    fi.update(fiml_gfi(patterns, Sigma, mu, df, x_idx))
    estimates = _estimates(model, rows, layout, theta, vcov, fixed_x, level, G > 1)
    reasons = layout.inadmissible(theta, moments.labels)
    if reasons:
        warn("inadmissible solution: " + "; ".join(reasons), NonAdmissibleWarning, stacklevel=5)
    endogenous = tuple(v for v in layout.blocks[0].struct.names if v in model.roles.endogenous)
    r2 = layout.r2(theta[None], endogenous)[0]
    return dict(theta=theta, vcov=vcov, unidentified=unidentified, converged=converged,
                iterations=int(sol.iterations[best]), fit_indices=pd.Series(fi, name="value", dtype=float),
                estimates=estimates, inadmissible=reasons, r2=r2, endogenous=endogenous,
                Sigma=Sigma, mu=mu, S=S, xbar=xbar, n=n, information=information)


def _solve(objective: FIMLObjective, struct: GroupStructure, start: np.ndarray, S: np.ndarray):
    """Fisher scoring from lavaan's simple start; when it does not converge, also from
    starts with larger latent variances; the converged solution with the lowest F."""
    sol = fit_fiml(objective, start)
    if sol.converged[0]:
        return sol, 0
    latent = set(struct.latent)
    ids = sorted({r.free - 1 for r in struct.rows
                  if r.free and r.op == "~~" and r.lhs == r.rhs and r.lhs in latent})
    scale = float(np.max(np.diagonal(S, axis1=-2, axis2=-1)))
    starts = [start[0]]
    for factor in RETRY_LATENT_VARIANCES:
        alt = start[0].copy()
        alt[ids] = factor * scale
        starts.append(alt)
    sol = fit_fiml(objective, np.stack(starts), max_iter=2000)
    finite = np.isfinite(sol.fmin)
    if not finite.any():
        raise EstimationError("estimation failed from every starting point (the implied covariance "
                              "matrix of some group never became positive definite); check the "
                              "model's identification")
    order = np.lexsort((np.where(finite, sol.fmin, np.inf), ~sol.converged))
    return sol, int(order[0])


def covariate_columns(model: Model) -> tuple[int, ...]:
    """Positions among ``model.observed`` of the exogenous observed covariates (lavaan's
    ``fixed.x``)."""
    return tuple(model.observed.index(x) for x in model.roles.exogenous_observed)


def independence_moments(patterns: MissingPatterns, x_idx: tuple[int, ...] = ()
                         ) -> tuple[np.ndarray, np.ndarray]:
    """The FIML estimates of the baseline (independence) model: with uncorrelated variables
    the likelihood factors by variable, so each mean and variance is its available cases'
    mean and ML variance. The covariates ``x_idx`` (lavaan's ``fixed.x``: observed in every
    row used) keep their sample covariances, as in lavaan's baseline model."""
    values = patterns.values
    mean = np.nanmean(values, axis=0)
    centred = values - mean
    cov = np.diag(np.nanmean(centred ** 2, axis=0))
    if x_idx:
        x = centred[:, list(x_idx)]
        cov[np.ix_(x_idx, x_idx)] = x.T @ x / x.shape[0]
    return mean, cov


def fiml_fit_measures(S: np.ndarray, xbar: np.ndarray, Sigma: np.ndarray, mu: np.ndarray, n: np.ndarray,
                      ll_h0: float, ll_h1: float, ll_base: float, *, df: int, n_params: int,
                      exogenous: tuple[int, ...] = ()) -> dict[str, float]:
    """lavaan's fit measures of a FIML fit: ``chisq = 2 (ll_h1 - ll_h0)``, the baseline
    ``2 (ll_h1 - ll_base)`` on ``G [p (p - 1) / 2 - q (q - 1) / 2]`` df (the q fixed.x
    covariates ``exogenous``, whose covariances the baseline keeps), CFI/TLI/NFI against it,
    RMSEA with the total N, SRMR and GFI against the EM moments ``S``/``xbar``; loglik, AIC
    and BIC from the casewise log-likelihood ``ll_h0``, conditional on the covariates under
    fixed.x (their saturated log-likelihood, from their sample moments, subtracted: lavaan)."""
    chisq = max(2.0 * (ll_h1 - ll_h0), 0.0)
    out = grouped_fit_measures(S, xbar, Sigma, mu, n, chisq, df=df, n_params=n_params)
    G, p = S.shape[0], S.shape[-1]
    chisq0 = 2.0 * (ll_h1 - ll_base)
    q = len(exogenous)
    df0 = G * (p * (p - 1) // 2 - q * (q - 1) // 2)
    N = float(np.sum(n))
    ll = ll_h0 - float(np.sum(covariate_loglik(S, n, exogenous))) if q else ll_h0
    out.update(cfi=float(cfi(chisq, df, chisq0, df0)), tli=float(tli(chisq, df, chisq0, df0)),
               nfi=float(nfi(chisq, chisq0)), loglik=ll, aic=-2.0 * ll + 2.0 * n_params,
               bic=-2.0 * ll + n_params * np.log(N), baseline_chisq=chisq0, baseline_df=df0)
    return out


def fiml_gfi(patterns: tuple[MissingPatterns, ...], Sigma: np.ndarray, mu: np.ndarray, df: int,
             exogenous: tuple[int, ...] = ()) -> dict[str, float]:
    """GFI and AGFI of a FIML fit as lavaan 0.6.14 computes them: ``1 - e'Ve / s'Vs`` with
    ``V`` the expected information of the incomplete data at the implied moments (pattern
    by pattern: ``sum_j (n_j / N_g) [W_j, 1/2 D'(W_j x W_j)D]``), ``s`` lavaan's sample
    statistics of incomplete data (available-case means and the pairwise covariances
    rescaled by ``(N_g - 1) / N_g``) and ``e = s - implied``; N_g-weighted over groups. The
    moments among fixed.x covariates (``exogenous``) get no weight."""
    n = np.array([float(mp.n_obs) for mp in patterns])
    values = []
    for g, mp in enumerate(patterns):
        obs = mp.observed
        W = pattern_inverse(Sigma[g], obs[:, :, None] & obs[:, None, :])
        c = mp.counts / float(mp.n_obs)
        frame = pd.DataFrame(mp.values)
        cov = frame.cov().to_numpy() * (n[g] - 1.0) / n[g]
        mean = frame.mean().to_numpy()
        Wm = np.einsum("j,jab->ab", c, W)

        def quad(E: np.ndarray, e: np.ndarray) -> float:
            WE = W @ E                                                   # (J, p, p)
            return float(0.5 * np.einsum("j,jab,jba->", c, WE, WE) + e @ Wm @ e)

        E, e = without_fixed_x(cov - Sigma[g], mean - mu[g], exogenous)
        values.append(1.0 - quad(E, e) / quad(*without_fixed_x(cov, mean, exogenous)))
    gfi = float(np.dot(n, values) / n.sum())
    p = Sigma.shape[-1]
    n_elements = len(patterns) * (p * (p + 1) // 2 + p)
    return {"gfi": gfi, "agfi": float(1.0 - n_elements / df * (1.0 - gfi)) if df > 0 else 1.0}
