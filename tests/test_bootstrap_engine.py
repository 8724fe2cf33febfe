"""The batched replicate engine: exact derivatives and honest optima."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize

from lcsem.engine.batch import fit_batch, ml_discrepancy, ml_gradient_hessian
from lcsem.resampling.resample import counts_from_indices, covariances_from_counts, resample_indices
from lcsem.engine import information, minimize


def _resampled_covariances(res, n_resamples, seed):
    X = res.data.to_numpy()
    X = X - X.mean(axis=0)
    idx = resample_indices(np.random.SeedSequence(seed), n_resamples, X.shape[0])
    return covariances_from_counts(X, counts_from_indices(idx, X.shape[0])), idx


@pytest.mark.parametrize("name", ["holzinger_swineford", "political_democracy", "learning_culture_survey"])
def test_gradient_and_hessian_match_finite_differences(fitted, name):
    res = fitted[name]
    struct = res.structure
    S = res.sample_cov.to_numpy()[None]
    theta = res.theta + 0.03 * np.random.default_rng(0).standard_normal(struct.k)
    grad, hess, info = ml_gradient_hessian(struct, theta[None], S)
    h = 1e-5
    num_grad = np.empty(struct.k)
    num_hess = np.empty((struct.k, struct.k))
    for a in range(struct.k):
        e = np.zeros(struct.k)
        e[a] = h
        num_grad[a] = (ml_discrepancy(struct, (theta + e)[None], S)[0]
                       - ml_discrepancy(struct, (theta - e)[None], S)[0]) / (2 * h)
        num_hess[a] = (ml_gradient_hessian(struct, (theta + e)[None], S)[0][0]
                       - ml_gradient_hessian(struct, (theta - e)[None], S)[0][0]) / (2 * h)
    scale = np.abs(num_hess).max()
    np.testing.assert_allclose(grad[0], num_grad, atol=1e-6 * max(1.0, np.abs(num_grad).max()))
    np.testing.assert_allclose(hess[0], num_hess, atol=1e-6 * scale)
    np.testing.assert_allclose(info, information(struct, theta[None]), rtol=1e-10, atol=1e-12)


def test_discrepancy_is_infinite_for_indefinite_sigma(fitted):
    """Two negative eigenvalues give a positive determinant: the check must not be fooled."""
    res = fitted["holzinger_swineford"]
    struct = res.structure
    theta = np.array(res.theta)
    rows = [i for i, r in enumerate(struct.rows) if r.op == "~~" and r.lhs == r.rhs and r.lhs in ("x1", "x2")]
    for i in rows:
        theta[struct.row_free[i]] = -50.0
    Sigma = struct.implied(theta[None])[0][0]
    assert np.linalg.det(Sigma) > 0 and np.linalg.eigvalsh(Sigma)[0] < 0
    assert np.isinf(ml_discrepancy(struct, theta[None], res.sample_cov.to_numpy()[None])[0])


@pytest.mark.parametrize("name", ["holzinger_swineford", "political_democracy"])
def test_replicate_optima_match_independent_tight_refits(fitted, name):
    res = fitted[name]
    struct = res.structure
    S, _ = _resampled_covariances(res, 60, seed=5)
    fast = fit_batch(struct, S, res.theta)
    assert fast.converged.mean() > 0.95
    # independent refit: the core's Fisher scoring (another algorithm: no Hessian, its
    # own line search and stopping rule) run to a tight tolerance
    ref = minimize(struct, S, np.broadcast_to(res.theta, (S.shape[0], struct.k)), max_iter=3000, tol=1e-13)
    f_ref = np.where(ref.converged, ref.fmin, np.inf)
    both = fast.converged & np.isfinite(f_ref)
    assert both.sum() > 0.9 * S.shape[0]
    rel = np.abs(fast.fmin[both] - f_ref[both]) / f_ref[both]
    assert rel.max() < 1e-6
    # the fast path never reports a value below the true minimum (no spurious optima)
    assert np.all(fast.fmin[both] >= f_ref[both] * (1 - 1e-9))
    # and the minimum is also that of a generic quasi-Newton refit (scipy BFGS) on a few
    for r in np.flatnonzero(both)[:3]:
        out = optimize.minimize(lambda t: ml_discrepancy(struct, t[None], S[r:r + 1])[0], res.theta,
                                jac=lambda t: ml_gradient_hessian(struct, t[None], S[r:r + 1])[0][0],
                                method="BFGS", options={"gtol": 1e-10, "maxiter": 5000})
        assert fast.fmin[r] <= out.fun * (1 + 1e-6)


def test_full_sample_fit_is_reproduced(fitted):
    res = fitted["learning_culture_survey"]
    S = res.sample_cov.to_numpy()[None]
    out = fit_batch(res.structure, S, res.theta + 0.05)
    assert out.converged[0]
    chisq = res.n_obs * out.fmin[0]
    assert chisq == pytest.approx(res.fit_indices["chisq"], rel=1e-8)
    np.testing.assert_allclose(out.theta[0], res.theta, atol=1e-6)


def test_singular_resample_is_not_fitted(fitted):
    res = fitted["holzinger_swineford"]
    S = np.stack([res.sample_cov.to_numpy(), np.zeros((9, 9))])
    out = fit_batch(res.structure, S, res.theta)
    assert out.converged.tolist() == [True, False]


def test_retry_path_refits_replicates_the_fast_path_leaves(fitted):
    """With a single Newton iteration allowed, every replicate goes to the retry path
    (the core optimiser from the full-sample estimate and from simple starts)."""
    res = fitted["holzinger_swineford"]
    S, _ = _resampled_covariances(res, 20, seed=2)
    full = fit_batch(res.structure, S, res.theta)
    retried = fit_batch(res.structure, S, res.theta, max_iter=1)
    assert retried.retried.all() and not full.retried[:5].any()
    ok = retried.converged & full.converged
    assert ok.sum() >= 18
    np.testing.assert_allclose(retried.fmin[ok], full.fmin[ok], rtol=1e-6)
    no_retry = fit_batch(res.structure, S, res.theta, max_iter=1, retry=False)
    assert not no_retry.converged.any() and np.isinf(no_retry.fmin).all()


def test_retry_ladder_rescues_a_heywood_start_within_its_budget(fitted, monkeypatch):
    """A start with negative residual variances (Sigma not PD: the fast path fails at
    once) and useless simple starts: the start with observed variances reset rescues
    every replicate, within the bounded budget, at the optimum of a healthy start."""
    from lcsem.engine import batch as engine

    res = fitted["holzinger_swineford"]
    struct = res.structure
    S, _ = _resampled_covariances(res, 4, seed=4)
    bad = np.array(res.theta, dtype=float)
    e = struct.row_entries
    variances = (struct.row_free >= 0) & ~e.is_path & (e.row == e.col) & (e.row < struct.p)
    bad[struct.row_free[variances]] = -5.0
    monkeypatch.setattr(engine, "simple_starts", lambda st, s: np.zeros(st.k))
    out = engine.fit_batch(struct, S, bad)
    assert out.retried.all() and out.converged.all()
    assert out.iterations.max() <= 20 + len(engine.RETRY_STARTS) * engine.RETRY_ITER
    ref = engine.fit_batch(struct, S, res.theta)
    np.testing.assert_allclose(out.fmin, ref.fmin, rtol=1e-8)


def test_a_local_optimum_above_a_diverging_path_is_not_reported(fitted, monkeypatch):
    """A start that converges to a stationary point whose discrepancy is above the lowest
    value already reached is not the ML estimate: the replicate stays failed."""
    from lcsem.engine import batch as engine

    res = fitted["holzinger_swineford"]
    struct = res.structure
    S, _ = _resampled_covariances(res, 3, seed=6)
    real_fast_path = engine.fast_path
    calls = {"n": 0}

    def fast_path(struct_, S_, theta0, **kwargs):
        calls["n"] += 1
        fitted = real_fast_path(struct_, S_, theta0, **kwargs)
        if calls["n"] == 1:            # the fast path: pretend it stalled below every optimum
            fitted.fmin[:] = fitted.fmin - 1.0
            fitted.converged[:] = False
        return fitted

    monkeypatch.setattr(engine, "fast_path", fast_path)
    out = engine.fit_batch(struct, S, res.theta)
    assert out.retried.all() and not out.converged.any() and np.isinf(out.fmin).all()




def test_cholesky_verdicts_are_each_matrix_own_whatever_the_batch():
    """Positive definiteness is LAPACK's Cholesky verdict on each matrix alone, and its
    factor is the same, whichever other matrices share the batch (bit-identity)."""
    from lcsem.engine.batch import cholesky_factors

    rng = np.random.default_rng(3)
    mats = []
    for i in range(60):
        A = rng.standard_normal((6, 6))
        w = rng.uniform(0.1, 2.0, 6)
        if i % 3 == 1:
            w[:2] = [-0.3, -0.2]          # indefinite with a positive determinant
        elif i % 3 == 2:
            w[0] = 1e-17                  # numerically singular
        Q = np.linalg.qr(A)[0]
        mats.append((Q * w) @ Q.T)
    H = np.stack(mats)
    alone = []
    for M in H:
        try:
            np.linalg.cholesky(M)
            alone.append(True)
        except np.linalg.LinAlgError:
            alone.append(False)
    ok, L = cholesky_factors(H)
    assert ok.tolist() == alone and 0 < ok.sum() < len(H)
    for size in (1, 7, 25):
        for start in range(0, len(H), size):
            part_ok, part_L = cholesky_factors(H[start:start + size])
            assert np.array_equal(part_ok, ok[start:start + size])
            assert np.array_equal(part_L, L[start:start + size])
