"""The RAM structure and the batched optimiser."""

from __future__ import annotations

import numpy as np

import lcsem
from lcsem.engine import RamStructure, discrepancy, minimize
from lcsem.engine.starts import simple_starts

HS = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"


def _hs():
    model = lcsem.Model.from_syntax(HS)
    data = lcsem.datasets.load_holzinger_swineford()[list(model.observed)].to_numpy()
    S = np.cov(data.T, bias=True)
    return model, RamStructure(model.rows, model.observed, model.latent), S


def test_jacobian_matches_finite_differences():
    _, struct, S = _hs()
    theta = simple_starts(struct, S) + 0.1
    J = struct.jacobian(theta[None])[0]
    h = 1e-6
    for a in range(struct.k):
        e = np.zeros(struct.k)
        e[a] = h
        numeric = (struct.implied((theta + e)[None])[0][0] - struct.implied((theta - e)[None])[0][0]) / (2 * h)
        np.testing.assert_allclose(J[a], numeric, atol=1e-7)


def test_non_positive_definite_sigma_is_rejected_even_with_positive_determinant():
    model, struct, S = _hs()
    theta = simple_starts(struct, S)
    for row, f in zip(struct.rows, struct.row_free):
        if row.op == "~~" and row.lhs in ("x1", "x2") and row.lhs == row.rhs:
            theta[f] = -50.0        # two negative eigenvalues: det(Sigma) > 0
    Sigma = struct.implied(theta[None])[0][0]
    assert np.linalg.det(Sigma) > 0
    assert np.isinf(discrepancy(struct, theta[None], S[None])[0])


def test_batched_minimisation_equals_one_at_a_time():
    _, struct, S = _hs()
    rng = np.random.default_rng(3)
    data = lcsem.datasets.load_holzinger_swineford()[[f"x{i}" for i in range(1, 10)]].to_numpy()
    covs = np.stack([np.cov(data[rng.integers(0, 301, 301)].T, bias=True) for _ in range(5)])
    start = simple_starts(struct, S)
    batch = minimize(struct, covs, start[None])
    for r in range(5):
        single = minimize(struct, covs[r:r + 1], start[None])
        assert batch.converged[r] and single.converged[0]
        np.testing.assert_allclose(batch.fmin[r], single.fmin[0], rtol=1e-10)


def test_leave_one_out_covariances_match_direct_computation():
    from lcsem.resampling.resample import leave_one_out_covariances

    X = np.random.default_rng(0).normal(size=(40, 5))
    X = X - X.mean(axis=0)
    rows = np.array([0, 13, 39])
    S = leave_one_out_covariances(X, rows)
    for k, i in enumerate(rows):
        np.testing.assert_allclose(S[k], np.cov(np.delete(X, i, axis=0).T, bias=True), atol=1e-14)
