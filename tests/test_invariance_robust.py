"""invariance() with a robust estimator: the scaled χ², the robust indices and the scaled
difference tests, against lavaan 0.6.14 (tests/reference/make_robust.R ->
robust_reference.json: HS by school, MLR, configural / metric / scalar)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lcsem

REF = json.loads((Path(__file__).parent / "reference" / "robust_reference.json").read_text())
HS = pd.read_csv(Path(__file__).parent / "reference" / "hs.csv")
LEVELS = ("configural", "metric", "scalar")


@pytest.fixture(scope="module")
def mlr():
    model = REF["fits"]["hs_mlr_configural"]["model"]
    return lcsem.invariance(model, HS, group="school", estimator="MLR", levels=LEVELS)


@pytest.mark.parametrize("level", LEVELS)
def test_robust_columns_match_lavaan(mlr, level):
    fm = REF["fits"][f"hs_mlr_{level}"]["fit_measures"]
    row = mlr.table.loc[level]
    assert row["chisq_scaled"] == pytest.approx(fm["chisq.scaled"], abs=0.01)
    assert row["chisq"] == pytest.approx(fm["chisq"], abs=0.01)
    for column in ("chisq_scaling_factor", "cfi_robust", "tli_robust", "rmsea_robust",
                   "rmsea_ci_lower_robust", "rmsea_ci_upper_robust"):
        assert row[column] == pytest.approx(fm[column.replace("_robust", ".robust")
                                               .replace("chisq_scaling_factor", "chisq.scaling.factor")
                                               .replace("rmsea_ci_lower.robust", "rmsea.ci.lower.robust")
                                               .replace("rmsea_ci_upper.robust", "rmsea.ci.upper.robust")],
                                            abs=1e-3), column


def test_differences_are_scaled_and_robust(mlr):
    lrt = REF["lrt"]["hs_mlr_scalar_sb2001"]["table"]
    assert mlr.table.loc["scalar", "chisq_diff"] == pytest.approx(lrt["Chisq diff"][1], abs=1e-3)
    fm = {lv: REF["fits"][f"hs_mlr_{lv}"]["fit_measures"] for lv in LEVELS}
    assert mlr.table.loc["scalar", "cfi_diff"] == pytest.approx(
        fm["scalar"]["cfi.robust"] - fm["metric"]["cfi.robust"], abs=1e-3)
    assert mlr.table.loc["metric", "rmsea_diff"] == pytest.approx(
        fm["metric"]["rmsea.robust"] - fm["configural"]["rmsea.robust"], abs=1e-3)


def test_summary_shows_the_scaled_statistic_and_names_the_correction(mlr):
    text = mlr.summary()
    scaled = f"{mlr.table.loc['configural', 'chisq_scaled']:.2f}"
    assert scaled in text and f"{mlr.table.loc['configural', 'chisq']:.2f}" not in text
    assert "Satorra & Bentler, 2001" in text and "MLR" in text
    assert f"{mlr.table.loc['scalar', 'rmsea_robust']:.3f}".lstrip("0") in repr(mlr)


def test_ml_table_has_no_robust_columns():
    model = REF["fits"]["hs_mlr_configural"]["model"]
    inv = lcsem.invariance(model, HS, group="school", levels=("configural", "metric"))
    assert "chisq_scaled" not in inv.table.columns
    assert np.isfinite(inv.table.loc["metric", "cfi_diff"])


def test_report_fit_table_shows_scaled_statistic_and_robust_indices():
    from lcsem.reporting.tables import fit_table
    model = REF["fits"]["hs_mlr_configural"]["model"]
    res = lcsem.fit(model, HS, estimator="MLR")
    table = fit_table(res)
    fi = res.fit_indices
    assert table.loc["χ² (MLR, scaled)", "Value"] == f"{fi['chisq_scaled']:.3f}"
    assert table.loc["CFI (robust)", "Value"] == f"{fi['cfi_robust']:.3f}"
    assert table.loc["RMSEA (robust) [90% CI]", "Value"].startswith(f"{fi['rmsea_robust']:.3f}")
    text = lcsem.report(res)
    assert f"Scaled χ² = {fi['chisq_scaled']:.3f} (MLR" in text
    plain = fit_table(lcsem.fit(model, HS))
    assert "χ²" in plain.index and "CFI" in plain.index


# lavaan 0.6.14 (/tmp script, figures copied): modindices of cfa(HS) with estimator MLR / MLM
# equal ML's (visual =~ x9 36.411, x7 ~~ x8 34.145); with missing="ml" the MLR ones equal
# FIML's (hs_mcar.csv: visual =~ x9 31.651, x7 ~~ x8 30.479); lavTestScore of an MLR fit
# falls back to the ordinary score test with a warning.
@pytest.mark.parametrize("estimator", ["MLM", "MLR"])
def test_modification_indices_of_robust_fits_are_mls(estimator):
    model = REF["fits"]["hs_mlr_configural"]["model"]
    mi = lcsem.modification_indices(lcsem.fit(model, HS, estimator=estimator), top=2)
    assert mi["mi"].to_numpy() == pytest.approx([36.411, 34.145], abs=1e-3)


def test_modification_indices_of_mlr_fiml():
    model = REF["fits"]["hs_mlr_configural"]["model"]
    data = pd.read_csv(Path(__file__).parent / "reference" / "hs_mcar.csv")
    mi = lcsem.modification_indices(lcsem.fit(model, data, estimator="MLR", missing="ml"), top=2)
    assert mi["mi"].to_numpy() == pytest.approx([31.651, 30.479], abs=1e-3)


def test_score_tests_of_mlr_fit_warn_and_equal_mls():
    model = REF["fits"]["hs_mlr_configural"]["model"]
    ml = lcsem.fit(model, HS, group="school", group_equal=["loadings"]).score_tests()
    with pytest.warns(lcsem.ScaledTestWarning, match="ordinary"):
        mlr = lcsem.fit(model, HS, group="school", group_equal=["loadings"], estimator="MLR").score_tests()
    assert mlr["x2"].to_numpy() == pytest.approx(ml["x2"].to_numpy(), abs=1e-8)
    assert mlr["x2"].iloc[:3].to_numpy() == pytest.approx([0.668, 0.516, 4.649], abs=1e-3)


def test_bootstrap_of_robust_fits_refits_ml():
    model = REF["fits"]["hs_mlr_configural"]["model"]
    ml = lcsem.bootstrap(lcsem.fit(model, HS), 40, seed=8)
    for estimator in ("MLM", "MLR"):
        boot = lcsem.bootstrap(lcsem.fit(model, HS, estimator=estimator), 40, seed=8)
        assert np.array_equal(boot.distribution.to_numpy(), ml.distribution.to_numpy(), equal_nan=True)
    data = pd.read_csv(Path(__file__).parent / "reference" / "hs_mcar.csv")
    fiml = lcsem.bootstrap(lcsem.fit(model, data, missing="ml"), 10, seed=3)
    mlr = lcsem.bootstrap(lcsem.fit(model, data, missing="ml", estimator="MLR"), 10, seed=3)
    assert np.allclose(mlr.distribution.to_numpy(), fiml.distribution.to_numpy(), atol=1e-8, equal_nan=True)


def test_path_caption_of_a_robust_fit_shows_the_scaled_statistic():
    from lcsem.plot.path_diagram import caption_text
    model = REF["fits"]["hs_mlr_configural"]["model"]
    fi = lcsem.fit(model, HS, estimator="MLR").fit_indices
    text = caption_text(fi)
    assert text.startswith(f"scaled χ²(24) = {fi['chisq_scaled']:.2f}")
    assert f"RMSEA = {fi['rmsea_robust']:.3f}".replace("0.", ".") in text
    plain = caption_text(lcsem.fit(model, HS).fit_indices)
    assert plain.startswith("χ²(24) = 85.31")
