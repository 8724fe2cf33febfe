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

__all__ = ["BLOCK", "as_seed_sequence", "block_seed", "resample_indices", "group_resample_indices",
           "counts_from_indices", "covariances_from_counts", "moments_from_counts", "bollen_stine_transform", "parametric_covariances",
           "leave_one_out_covariances", "symmetric_sqrt"]

BLOCK = 100


def block_seed(root: np.random.SeedSequence, block: int) -> np.random.SeedSequence:
    """The seed of block ``block`` (equal to the block-th child ``root.spawn`` would give)."""
    return np.random.SeedSequence(root.entropy, spawn_key=tuple(root.spawn_key) + (int(block),))


def resample_indices(root: np.random.SeedSequence, n_resamples: int, n: int) -> np.ndarray:
    """Row positions of every case-resampling replicate: (n_resamples, n) int array."""
    out = np.empty((n_resamples, n), dtype=np.int64 if n > 2**31 - 1 else np.int32)
    for b, start in enumerate(range(0, n_resamples, BLOCK)):
        count = min(BLOCK, n_resamples - start)
        rng = np.random.default_rng(block_seed(root, b))
        out[start:start + count] = rng.integers(0, n, size=(count, n))
    return out


def group_resample_indices(root: np.random.SeedSequence, n_resamples: int,
                           positions: tuple[np.ndarray, ...]) -> np.ndarray:
    """Row positions of every replicate of a case bootstrap within groups: (n_resamples, N).

    ``positions[g]`` holds the rows (of the stored data) of group ``g``; each replicate
    draws ``len(positions[g])`` of them with replacement from group ``g`` alone, and its
    columns are laid out group after group (columns ``sum(n_1..n_g-1)`` onwards are group
    ``g``'s draws), so every replicate keeps the group sizes. One group: exactly
    :func:`resample_indices` mapped through ``positions[0]``.
    """
    sizes = [int(pos.size) for pos in positions]
    N = int(sum(sizes))
    out = np.empty((n_resamples, N), dtype=np.int64 if N > 2**31 - 1 else np.int32)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    for b, start in enumerate(range(0, n_resamples, BLOCK)):
        count = min(BLOCK, n_resamples - start)
        for g, pos in enumerate(positions):
            key = (b,) if len(positions) == 1 else (b, g)
            rng = np.random.default_rng(np.random.SeedSequence(root.entropy,
                                                               spawn_key=tuple(root.spawn_key) + key))
            draws = rng.integers(0, sizes[g], size=(count, sizes[g]))
            out[start:start + count, offsets[g]:offsets[g + 1]] = np.asarray(pos)[draws]
    return out


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
