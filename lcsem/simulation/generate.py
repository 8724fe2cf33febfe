"""``simulate``: data sets from a model's population values or from a fitted result."""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..exceptions import ArgumentError
from .draw import BLOCK, ValeMaurelli, as_seed_sequence, block_rng, covariance_batch, likert_cut, moments_batch
from .population import population_sigma

__all__ = ["simulate", "SampleBatch", "LIKERT_POINTS"]

LIKERT_POINTS = (5, 7)


@dataclass(frozen=True)
class SampleBatch:
    """Sample statistics of many simulated data sets.

    Attributes
    ----------
    cov
        (R, p, p) sample covariance matrices with denominator ``n`` (lavaan's ML ``S``).
    mean
        (R, p) sample means (the population means are 0).
    n
        Rows per data set.
    names
        Variable names (columns of every data set).
    """

    cov: np.ndarray
    mean: np.ndarray
    n: int
    names: tuple[str, ...]

    def __len__(self) -> int:
        return self.cov.shape[0]

    def covariance(self, r: int) -> pd.DataFrame:
        """Data set ``r``'s covariance matrix as a labelled DataFrame."""
        return pd.DataFrame(self.cov[r], index=list(self.names), columns=list(self.names))


def _check_nonnormal(nonnormal, p: int) -> tuple[np.ndarray, np.ndarray] | None:
    if nonnormal is None:
        return None
    if not isinstance(nonnormal, (tuple, list)) or len(nonnormal) != 2:
        raise ArgumentError(f"nonnormal: expected a (skew, kurtosis) pair, e.g. nonnormal=(1.0, 3.0), got {nonnormal!r}")
    out = []
    for name, value in zip(("skew", "kurtosis"), nonnormal):
        arr = np.asarray(value, dtype=float) if not isinstance(value, (str, bytes)) else None
        if arr is None or arr.ndim > 1 or (arr.ndim == 1 and arr.size != p) or not np.all(np.isfinite(arr)):
            raise ArgumentError(f"nonnormal: {name} {value!r} must be a finite number or one value per "
                                f"observed variable ({p})")
        out.append(np.broadcast_to(arr, (p,)).astype(float))
    return out[0], out[1]


def simulate(model: Any, n: int, params: Mapping[str, float] | None = None, *,
             seed: int | np.random.Generator | np.random.SeedSequence | None = None,
             n_datasets: int | None = None, nonnormal: tuple[Any, Any] | None = None,
             likert: int | None = None, missing: float | None = None) -> pd.DataFrame | SampleBatch:
    """Draw data from a model's population values or from a fitted result.

    Parameters
    ----------
    model
        An :class:`lcsem.Model` or model text (its standardised ``population`` values, then
        ``params``, then defaults: loading 0.7, path 0.3, covariance of exogenous constructs
        0.3), or an :class:`lcsem.FitResult` (its estimates are the population: the implied
        covariance ``res.implied_cov``).
    n
        Rows per data set.
    params
        Standardised values keyed ``"lhs op rhs"`` overriding the model's (models only).
    seed
        None, an int, a ``numpy.random.Generator`` or a ``SeedSequence``.
    n_datasets
        None (default): one DataFrame. An int R: a :class:`SampleBatch` of R data sets'
        sample covariances and means. For normal data they are drawn directly (Wishart and
        normal, the exact distribution of the moments of ``n`` normal rows), without ever
        making the rows; with ``nonnormal`` or ``likert`` rows are drawn a block at a time
        and reduced to their moments (memory bounded by the block, not by R).
    nonnormal
        ``(skew, kurtosis)``: skewness and **excess** kurtosis of every observed variable
        (numbers, or one value per variable), by Vale and Maurelli's (1983) method (as
        lavaan's ``simulateData(skewness=, kurtosis=)``). Pairs Fleishman's polynomial cannot
        reach raise an :class:`lcsem.ArgumentError`.
    likert
        ``5`` or ``7`` to cut each variable (standardised) into categories ``1..likert`` at
        equally spaced thresholds on [-2.5, 2.5] (symmetric, bell-shaped responses).
    missing
        Share of cells to blank out completely at random (MCAR), in [0, 1). Only for a single
        DataFrame (``n_datasets=None``): a batch of moments cannot carry missing data.

    Returns
    -------
    pandas.DataFrame or SampleBatch
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 2:
        raise ArgumentError(f"n: {n!r} is not a whole number of rows ≥ 2")
    if likert is not None and likert not in LIKERT_POINTS:
        raise ArgumentError(f"likert: {likert!r} is not supported; use 5, 7 or None (continuous)")
    if n_datasets is not None and (isinstance(n_datasets, bool) or not isinstance(n_datasets, numbers.Integral)
                                   or n_datasets < 1):
        raise ArgumentError(f"n_datasets: {n_datasets!r} is not a whole number ≥ 1; use None for one DataFrame")
    if missing is not None:
        if isinstance(missing, bool) or not isinstance(missing, numbers.Real) or not 0 <= float(missing) < 1:
            raise ArgumentError(f"missing: {missing!r} is not a share of cells in [0, 1); use e.g. missing=0.1")
        if n_datasets is not None:
            raise ArgumentError("missing: a batch of sample moments (n_datasets=...) cannot carry missing values; "
                                "draw data sets one at a time (n_datasets=None) with different seeds")
    sigma, names_ = population_sigma(model, params)
    names = list(names_)
    shape = _check_nonnormal(nonnormal, len(names))
    generator = None if shape is None else ValeMaurelli(sigma, *shape)
    sd = np.sqrt(np.diag(sigma))
    n = int(n)
    if n_datasets is None:
        # a Generator is used as it is (the bundled survey's script passes one)
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(as_seed_sequence(seed))
        if generator is None:
            draws = rng.multivariate_normal(np.zeros(len(names)), sigma, size=n, method="cholesky")
        else:
            draws = generator.draw(rng, (n,))
        if likert is not None:
            draws = likert_cut(draws, likert, sd)
        if missing:
            draws[rng.random(draws.shape) < float(missing)] = np.nan
        return pd.DataFrame(draws, columns=names)
    root = as_seed_sequence(seed)
    R = int(n_datasets)
    if generator is None and likert is None:
        cov = covariance_batch(root, (0,), sigma, n, 0, R)
        means = np.concatenate([block_rng(root, (1,), b).standard_normal((BLOCK, len(names)))
                                for b in range(-(-R // BLOCK))])[:R] @ np.linalg.cholesky(sigma / n).T
        return SampleBatch(cov, means, n, tuple(names))
    cov, means = moments_batch(root, (2,), sigma, n, 0, R, generator, likert)
    return SampleBatch(cov, means, n, tuple(names))
