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
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from ..engine.ram import RamStructure, gradient_terms, gram_terms, make_entries
from .._warnings import warn
from ..exceptions import ArgumentError, ConvergenceWarning, EstimationError, NotSupportedError
from ..results.fit_result import FitResult
from .fiml_modindices import fiml_score_tests, fiml_view

__all__ = ["modification_indices", "candidate_parameters", "MODINDEX_COLUMNS"]

MODINDEX_COLUMNS = ["lhs", "op", "rhs", "mi", "epc", "sepc_all"]
_OPS = ("=~", "~", "~~")
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


def _candidate_entries(struct: RamStructure, candidates: list[tuple[str, str, str]]):
    index = {n: i for i, n in enumerate(struct.names)}
    is_path, row, col = [], [], []
    for lhs, op, rhs in candidates:
        if op == "=~":
            i, j, path = index[rhs], index[lhs], True
        elif op == "~":
            i, j, path = index[lhs], index[rhs], True
        else:
            i, j = sorted((index[lhs], index[rhs]))
            path = False
        is_path.append(path)
        row.append(i)
        col.append(j)
    return make_entries(is_path, row, col)


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
    For a single-group FIML fit (``missing="ml"``, the result or its view) the gradient
    and information are those of the casewise likelihood
    (:mod:`lcsem.analysis.fiml_modindices`).

    Parameters
    ----------
    res
        A :class:`~lcsem.FitResult` estimated with ``estimator="ML"``.
    top
        Keep only the ``top`` rows (after sorting); ``None`` keeps every row.
    sort
        Sort by decreasing modification index (default). Otherwise rows keep lavaan's
        order: fixed rows of the table first, then loadings, covariances, regressions.
    min_mi
        Keep only rows whose index exceeds ``min_mi`` (e.g. 3.84, the 5% critical value
        of chi-square with one degree of freedom).
    op
        Keep only these operators (``"=~"``, ``"~"``, ``"~~"``).

    Returns
    -------
    pandas.DataFrame
        Columns ``lhs op rhs mi epc sepc_all``: the modification index (expected drop in
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
    if res.estimator != "ML":
        raise NotSupportedError(f"modification indices are implemented for estimator='ML' only; this "
                                f"result used estimator={res.estimator!r}: refit with estimator='ML'")
    if not res.converged:
        warn("the model did not converge; modification indices are not reliable",
             ConvergenceWarning, stacklevel=2)
    table = _compute_fiml(res) if res.missing == "ml" else _compute(res)
    if sort:
        table = table.sort_values("mi", ascending=False, kind="stable")
    if min_mi is not None:
        table = table[table["mi"] > min_mi]
    if ops is not None:
        table = table[table["op"].isin(ops)]
    if top is not None:
        table = table.head(int(top))
    return table.reset_index(drop=True)


def _check_ops(op) -> tuple[str, ...] | None:
    if op is None:
        return None
    ops = (op,) if isinstance(op, str) else tuple(op)
    bad = [o for o in ops if o not in _OPS]
    if bad or not ops:
        raise ArgumentError(f"op: {op!r} is not one of {_OPS} (or a list of them)")
    return ops


def _compute(res: FitResult) -> pd.DataFrame:
    struct = res.structure
    candidates = candidate_parameters(res.model)
    if not candidates:
        return pd.DataFrame({c: pd.Series(dtype=object if c in ("lhs", "op", "rhs") else float)
                             for c in MODINDEX_COLUMNS})
    cand = _candidate_entries(struct, candidates)
    fe = struct.free_entries
    both = make_entries(np.concatenate([fe.is_path, cand.is_path]), np.concatenate([fe.row, cand.row]),
                        np.concatenate([fe.col, cand.col]))
    theta = np.asarray(res.theta, dtype=float)[None]
    Sigma, B, C = struct.implied(theta)
    W = np.linalg.inv(Sigma)
    S = res.sample_cov.to_numpy()[None]
    U, V, c = struct.jacobian_vectors(B, C, both)
    n_free = fe.row.size
    x_idx = [struct.observed.index(v) for v in res.model.roles.exogenous_observed]
    info = 0.5 * _information(U, V, W, c, x_idx)                  # unit expected information
    grad = 0.5 * gradient_terms(U, V, W @ (Sigma - S) @ W, c)[0]   # gradient of F_ML / 2
    # lavaan's fixed.x: the (co)variances of exogenous observed covariates are not model
    # parameters there, so the score test does not condition on them
    fmap = struct.free_map[:, _conditioning_parameters(res.model, struct)]
    I22 = fmap.T @ info[:n_free, :n_free] @ fmap
    I12 = info[n_free:, :n_free] @ fmap
    try:
        I22_inv = np.linalg.inv(I22)
    except np.linalg.LinAlgError as exc:
        raise EstimationError("could not compute modification indices: the information matrix is "
                              "singular (the model may not be identified)") from exc
    v = np.diag(info[n_free:, n_free:]) - np.einsum("ck,kl,cl->c", I12, I22_inv, I12)
    g = grad[n_free:]
    keep = v >= _V_TOL
    with np.errstate(divide="ignore", invalid="ignore"):
        mi = np.where(keep, res.n_obs * g ** 2 / v, np.nan)
        epc = np.where(keep, -g / v, np.nan)
    sepc = _standardize_epc(struct, theta, cand, epc, candidates, _current_values(res))
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
    struct = view.structure
    cand = _candidate_entries(struct, candidates)
    sepc = _standardize_epc(struct, np.asarray(view.theta, float)[None], cand, epc, candidates,
                            _current_values(view))
    table = pd.DataFrame({"lhs": [x[0] for x in candidates], "op": [x[1] for x in candidates],
                          "rhs": [x[2] for x in candidates], "mi": mi, "epc": epc, "sepc_all": sepc})
    return table[keep].reset_index(drop=True)


def _information(U: np.ndarray, V: np.ndarray, W: np.ndarray, c: np.ndarray, x_idx: list[int]
                 ) -> np.ndarray:
    """``tr(W D_a W D_b)`` over entries; with exogenous covariates (lavaan's ``fixed.x``) the
    moments among them carry no information, so that block of every ``D`` is zeroed."""
    if not x_idx:
        return gram_terms(U, V, W, c)[0]
    D = c[:, None, None] * (U[0][:, :, None] * V[0][:, None, :] + V[0][:, :, None] * U[0][:, None, :])
    D[np.ix_(np.arange(D.shape[0]), x_idx, x_idx)] = 0.0
    WD = np.einsum("pq,eqr->epr", W[0], D)
    return np.einsum("apq,bqp->ab", WD, WD)


def _conditioning_parameters(model, struct: RamStructure) -> np.ndarray:
    """Indices of the free parameters the score test conditions on (all but fixed.x ones)."""
    fixed_x = {f - 1 for f in model.fixed_x_free}
    others = {f for f in struct.row_free if f >= 0} - fixed_x
    return np.array(sorted(others), dtype=int)


def _standardize_epc(struct: RamStructure, theta: np.ndarray, cand, epc: np.ndarray,
                     candidates: list[tuple[str, str, str]], current: dict) -> np.ndarray:
    """lavaan's ``sepc.all``: ``std.all`` of the EPC with the current model's scales."""
    A, S = struct.matrices(theta)
    Bm = np.linalg.inv(np.eye(struct.m) - A[0])
    Cm = Bm @ S[0] @ Bm.T
    sd = np.sqrt(np.clip(np.diag(Cm), 0, None))
    res_var = np.diag(S[0])
    out = np.full(epc.shape, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        path = cand.is_path
        out[path] = epc[path] * sd[cand.col[path]] / sd[cand.row[path]]
        cov = ~path & (cand.row != cand.col)
        # a negative (Heywood) residual variance enters with its absolute value, as lavaan
        out[cov] = epc[cov] / np.sqrt(np.abs(res_var[cand.row[cov]] * res_var[cand.col[cov]]))
        for pos in np.flatnonzero(~path & (cand.row == cand.col)):
            # lavaan standardises the current value of a variance, signed by the EPC
            value = current.get(_pair_key(*candidates[pos]), 0.0)
            if abs(value) < np.sqrt(np.finfo(float).eps):
                out[pos] = 0.0
            else:
                out[pos] = np.sign(epc[pos]) * abs(value) / Cm[cand.row[pos], cand.row[pos]]
    return out
