"""Robust ML on complete data (MLM, MLMV, MLMVS, MLR) against lavaan 0.6.14
(tests/reference/make_missing_robust.R -> missing_robust_reference.json): robust SEs, scaled
chi-squares, scaling factors, every scaled/robust fit index, std_all SEs, ``:=`` SEs, Gamma,
and the Satorra-Bentler 2001/2010 scaled difference tests of lcsem.compare; bad input."""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lcsem
from lcsem.exceptions import ArgumentError, DataError, NotSupportedError
from lcsem.inference.robust import (ROBUST_INDEX_NAMES, first_order_information, gamma_matrix,
                                    huber_white_vcov, sandwich_vcov)
from lcsem.results.fit_result import FitResult

REF_DIR = Path(__file__).parent / "reference"
REF = json.loads((REF_DIR / "missing_robust_reference.json").read_text())
# make_robust.R: mean structures, multi-group fits with equality constraints, their LRTs
MORE = json.loads((REF_DIR / "robust_reference.json").read_text())
for _name in MORE["fits"]:
    assert _name not in REF["fits"]
REF["fits"].update(MORE["fits"])
DATA = {"hs.csv": pd.read_csv(REF_DIR / "hs.csv"), "lc_shared.csv": pd.read_csv(REF_DIR / "lc_shared.csv")}
COMPLETE_ROBUST = [name for name, spec in REF["fits"].items()
                   if spec["options"].get("estimator") in ("MLM", "MLMV", "MLMVS", "MLR")
                   and "missing" not in spec["options"]]
# chi-square-sized numbers: absolute tolerance 1e-3 as well (they agree to ~2e-5)
TOL = 1e-3


def lavaan_name(ours: str) -> str:
    return {"chisq_shift_parameter": None}.get(ours, ours.replace("_", "."))


def _as_list(value):
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _fit(name):
    spec = REF["fits"][name]
    opts = spec["options"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lcsem.SharedLabelWarning)   # lavaan warns the same
        return lcsem.fit(spec["model"], DATA[opts["data"]], estimator=opts["estimator"], group=opts.get("group"),
                         group_equal=_as_list(opts.get("group.equal")),
                         meanstructure=bool(opts.get("meanstructure", False)))


@pytest.fixture(scope="module")
def fits():
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = _fit(name)
        return cache[name]
    return get


def test_reference_covers_every_complete_data_robust_estimator():
    estimators = {REF["fits"][n]["options"]["estimator"] for n in COMPLETE_ROBUST}
    assert estimators == {"MLM", "MLMV", "MLMVS", "MLR"}
    assert "lc_mlr_sector" in COMPLETE_ROBUST      # multi-group
    assert {"hs_mlm_means", "hs_mlmv_metric", "hs_mlmvs_configural", "hs_mlr_scalar", "hs_mimic_mlm",
            "hs_mimic_mlr_school"} <= set(COMPLETE_ROBUST)


@pytest.mark.parametrize("name", COMPLETE_ROBUST)
def test_scaled_and_robust_fit_indices_match_lavaan(fits, name):
    res = fits(name)
    spec = REF["fits"][name]
    theirs = spec["fit_measures"]
    fi = res.fit_indices
    assert res.estimator == spec["options"]["estimator"]
    checked = []
    for ours in ROBUST_INDEX_NAMES:
        key = lavaan_name(ours)
        if key is None or key not in theirs:
            continue
        if theirs[key] is None:        # lavaan: NA (e.g. cfi.robust of MLMVS): lcsem leaves the row out
            assert ours not in fi.index or not np.isfinite(fi[ours]), ours
            checked.append(ours)
            continue
        assert ours in fi.index, ours
        assert fi[ours] == pytest.approx(theirs[key], abs=TOL), ours
        checked.append(ours)
    test = next(v for k, v in spec["test"].items() if k != "standard")
    if "shift.parameter" in test:
        assert fi["chisq_shift_parameter"] == pytest.approx(test["shift.parameter"], abs=TOL)
        checked.append("chisq_shift_parameter")
    # the standard statistic is ML's, unchanged
    assert fi["chisq"] == pytest.approx(theirs["chisq"], abs=TOL)
    assert {"chisq_scaled", "df_scaled", "pvalue_scaled", "chisq_scaling_factor", "cfi_scaled", "tli_scaled",
            "rmsea_scaled", "baseline_chisq_scaled"} <= set(checked)
    if spec["options"]["estimator"] != "MLMVS":
        assert {"cfi_robust", "tli_robust", "rmsea_robust", "rmsea_ci_lower_robust",
                "rmsea_ci_upper_robust"} <= set(checked)


def _keyed(table: pd.DataFrame, column: str, grouped: bool) -> pd.Series:
    table = table.copy()
    table["rhs"] = table["rhs"].fillna("")
    if "group" not in table.columns or not grouped:
        table["group"] = 1
    table = table[table["op"] != ":="]
    return table.set_index(["lhs", "op", "rhs", "group"])[column]


@pytest.mark.parametrize("name", COMPLETE_ROBUST)
def test_robust_standard_errors_match_lavaan(fits, name):
    res = fits(name)
    grouped = bool(res.group_labels)
    params = pd.DataFrame(REF["fits"][name]["params"])
    theirs = _keyed(params[params["se"] > 0], "se", grouped)
    ours = _keyed(res.estimates, "se", grouped)
    ours = ours.loc[theirs.index]
    np.testing.assert_allclose(ours.to_numpy(float), theirs.to_numpy(float), atol=TOL, rtol=0)
    # defined effects (delta method with the robust covariance)
    d_theirs = params[params["op"] == ":="].set_index("lhs")["se"]
    if len(d_theirs):
        d_ours = res.estimates[res.estimates["op"] == ":="].set_index("lhs")["se"]
        np.testing.assert_allclose(d_ours.loc[d_theirs.index], d_theirs, atol=TOL, rtol=0)
    # the robust SEs differ from ML's: the test would fail on plain ML
    ml = REF["fits"]["hs_ml"]["params"]
    if name == "hs_mlm":
        assert not np.allclose(pd.DataFrame(ml)["se"], params["se"], atol=TOL)


@pytest.mark.parametrize("name", ["hs_mlm", "hs_mlr", "lc_mlr", "lc_mlr_sector", "hs_mimic_mlm",
                                  "hs_mimic_mlr_school"])
def test_standardized_solution_uses_the_robust_covariance(fits, name):
    res = fits(name)
    grouped = bool(res.group_labels)
    theirs = pd.DataFrame(REF["fits"][name]["std_solution"])
    theirs = _keyed(theirs[theirs["se"] > 0], "se", grouped)
    sol = res.standardized_solution()
    ours = _keyed(sol.rename(columns={"se_std": "se_"}).assign(se=sol["se_std"]), "se", grouped)
    np.testing.assert_allclose(ours.loc[theirs.index].to_numpy(float), theirs.to_numpy(float), atol=TOL, rtol=0)


def test_gamma_matches_lavaan():
    ref = REF["fits"]["hs_mlm"]["gamma"]
    theirs = np.asarray(ref["values"] if isinstance(ref, dict) else ref, float)
    X = DATA["hs.csv"][[f"x{i}" for i in range(1, 10)]].to_numpy(float)
    ours = gamma_matrix(X, meanstructure=False)
    np.testing.assert_allclose(ours, theirs.reshape(ours.shape), atol=1e-10, rtol=1e-10)


LRT_CASES = {
    "hs_mlm_sb2001": ("hs_mlm", "hs_mlm_nested", "default"),
    "hs_mlm_sb2010": ("hs_mlm", "hs_mlm_nested", "satorra.bentler.2010"),
    "hs_mlr_sb2001": ("hs_mlr", "hs_mlr_nested", "satorra.bentler.2001"),
    "hs_mlr_sb2010": ("hs_mlr", "hs_mlr_nested", "satorra.bentler.2010"),
    "lc_mlm_sb2001": ("lc_mlm", "lc_mlm_nested", "default"),
    "lc_mlm_sb2010": ("lc_mlm", "lc_mlm_nested", "satorra.bentler.2010"),
    "lc_mlr_sb2001": ("lc_mlr", "lc_mlr_nested", "default"),
    "lc_mlr_sb2010": ("lc_mlr", "lc_mlr_nested", "satorra.bentler.2010"),
}


LRT_CASES["hs_mlmv_default"] = ("hs_mlmv", "hs_mlmv_nested", "default")
for _key, _ref in MORE["lrt"].items():
    LRT_CASES[_key] = (*_ref["table"]["model"], "satorra.bentler.2010" if "2010" in _key else
                       "satorra.2000" if _key == "hs_mlm_metric_s2000" else "default")
LRT_REF = {**REF["lrt"], **MORE["lrt"]}


@pytest.mark.parametrize("key", sorted(LRT_CASES))
def test_scaled_difference_tests_match_lavTestLRT(fits, key):
    a, b, method = LRT_CASES[key]
    ref = LRT_REF[key]
    expected_method = ("satorra.bentler.2010" if "2010" in key else
                       "satorra.2000" if "s2000" in key or "mlmv" in key else "satorra.bentler.2001")
    assert expected_method in ref["method"]
    out = lcsem.compare(fits(b), fits(a), method=method, names=[b, a])
    table = out.table
    assert out.method == expected_method
    assert list(table.index) == [a, b]
    theirs = ref["table"]
    np.testing.assert_allclose(table["chisq"], theirs["Chisq"], atol=TOL, rtol=0)
    np.testing.assert_allclose(table["aic"], theirs["AIC"], atol=TOL, rtol=0)
    assert table["chisq_diff"].iloc[1] == pytest.approx(theirs["Chisq diff"][1], abs=TOL)
    assert table["pvalue"].iloc[1] == pytest.approx(theirs["Pr(>Chisq)"][1], abs=TOL)
    assert int(table["df_diff"].iloc[1]) == theirs["Df diff"][1]
    # the scaled difference is not the standard one
    assert abs(table["chisq_diff"].iloc[1] - (table["chisq"].iloc[1] - table["chisq"].iloc[0])) > 0.1
    text = out.summary()
    assert "Scaled Chi-Squared Difference Test" in text and expected_method in text


def test_sb2001_and_sb2010_differ_as_in_lavaan(fits):
    # README quirk: HS MLR: 5.638 (2001) vs 4.678 (2010)
    one = lcsem.compare(fits("hs_mlr"), fits("hs_mlr_nested")).table["chisq_diff"].iloc[1]
    ten = lcsem.compare(fits("hs_mlr"), fits("hs_mlr_nested"),
                        method="satorra.bentler.2010").table["chisq_diff"].iloc[1]
    assert one == pytest.approx(5.638, abs=1e-3) and ten == pytest.approx(4.678, abs=1e-3)


# ---------------------------------------------------------------------- results and reports
def test_summary_report_and_round_trip_name_the_correction(fits):
    res = fits("hs_mlr")
    text = res.summary()
    assert "MLR: Huber-White robust SEs (observed information), Yuan-Bentler scaled chi-square" in text
    assert "scaled chi-square(24) = 87.132" in text
    assert "robust CFI = 0.930" in text
    back = FitResult.from_dict(res.to_dict())
    assert back.estimator == "MLR"
    pd.testing.assert_series_equal(back.fit_indices, res.fit_indices)
    np.testing.assert_allclose(back.vcov, res.vcov)
    mlm = fits("hs_mlm").summary()
    assert "Satorra-Bentler scaled chi-square" in mlm


def test_methods_paragraph_names_the_estimator(fits):
    from lcsem.reporting.methods import methods_paragraph

    assert "Satorra–Bentler scaled chi-square (MLM)" in methods_paragraph(fits("hs_mlm"))
    assert "Yuan–Bentler scaled chi-square (MLR)" in methods_paragraph(fits("hs_mlr"))


def test_ml_fit_has_no_robust_rows_and_robust_estimates_equal_ml():
    hs = DATA["hs.csv"]
    model = REF["fits"]["hs_ml"]["model"]
    ml = lcsem.fit(model, hs)
    assert not set(ROBUST_INDEX_NAMES) & set(ml.fit_indices.index)
    mlm = lcsem.fit(model, hs, estimator="MLM")
    np.testing.assert_allclose(mlm.estimates["est"], ml.estimates["est"], atol=1e-12)
    pd.testing.assert_series_equal(mlm.fit_indices[ml.fit_indices.index], ml.fit_indices)


def test_multi_group_views_carry_the_robust_estimator(fits):
    res = fits("lc_mlr_sector")
    assert res.n_groups == 2
    view = res.groups["public"]
    assert view.estimator == "MLR"
    joint = res.estimates[res.estimates["group"] == 1]
    joint = joint[~joint["op"].isin(["~1", ":="])]["se"].to_numpy()
    np.testing.assert_allclose(view.estimates["se"].to_numpy(), joint)


def test_huber_white_seam_takes_scores_and_information():
    rng = np.random.default_rng(1)
    scores = [rng.normal(size=(40, 3)), rng.normal(size=(60, 3))]
    A = np.array([[2.0, 0.3, 0.0], [0.3, 1.5, 0.2], [0.0, 0.2, 1.0]])
    B = first_order_information(scores)
    S = np.concatenate(scores)
    np.testing.assert_allclose(B, S.T @ S / 100)
    Ainv = np.linalg.inv(A)
    np.testing.assert_allclose(huber_white_vcov(A, scores), Ainv @ B @ Ainv / 100)
    np.testing.assert_allclose(sandwich_vcov(A, B, 100), Ainv @ B @ Ainv / 100)


# ---------------------------------------------------------------------- bad input
HS_MODEL = REF["fits"]["hs_ml"]["model"]


def test_mlm_with_missing_values_names_the_fix():
    hs = DATA["hs.csv"].copy()
    hs.loc[[3, 10], "x2"] = np.nan
    before = hs.copy()
    for est in ("MLM", "MLMV", "MLMVS"):
        with pytest.raises(DataError) as info:
            lcsem.fit(HS_MODEL, hs, estimator=est)
        msg = str(info.value)
        assert repr(est) in msg and "x2 (2)" in msg and "estimator='MLR'" in msg and "missing='ml'" in msg
    pd.testing.assert_frame_equal(hs, before)


def test_robust_from_sample_cov_is_refused():
    hs = DATA["hs.csv"][[f"x{i}" for i in range(1, 10)]]
    for est in ("MLM", "MLR"):
        with pytest.raises(ArgumentError, match="raw data.*sample_cov.*data="):
            lcsem.fit(HS_MODEL, sample_cov=hs.cov(), sample_nobs=301, estimator=est)


def test_observed_covariates_follow_fixed_x(fits):
    # lavaan's fixed.x: the covariates' moments are given (no SE), Gamma residualised on them
    res = fits("hs_mimic_mlr")
    est = res.estimates
    cov_rows = est[(est["op"] == "~~") & est["lhs"].isin(["ageyr", "sex"])]
    assert len(cov_rows) == 3 and cov_rows["se"].isna().all()
    assert res.fit_indices["n_params"] == REF["fits"]["hs_mimic_mlr"]["fit_measures"]["npar"]


def test_unknown_estimator_lists_the_robust_ones():
    with pytest.raises(ArgumentError, match="MLM, MLMV, MLMVS, MLR"):
        lcsem.fit(HS_MODEL, DATA["hs.csv"], estimator="WLSMV")


def test_compare_refuses_what_it_does_not_do(fits):
    with pytest.raises(ArgumentError, match="different estimators"):
        lcsem.compare(fits("hs_mlm"), fits("hs_mlr_nested"))
    with pytest.raises(NotSupportedError, match="satorra.2000.*MLM, MLMV and MLMVS.*satorra.bentler.2001"):
        lcsem.compare(fits("hs_mlr"), fits("hs_mlr_nested"), method="satorra.2000")
    with pytest.raises(ArgumentError, match="Satorra-Bentler scaling factors.*satorra.2000"):
        lcsem.compare(fits("hs_mlmv"), fits("hs_mlmv_nested"), method="satorra.bentler.2001")
    hs = DATA["hs.csv"]
    gls = [lcsem.fit(REF["fits"][n]["model"], hs, estimator="GLS") for n in ("hs_ml", "hs_ml_nested")]
    # GLS results get the standard difference test (lavaan's lavTestLRT; tests/test_ls_groups.py)
    out = lcsem.compare(*gls)
    assert out.method == "standard" and out.table["chisq_diff"].iloc[1] == pytest.approx(
        gls[1].fit_indices["chisq"] - gls[0].fit_indices["chisq"])


def test_satorra_2000_is_scaled_and_shifted(fits):
    out = lcsem.compare(fits("hs_mlmv"), fits("hs_mlmv_nested"))
    table = out.table
    assert out.method == "satorra.2000"
    assert np.isfinite(table["shift_parameter"].iloc[1]) and np.isfinite(table["scaling_factor"].iloc[1])
    a, b = 1 / table["scaling_factor"].iloc[1], table["shift_parameter"].iloc[1]
    standard = table["chisq"].iloc[1] - table["chisq"].iloc[0]
    assert table["chisq_diff"].iloc[1] == pytest.approx(a * standard + b, rel=1e-12)


def test_warnings_of_a_robust_fit_point_at_the_caller():
    model = "culture =~ culture1 + culture2 + culture3\nkmsuse =~ kmsuse1 + kmsuse2 + kmsuse3\nkmsuse ~ a*culture"
    with pytest.warns(lcsem.SharedLabelWarning) as record:
        res = lcsem.fit(model, DATA["lc_shared.csv"], group="sector", estimator="MLR")
    assert all(w.filename == __file__ for w in record)
    assert any("written once" in w for w in res.warnings)


@pytest.mark.parametrize("estimator", ["MLM", "MLR", "MLMV"])
def test_saturated_model_follows_lavaan(estimator):
    # make_robust.R: hs_<est>_saturated (df = 0)
    res = lcsem.fit("visual =~ x1 + x2 + x3", DATA["hs.csv"], estimator=estimator)
    fi = res.fit_indices
    assert fi["df"] == 0 and fi["chisq_scaled"] == pytest.approx(0, abs=1e-8) and fi["df_scaled"] == 0
    shifted = estimator == "MLMV"     # lavaan: plain formulas then (no shift parameter at df = 0)
    for name in ("pvalue_scaled", "chisq_scaling_factor", "rmsea_pvalue_scaled", "rmsea_pvalue_robust") + (
            () if shifted else ("cfi_robust", "tli_robust", "rmsea_scaled", "rmsea_ci_lower_scaled")):
        assert np.isnan(fi[name]), name
    if shifted:
        assert fi["cfi_robust"] == 1 and fi["tli_robust"] == 1 and fi["rmsea_scaled"] == 0
        assert fi["rmsea_ci_lower_scaled"] == 0 and fi["rmsea_ci_upper_scaled"] == 0
    assert fi["cfi_scaled"] == 1 and fi["tli_scaled"] == 1
    assert fi["rmsea_robust"] == 0 and fi["rmsea_ci_lower_robust"] == 0 and fi["rmsea_ci_upper_robust"] == 0
    theirs = MORE["fits"][f"hs_{estimator.lower()}_saturated"]["fit_measures"]
    assert fi["baseline_chisq_scaling_factor"] == pytest.approx(theirs["baseline.chisq.scaling.factor"], abs=TOL)
    assert (theirs["cfi.robust"] is None) == (not shifted)
    assert np.isfinite(res.estimates["se"].iloc[1:]).all()


def test_unidentified_model_gives_nan_with_a_named_warning():
    with pytest.warns(lcsem.exceptions.ScaledTestWarning, match="cannot be inverted"), \
            pytest.warns(lcsem.IdentificationWarning):
        res = lcsem.fit("f =~ x1 + x2\n g =~ x3 + x4\n f ~~ 0*g", DATA["hs.csv"], estimator="MLM")
    assert np.isnan(res.fit_indices["chisq_scaled"]) and res.estimates["se"].isna().all()
