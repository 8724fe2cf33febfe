"""invariance(ordered=...): Wu and Estabrook's (2016) sequence for ordered items against
lavaan 0.6.14 + semTools' measEq.syntax (tests/reference/make_ordinal.R ->
ordinal_reference.json: lc_ord_inv_{configural, thresholds, loadings, intercepts} and
lrt.lc_ord_invariance, the survey cut into five categories by sector)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lcsem

HERE = Path(__file__).parent / "reference"
REF = json.loads((HERE / "ordinal_reference.json").read_text())
DATA = pd.read_csv(HERE / "lc_ordinal.csv")
CFA = REF["fits"]["lc_ord_inv_configural"]["measEq_call"]["configural.model"]
LAVAAN = {"configural": "configural", "thresholds": "thresholds", "metric": "loadings", "scalar": "intercepts"}


@pytest.fixture(scope="module")
def inv():
    return lcsem.invariance(CFA, DATA, "sector", ordered=True)


def test_levels_and_fits_match_measEq(inv):
    assert inv.levels == ("configural", "thresholds", "metric", "scalar")
    for level, name in LAVAAN.items():
        fm = REF["fits"][f"lc_ord_inv_{name}"]["fit_measures"]
        row = inv.table.loc[level]
        assert row["df"] == fm["df"]
        assert row["chisq"] == pytest.approx(fm["chisq"], abs=0.01)
        assert row["chisq_scaled"] == pytest.approx(fm["chisq.scaled"], abs=0.01)
        # lavaan gives no robust index once thresholds are constrained: the scaled one then
        for index in ("cfi", "tli", "rmsea"):
            expected = fm[f"{index}.robust"] if fm[f"{index}.robust"] is not None else fm[f"{index}.scaled"]
            assert row[f"{index}_robust"] == pytest.approx(expected, abs=1e-3), (level, index)
        assert row["srmr"] == pytest.approx(fm["srmr"], abs=1e-3)


def test_difference_tests_match_lavTestLRT(inv):
    lrt = REF["lrt"]["lc_ord_invariance"]["table"]
    assert inv.table["chisq_diff"].to_numpy()[1:] == pytest.approx(lrt["Chisq diff"][1:], abs=1e-3)
    assert inv.table["pvalue_diff"].to_numpy()[1:] == pytest.approx(lrt["Pr(>Chisq)"][1:], abs=1e-3)


def test_latent_mean_differences_match_the_scalar_fit(inv):
    params = pd.DataFrame(REF["fits"]["lc_ord_inv_intercepts"]["params"])
    lav = params[(params.op == "~1") & params.lhs.isin(["culture", "kmsuse", "perf"]) & (params.group == 2)]
    ours = inv.latent_means.set_index("lhs").loc[lav.lhs]
    assert ours["est"].to_numpy() == pytest.approx(lav["est"].to_numpy(), abs=1e-3)
    assert ours["se"].to_numpy() == pytest.approx(lav["se"].to_numpy(), abs=1e-3)


def test_summary_names_the_sequence_and_the_test(inv):
    text = inv.summary()
    assert "Wu and Estabrook" in text and "Satorra, 2000" in text and "Thresholds" in text
    assert f"{inv.table.loc['thresholds', 'chisq_scaled']:.2f}" in text


def test_levels_can_be_chosen():
    short = lcsem.invariance(CFA, DATA, "sector", ordered=True, levels=("configural", "thresholds"))
    assert list(short.table.index) == ["configural", "thresholds"]


@pytest.mark.parametrize("kwargs, error, fragment", [
    (dict(levels=("metric", "configural")), lcsem.ArgumentError, "in that order"),
    (dict(levels=("configural", "strict")), lcsem.ArgumentError, "levels"),
    (dict(group_partial=["culture1|t1"]), lcsem.NotSupportedError, "group_partial"),
    (dict(n_boot=100), lcsem.NotSupportedError, "n_boot"),
    (dict(parameterization="theta"), lcsem.NotSupportedError, "parameterization"),
])
def test_bad_requests_are_named(kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        lcsem.invariance(CFA, DATA, "sector", ordered=True, **kwargs)


def test_structural_models_are_tested_on_their_measurement_model(inv):
    sem = lcsem.invariance(CFA + "\nperf ~ culture + kmsuse", DATA, "sector", ordered=True,
                           levels=("configural", "thresholds"))
    assert sem.table["chisq_scaled"].to_numpy() == pytest.approx(
        inv.table["chisq_scaled"].to_numpy()[:2], abs=1e-8)
    assert any("measurement model" in n for n in sem.notes)


def test_continuous_indicators_are_refused():
    with pytest.raises(lcsem.NotSupportedError, match="'perf5' is an indicator but not ordered"):
        items = [x for x in lcsem.Model.from_syntax(CFA).observed if x != "perf5"]
        lcsem.invariance(CFA, DATA, "sector", ordered=items)


def test_data_unchanged(inv):
    again = pd.read_csv(HERE / "lc_ordinal.csv")
    before = DATA.copy()
    lcsem.invariance(CFA, DATA, "sector", ordered=True, levels=("configural",))
    pd.testing.assert_frame_equal(DATA, before)
    pd.testing.assert_frame_equal(DATA, again)
    assert np.isfinite(inv.table["chisq_scaled"]).all()


def test_report_of_an_ordinal_fit():
    res = lcsem.fit(lcsem.lc_model(), lcsem.datasets.load_lc_survey(), ordered=True)
    text = lcsem.report(res)
    omega = lcsem.ordinal_reliability(res)
    assert "WLSMV" in text and "polychoric" in text and "delta parameterisation" in text
    assert f"{omega.loc['culture', 'omega_categorical']:.3f}" in text
    std = res.standardized_solution()
    first = std[std["op"] == "=~"].iloc[0]
    assert f"{first['est_std']:.3f}" in text
    assert f"Scaled χ² = {res.fit_indices['chisq_scaled']:.3f}" in text
    assert "Intercepts and latent means" not in text and "mean structure" not in text


def test_report_of_a_multigroup_ordinal_fit(inv):
    text = lcsem.report(inv.fits["scalar"])
    assert "Measurement model (ordered items)" in text and "Intercepts and latent means" in text
    assert "Means of the latent variables were fixed at 0 in the first group" in text
