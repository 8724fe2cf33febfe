"""The few scipy distributions and solvers lcsem uses, imported on first use.

``scipy.stats`` (with ``scipy.optimize``, which it imports) takes about 0.35 s of CPU to
import; importing it at module level made ``import lcsem`` slow, and importing it on the
first fit made every session's first ``fit()`` ten times slower than the next. The normal
and (noncentral) chi-square functions every fit needs therefore come from
``scipy.special``'s ufuncs, which ``scipy.stats`` itself calls (``ndtr``, ``ndtri``,
``chdtr``, ``chdtrc``, ``chndtr``, ``chndtrinc``), with ``scipy.stats``' conventions at
the edges (NaN for df ≤ 0, a negative x is below the support). The rarer tools (the
Wishart distribution, least squares, frozen distributions) import
``scipy.stats``/``scipy.optimize`` the first time they are called.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any, Callable

import numpy as np

__all__ = [
    "norm_ppf", "norm_sf", "chi2_sf", "chi2_cdf", "ncx2_cdf", "ncx2_sf", "ncx2_noncentrality", "chi2_or_ncx2",
    "wishart", "least_squares",
]


def _stats() -> ModuleType:
    return importlib.import_module("scipy.stats")


def _optimize() -> ModuleType:
    return importlib.import_module("scipy.optimize")


def _special() -> ModuleType:
    return importlib.import_module("scipy.special")


def _support(x: Any, df: Any) -> tuple[Any, Any]:
    """``x`` clipped to the support [0, inf) and whether ``df`` is valid (> 0)."""
    x = np.asarray(x, dtype=float)
    df = np.asarray(df, dtype=float)
    return np.maximum(x, 0.0), df > 0


def _scalar(value: np.ndarray) -> Any:
    return value[()] if isinstance(value, np.ndarray) and value.ndim == 0 else value


def norm_ppf(q: Any) -> Any:
    """Quantile function of the standard normal distribution (as ``scipy.stats.norm.ppf``)."""
    return _scalar(_special().ndtri(np.asarray(q, dtype=float)))


def norm_sf(x: Any) -> Any:
    """Upper tail of the standard normal distribution (as ``scipy.stats.norm.sf``)."""
    return _scalar(_special().ndtr(-np.asarray(x, dtype=float)))


def chi2_sf(x: Any, df: Any) -> Any:
    """Upper tail of the chi-square distribution (as ``scipy.stats.chi2.sf``)."""
    x, ok = _support(x, df)
    return _scalar(np.where(ok, _special().chdtrc(np.where(ok, df, 1.0), x), np.nan))


def chi2_cdf(x: Any, df: Any) -> Any:
    """Distribution function of the chi-square distribution (as ``scipy.stats.chi2.cdf``)."""
    x, ok = _support(x, df)
    return _scalar(np.where(ok, _special().chdtr(np.where(ok, df, 1.0), x), np.nan))


def ncx2_cdf(x: Any, df: Any, nc: Any) -> Any:
    """Distribution function of the noncentral chi-square (as ``scipy.stats.ncx2.cdf``;
    the central one where ``nc`` is 0)."""
    x, ok = _support(x, df)
    nc = np.asarray(nc, dtype=float)
    sp = _special()
    dfs = np.where(ok, df, 1.0)
    with np.errstate(over="ignore"):
        value = np.where(nc == 0, sp.chdtr(dfs, x), sp.chndtr(x, dfs, np.maximum(nc, 0.0)))
    return _scalar(np.where(ok & (nc >= 0), value, np.nan))


def ncx2_sf(x: Any, df: Any, nc: Any) -> Any:
    """Upper tail of the noncentral chi-square distribution, ``1 - cdf`` (as R's
    ``1 - pchisq(x, df, ncp)``, which lavaan uses for the RMSEA p-values)."""
    return _scalar(np.maximum(1.0 - np.asarray(ncx2_cdf(x, df, nc), dtype=float), 0.0))


def ncx2_noncentrality(x: float, df: float, prob: float) -> float:
    """The noncentrality ``nc`` with ``ncx2_cdf(x, df, nc) = prob`` (``scipy.special.chndtrinc``);
    the caller makes sure one exists (the central cdf at ``x`` is at least ``prob``)."""
    return float(_special().chndtrinc(x, df, prob))


def chi2_or_ncx2(df: float, ncp: float) -> Any:
    """The frozen chi-square distribution with ``df`` degrees of freedom, noncentral
    with parameter ``ncp`` unless it is 0 (``scipy.stats.chi2`` / ``scipy.stats.ncx2``)."""
    stats = _stats()
    return stats.chi2(df) if ncp == 0 else stats.ncx2(df, ncp)


def wishart(df: Any, scale: Any) -> Any:
    """The frozen Wishart distribution (``scipy.stats.wishart``)."""
    return _stats().wishart(df=df, scale=scale)


def least_squares(fun: Callable[..., Any], x0: Any, **kwargs: Any) -> Any:
    """Nonlinear least squares (``scipy.optimize.least_squares``)."""
    return _optimize().least_squares(fun, x0, **kwargs)
