"""Multi-group models with mean structures: one parameter vector, per group (Sigma_g, mu_g).

A model fitted to ``G`` groups has ONE parameter vector ``theta`` of length ``k`` (the
table's global ``free`` numbers; rows sharing a number are one parameter, which is how
equality constraints across groups are expressed). Each group ``g`` is a RAM model of its
own (:class:`~lcsem.engine.ram.RamStructure` over the global ``theta``) plus, with a mean
structure, an intercept vector ``nu_g`` over all variables (``op == "~1"`` rows: observed
intercepts and latent means). With ``B_g = (I - A_g)^-1``

    Sigma_g = (B_g S_g B_g')[obs, obs],        mu_g = (B_g nu_g)[obs].

Derivatives of the mean: ``d mu / d nu_i = B[obs, i]``; for a path ``A[i, j]``
``d mu / d A[i, j] = B[obs, i] (B nu)[j]`` (the same ``u`` vector as the covariance's
rank-two derivative, times a scalar); covariances do not move ``mu``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from ..exceptions import ArgumentError, ModelSpecificationError
from ..spec.partable import ParRow
from .ram import RamStructure


@dataclass(frozen=True)
class GroupStats:
    """Sample statistics the solver consumes, for ``R`` replicates of ``G`` groups.

    Attributes
    ----------
    cov
        (R, G, p, p) covariance matrices with denominator ``N_g`` (ML's).
    mean
        (R, G, p) mean vectors, or None for a model without a mean structure.
    n
        (G,) group sizes ``N_g`` (or (R, G) when replicates differ in their sizes). The
        discrepancy weighs group ``g`` by ``N_g / N``.
    """

    cov: np.ndarray
    mean: np.ndarray | None
    n: np.ndarray

    @classmethod
    def single(cls, cov: np.ndarray, n: float | np.ndarray, mean: np.ndarray | None = None) -> "GroupStats":
        """Statistics of one group: ``cov`` (p, p) or (R, p, p), ``mean`` (p,) or (R, p)."""
        cov = np.asarray(cov, float)
        cov = cov[None] if cov.ndim == 2 else cov
        if mean is not None:
            mean = np.asarray(mean, float)
            mean = (mean[None] if mean.ndim == 1 else mean)[:, None, :]
        return cls(cov[:, None], mean, np.atleast_1d(np.asarray(n, float)))

    @property
    def n_replicates(self) -> int:
        """Number of replicates ``R``."""
        return int(np.shape(self.cov)[0])

    def take(self, idx: np.ndarray | slice) -> "GroupStats":
        """The replicates ``idx`` (an index array or a slice)."""
        n = np.asarray(self.n)
        return GroupStats(np.asarray(self.cov)[idx], None if self.mean is None else np.asarray(self.mean)[idx],
                          n if n.ndim == 1 else n[idx])

    def repeat(self, times: int) -> "GroupStats":
        """Every replicate ``times`` times in a row (e.g. one data set for several starts)."""
        n = np.asarray(self.n)
        return GroupStats(np.repeat(self.cov, times, axis=0),
                          None if self.mean is None else np.repeat(self.mean, times, axis=0),
                          n if n.ndim == 1 else np.repeat(n, times, axis=0))

    @property
    def weights(self) -> np.ndarray:
        """``N_g / N``: (G,) or (R, G)."""
        n = np.asarray(self.n, float)
        return n / n.sum(axis=-1, keepdims=True)


class GroupStructure:
    """Maps one parameter vector to the implied moments of every group.

    Parameters
    ----------
    rows
        The parameter table: group 1's rows, then group 2's, ... (``ParRow.group`` 1..G);
        ``:=`` rows (group 0) are ignored. ``free`` numbers are global (1..k).
    observed
        Observed variable names in data-column order (the same in every group).
    latent
        Latent variable names.
    n_groups
        Number of groups ``G``.
    meanstructure
        Whether the model has a mean structure (intercept rows ``op == "~1"``).

    Attributes
    ----------
    k, n_groups, p, m, meanstructure
        Number of parameters, groups, observed and all variables; mean structure on/off.
    groups
        One :class:`RamStructure` per group, each mapping the GLOBAL ``theta``.
    rows
        The non-``:=`` rows in table order; ``row_free`` (-1 when fixed) and ``row_fixed``
        align with them.
    """

    def __init__(self, rows: Sequence[ParRow], observed: tuple[str, ...], latent: tuple[str, ...],
                 n_groups: int = 1, meanstructure: bool = False):
        if int(n_groups) < 1:
            raise ArgumentError(f"n_groups: {n_groups!r} is not a number of groups; pass 1 or more")
        self.n_groups = int(n_groups)
        self.meanstructure = bool(meanstructure)
        self.observed = tuple(observed)
        self.latent = tuple(latent)
        self.names = self.observed + self.latent
        self.p = len(self.observed)
        self.m = len(self.names)
        self.rows = tuple(r for r in rows if r.op != ":=")
        self.k = max((r.free for r in self.rows), default=0)
        bad = [r for r in self.rows if not 1 <= r.group <= self.n_groups]
        if bad:
            r = bad[0]
            raise ModelSpecificationError(
                f"row {r.lhs} {r.op} {r.rhs}: group {r.group} is outside 1..{self.n_groups}; number the "
                f"groups 1..n_groups (n_groups={self.n_groups})")
        if not self.meanstructure and any(r.op == "~1" for r in self.rows):
            r = next(r for r in self.rows if r.op == "~1")
            raise ModelSpecificationError(
                f"row {r.lhs} ~1: an intercept in a model without a mean structure; pass "
                f"meanstructure=True or drop the intercept rows")
        self.group_positions = tuple(
            np.flatnonzero(np.array([r.group == g for r in self.rows], dtype=bool))
            for g in range(1, self.n_groups + 1))
        empty = [g + 1 for g, pos in enumerate(self.group_positions) if pos.size == 0]
        if empty:
            raise ModelSpecificationError(f"group {empty[0]} has no rows in the parameter table; "
                                          f"give every group 1..{self.n_groups} its rows")
        self.groups = tuple(RamStructure([self.rows[i] for i in pos], self.observed, self.latent, k=self.k)
                            for pos in self.group_positions)
        self.row_free = np.asarray([r.free - 1 for r in self.rows], dtype=int)
        self.row_fixed = np.asarray([0.0 if r.free else (r.value if np.isfinite(r.value) else 0.0)
                                     for r in self.rows], dtype=float)
        # mean part per group: every intercept row (its variable, free number, fixed value)
        # and the one-hot map of the free ones to theta
        self._mean_var, self._mean_free, self._mean_fixed = [], [], []
        self._mean_free_var, self._mean_map = [], []
        for gs in self.groups:
            mean_rows = np.flatnonzero(gs.row_is_mean)
            var = gs.row_entries.row[mean_rows]
            free = gs.row_free[mean_rows]
            self._mean_var.append(var)
            self._mean_free.append(free)
            self._mean_fixed.append(gs.row_fixed[mean_rows])
            is_free = free >= 0
            self._mean_free_var.append(var[is_free])
            fmap = np.zeros((int(is_free.sum()), self.k))
            fmap[np.arange(int(is_free.sum())), free[is_free]] = 1.0
            self._mean_map.append(fmap)

        self.plans = tuple(_GroupPlan(self, g) for g in range(self.n_groups))
        # parameters used by more than one group (equality constraints across groups)
        uses = np.zeros(self.k, dtype=int)
        for plan in self.plans:
            uses[plan.cols] += 1
        self.shared = np.flatnonzero(uses > 1)
        self.private = tuple(np.setdiff1d(plan.cols, self.shared) for plan in self.plans)

    # ------------------------------------------------------------------ moments
    def mean_vector(self, theta: np.ndarray, g: int) -> np.ndarray:
        """Intercepts ``nu_g`` of all variables (observed, then latent): (R, m)."""
        theta = np.atleast_2d(theta)
        nu = np.zeros((theta.shape[0], self.m))
        free = self._mean_free[g]
        if free.size:
            values = np.where(free >= 0, theta[:, np.maximum(free, 0)] if self.k else 0.0, self._mean_fixed[g])
            nu[:, self._mean_var[g]] = values
        return nu

    def group_moments(self, theta: np.ndarray, g: int
                      ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray, np.ndarray | None]:
        """``(Sigma, mu, B, C, B nu)`` of group ``g`` (0-based) for each row of ``theta``;
        ``mu`` and ``B nu`` are None without a mean structure."""
        theta = np.atleast_2d(theta)
        Sigma, B, C = self.groups[g].implied(theta)
        if not self.meanstructure:
            return Sigma, None, B, C, None
        Bnu = np.einsum("rij,rj->ri", B, self.mean_vector(theta, g))
        return Sigma, Bnu[:, : self.p], B, C, Bnu

    def implied(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Implied ``(Sigma, mu)``: (R, G, p, p) and (R, G, p). Without a mean structure the
        means are not modelled and ``mu`` is all zeros."""
        theta = np.atleast_2d(theta)
        R = theta.shape[0]
        Sigma = np.empty((R, self.n_groups, self.p, self.p))
        mu = np.zeros((R, self.n_groups, self.p))
        for g in range(self.n_groups):
            Sg, mg, _, _, _ = self.group_moments(theta, g)
            Sigma[:, g] = Sg
            if mg is not None:
                mu[:, g] = mg
        return Sigma, mu

    def mean_jacobian(self, g: int, B: np.ndarray, Bnu: np.ndarray, U: np.ndarray) -> np.ndarray:
        """``d mu_g / d theta``: (R, p, k), from ``B``, ``B nu`` and the ``U`` vectors of the
        group's free entries (:meth:`RamStructure.jacobian_vectors`)."""
        gs = self.groups[g]
        e = gs.free_entries
        coef = np.where(e.is_path[None, :], Bnu[:, e.col], 0.0)              # (R, E)
        J = np.einsum("rep,re,ek->rpk", U, coef, gs.free_map)
        if self._mean_free_var[g].size:
            J = J + B[:, : self.p, self._mean_free_var[g]] @ self._mean_map[g]
        return J

    def implied_mean_jacobian(self, theta: np.ndarray, g: int) -> np.ndarray:
        """``d mu_g / d theta`` of group ``g`` (0-based) at each row of ``theta``: (R, p, k)
        (a model with a mean structure)."""
        theta = np.atleast_2d(theta)
        _, _, B, C, Bnu = self.group_moments(theta, g)
        U, _, _ = self.groups[g].jacobian_vectors(B, C)
        return self.mean_jacobian(g, B, Bnu, U)

    # ------------------------------------------------------------------ values
    def row_values(self, theta: np.ndarray) -> np.ndarray:
        """Value of every non-``:=`` row, in table order, for each row of ``theta``: (R, n_rows)."""
        theta = np.atleast_2d(theta)
        if self.k == 0:
            return np.broadcast_to(self.row_fixed, (theta.shape[0], self.row_fixed.size)).copy()
        return np.where(self.row_free >= 0, theta[:, np.maximum(self.row_free, 0)], self.row_fixed)

    def theta_from_rows(self, estimates: Mapping[tuple, float]) -> np.ndarray:
        """Parameter vector from estimates keyed by ``(lhs, op, rhs, group)`` or, for every
        group alike, ``(lhs, op, rhs)``; parameters not found are NaN."""
        theta = np.full(self.k, np.nan)
        for r, f in zip(self.rows, self.row_free):
            if f < 0 or not np.isnan(theta[f]):
                continue
            for key in ((r.lhs, r.op, r.rhs, r.group), (r.lhs, r.op, r.rhs)):
                value = estimates.get(key)
                if value is None and r.op == "~~":
                    value = estimates.get((r.rhs, r.op, r.lhs) + key[3:])
                if value is not None:
                    theta[f] = value
                    break
        return theta

    def moment_jacobian(self, theta: np.ndarray) -> np.ndarray:
        """Jacobian of the implied moments at one ``theta`` (k,): per group ``vech(Sigma_g)``
        (upper triangle, row by row) then, with a mean structure, ``mu_g``; groups stacked:
        (sum_g [p(p+1)/2 (+ p)], k)."""
        theta = np.asarray(theta, float).reshape(1, -1)
        rows, cols = np.triu_indices(self.p)
        blocks = []
        for g, gs in enumerate(self.groups):
            _, _, B, C, Bnu = self.group_moments(theta, g)
            U, V, c = gs.jacobian_vectors(B, C)
            u, v = U[0], V[0]
            # vech of dSigma / d entry e = c_e (u_e v_e' + v_e u_e'), then entries -> theta
            D = c[:, None] * (u[:, rows] * v[:, cols] + v[:, rows] * u[:, cols])
            blocks.append(D.T @ gs.free_map)
            if self.meanstructure:
                blocks.append(self.mean_jacobian(g, B, Bnu, U)[0])
        return np.concatenate(blocks, axis=0)

    @property
    def n_moments(self) -> int:
        """Number of sample moments: ``G (p(p+1)/2 [+ p])``."""
        per = self.p * (self.p + 1) // 2 + (self.p if self.meanstructure else 0)
        return self.n_groups * per


class _GroupPlan:
    """Index sets of one group's free entries: the covariance entries of its RAM structure
    followed by its free intercepts, the parameters they use (``cols``, sorted) and the
    map from entries to those parameters (``local``: one-hot, (E + I, k_g); ``injective``
    when every entry has a parameter of its own, so the map is a gather/scatter)."""

    def __init__(self, struct: GroupStructure, g: int):
        gs = struct.groups[g]
        mask = (gs.row_free >= 0) & ~gs.row_is_mean
        f_cov = gs.row_free[mask]
        f_mean = struct._mean_free[g][struct._mean_free[g] >= 0]
        self.n_cov = f_cov.size
        self.mean_var = struct._mean_free_var[g]
        self.param = np.concatenate([f_cov, f_mean]).astype(int)      # global parameter per entry
        self.cols = np.unique(self.param)
        self.injective = self.cols.size == self.param.size
        loc = np.searchsorted(self.cols, self.param)
        self.local = np.zeros((self.param.size, self.cols.size))
        self.local[np.arange(self.param.size), loc] = 1.0
        self.path_col = np.where(gs.free_entries.is_path, gs.free_entries.col, 0)
        self.is_path = gs.free_entries.is_path
        e = gs.free_entries
        self.path_idx = np.flatnonzero(e.is_path)            # path entries: A[i, j]
        self.path_i, self.path_j = e.row[self.path_idx], e.col[self.path_idx]
        self.cov_idx = np.flatnonzero(~e.is_path)           # covariance entries: S[k, l]
        self.cov_k, self.cov_l = e.row[self.cov_idx], e.col[self.cov_idx]


def best_mean_parameters(struct: GroupStructure, stats: GroupStats, theta: np.ndarray) -> np.ndarray:
    """``theta`` (R, k) with the parameters that only intercept rows use set to their best
    values given the others: the implied means are linear in them and the covariances do not
    depend on them, so minimising the ML discrepancy over them, i.e. its mean part
    ``sum_g w_g (m_g - mu_g)' Sigma_g^-1 (m_g - mu_g)``, is a weighted least-squares problem
    (the discrepancy cannot increase). Intercepts at the sample means and latent means at 0
    are that optimum for a model without mean restrictions; with restrictions (equal
    intercepts, a fixed intercept and a free latent mean) they can be far from it, and
    Fisher scoring from a start whose means are far off may end in a poor region."""
    theta = np.atleast_2d(np.asarray(theta, dtype=float))
    if not struct.meanstructure or stats.mean is None:
        return theta
    in_mean = struct.row_free[[r.op == "~1" for r in struct.rows]]
    in_other = struct.row_free[[r.op != "~1" for r in struct.rows]]
    cols = np.setdiff1d(in_mean[in_mean >= 0], in_other[in_other >= 0])
    if cols.size == 0:
        return theta
    base = theta.copy()
    base[:, cols] = 0.0
    w = np.broadcast_to(stats.weights, (theta.shape[0], struct.n_groups))
    lhs = np.zeros((theta.shape[0], cols.size, cols.size))
    rhs = np.zeros((theta.shape[0], cols.size))
    with np.errstate(all="ignore"):
        for g in range(struct.n_groups):
            Sigma, mu0, B, _, _ = struct.group_moments(base, g)
            # d mu / d nu for the intercept-only parameters: B[obs, i] (no path involved)
            J = B[:, : struct.p, struct._mean_free_var[g]] @ struct._mean_map[g][:, cols]   # (R, p, q)
            try:
                WJ = np.linalg.solve(Sigma, J)
            except np.linalg.LinAlgError:      # a singular implied covariance at the start
                return theta
            lhs += w[:, g, None, None] * (np.swapaxes(J, 1, 2) @ WJ)
            rhs += w[:, g, None] * np.einsum("rpq,rp->rq", WJ, np.asarray(stats.mean)[:, g] - mu0)
        try:
            best = np.linalg.solve(lhs, rhs[..., None])[..., 0]
        except np.linalg.LinAlgError:       # intercepts not identified from the means
            best = np.einsum("rij,rj->ri", np.linalg.pinv(lhs), rhs)
    ok = np.isfinite(best).all(axis=1)
    theta = np.array(theta, dtype=float)
    theta[np.ix_(ok, cols)] = best[ok]
    return theta
