"""Polyserial correlations (ordered x continuous) by lavaan's two-step method.

Step 1 fixes the continuous variable's mean and ML variance and the ordered variable's
thresholds; step 2 maximises the conditional likelihood of the ordered variable given the
continuous one in rho (lavaan's ``lav_bvmix_cor_twostep_fit``, bounds +-0.995). Here by
Newton with analytic derivatives, every pair at once (arrays of shape (pairs, cases)).
lavaan drops a case from the derivatives when its likelihood (the continuous density times
the conditional probability) is below ``sqrt(.Machine$double.eps)``; so does this code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

__all__ = ["SerialPairs", "polyserial", "polyserial_scores"]

RHO_BOUND = 0.995
_EPS = float(np.finfo(float).eps)
_LIK_FLOOR = float(np.sqrt(_EPS))
_BIG = 100.0          # lavaan's stand-in for an infinite threshold
_MAX_ITER = 100
_STEP_TOL = 1e-13


def _phi(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / np.sqrt(2.0 * np.pi)


@dataclass(frozen=True)
class SerialPairs:
    """The case-level inputs of every (continuous, ordered) pair: arrays (pairs, n)."""

    z: np.ndarray          # standardised continuous values (y - mean) / sd
    sd: np.ndarray         # (pairs,) the continuous variable's ML standard deviation
    upper: np.ndarray      # the case's upper threshold (100 for the top category)
    lower: np.ndarray      # lower threshold (-100 for the bottom category)
    code: np.ndarray       # (pairs, n) category (0-based)
    weights: np.ndarray    # (n,)

    @classmethod
    def build(cls, y: np.ndarray, mean: np.ndarray, var: np.ndarray, codes: np.ndarray,
              th: list[np.ndarray], weights: np.ndarray) -> "SerialPairs":
        """``y`` (pairs, n) continuous values with their ``mean``/``var`` (pairs,), ``codes``
        (pairs, n) categories with thresholds ``th[p]``."""
        sd = np.sqrt(var)
        z = (y - mean[:, None]) / sd[:, None]
        upper = np.empty(codes.shape)
        lower = np.empty(codes.shape)
        for p, t in enumerate(th):
            ext = np.concatenate([[-_BIG], t, [_BIG]])
            upper[p] = ext[codes[p] + 1]
            lower[p] = ext[codes[p]]
        return cls(z, sd, upper, lower, codes, weights)


def _terms(sp: SerialPairs, rho: np.ndarray):
    r = rho[:, None]
    one = np.sqrt(1.0 - r * r)
    a = (sp.upper - r * sp.z) / one
    b = (sp.lower - r * sp.z) / one
    pa, pb = _phi(a), _phi(b)
    prob = np.maximum(ndtr(a) - ndtr(b), _EPS)
    return r, one, a, b, pa, pb, prob


def _loglik_derivatives(sp: SerialPairs, rho: np.ndarray):
    r, one, a, b, pa, pb, prob = _terms(sp, rho)
    z = sp.z
    lik = _phi(z) / sp.sd[:, None] * prob
    keep = (lik >= _LIK_FLOOR) * sp.weights[None, :]
    one3 = one ** 3
    da = (r * sp.upper - z) / one3
    db = (r * sp.lower - z) / one3
    d2a = sp.upper / one3 + 3.0 * r * (r * sp.upper - z) / one ** 5
    d2b = sp.lower / one3 + 3.0 * r * (r * sp.lower - z) / one ** 5
    dp = pa * da - pb * db
    d2p = pa * (d2a - a * da * da) - pb * (d2b - b * db * db)
    g = dp / prob
    h = d2p / prob - g * g
    ll = (keep * np.log(prob)).sum(axis=1)
    return ll, (keep * g).sum(axis=1), (keep * h).sum(axis=1)


def polyserial(sp: SerialPairs, start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two-step polyserial correlations of every pair: (rho, converged), both (pairs,)."""
    rho = np.clip(np.asarray(start, dtype=float), -RHO_BOUND, RHO_BOUND)
    ll, grad, hess = _loglik_derivatives(sp, rho)
    active = np.ones(rho.shape, dtype=bool)
    scale = np.ones(rho.shape)
    it = 0
    while active.any() and it < _MAX_ITER:
        it += 1
        newton = np.where(hess < 0, -grad / np.where(hess < 0, hess, -1.0), np.sign(grad) * 0.1)
        trial = np.where(active, np.clip(rho + np.clip(newton, -0.5, 0.5) * scale, -RHO_BOUND, RHO_BOUND), rho)
        ll_t, g_t, h_t = _loglik_derivatives(sp, trial)
        accept = active & (ll_t >= ll - 1e-12 * np.maximum(1.0, np.abs(ll)))
        moved = np.abs(trial - rho)
        rho = np.where(accept, trial, rho)
        ll, grad, hess = (np.where(accept, x, y) for x, y in ((ll_t, ll), (g_t, grad), (h_t, hess)))
        scale = np.where(accept, 1.0, scale * 0.5)
        pushing_out = (np.abs(rho) >= RHO_BOUND) & (np.sign(grad) == np.sign(rho))
        done = (accept & ((moved < _STEP_TOL) | pushing_out)) | (scale < 1e-10)
        active &= ~done
    return rho, ~active


def polyserial_start(y: np.ndarray, codes: np.ndarray, th: np.ndarray, weights: np.ndarray) -> float:
    """lavaan's start: cor(y, code) * sd(code) / sum(dnorm(th)), halved beyond 0.9."""
    w = weights / weights.sum()
    my, mc = w @ y, w @ codes
    cyc = w @ ((y - my) * (codes - mc))
    vy, vc = w @ (y - my) ** 2, w @ (codes - mc) ** 2
    if vy <= 0 or vc <= 0:
        return 0.0
    rho = cyc / np.sqrt(vy * vc) * np.sqrt(vc) / _phi(th).sum()
    if not np.isfinite(rho):
        return 0.0
    return rho / 2.0 if abs(rho) > 0.9 else float(rho)


def polyserial_scores(sp: SerialPairs, rho: np.ndarray, n_thresholds: list[int]) -> dict[str, np.ndarray]:
    """Casewise scores of each pair's likelihood (lavaan's ``lav_bvmix_cor_scores``,
    unweighted): ``mu``, ``var`` (of the continuous variable), ``rho`` (pairs, n) and
    ``th`` (a list of (n, K) arrays, one per pair)."""
    r, one, a, b, pa, pb, prob = _terms(sp, rho)
    z = sp.z
    inv = 1.0 / prob
    diff = pa - pb
    sd = sp.sd[:, None]
    out = {
        "mu": (z + inv * (r / one) * diff) / sd,
        "var": ((z * z - 1.0) + inv * r * z / one * diff) / (2.0 * sd * sd),
        "rho": inv / one ** 3 * (pa * (sp.upper * r - z) - pb * (sp.lower * r - z)),
    }
    th_scores = []
    for p, k in enumerate(n_thresholds):
        s = np.zeros((z.shape[1], k))
        c = sp.code[p]
        rows = np.arange(c.size)
        up = c < k
        s[rows[up], c[up]] += (pa[p, up] / one[p, 0]) * inv[p, up]
        lo = c > 0
        s[rows[lo], c[lo] - 1] -= (pb[p, lo] / one[p, 0]) * inv[p, lo]
        th_scores.append(s)
    out["th"] = th_scores
    return out
