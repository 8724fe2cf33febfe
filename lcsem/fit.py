"""``fit(model, data)``: estimate with semopy, polish, and compute lavaan's statistics."""

from __future__ import annotations

import warnings
from importlib.metadata import PackageNotFoundError, version

import numpy as np
import pandas as pd
from scipy import stats

from .data import prepare_data
from .engine import ESTIMATORS, RamStructure, information, minimize
from .engine.semopy_backend import semopy_estimates
from .engine.starts import simple_starts
from .exceptions import (ArgumentError, ConvergenceWarning, EstimationError, ModelSpecificationError,
                         NonAdmissibleWarning)
from .measures import fit_measures, test_statistic
from .results import ESTIMATE_COLUMNS, FitResult
from .spec.model import Model
from .spec.partable import ParRow
from .standardize import (DefinedParameters, admissibility, numerical_jacobian, r2_values,
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
    prepared = prepare_data(data, model.observed, missing=missing)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = _estimate(model, prepared, estimator, use_semopy)
    messages = []
    for w in caught:
        messages.append(str(w.message))
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return _with_warnings(result, tuple(messages))


def _with_warnings(result: FitResult, messages: tuple[str, ...]) -> FitResult:
    from dataclasses import replace

    return replace(result, warnings=result.warnings + messages)


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
    if not converged:
        warnings.warn(f"the optimiser did not converge (largest gradient {sol.max_gradient[best]:.2e} "
                      f"after {sol.iterations[best]} iterations); estimates are not reliable",
                      ConvergenceWarning, stacklevel=4)
    vcov = _vcov(struct, theta, S_fit, n, estimator)
    Sigma = struct.implied(theta[None])[0][0]
    fmin = float(sol.fmin[best])
    chisq = float(test_statistic(fmin, n, estimator))
    chisq0 = _baseline_chisq(struct, S_fit, n, estimator)
    n_params = struct.k - _fixed_x_count(model)
    fi = fit_measures(S, Sigma, np.array(chisq), np.array(chisq0), n_obs=n, df=model.df,
                      n_params=n_params)
    fit_indices = pd.Series({k: float(v) for k, v in fi.items()}, name="value")
    estimates = _estimates_table(model, struct, theta, vcov)
    reasons = tuple(admissibility(struct, theta[None],
                                  std=estimates["std_all"].to_numpy()[None, :len(struct.rows)])[0])
    if reasons:
        warnings.warn("inadmissible solution: " + "; ".join(reasons), NonAdmissibleWarning, stacklevel=4)
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
        iterations=int(sol.iterations[best]), versions=versions())


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
    else:  # ULS: sandwich with normal-theory fourth moments
        Sigma = struct.implied(theta[None])[0]
        bread = information(struct, theta[None], np.eye(struct.p)[None])[0]
        meat = _uls_meat(struct, theta, Sigma[0])
        try:
            b_inv = np.linalg.inv(bread)
        except np.linalg.LinAlgError:
            return np.full((struct.k, struct.k), np.nan)
        return (2.0 / (n - 1)) * b_inv @ meat @ b_inv
    try:
        return scale * np.linalg.inv(info)
    except np.linalg.LinAlgError:
        warnings.warn("the information matrix is singular: the model may not be identified; "
                      "standard errors are not available", ConvergenceWarning, stacklevel=5)
        return np.full((struct.k, struct.k), np.nan)


def _uls_meat(struct: RamStructure, theta: np.ndarray, Sigma: np.ndarray) -> np.ndarray:
    J = struct.jacobian(theta[None])[0]          # (k, p, p)
    # tr(D_a Sigma D_b Sigma): normal-theory covariance of s, in the trace form
    return np.einsum("aij,jk,bkl,li->ab", J, Sigma, J, Sigma)


def _fixed_x_count(model: Model) -> int:
    """Free moments of exogenous observed predictors added automatically: lavaan's
    ``fixed.x`` does not count them as parameters (for AIC/BIC and n_params)."""
    exo = set(model.roles.exogenous_observed)
    return len({r.free for r in model.rows if r.free and not r.user and r.op == "~~"
                and r.lhs in exo and r.rhs in exo})


def _baseline_chisq(struct: RamStructure, S: np.ndarray, n: int, estimator: str) -> float:
    """Chi-square of the independence model (free variances only)."""
    if estimator == "ML":
        d = np.sqrt(np.diag(S))
        return float(-n * np.linalg.slogdet(S / np.outer(d, d))[1])
    rows = [ParRow(v, "~~", v, "", i + 1, float("nan"), False) for i, v in enumerate(struct.observed)]
    base = RamStructure(rows, struct.observed, ())
    sol = minimize(base, S[None], np.diag(S)[None], estimator)
    return float(test_statistic(sol.fmin[0], n, estimator))


def _estimates_table(model: Model, struct: RamStructure, theta: np.ndarray, vcov: np.ndarray) -> pd.DataFrame:
    rows = [r for r in model.rows if r.op != ":="]
    values = struct.row_values(theta[None])[0]
    se_free = np.sqrt(np.clip(np.diag(vcov), 0, None)) if struct.k else np.zeros(0)
    se = np.where(struct.row_free >= 0, se_free[np.maximum(struct.row_free, 0)] if struct.k else np.nan, np.nan)
    std = standardized_values(struct, theta[None])[0]
    table = pd.DataFrame({"lhs": [r.lhs for r in rows], "op": [r.op for r in rows],
                          "rhs": [r.rhs for r in rows], "label": [r.label for r in rows],
                          "est": values, "se": se, "std_all": std})
    defined = DefinedParameters(model.rows)
    if defined.names:
        d_est = defined.evaluate(values[None])[0]
        jac = numerical_jacobian(lambda th: defined.evaluate(struct.row_values(th)), theta)
        d_se = np.sqrt(np.clip(np.einsum("qa,ab,qb->q", jac, vcov, jac), 0, None))
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
