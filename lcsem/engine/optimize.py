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
``vcov = 2 / N inv(information)`` and ``chisq = N F_min`` (:mod:`lcsem.engine.group_ml`).
One solver (:func:`lcsem.engine.solve.solve`, entered here by :func:`minimize` and
:func:`fisher_scoring`) serves both: Fisher scoring with step halving on an
:class:`~lcsem.engine.objective.Objective` that gives the discrepancy and its derivatives for
any subset of the replicates; with ``method="newton"`` (groups, ML) Newton steps with the
exact Hessian where it is positive definite. Batches of a
``GroupStructure`` run in chunks of :data:`CHUNK` replicates (each replicate's numbers do
not depend on its chunk).
"""

from __future__ import annotations

import numpy as np

from ..exceptions import ArgumentError, NotSupportedError
from .group_ml import GroupMLObjective, check_group_stats
from .objective import Objective, positive_definite as _positive_definite
from .ram import RamStructure, gradient_terms, gram_terms
from .solve import SCORING, Solution, solve
from .structure import GroupStats, GroupStructure

ESTIMATORS = ("ML", "GLS", "ULS")


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
    """The engine's solver (:func:`lcsem.engine.solve.solve`) with its
    :data:`~lcsem.engine.solve.SCORING` rules on any :class:`Objective` (see :func:`minimize`).
    With ``newton`` (objectives with an exact Hessian), a replicate takes the Newton step
    where it is a descent direction and the scoring step otherwise."""
    return solve(objective, theta0, rules=SCORING, exact=newton, max_iter=max_iter, tol=tol,
                 max_halvings=max_halvings)


# ---------------------------------------------------------------------- objectives
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
        S, _, _ = check_group_stats(struct, stats)
        return CovarianceObjective(struct.groups[0], S[:, 0], estimator)
    raise NotSupportedError(f"estimator: {estimator} with several groups or a mean structure is not "
                            f"available (ML only for now); use estimator='ML'")


def _gradient_information(struct: RamStructure, theta: np.ndarray, S: np.ndarray, estimator: str,
                          weight: np.ndarray | None, with_information: bool = True
                          ) -> tuple[np.ndarray, np.ndarray | None]:
    """Gradient of the discrepancy and its Fisher / Gauss-Newton information: (R, k), (R, k, k)
    (the information is None when ``with_information`` is False: it costs E² p² per replicate,
    the gradient E p²)."""
    Sigma, B, C = struct.implied(theta)
    W = np.linalg.inv(Sigma) if estimator == "ML" else weight
    U, V, c = struct.jacobian_vectors(B, C)
    M = W @ (Sigma - S) @ W
    grad_e = gradient_terms(U, V, M, c)
    info_e = gram_terms(U, V, W, c) if with_information else None
    if estimator == "ULS":
        # the variances' residuals count once more (sum over vech, not over the matrix)
        diag_d = 2.0 * c[None, :, None] * U * V           # (R, E, p): diagonal of each D_e
        grad_e = grad_e + np.einsum("rep,rp->re", diag_d, np.diagonal(M, axis1=1, axis2=2))
        if with_information:
            info_e = info_e + diag_d @ np.swapaxes(diag_d, 1, 2)
    info = None if info_e is None else struct.free_map.T @ info_e @ struct.free_map
    return grad_e @ struct.free_map, info


def gradient(struct: RamStructure | GroupStructure, theta: np.ndarray, stats: np.ndarray | GroupStats,
             estimator: str = "ML") -> np.ndarray:
    """Gradient of the discrepancy at each row of ``theta`` (R, k); ``stats`` as in
    :func:`minimize` (one replicate per row of ``theta``)."""
    theta = np.atleast_2d(theta)
    if isinstance(struct, RamStructure) and not isinstance(stats, GroupStats):
        S = np.asarray(stats, dtype=float)
        return _gradient_information(struct, theta, S, estimator, _weight(S, estimator),
                                     with_information=False)[0]
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
