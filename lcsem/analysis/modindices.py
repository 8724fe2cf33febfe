"""Modification indices and expected parameter changes, as lavaan's ``modindices()``.

For every parameter that is fixed in the model (usually to zero) but could be freed,
the modification index is the one-degree-of-freedom score (Lagrange multiplier) test
of freeing it: the expected drop in the chi-square statistic. With ``g`` the gradient
of ``F_ML`` with respect to the candidate, ``I`` the expected unit information
``1/2 tr(Sigma^-1 D_a Sigma^-1 D_b)`` of the model's free parameters plus the
candidate, and ``V = I_cc - I_cm I_mm^-1 I_mc`` (the candidate's information net of the
free parameters),

``mi = N (g/2)^2 / V`` and ``epc = -(g/2) / V``

(the expected parameter change: the one-step estimate of the freed parameter). ``sepc_all``
standardises the EPC with the current model's implied standard deviations (and, for
covariances, residual variances), as lavaan does with ``cov.std = TRUE``.

The candidates follow lavaan 0.6.14 (``lav_partable_full``): every fixed row of the
parameter table (markers, fixed variances and covariances), every loading of a factor on
an observed variable that is not part of a regression, every (residual) covariance
between indicators, every covariance between latent variables, and every regression
between two variables that take part in regressions (except an indicator on a factor).
Candidates whose ``V`` is numerically zero (``< eps^(1/3)``: freeing them would leave the
model unidentified, e.g. a marker loading or a reverse structural path) have no index and
are left out, as in lavaan. Exogenous observed covariates follow lavaan's ``fixed.x``: the
moments among them carry no information and the score test does not condition on their
(co)variances; lcsem estimates those (co)variances
as free parameters, so, unlike lavaan, it does not list them (lavaan lists them with an
index of 0).

Multi-group and mean-structure fits (lavaan's ``modindices`` of such fits): the candidates
are every fixed row of the whole table (markers, fixed intercepts, latent means, in table
order), then each group's new rows as above; a ``group`` column (1..G, as in
``estimates``) tells the groups apart. The information adds the mean part ``J' W J``, the
gradient the mean term, and the fitted parameters keep their equality constraints (the
score test conditions on the constrained model, as lavaan's ``inverted.information``).
``sepc_all`` of an intercept is the EPC over the variable's implied standard deviation.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable

import numpy as np
import pandas as pd

from ..engine import GroupStructure, RamStructure, implied_all, implied_covariance, model_matrices
from .._warnings import warn
from ..estimation.robust_fit import ROBUST_ESTIMATORS
from ..exceptions import ArgumentError, ConvergenceWarning, EstimationError, NotSupportedError
from ..results.fit_result import FitResult
from .fiml_modindices import fiml_score_tests, fiml_terms, fiml_view
from ..spec.groups import fixed_x_free, view_model
from ..spec.partable import ParRow
from .group_stats import result_group_stats

__all__ = ["modification_indices", "candidate_parameters", "MODINDEX_COLUMNS"]

MODINDEX_COLUMNS = ["lhs", "op", "rhs", "mi", "epc", "sepc_all"]
_OPS = ("=~", "~", "~~", "~1")
_V_TOL = np.finfo(float).eps ** (1.0 / 3.0)   # lavaan's threshold on diag(V)


def _pair_key(lhs: str, op: str, rhs: str) -> tuple[str, str, str]:
    if op == "~~" and rhs < lhs:
        return (rhs, op, lhs)
    return (lhs, op, rhs)


def candidate_parameters(model) -> list[tuple[str, str, str]]:
    """The ``(lhs, op, rhs)`` of every parameter lavaan's ``modindices`` would consider
    freeing, in lavaan's order: fixed rows of the table first, then new ones.

    Parameters
    ----------
    model
        An :class:`lcsem.Model`.
    """
    rows = [r for r in model.rows if r.op != ":="]
    roles = model.roles
    observed = list(model.observed)
    latent = list(model.latent)
    exo_x = [v for v in observed if v in roles.exogenous_observed]
    ov_nox = [v for v in observed if v not in exo_x]
    ov_ind = [v for v in observed if v in roles.indicators]
    ov_other = set(observed) - set(ov_ind)
    eqs: list[str] = []
    for side in ("lhs", "rhs"):
        for r in rows:
            if r.op == "~" and getattr(r, side) not in eqs:
                eqs.append(getattr(r, side))

    full: list[tuple[str, str, str]] = []
    full += [(f, "=~", v) for f in latent for v in ov_nox if v not in eqs]
    full += [(a, "~~", b) for j, a in enumerate(ov_nox) for b in ov_nox[j:]
             if a not in ov_other and b not in ov_other]
    full += [(a, "~~", b) for j, a in enumerate(exo_x) for b in exo_x[j:]]
    full += [(a, "~~", b) for j, a in enumerate(latent) for b in latent[j:]]
    full += [(y, "~", x) for y in eqs for x in eqs
             if y != x and not (y in ov_ind and x in latent)]

    in_table = {_pair_key(r.lhs, r.op, r.rhs) for r in rows}
    out: list[tuple[str, str, str]] = []
    seen: set[tuple[str, str, str]] = set()
    for r in rows:                       # lavaan frees every fixed row of the table
        key = _pair_key(r.lhs, r.op, r.rhs)
        if not r.free and key not in seen:
            seen.add(key)
            out.append((r.lhs, r.op, r.rhs))
    for cand in full:
        key = _pair_key(*cand)
        if key not in in_table and key not in seen:
            seen.add(key)
            out.append(cand)
    return out


def _current_values(res: FitResult) -> dict[tuple[str, str, str], float]:
    est = res.estimates
    est = est[est["op"] != ":="]
    return {_pair_key(l, o, r): float(v) for l, o, r, v in zip(est["lhs"], est["op"], est["rhs"], est["est"])}


def modification_indices(res: FitResult, top: int | None = None, sort: bool = True,
                         min_mi: float | None = None, op: str | Iterable[str] | None = None
                         ) -> pd.DataFrame:
    """Modification indices and expected parameter changes of a fitted model (ML).

    Agrees with lavaan's ``modindices(fit)`` (expected information, ``cov.std = TRUE``):
    see :mod:`lcsem.analysis.modindices` for the formulas and the candidate parameters.
    For a FIML fit (``missing="ml"``: the result, one or several groups, or a single-group
    view) the gradient and expected information are those of the casewise likelihood
    (:mod:`lcsem.analysis.fiml_modindices`), as lavaan's ``modindices`` of such a fit.

    Parameters
    ----------
    res
        A :class:`~lcsem.FitResult` estimated by ML or a robust variant (MLM, MLMV, MLMVS,
        MLR: the same ML estimates, so the same indices, as lavaan's ``modindices``).
    top
        Keep only the ``top`` rows (after sorting); ``None`` keeps every row.
    sort
        Sort by decreasing modification index (default). Otherwise rows keep lavaan's
        order: fixed rows of the table first, then loadings, covariances, regressions
        (group by group in a multi-group fit).
    min_mi
        Keep only rows whose index exceeds ``min_mi`` (e.g. 3.84, the 5% critical value
        of chi-square with one degree of freedom).
    op
        Keep only these operators (``"=~"``, ``"~"``, ``"~~"``, ``"~1"``).

    Returns
    -------
    pandas.DataFrame
        Columns ``lhs op rhs mi epc sepc_all`` (``lhs op rhs group mi epc sepc_all`` for a
        multi-group fit; ``~1`` rows for fixed intercepts and means of a mean-structure
        fit): the modification index (expected drop in
        chi-square when the parameter is freed), the expected parameter change and the
        EPC in the completely standardised metric. Read them together: a large index
        with a trivial ``sepc_all`` is rarely worth freeing, and every freed parameter
        must make substantive sense (modification indices capitalise on chance).

    Raises
    ------
    ArgumentError
        For an invalid ``top``, ``min_mi`` or ``op``.
    NotSupportedError
        For GLS or ULS fits.
    """
    if not isinstance(res, FitResult):
        raise ArgumentError(f"res: expected an lcsem.FitResult (from lcsem.fit), got {type(res).__name__}")
    if top is not None and (isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1):
        raise ArgumentError(f"top: {top!r} is not a positive integer; use e.g. top=10, or None for every row")
    if min_mi is not None:
        if isinstance(min_mi, bool) or not isinstance(min_mi, (int, float, np.number)) or not np.isfinite(min_mi):
            raise ArgumentError(f"min_mi: {min_mi!r} is not a finite number; use e.g. min_mi=3.84")
    ops = _check_ops(op)
    if res.estimator not in ("ML", *ROBUST_ESTIMATORS):
        raise NotSupportedError(f"modification indices are implemented for ML and its robust variants "
                                f"(MLM, MLMV, MLMVS, MLR) only; this result used estimator={res.estimator!r}: "
                                f"refit with estimator='ML'")
    if not res.converged:
        warn("the model did not converge; modification indices are not reliable",
             ConvergenceWarning, stacklevel=2)
    # a view of a FIML fit: score tests of its casewise likelihood; whole FIML fits go
    # through the grouped computation with the FIML gradient and information
    table = _compute_fiml(res) if res.missing == "ml" and not res.grouped else _compute(res)
    if sort:
        table = table.sort_values("mi", ascending=False, kind="stable")
    if min_mi is not None:
        table = table[table["mi"] > min_mi]
    if ops is not None:
        table = table[table["op"].isin(ops)]
    if top is not None:
        table = table.head(int(top))
    return table.reset_index(drop=True)


def _score_statistics(info: np.ndarray, grad: np.ndarray, cond: np.ndarray, cand: np.ndarray,
                      n_obs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Modification indices, expected parameter changes and which candidates have them:
    the candidates ``cand`` given the parameters ``cond`` (``info``/``grad``: per-observation
    information and gradient of the extended model); NaN (and not kept) where a candidate's
    conditional information is ~0."""
    try:
        I22_inv = np.linalg.inv(info[np.ix_(cond, cond)])
    except np.linalg.LinAlgError as exc:
        raise EstimationError("could not compute modification indices: the information matrix is "
                              "singular (the model may not be identified)") from exc
    I12 = info[np.ix_(cand, cond)]
    v = np.diag(info[np.ix_(cand, cand)]) - np.einsum("ck,kl,cl->c", I12, I22_inv, I12)
    g = grad[cand]
    keep = v >= _V_TOL
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(keep, n_obs * g ** 2 / v, np.nan), np.where(keep, -g / v, np.nan), keep


def _check_ops(op) -> tuple[str, ...] | None:
    if op is None:
        return None
    ops = (op,) if isinstance(op, str) else tuple(op)
    bad = [o for o in ops if o not in _OPS]
    if bad or not ops:
        raise ArgumentError(f"op: {op!r} is not one of {_OPS} (or a list of them)")
    return ops


def _compute(res: FitResult) -> pd.DataFrame:
    if res.grouped:
        return _compute_grouped(res)
    struct = res.structure
    candidates = candidate_parameters(res.model)
    if not candidates:
        return pd.DataFrame({c: pd.Series(dtype=object if c in ("lhs", "op", "rhs") else float)
                             for c in MODINDEX_COLUMNS})
    # the candidates freed next to the fitted parameters (at 0): their score tests come from
    # the gradient and expected information of the extended model at the estimate
    theta0 = np.asarray(res.theta, dtype=float)
    k = theta0.size
    # fixed rows of the table are freed at their values, new rows added at 0
    ext = [r for r in res.model.rows if r.op != ":="]
    position = {_pair_key(r.lhs, r.op, r.rhs): pos for pos, r in enumerate(ext) if not r.free}
    values = np.zeros(len(candidates))
    for c, (lhs, op, rhs) in enumerate(candidates):
        pos = position.get(_pair_key(lhs, op, rhs))
        if pos is None:
            ext.append(ParRow(lhs, op, rhs, "", k + 1 + c, float("nan"), False))
        else:
            values[c] = ext[pos].value if np.isfinite(ext[pos].value) else 0.0
            ext[pos] = replace(ext[pos], free=k + 1 + c)
    ext_struct = RamStructure(ext, struct.observed, struct.latent)
    theta = np.concatenate([theta0, values])[None]
    Sigma = implied_covariance(ext_struct, theta)[0]
    W = np.linalg.inv(Sigma)
    S = res.sample_cov.to_numpy()
    D = ext_struct.jacobian(theta)[0]                               # (K, p, p)
    x_idx = [struct.observed.index(v) for v in res.model.roles.exogenous_observed]
    info = 0.5 * _information(D, W, x_idx)                          # unit expected information
    grad = 0.5 * np.einsum("pq,kqp->k", W @ (Sigma - S) @ W, D)      # gradient of F_ML / 2
    # lavaan's fixed.x: the (co)variances of exogenous observed covariates are not model
    # parameters there, so the score test does not condition on them
    cond = _conditioning_parameters(res.model, struct)
    cand = np.arange(k, k + len(candidates))
    mi, epc, keep = _score_statistics(info, grad, cond, cand, res.n_obs)
    sepc = _standardize_epc(struct, theta0[None], epc, candidates, _current_values(res))
    table = pd.DataFrame({"lhs": [x[0] for x in candidates], "op": [x[1] for x in candidates],
                          "rhs": [x[2] for x in candidates], "mi": mi, "epc": epc, "sepc_all": sepc})
    return table[keep].reset_index(drop=True)


def _compute_fiml(res: FitResult) -> pd.DataFrame:
    """The table of a single-group FIML fit (or its view): score tests of the casewise
    likelihood (:mod:`lcsem.analysis.fiml_modindices`), sepc_all as for complete data."""
    view = fiml_view(res)
    candidates = candidate_parameters(view.model)
    if not candidates:
        return pd.DataFrame({c: pd.Series(dtype=object if c in ("lhs", "op", "rhs") else float)
                             for c in MODINDEX_COLUMNS})
    mi, epc, keep = fiml_score_tests(view, candidates)
    sepc = _standardize_epc(view.structure, np.asarray(view.theta, float)[None], epc, candidates,
                            _current_values(view))
    table = pd.DataFrame({"lhs": [x[0] for x in candidates], "op": [x[1] for x in candidates],
                          "rhs": [x[2] for x in candidates], "mi": mi, "epc": epc, "sepc_all": sepc})
    return table[keep].reset_index(drop=True)


def _information(D: np.ndarray, W: np.ndarray, x_idx: list[int]) -> np.ndarray:
    """``tr(W D_a W D_b)`` over the parameters (``D`` (K, p, p): dSigma/dtheta); with
    exogenous covariates (lavaan's ``fixed.x``) the moments among them carry no
    information, so that block of every ``D`` is zeroed."""
    if x_idx:
        D = D.copy()
        D[np.ix_(np.arange(D.shape[0]), x_idx, x_idx)] = 0.0
    WD = np.einsum("pq,eqr->epr", W, D)
    return np.einsum("apq,bqp->ab", WD, WD)


def _conditioning_parameters(model, struct: RamStructure) -> np.ndarray:
    """Indices of the free parameters the score test conditions on (all but fixed.x ones)."""
    fixed_x = {f - 1 for f in model.fixed_x_free}
    others = {f for f in struct.row_free if f >= 0} - fixed_x
    return np.array(sorted(others), dtype=int)


def _standardize_epc(struct: RamStructure, theta: np.ndarray, epc: np.ndarray,
                     candidates: list[tuple[str, str, str]], current: dict) -> np.ndarray:
    """lavaan's ``sepc.all``: ``std.all`` of the EPC with the current model's scales."""
    mats = model_matrices(struct, theta)
    Cm = mats.implied[0]
    sd = np.sqrt(np.clip(np.diag(Cm), 0, None))
    res_var = np.diag(mats.residual[0])
    index = {n: i for i, n in enumerate(struct.names)}
    out = np.full(epc.shape, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        for pos, (lhs, op, rhs) in enumerate(candidates):
            if op in ("=~", "~"):
                # effect of `cause` on `effect`, scaled by their implied SDs
                cause, effect = (lhs, rhs) if op == "=~" else (rhs, lhs)
                out[pos] = epc[pos] * sd[index[cause]] / sd[index[effect]]
            elif lhs != rhs:
                # a negative (Heywood) residual variance enters with its absolute value, as lavaan
                out[pos] = epc[pos] / np.sqrt(np.abs(res_var[index[lhs]] * res_var[index[rhs]]))
            else:
                # lavaan standardises the current value of a variance, signed by the EPC
                value = current.get(_pair_key(lhs, op, rhs), 0.0)
                if abs(value) < np.sqrt(np.finfo(float).eps):
                    out[pos] = 0.0
                else:
                    out[pos] = np.sign(epc[pos]) * abs(value) / Cm[index[lhs], index[lhs]]
    return out


# ---------------------------------------------------------------------- multi-group / means
def _grouped_candidates(res: FitResult) -> list[tuple[int, ParRow]]:
    """lavaan's candidates of a multi-group / mean-structure fit, in lavaan's order: every
    fixed row of the table (all groups, table order, fixed intercepts and latent means
    included), then per group the new rows of :func:`candidate_parameters`. Returns
    ``(position in the table's non-':=' rows or -1, row)``."""
    table = [r for r in res.rows if r.op != ":="]
    out: list[tuple[int, ParRow]] = [(pos, r) for pos, r in enumerate(table) if not r.free]
    for g in range(1, res.n_groups + 1):
        rows = [r for r in table if r.group == g and r.op != "~1"]
        in_table = {_pair_key(r.lhs, r.op, r.rhs) for r in rows}
        for lhs, op, rhs in candidate_parameters(view_model(rows)):
            if _pair_key(lhs, op, rhs) not in in_table:
                out.append((-1, ParRow(lhs, op, rhs, free=0, value=0.0, user=False, group=g)))
    return out


def _compute_grouped(res: FitResult) -> pd.DataFrame:
    """Modification indices of a multi-group and/or mean-structure fit.

    The extended table frees every candidate (fixed rows at their values, new rows at 0)
    next to the fitted parameters (their equality constraints kept as shared numbers, which
    equals lavaan's conditioning on the constrained information). Per group ``g``, with
    ``D_a = dSigma_g/dtheta_a`` and ``J_a = dmu_g/dtheta_a``: unit information
    ``1/2 tr(W D_a W D_b) + J_a' W J_b`` and half-gradient
    ``1/2 tr(W (Sigma - S - d d') W D_a) - d' W J_a`` (``d = m - mu``), weighted by
    ``N_g / N``; the moments of exogenous covariates (lavaan's ``fixed.x``) carry no
    information."""
    multi = bool(res.group_labels)
    table = [r for r in res.rows if r.op != ":="]
    cands = _grouped_candidates(res)
    exogenous = set(res.model.roles.exogenous_observed)
    if res.missing == "ml" and exogenous:
        # FIML with fixed.x covariates: lavaan's score tests of regressing a covariate are
        # not defined (NA) and its table leaves them out
        cands = [(pos, r) for pos, r in cands if not (r.op == "~" and r.lhs in exogenous)]
    theta = np.asarray(res.theta, dtype=float)
    k = theta.size
    freed = {pos: k + 1 + c for c, (pos, _) in enumerate(cands) if pos >= 0}
    ext = [replace(r, free=freed[pos]) if pos in freed else r for pos, r in enumerate(table)]
    ext += [replace(r, free=k + 1 + c) for c, (pos, r) in enumerate(cands) if pos < 0]
    values = np.array([r.value if np.isfinite(r.value) else 0.0 for _, r in cands])
    theta_ext = np.concatenate([theta, values])[None]
    model = res.model
    struct = GroupStructure(ext, model.observed, model.latent, n_groups=res.n_groups,
                            meanstructure=res.meanstructure)
    K = struct.k
    x_idx = [model.observed.index(v) for v in model.roles.exogenous_observed]
    if res.missing == "ml":   # FIML: the casewise likelihood's gradient and expected information
        info, grad = fiml_terms(res, struct, theta_ext[0])
    else:
        stats = result_group_stats(res, "modification indices")
        weights = stats.weights
        info = np.zeros((K, K))
        grad = np.zeros(K)
        for g in range(res.n_groups):
            gs = struct.groups[g]
            Sigma, mu = (m[:, g] for m in struct.implied(theta_ext))
            W = np.linalg.inv(Sigma[0])
            D = gs.jacobian(theta_ext)[0]                         # (K, p, p)
            D_info = D.copy()
            if x_idx:   # fixed.x: the covariates' moments carry no information (not so the gradient)
                D_info[np.ix_(np.arange(K), x_idx, x_idx)] = 0.0
            WD = np.einsum("pq,kqr->kpr", W, D_info)
            info_g = 0.5 * np.einsum("apq,bqp->ab", WD, WD)
            resid = Sigma[0] - stats.cov[0, g]
            if res.meanstructure:
                d = stats.mean[0, g] - mu[0]
                resid = resid - np.outer(d, d)      # the mean term d' Sigma^-1 d also moves with Sigma
            grad_g = 0.5 * np.einsum("pq,kqp->k", W @ resid @ W, D)
            if res.meanstructure:
                J = struct.implied_mean_jacobian(theta_ext, g)[0]  # (p, K)
                grad_g = grad_g - d @ W @ J
                J[x_idx, :] = 0.0
                info_g = info_g + J.T @ W @ J
            info += weights[g] * info_g
            grad += weights[g] * grad_g
    fixed_x = {f - 1 for f in fixed_x_free(model, res.rows)}   # not conditioned on (lavaan's fixed.x)
    cond = np.array([f for f in range(k) if f not in fixed_x], dtype=int)
    cand = np.arange(k, K)
    mi, epc, keep = _score_statistics(info, grad, cond, cand, res.n_obs)
    rows = [r for _, r in cands]
    sepc = np.full(len(rows), np.nan)
    estimates = res.estimates
    for g in range(res.n_groups):
        gs = struct.groups[g]
        means = [c for c, r in enumerate(rows) if r.group == g + 1 and r.op == "~1"]
        if means:   # std.all of an intercept: divided by the variable's implied SD
            C = implied_all(gs, theta_ext)[0]
            sd = np.sqrt(np.clip(np.diag(C), 0, None))
            with np.errstate(divide="ignore", invalid="ignore"):
                sepc[means] = epc[means] / sd[[gs.names.index(rows[c].lhs) for c in means]]
        idx = [c for c, r in enumerate(rows) if r.group == g + 1 and r.op != "~1"]
        if not idx:
            continue
        names = [(rows[c].lhs, rows[c].op, rows[c].rhs) for c in idx]
        est = estimates[estimates["group"] == g + 1] if multi else estimates
        est = est[est["op"] != ":="]
        current = {_pair_key(l, o, r): float(e) for l, o, r, e in zip(est["lhs"], est["op"], est["rhs"],
                                                                       est["est"])}
        sepc[idx] = _standardize_epc(gs, theta_ext, epc[idx], names, current)
    frame = {"lhs": [r.lhs for r in rows], "op": [r.op for r in rows], "rhs": [r.rhs for r in rows]}
    if multi:
        frame["group"] = [r.group for r in rows]
    table_out = pd.DataFrame({**frame, "mi": mi, "epc": epc, "sepc_all": sepc})
    return table_out[keep].reset_index(drop=True)

