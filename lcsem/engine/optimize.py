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
from .ram import RamStructure, gradient_terms, gram_terms
from .structure import GroupStats, GroupStructure

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
             estimator: str = "ML", max_iter: int = 500, tol: float = 1e-10, max_halvings: int = 40
             ) -> Solution:
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

    Returns
    -------
    Solution
        Per replicate: theta, the discrepancy at theta, converged, iterations and the largest
        absolute gradient at the last step.
    """
    objective = make_objective(struct, stats, estimator)
    return fisher_scoring(objective, theta0, max_iter=max_iter, tol=tol, max_halvings=max_halvings)


def fisher_scoring(objective: "Objective", theta0: np.ndarray, max_iter: int = 500, tol: float = 1e-10,
                   max_halvings: int = 40) -> Solution:
    """The batched Fisher-scoring loop on any :class:`Objective` (see :func:`minimize`)."""
    R, k = objective.n_replicates, objective.k
    theta = np.array(np.broadcast_to(theta0, (R, k)), dtype=float)
    fmin = objective.value(theta, np.arange(R))
    converged = np.zeros(R, dtype=bool)
    failed = ~np.isfinite(fmin)
    iterations = np.zeros(R, dtype=int)
    max_grad = np.full(R, np.inf)
    for _ in range(max_iter):
        active = np.flatnonzero(~converged & ~failed)
        if active.size == 0:
            break
        th = theta[active]
        grad, info = objective.gradient_information(th, active)
        step = objective.step(info, grad)
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
        self.S, self.mean, w = _check_stats(struct, stats)
        self.n_replicates = self.S.shape[0]
        self.k = struct.k
        self.logdet_S = np.linalg.slogdet(self.S)[1]                     # (R, G)
        self.w = np.broadcast_to(w, (self.n_replicates, struct.n_groups))

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
                Sigma, mu, _, _, _ = self.struct.group_moments(theta, g)
                d = None if mu is None else self.mean[idx, g] - mu
                f = self._weight(idx, g) * _ml_value(Sigma, self.S[idx, g], self.logdet_S[idx, g], d)
                total = f if total is None else total + f
        return np.where(np.isfinite(total), total, np.inf)

    def gradient_information(self, theta, idx):
        theta = np.atleast_2d(theta)
        R, k = theta.shape[0], self.k
        grad = np.zeros((R, k))
        info = np.zeros((R, k, k))
        for g in range(self.struct.n_groups):
            grad_e, info_e = self._entry_terms(theta, idx, g)
            plan = self.struct.plans[g]
            if plan.injective:
                cols = plan.param
            else:
                grad_e = grad_e @ plan.local
                info_e = plan.local.T @ info_e @ plan.local
                cols = plan.cols
            w = self._weight(idx, g)
            if np.ndim(w):
                grad_e, info_e = w[:, None] * grad_e, w[:, None, None] * info_e
            elif w != 1.0:
                grad_e, info_e = w * grad_e, w * info_e
            grad[:, cols] += grad_e
            info[:, cols[:, None], cols[None, :]] += info_e
        return grad, info

    def _entry_terms(self, theta, idx, g):
        """Gradient and information of group ``g``'s F_g in its free entries (covariance
        entries, then intercepts): (R, E + I), (R, E + I, E + I)."""
        struct, gs, plan = self.struct, self.struct.groups[g], self.struct.plans[g]
        Sigma, mu, B, C, Bnu = struct.group_moments(theta, g)
        W = np.linalg.inv(Sigma)
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

    def step(self, info, grad):
        """Block elimination: parameters private to one group couple only through the
        parameters shared by several groups (a Schur complement on those)."""
        struct = self.struct
        if struct.n_groups == 1:
            return super().step(info, grad)
        Q = struct.shared
        nQ = Q.size
        x = np.empty_like(grad)
        try:
            with np.errstate(all="ignore"):
                schur = info[:, Q[:, None], Q[None, :]]
                rhs = grad[:, Q]
                solved = []
                for P in struct.private:
                    if P.size == 0:
                        continue
                    Cg = info[:, P[:, None], Q[None, :]]
                    Y = np.linalg.solve(info[:, P[:, None], P[None, :]],
                                        np.concatenate([Cg, grad[:, P, None]], axis=2))
                    if nQ:
                        CgT = np.swapaxes(Cg, 1, 2)
                        schur = schur - CgT @ Y[:, :, :nQ]
                        rhs = rhs - (CgT @ Y[:, :, nQ:])[:, :, 0]
                    solved.append((P, Y))
                xQ = np.linalg.solve(schur, rhs[..., None])[..., 0] if nQ else np.zeros((grad.shape[0], 0))
                x[:, Q] = xQ
                for P, Y in solved:
                    x[:, P] = Y[:, :, nQ] - (Y[:, :, :nQ] @ xQ[..., None])[..., 0]
        except np.linalg.LinAlgError:
            return super().step(info, grad)
        ok = np.isfinite(x).all(axis=1)
        if not ok.all():
            x[~ok] = -super().step(info[~ok], grad[~ok])
        return -x


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


def _ml_value(Sigma: np.ndarray, S: np.ndarray, logdet_S: np.ndarray, d: np.ndarray | None) -> np.ndarray:
    """One group's F_ML (with the mean term when ``d = m - mu`` is given); inf where Sigma
    is not positive definite."""
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
    return np.where(bad | ~np.isfinite(f), np.inf, f)


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
