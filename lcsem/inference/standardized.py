"""Standardised solution (lavaan's ``std.all``), R², defined parameters and admissibility,
vectorised over parameter vectors (one row per replicate).

lavaan's ``standardizedSolution`` (:func:`standardized_solution`): standardised values with
delta-method inference.

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

from .. import _lazy
from ..engine import (RamStructure, free_variance_rows, r2_values, residual_blocks, standardized_values,
                      unscaled_variables)
from ..exceptions import ArgumentError
from ..spec.expressions import parse_expression
from ..spec.partable import ParRow


STANDARDIZED_KINDS = ("std_all", "std_lv", "std_nox")

# standardized_values, r2_values and unscaled_variables are the engine's (lcsem.engine.views),
# re-exported here where inference has always found them
__all__ = ["STANDARDIZED_KINDS", "standardized_values", "r2_values", "unscaled_variables", "DefinedParameters",
           "numerical_jacobian", "delta_se", "fixed_x_vcov", "admissibility", "standardized_solution",
           "delta_table", "CONSTANT_RTOL"]


class DefinedParameters:
    """Evaluates ``:=`` rows from parameter labels, for many replicates at once."""

    def __init__(self, rows: tuple[ParRow, ...]):
        self.names = tuple(r.lhs for r in rows if r.op == ":=")
        self.expressions = tuple(parse_expression(r.rhs) for r in rows if r.op == ":=")
        self._label_rows: dict[str, int] = {}
        for pos, r in enumerate(x for x in rows if x.op != ":="):
            if r.label and r.label not in self._label_rows:
                self._label_rows[r.label] = pos

    def evaluate(self, row_values: np.ndarray) -> np.ndarray:
        """Defined values from table-row values (R, n_rows) -> (R, n_defined)."""
        row_values = np.atleast_2d(row_values)
        env: dict[str, np.ndarray] = {k: row_values[:, v] for k, v in self._label_rows.items()}
        out = np.empty((row_values.shape[0], len(self.names)))
        for j, (name, expr) in enumerate(zip(self.names, self.expressions)):
            out[:, j] = np.broadcast_to(expr.evaluate(env), (row_values.shape[0],))
            env[name] = out[:, j]
        return out


def numerical_jacobian(func, theta: np.ndarray, rel_step: float = 1e-6) -> np.ndarray:
    """Central-difference Jacobian of ``func`` ((R, k) -> (R, q)) at one ``theta``: (q, k)."""
    theta = np.asarray(theta, dtype=float)
    k = theta.size
    h = rel_step * np.maximum(np.abs(theta), 1.0)
    plus = theta[None, :] + np.diag(h)
    minus = theta[None, :] - np.diag(h)
    f = func(np.vstack([plus, minus]))
    return ((f[:k] - f[k:]) / (2 * h[:, None])).T


def delta_se(func, theta: np.ndarray, vcov: np.ndarray) -> np.ndarray:
    """Delta-method standard errors of ``func`` ((R, k) -> (R, q)) at ``theta``."""
    theta = np.asarray(theta, dtype=float)
    if theta.size == 0:
        return np.zeros(func(theta[None]).shape[1])
    jac = numerical_jacobian(func, theta)
    return np.sqrt(np.clip(np.einsum("qa,ab,qb->q", jac, vcov, jac), 0, None))


def fixed_x_vcov(vcov: np.ndarray, fixed_x_free: frozenset[int]) -> np.ndarray:
    """``vcov`` with the fixed.x moments (1-based free numbers) treated as given, as lavaan
    does for the standard errors of standardised values."""
    ids = sorted(f - 1 for f in fixed_x_free)
    out = np.array(vcov, dtype=float, copy=True)
    out[ids, :] = 0.0
    out[:, ids] = 0.0
    return out


def admissibility(struct: RamStructure, theta: np.ndarray, std: np.ndarray | None = None,
                  tol: float = 0.0) -> list[list[str]]:
    """Reasons why each replicate's solution is inadmissible (empty list: admissible)."""
    theta = np.atleast_2d(theta)
    Theta, Psi = residual_blocks(struct, theta)
    if std is None:
        std = standardized_values(struct, theta)
    var_rows, var_of = free_variance_rows(struct)
    row_values = struct.row_values(theta)
    loading = np.array([r.op == "=~" for r in struct.rows])
    reasons: list[list[str]] = []
    for r in range(theta.shape[0]):
        out = []
        for pos, var in zip(var_rows, var_of):
            name = struct.names[var]
            v = row_values[r, pos]
            if v < -tol:
                out.append(f"negative variance of {name} ({v:.4g})")
            elif v == 0:
                out.append(f"zero variance of {name}")
        big = np.flatnonzero(loading & (np.abs(std[r]) > 1 + 1e-8))
        for pos in big:
            row = struct.rows[pos]
            out.append(f"standardised loading {row.lhs} =~ {row.rhs} is {std[r, pos]:.3f} (|value| > 1)")
        for label, block in (("latent (co)variance matrix", Psi[r]),
                             ("residual (co)variance matrix", Theta[r])):
            if block.size and not np.any(np.diagonal(block) <= 0):
                if np.linalg.eigvalsh(block)[0] <= 0:
                    out.append(f"the {label} is not positive definite")
        reasons.append(out)
    return reasons


# ---------------------------------------------------------------------- standardizedSolution
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

    return delta_table(values, res.theta, res.vcov, model.fixed_x_for(res.estimator), res.estimates, level)


def delta_table(values, theta: np.ndarray, vcov: np.ndarray, fixed_x: frozenset[int], table: pd.DataFrame,
                level: float) -> pd.DataFrame:
    """Standardised values ``values(theta)`` ((R, k) -> (R, rows)) with delta-method SE, z, p
    and Wald CI, rows named as ``table``'s; ``fixed_x`` moments are held as given."""
    theta = np.asarray(theta, float)
    est = values(theta[None])[0]
    if theta.size:
        jac = numerical_jacobian(values, theta, _REL_STEP)
        vcov = fixed_x_vcov(vcov, fixed_x)
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
    crit = _lazy.norm_ppf(0.5 + level / 2)
    keys = [c for c in ("lhs", "op", "rhs", "group", "label") if c in table.columns]
    return pd.DataFrame({
        **{c: table[c] for c in keys},
        "est_std": est, "se_std": se, "z_std": z, "pvalue_std": 2 * _lazy.norm_sf(np.abs(z)),
        "ci_lower_std": np.where(constant, est, est - crit * se),
        "ci_upper_std": np.where(constant, est, est + crit * se)})
