"""Reliability of a sum score of ordered items: categorical omega (Green & Yang, 2009).

For ordered items, semTools' ``compRelSEM`` reports by default (``ord.scale = TRUE``) the
reliability of the sum of the *observed category scores*, not of the latent responses:

    omega_cat = sum_j sum_j' [ sum_c sum_c' Phi2(t_jc, t_j'c'; rho*_jj') - P_j P_j' ]
                / sum_j sum_j' [ sum_c sum_c' Phi2(t_jc, t_j'c'; rho_jj') - P_j P_j' ]

with P_j = sum_c Phi(t_jc), rho* = the common part lambda lambda' psi (the model's
true-score correlations of the latent responses; on the diagonal lambda_j^2 psi), rho the
correlations of the latent responses in the denominator (with ``obs.var = TRUE``, the
default, the sample polychoric correlations; otherwise the model-implied ones), and t the
thresholds. Under the delta parameterisation of a single group the scale factors are 1;
otherwise thresholds and loadings are multiplied by lavaan's ``delta`` scales first.

``ord.scale = FALSE`` gives omega of the latent responses themselves:
(sum lambda)^2 psi / 1' rho 1 (:func:`latent_response_omega`).

These are pure functions of the parameter values: the caller passes a fit's loadings,
factor variance and thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import ndtr

from ..data.bivariate_normal import bivariate_normal_cdf
from .._warnings import warn
from ..exceptions import ArgumentError, NonAdmissibleWarning

__all__ = ["categorical_omega", "latent_response_omega"]


def _inputs(loadings, factor_variance, correlations, scales):
    lam = np.asarray(loadings, dtype=float).ravel()
    k = lam.size
    if k < 2:
        raise ArgumentError(f"loadings: categorical omega needs at least two items, got {k}")
    psi = float(factor_variance)
    if not np.isfinite(psi) or psi <= 0:
        raise ArgumentError(f"factor_variance: expected a positive number, got {factor_variance!r}")
    rho = np.asarray(correlations, dtype=float)
    if rho.shape != (k, k):
        raise ArgumentError(f"correlations: expected a {k} x {k} matrix (one row per item), got shape {rho.shape}")
    s = np.ones(k) if scales is None else np.asarray(scales, dtype=float).ravel()
    if s.size != k:
        raise ArgumentError(f"scales: expected {k} scale factors, got {s.size}")
    return lam, psi, rho, s


def categorical_omega(loadings: Sequence[float], factor_variance: float, thresholds: Sequence[Sequence[float]],
                      correlations: np.ndarray, scales: Sequence[float] | None = None) -> float:
    """Green & Yang's (2009) reliability of the sum of ordered item scores (semTools'
    ``compRelSEM`` default for ordered indicators).

    Parameters
    ----------
    loadings : sequence of float
        The factor's loadings on its k items (lavaan's ``lambda``).
    factor_variance : float
        The factor's variance (``psi``).
    thresholds : sequence of k sequences
        Each item's thresholds (model estimates, lavaan's ``tau``).
    correlations : (k, k) array
        Correlations of the latent responses for the denominator: the sample polychoric
        matrix (semTools' default ``obs.var = TRUE``) or the model-implied one. A
        covariance matrix is turned into correlations, as semTools does.
    scales : sequence of float, optional
        lavaan's ``delta`` scale factors (1 under the delta parameterisation in a single
        group, the default).

    Returns
    -------
    float
        NaN (with a :class:`~lcsem.exceptions.NonAdmissibleWarning`) when a common part
        lambda_j^2 psi exceeds 1 (a Heywood case: no latent-response correlation).
    """
    lam, psi, rho, s = _inputs(loadings, factor_variance, correlations, scales)
    k = lam.size
    if len(thresholds) != k:
        raise ArgumentError(f"thresholds: expected one sequence per item ({k}), got {len(thresholds)}")
    th = [np.asarray(t, dtype=float).ravel() * s[j] for j, t in enumerate(thresholds)]
    if any(t.size == 0 or not np.all(np.isfinite(t)) for t in th):
        raise ArgumentError("thresholds: every item needs at least one finite threshold")
    true = np.outer(lam * s, lam * s) * psi
    if np.any(np.abs(true) > 1.0 + 1e-12):
        warn("categorical omega: a standardised loading exceeds 1 (a Heywood case); the reliability "
             "is undefined and reported as NaN", NonAdmissibleWarning, stacklevel=2)
        return float("nan")
    d = np.sqrt(np.diag(rho))
    denom = rho / np.outer(d, d)
    margin = np.array([ndtr(t).sum() for t in th])
    num = den = 0.0
    for j in range(k):
        for jp in range(k):
            h = np.repeat(th[j], th[jp].size)
            kk = np.tile(th[jp], th[j].size)
            base = margin[j] * margin[jp]
            num += bivariate_normal_cdf(h, kk, np.clip(true[j, jp], -1.0, 1.0)).sum() - base
            den += bivariate_normal_cdf(h, kk, denom[j, jp]).sum() - base
    return float(num / den)


def latent_response_omega(loadings: Sequence[float], factor_variance: float, correlations: np.ndarray,
                          scales: Sequence[float] | None = None) -> float:
    """Omega of the latent responses: (sum lambda)^2 psi / 1' rho 1 (semTools'
    ``compRelSEM(..., ord.scale = FALSE)``), with ``correlations`` as in
    :func:`categorical_omega`."""
    lam, psi, rho, s = _inputs(loadings, factor_variance, correlations, scales)
    total = rho / np.outer(s, s)
    return float(np.outer(lam, lam).sum() * psi / total.sum())
