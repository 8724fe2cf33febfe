"""Honest numbers on screen (issue 8, What 6): bootstrap p-values never 0 and one
convention everywhere; lavaan's df = 0 conventions; no chi-square of -0.000; raw-scale
values never shown as 0.000 when they are not 0."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import lcsem
from conftest import REFERENCE, load_reference_data
from lcsem.resampling.intervals import bootstrap_pvalue, pvalue_floor, upper_tail_pvalue
from lcsem.exceptions import BootstrapFailureWarning
from lcsem.display.format import format_boot_p, format_raw
from lcsem.reporting.tables import effects_table, fit_table, structural_table


def quiet(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="bootstrap: ", category=BootstrapFailureWarning)
        return lcsem.bootstrap(*args, progress=False, **kwargs)


@pytest.fixture(scope="module")
def survey_boot(fitted):
    res = fitted["learning_culture_survey"]
    return res, quiet(res, 300, seed=12)


# ---------------------------------------------------------------- bootstrap p-values
def test_bootstrap_pvalue_is_never_zero_and_follows_the_plus_one_convention():
    assert bootstrap_pvalue(np.ones(99)) == pytest.approx(2 / 100)
    assert bootstrap_pvalue(np.r_[-1.0, np.ones(98)]) == pytest.approx(2 * 2 / 100)
    assert bootstrap_pvalue(np.r_[-np.ones(50), np.ones(49)]) == 1.0
    assert bootstrap_pvalue(np.r_[np.ones(9), np.nan]) == pytest.approx(2 / 10)   # failed draws dropped
    assert np.isnan(bootstrap_pvalue(np.array([np.nan])))
    assert upper_tail_pvalue(np.zeros(99), 1.0) == pytest.approx(1 / 100)
    assert upper_tail_pvalue(np.arange(10.0), 5.0) == pytest.approx((1 + 5) / 11)
    assert pvalue_floor(99) == pytest.approx(0.02) and pvalue_floor(99, sides=1) == pytest.approx(0.01)


def test_bootstrap_pvalues_are_never_zero_in_any_table_or_frame(survey_boot):
    res, boot = survey_boot
    B = boot.n_resamples - boot.n_failed
    p = boot.pvalues.dropna()
    assert (p > 0).all() and p.min() == pytest.approx(2 / (B + 1))   # strong paths sit at the floor
    eff = lcsem.effects(res, boot).table
    assert (eff["pvalue"] > 0).all()
    assert eff.loc["ind", "pvalue"] == pytest.approx(bootstrap_pvalue(boot.distribution["ind"].to_numpy()))
    # the same value and the same text in the report tables, the effects summary and the
    # bootstrap summary: '≤ floor', never '0', '.000' or '< .001' from a zero
    floor_text = format_boot_p(2 / (B + 1), B)
    assert floor_text == "≤ .007"
    st = structural_table(res, boot)
    assert (st["p"] == floor_text).any() and not st["p"].isin(["0", ".000", "0.000"]).any()
    et = effects_table(lcsem.effects(res, boot))
    assert floor_text in set(et["p"])
    assert floor_text in lcsem.effects(res, boot).summary()
    text = boot.summary()
    assert f"  {floor_text}\n" in text and "pvalue" in text.splitlines()[3]


def test_bollen_stine_p_is_never_zero(fitted):
    res = fitted["learning_culture_survey"]
    bs = quiet(res, 60, kind="bollen-stine", seed=4)
    t = bs.distribution["chisq"].to_numpy()
    B = np.isfinite(t).sum()
    assert bs.pvalue == pytest.approx((1 + np.sum(t >= bs.estimate["chisq"])) / (B + 1))
    assert bs.pvalue > 0
    # a sample chi-square above every replicate: p at its floor 1/(B + 1), shown as such
    shifted = type(bs)(fit=bs.fit, kind=bs.kind, n_resamples=bs.n_resamples, seed=bs.seed,
                       distribution=bs.distribution, estimate=bs.estimate.copy(), status=bs.status,
                       failure_reasons=bs.failure_reasons, indices=bs.indices)
    shifted.estimate["chisq"] = np.nanmax(t) + 1.0
    assert shifted.pvalue == pytest.approx(1 / (B + 1))
    row = fit_table(res, shifted).filter(like="Bollen", axis=0)
    assert row["Value"].iloc[0] == format_boot_p(1 / (B + 1), B, sides=1) == "≤ .017"   # 1/61, rounded up
    assert "Bollen-Stine p ≤" in shifted.summary()


# ---------------------------------------------------------------- df = 0 and chi-square
def test_just_identified_model_reports_lavaan_df0_conventions():
    ref = json.loads((REFERENCE / "df0_reference.json").read_text())
    res = lcsem.fit(ref["model"], load_reference_data("holzinger_swineford"))
    fi = res.fit_indices
    assert fi["df"] == 0
    for name, value in ref["fit_measures"].items():
        if value is None:
            assert np.isnan(fi[name]), name
        else:
            assert fi[name] == pytest.approx(value, abs=1e-6), name
    assert fi["rmsea"] == 0 and fi["tli"] == 1 and fi["agfi"] == 1
    assert fi["rmsea_ci_lower"] == 0 and fi["rmsea_ci_upper"] == 0


def test_chisq_is_never_negative():
    from lcsem.inference.fit_indices import test_statistic

    assert test_statistic(np.array([-1e-15, 0.0, 0.5]), 100, "ML").tolist() == [0.0, 0.0, 50.0]
    assert test_statistic(-1e-14, 100, "GLS") == 0.0
    res = lcsem.fit("f =~ x1 + x2 + x3", load_reference_data("holzinger_swineford"))
    assert res.fit_indices["chisq"] >= 0
    assert "-0.000" not in fit_table(res).to_string()


# ---------------------------------------------------------------- raw-scale values
def test_raw_scale_values_are_not_shown_as_zero():
    assert format_raw(3.2e-6) == "3.20e-06" and format_raw(-4e-5) == "-4.00e-05"
    assert format_raw(0.0) == "0.000" and format_raw(0.25) == "0.250" and format_raw(np.nan) == "–"
    data = load_reference_data("political_democracy")
    tiny = data.copy()
    tiny[["y1", "y2", "y3", "y4", "y5", "y6", "y7", "y8"]] *= 1e-4       # measured in tiny units
    res = lcsem.fit("ind60 =~ x1 + x2 + x3\ndem60 =~ y1 + y2 + y3 + y4\ndem65 =~ y5 + y6 + y7 + y8\n"
                    "dem60 ~ ind60\ndem65 ~ ind60 + dem60", tiny)
    st = structural_table(res)
    b = st.loc["dem60", "b"]
    assert b != "0.000" and "e-04" in b
    assert not (st[["b", "SE"]] == "0.000").any().any()
    eff = effects_table(lcsem.effects(res))
    nonzero = eff["Estimate"][eff.index != "proportion mediated"]
    assert not (nonzero == "0.000").any()
