"""Full-information ML for many case-weight vectors at once (batched FIML bootstrap).

A bootstrap replicate of a FIML fit is a vector of case weights ``w`` (how often each row
is drawn). With ``P = Sigma^-1`` and, for a row observing ``o`` and missing ``m``,
``x~ = (x - mu)`` with zeros at ``m``, the pattern quantities follow from ``P`` by the
Schur complement, so no pattern's observed block is ever inverted:

    Sigma_oo^-1 (embedded in zeros) = P - P[:, m] P_mm^-1 P[m, :]
    log|Sigma_oo| = log|Sigma| + log|P_mm|
    x~' Sigma_oo^-1 x~ = x~' P x~ - z' P_mm^-1 z,   z = (P x~)_m.

``P_mm`` is as small as the number of missing values of a pattern (1 or 2 for most rows).
With ``v = P_mm^-1 z`` and ``y = x~`` with ``-v`` put at ``m`` (so that
``Sigma_oo^-1 x~ = P y``; ``mu + y`` is the row completed by its regression on the
observed values, the E-step of EM), and ``c_i = w_i / N``:

    F            = sum_i c_i [log|Sigma| + log|P_mm,i| + x~_i' P x~_i - z_i' v_i]
    dF / dSigma  = s P - P (H + S_yy) P,   H = sum_i c_i E_m P_mm^-1 E_m',  S_yy = sum_i c_i y_i y_i'
    dF / dmu     = -2 P y_bar,             y_bar = sum_i c_i y_i,  s = sum_i c_i
    EM step      : mu <- mu + y_bar / s,   Sigma <- (H + S_yy) / s - (y_bar / s)(y_bar / s)'

and the structured expected information ``sum_j c_j tr(W_j D_a W_j D_b)`` (``W_j`` the
embedded inverse of pattern ``j``, ``K_j = P E_m P_mm^-1 E_m' P = W``'s correction,
``K = sum_j c_j K_j = P H P``, ``Wbar = s P - K``) is

    [tr(Wbar D_a Wbar D_b) - tr(K D_a K D_b)] / s + sum_j c_j <R_j' D_a R_j, R_j' D_b R_j>

with ``R_j = P[:, m] chol(P_mm^-1)``. Complete rows enter through their weighted sums only.
The values are those of :class:`~lcsem.engine.fiml.FIMLObjective` on the replicate's own
missing-data patterns (the same function, arithmetic in another order); every replicate's
numbers are computed from its own weights only, so they do not depend on the chunk.

:class:`WeightedFIMLObjective` is an :class:`~lcsem.engine.objective.Objective`: the batched
solver takes Fisher-scoring steps with the expected information above, or, after
:meth:`~WeightedFIMLObjective.use_quasi_newton`, limited-memory BFGS steps started from one
Hessian (the full-sample observed information), which need the gradient only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..exceptions import ArgumentError
from .batch import cholesky_factors
from .fiml import LOG_2PI, without_fixed_x
from .objective import Objective
from .ram import gram_terms
from .structure import GroupStructure

__all__ = ["WeightedRows", "WeightedFIMLObjective", "MomentTerms", "em_batch", "gfi_quadratic_forms"]


def _mean_jacobian(struct: GroupStructure, g: int, B: np.ndarray, Bnu: np.ndarray, U: np.ndarray) -> np.ndarray:
    """``d mu_g / d theta`` (R, p, k): :meth:`GroupStructure.mean_jacobian` by stacked
    matrix products instead of a three-operand einsum (4x faster for the LC model)."""
    gs = struct.groups[g]
    e = gs.free_entries
    coef = np.where(e.is_path[None, :], Bnu[:, e.col], 0.0)                   # (R, E)
    J = np.swapaxes(U * coef[:, :, None], 1, 2) @ gs.free_map
    if struct._mean_free_var[g].size:
        J = J + B[:, : struct.p, struct._mean_free_var[g]] @ struct._mean_map[g]
    return J


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Inner products over the last axis, one BLAS dot per row (einsum's and numpy's
    reductions sum in an order that can depend on the other axes' lengths, i.e. on the
    batch size)."""
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return np.matmul(a[..., None, :], b[..., :, None])[..., 0, 0]


def _mv(A: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``A x`` per replicate: (R, a, b), (R, b) -> (R, a)."""
    return np.matmul(np.ascontiguousarray(A), np.ascontiguousarray(x)[..., None])[..., 0]


def _per_replicate(x: np.ndarray, A: np.ndarray) -> np.ndarray:
    """``x @ A`` for (R, n) ``x``, one vector-matrix product per replicate (a 2-D product
    across replicates would be blocked, and rounded, by the batch size): (R, ...)."""
    x = np.ascontiguousarray(x)
    if A.ndim == 1:
        return np.matmul(x[:, None, :], A[:, None])[:, 0, 0]
    return np.matmul(x[:, None, :], A)[:, 0, :]


@dataclass
class _SizeGroup:
    """Incomplete rows missing ``k`` variables: their positions among the incomplete rows,
    their missing columns (n_k, k) and those entries' positions in the flattened (n_inc, p)
    rows, the distinct missing sets (J_k, k), each row's set, the
    sets' weights per replicate (R, J_k) and how the sets' k x k blocks add into a p x p
    matrix (the order that groups equal targets, the groups' starts, their flat targets)."""

    k: int
    rows: np.ndarray
    missing: np.ndarray
    flat_missing: np.ndarray
    sets: np.ndarray
    set_of_row: np.ndarray
    set_weights: np.ndarray
    embed: tuple


@dataclass
class MomentTerms:
    """What one evaluation at moments ``(Sigma, mu)`` gives (per replicate, units of
    ``c_i = w_i / N``): ``f`` the discrepancy share (inf where Sigma is not positive
    definite); with derivatives also ``P``, ``H``, ``S_yy``, ``y_bar``, ``s`` and the
    per-size factors ``(group, P_mm^-1)`` for the information."""

    f: np.ndarray
    P: np.ndarray | None = None
    H: np.ndarray | None = None
    Syy: np.ndarray | None = None
    ybar: np.ndarray | None = None
    s: np.ndarray | None = None
    blocks: list | None = None


class WeightedRows:
    """One group's rows (NaN where missing) with ``R`` case-weight vectors.

    Rows missing every variable are ignored (lavaan drops them). Complete rows enter
    through their weighted count, sum and cross-products; incomplete rows are kept, grouped
    by the number of values they miss.

    Parameters
    ----------
    values
        (n, p) the group's rows, NaN where missing.
    weights
        (R, n) case weights (bootstrap counts; 0 leaves a row out).
    """

    def __init__(self, values: np.ndarray, weights: np.ndarray):
        values = np.asarray(values, float)
        weights = np.asarray(weights, float)
        if weights.ndim != 2 or weights.shape[1] != values.shape[0]:
            raise ArgumentError(f"weights: expected (R, {values.shape[0]}) case weights, got shape "
                                f"{weights.shape}")
        obs = ~np.isnan(values)
        used = obs.any(axis=1)
        # C order everywhere: a replicate's row is then laid out the same whatever the batch
        values, obs, w = values[used], obs[used], np.ascontiguousarray(weights[:, used])
        R, p = w.shape[0], values.shape[1]
        self.R, self.p = R, p
        x0 = np.where(obs, values, 0.0)
        of = obs.astype(float)
        self.n = w.sum(axis=1)                                            # rows used per replicate
        self.n_values = _per_replicate(w, of.sum(axis=1))                 # observed values
        wx = x0.T[None] * w[:, None, :]                                   # (R, p, n)
        #: per replicate sum_i w_i o_ia o_ib, sum_i w_i x_ia o_ib, sum_i w_i x_ia x_ib, sum_i w_i x_ia
        self.pair_counts = (of.T[None] * w[:, None, :]) @ of
        self.pair_sums = wx @ of
        self.cross = wx @ x0
        self.sums = _per_replicate(w, x0)
        complete = obs.all(axis=1)
        wc = np.ascontiguousarray(w[:, complete])
        xc = x0[complete]
        self.n_c = wc.sum(axis=1)
        self.s_c = _per_replicate(wc, xc)
        self.Q_c = (xc.T[None] * wc[:, None, :]) @ xc
        inc = ~complete
        self.x_inc = x0[inc]
        self.o_inc = obs[inc]
        self.w_inc = np.ascontiguousarray(w[:, inc])
        miss = ~self.o_inc
        k_row = miss.sum(axis=1)
        self.sizes: list[_SizeGroup] = []
        for k in np.unique(k_row):
            rows = np.flatnonzero(k_row == k)
            missing = np.nonzero(miss[rows])[1].reshape(rows.size, int(k))
            sets, set_of_row = np.unique(missing, axis=0, return_inverse=True)
            set_of_row = np.ravel(set_of_row)
            onehot = np.zeros((rows.size, sets.shape[0]))
            onehot[np.arange(rows.size), set_of_row] = 1.0
            flat = (sets[:, :, None] * p + sets[:, None, :]).ravel()        # (J_k k k,) targets in p x p
            order = np.argsort(flat, kind="stable")
            starts = np.flatnonzero(np.r_[True, np.diff(flat[order]) != 0])
            flat_missing = (rows[:, None] * p + missing).ravel()
            self.sizes.append(_SizeGroup(int(k), rows, missing, flat_missing, sets, set_of_row,
                                         _per_replicate(self.w_inc[:, rows], onehot),
                                         (order, starts, flat[order][starts])))

    # ------------------------------------------------------------------ moments
    def available_moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Available-case means and ML variances (R, p) (EM's start, the FIML baseline)."""
        n_a = np.diagonal(self.pair_counts, axis1=1, axis2=2)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = self.sums / n_a
            var = np.diagonal(self.cross, axis1=1, axis2=2) / n_a - mean ** 2
        return mean, var

    def pairwise_moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Available-case means (R, p) and pairwise-complete covariances (R, p, p) with
        denominator ``n_ab - 1`` (pandas' ``DataFrame.cov``), rescaled by ``(n - 1) / n``
        (lavaan's sample statistics of incomplete data)."""
        n_ab = self.pair_counts
        with np.errstate(invalid="ignore", divide="ignore"):
            m_ab = self.pair_sums / n_ab                                   # mean of a over rows observing b
            cov = (self.cross - n_ab * m_ab * np.swapaxes(m_ab, 1, 2)) / (n_ab - 1.0)
            mean = self.sums / np.diagonal(n_ab, axis1=1, axis2=2)
        n = self.n[:, None, None]
        return mean, cov * (n - 1.0) / n

    def terms(self, Sigma: np.ndarray, mu: np.ndarray, idx: np.ndarray, N: np.ndarray,
              derivatives: bool = False, value: bool = True) -> MomentTerms:
        """This group's share of ``F`` at ``(Sigma, mu)`` (r, p, p), (r, p) for the replicates
        ``idx`` (r,), ``N`` (r,) the total rows of each replicate (all groups); without
        ``value`` (EM steps) ``f`` is left at 0."""
        r, p = Sigma.shape[0], self.p
        ok, L = cholesky_factors(Sigma)
        logdet = 2.0 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1)
        P = np.linalg.inv(np.where(ok[:, None, None], Sigma, np.eye(p)))
        P = 0.5 * (P + np.swapaxes(P, 1, 2))
        c_inc = self.w_inc[idx] / N[:, None]
        s = self.n[idx] / N
        # complete rows: T_c = sum w (x - mu)(x - mu)'
        n_c, s_c = self.n_c[idx][:, None], self.s_c[idx]
        outer = s_c[:, :, None] * mu[:, None, :]
        T_c = (self.Q_c[idx] - outer - np.swapaxes(outer, 1, 2)
               + n_c[:, :, None] * mu[:, :, None] * mu[:, None, :]) / N[:, None, None]
        xt = self.x_inc[None] - mu[:, None, :] * self.o_inc[None]           # (r, n_inc, p)
        Z = xt @ P
        Zf = Z.reshape(r, -1)
        if value:
            f = s * logdet + _dot(P.reshape(r, -1), T_c.reshape(r, -1)) + _dot(c_inc, _dot(xt, Z))
        else:
            f = np.zeros(r)
        blocks = []
        Y = xt.copy() if derivatives else None
        Yf = Y.reshape(r, -1) if derivatives else None
        H = np.zeros((r, p * p)) if derivatives else None
        for sg in self.sizes:
            k = sg.k
            Pmm = P[:, sg.sets[:, :, None], sg.sets[:, None, :]]            # (r, J_k, k, k)
            Minv, logdet_mm = small_inverse(Pmm)
            cw = sg.set_weights[idx] / N[:, None]                          # (r, J_k)
            if value:
                f = f + _dot(cw, logdet_mm)
            z = Zf[:, sg.flat_missing].reshape(r, -1, k)                    # (r, n_k, k)
            Mrow = Minv[:, sg.set_of_row]                                   # (r, n_k, k, k)
            # elementwise, not matmul: small stacked products go through kernels whose
            # rounding can depend on where a replicate sits in the batch
            v = Mrow[..., 0] * z[..., 0, None]
            for j in range(1, k):
                v = v + Mrow[..., j] * z[..., j, None]
            if value:
                f = f - _dot(c_inc[:, sg.rows], _dot(z, v))
            if derivatives:
                Yf[:, sg.flat_missing] = -v.reshape(r, -1)
                order, starts, targets = sg.embed
                H[:, targets] += np.add.reduceat((cw[:, :, None, None] * Minv).reshape(r, -1)[:, order], starts, axis=1)
                blocks.append((sg, Minv, cw))
        f = np.where(ok & np.isfinite(f), f, np.inf)
        if not derivatives:
            return MomentTerms(f)
        Syy = T_c + np.swapaxes(Y * c_inc[:, :, None], 1, 2) @ Y
        ybar = (s_c - n_c * mu) / N[:, None] + np.matmul(c_inc[:, None, :], Y)[:, 0]
        return MomentTerms(f, P, H.reshape(r, p, p), Syy, ybar, s, blocks)


def small_inverse(M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse and log-determinant of a stack (..., k, k) of small positive definite
    matrices: closed forms (adjugates) for k <= 3, vectorised Gauss-Jordan sweeps otherwise
    (numpy's batched ``inv`` spends most of its time per matrix on blocks this small)."""
    k = M.shape[-1]
    if k == 1:
        d = M[..., 0, 0]
        return (1.0 / d)[..., None, None], np.log(d)
    if k == 2:
        a, b, d = M[..., 0, 0], M[..., 0, 1], M[..., 1, 1]
        det = a * d - b * b
        inv = np.empty(M.shape)
        inv[..., 0, 0], inv[..., 1, 1] = d / det, a / det
        inv[..., 0, 1] = inv[..., 1, 0] = -b / det
        return inv, np.log(det)
    if k == 3:
        a, b, c = M[..., 0, 0], M[..., 0, 1], M[..., 0, 2]
        d, e, f = M[..., 1, 1], M[..., 1, 2], M[..., 2, 2]
        A, B, C = d * f - e * e, c * e - b * f, b * e - c * d
        D, E, F = a * f - c * c, b * c - a * e, a * d - b * b
        det = a * A + b * B + c * C
        inv = np.empty(M.shape)
        for (i, j), value in zip(((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)), (A, B, C, D, E, F)):
            inv[..., i, j] = inv[..., j, i] = value / det
        return inv, np.log(det)
    # Gauss-Jordan sweeps without pivoting (positive definite), vectorised over the stack
    A = np.array(M, dtype=float, copy=True)
    logdet = np.zeros(A.shape[:-2])
    for i in range(k):
        piv = A[..., i, i].copy()
        logdet = logdet + np.log(piv)
        row = A[..., i, :] / piv[..., None]
        col = A[..., :, i].copy()
        A -= col[..., :, None] * row[..., None, :]
        A[..., i, :] = row
        A[..., :, i] = -col / piv[..., None]
        A[..., i, i] = 1.0 / piv
    return A, logdet


def information_terms(t: MomentTerms, U: np.ndarray, V: np.ndarray, cc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Entry-level structured expected information ``sum_j c_j tr(W_j D_e W_j D_f)`` (r, E, E)
    and ``Wbar = sum_j c_j W_j`` (r, p, p) from the terms of one group (module text)."""
    P = t.P
    K = P @ t.H @ P
    K = 0.5 * (K + np.swapaxes(K, 1, 2))
    Wbar = t.s[:, None, None] * P - K
    info = (gram_terms(U, V, Wbar, cc) - gram_terms(U, V, K, cc)) / t.s[:, None, None]
    for sg, Minv, cw in t.blocks:
        k = sg.k
        r, J = cw.shape
        if k == 1:
            Rj = P[:, :, sg.sets[:, 0]] * np.sqrt(Minv[..., 0, 0])[:, None, :]     # (r, p, J)
            a, b = U @ Rj, V @ Rj                                                 # (r, E, J)
            B = 2.0 * cc[None, :, None] * a * b * np.sqrt(cw)[:, None, :]
        else:
            _, Lm = cholesky_factors(Minv.reshape(-1, k, k))
            Lm = Lm.reshape(r, J, k, k)
            Pm = P[:, :, sg.sets].reshape(r, P.shape[-1], J * k)                  # P[:, m_j] side by side
            E = U.shape[1]
            a = np.swapaxes((U @ Pm).reshape(r, E, J, k), 1, 2) @ Lm                # (r, J, E, k): R_j' u_e
            b = np.swapaxes((V @ Pm).reshape(r, E, J, k), 1, 2) @ Lm
            B = a[..., :, None] * b[..., None, :]
            B = B + np.swapaxes(B, -1, -2)
            B = B * (np.sqrt(cw)[:, :, None, None, None] * cc[None, None, :, None, None])
            B = np.swapaxes(B, 1, 2).reshape(r, E, J * k * k)
        info = info + B @ np.swapaxes(B, 1, 2)
    return info, Wbar


class WeightedFIMLObjective(Objective):
    """``F = -2 loglik / N`` (without the 2 pi constant) of every replicate of case weights,
    over groups: the :class:`~lcsem.engine.objective.Objective` the batched solver minimises.

    Parameters
    ----------
    struct
        The model (with a mean structure).
    groups
        One :class:`WeightedRows` per group, all with the same ``R`` replicates.
    """

    def __init__(self, struct: GroupStructure, groups: Sequence[WeightedRows]):
        if not struct.meanstructure:
            raise ArgumentError("struct: full-information ML models the means; build the GroupStructure "
                                "with meanstructure=True")
        if len(groups) != struct.n_groups:
            raise ArgumentError(f"groups: {len(groups)} row sets for a model of {struct.n_groups} groups")
        self.struct = struct
        self.groups = tuple(groups)
        self.k = struct.k
        self.n_replicates = int(groups[0].R)
        self.N = np.sum([g.n for g in self.groups], axis=0)                     # (R,)
        #: sum_i w_i p_i log(2 pi) / N per replicate: F + this = -2 loglik / N
        self.constant = np.sum([g.n_values for g in self.groups], axis=0) * LOG_2PI / self.N

    def value(self, theta, idx):
        theta = np.atleast_2d(theta)
        idx = np.asarray(idx)
        Sigma, mu = self.struct.implied(theta)
        total = np.zeros(theta.shape[0])
        with np.errstate(all="ignore"):
            for g, rows in enumerate(self.groups):
                total = total + rows.terms(Sigma[:, g], mu[:, g], idx, self.N[idx]).f
        return np.where(np.isfinite(total), total, np.inf)

    def moment_value(self, Sigma: np.ndarray, mu: np.ndarray) -> np.ndarray:
        """``F`` at given moments (R, G, p, p), (R, G, p) of every replicate: (R,)."""
        idx = np.arange(self.n_replicates)
        with np.errstate(all="ignore"):
            return sum(rows.terms(Sigma[:, g], mu[:, g], idx, self.N).f for g, rows in enumerate(self.groups))

    def loglik(self, F: np.ndarray) -> np.ndarray:
        """Log-likelihood of every replicate from its ``F`` (R,)."""
        return -0.5 * self.N * (F + self.constant)

    def gradient_information(self, theta, idx):
        """Gradient of ``F`` and its structured expected information: (r, k), (r, k, k)."""
        return self._derivatives(np.atleast_2d(theta), np.asarray(idx), information=True)

    def gradient(self, theta: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Gradient of ``F`` at each row of ``theta`` for the replicates ``idx``: (r, k)."""
        return self._derivatives(np.atleast_2d(theta), np.asarray(idx), information=False)[0]

    def _derivatives(self, theta, idx, information: bool):
        struct = self.struct
        R, k = theta.shape[0], self.k
        grad = np.zeros((R, k))
        info = np.zeros((R, k, k)) if information else None
        N = self.N[idx]
        with np.errstate(all="ignore"):
            for g, rows in enumerate(self.groups):
                gs = struct.groups[g]
                Sigma, mu, B, C, Bnu = struct.group_moments(theta, g)
                t = rows.terms(Sigma, mu, idx, N, derivatives=True)
                P = t.P
                G_sigma = t.s[:, None, None] * P - P @ (t.H + t.Syy) @ P
                g_mu = -2.0 * _mv(P, t.ybar)
                U, V, cc = gs.jacobian_vectors(B, C)
                grad_e = 2.0 * cc[None, :] * _dot(U @ G_sigma, V)
                dmu = _mean_jacobian(struct, g, B, Bnu, U)
                grad += _per_replicate(grad_e, gs.free_map) + np.matmul(g_mu[:, None, :], dmu)[:, 0]
                if information:
                    info_e, Wbar = information_terms(t, U, V, cc)
                    info += (gs.free_map.T @ info_e @ gs.free_map
                             + np.swapaxes(dmu, 1, 2) @ (2.0 * Wbar) @ dmu)
        return grad, info

    def use_quasi_newton(self, hessian: np.ndarray, memory: int = 30) -> None:
        """Take quasi-Newton steps from now on: limited-memory BFGS (the last ``memory``
        steps) of every replicate, all started from the inverse of ``hessian`` (k, k) (e.g.
        the full-sample observed information, which is close to every replicate's). Each
        iteration then needs the gradient only, not the expected information. A Hessian that
        is not positive definite leaves Fisher scoring in place."""
        hessian = 0.5 * (np.asarray(hessian, float) + np.asarray(hessian, float).T)
        try:
            np.linalg.cholesky(hessian)
        except np.linalg.LinAlgError:
            self._h0 = None
            return
        R, k = self.n_replicates, self.k
        self._h0 = np.linalg.inv(hessian)
        self._h0 = 0.5 * (self._h0 + self._h0.T)
        self._memory = int(memory)
        self._S = np.zeros((R, self._memory, k))
        self._Y = np.zeros((R, self._memory, k))
        self._rho = np.zeros((R, self._memory))
        self._count = np.zeros(R, dtype=int)
        self._last_theta = np.full((R, k), np.nan)
        self._last_grad = np.full((R, k), np.nan)

    def direction(self, theta, idx, exact: bool = False):
        if getattr(self, "_h0", None) is None:
            return super().direction(theta, idx, exact)
        theta = np.atleast_2d(theta)
        idx = np.asarray(idx)
        grad = self.gradient(theta, idx)
        s = theta - self._last_theta[idx]
        y = grad - self._last_grad[idx]
        sy = _dot(s, y)
        with np.errstate(invalid="ignore"):
            update = np.isfinite(sy) & (sy > 1e-12 * np.linalg.norm(s, axis=1) * np.linalg.norm(y, axis=1))
        if update.any():
            u = idx[update]
            slot = self._count[u] % self._memory
            self._S[u, slot], self._Y[u, slot], self._rho[u, slot] = s[update], y[update], 1.0 / sy[update]
            self._count[u] += 1
        self._last_theta[idx], self._last_grad[idx] = theta, grad
        step = -self._two_loop(grad, idx)
        descent = _dot(step, grad) < 0
        if not descent.all():
            # a lost curvature estimate: forget the pairs, start again from the Hessian
            bad = idx[~descent]
            self._rho[bad] = 0.0
            self._count[bad] = 0
            step[~descent] = -_mv(np.broadcast_to(self._h0, (int((~descent).sum()),) + self._h0.shape),
                                  grad[~descent])
        return grad, step, np.ones(step.shape[0], dtype=bool)

    def _two_loop(self, grad: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """The L-BFGS product ``H_inv grad`` of the replicates ``idx`` (two-loop recursion;
        slots never written have ``rho = 0`` and do nothing)."""
        count = self._count[idx]
        depth = int(min(count.max(initial=0), self._memory))
        rows = np.arange(idx.size)
        q = grad.copy()
        alphas = []
        for j in range(1, depth + 1):
            slot = (count - j) % self._memory
            S, Y, rho = self._S[idx, slot], self._Y[idx, slot], self._rho[idx, slot]
            rho = np.where(j <= count, rho, 0.0)
            a = rho * _dot(S, q)
            q = q - a[:, None] * Y
            alphas.append((S, Y, rho, a))
        r = _mv(np.broadcast_to(self._h0, (rows.size,) + self._h0.shape), q)
        for S, Y, rho, a in reversed(alphas):
            b = rho * _dot(Y, r)
            r = r + S * (a - b)[:, None]
        return r


def em_batch(rows: WeightedRows, max_iter: int = 500, tol: float = 1e-5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Saturated-model means and covariances (denominator n) of every replicate by EM, as
    :func:`lcsem.data.missing.em_moments` computes them for one data set (the same start,
    update, ridge and stopping rule, replicate by replicate): (R, p), (R, p, p), iterations (R,)."""
    R, p = rows.R, rows.p
    mu, var = rows.available_moments()
    var = np.where(np.isfinite(var) & (var != 0), var, 1.0)
    mu = np.where(np.isfinite(mu), mu, 0.0)
    Sigma = var[:, :, None] * np.eye(p)[None]
    iu = np.triu_indices(p)
    iterations = np.zeros(R, dtype=int)
    active = np.arange(R)
    for it in range(1, max_iter + 1):
        if active.size == 0:
            break
        # one group: c_i = w_i / n, s = 1
        t = rows.terms(Sigma[active], mu[active], active, rows.n[active], derivatives=True, value=False)
        mu_new = mu[active] + t.ybar
        Sig_new = t.Syy + t.H - t.ybar[:, :, None] * t.ybar[:, None, :]
        Sig_new = 0.5 * (Sig_new + np.swapaxes(Sig_new, 1, 2))
        try:
            np.linalg.cholesky(Sig_new - 1e-6 * np.eye(p))
        except np.linalg.LinAlgError:
            low = np.linalg.eigvalsh(Sig_new)[:, 0] < 1e-6
            if low.any():
                bump = np.max(np.diagonal(Sig_new[low], axis1=1, axis2=2), axis=1) * 1e-8
                Sig_new[low] += bump[:, None, None] * np.eye(p)
        delta = np.maximum(np.max(np.abs(mu_new - mu[active]), axis=1),
                           np.max(np.abs(Sig_new[:, iu[0], iu[1]] - Sigma[active][:, iu[0], iu[1]]), axis=1))
        mu[active], Sigma[active] = mu_new, Sig_new
        iterations[active] = it
        active = active[~(delta < tol)]
    return mu, Sigma, iterations


def gfi_quadratic_forms(rows: WeightedRows, idx: np.ndarray, Sigma: np.ndarray, mu: np.ndarray,
                        cov: np.ndarray, mean: np.ndarray, fixed_x: tuple[int, ...] = ()
                        ) -> tuple[np.ndarray, np.ndarray]:
    """lavaan 0.6.14's GFI parts of a FIML fit for the replicates ``idx`` (r,):
    ``e' V e`` for ``e = (cov - Sigma, mean - mu)`` and for ``(cov, mean)``, with ``V`` the
    expected information of the incomplete data at ``(Sigma, mu)``
    (``sum_j c_j [1/2 tr(W_j E W_j E) + e' W_j e]``, ``c_j = n_j / n``; see
    :func:`lcsem.estimation.fiml.fiml_gfi`): (r,), (r,). The covariances among the fixed.x
    covariates ``fixed_x`` and their means get no weight."""
    t = rows.terms(Sigma, mu, idx, rows.n[idx], derivatives=True)
    P = t.P
    K = P @ t.H @ P
    K = 0.5 * (K + np.swapaxes(K, 1, 2))
    Wbar = P - K
    r = P.shape[0]

    def quad(E: np.ndarray, e: np.ndarray) -> np.ndarray:
        WE, KE = Wbar @ E, K @ E
        total = (_dot(WE.reshape(r, -1), np.swapaxes(WE, 1, 2).reshape(r, -1))
                 - _dot(KE.reshape(r, -1), np.swapaxes(KE, 1, 2).reshape(r, -1)))
        for sg, Minv, cw in t.blocks:
            # sum_j c_j tr(K_j E K_j E) = sum_j c_j tr(A_j M_j A_j M_j), A_j = P[:, m]' E P[:, m],
            # M_j = P_mm^-1 (elementwise over the small blocks: see WeightedRows.terms)
            k, J = sg.k, cw.shape[1]
            Pm = P[:, :, sg.sets]                                                # (r, p, J, k)
            EPm = (E @ Pm.reshape(r, P.shape[1], J * k)).reshape(Pm.shape)
            A = (Pm[..., :, None] * EPm[..., None, :]).sum(axis=1)              # (r, J, k, k)
            AM = A[..., :, 0, None] * Minv[..., None, 0, :]
            for c in range(1, k):
                AM = AM + A[..., :, c, None] * Minv[..., None, c, :]
            total = total + _dot(cw, (AM * np.swapaxes(AM, -1, -2)).reshape(r, J, -1).sum(axis=-1))
        return 0.5 * total + _dot(e, _mv(Wbar, e))

    return quad(*without_fixed_x(cov - Sigma, mean - mu, fixed_x)), quad(*without_fixed_x(cov, mean, fixed_x))
