"""Thresholds and polychoric correlations by lavaan's two-step method, vectorised.

Step 1 (per ordered variable): thresholds are the probit ML estimates without
covariates, ``qnorm`` of the cumulative proportions (lavaan's ``lav_uvord_fit`` starts
there and stops there: it is the exact optimum). Step 2 (per pair): thresholds fixed, the
bivariate-normal ML estimate of rho from the pair's contingency table, lavaan's
``lav_bvord_cor_twostep_fit`` (its 2 x 2 special cases and ``zero.add = c(0.5, 0)``
included). Here step 2 is one Newton iteration over *every pair and every replicate at
once*: arrays of shape (R, pairs), analytic first and second derivatives, halving a step
that lowers the log-likelihood.

A table whose empty cells make the likelihood flat in rho (it rises towards the bound along
a plateau flat to machine precision, e.g. a column with a single non-empty cell) has no
determinate estimate: the iteration stops where the curvature per case falls below 1e-8,
and the pair is reported (:attr:`PolychoricFit.flat`). lavaan's nlminb stops somewhere on
the plateau too, often at the bound 0.999 (a value that differs from this one by up to
about 0.01 with the same likelihood to machine precision); either way the pair's Gamma
entry is huge (lavaan's about 1e97 at the bound) and its DWLS weight about 0.

At the bound (a table without any cell off its diagonal), the estimate is +-0.999 as
lavaan's when its optimiser (nlminb) reports convergence there; when nlminb reports
failure instead, lavaan restarts within +-0.995 and returns that bound: such boundary
values are arbitrary and :mod:`lcsem.data.ordinal` flags every |rho| > 0.99 with a warning.

Frequencies are weighted counts (a bootstrap replicate is a vector of case counts), so
the statistics of a replicate follow from its counts without copying rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

from .bivariate_normal import bivariate_normal_cdf, bivariate_normal_pdf

__all__ = ["PairGrid", "thresholds_from_counts", "polychoric", "polychoric_cell_scores"]

#: lavaan's floor on a cell probability (``sqrt(.Machine$double.eps)``)
PI_FLOOR = float(np.sqrt(np.finfo(float).eps))
#: lavaan's bounds on a polychoric correlation (nlminb's ``lower``/``upper``)
RHO_BOUND = 0.999
_MAX_ITER = 100
_STEP_TOL = 1e-13      # a step this small ends the iteration
_NEWTON_TOL = 1e-10    # ... and so does a next Newton step this small (quadratic convergence:
                       # the remaining error is then of order 1e-20)
_FLAT_INFO = 1e-8      # ... and a curvature below this per case: the table carries no
                       # information about rho there (structural empty cells push the
                       # optimum to the bound along a plateau flat to machine precision)


def thresholds_from_counts(counts: np.ndarray) -> np.ndarray:
    """Thresholds of one ordered variable from category counts (..., C) -> (..., C - 1)."""
    counts = np.asarray(counts, dtype=float)
    cum = np.cumsum(counts, axis=-1)
    return ndtri(cum[..., :-1] / cum[..., -1:])


@dataclass(frozen=True)
class PairGrid:
    """Index structure of the contingency tables of a set of pairs of ordered variables.

    Thresholds of all ordered variables are one flat vector (``th_offsets``); the
    bivariate CDF of pair ``p`` lives on a (K1 + 2) x (K2 + 2) grid (borders: the
    infinite limits) and its (K1 + 1) x (K2 + 1) cells, both flattened pair after pair.
    """

    n_thresholds: tuple[int, ...]     # per ordered variable
    pairs: tuple[tuple[int, int], ...]  # (first, second) ordered-variable indices
    th_offsets: np.ndarray            # start of each variable's thresholds in the flat vector
    # grid
    grid_size: int
    interior: np.ndarray              # grid positions of interior points
    interior_pair: np.ndarray         # pair of each interior point
    interior_h: np.ndarray            # flat threshold index of the first variable
    interior_k: np.ndarray            # ... of the second
    edge_h: np.ndarray                # grid positions where the second limit is +inf: Phi(h)
    edge_h_th: np.ndarray
    edge_k: np.ndarray                # grid positions where the first limit is +inf: Phi(k)
    edge_k_th: np.ndarray
    corner: np.ndarray                # both limits +inf: 1
    # cells
    cell_size: int
    cell_offsets: np.ndarray          # start of each pair's cells
    cell_pair: np.ndarray
    c11: np.ndarray
    c01: np.ndarray
    c10: np.ndarray
    c00: np.ndarray
    cell_a: np.ndarray                # category of the first variable (0-based)
    cell_b: np.ndarray                # category of the second variable

    @classmethod
    def build(cls, n_thresholds: tuple[int, ...], pairs: tuple[tuple[int, int], ...]) -> "PairGrid":
        offsets = np.concatenate([[0], np.cumsum(n_thresholds)]).astype(np.intp)
        lists: dict[str, list] = {k: [] for k in (
            "interior", "interior_pair", "interior_h", "interior_k", "edge_h", "edge_h_th",
            "edge_k", "edge_k_th", "corner", "cell_pair", "c11", "c01", "c10", "c00", "cell_a",
            "cell_b")}
        cell_offsets = []
        g0 = c0 = 0
        for p, (u, v) in enumerate(pairs):
            k1, k2 = n_thresholds[u], n_thresholds[v]
            n2 = k2 + 2
            for a in range(k1 + 2):
                for b in range(k2 + 2):
                    pos = g0 + a * n2 + b
                    if a == 0 or b == 0:
                        continue                       # a -inf limit: 0
                    if a <= k1 and b <= k2:
                        lists["interior"].append(pos)
                        lists["interior_pair"].append(p)
                        lists["interior_h"].append(offsets[u] + a - 1)
                        lists["interior_k"].append(offsets[v] + b - 1)
                    elif a <= k1:                      # b == k2 + 1
                        lists["edge_h"].append(pos)
                        lists["edge_h_th"].append(offsets[u] + a - 1)
                    elif b <= k2:                      # a == k1 + 1
                        lists["edge_k"].append(pos)
                        lists["edge_k_th"].append(offsets[v] + b - 1)
                    else:
                        lists["corner"].append(pos)
            cell_offsets.append(c0)
            for a in range(k1 + 1):
                for b in range(k2 + 1):
                    lists["cell_pair"].append(p)
                    lists["c11"].append(g0 + (a + 1) * n2 + b + 1)
                    lists["c01"].append(g0 + a * n2 + b + 1)
                    lists["c10"].append(g0 + (a + 1) * n2 + b)
                    lists["c00"].append(g0 + a * n2 + b)
                    lists["cell_a"].append(a)
                    lists["cell_b"].append(b)
            g0 += (k1 + 2) * n2
            c0 += (k1 + 1) * (k2 + 1)
        arr = {k: np.asarray(v, dtype=np.intp) for k, v in lists.items()}
        return cls(n_thresholds=tuple(n_thresholds), pairs=tuple(pairs), th_offsets=offsets,
                   grid_size=g0, cell_size=c0, cell_offsets=np.asarray(cell_offsets, dtype=np.intp),
                   **arr)

    @property
    def n_pairs(self) -> int:
        return len(self.pairs)

    def pair_sum(self, cells: np.ndarray) -> np.ndarray:
        """Sum a (..., cells) array over the cells of each pair -> (..., pairs)."""
        if self.n_pairs == 0:
            return np.zeros(cells.shape[:-1] + (0,))
        return np.add.reduceat(cells, self.cell_offsets, axis=-1)

    def table_index(self, codes: np.ndarray) -> np.ndarray:
        """Flat cell index of every case in every pair: (n, pairs) from (n, ordered) codes."""
        out = np.empty((codes.shape[0], self.n_pairs), dtype=np.intp)
        for p, (u, v) in enumerate(self.pairs):
            n2 = self.n_thresholds[v] + 1
            out[:, p] = self.cell_offsets[p] + codes[:, u] * n2 + codes[:, v]
        return out


#: Newton steps up to this size update the bivariate CDF by integrating its (exact)
#: derivative in rho over the step (two-point Hermite rule, error of order step^5 / 720,
#: below 1e-15 here) instead of a new quadrature; larger steps evaluate it afresh
HERMITE_STEP = 2e-3


@dataclass
class _Evaluation:
    """Cell probabilities and their first two derivatives in rho at one rho per pair."""

    pi: np.ndarray        # (R, cells), floored at PI_FLOOR as lavaan
    phi: np.ndarray       # d pi / d rho
    gnorm: np.ndarray     # d2 pi / d rho2
    valid: np.ndarray     # pi above the floor (lavaan drops the others from the derivatives)
    cdf: np.ndarray       # (R, interior points): the bivariate CDF on the grid
    dens: np.ndarray      # its derivative in rho (the bivariate density)
    ddens: np.ndarray     # the density's derivative in rho
    rho: np.ndarray       # (R, pairs) where evaluated


def _cells(grid: PairGrid, interior: np.ndarray, fill: dict | None = None) -> np.ndarray:
    r_count = interior.shape[0]
    g = np.zeros((r_count, grid.grid_size))
    g[:, grid.interior] = interior
    if fill:
        for where, values in fill.items():
            g[:, getattr(grid, where)] = values
    return g[:, grid.c11] - g[:, grid.c01] - g[:, grid.c10] + g[:, grid.c00]


def _evaluate(grid: PairGrid, th: np.ndarray, rho: np.ndarray,
              base: "_Evaluation | None" = None, exact: np.ndarray | None = None) -> _Evaluation:
    """Evaluate at ``rho``; with ``base``, elements (R, pairs) not marked ``exact`` update
    the CDF from ``base`` by the Hermite rule (see :data:`HERMITE_STEP`)."""
    h = th[:, grid.interior_h]
    k = th[:, grid.interior_k]
    r = rho[:, grid.interior_pair]
    rr = np.clip(r, -0.9999, 0.9999)
    dens = bivariate_normal_pdf(h, k, r)
    one = 1.0 - rr * rr
    guv = (h * k * one - rr * (h * h - 2.0 * rr * h * k + k * k) + rr * one) / (one * one)
    ddens = dens * guv
    if base is None:
        cdf = bivariate_normal_cdf(h, k, r)
    else:
        step = r - base.rho[:, grid.interior_pair]
        cdf = base.cdf + step / 2.0 * (base.dens + dens) + step * step / 12.0 * (base.ddens - ddens)
        fresh = exact[:, grid.interior_pair]
        if fresh.any():
            cdf[fresh] = bivariate_normal_cdf(h[fresh], k[fresh], r[fresh])
    fill = {"edge_h": ndtr(th[:, grid.edge_h_th]), "edge_k": ndtr(th[:, grid.edge_k_th]), "corner": 1.0}
    pi = _cells(grid, cdf, fill)
    valid = pi > PI_FLOOR
    pi = np.where(valid, pi, PI_FLOOR)
    phi = _cells(grid, dens)
    gnorm = _cells(grid, ddens)
    return _Evaluation(pi, phi, gnorm, valid, cdf, dens, ddens, rho.copy())


def _loglik(grid: PairGrid, freq: np.ndarray, ev: _Evaluation) -> np.ndarray:
    return grid.pair_sum(freq * np.log(ev.pi))


def _derivatives(grid: PairGrid, freq: np.ndarray, ev: _Evaluation) -> tuple[np.ndarray, np.ndarray]:
    fp = np.where(ev.valid, freq / ev.pi, 0.0)
    grad = grid.pair_sum(fp * ev.phi)
    hess = grid.pair_sum(fp * ev.gnorm - fp * ev.phi * ev.phi / ev.pi)
    return grad, hess


def _pearson_start(grid: PairGrid, freq: np.ndarray) -> np.ndarray:
    """Pearson correlation of the category numbers from each table (lavaan's start)."""
    a = grid.cell_a.astype(float)
    b = grid.cell_b.astype(float)
    n = grid.pair_sum(freq)
    with np.errstate(invalid="ignore", divide="ignore"):
        ma = grid.pair_sum(freq * a) / n
        mb = grid.pair_sum(freq * b) / n
        cab = grid.pair_sum(freq * a * b) / n - ma * mb
        va = grid.pair_sum(freq * a * a) / n - ma * ma
        vb = grid.pair_sum(freq * b * b) / n - mb * mb
        r = cab / np.sqrt(va * vb)
    return np.where(np.isfinite(r) & (np.abs(r) < 1.0), r, 0.0)


def _two_by_two(grid: PairGrid, th: np.ndarray, freq: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """lavaan's special cases of 2 x 2 tables: (adjusted freq, fixed rho or NaN, two-zero flag)."""
    r_count = freq.shape[0]
    fixed = np.full((r_count, grid.n_pairs), np.nan)
    two_zero = np.zeros((r_count, grid.n_pairs), dtype=bool)
    freq = freq.copy()
    for p, (u, v) in enumerate(grid.pairs):
        if grid.n_thresholds[u] != 1 or grid.n_thresholds[v] != 1:
            continue
        s = grid.cell_offsets[p]
        f = freq[:, s:s + 4]                                  # f11 f12 f21 f22
        zeros = (f == 0).sum(axis=1)
        both = zeros == 2
        two_zero[:, p] = both
        fixed[both, p] = np.where(f[both, 0] > 0, 1.0, -1.0)
        one = zeros == 1
        if one.any():
            diag_zero = (f[:, 0] == 0) | (f[:, 3] == 0)
            sign = np.where(diag_zero, 1.0, -1.0)[:, None] * np.array([0.5, -0.5, -0.5, 0.5])
            f = np.where(one[:, None], f + sign, f)
            freq[:, s:s + 4] = f
        rest = ~both
        indep = rest & (f[:, 0] * f[:, 3] == f[:, 1] * f[:, 2])
        fixed[indep, p] = 0.0
        tu, tv = th[:, grid.th_offsets[u]], th[:, grid.th_offsets[v]]
        median = rest & ~indep & (tu == 0.0) & (tv == 0.0)
        fixed[median, p] = -np.cos(2.0 * np.pi * f[median, 0] / f[median].sum(axis=1))
    return freq, fixed, two_zero


@dataclass(frozen=True)
class PolychoricFit:
    """Polychoric correlations of every pair (R, pairs), and what happened on the way."""

    rho: np.ndarray
    converged: np.ndarray      # (R, pairs) bool
    iterations: int
    two_zero_cells: np.ndarray  # (R, pairs) bool: a 2 x 2 table with two empty cells (rho = +-1)
    flat: np.ndarray            # (R, pairs) bool: stopped on a plateau without information on rho
    evaluation: "_Evaluation | None" = None   # cell probabilities and derivatives at ``rho``


def polychoric(grid: PairGrid, th: np.ndarray, freq: np.ndarray, start: np.ndarray | None = None) -> PolychoricFit:
    """Two-step polychoric correlations of every pair, for R sets of counts at once.

    Parameters
    ----------
    grid : PairGrid
        The pairs and their table layout.
    th : ndarray, shape (R, total thresholds)
        Step-1 thresholds (fixed here).
    freq : ndarray, shape (R, cells)
        Weighted cell counts of every pair's table.
    start : ndarray, shape (R, pairs), optional
        Starting values (default: lavaan's, the Pearson correlation of the codes).
    """
    th = np.atleast_2d(np.asarray(th, dtype=float))
    freq = np.atleast_2d(np.asarray(freq, dtype=float))
    freq, fixed, two_zero = _two_by_two(grid, th, freq)
    rho = _pearson_start(grid, freq) if start is None else np.array(start, dtype=float)
    free = np.isnan(fixed)
    rho = np.where(free, np.clip(rho, -RHO_BOUND, RHO_BOUND), fixed)
    ev = _evaluate(grid, th, rho)
    ll = _loglik(grid, freq, ev)
    grad, hess = _derivatives(grid, freq, ev)
    active = free.copy()
    step_scale = np.ones_like(rho)
    n_pair = grid.pair_sum(freq)
    flat = np.zeros_like(active)
    it = 0
    while active.any() and it < _MAX_ITER:
        it += 1
        newton = np.where(hess < 0, -grad / np.where(hess < 0, hess, -1.0), np.sign(grad) * 0.1)
        step = np.clip(newton, -0.5, 0.5) * step_scale
        trial = np.where(active, np.clip(rho + step, -RHO_BOUND, RHO_BOUND), rho)
        ev_t = _evaluate(grid, th, trial, base=ev, exact=active & (np.abs(trial - rho) > HERMITE_STEP))
        ll_t = _loglik(grid, freq, ev_t)
        accept = active & (ll_t >= ll - 1e-12 * np.maximum(1.0, np.abs(ll)))
        moved = np.abs(trial - rho)
        g_t, h_t = _derivatives(grid, freq, ev_t)
        rho = np.where(accept, trial, rho)
        ll = np.where(accept, ll_t, ll)
        grad = np.where(accept, g_t, grad)
        hess = np.where(accept, h_t, hess)
        step_scale = np.where(accept, 1.0, step_scale * 0.5)
        pushing_out = (np.abs(rho) >= RHO_BOUND) & (np.sign(grad) == np.sign(rho))
        next_small = (hess < 0) & (np.abs(grad) < _NEWTON_TOL * np.abs(hess))
        plateau = accept & (np.abs(hess) < _FLAT_INFO * n_pair) & ~next_small & ~pushing_out
        flat |= plateau & active
        done = (accept & ((moved < _STEP_TOL) | pushing_out | next_small | plateau)) | (step_scale < 1e-10)
        active = active & ~done
        if accept.any():
            ev = _merge(grid, ev, ev_t, accept)
    return PolychoricFit(rho=rho, converged=~active, iterations=it, two_zero_cells=two_zero, flat=flat,
                         evaluation=ev)


def _merge(grid: PairGrid, old: _Evaluation, new: _Evaluation, take: np.ndarray) -> _Evaluation:
    """The evaluation of ``new`` for the pairs in ``take`` (R, pairs), of ``old`` elsewhere."""
    cells = take[:, grid.cell_pair]
    points = take[:, grid.interior_pair]
    return _Evaluation(np.where(cells, new.pi, old.pi), np.where(cells, new.phi, old.phi),
                       np.where(cells, new.gnorm, old.gnorm), np.where(cells, new.valid, old.valid),
                       np.where(points, new.cdf, old.cdf), np.where(points, new.dens, old.dens),
                       np.where(points, new.ddens, old.ddens), np.where(take, new.rho, old.rho))


def polychoric_cell_scores(grid: PairGrid, th: np.ndarray, rho: np.ndarray,
                           evaluation: _Evaluation | None = None) -> dict[str, np.ndarray]:
    """Per-cell scores of the bivariate log-likelihood (lavaan's ``lav_bvord_cor_scores``).

    Returns arrays of shape (R, cells): ``rho`` (d log pi / d rho), ``th1_upper``,
    ``th1_lower`` (d log pi / d of the first variable's upper and lower threshold of the
    cell's category; an infinite limit gives 0), ``th2_upper``, ``th2_lower``. Cells whose
    probability is below lavaan's floor get 0, as lavaan's NA dropped by ``na.rm``.
    """
    th = np.atleast_2d(th)
    rho = np.atleast_2d(rho)
    ev = _evaluate(grid, th, rho) if evaluation is None else evaluation
    first = np.asarray([u for u, _ in grid.pairs], dtype=np.intp)[grid.cell_pair]
    second = np.asarray([v for _, v in grid.pairs], dtype=np.intp)[grid.cell_pair]
    u1, l1 = _cell_limits(grid, th, first, grid.cell_a)
    u2, l2 = _cell_limits(grid, th, second, grid.cell_b)
    r = rho[:, grid.cell_pair]
    one = np.sqrt(1.0 - r * r)
    lik = ev.pi
    with np.errstate(divide="ignore", invalid="ignore"):
        deg = one == 0.0                      # |rho| = 1: lavaan's 0.5 factor
        safe = np.where(deg, 1.0, one)

        def side(zu, zl, ou, ol):
            # d pi / d (upper limit zu) and d pi / d (lower limit zl) of the first variable
            cu = np.where(deg, 0.5, ndtr((ou - r * zu) / safe) - ndtr((ol - r * zu) / safe))
            cl = np.where(deg, 0.5, ndtr((ou - r * zl) / safe) - ndtr((ol - r * zl) / safe))
            return _phi(zu) * cu, _phi(zl) * cl
        y1u, y1l = side(u1, l1, u2, l2)
        y2u, y2l = side(u2, l2, u1, l1)
        out = {"th1_upper": y1u / lik, "th1_lower": -y1l / lik,
               "th2_upper": y2u / lik, "th2_lower": -y2l / lik,
               "rho": ev.phi / lik}
    for key in out:
        out[key] = np.where(ev.valid, out[key], 0.0)
    return out


def _cell_limits(grid: PairGrid, th: np.ndarray, var: np.ndarray, cat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Upper and lower threshold of each cell's category of variable ``var`` (R, cells);
    lavaan's +-100 stands for an infinite limit."""
    k = np.asarray(grid.n_thresholds, dtype=np.intp)[var]
    off = grid.th_offsets[var]
    upper = np.full((th.shape[0], cat.size), 100.0)
    lower = np.full((th.shape[0], cat.size), -100.0)
    has_up = cat < k
    upper[:, has_up] = th[:, off[has_up] + cat[has_up]]
    has_lo = cat > 0
    lower[:, has_lo] = th[:, off[has_lo] + cat[has_lo] - 1]
    return upper, lower


def _phi(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / np.sqrt(2.0 * np.pi)
