"""Agreement with lavaan 0.6.14 on the reference data (tolerances of issue 2)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import lcsem
from conftest import DATASETS, REFERENCE, load_reference_data

LAVAAN_FIT_NAMES = {"rmsea.ci.lower": "rmsea_ci_lower", "rmsea.ci.upper": "rmsea_ci_upper",
                    "rmsea.pvalue": "rmsea_pvalue", "logl": "loglik"}


def _merged(result, params) -> pd.DataFrame:
    lav = pd.DataFrame(params)
    ours = result.estimates
    merged = ours.merge(lav, on=["lhs", "op", "rhs"], how="outer", suffixes=("", "_lavaan"),
                        indicator=True)
    # lavaan may write a covariance the other way round
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"]
    return merged


@pytest.mark.parametrize("name", list(DATASETS))
def test_fit_indices_match_lavaan(fitted, reference, name):
    ours = fitted[name].fit_indices
    for key, value in reference[name]["fit"].items():
        tol = 0.01 if key in ("chisq", "aic", "bic", "logl") else 1e-3
        assert ours[LAVAAN_FIT_NAMES.get(key, key)] == pytest.approx(value, abs=tol), key


@pytest.mark.parametrize("name", list(DATASETS))
def test_estimates_se_std_match_lavaan(fitted, reference, name):
    merged = _merged(fitted[name], reference[name]["params"])
    np.testing.assert_allclose(merged["est"], merged["est_lavaan"], atol=1e-3)
    np.testing.assert_allclose(merged["std_all"], merged["std.all"], atol=1e-3)
    free = merged["se_lavaan"] > 0
    np.testing.assert_allclose(merged.loc[free, "se"], merged.loc[free, "se_lavaan"], atol=1e-3)
    np.testing.assert_allclose(merged.loc[free, "z"], merged.loc[free, "z_lavaan"], atol=1e-2)
    np.testing.assert_allclose(merged.loc[free, "pvalue"], merged.loc[free, "pvalue_lavaan"], atol=1e-3)
    # fixed parameters carry no standard error
    assert merged.loc[~free, "se"].isna().all()


@pytest.mark.parametrize("name", list(DATASETS))
def test_r2_matches_lavaan(fitted, reference, name):
    ours = fitted[name].r2
    expected = pd.Series(reference[name]["r2"])
    assert set(ours.index) == set(expected.index)
    np.testing.assert_allclose(ours[expected.index], expected, atol=1e-3)


def test_standardized_solution_se_against_lavaan(fitted, reference):
    """std_all agrees with lavaan's standardizedSolution() as well."""
    std = pd.DataFrame(reference["holzinger_swineford"]["std_solution"])
    merged = fitted["holzinger_swineford"].estimates.merge(std, on=["lhs", "op", "rhs"])
    assert len(merged) == len(std)
    np.testing.assert_allclose(merged["std_all"], merged["est.std"], atol=1e-3)


@pytest.mark.parametrize("estimator", ["GLS", "ULS"])
def test_gls_uls_match_lavaan(estimator):
    ref = json.loads((REFERENCE / "estimators_reference.json").read_text())
    result = lcsem.fit(ref["model"], load_reference_data("holzinger_swineford"), estimator=estimator)
    for key, value in ref[estimator]["fit"].items():
        ours = result.fit_indices[key.replace(".", "_")]
        assert ours == pytest.approx(value, abs=0.01 if key.endswith("chisq") else 1e-3), key
    merged = result.estimates.merge(pd.DataFrame(ref[estimator]["params"]), on=["lhs", "op", "rhs"])
    np.testing.assert_allclose(merged["est_x"], merged["est_y"], atol=1e-3)
    free = merged["se_y"] > 0
    np.testing.assert_allclose(merged.loc[free, "se_x"], merged.loc[free, "se_y"], atol=1e-3)
    assert np.isnan(result.fit_indices["loglik"])


def test_observed_predictors_follow_lavaan_fixed_x():
    """Two outcomes of observed predictors: residual covariance added (auto.cov.y), and
    lavaan's fixed.x conventions for n_params, log-likelihood, AIC/BIC and the baseline."""
    ref = json.loads((REFERENCE / "estimators_reference.json").read_text())["two_outcomes"]
    data = pd.read_csv(REFERENCE / "two_outcomes.csv")
    result = lcsem.fit(ref["model"], data)
    fit = result.fit_indices
    assert fit["n_params"] == ref["fit"]["npar"]
    for key in ("chisq", "logl", "aic", "bic", "cfi", "srmr"):
        assert fit[LAVAAN_FIT_NAMES.get(key, key)] == pytest.approx(ref["fit"][key], abs=1e-3), key
    merged = result.estimates.merge(pd.DataFrame(ref["params"]), on=["lhs", "op", "rhs"], how="outer")
    assert merged["est_x"].notna().all() and merged["est_y"].notna().all()
    np.testing.assert_allclose(merged["est_x"], merged["est_y"], atol=1e-3)
    free = merged["se_y"] > 0
    np.testing.assert_allclose(merged.loc[free, "se_x"], merged.loc[free, "se_y"], atol=1e-3)
    assert merged.loc[~free, "se_x"].isna().all()


def test_semopy_is_only_the_starting_point(reference):
    """Without semopy's start the same optimum is reached (the polish defines the answer)."""
    data = load_reference_data("political_democracy")
    a = lcsem.fit(reference["political_democracy"]["model"], data)
    b = lcsem.fit(reference["political_democracy"]["model"], data, use_semopy=False)
    np.testing.assert_allclose(a.estimates["est"], b.estimates["est"], atol=1e-6)


def test_fit_does_not_modify_the_callers_data(reference):
    data = load_reference_data("holzinger_swineford")
    before = data.copy(deep=True)
    lcsem.fit(reference["holzinger_swineford"]["model"], data)
    pd.testing.assert_frame_equal(data, before)


def test_extended_model_on_unseen_data_matches_lavaan():
    """The six-construct extended model on data simulated by lcsem and fitted by lavaan
    (tests/reference/make_extended_reference.R): not one of the tuning cases."""
    ref = json.loads((REFERENCE / "extended_reference.json").read_text())
    data = pd.read_csv(REFERENCE / "extended_sim.csv")
    result = lcsem.fit(lcsem.lc_extended_model(), data)
    assert result.model == lcsem.Model.from_syntax(ref["model"])
    for key, value in ref["fit"].items():
        tol = 0.01 if key in ("chisq", "aic", "bic", "logl") else 1e-3
        assert result.fit_indices[LAVAAN_FIT_NAMES.get(key, key)] == pytest.approx(value, abs=tol), key
    merged = _merged(result, ref["params"])
    np.testing.assert_allclose(merged["est"], merged["est_lavaan"], atol=1e-3)
    np.testing.assert_allclose(merged["std_all"], merged["std.all"], atol=1e-3)
    free = merged["se_lavaan"] > 0
    np.testing.assert_allclose(merged.loc[free, "se"], merged.loc[free, "se_lavaan"], atol=1e-3)
    expected = pd.Series(ref["r2"])
    np.testing.assert_allclose(result.r2[expected.index], expected, atol=1e-3)
