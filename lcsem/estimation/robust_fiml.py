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
  scaled and robust CFI/TLI/RMSEA follow :func:`lcsem.inference.robust.scaled_fit_measures`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from .._warnings import warn
from ..data.missing import MissingPatterns, em_moments, missing_patterns
from ..engine.fiml import FIMLObjective
from ..engine.structure import GroupStructure
from ..exceptions import ArgumentError, ScaledTestWarning
from ..inference.robust import (RobustTest, baseline_rows, first_order_information, sandwich_vcov,
                                scaled_fit_measures, yuan_bentler_trace)
from ..results.fit_result import FitResult
from ..spec.partable import ParRow
from .robust_fit import _estimates, result_structure

#: robust indices that lavaan computes by its FIML correction with missing data
_FIML_CORRECTED = ("cfi_robust", "tli_robust", "rmsea_robust", "rmsea_ci_lower_robust", "rmsea_ci_upper_robust",
                   "rmsea_pvalue_robust")

__all__ = ["fiml_patterns", "h1_moments", "fiml_robust_analysis", "fiml_baseline_test", "fiml_robust_result"]


def fiml_patterns(res: FitResult) -> tuple[MissingPatterns, ...]:
    """The missing-data patterns of every group of a FIML result, rebuilt from its data."""
    if res.data is None:
        raise ArgumentError("res: a robust correction needs the respondents' raw data, but this result "
                            "has none; fit with data=...")
    cols = list(res.model.observed)
    frame = res.data
    if res.group_labels:
        keys = frame[res.group].astype(str)
        parts = [frame.loc[keys == label] for label in res.group_labels]
    else:
        parts = [frame]
    return tuple(missing_patterns(p[cols].to_numpy(float), tuple(cols), p.index) for p in parts)


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


def _information_pair(objective: FIMLObjective, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, list]:
    """Observed information per observation ``A`` (half the Hessian of ``F``), first-order
    information ``B0`` and the casewise scores at ``theta``."""
    A = 0.5 * objective.observed_information(theta)
    scores = objective.casewise_scores(theta)
    return A, first_order_information(scores), scores


def _h1_trace(patterns: MissingPatterns, Sigma: np.ndarray, mu: np.ndarray) -> float:
    """``tr(A1^-1 B1)`` of one group's saturated model at ``(mu, Sigma)`` from its casewise
    (observed-data) likelihood."""
    struct = _saturated_structure(patterns.columns)
    iu = np.triu_indices(Sigma.shape[0])
    theta = np.concatenate([Sigma[iu], mu])
    A1, B1, _ = _information_pair(FIMLObjective(struct, (patterns,)), theta)
    return float(np.sum(np.linalg.solve(A1, B1).diagonal()))


def h1_moments(patterns: tuple[MissingPatterns, ...]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each group's EM (saturated) moments ``(Sigma, mu)``."""
    out = []
    for mp in patterns:
        mean, cov, _ = em_moments(mp)
        out.append((cov, mean))
    return out


def fiml_robust_analysis(struct: GroupStructure, theta: np.ndarray, patterns: tuple[MissingPatterns, ...], *,
                         h1: list[tuple[np.ndarray, np.ndarray]] | None = None,
                         with_vcov: bool = True) -> tuple[np.ndarray | None, RobustTest]:
    """Huber-White covariance of the FIML estimates (None without ``with_vcov``) and the
    Yuan-Bentler (Mplus) traces at ``theta``.

    ``h1``: per group the ``(Sigma, mu)`` at which the saturated model's information is
    evaluated; by default the EM estimates (:func:`h1_moments`). lavaan's Mplus trace uses the
    saturated model's own estimates whatever ``h1.information`` says (at the model-implied
    moments the baseline model's saturated information need not be positive definite)."""
    theta = np.asarray(theta, float)
    objective = FIMLObjective(struct, patterns)
    A, B0, _ = _information_pair(objective, theta)
    A_inv = np.linalg.inv(A)
    vcov = sandwich_vcov(A, B0, objective.N) if with_vcov else None
    if h1 is None:
        h1 = h1_moments(patterns)
    traces = [_h1_trace(mp, S, m) for mp, (S, m) in zip(patterns, h1)]
    trace, h0 = yuan_bentler_trace(traces, B0, A_inv)
    n_rows = int(sum(1 for r in struct.row_free if r >= 0))
    return vcov, RobustTest("MLR", trace, h1=float(np.sum(traces)), h0=h0, n_h1=struct.n_moments,
                            n_params=n_rows)


def fiml_baseline_test(patterns: tuple[MissingPatterns, ...],
                       h1: list[tuple[np.ndarray, np.ndarray]] | None = None) -> RobustTest:
    """The Yuan-Bentler traces of lavaan's independence model fitted by FIML (each variable's
    available-case mean and ML variance)."""
    observed = patterns[0].columns
    G = len(patterns)
    struct = GroupStructure(baseline_rows(observed, G, True), tuple(observed), (), n_groups=G,
                            meanstructure=True)
    theta = []
    for mp in patterns:
        mean = np.nanmean(mp.values, axis=0)
        var = np.nanmean((mp.values - mean) ** 2, axis=0)
        theta.extend(var)
        theta.extend(mean)
    return fiml_robust_analysis(struct, np.asarray(theta), patterns, h1=h1, with_vcov=False)[1]


def fiml_robust_result(res: FitResult) -> FitResult:
    """``res`` (a FIML fit) with lavaan's MLR corrections: Huber-White standard errors and the
    Yuan-Bentler scaled test with the scaled and robust fit indices."""
    struct, rows = result_structure(res)
    patterns = fiml_patterns(res)
    theta = np.asarray(res.theta, float)
    vcov = np.asarray(res.vcov, float)
    fi = res.fit_indices
    identified = struct.k and np.isfinite(vcov).all()
    h1 = h1_moments(patterns)
    try:
        robust_vcov, test = fiml_robust_analysis(struct, theta, patterns, h1=h1, with_vcov=bool(identified))
    except np.linalg.LinAlgError:
        warn("MLR: the information matrix cannot be inverted, so the robust standard errors and the scaled "
             "test are not available (NaN); the model is probably not identified: fix parameters or add "
             "indicators", ScaledTestWarning, stacklevel=4)
        robust_vcov, test = np.full((struct.k, struct.k), np.nan), RobustTest("MLR", float("nan"))
    base = fiml_baseline_test(patterns, h1)
    if robust_vcov is not None:
        vcov = robust_vcov
    n_total = float(sum(mp.n_obs for mp in patterns))
    extra = scaled_fit_measures(test, base, chisq=float(fi["chisq"]), df=float(fi["df"]),
                                chisq0=float(fi["baseline_chisq"]), df0=float(fi["baseline_df"]),
                                n_total=n_total, n_groups=struct.n_groups)
    # lavaan's robust CFI/TLI/RMSEA with missing data are Savalei & Zhang's FIML-corrected
    # indices (lav_fit_fiml_corrected), not the complete-data formulas: not built here
    for name in _FIML_CORRECTED:
        extra[name] = float("nan")
    warn("MLR with missing='ml': the robust CFI, TLI and RMSEA (cfi_robust, tli_robust, rmsea_robust) "
         "need lavaan's FIML-corrected indices, which lcsem does not compute yet: they are NaN; report "
         "the scaled indices (cfi_scaled, tli_scaled, rmsea_scaled) or fit the complete cases",
         ScaledTestWarning, stacklevel=4)
    fit_indices = pd.concat([fi, pd.Series(extra, dtype=float)]).rename("value")
    return replace(res, estimator="MLR", vcov=vcov, fit_indices=fit_indices,
                   estimates=_estimates(res, struct, rows, theta, vcov))
