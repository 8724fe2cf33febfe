"""Batched ML fitting of many covariance matrices at once (the bootstrap's engine).

Each replicate is an honest full ML fit: Newton's method with the exact analytic
Hessian of ``F_ML`` (quadratic convergence from the warm start at the full-sample
estimate), Fisher scoring where the Hessian does not give a descent direction,
step-halving, and a per-replicate stopping rule on the Newton decrement (the predicted
decrease of ``F``). Replicates that do not converge here are retried together from
other starts with a bounded Newton budget each (:func:`fit_batch`); those that still fail
are reported.

Every operation is replicate by replicate (stacked ``matmul``/``linalg`` on small
matrices, elementwise arithmetic), never a matrix product across replicates, so a
replicate's numbers are bit-identical whichever batch it is fitted in.

Derivatives use the rank-two form of ``dSigma/d(entry)`` kept by
:class:`~lcsem.engine.ram.RamStructure`; second derivatives of ``Sigma`` with respect to
two path entries ``A[i, j]``, ``A[k, l]`` and to a path and a covariance entry are
gathered from ``B``, ``C``, ``B' M B`` and ``C M B`` (``M = W (Sigma - S) W``,
``W = Sigma^-1``), so that the Hessian of a batch costs a few small matrix products.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ram import RamStructure
from .starts import simple_starts

__all__ = ["BatchFit", "fit_batch", "ml_discrepancy", "ml_gradient_hessian", "cholesky_factors", "RETRY_ITER",
           "RETRY_STARTS"]


@dataclass
class BatchFit:
    """Outcome of :func:`fit_batch` for R covariance matrices."""

    theta: np.ndarray        # (R, k)
    fmin: np.ndarray         # (R,) F_ML at theta (inf when it could not be evaluated)
    Sigma: np.ndarray        # (R, p, p) implied covariance at theta
    converged: np.ndarray    # (R,) bool
    iterations: np.ndarray   # (R,) int (Newton iterations, plus retry iterations)
    retried: np.ndarray      # (R,) bool: the fast path failed and minimize() was used


@dataclass
class _State:
    Sigma: np.ndarray
    B: np.ndarray
    C: np.ndarray
    W: np.ndarray
    f: np.ndarray


def _evaluate(struct: RamStructure, theta: np.ndarray, S: np.ndarray, logdet_S: np.ndarray) -> _State:
    """F_ML and the matrices needed for the next derivatives; f = inf where Sigma is not PD."""
    Sigma, B, C = struct.implied(theta)
    p = struct.p
    # positive definiteness by Cholesky (the sign of the determinant is not enough: two
    # negative eigenvalues give a positive determinant)
    ok, L = cholesky_factors(Sigma)
    bad = ~ok
    safe = np.where(bad[:, None, None], np.eye(p), Sigma) if bad.any() else Sigma
    with np.errstate(all="ignore"):
        logdet = 2.0 * np.sum(np.log(np.diagonal(L, axis1=1, axis2=2)), axis=1)
        W = np.linalg.inv(safe)
        trace = np.einsum("rij,rij->r", S, W)
        f = logdet + trace - logdet_S - p
    # F_ML >= 0 for every positive definite Sigma: a negative value means Sigma (or I - A)
    # is numerically singular and the point is unusable
    f = np.where(bad | ~np.isfinite(f) | (f < -1e-8), np.inf, f)
    return _State(Sigma, B, C, W, f)


def ml_discrepancy(struct: RamStructure, theta: np.ndarray, S: np.ndarray) -> np.ndarray:
    """``F_ML`` of each row of ``theta`` against each ``S`` (inf when Sigma is not PD)."""
    S = np.asarray(S, dtype=float)
    return _evaluate(struct, np.atleast_2d(theta), S, np.linalg.slogdet(S)[1]).f


class _Plan:
    """Index sets that turn a few (R, 2m, 2m) matrices into entry-level derivatives.

    With ``K = [B_o | C_o]`` (the observed rows of ``B`` and ``C``, shape (p, 2m)), the
    vectors of entry ``e`` are ``u_e = K[:, iu_e]`` and ``v_e = K[:, iv_e]``, so every
    product ``x' W y`` (x, y in {u, v}) is an element of ``K' W K``.
    """

    def __init__(self, struct: RamStructure):
        e = struct.free_entries
        m = struct.m
        self.c = e.scale
        self.cc = e.scale[:, None] * e.scale[None, :]
        iu = e.row
        iv = np.where(e.is_path, m + e.col, e.col)
        m2 = 2 * m

        def flat(a, b, width):
            return (a[:, None] * width + b[None, :]).ravel()

        self.uu, self.vv, self.uv, self.vu = flat(iu, iu, m2), flat(iv, iv, m2), flat(iu, iv, m2), flat(iv, iu, m2)
        self.diag_uv = iu * m2 + iv
        I, J = e.row, e.col
        path = e.is_path
        self.has_path = bool(path.any())

        def at(rows, cols, width):   # element [a, b] = X[rows[a, b], cols[a, b]]
            rows, cols = np.broadcast_arrays(rows, cols)
            return (rows * width + cols).ravel()

        # second derivatives for a = (i, j) a path, b = (k, l) a path (pp block) or a
        # covariance (ps block); they vanish for two covariances
        P, Cv = np.flatnonzero(path), np.flatnonzero(~path)
        self.P, self.Cv = P, Cv
        self.pp_rows, self.pp_cols = P[:, None], P[None, :]
        self.ps_rows, self.ps_cols = P[:, None], Cv[None, :]
        Ip, Jp = I[P], J[P]
        Ik, Jk = I[Cv], J[Cv]
        # pp: 2 [B_jk Q_li + B_li Q_jk + G_ik C_jl]   (Q = C M B = rows m.. of K'MK, G = B'MB)
        self.pp_idx = dict(B_jk=at(Jp[:, None], Ip[None, :], m), Q_li=at(m + Jp[None, :], Ip[:, None], m2),
                           B_li=at(Jp[None, :], Ip[:, None], m), Q_jk=at(m + Jp[:, None], Ip[None, :], m2),
                           G_ik=at(Ip[:, None], Ip[None, :], m2), C_jl=at(Jp[:, None], Jp[None, :], m))
        # ps: 2 c_b [B_jk G_li + B_jl G_ki]
        self.ps_idx = dict(B_jk=at(Jp[:, None], Ik[None, :], m), G_li=at(Jk[None, :], Ip[:, None], m2),
                           B_jl=at(Jp[:, None], Jk[None, :], m), G_ki=at(Ik[None, :], Ip[:, None], m2))
        self.ps_scale = e.scale[Cv][None, None, :]
        self.E = len(I)
        F = struct.free_map
        self.identity = F.shape[0] == F.shape[1] and np.array_equal(F, np.eye(F.shape[0]))
        self.F = F


def _gather(X: np.ndarray, flat_idx: np.ndarray, E: int) -> np.ndarray:
    R = X.shape[0]
    return np.take(X.reshape(R, -1), flat_idx, axis=1).reshape(R, E, E)


def _plan(struct: RamStructure) -> _Plan:
    plan = getattr(struct, "_lcsem_bootstrap_plan", None)
    if plan is None:
        plan = _Plan(struct)
        struct._lcsem_bootstrap_plan = plan   # cache on the structure (pure function of it)
    return plan


def ml_gradient_hessian(struct: RamStructure, theta: np.ndarray, S: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradient, exact Hessian and expected information of F_ML in the free parameters.

    Returns arrays of shapes (R, k), (R, k, k) and (R, k, k).
    """
    S = np.asarray(S, dtype=float)
    st = _evaluate(struct, np.atleast_2d(theta), S, np.linalg.slogdet(S)[1])
    return _derivatives(struct, st, S)


def _derivatives(struct: RamStructure, st: _State, S: np.ndarray):
    """Gradient, exact Hessian and Fisher information of F_ML at the state ``st``."""
    plan = _plan(struct)
    p, E = struct.p, plan.E
    W = st.W
    M = W @ (st.Sigma - S) @ W
    K = np.concatenate([st.B[:, :p, :], st.C[:, :p, :]], axis=2)        # (R, p, 2m)
    Kt = np.ascontiguousarray(np.swapaxes(K, 1, 2))
    GW = Kt @ W @ K
    GM = Kt @ M @ K
    R = K.shape[0]
    if R == 0:
        k = struct.k
        return np.zeros((0, k)), np.zeros((0, k, k)), np.zeros((0, k, k))
    grad = 2.0 * plan.c[None, :] * np.take(GM.reshape(R, -1), plan.diag_uv, axis=1)
    # element [a, b] of x'Wy (x, y in {u, v}); gathered contiguous (no transposed views)
    w_uu, w_vv, w_uv, w_vu = (_gather(GW, i, E) for i in (plan.uu, plan.vv, plan.uv, plan.vu))
    m_uu, m_vv, m_uv, m_vu = (_gather(GM, i, E) for i in (plan.uu, plan.vv, plan.uv, plan.vu))
    # Fisher part tr(W D_a W D_b)
    fisher = w_vu * w_uv
    fisher += w_uu * w_vv
    fisher *= 2.0 * plan.cc
    # - tr(M D_a W D_b) - tr(W D_a M D_b) = -2 t1 (t1 is symmetric)
    t1 = w_vu * m_uv
    t1 += w_vv * m_uu
    t1 += w_uu * m_vv
    t1 += w_uv * m_vu
    t1 *= 2.0 * plan.cc
    hess = fisher - t1
    if plan.has_path:
        nP, nC = plan.P.size, plan.Cv.size
        B, C = st.B, st.C

        def g(X, idx, cols):
            return np.take(X.reshape(R, -1), idx, axis=1).reshape(R, nP, cols)

        q = plan.pp_idx
        pp = 2.0 * (g(B, q["B_jk"], nP) * g(GM, q["Q_li"], nP) + g(B, q["B_li"], nP) * g(GM, q["Q_jk"], nP)
                    + g(GM, q["G_ik"], nP) * g(C, q["C_jl"], nP))
        hess[:, plan.pp_rows, plan.pp_cols] += pp
        if nC:
            q = plan.ps_idx
            ps = 2.0 * plan.ps_scale * (g(B, q["B_jk"], nC) * g(GM, q["G_li"], nC)
                                        + g(B, q["B_jl"], nC) * g(GM, q["G_ki"], nC))
            hess[:, plan.ps_rows, plan.ps_cols] += ps
            hess[:, plan.ps_cols.T, plan.ps_rows.T] += np.swapaxes(ps, 1, 2)
    if plan.identity:
        return grad, hess, fisher
    F = plan.F
    # grad[:, None, :] @ F: one vector-matrix product per replicate (a 2-D product across
    # replicates would be blocked, and rounded, by the batch size)
    return np.matmul(grad[:, None, :], F)[:, 0, :], F.T @ hess @ F, F.T @ fisher @ F


def _take(st: _State, idx) -> _State:
    return _State(st.Sigma[idx], st.B[idx], st.C[idx], st.W[idx], st.f[idx])


def _put(st: _State, idx, new: _State) -> None:
    st.Sigma[idx], st.B[idx], st.C[idx], st.W[idx], st.f[idx] = new.Sigma, new.B, new.C, new.W, new.f


def _solve(A: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Solve A x = -b per replicate; rows whose system is singular get NaN (ok=False)."""
    try:
        x = -np.linalg.solve(A, b[..., None])[..., 0]
        ok = np.all(np.isfinite(x), axis=1)
        return x, ok
    except np.linalg.LinAlgError:
        x = np.full_like(b, np.nan)
        ok = np.zeros(b.shape[0], dtype=bool)
        for r in range(b.shape[0]):
            try:
                x[r] = -np.linalg.solve(A[r], b[r])
                ok[r] = bool(np.all(np.isfinite(x[r])))
            except np.linalg.LinAlgError:
                pass
        return x, ok


def _cholesky_screen(H: np.ndarray) -> np.ndarray:
    """A permissive, vectorised Cholesky pass: False only for matrices that are certainly
    not positive definite (a pivot below -1e-8 of its diagonal element, far beyond the
    rounding by which two Cholesky implementations differ). Used to avoid one LAPACK call
    per failing matrix; the verdict itself is always LAPACK's."""
    R, k = H.shape[0], H.shape[-1]
    L = np.zeros_like(H)
    keep = np.ones(R, dtype=bool)
    diag = np.diagonal(H, axis1=1, axis2=2)
    with np.errstate(all="ignore"):
        for j in range(k):
            Lj = L[:, j, :j]
            d = H[:, j, j] - np.einsum("rm,rm->r", Lj, Lj)
            keep &= d > -1e-8 * diag[:, j]
            root = np.sqrt(np.maximum(np.abs(d), 1e-300))
            L[:, j, j] = root
            if j + 1 < k:
                L[:, j + 1:, j] = (H[:, j + 1:, j] - np.einsum("rim,rm->ri", L[:, j + 1:, :j], Lj)) / root[:, None]
    return keep & np.all(np.isfinite(L), axis=(1, 2))


def cholesky_factors(H: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cholesky factors of a (R, k, k) stack and whether each exists (identity where not).

    Each matrix is judged by its own LAPACK Cholesky factorisation, so the verdict never
    depends on the other matrices of the batch (an eigenvalue fallback for some blocks
    would judge borderline matrices differently). One batched call when every matrix is
    positive definite; otherwise a vectorised screen drops the matrices that are certainly
    not, and the rest is factorised again, bisected only where a failing matrix slipped
    through the screen.
    """
    R, k = H.shape[0], H.shape[-1]
    ok = np.zeros(R, dtype=bool)
    L = np.broadcast_to(np.eye(k), H.shape).copy()
    # a non-finite entry or a non-positive diagonal element fails Cholesky for certain
    # (its pivot is at most that element): screened out without a call
    candidates = np.flatnonzero(np.all(np.isfinite(H), axis=(1, 2))
                                & np.all(np.diagonal(H, axis1=1, axis2=2) > 0, axis=1))

    def split(idx: np.ndarray, screened: bool) -> None:
        try:
            factor = np.linalg.cholesky(H[idx])
        except np.linalg.LinAlgError:
            if not screened:
                split(idx[_cholesky_screen(H[idx])], True)
            elif idx.size > 1:
                half = idx.size // 2
                split(idx[:half], True)
                split(idx[half:], True)
            return
        good = np.all(np.isfinite(factor), axis=(1, 2))
        ok[idx[good]] = True
        L[idx[good]] = factor[good]

    if candidates.size:
        split(candidates, False)
    return ok, L


def _positive_definite(H: np.ndarray) -> np.ndarray:
    """Whether each matrix of a (R, k, k) stack is positive definite (by Cholesky)."""
    return cholesky_factors(H)[0]


def _newton(struct: RamStructure, S: np.ndarray, theta0: np.ndarray, tol: float, max_iter: int,
            max_halvings: int, quick_tol: float = 1e-7):
    R, k = S.shape[0], struct.k
    logdet_S = np.linalg.slogdet(S)[1]
    theta = np.array(np.broadcast_to(theta0, (R, k)), dtype=float)
    st = _evaluate(struct, theta, S, logdet_S)
    converged = np.zeros(R, dtype=bool)
    failed = ~np.isfinite(st.f) | ~np.isfinite(logdet_S)
    iterations = np.zeros(R, dtype=int)
    use_fisher = np.zeros(R, dtype=bool)
    if k == 0:
        return theta, st, ~failed, iterations
    for _ in range(max_iter):
        active = np.flatnonzero(~converged & ~failed)
        if active.size == 0:
            break
        sa = _take(st, active)
        Sa = S[active]
        grad, hess, info = _derivatives(struct, sa, Sa)
        pd = _positive_definite(hess)
        step, ok_n = _solve(hess, grad)
        slope = np.einsum("rk,rk->r", grad, step)
        # Newton where the Hessian is positive definite (and the last Newton step from
        # here was not refused by the line search); Fisher scoring elsewhere
        newton = pd & ok_n & (slope < 0) & ~use_fisher[active]
        bad_dir = np.zeros(active.size, dtype=bool)
        other = np.flatnonzero(~newton)
        if other.size:
            d_fisher, ok_f = _solve(info[other], grad[other])
            step[other] = d_fisher
            slope[other] = np.einsum("rk,rk->r", grad[other], d_fisher)
            bad_dir[other] = ~ok_f
        bad_dir |= ~np.all(np.isfinite(step), axis=1) | ~(slope <= 0)
        decrement = -slope
        max_grad = np.max(np.abs(grad), axis=1)
        small = ~bad_dir & ((np.abs(decrement) <= tol * np.maximum(1.0, sa.f)) | (max_grad <= 1e-12))
        # a stationary point is a minimum only where the Hessian is positive definite;
        # saddle points go to the retry path
        done = small & pd
        converged[active[done]] = True
        failed[active[bad_dir | (small & ~pd)]] = True
        go = np.flatnonzero(~done & ~bad_dir)
        if go.size == 0:
            continue
        rows = active[go]
        iterations[rows] += 1
        th, stp, f_old, slp = theta[rows], step[go], sa.f[go], slope[go]
        alpha = np.ones(go.size)
        pending = np.arange(go.size)
        accepted = np.zeros(go.size, dtype=bool)
        for _h in range(max_halvings):
            trial = th[pending] + alpha[pending, None] * stp[pending]
            new = _evaluate(struct, trial, Sa[go[pending]], logdet_S[rows[pending]])
            ok = new.f <= f_old[pending] + 1e-4 * alpha[pending] * slp[pending] + 1e-14 * (1.0 + np.abs(f_old[pending]))
            take = pending[ok]
            theta[rows[take]] = trial[ok]
            _put(st, rows[take], _take(new, np.flatnonzero(ok)))
            accepted[take] = True
            pending = pending[~ok]
            if pending.size == 0:
                break
            alpha[pending] *= 0.5
        # quadratic convergence: after a full Newton step whose decrement was below
        # quick_tol the next decrement would be of order quick_tol**2 (F to ~1e-12 relative,
        # parameters to well under 1e-3 of their bootstrap SD): stop here
        quick = accepted & newton[go] & (alpha == 1.0) & (decrement[go] <= quick_tol * np.maximum(1.0, f_old))
        converged[rows[quick]] = True
        stuck = rows[~accepted]
        # a Newton direction that cannot be followed: Fisher scoring next time; if a
        # Fisher step cannot decrease F either, the replicate sits at a numerical optimum
        # (tiny decrement) or goes to the retry path
        use_fisher[rows[accepted]] = False
        was_newton = newton[go][~accepted]
        use_fisher[stuck[was_newton]] = True
        flat = (~was_newton & pd[go][~accepted]
                & (decrement[go][~accepted] <= 1e-9 * np.maximum(1.0, f_old[~accepted])))
        converged[stuck[~was_newton & flat]] = True
        failed[stuck[~was_newton & ~flat]] = True
    return theta, st, converged, iterations


RETRY_ITER = 40
RETRY_HALVINGS = 8
RETRY_STARTS = ("the fast path's end point", "simple starting values",
                "the fast path's end point with observed residual variances reset",
                "the full-sample estimate with observed residual variances reset")


def _reset_observed_variances(struct: RamStructure, theta: np.ndarray, S: np.ndarray) -> np.ndarray:
    """Starts with every free observed residual variance set to half the replicate's
    sample variance (lavaan's simple rule) and the other parameters kept: it moves a
    start away from a Heywood boundary without losing its loadings and paths."""
    out = np.array(theta, dtype=float)
    e = struct.row_entries
    for row in np.flatnonzero((struct.row_free >= 0) & ~e.is_path & (e.row == e.col) & (e.row < struct.p)):
        i = e.row[row]
        out[:, struct.row_free[row]] = 0.5 * S[:, i, i]
    return out


def fit_batch(struct: RamStructure, S: np.ndarray, theta0: np.ndarray, *, tol: float = 1e-12,
              max_iter: int = 20, max_halvings: int = 12, retry: bool = True) -> BatchFit:
    """Fit the model to every covariance matrix in ``S`` (shape (R, p, p), N denominator).

    Every step is computed replicate by replicate (stacked linear algebra), so a
    replicate's result does not depend on the other replicates of the batch.

    Parameters
    ----------
    struct
        The model's RAM structure.
    S
        Sample covariance matrices, one per replicate.
    theta0
        Warm start (k,) or (R, k), usually the full-sample estimate.
    tol
        Stop a replicate when the Newton decrement (predicted decrease of F_ML) is below
        ``tol * max(1, F)`` or its largest gradient is below 1e-12.
    max_iter, max_halvings
        Newton iterations and step-halvings per iteration on the fast path (most
        replicates converge in 5-10 from the warm start; the others go to the retries).
    retry
        Refit replicates that did not converge from four starts (:data:`RETRY_STARTS`:
        the fast path's end point, simple starting values, and two starts with the observed
        residual variances moved off a Heywood boundary), all replicates and starts in one
        batch with a bounded
        budget of :data:`RETRY_ITER` Newton iterations: a hopeless replicate costs a
        bounded amount of work. The converged solution with the lowest discrepancy is
        kept only when no lower value was reached anywhere for that replicate (a local
        optimum above a diverging path is not the ML estimate).
    """
    S = np.asarray(S, dtype=float)
    theta0 = np.asarray(theta0, dtype=float)
    theta, st, converged, iterations = _newton(struct, S, theta0, tol, max_iter, max_halvings)
    retried = np.zeros(S.shape[0], dtype=bool)
    logdet_S = np.linalg.slogdet(S)[1]
    todo = np.flatnonzero(~converged & np.isfinite(logdet_S))
    if retry and todo.size:
        retried[todo] = True
        n, m = todo.size, len(RETRY_STARTS)
        Sb = S[todo]
        warm = np.broadcast_to(theta0, (S.shape[0], struct.k))[todo]
        # every start of every retried replicate in one batch (start-major), so the
        # ladder costs RETRY_ITER iterations in all, not per start
        starts = np.concatenate([theta[todo],
                                 np.stack([simple_starts(struct, s) for s in Sb]),
                                 _reset_observed_variances(struct, theta[todo], Sb),
                                 _reset_observed_variances(struct, warm, Sb)])
        th, new, ok, its = _newton(struct, np.concatenate([Sb] * m), starts, tol, RETRY_ITER, RETRY_HALVINGS)
        iterations[todo] += its.reshape(m, n).sum(axis=0)
        f_new = np.where(np.isfinite(new.f), new.f, np.inf).reshape(m, n)
        f_ok = np.where(ok.reshape(m, n), f_new, np.inf)
        best = np.argmin(f_ok, axis=0)                 # the first start on ties
        f_best = f_ok[best, np.arange(n)]
        # the lowest discrepancy reached anywhere (fast path, every retry's end point)
        lowest = np.minimum(np.where(np.isfinite(st.f[todo]), st.f[todo], np.inf), f_new.min(axis=0))
        keep = np.isfinite(f_best) & (f_best <= lowest + 1e-9 * (1.0 + np.abs(f_best)))
        pick = best[keep] * n + np.flatnonzero(keep)
        rows = todo[keep]
        theta[rows] = th[pick]
        converged[rows] = True
        _put(st, rows, _take(new, pick))
    f = np.where(converged, st.f, np.inf)
    return BatchFit(theta=theta, fmin=f, Sigma=st.Sigma, converged=converged & np.isfinite(f),
                    iterations=iterations, retried=retried)
