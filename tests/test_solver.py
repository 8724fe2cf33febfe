"""The one batched solver (engine/solve.py), its fused ML objective (engine/ml.py) and the
stacked linear algebra that marks failing matrices (engine/linalg.py)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from lcsem.engine import linalg
from lcsem.engine.batch import BatchFit, fast_path, fit_batch, retry_unconverged
from lcsem.engine.fiml import FIMLObjective  # noqa: F401  (the FIML objective keeps importing)
from lcsem.engine.ml import MLObjective, ml_plan
from lcsem.engine.optimize import CovarianceObjective, fisher_scoring
from lcsem.engine.ram import RamStructure
from lcsem.engine.objective import Objective, Steps
from lcsem.engine.solve import NEWTON, SCORING, solve
from lcsem.exceptions import NonAdmissibleWarning
from lcsem.resampling.resample import counts_from_indices, covariances_from_counts, resample_indices
from lcsem.spec.model import Model


def _resampled(res, n, seed):
    X = res.data.to_numpy()
    X = X - X.mean(axis=0)
    idx = resample_indices(np.random.SeedSequence(seed), n, X.shape[0])
    return covariances_from_counts(X, counts_from_indices(idx, X.shape[0]))


@pytest.fixture(scope="module")
def near_heywood():
    """A two-factor CFA on 60 cases whose first loadings are .95 and .94: many resamples
    cross near-Heywood regions, where the fast path parks replicates and the retry ladder
    runs (the reference data rarely reach it)."""
    import pandas as pd

    import lcsem

    rng = np.random.default_rng(7)
    lam = np.array([[0.95, 0.6, 0.5, 0, 0, 0], [0, 0, 0, 0.94, 0.55, 0.45]]).T
    Sigma = lam @ np.array([[1.0, 0.5], [0.5, 1.0]]) @ lam.T
    Sigma += np.diag(1.0 - np.diag(Sigma))
    X = rng.multivariate_normal(np.zeros(6), Sigma, size=60)
    data = pd.DataFrame(X, columns=[f"y{i}" for i in range(1, 7)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonAdmissibleWarning)    # a Heywood case: the point
        return lcsem.fit("f1 =~ y1 + y2 + y3\nf2 =~ y4 + y5 + y6", data)


def _stack_with_failures(k=7, n=40, seed=3):
    rng = np.random.default_rng(seed)
    mats = []
    for i in range(n):
        Q = np.linalg.qr(rng.standard_normal((k, k)))[0]
        w = rng.uniform(0.2, 2.0, k)
        if i == n // 2:
            w[:2] = [-0.5, -0.1]            # indefinite, positive determinant
        mats.append((Q * w) @ Q.T)
    return np.stack(mats)


def test_one_failing_matrix_costs_no_per_block_fallback(monkeypatch):
    """A stack with one indefinite matrix is factorised in ONE stacked call: the failing
    matrix is marked, the others keep numpy's own factors, and no smaller block or single
    matrix is factorised again (the old code re-ran Cholesky on blocks and single matrices)."""
    H = _stack_with_failures()
    calls = []
    real = linalg._CHOLESKY

    def spy(X, **kw):
        calls.append(X.shape[0])
        return real(X, **kw)

    monkeypatch.setattr(linalg, "_CHOLESKY", spy)
    monkeypatch.setattr(np.linalg, "cholesky", lambda *a, **k: pytest.fail("per-matrix fallback"))
    ok, L = linalg.cholesky_factors(H)
    assert calls == [H.shape[0]]
    assert ok.tolist() == [i != H.shape[0] // 2 for i in range(H.shape[0])]
    monkeypatch.undo()
    for r in np.flatnonzero(ok):
        assert np.array_equal(L[r], np.linalg.cholesky(H[r]))
    assert np.array_equal(L[~ok][0], np.eye(H.shape[-1]))


def test_singular_system_marks_its_row_and_leaves_the_others_exact():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((9, 5, 5))
    A[4] = 0.0
    b = rng.standard_normal((9, 5))
    x, ok = linalg.solve_each(A, b)
    assert ok.tolist() == [r != 4 for r in range(9)]
    assert np.isnan(x[4]).all()
    for r in np.flatnonzero(ok):
        assert np.array_equal(x[r], -np.linalg.solve(A[r], b[r][:, None])[:, 0])


@pytest.mark.parametrize("k", [1, 4, 35])
def test_cholesky_solve_matches_lapack_and_does_not_depend_on_the_batch(k):
    """The Newton step from the Hessian's Cholesky factor equals LAPACK's solve to rounding,
    and each row's bits are the same in any batch (alone, in a slice, in the whole stack)."""
    rng = np.random.default_rng(k)
    X = rng.standard_normal((50, k, 3 * k))
    H = X @ np.swapaxes(X, 1, 2) / (3 * k) + 0.1 * np.eye(k)
    g = rng.standard_normal((50, k))
    ok, L = linalg.cholesky_factors(H)
    assert ok.all()
    x, finite = linalg.cholesky_solve(L, g)
    assert finite.all()
    np.testing.assert_allclose(x, -np.linalg.solve(H, g[..., None])[..., 0], rtol=1e-10, atol=1e-12)
    for start, size in ((0, 1), (7, 13), (49, 1)):
        assert np.array_equal(linalg.cholesky_solve(L[start:start + size], g[start:start + size])[0],
                              x[start:start + size])


def test_a_replicate_with_a_non_pd_hessian_does_not_change_the_others(fitted):
    """One replicate whose start has an indefinite Hessian in a batch (two loadings of a
    factor near 0: a saddle region, so its first steps are scoring steps): every replicate's
    fit, the bad one's included, is bit-identical to its fit alone."""
    res = fitted["holzinger_swineford"]
    struct = res.structure
    S = _resampled(res, 12, seed=11)
    starts = np.broadcast_to(res.theta, (12, struct.k)).copy()
    loadings = struct.row_free[(struct.row_free >= 0) & struct.row_entries.is_path]
    starts[5, loadings[:2]] *= 0.05
    objective = MLObjective(struct, S)
    assert np.isfinite(objective.value(starts, np.arange(12))).all()
    pd = linalg.cholesky_factors(objective.derivatives(starts, np.arange(12))[1])[0]
    assert not pd[5] and pd.sum() >= 6
    together = fit_batch(struct, S, starts)
    assert together.converged.all()
    for r in range(12):
        alone = fit_batch(struct, S[r:r + 1], starts[r:r + 1])
        assert np.array_equal(alone.theta[0], together.theta[r])
        assert alone.fmin[0] == together.fmin[r]
        assert np.array_equal(alone.Sigma[0], together.Sigma[r])


@pytest.mark.parametrize("name", ["holzinger_swineford", "political_democracy", "learning_culture_survey"])
def test_fused_model_moments_match_the_ram_structure(fitted, name):
    """B by the finite series (recursive models) or the inverse gives the structure's
    Sigma, B and C to rounding."""
    res = fitted[name]
    struct = res.structure
    theta = res.theta + 0.02 * np.random.default_rng(1).standard_normal((3, struct.k))
    plan = ml_plan(struct)
    for got, want in zip(plan.implied(struct, theta), struct.implied(theta)):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-14)


def test_nilpotency_of_the_path_matrix():
    def structure(text):
        model = Model.from_syntax(text)
        return RamStructure(model.rows, model.observed, model.latent)

    cfa = structure("f =~ a + b + c")
    chain = structure("f =~ a + b\ng =~ c + d\ng ~ f")
    observed = structure("y ~ x")
    long_chain = structure("y1 ~ x\ny2 ~ y1\ny3 ~ y2")
    too_long = structure("\n".join(f"y{i + 1} ~ y{i}" for i in range(7)))
    assert ml_plan(cfa).nilpotent == 2             # B = I + A
    assert ml_plan(chain).nilpotent == 3           # B = I + A + A^2
    assert ml_plan(observed).nilpotent == 2
    assert ml_plan(long_chain).nilpotent == 4      # B = I + A + A^2 + A^3
    assert ml_plan(too_long).nilpotent == 0        # A^6 != 0: the inverse is cheaper
    for struct in (long_chain, too_long):
        theta = 0.3 + 0.1 * np.random.default_rng(1).random((3, struct.k))
        Sigma, B, _ = ml_plan(struct).implied(struct, theta)
        np.testing.assert_allclose(Sigma, struct.implied(theta)[0], rtol=1e-13, atol=1e-13)


def test_one_loop_serves_the_scoring_and_the_fused_newton_objectives(fitted):
    """Fisher scoring on the generic covariance objective and Newton on the fused ML
    objective reach the same optimum through the same solver."""
    res = fitted["learning_culture_survey"]
    struct = res.structure
    S = _resampled(res, 6, seed=5)
    start = np.broadcast_to(res.theta, (6, struct.k))
    scoring = fisher_scoring(CovarianceObjective(struct, S, "ML"), start, tol=1e-12)
    newton = solve(MLObjective(struct, S), start, rules=NEWTON, exact=True, max_iter=50, tol=1e-14)
    scoring_on_fused = solve(MLObjective(struct, S), start, rules=SCORING, exact=False, tol=1e-12)
    assert scoring.converged.all() and newton.converged.all() and scoring_on_fused.converged.all()
    np.testing.assert_allclose(newton.theta, scoring.theta, atol=1e-6)
    np.testing.assert_allclose(newton.fmin, scoring.fmin, rtol=1e-10)
    np.testing.assert_allclose(scoring_on_fused.theta, scoring.theta, atol=1e-6)
    assert newton.iterations.max() < scoring.iterations.min()


def test_trying_several_step_lengths_at_once_changes_no_number(near_heywood, monkeypatch):
    """The batched line search (few replicates still halving: their next step lengths in
    one call; longer steps after a full scoring step in one call) takes the same steps as
    one length at a time, to the last bit, retries included."""
    from lcsem.engine.ml import MLObjective as Fused

    from lcsem.engine import solve as solve_module

    res = near_heywood
    S = _resampled(res, 300, seed=1)
    extended = []
    real_extrapolate = solve_module._extrapolate

    def counting(*args):
        alpha, f = real_extrapolate(*args)
        extended.append(int(np.sum(alpha > 1)))
        return alpha, f

    monkeypatch.setattr(solve_module, "_extrapolate", counting)
    one_at_a_time = []
    for flag in (False, True):
        monkeypatch.setattr(Fused, "batched_line_search", flag)
        one_at_a_time.append(fit_batch(res.structure, S, res.theta))
    a, b = one_at_a_time
    assert a.retried.any()                      # the retry ladder's small batches are covered
    assert sum(extended) > 0                    # and longer steps were taken
    for field in ("theta", "fmin", "Sigma", "iterations", "converged"):
        assert np.array_equal(getattr(a, field), getattr(b, field))


def test_parked_stragglers_finished_elsewhere_get_the_numbers_of_an_uninterrupted_fit(near_heywood):
    """The bootstrap parks a chunk's last few iterating replicates and finishes those of
    several chunks together (the rest of their Newton iterations, then the retry ladder):
    every number equals fitting each chunk to the end, retries included."""
    res = near_heywood
    struct = res.structure
    S = _resampled(res, 400, seed=4)
    whole = fit_batch(struct, S, res.theta)
    assert whole.retried.any()                       # the ladder is exercised too
    halves = [fast_path(struct, S[:200], res.theta, park=8), fast_path(struct, S[200:], res.theta, park=8)]
    parked = [np.flatnonzero(h.parked | ~h.converged) for h in halves]
    assert all(h.parked.any() for h in halves)
    stragglers = BatchFit.concat([h.take(rows) for h, rows in zip(halves, parked)])
    retry_unconverged(struct, np.concatenate([S[:200][parked[0]], S[200:][parked[1]]]), res.theta, stragglers)
    stragglers = stragglers.finished()
    rows = np.concatenate([parked[0], 200 + parked[1]])
    done = [h.finished() for h in halves]
    for name in ("theta", "fmin", "converged", "iterations", "retried", "Sigma"):
        merged = np.concatenate([getattr(d, name) for d in done])
        merged[rows] = getattr(stragglers, name)
        assert np.array_equal(merged, getattr(whole, name), equal_nan=True), name


class _Saddle(Objective):
    """f(x, y) = x^2 - y^2 + y^4 from near its saddle at 0 (minima at y = +-1/sqrt(2)),
    with the metric diag(2, 2) as the 'information': the Hessian is indefinite for
    y^2 < 1/6, where the solver takes scoring steps (gradient steps here)."""

    has_hessian = True

    def __init__(self, n, batched):
        self.n_replicates, self.k = n, 2
        self.batched_line_search = batched
        self.calls = 0

    def value(self, theta, idx):
        self.calls += 1
        x, y = theta[:, 0], theta[:, 1]
        return x ** 2 - y ** 2 + y ** 4

    def trial_values(self, theta, idx):
        return self.value(theta, idx)

    def keep_trial(self, positions):
        pass

    def steps(self, theta, idx, exact=False, scoring_only=None):
        x, y = theta[:, 0], theta[:, 1]
        grad = np.column_stack([2 * x, -2 * y + 4 * y ** 3])
        curv = np.column_stack([np.full_like(x, 2.0), -2 + 12 * y ** 2])
        pd = np.all(curv > 0, axis=1)
        newton = pd if scoring_only is None else pd & ~scoring_only
        step = np.where(newton[:, None], -grad / np.where(pd[:, None], curv, 1.0), -grad / 2.0)
        return Steps(grad, step, newton, pd, np.ones(len(x), dtype=bool))


def test_a_saddle_is_left_by_longer_scoring_steps_not_a_crawl():
    """Near a saddle, scoring steps gain more than their quadratic model predicts; the
    solver then tries longer steps (2, 4, ... times) and leaves in a few iterations, where
    one full step at a time crawls out (y grows by half per iteration). Evaluating
    the longer steps in one call or one at a time gives the same numbers."""
    start = np.array([[0.5, 1e-4], [0.2, -1e-3], [1.0, 1e-2]])
    sols = [solve(_Saddle(3, batched), start, rules=NEWTON, exact=True, max_iter=60, tol=1e-14)
            for batched in (True, False)]
    for sol in sols:
        assert sol.converged.all()
        np.testing.assert_allclose(np.abs(sol.theta[:, 1]), np.sqrt(0.5), rtol=1e-7)
        np.testing.assert_allclose(sol.theta[:, 0], 0.0, atol=1e-7)
        assert sol.iterations.max() <= 8        # one full step at a time: 11 to 16
    assert np.array_equal(sols[0].theta, sols[1].theta)
    assert np.array_equal(sols[0].iterations, sols[1].iterations)
