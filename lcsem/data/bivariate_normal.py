"""The standard bivariate normal distribution: CDF and density, vectorised in numpy.

The CDF is Genz's (2004) algorithm (Drezner & Wesolowsky 1990 with Gauss-Legendre
quadrature of 6, 12 or 20 points by |rho|), the one behind R's ``pbivnorm`` that lavaan
calls, accurate to about 1e-15. Every argument broadcasts; each element picks its own
quadrature, so a whole array of threshold pairs and correlations costs one pass.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

__all__ = ["bivariate_normal_cdf", "bivariate_normal_pdf"]

_TWO_PI = 2.0 * np.pi

# Gauss-Legendre nodes and weights on (0, 1] (half of the symmetric rule), n = 6, 12, 20
_GL_X = (
    np.array([0.9324695142031522, 0.6612093864662647, 0.2386191860831970]),
    np.array([0.9815606342467191, 0.9041172563704750, 0.7699026741943050,
              0.5873179542866171, 0.3678314989981802, 0.1252334085114692]),
    np.array([0.9931285991850949, 0.9639719272779138, 0.9122344282513259,
              0.8391169718222188, 0.7463319064601508, 0.6360536807265150,
              0.5108670019508271, 0.3737060887154196, 0.2277858511416451,
              0.07652652113349733]),
)
_GL_W = (
    np.array([0.1713244923791705, 0.3607615730481384, 0.4679139345726904]),
    np.array([0.04717533638651177, 0.1069393259953183, 0.1600783285433464,
              0.2031674267230659, 0.2334925365383547, 0.2491470458134029]),
    np.array([0.01761400713915212, 0.04060142980038694, 0.06267204833410906,
              0.08327674157670475, 0.1019301198172404, 0.1181945319615184,
              0.1316886384491766, 0.1420961093183821, 0.1491729864726037,
              0.1527533871307259]),
)
# the full symmetric rule as lavaan's reference code uses it: nodes 1 - x and 1 + x
_NODES = tuple(np.concatenate([1.0 - x, 1.0 + x]) for x in _GL_X)
_WEIGHTS = tuple(np.concatenate([w, w]) for w in _GL_W)


def bivariate_normal_pdf(h: np.ndarray, k: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """Density of the standard bivariate normal with correlation ``rho`` at (h, k).

    As lavaan's ``dbinorm``, |rho| is capped at 0.9999 (the density is otherwise
    unbounded at |rho| = 1); infinite arguments give 0.
    """
    h, k, rho = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (h, k, rho)))
    r = np.clip(rho, -0.9999, 0.9999)
    one_minus = 1.0 - r * r
    with np.errstate(invalid="ignore", over="ignore"):
        q = (h * h - 2.0 * r * h * k + k * k) / one_minus
        out = np.exp(-0.5 * q) / (_TWO_PI * np.sqrt(one_minus))
    out = np.where(np.isfinite(h) & np.isfinite(k), out, 0.0)
    return out


def bivariate_normal_cdf(h: np.ndarray, k: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """P(X < h, Y < k) for standard normal X, Y with correlation ``rho`` (broadcast).

    Infinite limits are exact (``-inf`` gives 0, ``+inf`` the univariate probability).
    """
    h, k, rho = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (h, k, rho)))
    shape = h.shape
    h, k, rho = h.ravel(), k.ravel(), rho.ravel()
    out = np.empty(h.shape)
    fin = np.isfinite(h) & np.isfinite(k)
    # exact margins
    if not fin.all():
        nf = ~fin
        hh, kk = h[nf], k[nf]
        val = np.where(hh == np.inf, ndtr(kk), np.where(kk == np.inf, ndtr(hh), 0.0))
        val = np.where((hh == -np.inf) | (kk == -np.inf), 0.0, val)
        out[nf] = val
    if fin.any():
        out[fin] = _upper(-h[fin], -k[fin], rho[fin])
    return out.reshape(shape)


def _upper(dh: np.ndarray, dk: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Genz's BVNU: P(X > dh, Y > dk), finite dh, dk."""
    out = np.empty(dh.shape)
    ar = np.abs(r)
    zero = r == 0.0
    out[zero] = ndtr(-dh[zero]) * ndtr(-dk[zero])
    small = ~zero & (ar < 0.925)
    for level, mask in ((0, small & (ar < 0.3)), (1, small & (ar >= 0.3) & (ar < 0.75)),
                        (2, small & (ar >= 0.75))):
        if mask.any():
            out[mask] = _upper_small(dh[mask], dk[mask], r[mask], level)
    large = ar >= 0.925
    if large.any():
        out[large] = _upper_large(dh[large], dk[large], r[large])
    return np.clip(out, 0.0, 1.0)


def _upper_small(h: np.ndarray, k: np.ndarray, r: np.ndarray, level: int) -> np.ndarray:
    x, w = _NODES[level], _WEIGHTS[level]
    hk = (h * k)[:, None]
    hs = ((h * h + k * k) / 2.0)[:, None]
    asr = np.arcsin(r) / 2.0
    sn = np.sin(asr[:, None] * x[None, :])
    bvn = np.exp((sn * hk - hs) / (1.0 - sn * sn)) @ w
    return bvn * asr / _TWO_PI + ndtr(-h) * ndtr(-k)


def _upper_large(h: np.ndarray, k0: np.ndarray, r: np.ndarray) -> np.ndarray:
    x, w = _NODES[2], _WEIGHTS[2]
    neg = r < 0
    k = np.where(neg, -k0, k0)
    hk = h * k
    bvn = np.zeros(h.shape)
    inner = np.abs(r) < 1.0
    if inner.any():
        hi, ki, hki, ri = h[inner], k[inner], hk[inner], r[inner]
        as_ = (1.0 - ri) * (1.0 + ri)
        a = np.sqrt(as_)
        bs = (hi - ki) ** 2
        c = (4.0 - hki) / 8.0
        d = (12.0 - hki) / 16.0
        asr = -(bs / as_ + hki) / 2.0
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            b1 = np.where(asr > -100.0,
                          a * np.exp(asr) * (1.0 - c * (bs - as_) * (1.0 - d * bs / 5.0) / 3.0
                                             + c * d * as_ * as_ / 5.0), 0.0)
            b = np.sqrt(bs)
            sp = np.sqrt(_TWO_PI) * ndtr(-b / a)
            b1 = np.where(hki > -100.0,
                          b1 - np.exp(-hki / 2.0) * sp * b * (1.0 - c * bs * (1.0 - d * bs / 5.0) / 3.0), b1)
            a2 = a / 2.0
            xs = (a2[:, None] * x[None, :]) ** 2
            asr2 = -(bs[:, None] / xs + hki[:, None]) / 2.0
            ok = asr2 > -100.0
            sp2 = 1.0 + c[:, None] * xs * (1.0 + d[:, None] * xs)
            rs = np.sqrt(1.0 - xs)
            ep = np.exp(-(hki[:, None] / 2.0) * xs / (1.0 + rs) ** 2) / rs
            terms = np.where(ok, np.exp(np.where(ok, asr2, 0.0)) * (sp2 - ep), 0.0)
            b1 = (a2 * (terms @ w) - b1) / _TWO_PI
        bvn[inner] = b1
    pos = r > 0
    out = np.where(pos, bvn + ndtr(-np.maximum(h, k)), 0.0)
    hk_ge = h >= k
    low = np.where(h < 0, ndtr(k) - ndtr(h), ndtr(-h) - ndtr(-k))
    out = np.where(pos, out, np.where(hk_ge, -bvn, low - bvn))
    return out
