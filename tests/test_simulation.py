"""simulate(): from population values or a fitted result, batches of moments, Vale–Maurelli,
Likert, seeds and refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import lcsem
from lcsem.simulation.draw import fleishman_coefficients, intermediate_correlation
from lcsem.simulation.generate import SampleBatch
from lcsem.simulation.population import population


@pytest.fixture(scope="module")
def hs_result():
    data = lcsem.datasets.load_holzinger_swineford()
    model = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
    return lcsem.fit(model, data)


def test_lcsem_simulate_module_still_works():
    from lcsem.simulation.generate import simulate
    from lcsem.simulation.population import population_covariance
    assert simulate is lcsem.simulate
    assert population_covariance(lcsem.lc_model()).shape == (16, 16)


def test_simulate_from_a_fitted_result_uses_its_implied_covariance(hs_result):
    data = lcsem.simulate(hs_result, 60000, seed=3)
    assert list(data.columns) == list(hs_result.model.observed)
    np.testing.assert_allclose(data.cov(ddof=0).to_numpy(), hs_result.implied_cov.to_numpy(), atol=0.03)
    with pytest.raises(lcsem.LcsemError, match="params"):
        lcsem.simulate(hs_result, 100, {"visual =~ x2": 0.5})


def test_population_of_a_model_fits_its_analysis_model_exactly():
    pop = population(lcsem.lc_model())
    assert pop.fmin == pytest.approx(0.0, abs=1e-10)
    Sigma = pop.struct.implied(pop.theta[None])[0][0]
    np.testing.assert_allclose(Sigma, pop.sigma, atol=1e-8)


def test_batch_of_normal_moments_has_the_wishart_mean_and_spread(hs_result):
    n, R = 50, 4000
    batch = lcsem.simulate(hs_result, n, seed=1, n_datasets=R)
    assert isinstance(batch, SampleBatch) and len(batch) == R and batch.cov.shape == (R, 9, 9)
    Sigma = hs_result.implied_cov.to_numpy()
    # E[S] = (n - 1)/n Sigma; Var(s_ij) = (n - 1)/n^2 (s_ij^2 + s_ii s_jj)
    mean = batch.cov.mean(axis=0)
    sd = np.sqrt((n - 1) / n**2 * (Sigma**2 + np.outer(np.diag(Sigma), np.diag(Sigma))))
    assert np.all(np.abs(mean - (n - 1) / n * Sigma) < 4 * sd / np.sqrt(R))
    np.testing.assert_allclose(batch.cov.std(axis=0), sd, rtol=0.08)
    np.testing.assert_allclose(batch.mean.std(axis=0), np.sqrt(np.diag(Sigma) / n), rtol=0.06)
    assert batch.covariance(0).index.tolist() == list(hs_result.model.observed)


def test_batches_are_seeded_and_prefix_stable(hs_result):
    a = lcsem.simulate(hs_result, 80, seed=9, n_datasets=120)
    b = lcsem.simulate(hs_result, 80, seed=9, n_datasets=60)
    np.testing.assert_array_equal(a.cov[:60], b.cov)
    c = lcsem.simulate(hs_result, 80, seed=10, n_datasets=60)
    assert not np.array_equal(c.cov, b.cov)


def test_vale_maurelli_recovers_skew_kurtosis_and_covariance(hs_result):
    skew, kurt = 1.5, 3.5
    data = lcsem.simulate(hs_result, 200_000, seed=5, nonnormal=(skew, kurt)).to_numpy()
    n = data.shape[0]
    # standard errors of sample skewness and kurtosis are ~ sqrt(6/n), sqrt(24/n) under normality;
    # they are several times larger here: allow 0.1 and 0.5
    np.testing.assert_allclose(stats.skew(data, axis=0), skew, atol=0.1)
    np.testing.assert_allclose(stats.kurtosis(data, axis=0), kurt, atol=0.6)
    np.testing.assert_allclose(np.cov(data.T, ddof=0), hs_result.implied_cov.to_numpy(), atol=0.05)
    assert n == 200_000


def test_per_variable_nonnormality_and_a_batch_of_nonnormal_moments(hs_result):
    skews = [0, 0, 0, 1, 1, 1, 2, 2, 2]
    kurts = [0, 0, 0, 2, 2, 2, 7, 7, 7]
    data = lcsem.simulate(hs_result, 100_000, seed=2, nonnormal=(skews, kurts)).to_numpy()
    np.testing.assert_allclose(stats.skew(data, axis=0), skews, atol=0.15)
    batch = lcsem.simulate(hs_result, 200, seed=2, n_datasets=7, nonnormal=(1.0, 2.0))
    assert batch.cov.shape == (7, 9, 9)


def test_fleishman_and_intermediate_correlation_solve_their_equations():
    a, b, c, d = fleishman_coefficients(1.0, 2.0)
    z = np.random.default_rng(0).standard_normal(2_000_000)
    y = a + b * z + c * z**2 + d * z**3
    assert y.mean() == pytest.approx(0, abs=0.01) and y.var() == pytest.approx(1, abs=0.01)
    assert stats.skew(y) == pytest.approx(1.0, abs=0.03)
    coef = (a, b, c, d)
    r = intermediate_correlation(0.5, coef, coef)
    z2 = r * z + np.sqrt(1 - r**2) * np.random.default_rng(1).standard_normal(z.size)
    y2 = a + b * z2 + c * z2**2 + d * z2**3
    assert np.corrcoef(y, y2)[0, 1] == pytest.approx(0.5, abs=0.005)


@pytest.mark.parametrize("pair", [(2.0, 1.0), (1.0, 0.0), (0.0, -1.5), (3.0, 5.0)])
def test_unreachable_skew_kurtosis_pairs_are_refused(pair, hs_result):
    with pytest.raises(lcsem.LcsemError, match="nonnormal: skewness"):
        lcsem.simulate(hs_result, 100, seed=1, nonnormal=pair)


@pytest.mark.parametrize("kwargs, match", [
    (dict(nonnormal=(1.0,)), "nonnormal"),
    (dict(nonnormal=(1.0, [1, 2])), "nonnormal"),
    (dict(nonnormal="skewed"), "nonnormal"),
    (dict(n_datasets=0), "n_datasets"),
    (dict(n_datasets=2.5), "n_datasets"),
    (dict(likert=11), "likert"),
    (dict(likert=[1.0, 0.0]), "likert"),
    (dict(seed=-3), "seed"),
])
def test_bad_arguments_are_named(kwargs, match, hs_result):
    with pytest.raises(lcsem.LcsemError, match=match):
        lcsem.simulate(hs_result, 100, **kwargs)


def test_likert_from_a_result_cuts_standardised_values(hs_result):
    data = lcsem.simulate(hs_result, 5000, seed=4, likert=5)
    assert set(np.unique(data.to_numpy())) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    # the middle category holds about the share of a standard normal in [-0.5, 0.5]
    share = (data == 3).to_numpy().mean()
    assert share == pytest.approx(stats.norm.cdf(0.5) - stats.norm.cdf(-0.5), abs=0.02)
    batch = lcsem.simulate(hs_result, 100, seed=4, likert=7, n_datasets=3)
    assert batch.cov.shape == (3, 9, 9)


def test_simulated_data_are_not_shared_between_calls(hs_result):
    a = lcsem.simulate(hs_result, 10, seed=1)
    a.iloc[0, 0] = 99.0
    b = lcsem.simulate(hs_result, 10, seed=1)
    assert b.iloc[0, 0] != 99.0
    assert isinstance(b, pd.DataFrame)


def test_missing_completely_at_random(hs_result):
    data = lcsem.simulate(hs_result, 20000, seed=8, missing=0.2)
    assert data.isna().to_numpy().mean() == pytest.approx(0.2, abs=0.01)
    complete = lcsem.simulate(hs_result, 20000, seed=8)
    observed = data.notna().to_numpy()
    np.testing.assert_array_equal(data.to_numpy()[observed], complete.to_numpy()[observed])
    for bad in (1.0, -0.1, "some"):
        with pytest.raises(lcsem.LcsemError, match="missing"):
            lcsem.simulate(hs_result, 100, seed=1, missing=bad)
    with pytest.raises(lcsem.LcsemError, match="missing"):
        lcsem.simulate(hs_result, 100, seed=1, missing=0.1, n_datasets=3)


def test_fleishman_and_intermediate_correlations_match_lavaan():
    import json
    from pathlib import Path
    ref = json.loads((Path(__file__).parent / "reference" / "vale_maurelli_reference.json").read_text())
    coefs = []
    for row in ref["fleishman"]:
        ours = fleishman_coefficients(row["skew"], row["kurtosis"])
        np.testing.assert_allclose(ours, row["abcd"], atol=1e-5)
        coefs.append(ours)
    for row in ref["intermediate"]:
        got = intermediate_correlation(row["target"], coefs[row["first"]], coefs[row["second"]])
        assert got == pytest.approx(row["intermediate"], abs=1e-6)
