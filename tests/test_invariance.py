"""lcsem.invariance against lavaan 0.6.14 (tests/reference/groups_reference.json, written by
tests/reference/make_groups.R): every level's fit indices, the lavTestLRT differences, the
latent mean differences of the scalar model, partial invariance, and the refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lcsem
from lcsem.analysis.invariance import CHEN_CFI, CHEN_RMSEA, LEVELS, InvarianceResult, _table
from lcsem.exceptions import ArgumentError, LcsemError, MissingColumnsError, ModelSpecificationError

REF = Path(__file__).parent / "reference"
GROUPS = json.loads((REF / "groups_reference.json").read_text())
HS_MODEL = GROUPS["fits"]["hs_configural"]["model"]
LC_MODEL = GROUPS["fits"]["lc_configural"]["model"]
INDICES = {"chisq": "chisq", "df": "df", "pvalue": "pvalue", "cfi": "cfi", "tli": "tli", "rmsea": "rmsea",
           "rmsea_ci_lower": "rmsea.ci.lower", "rmsea_ci_upper": "rmsea.ci.upper", "srmr": "srmr",
           "aic": "aic", "bic": "bic"}
SEQUENCE = ("configural", "metric", "scalar", "strict")


@pytest.fixture(scope="module")
def hs():
    return pd.read_csv(REF / "hs.csv")


@pytest.fixture(scope="module")
def lc():
    return pd.read_csv(REF / "lc_shared.csv")


@pytest.fixture(scope="module")
def hs_inv(hs):
    return lcsem.invariance(HS_MODEL, hs, "school")


@pytest.fixture(scope="module")
def lc_inv(lc):
    return lcsem.invariance(LC_MODEL, lc, group="sector")


def _assert_level(row: pd.Series, name: str) -> None:
    expected = GROUPS["fits"][name]["fit_measures"]
    for column, key in INDICES.items():
        tol = 0.01 if column in ("chisq", "aic", "bic") else 1e-3
        assert row[column] == pytest.approx(expected[key], abs=tol), (name, column)


def _assert_lrt(table: pd.DataFrame, levels: list[str], block: str) -> None:
    """Rows ``levels`` of ``table`` against lavTestLRT's block (its rows in the same order)."""
    lrt = GROUPS["lrt"][block]["table"]
    got = table.loc[levels]
    np.testing.assert_array_equal(got["df"], lrt["Df"])
    expected_diff = np.array([np.nan if v is None else v for v in lrt["Chisq diff"]], float)
    np.testing.assert_allclose(got["chisq_diff"].iloc[1:], expected_diff[1:], rtol=0, atol=1e-3)
    np.testing.assert_array_equal(got["df_diff"].iloc[1:], np.array(lrt["Df diff"][1:], float))
    np.testing.assert_allclose(got["pvalue_diff"].iloc[1:], np.array(lrt["Pr(>Chisq)"][1:], float),
                               rtol=1e-3, atol=1e-10)
    np.testing.assert_allclose(got["rmsea_d"].iloc[1:], np.array(lrt["RMSEA"][1:], float), rtol=0, atol=1e-3)
    np.testing.assert_allclose(got["chisq"], lrt["Chisq"], rtol=0, atol=0.01)
    np.testing.assert_allclose(got["aic"], lrt["AIC"], rtol=0, atol=0.01)
    np.testing.assert_allclose(got["bic"], lrt["BIC"], rtol=0, atol=0.01)


@pytest.mark.parametrize("prefix", ["hs", "lc"])
def test_sequence_matches_lavaan(prefix, hs_inv, lc_inv):
    inv = hs_inv if prefix == "hs" else lc_inv
    table = inv.table
    assert tuple(table.index) == SEQUENCE == inv.levels
    assert list(table.columns) == ["chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea_ci_lower",
                                   "rmsea_ci_upper", "srmr", "aic", "bic", "chisq_diff", "df_diff",
                                   "pvalue_diff", "rmsea_d", "cfi_diff", "rmsea_diff", "srmr_diff",
                                   "flag_cfi", "flag_rmsea", "flag_srmr"]
    for level in SEQUENCE:
        _assert_level(table.loc[level], f"{prefix}_{level}")
    _assert_lrt(table, list(SEQUENCE), f"{prefix}_sequence")
    # Δ indices: this level minus the level above, from lavaan's fit measures
    for before, level in zip(SEQUENCE, SEQUENCE[1:]):
        a = GROUPS["fits"][f"{prefix}_{before}"]["fit_measures"]
        b = GROUPS["fits"][f"{prefix}_{level}"]["fit_measures"]
        for index in ("cfi", "rmsea", "srmr"):
            assert table.loc[level, f"{index}_diff"] == pytest.approx(b[index] - a[index], abs=1e-3)
    assert table.iloc[0][["chisq_diff", "df_diff", "pvalue_diff", "cfi_diff"]].isna().all()
    assert table[["flag_cfi", "flag_rmsea", "flag_srmr"]].iloc[0].isna().all()
    # each level's group_equal, as lavaan's calls
    for level in SEQUENCE:
        options = GROUPS["fits"][f"{prefix}_{level}"]["options"]
        expected = options.get("group.equal", [])
        expected = [expected] if isinstance(expected, str) else expected
        assert inv.group_equal[level] == tuple(expected) == inv.fits[level].group_equal
        assert inv.fits[level].group_partial == ()
    assert inv.group_labels == tuple(GROUPS["fits"][f"{prefix}_configural"]["group_labels"])


def test_chen_flags(hs_inv):
    """HS: the scalar step loses .038 CFI (flagged); RMSEA rises .0145 (just under .015)."""
    table = hs_inv.table
    assert table.loc["scalar", "cfi_diff"] == pytest.approx(-0.0385, abs=1e-3)
    assert table["flag_cfi"].tolist()[1:] == [False, True, False]
    assert table.loc["scalar", "rmsea_diff"] == pytest.approx(0.0145, abs=1e-3)
    assert table["flag_rmsea"].tolist()[1:] == [False, False, False]
    assert table["flag_srmr"].tolist()[1:] == [False, False, False]
    assert str(table["flag_cfi"].dtype) == "boolean" and table["flag_cfi"].isna().tolist()[0]


def test_chen_thresholds_on_constructed_tables(hs_inv):
    """Boundaries: ΔCFI = −.010 and ΔRMSEA = .015 are flagged; ΔSRMR .020 only for the metric step
    (.030 there) against .015 later."""
    fits = dict(hs_inv.fits)

    class Fake:
        def __init__(self, **fi):
            self.fit_indices = pd.Series(fi)

    base = dict(chisq=100.0, pvalue=0.5, tli=0.95, rmsea_ci_lower=0.0, rmsea_ci_upper=0.1, aic=1.0, bic=1.0)
    fake = {
        "configural": Fake(df=10, cfi=0.950, rmsea=0.050, srmr=0.040, **base),
        "metric": Fake(df=12, cfi=0.940, rmsea=0.065, srmr=0.060, **base),
        "scalar": Fake(df=14, cfi=0.931, rmsea=0.0799, srmr=0.080, **base),
        "strict": Fake(df=16, cfi=0.930, rmsea=0.080, srmr=0.0949, **base),
    }
    table = _table(fake, SEQUENCE, None)
    assert table["flag_cfi"].tolist()[1:] == [True, False, False]
    assert table["flag_rmsea"].tolist()[1:] == [True, False, False]
    assert table["flag_srmr"].tolist()[1:] == [False, True, False]
    assert CHEN_CFI == -0.010 and CHEN_RMSEA == 0.015
    assert fits  # the real fits stay untouched


def test_latent_means_match_lavaan_scalar(hs_inv, lc_inv):
    for prefix, inv in (("hs", hs_inv), ("lc", lc_inv)):
        params = pd.DataFrame(GROUPS["fits"][f"{prefix}_scalar"]["params"])
        latent = list(inv.fits["scalar"].model.latent)
        expected = params[(params["op"] == "~1") & params["lhs"].isin(latent) & (params["group"] == 2)]
        means = inv.latent_means
        assert inv.latent_means_level == "scalar"
        assert list(means["lhs"]) == list(expected["lhs"])
        assert set(means["group"]) == {inv.group_labels[1]}
        for mine, theirs in (("est", "est"), ("se", "se"), ("z", "z"), ("ci_lower", "ci.lower"),
                             ("ci_upper", "ci.upper")):
            np.testing.assert_allclose(means[mine], expected[theirs], rtol=0, atol=1e-3)
        np.testing.assert_allclose(means["pvalue"], expected["pvalue"], rtol=1e-3, atol=1e-6)


def test_standardised_latent_means_use_group_1_sd(hs, hs_inv):
    """est_std = difference / SD of the latent variable in group 1 (lavaan's variance there), and
    its delta-method SE equals the SE of the same quantity estimated directly: the scalar model
    with group 1's latent variances fixed at 1 (loadings free and equal), where the latent mean
    of group 2 is in group-1 SD units (ML is invariant to the reparametrisation)."""
    params = pd.DataFrame(GROUPS["fits"]["hs_scalar"]["params"])
    means = hs_inv.latent_means.set_index("lhs")
    for factor in ("visual", "textual", "speed"):
        var1 = params[(params["lhs"] == factor) & (params["op"] == "~~") & (params["rhs"] == factor)
                      & (params["group"] == 1)]["est"].item()
        assert means.loc[factor, "est_std"] == pytest.approx(means.loc[factor, "est"] / np.sqrt(var1), abs=1e-4)
    scaled = ("visual =~ NA*x1 + x2 + x3\n textual =~ NA*x4 + x5 + x6\n speed =~ NA*x7 + x8 + x9\n"
              " visual ~~ c(1, NA)*visual\n textual ~~ c(1, NA)*textual\n speed ~~ c(1, NA)*speed")
    res = lcsem.fit(scaled, hs, group="school", group_equal=["loadings", "intercepts"])
    assert res.fit_indices["chisq"] == pytest.approx(hs_inv.table.loc["scalar", "chisq"], abs=1e-6)
    est = res.estimates
    direct = est[(est["op"] == "~1") & est["lhs"].isin(["visual", "textual", "speed"]) & (est["group"] == 2)]
    direct = direct.set_index("lhs")
    for factor in ("visual", "textual", "speed"):
        assert means.loc[factor, "est_std"] == pytest.approx(direct.loc[factor, "est"], abs=1e-5)
        assert means.loc[factor, "se_std"] == pytest.approx(direct.loc[factor, "se"], abs=1e-4)
        assert means.loc[factor, "ci_lower_std"] == pytest.approx(direct.loc[factor, "ci_lower"], abs=1e-3)


@pytest.mark.parametrize("prefix,released", [("hs", "x3 ~ 1"), ("lc", "culture3~1")])
def test_partial_scalar_matches_lavaan(prefix, released, hs, lc):
    data, model, group = (hs, HS_MODEL, "school") if prefix == "hs" else (lc, LC_MODEL, "sector")
    inv = lcsem.invariance(model, data, group, levels=("metric", "scalar"), group_partial=released)
    _assert_level(inv.table.loc["scalar"], f"{prefix}_partial_scalar")
    _assert_level(inv.table.loc["metric"], f"{prefix}_metric")
    _assert_lrt(inv.table, ["metric", "scalar"], f"{prefix}_metric_vs_partial_scalar")
    # released only where intercepts are equal
    assert inv.group_partial == {"metric": (), "scalar": (released,)}
    assert inv.fits["metric"].group_partial == () and inv.fits["scalar"].group_partial == (released,)
    assert "Scalar (partial)" in inv.summary() and released in inv.summary()
    params = pd.DataFrame(GROUPS["fits"][f"{prefix}_partial_scalar"]["params"])
    latent = list(inv.fits["scalar"].model.latent)
    expected = params[(params["op"] == "~1") & params["lhs"].isin(latent) & (params["group"] == 2)]
    np.testing.assert_allclose(inv.latent_means["est"], expected["est"], atol=1e-3)
    np.testing.assert_allclose(inv.latent_means["se"], expected["se"], atol=1e-3)
    # the partial scalar model against the full scalar one, through compare()
    full = lcsem.invariance(model, data, group, levels=("scalar",))
    cmp = lcsem.compare(inv.fits["scalar"], full.fits["scalar"], names=["partial", "full"])
    lrt = GROUPS["lrt"][f"{prefix}_partial_scalar_vs_scalar"]["table"]
    assert cmp.table["chisq_diff"].iloc[1] == pytest.approx(lrt["Chisq diff"][1], abs=1e-3)
    assert cmp.table["pvalue"].iloc[1] == pytest.approx(lrt["Pr(>Chisq)"][1], rel=1e-3)


def test_structural_levels_match_lavaan(hs):
    """lv.variances/lv.covariances after metric = lavaan's hs_lv_var_cov; after scalar, + means =
    hs_scalar_lv_means, whose LRT against hs_scalar is lavaan's."""
    inv = lcsem.invariance(HS_MODEL, hs, "school", levels=("configural", "metric", "lv.variances",
                                                             "lv.covariances"))
    assert inv.group_equal["lv.covariances"] == ("loadings", "lv.variances", "lv.covariances")
    _assert_level(inv.table.loc["lv.covariances"], "hs_lv_var_cov")
    assert inv.latent_means_level is None and inv.latent_means.empty
    assert "Latent mean differences" not in inv.summary()
    full = lcsem.invariance(HS_MODEL, hs, "school", levels=LEVELS)
    assert full.group_equal["means"] == ("loadings", "intercepts", "means", "residuals", "lv.variances",
                                         "lv.covariances")
    means_only = lcsem.invariance(HS_MODEL, hs, "school",
                                  levels=("scalar", "lv.variances", "lv.covariances", "means"))
    assert set(means_only.group_equal["means"]) == {"loadings", "intercepts", "lv.variances",
                                                     "lv.covariances", "means"}
    _assert_level(means_only.table.loc["means"], "hs_scalar_lv_means")
    cmp = lcsem.compare(means_only.fits["scalar"], means_only.fits["means"], names=["hs_scalar",
                                                                                     "hs_scalar_lv_means"])
    lrt = GROUPS["lrt"]["hs_scalar_vs_scalar_lv_means"]["table"]
    assert cmp.table["chisq_diff"].iloc[1] == pytest.approx(lrt["Chisq diff"][1], abs=1e-3)
    assert cmp.table["rmsea"].iloc[1] == pytest.approx(lrt["RMSEA"][1], abs=1e-3)
    assert means_only.latent_means_level == "scalar"
    # without 'scalar' the latent means come from the most constrained level with free means
    strict_only = lcsem.invariance(HS_MODEL, hs, "school", levels=("configural", "strict"))
    assert strict_only.latent_means_level == "strict" and len(strict_only.latent_means) == 3


def test_comparison_is_compare_of_the_fits(hs_inv):
    cmp = hs_inv.comparison
    assert cmp.names == SEQUENCE
    direct = lcsem.compare(*[hs_inv.fits[lv] for lv in SEQUENCE], names=list(SEQUENCE))
    pd.testing.assert_frame_equal(cmp.table, direct.table)


def test_result_is_frozen_and_renders(hs_inv):
    assert isinstance(hs_inv, InvarianceResult) and isinstance(hs_inv, lcsem.InvarianceResult)
    with pytest.raises(AttributeError):
        hs_inv.levels = ()
    table = hs_inv.table
    table.loc["metric", "cfi"] = 0.0
    assert hs_inv.table.loc["metric", "cfi"] != 0.0
    with pytest.raises(TypeError):
        hs_inv.fits["metric"] = None
    text = hs_inv.summary()
    assert "Measurement invariance across school (Pasteur, Grant-White)" in text
    # APA: no leading zero for bounded indices, p as APA, the flagged ΔCFI with a dagger
    assert ".923" in text and "0.923" not in text
    assert "−.038†" in text and "< .001" in text
    assert "not verdicts" in text and "Chen" in text
    md = hs_inv.to_markdown()
    assert md.startswith("**Measurement invariance") and "| Scalar |" in md
    latex = hs_inv.to_latex()
    assert r"\begin{tabular}" in latex and r"$\chi^2$" in latex and r"$^\dagger$" in latex
    assert "χ" not in latex and "Δ" not in latex and "−" not in latex
    html = hs_inv.to_html()
    assert html == hs_inv._repr_html_() and html.startswith('<div class="lcsem-invariance">')
    assert "<table" in html and "Latent mean differences from Pasteur" in html
    assert "InvarianceResult" in repr(hs_inv) and str(hs_inv) == text
    with pytest.raises(ArgumentError, match="format"):
        hs_inv.summary("pdf")
    with pytest.raises(ArgumentError, match="digits"):
        hs_inv.summary(digits=-1)


def test_canonical_model_by_sector_runs():
    inv = lcsem.invariance(lcsem.lc_model(), lcsem.datasets.load_lc_survey(), "sector")
    assert inv.levels == SEQUENCE and inv.table["df"].is_monotonic_increasing
    assert list(inv.latent_means["lhs"]) == ["culture", "kmsuse", "perf"]
    # the canonical model's labels a, b, c hold its paths equal across sectors: the notes say so
    assert any("a, b, c are written once for all groups" in note for note in inv.notes)
    assert not any("written once" in note for note in lcsem.invariance(
        HS_MODEL, pd.read_csv(REF / "hs.csv"), "school", levels=("configural",)).notes)


def test_data_unchanged(hs):
    before = hs.copy(deep=True)
    lcsem.invariance(HS_MODEL, hs, "school", levels=("configural", "metric"))
    pd.testing.assert_frame_equal(hs, before)


def _refused(error, *fragments, **kwargs):
    with pytest.raises(error) as info:
        lcsem.invariance(**kwargs)
    assert isinstance(info.value, LcsemError)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


def test_bad_levels(hs):
    args = dict(model=HS_MODEL, data=hs, group="school")
    _refused(ArgumentError, "levels", "'weak'", "'configural'", "'metric'", "'scalar'", "'strict'",
             "'lv.variances'", "'means'", levels=("configural", "weak"), **args)
    _refused(ArgumentError, "levels", "'scalar' is listed before 'metric' but comes after it", "in the order",
             levels=("configural", "scalar", "metric"), **args)
    _refused(ArgumentError, "levels", "'metric' is listed twice", levels=("metric", "metric"), **args)
    _refused(ArgumentError, "levels", "no level", levels=(), **args)
    _refused(ArgumentError, "levels", "'means'", "'scalar' before", levels=("configural", "means"), **args)
    _refused(ArgumentError, "levels", levels=3, **args)


def test_level_that_adds_nothing(hs):
    one = "visual =~ x1 + x2 + x3"
    _refused(ModelSpecificationError, "levels", "'lv.covariances' adds no equality constraint",
             "leave 'lv.covariances' out", model=one, data=hs, group="school",
             levels=("metric", "lv.variances", "lv.covariances"))


def test_bad_group(hs):
    _refused(MissingColumnsError, "group", "'nope'", model=HS_MODEL, data=hs, group="nope")
    _refused(ArgumentError, "group", "None", model=HS_MODEL, data=hs, group=None)
    _refused(ArgumentError, "data", "DataFrame", "NoneType", model=HS_MODEL, data=None, group="school")
    one = hs.assign(school="Pasteur")
    with pytest.raises(LcsemError, match="group"):
        lcsem.invariance(HS_MODEL, one, "school")


def test_bad_group_partial(hs):
    args = dict(model=HS_MODEL, data=hs, group="school")
    _refused(ArgumentError, "group_partial", "'x99 ~ 1'", "not a parameter", group_partial=["x99 ~ 1"], **args)
    _refused(ArgumentError, "group_partial", "'visual =~ x99'", group_partial="visual =~ x99", **args)
    _refused(ArgumentError, "group_partial", "'x3'", "as lavaan writes it", group_partial="x3", **args)
    _refused(ArgumentError, "group_partial", "'x3 ~ 1'", "intercepts", "no level",
             group_partial="x3 ~ 1", levels=("configural", "metric"), **args)
    _refused(ArgumentError, "group_partial", "strings", group_partial=[3], **args)


def test_fit_options_invariance_sets_itself(hs):
    args = dict(model=HS_MODEL, data=hs, group="school")
    _refused(ArgumentError, "group_equal", "levels=", group_equal=["loadings"], **args)
    _refused(ArgumentError, "sample_cov", sample_cov=hs[["x1", "x2"]].cov(), **args)


def test_fit_options_pass_through(hs):
    inv = lcsem.invariance(HS_MODEL, hs, "school", levels=("configural", "metric"), level=0.90)
    assert all(f.level == 0.90 for f in inv.fits.values())
    means = lcsem.invariance(HS_MODEL, hs, "school", levels=("scalar",), level=0.90).latent_means
    assert (means["ci_upper"] - means["est"]).to_numpy() == pytest.approx(1.6449 * means["se"].to_numpy(), rel=1e-3)


# ---- more groups and levels: tests/reference/make_invariance.R ---------------------------------
INV = json.loads((REF / "invariance_reference.json").read_text())


def _lavaan_sequence(name: str) -> tuple[list[dict], dict]:
    seq = INV["sequences"][name]
    return seq["levels"], seq["lrt"]["table"]


def _check_against(inv, levels: list[dict], lrt: dict) -> None:
    table = inv.table
    assert list(table.index) == [lv["level"] for lv in levels] == list(lrt["model"])
    for lv in levels:
        row, expected = table.loc[lv["level"]], lv["fit_measures"]
        for column, key in INDICES.items():
            tol = 0.01 if column in ("chisq", "aic", "bic") else 1e-3
            assert row[column] == pytest.approx(expected[key], abs=tol), (lv["level"], column)
        assert list(inv.group_equal[lv["level"]]) == sorted(lv["group_equal"], key=list(
            lcsem.analysis.invariance.GROUP_EQUAL).index)
    np.testing.assert_allclose(table["chisq_diff"].iloc[1:], np.array(lrt["Chisq diff"][1:], float), atol=1e-3)
    np.testing.assert_array_equal(table["df_diff"].iloc[1:], np.array(lrt["Df diff"][1:], float))
    np.testing.assert_allclose(table["pvalue_diff"].iloc[1:], np.array(lrt["Pr(>Chisq)"][1:], float),
                               rtol=1e-3, atol=1e-10)
    np.testing.assert_allclose(table["rmsea_d"].iloc[1:], np.array(lrt["RMSEA"][1:], float), atol=1e-3)


def test_four_groups_all_levels_match_lavaan(hs):
    """HS by school x sex (4 groups): every level lcsem knows, each adding its class."""
    levels, lrt = _lavaan_sequence("hs4")
    data = hs.assign(school_sex=hs["school"] + " " + hs["sex"].astype(str))
    inv = lcsem.invariance(HS_MODEL, data, "school_sex", levels=LEVELS)
    assert inv.group_labels == tuple(levels[0]["group_labels"])
    _check_against(inv, levels, lrt)
    scalar = pd.DataFrame(levels[2]["latent_means"])
    expected = scalar[scalar["group"] >= 2]
    means = inv.latent_means
    assert list(means["lhs"]) == list(expected["lhs"])
    assert list(means["group"]) == [inv.group_labels[g - 1] for g in expected["group"]]
    for mine, theirs in (("est", "est"), ("se", "se"), ("z", "z"), ("ci_lower", "ci.lower")):
        np.testing.assert_allclose(means[mine], expected[theirs], atol=1e-3)
    # every later level holds the latent means equal or keeps them free as lavaan does
    final = pd.DataFrame(levels[-1]["latent_means"])
    assert (final["est"] == 0).all()


def test_partial_loading_released_from_metric_on(hs):
    levels, lrt = _lavaan_sequence("hs_partial_loading")
    inv = lcsem.invariance(HS_MODEL, hs, "school", levels=("configural", "metric", "scalar"),
                           group_partial=["visual =~ x2"])
    _check_against(inv, levels, lrt)
    assert inv.group_partial == {"configural": (), "metric": ("visual =~ x2",), "scalar": ("visual =~ x2",)}
    assert "Metric (partial)" in inv.summary() and "Configural (partial)" not in inv.summary()
