"""Effects against lavaan 0.6.14's ':=' rows (delta-method SEs, standardizedSolution)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import lcsem
from lcsem.analysis.mediation import bootstrap_pvalue, effects
from lcsem.exceptions import ArgumentError, UnstableRatioWarning

from conftest import REFERENCE, load_reference_data

EXTRA = json.loads((REFERENCE / "measurement_effects_reference.json").read_text())["effects"]
DATA = {"learning_culture_survey": "learning_culture_survey", "political_democracy": "political_democracy",
        "holzinger_swineford_paths": "holzinger_swineford"}


@pytest.fixture(scope="module", params=list(DATA))
def case(request):
    ref = EXTRA[request.param]
    res = lcsem.fit(ref["model"], load_reference_data(DATA[request.param]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnstableRatioWarning)
        return ref, res, effects(res)


def test_survey_indirect_and_total_match_main_reference(reference, fitted):
    params = {p["lhs"]: p for p in reference["learning_culture_survey"]["params"] if p["op"] == ":="}
    table = effects(fitted["learning_culture_survey"]).table
    for name in ("ind", "total"):
        assert table.loc[name, "est"] == pytest.approx(params[name]["est"], abs=1e-3)
        assert table.loc[name, "se"] == pytest.approx(params[name]["se"], abs=1e-3)
        assert table.loc[name, "std"] == pytest.approx(params[name]["std.all"], abs=1e-3)
    # the enumerated chain equals the ':=' definitions
    assert table.loc["culture->kmsuse->perf", "est"] == pytest.approx(params["ind"]["est"], abs=1e-6)
    assert table.loc["total(culture->perf)", "se"] == pytest.approx(params["total"]["se"], abs=1e-6)


def test_defined_effects_and_standardised_ses_match_lavaan(case):
    ref, _, eff = case
    expected = pd.DataFrame(ref["defined"]).set_index("name")
    table = eff.table
    for name, row in expected.iterrows():
        assert table.loc[name, "est"] == pytest.approx(row["est"], abs=1e-5)
        assert table.loc[name, "se"] == pytest.approx(row["se"], abs=1e-5)
        assert table.loc[name, "std"] == pytest.approx(row["std"], abs=1e-5)
        assert table.loc[name, "std_se"] == pytest.approx(row["std_se"], abs=1e-5)


def test_every_chain_is_enumerated_and_sums_to_the_total():
    ref = EXTRA["holzinger_swineford_paths"]
    res = lcsem.fit(ref["model"], load_reference_data("holzinger_swineford"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnstableRatioWarning)  # a clear total effect: no warning
        eff = effects(res, source="x1", outcome="x9")
    t = eff.table
    chains = t[t["effect"] == "indirect"]
    assert sorted(chains.index) == ["x1->x7->x8->x9", "x1->x7->x9", "x1->x8->x9"]
    d = {r["name"]: r for r in ref["defined"]}
    assert t.loc["x1->x7->x9", "est"] == pytest.approx(d["i1"]["est"], abs=1e-8)
    assert t.loc["x1->x8->x9", "se"] == pytest.approx(d["i2"]["se"], abs=1e-6)
    assert t.loc["x1->x7->x8->x9", "se"] == pytest.approx(d["i3"]["se"], abs=1e-6)
    assert t.loc["indirect(x1->x9)", "est"] == pytest.approx(d["tot_ind"]["est"], abs=1e-8)
    assert t.loc["indirect(x1->x9)", "se"] == pytest.approx(d["tot_ind"]["se"], abs=1e-6)
    assert t.loc["total(x1->x9)", "est"] == pytest.approx(d["total"]["est"], abs=1e-8)
    assert t.loc["total(x1->x9)", "se"] == pytest.approx(d["total"]["se"], abs=1e-6)
    assert t.loc["total(x1->x9)", "est"] == pytest.approx(
        t.loc["indirect(x1->x9)", "est"] + t.loc["direct(x1->x9)", "est"], abs=1e-12)
    # the total effect equals the matrix formula (I - B)^-1 - I
    A, _ = res.structure.matrices(res.theta[None])
    total = np.linalg.inv(np.eye(res.structure.m) - A[0]) - np.eye(res.structure.m)
    i, j = res.structure.names.index("x9"), res.structure.names.index("x1")
    assert t.loc["total(x1->x9)", "est"] == pytest.approx(total[i, j], abs=1e-12)
    ratio = t.loc["proportion(x1->x9)"]
    assert ratio["est"] == pytest.approx(d["tot_ind"]["est"] / d["total"]["est"], abs=1e-10)


def test_mediators_filter_keeps_total_indirect_over_all_chains():
    ref = EXTRA["holzinger_swineford_paths"]
    res = lcsem.fit(ref["model"], load_reference_data("holzinger_swineford"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnstableRatioWarning)
        t = effects(res, source="x1", outcome="x9", mediators=["x7"]).table
        full = effects(res, source="x1", outcome="x9").table
    assert list(t[t["effect"] == "indirect"].index) == ["x1->x7->x9"]
    assert t.loc["indirect(x1->x9)", "est"] == pytest.approx(full.loc["indirect(x1->x9)", "est"])


def test_delta_intervals_and_pvalues_without_bootstrap(case):
    _, res, eff = case
    t = eff.table
    assert eff.ci_method == "delta"
    z = 1.959963984540054
    np.testing.assert_allclose(t["ci_lower"], t["est"] - z * t["se"], rtol=1e-9)
    np.testing.assert_allclose(t["std_ci_upper"], t["std"] + z * t["std_se"], rtol=1e-9)
    assert ((t["pvalue"] >= 0) & (t["pvalue"] <= 1)).all()
    assert "boot_se" not in t.columns


def test_unstable_ratio_warning_when_direct_and_indirect_cancel():
    rng = np.random.default_rng(5)
    x = rng.normal(size=300)
    m = 0.5 * x + rng.normal(size=300)
    y = 0.5 * m - 0.25 * x + rng.normal(size=300)
    res = lcsem.fit("m ~ x\ny ~ m + x", pd.DataFrame({"x": x, "m": m, "y": y}))
    with pytest.warns(UnstableRatioWarning, match="proportion mediated x -> y"):
        eff = effects(res)
    assert any("unstable" in n for n in eff.notes)


def test_standardised_effect_is_effect_times_sd_ratio(fitted):
    res = fitted["learning_culture_survey"]
    t = effects(res).table
    _, _, C = res.structure.implied(res.theta[None])
    sd = np.sqrt(np.diag(C[0]))
    names = res.structure.names
    ratio = sd[names.index("culture")] / sd[names.index("perf")]
    assert t.loc["total(culture->perf)", "std"] == pytest.approx(t.loc["total(culture->perf)", "est"] * ratio)


def test_arguments_are_validated(fitted):
    res = fitted["learning_culture_survey"]
    with pytest.raises(ArgumentError, match="source"):
        effects(res, source="nope")
    with pytest.raises(ArgumentError, match="method"):
        effects(res, method="normal-ish")
    with pytest.raises(ArgumentError, match="level"):
        effects(res, level=1.5)
    with pytest.raises(ArgumentError, match="res"):
        effects("not a result")


def test_no_indirect_effect_is_an_error_that_says_what_to_do():
    res = lcsem.fit("visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\ntextual ~ visual",
                    load_reference_data("holzinger_swineford"))
    with pytest.raises(ArgumentError, match="source= and outcome="):
        effects(res)
    t = effects(res, source="visual", outcome="textual").table
    assert list(t["effect"]) == ["direct", "total"]


def test_bootstrap_pvalue_agrees_with_percentile_interval():
    rng = np.random.default_rng(1)
    for shift in (0.0, 1.0, 2.0, 2.5, 3.0):
        d = rng.normal(shift, 1.0, 4000)
        p = bootstrap_pvalue(d)
        lo, hi = np.quantile(d, [0.025, 0.975])
        assert (p < 0.05) == (lo > 0 or hi < 0) or abs(p - 0.05) < 2e-3
    assert bootstrap_pvalue(np.array([np.nan])) != bootstrap_pvalue(np.array([np.nan]))  # NaN


def test_summary_renders(fitted):
    eff = effects(fitted["learning_culture_survey"])
    for fmt in ("text", "markdown", "latex", "html"):
        text = eff.summary(fmt).replace("&gt;", ">").replace(r" $\rightarrow$ ", " -> ")
        assert "culture -> kmsuse -> perf" in text


# ---------------------------------------------------------------------------- bootstrap
@pytest.fixture(scope="module")
def survey_boot(fitted):
    """2,000 nonparametric replicates of the survey model (as lavaan's reference)."""
    res = fitted["learning_culture_survey"]
    return res, lcsem.bootstrap(res, 2000, seed=20261127, progress=False)


def test_bootstrap_intervals_of_indirect_effect_match_lavaan(reference, survey_boot):
    res, boot = survey_boot
    ref = reference["learning_culture_survey"]["indirect"]
    perc = effects(res, boot, method="percentile").table.loc["ind"]
    bc = effects(res, boot, method="bc").table.loc["ind"]
    assert perc["est"] == pytest.approx(ref["est"], abs=1e-3)
    assert perc["ci_lower"] == pytest.approx(ref["perc"][0], abs=0.02)
    assert perc["ci_upper"] == pytest.approx(ref["perc"][1], abs=0.02)
    assert bc["ci_lower"] == pytest.approx(ref["bc"][0], abs=0.02)
    assert bc["ci_upper"] == pytest.approx(ref["bc"][1], abs=0.02)
    assert perc["boot_se"] == pytest.approx(ref["boot_se"], abs=0.005)
    # the enumerated chain uses the same draws as the ':=' definition
    chain = effects(res, boot).table.loc["culture->kmsuse->perf"]
    assert (chain["ci_lower"], chain["ci_upper"]) == pytest.approx((perc["ci_lower"], perc["ci_upper"]), abs=1e-12)
    # ... and as the bootstrap's own interval of the defined parameter
    own = boot.ci(method="percentile", stats=["ind"]).loc["ind"]
    assert (own["lower"], own["upper"]) == pytest.approx((perc["ci_lower"], perc["ci_upper"]), abs=1e-10)


def test_bootstrap_pvalues_agree_with_percentile_intervals(survey_boot):
    res, boot = survey_boot
    t = effects(res, boot).table
    assert "pvalue_delta" in t.columns and "boot_se" in t.columns
    excludes = (t["ci_lower"] > 0) | (t["ci_upper"] < 0)
    assert ((t["pvalue"] < 0.05) == excludes).all()
    assert t.loc["ind", "pvalue"] < 0.001


def test_standardised_effects_get_intervals_from_the_same_draws(survey_boot):
    res, boot = survey_boot
    t = effects(res, boot).table
    assert (t["std_ci_lower"] <= t["std"]).all() and (t["std"] <= t["std_ci_upper"]).all()
    own = boot.ci(method="percentile", stats=["std:kmsuse~culture"]).loc["std:kmsuse~culture"]
    direct = effects(res, boot, source="culture", outcome="kmsuse").table.loc["direct(culture->kmsuse)"]
    assert (direct["std_ci_lower"], direct["std_ci_upper"]) == pytest.approx((own["lower"], own["upper"]), abs=1e-10)


def test_bca_intervals_use_the_jackknife(survey_boot):
    res, boot = survey_boot
    bca = effects(res, boot, method="bca").table.loc["ind"]
    bc = effects(res, boot, method="bc").table.loc["ind"]
    assert bca["ci_lower"] < bca["est"] < bca["ci_upper"]
    assert abs(bca["ci_lower"] - bc["ci_lower"]) < 0.01 and (bca["ci_lower"], bca["ci_upper"]) != (bc["ci_lower"], bc["ci_upper"])


def test_bootstrap_of_another_fit_is_refused(survey_boot, fitted):
    _, boot = survey_boot
    with pytest.raises(ArgumentError, match="boot"):
        effects(fitted["political_democracy"], boot)



# ---------------------------------------------------------------- Monte Carlo intervals
@pytest.fixture(scope="module")
def survey_fit():
    model = json.loads((REFERENCE / "lavaan_reference.json").read_text())["learning_culture_survey"]["model"]
    return lcsem.fit(model, load_reference_data("learning_culture_survey"))


def test_monte_carlo_intervals_of_effects_agree_with_semtools(survey_fit):
    """effects(ci="montecarlo") against semTools::monteCarloCI (20,000 draws, two seeds);
    the tolerance is about 4 Monte Carlo SEs of a 2.5% / 97.5% quantile at 20,000 draws."""
    ref = json.loads((REFERENCE / "power_reference.json").read_text())["monte_carlo_ci"]
    table = effects(survey_fit, ci="montecarlo", n_draws=20000, seed=3).table
    delta_lower = table.loc["ind", "est"] - 1.959964 * table.loc["ind", "se"]
    assert abs(table.loc["ind", "ci_lower"] - delta_lower) > 1e-3     # not the delta interval
    for key in ("seed1", "seed2"):
        theirs = pd.DataFrame(ref[key]["table"]).set_index("param")
        for col in ("ci_lower", "ci_upper"):
            assert table.loc["ind", col] == pytest.approx(theirs.loc["ind", col.replace("_", ".")], abs=0.004)


def test_monte_carlo_intervals_are_seeded_and_refuse_bad_arguments(survey_fit):
    a = effects(survey_fit, ci="montecarlo", n_draws=2000, seed=5).table
    b = effects(survey_fit, ci="montecarlo", n_draws=2000, seed=5).table
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(ArgumentError, match="ci"):
        effects(survey_fit, ci="bootstrap")
    with pytest.raises(ArgumentError, match="n_draws"):
        effects(survey_fit, ci="montecarlo", n_draws=10)
