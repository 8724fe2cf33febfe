"""Weighted least squares on thresholds and correlations (WLS, DWLS, ULS), as lavaan.

With ``s_g`` the sample statistics of group ``g`` (thresholds, continuous variances,
polychoric/polyserial correlations; lavaan's ``WLS.obs``), ``sigma_g(theta)`` the implied
ones (:class:`~lcsem.engine.ordinal.OrdinalStructure`) and ``W_g`` the weight matrix
(WLS: the inverse of the asymptotic covariance ``Gamma_g``; DWLS: the inverse of its
diagonal; ULS: the identity),

    F(theta) = sum_g (N_g / N) (s_g - sigma_g)' W_g (s_g - sigma_g),

and lavaan's test statistic is ``N F_min`` (its reported ``fmin`` is ``F / 2``). Gauss-Newton
on this objective is Fisher scoring with the information ``2 sum_g w_g D_g' W_g D_g``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .objective import Objective
from .ordinal import OrdinalStructure
from .starts import group_starts
from .structure import GroupStats

#: least-squares estimators on ordinal statistics (point estimation)
LS_ESTIMATORS = ("WLS", "DWLS", "ULS")


class WLSObjective(Objective):
    """``F(theta)`` above for one data set (``n_replicates == 1``) or for several sets of
    statistics (``stats`` of shape (R, n_stats) per group)."""

    def __init__(self, struct: OrdinalStructure, stats: Sequence[np.ndarray], weights: Sequence[np.ndarray],
                 n: Sequence[float]):
        self.struct = struct
        self.stats = [np.atleast_2d(np.asarray(s, float)) for s in stats]
        self.weights = [np.asarray(W, float) for W in weights]
        n = np.asarray(n, float)
        self.fractions = n / n.sum()
        self.n_replicates = self.stats[0].shape[0]
        self.k = struct.k

    def _residuals(self, theta: np.ndarray, r: int, g: int) -> np.ndarray:
        return self.stats[g][r] - self.struct.implied(theta, g)

    def _quad(self, e: np.ndarray, W: np.ndarray) -> float:
        return float(e @ (W * e)) if W.ndim == 1 else float(e @ W @ e)

    def value(self, theta: np.ndarray, idx: np.ndarray) -> np.ndarray:
        theta = np.atleast_2d(theta)
        out = np.empty(len(idx))
        with np.errstate(all="ignore"):
            for n, (t, r) in enumerate(zip(theta, idx)):
                f = sum(w * self._quad(self._residuals(t, r, g), W)
                        for g, (w, W) in enumerate(zip(self.fractions, self.weights)))
                out[n] = f if np.isfinite(f) else np.inf
        return out

    def gradient_information(self, theta: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        theta = np.atleast_2d(theta)
        grad = np.zeros((len(idx), self.k))
        info = np.zeros((len(idx), self.k, self.k))
        for n, (t, r) in enumerate(zip(theta, idx)):
            for g, (w, W) in enumerate(zip(self.fractions, self.weights)):
                D = self.struct.jacobian(t, g)
                e = self._residuals(t, r, g)
                WD = W[:, None] * D if W.ndim == 1 else W @ D
                grad[n] -= 2.0 * w * (WD.T @ e)
                info[n] += 2.0 * w * (D.T @ WD)
        return grad, info


def unpack_statistics(struct: OrdinalStructure, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Thresholds part and the ``p x p`` matrix (correlations; continuous variances on the
    diagonal, 1 for ordered variables) of a statistics vector in lavaan's order."""
    s = np.asarray(s, float)
    th = s[: struct.n_th]
    P = np.eye(struct.p)
    cont = np.flatnonzero(~struct.is_ordinal)
    P[cont, cont] = s[struct.n_th: struct.n_th + struct.n_var]
    off = s[struct.n_th + struct.n_var:]
    P[struct.cor_i, struct.cor_j] = off
    P[struct.cor_j, struct.cor_i] = off
    return th, P


def ordinal_starts(struct: OrdinalStructure, stats: Sequence[np.ndarray], n: Sequence[float]) -> np.ndarray:
    """Start values: lavaan-like "marker" starts of the covariance/mean part on the sample
    correlations (:func:`~lcsem.engine.starts.group_starts`), thresholds at the sample
    thresholds, scaling factors 1."""
    covs, means = [], []
    for g, s in enumerate(stats):
        th, P = unpack_statistics(struct, np.asarray(s, float).reshape(-1))
        lay = struct.layouts[g]
        mean = np.zeros(struct.p)
        cont = ~lay.th_is_ordinal
        mean[lay.th_var[cont]] = -th[cont]
        covs.append(P)
        means.append(mean)
    gstats = GroupStats(np.asarray(covs)[None], np.asarray(means)[None], np.asarray(n, float))
    theta = np.zeros(struct.k)
    if struct.cov_cols.size:
        theta[struct.cov_cols] = group_starts(struct.ram, gstats, rule="marker")[0]
    seen = set(struct.cov_cols.tolist())
    for g, s in enumerate(stats):
        th = np.asarray(s, float).reshape(-1)[: struct.n_th]
        lay = struct.layouts[g]
        for f, value, ordinal in zip(lay.th_free, th, lay.th_is_ordinal):
            if ordinal and f >= 0 and f not in seen:
                theta[f] = value
                seen.add(f)
        for f in lay.scale_free:
            if f >= 0 and f not in seen:
                theta[f] = 1.0
                seen.add(f)
    return theta
