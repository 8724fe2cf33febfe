"""Simple starting values (lavaan's "simple" rule) for when semopy gives none."""

from __future__ import annotations

import numpy as np

from ..exceptions import ArgumentError
from .ram import RamStructure
from .structure import GroupStats, GroupStructure, best_mean_parameters


def simple_starts(struct: RamStructure, S: np.ndarray) -> np.ndarray:
    """Loadings 1, paths 0, covariances 0, observed variances half the sample variance,
    latent variances 0.05 (1 when they identify the factor)."""
    theta = np.zeros(struct.k)
    seen = np.zeros(struct.k, dtype=bool)
    obs_var = np.diag(S)
    for row, f in zip(struct.rows, struct.row_free):
        if f < 0 or seen[f]:
            continue
        seen[f] = True
        if np.isfinite(row.value):
            theta[f] = row.value
        elif row.op == "=~":
            theta[f] = 1.0
        elif row.op == "~~" and row.lhs == row.rhs:
            i = struct.names.index(row.lhs)
            theta[f] = 0.5 * obs_var[i] if i < struct.p else 0.05
    return theta


STARTS = ("simple", "marker")


def group_starts(struct: GroupStructure, stats: GroupStats, rule: str = "simple") -> np.ndarray:
    """Starting values for every group, combined into one parameter vector per replicate:
    (R, k).

    ``rule="simple"``: lavaan's simple starts: within each group the rule of
    :func:`simple_starts` (a parameter's first row decides; loadings 1, latent variances
    0.05). ``rule="marker"``: loadings and latent variances that agree with each factor's
    marker (its fixed loading ``l_m``): latent variance ``0.5 var(marker) / l_m^2`` (or the
    fixed variance, e.g. ``std_lv``), loading of indicator ``j`` ``sqrt(0.5 var(j) / psi)``,
    so that every indicator starts half explained whatever its units (simple starts assume
    items on one scale and can fail when a marker's variance differs much from the others').
    Both: intercepts of observed variables start at the group's sample mean and latent
    means at 0, then parameters used only by intercept rows are set to their best values
    given the rest (a linear least-squares problem); a parameter shared by several groups
    starts at the average of its groups' starts. For one group without means ``"simple"``
    is :func:`simple_starts`.
    """
    if rule not in STARTS:
        raise ArgumentError(f"rule: {rule!r} is not a start rule; use one of {', '.join(STARTS)}")
    S = np.asarray(stats.cov, dtype=float)
    R = S.shape[0]
    total = np.zeros((R, struct.k))
    count = np.zeros(struct.k)
    for g, gs in enumerate(struct.groups):
        obs_var = np.diagonal(S[:, g], axis1=1, axis2=2)                  # (R, p)
        latent_var = _marker_variances(gs, obs_var) if rule == "marker" else {}
        seen = np.zeros(struct.k, dtype=bool)
        for row, f, i in zip(gs.rows, gs.row_free, gs.row_entries.row):
            if f < 0 or seen[f]:
                continue
            seen[f] = True
            if np.isfinite(row.value):
                value = row.value
            elif row.op == "=~" and row.lhs in latent_var:
                indicator = _variance(gs, row.rhs, obs_var, latent_var)
                value = np.sqrt(0.5 * indicator / latent_var[row.lhs])
            elif row.op == "=~":
                value = 1.0
            elif row.op == "~~" and row.lhs == row.rhs and row.lhs in latent_var:
                value = latent_var[row.lhs]
            elif row.op == "~~" and row.lhs == row.rhs:
                value = 0.5 * obs_var[:, i] if i < gs.p else 0.05
            elif row.op == "~1" and i < gs.p and stats.mean is not None:
                value = np.asarray(stats.mean, dtype=float)[:, g, i]
            else:
                value = 0.0
            total[:, f] += value
            count[f] += 1
    theta = total / np.maximum(count, 1)
    if struct.meanstructure and stats.mean is not None:
        theta = best_mean_parameters(struct, stats, theta)
    return theta


def _variance(gs: RamStructure, name: str, obs_var: np.ndarray, latent_var: dict) -> np.ndarray:
    i = gs.names.index(name)
    if i < gs.p:
        return obs_var[:, i]
    return latent_var.get(name, np.full(obs_var.shape[0], 0.05))


def _marker_variances(gs: RamStructure, obs_var: np.ndarray) -> dict[str, np.ndarray]:
    """Start variance (R,) of every factor with a fixed marker loading or a fixed variance:
    ``0.5 var(marker) / l_m^2`` (markers that are factors themselves first)."""
    fixed_var = {r.lhs: r.value for r, f in zip(gs.rows, gs.row_free)
                 if r.op == "~~" and r.lhs == r.rhs and f < 0 and np.isfinite(r.value) and r.value > 0}
    markers = {}
    for r, f in zip(gs.rows, gs.row_free):
        if r.op == "=~" and f < 0 and r.lhs not in markers and np.isfinite(r.value) and r.value != 0:
            markers[r.lhs] = (r.rhs, r.value)
    out: dict[str, np.ndarray] = {}
    R = obs_var.shape[0]
    for name, value in fixed_var.items():
        if gs.names.index(name) >= gs.p:
            out[name] = np.full(R, float(value))
    pending = [f for f in markers if f not in out]
    for _ in range(len(pending) + 1):          # factors whose marker is a factor come later
        for f in list(pending):
            marker, loading = markers[f]
            if gs.names.index(marker) >= gs.p and marker not in out and marker in pending:
                continue
            out[f] = 0.5 * _variance(gs, marker, obs_var, out) / loading ** 2
            pending.remove(f)
    return out
