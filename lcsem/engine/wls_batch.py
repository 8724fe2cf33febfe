"""The WLS / DWLS / ULS objective of many replicates, each with its own statistics and weights.

:class:`~lcsem.engine.wls.WLSObjective` fits one data set (or several sharing one weight
matrix) replicate by replicate in Python. A bootstrap replicate has its own thresholds,
correlations and weights, and hundreds are refitted together, so
:class:`ReplicateWLSObjective` evaluates the same discrepancy

    F_r(theta) = sum_g (N_g / N) (s_rg - sigma_g(theta))' W_rg (s_rg - sigma_g(theta))

and its Gauss-Newton (Fisher-scoring) gradient and information for all replicates of a
chunk with stacked array operations (:mod:`lcsem.engine.ordinal_batch`). Weights are
per replicate: a diagonal (R, n_stats) (DWLS: ``1 / diag(Gamma)``; ULS: ones) or full
(R, n_stats, n_stats) (WLS). It is an :class:`~lcsem.engine.objective.Objective`, so the
engine's batched solver (:func:`~lcsem.engine.optimize.fisher_scoring`) minimises it.
The arithmetic is replicate by replicate (stacked products and reductions over the last
axes), so a replicate's result does not depend on the other replicates of its chunk.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..exceptions import ArgumentError
from .ordinal import OrdinalStructure
from .ordinal_batch import batch_implied, batch_jacobian, batch_moments
from .wls import WLSObjective

__all__ = ["ReplicateWLSObjective"]


class ReplicateWLSObjective(WLSObjective):
    """``F_r(theta)`` above for ``R`` replicates.

    Parameters
    ----------
    struct
        The ordinal model.
    stats
        Per group: the replicates' statistics (R, n_stats) in lavaan's ``WLS.obs`` order.
    weights
        Per group: diagonal weights (R, n_stats) or full weight matrices (R, n_stats, n_stats).
    n
        Group sizes (G,).
    """

    def __init__(self, struct: OrdinalStructure, stats: Sequence[np.ndarray], weights: Sequence[np.ndarray],
                 n: Sequence[float]):
        super().__init__(struct, stats, weights, n)
        for s, W in zip(self.stats, self.weights):
            if W.shape[0] != s.shape[0] or W.ndim not in (2, 3):
                raise ArgumentError("weights: one diagonal (R, n_stats) or full (R, n_stats, n_stats) weight "
                                 "per replicate and group")

    def _quadratic(self, e: np.ndarray, W: np.ndarray) -> np.ndarray:
        if W.ndim == 2:
            return np.sum(W * e * e, axis=1)
        return np.matmul(e[:, None, :], np.matmul(W, e[:, :, None]))[:, 0, 0]

    def value(self, theta: np.ndarray, idx: np.ndarray) -> np.ndarray:
        theta = np.atleast_2d(theta)
        f = np.zeros(len(idx))
        with np.errstate(all="ignore"):
            for g, (w, W, s) in enumerate(zip(self.fractions, self.weights, self.stats)):
                e = s[idx] - batch_implied(self.struct, theta, g)
                f = f + w * self._quadratic(e, W[idx])
        return np.where(np.isfinite(f), f, np.inf)

    def residuals(self, theta: np.ndarray, idx: np.ndarray) -> list[np.ndarray]:
        """Per group: the residuals ``s_rg - sigma_g(theta_r)`` (R, n_stats)."""
        theta = np.atleast_2d(theta)
        return [s[idx] - batch_implied(self.struct, theta, g) for g, s in enumerate(self.stats)]

    def gradient_information(self, theta: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        theta = np.atleast_2d(theta)
        grad = np.zeros((len(idx), self.k))
        info = np.zeros((len(idx), self.k, self.k))
        for g, (w, W, s) in enumerate(zip(self.fractions, self.weights, self.stats)):
            implied, D = batch_jacobian(self.struct, theta, g)             # (R, m), (R, m, k)
            e = s[idx] - implied
            Wr = W[idx]
            WD = Wr[:, :, None] * D if Wr.ndim == 2 else np.matmul(Wr, D)
            grad -= 2.0 * w * np.matmul(np.swapaxes(WD, 1, 2), e[:, :, None])[:, :, 0]
            info += 2.0 * w * np.matmul(np.swapaxes(D, 1, 2), WD)
        return grad, info

    # ------------------------------------------------------------------ threshold blocks
    def _threshold_blocks(self):
        """With diagonal weights: the threshold parameters that enter the statistics only
        through their own threshold (``d th / d tau = Delta``, one statistic per group),
        the statistic rows they enter and the other parameters; None when there are none
        (or a full weight matrix)."""
        struct = self.struct
        if any(W.ndim != 2 for W in self.weights) or struct.k == 0:
            return None
        other = set(struct.cov_cols.tolist())
        for lay in struct.layouts:
            other.update(int(f) for f in lay.scale_free if f >= 0)
        candidates = sorted({int(f) for lay in struct.layouts for f, o in zip(lay.th_free, lay.th_is_ordinal)
                             if f >= 0 and o} - other)
        if not candidates:
            return None
        position = {f: t for t, f in enumerate(candidates)}
        rows = []
        for lay in struct.layouts:
            r = [n for n, (f, o) in enumerate(zip(lay.th_free, lay.th_is_ordinal)) if o and int(f) in position]
            t = [position[int(lay.th_free[n])] for n in r]
            if len(set(t)) != len(t):          # a threshold shared within a group: general path
                return None
            rows.append((np.asarray(r, int), np.asarray(t, int), lay.th_var[r]))
        rest = np.asarray(sorted(set(range(struct.k)) - set(candidates)), int)
        return np.asarray(candidates, int), rest, rows

    def direction(self, theta: np.ndarray, idx: np.ndarray, exact: bool = False
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The scoring step ``-info^-1 grad``. With diagonal weights the thresholds' block
        of the information is diagonal (each threshold parameter meets one statistic per
        group), so the step is solved by block elimination: the Jacobian is formed for the
        other parameters only and the linear system is theirs (18 x 18 instead of 78 x 78
        for the canonical model)."""
        if not hasattr(self, "_blocks"):
            self._blocks = self._threshold_blocks()
        if exact or self._blocks is None:
            return super().direction(theta, idx, exact)
        T, O, rows = self._blocks
        theta = np.atleast_2d(theta)
        R = len(idx)
        a = np.zeros((R, T.size))
        B = np.zeros((R, T.size, O.size))
        g_T = np.zeros((R, T.size))
        g_O = np.zeros((R, O.size))
        C = np.zeros((R, O.size, O.size))
        for g, (w, W, s) in enumerate(zip(self.fractions, self.weights, self.stats)):
            implied, D = batch_jacobian(self.struct, theta, g, columns=O)    # (R, m), (R, m, |O|)
            delta = batch_moments(self.struct, theta, g)["delta"]
            e = s[idx] - implied
            Wr = W[idx]
            WD = Wr[:, :, None] * D
            g_O -= 2.0 * w * np.matmul(np.swapaxes(WD, 1, 2), e[:, :, None])[:, :, 0]
            C += 2.0 * w * np.matmul(np.swapaxes(D, 1, 2), WD)
            r, t, var = rows[g]
            if r.size:
                d = delta[:, var]                                            # d th_r / d tau_t
                a[:, t] += 2.0 * w * Wr[:, r] * d * d
                B[:, t, :] += 2.0 * w * d[:, :, None] * WD[:, r, :]
                g_T[:, t] -= 2.0 * w * Wr[:, r] * d * e[:, r]
        grad = np.zeros((R, self.k))
        grad[:, T], grad[:, O] = g_T, g_O
        with np.errstate(all="ignore"):
            inv_a = 1.0 / a
            schur = C - np.matmul(np.swapaxes(B, 1, 2), inv_a[:, :, None] * B)
            rhs = -g_O + np.matmul(np.swapaxes(B, 1, 2), (g_T * inv_a)[:, :, None])[:, :, 0]
        usable = np.isfinite(inv_a).all(axis=1) & np.isfinite(schur).all(axis=(1, 2)) & (a > 0).all(axis=1)
        step = np.zeros((R, self.k))
        if usable.any():
            x_O = self.step(schur[usable], -rhs[usable])
            x_T = (-g_T[usable] - np.matmul(B[usable], x_O[:, :, None])[:, :, 0]) * inv_a[usable]
            step[np.ix_(np.flatnonzero(usable), T)] = x_T
            step[np.ix_(np.flatnonzero(usable), O)] = x_O
        if not usable.all():
            bad = np.flatnonzero(~usable)
            step[bad] = super().direction(theta[bad], np.asarray(idx)[bad])[1]
        return grad, step, np.ones(R, dtype=bool)
