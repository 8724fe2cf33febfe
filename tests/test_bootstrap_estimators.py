"""lcsem.bootstrap of GLS and ULS fits: refits with the fit's estimator, closed-form
baselines, agreement with lavaan's bootstrapLavaan."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import lcsem
from lcsem.engine import minimize
from lcsem.exceptions import BootstrapFailureWarning
from lcsem.inference.fit_indices import baseline_chisq
from lcsem.engine.least_squares import fit_least_squares
from lcsem.resampling.replicates import baseline_basis, baseline_chisq_batch

REFERENCE = Path(__file__).parent / "reference"
HS_MODEL = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"


def quiet_bootstrap(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BootstrapFailureWarning)
        return lcsem.bootstrap(*args, progress=False, **kwargs)


@pytest.fixture(scope="module")
def hs():
    return pd.read_csv(REFERENCE / "hs.csv")


@pytest.mark.parametrize("estimator", ["GLS", "ULS"])
def test_replicate_equals_a_refit_with_the_estimator(hs, estimator):
    res = lcsem.fit(HS_MODEL, hs, estimator=estimator)
    boot = quiet_bootstrap(res, 40, seed=3)
    for r in (0, 7):
        data = res.data.iloc[boot.indices[r]].reset_index(drop=True)
        refit = lcsem.fit(HS_MODEL, data, estimator=estimator)
        row = boot.distribution.loc[r]
        for name in ["chisq", "cfi", "tli", "nfi", "rmsea", "srmr", "gfi", "agfi"]:
            assert row[name] == pytest.approx(refit.fit_indices[name], rel=1e-6, abs=1e-9), name
        est = refit.estimates
        for lhs, op, rhs in [("visual", "=~", "x2"), ("speed", "~~", "speed"), ("x4", "~~", "x4")]:
            hit = est[(est.lhs == lhs) & (est.op == op) & (est.rhs == rhs)].iloc[0]
            assert row[f"{lhs}{op}{rhs}"] == pytest.approx(hit["est"], rel=1e-6)
            assert row[f"std:{lhs}{op}{rhs}"] == pytest.approx(hit["std_all"], rel=1e-6)
    # ML and the other estimator give different draws from the same resamples
    ml = quiet_bootstrap(lcsem.fit(HS_MODEL, hs), 40, seed=3)
    np.testing.assert_array_equal(ml.indices, boot.indices)
    assert not np.allclose(ml.distribution["visual=~x2"], boot.distribution["visual=~x2"])


@pytest.mark.parametrize("estimator", ["GLS", "ULS"])
@pytest.mark.parametrize("exogenous", [(), (0, 2), (1, 3, 4)])
def test_closed_form_baseline_equals_the_fitted_one(hs, estimator, exogenous):
    X = hs[[f"x{i}" for i in range(1, 10)]].to_numpy()
    S = np.cov(X.T)
    batch = baseline_chisq_batch(S[None], 301, baseline_basis(9, exogenous), estimator)[0]
    assert batch == pytest.approx(float(baseline_chisq(S, 301, exogenous, estimator)), rel=1e-7)


@pytest.mark.parametrize("estimator", ["GLS", "ULS"])
def test_newton_steps_reach_the_gauss_newton_minimum(hs, estimator):
    res = lcsem.fit(HS_MODEL, hs, estimator=estimator)
    X = res.data.to_numpy(float)
    rng = np.random.default_rng(1)
    S = np.stack([np.cov(X[rng.integers(0, 301, 301)].T) for _ in range(30)])
    slow = minimize(res.structure, S, np.asarray(res.theta)[None], estimator)
    fast = fit_least_squares(res.structure, S, np.asarray(res.theta)[None], estimator)
    both = slow.converged & fast.converged
    assert both.sum() >= 28
    np.testing.assert_allclose(fast.theta[both], slow.theta[both], atol=1e-6)
    assert fast.iterations[both].mean() < 0.5 * slow.iterations[both].mean()


@pytest.mark.parametrize("estimator", ["GLS", "ULS"])
def test_percentile_intervals_match_bootstrap_lavaan(hs, estimator):
    """lavaan's bootstrapLavaan (tests/reference/make_bootstrap_estimators.R, 2,000 replicates)
    against lcsem's 2,000. GLS and ULS estimates of HS have heavy tails (near-Heywood
    replicates), so the Monte Carlo SE of a quantile q is taken from the draws' own density
    there: sqrt(q(1 - q)) (Q(q + .01) - Q(q - .01)) / .02 times sqrt(1/R + 1/R_lavaan);
    every 2.5% and 97.5% quantile must be within 4 of those SEs (a normal-theory SE would
    be too small in the heavy tails, and the means and SDs are dominated by a few extreme
    replicates, so they are not compared). The
    failed replicates are a like share (lavaan: 18 of 2,000 for GLS, none for ULS); like
    lavaan, inadmissible ones are kept."""
    ref = json.loads((REFERENCE / "bootstrap_estimators_reference.json").read_text())[estimator]
    res = lcsem.fit(HS_MODEL, hs, estimator=estimator)
    boot = quiet_bootstrap(res, ref["R"], seed=ref["iseed"])
    names = ref["names"]
    assert set(names) <= set(boot.distribution.columns)
    np.testing.assert_allclose(boot.estimate[names], ref["estimate"], rtol=1e-5, atol=1e-6)
    assert abs(boot.n_failed - (ref["R"] - ref["n_ok"])) <= 15
    draws = boot._draws()[names].to_numpy()
    R, R_ref = draws.shape[0], ref["n_ok"]
    ci = boot.ci(stats=names)
    for q, ours, theirs in ((0.025, ci["lower"], ref["pct_2.5"]), (0.975, ci["upper"], ref["pct_97.5"])):
        lo, hi = np.quantile(draws, [q - 0.01, q + 0.01], axis=0)
        se = np.sqrt(q * (1 - q)) * (hi - lo) / 0.02 * np.sqrt(1 / R + 1 / R_ref)
        z = (ours.to_numpy() - np.asarray(theirs)) / se
        assert np.abs(z).max() < 4, dict(zip(names, np.round(z, 2)))
