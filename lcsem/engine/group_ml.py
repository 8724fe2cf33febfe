"""ML over several groups with mean structures: value, gradient, information, exact Hessian.

``F = sum_g w_g [log|Sigma_g| + tr(S_g Sigma_g^-1) + (m_g - mu_g)' Sigma_g^-1 (m_g - mu_g)
- log|S_g| - p]`` with ``w_g = N_g / N`` (see :mod:`lcsem.engine.optimize`). Derivatives are
formed per group in its free entries (covariance-structure entries, then intercepts) with
the rank-two vectors of :class:`~lcsem.engine.ram.RamStructure`, then mapped to the shared
parameter vector; the Newton and scoring steps never assemble the full matrix, but eliminate
each group's private parameters and solve for the shared ones (a Schur complement).
"""

from __future__ import annotations

import numpy as np

from ..exceptions import ArgumentError
from .linalg import cholesky_factors
from .objective import Objective
from .ram import gradient_terms, gram_terms
from .structure import GroupStats, GroupStructure, best_mean_parameters


class GroupMLObjective(Objective):
    """ML over groups with or without means: ``sum_g (N_g / N) F_g`` (module text)."""

    def __init__(self, struct: GroupStructure, stats: GroupStats):
        self.struct = struct
        self.stats = stats
        self.S, self.mean, w = check_group_stats(struct, stats)
        self.n_replicates = self.S.shape[0]
        self.k = struct.k
        self.logdet_S = np.linalg.slogdet(self.S)[1]                     # (R, G)
        self.w = np.broadcast_to(w, (self.n_replicates, struct.n_groups))
        # the moments of each replicate's last evaluated point (value() is last called at
        # the accepted point, where the next direction() is computed): (theta, per group
        # (Sigma, mu, B, C, B nu, Sigma^-1))
        self._cached_theta = np.full((self.n_replicates, self.k), np.nan)
        self._cache: list[list[np.ndarray | None]] | None = None

    def _store(self, theta, idx, g, moments):
        if self._cache is None:
            self._cache = [[None] * 6 for _ in range(self.struct.n_groups)]
        slots = self._cache[g]
        for i, value in enumerate(moments):
            if value is None:
                continue
            if slots[i] is None:
                slots[i] = np.empty((self.n_replicates,) + value.shape[1:])
            slots[i][idx] = value
        if g == self.struct.n_groups - 1:
            self._cached_theta[idx] = theta

    def _moments(self, theta, idx, g):
        """``(Sigma, mu, B, C, B nu, Sigma^-1)`` of group ``g``, from the cache when every
        replicate's theta is the one last evaluated."""
        if self._cache is not None and np.array_equal(self._cached_theta[idx], theta):
            slots = self._cache[g]
            return tuple(None if s is None else s[idx] for s in slots)
        Sigma, mu, B, C, Bnu = self.struct.group_moments(theta, g)
        return Sigma, mu, B, C, Bnu, np.linalg.inv(Sigma)

    def prepare(self, theta):
        """Parameters that only intercepts use start at their best values given the others
        (:func:`~lcsem.engine.structure.best_mean_parameters`): a start whose means are far
        off would otherwise pull the covariance part astray. They do not move Sigma, and F
        is a convex quadratic in them, so the discrepancy cannot increase."""
        if self.mean is not None:
            theta = best_mean_parameters(self.struct, self.stats, theta)
        return theta, self.value(theta, np.arange(self.n_replicates))

    def _weight(self, idx, g):
        w = self.w[idx, g]
        # one weight shared by every replicate (fixed group sizes): a scalar, so that one
        # group weighs exactly 1.0 * F
        return w[0] if w.size and np.all(w == w[0]) else w

    def value(self, theta, idx):
        theta = np.atleast_2d(theta)
        total = None
        with np.errstate(over="ignore", invalid="ignore"):
            for g in range(self.struct.n_groups):
                moments = self.struct.group_moments(theta, g)
                Sigma, mu = moments[:2]
                d = None if mu is None else self.mean[idx, g] - mu
                f, W = _ml_value(Sigma, self.S[idx, g], self.logdet_S[idx, g], d, inverse=True)
                self._store(theta, idx, g, moments + (W,))
                f = self._weight(idx, g) * f
                total = f if total is None else total + f
        return np.where(np.isfinite(total), total, np.inf)

    def gradient_information(self, theta, idx):
        return self._assemble(theta, idx, self._entry_terms)

    def derivatives(self, theta: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Gradient, exact Hessian and expected information: (R, k), (R, k, k), (R, k, k)."""
        return self._assemble(theta, idx, self._entry_hessian)

    def direction(self, theta: np.ndarray, idx: np.ndarray, exact: bool = False
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Gradient, step ``-H^-1 g`` (``H``: the exact Hessian with ``exact``, else the
        expected information) and whether it is a descent direction, per replicate. ``H``
        is never assembled in full: each group's block is split into its private parameters
        and those shared with other groups, and the shared ones are solved for by their
        Schur complement. Replicates whose system cannot be solved get the pseudo-inverse
        step of the assembled information (scoring) or no step and ``False`` (Newton)."""
        theta = np.atleast_2d(theta)
        struct = self.struct
        R, k = theta.shape[0], self.k
        Q = struct.shared
        nQ = Q.size
        qpos = np.full(k, -1)
        qpos[Q] = np.arange(nQ)
        grad = np.zeros((R, k))
        schur = np.zeros((R, nQ, nQ))
        blocks = []
        for g in range(struct.n_groups):
            plan = struct.plans[g]
            g_e, H = self._entry_hessian(theta, idx, g)[:2] if exact else self._entry_terms(theta, idx, g)
            if plan.injective:
                cols = plan.param
            else:
                g_e, H, cols = g_e @ plan.local, plan.local.T @ H @ plan.local, plan.cols
            w = self._weight(idx, g)
            if np.ndim(w):
                g_e, H = w[:, None] * g_e, w[:, None, None] * H
            elif w != 1.0:
                g_e, H = w * g_e, w * H
            grad[:, cols] += g_e
            shared = qpos[cols] >= 0
            pp, qq = np.flatnonzero(~shared), np.flatnonzero(shared)
            sq = qpos[cols[qq]]
            if nQ:
                schur[:, sq[:, None], sq[None, :]] += H[:, qq[:, None], qq[None, :]]
            Cg = np.zeros((R, pp.size, nQ))
            Cg[:, :, sq] = H[:, pp[:, None], qq[None, :]]
            blocks.append((cols[pp], H[:, pp[:, None], pp[None, :]], Cg))
        x = np.full((R, k), np.nan)
        with np.errstate(all="ignore"):
            try:
                rhs = grad[:, Q]
                solved = []
                # Newton steps only where the Hessian is positive definite: every private
                # block and the Schur complement of the shared parameters
                positive = np.ones(R, dtype=bool)
                for P, A, Cg in blocks:
                    if P.size == 0:
                        continue
                    if exact:
                        positive &= cholesky_factors(A)[0]
                    Y = np.linalg.solve(A, np.concatenate([Cg, grad[:, P, None]], axis=2))
                    if nQ:
                        CgT = np.swapaxes(Cg, 1, 2)
                        schur = schur - CgT @ Y[:, :, :nQ]
                        rhs = rhs - (CgT @ Y[:, :, nQ:])[:, :, 0]
                    solved.append((P, Y))
                if exact and nQ:
                    positive &= cholesky_factors(schur)[0]
                xQ = np.linalg.solve(schur, rhs[..., None])[..., 0] if nQ else np.zeros((R, 0))
                x[:, Q] = xQ
                for P, Y in solved:
                    x[:, P] = Y[:, :, nQ] - (Y[:, :, :nQ] @ xQ[..., None])[..., 0]
            except np.linalg.LinAlgError:
                x[:] = np.nan           # singular somewhere: see below
                positive = np.zeros(R, dtype=bool)
            step = -x
            descent = np.isfinite(step).all(axis=1) & (np.einsum("ri,ri->r", step, grad) < 0)
            if exact:
                descent &= positive
        if not exact:
            bad = ~np.isfinite(step).all(axis=1)
            if bad.any():
                _, info = self.gradient_information(theta[bad], idx[bad])
                step[bad] = super().step(info, grad[bad])
            return grad, step, descent
        return grad, np.where(descent[:, None], step, 0.0), descent

    def _assemble(self, theta, idx, entry_terms):
        """Sum over groups of ``w_g`` times the group's entry-level terms mapped to theta."""
        theta = np.atleast_2d(theta)
        R, k = theta.shape[0], self.k
        out = None
        for g in range(self.struct.n_groups):
            terms = entry_terms(theta, idx, g)
            if out is None:
                out = [np.zeros((R,) + (k,) * (t.ndim - 1)) for t in terms]
            plan = self.struct.plans[g]
            w = self._weight(idx, g)
            for total, term in zip(out, terms):
                if not plan.injective:
                    term = term @ plan.local if term.ndim == 2 else plan.local.T @ term @ plan.local
                cols = plan.param if plan.injective else plan.cols
                if np.ndim(w):
                    term = w.reshape((-1,) + (1,) * (term.ndim - 1)) * term
                elif w != 1.0:
                    term = w * term
                if term.ndim == 2:
                    total[:, cols] += term
                else:
                    total[:, cols[:, None], cols[None, :]] += term
        return tuple(out)

    def _entry_hessian(self, theta, idx, g):
        """Gradient, exact Hessian and information of group ``g``'s F_g in its free entries.

        With ``d = m - mu``, ``S* = S + d d'``, ``Sigma_a = dSigma/da``, ``mu_a = dmu/da``:
        ``H_ab = H^cov_ab(S*) + 2 mu_a' W Sigma_b W d + 2 mu_b' W Sigma_a W d
        - 2 mu_ab' W d + 2 mu_a' W mu_b``, where ``H^cov(S*)`` is the covariance-only
        Hessian at ``S*`` (:func:`lcsem.engine.batch._derivatives`) and the second derivatives
        of ``mu = B nu`` are ``d2 mu / dA_ij dA_kl = B_i B_jk (B nu)_l + B_k B_li (B nu)_j``,
        ``d2 mu / dA_ij d nu_l = B_i B_jl``.
        """
        struct, plan = self.struct, self.struct.plans[g]
        gs = struct.groups[g]
        Sigma, mu, B, C, Bnu, W = self._moments(theta, idx, g)
        S = self.S[idx, g]
        if mu is not None:
            d = self.mean[idx, g] - mu
            S = S + d[:, :, None] * d[:, None, :]
        U, V, c = gs.jacobian_vectors(B, C)
        grad_c, hess_c, fisher_c = _covariance_hessian(plan, struct.p, U, V, c, W, W @ (Sigma - S) @ W, B, C)
        if mu is None:
            return grad_c, hess_c, fisher_c
        E, p = plan.n_cov, struct.p
        coef = np.where(plan.is_path[None, :], Bnu[:, plan.path_col], 0.0)
        J = np.concatenate([U * coef[:, :, None], np.swapaxes(B[:, :p, plan.mean_var], 1, 2)], axis=1)
        WJ = J @ W
        JWJ = 2.0 * (WJ @ np.swapaxes(J, 1, 2))
        grad = -2.0 * np.einsum("rep,rp->re", WJ, d)
        grad[:, :E] += grad_c
        fisher = JWJ.copy()
        fisher[:, :E, :E] += fisher_c
        hess = JWJ
        hess[:, :E, :E] += hess_c
        # 2 mu_a' W Sigma_b W d (b a covariance-structure entry) and its transpose
        Wd = np.einsum("rpq,rq->rp", W, d)
        uWd = np.einsum("rep,rp->re", U, Wd)
        vWd = np.einsum("rep,rp->re", V, Wd)
        T1 = 2.0 * c[None, None, :] * ((WJ @ np.swapaxes(U, 1, 2)) * vWd[:, None, :]
                                       + (WJ @ np.swapaxes(V, 1, 2)) * uWd[:, None, :])
        hess[:, :, :E] += T1
        hess[:, :E, :] += np.swapaxes(T1, 1, 2)
        add_mean_path_curvature(hess, plan, B, Bnu, Wd, p, E)
        return grad, hess, fisher

    def _entry_terms(self, theta, idx, g):
        """Gradient and information of group ``g``'s F_g in its free entries (covariance
        entries, then intercepts): (R, E + I), (R, E + I, E + I)."""
        struct, gs, plan = self.struct, self.struct.groups[g], self.struct.plans[g]
        Sigma, mu, B, C, Bnu, W = self._moments(theta, idx, g)
        U, V, c = gs.jacobian_vectors(B, C)
        S = self.S[idx, g]
        if mu is None:
            M = W @ (Sigma - S) @ W
            return gradient_terms(U, V, M, c), gram_terms(U, V, W, c)
        d = self.mean[idx, g] - mu
        M = W @ (Sigma - S - d[:, :, None] * d[:, None, :]) @ W
        E = plan.n_cov
        # d mu / d entry: u_e (B nu)_j for a path A[i, j], 0 for a covariance, B[obs, i]
        # for the intercept of variable i
        coef = np.where(plan.is_path[None, :], Bnu[:, plan.path_col], 0.0)
        J = np.concatenate([U * coef[:, :, None], np.swapaxes(B[:, : struct.p, plan.mean_var], 1, 2)], axis=1)
        WJ = J @ W                                                          # (R, E + I, p)
        info = 2.0 * (WJ @ np.swapaxes(J, 1, 2))
        info[:, :E, :E] += gram_terms(U, V, W, c)
        grad = -2.0 * np.einsum("rep,rp->re", WJ, d)
        grad[:, :E] += gradient_terms(U, V, M, c)
        return grad, info


def add_mean_path_curvature(hess: np.ndarray, plan, B: np.ndarray, Bnu: np.ndarray, Wd: np.ndarray,
                            p: int, E: int) -> None:
    """Add ``- 2 mu_ab' W d`` to ``hess`` (in place) for two paths and for a path and an
    intercept (``Wd = W (m - mu)``; ``d2 mu / dA_ij dA_kl = B_i B_jk (B nu)_l + B_k B_li
    (B nu)_j``, ``d2 mu / dA_ij d nu_l = B_i B_jl``)."""
    if not plan.path_idx.size:
        return
    z = np.einsum("rpm,rp->rm", B[:, :p, :], Wd)                 # B_obs' W d
    a, i, j = plan.path_idx, plan.path_i, plan.path_j
    X = z[:, i][:, :, None] * B[:, j[:, None], i[None, :]] * Bnu[:, j][:, None, :]
    hess[:, a[:, None], a[None, :]] -= 2.0 * (X + np.swapaxes(X, 1, 2))
    if plan.mean_var.size:
        Y = -2.0 * z[:, i][:, :, None] * B[:, j[:, None], plan.mean_var[None, :]]
        hess[:, a[:, None], E + np.arange(plan.mean_var.size)[None, :]] += Y
        hess[:, E + np.arange(plan.mean_var.size)[:, None], a[None, :]] += np.swapaxes(Y, 1, 2)


def _covariance_hessian(plan, p: int, U: np.ndarray, V: np.ndarray, c: np.ndarray, W: np.ndarray,
                        M: np.ndarray, B: np.ndarray, C: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradient, exact Hessian and Fisher information of ``log|Sigma| + tr(S Sigma^-1)`` in
    the covariance-structure entries (``M = W (Sigma - S) W``, ``W = Sigma^-1``).

    With ``D_e = c_e (u_e v_e' + v_e u_e')``: gradient ``tr(M D_e)``; Hessian
    ``tr(W D_a W D_b) - tr(M D_a W D_b) - tr(W D_a M D_b) + tr(M D_ab)``, where the second
    derivative of Sigma is nonzero for two paths ``A[i, j]``, ``A[k, l]``
    (``tr(M D_ab) = 2 [B_jk Q_li + B_li Q_jk + G_ik C_jl]``) and for a path and a
    covariance ``S[k, l]`` (``2 c_b [B_jk G_li + B_jl G_ki]``), with ``G = B_o' M B_o``,
    ``Q = C_o' M B_o`` (``_o``: observed rows). The same formulas as the bootstrap engine
    (:mod:`lcsem.engine.batch`), by products of the rank-two vectors instead of gathers.
    """
    Ut, Vt = np.swapaxes(U, 1, 2), np.swapaxes(V, 1, 2)
    WU, WV, MU, MV = U @ W, V @ W, U @ M, V @ M
    w_uu, w_vv, w_uv = WU @ Ut, WV @ Vt, WU @ Vt
    m_uu, m_vv, m_uv = MU @ Ut, MV @ Vt, MU @ Vt
    w_vu, m_vu = np.swapaxes(w_uv, 1, 2), np.swapaxes(m_uv, 1, 2)
    cc = 2.0 * c[:, None] * c[None, :]
    fisher = cc * (w_vu * w_uv + w_uu * w_vv)
    hess = fisher - cc * (w_vu * m_uv + w_vv * m_uu + w_uu * m_vv + w_uv * m_vu)
    grad = 2.0 * c[None, :] * np.diagonal(m_uv, axis1=1, axis2=2)
    P = plan.path_idx
    if P.size:
        Bo, Co = B[:, :p, :], C[:, :p, :]
        BtM = np.swapaxes(Bo, 1, 2) @ M                  # (R, m, p)
        G = BtM @ Bo                                      # B_o' M B_o
        Q = np.swapaxes(BtM @ Co, 1, 2)                   # C_o' M B_o
        i, j = plan.path_i, plan.path_j
        I, J = i[:, None], j[:, None]
        K, L = i[None, :], j[None, :]
        pp = 2.0 * (B[:, J, K] * Q[:, L, I] + B[:, L, I] * Q[:, J, K] + G[:, I, K] * C[:, J, L])
        hess[:, P[:, None], P[None, :]] += pp
        Cv = plan.cov_idx
        if Cv.size:
            k, l = plan.cov_k[None, :], plan.cov_l[None, :]
            ps = 2.0 * c[Cv][None, None, :] * (B[:, J, k] * G[:, l, I] + B[:, J, l] * G[:, k, I])
            hess[:, P[:, None], Cv[None, :]] += ps
            hess[:, Cv[:, None], P[None, :]] += np.swapaxes(ps, 1, 2)
    return grad, hess, fisher


def check_group_stats(struct: GroupStructure, stats: GroupStats) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """``(cov, mean, weights)`` with their shapes checked against ``struct``."""
    S = np.asarray(stats.cov, dtype=float)
    G, p = struct.n_groups, struct.p
    if S.ndim != 4 or S.shape[1:] != (G, p, p):
        raise ArgumentError(f"stats.cov: shape {S.shape}, expected (R, {G}, {p}, {p}) "
                            f"(replicates, groups, variables, variables)")
    mean = None
    if struct.meanstructure:
        if stats.mean is None:
            raise ArgumentError("stats.mean: the model has a mean structure but no sample means were "
                                "given; pass the group means (R, G, p)")
        mean = np.asarray(stats.mean, dtype=float)
        if mean.shape != (S.shape[0], G, p):
            raise ArgumentError(f"stats.mean: shape {mean.shape}, expected ({S.shape[0]}, {G}, {p})")
    n = np.asarray(stats.n, dtype=float)
    if n.shape not in ((G,), (S.shape[0], G)) or not np.all(n > 0):
        raise ArgumentError(f"stats.n: {n!r}, expected {G} positive group sizes")
    return S, mean, stats.weights


def _ml_value(Sigma: np.ndarray, S: np.ndarray, logdet_S: np.ndarray, d: np.ndarray | None,
              inverse: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """One group's F_ML (with the mean term when ``d = m - mu`` is given); inf where Sigma
    is not positive definite. With ``inverse`` also Sigma^-1 (the identity where Sigma is
    not positive definite).

    One Cholesky factorisation ``Sigma = L L'`` per replicate gives all three: whether
    Sigma is positive definite (each matrix judged by its own factorisation; numerically
    singular ones, squared pivot ratio below 1e-13, count as not), ``log|Sigma| = 2 sum
    log L_ii`` and ``Sigma^-1 = L^-T L^-1`` (an eigenvalue test, a determinant and an
    inverse cost three factorisations)."""
    p = S.shape[-1]
    finite = np.isfinite(Sigma).all(axis=(1, 2))
    ok, L = cholesky_factors(np.where(finite[:, None, None], Sigma, np.eye(p)))
    ok &= finite
    diag = np.diagonal(L, axis1=1, axis2=2)
    with np.errstate(all="ignore"):
        ok &= diag.min(axis=1, initial=np.inf) ** 2 > 1e-13 * diag.max(axis=1, initial=0.0) ** 2
        L = np.where(ok[:, None, None], L, np.eye(p))
        logdet = 2.0 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1)
        L_inv = np.linalg.inv(L)
        inv = np.swapaxes(L_inv, 1, 2) @ L_inv
        trace = np.einsum("rij,rji->r", S, inv)
        f = logdet + trace - logdet_S - p
        if d is not None:
            f = f + np.einsum("ri,rij,rj->r", d, inv, d)
    f = np.where(~ok | ~np.isfinite(f), np.inf, f)
    return (f, inv) if inverse else f
