"""RAM representation of a model and its implied covariance, vectorised over replicates.

Variables are ordered observed first (the data columns), then latent. With ``A`` the
directed-path matrix, ``S`` the (residual) covariance matrix and ``B = (I - A)^-1``,
the implied covariance of all variables is ``C = B S B'`` and of the observed ones
``Sigma = C[:p, :p]``. The derivative of ``Sigma`` with respect to one matrix entry
is a symmetric rank-two matrix ``c (u v' + v u')``: for a path ``A[i, j]``
``u = B[obs, i]``, ``v = C[j, obs]``; for a covariance ``S[i, j]`` ``u = B[obs, i]``,
``v = B[obs, j]`` (``c = 1/2`` on the diagonal). Keeping ``u`` and ``v`` instead of full
Jacobians makes gradients and information matrices cheap for many replicates at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..spec.partable import ParRow


@dataclass(frozen=True)
class Entries:
    """Matrix entries (in A or S) with how they map to parameters."""

    is_path: np.ndarray   # bool (E,): True for A[i, j], False for S[i, j]
    row: np.ndarray       # int (E,)
    col: np.ndarray       # int (E,)
    scale: np.ndarray     # float (E,): 1/2 on S's diagonal, else 1


def make_entries(is_path, row, col) -> Entries:
    is_path = np.asarray(is_path, dtype=bool)
    row = np.asarray(row, dtype=int)
    col = np.asarray(col, dtype=int)
    scale = np.where(~is_path & (row == col), 0.5, 1.0)
    return Entries(is_path, row, col, scale)


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
    """

    def __init__(self, rows: tuple[ParRow, ...] | list[ParRow], observed: tuple[str, ...],
                 latent: tuple[str, ...]):
        self.observed = tuple(observed)
        self.latent = tuple(latent)
        self.names = self.observed + self.latent
        self.p = len(self.observed)
        self.m = len(self.names)
        index = {n: i for i, n in enumerate(self.names)}
        self.k = max((r.free for r in rows if r.op != ":="), default=0)
        self.rows = tuple(r for r in rows if r.op != ":=")
        is_path, r_idx, c_idx, free, fixed = [], [], [], [], []
        for r in self.rows:
            if r.op == "=~":          # indicator rhs loads on lhs: A[rhs, lhs]
                i, j, path = index[r.rhs], index[r.lhs], True
            elif r.op == "~":         # lhs regressed on rhs: A[lhs, rhs]
                i, j, path = index[r.lhs], index[r.rhs], True
            else:                     # covariance: S[i, j]
                i, j = sorted((index[r.lhs], index[r.rhs]))
                path = False
            is_path.append(path)
            r_idx.append(i)
            c_idx.append(j)
            free.append(r.free - 1)
            fixed.append(0.0 if r.free else (r.value if np.isfinite(r.value) else 0.0))
        self.row_entries = make_entries(is_path, r_idx, c_idx)
        self.row_free = np.asarray(free, dtype=int)     # -1 when fixed
        self.row_fixed = np.asarray(fixed, dtype=float)
        mask = self.row_free >= 0
        # one representative entry list of free rows and their one-hot map to parameters
        self.free_entries = Entries(*(getattr(self.row_entries, f)[mask] for f in
                                      ("is_path", "row", "col", "scale")))
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
        cov = ~e.is_path
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
