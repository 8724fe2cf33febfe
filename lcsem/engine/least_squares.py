"""Newton steps for GLS and ULS replicates: the exact Hessian of the least-squares
discrepancies, as an objective of the engine's batched solver.

Both discrepancies are quadratic in ``E = Sigma - S``: ``F = 1/2 vec(E)' V vec(E)`` with a
fixed weight (GLS: ``V = W x W``, ``W = S^-1``; ULS: every distinct moment once). With
``M = dF/dSigma`` (GLS: ``W E W``; ULS: ``E + Diag(E)``) the gradient is ``tr(M D_a)``
and the Hessian is the Gauss-Newton matrix plus ``tr(M D_ab)``, where ``D_ab`` is the
second derivative of ``Sigma``, nonzero for two paths ``A[i, j]``, ``A[k, l]``
(``tr(M D_ab) = 2 [B_jk Q_li + B_li Q_jk + G_ik C_jl]``) and for a path and a covariance
``S[k, l]`` (``2 c_b [B_jk G_li + B_jl G_ki]``), with ``G = B_o' M B_o`` and
``Q = C_o' M B_o`` -- the formulas of the engine's ML Hessian
(:func:`lcsem.engine.optimize._covariance_hessian`), without ML's terms from the
derivative of ``Sigma^-1`` (the weight is fixed here).

Gauss-Newton (the engine's default for GLS and ULS) converges linearly when the model
misfits: 30-60 iterations per HS replicate, and 1% of the replicates not within 500;
Newton steps from the full-sample estimate take a few. :func:`fit_least_squares` runs the
engine's :func:`~lcsem.engine.optimize.fisher_scoring` loop with Newton steps where the
Hessian is positive definite and Gauss-Newton steps elsewhere.
"""

from __future__ import annotations

import numpy as np

from .linalg import cholesky_factors, cholesky_solve
from .optimize import CovarianceObjective, Solution, fisher_scoring
from .ram import RamStructure, gradient_terms, gram_terms

__all__ = ["LeastSquaresObjective", "fit_least_squares", "second_derivative_terms"]


class LeastSquaresObjective(CovarianceObjective):
    """GLS or ULS of one group without means, with the exact Hessian (module text)."""

    def __init__(self, struct: RamStructure, S: np.ndarray, estimator: str):
        super().__init__(struct, S, estimator)
        e = struct.free_entries
        self.path_idx = np.flatnonzero(e.is_path)
        self.path_i, self.path_j = e.row[self.path_idx], e.col[self.path_idx]
        self.cov_idx = np.flatnonzero(~e.is_path)
        self.cov_k, self.cov_l = e.row[self.cov_idx], e.col[self.cov_idx]

    def direction(self, theta: np.ndarray, idx: np.ndarray, exact: bool = False
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not exact:
            return super().direction(theta, idx)
        struct = self.struct
        theta = np.atleast_2d(theta)
        Sigma, B, C = struct.implied(theta)
        W = self.weight[idx]
        U, V, c = struct.jacobian_vectors(B, C)
        E = Sigma - self.S[idx]
        if self.estimator == "ULS":
            M = E + E * np.eye(struct.p)            # E + Diag(E)
            diag_d = 2.0 * c[None, :, None] * U * V  # diagonal of each D_e
            info = gram_terms(U, V, W, c) + diag_d @ np.swapaxes(diag_d, 1, 2)
        else:
            M = W @ E @ W
            info = gram_terms(U, V, W, c)
        grad_e = gradient_terms(U, V, M, c)
        hess = info + self._second_derivative_terms(M, B, C, c)
        F = struct.free_map
        grad, H = grad_e @ F, F.T @ hess @ F
        positive, L = cholesky_factors(H)
        step = np.zeros_like(grad)
        if positive.any():
            step[positive] = cholesky_solve(L[positive], grad[positive])[0]
        with np.errstate(all="ignore"):
            descent = positive & np.isfinite(step).all(axis=1) & (np.einsum("ri,ri->r", step, grad) < 0)
        return grad, np.where(descent[:, None], step, 0.0), descent

    def _second_derivative_terms(self, M: np.ndarray, B: np.ndarray, C: np.ndarray, c: np.ndarray) -> np.ndarray:
        """``tr(M D_ab)`` for every pair of free entries: (R, E, E)."""
        return second_derivative_terms(M, B, C, c, self.struct.p, self.path_idx, self.path_i, self.path_j,
                                       self.cov_idx, self.cov_k, self.cov_l)


def second_derivative_terms(M: np.ndarray, B: np.ndarray, C: np.ndarray, c: np.ndarray, p: int,
                            path_idx: np.ndarray, path_i: np.ndarray, path_j: np.ndarray,
                            cov_idx: np.ndarray, cov_k: np.ndarray, cov_l: np.ndarray) -> np.ndarray:
    """``tr(M D_ab)`` for every pair of free entries (paths ``A[path_i, path_j]`` at
    positions ``path_idx``, covariances ``S[cov_k, cov_l]`` at ``cov_idx``): (R, E, E)."""
    R, E = M.shape[0], c.size
    out = np.zeros((R, E, E))
    P = path_idx
    if not P.size:
        return out
    Bo, Co = B[:, :p, :], C[:, :p, :]
    BtM = np.swapaxes(Bo, 1, 2) @ M
    G = BtM @ Bo
    Q = np.swapaxes(BtM @ Co, 1, 2)
    I, J = path_i[:, None], path_j[:, None]
    K, L = path_i[None, :], path_j[None, :]
    out[:, P[:, None], P[None, :]] = 2.0 * (B[:, J, K] * Q[:, L, I] + B[:, L, I] * Q[:, J, K]
                                            + G[:, I, K] * C[:, J, L])
    Cv = cov_idx
    if Cv.size:
        k, l = cov_k[None, :], cov_l[None, :]
        ps = 2.0 * c[Cv][None, None, :] * (B[:, J, k] * G[:, l, I] + B[:, J, l] * G[:, k, I])
        out[:, P[:, None], Cv[None, :]] = ps
        out[:, Cv[:, None], P[None, :]] = np.swapaxes(ps, 1, 2)
    return out


def fit_least_squares(struct: RamStructure, S: np.ndarray, theta0: np.ndarray, estimator: str,
                      max_iter: int = 200) -> Solution:
    """GLS or ULS fits of every covariance matrix in ``S`` (R, p, p; unbiased) from
    ``theta0``: Newton steps where the Hessian is positive definite, Gauss-Newton steps
    elsewhere, step halving, the engine's stopping rules."""
    objective = LeastSquaresObjective(struct, S, estimator)
    return fisher_scoring(objective, theta0, max_iter=max_iter, newton=True)
