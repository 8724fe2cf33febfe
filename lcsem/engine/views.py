"""What code outside the engine may ask of a model's representation.

The engine represents a model by RAM matrices (:mod:`lcsem.engine.ram`: a directed-path
matrix ``A``, a residual covariance matrix ``S``, intercepts ``nu``) and one parameter
vector shared by all groups (:mod:`lcsem.engine.structure`). Analyses, inference,
resampling and simulation never read that layout (matrix entries, their maps to the
parameter vector, the rank-two derivative vectors); they ask for

* **implied moments**: :func:`implied_covariance`, :func:`implied_all` (observed and latent
  variables), :func:`model_matrices` (direct and total effects, residual and implied
  covariances of all variables, in the documented order of ``struct.names``),
  :func:`residual_blocks` (lavaan's ``theta`` and ``psi``);
* **standardised values** and R² (:func:`standardized_values`, :func:`r2_values`);
* **parameter-table views**: ``struct.rows`` (the table), ``struct.row_values(theta)``,
  ``struct.row_free``, :func:`free_variance_rows`, :func:`row_variables`;
* **Jacobians**: :func:`moment_jacobian` (of vech(Sigma)), ``struct.jacobian(theta)``
  (dSigma/dtheta) and, per group, :meth:`GroupStructure.group_jacobians`.

``struct`` is a :class:`~lcsem.engine.ram.RamStructure` (one group, or one group's block
of a :class:`~lcsem.engine.structure.GroupStructure`, mapping the joint vector).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .ram import RamStructure

__all__ = ["ModelMatrices", "model_matrices", "implied_covariance", "implied_all", "residual_blocks",
           "free_variance_rows", "row_variables", "moment_jacobian", "standardized_values", "r2_values",
           "unscaled_variables"]


class ModelMatrices(NamedTuple):
    """A model's matrices at each parameter vector, over ``struct.names`` (observed, then
    latent): each (R, m, m)."""

    direct: np.ndarray     #: ``direct[:, i, j]``: direct effect of variable j on variable i
    residual: np.ndarray   #: residual (co)variances (of exogenous variables: their (co)variances)
    total: np.ndarray      #: ``(I - direct)^-1``: the identity plus every total effect
    implied: np.ndarray    #: implied covariances of all variables, ``total residual total'``


def model_matrices(struct: RamStructure, theta: np.ndarray) -> ModelMatrices:
    """Direct and total effects, residual and implied covariances of all variables."""
    A, S = struct.matrices(np.atleast_2d(theta))
    B = np.linalg.inv(np.eye(struct.m) - A)
    return ModelMatrices(A, S, B, B @ S @ np.swapaxes(B, 1, 2))


def implied_covariance(struct: RamStructure, theta: np.ndarray) -> np.ndarray:
    """Implied covariance of the observed variables: (R, p, p)."""
    return struct.implied(np.atleast_2d(theta))[0]


def implied_all(struct: RamStructure, theta: np.ndarray) -> np.ndarray:
    """Implied covariance of all variables (observed, then latent; lavaan's ``cov.all``):
    (R, m, m)."""
    return struct.implied(np.atleast_2d(theta))[2]


def residual_blocks(struct: RamStructure, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """lavaan's ``theta`` (residual covariances of the observed variables, (R, p, p)) and
    ``psi`` ((residual) covariances of the latent variables, (R, q, q))."""
    _, S = struct.matrices(np.atleast_2d(theta))
    p = struct.p
    return S[:, :p, :p], S[:, p:, p:]


def row_variables(struct: RamStructure) -> tuple[np.ndarray, np.ndarray]:
    """Per table row (``struct.rows``), the positions in ``struct.names`` of its two
    variables as ``(lhs, rhs)``; ``rhs`` is -1 for an intercept (``~1``)."""
    index = {n: i for i, n in enumerate(struct.names)}
    lhs = np.array([index[r.lhs] for r in struct.rows], dtype=int)
    rhs = np.array([index[r.rhs] if r.op != "~1" else -1 for r in struct.rows], dtype=int)
    return lhs, rhs


def free_variance_rows(struct: RamStructure) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the free (residual) variance rows of the table and their variables'
    positions in ``struct.names``."""
    rows = np.array([r.op == "~~" and r.lhs == r.rhs and r.free > 0 for r in struct.rows], dtype=bool)
    pos = np.flatnonzero(rows)
    return pos, np.array([struct.names.index(struct.rows[i].lhs) for i in pos], dtype=int)


def moment_jacobian(struct: RamStructure, theta: np.ndarray) -> np.ndarray:
    """Jacobian of the implied ``vech(Sigma)`` (upper triangle, row by row) at each
    parameter vector: (R, k, p(p+1)/2)."""
    rows, cols = np.triu_indices(struct.p)
    return struct.jacobian(np.atleast_2d(theta))[:, :, rows, cols]


# ---------------------------------------------------------------------- standardised values
def unscaled_variables(struct: RamStructure, kind: str, exogenous_observed: tuple[str, ...] = ()
                       ) -> tuple[int, ...]:
    """Positions (in ``struct.names``) of the variables a standardisation leaves in raw units:
    none for ``"std_all"``; every observed variable for ``"std_lv"`` (latent variables
    only); the exogenous observed predictors for ``"std_nox"`` (lavaan's ``std.nox``)."""
    if kind == "std_all":
        return ()
    if kind == "std_lv":
        return tuple(range(struct.p))
    if kind == "std_nox":
        return tuple(struct.names.index(n) for n in exogenous_observed)
    raise ValueError(f"unknown standardisation {kind!r}")


def standardized_values(struct: RamStructure, theta: np.ndarray, unscaled: tuple[int, ...] = ()
                        ) -> np.ndarray:
    """Standardised value of every table row (except ``:=``): (R, n_rows).

    Loadings and paths are scaled by model-implied standard deviations; variances are
    divided by the total variance; covariances by the square roots of the two (residual)
    variances, as lavaan does with ``cov.std = TRUE``. A negative residual variance (a
    Heywood case) enters a covariance as its absolute value, as in lavaan, so the
    covariance keeps a standardised value while the solution is flagged inadmissible.
    With ``unscaled=()`` this is lavaan's ``std.all``; variables listed in ``unscaled``
    keep their raw units (see :func:`unscaled_variables` for ``std.lv`` and ``std.nox``).
    """
    theta = np.atleast_2d(theta)
    A, S = struct.matrices(theta)
    B = np.linalg.inv(np.eye(struct.m) - A)
    C = B @ S @ np.swapaxes(B, 1, 2)
    keep = np.zeros(struct.m, dtype=bool)
    keep[list(unscaled)] = True
    with np.errstate(invalid="ignore", divide="ignore"):
        total = np.where(keep[None, :], 1.0, np.diagonal(C, axis1=1, axis2=2))
        sd = np.sqrt(total)
        res_sd = np.where(keep[None, :], 1.0, np.sqrt(np.abs(np.diagonal(S, axis1=1, axis2=2))))
        values = struct.row_values(theta)
        e = struct.row_entries
        out = np.empty_like(values)
        path = e.is_path
        # A[i, j]: effect of j on i -> value * sd_j / sd_i
        out[:, path] = values[:, path] * sd[:, e.col[path]] / sd[:, e.row[path]]
        var = ~path & (e.row == e.col)
        out[:, var] = values[:, var] / total[:, e.row[var]]
        cov = ~path & (e.row != e.col)
        out[:, cov] = values[:, cov] / (res_sd[:, e.row[cov]] * res_sd[:, e.col[cov]])
    return out


def r2_values(struct: RamStructure, theta: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """R² of the named endogenous variables: 1 - residual variance / total variance."""
    theta = np.atleast_2d(theta)
    A, S = struct.matrices(theta)
    B = np.linalg.inv(np.eye(struct.m) - A)
    C = B @ S @ np.swapaxes(B, 1, 2)
    idx = [struct.names.index(n) for n in names]
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1.0 - np.diagonal(S, axis1=1, axis2=2)[:, idx] / np.diagonal(C, axis1=1, axis2=2)[:, idx]
