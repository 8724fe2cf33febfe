"""Analytic power of RMSEA tests and its sample-size inverse (MacCallum, Browne & Sugawara, 1996).

With ``df`` degrees of freedom and ``N`` cases, the likelihood-ratio statistic is
non-central chi-square with non-centrality ``λ = (N - 1)·df·ε² / G`` (``G`` groups) when
the population RMSEA is ε. Testing ``H0: ε = ε0`` against ``ε1``: when ``ε1 > ε0`` (a test
of not-close fit) H0 is rejected above the ``1 - α`` quantile of the null distribution, and
power is the probability above it under ``ε1``; when ``ε1 < ε0`` (a test of close fit) H0 is
rejected below the ``α`` quantile and power is the probability below it. This is
semTools' ``findRMSEApower`` (which uses ``N - 1``) and ``findRMSEAsamplesize``.
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import _lazy
from ..exceptions import ArgumentError

__all__ = ["rmsea_power", "rmsea_sample_size"]


def _dist(df: float, ncp: float):
    return _lazy.chi2_or_ncx2(df, ncp)


def _check(name: str, value, low: float, high: float, closed_low: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ArgumentError(f"{name}: expected a number, got {value!r}")
    value = float(value)
    ok = (value >= low if closed_low else value > low) and value < high
    if not ok:
        raise ArgumentError(f"{name}: {value!r} is outside {'[' if closed_low else '('}{low:g}, {high:g}); "
                            f"use e.g. {name}={ {'alpha': 0.05, 'power': 0.8}.get(name, 0.05) }")
    return value


def _check_common(df, rmsea0, rmsea1, alpha, groups) -> tuple[int, float, float, float, int]:
    if isinstance(df, bool) or not isinstance(df, numbers.Integral) or df < 1:
        raise ArgumentError(f"df: {df!r} is not a whole number ≥ 1 (the model's degrees of freedom)")
    rmsea0 = _check("rmsea0", rmsea0, 0.0, np.inf, closed_low=True)
    rmsea1 = _check("rmsea1", rmsea1, 0.0, np.inf, closed_low=True)
    if rmsea0 == rmsea1:
        raise ArgumentError(f"rmsea1: equal to rmsea0 ({rmsea0:g}); the test has no alternative: use e.g. "
                            f"rmsea0=.05, rmsea1=.08 (not-close fit) or rmsea0=.05, rmsea1=.01 (close fit)")
    alpha = _check("alpha", alpha, 0.0, 1.0)
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1:
        raise ArgumentError(f"groups: {groups!r} is not a whole number ≥ 1")
    return int(df), rmsea0, rmsea1, alpha, int(groups)


def _power(df: int, n: float, rmsea0: float, rmsea1: float, alpha: float, groups: int) -> float:
    ncp0 = (n - 1) * df * rmsea0**2 / groups
    ncp1 = (n - 1) * df * rmsea1**2 / groups
    if rmsea1 > rmsea0:
        crit = _dist(df, ncp0).ppf(1 - alpha)
        return float(_dist(df, ncp1).sf(crit))
    crit = _dist(df, ncp0).ppf(alpha)
    return float(_dist(df, ncp1).cdf(crit))


def rmsea_power(df: int, n: int, rmsea0: float = 0.05, rmsea1: float = 0.08, alpha: float = 0.05, *,
                groups: int = 1) -> float:
    """Power of the RMSEA test of ``H0: RMSEA = rmsea0`` when the population RMSEA is ``rmsea1``.

    Parameters
    ----------
    df
        Degrees of freedom of the model.
    n
        Total sample size (all groups).
    rmsea0, rmsea1
        RMSEA under the null and the alternative hypothesis. ``rmsea1 > rmsea0``: test of
        not-close fit (default .05 vs .08); ``rmsea1 < rmsea0``: test of close fit.
    alpha
        Significance level.
    groups
        Number of groups (the non-centrality is divided by it, as semTools does).

    Returns
    -------
    float
        The power (MacCallum, Browne & Sugawara, 1996), as semTools' ``findRMSEApower``.
    """
    df, rmsea0, rmsea1, alpha, groups = _check_common(df, rmsea0, rmsea1, alpha, groups)
    if isinstance(n, bool) or not isinstance(n, numbers.Real) or not np.isfinite(n) or n <= 1:
        raise ArgumentError(f"n: {n!r} is not a sample size > 1")
    return _power(df, float(n), rmsea0, rmsea1, alpha, groups)


def rmsea_sample_size(df: int, rmsea0: float = 0.05, rmsea1: float = 0.08, power: float = 0.80,
                      alpha: float = 0.05, *, groups: int = 1, n_max: int = 10_000_000) -> int:
    """Smallest sample size whose RMSEA-test power exceeds ``power``.

    The smallest integer ``n ≥ 5`` with :func:`rmsea_power` ``> power`` (power grows with
    ``n``), found by doubling and bisection; semTools' ``findRMSEAsamplesize`` searches the
    same integer grid. With ``groups > 1`` the total ``n`` is returned (semTools reports
    ``n`` per group: divide by ``groups``).

    Raises
    ------
    ArgumentError
        When ``power`` is not in (0, 1), or no ``n`` up to ``n_max`` reaches it.
    """
    df, rmsea0, rmsea1, alpha, groups = _check_common(df, rmsea0, rmsea1, alpha, groups)
    power = _check("power", power, 0.0, 1.0)

    def reached(n: int) -> bool:
        return _power(df, float(n), rmsea0, rmsea1, alpha, groups) > power

    lo, hi = 5, 5
    if reached(lo):
        return lo
    while not reached(hi):
        lo, hi = hi, hi * 2
        if hi > n_max:
            raise ArgumentError(f"power: {power:g} is not reached with n ≤ {n_max:,} for df={df}, "
                                f"rmsea0={rmsea0:g}, rmsea1={rmsea1:g}; lower the power or move rmsea1 "
                                f"away from rmsea0")
    while hi - lo > 1:        # reached(hi) and not reached(lo)
        mid = (lo + hi) // 2
        if reached(mid):
            hi = mid
        else:
            lo = mid
    return hi
