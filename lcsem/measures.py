"""Assemble every fit index from S, Sigma-hat and the discrepancy, for one or many fits.

Shared by :func:`lcsem.fit` and the bootstrap so that a replicate's indices are computed
with exactly the formulas of the full-sample fit.
"""

from __future__ import annotations

import numpy as np

from . import indices

FIT_INDEX_NAMES = ("chisq", "df", "pvalue", "cfi", "tli", "nfi", "rmsea", "rmsea_ci_lower",
                   "rmsea_ci_upper", "rmsea_pvalue", "srmr", "gfi", "agfi", "loglik", "aic", "bic",
                   "n_obs", "n_params", "baseline_chisq", "baseline_df")
# indices that vary between bootstrap replicates (df, n_obs... do not)
BOOTSTRAP_INDEX_NAMES = ("chisq", "pvalue", "cfi", "tli", "nfi", "rmsea", "srmr", "gfi", "agfi",
                         "loglik", "aic", "bic")


def test_statistic(fmin: np.ndarray, n_obs: int, estimator: str) -> np.ndarray:
    """Chi-square from the minimum discrepancy: N F for ML; (N - 1) F for GLS and ULS
    (with the unbiased covariance, as lavaan)."""
    if estimator == "ML":
        return n_obs * np.asarray(fmin)
    return (n_obs - 1) * np.asarray(fmin)


def fit_measures(S: np.ndarray, Sigma: np.ndarray, chisq: np.ndarray, chisq0: np.ndarray, *,
                 n_obs: int, df: int, n_params: int, with_ci: bool = True) -> dict[str, np.ndarray]:
    """Every fit index, vectorised over leading axes of ``S``/``Sigma`` (shape (..., p, p))."""
    p = S.shape[-1]
    df0 = p * (p - 1) // 2
    chisq = np.asarray(chisq, dtype=float)
    gfi = indices.gfi(S, Sigma)
    ll = indices.loglik(S, Sigma, n_obs)
    out = {
        "chisq": chisq,
        "df": np.full_like(chisq, df),
        "pvalue": indices.chisq_pvalue(chisq, df),
        "cfi": indices.cfi(chisq, df, chisq0, df0),
        "tli": indices.tli(chisq, df, chisq0, df0),
        "nfi": indices.nfi(chisq, chisq0),
        "rmsea": indices.rmsea(chisq, df, n_obs),
        "srmr": indices.srmr(S, Sigma),
        "gfi": gfi,
        "agfi": indices.agfi(gfi, p, df),
        "loglik": ll,
        "aic": -2 * ll + 2 * n_params,
        "bic": -2 * ll + n_params * np.log(n_obs),
        "n_obs": np.full_like(chisq, n_obs),
        "n_params": np.full_like(chisq, n_params),
        "baseline_chisq": np.asarray(chisq0, dtype=float) * np.ones_like(chisq),
        "baseline_df": np.full_like(chisq, df0),
    }
    if with_ci:
        flat = np.atleast_1d(chisq).ravel()
        ci = np.array([indices.rmsea_ci(c, df, n_obs) for c in flat]).reshape(*np.shape(chisq), 2)
        out["rmsea_ci_lower"] = ci[..., 0]
        out["rmsea_ci_upper"] = ci[..., 1]
        out["rmsea_pvalue"] = np.asarray(indices.rmsea_pvalue(chisq, df, n_obs), dtype=float)
    return {k: out[k] for k in FIT_INDEX_NAMES if k in out}
