"""Seeds, resampled row indices, the Bollen–Stine transform and replicate covariances.

Randomness is organised in fixed blocks of :data:`BLOCK` replicates: block ``b`` draws
from ``SeedSequence(entropy, spawn_key=(b,))``, so replicate ``r``'s draws depend only on
the seed and ``r`` -- never on ``n_jobs``, ``batch_size``, the joblib backend, or even
``n_resamples`` (the first 1,000 replicates of a 2,000-replicate run are those of a
1,000-replicate run with the same seed).

Multi-group fits resample cases within each group (group sizes fixed, as lavaan's
``bootstrapLavaan``): group ``g`` (0-based) of block ``b`` draws from
``SeedSequence(entropy, spawn_key=(b, g))``, so a replicate's draws in a group depend only
on the seed, the replicate's number and the group's number. A single-group fit (with or
without a mean structure) keeps the key ``(b,)``: the same seed resamples the same cases.
"""

from __future__ import annotations

import numpy as np

from .. import _lazy
from .._random import as_seed_sequence
from ..exceptions import ArgumentError
from .draws import BLOCK, TILE, CaseDraws

__all__ = ["BLOCK", "TILE", "as_seed_sequence", "block_seed", "resample_indices", "group_resample_indices",
           "counts_from_indices", "covariances_from_counts", "moments_from_counts", "MomentColumns",
           "case_moments", "bollen_stine_transform", "parametric_covariances", "leave_one_out_covariances",
           "symmetric_sqrt"]

#: Data rows per partial product of the resampled moments (a fixed partition of the rows).
SLAB = 32768
#: Keep a chunk's moment columns ``[x, x_i x_j]`` when they take at most this many bytes.
COLUMN_BUDGET = 64 * 2**20


def block_seed(root: np.random.SeedSequence, block: int) -> np.random.SeedSequence:
    """The seed of block ``block`` (equal to the block-th child ``root.spawn`` would give)."""
    return np.random.SeedSequence(root.entropy, spawn_key=tuple(root.spawn_key) + (int(block),))


def resample_indices(root: np.random.SeedSequence, n_resamples: int, n: int) -> np.ndarray:
    """Row positions of every case-resampling replicate: (n_resamples, n) int array (all
    of them at once; the bootstrap draws each chunk's own with :class:`CaseDraws`)."""
    return CaseDraws(root.entropy, root.spawn_key, (np.arange(n),)).rows(np.arange(n_resamples))


def group_resample_indices(root: np.random.SeedSequence, n_resamples: int,
                           positions: tuple[np.ndarray, ...]) -> np.ndarray:
    """Row positions of every replicate of a case bootstrap within groups: (n_resamples, N).

    ``positions[g]`` holds the rows (of the stored data) of group ``g``; each replicate
    draws ``len(positions[g])`` of them with replacement from group ``g`` alone, and its
    columns are laid out group after group (columns ``sum(n_1..n_g-1)`` onwards are group
    ``g``'s draws), so every replicate keeps the group sizes. One group: exactly
    :func:`resample_indices` mapped through ``positions[0]``.
    """
    return CaseDraws(root.entropy, root.spawn_key, tuple(positions)).rows(np.arange(n_resamples))


class MomentColumns:
    """The columns ``[x, x_i x_j (i <= j)]`` of centred data whose count-weighted sums are
    a replicate's moments, by slabs of :data:`SLAB` rows (kept when they are small)."""

    def __init__(self, X: np.ndarray):
        self.X = np.asarray(X, dtype=float)
        n, p = self.X.shape
        self.p = p
        self.iu, self.ju = np.triu_indices(p)
        self.bounds = [(lo, min(n, lo + SLAB)) for lo in range(0, n, SLAB)]
        width = p + self.iu.size
        self._slabs = [self._build(lo, hi) for lo, hi in self.bounds] if n * width * 8 <= COLUMN_BUDGET else None

    def _build(self, lo: int, hi: int) -> np.ndarray:
        Xs, p = self.X[lo:hi], self.p
        out = np.empty((hi - lo, p + self.iu.size))
        out[:, :p] = Xs
        k = p
        for i in range(p):                       # row i of the upper triangle: x_i x_j, j >= i
            np.multiply(Xs[:, i:i + 1], Xs[:, i:], out=out[:, k:k + p - i])
            k += p - i
        return out

    def sums(self, counts: np.ndarray) -> np.ndarray:
        """``counts @ columns`` for a (TILE, n) array of counts: one matrix product per
        slab, always of the same shapes, so a replicate's rounding depends only on its own
        counts (BLAS blocks a product by its number of rows, hence the fixed tile)."""
        out = np.zeros((counts.shape[0], self.p + self.iu.size))
        for j, (lo, hi) in enumerate(self.bounds):
            cols = self._slabs[j] if self._slabs is not None else self._build(lo, hi)
            out += counts[:, lo:hi] @ cols
        return out

    def moments(self, counts: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Means (k, p; of the centred data) and covariances (k, p, p; denominator = the
        replicate's size) of the replicates ``rows`` of a (TILE, n) array of counts."""
        p, iu, ju = self.p, self.iu, self.ju
        sums = self.sums(counts)[rows] / counts.sum(axis=1)[rows, None]
        means, second = sums[:, :p], sums[:, p:]
        vech = second - means[:, iu] * means[:, ju]
        S = np.empty((rows.size, p, p))
        S[:, iu, ju] = vech
        S[:, ju, iu] = vech
        return means, S


def case_moments(X_groups: list[np.ndarray], draws: CaseDraws, replicates: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Means (R, G, p) and covariances (R, G, p, p; denominator ``N_g``) of the replicates
    ``replicates`` (ascending) of a case bootstrap: group ``g``'s rows ``X_groups[g]``
    (centred) weighted by how often each is drawn.

    Memory is bounded by a tile of :data:`TILE` replicates: their draws are made from the
    seed (:meth:`CaseDraws.tiles`), counted row by row (``np.bincount``) into a (TILE, n_g)
    array, and turned into moments by :meth:`MomentColumns.sums`, never an
    (R, N) array. The numbers of a replicate do not depend on the chunk it is in.
    """
    replicates = np.asarray(replicates, dtype=np.int64)
    columns = [MomentColumns(Xg) for Xg in X_groups]
    G, p = len(X_groups), columns[0].p
    means = np.empty((replicates.size, G, p))
    covs = np.empty((replicates.size, G, p, p))
    counts = [np.zeros((TILE, n_g)) for n_g in draws.sizes]
    done = 0
    for _, wanted, tile_draws in draws.tiles(replicates):
        for g, (c, d) in enumerate(zip(counts, tile_draws)):
            c[d.shape[0]:] = 0.0
            for i, row in enumerate(d):
                c[i] = np.bincount(row, minlength=c.shape[1])
            m, S = columns[g].moments(c, wanted)
            means[done:done + wanted.size, g] = m
            covs[done:done + wanted.size, g] = S
        done += wanted.size
    return means, covs


def counts_from_indices(indices: np.ndarray, n: int) -> np.ndarray:
    """How often each row is drawn in each replicate: (R, n) float array."""
    R = indices.shape[0]
    offsets = (np.arange(R, dtype=np.int64) * n)[:, None]
    return np.bincount((indices + offsets).ravel(), minlength=R * n).reshape(R, n).astype(float)


def leave_one_out_covariances(X: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Covariances (denominator n - 1) of the data without row ``i``, for each ``i`` in
    ``rows``: (len(rows), p, p), from the full-sample moments in O(len(rows) p^2) memory."""
    n = X.shape[0]
    total = X.sum(axis=0)
    cross = X.T @ X
    Xi = X[rows]
    means = (total[None, :] - Xi) / (n - 1)
    moments = (cross[None] - Xi[:, :, None] * Xi[:, None, :]) / (n - 1)
    return moments - means[:, :, None] * means[:, None, :]


def covariances_from_counts(X: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Covariance matrices (denominator = replicate size) of the data weighted by ``counts``.

    ``X`` should be centred (for accuracy). Each replicate's weighted sums are its own
    vector-matrix product (a stacked ``matmul`` of ``(R, 1, n)`` by ``(n, p + q)``, which
    numpy computes replicate by replicate), never one ``(R, n) @ (n, q)`` matrix product:
    BLAS blocks a matrix product by its number of rows, so a replicate's rounding would
    depend on how many replicates share its chunk. Costs O(R n (p + q)) flops with
    ``q = p (p + 1) / 2`` unique cross-products, without copying the data.
    """
    return moments_from_counts(X, counts)[1]


def moments_from_counts(X: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Means (R, p) and covariance matrices (R, p, p; denominator = replicate size) of the
    data weighted by ``counts`` (R, n); see :func:`covariances_from_counts`. The means are
    those of ``X`` (add back the centre when ``X`` was centred)."""
    n, p = X.shape
    iu, ju = np.triu_indices(p)
    columns = np.concatenate([X, X[:, iu] * X[:, ju]], axis=1)      # (n, p + q)
    size = counts.sum(axis=1)[:, None]                                 # (R, 1)
    sums = np.matmul(counts[:, None, :], columns)[:, 0, :] / size     # (R, p + q)
    means, moments = sums[:, :p], sums[:, p:]
    vech = moments - means[:, iu] * means[:, ju]
    S = np.empty((counts.shape[0], p, p))
    S[:, iu, ju] = vech
    S[:, ju, iu] = vech
    return means, S


def symmetric_sqrt(A: np.ndarray, inverse: bool = False) -> np.ndarray:
    """Symmetric square root (or inverse square root) of a positive definite matrix."""
    w, V = np.linalg.eigh(A)
    if np.any(w <= 0):
        raise ArgumentError("the matrix is not positive definite; its square root does not exist")
    d = w ** (-0.5 if inverse else 0.5)
    return (V * d) @ V.T


def bollen_stine_transform(X: np.ndarray, Sigma: np.ndarray) -> np.ndarray:
    """Bollen–Stine data: ``(X - mean) S^(-1/2) Sigma^(1/2)`` (symmetric roots, S with
    denominator N), whose covariance is exactly the model-implied ``Sigma``."""
    Xc = X - X.mean(axis=0)
    S = Xc.T @ Xc / X.shape[0]
    return Xc @ symmetric_sqrt(S, inverse=True) @ symmetric_sqrt(Sigma)


def parametric_covariances(root: np.random.SeedSequence, Sigma: np.ndarray, n: int, start: int,
                           stop: int) -> np.ndarray:
    """Sample covariances (denominator ``n``) of ``n`` multivariate normal draws from
    ``N(mu, Sigma)`` for replicates ``start..stop-1``: drawn as Wishart(n - 1, Sigma) / n,
    the exact distribution of the sample covariance."""
    out = []
    for b in range(start // BLOCK, (stop - 1) // BLOCK + 1):
        lo = b * BLOCK
        need = min(stop, lo + BLOCK) - lo
        rng = np.random.default_rng(block_seed(root, b))
        # always a whole block: scipy's Wishart draws of a smaller size are not a prefix
        draws = _lazy.wishart(df=n - 1, scale=Sigma).rvs(size=BLOCK, random_state=rng)
        draws = np.asarray(draws).reshape(BLOCK, *Sigma.shape)
        out.append(draws[max(start, lo) - lo:need])
    return np.concatenate(out, axis=0) / n
