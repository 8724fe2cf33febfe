"""Robust ML with missing data (lavaan's ``estimator = "MLR", missing = "ml"``): the FIML
estimates with Huber-White standard errors and the Yuan-Bentler (Mplus variant) scaled test.

lavaan 0.6.14's semantics (``se = "robust.huber.white"``, ``test = "yuan.bentler.mplus"``,
``information = "observed"``, ``h1.information = "structured"``):

* ``A``: the observed information of the FIML log-likelihood per observation (half the
  Hessian of :class:`~lcsem.engine.fiml.FIMLObjective`'s ``F``); ``s_i``: every row's
  gradient of its own observed-data log-likelihood; ``vcov = A^-1 B0 A^-1 / N`` with
  ``B0 = (1/N) sum_i s_i s_i'`` (:func:`lcsem.inference.robust.huber_white_vcov`).
* ``tr(U Gamma) = sum_g tr(A1_g^-1 B1_g) - tr(B0 A^-1)`` with ``A1_g``/``B1_g`` the observed
  and first-order information of the saturated model of group ``g`` (free means and
  covariances) from its casewise likelihood, evaluated at the moments lavaan's
  ``h1.information`` names; the trace is invariant to how the saturated model is
  parameterised, so it is built as a RAM model of free (co)variances and means.
* The baseline (independence) model's test the same way at its FIML estimates, so that the
  scaled CFI/TLI/RMSEA follow :func:`lcsem.inference.robust.scaled_fit_measures`.
* The robust CFI/TLI/RMSEA are lavaan's FIML-corrected ones (Savalei & Zhang's FIML-C,
  version V3, ``lav_fit_fiml_corrected``; see :func:`fiml_corrected`), not the
  complete-data formulas with the Yuan-Bentler scaling factor.
* Exogenous covariates under ``fixed.x``: their moments are parameters of the FIML fit here
  (estimated at their sample values) but not in lavaan. The log-likelihood separates into
  their part and the rest, so their share of the traces is the same in every model and
  cancels in the scaled tests; lavaan's ``scaling.factor.h1``/``.h0`` leave it out
  (:func:`covariate_trace`), its baseline keeps their covariances, and its FIML-C leaves
  their moments out of every information matrix and their parameters out of ``Delta``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, NamedTuple, Sequence

import numpy as np

from .._warnings import warn
from ..data.missing import MissingPatterns, em_moments, missing_patterns, pattern_inverse
from ..engine.fiml import FIMLObjective
from ..engine.structure import GroupStructure
from ..exceptions import ArgumentError, ScaledTestWarning
from ..inference.fit_indices import rmsea_close, rmsea_interval
from ..inference.grouped import fixed_x_ids
from ..inference.robust import (RobustTest, _cfi, _rmsea, _tli, baseline_rows,
                                first_order_information, scaled_fit_measures, weight_matrix,
                                yuan_bentler_trace, block_diag, independence_structure)
from ..results.fit_result import FitResult
from ..spec.partable import ParRow
from .fiml import covariate_columns, independence_moments
from .robust_fit import _estimates, result_structure, with_indices

#: robust indices that lavaan computes by its FIML correction with missing data
FIML_CORRECTED = ("cfi_robust", "tli_robust", "rmsea_robust", "rmsea_ci_lower_robust", "rmsea_ci_upper_robust",
                  "rmsea_pvalue_robust")

__all__ = ["fiml_patterns", "h1_moments", "h1_information", "saturated_observed_information", "fiml_robust_analysis", "fiml_baseline_test", "covariate_trace", "fiml_robust_result", "fiml_robust_fields", "fiml_corrected", "FIML_CORRECTED"]


def fiml_patterns(res: FitResult) -> tuple[MissingPatterns, ...]:
    """The missing-data patterns of every group of a FIML result, rebuilt from its data."""
    if res.data is None:
        raise ArgumentError("res: a robust correction needs the respondents' raw data, but this result "
                            "has none; fit with data=...")
    cols = tuple(res.model.observed)
    return tuple(missing_patterns(p.to_numpy(float), cols, p.index) for p in res.group_frames())


def _saturated_structure(observed: tuple[str, ...]) -> GroupStructure:
    """One group's saturated model: every variance, covariance and mean free (theta: the
    upper triangle of Sigma row by row, then mu)."""
    rows, k = [], 0
    p = len(observed)
    for i in range(p):
        for j in range(i, p):
            k += 1
            rows.append(ParRow(observed[i], "~~", observed[j], "", k, float("nan"), False, 1))
    for v in observed:
        k += 1
        rows.append(ParRow(v, "~1", "", "", k, float("nan"), False, 1))
    return GroupStructure(tuple(rows), tuple(observed), (), n_groups=1, meanstructure=True)


def _fit_h1(res: FitResult, patterns: tuple[MissingPatterns, ...]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each group's EM moments as the FIML fit stored them (its sample moments), or by EM
    again when the result does not hold them."""
    p = len(res.model.observed)
    labels = list(res.group_labels)
    try:
        if labels:
            out = [(res.sample_cov.loc[g].to_numpy(float), res.sample_mean.loc[g].to_numpy(float)) for g in labels]
        else:
            out = [(res.sample_cov.to_numpy(float), res.sample_mean.to_numpy(float))]
    except (AttributeError, KeyError):
        out = []
    if (len(out) == len(patterns) and all(S.shape == (p, p) and m.shape == (p,) for S, m in out)
            and all(np.isfinite(S).all() and np.isfinite(m).all() for S, m in out)):
        return out
    return h1_moments(patterns)


def h1_moments(patterns: tuple[MissingPatterns, ...]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each group's EM (saturated) moments ``(Sigma, mu)``."""
    out = []
    for mp in patterns:
        mean, cov, _ = em_moments(mp)
        out.append((cov, mean))
    return out


class H1Information(NamedTuple):
    """One group's saturated-model information: observed ``A`` and first-order ``B`` (per
    observation), ``A``'s inverse and ``tr(A^-1 B)`` (its Yuan-Bentler trace)."""

    A: np.ndarray
    B: np.ndarray
    A_inv: np.ndarray
    trace: float


def h1_information(patterns: tuple[MissingPatterns, ...], h1: list[tuple[np.ndarray, np.ndarray]]
                   ) -> list[H1Information]:
    """Per group the saturated model's observed information ``A1`` and first-order
    information ``B1`` (per observation) of the incomplete data at ``h1[g] = (Sigma, mu)``,
    moments in the engine's order (vech of Sigma row by row, then the means)."""
    out = []
    for mp, (Sigma, mu) in zip(patterns, h1):
        A = saturated_observed_information(mp, Sigma, mu)
        B = first_order_information([saturated_scores(mp, Sigma, mu)])
        A_inv = np.linalg.inv(A)
        out.append(H1Information(A, B, A_inv, float(np.sum(A_inv * B.T))))
    return out


def saturated_observed_information(patterns: MissingPatterns, Sigma: np.ndarray, mu: np.ndarray,
                                   moments: np.ndarray | None = None) -> np.ndarray:
    """Observed information per observation (half the Hessian of ``F = -2 loglik / N``) of one
    group's saturated model at ``(mu, Sigma)`` in the moments (vech of Sigma row by row, then
    mu), in closed form: the saturated model's moments are its parameters, so the Hessian
    has no curvature term (the same matrix as ``FIMLObjective.observed_information`` on the
    saturated RAM model, without its finite differences).

    Per pattern (``c_j = n_j / N``, ``W`` the inverse of the observed block embedded in zeros,
    ``d = m_j - mu`` on the observed variables, ``M = W (S_j + d d') W``) and ``E_a`` the
    symmetric unit matrix of the pair ``a``: ``-tr(W E_a W E_b) + tr(E_a W E_b M) + tr(E_a M E_b W)``
    between covariances, ``2 (W E_b W d)`` between a mean and a covariance, ``2 W`` between means.
    ``moments``: only these (co)variances (positions in the vech), then all means."""
    obs = np.asarray(patterns.observed, bool)
    p = Sigma.shape[0]
    W = pattern_inverse(np.asarray(Sigma, float), obs[:, :, None] & obs[:, None, :])       # (J, p, p)
    c = np.asarray(patterns.counts, float) / float(patterns.n_obs)
    d = np.where(obs, patterns.means - mu, 0.0)
    M = W @ (patterns.covs + d[:, :, None] * d[:, None, :]) @ W
    i, k = np.triu_indices(p)
    if moments is not None:
        i, k = i[moments], k[moments]
    half = np.where(i == k, 0.5, 1.0)             # E_a has one unit entry on the diagonal, two off it
    # sum_j c_j [-tr(W E_a W E_b) + tr(E_a W E_b M) + tr(E_a M E_b W)] gathered from one (p^2, p^2)
    # matrix G[(r, s), (t, u)] = sum_j c_j [-W_rs W_tu + W_rs M_tu + M_rs W_tu] (two products over
    # the patterns instead of (J, q, q) gathers): tr(E_a X E_b Y) with both unit entries of
    # every E is X[k_a, i_b] Y[k_b, i_a] + X[k_a, k_b] Y[i_b, i_a] + X[i_a, i_b] Y[k_b, k_a]
    # + X[i_a, k_b] Y[i_b, k_a]
    J = W.shape[0]
    Wf, Mf = W.reshape(J, p * p), M.reshape(J, p * p)
    G = Wf.T @ (c[:, None] * (Mf - Wf)) + Mf.T @ (c[:, None] * Wf)
    a_, b_ = np.arange(i.size)[:, None], np.arange(i.size)[None, :]
    ia, ka, ib, kb = i[a_], k[a_], i[b_], k[b_]
    H_cov = (G[ka * p + ib, kb * p + ia] + G[ka * p + kb, ib * p + ia] + G[ia * p + ib, kb * p + ka]
             + G[ia * p + kb, ib * p + ka]) * np.outer(half, half)
    Wd = np.einsum("jab,jb->ja", W, d)
    # X[v, r, s] = sum_j c_j W_j[v, r] (W_j d_j)[s]
    X = ((W * c[:, None, None]).reshape(J, p * p).T @ Wd).reshape(p, p, p)
    cross = 2.0 * (X[:, i, k] + X[:, k, i]) * half[None]
    q = i.size
    H = np.zeros((q + p, q + p))
    H[:q, :q] = H_cov
    H[q:, :q] = cross
    H[:q, q:] = cross.T
    H[q:, q:] = 2.0 * np.einsum("j,jab->ab", c, W)
    return 0.5 * H


def saturated_scores(patterns: MissingPatterns, Sigma: np.ndarray, mu: np.ndarray,
                     moments: np.ndarray | None = None) -> np.ndarray:
    """Every row's gradient of its log-likelihood in the saturated model's moments (vech of
    Sigma row by row, then mu) at ``(Sigma, mu)``: (n, p(p+1)/2 + p), in closed form
    (``d l_i / d Sigma = 1/2 (W x x' W - W)``, counted twice off the diagonal; ``d l_i / d mu = W x``),
    the same as ``FIMLObjective.casewise_scores`` on the saturated RAM model; ``moments``: only
    these (co)variances (positions in the vech), then all means."""
    obs = np.asarray(patterns.observed, bool)
    p = Sigma.shape[0]
    W = pattern_inverse(np.asarray(Sigma, float), obs[:, :, None] & obs[:, None, :])
    Wi = W[np.asarray(patterns.case_pattern)]                                       # (n, p, p)
    x = np.where(np.isnan(patterns.values), 0.0, patterns.values - mu[None])
    Wx = np.einsum("nab,nb->na", Wi, x)
    i, k = np.triu_indices(p)
    if moments is not None:
        i, k = i[moments], k[moments]
    G = 0.5 * (Wx[:, i] * Wx[:, k] - Wi[:, i, k])
    return np.concatenate([np.where(i == k, 1.0, 2.0)[None] * G, Wx], axis=1)


def fiml_robust_analysis(struct: GroupStructure, theta: np.ndarray, patterns: tuple[MissingPatterns, ...], *,
                         h1: list[tuple[np.ndarray, np.ndarray]] | None = None,
                         h1_info: list[H1Information] | None = None,
                         with_vcov: bool = True, information: np.ndarray | None = None,
                         information_inverse: np.ndarray | None = None,
                         scores: list[np.ndarray] | None = None) -> tuple[np.ndarray | None, RobustTest]:
    """Huber-White covariance of the FIML estimates (None without ``with_vcov``) and the
    Yuan-Bentler (Mplus) traces at ``theta``.

    ``h1``: per group the ``(Sigma, mu)`` at which the saturated model's information is
    evaluated; by default the EM estimates (:func:`h1_moments`). lavaan's Mplus trace uses the
    saturated model's own estimates whatever ``h1.information`` says (at the model-implied
    moments the baseline model's saturated information need not be positive definite).
    ``h1_info``: the saturated model's information per group (:func:`h1_information`), when
    already computed. ``information`` (the observed information per observation ``A``) or its
    inverse, and ``scores`` (casewise, per group), when already known, are used as they are."""
    theta = np.asarray(theta, float)
    objective = FIMLObjective(struct, patterns)
    if information_inverse is not None:
        A_inv = np.asarray(information_inverse, float)
    else:
        A = 0.5 * objective.observed_information(theta) if information is None else np.asarray(information, float)
        A_inv = np.linalg.inv(A)
    B0 = first_order_information(objective.casewise_scores(theta) if scores is None else scores)
    if with_vcov:
        vcov = A_inv @ B0 @ A_inv / objective.N
        vcov = 0.5 * (vcov + vcov.T)
    else:
        vcov = None
    if h1_info is None:
        h1_info = h1_information(patterns, h1 if h1 is not None else h1_moments(patterns))
    traces = [h.trace for h in h1_info]
    trace, h0 = yuan_bentler_trace(traces, B0, A_inv)
    n_rows = int(sum(1 for r in struct.row_free if r >= 0))
    return vcov, RobustTest("MLR", trace, h1=float(np.sum(traces)), h0=h0, n_h1=struct.n_moments,
                            n_params=n_rows)


def fiml_baseline_test(patterns: tuple[MissingPatterns, ...],
                       h1_info: list[H1Information] | None = None, x_idx: tuple[int, ...] = ()) -> RobustTest:
    """The Yuan-Bentler traces of lavaan's independence model fitted by FIML (each variable's
    available-case mean and ML variance; the fixed.x covariates ``x_idx`` keep their sample
    covariances, which enter as parameters here: their share of the trace equals the
    saturated model's and cancels, :func:`covariate_trace`)."""
    observed = patterns[0].columns
    G = len(patterns)
    struct = independence_structure(tuple(observed), G, True)
    p = len(observed)
    n = np.array([float(mp.n_obs) for mp in patterns])
    # the independence model's parameters are moments of the saturated model (each group's
    # variances (and covariates' covariances), then its means): its information and scores are
    # the saturated model's at the baseline moments, restricted to those; groups weighted by n_g / N
    i, k = np.triu_indices(p)
    x = np.zeros(p, dtype=bool)
    x[list(x_idx)] = True
    chosen = np.flatnonzero((i == k) | (x[i] & x[k]))
    width = chosen.size + p
    theta, blocks, scores = [], [], []
    for g, mp in enumerate(patterns):
        mean, cov = independence_moments(mp, x_idx)
        theta.extend(cov[i[chosen], k[chosen]])
        theta.extend(mean)
        A_g = saturated_observed_information(mp, cov, mean, moments=chosen)
        blocks.append(n[g] / n.sum() * A_g)
        s_g = np.zeros((mp.n_obs, G * width))
        s_g[:, g * width:(g + 1) * width] = saturated_scores(mp, cov, mean, moments=chosen)
        scores.append(s_g)
    return fiml_robust_analysis(struct, np.asarray(theta), patterns, h1_info=h1_info, with_vcov=False,
                                information=block_diag(blocks), scores=scores)[1]


def covariate_trace(patterns: tuple[MissingPatterns, ...], x_idx: tuple[int, ...]) -> tuple[float, int]:
    """The fixed.x covariates' share of the Yuan-Bentler traces and its number of moments:
    ``tr(A^-1 B)`` of their own saturated model (their means and covariances, observed in
    every row used), summed over groups. The log-likelihood separates into the covariates'
    part and the rest, so this share is the same in the saturated model, the model and the
    baseline; lavaan leaves it out of ``scaling.factor.h1`` and ``.h0``."""
    if not x_idx:
        return 0.0, 0
    cols = tuple(patterns[0].columns[j] for j in x_idx)
    total = 0.0
    for mp in patterns:
        values = mp.values[:, list(x_idx)]
        mean = values.mean(axis=0)
        cov = (values - mean).T @ (values - mean) / values.shape[0]
        total += h1_information((missing_patterns(values, cols),), [(cov, mean)])[0].trace
    q = len(x_idx)
    return total, len(patterns) * (q * (q + 1) // 2 + q)


def fiml_robust_result(res: FitResult) -> FitResult:
    """``res`` (a FIML fit) with lavaan's MLR corrections: Huber-White standard errors and the
    Yuan-Bentler scaled test with the scaled and robust fit indices."""
    return replace(res, **fiml_robust_fields(res))


def fiml_robust_fields(res: FitResult) -> dict[str, Any]:
    """The fields :func:`fiml_robust_result` changes (see
    :func:`~lcsem.estimation.robust_fit.robust_fields`)."""
    struct, rows = result_structure(res)
    patterns = fiml_patterns(res)
    theta = np.asarray(res.theta, float)
    vcov = np.asarray(res.vcov, float)
    fi = res.fit_indices
    identified = struct.k and np.isfinite(vcov).all()
    h1 = _fit_h1(res, patterns)
    try:
        h1_info = h1_information(patterns, h1)
        # the inverse of the fit's observed information (vcov = 2 / N inv(Hessian of F) and
        # A = Hessian / 2, so A^-1 = N vcov)
        A_inv = (float(sum(mp.n_obs for mp in patterns)) * vcov
                 if identified and res.information == "observed" else None)
        robust_vcov, test = fiml_robust_analysis(struct, theta, patterns, h1_info=h1_info,
                                                 with_vcov=bool(identified), information_inverse=A_inv)
    except np.linalg.LinAlgError:
        warn("MLR: the information matrix cannot be inverted, so the robust standard errors and the scaled "
             "test are not available (NaN); the model is probably not identified: fix parameters or add "
             "indicators", ScaledTestWarning, stacklevel=4)
        robust_vcov, test, h1_info = np.full((struct.k, struct.k), np.nan), RobustTest("MLR", float("nan")), None
    x_idx = covariate_columns(res.model)
    if x_idx:      # lavaan's scaling.factor.h1 / .h0 leave out the covariates' share
        share, count = covariate_trace(patterns, x_idx)
        test = replace(test, h1=test.h1 - share, h0=test.h0 - share, n_h1=test.n_h1 - count,
                       n_params=test.n_params - count)
    base = (fiml_baseline_test(patterns, h1_info, x_idx) if h1_info is not None
            else RobustTest("MLR", float("nan")))
    if robust_vcov is not None:
        vcov = robust_vcov
    n_total = float(sum(mp.n_obs for mp in patterns))
    extra = scaled_fit_measures(test, base, chisq=float(fi["chisq"]), df=float(fi["df"]),
                                chisq0=float(fi["baseline_chisq"]), df0=float(fi["baseline_df"]),
                                n_total=n_total, n_groups=struct.n_groups)
    fixed = sorted(f - 1 for f in fixed_x_ids(rows, res.model))
    extra.update(_fiml_robust_indices(struct, theta, patterns, h1, h1_info, n_total, x_idx, fixed))
    return dict(estimator="MLR", vcov=vcov, fit_indices=with_indices(fi, extra),
                estimates=_estimates(res, struct, rows, theta, vcov, fixed))


# ---------------------------------------------------------------------- FIML-corrected robust indices


def _ml_discrepancy(Sigma: np.ndarray, mu: np.ndarray, S: np.ndarray, m: np.ndarray) -> float:
    """Complete-data ML discrepancy with means, ``log|Sigma| - log|S| + tr(S Sigma^-1) - p +
    (m - mu)' Sigma^-1 (m - mu)``."""
    inv = np.linalg.inv(Sigma)
    d = m - mu
    return float(np.linalg.slogdet(Sigma)[1] - np.linalg.slogdet(S)[1] + np.sum(S * inv) - S.shape[0]
                 + d @ inv @ d)


def _correction_parts(Wm: list, Wm_inv: list, Wc: list, Gamma: list, f: np.ndarray) -> tuple:
    """What :func:`_correction_trace` shares between the model and the baseline model: the
    block-diagonal ``Wm`` (weighted by ``f_g``) and ``Gamma``, ``X = Wm^-1 Wc Wm^-1`` (``Wm^-1``
    weighted by ``1 / f_g``, ``Wc`` by ``f_g``), ``X Wm Gamma`` and ``tr(Wm X Wm Gamma)``."""
    Wm_all = block_diag([fg * w for fg, w in zip(f, Wm)])
    Wmi_all = block_diag([w / fg for fg, w in zip(f, Wm_inv)])
    Wc_all = block_diag([fg * w for fg, w in zip(f, Wc)])
    G_all = block_diag(Gamma)
    X = Wmi_all @ Wc_all @ Wmi_all
    XWG = X @ Wm_all @ G_all
    return Wm_all, X, G_all, XWG, float(np.sum(XWG * Wm_all.T))


def _correction_trace(struct: GroupStructure, theta: np.ndarray, parts: tuple, fixed: Sequence[int] = (),
                      moments: np.ndarray | None = None) -> float:
    """``tr(U X U Gamma)`` (``X = Wm^-1 Wc Wm^-1``) of lavaan's FIML-C(V3) with
    ``U = Wm - V E^-1 V'``, ``V = Wm D``, ``E = D' Wm D`` (lavaan's observed information of type
    "h1", unstructured), all block diagonal over groups (:func:`_correction_parts`). Expanded
    so that only products with the thin ``V`` depend on the model:
    ``tr(Wm X Wm G) - 2 tr(E^-1 V' X Wm G V) + tr(E^-1 V' X V E^-1 V' G V)``. The parameters
    ``fixed`` (fixed.x moments: not free in lavaan) have no column in ``D``, and only the rows
    ``moments`` (all by default; the covariates' moments are left out under fixed.x) enter."""
    Wm_all, X, G_all, XWG, t1 = parts
    D = np.delete(struct.moment_jacobian(np.asarray(theta, float)), list(fixed), axis=1)
    if moments is not None:
        D = D[moments]
    V = Wm_all @ D
    E_inv = np.linalg.inv(D.T @ V)
    t2 = float(np.sum(E_inv * (V.T @ XWG @ V).T))
    t4 = float(np.trace(E_inv @ (V.T @ X @ V) @ E_inv @ (V.T @ G_all @ V)))
    return t1 - 2.0 * t2 + t4


def fiml_corrected(struct: GroupStructure, theta: np.ndarray, patterns: tuple[MissingPatterns, ...],
                   h1: list[tuple[np.ndarray, np.ndarray]],
                   h1_info: list[H1Information] | None = None, x_idx: tuple[int, ...] = (),
                   fixed: Sequence[int] = ()) -> dict[str, float]:
    """lavaan 0.6.14's FIML-corrected (Savalei & Zhang's FIML-C, version V3) ingredients of the
    robust CFI/TLI/RMSEA with missing data (``lav_fit_fiml_corrected``): ``XX3`` the model's
    complete-data ML chi-square against the EM moments at the FIML estimates, ``c_hat3`` its
    scaling ``tr(U Wm^-1 Wc Wm^-1 U Gamma) / df`` with ``Wm``/``Jm`` the saturated model's
    observed/first-order information of the incomplete data, ``Wc`` the complete-data
    information at the EM moments and ``Gamma = Wm^-1 Jm Wm^-1``; the same for the
    independence model at its FIML estimates (``*_null``). Under fixed.x the covariates
    ``x_idx`` keep their sample moments (not parameters: the model's ``fixed`` ones drop out
    of ``D``, the baseline holds them at their sample values) and their moments leave the df."""
    n = np.array([float(mp.n_obs) for mp in patterns])
    f = n / n.sum()
    if h1_info is None:
        h1_info = h1_information(patterns, h1)
    # lavaan zeroes the covariates' moments in every information matrix (and inverts the rest):
    # here they are left out
    p = len(patterns[0].columns)
    i, k = np.triu_indices(p)
    x = np.zeros(p, dtype=bool)
    x[list(x_idx)] = True
    keep = ~np.concatenate([x[i] & x[k], x])
    Wm, Wc, Gamma = [], [], []
    Wm_inv = []
    for fg, (A1, B1, A1_inv, _), (S, m) in zip(f, h1_info, h1):
        if x_idx:
            A1, B1 = A1[np.ix_(keep, keep)], B1[np.ix_(keep, keep)]
            A1_inv = np.linalg.inv(A1)
        Wm.append(A1)
        Wm_inv.append(A1_inv)
        Wc.append(weight_matrix(S, True)[np.ix_(keep, keep)])
        Gamma.append(A1_inv @ B1 @ A1_inv / fg)
    rows = np.tile(keep, len(patterns))
    Sigma, mu = struct.implied(np.asarray(theta, float)[None])
    XX3 = float(sum(ng * _ml_discrepancy(Sigma[0, g], mu[0, g], S, m) for g, (ng, (S, m)) in enumerate(zip(n, h1))))
    df3 = float(struct.n_moments - struct.k)
    parts = _correction_parts(Wm, Wm_inv, Wc, Gamma, f)
    k3 = _correction_trace(struct, theta, parts, fixed, rows)
    # the independence model at its FIML estimates
    observed = patterns[0].columns
    G = len(patterns)
    x = np.zeros(len(observed), dtype=bool)
    x[list(x_idx)] = True
    moments = [independence_moments(mp, x_idx) for mp in patterns]
    if x_idx:
        base = GroupStructure(baseline_rows(observed, G, True, [(cov, mean) for mean, cov in moments], x_idx),
                              tuple(observed), (), n_groups=G, meanstructure=True)
    else:
        base = independence_structure(tuple(observed), G, True)
    theta0, XX3_null = [], 0.0
    for ng, (mean, cov), (S, m) in zip(n, moments, h1):
        theta0.extend(np.diag(cov)[~x])
        theta0.extend(mean[~x])
        XX3_null += ng * _ml_discrepancy(cov, mean, S, m)
    q = len(x_idx)
    df3_null = float(base.n_moments - base.k - G * (q * (q + 1) // 2 + q))
    k0 = _correction_trace(base, np.asarray(theta0), parts, (), rows)
    c3 = k3 / df3 if df3 > 0 else float("nan")
    return dict(XX3=XX3, df3=df3, c_hat3=c3, XX3_scaled=XX3 / c3 if df3 > 0 else float("nan"),
                XX3_null=float(XX3_null), df3_null=df3_null, c_hat3_null=k0 / df3_null)


def _fiml_robust_indices(struct: GroupStructure, theta: np.ndarray, patterns: tuple[MissingPatterns, ...],
                         h1: list[tuple[np.ndarray, np.ndarray]],
                         h1_info: list[H1Information] | None, n_total: float, x_idx: tuple[int, ...] = (),
                         fixed: Sequence[int] = ()) -> dict[str, float]:
    """The robust CFI/TLI/RMSEA (+ CI, p of close fit) of a FIML fit from
    :func:`fiml_corrected`, with lavaan's formulas (``lav_fit_cfi_lavobject``,
    ``lav_fit_rmsea_lavobject``); NaN with a :class:`ScaledTestWarning` when a matrix of the
    correction cannot be inverted."""
    try:
        if h1_info is None:
            raise np.linalg.LinAlgError("the saturated model's information is not available")
        c = fiml_corrected(struct, theta, patterns, h1, h1_info, x_idx, fixed)
    except np.linalg.LinAlgError:
        warn("MLR with missing='ml': the FIML-corrected robust CFI, TLI and RMSEA cannot be computed (a "
             "saturated-model information matrix is singular); they are NaN: report the scaled indices "
             "(cfi_scaled, tli_scaled, rmsea_scaled)", ScaledTestWarning, stacklevel=5)
        return {name: float("nan") for name in FIML_CORRECTED}
    G = struct.n_groups
    out = {"cfi_robust": _cfi(c["XX3"], c["df3"], c["XX3_null"], c["df3_null"], c["c_hat3"], c["c_hat3_null"]),
           "tli_robust": _tli(c["XX3"], c["df3"], c["XX3_null"], c["df3_null"], c["c_hat3"], c["c_hat3_null"]),
           "rmsea_robust": _rmsea(c["XX3"], c["df3"], n_total, G, c["c_hat3"])}
    out["rmsea_ci_lower_robust"], out["rmsea_ci_upper_robust"] = rmsea_interval(
        c["XX3_scaled"], c["df3"], n_total, groups=G, c=c["c_hat3"])
    out["rmsea_pvalue_robust"] = rmsea_close(c["XX3_scaled"], c["df3"], n_total, groups=G, c=c["c_hat3"])
    return out
