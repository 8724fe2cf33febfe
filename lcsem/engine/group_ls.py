"""GLS and ULS over several groups and with mean structures, as lavaan fits them.

lavaan's least-squares discrepancies are weighted sums of squares of the residual moments
``e_g = (m_g - mu_g, vech(S_g - Sigma_g))`` of each group (``S_g`` the unbiased covariance,
``m_g`` the sample mean), with a fixed weight matrix ``V_g``:

* GLS (normal theory at the sample moments): ``V_g = blockdiag(S_g^-1, 1/2 D'(S_g^-1 x S_g^-1) D)``,
  ``F_g = 1/2 tr[(S_g^-1 (S_g - Sigma_g))^2] + (m_g - mu_g)' S_g^-1 (m_g - mu_g)``;
* ULS: ``V_g = I``, ``F_g = sum_{i<=j} (s_ij - sigma_ij)^2 + sum_i (m_i - mu_i)^2``.

lavaan weighs group ``g`` by ``(N_g - 1) / N_g`` times ``N_g / N`` (``lav_model_objective``), so
that ``F = sum_g w_g F_g`` with ``w_g = (N_g - 1) / (N - G)`` gives the test statistic
``(N - G) F = sum_g (N_g - 1) F_g``; one group without means is the single-group ``(N - 1) F``.

Gauss-Newton (the information is ``2 Delta_g' V_g Delta_g``, ``Delta_g`` the Jacobian of the
moments) works with the rank-two derivative vectors of
:class:`~lcsem.engine.ram.RamStructure` as the ML objective does. Standard errors are
lavaan's "standard" ones: ``vcov = 2 / (N - G) inv(sum_g (N_g / N) 2 Delta_g' V_g Delta_g / 2)``,
i.e. :func:`ls_information` with ``N_g / N`` weights (:func:`ls_vcov_scale`).
"""

from __future__ import annotations

import numpy as np

from ..exceptions import ArgumentError
from .linalg import cholesky_factors, cholesky_solve
from .group_ml import add_mean_path_curvature
from .least_squares import second_derivative_terms
from .objective import Objective
from .ram import gradient_terms, gram_terms
from .structure import GroupStats, GroupStructure

#: the least-squares estimators of this module
LS_ESTIMATORS = ("GLS", "ULS")


def ls_weights(n: np.ndarray) -> np.ndarray:
    """lavaan's group weights of a least-squares discrepancy: ``(N_g - 1) / (N - G)``
    ((G,) or (R, G) like ``n``)."""
    n = np.asarray(n, dtype=float)
    return (n - 1.0) / (n - 1.0).sum(axis=-1, keepdims=True)


def unbiased(stats: GroupStats) -> GroupStats:
    """``stats`` with covariances of denominator ``N_g - 1`` (from ML's ``N_g``), which the
    least-squares estimators fit (as lavaan)."""
    n = np.asarray(stats.n, dtype=float)
    factor = n / (n - 1.0)
    factor = factor[None, :, None, None] if factor.ndim == 1 else factor[:, :, None, None]
    return GroupStats(np.asarray(stats.cov, float) * factor, stats.mean, stats.n)


class GroupLSObjective(Objective):
    """GLS or ULS over groups, with or without means (module text).

    Parameters
    ----------
    struct
        The model.
    stats
        Sample statistics of ``R`` replicates; ``cov`` with denominator ``N_g - 1``.
    estimator
        ``"GLS"`` or ``"ULS"``.
    weights
        Group weights (G,) or (R, G); default lavaan's :func:`ls_weights`. Standard errors
        use ``N_g / N`` (:func:`ls_information`).
    """

    def __init__(self, struct: GroupStructure, stats: GroupStats, estimator: str,
                 weights: np.ndarray | None = None):
        if estimator not in LS_ESTIMATORS:
            raise ArgumentError(f"estimator: {estimator!r} is not a least-squares estimator; use "
                                f"{' or '.join(map(repr, LS_ESTIMATORS))}")
        self.struct = struct
        self.estimator = estimator
        S = np.asarray(stats.cov, dtype=float)
        G, p = struct.n_groups, struct.p
        if S.ndim != 4 or S.shape[1:] != (G, p, p):
            raise ArgumentError(f"stats.cov: shape {S.shape}, expected (R, {G}, {p}, {p})")
        if struct.meanstructure and stats.mean is None:
            raise ArgumentError("stats.mean: the model has a mean structure but no sample means were "
                                "given; pass the group means (R, G, p)")
        self.S = S
        self.mean = np.asarray(stats.mean, float) if struct.meanstructure else None
        self.n_replicates = S.shape[0]
        self.k = struct.k
        w = ls_weights(stats.n) if weights is None else np.asarray(weights, dtype=float)
        self.w = np.broadcast_to(w, (self.n_replicates, G))
        self.W = np.linalg.inv(S) if estimator == "GLS" else None      # (R, G, p, p)

    # ------------------------------------------------------------------ value
    def value(self, theta: np.ndarray, idx: np.ndarray) -> np.ndarray:
        theta = np.atleast_2d(theta)
        total = np.zeros(theta.shape[0])
        with np.errstate(over="ignore", invalid="ignore"):
            for g in range(self.struct.n_groups):
                Sigma, mu = self.struct.group_moments(theta, g)[:2]
                total += self.w[idx, g] * self._group_value(Sigma, mu, idx, g)
        return np.where(np.isfinite(total), total, np.inf)

    def _group_value(self, Sigma, mu, idx, g):
        E = self.S[idx, g] - Sigma
        d = None if mu is None else self.mean[idx, g] - mu
        if self.estimator == "GLS":
            W = self.W[idx, g]
            WE = W @ E
            f = 0.5 * np.einsum("rij,rji->r", WE, WE)
            if d is not None:
                f = f + np.einsum("ri,rij,rj->r", d, W, d)
            return f
        iu = np.triu_indices(self.struct.p)
        f = (E[:, iu[0], iu[1]] ** 2).sum(axis=1)
        if d is not None:
            f = f + (d ** 2).sum(axis=1)
        return f

    # ------------------------------------------------------------------ derivatives
    def gradient_information(self, theta: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Gradient and Gauss-Newton information ``2 sum_g w_g Delta_g' V_g Delta_g``."""
        theta = np.atleast_2d(theta)
        R, k = theta.shape[0], self.k
        grad = np.zeros((R, k))
        info = np.zeros((R, k, k))
        for g in range(self.struct.n_groups):
            g_e, i_e = self._entry_terms(theta, idx, g)
            plan = self.struct.plans[g]
            g_e, i_e = g_e @ plan.local, plan.local.T @ i_e @ plan.local
            w = self.w[idx, g]
            cols = plan.cols
            grad[:, cols] += w[:, None] * g_e
            info[:, cols[:, None], cols[None, :]] += w[:, None, None] * i_e
        return grad, info

    def _entry_terms(self, theta, idx, g):
        """Gradient and information of ``F_g`` in group ``g``'s free entries (covariance
        entries, then intercepts): (R, E + I), (R, E + I, E + I)."""
        struct, gs, plan = self.struct, self.struct.groups[g], self.struct.plans[g]
        Sigma, mu, B, C, Bnu = struct.group_moments(theta, g)
        U, V, c = gs.jacobian_vectors(B, C)
        R, p = theta.shape[0], struct.p
        W = self.W[idx, g] if self.estimator == "GLS" else np.broadcast_to(np.eye(p), (R, p, p))
        M = W @ (Sigma - self.S[idx, g]) @ W
        grad_c = gradient_terms(U, V, M, c)
        info_c = gram_terms(U, V, W, c)
        if self.estimator == "ULS":
            # every variance's residual counts once more (vech, not the full matrix)
            diag_d = 2.0 * c[None, :, None] * U * V
            grad_c = grad_c + np.einsum("rep,rp->re", diag_d, np.diagonal(M, axis1=1, axis2=2))
            info_c = info_c + diag_d @ np.swapaxes(diag_d, 1, 2)
        if mu is None:
            return grad_c, info_c
        E = plan.n_cov
        d = self.mean[idx, g] - mu
        # d mu / d entry: u_e (B nu)_j for a path A[i, j], 0 for a covariance, B[obs, i] for
        # the intercept of variable i
        coef = np.where(plan.is_path[None, :], Bnu[:, plan.path_col], 0.0)
        J = np.concatenate([U * coef[:, :, None], np.swapaxes(B[:, :p, plan.mean_var], 1, 2)], axis=1)
        WJ = J @ W
        info = 2.0 * (WJ @ np.swapaxes(J, 1, 2))
        info[:, :E, :E] += info_c
        grad = -2.0 * np.einsum("rep,rp->re", WJ, d)
        grad[:, :E] += grad_c
        return grad, info


    # ------------------------------------------------------------------ Newton
    def direction(self, theta: np.ndarray, idx: np.ndarray, exact: bool = False
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Gradient, step and whether it descends. ``exact``: the Newton step with the exact
        Hessian where it is positive definite (no step and ``False`` elsewhere, where the
        solver takes the Gauss-Newton step); else the Gauss-Newton step."""
        if not exact:
            return super().direction(theta, idx)
        theta = np.atleast_2d(theta)
        R, k = theta.shape[0], self.k
        grad = np.zeros((R, k))
        H = np.zeros((R, k, k))
        for g in range(self.struct.n_groups):
            g_e, h_e = self._entry_hessian(theta, idx, g)
            plan = self.struct.plans[g]
            w = self.w[idx, g]
            grad[:, plan.cols] += w[:, None] * (g_e @ plan.local)
            H[:, plan.cols[:, None], plan.cols[None, :]] += w[:, None, None] * (plan.local.T @ h_e @ plan.local)
        positive, L = cholesky_factors(H)
        step = np.zeros_like(grad)
        with np.errstate(all="ignore"):
            if positive.any():
                step[positive] = cholesky_solve(L[positive], grad[positive])[0]
            descent = positive & np.isfinite(step).all(axis=1) & (np.einsum("ri,ri->r", step, grad) < 0)
        return grad, np.where(descent[:, None], step, 0.0), descent

    def _entry_hessian(self, theta, idx, g):
        """Gradient and exact Hessian of ``F_g`` in group ``g``'s free entries.

        Covariance part: the Gauss-Newton matrix plus ``tr(M D_ab)`` with ``M = dF/dSigma``
        (GLS: ``W E W``; ULS: ``E + Diag(E)``, ``E = Sigma - S``;
        :func:`~lcsem.engine.least_squares.second_derivative_terms`). Mean part (``W`` fixed):
        ``2 mu_a' W mu_b - 2 mu_ab' W d`` with the second derivatives of ``mu = B nu`` of
        :meth:`lcsem.engine.group_ml.GroupMLObjective._entry_hessian`."""
        struct, gs, plan = self.struct, self.struct.groups[g], self.struct.plans[g]
        Sigma, mu, B, C, Bnu = struct.group_moments(theta, g)
        U, V, c = gs.jacobian_vectors(B, C)
        R, p = theta.shape[0], struct.p
        E_res = Sigma - self.S[idx, g]
        if self.estimator == "GLS":
            W = self.W[idx, g]
            M = W @ E_res @ W
            info_c = gram_terms(U, V, W, c)
        else:
            W = np.broadcast_to(np.eye(p), (R, p, p))
            M = E_res + E_res * np.eye(p)
            diag_d = 2.0 * c[None, :, None] * U * V
            info_c = gram_terms(U, V, W, c) + diag_d @ np.swapaxes(diag_d, 1, 2)
        grad_c = gradient_terms(U, V, M, c)
        hess_c = info_c + second_derivative_terms(M, B, C, c, p, plan.path_idx, plan.path_i, plan.path_j,
                                                  plan.cov_idx, plan.cov_k, plan.cov_l)
        if mu is None:
            return grad_c, hess_c
        E = plan.n_cov
        d = self.mean[idx, g] - mu
        coef = np.where(plan.is_path[None, :], Bnu[:, plan.path_col], 0.0)
        J = np.concatenate([U * coef[:, :, None], np.swapaxes(B[:, :p, plan.mean_var], 1, 2)], axis=1)
        WJ = J @ W
        hess = 2.0 * (WJ @ np.swapaxes(J, 1, 2))
        hess[:, :E, :E] += hess_c
        grad = -2.0 * np.einsum("rep,rp->re", WJ, d)
        grad[:, :E] += grad_c
        add_mean_path_curvature(hess, plan, B, Bnu, np.einsum("rpq,rq->rp", W, d), p, E)
        return grad, hess


def ls_information(struct: GroupStructure, theta: np.ndarray, stats: GroupStats, estimator: str) -> np.ndarray:
    """lavaan's expected information of a GLS/ULS fit at each row of ``theta``, in the
    units of :func:`ls_vcov_scale`: ``sum_g (N_g / N) 2 Delta_g' V_g Delta_g`` (R, k, k);
    ``stats`` with unbiased covariances (GLS's weight is their inverse)."""
    theta = np.atleast_2d(theta)
    objective = GroupLSObjective(struct, stats, estimator, weights=stats.weights)
    return objective.gradient_information(theta, np.arange(theta.shape[0]) % objective.n_replicates)[1]


def ls_vcov_scale(n: np.ndarray) -> float:
    """``vcov = scale inv(ls_information)`` with lavaan's ``N - G``: ``2 / (N - G)``."""
    n = np.asarray(n, dtype=float)
    return 2.0 / float(n.sum() - n.size)


def ls_statistic(fmin: float | np.ndarray, n: np.ndarray) -> np.ndarray:
    """The test statistic ``(N - G) F_min`` (``F`` weighted by :func:`ls_weights`)."""
    n = np.asarray(n, dtype=float)
    return np.maximum(np.asarray(fmin, dtype=float), 0.0) * (n.sum(axis=-1) - n.shape[-1])
