"""Implied ordinal statistics and their Jacobian for many parameter vectors at once.

:class:`~lcsem.engine.ordinal.OrdinalStructure` evaluates one parameter vector at a time
(``implied``, ``jacobian``); a bootstrap refits hundreds of replicates together, so these
functions evaluate (R, k) parameter vectors with stacked array operations over the
replicates: the covariance/mean part through the batched RAM structure
(:meth:`~lcsem.engine.structure.GroupStructure.group_moments`), then the scaling factors,
thresholds and correlations exactly as in :mod:`lcsem.engine.ordinal` (same formulas, the
same statistics order: lavaan's ``WLS.obs``). A replicate's numbers do not depend on the
other rows of ``theta``.
"""

from __future__ import annotations

import numpy as np

from .ordinal import OrdinalStructure

__all__ = ["batch_moments", "batch_implied", "batch_jacobian"]


def batch_moments(struct: OrdinalStructure, theta: np.ndarray, g: int) -> dict[str, np.ndarray]:
    """``Sigma*`` (R, p, p; diagonal set from the scaling factors), ``mu*`` (R, p), ``Delta``
    (R, p), thresholds ``tau`` (R, n_th) and the RAM matrices ``B``, ``C``, ``Bnu`` of group
    ``g`` (0-based) for every row of ``theta`` (R, k)."""
    theta = np.atleast_2d(np.asarray(theta, float))
    Sigma, mu, B, C, Bnu = struct.ram.group_moments(theta[:, struct.cov_cols], g)
    Sigma = Sigma.copy()
    lay = struct.layouts[g]
    ordi = struct.is_ordinal
    d = np.arange(struct.p)
    if struct.parameterization == "delta":
        delta = np.where(lay.scale_free >= 0, theta[:, np.maximum(lay.scale_free, 0)], lay.scale_fixed)
        delta = np.where(ordi, delta, 1.0)
        with np.errstate(divide="ignore"):
            Sigma[:, d, d] = np.where(ordi, 1.0 / delta ** 2, Sigma[:, d, d])
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            delta = np.where(ordi, 1.0 / np.sqrt(Sigma[:, d, d]), 1.0)
    tau = np.where(lay.th_free >= 0, theta[:, np.maximum(lay.th_free, 0)], lay.th_fixed)
    return {"Sigma": Sigma, "mu": mu, "delta": delta, "tau": tau, "B": B, "C": C, "Bnu": Bnu}


def _statistics(struct: OrdinalStructure, m: dict[str, np.ndarray], g: int) -> np.ndarray:
    lay = struct.layouts[g]
    Sigma, mu, delta, tau = m["Sigma"], m["mu"], m["delta"], m["tau"]
    iv = lay.th_var
    th = np.where(lay.th_is_ordinal, delta[:, iv] * (tau - mu[:, iv]), -mu[:, iv])
    d = np.arange(struct.p)
    var = Sigma[:, d, d][:, ~struct.is_ordinal]
    i, j = struct.cor_i, struct.cor_j
    cor = delta[:, i] * Sigma[:, i, j] * delta[:, j]
    return np.concatenate([th, var, cor], axis=1)


def batch_implied(struct: OrdinalStructure, theta: np.ndarray, g: int) -> np.ndarray:
    """The implied statistics of group ``g`` for every row of ``theta``: (R, n_stats), the
    rows of :meth:`OrdinalStructure.implied`."""
    return _statistics(struct, batch_moments(struct, theta, g), g)


def batch_jacobian(struct: OrdinalStructure, theta: np.ndarray, g: int,
                   columns: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The implied statistics (R, n_stats) and their Jacobian ``d s_g / d theta``
    (R, n_stats, k) for every row of ``theta``: the rows of :meth:`OrdinalStructure.jacobian`,
    with ``dSigma`` formed only where the statistics need it (the correlations' entries and
    the diagonal), never as (R, k, p, p). ``columns`` (parameter positions) restricts the
    Jacobian to those parameters: (R, n_stats, len(columns))."""
    theta = np.atleast_2d(np.asarray(theta, float))
    m = batch_moments(struct, theta, g)
    R, p = theta.shape[0], struct.p
    if columns is None:
        columns = np.arange(struct.k)
    where = np.full(struct.k, -1)
    where[np.asarray(columns, int)] = np.arange(len(columns))
    k = len(columns)
    lay = struct.layouts[g]
    ordi = struct.is_ordinal
    i, j = struct.cor_i, struct.cor_j
    Sigma, mu, delta, tau = m["Sigma"], m["mu"], m["delta"], m["tau"]
    dS_cor = np.zeros((R, i.size, k))
    dS_diag = np.zeros((R, p, k))
    dmu = np.zeros((R, p, k))
    use = where[struct.cov_cols] >= 0
    cols = where[struct.cov_cols][use]
    if cols.size:
        gs = struct.ram.groups[g]
        U, V, c = gs.jacobian_vectors(m["B"], m["C"])                       # (R, E, p)
        F = gs.free_map[:, use]                                             # (E, kc)
        d_cor_e = c[None, :, None] * (U[:, :, i] * V[:, :, j] + V[:, :, i] * U[:, :, j])
        d_diag_e = 2.0 * c[None, :, None] * U * V
        dS_cor[:, :, cols] = np.swapaxes(d_cor_e, 1, 2) @ F
        dS_diag[:, :, cols] = np.swapaxes(d_diag_e, 1, 2) @ F
        dmu[:, :, cols] = struct.ram.mean_jacobian(g, m["B"], m["Bnu"], U)[:, :, use]
    ddelta = np.zeros((R, p, k))
    if struct.parameterization == "delta":
        has = (lay.scale_free >= 0) & ordi
        has &= where[np.maximum(lay.scale_free, 0)] >= 0
        ddelta[:, np.flatnonzero(has), where[lay.scale_free[has]]] = 1.0
        dS_diag[:, ordi, :] = (-2.0 / delta[:, ordi] ** 3)[:, :, None] * ddelta[:, ordi, :]
    else:
        d = np.arange(p)
        diag = Sigma[:, d, d]
        ddelta[:, ordi, :] = (-0.5 * diag[:, ordi] ** -1.5)[:, :, None] * dS_diag[:, ordi, :]
    iv = lay.th_var
    dtau = np.zeros((iv.size, k))
    has = (lay.th_free >= 0) & (where[np.maximum(lay.th_free, 0)] >= 0)
    dtau[np.flatnonzero(has), where[lay.th_free[has]]] = 1.0
    d_th = np.where(lay.th_is_ordinal[None, :, None],
                    ddelta[:, iv, :] * (tau - mu[:, iv])[:, :, None]
                    + delta[:, iv, None] * (dtau[None] - dmu[:, iv, :]),
                    -dmu[:, iv, :])
    d_var = dS_diag[:, ~ordi, :]
    s_ij = Sigma[:, i, j]
    d_cor = ((delta[:, i] * delta[:, j])[:, :, None] * dS_cor
             + (s_ij * delta[:, j])[:, :, None] * ddelta[:, i, :]
             + (s_ij * delta[:, i])[:, :, None] * ddelta[:, j, :])
    return _statistics(struct, m, g), np.concatenate([d_th, d_var, d_cor], axis=1)
