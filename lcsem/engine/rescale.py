"""Estimate on variables rescaled to unit variance: an exact reparameterisation.

With ``D = diag(1 / sd)`` on the observed variables (1 on latent ones), the rescaled
variables ``D x`` follow a RAM model with ``A' = D A D^-1`` and ``S' = D S D``: each
table row is multiplied by a factor (``s_i / s_j`` for a path ``A[i, j]``, ``s_i s_j``
for a covariance ``S[i, j]``), fixed values included, and ``Sigma' = D Sigma D``. The
ML and GLS discrepancies are invariant under this change of units, so the minimum, the
test statistic and (after transforming back) the estimates and their covariance are the
same; but the optimiser's tolerances, the starting values and the conditioning of the
information matrix no longer depend on the items' units (an item rescaled by 1e-150 is
estimated as well as the original). ULS is not scale-invariant and is estimated as given.

A parameter shared by rows with different factors (an equality constraint across items
of different variance) cannot be rescaled per variable; then the problem is left in its
units (the scaling warning still tells the user to rescale).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .ram import RamStructure
from .structure import GroupStats, GroupStructure
from ..spec.partable import ParRow


@dataclass(frozen=True)
class RescaledProblem:
    """The (possibly) rescaled structure, covariance and per-parameter factors."""

    rows: tuple[ParRow, ...]
    struct: RamStructure | GroupStructure
    S: np.ndarray | GroupStats
    factor: np.ndarray   # (k,): theta_scaled = factor * theta

    def to_original(self, theta_scaled: np.ndarray) -> np.ndarray:
        """Parameters in the data's units."""
        return np.asarray(theta_scaled, float) / self.factor

    def se_to_original(self, vcov_scaled: np.ndarray) -> np.ndarray:
        """Standard errors in the data's units (NaN where the variance is not positive)."""
        diag = np.diag(vcov_scaled) if np.size(vcov_scaled) else np.zeros(0)
        with np.errstate(invalid="ignore"):
            return np.where(diag > 0, np.sqrt(np.where(diag > 0, diag, 0.0)), np.nan) / self.factor

    def vcov_to_original(self, vcov_scaled: np.ndarray) -> np.ndarray:
        """Covariance of the estimates in the data's units."""
        with np.errstate(over="ignore", divide="ignore", under="ignore"):
            return (np.asarray(vcov_scaled, float) / self.factor[:, None]) / self.factor[None, :]


def _row_factors(struct: RamStructure, s: np.ndarray) -> np.ndarray:
    """Each row's factor: ``s_i / s_j`` for a path, ``s_i s_j`` for a covariance, ``s_i``
    for an intercept of variable ``i``."""
    e = struct.row_entries
    return np.where(e.is_path, s[e.row] / s[e.col], np.where(e.is_mean, s[e.row], s[e.row] * s[e.col]))


def _free_factors(struct: RamStructure, row_factor: np.ndarray) -> np.ndarray | None:
    factor = np.full(struct.k, np.nan)
    for f, value in zip(struct.row_free, row_factor):
        if f < 0:
            continue
        if np.isnan(factor[f]):
            factor[f] = value
        elif not np.isclose(factor[f], value, rtol=1e-12, atol=0.0):
            return None
    return factor


def rescaled_problem(rows: tuple[ParRow, ...], struct: RamStructure | GroupStructure,
                     S: np.ndarray | GroupStats, estimator: str) -> RescaledProblem:
    """The estimation problem on unit-variance observed variables (see the module text).
    With a :class:`GroupStructure` see :func:`rescaled_group_problem` (``rows`` unused)."""
    if isinstance(struct, GroupStructure):
        return rescaled_group_problem(struct, S, estimator)
    rows = tuple(r for r in rows if r.op != ":=")
    identity = RescaledProblem(rows, struct, S, np.ones(struct.k))
    if estimator == "ULS":
        return identity
    s_obs = 1.0 / np.sqrt(np.diag(S))
    row_factor = _row_factors(struct, np.concatenate([s_obs, np.ones(struct.m - struct.p)]))
    factor = _free_factors(struct, row_factor)
    if factor is None:
        return identity
    scaled_rows = tuple(replace(r, value=r.value * f) if np.isfinite(r.value) else r
                        for r, f in zip(rows, row_factor))
    scaled = RamStructure(scaled_rows, struct.observed, struct.latent)
    return RescaledProblem(scaled_rows, scaled, scale_covariance(S, s_obs), factor)


def scale_covariance(S: np.ndarray, s: np.ndarray) -> np.ndarray:
    """``diag(s) S diag(s)`` computed as ``(s_i S_ij) s_j`` (no overflow of ``s_i s_j``)."""
    return (S * s[:, None]) * s[None, :]


def rescaled_group_problem(struct: GroupStructure, stats: GroupStats, estimator: str = "ML"
                           ) -> RescaledProblem:
    """The multi-group problem on rescaled observed variables: ONE ``D`` for all groups,
    from the pooled variances ``sum_g (N_g / N) s_g,ii`` (of the first replicate), so that a
    parameter shared by groups keeps one factor; intercepts scale by ``s_i``, the sample
    means by ``D``. ``RescaledProblem.struct`` is then a :class:`GroupStructure` and
    ``RescaledProblem.S`` its :class:`GroupStats`."""
    identity = RescaledProblem(struct.rows, struct, stats, np.ones(struct.k))
    if estimator == "ULS":
        return identity
    cov = np.asarray(stats.cov, dtype=float)
    w = np.asarray(stats.weights, dtype=float)
    w = w if w.ndim == 1 else w[0]
    pooled = np.einsum("g,gi->i", w, np.diagonal(cov[0], axis1=1, axis2=2))
    if not np.all(np.isfinite(pooled) & (pooled > 0)):
        return identity
    s_obs = 1.0 / np.sqrt(pooled)
    s = np.concatenate([s_obs, np.ones(struct.m - struct.p)])
    row_factor = np.empty(len(struct.rows))
    for gs, positions in zip(struct.groups, struct.group_positions):
        row_factor[positions] = _row_factors(gs, s)
    factor = _free_factors(struct, row_factor)
    if factor is None:
        return identity
    scaled_rows = tuple(replace(r, value=r.value * f) if np.isfinite(r.value) else r
                        for r, f in zip(struct.rows, row_factor))
    scaled = GroupStructure(scaled_rows, struct.observed, struct.latent, struct.n_groups, struct.meanstructure)
    scaled_stats = GroupStats(scale_covariance(cov, s_obs),
                              None if stats.mean is None else np.asarray(stats.mean, float) * s_obs,
                              stats.n)
    return RescaledProblem(scaled_rows, scaled, scaled_stats, factor)
