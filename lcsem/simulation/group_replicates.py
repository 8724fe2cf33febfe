"""Fit a multi-group / mean-structure model to a batch of simulated per-group moments.

Every replicate is a full ML fit by the engine's one solver
(:func:`lcsem.engine.minimize` on :class:`~lcsem.engine.GroupStats`, warm-started at the
population values), standard errors come from each replicate's expected information
(``2/N · I(θ̂)⁻¹``, lavaan's default) and the fit indices from lavaan's multi-group
formulas (:func:`lcsem.inference.fit_indices.grouped_fit_measures`), vectorised over the
replicates.
"""

from __future__ import annotations

import numpy as np

from ..engine import GroupStats, information, minimize
from ..inference.fit_indices import baseline_chisq, cfi, chisq_pvalue, rmsea, tli
from ..inference.grouped import GroupLayout
from .groups import GroupPopulation
from .replicates import ReplicateFits, admissible

__all__ = ["fit_group_replicates", "grouped_fit_batch"]


def fit_group_replicates(pop: GroupPopulation, stats: GroupStats) -> ReplicateFits:
    """Fit ``pop``'s table to every replicate of ``stats`` (R replicates, G groups)."""
    struct = pop.struct
    R, k = stats.cov.shape[0], struct.k
    sol = minimize(struct, stats, np.broadcast_to(pop.theta, (R, k)), "ML", method="newton")
    theta = sol.theta
    conv = sol.converged & np.isfinite(sol.fmin)
    n = np.asarray(stats.n, float)
    N = float(n.sum())
    vcov = np.full((R, k, k), np.nan)
    if conv.any():
        idx = np.flatnonzero(conv)
        info = information(struct, theta[idx], stats)
        for j, r in enumerate(idx):    # the batched inverse fails as a whole on one singular matrix
            try:
                vcov[r] = 2.0 / N * np.linalg.inv(info[j])
            except np.linalg.LinAlgError:
                pass
    with np.errstate(invalid="ignore"):
        se = np.sqrt(np.diagonal(vcov, axis1=1, axis2=2))
    fixed_x = [f - 1 for f in pop.fixed_x]
    if fixed_x:
        se[:, fixed_x] = np.nan
    Sigma, mu = struct.implied(theta)
    fmin = np.where(conv, np.maximum(sol.fmin, 0.0), np.nan)
    exogenous = tuple(pop.model.observed.index(v) for v in pop.model.roles.exogenous_observed)
    fit = grouped_fit_batch(stats.cov, stats.mean, Sigma, mu, n, N * fmin, df=pop.df, exogenous=exogenous)
    fit = {key: np.where(conv, value, np.nan) for key, value in fit.items()}
    adm = np.zeros(R, dtype=bool)
    if conv.any():
        ok = np.ones(int(conv.sum()), dtype=bool)
        for block in GroupLayout(pop.rows, pop.struct.observed, pop.struct.latent).blocks:
            ok &= admissible(block.struct, theta[conv])
        adm[conv] = ok
    return ReplicateFits(theta, se, vcov, conv, adm, fit)


def grouped_fit_batch(S: np.ndarray, mean: np.ndarray | None, Sigma: np.ndarray, mu: np.ndarray | None,
                      n: np.ndarray, chisq: np.ndarray, *, df: int, exogenous: tuple[int, ...] = ()
                      ) -> dict[str, np.ndarray]:
    """``chisq pvalue cfi tli rmsea srmr`` per replicate, lavaan's multi-group definitions
    (as :func:`~lcsem.inference.fit_indices.grouped_fit_measures`, vectorised): baseline
    chi-square and df summed over groups, RMSEA ``sqrt(G)`` times the one-group formula at
    the total N, SRMR the ``N_g``-weighted mean of the groups' values (with means, the
    mean residuals standardised by the observed SDs count as moments).

    ``S``/``Sigma``: (R, G, p, p); ``mean``/``mu``: (R, G, p) or None; ``n``: (G,).
    """
    R, G, p = S.shape[0], S.shape[1], S.shape[-1]
    n = np.asarray(n, float)
    N = float(n.sum())
    q = len(exogenous)
    chisq0 = sum(baseline_chisq(S[:, g], int(n[g]), exogenous) for g in range(G))
    df0 = G * (p * (p - 1) // 2 - q * (q - 1) // 2)
    iu = np.triu_indices(p)
    means = mean is not None and mu is not None
    n_moments = p * (p + 1) / 2 + (p if means else 0)
    srmr = np.zeros(R)
    with np.errstate(invalid="ignore", divide="ignore"):
        for g in range(G):
            d = 1.0 / np.sqrt(np.diagonal(S[:, g], axis1=1, axis2=2))                  # (R, p)
            resid = (S[:, g] - Sigma[:, g]) * d[:, :, None] * d[:, None, :]
            total = np.sum(np.ascontiguousarray(resid[:, iu[0], iu[1]]) ** 2, axis=1)
            if means:
                total = total + np.sum(((mean[:, g] - mu[:, g]) * d) ** 2, axis=1)
            srmr += n[g] / N * np.sqrt(total / n_moments)
        chisq = np.asarray(chisq, float)
        return {"chisq": chisq, "pvalue": np.asarray(chisq_pvalue(chisq, df), float),
                "cfi": np.asarray(cfi(chisq, df, chisq0, df0), float),
                "tli": np.asarray(tli(chisq, df, chisq0, df0), float),
                "rmsea": np.asarray(rmsea(chisq, df, N), float) * np.sqrt(G), "srmr": srmr}
