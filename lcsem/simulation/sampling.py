"""Draws of a fitted model's parameters from their asymptotic normal distribution (the
Monte Carlo method of Preacher & Selig, 2012). Depends on nothing above the results layer, so
any analysis (effects, validity) can use it."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import ArgumentError
from ..inference.standardized import fixed_x_vcov
from .draw import as_seed_sequence

__all__ = ["parameter_draws"]


def parameter_draws(res: Any, n_draws: int, seed: Any = None, which: np.ndarray | None = None) -> np.ndarray:
    """``n_draws`` parameter vectors from N(θ̂, V̂) of a fitted result: (n_draws, k), or
    of the parameters ``which`` only (their marginal distribution): (n_draws, len(which)).

    Exogenous observed moments (lavaan's ``fixed.x``) stay at their sample values. The
    draws use the eigen-decomposition of V̂ (as ``MASS::mvrnorm``), so a singular V̂ with
    non-negative eigenvalues is allowed.
    """
    vcov = fixed_x_vcov(np.asarray(res.vcov, dtype=float), res.model.fixed_x_for(res.estimator))
    if not np.all(np.isfinite(vcov)):
        raise ArgumentError("res: its covariance matrix of the estimates is not available (the information "
                            "matrix was singular); Monte Carlo intervals need it: check identification")
    center = res.theta
    if which is not None:
        vcov, center = vcov[np.ix_(which, which)], center[which]
    w, U = np.linalg.eigh((vcov + vcov.T) / 2)
    if w.size and w[0] < -1e-10 * max(1.0, abs(w[-1])):
        raise ArgumentError("res: its covariance matrix of the estimates is not positive semi-definite; "
                            "Monte Carlo intervals need a proper covariance matrix")
    rng = np.random.default_rng(as_seed_sequence(seed))
    z = rng.standard_normal((int(n_draws), w.size))
    return center[None, :] + (z * np.sqrt(np.clip(w, 0, None))) @ U.T
