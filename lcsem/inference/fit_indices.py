"""Fit indices as lavaan defines them: the formulas (pure, vectorised: scalars or one value
per bootstrap replicate) and :func:`fit_measures`, which assembles every index from S,
Sigma-hat and the discrepancy for one or many fits. Shared by :func:`lcsem.fit`, the
bootstrap and the simulations, so a replicate's indices use exactly the formulas of the
full-sample fit; the baseline chi-square is computed in one place (:func:`baseline_chisq`).
"""

from __future__ import annotations

import numpy as np

from .. import _lazy
from ..engine.optimize import minimize
from ..engine import RamStructure
from ..engine.rescale import scale_covariance
from ..spec.partable import ParRow

__all__ = ["FIT_INDEX_NAMES", "BOOTSTRAP_INDEX_NAMES", "fit_measures", "test_statistic", "baseline_chisq",
           "independence_chisq", "chisq_pvalue", "cfi", "tli", "nfi", "rmsea", "rmsea_interval", "rmsea_close",
           "srmr", "gfi", "agfi", "loglik", "covariate_loglik"]

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


def baseline_chisq(S: np.ndarray, n_obs: int, exogenous: tuple[int, ...] = (),
                   estimator: str = "ML") -> np.ndarray:
    """Chi-square of the baseline (independence) model: independent variables, except that
    exogenous observed predictors keep their covariances (as lavaan with ``fixed.x``).

    ML: ``-N log|R|``, with exogenous predictors ``-N (log|R| - log|R_xx|)``, vectorised over
    leading axes. GLS and ULS (one ``S``): the baseline model is fitted (GLS on unit-variance
    variables, as it is scale-invariant)."""
    if estimator != "ML":
        return np.asarray(_fitted_baseline_chisq(np.asarray(S, float), n_obs, tuple(exogenous), estimator))
    d = np.sqrt(np.diagonal(S, axis1=-2, axis2=-1))
    R = S / (d[..., :, None] * d[..., None, :])
    out = independence_chisq(R, n_obs)
    if len(exogenous) > 1:
        idx = np.asarray(exogenous)
        out = out - independence_chisq(R[..., idx[:, None], idx[None, :]], n_obs)
    return out


def covariate_loglik(S: np.ndarray, n_obs, exogenous: tuple[int, ...]) -> np.ndarray:
    """Saturated log-likelihood of the exogenous predictors alone (removed under fixed.x:
    lavaan's log-likelihood is then conditional on the covariates); vectorised over leading
    axes of ``S`` and ``n_obs``."""
    idx = np.asarray(exogenous)
    Sxx = S[..., idx[:, None], idx[None, :]]
    return loglik(Sxx, Sxx, n_obs)


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
        ll = loglik(S, Sigma, n_obs)
        if q:
            ll = ll - covariate_loglik(S, n_obs, exogenous)
        n_rmsea = n_obs
    else:
        ll = np.full_like(chisq, np.nan)
        n_rmsea = n_obs - 1
    out = {
        "chisq": chisq,
        "df": np.full_like(chisq, df),
        # (N - 1) F_ULS does not follow a chi-square distribution: lavaan reports no p-value
        "pvalue": (chisq_pvalue(chisq, df) if estimator != "ULS"
                   else np.full_like(chisq, np.nan)),
        "cfi": cfi(chisq, df, chisq0, df0),
        "tli": tli(chisq, df, chisq0, df0),
        "nfi": nfi(chisq, chisq0),
        "rmsea": rmsea(chisq, df, n_rmsea),
        "srmr": srmr(S, Sigma),
        "gfi": gfi_value,
        "agfi": agfi(gfi_value, p, df),
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
        ci = np.array([rmsea_interval(c, df, n_rmsea) for c in flat]).reshape(*np.shape(chisq), 2)
        out["rmsea_ci_lower"] = ci[..., 0]
        out["rmsea_ci_upper"] = ci[..., 1]
        out["rmsea_pvalue"] = np.asarray(rmsea_close(chisq, df, n_rmsea), dtype=float)
    return {k: out[k] for k in FIT_INDEX_NAMES if k in out}


def _fitted_baseline_chisq(S: np.ndarray, n: int, exogenous: tuple[int, ...], estimator: str) -> float:
    if estimator == "GLS":   # scale-invariant: fit it to unit-variance variables
        S = scale_covariance(S, 1.0 / np.sqrt(np.diag(S)))
    names = tuple(f"v{i}" for i in range(S.shape[-1]))
    rows = [ParRow(v, "~~", v, "", i + 1, float("nan"), False) for i, v in enumerate(names)]
    for a in range(len(exogenous)):
        for b in range(a + 1, len(exogenous)):
            rows.append(ParRow(names[exogenous[a]], "~~", names[exogenous[b]], "", len(rows) + 1,
                               float("nan"), False))
    base = RamStructure(rows, names, ())
    start = np.array([S[names.index(r.lhs), names.index(r.rhs)] for r in rows])
    sol = minimize(base, S[None], start[None], estimator)
    return float(test_statistic(sol.fmin[0], n, estimator))


# ---------------------------------------------------------------------- formulas
def chisq_pvalue(chisq, df):
    """Upper-tail p-value of the chi-square test."""
    return _lazy.chi2_sf(chisq, df) if df > 0 else np.full_like(np.asarray(chisq, float), np.nan)


def independence_chisq(R: np.ndarray, n_obs: int) -> np.ndarray:
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


def rmsea_interval(chisq: float, df: float, n_obs: float, *, groups: int = 1, c: float = 1.0,
                   level: float = 0.90) -> tuple[float, float]:
    """lavaan's RMSEA interval ``sqrt(c lambda G / (N df))``: ``lambda`` is the non-centrality
    whose chi-square CDF at ``chisq`` is ``1 - (1 - level) / 2`` (lower bound) or
    ``(1 - level) / 2`` (upper), 0 where the central CDF is already below that; (0, 0)
    when ``df < 1``. ``groups`` (G) and ``c`` are the multi-group and robust scalings
    (``c`` = 1 and G = 1 for the ordinary index). ``lambda`` comes from cdflib's inverse in
    the non-centrality (``scipy.special.chndtrinc``)."""
    if not (np.isfinite(chisq) and np.isfinite(df)):
        return float("nan"), float("nan")
    if df < 1:
        return 0.0, 0.0
    if not np.isfinite(c):
        return float("nan"), float("nan")
    central = float(_lazy.chi2_cdf(chisq, df))
    upper_p, lower_p = 1 - (1 - level) / 2, (1 - level) / 2
    lam_lo = _lazy.ncx2_noncentrality(chisq, df, upper_p) if central >= upper_p else 0.0
    lam_hi = _lazy.ncx2_noncentrality(chisq, df, lower_p) if central >= lower_p else 0.0
    scale = np.sqrt(c * groups / (n_obs * df))
    return float(np.sqrt(lam_lo) * scale), float(np.sqrt(lam_hi) * scale)


def rmsea_close(chisq, df: float, n_obs: float, *, groups: int = 1, c: float = 1.0, close: float = 0.05):
    """p-value of the test of close fit (H0: RMSEA <= ``close``), with lavaan's multi-group
    and robust scalings (:func:`rmsea_interval`); NaN when ``df <= 0``. Vectorised over
    ``chisq``."""
    if not df > 0:
        return np.nan
    return _lazy.ncx2_sf(chisq, df, n_obs * df * close ** 2 / c / groups)


def srmr(S: np.ndarray, Sigma: np.ndarray) -> np.ndarray:
    """Bentler's standardized root mean square residual over i <= j: (..., p, p) -> (...)."""
    d = np.sqrt(np.diagonal(S, axis1=-2, axis2=-1))
    resid = (S - Sigma) / (d[..., :, None] * d[..., None, :])
    iu = np.triu_indices(S.shape[-1])
    # contiguous rows: each replicate's mean is then summed in the same order whatever
    # the number of replicates (the indexed view is laid out replicate-last)
    squares = np.ascontiguousarray(resid[..., iu[0], iu[1]]) ** 2
    return np.sqrt(np.mean(squares, axis=-1))


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


# ---------------------------------------------------------------------- groups and means
def grouped_fit_measures(S: np.ndarray, mean: np.ndarray | None, Sigma: np.ndarray, mu: np.ndarray | None,
                         n_obs: np.ndarray, chisq: float, *, df: int, n_params: int,
                         exogenous: tuple[int, ...] = (), estimator: str = "ML") -> dict[str, float]:
    """Every fit index of a multi-group and/or mean-structure model, as lavaan computes them.

    ``S``/``Sigma`` are (G, p, p) (``S`` with denominator N_g), ``mean``/``mu`` (G, p) or None
    without a mean structure, ``n_obs`` (G,). lavaan's multi-group definitions: the baseline
    chi-square and df are sums over groups (means saturated in the baseline); RMSEA is
    ``sqrt(G)`` times the single-group formula with the total N (its CI too, and the test of
    close fit uses the non-centrality ``N df 0.05^2 / G``); SRMR and GFI are the N_g-weighted
    means of the groups' values, where with means SRMR also averages the mean residuals
    standardised by the observed SDs and GFI weighs them by ``Sigma^-1``; AGFI counts every
    modelled moment; the log-likelihood adds the mean term and, under fixed.x, is conditional
    on the covariates.

    GLS and ULS (``S`` unbiased, as fitted): the baseline is fitted with the estimator in each
    group; RMSEA uses ``N - G`` (lavaan's ``lav_utils_get_ntotal``); GFI weighs the residual
    moments by the estimator's weight (GLS: ``S_g^-1``; ULS: every mean, variance and
    covariance once); there is no p-value under ULS and no log-likelihood, AIC or BIC (NaN).
    """
    S, Sigma = np.asarray(S, float), np.asarray(Sigma, float)
    G, p = S.shape[0], S.shape[-1]
    n = np.asarray(n_obs, dtype=float)
    N = float(n.sum())
    q = len(exogenous)
    means = mean is not None and mu is not None
    least_squares = estimator in ("GLS", "ULS")
    chisq0 = float(sum(baseline_chisq(S[g], int(n[g]), exogenous, estimator) for g in range(G)))
    df0 = G * (p * (p - 1) // 2 - q * (q - 1) // 2)
    srmr_g, gfi_g, ll = np.empty(G), np.empty(G), 0.0
    x = np.zeros(p, bool)
    x[list(exogenous)] = True
    for g in range(G):
        E = S[g] - Sigma[g]
        e = (mean[g] - mu[g]) if means else np.zeros(p)
        d = 1.0 / np.sqrt(np.diag(S[g]))
        iu = np.triu_indices(p)
        resid = (E * np.outer(d, d))[iu]
        n_moments = p * (p + 1) / 2 + (p if means else 0)
        srmr_g[g] = np.sqrt((np.sum(resid ** 2) + np.sum((e * d) ** 2)) / n_moments)
        W = (np.eye(p) if estimator == "ULS" else
             np.linalg.inv(S[g] if estimator == "GLS" else Sigma[g]))
        S0, E0 = S[g].copy(), E.copy()
        xbar = mean[g].copy() if means else np.zeros(p)
        if q and not least_squares:   # fixed.x: the covariates' moments carry no weight
            S0[np.ix_(x, x)] = 0.0
            E0[np.ix_(x, x)] = 0.0
            xbar[x] = 0.0
            e = np.where(x, 0.0, e)
        if estimator == "ULS":     # W = I over (means, vech)
            num = np.sum(E0[iu] ** 2) + e @ e
            den = np.sum(S0[iu] ** 2) + (xbar @ xbar if means else 0.0)
        else:
            num = 0.5 * np.trace(W @ E0 @ W @ E0) + e @ W @ e
            den = 0.5 * np.trace(W @ S0 @ W @ S0) + (xbar @ W @ xbar if means else 0.0)
        gfi_g[g] = 1.0 - num / den
        dev = (mean[g] - mu[g]) if means else np.zeros(p)
        ll_g = float(loglik(S[g], Sigma[g], int(n[g]))) - 0.5 * n[g] * dev @ W @ dev
        if q:
            ll_g -= float(covariate_loglik(S[g], int(n[g]), exogenous))
        ll += ll_g
    gfi_value = float(np.dot(n, gfi_g) / N)
    n_elements = G * (p * (p + 1) // 2 + (p if means else 0))
    root_g = np.sqrt(G)
    if least_squares:
        ll = np.nan
    n_rmsea = N - G if least_squares else N
    lo, hi = rmsea_interval(chisq, df, n_rmsea)
    out = {
        "chisq": chisq, "df": df,
        "pvalue": float(chisq_pvalue(chisq, df)) if estimator != "ULS" else np.nan,
        "cfi": float(cfi(chisq, df, chisq0, df0)), "tli": float(tli(chisq, df, chisq0, df0)),
        "nfi": float(nfi(chisq, chisq0)),
        "rmsea": float(rmsea(chisq, df, n_rmsea)) * root_g,
        "rmsea_ci_lower": lo * root_g, "rmsea_ci_upper": hi * root_g,
        "rmsea_pvalue": float(_lazy.ncx2_sf(chisq, df, n_rmsea * df * 0.05 ** 2 / G)) if df > 0 else np.nan,
        "srmr": float(np.dot(n, srmr_g) / N),
        "gfi": gfi_value,
        "agfi": float(1.0 - n_elements / df * (1.0 - gfi_value)) if df > 0 else 1.0,
        "loglik": ll, "aic": -2 * ll + 2 * n_params, "bic": -2 * ll + n_params * np.log(N),
        "n_obs": N, "n_params": n_params, "baseline_chisq": chisq0, "baseline_df": df0,
    }
    return {k: out[k] for k in FIT_INDEX_NAMES}
