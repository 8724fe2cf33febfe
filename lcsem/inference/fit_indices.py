"""Fit-index formulas, as lavaan defines them for ML (pure functions, vectorised).

Every function accepts scalars or numpy arrays (one value per bootstrap replicate).
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, stats

__all__ = ["chisq_pvalue", "cfi", "tli", "nfi", "rmsea", "rmsea_ci", "rmsea_pvalue",
           "srmr", "gfi", "agfi", "loglik", "baseline_chisq"]


def chisq_pvalue(chisq, df):
    """Upper-tail p-value of the chi-square test."""
    return stats.chi2.sf(chisq, df) if df > 0 else np.full_like(np.asarray(chisq, float), np.nan)


def baseline_chisq(R: np.ndarray, n_obs: int) -> np.ndarray:
    """Independence-model chi-square ``-N log|R|`` from correlation matrices (..., p, p)."""
    return -n_obs * np.linalg.slogdet(R)[1]


def cfi(chisq, df, chisq0, df0):
    """Comparative fit index, bounded to [0, 1] (1 when both excesses are 0)."""
    d = np.maximum(np.asarray(chisq, float) - df, 0.0)
    d0 = np.maximum(np.asarray(chisq0, float) - df0, d)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(d0 > 0, 1.0 - d / np.where(d0 > 0, d0, 1.0), 1.0)


def tli(chisq, df, chisq0, df0):
    """Tucker-Lewis index (non-normed fit index), not truncated; 1 when df = 0 (lavaan)."""
    if df <= 0:
        return np.ones_like(np.asarray(chisq, float))
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1.0 - (np.asarray(chisq, float) - df) * df0 / ((np.asarray(chisq0, float) - df0) * df)


def nfi(chisq, chisq0):
    """Normed fit index."""
    return 1.0 - np.asarray(chisq, float) / np.asarray(chisq0, float)


def rmsea(chisq, df, n_obs):
    """Root mean square error of approximation (N in the denominator, as lavaan); 0 when
    df = 0 (a saturated model fits exactly, lavaan's convention)."""
    if df <= 0:
        return np.zeros_like(np.asarray(chisq, float))
    return np.sqrt(np.maximum(np.asarray(chisq, float) / (n_obs * df) - 1.0 / n_obs, 0.0))


def _ncp_for(chisq: float, df: int, prob: float) -> float:
    """Non-centrality lambda with F(chisq; df, lambda) = prob (0 when impossible)."""
    if not np.isfinite(chisq) or stats.chi2.cdf(chisq, df) < prob:
        return 0.0
    f = lambda lam: stats.ncx2.cdf(chisq, df, lam) - prob  # noqa: E731
    hi = max(chisq, 1.0)
    while f(hi) > 0:
        hi *= 2.0
    return optimize.brentq(f, 0.0, hi, xtol=1e-12, rtol=1e-12) if f(0.0) > 0 else 0.0


def rmsea_ci(chisq: float, df: int, n_obs: int, level: float = 0.90) -> tuple[float, float]:
    """Confidence interval of RMSEA from the non-central chi-square distribution; (0, 0)
    when df = 0 (lavaan)."""
    if df <= 0:
        return (0.0, 0.0)
    if not np.isfinite(chisq):
        return (np.nan, np.nan)
    upper_prob, lower_prob = (1 - level) / 2, 1 - (1 - level) / 2
    lam_lo = _ncp_for(chisq, df, lower_prob)
    lam_hi = _ncp_for(chisq, df, upper_prob)
    return (float(np.sqrt(lam_lo / (n_obs * df))), float(np.sqrt(lam_hi / (n_obs * df))))


def rmsea_pvalue(chisq, df, n_obs, close: float = 0.05):
    """p-value of the test of close fit (H0: RMSEA <= ``close``)."""
    if df <= 0:
        return np.nan
    return stats.ncx2.sf(chisq, df, n_obs * df * close ** 2)


def srmr(S: np.ndarray, Sigma: np.ndarray) -> np.ndarray:
    """Bentler's standardized root mean square residual over i <= j: (..., p, p) -> (...)."""
    d = np.sqrt(np.diagonal(S, axis1=-2, axis2=-1))
    resid = (S - Sigma) / (d[..., :, None] * d[..., None, :])
    iu = np.triu_indices(S.shape[-1])
    # contiguous rows: each replicate's mean is then summed in the same order whatever
    # the number of replicates (the indexed view is laid out replicate-last)
    squares = np.ascontiguousarray(resid[..., iu[0], iu[1]]) ** 2
    return np.sqrt(np.mean(squares, axis=-1))


def gfi(S: np.ndarray, Sigma: np.ndarray) -> np.ndarray:
    """Goodness-of-fit index for ML without exogenous covariates:
    1 - tr[(Sigma^-1 S - I)^2] / tr[(Sigma^-1 S)^2] (see :func:`lcsem.inference.fit_measures.gfi` for
    lavaan's general definition)."""
    P = np.linalg.solve(Sigma, S)
    eye = np.eye(S.shape[-1])
    num = np.einsum("...ij,...ji->...", P - eye, P - eye)
    den = np.einsum("...ij,...ji->...", P, P)
    return 1.0 - num / den


def agfi(gfi_value, p: int, df: int):
    """Adjusted GFI with the model's degrees of freedom: ``1 - (p(p+1)/2 / df)(1 - GFI)``,
    counting every variance and covariance (covariates included), as lavaan; 1 when
    ``df = 0`` (lavaan's ``lav_fit_agfi``)."""
    if df <= 0:
        return np.where(np.isfinite(np.asarray(gfi_value, float)), 1.0, np.nan)
    return 1.0 - (p * (p + 1) / 2 / df) * (1.0 - np.asarray(gfi_value, float))


def loglik(S: np.ndarray, Sigma: np.ndarray, n_obs: int) -> np.ndarray:
    """Normal log-likelihood with saturated means: -N/2 (p log 2pi + log|Sigma| + tr(S Sigma^-1))."""
    p = S.shape[-1]
    logdet = np.linalg.slogdet(Sigma)[1]
    tr = np.einsum("...ij,...ji->...", S, np.linalg.inv(Sigma))
    return -0.5 * n_obs * (p * np.log(2 * np.pi) + logdet + tr)
