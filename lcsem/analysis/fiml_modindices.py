"""Modification indices of a FIML fit (``missing="ml"``), as lavaan's ``modindices()``.

lavaan frees every candidate parameter in an extended model evaluated at the estimates
(candidates at their current value: 0, or a fixed row's value), and computes, with the
*expected* information of that model (``modindices(information = "expected")``, its
default whatever the fit's SEs used) and the gradient of the casewise log-likelihood,

``mi = N (g/2)^2 / V`` and ``epc = -(g/2) / V``, ``V = I_cc - I_cm I_mm^-1 I_mc``

(``g`` the gradient of ``F = -2 loglik / N``, ``I`` the unit information). Here the
extended model's gradient and information come from
:class:`~lcsem.engine.fiml.FIMLObjective`: :func:`fiml_terms` for a whole FIML fit (one or
several groups, equality constraints kept; :mod:`lcsem.analysis.modindices` builds the
extended table), :func:`fiml_score_tests` for a single-group view; the candidates and
``sepc_all`` are those of :mod:`lcsem.analysis.modindices`.
"""

from __future__ import annotations

import numpy as np

from ..data.missing import missing_patterns
from ..engine.fiml import FIMLObjective
from ..engine.structure import GroupStructure
from ..exceptions import NotSupportedError
from ..spec.partable import ParRow

__all__ = ["fiml_view", "fiml_score_tests", "fiml_terms"]

_V_TOL = np.finfo(float).eps ** (1.0 / 3.0)


def fiml_view(res):
    """The single-group view a FIML result's modification indices are computed on."""
    if res.view_of:
        if res.model.roles.exogenous_observed:
            raise NotSupportedError(
                f"modification indices of a group's view of a FIML fit with exogenous covariates "
                f"({', '.join(res.model.roles.exogenous_observed)}) are not available; compute them on the "
                f"fit itself, lcsem.modification_indices(fit), which lists every group's rows")
        return res
    if res.group_labels:
        raise NotSupportedError("modification indices of a multi-group FIML fit are not available yet; "
                                "fit each group on its own (data[data[group] == level]) or use "
                                "missing='listwise'")
    if any(r.op == "~1" for r in res.model.rows) or res.model.roles.exogenous_observed:
        raise NotSupportedError("modification indices of FIML fits with user-written intercepts or means "
                                "(~ 1) or exogenous covariates are not available yet")
    return next(iter(res.groups.values()))


def _key(lhs: str, op: str, rhs: str) -> tuple[str, str, str]:
    return (rhs, op, lhs) if op == "~~" and rhs < lhs else (lhs, op, rhs)


def fiml_score_tests(view, candidates: list[tuple[str, str, str]]
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(mi, epc, keep)`` of every candidate ``(lhs, op, rhs)`` for the single-group view
    of a FIML fit (:func:`fiml_view`); ``keep`` is False where freeing the candidate would
    leave the model unidentified (lavaan's ``V < eps^(1/3)``; mi and epc NaN there)."""
    model = view.model
    cov_rows = [r for r in model.rows if r.op != ":="]
    k = max((r.free for r in cov_rows), default=0)
    theta = list(np.asarray(view.theta, float))
    position = {_key(*c): i for i, c in enumerate(candidates)}
    extra = [0] * len(candidates)
    rows: list[ParRow] = []
    for r in cov_rows:
        key = _key(r.lhs, r.op, r.rhs)
        if not r.free and key in position and not extra[position[key]]:
            k += 1
            extra[position[key]] = k
            theta.append(float(r.value) if np.isfinite(r.value) else 0.0)
            rows.append(ParRow(r.lhs, r.op, r.rhs, "", k))
        else:
            rows.append(r)
    for i, (lhs, op, rhs) in enumerate(candidates):
        if not extra[i]:
            k += 1
            extra[i] = k
            theta.append(0.0)
            rows.append(ParRow(lhs, op, rhs, "", k))
    n_model = len(view.theta)
    for v, value in zip(model.observed, np.asarray(view.implied_mean, float)):
        k += 1
        theta.append(float(value))
        rows.append(ParRow(v, "~1", "", "", k))
    struct = GroupStructure(rows, model.observed, model.latent, 1, True)
    data = view.data[list(model.observed)].to_numpy(float)
    objective = FIMLObjective(struct, [missing_patterns(data, tuple(model.observed))])
    theta = np.asarray(theta)
    grad = objective.gradient(theta[None])[0] / 2.0                 # unit scale: F / 2
    info = objective.expected_information(theta) / 2.0
    model_idx = np.r_[np.arange(n_model), np.arange(k - len(model.observed), k)]
    extra_idx = np.asarray(extra) - 1
    I22_inv = np.linalg.inv(info[np.ix_(model_idx, model_idx)])
    I12 = info[np.ix_(extra_idx, model_idx)]
    v = np.diag(info)[extra_idx] - np.einsum("ck,kl,cl->c", I12, I22_inv, I12)
    g = grad[extra_idx]
    keep = v >= _V_TOL
    with np.errstate(divide="ignore", invalid="ignore"):
        mi = np.where(keep, objective.N * g ** 2 / v, np.nan)
        epc = np.where(keep, -g / v, np.nan)
    return mi, epc, keep


def fiml_terms(res, struct: GroupStructure, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit expected information and half-gradient of the casewise likelihood of a FIML
    result's data (per group, in the result's group order) for the extended structure
    ``struct`` at ``theta`` (k,): ``(info (k, k), grad (k,))`` in the units of
    :mod:`lcsem.analysis.modindices` (``F / 2``)."""
    cols = list(struct.observed)
    frames = res.group_frames()
    objective = FIMLObjective(struct, [missing_patterns(f[cols].to_numpy(float), tuple(cols)) for f in frames])
    return objective.expected_information(theta) / 2.0, objective.gradient(theta[None])[0] / 2.0
