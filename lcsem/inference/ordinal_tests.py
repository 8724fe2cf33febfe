"""Robust standard errors and corrected test statistics of least-squares fits to ordinal
statistics (lavaan's ``se = "robust.sem"``, ``test = "scaled.shifted"`` / ``"satorra.bentler"``).

Per group ``g`` with ``f_g = N_g / N``: ``D_g`` the Jacobian of the implied statistics,
``W_g`` the weight matrix (DWLS: a vector, the diagonal), ``Gamma_g`` lavaan's NACOV
(``N_g`` times the asymptotic covariance of the sample statistics).

* information ``E = sum_g f_g D_g' W_g D_g``;
* robust covariance of the estimates ``E^-1 (sum_g f_g D_g' W_g Gamma_g W_g D_g) E^-1 / (N - G)``
  (lavaan divides by ``N - G`` for these estimators, as its test statistic uses ``N_g - 1``);
* ``U = V - V D E^-1 D' V`` with ``V = blockdiag(f_g W_g)``, ``Gamma = blockdiag(Gamma_g / f_g)``;
  ``tr(U Gamma)`` and ``tr((U Gamma)^2)`` give the mean-adjusted (Satorra-Bentler) test
  ``T / c``, ``c = tr(U Gamma) / df``, and the scaled-and-shifted test ``a T + b``,
  ``a = sqrt(df / tr((U Gamma)^2))``, ``b = df - a tr(U Gamma)`` (lavaan reports
  ``scaling.factor = 1 / a`` and ``shift.parameter = b``).

The standard statistic is lavaan's ``sum_g (N_g - 1) F_g`` with
``F_g = (s_g - sigma_g)' W_g (s_g - sigma_g)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.special import chdtrc

from .robust import block_diag, scaled_shifted

__all__ = ["OrdinalPieces", "ordinal_information", "robust_vcov", "standard_vcov", "satorra_2000_ordinal", "ugamma_traces", "scaled_test",
           "standard_statistic", "independence_fit"]


def _weighted(W: np.ndarray, X: np.ndarray) -> np.ndarray:
    """``W X`` for a weight matrix or a weight vector (its diagonal)."""
    return W[:, None] * X if W.ndim == 1 else W @ X


def _full(W: np.ndarray) -> np.ndarray:
    return np.diag(W) if W.ndim == 1 else W


@dataclass(frozen=True)
class OrdinalPieces:
    """What the corrections need: per group Jacobian, weights, Gamma, and the group sizes."""

    Delta: tuple[np.ndarray, ...]
    W: tuple[np.ndarray, ...]
    Gamma: tuple[np.ndarray, ...] | None
    n: np.ndarray

    @property
    def fractions(self) -> np.ndarray:
        return self.n / self.n.sum()


def ordinal_information(pieces: OrdinalPieces) -> np.ndarray:
    """``E = sum_g f_g D_g' W_g D_g``: (k, k)."""
    return sum(f * D.T @ _weighted(W, D) for f, D, W in zip(pieces.fractions, pieces.Delta, pieces.W))


def _inverse(E: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.inv(E)
    except np.linalg.LinAlgError:
        return np.full_like(E, np.nan)


def robust_vcov(pieces: OrdinalPieces) -> np.ndarray:
    """lavaan's ``robust.sem`` covariance of the estimates (NaN where ``E`` is singular)."""
    E_inv = _inverse(ordinal_information(pieces))
    meat = sum(f * (_weighted(W, D)).T @ G @ _weighted(W, D)
               for f, D, W, G in zip(pieces.fractions, pieces.Delta, pieces.W, pieces.Gamma))
    return E_inv @ meat @ E_inv / (pieces.n.sum() - pieces.n.size)


def standard_vcov(pieces: OrdinalPieces) -> np.ndarray:
    """lavaan's ``se = "standard"`` of least-squares fits: ``E^-1 / (N - G)`` (for WLS the
    model-based covariance; for DWLS/ULS not robust to the weights being wrong)."""
    return _inverse(ordinal_information(pieces)) / (pieces.n.sum() - pieces.n.size)


def _u_gamma(pieces: OrdinalPieces, E_inv: np.ndarray) -> np.ndarray:
    f = pieces.fractions
    V = block_diag([fg * _full(W) for fg, W in zip(f, pieces.W)])
    Gamma = block_diag([G / fg for fg, G in zip(f, pieces.Gamma)])
    D = np.concatenate(pieces.Delta, axis=0)
    VD = V @ D
    U = V - VD @ E_inv @ VD.T
    return U @ Gamma


def ugamma_traces(pieces: OrdinalPieces) -> tuple[float, float]:
    """``tr(U Gamma)`` and ``tr((U Gamma)^2)`` (NaN when ``E`` is singular)."""
    UG = _u_gamma(pieces, _inverse(ordinal_information(pieces)) if pieces.Delta[0].shape[1]
                  else np.zeros((0, 0)))
    return float(np.trace(UG)), float(np.sum(UG * UG.T))


def standard_statistic(residuals: Sequence[np.ndarray], W: Sequence[np.ndarray], n: Sequence[float]
                       ) -> tuple[float, np.ndarray]:
    """lavaan's test statistic ``sum_g (N_g - 1) e_g' W_g e_g`` and its group parts."""
    parts = np.array([(ng - 1.0) * float(e @ _weighted(Wg, e[:, None])[:, 0])
                      for e, Wg, ng in zip(residuals, W, n)])
    return float(parts.sum()), parts


def scaled_test(stat: float, df: float, trace: float, trace2: float, kind: str = "scaled.shifted"
                ) -> dict[str, float]:
    """lavaan's corrected statistic: ``kind="scaled.shifted"`` (WLSMV/ULSMV) or
    ``"satorra.bentler"`` (mean-adjusted, WLSM/ULSM). Keys ``stat df pvalue scaling_factor
    shift``; with df = 0 the standard statistic and NaN factors (lavaan)."""
    nan = float("nan")
    if not df > 0:
        return dict(stat=float(stat), df=float(df), pvalue=nan, scaling_factor=nan, shift=nan)
    if not (np.isfinite(trace) and np.isfinite(trace2)):
        return dict(stat=nan, df=float(df), pvalue=nan, scaling_factor=nan, shift=nan)
    if kind == "scaled.shifted":
        value, a, shift = scaled_shifted(stat, df, trace, trace2)
        factor = 1.0 / a
    elif kind == "satorra.bentler":
        factor = trace / df
        shift = nan
        value = stat / factor if factor > 0 else nan
    else:
        raise ValueError(f"kind: {kind!r}")
    return dict(stat=float(value), df=float(df), pvalue=float(chdtrc(df, value)),
                scaling_factor=float(factor), shift=float(shift))


def independence_fit(stats: Sequence[np.ndarray], W: Sequence[np.ndarray], n: Sequence[float], n_free: int
                     ) -> tuple[float, tuple[np.ndarray, ...]]:
    """lavaan's baseline for ordinal data: thresholds (and the means and variances of
    continuous variables) free, every correlation/covariance 0. The implied statistics are
    linear in its parameters (the first ``n_free`` statistics of each group), so the
    weighted least-squares fit is closed-form. Returns its statistic and each group's
    Jacobian (a selection matrix over the parameters of all groups: each group has its own)."""
    residuals, Deltas = [], []
    G = len(stats)
    for g, (s, Wg) in enumerate(zip(stats, W)):
        m = s.size
        D = np.zeros((m, n_free))
        D[np.arange(n_free), np.arange(n_free)] = 1.0
        WD = _weighted(Wg, D)
        coef = np.linalg.solve(D.T @ WD, WD.T @ s)
        residuals.append(s - D @ coef)
        full = np.zeros((m, G * n_free))
        full[:, g * n_free:(g + 1) * n_free] = D
        Deltas.append(full)
    stat, _ = standard_statistic(residuals, W, n)
    return stat, tuple(Deltas)


def satorra_2000_ordinal(Delta1: Sequence[np.ndarray], J0: Sequence[np.ndarray], W: Sequence[np.ndarray],
                         Gamma: Sequence[np.ndarray], n: np.ndarray, chisq_diff: float, df_diff: int
                         ) -> dict[str, float]:
    """lavaan's ``satorra.2000`` scaled-and-shifted difference test of two nested ordinal
    least-squares fits (``lavTestLRT``'s default for WLSMV/ULSMV; ``A.method = "delta"``).

    ``Delta1``/``J0``: per group the Jacobians of the less restricted and of the restricted
    model at their estimates. With ``H = Delta1^+ J0``, ``A`` a basis of the orthogonal
    complement of ``H``'s columns, ``P = sum_g f_g D_g' W_g D_g``,
    ``M = P^-1 A' (A P^-1 A')^+ A P^-1``, ``U = V D M D' V`` (``V = blockdiag(f_g W_g)``)
    and ``Gamma = blockdiag(Gamma_g / f_g)``: ``a = sqrt(df / tr((U Gamma)^2))``,
    ``b = df - a tr(U Gamma)``, statistic ``a (T0 - T1) + b``."""
    n = np.asarray(n, float)
    f = n / n.sum()
    D1 = np.concatenate(Delta1, axis=0)
    D0 = np.concatenate(J0, axis=0)
    H = np.linalg.pinv(D1) @ D0
    Q, _ = np.linalg.qr(H, mode="complete")
    rank = int(np.linalg.matrix_rank(H))
    A = Q[:, rank:].T
    P_inv = np.linalg.inv(ordinal_information(OrdinalPieces(tuple(Delta1), tuple(W), None, n)))
    M = P_inv @ A.T @ np.linalg.pinv(A @ P_inv @ A.T) @ A @ P_inv
    V = block_diag([fg * _full(Wg) for fg, Wg in zip(f, W)])
    G = block_diag([Gg / fg for fg, Gg in zip(f, Gamma)])
    VD = V @ D1
    UG = VD @ M @ VD.T @ G
    trace, trace2 = float(np.trace(UG)), float(np.sum(UG * UG.T))
    stat, a, b = scaled_shifted(chisq_diff, df_diff, trace, trace2)
    return dict(stat=float(stat), df=float(df_diff), pvalue=float(chdtrc(df_diff, stat)), a=float(a), b=float(b),
                trace=trace, trace2=trace2)
