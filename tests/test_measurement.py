"""Measurement quality against semTools 0.5.6 (compRelSEM, AVE, htmt) and lavaan 0.6.14."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import lcsem
from lcsem.exceptions import ArgumentError, NotSupportedError
from lcsem.analysis.validity import cfa_model, measurement

from conftest import REFERENCE, load_reference_data

EXTRA = json.loads((REFERENCE / "measurement_effects_reference.json").read_text())["measurement"]
CASES = {"learning_culture_survey": "learning_culture_survey", "holzinger_swineford": "holzinger_swineford"}


@pytest.fixture(scope="module")
def lc_measurement(fitted):
    return measurement(fitted["learning_culture_survey"])


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    name = request.param
    ref = EXTRA[name]
    return name, ref, measurement(ref["model"], load_reference_data(name))


def test_survey_matches_main_reference(reference, lc_measurement):
    """alpha, omega, AVE and HTMT of the learning-culture survey within 1e-3 of semTools
    (the main reference's `htmt` is semTools' default, which is HTMT2)."""
    lc = reference["learning_culture_survey"]
    rel = lc_measurement.reliability
    for stat in ("alpha", "omega", "ave"):
        for construct, value in lc[stat].items():
            assert rel.loc[construct, stat] == pytest.approx(value, abs=1e-3)
    names = lc["htmt"]["names"]
    np.testing.assert_allclose(lc_measurement.htmt2.loc[names, names].to_numpy(), lc["htmt"]["m"], atol=1e-3)


def test_reliability_matches_semtools(case):
    name, ref, m = case
    for stat in ("alpha", "omega", "ave"):
        for construct, value in ref[stat].items():
            assert m.reliability.loc[construct, stat] == pytest.approx(value, abs=1e-6), (name, stat)
    for construct, value in ref["omega_implied"].items():
        assert m.omega_implied[construct] == pytest.approx(value, abs=1e-6)
    # the two omegas differ measurably on Holzinger-Swineford: the denominator matters
    if name == "holzinger_swineford":
        assert abs(m.reliability.loc["visual", "omega"] - m.omega_implied["visual"]) > 0.01


def test_htmt_and_htmt2_match_semtools(case):
    _, ref, m = case
    names = ref["htmt"]["names"]
    np.testing.assert_allclose(m.htmt.loc[names, names].to_numpy(), ref["htmt"]["m"], atol=1e-8)
    np.testing.assert_allclose(m.htmt2.loc[names, names].to_numpy(), ref["htmt2"]["m"], atol=1e-8)
    assert not np.allclose(m.htmt.to_numpy(), m.htmt2.to_numpy())


def test_correlations_msv_asv_fornell_larcker(case):
    _, ref, m = case
    cor = np.array(ref["cor_lv"])
    np.testing.assert_allclose(m.correlations.to_numpy(), cor, atol=1e-5)
    sq = cor ** 2
    np.fill_diagonal(sq, np.nan)
    np.testing.assert_allclose(m.reliability["msv"], np.nanmax(sq, axis=1), atol=1e-5)
    np.testing.assert_allclose(m.reliability["asv"], np.nanmean(sq, axis=1), atol=1e-5)
    ave = np.array([ref["ave"][c] for c in m.reliability.index])
    np.testing.assert_allclose(np.diag(m.fornell_larcker.to_numpy()), np.sqrt(ave), atol=1e-6)
    np.testing.assert_allclose(m.reliability["sqrt_ave"], np.sqrt(ave), atol=1e-6)
    expected = [np.sqrt(ave[j]) > np.nanmax(np.abs(np.where(np.eye(len(ave)), np.nan, cor))[j])
                for j in range(len(ave))]
    assert list(m.fornell_larcker_passed) == expected


def test_standardised_loadings_and_delta_cis_match_lavaan(case):
    _, ref, m = case
    sl = pd.DataFrame(ref["std_loadings"])
    np.testing.assert_allclose(m.loadings["std"], sl["est.std"], atol=1e-5)
    np.testing.assert_allclose(m.loadings["se"], sl["se"], atol=1e-5)
    np.testing.assert_allclose(m.loadings["ci_lower"], sl["ci.lower"], atol=1e-5)
    np.testing.assert_allclose(m.loadings["ci_upper"], sl["ci.upper"], atol=1e-5)
    assert m.ci_method == "delta"


def test_cfa_version_replaces_structural_part(fitted):
    res = fitted["learning_culture_survey"]
    cfa = cfa_model(res.model)
    ops = {(r.lhs, r.op, r.rhs) for r in cfa.rows}
    assert not any(op == "~" for _, op, _ in ops)
    assert not any(r.op == ":=" for r in cfa.rows)
    for a, b in (("culture", "kmsuse"), ("culture", "perf"), ("kmsuse", "perf")):
        assert (a, "~~", b) in ops or (b, "~~", a) in ops
    # the structural part of the survey model is saturated: same fit as the CFA
    m = measurement(res)
    assert m.cfa.fit_indices["chisq"] == pytest.approx(res.fit_indices["chisq"], abs=1e-6)


def test_single_indicator_construct_is_undefined_not_a_number():
    data = load_reference_data("holzinger_swineford")
    model = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7\nx7 ~~ 0.3*x7"
    m = measurement(model, data)
    for stat in ("alpha", "omega", "ave", "sqrt_ave"):
        assert np.isnan(m.reliability.loc["speed", stat])
    assert m.htmt.loc["speed"].isna().all() and m.htmt2.loc["speed"].isna().all()
    assert np.isfinite(m.reliability.loc["visual", "omega"])
    assert any("speed has a single indicator" in n for n in m.notes)
    assert not m.fornell_larcker_passed["speed"]


def test_cross_loading_makes_ave_undefined():
    data = load_reference_data("holzinger_swineford")
    model = "visual =~ x1 + x2 + x3 + x9\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
    m = measurement(model, data)
    assert np.isnan(m.reliability.loc["visual", "ave"]) and np.isnan(m.reliability.loc["speed", "ave"])
    assert np.isfinite(m.reliability.loc["textual", "ave"])


def test_summary_renders_every_format(lc_measurement):
    for fmt in ("text", "markdown", "latex", "html"):
        out = lc_measurement.summary(fmt)
        assert "culture" in out and "HTMT" in out
    assert "observed variance" in lc_measurement.summary()
    assert lc_measurement._repr_html_().startswith("<div")


def test_arguments_are_validated(fitted):
    res = fitted["learning_culture_survey"]
    data = load_reference_data("learning_culture_survey")
    with pytest.raises(ArgumentError, match="data"):
        measurement(res, data)
    with pytest.raises(ArgumentError, match="data"):
        measurement(res.model)
    with pytest.raises(ArgumentError, match="method"):
        measurement(res, method="student")
    with pytest.raises(ArgumentError, match="level"):
        measurement(res, level=95)
    with pytest.raises(ArgumentError, match="no latent"):
        measurement("x9 ~ x1", load_reference_data("holzinger_swineford"))
    before = data.copy()
    measurement(res.model, data)
    pd.testing.assert_frame_equal(data, before)


class _ParametricBoot:
    kind = "parametric"
    indices = None


def test_parametric_bootstrap_is_refused(fitted):
    boot = _ParametricBoot()
    boot.fit = fitted["learning_culture_survey"]
    with pytest.raises(NotSupportedError, match="nonparametric"):
        measurement(fitted["learning_culture_survey"], boot=boot)


# ---------------------------------------------------------------------------- bootstrap
@pytest.fixture(scope="module")
def boot_measurement(fitted):
    res = fitted["learning_culture_survey"]
    boot = lcsem.bootstrap(res, 400, seed=7, progress=False)
    return res, boot, measurement(res, boot=boot)


def test_bootstrap_bounds_of_htmt(boot_measurement):
    res, boot, m = boot_measurement
    assert m.n_boot_used >= 0.95 * boot.n_resamples
    inf = m.htmt_inference
    assert {"htmt_upper", "htmt2_upper", "flag_85", "flag_90"} <= set(inf.columns)
    assert (inf["htmt_upper"] > inf["htmt"]).all() and (inf["htmt2_upper"] > inf["htmt2"]).all()
    # a one-sided 95% bound lies below the two-sided 95% upper limit
    for _, row in inf.iterrows():
        key = f"htmt:{row['construct_a']}~{row['construct_b']}"
        assert m.intervals.loc[key, "upper_one_sided"] < m.intervals.loc[key, "upper"]
    # survey constructs are distinct (HTMT about .4-.5): no flag
    assert not inf["flag_85"].any() and not inf["flag_90"].any()


def test_bootstrap_htmt_draws_are_those_of_the_resampled_data(boot_measurement):
    """Replicate 0's HTMT recomputed by hand from the resampled rows."""
    res, boot, _ = boot_measurement
    from lcsem.analysis.validity import _htmt, _layout

    rows = res.data.to_numpy()[boot.indices[0]]
    S = np.cov(rows.T, bias=True)[None]
    cf = measurement(res).cfa
    h, _ = _htmt(S, _layout(cf.structure))
    corr = np.abs(np.corrcoef(rows.T))
    items = {c: [list(res.model.observed).index(i) for i in res.model.indicators_of(c)] for c in res.model.latent}
    hetero = corr[np.ix_(items["culture"], items["perf"])].mean()
    mono = [corr[np.ix_(items[c], items[c])][np.triu_indices(len(items[c]), 1)].mean() for c in ("culture", "perf")]
    names = list(res.model.latent)
    assert h[0, names.index("culture"), names.index("perf")] == pytest.approx(hetero / np.sqrt(mono[0] * mono[1]))


def test_bootstrap_loading_intervals_and_notes(boot_measurement):
    _, boot, m = boot_measurement
    assert m.ci_method == "bootstrap percentile"
    assert (m.loadings["ci_lower"] < m.loadings["std"]).all() and (m.loadings["std"] < m.loadings["ci_upper"]).all()
    assert {"alpha:culture", "omega:kmsuse", "ave:perf", "std:culture=~culture2"} <= set(m.intervals.index)
    assert any("refitted" in n for n in m.notes)
    assert "one-sided" in m.summary("markdown")


def test_bootstrap_of_another_result_is_refused(boot_measurement, fitted):
    _, boot, _ = boot_measurement
    with pytest.raises(ArgumentError, match="boot"):
        measurement(fitted["holzinger_swineford"], boot=boot)
    with pytest.raises(ArgumentError, match="boot"):
        measurement(fitted["learning_culture_survey"].model, load_reference_data("learning_culture_survey"), boot=boot)


def test_bc_and_bca_bounds(boot_measurement):
    res, boot, perc = boot_measurement
    for method in ("bc", "bca"):
        m = measurement(res, boot=boot, method=method)
        assert m.ci_method == f"bootstrap {method.upper() if method == 'bc' else 'BCa'}"
        iv = m.intervals.dropna()
        assert ((iv["lower"] <= iv["estimate"]) & (iv["estimate"] <= iv["upper"])).all()
        assert not np.allclose(iv["lower"], perc.intervals.dropna()["lower"])


def test_identification_by_latent_variances_gives_the_same_reliability():
    data = load_reference_data("holzinger_swineford")
    text = EXTRA["holzinger_swineford"]["model"]
    a = measurement(lcsem.Model.from_syntax(text, std_lv=True), data)
    b = measurement(text, data)
    pd.testing.assert_frame_equal(a.reliability, b.reliability, atol=1e-7)
    np.testing.assert_allclose(a.loadings["std"], b.loadings["std"], atol=1e-7)


# ---------------------------------------------------------------- issue 9 (items 6, 7)
BATTERY = json.loads((REFERENCE / "battery_reference.json").read_text())["cases"]


def _battery_data(case: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / BATTERY[case]["data"])


def _assert_matches_semtools(meas, ref):
    for stat in ("omega", "alpha", "ave"):
        for construct, value in ref[stat].items():
            assert meas.reliability.loc[construct, stat] == pytest.approx(value, abs=1e-3), (stat, construct)
    std = meas.loadings.set_index(["construct", "indicator"])["std"]
    for e in ref["std_loadings"]:
        assert std[(e["lhs"], e["rhs"])] == pytest.approx(e["est.std"], abs=1e-3)


def test_cfa_keeps_a_fixed_latent_variance_that_identifies_the_factor():
    """``NA*x1`` frees the marker and ``f1 ~~ 0.5*f1`` identifies f1: the CFA must keep the
    fixed variance (it used to drop it, leaving f1 unidentified: loadings 0.998 vs 0.910,
    std SEs 0, negative std loadings)."""
    case = BATTERY["fixed_latent_variance_ML"]
    res = lcsem.fit(case["model"], _battery_data("fixed_latent_variance_ML"))
    cfa = cfa_model(res.model)
    assert any(r.lhs == r.rhs == "f1" and r.op == "~~" and r.free == 0 and r.value == 0.5 for r in cfa.rows)
    meas = measurement(res)
    assert meas.converged
    _assert_matches_semtools(meas, case["measurement"])
    assert (meas.loadings["se"] > 0).all()


def test_cfa_keeps_fixed_covariances_between_exogenous_constructs():
    case = BATTERY["fixed_values_ML"]
    res = lcsem.fit(case["model"], _battery_data("fixed_values_ML"))
    assert any(r.op == "~~" and {r.lhs, r.rhs} == {"f1", "f2"} and r.free == 0 and r.value == 0.3
               for r in cfa_model(res.model).rows)
    _assert_matches_semtools(measurement(res), case["measurement"])


def test_regressed_construct_identified_by_its_residual_variance_gets_a_scale():
    """A regressed construct becomes exogenous in the CFA: its fixed residual variance
    means something else there, so its variance is fixed to 1 (only a scale: the
    standardised statistics are those of the CFA with ``f1 ~~ 0.5*f1``)."""
    text = ("f1 =~ NA*x1 + x2 + x3 + x4\nf2 =~ y1 + y2 + y3 + y4\nf1 ~ f2\nf1 ~~ 0.5*f1")
    data = _battery_data("fixed_latent_variance_ML")
    cfa = cfa_model(lcsem.Model.from_syntax(text))
    assert [(r.value, r.free) for r in cfa.rows if r.op == "~~" and r.lhs == r.rhs == "f1"] == [(1.0, 0)]
    meas = measurement(text, data)
    assert meas.converged
    _assert_matches_semtools(meas, BATTERY["fixed_latent_variance_ML"]["measurement"])


@pytest.mark.parametrize("case", ["published_cfa_GLS", "published_cfa_ULS", "small_n60_GLS"])
def test_omega_and_ave_use_the_covariance_the_estimator_fits(case):
    """GLS and ULS fit the unbiased covariance (N - 1): semTools' omega and AVE
    denominators use it too (lcsem was N/(N-1) too large, +0.013 at N = 60)."""
    ref = BATTERY[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lcsem.NonAdmissibleWarning)   # small_n60: a Heywood case
        res = lcsem.fit(ref["model"], _battery_data(case), estimator=ref["estimator"])
    meas = measurement(res)
    for stat in ("omega", "ave"):
        for construct, value in ref["measurement"][stat].items():
            assert meas.reliability.loc[construct, stat] == pytest.approx(value, abs=1e-4)


def test_a_cfa_that_does_not_converge_is_flagged_not_silent():
    """No ML solution exists (a marker uncorrelated with its factor's other indicators;
    lavaan: not converged): measurement() warns and says so in its flag and notes."""
    data = pd.read_csv(REFERENCE / "battery_nonconverge.csv")
    with pytest.warns(lcsem.ConvergenceWarning, match="measurement CFA did not converge"):
        meas = measurement("f =~ x1 + x2 + x3\ng =~ y1 + y2 + y3", data)
    assert meas.converged is False
    assert any("did NOT converge" in n for n in meas.notes)
