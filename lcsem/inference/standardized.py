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
from ..engine.ram import RamStructure
from ..exceptions import ArgumentError
from ..spec.expressions import parse_expression
from ..spec.partable import ParRow


STANDARDIZED_KINDS = ("std_all", "std_lv", "std_nox")


def unscaled_variables(struct: RamStructure, kind: str, exogenous_observed: tuple[str, ...] = ()
                       ) -> tuple[int, ...]:
    """Positions (in ``struct.names``) of the variables a standardisation leaves in raw units:
    none for ``"std_all"``; every observed variable for ``"std_lv"`` (latent variables
    only); the exogenous observed predictors for ``"std_nox"`` (lavaan's ``std.nox``)."""
    if kind == "std_all":
        return ()
    if kind == "std_lv":
        return tuple(range(struct.p))
    if kind == "std_nox":
        return tuple(struct.names.index(n) for n in exogenous_observed)
    raise ValueError(f"unknown standardisation {kind!r}")


def standardized_values(struct: RamStructure, theta: np.ndarray, unscaled: tuple[int, ...] = ()
                        ) -> np.ndarray:
    """Standardised value of every table row (except ``:=``): (R, n_rows).

    Loadings and paths are scaled by model-implied standard deviations; variances are
    divided by the total variance; covariances by the square roots of the two (residual)
    variances, as lavaan does with ``cov.std = TRUE``. A negative residual variance (a
    Heywood case) enters a covariance as its absolute value, as in lavaan, so the
    covariance keeps a standardised value while the solution is flagged inadmissible.
    With ``unscaled=()`` this is lavaan's ``std.all``; variables listed in ``unscaled``
    keep their raw units (see :func:`unscaled_variables` for ``std.lv`` and ``std.nox``).
    """
    theta = np.atleast_2d(theta)
    A, S = struct.matrices(theta)
    B = np.linalg.inv(np.eye(struct.m) - A)
    C = B @ S @ np.swapaxes(B, 1, 2)
    keep = np.zeros(struct.m, dtype=bool)
    keep[list(unscaled)] = True
    with np.errstate(invalid="ignore", divide="ignore"):
        total = np.where(keep[None, :], 1.0, np.diagonal(C, axis1=1, axis2=2))
        sd = np.sqrt(total)
        res_sd = np.where(keep[None, :], 1.0, np.sqrt(np.abs(np.diagonal(S, axis1=1, axis2=2))))
        values = struct.row_values(theta)
        e = struct.row_entries
        out = np.empty_like(values)
        path = e.is_path
        # A[i, j]: effect of j on i -> value * sd_j / sd_i
        out[:, path] = values[:, path] * sd[:, e.col[path]] / sd[:, e.row[path]]
        var = ~path & (e.row == e.col)
        out[:, var] = values[:, var] / total[:, e.row[var]]
        cov = ~path & (e.row != e.col)
        out[:, cov] = values[:, cov] / (res_sd[:, e.row[cov]] * res_sd[:, e.col[cov]])
    return out


def r2_values(struct: RamStructure, theta: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """R² of the named endogenous variables: 1 - residual variance / total variance."""
    theta = np.atleast_2d(theta)
    A, S = struct.matrices(theta)
    B = np.linalg.inv(np.eye(struct.m) - A)
    C = B @ S @ np.swapaxes(B, 1, 2)
    idx = [struct.names.index(n) for n in names]
    total = np.diagonal(C, axis1=1, axis2=2)[:, idx]
    resid = np.diagonal(S, axis1=1, axis2=2)[:, idx]
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1.0 - resid / total


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
    _, S = struct.matrices(theta)
    if std is None:
        std = standardized_values(struct, theta)
    e = struct.row_entries
    free_var = (~e.is_path) & (e.row == e.col) & (struct.row_free >= 0)
    loading = np.array([r.op == "=~" for r in struct.rows])
    p = struct.p
    reasons: list[list[str]] = []
    for r in range(theta.shape[0]):
        out = []
        values = np.diagonal(S[r])
        for pos in np.flatnonzero(free_var):
            name = struct.names[e.row[pos]]
            v = values[e.row[pos]]
            if v < -tol:
                out.append(f"negative variance of {name} ({v:.4g})")
            elif v == 0:
                out.append(f"zero variance of {name}")
        big = np.flatnonzero(loading & (np.abs(std[r]) > 1 + 1e-8))
        for pos in big:
            row = struct.rows[pos]
            out.append(f"standardised loading {row.lhs} =~ {row.rhs} is {std[r, pos]:.3f} (|value| > 1)")
        for label, block in (("latent (co)variance matrix", S[r, p:, p:]),
                             ("residual (co)variance matrix", S[r, :p, :p])):
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
