"""Batched Fisher-scoring / Gauss-Newton minimisation of ML, GLS and ULS discrepancies.

All functions take sample covariances ``S`` of shape (R, p, p) and parameter vectors
``theta`` of shape (R, k), and work on every replicate at once. ML uses Fisher scoring
(the expected information ``tr(Sigma^-1 D_a Sigma^-1 D_b)``), GLS and ULS Gauss-Newton
with the fixed weight ``S^-1`` or ``I``; each iteration has step-halving, and each
replicate stops on its own when its step and gradient are negligible.

The discrepancies are lavaan's: ``F_GLS = 1/2 tr[(S^-1 (S - Sigma))^2]`` and, for ULS,
the unweighted sum over the ``p(p+1)/2`` distinct moments, in which every variance and
every covariance counts once: ``F_ULS = sum_{i<=j} (s_ij - sigma_ij)^2
= 1/2 tr[(S - Sigma)^2] + 1/2 sum_i (s_ii - sigma_ii)^2``. The test statistic is
``(N - 1) F`` for both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ram import RamStructure, gradient_terms, gram_terms

ESTIMATORS = ("ML", "GLS", "ULS")


@dataclass
class Solution:
    """Result of a batched minimisation."""

    theta: np.ndarray       # (R, k)
    fmin: np.ndarray        # (R,) discrepancy at theta (ML: F_ML, GLS: 1/2 tr[...]^2, ULS: sum_vech e^2)
    converged: np.ndarray   # (R,) bool
    iterations: np.ndarray  # (R,) int
    max_gradient: np.ndarray  # (R,)


def _weight(S: np.ndarray, estimator: str) -> np.ndarray | None:
    if estimator == "GLS":
        return np.linalg.inv(S)
    if estimator == "ULS":
        return np.broadcast_to(np.eye(S.shape[-1]), S.shape).copy()
    return None


def discrepancy(struct: RamStructure, theta: np.ndarray, S: np.ndarray, estimator: str = "ML",
                logdet_S: np.ndarray | None = None, weight: np.ndarray | None = None) -> np.ndarray:
    """Discrepancy for each replicate; ``inf`` where Sigma is not positive definite (ML) or
    cannot be evaluated (a trial point so far out that its matrices overflow)."""
    with np.errstate(over="ignore", invalid="ignore"):
        Sigma, _, _ = struct.implied(theta)
        f = _discrepancy_from_sigma(Sigma, S, estimator, logdet_S, weight)
    return np.where(np.isfinite(f), f, np.inf)


def _positive_definite(Sigma: np.ndarray) -> np.ndarray:
    """Per replicate: is Sigma positive definite? (a determinant's sign is not enough:
    two negative eigenvalues give a positive determinant)."""
    finite = np.isfinite(Sigma).all(axis=(1, 2))
    out = np.zeros(Sigma.shape[0], dtype=bool)
    if finite.any():
        eig = np.linalg.eigvalsh(Sigma[finite])
        # numerically singular (condition number beyond 1e13) counts as not positive definite
        out[finite] = eig[:, 0] > 1e-13 * np.abs(eig[:, -1])
    return out


def _discrepancy_from_sigma(Sigma, S, estimator, logdet_S=None, weight=None):
    p = S.shape[-1]
    if estimator == "ML":
        bad = ~_positive_definite(Sigma)
        safe = np.where(bad[:, None, None], np.eye(p), Sigma)
        logdet = np.linalg.slogdet(safe)[1]
        if logdet_S is None:
            logdet_S = np.linalg.slogdet(S)[1]
        with np.errstate(all="ignore"):
            trace = np.einsum("rij,rji->r", S, np.linalg.inv(safe))
        f = logdet + trace - logdet_S - p
        return np.where(bad | ~np.isfinite(f), np.inf, f)
    if weight is None:
        weight = _weight(S, estimator)
    R_ = weight @ (S - Sigma)
    f = 0.5 * np.einsum("rij,rji->r", R_, R_)
    if estimator == "ULS":
        f = f + 0.5 * (np.diagonal(R_, axis1=1, axis2=2) ** 2).sum(axis=1)
    return f


def minimize(struct: RamStructure, S: np.ndarray, theta0: np.ndarray, estimator: str = "ML",
             max_iter: int = 500, tol: float = 1e-10, max_halvings: int = 40) -> Solution:
    """Minimise the discrepancy for every replicate from the start ``theta0``."""
    S = np.asarray(S, dtype=float)
    R = S.shape[0]
    theta = np.array(np.broadcast_to(theta0, (R, struct.k)), dtype=float)
    logdet_S = np.linalg.slogdet(S)[1] if estimator == "ML" else None
    weight = _weight(S, estimator)
    fmin = discrepancy(struct, theta, S, estimator, logdet_S, weight)
    converged = np.zeros(R, dtype=bool)
    failed = ~np.isfinite(fmin)
    iterations = np.zeros(R, dtype=int)
    max_grad = np.full(R, np.inf)
    for _ in range(max_iter):
        active = np.flatnonzero(~converged & ~failed)
        if active.size == 0:
            break
        th = theta[active]
        Sa = S[active]
        grad, info = _gradient_information(struct, th, Sa, estimator,
                                           None if weight is None else weight[active])
        try:
            step = -np.linalg.solve(info, grad[..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = -np.einsum("rij,rj->ri", np.linalg.pinv(info), grad)
        max_grad[active] = np.max(np.abs(grad), axis=1) if struct.k else 0.0
        iterations[active] += 1
        f_old = fmin[active]
        alpha = np.ones(active.size)
        pending = np.arange(active.size)
        f_new = np.full(active.size, np.inf)
        for _h in range(max_halvings):
            trial = th[pending] + alpha[pending, None] * step[pending]
            f_try = discrepancy(struct, trial, Sa[pending], estimator,
                                None if logdet_S is None else logdet_S[active][pending],
                                None if weight is None else weight[active][pending])
            ok = f_try <= f_old[pending] + 1e-12 * (1.0 + np.abs(f_old[pending]))
            f_new[pending[ok]] = f_try[ok]
            pending = pending[~ok]
            if pending.size == 0:
                break
            alpha[pending] *= 0.5
        moved = np.isfinite(f_new)
        new_theta = th + alpha[:, None] * step
        theta[active[moved]] = new_theta[moved]
        fmin[active[moved]] = f_new[moved]
        small_step = np.max(np.abs(alpha[:, None] * step), axis=1, initial=0.0) <= tol * (1.0 + np.max(np.abs(th), axis=1, initial=0.0))
        small_grad = max_grad[active] <= tol
        done = moved & (small_step | small_grad)
        # a replicate whose step cannot be taken at all sits at a (numerical) optimum
        # when its gradient is tiny; otherwise it has failed
        stuck = ~moved
        converged[active[done | (stuck & (max_grad[active] <= 1e-6))]] = True
        failed[active[stuck & (max_grad[active] > 1e-6)]] = True
    return Solution(theta, fmin, converged, iterations, max_grad)


def _gradient_information(struct: RamStructure, theta: np.ndarray, S: np.ndarray, estimator: str,
                          weight: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Gradient of the discrepancy and its Fisher / Gauss-Newton information: (R, k), (R, k, k)."""
    Sigma, B, C = struct.implied(theta)
    W = np.linalg.inv(Sigma) if estimator == "ML" else weight
    U, V, c = struct.jacobian_vectors(B, C)
    M = W @ (Sigma - S) @ W
    grad_e = gradient_terms(U, V, M, c)
    info_e = gram_terms(U, V, W, c)
    if estimator == "ULS":
        # the variances' residuals count once more (sum over vech, not over the matrix)
        diag_d = 2.0 * c[None, :, None] * U * V           # (R, E, p): diagonal of each D_e
        grad_e = grad_e + np.einsum("rep,rp->re", diag_d, np.diagonal(M, axis1=1, axis2=2))
        info_e = info_e + diag_d @ np.swapaxes(diag_d, 1, 2)
    return grad_e @ struct.free_map, struct.free_map.T @ info_e @ struct.free_map


def gradient(struct: RamStructure, theta: np.ndarray, S: np.ndarray, estimator: str = "ML") -> np.ndarray:
    """Gradient of the discrepancy at each row of ``theta`` (R, k) for ``S`` (R, p, p)."""
    S = np.asarray(S, dtype=float)
    return _gradient_information(struct, np.atleast_2d(theta), S, estimator, _weight(S, estimator))[0]


def information(struct: RamStructure, theta: np.ndarray, weight: np.ndarray | None = None) -> np.ndarray:
    """Information ``tr(W D_a W D_b)`` at ``theta``; ``W`` defaults to Sigma^-1 (ML): (R, k, k)."""
    Sigma, B, C = struct.implied(theta)
    W = np.linalg.inv(Sigma) if weight is None else weight
    U, V, c = struct.jacobian_vectors(B, C)
    return struct.free_map.T @ gram_terms(U, V, W, c) @ struct.free_map
