"""Replicates of multi-group and mean-structure fits: moments per group, batched refits, columns.

A replicate is a vector of case weights (counts) per group: its moments are each group's
weighted mean vector and covariance matrix (denominator ``N_g``), computed from the data
centred within the group. Every replicate is refitted by the engine's batched solver
(:func:`lcsem.engine.minimize` on a :class:`~lcsem.engine.GroupStructure`, Newton steps
with the exact Hessian, warm-started at the full-sample estimate); those that do not
converge are retried from lavaan's simple starts, and those that still do not are counted
as failed with their reason.

Columns (in this order): the fit indices of
:data:`~lcsem.inference.fit_indices.BOOTSTRAP_INDEX_NAMES` (lavaan's multi-group
definitions, :mod:`lcsem.resampling.group_indices`), every free row of the table and every
``:=`` row, then the standardised (std.all) values ``"std:<name>"`` of those rows and of
fixed loadings and paths. In a multi-group fit every row name carries its group's label
after an ``@`` (:func:`group_parameter_name`: ``"visual=~x2@Pasteur"``, intercepts
``"x1~1@Pasteur"``); ``:=`` rows are named by their left-hand side alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _lazy
from ..engine import GroupStats, GroupStructure, free_variance_rows, group_starts, minimize, residual_blocks
from ..engine.batch import cholesky_factors
from ..engine.group_ls import LS_ESTIMATORS, GroupLSObjective, ls_statistic, unbiased
from ..engine.optimize import fisher_scoring
from ..inference.fit_indices import BOOTSTRAP_INDEX_NAMES
from ..inference.grouped import GroupLayout
from ..inference.standardized import DefinedParameters
from ..results.fit_result import FitResult, parameter_name
from .group_indices import bootstrap_group_indices
from .replicates import FAILED, INADMISSIBLE, OK, ChunkOutput, replicate_columns
from .draws import CaseDraws
from .resample import BLOCK, block_seed, case_moments

__all__ = ["GROUP_SEPARATOR", "group_parameter_name", "GroupedReplicateSpec", "GroupSource",
           "group_moments", "evaluate_groups"]

#: Separates a parameter's name from its group's label in a multi-group bootstrap's columns.
GROUP_SEPARATOR = "@"

NOT_PD_REASON = ("the resampled covariance matrix of a group is singular or not positive definite (a "
                 "variable is constant or collinear in this resample): not fitted")
NOT_CONVERGED_REASON = ("the optimiser did not converge from the full-sample estimate nor from lavaan's "
                        "simple starting values: no finite ML solution was found, as when a near-Heywood "
                        "resample's estimates diverge")
RETRY_ITER = 200


def group_parameter_name(lhs: str, op: str, rhs: str, label: str = "") -> str:
    """Name of a row as a bootstrap column: :func:`lcsem.results.parameter_name`, followed
    by ``"@<group label>"`` when ``label`` is given (rows of a multi-group fit)."""
    name = parameter_name(lhs, op, rhs)
    return f"{name}{GROUP_SEPARATOR}{label}" if label and op != ":=" else name


class GroupedReplicateSpec:
    """What is computed for each replicate of a multi-group / mean-structure fit."""

    def __init__(self, res: FitResult):
        model = res.model
        rows = res.rows
        self.G = res.n_groups
        # GLS/ULS replicates are refitted by least squares, all others by ML (robust ML's estimates are ML's)
        self.estimator = res.estimator if res.estimator in LS_ESTIMATORS else "ML"
        self.labels = tuple(res.group_labels) or ("1",)
        self.meanstructure = bool(res.meanstructure)
        self.struct = GroupStructure(rows, model.observed, model.latent, n_groups=self.G,
                                     meanstructure=self.meanstructure)
        self.layout = GroupLayout(rows, model.observed, model.latent)
        self.defined = DefinedParameters(rows)
        self.theta0 = np.array(res.theta, dtype=float)
        self.df = int(res.fit_indices["df"])
        self.n_params = int(res.fit_indices["n_params"])
        self.exogenous = tuple(model.observed.index(v) for v in model.roles.exogenous_observed)
        self.exogenous_names = tuple(model.roles.exogenous_observed)
        table = [r for r in rows if r.op != ":="]
        defined_rows = [r for r in rows if r.op == ":="]
        multi = bool(res.group_labels)
        names = [group_parameter_name(r.lhs, r.op, r.rhs, self.labels[r.group - 1] if multi else "")
                 for r in table] + [r.lhs for r in defined_rows]
        ops = np.array([r.op for r in table] + [":="] * len(defined_rows), dtype=object)
        n_rows = len(table)
        free = np.zeros(len(names), dtype=bool)
        free[:n_rows] = self.layout.free >= 0
        param = free | (ops == ":=")
        std = param | np.isin(ops, ["=~", "~"])
        positions = np.arange(len(names))
        self.param_pos, self.std_pos = positions[param], positions[std]
        self.n_rows = n_rows
        self.columns = (tuple(BOOTSTRAP_INDEX_NAMES) + tuple(names[i] for i in self.param_pos)
                        + tuple("std:" + names[i] for i in self.std_pos))
        self.n_index, self.n_param = len(BOOTSTRAP_INDEX_NAMES), int(param.sum())
        # vectorised admissibility screen per group (exact reasons: GroupLayout.inadmissible)
        self._screens = []
        for b in self.layout.blocks:
            free_var = free_variance_rows(b.struct)[0]
            loading = np.flatnonzero([r.op == "=~" for r in b.struct.rows])
            self._screens.append((b, free_var, loading))

    # ------------------------------------------------------------------ values
    def values(self, theta: np.ndarray, stats: GroupStats, fmin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every column for fitted replicates, and the standardised row values."""
        R = theta.shape[0]
        n = np.broadcast_to(np.asarray(stats.n, float), (R, self.G))
        if self.estimator in LS_ESTIMATORS:     # stats: the unbiased covariances fitted
            chisq = ls_statistic(fmin, n)
        else:
            chisq = n.sum(axis=1) * np.maximum(fmin, 0.0)
        Sigma, mu = self.struct.implied(theta)
        with np.errstate(divide="ignore", invalid="ignore"):
            fi = bootstrap_group_indices(stats.cov, stats.mean, Sigma, mu if self.meanstructure else None,
                                         n, chisq, df=self.df, n_params=self.n_params,
                                         exogenous=self.exogenous, estimator=self.estimator)
        rows = self.layout.row_values(theta)
        std_rows = self.layout.standardized(theta, "std_all", self.exogenous_names)
        return replicate_columns(self, fi, rows, std_rows), std_rows

    def screen(self, theta: np.ndarray, std_rows: np.ndarray) -> np.ndarray:
        """Replicates that may be inadmissible in some group (a superset; checked exactly
        afterwards)."""
        flag = np.zeros(theta.shape[0], dtype=bool)
        for b, free_var, loading in self._screens:
            struct = b.struct
            values = struct.row_values(theta)
            if free_var.size:
                flag |= np.any(values[:, free_var] <= 0, axis=1)
            if loading.size:
                flag |= np.any(np.abs(std_rows[:, b.cov_positions[loading]]) > 1 + 1e-8, axis=1)
            Theta, Psi = residual_blocks(struct, theta)
            for block in (Psi, Theta):
                if block.shape[-1]:
                    with np.errstate(all="ignore"):
                        ev = np.linalg.eigvalsh(np.where(np.isfinite(block), block, 0.0))[:, 0]
                    flag |= ~(ev > 0)
        return flag


@dataclass
class GroupSource:
    """Where the replicates' group moments come from.

    ``kind`` is ``"cases"`` (resampled rows: ``X`` holds the data centred within each group,
    ``centre`` (G, p) the groups' centres, which are added back to the weighted means) or
    ``"parametric"`` (normal draws from ``Sigma`` (G, p, p) and ``centre``). ``group_of``
    gives each stored row's group (0-based), ``positions[g]`` group ``g``'s rows, ``n`` the
    group sizes.
    """

    kind: str
    n: np.ndarray
    positions: tuple
    group_of: np.ndarray
    centre: np.ndarray
    X: np.ndarray | None = None
    Sigma: np.ndarray | None = None
    entropy: object = None
    spawn_key: tuple = ()


def group_moments(source: GroupSource, positions: np.ndarray, draws: CaseDraws | None = None,
                  leave_out: np.ndarray | None = None) -> GroupStats:
    """Moments of the replicates ``positions`` (ascending; resampled by ``draws``, or
    leaving out the rows ``leave_out``, one per jackknife replicate)."""
    G = len(source.positions)
    p = source.centre.shape[1]
    R = len(positions)
    cov = np.empty((R, G, p, p))
    mean = np.empty((R, G, p))
    n = np.asarray(source.n, float)
    if source.kind == "parametric":
        return _parametric_moments(source, int(positions[0]), int(positions[-1]) + 1)
    if leave_out is not None:
        sizes = np.broadcast_to(n, (R, G)).copy()
        for g, pos in enumerate(source.positions):
            Xg = source.X[pos]
            cov[:, g] = Xg.T @ Xg / n[g]
            mean[:, g] = source.centre[g]
            mine = np.flatnonzero(source.group_of[leave_out] == g)
            if mine.size:
                xi = source.X[leave_out[mine]]                      # centred rows left out
                m = n[g] - 1.0
                shift = -xi / m                                     # mean of the others (centred)
                second = (n[g] * cov[mine, g] - xi[:, :, None] * xi[:, None, :]) / m
                cov[mine, g] = second - shift[:, :, None] * shift[:, None, :]
                mean[mine, g] = source.centre[g] + shift
                sizes[mine, g] = m
        return GroupStats(cov, mean, sizes)
    means, cov = case_moments([source.X[pos] for pos in source.positions], draws, positions)
    return GroupStats(cov, source.centre[None] + means, n)


def _parametric_moments(source: GroupSource, start: int, stop: int) -> GroupStats:
    """Normal-theory replicate moments of replicates ``start..stop-1``: per group the sample
    covariance Wishart(N_g - 1, Sigma_g) / N_g and the independent sample mean
    N(mu_g, Sigma_g / N_g), drawn from block ``b``'s group-``g`` seed (whole blocks, so a
    replicate's draws do not depend on the chunk)."""
    root = np.random.SeedSequence(source.entropy, spawn_key=source.spawn_key)
    G, p = source.centre.shape
    covs, means = [], []
    for b in range(start // BLOCK, (stop - 1) // BLOCK + 1):
        lo = b * BLOCK
        keep = slice(max(start, lo) - lo, min(stop, lo + BLOCK) - lo)
        cov_b, mean_b = np.empty((BLOCK, G, p, p)), np.empty((BLOCK, G, p))
        for g in range(G):
            seed = block_seed(root, b) if G == 1 else np.random.SeedSequence(
                root.entropy, spawn_key=tuple(root.spawn_key) + (b, g))
            rng = np.random.default_rng(seed)
            n_g = float(source.n[g])
            Sigma = source.Sigma[g]
            draws = _lazy.wishart(df=int(n_g) - 1, scale=Sigma).rvs(size=BLOCK, random_state=rng)
            cov_b[:, g] = np.asarray(draws).reshape(BLOCK, p, p) / n_g
            z = rng.standard_normal((BLOCK, p))
            mean_b[:, g] = source.centre[g] + z @ np.linalg.cholesky(Sigma / n_g).T
        covs.append(cov_b[keep])
        means.append(mean_b[keep])
    return GroupStats(np.concatenate(covs), np.concatenate(means), np.asarray(source.n, float))


def evaluate_groups(spec: GroupedReplicateSpec, stats: GroupStats, positions: np.ndarray) -> ChunkOutput:
    """Fit every replicate of ``stats`` and compute its row of the distribution."""
    R = stats.cov.shape[0]
    values = np.full((R, len(spec.columns)), np.nan)
    status = np.full(R, FAILED, dtype=np.int8)
    reasons: dict[int, tuple[str, ...]] = {}
    p = stats.cov.shape[-1]
    usable = cholesky_factors(stats.cov.reshape(-1, p, p))[0].reshape(R, spec.G).all(axis=1)
    for i in np.flatnonzero(~usable):
        reasons[int(positions[i])] = (NOT_PD_REASON,)
    idx = np.flatnonzero(usable)
    if idx.size:
        sub = _subset(stats, idx)
        if spec.estimator in LS_ESTIMATORS:     # GLS and ULS fit the unbiased covariances
            sub = unbiased(sub)
        sol = _refit(spec, sub, spec.theta0[None])
        theta, fmin, ok = sol.theta, sol.fmin, sol.converged & np.isfinite(sol.fmin)
        if not ok.all():
            again = np.flatnonzero(~ok)
            part = _subset(sub, again)
            retry = _refit(spec, part, group_starts(spec.struct, part), max_iter=RETRY_ITER)
            fixed = retry.converged & np.isfinite(retry.fmin)
            theta[again[fixed]], fmin[again[fixed]] = retry.theta[fixed], retry.fmin[fixed]
            ok[again[fixed]] = True
        for i in idx[~ok]:
            reasons[int(positions[i])] = (NOT_CONVERGED_REASON,)
        good = idx[ok]
        if good.size:
            th = theta[ok]
            vals, std_rows = spec.values(th, _subset(sub, np.flatnonzero(ok)), fmin[ok])
            values[good] = vals
            status[good] = OK
            flagged = np.flatnonzero(spec.screen(th, std_rows))
            for j in flagged:
                why = spec.layout.inadmissible(th[j], spec.labels)
                if why:
                    status[good[j]] = INADMISSIBLE
                    reasons[int(positions[good[j]])] = tuple(why)
    return ChunkOutput(positions=np.asarray(positions), values=values, status=status, reasons=reasons)


def _refit(spec: GroupedReplicateSpec, stats: GroupStats, start: np.ndarray, max_iter: int = 500):
    """Every replicate refitted from ``start``: ML by Newton steps with the exact Hessian,
    GLS and ULS by Gauss-Newton on their objective (:mod:`lcsem.engine.group_ls`)."""
    if spec.estimator in LS_ESTIMATORS:
        objective = GroupLSObjective(spec.struct, stats, spec.estimator)
        return fisher_scoring(objective, start, max_iter=max_iter, newton=True)
    return minimize(spec.struct, stats, start, "ML", method="newton", max_iter=max_iter)


def _subset(stats: GroupStats, idx: np.ndarray) -> GroupStats:
    n = np.asarray(stats.n)
    return GroupStats(stats.cov[idx], None if stats.mean is None else stats.mean[idx],
                      n if n.ndim == 1 else n[idx])
