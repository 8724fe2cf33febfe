"""Ordinal (and mixed ordinal/continuous) models: implied thresholds and correlations.

Each ordered observed variable ``y_i`` is the categorised version of a continuous latent
response ``y*_i``. The model (a RAM model per group over one global parameter vector,
:class:`~lcsem.engine.structure.GroupStructure`) implies the covariance ``Sigma*`` and the
means ``mu*`` of ``(y*, x)`` (``x`` the continuous variables); thresholds ``tau`` are rows
``y | t1``, ``y | t2``, ... and scaling factors ``Delta_i`` rows ``y ~*~ y``. As lavaan:

* ``parameterization="delta"``: ``Delta_i`` is a parameter (fixed 1 in a single group); the
  residual variance of ``y*_i`` is not: it follows from ``diag(Sigma*)_i = 1 / Delta_i^2``.
* ``parameterization="theta"``: the residual variances of ``y*`` are parameters (fixed 1 in
  a single group); ``Delta_i = diag(Sigma*)_i^(-1/2)`` follows.

The statistics the model reproduces, per group, in lavaan's ``WLS.obs`` order:

* per variable in model order: the thresholds ``Delta_i (tau_ij - mu*_i)`` of an ordered
  variable, or ``-mu_i`` for a continuous one;
* the variances ``Sigma_ii`` of the continuous variables;
* the off-diagonal elements of ``P = Delta Sigma* Delta`` (``Delta_i = 1`` for continuous
  variables): polychoric, polyserial correlations and covariances of continuous pairs,
  row by row of the upper triangle (lavaan's ``vech(., diagonal = FALSE)``).

Their Jacobian ``d s(theta) / d theta`` is analytic (chain rule through ``Sigma*``,
``mu*`` and ``Delta``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from ..exceptions import ModelSpecificationError, NotSupportedError
from ..spec.partable import ParRow
from .structure import GroupStructure

PARAMETERIZATIONS = ("delta", "theta")
_ORDINAL_OPS = ("|", "~*~")


@dataclass(frozen=True)
class _GroupLayout:
    """Where one group's thresholds and scaling factors sit in theta."""

    th_var: np.ndarray        # variable index of every th element
    th_free: np.ndarray       # free index (0-based, -1 fixed) of the threshold (ordinal) or -1
    th_fixed: np.ndarray      # fixed threshold value (ordinal) or 0
    th_is_ordinal: np.ndarray
    scale_free: np.ndarray    # (p,) free index of Delta_i (-1: fixed or continuous)
    scale_fixed: np.ndarray   # (p,) fixed Delta_i (1 for continuous)


def derived_row(row: ParRow, ordered: Sequence[str], parameterization: str) -> bool:
    """Whether ``row``'s value follows from the others (delta: an ordered variable's residual
    variance; theta: its scaling factor)."""
    if row.lhs not in ordered or row.rhs != row.lhs:
        return False
    return row.op == ("~~" if parameterization == "delta" else "~*~")


class OrdinalStructure:
    """Maps one parameter vector to every group's thresholds and correlations.

    Parameters
    ----------
    rows
        The parameter table (lavaan's, with ``|`` and ``~*~`` rows; equality constraints
        as shared ``free`` numbers); ``:=`` and ``==`` rows are ignored.
    observed
        Observed variables in model order (the order of the sample statistics).
    latent
        Latent variables.
    ordered
        The ordered observed variables.
    n_groups
        Number of groups.
    parameterization
        ``"delta"`` or ``"theta"``.

    Attributes
    ----------
    k
        Number of free parameters.
    n_stats
        Number of sample statistics per group.
    th_names
        Names of the threshold part (``"y1|t1"``, ..., ``"c1~1"`` for continuous variables).
    """

    def __init__(self, rows: Sequence[ParRow], observed: Sequence[str], latent: Sequence[str],
                 ordered: Sequence[str], n_groups: int = 1, parameterization: str = "delta"):
        if parameterization not in PARAMETERIZATIONS:
            raise ModelSpecificationError(f"parameterization: {parameterization!r} is not 'delta' or 'theta'")
        self.parameterization = parameterization
        self.observed = tuple(observed)
        self.latent = tuple(latent)
        self.p = len(self.observed)
        self.n_groups = int(n_groups)
        ordered_set = set(ordered)
        self.is_ordinal = np.array([v in ordered_set for v in self.observed], dtype=bool)
        self.ordered = tuple(v for v in self.observed if v in ordered_set)
        self.rows = tuple(r for r in rows if r.op not in (":=", "=="))
        self.k = max((r.free for r in self.rows), default=0)
        self._row_free = np.array([r.free - 1 for r in self.rows], dtype=int)
        self._row_fixed = np.array([0.0 if r.free or not np.isfinite(r.value) else r.value for r in self.rows])
        index = {v: i for i, v in enumerate(self.observed)}
        # paths out of an ordered variable would make its residual variance a function of more
        # than its own row (delta parameterisation): not a model lavaan's delta rule covers here
        for r in self.rows:
            source = r.rhs if r.op == "~" else (r.lhs if r.op == "=~" else None)
            if source in ordered_set:
                raise NotSupportedError(
                    f"row {r.lhs} {r.op} {r.rhs}: the ordered variable {source!r} predicts another "
                    f"variable; ordinal models here take ordered variables as outcomes or indicators "
                    f"only: leave {source!r} out of ordered= or drop the path")
        cov_rows = []
        for r in self.rows:
            if r.op in _ORDINAL_OPS:
                continue
            if r.op == "~~" and r.lhs == r.rhs and r.lhs in ordered_set and parameterization == "delta":
                if r.free:
                    raise ModelSpecificationError(
                        f"row {r.lhs} ~~ {r.lhs}: the residual variance of an ordered variable is not "
                        f"a parameter with parameterization='delta' (it follows from the scaling "
                        f"factor); fix it or use parameterization='theta'")
                r = replace(r, value=0.0)     # Sigma*_ii is set from Delta below
            cov_rows.append(r)
        # compact numbering of the parameters the covariance/mean part uses
        used = sorted({r.free for r in cov_rows if r.free})
        self.cov_cols = np.asarray([f - 1 for f in used], dtype=int)
        remap = {f: i + 1 for i, f in enumerate(used)}
        cov_rows = [replace(r, free=remap.get(r.free, 0)) for r in cov_rows]
        if not any(r.op == "~1" for r in cov_rows):
            raise ModelSpecificationError("an ordinal table needs its intercept rows (y ~1, fixed 0)")
        self.ram = GroupStructure(cov_rows, self.observed, self.latent, n_groups=self.n_groups,
                                  meanstructure=True)
        self.layouts = tuple(self._layout(g + 1, index) for g in range(self.n_groups))
        self.th_names = tuple(self._th_names())
        self.n_th = len(self.th_names)
        self.n_var = int((~self.is_ordinal).sum())
        iu = np.triu_indices(self.p, 1)
        self.cor_i, self.cor_j = iu
        self.n_stats = self.n_th + self.n_var + iu[0].size

    def _layout(self, group: int, index: dict) -> _GroupLayout:
        th = {}
        scale_free = np.full(self.p, -1)
        scale_fixed = np.ones(self.p)
        for r in self.rows:
            if r.group != group:
                continue
            if r.op == "|":
                if r.lhs not in index or not self.is_ordinal[index[r.lhs]]:
                    raise ModelSpecificationError(f"row {r.lhs} | {r.rhs}: {r.lhs!r} is not an ordered "
                                                  f"observed variable; declare it in ordered=")
                th.setdefault(r.lhs, []).append(r)
            elif r.op == "~*~":
                i = index[r.lhs]
                scale_free[i] = r.free - 1
                scale_fixed[i] = r.value if (not r.free and np.isfinite(r.value)) else 1.0
        var, free, fixed, is_ord = [], [], [], []
        for i, v in enumerate(self.observed):
            if not self.is_ordinal[i]:
                var.append(i), free.append(-1), fixed.append(0.0), is_ord.append(False)
                continue
            rows = sorted(th.get(v, []), key=lambda r: int(r.rhs[1:]) if r.rhs[1:].isdigit() else 0)
            if not rows:
                raise ModelSpecificationError(f"the ordered variable {v!r} has no threshold rows in group {group}")
            for r in rows:
                var.append(i), free.append(r.free - 1), is_ord.append(True)
                fixed.append(0.0 if r.free else float(r.value))
        if self.parameterization == "theta":
            scale_free[:] = -1
        return _GroupLayout(np.asarray(var), np.asarray(free), np.asarray(fixed), np.asarray(is_ord),
                            scale_free, scale_fixed)

    def _th_names(self):
        lay = self.layouts[0]
        count: dict[int, int] = {}
        for i, ordinal in zip(lay.th_var, lay.th_is_ordinal):
            v = self.observed[i]
            if ordinal:
                count[i] = count.get(i, 0) + 1
                yield f"{v}|t{count[i]}"
            else:
                yield f"{v}~1"

    # ------------------------------------------------------------------ moments
    def moments(self, theta: np.ndarray, g: int) -> dict[str, np.ndarray]:
        """``Sigma*`` (with its diagonal set), ``mu*`` and ``Delta`` of group ``g`` (0-based)."""
        theta = np.asarray(theta, float)
        Sigma, mu, B, C, Bnu = self.ram.group_moments(theta[self.cov_cols][None], g)
        Sigma, mu = Sigma[0].copy(), mu[0]
        lay = self.layouts[g]
        ordi = self.is_ordinal
        if self.parameterization == "delta":
            delta = np.where(lay.scale_free >= 0, theta[np.maximum(lay.scale_free, 0)], lay.scale_fixed)
            delta = np.where(ordi, delta, 1.0)
            d = np.diag_indices(self.p)
            Sigma[d] = np.where(ordi, 1.0 / delta ** 2, Sigma[d])
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                delta = np.where(ordi, 1.0 / np.sqrt(np.diag(Sigma)), 1.0)
        tau = np.where(lay.th_free >= 0, theta[np.maximum(lay.th_free, 0)], lay.th_fixed)
        return {"Sigma": Sigma, "mu": mu, "delta": delta, "tau": tau, "B": B, "C": C, "Bnu": Bnu}

    def implied(self, theta: np.ndarray, g: int) -> np.ndarray:
        """The implied statistics of group ``g`` (lavaan's ``WLS.est`` order): (n_stats,)."""
        m = self.moments(theta, g)
        return self._stats(m, self.layouts[g])

    def _stats(self, m, lay) -> np.ndarray:
        Sigma, mu, delta, tau = m["Sigma"], m["mu"], m["delta"], m["tau"]
        th = np.where(lay.th_is_ordinal, delta[lay.th_var] * (tau - mu[lay.th_var]), -mu[lay.th_var])
        var = np.diag(Sigma)[~self.is_ordinal]
        P = delta[:, None] * Sigma * delta[None, :]
        return np.concatenate([th, var, P[self.cor_i, self.cor_j]])

    def implied_matrices(self, theta: np.ndarray, g: int) -> dict[str, np.ndarray]:
        """Group ``g``'s implied correlation/covariance matrix ``P`` (unit diagonal for
        ordered variables), thresholds (th part), ``Sigma*``, ``mu*`` and ``Delta``."""
        m = self.moments(theta, g)
        lay = self.layouts[g]
        P = m["delta"][:, None] * m["Sigma"] * m["delta"][None, :]
        th = np.where(lay.th_is_ordinal, m["delta"][lay.th_var] * (m["tau"] - m["mu"][lay.th_var]),
                      -m["mu"][lay.th_var])
        return {"cov": P, "th": th, "Sigma_star": m["Sigma"], "mu_star": m["mu"], "delta": m["delta"]}

    def jacobian(self, theta: np.ndarray, g: int) -> np.ndarray:
        """``d s_g(theta) / d theta``: (n_stats, k), analytic."""
        theta = np.asarray(theta, float)
        m = self.moments(theta, g)
        lay = self.layouts[g]
        gs = self.ram.groups[g]
        kc = self.cov_cols.size
        k, p = self.k, self.p
        dS = np.zeros((k, p, p))
        dmu = np.zeros((p, k))
        if kc:
            dS[self.cov_cols] = gs.jacobian(theta[self.cov_cols][None])[0]
            U, _, _ = gs.jacobian_vectors(m["B"], m["C"])
            dmu[:, self.cov_cols] = self.ram.mean_jacobian(g, m["B"], m["Bnu"], U)[0]
        ordi = self.is_ordinal
        Sigma, mu, delta, tau = m["Sigma"], m["mu"], m["delta"], m["tau"]
        ddelta = np.zeros((p, k))
        if self.parameterization == "delta":
            has = (lay.scale_free >= 0) & ordi
            ddelta[np.flatnonzero(has), lay.scale_free[has]] = 1.0
            d = np.arange(p)
            dS[:, d[ordi], d[ordi]] = (-2.0 / delta[ordi] ** 3)[None, :] * ddelta[ordi].T
        else:
            diag = np.diag(Sigma)
            ddelta[ordi] = (-0.5 * diag[ordi] ** -1.5)[:, None] * np.einsum("kii->ik", dS)[ordi]
        # thresholds
        iv = lay.th_var
        dtau = np.zeros((iv.size, k))
        has = lay.th_free >= 0
        dtau[np.flatnonzero(has), lay.th_free[has]] = 1.0
        d_th = np.where(lay.th_is_ordinal[:, None],
                        ddelta[iv] * (tau - mu[iv])[:, None] + delta[iv][:, None] * (dtau - dmu[iv]),
                        -dmu[iv])
        d_var = np.einsum("kii->ik", dS)[~ordi]
        i, j = self.cor_i, self.cor_j
        d_cor = ((delta[i] * delta[j])[:, None] * dS[:, i, j].T
                 + (Sigma[i, j] * delta[j])[:, None] * ddelta[i]
                 + (Sigma[i, j] * delta[i])[:, None] * ddelta[j])
        return np.concatenate([d_th, d_var, d_cor], axis=0)

    # ------------------------------------------------------------------ values
    def row_values(self, theta: np.ndarray, derived: bool = True) -> np.ndarray:
        """Value of every row of :attr:`rows` at ``theta`` (k,), with (``derived``) the derived
        ones of lavaan's table: delta: residual variances of ``y*``; theta: scaling factors
        (otherwise their table values)."""
        theta = np.asarray(theta, float)
        out = np.where(self._row_free >= 0, theta[np.maximum(self._row_free, 0)] if self.k else 0.0,
                       self._row_fixed)
        if not derived:
            return out
        index = {v: i for i, v in enumerate(self.observed)}
        for g in range(self.n_groups):
            m = self.moments(theta, g)
            explained = None
            for n, r in enumerate(self.rows):
                if r.group != g + 1 or r.lhs not in index or not self.is_ordinal[index[r.lhs]]:
                    continue
                i = index[r.lhs]
                if self.parameterization == "delta" and r.op == "~~" and r.rhs == r.lhs:
                    if explained is None:
                        explained = np.diag(self._sigma_without_ordinal_residuals(theta, g))
                    out[n] = m["Sigma"][i, i] - explained[i]
                elif self.parameterization == "theta" and r.op == "~*~":
                    out[n] = m["delta"][i]
        return out

    def _sigma_without_ordinal_residuals(self, theta: np.ndarray, g: int) -> np.ndarray:
        Sigma, _, _, _, _ = self.ram.group_moments(np.asarray(theta, float)[self.cov_cols][None], g)
        return Sigma[0]

    def total_covariance(self, theta: np.ndarray, g: int) -> np.ndarray:
        """Implied covariance of all variables (observed ``y*``/continuous, then latent) of
        group ``g``, with the ordered variables' variances on the ``y*`` scale (delta:
        ``1 / Delta^2``; theta: from the residual variances): (m, m)."""
        m = self.moments(theta, g)
        C = m["C"][0].copy()
        if self.parameterization == "delta":
            idx = np.flatnonzero(self.is_ordinal)
            C[idx, idx] = m["Sigma"][idx, idx]
        return C
