"""``fit(model, data)``: estimate with semopy, polish, and compute lavaan's statistics."""

from __future__ import annotations

from dataclasses import replace
from importlib.metadata import PackageNotFoundError, version

import numpy as np
import pandas as pd
from scipy import stats

from ._warnings import recording, warn
from .data import prepare_data
from .engine import ESTIMATORS, RamStructure, information, minimize
from .engine.curvature import leave_saddle
from .engine.semopy_backend import semopy_estimates
from .engine.starts import simple_starts
from .exceptions import (ArgumentError, ConvergenceWarning, EstimationError, ModelSpecificationError,
                         NonAdmissibleWarning)
from .measures import baseline_chisq, fit_measures, test_statistic
from .results import ESTIMATE_COLUMNS, FitResult
from .spec.model import Model
from .spec.partable import ParRow
from .standardize import (DefinedParameters, admissibility, delta_se, r2_values,
                          standardized_values)


def versions() -> dict[str, str]:
    """Versions of lcsem and the libraries behind a result."""
    out = {}
    for name in ("lcsem", "semopy", "numpy", "pandas", "scipy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "unknown"
    return out


def as_model(model: Model | str) -> Model:
    """Accept a :class:`Model` or lavaan-style text."""
    if isinstance(model, Model):
        return model
    if isinstance(model, str):
        return Model.from_syntax(model)
    raise ArgumentError(f"model: expected an lcsem.Model or lavaan-style text, got {type(model).__name__}")


def fit(model: Model | str, data: pd.DataFrame, *, estimator: str = "ML", missing: str = "listwise",
        use_semopy: bool = True) -> FitResult:
    """Fit ``model`` to ``data`` and return a :class:`FitResult`.

    Parameters
    ----------
    model
        An :class:`lcsem.Model` or lavaan-style model text.
    data
        One row per respondent; columns named as the model's observed variables. Other
        columns are ignored. The DataFrame is not modified.
    estimator
        ``"ML"`` (default; normal-theory maximum likelihood, lavaan's defaults), ``"GLS"``
        or ``"ULS"``.
    missing
        ``"listwise"`` (drop incomplete rows; the result reports N used and dropped) or
        ``"error"``.
    use_semopy
        Start from semopy's solution (default). lcsem then polishes it without bounds
        by Fisher scoring, so that estimates match lavaan and Heywood cases show.

    Returns
    -------
    FitResult
    """
    model = as_model(model)
    if estimator not in ESTIMATORS:
        raise ArgumentError(f"estimator: {estimator!r} is not supported; use one of {', '.join(ESTIMATORS)}")
    if model.df < 0:
        raise ModelSpecificationError(
            f"the model has {model.n_free} free parameters but only "
            f"{len(model.observed) * (len(model.observed) + 1) // 2} variances and covariances to fit "
            f"(df = {model.df}); it is not identified: fix parameters or add indicators")
    # record every lcsem warning of this call on the result (per thread), and issue it
    with recording() as caught:
        prepared = prepare_data(data, model.observed, missing=missing, latent=model.latent,
                                covariates=tuple(set(model.observed) - set(model.roles.endogenous)))
        result = _estimate(model, prepared, estimator, use_semopy)
    return replace(result, warnings=tuple(w.message for w in caught))


def _estimate(model: Model, prepared, estimator: str, use_semopy: bool) -> FitResult:
    n = prepared.n_used
    S = prepared.covariance()
    S_fit = S if estimator == "ML" else S * n / (n - 1)   # lavaan: unbiased S except for ML
    struct = RamStructure(model.rows, model.observed, model.latent)
    start = simple_starts(struct, S_fit)
    if use_semopy:
        from_semopy = struct.theta_from_rows(semopy_estimates(model.rows, S_fit, model.observed, n, estimator))
        candidates = [np.where(np.isnan(from_semopy), start, from_semopy), start]
    else:
        candidates = [start]
    sol = minimize(struct, np.stack([S_fit] * len(candidates)), np.stack(candidates), estimator)
    finite = np.isfinite(sol.fmin)
    if not finite.any():
        raise EstimationError("estimation failed from every starting point (the implied covariance "
                              "matrix never became positive definite); check the model's identification")
    # prefer a converged solution, then the lowest discrepancy
    order = np.lexsort((np.where(finite, sol.fmin, np.inf), ~sol.converged))
    best = order[0]
    theta = sol.theta[best]
    converged = bool(sol.converged[best])
    fmin, iterations, max_gradient = float(sol.fmin[best]), int(sol.iterations[best]), sol.max_gradient[best]
    escaped = leave_saddle(struct, S_fit, theta, estimator) if converged else None
    if escaped is not None:   # a stationary point that is not a minimum
        theta, fmin, converged = escaped.theta, escaped.fmin, escaped.converged
        iterations, max_gradient = iterations + escaped.iterations, escaped.max_gradient
        if not converged:
            warn("the optimiser stopped at a saddle point (the discrepancy still decreases in "
                 "some direction) and found no minimum from there: the model has no proper "
                 "solution for these data (empirically unidentified?)", ConvergenceWarning, stacklevel=3)
    if not converged:
        warn(f"the optimiser did not converge (largest gradient {max_gradient:.2e} "
             f"after {iterations} iterations); estimates are not reliable",
             ConvergenceWarning, stacklevel=3)
    vcov = _vcov(struct, theta, S_fit, n, estimator)
    Sigma = struct.implied(theta[None])[0][0]
    chisq = float(test_statistic(fmin, n, estimator))
    exogenous = fixed_x_positions(model)
    chisq0 = _baseline_chisq(struct, S_fit, n, estimator, exogenous)
    n_params = struct.k - len(fixed_x_free(model, estimator))
    fi = fit_measures(S_fit, Sigma, np.array(chisq), np.array(chisq0), n_obs=n, df=model.df,
                      n_params=n_params, exogenous=exogenous, estimator=estimator)
    fit_indices = pd.Series({k: float(v) for k, v in fi.items()}, name="value")
    estimates = _estimates_table(model, struct, theta, vcov, fixed_x_free(model, estimator))
    reasons = tuple(admissibility(struct, theta[None],
                                  std=estimates["std_all"].to_numpy()[None, :len(struct.rows)])[0])
    if reasons:
        warn("inadmissible solution: " + "; ".join(reasons), NonAdmissibleWarning, stacklevel=3)
    endogenous = tuple(n for n in struct.names if n in model.roles.endogenous)
    r2 = pd.Series(r2_values(struct, theta[None], endogenous)[0], index=list(endogenous), name="r2")
    cols = list(model.observed)
    return FitResult(
        model=model, estimator=estimator, estimates=estimates, fit_indices=fit_indices, r2=r2,
        converged=converged, inadmissible=reasons, warnings=(), n_obs=n, n_total=prepared.n_total,
        missing=prepared.missing, theta=theta, vcov=vcov,
        sample_cov=pd.DataFrame(S, index=cols, columns=cols),
        implied_cov=pd.DataFrame(Sigma, index=cols, columns=cols),
        data=pd.DataFrame(prepared.values, index=prepared.row_labels, columns=cols),
        iterations=iterations, versions=versions())


def _vcov(struct: RamStructure, theta: np.ndarray, S: np.ndarray, n: int, estimator: str) -> np.ndarray:
    """Covariance of the estimates from the expected information (lavaan's default)."""
    if struct.k == 0:
        return np.zeros((0, 0))
    if estimator == "ML":
        info = information(struct, theta[None])[0]
        scale = 2.0 / n
    elif estimator == "GLS":
        info = information(struct, theta[None], np.linalg.inv(S)[None])[0]
        scale = 2.0 / (n - 1)
    else:
        # lavaan's "standard" ULS standard errors: (D'D)^-1 / (N - 1) with D the Jacobian
        # of vech(Sigma) (identity weights); not robust to non-normality
        J = struct.jacobian(theta[None])[0]
        rows, cols = np.triu_indices(struct.p)
        D = J[:, rows, cols].T
        info = D.T @ D
        scale = 1.0 / (n - 1)
    try:
        return scale * np.linalg.inv(info)
    except np.linalg.LinAlgError:
        warn("the information matrix is singular: the model may not be identified; "
             "standard errors are not available", ConvergenceWarning, stacklevel=4)
        return np.full((struct.k, struct.k), np.nan)


def fixed_x_free(model: Model, estimator: str) -> frozenset[int]:
    """Free-parameter numbers of the exogenous covariates' (co)variances that are treated
    as given (lavaan's ``fixed.x``), which depends on the estimator as lavaan's default
    does: ``fixed.x = TRUE`` for ML (:attr:`Model.fixed_x_free`: not counted as
    parameters, no standard errors, held fixed in delta-method SEs), ``FALSE`` for GLS and
    ULS (free parameters with standard errors, counted in ``n_params``)."""
    return model.fixed_x_free if estimator == "ML" else frozenset()


def fixed_x_positions(model: Model) -> tuple[int, ...]:
    """Positions (in ``model.observed``) of exogenous observed predictors, whose moments
    lavaan's ``fixed.x`` treats as given."""
    return tuple(model.observed.index(n) for n in model.roles.exogenous_observed)


def _baseline_chisq(struct: RamStructure, S: np.ndarray, n: int, estimator: str,
                    exogenous: tuple[int, ...]) -> float:
    """Chi-square of the baseline model: independent variables, except that exogenous
    observed predictors keep their covariances (as lavaan with ``fixed.x``)."""
    if estimator == "ML":
        return float(baseline_chisq(S, n, exogenous))
    rows = [ParRow(v, "~~", v, "", i + 1, float("nan"), False) for i, v in enumerate(struct.observed)]
    names = struct.observed
    for a in range(len(exogenous)):
        for b in range(a + 1, len(exogenous)):
            rows.append(ParRow(names[exogenous[a]], "~~", names[exogenous[b]], "", len(rows) + 1,
                               float("nan"), False))
    base = RamStructure(rows, struct.observed, ())
    start = np.array([S[names.index(r.lhs), names.index(r.rhs)] for r in rows])
    sol = minimize(base, S[None], start[None], estimator)
    return float(test_statistic(sol.fmin[0], n, estimator))


def _estimates_table(model: Model, struct: RamStructure, theta: np.ndarray, vcov: np.ndarray,
                     fixed_x_ids: frozenset[int]) -> pd.DataFrame:
    rows = [r for r in model.rows if r.op != ":="]
    values = struct.row_values(theta[None])[0]
    se_free = np.sqrt(np.clip(np.diag(vcov), 0, None)) if struct.k else np.zeros(0)
    se = np.where(struct.row_free >= 0, se_free[np.maximum(struct.row_free, 0)] if struct.k else np.nan, np.nan)
    fixed_x = np.array([r.free in fixed_x_ids for r in rows], bool)
    se[fixed_x] = np.nan  # lavaan's fixed.x: sample moments, not estimated parameters
    std = standardized_values(struct, theta[None])[0]
    table = pd.DataFrame({"lhs": [r.lhs for r in rows], "op": [r.op for r in rows],
                          "rhs": [r.rhs for r in rows], "label": [r.label for r in rows],
                          "est": values, "se": se, "std_all": std})
    defined = DefinedParameters(model.rows)
    if defined.names:
        d_est = defined.evaluate(values[None])[0]
        d_se = delta_se(lambda th: defined.evaluate(struct.row_values(th)), theta, vcov)
        d_std = defined.evaluate(std[None])[0]
        d_rows = [r for r in model.rows if r.op == ":="]
        table = pd.concat([table, pd.DataFrame({
            "lhs": [r.lhs for r in d_rows], "op": ":=", "rhs": [r.rhs for r in d_rows],
            "label": [r.lhs for r in d_rows], "est": d_est, "se": d_se, "std_all": d_std})],
            ignore_index=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        table["z"] = table["est"] / table["se"]
    table["pvalue"] = 2 * stats.norm.sf(np.abs(table["z"]))
    return table[ESTIMATE_COLUMNS]
