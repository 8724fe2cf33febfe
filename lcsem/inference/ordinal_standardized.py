"""Standardised estimates and R-squared of ordinal fits, as lavaan (on the ``y*`` scale).

With ``sd`` the implied standard deviations of all variables (ordered ones: of ``y*``):
``std_all`` of a loading ``f =~ y`` is ``est sd(f) / sd(y)``, of a regression ``y ~ x``
``est sd(x) / sd(y)``, of a (co)variance ``est / (sd(a) sd(b))``, of an intercept or a
threshold ``est / sd(lhs)``, of a scaling factor ``est sd(y*)`` (1, as lavaan); ``std_lv``
scales by the latent variables' standard deviations only. ``std_nox`` equals ``std_all``
(ordinal models here have no exogenous covariates).
"""

from __future__ import annotations

import numpy as np

from ..engine.ordinal import OrdinalStructure
from ..exceptions import ArgumentError
from .standardized import STANDARDIZED_KINDS, DefinedParameters, delta_table

__all__ = ["ordinal_standardized", "ordinal_r2", "ordinal_standardized_solution"]


def ordinal_standardized(struct: OrdinalStructure, theta: np.ndarray, values: np.ndarray
                         ) -> dict[str, np.ndarray]:
    """``{"std_lv": ..., "std_all": ..., "std_nox": ...}`` for every row of ``struct.rows``."""
    names = struct.observed + struct.latent
    index = {v: i for i, v in enumerate(names)}
    p = struct.p
    std_all = np.full(len(struct.rows), np.nan)
    std_lv = np.full(len(struct.rows), np.nan)
    sds = [np.sqrt(np.clip(np.diag(struct.total_covariance(theta, g)), 0, None)) for g in range(struct.n_groups)]
    for n, (r, est) in enumerate(zip(struct.rows, values)):
        sd = sds[r.group - 1]
        sd_lv = np.where(np.arange(len(names)) >= p, sd, 1.0)
        a = index.get(r.lhs)
        b = index.get(r.rhs)
        with np.errstate(divide="ignore", invalid="ignore"):
            if r.op == "=~":
                std_all[n] = est * sd[a] / sd[b]
                std_lv[n] = est * sd_lv[a] / sd_lv[b]
            elif r.op == "~":
                std_all[n] = est * sd[b] / sd[a]
                std_lv[n] = est * sd_lv[b] / sd_lv[a]
            elif r.op == "~~":
                std_all[n] = est / (sd[a] * sd[b])
                std_lv[n] = est / (sd_lv[a] * sd_lv[b])
            elif r.op in ("~1", "|"):
                std_all[n] = est / sd[a]
                std_lv[n] = est / sd_lv[a]
            elif r.op == "~*~":
                std_all[n] = est * sd[a]
                std_lv[n] = est
    return {"std_lv": std_lv, "std_all": std_all, "std_nox": std_all.copy()}


def ordinal_r2(struct: OrdinalStructure, theta: np.ndarray, values: np.ndarray, endogenous: tuple[str, ...]
               ) -> list[dict[str, float]]:
    """R-squared of the endogenous variables (ordered ones: of ``y*``) per group:
    ``1 - residual variance / total variance``."""
    names = struct.observed + struct.latent
    index = {v: i for i, v in enumerate(names)}
    out = []
    for g in range(struct.n_groups):
        C = struct.total_covariance(theta, g)
        resid = {r.lhs: v for r, v in zip(struct.rows, values)
                 if r.group == g + 1 and r.op == "~~" and r.lhs == r.rhs}
        out.append({v: float(1.0 - resid.get(v, 0.0) / C[index[v], index[v]]) for v in endogenous})
    return out


def ordinal_standardized_solution(res, kind: str = "std_all", level: float = 0.95):
    """lavaan's ``standardizedSolution`` of an ordinal fit: every row (and the ``:=`` rows)
    with delta-method inference from the robust covariance of the estimates."""

    if kind not in STANDARDIZED_KINDS:
        raise ArgumentError(f"type: {kind!r} is not one of {STANDARDIZED_KINDS}")
    info = res.ordinal
    struct = OrdinalStructure(info.rows, res.model.observed, res.model.latent, info.ordered_names,
                              n_groups=res.n_groups, parameterization=info.parameterization)
    defined = DefinedParameters(tuple(info.rows))

    def values(theta: np.ndarray) -> np.ndarray:
        out = []
        for t in np.atleast_2d(theta):
            std = ordinal_standardized(struct, t, struct.row_values(t))[kind]
            out.append(np.concatenate([std, defined.evaluate(std[None])[0]]) if defined.names else std)
        return np.array(out)

    return delta_table(values, res.theta, res.vcov, frozenset(), res.estimates, level)
