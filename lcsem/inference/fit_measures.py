"""Assemble every fit index from S, Sigma-hat and the discrepancy, for one or many fits.

Shared by :func:`lcsem.fit` and the bootstrap so that a replicate's indices are computed
with exactly the formulas of the full-sample fit.
"""

from __future__ import annotations

import numpy as np

from . import fit_indices

FIT_INDEX_NAMES = ("chisq", "df", "pvalue", "cfi", "tli", "nfi", "rmsea", "rmsea_ci_lower",
                   "rmsea_ci_upper", "rmsea_pvalue", "srmr", "gfi", "agfi", "loglik", "aic", "bic",
                   "n_obs", "n_params", "baseline_chisq", "baseline_df")
# indices that vary between bootstrap replicates (df, n_obs... do not)
BOOTSTRAP_INDEX_NAMES = ("chisq", "pvalue", "cfi", "tli", "nfi", "rmsea", "srmr", "gfi", "agfi",
                         "loglik", "aic", "bic")


def test_statistic(fmin: np.ndarray, n_obs: int, estimator: str) -> np.ndarray:
    """Chi-square from the minimum discrepancy: N F for ML; (N - 1) F for GLS and ULS
    (with the unbiased covariance, as lavaan)."""
    # F >= 0 in exact arithmetic: a tiny negative minimum is rounding, clipped here so
    # that no chi-square is ever shown as -0.000
    fmin = np.maximum(np.asarray(fmin, dtype=float), 0.0)
    if estimator == "ML":
        return n_obs * fmin
    return (n_obs - 1) * fmin


def baseline_chisq(S: np.ndarray, n_obs: int, exogenous: tuple[int, ...] = ()) -> np.ndarray:
    """ML chi-square of the baseline (independence) model, ``-N log|R|``; with exogenous
    observed predictors (lavaan's ``fixed.x``) their correlations stay free:
    ``-N (log|R| - log|R_xx|)``. Vectorised over leading axes."""
    d = np.sqrt(np.diagonal(S, axis1=-2, axis2=-1))
    R = S / (d[..., :, None] * d[..., None, :])
    out = fit_indices.baseline_chisq(R, n_obs)
    if len(exogenous) > 1:
        idx = np.asarray(exogenous)
        out = out - fit_indices.baseline_chisq(R[..., idx[:, None], idx[None, :]], n_obs)
    return out


def _marginal_loglik(S: np.ndarray, n_obs: int, exogenous: tuple[int, ...]) -> np.ndarray:
    """Saturated log-likelihood of the exogenous predictors alone (removed under fixed.x)."""
    idx = np.asarray(exogenous)
    Sxx = S[..., idx[:, None], idx[None, :]]
    return fit_indices.loglik(Sxx, Sxx, n_obs)


def gfi(S: np.ndarray, Sigma: np.ndarray, estimator: str = "ML", fixed_x: tuple[int, ...] = ()) -> np.ndarray:
    """Goodness-of-fit index as lavaan defines it (``lav_fit_gfi``), vectorised over
    leading axes: ``1 - e'We / s'Ws`` with ``s = vech(S)``, ``e = vech(S - Sigma)`` and
    ``W`` the estimator's weight matrix of the ``p(p+1)/2`` moments.

    * ML: ``W = 1/2 D'(Sigma^-1 x Sigma^-1)D`` (expected information at Sigma-hat), so
      ``GFI = 1 - tr[(Sigma^-1 E)^2] / tr[(Sigma^-1 S)^2]``; with ``fixed.x`` the rows and
      columns of ``W`` for the moments among the exogenous covariates ``fixed_x`` are zero
      (those moments get no weight in either sum).
    * GLS: the same with ``S^-1`` in place of ``Sigma^-1``.
    * ULS: ``W = I`` over ``vech``: every variance and covariance counts once,
      ``GFI = 1 - sum_{i<=j} e_ij^2 / sum_{i<=j} s_ij^2``.
    """
    S = np.asarray(S, float)
    E = S - Sigma
    if estimator == "ULS":
        iu = np.triu_indices(S.shape[-1])
        return 1.0 - (E[..., iu[0], iu[1]] ** 2).sum(axis=-1) / (S[..., iu[0], iu[1]] ** 2).sum(axis=-1)
    A = np.linalg.inv(Sigma if estimator == "ML" else S)
    S0 = S
    if fixed_x:
        idx = np.ix_(fixed_x, fixed_x)
        E = E.copy()
        S0 = S.copy()
        E[..., idx[0], idx[1]] = 0.0
        S0[..., idx[0], idx[1]] = 0.0
    AE = A @ E
    AS = A @ S0
    return 1.0 - np.einsum("...ij,...ji->...", AE, AE) / np.einsum("...ij,...ji->...", AS, AS)


def fit_measures(S: np.ndarray, Sigma: np.ndarray, chisq: np.ndarray, chisq0: np.ndarray | None = None, *,
                 n_obs: int, df: int, n_params: int, with_ci: bool = True,
                 exogenous: tuple[int, ...] = (), estimator: str = "ML") -> dict[str, np.ndarray]:
    """Every fit index, vectorised over leading axes of ``S``/``Sigma`` (shape (..., p, p)).

    ``S`` is the covariance the model was fitted to (N denominator for ML, N - 1 for GLS
    and ULS, as lavaan). ``chisq0`` defaults to the ML baseline chi-square of ``S``.
    ``exogenous`` lists positions of exogenous observed predictors (lavaan's ``fixed.x``):
    the baseline keeps their correlations, and the log-likelihood is conditional on them.
    Under ULS the statistic has no chi-square p-value (NaN, as lavaan). For GLS and ULS,
    RMSEA uses N - 1, GFI the estimator's weight (see :func:`gfi`), and the
    log-likelihood, AIC and BIC are not defined (NaN), as in lavaan.
    """
    p = S.shape[-1]
    q = len(exogenous)
    df0 = p * (p - 1) // 2 - q * (q - 1) // 2
    chisq = np.asarray(chisq, dtype=float)
    if chisq0 is None:
        chisq0 = baseline_chisq(S, n_obs, exogenous)
    # lavaan's fixed.x (the covariates' moments are given) holds for ML only; GLS and
    # ULS estimate them (fixed.x = FALSE), but every estimator's baseline keeps them
    gfi_value = gfi(S, Sigma, estimator, tuple(exogenous) if estimator == "ML" else ())
    if estimator == "ML":
        ll = fit_indices.loglik(S, Sigma, n_obs)
        if q:
            ll = ll - _marginal_loglik(S, n_obs, exogenous)
        n_rmsea = n_obs
    else:
        ll = np.full_like(chisq, np.nan)
        n_rmsea = n_obs - 1
    out = {
        "chisq": chisq,
        "df": np.full_like(chisq, df),
        # (N - 1) F_ULS does not follow a chi-square distribution: lavaan reports no p-value
        "pvalue": (fit_indices.chisq_pvalue(chisq, df) if estimator != "ULS"
                   else np.full_like(chisq, np.nan)),
        "cfi": fit_indices.cfi(chisq, df, chisq0, df0),
        "tli": fit_indices.tli(chisq, df, chisq0, df0),
        "nfi": fit_indices.nfi(chisq, chisq0),
        "rmsea": fit_indices.rmsea(chisq, df, n_rmsea),
        "srmr": fit_indices.srmr(S, Sigma),
        "gfi": gfi_value,
        "agfi": fit_indices.agfi(gfi_value, p, df),
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
        ci = np.array([fit_indices.rmsea_ci(c, df, n_rmsea) for c in flat]).reshape(*np.shape(chisq), 2)
        out["rmsea_ci_lower"] = ci[..., 0]
        out["rmsea_ci_upper"] = ci[..., 1]
        out["rmsea_pvalue"] = np.asarray(fit_indices.rmsea_pvalue(chisq, df, n_rmsea), dtype=float)
    return {k: out[k] for k in FIT_INDEX_NAMES if k in out}
