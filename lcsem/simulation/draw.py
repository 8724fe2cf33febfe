"""Random draws: multivariate-normal data, Vale–Maurelli non-normal data, Likert
categories, and batches of sample covariance matrices (Wishart).

Seeds. A batch of replicates is drawn in blocks of :data:`BLOCK` replicates; block ``b``
uses ``default_rng(SeedSequence(entropy, spawn_key=key + (b,)))``, so replicate ``r``'s
draws depend only on the seed, the stream key and ``r`` -- never on how the replicates
are split into chunks or workers.
"""

from __future__ import annotations

import numpy as np

from .. import _lazy
from .._random import as_seed_sequence
from ..exceptions import ArgumentError
from .likert import LikertCuts

__all__ = ["BLOCK", "as_seed_sequence", "block_rng", "wishart_block", "covariance_batch", "mean_batch",
           "moments_batch", "fleishman_coefficients", "intermediate_correlation", "vale_maurelli"]

BLOCK = 50


def block_rng(root: np.random.SeedSequence, key: tuple[int, ...], block: int) -> np.random.Generator:
    """The generator of block ``block`` of the stream ``key`` under ``root``."""
    return np.random.default_rng(np.random.SeedSequence(root.entropy,
                                                        spawn_key=tuple(root.spawn_key) + tuple(key) + (int(block),)))


def wishart_block(rng: np.random.Generator, chol: np.ndarray, n: int, size: int) -> np.ndarray:
    """``size`` sample covariances (denominator ``n``) of ``n`` normal rows with covariance
    ``chol @ chol.T``: ``L A A' L' / n`` with ``A`` Bartlett's lower-triangular factor of a
    Wishart(n - 1, I) matrix (exact for normal data)."""
    p = chol.shape[0]
    df = n - 1
    A = np.zeros((size, p, p))
    rows, cols = np.tril_indices(p, -1)
    A[:, rows, cols] = rng.standard_normal((size, rows.size))
    A[:, np.arange(p), np.arange(p)] = np.sqrt(rng.chisquare(df - np.arange(p), size=(size, p)))
    LA = chol @ A
    return LA @ np.swapaxes(LA, 1, 2) / n


def covariance_batch(root: np.random.SeedSequence, key: tuple[int, ...], sigma: np.ndarray, n: int,
                     start: int, stop: int) -> np.ndarray:
    """Sample covariances of replicates ``start..stop-1`` (whole blocks are drawn and sliced)."""
    chol = np.linalg.cholesky(sigma)
    first, last = start // BLOCK, (stop - 1) // BLOCK
    out = [wishart_block(block_rng(root, key, b), chol, n, BLOCK) for b in range(first, last + 1)]
    stacked = np.concatenate(out)
    return stacked[start - first * BLOCK: stop - first * BLOCK]


def mean_batch(root: np.random.SeedSequence, key: tuple[int, ...], mu: np.ndarray, sigma: np.ndarray, n: int,
               start: int, stop: int) -> np.ndarray:
    """Sample means of replicates ``start..stop-1`` of ``n`` normal rows: ``mu + L z`` with
    ``L L' = sigma / n`` (independent of the Wishart covariances, as for normal data)."""
    p = sigma.shape[0]
    first, last = start // BLOCK, (stop - 1) // BLOCK
    z = np.concatenate([block_rng(root, key, b).standard_normal((BLOCK, p)) for b in range(first, last + 1)])
    z = z[start - first * BLOCK: stop - first * BLOCK]
    return mu + z @ np.linalg.cholesky(sigma / n).T


def moments_batch(root: np.random.SeedSequence, key: tuple[int, ...], sigma: np.ndarray, n: int, start: int,
                  stop: int, generator: "ValeMaurelli | None" = None, likert: "LikertCuts | None" = None,
                  mean: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Sample covariances (denominator ``n``) and means of replicates ``start..stop-1`` from
    raw rows: Vale–Maurelli rows when ``generator`` is given, else normal rows; cut into
    Likert categories when ``likert`` is given (after adding the population ``mean``, if
    any, so that a shifted mean moves the categories). Whole blocks are drawn, so replicate ``r``
    does not depend on ``start``/``stop``; memory is one block of ``BLOCK * n`` rows."""
    chol = np.linalg.cholesky(sigma)
    sd = np.sqrt(np.diag(sigma))
    p = sigma.shape[0]
    first, last = start // BLOCK, (stop - 1) // BLOCK
    covs, means = [], []
    for b in range(first, last + 1):
        rng = block_rng(root, key, b)
        lo = max(start - b * BLOCK, 0)
        hi = min(stop - b * BLOCK, BLOCK)
        X = generator.draw(rng, (BLOCK, n)) if generator is not None else rng.standard_normal((BLOCK, n, p)) @ chol.T
        X = X[lo:hi]
        if mean is not None:
            X = X + mean
        if likert is not None:
            X = likert.cut(X, sd)
        m = X.mean(axis=1)
        Xc = X - m[:, None, :]
        covs.append(np.swapaxes(Xc, 1, 2) @ Xc / n)
        means.append(m)
    return np.concatenate(covs), np.concatenate(means)


# ---------------------------------------------------------------------------- non-normal data
def _fleishman_equations(x, skew, kurt):
    b, c, d = x
    return [b**2 + 6 * b * d + 2 * c**2 + 15 * d**2 - 1,
            2 * c * (b**2 + 24 * b * d + 105 * d**2 + 2) - skew,
            24 * (b * d + c**2 * (1 + b**2 + 28 * b * d) + d**2 * (12 + 48 * b * d + 141 * c**2 + 225 * d**2)) - kurt]


def fleishman_coefficients(skew: float, kurtosis: float) -> tuple[float, float, float, float]:
    """Fleishman's (1978) ``a, b, c, d`` (``a = -c``) such that ``a + bZ + cZ² + dZ³`` has
    mean 0, variance 1, the given skewness and excess kurtosis.

    Raises
    ------
    ArgumentError
        When no such polynomial exists (the pair is outside the region Fleishman's
        polynomial reaches; its edge is found numerically).
    """
    skew, kurtosis = float(skew), float(kurtosis)
    if skew == 0 and kurtosis == 0:
        return 0.0, 1.0, 0.0, 0.0
    best = None
    starts = [(1.0, 0.0, 0.0)] + [(b, c * np.sign(skew or 1.0), d) for b in (0.9, 0.6, 1.1, 0.3)
                                  for c in (0.1, 0.3, 0.5) for d in (0.0, 0.05, 0.15, -0.05)]
    for start in starts:
        sol = _lazy.least_squares(_fleishman_equations, start, args=(skew, kurtosis), xtol=1e-15,
                                     ftol=1e-15, gtol=1e-15, max_nfev=2000)
        if best is None or sol.cost < best.cost:
            best = sol
        if sol.cost < 1e-20:
            break
    b, c, d = best.x
    if best.cost > 1e-16:
        raise ArgumentError(
            f"nonnormal: skewness {skew:g} with excess kurtosis {kurtosis:g} cannot be reached by "
            f"Vale–Maurelli (Fleishman's polynomial has no solution for this pair; excess kurtosis "
            f"must grow with skew², e.g. skew 1 needs kurtosis ≥ about 0.45, skew 2 about 5.2); raise the "
            f"kurtosis or lower the skew")
    if b < 0:
        b, d = -b, -d   # the same distribution from -Z: keep the increasing solution
    return -c, b, c, d


def intermediate_correlation(target: float, coef1, coef2) -> float:
    """Correlation of the normal variables that gives ``target`` after the two Fleishman
    transforms (Vale & Maurelli, 1983): root in [-1, 1] of
    ``r(b1b2 + 3b1d2 + 3d1b2 + 9d1d2) + r²(2c1c2) + r³(6d1d2) = target``."""
    _, b1, c1, d1 = coef1
    _, b2, c2, d2 = coef2
    poly = [6 * d1 * d2, 2 * c1 * c2, b1 * b2 + 3 * b1 * d2 + 3 * d1 * b2 + 9 * d1 * d2, -float(target)]
    roots = np.roots(poly) if abs(poly[0]) > 0 or abs(poly[1]) > 0 else np.array([target / poly[2]])
    real = roots[np.abs(roots.imag) < 1e-10].real
    real = real[(real >= -1 - 1e-12) & (real <= 1 + 1e-12)]
    if real.size == 0:
        raise ArgumentError(f"nonnormal: the correlation {target:.3f} cannot be reached with these skewness/kurtosis "
                            f"values (no intermediate correlation in [-1, 1]); use milder non-normality")
    return float(np.clip(real[np.argmin(np.abs(real - target))], -1, 1))


class ValeMaurelli:
    """Vale–Maurelli (1983) generator for a covariance ``sigma`` and per-variable
    (skewness, excess kurtosis): correlated normals with the intermediate correlation
    matrix, each transformed by its Fleishman polynomial, then rescaled to ``sigma``'s
    standard deviations. Its coefficients are computed once."""

    def __init__(self, sigma: np.ndarray, skew: np.ndarray, kurtosis: np.ndarray):
        p = sigma.shape[0]
        self.sd = np.sqrt(np.diag(sigma))
        corr = sigma / np.outer(self.sd, self.sd)
        cache: dict[tuple[float, float], tuple] = {}
        self.coef = []
        for s, k in zip(skew, kurtosis):
            key = (float(s), float(k))
            if key not in cache:
                cache[key] = fleishman_coefficients(*key)
            self.coef.append(cache[key])
        inter = np.eye(p)
        for i in range(p):
            for j in range(i + 1, p):
                inter[i, j] = inter[j, i] = intermediate_correlation(corr[i, j], self.coef[i], self.coef[j])
        eig = np.linalg.eigvalsh(inter)
        if eig[0] <= 0:
            raise ArgumentError("nonnormal: the intermediate correlation matrix of Vale–Maurelli is not positive "
                                "definite for this model and these skewness/kurtosis values; use milder "
                                "non-normality")
        self.chol = np.linalg.cholesky(inter)
        self.a, self.b, self.c, self.d = (np.array([c[i] for c in self.coef]) for i in range(4))

    def draw(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        """Data of shape ``shape + (p,)`` with mean 0."""
        z = rng.standard_normal(shape + (self.chol.shape[0],)) @ self.chol.T
        y = self.a + self.b * z + self.c * z**2 + self.d * z**3
        return y * self.sd


def vale_maurelli(sigma: np.ndarray, skew, kurtosis, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` rows of Vale–Maurelli data with covariance ``sigma``."""
    p = sigma.shape[0]
    return ValeMaurelli(sigma, np.broadcast_to(skew, (p,)), np.broadcast_to(kurtosis, (p,))).draw(rng, (n,))
