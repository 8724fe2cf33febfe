"""Bootstrap confidence intervals: percentile, bias-corrected (BC), BCa and normal.

Shared by the bootstrap result and by other modules (effects, measurement bounds) that
compute intervals of derived statistics from the same draws.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from ..exceptions import ArgumentError

__all__ = ["METHODS", "confidence_interval", "bias_correction", "acceleration", "quantiles",
           "bootstrap_pvalue", "upper_tail_pvalue", "pvalue_floor"]

METHODS = ("percentile", "bc", "bca", "normal")
INTERPOLATIONS = ("linear", "normal")


def _check(method: str, level: float, interpolation: str) -> None:
    if method not in METHODS:
        raise ArgumentError(f"method: {method!r} is not one of {', '.join(METHODS)}")
    if not (isinstance(level, (int, float)) and 0 < level < 1):
        raise ArgumentError(f"level: {level!r} must be a number strictly between 0 and 1, e.g. 0.95")
    if interpolation not in INTERPOLATIONS:
        raise ArgumentError(f"interpolation: {interpolation!r} is not one of {', '.join(INTERPOLATIONS)}")


def quantiles(draws: np.ndarray, probs, interpolation: str = "linear") -> np.ndarray:
    """Quantiles of finite ``draws``.

    ``"linear"`` is numpy's default (R's type 7, as ``quantile()`` and scipy.stats.bootstrap);
    ``"normal"`` interpolates on the normal-quantile scale between order statistics
    ``k/(B+1)`` (``norm.inter`` of R's boot package, used by lavaan for parameters).
    """
    t = np.sort(np.asarray(draws, dtype=float))
    probs = np.atleast_1d(np.asarray(probs, dtype=float))
    if t.size == 0:
        return np.full(probs.shape, np.nan)
    if interpolation == "linear":
        return np.quantile(t, probs)
    B = t.size
    rk = (B + 1) * probs
    k = np.floor(rk).astype(int)
    out = np.empty(probs.shape)
    for i, (p_, r_, k_) in enumerate(zip(probs, rk, k)):
        if k_ <= 0:
            out[i] = t[0]
        elif k_ >= B:
            out[i] = t[-1]
        elif r_ == k_:
            out[i] = t[k_ - 1]
        else:
            z, z1, z2 = special.ndtri(p_), special.ndtri(k_ / (B + 1)), special.ndtri((k_ + 1) / (B + 1))
            out[i] = t[k_ - 1] + (z - z1) / (z2 - z1) * (t[k_] - t[k_ - 1])
    return out


def bias_correction(draws: np.ndarray, estimate: float) -> float:
    """``z0 = Phi^-1(share of draws below the estimate)`` (ties count one half).

    When every draw falls on one side the share is clipped to ``1/(2B)`` (or ``1 - 1/(2B)``)
    so that z0 stays finite.
    """
    t = np.asarray(draws, dtype=float)
    B = t.size
    share = (np.count_nonzero(t < estimate) + np.count_nonzero(t <= estimate)) / (2.0 * B)
    share = min(max(share, 0.5 / B), 1.0 - 0.5 / B)
    return float(special.ndtri(share))


def acceleration(jackknife: np.ndarray) -> float:
    """BCa acceleration from leave-one-out values: ``sum(d^3) / (6 sum(d^2)^1.5)``,
    ``d = mean - value`` (0 when the jackknife values do not vary)."""
    jk = np.asarray(jackknife, dtype=float)
    jk = jk[np.isfinite(jk)]
    d = jk.mean() - jk if jk.size else jk
    den = np.sum(d ** 2) ** 1.5
    return float(np.sum(d ** 3) / (6.0 * den)) if den > 0 else 0.0


def confidence_interval(draws: np.ndarray, estimate: float, *, method: str = "percentile",
                        level: float = 0.95, jackknife: np.ndarray | None = None,
                        interpolation: str = "linear") -> tuple[float, float]:
    """Two-sided bootstrap confidence interval of one statistic.

    Parameters
    ----------
    draws
        Bootstrap values of the statistic. Non-finite values (failed replicates) are
        dropped here, so callers may pass a column with NaN.
    estimate
        The full-sample value.
    method
        ``"percentile"``; ``"bc"`` (bias-corrected percentile; lavaan's "bca.simple");
        ``"bca"`` (bias-corrected and accelerated; needs ``jackknife``); ``"normal"``
        (bias-corrected normal: ``estimate - bias +- z * sd``, as boot's ``norm.ci``).
    level
        Confidence level, e.g. 0.95.
    jackknife
        Leave-one-out values of the statistic (for ``"bca"``).
    interpolation
        Quantile rule, see :func:`quantiles`.

    Returns
    -------
    (lower, upper); (nan, nan) when no finite draw is left.
    """
    _check(method, level, interpolation)
    t = np.asarray(draws, dtype=float).ravel()
    t = t[np.isfinite(t)]
    if t.size == 0 or not np.isfinite(estimate):
        return (np.nan, np.nan)
    alpha = np.array([(1 - level) / 2, (1 + level) / 2])
    if method == "normal":
        z = special.ndtri(alpha[1])
        sd = t.std(ddof=1) if t.size > 1 else np.nan
        centre = estimate - (t.mean() - estimate)
        return (float(centre - z * sd), float(centre + z * sd))
    if method == "percentile" or np.ptp(t) == 0:
        lo, hi = quantiles(t, alpha, interpolation)
        return (float(lo), float(hi))
    z0 = bias_correction(t, estimate)
    if method == "bca":
        if jackknife is None:
            raise ArgumentError("jackknife: BCa intervals need the statistic's leave-one-out values; "
                                "pass jackknife=... or use method='bc'")
        a = acceleration(jackknife)
    else:
        a = 0.0
    za = special.ndtri(alpha)
    adjusted = special.ndtr(z0 + (z0 + za) / (1 - a * (z0 + za)))
    lo, hi = quantiles(t, adjusted, interpolation)
    return (float(lo), float(hi))


def bootstrap_pvalue(draws: np.ndarray, null: float = 0.0) -> float:
    """Two-sided bootstrap p-value of ``H0: value = null``, never 0.

    ``min(1, 2 (1 + k) / (B + 1))`` with ``k`` the number of the ``B`` finite draws on the
    far side of ``null`` (at or beyond it; the smaller side): the ``(1 + #extreme)/(B + 1)``
    convention of Davison and Hinkley (1997, eq. 4.11), which treats the sample as one more
    draw. Its floor ``2/(B + 1)`` is the smallest p-value ``B`` replicates can resolve, so
    a bootstrap p-value is never reported as 0. It is below ``1 - level`` when the
    percentile interval excludes ``null`` (up to that one draw).
    """
    t = np.asarray(draws, dtype=float)
    t = t[np.isfinite(t)]
    if t.size == 0:
        return float("nan")
    extreme = min(np.count_nonzero(t <= null), np.count_nonzero(t >= null))
    return float(min(1.0, 2.0 * (1 + extreme) / (t.size + 1)))


def upper_tail_pvalue(draws: np.ndarray, observed: float) -> float:
    """One-sided bootstrap p-value ``(1 + #(draws >= observed)) / (B + 1)`` (the
    Bollen–Stine p of a chi-square), never 0; NaN without finite draws."""
    t = np.asarray(draws, dtype=float)
    t = t[np.isfinite(t)]
    if t.size == 0 or not np.isfinite(observed):
        return float("nan")
    return float((1 + np.count_nonzero(t >= observed)) / (t.size + 1))


def pvalue_floor(n_draws: int, sides: int = 2) -> float:
    """The smallest p-value :func:`bootstrap_pvalue` (``sides=2``) or
    :func:`upper_tail_pvalue` (``sides=1``) gives with ``n_draws`` finite draws."""
    return min(1.0, sides / (n_draws + 1)) if n_draws > 0 else float("nan")
