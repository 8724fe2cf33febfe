"""The bootstrap's fit indices of multi-group / mean-structure replicates, vectorised.

:func:`bootstrap_group_indices` computes, for ``R`` replicates at once, the indices of
:data:`lcsem.inference.fit_indices.BOOTSTRAP_INDEX_NAMES` with exactly the definitions of
:func:`lcsem.inference.fit_indices.grouped_fit_measures` (lavaan's multi-group formulas,
used by :func:`lcsem.fit`), which works on one fit at a time. The arithmetic is replicate
by replicate (stacked matrix products and reductions over contiguous last axes), so a
replicate's values do not depend on the other replicates of its chunk.
"""

from __future__ import annotations

import numpy as np

from ..inference.fit_indices import (BOOTSTRAP_INDEX_NAMES, baseline_chisq, cfi, chisq_pvalue, loglik, nfi,
                                     rmsea, tli)
from .replicates import baseline_basis, baseline_chisq_batch

__all__ = ["bootstrap_group_indices"]


def _trace_product(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``tr(A B)`` over leading axes."""
    return np.einsum("...ij,...ji->...", A, B)


def bootstrap_group_indices(S: np.ndarray, mean: np.ndarray | None, Sigma: np.ndarray, mu: np.ndarray | None,
                            n: np.ndarray, chisq: np.ndarray, *, df: int, n_params: int,
                            exogenous: tuple[int, ...] = (), estimator: str = "ML") -> dict[str, np.ndarray]:
    """Fit indices of ``R`` multi-group / mean-structure replicates.

    Parameters
    ----------
    S, Sigma
        Sample (denominator ``N_g``) and implied covariances: (R, G, p, p).
    mean, mu
        Sample and implied means (R, G, p), or None without a mean structure.
    n
        Group sizes: (G,) or (R, G) (jackknife replicates differ).
    chisq
        The replicates' test statistics ``N F_min``: (R,).
    df, n_params
        Degrees of freedom and number of free parameters (fixed.x moments excluded).
    exogenous
        Positions of the exogenous observed covariates (lavaan's ``fixed.x``).
    estimator
        ``"ML"``, or ``"GLS"``/``"ULS"`` (``S`` then unbiased; the definitions of
        :func:`~lcsem.inference.fit_indices.grouped_fit_measures` for least squares: fitted
        baselines, the estimator's GFI weight, RMSEA with ``N - G``, no likelihood).

    Returns
    -------
    dict
        One (R,) array per name of :data:`~lcsem.inference.fit_indices.BOOTSTRAP_INDEX_NAMES`.
    """
    S, Sigma = np.asarray(S, float), np.asarray(Sigma, float)
    R, G, p = S.shape[0], S.shape[1], S.shape[-1]
    n = np.broadcast_to(np.asarray(n, float), (R, G))
    N = n.sum(axis=1)
    chisq = np.asarray(chisq, float)
    q = len(exogenous)
    means = mean is not None and mu is not None
    x = np.zeros(p, bool)
    x[list(exogenous)] = True
    xx = np.outer(x, x)
    iu = np.triu_indices(p)
    n_moments = p * (p + 1) / 2 + (p if means else 0)
    least_squares = estimator in ("GLS", "ULS")
    if least_squares:     # lavaan's fixed.x is ML's: the covariates' moments count in GFI
        xx = np.zeros((p, p), bool)
        x = np.zeros(p, bool)
        basis = baseline_basis(p, tuple(exogenous))
    chisq0 = np.zeros(R)
    srmr_sum, gfi_sum, ll = np.zeros(R), np.zeros(R), np.zeros(R)
    for g in range(G):
        Sg, Sig, ng = S[:, g], Sigma[:, g], n[:, g]
        if least_squares:
            chisq0 = chisq0 + baseline_chisq_batch(Sg, ng, basis, estimator)
        else:
            chisq0 = chisq0 + baseline_chisq(Sg, ng, exogenous)
        E = Sg - Sig
        d = 1.0 / np.sqrt(np.diagonal(Sg, axis1=1, axis2=2))                  # (R, p)
        resid = np.ascontiguousarray((E * d[:, :, None] * d[:, None, :])[:, iu[0], iu[1]])
        squares = np.sum(resid ** 2, axis=1)
        W = np.linalg.inv(Sg if estimator == "GLS" else Sig)
        if estimator == "ULS":
            W = np.broadcast_to(np.eye(p), Sg.shape)
        S0 = np.where(xx, 0.0, Sg)
        E0 = np.where(xx, 0.0, E)
        if estimator == "ULS":     # every mean, variance and covariance once
            num = np.sum(np.ascontiguousarray(E0[:, iu[0], iu[1]]) ** 2, axis=1)
            den = np.sum(np.ascontiguousarray(S0[:, iu[0], iu[1]]) ** 2, axis=1)
        else:
            WE, WS = W @ E0, W @ S0
            num = 0.5 * _trace_product(WE, WE)
            den = 0.5 * _trace_product(WS, WS)
        ll_g = np.full(R, np.nan) if least_squares else loglik(Sg, Sig, ng)
        if means:
            dev = mean[:, g] - mu[:, g]                                         # (R, p)
            squares = squares + np.sum(np.ascontiguousarray(dev * d) ** 2, axis=1)
            e = np.where(x, 0.0, dev)
            xbar = np.where(x, 0.0, mean[:, g])
            num = num + np.einsum("ri,rij,rj->r", e, W, e)
            den = den + np.einsum("ri,rij,rj->r", xbar, W, xbar)
            ll_g = ll_g - 0.5 * ng * np.einsum("ri,rij,rj->r", dev, W, dev)
        if q and not least_squares:
            idx = np.asarray(exogenous)
            Sxx = Sg[:, idx[:, None], idx[None, :]]
            ll_g = ll_g - loglik(Sxx, Sxx, ng)
        srmr_sum = srmr_sum + ng * np.sqrt(squares / n_moments)
        gfi_sum = gfi_sum + ng * (1.0 - num / den)
        ll = ll + ll_g
    df0 = G * (p * (p - 1) // 2 - q * (q - 1) // 2)
    gfi_value = gfi_sum / N
    n_elements = G * (p * (p + 1) // 2 + (p if means else 0))
    n_rmsea = N - G if least_squares else N
    out = {
        "chisq": chisq,
        "pvalue": (np.asarray(chisq_pvalue(chisq, df), float) if estimator != "ULS"
                   else np.full(R, np.nan)),
        "cfi": cfi(chisq, df, chisq0, df0),
        "tli": tli(chisq, df, chisq0, df0),
        "nfi": nfi(chisq, chisq0),
        "rmsea": rmsea(chisq, df, n_rmsea) * np.sqrt(G),
        "srmr": srmr_sum / N,
        "gfi": gfi_value,
        "agfi": 1.0 - n_elements / df * (1.0 - gfi_value) if df > 0 else np.ones(R),
        "loglik": ll,
        "aic": -2 * ll + 2 * n_params,
        "bic": -2 * ll + n_params * np.log(N),
    }
    return {k: np.broadcast_to(np.asarray(out[k], float), (R,)).copy() for k in BOOTSTRAP_INDEX_NAMES}
