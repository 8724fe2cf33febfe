"""Single-group ML without means, fused for many replicates: the fast objective of the solver.

``F_ML = log|Sigma| + tr(S Sigma^-1) - log|S| - p`` for R covariance matrices at once, with
its gradient, exact Hessian and expected (Fisher) information in a few stacked small-matrix
products and ONE gather (:class:`MLPlan`).

Derivatives use the rank-two form ``dSigma/d(entry e) = c_e (u_e v_e' + v_e u_e')`` of
:class:`~lcsem.engine.ram.RamStructure`. With ``K = [B_o | C_o]`` (the observed rows of
``B = (I - A)^-1`` and ``C = B S B'``, shape (p, 2m)), ``W = Sigma^-1`` and
``M = W (Sigma - S) W``, every product ``x' W y`` and ``x' M y`` of two entries' vectors is
an element of ``K'WK`` or ``K'MK``, and the second derivatives of Sigma with respect to two
path entries ``A[i, j]``, ``A[k, l]`` (``2 [B_jk Q_li + B_li Q_jk + G_ik C_jl]``) and a
path and a covariance entry ``S[k, l]`` (``2 c_b [B_jk G_li + B_jl G_ki]``) are products of
elements of ``B``, ``C``, ``G = B_o' M B_o`` and ``Q = C_o' M B_o`` (blocks of ``K'MK``).
:class:`MLPlan` turns the model into one index map, built once per model, that gathers all
of those elements for the ``E (E + 1) / 2`` distinct pairs of free entries in one ``take``;
the Hessian and the information follow by elementwise arithmetic and one expansion to the
full symmetric matrix.

An evaluation factorises ``Sigma`` once (Cholesky: the positive-definiteness verdict and
``log|Sigma|``) and inverts it once (``W``, for ``tr(S W)`` and the next derivatives). For
recursive models ``B = (I - A)^-1`` is the finite series ``I + A + A^2 + ...`` (``A`` is
nilpotent of order ``q``: no path longer than ``q - 1`` steps); up to ``q = MAX_SERIES``
(CFA: 2; learning culture -> KMS use -> performance -> items: 4) its ``q - 2`` products
replace the inverse, which costs several times more on small stacked matrices.

Every operation is replicate by replicate (stacked ``matmul``/LAPACK calls on small
matrices, elementwise arithmetic, gathers within a replicate), never a product across
replicates, so a replicate's numbers are bit-identical whichever batch it is fitted in.
"""

from __future__ import annotations

import numpy as np

from .linalg import cholesky_factors, cholesky_solve, solve_each
from .objective import Objective, Steps
from .ram import RamStructure

__all__ = ["MLObjective", "MLPlan", "ml_plan", "ml_discrepancy", "ml_gradient_hessian"]

try:    # the generalised ufunc behind numpy.linalg.inv (the same numbers, less overhead)
    from numpy.linalg import _umath_linalg as _gufuncs

    _INV = _gufuncs.inv
except (ImportError, AttributeError):      # pragma: no cover - depends on numpy's internals
    _INV = None


#: ``mode`` of the gathers whose indices are valid by construction (the plan's maps, row
#: numbers): "wrap" leaves valid indices as they are and skips the bounds check of the
#: default "raise", which made the gathers 2-2.3x slower (the same elements)
_VALID = "wrap"


def _inverse(X: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    if _INV is not None:
        with np.errstate(all="ignore"):
            return _INV(X, signature="d->d", out=out)
    if out is None:                        # pragma: no cover
        return np.linalg.inv(X)
    out[...] = np.linalg.inv(X)            # pragma: no cover
    return out                             # pragma: no cover


class MLPlan:
    """Index maps of one model, built once: every derivative term is one ``take``.

    Per replicate the flat work array is ``[K'WK | K'MK | B | C]``; ``index`` picks, for each
    of the ``n`` pairs ``a <= b`` of free entries, the 8 elements of ``K'WK``/``K'MK`` of
    the Fisher and ``M`` terms; then the 6 factors of the second derivatives of Sigma for
    the ``n_pp`` pairs of two paths and the 4 for the ``n_pc`` pairs of a path and a
    covariance (the pairs are ordered so); then the ``E`` elements of ``K'MK`` of the
    gradient. ``expand`` maps the ``n`` pair values to the full (E, E) matrix.
    """

    def __init__(self, struct: RamStructure):
        e = struct.free_entries
        m, E = struct.m, len(struct.free_entries.row)
        m2 = 2 * m
        self.E = E
        self.m = m
        iu = e.row
        iv = np.where(e.is_path, m + e.col, e.col)
        I, J, path = e.row, e.col, e.is_path
        a, b = np.triu_indices(E)
        # pairs of two paths first, then a path and a covariance, then two covariances:
        # second derivatives of Sigma exist only for the first two groups (contiguous slices)
        kind = np.where(path[a] & path[b], 0, np.where(path[a] | path[b], 1, 2))
        order = np.argsort(kind, kind="stable")
        a, b, kind = a[order], b[order], kind[order]
        self.n_pairs = a.size
        self.n_pp = int(np.sum(kind == 0))
        self.n_pc = int(np.sum(kind == 1))
        # only the columns of K = [B_o | C_o] that some entry's u or v uses enter K'WK, K'MK
        # (the second derivatives use the same columns: module text)
        self.cols = np.unique(np.concatenate([iu, iv]))
        u = self.cols.size
        pos = np.full(m2, -1)
        pos[self.cols] = np.arange(u)
        self.u = u
        ow, om, ob, oc = 0, u * u, 2 * u * u, 2 * u * u + m * m
        self.width = oc + m * m

        def GW(r, c):
            return ow + pos[r] * u + pos[c]

        def GM(r, c):
            return om + pos[r] * u + pos[c]

        def Bx(r, c):
            return ob + r * m + c

        def Cx(r, c):
            return oc + r * m + c

        # [w_vu, w_uu, w_vv, w_uv, m_uv, m_vv, m_uu, m_vu] (x_ab = x_a' W y_b or x_a' M y_b):
        # the Fisher pairs are (0, 3), (1, 2), the curvature pairs (0, 4) ... (3, 7)
        parts = [GW(iv[a], iu[b]), GW(iu[a], iu[b]), GW(iv[a], iv[b]), GW(iu[a], iv[b]),
                 GM(iu[a], iv[b]), GM(iv[a], iv[b]), GM(iu[a], iu[b]), GM(iv[a], iu[b])]
        # two paths a = A[i, j], b = A[k, l]: B_jk Q_li + B_li Q_jk + G_ik C_jl
        pa, pb = a[:self.n_pp], b[:self.n_pp]
        i, j, k, l = I[pa], J[pa], I[pb], J[pb]
        pp = [Bx(j, k), GM(m + l, i), Bx(l, i), GM(m + j, k), GM(i, k), Cx(j, l)]
        # a path A[i, j] and a covariance S[k, l]: c_b (B_jk G_li + B_jl G_ki)
        ca, cb = a[self.n_pp:self.n_pp + self.n_pc], b[self.n_pp:self.n_pp + self.n_pc]
        first_is_path = path[ca]
        pa, cv = np.where(first_is_path, ca, cb), np.where(first_is_path, cb, ca)
        i, j, k, l = I[pa], J[pa], I[cv], J[cv]
        pc = [Bx(j, k), GM(l, i), Bx(j, l), GM(k, i)]
        self.pc_scale = 2.0 * e.scale[cv]
        self.has_path = bool(path.any())
        self.index = np.concatenate(parts + pp + pc + [GM(iu, iv)]).astype(np.intp)
        self.cc = 2.0 * e.scale[a] * e.scale[b]              # 2 c_a c_b per pair
        self.c2 = 2.0 * e.scale
        full = np.zeros((E, E), dtype=np.intp)
        full[a, b] = np.arange(a.size)
        full[b, a] = np.arange(a.size)
        self.expand = full.ravel()
        F = struct.free_map
        self.identity = F.shape[0] == F.shape[1] and np.array_equal(F, np.eye(F.shape[0]))
        self.F = F
        self.nilpotent = _nilpotency(struct)

    def implied(self, struct: RamStructure, theta: np.ndarray, work: "_Arrays | None" = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(Sigma, B, C)`` as :meth:`RamStructure.implied`, with ``B`` by the finite series
        when ``A`` is nilpotent of order at most :data:`MAX_SERIES` (the same matrix to
        rounding). With ``work``
        the results are views of its reused arrays (valid until its next use)."""
        if work is None:
            A, S = struct.matrices(theta)
            T = B = C = None
        else:
            n = theta.shape[0]
            A, S, T, B, C = (x[:n] for x in work.get(n, "A", "S", "T", "B", "C"))
            values = struct.row_values(theta)
            e = struct.row_entries
            A.fill(0.0)
            S.fill(0.0)
            A[:, e.row[e.is_path], e.col[e.is_path]] = values[:, e.is_path]
            cov = ~e.is_path & ~e.is_mean
            S[:, e.row[cov], e.col[cov]] = values[:, cov]
            S[:, e.col[cov], e.row[cov]] = values[:, cov]
        diag = (slice(None), np.arange(self.m), np.arange(self.m))
        if self.nilpotent == 1:              # A = 0
            B = np.broadcast_to(np.eye(self.m), A.shape).copy()
        elif self.nilpotent == 2:            # A^2 = 0: B = I + A
            B = A
            B[diag] += 1.0
        elif self.nilpotent == 3:            # A^3 = 0: B = I + A + A^2
            B = np.matmul(A, A, out=B)
            B += A
            B[diag] += 1.0
        elif self.nilpotent:                 # A^q = 0: B = I + A + A^2 + ... + A^(q-1)
            if B is None:
                B, T, P = np.empty_like(A), np.empty_like(A), np.empty_like(A)
            else:
                P = work.get(A.shape[0], "P")[0][:A.shape[0]]
            power = np.matmul(A, A, out=T)
            B[...] = power
            for _ in range(self.nilpotent - 3):
                power = np.matmul(power, A, out=P if power is T else T)
                B += power
            B += A
            B[diag] += 1.0
        elif B is None:
            B = np.linalg.inv(np.eye(self.m) - A)
        else:
            np.subtract(np.eye(self.m), A, out=T)
            B = _inverse(T, out=B)
        if C is None:
            C = B @ S @ np.swapaxes(B, 1, 2)
        else:
            np.matmul(np.matmul(B, S, out=T), np.swapaxes(B, 1, 2), out=C)
        return C[:, :struct.p, :struct.p], B, C


class _Arrays:
    """Named work arrays of one objective, grown to the largest row count asked for and
    reused by every later call (views of their first rows). Large temporaries allocated and
    freed on every call cost page faults (glibc maps them afresh) that were, measured, a
    fifth of LC's bootstrap time."""

    def __init__(self, shapes: dict[str, tuple[int, ...]]):
        self.shapes = shapes
        self.rows = 0
        self.arrays: dict[str, np.ndarray] = {}

    def get(self, n: int, *names: str) -> list[np.ndarray]:
        if n > self.rows:
            self.rows = max(n, 2 * self.rows)
            self.arrays = {}
        out = []
        for name in names:
            if name not in self.arrays:
                self.arrays[name] = np.empty((self.rows,) + self.shapes[name])
            out.append(self.arrays[name])
        return out


#: the largest nilpotency order for which ``B`` is the finite series (``q - 2`` products)
MAX_SERIES = 6


def _nilpotency(struct: RamStructure) -> int:
    """Smallest d <= :data:`MAX_SERIES` with A^d = 0 for every value of the paths (from
    A's pattern), or 0."""
    m = struct.m
    e = struct.row_entries
    P = np.zeros((m, m), dtype=np.int64)
    P[e.row[e.is_path], e.col[e.is_path]] = 1
    power = np.eye(m, dtype=np.int64)
    for d in range(1, MAX_SERIES + 1):
        power = ((power @ P) > 0).astype(np.int64)
        if not power.any():
            return d
    return 0


def ml_plan(struct: RamStructure) -> MLPlan:
    """The model's :class:`MLPlan`, built on first use and kept on the structure."""
    plan = getattr(struct, "_lcsem_ml_plan", None)
    if plan is None:
        plan = MLPlan(struct)
        struct._lcsem_ml_plan = plan   # a pure function of the structure
    return plan


class MLObjective(Objective):
    """F_ML of one group without means over R covariance matrices, with the exact Hessian.

    :meth:`value` keeps each replicate's last evaluated point (Sigma, B, C, Sigma^-1); the
    solver evaluates the accepted point last, so the next derivatives start from it.
    """

    has_hessian = True
    #: evaluations are cheap: the solver may try several step lengths in one call
    batched_line_search = True

    def __init__(self, struct: RamStructure, S: np.ndarray, logdet_S: np.ndarray | None = None):
        self.struct = struct
        self.S = np.asarray(S, dtype=float)
        self.n_replicates = self.S.shape[0]
        self.k = struct.k
        self.logdet_S = np.linalg.slogdet(self.S)[1] if logdet_S is None else logdet_S
        self.plan = ml_plan(struct)
        R, p, m = self.n_replicates, struct.p, struct.m
        self._theta = np.full((R, self.k), np.nan)
        self._Sigma = np.zeros((R, p, p))
        self._B = np.zeros((R, m, m))
        self._C = np.zeros((R, m, m))
        self._W = np.zeros((R, p, p))
        self._buffers: _Buffers | None = None      # this objective's own work arrays
        self._trial = None                         # the last trial_values call (keep_trial)
        self._every = np.arange(R)
        E = self.plan.E
        self._work = _Arrays(dict(A=(m, m), S=(m, m), T=(m, m), P=(m, m), B=(m, m), C=(m, m), L=(p, p), W=(p, p),
                                  sSigma=(p, p), sB=(m, m), sC=(m, m), sW=(p, p),
                                  grad=(E,), hess=(E, E), pairs=(self.plan.n_pairs,), LH=(self.k, self.k)))

    # ---------------------------------------------------------------- values
    def _rows(self, idx: np.ndarray):
        """``idx`` as a slice when it is every replicate in order (the first iterations of
        a batch): views and block copies instead of gathers and scatters."""
        if idx.size == self.n_replicates and np.array_equal(idx, self._every):
            return slice(None)
        return idx

    def evaluate(self, theta: np.ndarray, idx: np.ndarray):
        """``(f, Sigma, B, C, W)`` at ``theta`` for replicates ``idx``; f = inf where Sigma
        is not positive definite (by its own Cholesky factorisation) or is singular. The
        matrices are views of reused work arrays, valid until the next evaluation."""
        n = theta.shape[0]
        Sigma, B, C = self.plan.implied(self.struct, theta, self._work)
        p = self.struct.p
        L, W = (x[:n] for x in self._work.get(n, "L", "W"))
        ok, L = cholesky_factors(Sigma, out=L)
        safe = Sigma if ok.all() else np.where(ok[:, None, None], Sigma, np.eye(p))
        with np.errstate(all="ignore"):
            logdet = 2.0 * np.sum(np.log(np.diagonal(L, axis1=1, axis2=2)), axis=1)
            W = _inverse(safe, out=W)
            rows = self._rows(idx)
            trace = np.einsum("rij,rij->r", self.S[rows], W)
            f = logdet + trace - self.logdet_S[rows] - p
        # F_ML >= 0 for every positive definite Sigma: a negative value means Sigma (or
        # I - A) is numerically singular and the point is unusable
        f = np.where(~ok | ~np.isfinite(f) | (f < -1e-8), np.inf, f)
        return f, Sigma, B, C, W

    def value(self, theta: np.ndarray, idx: np.ndarray) -> np.ndarray:
        theta = np.atleast_2d(theta)
        f, Sigma, B, C, W = self.evaluate(theta, idx)
        rows = self._rows(idx)
        self._theta[rows], self._Sigma[rows], self._B[rows], self._C[rows], self._W[rows] = theta, Sigma, B, C, W
        return f

    def trial_values(self, theta: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """F at trial points (``idx`` may repeat a replicate); :meth:`keep_trial` keeps the
        accepted ones from this evaluation (its work arrays stay valid until the next)."""
        theta = np.atleast_2d(theta)
        f, *state = self.evaluate(theta, idx)
        self._trial = (theta, idx, state)
        return f

    def keep_trial(self, positions: np.ndarray) -> None:
        theta, idx, (Sigma, B, C, W) = self._trial
        rows = idx[positions]
        self._theta[rows], self._Sigma[rows] = theta[positions], Sigma[positions]
        self._B[rows], self._C[rows], self._W[rows] = B[positions], C[positions], W[positions]
        self._trial = None

    def implied_at(self, theta: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Sigma at ``theta`` for replicates ``idx`` (kept from the last evaluation where
        that was at ``theta``, computed again elsewhere)."""
        theta = np.atleast_2d(theta)
        Sigma = self._Sigma[idx]
        stale = np.flatnonzero(~np.all(self._theta[idx] == theta, axis=1))
        if stale.size:
            Sigma[stale] = self.plan.implied(self.struct, theta[stale])[0]
        return Sigma

    def _state(self, theta, idx):
        rows = self._rows(idx)
        if isinstance(rows, slice) and np.array_equal(self._theta, theta):
            return self._Sigma, self._B, self._C, self._W        # read only by the derivatives
        if np.array_equal(self._theta[idx], theta):
            n = len(idx)
            out = [x[:n] for x in self._work.get(n, "sSigma", "sB", "sC", "sW")]
            for source, target in zip((self._Sigma, self._B, self._C, self._W), out):
                np.take(source, idx, axis=0, out=target, mode=_VALID)
            return tuple(out)
        return self.evaluate(theta, idx)[1:]

    # ---------------------------------------------------------------- derivatives
    def derivatives(self, theta: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Gradient, exact Hessian and expected information: (R, k), (R, k, k), (R, k, k)."""
        grad, hess, pairs = self._derivative_pairs(theta, idx)
        return grad.copy(), hess.copy(), expand_information(self.plan, pairs)

    def _derivative_pairs(self, theta, idx):
        """Gradient, Hessian and the information's distinct pairs (expanded on demand)."""
        theta = np.atleast_2d(theta)
        Sigma, B, C, W = self._state(theta, idx)
        if self._buffers is None:
            self._buffers = _Buffers(self.plan, block_rows(self.plan))
        n = len(idx)
        out = [x[:n] for x in self._work.get(n, "grad", "hess", "pairs")]
        return _derivatives(self.plan, self.struct.p, Sigma, B, C, W, self.S[self._rows(idx)], self._buffers, out)

    def gradient_information(self, theta, idx):
        grad, _, info = self.derivatives(theta, idx)
        return grad, info

    def direction(self, theta, idx, exact=False):
        d = self.steps(np.atleast_2d(theta), idx, exact=exact)
        if exact:
            return d.grad, np.where(d.newton[:, None], d.step, 0.0), d.newton
        return d.grad, d.step, d.ok

    def steps(self, theta: np.ndarray, idx: np.ndarray, exact: bool = True,
              scoring_only: np.ndarray | None = None) -> Steps:
        """Newton steps where the Hessian is positive definite (and ``scoring_only`` is
        False) and descends, solved with the Cholesky factor its test computed; Fisher-
        scoring steps elsewhere (see :class:`Steps`)."""
        grad, hess, pairs = self._derivative_pairs(theta, idx)
        n = grad.shape[0]
        step = np.empty_like(grad)
        newton = np.zeros(n, dtype=bool)
        ok = np.ones(n, dtype=bool)
        LH = self._work.get(n, "LH")[0][:n]
        pd = cholesky_factors(hess, out=LH)[0] if exact else np.zeros(n, dtype=bool)
        want = pd if scoring_only is None else pd & ~scoring_only
        grad = grad.copy()          # the Steps outlive the work arrays
        if want.all():
            step, ok_n = cholesky_solve(LH, grad)
            newton = ok_n & (np.einsum("rk,rk->r", grad, step) < 0)
        elif want.any():
            w = np.flatnonzero(want)
            x, ok_n = cholesky_solve(LH[w], grad[w])
            step[w] = x
            newton[w] = ok_n & (np.einsum("rk,rk->r", grad[w], x) < 0)
        other = np.flatnonzero(~newton)
        if other.size:
            step[other], ok[other] = solve_each(expand_information(self.plan, pairs[other]), grad[other])
        return Steps(grad, step, newton, pd if exact else None, ok)


#: replicates per block of the derivative arithmetic (at most): the gathered factors of a
#: block stay in the cache and its buffers are reused (large temporaries freed and allocated
#: again on every call cost page faults that were, measured, slower than the arithmetic).
#: 128 (at most BLOCK_ELEMENTS gathered factors: HS 111, the LC model 36): 4.5% less CPU
#: for HS than 32 since the gathers skip the bounds check; the same for the LC model
BLOCK = 128
#: gathered factors per block (at most; large models get smaller blocks)
BLOCK_ELEMENTS = 1 << 18


def block_rows(plan: "MLPlan") -> int:
    """Replicates per block for this model: :data:`BLOCK`, fewer for large models."""
    return int(max(1, min(BLOCK, BLOCK_ELEMENTS // max(plan.index.size, 1))))


class _Buffers:
    """Work arrays of one block, allocated once per plan and block size."""

    def __init__(self, plan: MLPlan, size: int):
        n = plan.n_pairs
        self.size = size
        self.work = np.empty((size, plan.width))
        self.g = np.empty((size, plan.index.size))
        self.fisher = np.empty((size, n))
        self.curv = np.empty((size, n))
        self.tmp = np.empty((size, max(n, 1)))


def _derivatives(plan: MLPlan, p: int, Sigma, B, C, W, S, buffers: _Buffers | None = None, out=None):
    """Gradient, exact Hessian and Fisher information of F_ML (module text), in blocks of
    :data:`BLOCK` replicates (``buffers``: the caller's work arrays; never shared between
    threads)."""
    if buffers is None:
        buffers = _Buffers(plan, block_rows(plan))
    R, E = Sigma.shape[0], plan.E
    if out is None:
        out = np.empty((R, E)), np.empty((R, E, E)), np.empty((R, plan.n_pairs))
    # the information as its distinct pairs (see expand_information)
    grad, hess, info = out
    size = buffers.size
    for start in range(0, R, size):
        sl = slice(start, min(start + size, R))
        _block(plan, p, Sigma[sl], B[sl], C[sl], W[sl], S[sl], grad[sl], hess[sl], info[sl], buffers)
    if plan.identity:
        return grad, hess, info
    F = plan.F
    # grad[:, None, :] @ F: one vector-matrix product per replicate (a 2-D product across
    # replicates would be blocked, and rounded, by the batch size)
    return np.matmul(grad[:, None, :], F)[:, 0, :], F.T @ hess @ F, info


def expand_information(plan: MLPlan, pairs: np.ndarray) -> np.ndarray:
    """The (R, k, k) information from its distinct entry pairs (R, n) (``_derivatives``)."""
    R, E = pairs.shape[0], plan.E
    info = np.take(pairs, plan.expand, axis=1, mode=_VALID).reshape(R, E, E)
    return info if plan.identity else plan.F.T @ info @ plan.F


def _block(plan: MLPlan, p: int, Sigma, B, C, W, S, grad, hess, info, buf: _Buffers) -> None:
    """One block's gradient, Hessian and information, written into ``grad``, ``hess``, ``info``."""
    r = Sigma.shape[0]
    work = buf.work[:r]
    M = W @ (Sigma - S) @ W
    K = np.take(np.concatenate([B[:, :p, :], C[:, :p, :]], axis=2), plan.cols, axis=2, mode=_VALID)   # (r, p, u)
    Kt = np.ascontiguousarray(np.swapaxes(K, 1, 2))
    w2 = plan.u * plan.u
    work[:, :w2] = (Kt @ W @ K).reshape(r, -1)
    work[:, w2:2 * w2] = (Kt @ M @ K).reshape(r, -1)
    if plan.has_path:
        mm = plan.m * plan.m
        work[:, 2 * w2:2 * w2 + mm] = B.reshape(r, -1)
        work[:, 2 * w2 + mm:] = C.reshape(r, -1)
    n, n_pp, n_pc = plan.n_pairs, plan.n_pp, plan.n_pc
    g = buf.g[:r]
    np.take(work, plan.index, axis=1, out=g, mode=_VALID)
    t = g[:, :8 * n].reshape(r, 8, n)
    fisher, curv = buf.fisher[:r], buf.curv[:r]
    # tr(W D_a W D_b) and tr(M D_a W D_b) + tr(W D_a M D_b), each up to 2 c_a c_b
    np.einsum("rkn,rkn->rn", t[:, 0:2], t[:, 3:1:-1], out=fisher)
    np.einsum("rkn,rkn->rn", t[:, 0:4], t[:, 4:8], out=curv)
    fisher *= plan.cc
    curv *= plan.cc
    np.subtract(fisher, curv, out=curv)          # curv now holds the Hessian's pairs
    # + tr(M D_ab): pairs of two paths, then of a path and a covariance
    at = 8 * n
    if n_pp:
        x = g[:, at:at + 6 * n_pp].reshape(r, 6, n_pp)
        sec = buf.tmp[:r, :n_pp]
        np.einsum("rkn,rkn->rn", x[:, 0::2], x[:, 1::2], out=sec)
        sec *= 2.0
        curv[:, :n_pp] += sec
        at += 6 * n_pp
    if n_pc:
        x = g[:, at:at + 4 * n_pc].reshape(r, 4, n_pc)
        sec = buf.tmp[:r, :n_pc]
        np.einsum("rkn,rkn->rn", x[:, 0::2], x[:, 1::2], out=sec)
        sec *= plan.pc_scale
        curv[:, n_pp:n_pp + n_pc] += sec
        at += 4 * n_pc
    np.multiply(plan.c2, g[:, at:], out=grad)
    E = plan.E
    np.take(curv, plan.expand, axis=1, out=hess.reshape(r, E * E), mode=_VALID)
    info[...] = fisher


def ml_discrepancy(struct: RamStructure, theta: np.ndarray, S: np.ndarray) -> np.ndarray:
    """``F_ML`` of each row of ``theta`` against each ``S`` (inf when Sigma is not PD)."""
    S = np.asarray(S, dtype=float)
    theta = np.atleast_2d(theta)
    return MLObjective(struct, S).evaluate(theta, np.arange(S.shape[0]))[0]


def ml_gradient_hessian(struct: RamStructure, theta: np.ndarray, S: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradient, exact Hessian and expected information of F_ML in the free parameters:
    arrays of shapes (R, k), (R, k, k) and (R, k, k)."""
    S = np.asarray(S, dtype=float)
    theta = np.atleast_2d(theta)
    return MLObjective(struct, S).derivatives(theta, np.arange(S.shape[0]))
