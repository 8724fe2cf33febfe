"""Local identification: rank of the Jacobian of the implied moments and of the information.

A model is (locally) identified at ``theta`` when the Jacobian ``D = d vech(Sigma) /
d theta`` has full column rank: no direction in parameter space leaves every implied
variance and covariance unchanged. ``D``'s null space names the parameters involved:
those with non-negligible weight in a null-space vector trade off against each other.

Tolerances are relative, so that the check does not depend on the variables' units:

* each column of ``D`` is first scaled to unit length (a parameter's unit does not
  matter; a column of zeros means the parameter has no effect at all), then a singular
  value below :data:`JACOBIAN_RTOL` times the largest one counts as zero;
* the information matrix, scaled to unit diagonal (a correlation-like matrix), must have
  a smallest eigenvalue above :data:`INFORMATION_RTOL` times its largest; otherwise it is
  numerically not invertible and no standard error is reported.

A parameter is named when its weight in a null-space vector (a unit vector) exceeds
:data:`WEIGHT_THRESHOLD`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..engine import RamStructure
from ..engine.structure import GroupStructure

JACOBIAN_RTOL = 1e-8
INFORMATION_RTOL = 1e-14
WEIGHT_THRESHOLD = 0.1


@dataclass(frozen=True)
class IdentificationCheck:
    """Outcome of :func:`check_jacobian` / :func:`check_information`."""

    identified: bool
    parameters: tuple[str, ...] = ()      # names of the parameters involved
    relative_singular_value: float = 1.0  # smallest / largest (after scaling)

    def message(self, what: str) -> str:
        """A warning text naming the parameters."""
        names = ", ".join(self.parameters) if self.parameters else "(not attributable)"
        return (f"the model is not identified: {what} (relative smallest singular value "
                f"{self.relative_singular_value:.1e}); the parameters involved are {names}. "
                f"Standard errors, z, p-values and confidence intervals are not available (NaN); "
                f"fix one of these parameters, add indicators or drop the offending path or covariance")


def parameter_labels(struct: RamStructure | GroupStructure) -> list[str]:
    """One name per free parameter: ``"lhs op rhs"`` of its first row (with its label; with
    several groups, the group of that row)."""
    names: list[str | None] = [None] * struct.k
    several = getattr(struct, "n_groups", 1) > 1
    for row, f in zip(struct.rows, struct.row_free):
        if f >= 0 and names[f] is None:
            text = f"{row.lhs} {row.op} {row.rhs}".rstrip()
            if several:
                text = f"{text} [group {row.group}]"
            names[f] = f"{text} ({row.label})" if row.label else text
    return [n or f"parameter {i + 1}" for i, n in enumerate(names)]


def moment_jacobian(struct: RamStructure | GroupStructure, theta: np.ndarray) -> np.ndarray:
    """``d vech(Sigma) / d theta`` at one ``theta``: (p(p+1)/2, k); for a
    :class:`GroupStructure` every group's ``vech(Sigma_g)`` and ``mu_g``, stacked
    (:meth:`GroupStructure.moment_jacobian`)."""
    if isinstance(struct, GroupStructure):
        return struct.moment_jacobian(theta)
    J = struct.jacobian(np.asarray(theta, float)[None])[0]
    rows, cols = np.triu_indices(struct.p)
    return J[:, rows, cols].T


def _involved(vectors: np.ndarray, names: list[str]) -> tuple[str, ...]:
    weight = np.max(np.abs(vectors), axis=1) if vectors.size else np.zeros(len(names))
    return tuple(n for n, w in zip(names, weight) if w > WEIGHT_THRESHOLD)


def check_jacobian(struct: RamStructure | GroupStructure, theta: np.ndarray) -> IdentificationCheck:
    """Rank of the (column-scaled) Jacobian of the implied moments at ``theta``."""
    if struct.k == 0:
        return IdentificationCheck(True)
    return rank_check(moment_jacobian(struct, theta), parameter_labels(struct))


def rank_check(D: np.ndarray, names: list[str]) -> IdentificationCheck:
    """Column rank of a moment Jacobian ``D`` (moments x parameters, columns scaled to unit
    length), naming the parameters (``names``, one per column) in its null space."""
    if D.shape[1] == 0:
        return IdentificationCheck(True)
    if not np.isfinite(D).all():
        return IdentificationCheck(False, tuple(names), float("nan"))
    norms = np.linalg.norm(D, axis=0)
    dead = norms <= np.finfo(float).tiny
    if dead.any():
        return IdentificationCheck(False, tuple(n for n, d in zip(names, dead) if d), 0.0)
    Dn = D / norms
    if Dn.shape[0] < Dn.shape[1]:
        # more parameters than moments: the null space has at least k - p* dimensions
        _, s, vt = np.linalg.svd(Dn, full_matrices=True)
        s = np.concatenate([s, np.zeros(Dn.shape[1] - s.size)])
    else:
        _, s, vt = np.linalg.svd(Dn, full_matrices=False)
    rel = s / s[0]
    null = rel < JACOBIAN_RTOL
    if not null.any():
        return IdentificationCheck(True, (), float(rel[-1]))
    return IdentificationCheck(False, _involved(vt[null].T, names), float(rel[-1]))


def check_information(struct: RamStructure | GroupStructure | None, info: np.ndarray,
                      names: list[str] | None = None) -> IdentificationCheck:
    """Numerical invertibility of an information matrix (scaled to unit diagonal); the
    parameters are named from ``struct`` or by ``names``."""
    if info.shape[0] == 0:
        return IdentificationCheck(True)
    if names is None:
        names = parameter_labels(struct)
    if not np.isfinite(info).all():
        return IdentificationCheck(False, tuple(names), float("nan"))
    d = np.diag(info)
    dead = ~(d > 0)
    if dead.any():
        return IdentificationCheck(False, tuple(n for n, x in zip(names, dead) if x), 0.0)
    scaled = info / np.sqrt(np.outer(d, d))
    values, vectors = np.linalg.eigh((scaled + scaled.T) / 2)
    rel = values / values[-1]
    small = rel < INFORMATION_RTOL
    if not small.any():
        return IdentificationCheck(True, (), float(rel[0]))
    return IdentificationCheck(False, _involved(vectors[:, small], names), float(rel[0]))
