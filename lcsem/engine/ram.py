"""RAM representation of a model and its implied covariance, vectorised over replicates.

Variables are ordered observed first (the data columns), then latent. With ``A`` the
directed-path matrix, ``S`` the (residual) covariance matrix and ``B = (I - A)^-1``,
the implied covariance of all variables is ``C = B S B'`` and of the observed ones
``Sigma = C[:p, :p]``. The derivative of ``Sigma`` with respect to one matrix entry
is a symmetric rank-two matrix ``c (u v' + v u')``: for a path ``A[i, j]``
``u = B[obs, i]``, ``v = C[j, obs]``; for a covariance ``S[i, j]`` ``u = B[obs, i]``,
``v = B[obs, j]`` (``c = 1/2`` on the diagonal). Keeping ``u`` and ``v`` instead of full
Jacobians makes gradients and information matrices cheap for many replicates at once.

Intercept rows (``op == "~1"``, lavaan's mean structure) are kept in the table order
(:meth:`RamStructure.row_values` gives their values) but are no part of ``A`` or ``S``:
they are marked by ``Entries.is_mean`` (with ``row == col`` the variable's index) and
left out of ``free_entries`` and ``free_map``; :class:`~lcsem.engine.structure.GroupStructure`
builds the mean vector from them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..exceptions import ModelSpecificationError
from ..spec.partable import ParRow

#: operators of the rows a RAM structure maps (``:=`` rows are left out)
STRUCTURE_OPS = ("=~", "~", "~~", "~1")


@dataclass(frozen=True)
class Entries:
    """Matrix entries (in A or S, or intercepts) with how they map to parameters."""

    is_path: np.ndarray   # bool (E,): True for A[i, j], False for S[i, j]
    row: np.ndarray       # int (E,)
    col: np.ndarray       # int (E,)
    scale: np.ndarray     # float (E,): 1/2 on S's diagonal, else 1
    is_mean: np.ndarray | None = None   # bool (E,): an intercept (row == col: the variable)

    def __post_init__(self):
        if self.is_mean is None:
            object.__setattr__(self, "is_mean", np.zeros(np.shape(self.is_path), dtype=bool))


def make_entries(is_path, row, col, is_mean=None) -> Entries:
    is_path = np.asarray(is_path, dtype=bool)
    row = np.asarray(row, dtype=int)
    col = np.asarray(col, dtype=int)
    is_mean = np.zeros(is_path.shape, dtype=bool) if is_mean is None else np.asarray(is_mean, dtype=bool)
    scale = np.where(~is_path & ~is_mean & (row == col), 0.5, 1.0)
    return Entries(is_path, row, col, scale, is_mean)


class RamStructure:
    """Maps a parameter vector to RAM matrices for one model and observed-variable order.

    Parameters
    ----------
    rows
        The model's parameter table.
    observed
        Observed variable names in data-column order.
    latent
        Latent variable names.
    k
        Number of columns of ``free_map`` (the length of the parameter vector); default
        the largest ``free`` number in ``rows``. A group's structure inside a multi-group
        model maps the model's GLOBAL parameter vector, of which its rows use a part.
    """

    def __init__(self, rows: tuple[ParRow, ...] | list[ParRow], observed: tuple[str, ...],
                 latent: tuple[str, ...], k: int | None = None):
        self.observed = tuple(observed)
        self.latent = tuple(latent)
        self.names = self.observed + self.latent
        self.p = len(self.observed)
        self.m = len(self.names)
        index = {n: i for i, n in enumerate(self.names)}
        largest = max((r.free for r in rows if r.op != ":="), default=0)
        if k is not None and k < largest:
            raise ModelSpecificationError(f"k: {k} parameters, but a row uses free parameter {largest}; "
                                          f"pass k >= {largest} or leave it out")
        self.k = largest if k is None else int(k)
        self.rows = tuple(r for r in rows if r.op != ":=")
        is_path, is_mean, r_idx, c_idx, free, fixed = [], [], [], [], [], []
        for r in self.rows:
            if r.op not in STRUCTURE_OPS:
                raise ModelSpecificationError(
                    f"row {r.lhs} {r.op} {r.rhs}: operator {r.op!r} has no place in the RAM matrices "
                    f"(expected one of {', '.join(STRUCTURE_OPS)}); express equality constraints as "
                    f"shared free numbers")
            mean = False
            if r.op == "=~":          # indicator rhs loads on lhs: A[rhs, lhs]
                i, j, path = index[r.rhs], index[r.lhs], True
            elif r.op == "~":         # lhs regressed on rhs: A[lhs, rhs]
                i, j, path = index[r.lhs], index[r.rhs], True
            elif r.op == "~1":        # intercept / mean of lhs (no part of A or S)
                i = j = index[r.lhs]
                path, mean = False, True
            else:                     # covariance: S[i, j]
                i, j = sorted((index[r.lhs], index[r.rhs]))
                path = False
            is_path.append(path)
            is_mean.append(mean)
            r_idx.append(i)
            c_idx.append(j)
            free.append(r.free - 1)
            fixed.append(0.0 if r.free else (r.value if np.isfinite(r.value) else 0.0))
        self.row_entries = make_entries(is_path, r_idx, c_idx, is_mean)
        self.row_free = np.asarray(free, dtype=int)     # -1 when fixed
        self.row_fixed = np.asarray(fixed, dtype=float)
        self.row_is_mean = np.asarray(is_mean, dtype=bool)
        mask = (self.row_free >= 0) & ~self.row_is_mean
        # one representative entry list of free rows of A and S and their one-hot map to parameters
        self.free_entries = Entries(*(getattr(self.row_entries, f)[mask] for f in
                                      ("is_path", "row", "col", "scale", "is_mean")))
        self.free_map = np.zeros((int(mask.sum()), self.k))
        self.free_map[np.arange(int(mask.sum())), self.row_free[mask]] = 1.0

    # ------------------------------------------------------------------ matrices
    def matrices(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``A`` and ``S`` for each row of ``theta`` (shape (R, k)) -> (R, m, m) each."""
        theta = np.atleast_2d(theta)
        R = theta.shape[0]
        values = self.row_values(theta)
        A = np.zeros((R, self.m, self.m))
        S = np.zeros((R, self.m, self.m))
        e = self.row_entries
        A[:, e.row[e.is_path], e.col[e.is_path]] = values[:, e.is_path]
        cov = ~e.is_path & ~e.is_mean
        S[:, e.row[cov], e.col[cov]] = values[:, cov]
        S[:, e.col[cov], e.row[cov]] = values[:, cov]
        return A, S

    def implied(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(Sigma, B, C)`` for each row of ``theta``."""
        A, S = self.matrices(theta)
        B = np.linalg.inv(np.eye(self.m) - A)
        C = B @ S @ np.swapaxes(B, 1, 2)
        Sigma = C[:, : self.p, : self.p]
        return Sigma, B, C

    def jacobian_vectors(self, B: np.ndarray, C: np.ndarray, entries: Entries | None = None
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(U, V, scale)`` with dSigma/d(entry e) = scale_e (u_e v_e' + v_e u_e'); U, V: (R, E, p)."""
        e = self.free_entries if entries is None else entries
        p = self.p
        U = np.swapaxes(B[:, :p, e.row], 1, 2)
        V_path = C[:, e.col, :p]
        V_cov = np.swapaxes(B[:, :p, e.col], 1, 2)
        V = np.where(e.is_path[None, :, None], V_path, V_cov)
        return U, V, e.scale

    def jacobian(self, theta: np.ndarray) -> np.ndarray:
        """Full Jacobian dSigma/dtheta, shape (R, k, p, p) (for tests and small uses)."""
        _, B, C = self.implied(theta)
        U, V, c = self.jacobian_vectors(B, C)
        D = c[None, :, None, None] * (U[..., :, None] * V[..., None, :] + V[..., :, None] * U[..., None, :])
        return np.einsum("repq,ek->rkpq", D, self.free_map)

    # ------------------------------------------------------------------ values
    def theta_from_rows(self, estimates: dict[tuple[str, str, str], float]) -> np.ndarray:
        """Parameter vector from estimates keyed by (lhs, op, rhs); missing ones are NaN."""
        theta = np.full(self.k, np.nan)
        for r, f in zip(self.rows, self.row_free):
            if f >= 0 and np.isnan(theta[f]):
                key = (r.lhs, r.op, r.rhs)
                alt = (r.rhs, r.op, r.lhs)
                value = estimates.get(key, estimates.get(alt) if r.op == "~~" else None)
                if value is not None:
                    theta[f] = value
        return theta

    def row_values(self, theta: np.ndarray) -> np.ndarray:
        """Value of every (non-defined) table row for each row of ``theta``: (R, n_rows)."""
        theta = np.atleast_2d(theta)
        if self.k == 0:
            return np.broadcast_to(self.row_fixed, (theta.shape[0], self.row_fixed.size)).copy()
        return np.where(self.row_free >= 0, theta[:, np.maximum(self.row_free, 0)], self.row_fixed)


def gram_terms(U: np.ndarray, V: np.ndarray, W: np.ndarray, c: np.ndarray
               ) -> np.ndarray:
    """Entry-level information ``tr(W D_e W D_f)`` for rank-two ``D``: (R, E, E)."""
    WU = U @ W                      # W symmetric: (R, E, p)
    WV = V @ W
    G_uu = WU @ np.swapaxes(U, 1, 2)
    G_vv = WV @ np.swapaxes(V, 1, 2)
    G_vu = WV @ np.swapaxes(U, 1, 2)
    info = 2.0 * (G_vu * np.swapaxes(G_vu, 1, 2) + G_uu * G_vv)
    return info * c[None, :, None] * c[None, None, :]


def gradient_terms(U: np.ndarray, V: np.ndarray, M: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Entry-level ``tr(M D_e)`` for symmetric ``M``: (R, E)."""
    return 2.0 * c[None, :] * np.einsum("rep,rpq,req->re", U, M, V)
