"""Robust ML with missing data (``estimator="MLR", missing="ml"``) against lavaan 0.6.14
(tests/reference/make_missing_robust.R -> missing_robust_reference.json): Huber-White
standard errors from the observed information and the casewise scores, the Yuan-Bentler
(Mplus) scaled test with the EM saturated model, the scaled fit indices and lcsem.compare's
scaled difference tests."""

from __future__ import annotations

import json
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lcsem
from lcsem.exceptions import ScaledTestWarning

REF_DIR = Path(__file__).parent / "reference"
REF = json.loads((REF_DIR / "missing_robust_reference.json").read_text())
FITS = ("hs_mcar_mlr_fiml", "hs_mar_mlr_fiml", "lc_missing_mlr_fiml")
NESTED = tuple(f"{name}_nested" for name in FITS)


@lru_cache(maxsize=None)
def fitted(name: str) -> lcsem.FitResult:
    spec = REF["fits"][name]
    data = pd.read_csv(REF_DIR / spec["options"]["data"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScaledTestWarning)
        return lcsem.fit(spec["model"], data, estimator="MLR", missing="ml")


def _lavaan_params(name: str) -> pd.DataFrame:
    table = pd.DataFrame(REF["fits"][name]["params"])
    return table[table["op"] != ":="]


@pytest.mark.parametrize("name", FITS + NESTED)
def test_huber_white_standard_errors_match_lavaan(name):
    res = fitted(name)
    assert res.estimator == "MLR"
    ref = _lavaan_params(name)
    merged = res.estimates.merge(ref, on=["lhs", "op", "rhs"], suffixes=("", "_lavaan"))
    assert len(merged) == len(ref)
    free = merged[merged["se_lavaan"] > 0]
    np.testing.assert_allclose(free["est"], free["est_lavaan"], atol=1e-3)
    np.testing.assert_allclose(free["se"], free["se_lavaan"], atol=1e-3)
    np.testing.assert_allclose(free["z"], free["z_lavaan"], atol=1e-2)


def test_robust_standard_errors_differ_from_fiml_ones():
    # the sandwich is not the observed-information SE: the test above cannot pass by accident
    spec = REF["fits"]["hs_mcar_mlr_fiml"]
    plain = lcsem.fit(spec["model"], pd.read_csv(REF_DIR / spec["options"]["data"]), missing="ml")
    diff = np.abs(plain.estimates["se"].to_numpy() - fitted("hs_mcar_mlr_fiml").estimates["se"].to_numpy())
    assert np.nanmax(diff) > 0.01


SCALED = ("chisq_scaled", "df_scaled", "pvalue_scaled", "chisq_scaling_factor", "scaling_factor_h1",
          "scaling_factor_h0", "baseline_chisq_scaled", "baseline_chisq_scaling_factor", "cfi_scaled",
          "tli_scaled", "rmsea_scaled", "rmsea_ci_lower_scaled", "rmsea_ci_upper_scaled",
          "rmsea_pvalue_scaled")


@pytest.mark.parametrize("name", FITS + NESTED)
def test_yuan_bentler_scaled_test_and_scaled_indices_match_lavaan(name):
    fi = fitted(name).fit_indices
    ref = REF["fits"][name]["fit_measures"]
    for key in SCALED:
        want = ref[key.replace("_", ".")]
        tol = 1e-3 * max(1.0, abs(want)) if key.startswith(("chisq", "baseline_chisq")) else 1e-3
        assert abs(fi[key] - want) <= tol, (key, fi[key], want)
    test = REF["fits"][name]["test"]["yuan.bentler.mplus"]
    assert fi["chisq_scaling_factor"] == pytest.approx(test["scaling.factor"], abs=1e-5)


def test_scaled_statistic_is_not_the_fiml_statistic():
    fi = fitted("hs_mcar_mlr_fiml").fit_indices
    assert abs(fi["chisq_scaled"] - fi["chisq"]) > 1.0


ROBUST = ("cfi_robust", "tli_robust", "rmsea_robust", "rmsea_ci_lower_robust", "rmsea_ci_upper_robust",
          "rmsea_pvalue_robust")


@pytest.mark.parametrize("name", FITS + NESTED)
def test_fiml_corrected_robust_indices_match_lavaan(name):
    # lavaan's robust CFI/TLI/RMSEA with missing data are FIML-C (V3), not the complete-data
    # formulas with the Yuan-Bentler scaling factor (those differ by up to 0.015 here)
    fi = fitted(name).fit_indices
    ref = REF["fits"][name]["fit_measures"]
    for key in ROBUST:
        assert abs(fi[key] - ref[key.replace("_", ".")]) <= 1e-3, (key, fi[key], ref[key.replace("_", ".")])


def test_robust_indices_are_not_the_complete_data_formulas():
    from lcsem.inference.robust import _rmsea
    res = fitted("hs_mar_mlr_fiml")
    fi = res.fit_indices
    naive = _rmsea(fi["chisq"], fi["df"], res.n_obs, 1, fi["chisq_scaling_factor"])
    assert abs(naive - fi["rmsea_robust"]) > 0.01


def test_data_are_unchanged():
    spec = REF["fits"]["hs_mar_mlr_fiml"]
    data = pd.read_csv(REF_DIR / spec["options"]["data"])
    before = data.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScaledTestWarning)
        lcsem.fit(spec["model"], data, estimator="MLR", missing="fiml")
    pd.testing.assert_frame_equal(data, before)


LRT = ("hs_mcar_mlr_fiml_sb2001", "hs_mcar_mlr_fiml_sb2010", "hs_mar_mlr_fiml_sb2001",
       "lc_missing_mlr_fiml_sb2001", "lc_missing_mlr_fiml_sb2010")


@pytest.mark.parametrize("key", LRT)
def test_scaled_difference_tests_match_lavtestlrt(key):
    table = REF["lrt"][key]["table"]
    results = [fitted(name) for name in table["model"]]
    method = "satorra.bentler.2010" if key.endswith("2010") else "default"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScaledTestWarning)
        out = lcsem.compare(*results, method=method)
    assert out.method == ("satorra.bentler.2010" if key.endswith("2010") else "satorra.bentler.2001")
    row = out.table.iloc[1]
    assert row["chisq_diff"] == pytest.approx(table["Chisq diff"][1], abs=1e-3)
    assert row["df_diff"] == table["Df diff"][1]
    assert row["pvalue"] == pytest.approx(table["Pr(>Chisq)"][1], abs=1e-4)
    np.testing.assert_allclose(out.table["chisq"], table["Chisq"], atol=1e-2)
    # the scaled difference is not the plain one
    assert abs(row["chisq_diff"] - (table["Chisq"][1] - table["Chisq"][0])) > 1e-2


# ---------------------------------------------------------------------- by group (make_mlr_fiml.R)
GROUP_REF = json.loads((REF_DIR / "mlr_fiml_reference.json").read_text())


@lru_cache(maxsize=None)
def fitted_by_school(name: str) -> lcsem.FitResult:
    spec = GROUP_REF["fits"][name]
    equal = spec["options"].get("group.equal")
    return lcsem.fit(spec["model"], pd.read_csv(REF_DIR / spec["options"]["data"]), estimator="MLR",
                     missing="ml", group="school", group_equal=[equal] if equal else None)


@pytest.mark.parametrize("name", sorted(GROUP_REF["fits"]))
def test_multi_group_mlr_fiml_matches_lavaan(name):
    res = fitted_by_school(name)
    assert not res.warnings
    ref = GROUP_REF["fits"][name]
    table = pd.DataFrame(ref["params"])
    table = table[table["se"] > 0]
    merged = res.estimates.merge(table, on=["lhs", "op", "rhs", "group"], suffixes=("", "_lavaan"))
    assert len(merged) == len(table)
    np.testing.assert_allclose(merged["se"], merged["se_lavaan"], atol=1e-3)
    fm = ref["fit_measures"]
    for key in SCALED + ROBUST:
        want = fm[key.replace("_", ".")]
        tol = 1e-3 * max(1.0, abs(want)) if key.startswith(("chisq", "baseline_chisq")) else 1e-3
        assert abs(res.fit_indices[key] - want) <= tol, (key, res.fit_indices[key], want)


@pytest.mark.parametrize("key", sorted(GROUP_REF["lrt"]))
def test_multi_group_scaled_difference_tests_match_lavaan(key):
    table = GROUP_REF["lrt"][key]["table"]
    out = lcsem.compare(*[fitted_by_school(name) for name in table["model"]],
                        method="satorra.bentler.2010" if key.endswith("2010") else "default")
    row = out.table.iloc[1]
    assert row["chisq_diff"] == pytest.approx(table["Chisq diff"][1], abs=1e-3)
    assert row["pvalue"] == pytest.approx(table["Pr(>Chisq)"][1], abs=1e-4)


# ---------------------------------------------------------------------- options, reporting
def test_expected_information_with_mlr_fiml_is_refused():
    spec = REF["fits"]["hs_mcar_mlr_fiml"]
    with pytest.raises(lcsem.NotSupportedError, match="information.*observed"):
        lcsem.fit(spec["model"], pd.read_csv(REF_DIR / spec["options"]["data"]), estimator="MLR",
                  missing="ml", information="expected")


@pytest.mark.parametrize("estimator", ["MLM", "MLMV", "GLS"])
def test_other_estimators_with_fiml_are_refused(estimator):
    spec = REF["fits"]["hs_mcar_mlr_fiml"]
    with pytest.raises(lcsem.LcsemError, match=estimator):
        lcsem.fit(spec["model"], pd.read_csv(REF_DIR / spec["options"]["data"]), estimator=estimator,
                  missing="ml")


def test_methods_paragraph_names_the_correction():
    from lcsem.reporting.methods import methods_paragraph
    text = methods_paragraph(fitted("hs_mcar_mlr_fiml"))
    assert "full-information" in text and "Huber–White" in text and "Yuan–Bentler" in text


def test_mlr_fiml_result_round_trips_through_its_dictionary():
    from lcsem.results.payload import fit_result_from_dict, fit_result_to_dict
    res = fitted("hs_mcar_mlr_fiml")
    back = fit_result_from_dict(json.loads(json.dumps(fit_result_to_dict(res))))
    assert back.estimator == "MLR" and back.missing == "ml"
    pd.testing.assert_series_equal(back.fit_indices, res.fit_indices, check_exact=False, rtol=1e-12)
    np.testing.assert_allclose(back.estimates["se"], res.estimates["se"], rtol=1e-12)


@pytest.mark.parametrize("file", ["hs_mcar.csv", "lc_missing.csv"])
def test_closed_form_saturated_information_equals_the_objectives_hessian(file):
    from lcsem.data.missing import em_moments, missing_patterns
    from lcsem.engine.fiml import FIMLObjective
    from lcsem.estimation.robust_fiml import _saturated_structure, saturated_observed_information
    data = pd.read_csv(REF_DIR / file)
    cols = [c for c in data.columns if c.rstrip("0123456789") in ("x", "culture", "kmsuse", "perf")]
    mp = missing_patterns(data[cols].to_numpy(float), tuple(cols))
    mean, cov, _ = em_moments(mp)
    theta = np.concatenate([cov[np.triu_indices(len(cols))], mean])
    hessian = FIMLObjective(_saturated_structure(tuple(cols)), (mp,)).observed_information(theta)
    np.testing.assert_allclose(saturated_observed_information(mp, cov, mean), 0.5 * hessian, atol=1e-10)


@pytest.mark.parametrize("file", ["hs_mcar.csv", "lc_missing.csv"])
def test_closed_form_saturated_scores_equal_the_objectives_casewise_scores(file):
    from lcsem.data.missing import em_moments, missing_patterns
    from lcsem.engine.fiml import FIMLObjective
    from lcsem.estimation.robust_fiml import _saturated_structure, saturated_scores
    data = pd.read_csv(REF_DIR / file)
    cols = [c for c in data.columns if c.rstrip("0123456789") in ("x", "culture", "kmsuse", "perf")]
    mp = missing_patterns(data[cols].to_numpy(float), tuple(cols))
    mean, cov, _ = em_moments(mp)
    theta = np.concatenate([cov[np.triu_indices(len(cols))], mean])
    scores = FIMLObjective(_saturated_structure(tuple(cols)), (mp,)).casewise_scores(theta)[0]
    np.testing.assert_allclose(saturated_scores(mp, cov, mean), scores, atol=1e-12)
