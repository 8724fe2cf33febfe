"""The few scipy distributions and solvers lcsem uses, imported on first use.

``scipy.stats`` takes about 0.3 s to import and ``scipy.optimize`` most of the rest of
it; importing them at module level made ``import lcsem`` slow although most sessions
need them only once a model is fitted. Every module of lcsem reaches them through the
functions here, which import scipy's module the first time one is called and then
delegate to it, so the numbers are scipy's own.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any, Callable

__all__ = [
    "norm_ppf", "norm_sf", "chi2_sf", "chi2_cdf", "ncx2_cdf", "ncx2_sf", "chi2_or_ncx2",
    "wishart", "brentq", "least_squares",
]


def _stats() -> ModuleType:
    return importlib.import_module("scipy.stats")


def _optimize() -> ModuleType:
    return importlib.import_module("scipy.optimize")


def norm_ppf(q: Any) -> Any:
    """Quantile function of the standard normal distribution (``scipy.stats.norm.ppf``)."""
    return _stats().norm.ppf(q)


def norm_sf(x: Any) -> Any:
    """Upper tail of the standard normal distribution (``scipy.stats.norm.sf``)."""
    return _stats().norm.sf(x)


def chi2_sf(x: Any, df: Any) -> Any:
    """Upper tail of the chi-square distribution (``scipy.stats.chi2.sf``)."""
    return _stats().chi2.sf(x, df)


def chi2_cdf(x: Any, df: Any) -> Any:
    """Distribution function of the chi-square distribution (``scipy.stats.chi2.cdf``)."""
    return _stats().chi2.cdf(x, df)


def ncx2_cdf(x: Any, df: Any, nc: Any) -> Any:
    """Distribution function of the noncentral chi-square (``scipy.stats.ncx2.cdf``)."""
    return _stats().ncx2.cdf(x, df, nc)


def ncx2_sf(x: Any, df: Any, nc: Any) -> Any:
    """Upper tail of the noncentral chi-square distribution (``scipy.stats.ncx2.sf``)."""
    return _stats().ncx2.sf(x, df, nc)


def chi2_or_ncx2(df: float, ncp: float) -> Any:
    """The frozen chi-square distribution with ``df`` degrees of freedom, noncentral
    with parameter ``ncp`` unless it is 0 (``scipy.stats.chi2`` / ``scipy.stats.ncx2``)."""
    stats = _stats()
    return stats.chi2(df) if ncp == 0 else stats.ncx2(df, ncp)


def wishart(df: Any, scale: Any) -> Any:
    """The frozen Wishart distribution (``scipy.stats.wishart``)."""
    return _stats().wishart(df=df, scale=scale)


def brentq(f: Callable[..., float], a: float, b: float, **kwargs: Any) -> float:
    """Root of ``f`` in ``[a, b]`` by Brent's method (``scipy.optimize.brentq``)."""
    return _optimize().brentq(f, a, b, **kwargs)


def least_squares(fun: Callable[..., Any], x0: Any, **kwargs: Any) -> Any:
    """Nonlinear least squares (``scipy.optimize.least_squares``)."""
    return _optimize().least_squares(fun, x0, **kwargs)
