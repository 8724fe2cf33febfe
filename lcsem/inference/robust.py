"""Robust maximum likelihood for complete data, lavaan 0.6.14's semantics: sandwich standard
errors and scaled test statistics (MLM, MLMV, MLMVS, MLR).

Notation (lavaan's; every information matrix is per observation, i.e. of ``logL / N``):

* moments of group ``g``: ``vech(Sigma_g)`` (upper triangle, row by row: the order of
  :meth:`~lcsem.engine.GroupStructure.moment_jacobian`) then, with a mean structure, ``mu_g``;
  ``Delta_g`` their Jacobian in the parameters; ``f_g = N_g / N``.
* ``W_g``: the normal-theory weight of the moments at the model-implied moments (lavaan's
  ``h1.information = "structured"``): ``1/2 D'(Sigma^-1 x Sigma^-1) D`` for the covariances,
  ``Sigma^-1`` for the means.
* ``Gamma_g``: the asymptotic covariance of the sample moments from the raw data (fourth
  moments, denominator ``N_g``; lavaan's ADF ``NACOV``): the covariance over cases of
  ``[vech((x_i - xbar)(x_i - xbar)'), x_i]``.
* expected information ``E = sum_g f_g Delta_g' W_g Delta_g``; observed information: half the
  Hessian of lcsem's discrepancy ``F = sum_g f_g F_g``.
* casewise scores ``s_i = Delta_g' m_i`` with ``m_i`` the derivative of case ``i``'s
  log-likelihood in the moments; first-order information ``B0 = (1/N) sum_i s_i s_i'``.

Estimators:

* ``MLM`` (se ``robust.sem``, test ``satorra.bentler``): ``vcov = E^-1 (sum_g f_g Delta_g' W_g
  Gamma_g W_g Delta_g) E^-1 / N``; ``U = V - V Delta E^-1 Delta' V`` with ``V = diag(f_g W_g)``
  and ``Gamma = diag(Gamma_g / f_g)``; scaling factor ``c = tr(U Gamma) / df``, ``T / c``.
* ``MLMV`` (``scaled.shifted``): ``a = sqrt(df / tr((U Gamma)^2))``, ``T a + (df - a tr(U Gamma))``;
  lavaan reports ``1 / a`` as the scaling factor and the shift.
* ``MLMVS`` (``mean.var.adjusted``): ``df' = tr(U Gamma)^2 / tr((U Gamma)^2)``, ``T / (tr(U Gamma) / df')``.
* ``MLR`` (se ``robust.huber.white``, test ``yuan.bentler.mplus``), with the OBSERVED
  information ``A`` (as lavaan also on complete data): ``vcov = A^-1 B0 A^-1 / N``;
  ``tr(U Gamma) = sum_g tr(A1_g^-1 B1_g) - tr(B0 A^-1)`` where ``A1_g``/``B1_g`` are the
  unstructured (saturated) model's information and first-order information at the
  sample moments.

The functions here take the per-case scores and information matrices, so that an MLR fit
with missing data (FIML: casewise scores of the observed-data likelihood) can reuse
:func:`huber_white_vcov` and :func:`yuan_bentler_trace` unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Sequence

import numpy as np

from .. import _lazy
from .._threads import one_blas_thread
from ..engine.curvature import hessian
from ..engine.structure import GroupStats, GroupStructure
from ..spec.partable import ParRow
from .fit_indices import rmsea_close, rmsea_interval

__all__ = ["ROBUST_ESTIMATORS", "ROBUST_TESTS", "RobustTest", "GroupData", "independence_structure", "gamma_matrix", "x_moment_mask", "weight_matrix",
           "moment_scores", "expected_information", "observed_information", "first_order_information",
           "sandwich_vcov", "huber_white_vcov", "satorra_bentler_traces", "satorra_bentler_meat", "yuan_bentler_trace",
           "robust_analysis", "robust_test", "robust_vcov", "baseline_rows", "baseline_test", "h1_trace", "scaled_statistic",
           "scaled_fit_measures", "satorra_2000_difference", "ROBUST_INDEX_NAMES"]

#: robust ML estimators and lavaan's test each uses
ROBUST_TESTS = {"MLM": "satorra.bentler", "MLMV": "scaled.shifted", "MLMVS": "mean.var.adjusted",
                "MLR": "yuan.bentler.mplus"}
ROBUST_ESTIMATORS = tuple(ROBUST_TESTS)

#: the rows a robust fit adds to ``fit_indices`` (lavaan's fitMeasures names, dots as underscores)
ROBUST_INDEX_NAMES = (
    "chisq_scaled", "df_scaled", "pvalue_scaled", "chisq_scaling_factor", "chisq_shift_parameter",
    "baseline_chisq_scaled", "baseline_df_scaled", "baseline_pvalue_scaled", "baseline_chisq_scaling_factor",
    "cfi_scaled", "tli_scaled", "cfi_robust", "tli_robust", "scaling_factor_h1", "scaling_factor_h0",
    "rmsea_scaled", "rmsea_ci_lower_scaled", "rmsea_ci_upper_scaled", "rmsea_pvalue_scaled",
    "rmsea_robust", "rmsea_ci_lower_robust", "rmsea_ci_upper_robust", "rmsea_pvalue_robust")


@dataclass(frozen=True)
class GroupData:
    """Complete raw data of every group: ``X[g]`` (N_g, p) in the model's observed order."""

    X: tuple[np.ndarray, ...]
    x_idx: tuple[int, ...] = ()      # columns of exogenous observed covariates under fixed.x
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def gamma(self, meanstructure: bool) -> tuple[np.ndarray, ...]:
        """:func:`gamma_matrix` of every group (computed once)."""
        key = ("gamma", bool(meanstructure))
        if key not in self._cache:
            self._cache[key] = tuple(gamma_matrix(x, meanstructure, self.x_idx) for x in self.X)
        return self._cache[key]

    def h1_traces(self, meanstructure: bool) -> tuple[float, ...]:
        """:func:`h1_trace` (``tr(A1^-1 B1)`` of the saturated model) per group (computed once)."""
        key = ("h1", bool(meanstructure))
        if key not in self._cache:
            self._cache[key] = tuple(h1_trace(x, meanstructure, self.x_idx) for x in self.X)
        return self._cache[key]

    @property
    def n(self) -> np.ndarray:
        return np.array([x.shape[0] for x in self.X], dtype=float)

    @property
    def fractions(self) -> np.ndarray:
        n = self.n
        return n / n.sum()

    def stats(self) -> GroupStats:
        """Sample moments (denominator N_g) as the solver's :class:`GroupStats`."""
        cov = np.stack([np.cov(x, rowvar=False, bias=True).reshape(x.shape[1], x.shape[1]) for x in self.X])
        mean = np.stack([x.mean(axis=0) for x in self.X])
        return GroupStats(cov=cov[None], mean=mean[None], n=self.n)


# ---------------------------------------------------------------------- moment-space pieces
@lru_cache(maxsize=64)
def _vech_index(p: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the upper triangle, row by row (read-only, built once per ``p``)."""
    rows, cols = np.triu_indices(p)
    rows.setflags(write=False)
    cols.setflags(write=False)
    return rows, cols


@lru_cache(maxsize=64)
def _weight_index(p: int) -> tuple[np.ndarray, ...]:
    """Flat indices into a (p, p) matrix ``A`` giving ``A[r_a, r_b]``, ``A[c_a, c_b]``,
    ``A[r_a, c_b]``, ``A[c_a, r_b]`` for every pair of vech positions ``a, b`` and the factor
    ``w_a w_b / 4`` (``w`` 1 on the diagonal, 2 off it) of :func:`weight_matrix` (read-only,
    built once per ``p``)."""
    r, c = _vech_index(p)
    w = np.where(r == c, 1.0, 2.0)
    out = (r[:, None] * p + r[None, :], c[:, None] * p + c[None, :], r[:, None] * p + c[None, :],
           c[:, None] * p + r[None, :], np.outer(w, w) / 4.0)
    for a in out:
        a.setflags(write=False)
    return out


def duplication(p: int) -> np.ndarray:
    """``D`` (p², p(p+1)/2) with ``vec(A) = D vech(A)`` for symmetric ``A`` (vech: upper
    triangle row by row)."""
    rows, cols = _vech_index(p)
    D = np.zeros((p * p, rows.size))
    a = np.arange(rows.size)
    D[rows * p + cols, a] = 1.0
    D[cols * p + rows, a] = 1.0
    return D


def weight_matrix(Sigma: np.ndarray, meanstructure: bool) -> np.ndarray:
    """Normal-theory information of the moments (per observation) at ``Sigma``:
    ``1/2 D'(Sigma^-1 x Sigma^-1)D`` and, with means, ``Sigma^-1`` (block diagonal).

    Element ``(ij, kl)`` of ``D'(A x A)D`` is ``(A_ik A_jl + A_il A_jk) w_ij w_kl / 2`` with
    ``w = 2`` off the diagonal and 1 on it (no p² x p² Kronecker product)."""
    p = Sigma.shape[0]
    A = np.linalg.inv(Sigma)
    rr, cc, rc, cr, ww = _weight_index(p)
    a = A.ravel()
    Wc = (a[rr] * a[cc] + a[rc] * a[cr]) * ww
    if not meanstructure:
        return Wc
    q = Wc.shape[0]
    W = np.zeros((q + p, q + p))
    W[:q, :q] = Wc
    W[q:, q:] = A
    return W


def gamma_matrix(X: np.ndarray, meanstructure: bool, x_idx: Sequence[int] = ()) -> np.ndarray:
    """lavaan's ADF Gamma (``NACOV``) of one group from complete raw data ``X`` (N, p):
    the covariance (denominator N) over cases of ``vech((x_i - xbar)(x_i - xbar)')`` and,
    with a mean structure, ``x_i``; moments in the engine's order (vech, then means).

    With fixed.x covariates (columns ``x_idx``) lavaan's version: the same moments of the
    data minus those of the data with every other column replaced by its least-squares
    prediction from the covariates (so the covariates' own moments have no variance)."""
    X = np.asarray(X, float)
    rows, cols = _vech_index(X.shape[1])

    def moments(Y: np.ndarray) -> np.ndarray:
        Z = Y - Y.mean(axis=0)
        d = Z[:, rows] * Z[:, cols]
        return np.concatenate([d, Y], axis=1) if meanstructure else d

    d = moments(X)
    if len(x_idx):
        d = d - moments(_fixed_x_fitted(X, x_idx))
    d = d - d.mean(axis=0)
    return d.T @ d / X.shape[0]


def _fixed_x_fitted(X: np.ndarray, x_idx: Sequence[int]) -> np.ndarray:
    """``X`` with every column but the fixed.x covariates ``x_idx`` replaced by its
    least-squares prediction from the covariates (with an intercept)."""
    x_idx = list(x_idx)
    C = np.column_stack([np.ones(X.shape[0]), X[:, x_idx]])
    fitted = C @ np.linalg.lstsq(C, X, rcond=None)[0]
    fitted[:, x_idx] = X[:, x_idx]
    return fitted


def h1_trace(X: np.ndarray, meanstructure: bool, x_idx: Sequence[int] = ()) -> float:
    """``tr(A1^-1 B1)`` of the saturated model at the sample moments of one group (the h1
    part of lavaan's ``yuan.bentler.mplus`` trace), without forming Gamma.

    The saturated model's casewise moment scores are ``W_S (d_i - dbar)`` (``d_i`` the
    moments of :func:`gamma_matrix`, ``W_S`` the :func:`weight_matrix` at the sample
    covariance ``S``), so ``B1 = W_S Gamma W_S``, ``A1 = W_S`` and the trace is ``tr(W_S
    Gamma) = (1/N) sum_i (d_i - dbar)' W_S (d_i - dbar)``. With ``A = S^-1``, ``d_i - dbar``
    the vech of ``M_i = u_i u_i' - v_i v_i' - C`` (``u_i`` the centred case, ``v_i`` its
    centred fixed.x prediction, 0 without covariates; ``C`` their mean) and the mean part
    ``e_i = u_i - v_i``, each term is ``tr(A M_i A M_i) / 2 + e_i' A e_i`` and
    ``tr(A M A M) = a² + b² - 2c² - 2 u'ACAu + 2 v'ACAv + tr(ACAC)`` with ``a = u'Au``,
    ``b = v'Av``, ``c = u'Av``: O(N p²) instead of Gamma's O(N p⁴)."""
    X = np.asarray(X, float)
    n, p = X.shape
    U = X - X.mean(axis=0)
    S = U.T @ U / n
    A = np.linalg.inv(S)
    UA = U @ A
    a = np.einsum("ij,ij->i", UA, U)
    if len(x_idx):
        F = _fixed_x_fitted(X, x_idx)
        V = F - F.mean(axis=0)
        VA = V @ A
        b = np.einsum("ij,ij->i", VA, V)
        c = np.einsum("ij,ij->i", UA, V)
        C = S - V.T @ V / n
        ACA = A @ C @ A
        quad = a * a + b * b - 2 * c * c - 2 * np.einsum("ij,ij->i", U @ ACA, U) \
            + 2 * np.einsum("ij,ij->i", V @ ACA, V) + float(np.sum(ACA * C))
        E = U - V
        E = E - E.mean(axis=0)
        means = np.einsum("ij,ij->i", E @ A, E)
    else:                                   # C = S: ACA = A, tr(ACAC) = p
        quad = a * a - 2 * a + p
        means = a
    total = 0.5 * quad + means if meanstructure else 0.5 * quad
    return float(total.mean())


def x_moment_mask(p: int, x_idx: Sequence[int], meanstructure: bool) -> np.ndarray:
    """True for the moments of fixed.x covariates alone (their variances, covariances and
    means), in the engine's moment order."""
    rows, cols = _vech_index(p)
    is_x = np.zeros(p, bool)
    is_x[list(x_idx)] = True
    mask = is_x[rows] & is_x[cols]
    return np.concatenate([mask, is_x]) if meanstructure else mask


def moment_scores(X: np.ndarray, Sigma: np.ndarray, mu: np.ndarray, meanstructure: bool) -> np.ndarray:
    """Per-case derivatives of the normal log-likelihood in the moments at ``(mu, Sigma)``:
    (N, p(p+1)/2 [+ p]). Without a mean structure ``mu`` is the sample mean (saturated)."""
    A = np.linalg.inv(Sigma)
    Y = (np.asarray(X, float) - mu) @ A
    p = Sigma.shape[0]
    rows, cols = _vech_index(p)
    G = 0.5 * (Y[:, rows] * Y[:, cols] - A[rows, cols])
    G = G * np.where(rows == cols, 1.0, 2.0)          # d/d sigma_jk counts (j,k) and (k,j)
    return np.concatenate([G, Y], axis=1) if meanstructure else G


def _group_blocks(struct: GroupStructure) -> list[slice]:
    per = struct.p * (struct.p + 1) // 2 + (struct.p if struct.meanstructure else 0)
    return [slice(g * per, (g + 1) * per) for g in range(struct.n_groups)]


# ---------------------------------------------------------------------- information matrices
def expected_information(Delta: Sequence[np.ndarray], W: Sequence[np.ndarray], fractions: np.ndarray,
                         WD: Sequence[np.ndarray] | None = None) -> np.ndarray:
    """``E = sum_g f_g Delta_g' W_g Delta_g`` (``WD``: the products ``W_g Delta_g`` when at hand)."""
    if WD is None:
        WD = [Wg @ D for D, Wg in zip(Delta, W)]
    return sum(f * D.T @ WDg for f, D, WDg in zip(fractions, Delta, WD))


def observed_information(struct: GroupStructure, theta: np.ndarray, stats: GroupStats) -> np.ndarray:
    """lavaan's observed information (``observed.information = "hessian"``): half the exact
    Hessian of lcsem's ML discrepancy (per observation)."""
    return 0.5 * hessian(struct, np.asarray(theta, float), stats, "ML")


def first_order_information(scores: Sequence[np.ndarray]) -> np.ndarray:
    """``B0 = (1/N) sum_i s_i s_i'`` from per-case parameter scores of every group."""
    S = np.concatenate(list(scores), axis=0)
    return S.T @ S / S.shape[0]


def sandwich_vcov(E: np.ndarray, B: np.ndarray, n_total: float, E_inv: np.ndarray | None = None) -> np.ndarray:
    """``E^-1 B E^-1 / N`` (``E_inv``: ``E^-1`` when at hand)."""
    Einv = np.linalg.inv(E) if E_inv is None else E_inv
    V = Einv @ B @ Einv / n_total
    return 0.5 * (V + V.T)


def huber_white_vcov(A: np.ndarray, scores: Sequence[np.ndarray]) -> np.ndarray:
    """Huber-White sandwich from the (observed) information ``A`` (per observation) and the
    per-case parameter scores (complete data or FIML alike)."""
    n_total = sum(s.shape[0] for s in scores)
    return sandwich_vcov(A, first_order_information(scores), n_total)


def satorra_bentler_traces(Delta: Sequence[np.ndarray], W: Sequence[np.ndarray], Gamma: Sequence[np.ndarray],
                           fractions: np.ndarray, E_inv: np.ndarray, second: bool = True,
                           meat: Sequence[np.ndarray] | None = None) -> tuple[float, float]:
    """``tr(U Gamma)`` and (``second``) ``tr((U Gamma)^2)`` with ``U = V - V Delta E^-1 Delta' V``,
    ``V = diag(f_g W_g)``, ``Gamma = diag(Gamma_g / f_g)`` (lavaan's "original" method).
    Without ``second`` the first trace is summed per group, ``tr(W_g Gamma_g) - f_g
    tr(E^-1 Delta_g' W_g Gamma_g W_g Delta_g)``, and the second is NaN; ``meat``: the
    matrices ``Delta_g' W_g Gamma_g W_g Delta_g`` when at hand (:func:`satorra_bentler_meat`)."""
    if not second:
        if meat is None:
            meat = satorra_bentler_meat([Wg @ Dg for Dg, Wg in zip(Delta, W)], Gamma)
        trace = 0.0
        for f, Wg, Gg, Mg in zip(fractions, W, Gamma, meat):
            trace += float(np.sum(Wg * Gg)) - f * float(np.sum(E_inv * Mg))
        return trace, float("nan")
    V = block_diag([f * Wg for f, Wg in zip(fractions, W)])
    G = block_diag([Gg / f for f, Gg in zip(fractions, Gamma)])
    D = np.concatenate(list(Delta), axis=0)
    VD = V @ D
    U = V - VD @ E_inv @ VD.T
    UG = U @ G
    return float(np.trace(UG)), float(np.sum(UG * UG.T))


def satorra_bentler_meat(WD: Sequence[np.ndarray], Gamma: Sequence[np.ndarray]) -> list[np.ndarray]:
    """``Delta_g' W_g Gamma_g W_g Delta_g`` per group from ``WD[g] = W_g Delta_g``: the middle
    of MLM's sandwich (weighted by ``f_g``) and of the second part of ``tr(U Gamma)``."""
    return [WDg.T @ Gg @ WDg for WDg, Gg in zip(WD, Gamma)]


def yuan_bentler_trace(h1_traces: Sequence[float], B0: np.ndarray, A_inv: np.ndarray) -> tuple[float, float]:
    """lavaan's Mplus variant of ``tr(U Gamma)``: ``sum_g tr(A1_g^-1 B1_g) - tr(B0 A^-1)``;
    returns it and the h0 part ``tr(B0 A^-1)``."""
    h0 = float(np.sum(B0 * A_inv.T))
    return float(np.sum(h1_traces)) - h0, h0


def block_diag(blocks: Sequence[np.ndarray]) -> np.ndarray:
    """The block-diagonal matrix of square ``blocks`` (one per group)."""
    n = sum(b.shape[0] for b in blocks)
    out = np.zeros((n, n))
    i = 0
    for b in blocks:
        out[i:i + b.shape[0], i:i + b.shape[0]] = b
        i += b.shape[0]
    return out


# ---------------------------------------------------------------------- per model
@dataclass(frozen=True)
class RobustTest:
    """A model's robust test ingredients: ``trace`` = tr(U Gamma), ``trace2`` =
    tr((U Gamma)^2) (MLMV/MLMVS), ``h1``/``h0`` traces (MLR)."""

    estimator: str
    trace: float
    trace2: float = float("nan")
    h1: float = float("nan")
    h0: float = float("nan")
    n_h1: int = 0
    n_params: int = 0


def _moments(struct: GroupStructure, theta: np.ndarray, data: GroupData):
    Sigma, mu = struct.implied(np.asarray(theta, float)[None])
    Sigma, mu = Sigma[0], mu[0]
    if not struct.meanstructure:
        mu = np.stack([x.mean(axis=0) for x in data.X])
    return Sigma, mu


def _pieces(struct: GroupStructure, theta: np.ndarray, data: GroupData, keep: np.ndarray | None = None,
            casewise: bool = False):
    """Delta_g (columns ``keep``: the parameters not held fixed) and, per group, either W_g
    (structured; MLM and relatives) or, with ``casewise`` (MLR), the per-case parameter
    scores (the other is None)."""
    Sigma, mu = _moments(struct, theta, data)
    J = struct.moment_jacobian(np.asarray(theta, float))
    if keep is not None:
        J = J[:, keep]
    Delta = [J[s] for s in _group_blocks(struct)]
    W = scores = None
    if casewise:
        scores = [moment_scores(data.X[g], Sigma[g], mu[g], struct.meanstructure) @ Delta[g]
                  for g in range(struct.n_groups)]
    else:
        W = [weight_matrix(Sigma[g], struct.meanstructure) for g in range(struct.n_groups)]
    return Delta, W, scores


def robust_analysis(estimator: str, struct: GroupStructure, theta: np.ndarray, data: GroupData, *,
                    with_vcov: bool = True, fixed: Sequence[int] = ()) -> tuple[np.ndarray | None, "RobustTest"]:
    """The robust covariance of the estimates (None when ``with_vcov`` is False) and the
    traces of the scaled test at ``theta``, sharing the Jacobian, weights, scores and
    information. ``theta`` need not be a minimum (the Satorra-Bentler 2010 difference test
    evaluates a model at a restricted model's values).

    MLM/MLMV/MLMVS: ``robust.sem`` (expected information and Gamma); MLR:
    ``robust.huber.white`` (observed information and casewise scores) and lavaan's
    ``yuan.bentler.mplus`` trace.

    ``fixed``: 0-based parameters held at their values (lavaan's fixed.x moments of
    covariates): not differentiated; their rows and columns of the covariance are 0."""
    # small dense matrices: one BLAS thread (threads contending on a loaded machine made a
    # 120 x 120 solve a thousand times slower here)
    with one_blas_thread():
        return _robust_analysis(estimator, struct, theta, data, with_vcov, fixed)


def _robust_analysis(estimator, struct, theta, data, with_vcov, fixed=()):
    keep = np.setdiff1d(np.arange(struct.k), np.asarray(list(fixed), int))
    Delta, W, scores = _pieces(struct, theta, data, keep if len(fixed) else None, casewise=estimator == "MLR")
    f = data.fractions
    n_total = float(data.n.sum())
    if estimator == "MLR":
        A = observed_information(struct, theta, data.stats())[np.ix_(keep, keep)]
        A_inv = np.linalg.inv(A)
        B0 = first_order_information(scores)
        vcov = _embed(sandwich_vcov(A, B0, n_total, A_inv), keep, struct.k) if with_vcov else None
        h1 = data.h1_traces(struct.meanstructure)
        trace, h0 = yuan_bentler_trace(h1, B0, A_inv)
        # lavaan divides the h0 trace by its count of free parameters before equality
        # constraints (every free row, shared labels counted once per row), the h1 trace by
        # the moments not of fixed.x covariates alone
        fixed_set = set(int(i) for i in fixed)
        n_rows = int(sum(1 for r in struct.row_free if r >= 0 and int(r) not in fixed_set))
        n_h1 = struct.n_moments - struct.n_groups * int(
            x_moment_mask(struct.p, data.x_idx, struct.meanstructure).sum())
        return vcov, RobustTest(estimator, trace, h1=float(np.sum(h1)), h0=h0, n_h1=n_h1, n_params=n_rows)
    WD = [Wg @ Dg for Dg, Wg in zip(Delta, W)]
    E = expected_information(Delta, W, f, WD)
    E_inv = np.linalg.inv(E)
    Gamma = data.gamma(struct.meanstructure)
    second = estimator in ("MLMV", "MLMVS")
    meat = satorra_bentler_meat(WD, Gamma) if with_vcov or not second else None
    vcov = None
    if with_vcov:
        B = sum(fg * Mg for fg, Mg in zip(f, meat))
        vcov = _embed(sandwich_vcov(E, B, n_total, E_inv), keep, struct.k)
    trace, trace2 = satorra_bentler_traces(Delta, W, Gamma, f, E_inv, second=second, meat=meat)
    return vcov, RobustTest(estimator, trace, trace2)


def _embed(V: np.ndarray, keep: np.ndarray, k: int) -> np.ndarray:
    """``V`` of the parameters ``keep`` as a (k, k) matrix, 0 for the fixed ones."""
    if keep.size == k:
        return V
    out = np.zeros((k, k))
    out[np.ix_(keep, keep)] = V
    return out


def robust_vcov(estimator: str, struct: GroupStructure, theta: np.ndarray, data: GroupData) -> np.ndarray:
    """Robust covariance of the estimates (see :func:`robust_analysis`)."""
    return robust_analysis(estimator, struct, theta, data)[0]


def robust_test(estimator: str, struct: GroupStructure, theta: np.ndarray, data: GroupData,
                fixed: Sequence[int] = ()) -> "RobustTest":
    """The traces of ``estimator``'s scaled test at ``theta`` (see :func:`robust_analysis`)."""
    return robust_analysis(estimator, struct, theta, data, with_vcov=False, fixed=fixed)[1]


def baseline_rows(observed: Sequence[str], n_groups: int, meanstructure: bool,
                  x_moments: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
                  x_idx: Sequence[int] = ()) -> tuple[ParRow, ...]:
    """lavaan's independence model: per group every variance (and, with means, every
    intercept) free; with fixed.x covariates (positions ``x_idx``) their variances,
    covariances (and means) fixed at the group's sample values ``x_moments[g] = (cov, mean)``."""
    rows, k = [], 0
    xs = list(x_idx)
    for g in range(1, n_groups + 1):
        for i, v in enumerate(observed):
            if i in xs:
                cov = x_moments[g - 1][0]
                for j in xs[xs.index(i):]:
                    rows.append(ParRow(v, "~~", observed[j], "", 0, float(cov[i, j]), False, g))
            else:
                k += 1
                rows.append(ParRow(v, "~~", v, "", k, float("nan"), False, g))
        if meanstructure:
            for i, v in enumerate(observed):
                if i in xs:
                    rows.append(ParRow(v, "~1", "", "", 0, float(x_moments[g - 1][1][i]), False, g))
                else:
                    k += 1
                    rows.append(ParRow(v, "~1", "", "", k, float("nan"), False, g))
    return tuple(rows)


@lru_cache(maxsize=32)
def independence_structure(observed: tuple[str, ...], n_groups: int, meanstructure: bool) -> GroupStructure:
    """lavaan's independence model without fixed.x covariates (:func:`baseline_rows`), built
    once per variable set (a GroupStructure is not changed by its users)."""
    return GroupStructure(baseline_rows(observed, n_groups, meanstructure), tuple(observed), (),
                          n_groups=n_groups, meanstructure=meanstructure)


def baseline_test(estimator: str, data: GroupData, meanstructure: bool) -> RobustTest:
    """:func:`robust_test` of lavaan's independence model (:func:`baseline_rows`) at its
    estimates, in closed form from the data of each group.

    The model's parameters are moments themselves (the variances and, with means, the means
    of the variables that are not fixed.x covariates; the covariates keep their sample
    moments), so ``Delta_g`` selects the free moments ``P`` and, at the estimates
    (``Sigma_g`` diagonal but for the covariates' block), the information is diagonal.

    * MLR: ``A`` has ``f_g / (2 s_j²)`` (variances) and ``f_g / s_j`` (means), the casewise
      scores are ``((z_ij² - s_j) / (2 s_j²), z_ij / s_j)`` (``z`` centred), so ``tr(B0 A^-1)``
      is ``sum_g sum_j [mean_i (z_ij² - s_j)² / (2 s_j²) + mean_i z_ij² / s_j]``.
    * MLM, MLMV, MLMVS: ``E`` is block diagonal over groups, so ``U Gamma`` is too, with
      blocks ``M_g Gamma_g``, ``M_g = W_g - W_g P (P' W_g P)^-1 P' W_g``; without covariates
      ``W_g`` is diagonal and ``M_g`` keeps its covariance entries ``1 / (s_i s_j)``.

    Equal to :func:`robust_test` on :func:`independence_structure` (the tests check it)."""
    xs = list(data.x_idx)
    n_x_moments = int(x_moment_mask(data.X[0].shape[1], xs, meanstructure).sum()) if len(data.X) else 0
    n_free = 0
    if estimator == "MLR":
        h0 = 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            for x in data.X:
                z = np.delete(x, xs, axis=1)
                z = z - z.mean(axis=0)
                z2 = z * z
                s = z2.mean(axis=0)
                h0 += float(np.sum(np.mean((z2 - s) ** 2, axis=0) / (2 * s * s)))
                if meanstructure:
                    h0 += float(np.sum(z2.mean(axis=0) / s))
                n_free += s.size * (2 if meanstructure else 1)
        h1 = data.h1_traces(meanstructure)
        p = data.X[0].shape[1] if len(data.X) else 0
        n_moments = p * (p + 1) // 2 + (p if meanstructure else 0)
        return RobustTest(estimator, float(np.sum(h1)) - h0, h1=float(np.sum(h1)), h0=h0,
                          n_h1=len(data.X) * (n_moments - n_x_moments), n_params=n_free)
    trace, trace2 = 0.0, 0.0
    second = estimator in ("MLMV", "MLMVS")
    with one_blas_thread():
        for x, Gamma in zip(data.X, data.gamma(meanstructure)):
            p = x.shape[1]
            var = x.var(axis=0)
            rows, cols = _vech_index(p)
            if xs:
                Sigma = np.diag(var)
                Sigma[np.ix_(xs, xs)] = np.cov(x[:, xs], rowvar=False, bias=True).reshape(len(xs), len(xs))
                W = weight_matrix(Sigma, meanstructure)
                free = np.ones(p, bool)
                free[xs] = False
                P = np.flatnonzero(np.concatenate([(rows == cols) & free[rows], free] if meanstructure
                                                  else [(rows == cols) & free[rows]]))
                WP = W[:, P]
                M = W - WP @ np.linalg.solve(W[np.ix_(P, P)], WP.T)
                trace += float(np.sum(M * Gamma))
                MG = M @ Gamma if second else None
            else:
                # Sigma and so W are diagonal, and the projection takes out the free moments:
                # M = diag(m), m = 1 / (s_i s_j) on the covariances (i < j), 0 elsewhere
                m = np.zeros(Gamma.shape[0])
                off = np.flatnonzero(rows != cols)
                with np.errstate(divide="ignore", invalid="ignore"):
                    m[off] = 1.0 / (var[rows[off]] * var[cols[off]])
                trace += float(np.sum(m * np.diag(Gamma)))
                MG = m[:, None] * Gamma if second else None
            if second:
                trace2 += float(np.sum(MG * MG.T))
    return RobustTest(estimator, trace, trace2 if second else float("nan"))


# ---------------------------------------------------------------------- scaled statistics and indices
def scaled_statistic(test: RobustTest, chisq: float, df: float) -> dict[str, float]:
    """lavaan's scaled statistic of ``test``: ``stat``, ``df``, ``pvalue``, ``scaling_factor``
    and (MLMV) ``shift``; NaN when df = 0 (lavaan)."""
    nan = float("nan")
    if not df > 0:        # lavaan: the standard statistic, no p-value or scaling factor
        return dict(stat=float(chisq), df=float(df), pvalue=nan, scaling_factor=nan, shift=nan)
    if not np.isfinite(test.trace):
        return dict(stat=nan, df=df, pvalue=nan, scaling_factor=nan, shift=nan)
    kind = ROBUST_TESTS[test.estimator]
    if kind == "scaled.shifted":
        stat, a, shift = scaled_shifted(chisq, df, test.trace, test.trace2)
        df_scaled, factor = df, 1.0 / a
    elif kind == "mean.var.adjusted":
        df_scaled = test.trace ** 2 / test.trace2
        factor = test.trace / df_scaled
        stat, shift = chisq / factor, nan
    else:
        factor = test.trace / df
        if factor < 0:
            factor = nan
        stat, df_scaled, shift = chisq / factor, df, nan
    return dict(stat=float(stat), df=float(df_scaled), pvalue=_chisq_sf(stat, df_scaled),
                scaling_factor=float(factor), shift=float(shift))


def _c_hat(kind: str, scaled: dict[str, float], df: float) -> float:
    """lavaan's ``c.hat`` of the robust CFI/TLI (Brosseau-Liard & Savalei, 2014)."""
    if not df > 0:
        return float("nan")
    if kind == "scaled.shifted":
        return scaled["scaling_factor"] * (df - scaled["shift"]) / df
    return scaled["scaling_factor"]


def _finite(*values: float) -> bool:
    """Whether every value is a finite number (scalars; cheaper than ``np.isfinite`` of a list)."""
    return all(math.isfinite(v) for v in values)


def _cfi(x2, df, x20, df0, c=1.0, c0=1.0) -> float:
    if not _finite(x2, df, x20, df0, c, c0):       # lavaan: NA in, NA out
        return float("nan")
    t1 = max(x2 - c * df, 0.0)
    t2 = max(x2 - c * df, x20 - c0 * df0, 0.0)
    if abs(t1) <= 1.5e-8 and abs(t2) <= 1.5e-8:    # lavaan: both (nearly) 0
        return 1.0
    return 1.0 - t1 / t2


def _tli(x2, df, x20, df0, c=1.0, c0=1.0) -> float:
    if not _finite(x2, df, x20, df0, c, c0):
        return float("nan")
    t1 = (x2 - c * df) * df0
    t2 = (x20 - c0 * df0) * df
    if df > 0 and abs(t2) > 0:
        return 1.0 - t1 / t2
    if not np.isfinite(t1) or not np.isfinite(t2):
        return float("nan")
    return 1.0


def _rmsea(x2, df, n, G, c=1.0) -> float:
    if not _finite(x2, df):
        return float("nan")
    if not df > 0:
        return 0.0
    if not math.isfinite(c):
        return float("nan")
    return float(np.sqrt(max(x2 / n / df - c / n, 0.0)) * np.sqrt(G))


def scaled_shifted(stat: float, df: float, trace: float, trace2: float) -> tuple[float, float, float]:
    """Satorra's (2000) scaled-and-shifted statistic ``a T + b`` with ``a = sqrt(df /
    tr(UG)^2)``, ``b = df - a tr(UG)``: ``(a T + b, a, b)`` (lavaan's scaled.shifted test
    and difference test)."""
    a = float(np.sqrt(df / trace2))
    b = float(df - a * trace)
    return float(stat * a + b), a, b


def _chisq_sf(x2, df) -> float:
    return float(_lazy.chi2_sf(x2, df))


def scaled_fit_measures(model_test: RobustTest, base_test: RobustTest, *, chisq: float, df: float,
                        chisq0: float, df0: float, n_total: float, n_groups: int) -> dict[str, float]:
    """Every scaled and robust fit index lavaan's ``fitMeasures`` reports for the robust
    estimator of ``model_test`` (names with underscores; see :data:`ROBUST_INDEX_NAMES`).

    ``*_scaled``: the indices of the scaled statistics (RMSEA ``scaled``: the unscaled χ² on
    ``tr(U Gamma)`` degrees of freedom, or the scaled-shifted statistic on df, as lavaan).
    ``*_robust`` (Brosseau-Liard, Savalei & Li, 2012; Brosseau-Liard & Savalei, 2014): the
    population-corrected CFI/TLI/RMSEA with ``c.hat``; not defined for MLMVS (NaN, as lavaan).
    """
    kind = ROBUST_TESTS[model_test.estimator]
    m = scaled_statistic(model_test, chisq, df)
    b = scaled_statistic(base_test, chisq0, df0)
    G, N = n_groups, n_total
    out = {
        "chisq_scaled": m["stat"], "df_scaled": m["df"], "pvalue_scaled": m["pvalue"],
        "chisq_scaling_factor": m["scaling_factor"],
        "baseline_chisq_scaled": b["stat"], "baseline_df_scaled": b["df"], "baseline_pvalue_scaled": b["pvalue"],
        "baseline_chisq_scaling_factor": b["scaling_factor"],
        "cfi_scaled": _cfi(m["stat"], m["df"], b["stat"], b["df"]),
        "tli_scaled": _tli(m["stat"], m["df"], b["stat"], b["df"]),
    }
    if kind == "scaled.shifted":
        out["chisq_shift_parameter"] = m["shift"]
    if kind == "yuan.bentler.mplus":      # lavaan: not computed when df = 0
        out["scaling_factor_h1"] = model_test.h1 / model_test.n_h1 if df > 0 else float("nan")
        out["scaling_factor_h0"] = (model_test.h0 / model_test.n_params if df > 0 and model_test.n_params
                                    else float("nan"))
    # RMSEA of the scaled test
    if kind == "scaled.shifted":
        x2s, dfs = m["stat"], df
    else:
        x2s, dfs = chisq, (model_test.trace if df > 0 and np.isfinite(model_test.trace) and model_test.trace != 0
                           else float("nan"))
    out["rmsea_scaled"] = _rmsea(x2s, dfs, N, G) if np.isfinite(dfs) else float("nan")
    out["rmsea_ci_lower_scaled"], out["rmsea_ci_upper_scaled"] = rmsea_interval(x2s, dfs, N, groups=G)
    out["rmsea_pvalue_scaled"] = rmsea_close(x2s, dfs, N, groups=G)
    if kind != "mean.var.adjusted":
        c_model = _c_hat(kind, m, df)
        c_base = _c_hat(kind, b, df0)
        if kind == "scaled.shifted" and not df > 0:
            c_model = c_base = 1.0      # lavaan 0.6.14: no shift when df = 0, so the plain formulas
        out["cfi_robust"] = _cfi(chisq, df, chisq0, df0, c_model, c_base)
        out["tli_robust"] = _tli(chisq, df, chisq0, df0, c_model, c_base)
        out["rmsea_robust"] = _rmsea(chisq, df, N, G, c_model)
        c = m["scaling_factor"]
        out["rmsea_ci_lower_robust"], out["rmsea_ci_upper_robust"] = rmsea_interval(m["stat"], df, N, groups=G,
                                                                                    c=c)
        out["rmsea_pvalue_robust"] = rmsea_close(m["stat"], df, N, groups=G, c=c)
    return out


# ---------------------------------------------------------------------- nested models
def satorra_2000_difference(free: GroupStructure, free_theta: np.ndarray, restricted: GroupStructure,
                            restricted_theta: np.ndarray, data: GroupData, chisq_diff: float,
                            df_diff: int, fixed_free: Sequence[int] = (),
                            fixed_restricted: Sequence[int] = ()) -> dict[str, float]:
    """lavaan's ``satorra.2000`` scaled-and-shifted difference test (``lavTestLRT``'s default
    for MLMV/MLMVS; ``A.method = "delta"``, ``H1 = TRUE``).

    With ``Delta1``/``Delta0`` the moment Jacobians of the less restricted and the restricted
    model at their estimates, ``H = Delta1^+ Delta0`` and ``A`` a basis of the orthogonal
    complement of ``H``'s columns (the restrictions, ``A H = 0``); ``P`` the expected
    information of the less restricted model, ``M = P^-1 A'(A P^-1 A')^+ A P^-1``,
    ``U = V Delta1 M Delta1' V`` (``V = diag(W_g)``), ``Gamma = diag(f_g Gamma_g)``:
    ``a = sqrt(df / tr((U Gamma)^2))``, ``b = df - a tr(U Gamma)``, statistic
    ``a (T0 - T1) + b`` on ``df`` degrees of freedom. ``fixed_*``: fixed.x parameters of
    each model (not differentiated)."""
    with one_blas_thread():
        keep1 = np.setdiff1d(np.arange(free.k), np.asarray(list(fixed_free), int))
        keep0 = np.setdiff1d(np.arange(restricted.k), np.asarray(list(fixed_restricted), int))
        Delta1, W, _ = _pieces(free, free_theta, data, keep1)
        J0 = restricted.moment_jacobian(np.asarray(restricted_theta, float))[:, keep0]
        f = data.fractions
        D1 = np.concatenate(Delta1, axis=0)
        H = np.linalg.pinv(D1) @ J0
        Q, R = np.linalg.qr(H, mode="complete")
        rank = int(np.linalg.matrix_rank(H))
        A = Q[:, rank:].T
        P_inv = np.linalg.inv(expected_information(Delta1, W, f))
        APA = A @ P_inv @ A.T
        M = P_inv @ A.T @ np.linalg.pinv(APA) @ A @ P_inv
        V = block_diag(list(W))
        G = block_diag([fg * Gg for fg, Gg in zip(f, data.gamma(free.meanstructure))])
        VD = V @ D1
        UG = VD @ M @ VD.T @ G
        trace, trace2 = float(np.trace(UG)), float(np.sum(UG * UG.T))
    stat, a, b = scaled_shifted(chisq_diff, df_diff, trace, trace2)
    return dict(stat=float(stat), df=float(df_diff), pvalue=_chisq_sf(stat, df_diff), a=float(a), b=float(b),
                trace=trace, trace2=trace2)
