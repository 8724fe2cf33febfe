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

Multi-group models with mean structures (:class:`~lcsem.engine.structure.GroupStructure`
with :class:`~lcsem.engine.structure.GroupStats`) use ML (for now): with weights
``w_g = N_g / N``

    F = sum_g w_g [log|Sigma_g| + tr(S_g Sigma_g^-1) + (m_g - mu_g)' Sigma_g^-1 (m_g - mu_g)
                   - log|S_g| - p],

its gradient and its expected information ``sum_g w_g [tr(W_g D_a W_g D_b) + 2 J_a' W_g J_b]``
(``W_g = Sigma_g^-1``, ``J = d mu_g / d theta``) in the units of the one-group case, so that
``vcov = 2 / N inv(information)`` and ``chisq = N F_min``. One solver (:func:`minimize`)
serves both: Fisher scoring with step halving on an objective that gives the discrepancy
and its gradient and information for any subset of the replicates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..exceptions import ArgumentError, NotSupportedError
from .batch import cholesky_factors
from .ram import RamStructure, gradient_terms, gram_terms
from .structure import GroupStats, GroupStructure, best_mean_parameters

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


def discrepancy(struct: RamStructure | GroupStructure, theta: np.ndarray, S: np.ndarray | GroupStats,
                estimator: str = "ML",
                logdet_S: np.ndarray | None = None, weight: np.ndarray | None = None) -> np.ndarray:
    """Discrepancy for each replicate; ``inf`` where Sigma is not positive definite (ML) or
    cannot be evaluated (a trial point so far out that its matrices overflow)."""
    if isinstance(struct, GroupStructure):
        return discrepancy_groups(struct, theta, S, estimator)
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


def minimize(struct: RamStructure | GroupStructure, stats: np.ndarray | GroupStats, theta0: np.ndarray,
             estimator: str = "ML", max_iter: int = 500, tol: float = 1e-10, max_halvings: int = 40,
             method: str = "fisher") -> Solution:
    """Minimise the discrepancy for every replicate from the start ``theta0``.

    Parameters
    ----------
    struct
        A :class:`RamStructure` (one group, covariances only) or a :class:`GroupStructure`.
    stats
        For a :class:`RamStructure`: the sample covariances (R, p, p). For a
        :class:`GroupStructure`: :class:`GroupStats` with ``R`` replicates.
    theta0
        Start (k,) or one per replicate (R, k).
    estimator
        ``"ML"``, ``"GLS"`` or ``"ULS"`` (groups or means: ML only).
    max_iter, tol, max_halvings
        At most ``max_iter`` Fisher-scoring steps, each halved up to ``max_halvings`` times
        until the discrepancy does not increase; a replicate stops when its step or its
        largest gradient is below ``tol`` (relative to the size of theta for the step).
    method
        ``"fisher"`` (default): Fisher scoring (Gauss-Newton for GLS/ULS), linear convergence.
        ``"newton"``: Newton steps with the exact Hessian where they descend, scoring steps
        elsewhere (quadratic convergence near the minimum: fewer iterations for batches
        started close to their solution, e.g. bootstrap replicates). ML with a
        :class:`GroupStructure` only.

    Returns
    -------
    Solution
        Per replicate: theta, the discrepancy at theta, converged, iterations and the largest
        absolute gradient at the last step.
    """
    if method not in ("fisher", "newton"):
        raise ArgumentError(f"method: {method!r} is not a method; use 'fisher' or 'newton'")
    objective = make_objective(struct, stats, estimator)
    newton = method == "newton"
    if isinstance(objective, GroupMLObjective) and objective.n_replicates > CHUNK:
        # chunks of replicates keep the working arrays in cache (each replicate's numbers
        # do not depend on the chunk it is in)
        theta0 = np.broadcast_to(theta0, (objective.n_replicates, struct.k))
        parts = [minimize(struct, stats.take(slice(s, s + CHUNK)), theta0[s:s + CHUNK],
                          estimator, max_iter, tol, max_halvings, method)
                 for s in range(0, objective.n_replicates, CHUNK)]
        return Solution(*(np.concatenate([getattr(part, f) for part in parts])
                          for f in ("theta", "fmin", "converged", "iterations", "max_gradient")))
    if newton and not isinstance(objective, GroupMLObjective):
        raise NotSupportedError("method: 'newton' needs ML with a GroupStructure (GroupStats); use "
                                "method='fisher' or wrap the model in a GroupStructure")
    return fisher_scoring(objective, theta0, max_iter=max_iter, tol=tol, max_halvings=max_halvings,
                          newton=newton)


#: replicates per chunk of a multi-group batch
CHUNK = 64


def fisher_scoring(objective: "Objective", theta0: np.ndarray, max_iter: int = 500, tol: float = 1e-10,
                   max_halvings: int = 40, newton: bool = False) -> Solution:
    """The batched Fisher-scoring loop on any :class:`Objective` (see :func:`minimize`).
    With ``newton`` (objectives with an exact Hessian), a replicate takes the Newton step
    where it is a descent direction and the scoring step otherwise."""
    R, k = objective.n_replicates, objective.k
    theta = np.array(np.broadcast_to(theta0, (R, k)), dtype=float)
    theta, fmin = objective.prepare(theta)
    converged = np.zeros(R, dtype=bool)
    failed = ~np.isfinite(fmin)
    iterations = np.zeros(R, dtype=int)
    max_grad = np.full(R, np.inf)
    for it in range(max_iter):
        active = np.flatnonzero(~converged & ~failed)
        if active.size == 0:
            break
        th = theta[active]
        # the first step is always a scoring step: far from the minimum the expected
        # information models F better than the exact Hessian (measured on bootstrap-like
        # replicates from a warm start: 5.0 instead of 6.6 iterations)
        if newton and it > 0:
            grad, step, descent = objective.direction(th, active, exact=True)
            if not descent.all():
                step[~descent] = objective.direction(th[~descent], active[~descent])[1]
        else:
            grad, step, _ = objective.direction(th, active)
            descent = np.zeros(active.size, dtype=bool)
        max_grad[active] = np.max(np.abs(grad), axis=1) if k else 0.0
        iterations[active] += 1
        f_old = fmin[active]
        alpha = np.ones(active.size)
        pending = np.arange(active.size)
        f_new = np.full(active.size, np.inf)
        for _h in range(max_halvings):
            trial = th[pending] + alpha[pending, None] * step[pending]
            f_try = objective.value(trial, active[pending])
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
        if newton:
            # a full Newton step of relative size s leaves an error of order s^2: a step
            # below sqrt(tol) / 10 ends at the minimum to within tol
            quadratic = descent & (alpha == 1.0) & (np.max(np.abs(step), axis=1, initial=0.0)
                                                     <= 0.1 * np.sqrt(tol) * (1.0 + np.max(np.abs(th), axis=1, initial=0.0)))
            done |= moved & quadratic
        # a replicate whose step cannot be taken at all sits at a (numerical) optimum
        # when its gradient is tiny; otherwise it has failed
        stuck = ~moved
        converged[active[done | (stuck & (max_grad[active] <= 1e-6))]] = True
        failed[active[stuck & (max_grad[active] > 1e-6)]] = True
    return Solution(theta, fmin, converged, iterations, max_grad)


# ---------------------------------------------------------------------- objectives
class Objective:
    """A discrepancy over ``n_replicates`` data sets: its value, gradient and information
    at parameter vectors for a subset ``idx`` of the replicates (one row of ``theta``
    per entry of ``idx``)."""

    n_replicates: int
    k: int

    def value(self, theta: np.ndarray, idx: np.ndarray) -> np.ndarray:   # pragma: no cover - interface
        raise NotImplementedError

    def gradient_information(self, theta: np.ndarray, idx: np.ndarray
                             ) -> tuple[np.ndarray, np.ndarray]:     # pragma: no cover - interface
        raise NotImplementedError

    def prepare(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The start of every replicate (R, k), possibly improved, and its discrepancy."""
        return theta, self.value(theta, np.arange(self.n_replicates))

    def direction(self, theta: np.ndarray, idx: np.ndarray, exact: bool = False
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Gradient, step and whether the step descends, per replicate: the scoring step
        ``-info^-1 grad`` (``exact``: the Newton step, for objectives with a Hessian)."""
        if exact:
            raise NotSupportedError(f"{type(self).__name__} has no exact Hessian; use Fisher scoring")
        grad, info = self.gradient_information(theta, idx)
        step = self.step(info, grad)
        return grad, step, np.ones(step.shape[0], dtype=bool)

    def step(self, info: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """The scoring step ``-info^-1 grad`` per replicate (pseudo-inverse when singular)."""
        try:
            return -np.linalg.solve(info, grad[..., None])[..., 0]
        except np.linalg.LinAlgError:
            return -np.einsum("rij,rj->ri", np.linalg.pinv(info), grad)


class CovarianceObjective(Objective):
    """ML, GLS or ULS for one group without means (the discrepancies of the module text)."""

    def __init__(self, struct: RamStructure, S: np.ndarray, estimator: str = "ML"):
        if estimator not in ESTIMATORS:
            raise ArgumentError(f"estimator: {estimator!r} is not supported; use one of {', '.join(ESTIMATORS)}")
        self.struct = struct
        self.S = np.asarray(S, dtype=float)
        self.estimator = estimator
        self.n_replicates = self.S.shape[0]
        self.k = struct.k
        self.logdet_S = np.linalg.slogdet(self.S)[1] if estimator == "ML" else None
        self.weight = _weight(self.S, estimator)

    def value(self, theta, idx):
        return discrepancy(self.struct, theta, self.S[idx], self.estimator,
                           None if self.logdet_S is None else self.logdet_S[idx],
                           None if self.weight is None else self.weight[idx])

    def gradient_information(self, theta, idx):
        return _gradient_information(self.struct, theta, self.S[idx], self.estimator,
                                     None if self.weight is None else self.weight[idx])


class GroupMLObjective(Objective):
    """ML over groups with or without means: ``sum_g (N_g / N) F_g`` (module text)."""

    def __init__(self, struct: GroupStructure, stats: GroupStats):
        self.struct = struct
        self.stats = stats
        self.S, self.mean, w = _check_stats(struct, stats)
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
        R, E, n, p = theta.shape[0], plan.n_cov, plan.param.size, struct.p
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
        # - 2 mu_ab' W d for two paths and for a path and an intercept
        if plan.path_idx.size:
            z = np.einsum("rpm,rp->rm", B[:, :p, :], Wd)                 # B_obs' W d
            a, i, j = plan.path_idx, plan.path_i, plan.path_j
            X = z[:, i][:, :, None] * B[:, j[:, None], i[None, :]] * Bnu[:, j][:, None, :]
            hess[:, a[:, None], a[None, :]] -= 2.0 * (X + np.swapaxes(X, 1, 2))
            if plan.mean_var.size:
                Y = -2.0 * z[:, i][:, :, None] * B[:, j[:, None], plan.mean_var[None, :]]
                hess[:, a[:, None], E + np.arange(plan.mean_var.size)[None, :]] += Y
                hess[:, E + np.arange(plan.mean_var.size)[:, None], a[None, :]] += np.swapaxes(Y, 1, 2)
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
        R, E, n = theta.shape[0], plan.n_cov, plan.param.size
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


def make_objective(struct: RamStructure | GroupStructure, stats: np.ndarray | GroupStats,
                   estimator: str = "ML") -> Objective:
    """The objective :func:`minimize` works on (see there for the arguments)."""
    if estimator not in ESTIMATORS:
        raise ArgumentError(f"estimator: {estimator!r} is not supported; use one of {', '.join(ESTIMATORS)}")
    if isinstance(struct, RamStructure):
        if isinstance(stats, GroupStats):
            raise ArgumentError("stats: a RamStructure takes sample covariances (R, p, p); pass a "
                                "GroupStructure with GroupStats, or stats.cov[:, 0]")
        return CovarianceObjective(struct, stats, estimator)
    if not isinstance(struct, GroupStructure):
        raise ArgumentError(f"struct: expected a RamStructure or GroupStructure, got {type(struct).__name__}")
    if not isinstance(stats, GroupStats):
        raise ArgumentError(f"stats: a GroupStructure takes GroupStats, got {type(stats).__name__}")
    if estimator == "ML":
        return GroupMLObjective(struct, stats)
    if struct.n_groups == 1 and not struct.meanstructure:
        S, _, _ = _check_stats(struct, stats)
        return CovarianceObjective(struct.groups[0], S[:, 0], estimator)
    raise NotSupportedError(f"estimator: {estimator} with several groups or a mean structure is not "
                            f"available (ML only for now); use estimator='ML'")


def _check_stats(struct: GroupStructure, stats: GroupStats) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
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
    not positive definite)."""
    p = S.shape[-1]
    bad = ~_positive_definite(Sigma)
    safe = np.where(bad[:, None, None], np.eye(p), Sigma)
    logdet = np.linalg.slogdet(safe)[1]
    with np.errstate(all="ignore"):
        inv = np.linalg.inv(safe)
        trace = np.einsum("rij,rji->r", S, inv)
        f = logdet + trace - logdet_S - p
        if d is not None:
            f = f + np.einsum("ri,rij,rj->r", d, inv, d)
    f = np.where(bad | ~np.isfinite(f), np.inf, f)
    return (f, inv) if inverse else f


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


def gradient(struct: RamStructure | GroupStructure, theta: np.ndarray, stats: np.ndarray | GroupStats,
             estimator: str = "ML") -> np.ndarray:
    """Gradient of the discrepancy at each row of ``theta`` (R, k); ``stats`` as in
    :func:`minimize` (one replicate per row of ``theta``)."""
    theta = np.atleast_2d(theta)
    if isinstance(struct, RamStructure) and not isinstance(stats, GroupStats):
        S = np.asarray(stats, dtype=float)
        return _gradient_information(struct, theta, S, estimator, _weight(S, estimator))[0]
    objective = make_objective(struct, stats, estimator)
    return objective.gradient_information(theta, np.arange(objective.n_replicates))[0]


def information(struct: RamStructure | GroupStructure, theta: np.ndarray,
                stats: np.ndarray | GroupStats | None = None) -> np.ndarray:
    """Expected information at each row of ``theta``: (R, k, k), so that
    ``vcov = 2 / N inv(information)`` under ML.

    For a :class:`RamStructure` it is ``tr(W D_a W D_b)`` and the third argument is the
    weight ``W`` (R, p, p) (default Sigma^-1: ML; GLS passes S^-1). For a
    :class:`GroupStructure` the third argument is the :class:`GroupStats` (their group
    sizes weigh the groups) and the information is ML's
    ``sum_g (N_g / N) [tr(W_g D_a W_g D_b) + 2 J_a' W_g J_b]`` (module text).
    """
    theta = np.atleast_2d(theta)
    if isinstance(struct, RamStructure):
        weight = stats
        Sigma, B, C = struct.implied(theta)
        W = np.linalg.inv(Sigma) if weight is None else weight
        U, V, c = struct.jacobian_vectors(B, C)
        return struct.free_map.T @ gram_terms(U, V, W, c) @ struct.free_map
    if not isinstance(stats, GroupStats):
        raise ArgumentError("stats: the information of a GroupStructure needs its GroupStats (group sizes)")
    R, G, p = theta.shape[0], struct.n_groups, struct.p
    n = np.asarray(stats.n, dtype=float)
    # the expected information does not depend on the sample moments: placeholders
    placeholder = GroupStats(np.broadcast_to(np.eye(p), (R, G, p, p)),
                             np.zeros((R, G, p)) if struct.meanstructure else None,
                             n if n.ndim == 1 else np.broadcast_to(n, (R, G)))
    return GroupMLObjective(struct, placeholder).gradient_information(theta, np.arange(R))[1]


def discrepancy_groups(struct: GroupStructure, theta: np.ndarray, stats: GroupStats,
                       estimator: str = "ML") -> np.ndarray:
    """The discrepancy of a :class:`GroupStructure` at each row of ``theta`` (one replicate
    of ``stats`` per row): (R,)."""
    objective = make_objective(struct, stats, estimator)
    theta = np.atleast_2d(theta)
    return objective.value(np.broadcast_to(theta, (objective.n_replicates, struct.k)),
                           np.arange(objective.n_replicates))
