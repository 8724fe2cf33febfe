"""Fit one model to a batch of simulated covariance matrices and summarise each replicate.

Every replicate is a full ML fit by the bootstrap's batched engine
(:func:`lcsem.engine.batch.fit_batch`, warm-started at the population values);
standard errors come from each replicate's own expected information
(``2/N · I(θ̂)⁻¹``, lavaan's default), and fit indices from lavaan's formulas.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..engine.batch import fit_batch
from ..engine.optimize import information
from ..engine.ram import RamStructure
from ..inference.fit_indices import fit_measures
from ..spec.model import Model
from ..inference.standardized import DefinedParameters, standardized_values

__all__ = ["ReplicateFits", "fit_replicates", "admissible"]

FIT_KEYS = ("chisq", "pvalue", "cfi", "tli", "rmsea", "srmr")


@dataclass
class ReplicateFits:
    """Per-replicate outcomes of a batch (R replicates, k free parameters, D definitions)."""

    theta: np.ndarray        # (R, k)
    se: np.ndarray           # (R, k)   NaN where the information is singular
    vcov: np.ndarray         # (R, k, k)
    converged: np.ndarray    # (R,) bool
    admissible: np.ndarray   # (R,) bool
    fit: dict[str, np.ndarray]   # FIT_KEYS -> (R,)


def _exogenous(model: Model) -> tuple[int, ...]:
    return tuple(model.observed.index(n) for n in model.roles.exogenous_observed)


def admissible(struct: RamStructure, theta: np.ndarray) -> np.ndarray:
    """Vectorised admissibility (as :func:`lcsem.inference.standardized.admissibility`): no negative
    or zero free variance, no standardised loading above 1 in absolute value, positive
    definite latent and residual covariance matrices."""
    R = theta.shape[0]
    if R == 0:
        return np.zeros(0, dtype=bool)
    _, S = struct.matrices(theta)
    e = struct.row_entries
    free_var = (~e.is_path) & (e.row == e.col) & (struct.row_free >= 0)
    ok = np.all(np.diagonal(S, axis1=1, axis2=2)[:, e.row[free_var]] > 0, axis=1)
    loading = np.array([r.op == "=~" for r in struct.rows], dtype=bool)
    if loading.any():
        std = standardized_values(struct, theta)
        with np.errstate(invalid="ignore"):
            ok &= ~np.any(np.abs(std[:, loading]) > 1 + 1e-8, axis=1)
    p = struct.p
    for block in (S[:, p:, p:], S[:, :p, :p]):
        if block.shape[1]:
            finite = np.all(np.isfinite(block), axis=(1, 2))
            eig = np.full(R, -1.0)
            eig[finite] = np.linalg.eigvalsh(block[finite])[:, 0]
            ok &= eig > 0
    return ok


def fit_replicates(model: Model, struct: RamStructure, S: np.ndarray, theta0: np.ndarray, n: int,
                   *, with_se: bool = True) -> ReplicateFits:
    """Fit ``struct`` to every covariance matrix in ``S`` (N-denominator, ``n`` cases)."""
    out = fit_batch(struct, S, theta0)
    theta, conv = out.theta, out.converged
    R, k = theta.shape
    vcov = np.full((R, k, k), np.nan)
    if with_se and conv.any():
        idx = np.flatnonzero(conv)
        info = information(struct, theta[idx])
        try:
            vcov[idx] = 2.0 / n * np.linalg.inv(info)
        except np.linalg.LinAlgError:
            for j, r in enumerate(idx):
                try:
                    vcov[r] = 2.0 / n * np.linalg.inv(info[j])
                except np.linalg.LinAlgError:
                    pass
    with np.errstate(invalid="ignore"):
        se = np.sqrt(np.diagonal(vcov, axis1=1, axis2=2))
    fixed_x = [f - 1 for f in model.fixed_x_free]
    if fixed_x:
        se[:, fixed_x] = np.nan
    exo = _exogenous(model)
    fmin = np.where(conv, out.fmin, np.nan)
    n_params = struct.k - len(model.fixed_x_free)
    with np.errstate(invalid="ignore", divide="ignore"):
        fm = fit_measures(S, out.Sigma, n * fmin, n_obs=n, df=model.df, n_params=n_params,
                          with_ci=False, exogenous=exo)
    fit = {key: np.where(conv, np.asarray(fm[key], dtype=float), np.nan) for key in FIT_KEYS}
    adm = np.zeros(R, dtype=bool)
    if conv.any():
        adm[conv] = admissible(struct, theta[conv])
    return ReplicateFits(theta, se, vcov, conv, adm, fit)


def defined_with_se(defined: DefinedParameters, struct: RamStructure, theta: np.ndarray, vcov: np.ndarray,
                    rel_step: float = 1e-6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Defined values (R, D), their delta-method SEs (R, D) and Jacobians (R, D, k)."""
    R, k = theta.shape
    values = defined.evaluate(struct.row_values(theta))
    D = values.shape[1]
    J = np.zeros((R, D, k))
    for j in range(k):
        h = rel_step * np.maximum(np.abs(theta[:, j]), 1.0)
        up, down = theta.copy(), theta.copy()
        up[:, j] += h
        down[:, j] -= h
        J[:, :, j] = (defined.evaluate(struct.row_values(up)) - defined.evaluate(struct.row_values(down))) / (2 * h[:, None])
    with np.errstate(invalid="ignore"):
        se = np.sqrt(np.einsum("rdk,rkl,rdl->rd", J, vcov, J))
    return values, se, J
