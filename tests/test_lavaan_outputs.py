"""lavaan's everyday outputs against lavaan 0.6.14 (tests/reference/make_identification.R):
parameterEstimates CIs, std.lv/std.all/std.nox, standardizedSolution SEs and CIs,
lavPredict scores, implied and residual moments, summary-statistics input, standardised
covariances of negative variances, and deep immutability of results."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import lcsem
from conftest import REFERENCE

TOL = 1e-3


@pytest.fixture(scope="module")
def ref() -> dict:
    return json.loads((REFERENCE / "identification_reference.json").read_text())


def load(name: str) -> pd.DataFrame:
    if name == "lc_survey":
        return lcsem.datasets.load_lc_survey()
    return pd.read_csv(REFERENCE / name)


_FITS: dict[str, lcsem.FitResult] = {}


def fitted(ref: dict, case: str) -> lcsem.FitResult:
    if case not in _FITS:
        c = ref[case]
        model = lcsem.Model.from_syntax(c["model"], std_lv=bool(c["std_lv"]))
        _FITS[case] = lcsem.fit(model, load(c["data"]), level=c["level"])
    return _FITS[case]


def _key(frame: pd.DataFrame) -> pd.Series:
    """Covariances keyed regardless of the side lavaan writes them on."""
    lhs, rhs = frame["lhs"].astype(str), frame["rhs"].astype(str)
    swap = (frame["op"] == "~~") & (lhs > rhs)
    a = np.where(swap, rhs, lhs)
    b = np.where(swap, lhs, rhs)
    return pd.Series([f"{x}|{o}|{y}" for x, o, y in zip(a, frame["op"], b)], index=frame.index)


def merged(ours: pd.DataFrame, theirs: list | dict) -> pd.DataFrame:
    lav = pd.DataFrame(theirs)
    lav = lav.assign(key=_key(lav)).drop(columns=["lhs", "op", "rhs", "label"], errors="ignore")
    lav = lav.rename(columns={c: c + "_lav" for c in ("est", "se", "z", "pvalue", "mi", "epc")})
    out = ours.assign(key=_key(ours)).merge(lav, on="key", how="outer", indicator=True)
    assert (out["_merge"] == "both").all(), out.loc[out["_merge"] != "both", "key"].tolist()
    return out


def close(a, b, tol=TOL, what=""):
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), atol=tol, err_msg=what)


CASES = ["hs", "hs_level90", "mimic", "pd", "canonical", "canonical_std_lv", "extended_std_lv"]


@pytest.mark.parametrize("case", CASES)
def test_parameter_estimates_with_wald_ci_and_std_columns_match_lavaan(ref, case):
    res = fitted(ref, case)
    assert list(res.estimates.columns) == ["lhs", "op", "rhs", "label", "est", "se", "z", "pvalue",
                                           "ci_lower", "ci_upper", "std_lv", "std_all", "std_nox"]
    m = merged(res.estimates, ref[case]["params"])
    close(m["est"], m["est_lav"], what="est")
    free = m["se_lav"] > 0
    close(m.loc[free, "se"], m.loc[free, "se_lav"], what="se")
    close(m["ci_lower"], m["ci.lower"], what="ci.lower")   # fixed rows: CI = est, as lavaan
    close(m["ci_upper"], m["ci.upper"], what="ci.upper")
    for ours, theirs in (("std_lv", "std.lv"), ("std_all", "std.all"), ("std_nox", "std.nox")):
        close(m[ours], m[theirs], what=ours)
    assert m.loc[~free, "se"].isna().all() and m.loc[~free, "pvalue"].isna().all()


def test_parameter_estimates_level_argument_matches_lavaan(ref):
    at_95 = fitted(ref, "hs")
    m = merged(at_95.parameter_estimates(level=0.90), ref["hs_level90"]["params"])
    close(m["ci_lower"], m["ci.lower"])
    close(m["ci_upper"], m["ci.upper"])
    with pytest.raises(lcsem.ArgumentError, match="level"):
        at_95.parameter_estimates(level=95)
    with pytest.raises(lcsem.ArgumentError, match="level"):
        lcsem.fit(ref["hs"]["model"], load("hs.csv"), level=1.0)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("kind,key", [("std_all", "std_solution"), ("std_nox", "std_nox"),
                                      ("std_lv", "std_lv_solution")])
def test_standardized_solution_se_and_ci_match_lavaan(ref, case, kind, key):
    res = fitted(ref, case)
    sol = res.standardized_solution(kind)
    m = merged(sol, ref[case][key])
    close(m["est_std"], m["est.std"], what="est.std")
    free = m["se_lav"] > 0
    close(m.loc[free, "se_std"], m.loc[free, "se_lav"], what="se")
    # lavaan's SE 0 (a constant such as a variance standardised to 1): NaN, never 0
    assert m.loc[~free, "se_std"].isna().all(), m.loc[~free, ["key", "se_std"]]
    if kind == "std_all":
        close(m["ci_lower_std"], m["ci.lower"], what="ci.lower")
        close(m["ci_upper_std"], m["ci.upper"], what="ci.upper")
        close(m.loc[free, "pvalue_std"], m.loc[free, "pvalue_lav"], what="pvalue")


@pytest.mark.parametrize("case", ["hs", "pd", "canonical", "canonical_std_lv"])
@pytest.mark.parametrize("method,key", [("regression", "scores_regression"),
                                        ("Bartlett", "scores_bartlett")])
def test_factor_scores_match_lavpredict(ref, case, method, key):
    res = fitted(ref, case)
    scores = lcsem.factor_scores(res, method=method)
    expected = pd.DataFrame(ref[case][key])
    assert scores.shape == expected.shape
    assert list(scores.index) == list(res.data.index)
    close(scores[expected.columns].to_numpy(), expected.to_numpy())


def test_factor_scores_with_covariates_match_lavpredict(ref):
    res = fitted(ref, "mimic")
    expected = pd.DataFrame(ref["mimic"]["scores_regression"])
    close(lcsem.factor_scores(res)[expected.columns].to_numpy(), expected.to_numpy())
    with pytest.raises(lcsem.NotSupportedError, match="regression"):
        lcsem.factor_scores(res, method="bartlett")


def test_factor_scores_refuse_bad_input(ref):
    res = fitted(ref, "hs")
    with pytest.raises(lcsem.ArgumentError, match="method"):
        lcsem.factor_scores(res, method="anderson")
    with pytest.raises(lcsem.ArgumentError, match="FitResult"):
        lcsem.factor_scores(res.estimates)


def test_implied_moments_and_residuals_match_lavaan(ref):
    res = fitted(ref, "hs")
    expected = ref["hs"]["residuals"]
    implied = res.implied_moments()
    close(implied["cov"].to_numpy(), expected["implied"], 1e-6)
    close(implied["mean"].to_numpy(), load("hs.csv")[list(res.model.observed)].mean().to_numpy(), 1e-9)
    close(res.residuals("raw").to_numpy(), expected["raw"], 1e-6)
    close(res.residuals("cor.bollen").to_numpy(), expected["cor_bollen"], 1e-6)
    close(res.residuals("cor.bentler").to_numpy(), expected["cor_bentler"], 1e-6)
    with pytest.raises(lcsem.ArgumentError, match="kind"):
        res.residuals("normalized")


# ---------------------------------------------------------------- summary statistics
@pytest.mark.parametrize("estimator", ["ML", "GLS", "ULS"])
def test_fit_from_sample_cov_matches_lavaan(ref, estimator):
    sc = ref["sample_cov"]
    S = pd.DataFrame(sc["cov"], index=sc["names"], columns=sc["names"])
    res = lcsem.fit(sc["model"], sample_cov=S, sample_nobs=sc["nobs"], estimator=estimator)
    for key in ("chisq", "df", "cfi", "tli", "rmsea", "srmr"):
        assert res.fit_indices[key] == pytest.approx(sc[estimator]["fit"][key], abs=TOL), key
    m = merged(res.estimates, sc[estimator]["params"])
    close(m["est"], m["est_lav"])
    free = m["se_lav"] > 0
    close(m.loc[free, "se"], m.loc[free, "se_lav"])
    close(m["ci_lower"], m["ci.lower"])
    close(m["std_all"], m["std.all"])
    assert res.data is None and res.n_obs == sc["nobs"]
    assert "summary statistics" in res.summary()


def test_fit_from_correlations_and_sds_matches_lavaan(ref):
    sc = ref["sample_cov"]
    res = lcsem.fit(sc["model"], sample_cov=np.array(sc["cor"]), sample_names=sc["names"],
                    sample_sd=np.array(sc["sd"]), sample_nobs=sc["nobs"])
    assert res.fit_indices["chisq"] == pytest.approx(sc["from_cor"]["fit"]["chisq"], abs=TOL)
    m = merged(res.estimates, sc["from_cor"]["params"])
    close(m["est"], m["est_lav"])
    close(m.loc[m["se_lav"] > 0, "se"], m.loc[m["se_lav"] > 0, "se_lav"])


def test_fit_from_sample_cov_with_regressions_matches_lavaan(ref):
    sc = ref["sample_cov_pd"]
    S = pd.DataFrame(sc["cov"], index=sc["names"], columns=sc["names"])
    res = lcsem.fit(sc["model"], sample_cov=S, sample_nobs=sc["nobs"])
    assert res.fit_indices["chisq"] == pytest.approx(sc["fit"]["chisq"], abs=TOL)
    m = merged(res.estimates, sc["params"])
    close(m["est"], m["est_lav"])
    close(m.loc[m["se_lav"] > 0, "se"], m.loc[m["se_lav"] > 0, "se_lav"])
    close(m["std_all"], m["std.all"])


def test_result_without_data_refuses_factor_scores(ref):
    sc = ref["sample_cov"]
    S = pd.DataFrame(sc["cov"], index=sc["names"], columns=sc["names"])
    res = lcsem.fit(sc["model"], sample_cov=S, sample_nobs=sc["nobs"])
    with pytest.raises(lcsem.DataError, match="summary statistics"):
        lcsem.factor_scores(res)
    with pytest.raises(lcsem.ArgumentError, match="summary statistics"):
        lcsem.bootstrap(res, 10, seed=1)
    with pytest.raises(lcsem.ArgumentError, match="summary statistics"):
        lcsem.measurement(res)
    payload = res.to_dict()
    assert payload["data"] is None and lcsem.FitResult.from_dict(payload).n_obs == sc["nobs"]
    assert res.implied_moments()["mean"] is None
    assert res.standardized_solution()["se_std"].notna().any()
    assert "FitResult" in repr(res)


def test_sample_cov_bad_input_names_the_argument(ref):
    sc = ref["sample_cov"]
    names = sc["names"]
    S = pd.DataFrame(sc["cov"], index=names, columns=names)
    model = sc["model"]
    asym = S.copy()
    asym.iloc[0, 1] += 0.5
    cases = [
        (dict(sample_cov=S), "sample_nobs"),
        (dict(sample_cov=S, sample_nobs=9), "sample_nobs"),
        (dict(sample_cov=S, sample_nobs=301.5), "sample_nobs"),
        (dict(sample_cov=asym, sample_nobs=301), "symmetric"),
        (dict(sample_cov=S.drop(index="x9", columns="x9"), sample_nobs=301), "x9"),
        (dict(sample_cov=np.array(sc["cov"]), sample_nobs=301), "names"),
        (dict(sample_cov=S, sample_nobs=301, sample_sd=np.ones(9)), "correlation"),
        (dict(sample_cov=S, sample_nobs=301, sample_sd=-np.ones(9)), "sample_sd"),
        (dict(sample_nobs=301), "sample_nobs"),
        (dict(), "data"),
    ]
    for kwargs, match in cases:
        with pytest.raises(lcsem.LcsemError, match=match):
            lcsem.fit(model, **kwargs)
    singular = S.copy()
    singular.loc["x2", :] = singular.loc["x1", :]
    singular.loc[:, "x2"] = singular.loc[:, "x1"]
    with pytest.raises(lcsem.DataError, match="positive definite"):
        lcsem.fit(model, sample_cov=singular, sample_nobs=301)
    with pytest.raises(lcsem.ArgumentError, match="not both"):
        lcsem.fit(model, load("hs.csv"), sample_cov=S, sample_nobs=301)
    # a covariance matrix passed as data is refused with a pointer to sample_cov
    with pytest.raises(lcsem.DataError, match="sample_cov"):
        lcsem.fit(model, S)


def test_sample_cov_input_is_not_modified(ref):
    sc = ref["sample_cov"]
    S = pd.DataFrame(sc["cov"], index=sc["names"], columns=sc["names"])
    before = S.copy()
    lcsem.fit(sc["model"], sample_cov=S, sample_nobs=sc["nobs"])
    pd.testing.assert_frame_equal(S, before)


# ---------------------------------------------------------------- negative variances
def test_covariance_of_negative_variance_standardised_with_absolute_value(ref):
    h = ref["heywood"]
    with pytest.warns(lcsem.NonAdmissibleWarning):
        res = lcsem.fit(h["model"], load(h["data"]))
    assert not res.admissible
    m = merged(res.estimates, h["params"])
    close(m["est"], m["est_lav"])
    close(m["std_all"], m["std.all"], what="std.all")
    close(m["std_lv"], m["std.lv"], what="std.lv")
    assert np.isfinite(res.estimates["std_all"]).all()
    sol = merged(res.standardized_solution(), h["std_solution"])
    free = sol["se_lav"] > 0
    close(sol["est_std"], sol["est.std"])
    close(sol.loc[free, "se_std"], sol.loc[free, "se_lav"])


def test_sepc_all_of_negative_variance_covariance_uses_absolute_variance(ref):
    """lavaan's sepc.all of a residual covariance divides the EPC by the square roots of
    the absolute residual variances (here y1's is negative), instead of giving NaN."""
    h = ref["heywood"]
    with pytest.warns(lcsem.NonAdmissibleWarning):
        res = lcsem.fit(h["model"], load(h["data"]))
    mi = res.modindices(top=None, sort=False)
    est = res.estimates.set_index(["lhs", "op", "rhs"])["est"]
    rows = mi[(mi["op"] == "~~") & (mi["lhs"] == "y1")]
    assert len(rows) >= 3
    theta_y1 = est[("y1", "~~", "y1")]
    assert theta_y1 < 0
    for _, row in rows.iterrows():
        other = est[(row["rhs"], "~~", row["rhs"])]
        assert row["sepc_all"] == pytest.approx(row["epc"] / np.sqrt(abs(theta_y1) * other), rel=1e-9)


def test_sepc_all_with_negative_variance_matches_lavaan(ref):
    h = ref["heywood_cfa"]
    with pytest.warns(lcsem.NonAdmissibleWarning):
        res = lcsem.fit(h["model"], load(h["data"]))
    mi = merged(res.modindices(top=None, sort=False), h["modindices"])
    close(mi["mi"], mi["mi_lav"], what="mi")
    close(mi["epc"], mi["epc_lav"], what="epc")
    close(mi["sepc_all"], mi["sepc.all"], what="sepc.all")
    assert np.isfinite(mi["sepc_all"]).all()


# ---------------------------------------------------------------- immutability
def test_mutating_returned_frames_changes_nothing_the_result_reports(ref):
    res = lcsem.fit(ref["canonical"]["model"], load("lc_survey"))
    before = {"summary": res.summary(), "estimates": res.estimates.copy(),
              "fit": res.fit_indices.copy(), "r2": res.r2.copy(), "cov": res.sample_cov.copy(),
              "effects": lcsem.effects(res).table.copy(), "data": res.data.copy()}
    est = res.estimates
    est.loc[:, "est"] = 99.0
    est.loc[0, "std_all"] = -5.0
    held = [res.fit_indices, res.r2, res.sample_cov, res.implied_cov, res.data]
    held[0]["cfi"] = 0.0
    held[1].iloc[0] = 2.0
    held[2].iloc[0, 0] = -1.0
    held[3].iloc[0, 0] = -1.0
    held[4].iloc[0, 0] = 1e6
    held[2].index.name = "changed"
    with pytest.raises(ValueError):
        res.theta[0] = 5.0
    with pytest.raises(ValueError):
        res.vcov[0, 0] = 5.0
    with pytest.raises(TypeError):
        res.versions["lcsem"] = "x"
    assert res.summary() == before["summary"]
    pd.testing.assert_frame_equal(res.estimates, before["estimates"])
    pd.testing.assert_series_equal(res.fit_indices, before["fit"])
    pd.testing.assert_series_equal(res.r2, before["r2"])
    pd.testing.assert_frame_equal(res.sample_cov, before["cov"])
    pd.testing.assert_frame_equal(res.data, before["data"])
    pd.testing.assert_frame_equal(lcsem.effects(res).table, before["effects"])


def test_frames_given_to_a_result_are_copied():
    res = lcsem.fit(lcsem.lc_model(), lcsem.datasets.load_lc_survey())
    table = res.estimates
    clone = lcsem.FitResult(**{**{f: getattr(res, f) for f in res.__dataclass_fields__},
                               "estimates": table})
    table.loc[:, "est"] = 0.0      # the caller's frame, changed after building the result
    assert (clone.estimates["est"] != 0).any()


def test_sample_mean_is_kept_as_the_implied_mean(ref):
    sc = ref["sample_cov"]
    S = pd.DataFrame(sc["cov"], index=sc["names"], columns=sc["names"])
    means = load("hs.csv")[sc["names"]].mean()
    res = lcsem.fit(sc["model"], sample_cov=S, sample_nobs=sc["nobs"], sample_mean=means[::-1])
    pd.testing.assert_series_equal(res.implied_moments()["mean"], means.rename("mean"))
    with pytest.raises(lcsem.ArgumentError, match="sample_mean"):
        lcsem.fit(sc["model"], sample_cov=S, sample_nobs=sc["nobs"], sample_mean=[1.0, 2.0])
