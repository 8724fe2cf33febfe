"""Simple starting values (lavaan's "simple" rule) for when semopy gives none."""

from __future__ import annotations

import numpy as np

from .ram import RamStructure


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
