"""Wald inference on estimates: standard errors, z, two-sided normal p-values and
confidence intervals (lavaan's ``parameterEstimates``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import _lazy

__all__ = ["ESTIMATE_COLUMNS", "standard_errors", "add_inference_columns", "wald_columns"]

#: columns of ``FitResult.estimates`` (lavaan's names)
ESTIMATE_COLUMNS = ["lhs", "op", "rhs", "label", "est", "se", "z", "pvalue", "ci_lower", "ci_upper",
                    "std_lv", "std_all", "std_nox"]


def standard_errors(vcov: np.ndarray) -> np.ndarray:
    """Square roots of the variances of the estimates; NaN where not positive."""
    diag = np.diag(vcov) if vcov.size else np.zeros(0)
    with np.errstate(invalid="ignore"):
        return np.where(diag > 0, np.sqrt(np.where(diag > 0, diag, 0.0)), np.nan)


def add_inference_columns(table: pd.DataFrame, fixed: np.ndarray, level: float) -> pd.DataFrame:
    """z, two-sided normal p-value and the Wald CI at ``level``; fixed parameters (and
    fixed.x moments) get no z or p and a CI of width 0 (``est``), as in lavaan; a free
    parameter without a standard error (not identified) gets NaN everywhere."""
    table = table.copy()
    est, se = table["est"].to_numpy(dtype=float), table["se"].to_numpy(dtype=float)
    for name, values in zip(("z", "pvalue", "ci_lower", "ci_upper"), wald_columns(est, se, fixed, level)):
        table[name] = values
    return table[ESTIMATE_COLUMNS]


def wald_columns(est: np.ndarray, se: np.ndarray, fixed: np.ndarray,
                 level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The arrays behind :func:`add_inference_columns`: ``z``, ``pvalue``, ``ci_lower`` and
    ``ci_upper`` of estimates ``est`` with standard errors ``se``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z = est / se
    pvalue = 2 * _lazy.norm_sf(np.abs(z))
    crit = _lazy.norm_ppf(0.5 + level / 2)
    return z, pvalue, np.where(fixed, est, est - crit * se), np.where(fixed, est, est + crit * se)
