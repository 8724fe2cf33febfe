"""Ordinal sample statistics of many case-count vectors at once (bootstrap replicates).

For R replicates of one group given as an (R, n) matrix of case counts, every replicate's
WLS.obs and DWLS weights (1 / diag(Gamma)) come out of array operations over all
replicates together: category counts and pair tables are one sparse product with the
count matrix, thresholds one ``ndtri``, the polychoric correlations one vectorised Newton
iteration over (replicates, pairs), and diag(Gamma) is assembled from per-cell scores
(for ordered data every score depends only on the categories of the one or two variables
involved, so the weighted sums run over table cells, not cases).

The numbers are those of :func:`lcsem.data.ordinal.ordinal_stats` with ``weights`` equal
to the replicate's counts (same code paths; agreement to rounding, about 1e-12), and do
not depend on which replicates share a batch. Designs with continuous variables are
computed replicate by replicate with :func:`~lcsem.data.ordinal.stats_of`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.special import ndtr

from .._threads import one_blas_thread
from .._warnings import quiet
from ..exceptions import ArgumentError
from .ordinal import EmptyCategoryError, OrdinalDesign, _pair_order, stats_of
from .polychoric import PairGrid, polychoric, polychoric_cell_scores, thresholds_from_counts

__all__ = ["OrdinalBatch", "ordinal_stats_batch"]


@dataclass(frozen=True)
class OrdinalBatch:
    """WLS.obs and DWLS weights of R replicates of one group.

    ``ok[r]`` is False when replicate r leaves a category of an ordered variable empty
    (lavaan's bootstrap fails such a replicate too) or a correlation did not converge;
    its rows are NaN.
    """

    wls_obs: np.ndarray          # (R, K)
    wls_v_diag: np.ndarray       # (R, K)
    ok: np.ndarray               # (R,)
    wls_obs_names: tuple[str, ...]


def ordinal_stats_batch(design: OrdinalDesign, counts: np.ndarray, *, start: np.ndarray | None = None,
                        chunk: int = 250) -> OrdinalBatch:
    """WLS.obs and DWLS weights of every row of ``counts`` (R, n): case counts of the
    design's rows (e.g. bootstrap replicates).

    Parameters
    ----------
    design : OrdinalDesign
        From :func:`lcsem.data.ordinal.prepare_ordinal` (one group).
    counts : ndarray, shape (R, n)
        Non-negative integer case counts per replicate.
    start : ndarray, shape (pairs,), optional
        Starting values of the polychoric correlations (e.g. the full-sample values, which
        save Newton steps); the results do not depend on them beyond about 1e-12.
    chunk : int
        Replicates computed together (memory grows with it; results do not depend on it).
    """
    counts = np.asarray(counts, dtype=float)
    if counts.ndim != 2 or counts.shape[1] != design.n_rows:
        raise ArgumentError(f"counts: expected shape (R, {design.n_rows}), got {counts.shape}")
    if not all(design.ordered):
        return _by_replicate(design, counts)
    plan = _Plan.build(design)
    with one_blas_thread():
        parts = [plan.run(counts[s:s + chunk], start) for s in range(0, counts.shape[0], max(1, int(chunk)))]
    if not parts:
        k = plan.n_th + len(plan.pairs)
        return OrdinalBatch(np.zeros((0, k)), np.zeros((0, k)), np.zeros(0, dtype=bool), plan.names)
    return OrdinalBatch(np.vstack([p[0] for p in parts]), np.vstack([p[1] for p in parts]),
                        np.concatenate([p[2] for p in parts]), plan.names)


def _by_replicate(design: OrdinalDesign, counts: np.ndarray) -> OrdinalBatch:
    rows, diags, ok = [], [], []
    names: tuple[str, ...] = ()
    for c in counts:
        try:
            with quiet():
                st = stats_of(design, c)
        except EmptyCategoryError:
            rows.append(None), diags.append(None), ok.append(False)
            continue
        names = st.wls_obs_names
        rows.append(st.wls_obs), diags.append(st.wls_v_diag), ok.append(bool(st.converged))
    k = next((r.size for r in rows if r is not None), 0)
    if not names:
        ref = stats_of(design, np.ones(design.n_rows), gamma=False)
        names, k = ref.wls_obs_names, ref.wls_obs.size
    nan = np.full(k, np.nan)
    return OrdinalBatch(np.vstack([r if r is not None else nan for r in rows]) if rows else np.zeros((0, k)),
                        np.vstack([d if d is not None else nan for d in diags]) if diags else np.zeros((0, k)),
                        np.asarray(ok, dtype=bool), names)


@dataclass(frozen=True)
class _Plan:
    """Index structure of an all-ordered design, built once."""

    names: tuple[str, ...]
    k: tuple[int, ...]                 # thresholds per variable
    pairs: list[tuple[int, int]]
    grid: PairGrid
    cat_matrix: sp.csr_matrix          # (n, sum categories): one-hot of every variable's category
    cat_offsets: np.ndarray
    cell_matrix: sp.csr_matrix         # (n, cells): one-hot of every pair's cell
    n_th: int

    @classmethod
    def build(cls, design: OrdinalDesign) -> "_Plan":
        p = len(design.names)
        k = tuple(len(lv) - 1 for lv in design.levels)
        pairs = _pair_order(p)
        grid = PairGrid.build(k, tuple(pairs))
        n = design.n_rows
        cat_offsets = np.concatenate([[0], np.cumsum([kk + 1 for kk in k])]).astype(np.intp)
        cols = (design.codes + cat_offsets[:-1][None, :]).ravel()
        rows = np.repeat(np.arange(n), p)
        cat_matrix = sp.csr_matrix((np.ones(cols.size), (rows, cols)), shape=(n, int(cat_offsets[-1])))
        cells = grid.table_index(design.codes).ravel()
        rows = np.repeat(np.arange(n), len(pairs))
        cell_matrix = sp.csr_matrix((np.ones(cells.size), (rows, cells)), shape=(n, grid.cell_size))
        names = tuple(f"{design.names[j]}|t{t + 1}" for j in range(p) for t in range(k[j])) + \
            tuple(f"{design.names[j]}~~{design.names[i]}" for i, j in pairs)
        return cls(names=names, k=k, pairs=pairs, grid=grid, cat_matrix=cat_matrix, cat_offsets=cat_offsets,
                   cell_matrix=cell_matrix, n_th=int(sum(k)))

    def run(self, counts: np.ndarray, start: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r_count = counts.shape[0]
        p = len(self.k)
        cat = np.asarray((self.cat_matrix.T @ counts.T).T)           # (R, sum categories)
        freq = np.asarray((self.cell_matrix.T @ counts.T).T)         # (R, cells)
        n = counts.sum(axis=1)
        ok = np.ones(r_count, dtype=bool)
        th_parts = []
        for j in range(p):
            c = cat[:, self.cat_offsets[j]:self.cat_offsets[j + 1]]
            ok &= np.all(c > 0, axis=1)
            th_parts.append(c)
        # replicates with an empty category are computed on the full sample's counts (so
        # that nothing is infinite) and reported as failed
        if not ok.all():
            bad = ~ok
            cat[bad] = np.asarray(self.cat_matrix.sum(axis=0)).ravel()
            freq[bad] = np.asarray(self.cell_matrix.sum(axis=0)).ravel()
            n = np.where(bad, float(self.cat_matrix.shape[0]), n)
        cats = [cat[:, self.cat_offsets[j]:self.cat_offsets[j + 1]] for j in range(p)]
        ths = [thresholds_from_counts(c) for c in cats]
        th = np.concatenate(ths, axis=1)
        st = None if start is None else np.broadcast_to(np.asarray(start, dtype=float), (r_count, len(self.pairs)))
        fit = polychoric(self.grid, th, freq, start=st)
        ok &= fit.converged.all(axis=1)
        rho = fit.rho
        diag = self._gamma_diag(th, ths, cats, freq, rho, n, fit.evaluation)
        ok &= np.isfinite(diag).all(axis=1)
        wls_obs = np.concatenate([th, rho], axis=1)
        wls_obs[~ok] = np.nan
        with np.errstate(divide="ignore"):
            wls_v = 1.0 / diag
        wls_v[~ok] = np.nan
        return wls_obs, wls_v, ok

    def _gamma_diag(self, th, ths, cats, freq, rho, n, evaluation) -> np.ndarray:
        """diag(Gamma) of every replicate from per-category and per-cell scores."""
        grid = self.grid
        r_count = th.shape[0]
        p = len(self.k)
        # step 1 per variable: scores s(c) of each category (C x K), A11 = sum_c n_c s s',
        # influence of a case in category c: A11^-1 s(c)
        infl = []
        diag_th = []
        for j in range(p):
            s = _category_scores(ths[j])                                      # (R, C, K)
            a11 = np.einsum("rc,rck,rcl->rkl", cats[j], s, s)
            u = np.linalg.solve(a11[:, None, :, :], s[..., None])[..., 0]   # (R, C, K)
            infl.append(u)
            diag_th.append(np.einsum("rc,rck->rk", cats[j], u * u))
        cells = polychoric_cell_scores(grid, th, rho, evaluation)
        s_rho = cells["rho"]                                                  # (R, cells)
        a22 = grid.pair_sum(freq * s_rho * s_rho)
        first = np.asarray([a for a, _ in grid.pairs], dtype=np.intp)[grid.cell_pair]
        second = np.asarray([b for _, b in grid.pairs], dtype=np.intp)[grid.cell_pair]
        kmax = max(self.k)
        cmax = kmax + 1
        pad = np.zeros((r_count, p, cmax, kmax))
        for j in range(p):
            pad[:, j, :self.k[j] + 1, :self.k[j]] = infl[j]
        correction = np.zeros_like(s_rho)
        fs = freq * s_rho
        for var, cat_of_cell, key in ((first, grid.cell_a, "th1"), (second, grid.cell_b, "th2")):
            kcell = np.asarray(self.k)[var]
            for t in range(kmax):
                # bivariate threshold score of threshold t of this variable, per cell
                d = np.where(cat_of_cell == t, cells[key + "_upper"], 0.0) + \
                    np.where(cat_of_cell - 1 == t, cells[key + "_lower"], 0.0)
                d = np.where(t < kcell, d, 0.0)
                a21 = grid.pair_sum(fs * d)                                   # (R, pairs)
                correction += a21[:, grid.cell_pair] * pad[:, var, cat_of_cell, t]
        with np.errstate(divide="ignore", invalid="ignore"):
            u_rho = (s_rho - correction) / np.where(a22 > 0, a22, np.nan)[:, grid.cell_pair]
        diag_rho = grid.pair_sum(freq * u_rho * u_rho)
        return n[:, None] * np.concatenate(diag_th + [diag_rho], axis=1)


def _category_scores(th: np.ndarray) -> np.ndarray:
    """Univariate scores of each category (R, C, K) for thresholds (R, K)."""
    r_count, k = th.shape
    ext = np.concatenate([np.full((r_count, 1), -np.inf), th, np.full((r_count, 1), np.inf)], axis=1)
    up, lo = ext[:, 1:], ext[:, :-1]                                          # (R, C)
    prob = ndtr(up) - ndtr(lo)
    dens_up = np.where(np.isfinite(up), np.exp(-0.5 * np.where(np.isfinite(up), up, 0.0) ** 2), 0.0) / np.sqrt(2 * np.pi)
    dens_lo = np.where(np.isfinite(lo), np.exp(-0.5 * np.where(np.isfinite(lo), lo, 0.0) ** 2), 0.0) / np.sqrt(2 * np.pi)
    s = np.zeros((r_count, k + 1, k))
    idx = np.arange(k)
    s[:, idx, idx] = dens_up[:, :k] / prob[:, :k]
    s[:, idx + 1, idx] = -dens_lo[:, 1:] / prob[:, 1:]
    return s
