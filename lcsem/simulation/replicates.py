"""Fit one model to a batch of simulated covariance matrices and summarise each replicate.

Every replicate is a full fit warm-started at the population values: ML by the bootstrap's
batched engine (:func:`lcsem.engine.batch.fit_batch`), GLS and ULS by the engine's one
solver (:func:`lcsem.engine.minimize`) on the unbiased covariance ``S N / (N - 1)``, as
:func:`lcsem.fit` and lavaan. Standard errors are those :func:`lcsem.fit` reports: ML
``2/N · I(θ̂)⁻¹`` (expected information), GLS ``2/(N-1) · I_GLS(θ̂)⁻¹`` (weight ``S⁻¹``),
ULS ``(Δ'Δ)⁻¹/(N-1)`` (lavaan's "standard" ULS SEs); χ² is ``N F`` (ML) or
``(N - 1) F`` (GLS, ULS; ULS has no χ² p-value, as lavaan), and the fit indices follow
lavaan's formulas for the estimator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..engine.batch import fit_batch
from ..engine.optimize import information, minimize
from ..engine import RamStructure, free_variance_rows, moment_jacobian, residual_blocks
from ..spec.partable import ParRow
from ..inference.fit_indices import fit_measures, test_statistic
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
    Theta, Psi = residual_blocks(struct, theta)
    var_rows, _ = free_variance_rows(struct)
    ok = np.all(struct.row_values(theta)[:, var_rows] > 0, axis=1)
    loading = np.array([r.op == "=~" for r in struct.rows], dtype=bool)
    if loading.any():
        std = standardized_values(struct, theta)
        with np.errstate(invalid="ignore"):
            ok &= ~np.any(np.abs(std[:, loading]) > 1 + 1e-8, axis=1)
    for block in (Psi, Theta):
        if block.shape[1]:
            finite = np.all(np.isfinite(block), axis=(1, 2))
            eig = np.full(R, -1.0)
            eig[finite] = np.linalg.eigvalsh(block[finite])[:, 0]
            ok &= eig > 0
    return ok


def fit_replicates(model: Model, struct: RamStructure, S: np.ndarray, theta0: np.ndarray, n: int,
                   *, with_se: bool = True, estimator: str = "ML") -> ReplicateFits:
    """Fit ``struct`` to every covariance matrix in ``S`` (N-denominator, ``n`` cases) with
    ``estimator`` (``"ML"``, ``"GLS"`` or ``"ULS"``; module text)."""
    if estimator != "ML":
        return _fit_least_squares(model, struct, S, theta0, n, estimator, with_se)
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


def _fit_least_squares(model: Model, struct: RamStructure, S: np.ndarray, theta0: np.ndarray, n: int,
                       estimator: str, with_se: bool) -> ReplicateFits:
    """GLS / ULS replicates (module text)."""
    S_fit = S * (n / (n - 1.0))
    R, k = S.shape[0], struct.k
    sol = minimize(struct, S_fit, np.broadcast_to(theta0, (R, k)), estimator)
    theta = sol.theta
    conv = sol.converged & np.isfinite(sol.fmin)
    vcov = np.full((R, k, k), np.nan)
    if with_se and conv.any():
        idx = np.flatnonzero(conv)
        if estimator == "GLS":
            info = information(struct, theta[idx], np.linalg.inv(S_fit[idx]))
            scale = 2.0 / (n - 1)
        else:
            D = moment_jacobian(struct, theta[idx])                     # (R, k, p(p+1)/2)
            info = D @ np.swapaxes(D, 1, 2)
            scale = 1.0 / (n - 1)
        for j, r in enumerate(idx):
            try:
                vcov[r] = scale * np.linalg.inv(info[j])
            except np.linalg.LinAlgError:
                pass
    with np.errstate(invalid="ignore"):
        se = np.sqrt(np.diagonal(vcov, axis1=1, axis2=2))
    Sigma = struct.implied(theta)[0]
    chisq = np.where(conv, test_statistic(sol.fmin, n, estimator), np.nan)
    exo = _exogenous(model)
    chisq0 = least_squares_baseline(S_fit, n, exo, estimator)
    with np.errstate(invalid="ignore", divide="ignore"):
        fm = fit_measures(S_fit, Sigma, chisq, chisq0, n_obs=n, df=model.df, n_params=k, with_ci=False,
                          exogenous=exo, estimator=estimator)
    fit = {key: np.where(conv, np.asarray(fm[key], dtype=float), np.nan) for key in FIT_KEYS}
    adm = np.zeros(R, dtype=bool)
    if conv.any():
        adm[conv] = admissible(struct, theta[conv])
    return ReplicateFits(theta, se, vcov, conv, adm, fit)


def least_squares_baseline(S: np.ndarray, n: int, exogenous: tuple[int, ...], estimator: str) -> np.ndarray:
    """The GLS/ULS baseline chi-square of every replicate at once: the independence model
    (exogenous covariates keep their covariances) fitted with ``estimator``, GLS on
    unit-variance variables (as :func:`lcsem.inference.fit_indices.baseline_chisq`)."""
    S = np.asarray(S, float)
    if estimator == "GLS":
        d = 1.0 / np.sqrt(np.diagonal(S, axis1=1, axis2=2))
        S = S * d[:, :, None] * d[:, None, :]
    p = S.shape[-1]
    names = tuple(f"v{i}" for i in range(p))
    rows = [ParRow(v, "~~", v, "", i + 1, float("nan"), False) for i, v in enumerate(names)]
    for a in range(len(exogenous)):
        for b in range(a + 1, len(exogenous)):
            rows.append(ParRow(names[exogenous[a]], "~~", names[exogenous[b]], "", len(rows) + 1,
                               float("nan"), False))
    base = RamStructure(rows, names, ())
    ij = np.array([(names.index(r.lhs), names.index(r.rhs)) for r in rows])
    start = S[:, ij[:, 0], ij[:, 1]]
    sol = minimize(base, S, start, estimator)
    return np.asarray(test_statistic(sol.fmin, n, estimator), float)
