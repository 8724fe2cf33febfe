"""Gamma (lavaan's NACOV) of the two-step ordinal statistics, as lavaan's ``muthen1984``.

With casewise scores ``s_i`` of every step-1 parameter (thresholds, continuous means and
variances: univariate likelihoods) and of every step-2 correlation (bivariate likelihoods),
lavaan forms

    A11 = block-diagonal (per variable) part of sum_i s_i s_i'   (step 1)
    A21 = sum_i s_rho,i d_i'   (d: bivariate scores in the step-1 parameters of the pair)
    A22 = diag(sum_i s_rho,i^2)
    B^-1 = [[A11^-1, 0], [-A22^-1 A21 A11^-1, A22^-1]]
    WLS.W = B^-1 (sum_i s_i s_i') B^-1'

then maps correlations of continuous variables to covariances (the Jacobian H), flips the
sign of the rows and columns of continuous means, and NACOV = N * WLS.W. Here
``U = S B^-1'`` (the casewise influence values) is formed once, so Gamma = N U' diag(w) U.
Case weights are counts (replicated rows), so every sum is weighted by them.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from .polychoric import PairGrid, polychoric_cell_scores
from .polyserial import SerialPairs, polyserial_scores

__all__ = ["gamma_matrix", "univariate_ordinal_scores"]


def _phi(x):
    return np.exp(-0.5 * x * x) / np.sqrt(2.0 * np.pi)


def univariate_ordinal_scores(th: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Casewise scores of the univariate probit likelihood in the thresholds (n, K)."""
    k = th.size
    ext = np.concatenate([[-np.inf], th, [np.inf]])
    up, lo = ext[codes + 1], ext[codes]
    prob = ndtr(up) - ndtr(lo)
    rows = np.arange(codes.size)
    s = np.zeros((codes.size, k))
    top = codes < k
    s[rows[top], codes[top]] = _phi(up[top]) / prob[top]
    bot = codes > 0
    s[rows[bot], codes[bot] - 1] = -_phi(lo[bot]) / prob[bot]
    return s


def gamma_matrix(design, w: np.ndarray, *, th, th_idx, ord_th, mean, var, cor, pairs, grid: PairGrid,
                 th_flat, serial: SerialPairs | None, mixed, evaluation=None) -> np.ndarray:
    """Gamma (N * asymptotic covariance of WLS.obs) of one group; see the module text."""
    names, ordered = design.names, design.ordered
    p = len(names)
    n_rows = design.n_rows
    n = w.sum()
    nth = th.size
    num_vars = [j for j in range(p) if not ordered[j]]
    n_num = len(num_vars)
    pstar = len(pairs)
    size = nth + n_num + pstar
    th_start = np.concatenate([[0], np.cumsum([len(design.levels[j]) - 1 if ordered[j] else 1
                                               for j in range(p)])]).astype(np.intp)
    var_col = {j: nth + q for q, j in enumerate(num_vars)}

    def th_cols(j):
        return np.arange(th_start[j], th_start[j + 1])

    # casewise scores of step 1
    sc = np.zeros((n_rows, size))
    for j in range(p):
        if ordered[j]:
            sc[:, th_cols(j)] = univariate_ordinal_scores(ord_th[j], design.codes[:, j])
        else:
            res = design.values[:, j] - mean[j]
            sc[:, th_start[j]] = res / var[j]
            sc[:, var_col[j]] = -1.0 / (2.0 * var[j]) + res * res / (2.0 * var[j] ** 2)

    a21 = np.zeros((pstar, nth + n_num))
    h21 = np.zeros((pstar, nth + n_num))
    h22 = np.ones(pstar)
    pair_pos = {pr: q for q, pr in enumerate(pairs)}
    sd = np.sqrt(var)

    # ordered x ordered: per-cell scores gathered per case
    oo = [(i, j) for i, j in pairs if ordered[i] and ordered[j]]
    if oo:
        cells = polychoric_cell_scores(grid, th_flat[None, :], np.array([[cor[i, j] for i, j in oo]]), evaluation)
        ord_vars = [j for j in range(p) if ordered[j]]
        idx = grid.table_index(design.codes[:, ord_vars])
        for q, (i, j) in enumerate(oo):
            col = nth + n_num + pair_pos[(i, j)]
            c = idx[:, q]
            s_rho = cells["rho"][0, c]
            sc[:, col] = s_rho
            ws = w * s_rho
            for v, key in ((i, "th1"), (j, "th2")):
                d = _threshold_vector(design.codes[:, v], len(design.levels[v]) - 1,
                                      cells[key + "_upper"][0, c], cells[key + "_lower"][0, c])
                a21[pair_pos[(i, j)], th_cols(v)] = ws @ d
    # ordered x continuous
    if mixed:
        k_list = [len(design.levels[i if ordered[i] else j]) - 1 for i, j in mixed]
        ss = polyserial_scores(serial, np.array([cor[i, j] for i, j in mixed]), k_list)
        for q, (i, j) in enumerate(mixed):
            cvar, ovar = (j, i) if ordered[i] else (i, j)
            r = pair_pos[(i, j)]
            col = nth + n_num + r
            s_rho = ss["rho"][q]
            sc[:, col] = s_rho
            ws = w * s_rho
            a21[r, th_start[cvar]] = ws @ ss["mu"][q]
            a21[r, var_col[cvar] - 0] = ws @ ss["var"][q]
            a21[r, th_cols(ovar)] = ws @ ss["th"][q]
            h21[r, var_col[cvar]] = cor[i, j] / (2.0 * sd[cvar])
            h22[r] = sd[cvar]
    # continuous x continuous
    for i, j in pairs:
        if ordered[i] or ordered[j]:
            continue
        r = pair_pos[(i, j)]
        rho = cor[i, j]
        one = 1.0 - rho * rho
        y1 = design.values[:, i] - mean[i]
        y2 = design.values[:, j] - mean[j]
        v1, v2, s12 = var[i], var[j], sd[i] * sd[j]
        z = y1 * y1 / v1 - 2.0 * rho * y1 * y2 / s12 + y2 * y2 / v2
        s_rho = rho / one + (y1 * y2 / (s12 * one) - z * rho / one ** 2)
        sc[:, nth + n_num + r] = s_rho
        ws = w * s_rho
        a21[r, th_start[i]] = ws @ ((2.0 * y1 / v1 - 2.0 * rho * y2 / s12) / (2.0 * one))
        a21[r, th_start[j]] = ws @ (-(2.0 * rho * y1 / s12 - 2.0 * y2 / v2) / (2.0 * one))
        a21[r, var_col[i]] = ws @ (-(0.5 / v1 - (y1 * y1 / v1 ** 2 - rho * y1 * y2 / (v1 * s12)) / (2.0 * one)))
        a21[r, var_col[j]] = ws @ (-(0.5 / v2 + (rho * y1 * y2 / (v2 * s12) - y2 * y2 / v2 ** 2) / (2.0 * one)))
        h21[r, var_col[i]] = sd[j] * rho / (2.0 * sd[i])
        h21[r, var_col[j]] = sd[i] * rho / (2.0 * sd[j])
        h22[r] = s12

    # A11 (block-diagonal per variable) and its inverse
    a11_inv = np.zeros((nth + n_num, nth + n_num))
    for j in range(p):
        cols = th_cols(j) if ordered[j] else np.array([th_start[j], var_col[j]])
        s = sc[:, cols]
        block = (s * w[:, None]).T @ s
        a11_inv[np.ix_(cols, cols)] = np.linalg.inv(block)
    a22 = (sc[:, nth + n_num:] ** 2 * w[:, None]).sum(axis=0)
    with np.errstate(divide="ignore"):
        a22_inv = np.where(a22 > 0, 1.0 / a22, np.nan)      # no information on rho: NaN
    b_inv = np.zeros((size, size))
    b_inv[:nth + n_num, :nth + n_num] = a11_inv
    b_inv[nth + n_num:, :nth + n_num] = -(a22_inv[:, None] * a21) @ a11_inv
    b_inv[nth + n_num:, nth + n_num:] = np.diag(a22_inv)
    if n_num:
        h = np.eye(size)
        h[nth + n_num:, :nth + n_num] = h21
        h[nth + n_num:, nth + n_num:] = np.diag(h22)
        b_inv = h @ b_inv
    flip = np.ones(size)
    flip[:nth][th_idx == 0] = -1.0
    b_inv = flip[:, None] * b_inv
    u = sc @ b_inv.T
    return n * ((u * w[:, None]).T @ u)


def _threshold_vector(codes: np.ndarray, k: int, upper: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """(n, k) matrix with each case's upper-limit score in its category's column and its
    lower-limit score in the column below (lavaan's ``Y1 * Z1 - Y2 * Z2``)."""
    out = np.zeros((codes.size, k))
    rows = np.arange(codes.size)
    top = codes < k
    out[rows[top], codes[top]] += upper[top]
    bot = codes > 0
    out[rows[bot], codes[bot] - 1] += lower[bot]
    return out
