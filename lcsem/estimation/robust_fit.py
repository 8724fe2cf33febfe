"""Robust ML (MLM, MLMV, MLMVS, MLR) on top of an ML fit: lavaan estimates robust models by
plain ML and corrects the standard errors and the test afterwards, so :func:`lcsem.fit`
fits by ML and :func:`robust_result` swaps in the robust covariance of the estimates, the
estimates table built from it and the scaled/robust fit indices
(:mod:`lcsem.inference.robust` has the formulas)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..engine.structure import GroupStructure
from .._warnings import warn
from ..exceptions import ArgumentError, DataError, NotSupportedError, ScaledTestWarning
from ..inference.robust import (ROBUST_ESTIMATORS, GroupData, RobustTest, baseline_test, robust_analysis,
                                scaled_fit_measures)
from ..inference.grouped import fixed_x_ids
from ..inference.standardized import DefinedParameters, delta_se
from ..inference.wald import standard_errors, wald_columns
from ..results.fit_result import FitResult
from ..spec.model import Model

__all__ = ["robust_result", "robust_fields", "with_indices", "check_robust_input", "group_data", "fixed_parameters", "result_structure",
           "ROBUST_ESTIMATORS"]

_COMPLETE_ONLY = ("MLM", "MLMV", "MLMVS")


def check_robust_input(model: Model, data: pd.DataFrame | None, estimator: str, missing: str,
                       sample_cov: object) -> None:
    """Refuse what a robust estimator cannot do, naming the fix."""
    if sample_cov is not None:
        raise ArgumentError(
            f"estimator: {estimator!r} needs the respondents' raw data (its corrections use the "
            f"fourth moments of the data), but the model is fitted from sample_cov: pass data=..., or "
            f"use estimator='ML' with summary statistics")
    if estimator in _COMPLETE_ONLY and isinstance(data, pd.DataFrame):
        cols = [c for c in model.observed if c in data.columns]
        counts = {c: np.count_nonzero(pd.isna(data[c].to_numpy())) for c in cols}
        bad = {c: n for c, n in counts.items() if n}
        if bad:
            raise DataError(
                f"estimator: {estimator!r} needs complete data, but {', '.join(f'{c} ({int(n)})' for c, n in bad.items())} "
                f"{'has' if len(bad) == 1 else 'have'} missing values; use estimator='MLR' with "
                f"missing='ml' (FIML with robust corrections), or drop the incomplete rows yourself "
                f"(data.dropna(subset=[...])) if listwise deletion is intended")
    if missing not in ("listwise", "error"):
        if estimator == "MLR" and missing in ("ml", "fiml"):
            return
        if estimator in _COMPLETE_ONLY:
            raise ArgumentError(f"missing: {missing!r} cannot go with estimator={estimator!r} (complete data "
                                f"only); use estimator='MLR' with missing={missing!r}")
        raise NotSupportedError(f"missing: {missing!r} with estimator={estimator!r} is not supported yet; "
                                f"use complete data (missing='listwise')")


def result_structure(res: FitResult) -> tuple[GroupStructure, tuple]:
    """The :class:`GroupStructure` of a result (any number of groups) and its table rows."""
    model = res.model
    if res.grouped:
        rows = res.rows
        return GroupStructure(rows, model.observed, model.latent, n_groups=res.n_groups,
                              meanstructure=res.meanstructure), rows
    return GroupStructure(model.rows, model.observed, model.latent), model.rows


def group_data(res: FitResult) -> GroupData:
    """The complete raw data of each group of ``res`` (model's observed order)."""
    data = res.data
    if data is None:
        raise ArgumentError("res: a robust correction needs the respondents' raw data, but this result was "
                            "fitted from summary statistics; fit with data=...")
    cols = list(res.model.observed)
    X = (data if list(data.columns) == cols else data[cols]).to_numpy(dtype=float)
    if res.group_labels:       # the rows of :meth:`FitResult.group_frames`, as arrays laid out as
        # theirs (column-major), so that sums over cases run in the same order
        keys = data[res.group].astype(str).to_numpy()
        parts = tuple(np.asfortranarray(X[keys == label]) for label in res.group_labels)
    else:
        parts = (X,)
    x_idx = tuple(res.model.observed.index(v) for v in res.model.roles.exogenous_observed)
    return GroupData(parts, x_idx)


def fixed_parameters(res: FitResult) -> tuple[int, ...]:
    """0-based parameters that lavaan's fixed.x holds at their sample values (the
    covariates' variances and covariances)."""
    ids = fixed_x_ids(res.rows, res.model) if res.grouped else res.model.fixed_x_free
    return tuple(sorted(i - 1 for i in ids))


def robust_result(res: FitResult, estimator: str) -> FitResult:
    """``res`` (an ML fit of complete data) with ``estimator``'s robust standard errors and
    scaled/robust fit indices (lavaan's MLM, MLMV, MLMVS, MLR)."""
    return replace(res, **robust_fields(res, estimator))


def robust_fields(res: FitResult, estimator: str) -> dict[str, Any]:
    """The fields :func:`robust_result` changes (``estimator``, ``vcov``, ``fit_indices``,
    ``estimates``), for a caller that changes more fields of ``res`` in one
    :func:`dataclasses.replace` (a result copies its tables when built)."""
    if estimator not in ROBUST_ESTIMATORS:
        raise ArgumentError(f"estimator: {estimator!r} is not a robust estimator ({', '.join(ROBUST_ESTIMATORS)})")
    struct, rows = result_structure(res)
    data = group_data(res)
    theta = np.asarray(res.theta, float)
    vcov = np.asarray(res.vcov, float)
    fi = res.fit_indices
    identified = struct.k and np.isfinite(vcov).all()
    try:
        robust_vcov, test = robust_analysis(estimator, struct, theta, data, with_vcov=bool(identified),
                                            fixed=fixed_parameters(res))
    except np.linalg.LinAlgError:
        # lavaan: "could not invert information matrix needed for robust test statistic"
        warn(f"{estimator}: the information matrix cannot be inverted, so the robust standard errors and "
             f"the scaled test are not available (NaN); the model is probably not identified: fix "
             f"parameters or add indicators", ScaledTestWarning, stacklevel=4)
        robust_vcov, test = np.full((struct.k, struct.k), np.nan), RobustTest(estimator, float("nan"))
    base = baseline_test(estimator, data, struct.meanstructure)
    if robust_vcov is not None:
        vcov = robust_vcov
    extra = scaled_fit_measures(test, base, chisq=float(fi["chisq"]), df=float(fi["df"]),
                                chisq0=float(fi["baseline_chisq"]), df0=float(fi["baseline_df"]),
                                n_total=float(data.n.sum()), n_groups=struct.n_groups)
    return dict(estimator=estimator, vcov=vcov, fit_indices=with_indices(fi, extra),
                estimates=_estimates(res, struct, rows, theta, vcov))


def with_indices(fit_indices: pd.Series, extra: dict[str, float]) -> pd.Series:
    """``fit_indices`` followed by the ``extra`` indices (float, named ``"value"``)."""
    values = np.concatenate([fit_indices.to_numpy(dtype=float), np.fromiter(extra.values(), float, len(extra))])
    return pd.Series(values, index=pd.Index([*fit_indices.index, *extra]), name="value")


def _estimates(res: FitResult, struct: GroupStructure, rows: tuple, theta: np.ndarray,
               vcov: np.ndarray, fixed: Sequence[int] = ()) -> pd.DataFrame:
    """``res.estimates`` with the robust standard errors: SE, z, p and CI of every free
    parameter but ``fixed`` (0-based: fixed.x moments held at their sample values, no SE)
    and the delta-method SEs of ``:=`` parameters (estimates and standardised values are
    ML's, unchanged)."""
    table = res.estimates          # a copy (a result hands out copies)
    free = struct.row_free
    n = free.size
    se = table["se"].to_numpy(dtype=float).copy()
    se_free = standard_errors(vcov)
    se[:n] = np.where(free >= 0, se_free[np.maximum(free, 0)] if struct.k else np.nan, np.nan)
    se[:n][np.isin(free, list(fixed))] = np.nan
    defined = DefinedParameters(rows)
    if defined.names:
        se[n:] = delta_se(lambda th: defined.evaluate(struct.row_values(th)), theta, vcov)
    fixed = np.concatenate([free < 0, np.zeros(len(table) - n, bool)])
    columns = wald_columns(table["est"].to_numpy(dtype=float), se, fixed, res.level)
    for name, values in zip(("se", "z", "pvalue", "ci_lower", "ci_upper"), (se, *columns)):
        table[name] = values
    return table
