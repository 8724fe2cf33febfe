"""lavaan's ``standardizedSolution``: standardised values with delta-method inference.

The standard errors follow from the covariance of the estimates by the delta method
(numerical Jacobian of the standardised values), with the moments of fixed.x covariates
treated as given, as lavaan does. A standardised value that does not change when any
free parameter moves by its differentiation step (relative change below
:data:`CONSTANT_RTOL`: a variance standardised to 1, a fixed.x moment) is a constant and
gets NaN SE, z and p like a fixed parameter, and a CI equal to the value, never SE 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..exceptions import ArgumentError
from .standardized import (STANDARDIZED_KINDS, DefinedParameters, fixed_x_vcov, numerical_jacobian,
                          standardized_values, unscaled_variables)

CONSTANT_RTOL = 1e-12
_REL_STEP = 1e-6


def standardized_solution(res: Any, kind: str = "std_all", level: float = 0.95) -> pd.DataFrame:
    """Standardised estimates of every row of ``res.estimates`` with SE, z, p and CI."""
    if kind not in STANDARDIZED_KINDS:
        raise ArgumentError(f"type: {kind!r} is not one of {STANDARDIZED_KINDS}")
    struct = res.structure
    model = res.model
    unscaled = unscaled_variables(struct, kind, model.roles.exogenous_observed)
    defined = DefinedParameters(model.rows)

    def values(theta: np.ndarray) -> np.ndarray:
        std = standardized_values(struct, theta, unscaled)
        return np.hstack([std, defined.evaluate(std)]) if defined.names else std

    theta = np.asarray(res.theta, float)
    est = values(theta[None])[0]
    if theta.size:
        jac = numerical_jacobian(values, theta, _REL_STEP)
        fixed_x = model.fixed_x_for(res.estimator)
        vcov = fixed_x_vcov(res.vcov, fixed_x)
        free = np.ones(theta.size, bool)
        free[[f - 1 for f in fixed_x]] = False
        h = _REL_STEP * np.maximum(np.abs(theta), 1.0)
        change = np.max(np.abs(jac[:, free]) * 2 * h[free], axis=1, initial=0.0)
        constant = change <= CONSTANT_RTOL * np.maximum(np.abs(est), 1.0)
        with np.errstate(invalid="ignore"):
            var = np.einsum("qa,ab,qb->q", jac, vcov, jac)
            se = np.sqrt(np.where(var > 0, var, np.nan))
    else:
        constant = np.ones(est.size, bool)
        se = np.full(est.size, np.nan)
    se = np.where(constant, np.nan, se)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = est / se
    crit = stats.norm.ppf(0.5 + level / 2)
    table = res.estimates
    return pd.DataFrame({
        "lhs": table["lhs"], "op": table["op"], "rhs": table["rhs"], "label": table["label"],
        "est_std": est, "se_std": se, "z_std": z, "pvalue_std": 2 * stats.norm.sf(np.abs(z)),
        "ci_lower_std": np.where(constant, est, est - crit * se),
        "ci_upper_std": np.where(constant, est, est + crit * se)})
