"""Per-group analyses, plots and reports of multi-group and mean-structure results.

Numbers are checked against lavaan 0.6.14 / semTools 0.5.6 (tests/reference/
make_groups_analyses.R: lavPredict per group, compRelSEM and AVE per group, indirect
effects of group-specific labels) and against the joint fit's own table (each group's rows
of ``res.estimates``, its ``:=`` rows, its ``~1`` rows) and the per-group views.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import lcsem  # noqa: E402
from lcsem.display.format import format_typographic  # noqa: E402
from lcsem.exceptions import ArgumentError, NotSupportedError, PlotLegibilityWarning  # noqa: E402

import plot_geometry as pg  # noqa: E402

REF_DIR = Path(__file__).parent / "reference"
REF = json.loads((REF_DIR / "groups_analyses_reference.json").read_text())["fits"]
sys.path.insert(0, str(Path(__file__).parent.parent / "docs"))
import make_gallery as gallery  # noqa: E402

HS = """
visual  =~ x1 + x2 + x3
textual =~ x4 + x5 + x6
speed   =~ x7 + x8 + x9
"""
HS_COVARIATE = """
visual =~ x1 + x2 + x3
textual =~ x4 + x5 + x6
visual ~ ageyr
textual ~ visual
"""
LC_GROUPS = """
culture =~ culture1 + culture2 + culture3 + culture4 + culture5 + culture6
kmsuse  =~ kmsuse1 + kmsuse2 + kmsuse3 + kmsuse4
perf    =~ perf1 + perf2 + perf3 + perf4 + perf5
kmsuse ~ c(a1, a2)*culture
perf ~ c(b1, b2)*kmsuse + c(c1, c2)*culture
ind1 := a1*b1
ind2 := a2*b2
"""
TOL = 1e-4     # lavaan's own optimum is reached to about 1e-5 here


def _quiet_fit(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lcsem.fit(*args, **kwargs)


@pytest.fixture(scope="module")
def hs_data():
    return pd.read_csv(REF_DIR / "hs.csv")


@pytest.fixture(scope="module")
def fits(hs_data):
    lc = pd.read_csv(REF_DIR / "lc_shared.csv")
    return {
        "hs_metric": _quiet_fit(HS, hs_data, group="school", group_equal=["loadings"]),
        "hs_scalar": _quiet_fit(HS, hs_data, group="school", group_equal=["loadings", "intercepts"]),
        "hs_covariate_means": _quiet_fit(HS_COVARIATE, hs_data, meanstructure=True),
        "lc_groups": _quiet_fit(LC_GROUPS, lc, group="sector"),
    }


@pytest.fixture(scope="module")
def sector():
    """The bundled survey's canonical model by sector (labels a, b, c shared by both groups)."""
    return _quiet_fit(lcsem.lc_model(), lcsem.datasets.load_lc_survey(), group="sector")


@pytest.fixture(scope="module")
def survey_means():
    data = lcsem.datasets.load_lc_survey()
    return (_quiet_fit(lcsem.lc_model(), data, meanstructure=True), _quiet_fit(lcsem.lc_model(), data))


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _by_label(value):
    """lavaan's per-group lists come as {label: ...}; one group as a one-element list."""
    return value if isinstance(value, dict) else {"1": value[0]}


# ---------------------------------------------------------------------------- factor scores
@pytest.mark.parametrize("name", ["hs_metric", "hs_scalar", "hs_covariate_means", "lc_groups"])
@pytest.mark.parametrize("method", ["regression", "bartlett"])
def test_factor_scores_match_lavpredict_per_group(fits, name, method):
    """lavPredict centres each group at its implied means (latent means free in group 2
    of the scalar model): the scores equal lavaan's, case by case."""
    res, ref = fits[name], REF[name]
    if method == "bartlett" and name == "hs_covariate_means":
        with pytest.raises(NotSupportedError, match="observed predictors"):
            lcsem.factor_scores(res, method)
        return
    scores = lcsem.factor_scores(res, method)
    cases = _by_label(ref["case_idx"])
    for label, expected in _by_label(ref[f"scores_{method}"]).items():
        expected = pd.DataFrame(expected)
        rows = np.asarray(cases[label]) - 1          # hs.csv / lc_shared.csv row positions
        mine = scores.loc[rows]
        if res.group_labels:
            assert (mine["group"] == label).all()
        np.testing.assert_allclose(mine[list(expected.columns)].to_numpy(), expected.to_numpy(), atol=TOL)
    if res.group_labels:
        assert list(scores.columns) == ["group", *res.model.latent]
        assert scores.index.equals(res.data.index)


def test_factor_scores_of_a_mean_structure_fit_equal_those_without_means(survey_means):
    with_means, without = survey_means
    np.testing.assert_allclose(lcsem.factor_scores(with_means).to_numpy(),
                               lcsem.factor_scores(without).to_numpy(), atol=1e-6)


# ---------------------------------------------------------------------------- measurement
@pytest.mark.parametrize("name", ["hs_metric", "hs_scalar", "lc_groups"])
def test_measurement_per_group_matches_semtools(fits, name):
    """Composite reliability (compRelSEM) and AVE per group of the multi-group CFA with the
    fit's equality constraints."""
    res, ref = fits[name], REF[name]
    meas = lcsem.measurement(res)
    assert set(meas.groups) == set(res.group_labels)
    for omega, ave in zip(ref["omega"], ref["ave"]):
        label = omega["group"]
        rel = meas.groups[label].reliability
        for construct, value in omega.items():
            if construct == "group":
                continue
            assert rel.loc[construct, "omega"] == pytest.approx(value, abs=TOL)
            assert rel.loc[construct, "ave"] == pytest.approx(ave[construct], abs=TOL)
            row = meas.reliability[(meas.reliability["group"] == label)].loc[construct]
            assert row["omega"] == pytest.approx(value, abs=TOL)


def test_measurement_tables_of_a_multi_group_result(sector):
    meas = lcsem.measurement(sector)
    labels = list(sector.group_labels)
    assert list(meas.reliability["group"].unique()) == labels
    assert list(meas.loadings["group"].unique()) == labels
    assert list(meas.htmt_inference["group"].unique()) == labels
    for name in ("correlations", "fornell_larcker", "htmt", "htmt2"):
        frame = getattr(meas, name)
        assert frame.index.names == ["group", "construct"]
        for label in labels:
            pd.testing.assert_frame_equal(frame.loc[label], getattr(meas.groups[label], name), check_names=False)
    assert meas.omega_implied.index.names == ["group", "construct"]
    # the group's loadings are the std_all of the multi-group CFA's rows of that group
    cfa = meas.cfa.estimates
    for g, label in enumerate(labels, start=1):
        rows = cfa[(cfa["group"] == g) & (cfa["op"] == "=~")]
        mine = meas.loadings[meas.loadings["group"] == label]
        np.testing.assert_allclose(mine["std"].to_numpy(), rows["std_all"].to_numpy(), atol=1e-10)
    text = meas.summary("markdown")
    assert all(f"Group {label}" in text for label in labels)


def test_configural_measurement_equals_one_cfa_per_group(sector):
    """Without equality constraints the multi-group CFA is one CFA per group."""
    data = lcsem.datasets.load_lc_survey()
    meas = lcsem.measurement(sector)
    for label in sector.group_labels:
        alone = lcsem.measurement(lcsem.lc_model(), data[data["sector"] == label])
        mine = meas.groups[label]
        np.testing.assert_allclose(mine.reliability.to_numpy(float), alone.reliability.to_numpy(float), atol=1e-6)
        np.testing.assert_allclose(mine.htmt.to_numpy(), alone.htmt.to_numpy(), atol=1e-10)


def test_measurement_of_a_mean_structure_fit_equals_that_without_means(survey_means):
    with_means, without = survey_means
    a, b = lcsem.measurement(with_means), lcsem.measurement(without)
    assert not a.groups and "group" not in a.reliability.columns
    np.testing.assert_allclose(a.reliability.to_numpy(), b.reliability.to_numpy(), atol=1e-6)
    np.testing.assert_allclose(a.loadings[["std", "se"]].to_numpy(), b.loadings[["std", "se"]].to_numpy(), atol=1e-5)


def test_measurement_of_a_grouped_fit_refuses_what_is_not_its_bootstrap(sector, survey_means):
    for res in (sector, survey_means[0]):
        with pytest.raises(ArgumentError, match="boot: expected the lcsem.BootstrapResult"):
            lcsem.measurement(res, boot=object())
    with pytest.raises(NotSupportedError, match="view"):
        lcsem.measurement(sector.groups["public"], boot=object())


# ---------------------------------------------------------------------------- effects
def test_effects_per_group_match_lavaan_defined_parameters(fits):
    """The indirect effect of each group equals lavaan's ind1 := a1*b1 / ind2 := a2*b2
    (estimate, delta-method SE from the joint covariance, std.all)."""
    res = fits["lc_groups"]
    eff = lcsem.effects(res)
    ref = pd.DataFrame(REF["lc_groups"]["defined"]).set_index("lhs")
    for g, label in enumerate(res.group_labels, start=1):
        row = eff.table[(eff.table["group"] == label) & (eff.table["effect"] == "indirect")].iloc[0]
        expected = ref.loc[f"ind{g}"]
        assert row["est"] == pytest.approx(expected["est"], abs=TOL)
        assert row["se"] == pytest.approx(expected["se"], abs=TOL)
        assert row["std"] == pytest.approx(expected["std.all"], abs=TOL)
        # the same numbers as the whole model's ':=' rows
        defined = eff.table.loc[f"ind{g}"]
        assert defined["group"] == ""
        assert row["est"] == pytest.approx(defined["est"], abs=1e-10)
        assert row["se"] == pytest.approx(defined["se"], abs=1e-8)


def test_effects_rows_equal_the_views_and_the_joint_table(sector):
    eff = lcsem.effects(sector)
    est = sector.estimates
    assert list(eff.table.columns[:2]) == ["group", "effect"]
    assert set(eff.groups) == set(sector.group_labels)
    for g, label in enumerate(sector.group_labels, start=1):
        mine = eff.table[eff.table["group"] == label].drop(columns="group")
        pd.testing.assert_frame_equal(mine, lcsem.effects(sector.groups[label]).table)
        direct = mine.loc["direct(culture->perf)"]
        joint = est[(est["group"] == g) & (est["lhs"] == "perf") & (est["op"] == "~") & (est["rhs"] == "culture")].iloc[0]
        assert direct["est"] == pytest.approx(joint["est"], abs=1e-12)
        assert direct["se"] == pytest.approx(joint["se"], abs=1e-10)
        assert direct["std"] == pytest.approx(joint["std_all"], abs=1e-8)
    defined = eff.table[eff.table["group"] == ""]
    joint = est[est["op"] == ":="].set_index("lhs")
    np.testing.assert_allclose(defined["est"].to_numpy(), joint.loc[defined.index, "est"].to_numpy(), atol=1e-12)
    np.testing.assert_allclose(defined["std"].to_numpy(), joint.loc[defined.index, "std_all"].to_numpy(), atol=1e-12)
    assert "group" in eff.summary()


def test_effects_of_a_mean_structure_fit_equal_those_without_means(survey_means):
    with_means, without = survey_means
    a, b = lcsem.effects(with_means), lcsem.effects(without)
    assert "group" not in a.table.columns
    assert list(a.table.index) == list(b.table.index)
    np.testing.assert_allclose(a.table[["est", "se", "std", "std_se"]].to_numpy(),
                               b.table[["est", "se", "std", "std_se"]].to_numpy(), atol=1e-5)


def test_effects_refuse_an_object_that_is_not_a_bootstrap(sector):
    with pytest.raises(ArgumentError, match="boot: expected the lcsem.BootstrapResult"):
        lcsem.effects(sector, boot=object())


# ---------------------------------------------------------------------------- common-method bias
def test_common_method_bias_refuses_a_multi_group_fit_and_screens_a_view(sector, survey_means):
    with pytest.raises(NotSupportedError, match=r"res\.groups\.items\(\)"):
        lcsem.common_method_bias(sector)
    data = lcsem.datasets.load_lc_survey()
    view = lcsem.common_method_bias(sector.groups["public"])
    alone = lcsem.common_method_bias(lcsem.lc_model(), data[data["sector"] == "public"].dropna())
    assert view.chisq_diff == pytest.approx(alone.chisq_diff, abs=1e-6)
    with_means, without = survey_means
    assert lcsem.common_method_bias(with_means).chisq_diff == pytest.approx(
        lcsem.common_method_bias(without).chisq_diff, abs=1e-8)


# ---------------------------------------------------------------------------- plots
def test_plot_path_of_a_multi_group_fit_needs_a_group(sector):
    with pytest.raises(ArgumentError, match=r"group='private'.*group=1.*lcsem\.plot_groups"):
        lcsem.plot_path(sector)
    with pytest.raises(ArgumentError, match="group: 'school' is not a group"):
        lcsem.plot_path(sector, group="school")
    with pytest.raises(ArgumentError, match="group: 3 is not a group number"):
        lcsem.plot_path(sector, group=3)
    with pytest.raises(ArgumentError, match="group: expected a group label"):
        lcsem.plot_path(sector, group=1.0)


@pytest.mark.parametrize("group", ["public", 2])
def test_plot_path_draws_one_groups_estimates(sector, group):
    ax = lcsem.plot_path(sector, group=group, width=7.0)
    est = sector.estimates
    mine = est[(est["group"] == 2) & (est["op"] == "~")]
    texts = {t.get_gid(): t.get_text() for t in ax.texts}
    for _, row in mine.iterrows():
        label = texts[f"edgelabel:{row['lhs']}~{row['rhs']}"]
        assert label.startswith(format_typographic(row["std_all"], 2, False)), label
    r2 = sector.r2.loc["public"]
    assert texts["r2:perf"] == f"R² = {format_typographic(r2['perf'], 2, False)}"
    caption = texts["caption"]
    n_public = int((sector.data["sector"] == "public").sum())
    assert f"Group public (N = {n_public})" in caption and "χ²(" in caption


def test_plot_path_of_a_single_group_mean_structure_fit_draws_its_covariance_structure(survey_means):
    with_means, without = survey_means
    a = {t.get_gid(): t.get_text() for t in lcsem.plot_path(with_means).texts}
    b = {t.get_gid(): t.get_text() for t in lcsem.plot_path(without).texts}
    assert {k for k in a if k.startswith(("edgelabel", "node"))} == {k for k in b if k.startswith(("edgelabel", "node"))}
    assert "ind = " in a["caption"]


def test_plot_groups_draws_one_panel_per_group_in_one_layout(sector):
    fig = lcsem.plot_groups(sector, width=7.0, structural_only=True)
    assert [ax.get_gid() for ax in fig.axes] == [f"panel:{g}" for g in sector.group_labels]
    titles = {t.get_gid(): t.get_text() for t in fig.texts}
    for label, view in sector.groups.items():
        assert titles[f"title:{label}"] == f"{label} (N = {view.n_obs})"
    assert titles["caption"].startswith("2 groups: χ²(")
    assert "ind = " in titles["caption"]
    first, second = (ax.lcsem_layout.nodes for ax in fig.axes)
    assert {n: (round(v.x, 9), round(v.y, 9)) for n, v in first.items()} == \
        {n: (round(v.x, 9), round(v.y, 9)) for n, v in second.items()}
    for ax, (g, label) in zip(fig.axes, enumerate(sector.group_labels, start=1)):
        est = sector.estimates
        row = est[(est["group"] == g) & (est["lhs"] == "perf") & (est["rhs"] == "kmsuse")].iloc[0]
        text = next(t.get_text() for t in ax.texts if t.get_gid() == "edgelabel:perf~kmsuse")
        assert text.startswith(format_typographic(row["std_all"], 2, False))
    w, h = fig.get_size_inches()
    assert w <= 7.0 + 1e-6 and h <= 9.0 + 1e-6


GROUP_CASES = [(e, w) for e in gallery.GROUP_ENTRIES for w in gallery.WIDTHS]


@pytest.mark.parametrize("case", GROUP_CASES, ids=lambda c: f"{c[0].name}@{c[1]:g}in")
def test_group_gallery_figures_are_untangled_inside_and_warn_when_small(case):
    entry, width = case
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = gallery.draw_groups(entry, width)
    where = f"{entry.name} at {width:g} in"
    w, h = fig.get_size_inches()
    assert w <= width + 1e-6 and h <= width * 9 / 7 + 1e-6, f"{where}: {w:.2f} × {h:.2f} in"
    renderer = fig.canvas.get_renderer()
    boxes = []
    for ax in fig.axes:
        d = pg.measure(ax)
        assert not (bad := pg.text_collisions(d)), f"{where}: {bad[:5]}"
        assert not (bad := pg.labels_on_arrows(d)), f"{where}: {bad[:5]}"
        assert not (bad := pg.outside_figure(d)), f"{where}: {bad[:5]}"
        extents = [a.get_window_extent(renderer) for a in [*ax.texts, *ax.patches]]
        boxes.append((ax.get_gid(), np.array([min(b.x0 for b in extents), min(b.y0 for b in extents),
                                              max(b.x1 for b in extents), max(b.y1 for b in extents)])))
    for t in fig.texts:
        b = t.get_window_extent(renderer)
        box = np.array([b.x0, b.y0, b.x1, b.y1])
        assert box[0] >= -1 and box[1] >= -1 and box[2] <= fig.bbox.x1 + 1 and box[3] <= fig.bbox.y1 + 1, \
            f"{where}: {t.get_gid()} outside the figure"
        boxes.append((t.get_gid(), box))
    for i, (a, box_a) in enumerate(boxes):
        for b, box_b in boxes[i + 1:]:
            assert not pg.overlaps(box_a, box_b, tol=0.5), f"{where}: {a} overlaps {b}"
    smallest = min(t.get_fontsize() for ax in fig.axes for t in ax.texts if t.get_text().strip())
    warned = [c for c in caught if issubclass(c.category, PlotLegibilityWarning)]
    if smallest < 6.0:
        assert len(warned) == 1 and f"{smallest:.1f} pt" in str(warned[0].message), where
        assert "ax=" not in str(warned[0].message)
    else:
        assert not warned, f"{where}: warned at {smallest:.1f} pt"
    if width >= 7.0 and entry.name != "sector_groups_full":
        assert smallest >= 6.0, f"{where}: smallest text {smallest:.1f} pt"


def test_plot_groups_bad_input(sector, survey_means):
    with pytest.raises(ArgumentError, match="one group.*plot_path"):
        lcsem.plot_groups(survey_means[0])
    with pytest.raises(ArgumentError, match="ncols: 3"):
        lcsem.plot_groups(sector, ncols=3)
    with pytest.raises(ArgumentError, match="ax: not an option of plot_groups"):
        lcsem.plot_groups(sector, ax=object())
    with pytest.raises(ArgumentError, match="group: not an option of plot_groups"):
        lcsem.plot_groups(sector, group=1)
    with pytest.raises(ArgumentError, match="boot: expected the lcsem.BootstrapResult"):
        lcsem.plot_groups(sector, boot=object())
    with pytest.raises(ArgumentError, match="boot: expected the lcsem.BootstrapResult"):
        lcsem.plot_path(sector, group=1, boot=object(), show="ci")
    with pytest.raises(ArgumentError, match="what"):
        lcsem.plot_groups(sector, what="beta")


def test_plot_residuals_draws_one_group(sector):
    with pytest.raises(ArgumentError, match="plot_residuals: the result is a 2-group fit"):
        lcsem.plot_residuals(sector)
    ax = lcsem.plot_residuals(sector, group="public", annotate=True)
    resid = sector.groups["public"].residuals("cor")
    cell = next(t for t in ax.texts if t.get_gid() == "cell:lc_inquiry|lc_continuous")
    assert cell.get_text() == format_typographic(resid.loc["lc_inquiry", "lc_continuous"], 2, False)


# ---------------------------------------------------------------------------- report
def test_report_of_a_multi_group_fit(sector):
    text = lcsem.report(sector)
    sizes = {label: view.n_obs for label, view in sector.groups.items()}
    assert "multi-group model was fitted to the 2 groups of 'sector'" in text
    assert all(f"{label}, N = {n}" in text for label, n in sizes.items())
    assert "labelled alike for all groups (a, b and c)" in text
    assert "mean structure" in text
    for label, n in sizes.items():
        assert f"Measurement model: standardised loadings and reliability (sector = {label}, N = {n})" in text
    assert "| Group | Outcome | Predictor |" in text
    assert "Intercepts and latent means" in text and "| all groups | defined | ind := a*b |" in text
    # the structural rows are the groups' numbers
    est = sector.estimates
    for g in (1, 2):
        row = est[(est["group"] == g) & (est["lhs"] == "perf") & (est["rhs"] == "kmsuse")].iloc[0]
        assert f"| {row['est']:.3f} | {row['se']:.3f} | {row['std_all']:.3f} |" in text
    for fmt in ("latex", "html", "text"):
        assert "sector" in lcsem.report(sector, format=fmt)


def test_report_with_group_equal_names_the_constraints(fits):
    text = lcsem.report(fits["hs_scalar"], format="text")
    flat = " ".join(text.split())
    assert "factor loadings and intercepts constrained to be equal across groups" in flat
    assert "fixed at 0 in the first group and estimated in the others" in flat


def test_means_table_values_equal_the_joint_table(fits):
    from lcsem.reporting.tables import means_table

    res = fits["hs_scalar"]
    table = means_table(res, digits=3).reset_index()
    est = res.estimates[res.estimates["op"] == "~1"]
    assert len(table) == len(est)
    assert table["b"].tolist() == [f"{v:.3f}" for v in est["est"]]
    shared = table[table["Variable"] == "x1"]["Equal across groups"].tolist()
    assert shared == ["yes", "yes"]
    latent = table[table["Variable"] == "visual"]
    assert latent["p"].tolist()[0] == "fixed" and latent["p"].tolist()[1] != "fixed"


def test_report_of_a_mean_structure_fit_and_bootstrap_refusal(sector, survey_means):
    text = lcsem.report(survey_means[0])
    assert "mean structure" in text and "Intercepts and latent means" in text
    assert "| Group |" not in text
    with pytest.raises(ArgumentError, match="boot: expected the lcsem.BootstrapResult"):
        lcsem.report(sector, boot=object())


def test_measurement_of_a_view_says_it_ignores_the_constraints(fits):
    res = fits["hs_metric"]
    view = lcsem.measurement(res.groups["Pasteur"])
    assert any("without the multi-group fit's equality constraints" in n for n in view.notes)
    joint = lcsem.measurement(res).groups["Pasteur"]
    # equal loadings change the group's estimates: the two differ, and the joint one is semTools'
    assert abs(view.reliability.loc["speed", "omega"] - joint.reliability.loc["speed", "omega"]) > 1e-3


def test_measurement_keeps_the_constraints_the_cfa_has_and_drops_released_paths():
    """A released structural path has no counterpart in the CFA: it is left out of the
    CFA's group_partial, the loadings stay equal."""
    data = lcsem.datasets.load_lc_survey()
    res = _quiet_fit(lcsem.lc_model(), data, group="sector", group_equal=["loadings", "regressions"],
                     group_partial=["perf ~ kmsuse", "kmsuse =~ kms_breadth"])
    meas = lcsem.measurement(res)
    assert meas.cfa.group_partial == ("kmsuse =~ kms_breadth",)
    est = meas.cfa.estimates
    loads = est[(est["op"] == "=~")].pivot_table(index=["lhs", "rhs"], columns="group", values="est")
    free = loads.drop(index=("kmsuse", "kms_breadth"))
    np.testing.assert_allclose(free[1].to_numpy(), free[2].to_numpy(), atol=1e-10)
    assert abs(loads.loc[("kmsuse", "kms_breadth"), 1] - loads.loc[("kmsuse", "kms_breadth"), 2]) > 1e-4


def test_monte_carlo_effects_per_group(sector):
    eff = lcsem.effects(sector, ci="montecarlo", n_draws=2000, seed=3)
    again = lcsem.effects(sector, ci="montecarlo", n_draws=2000, seed=3)
    pd.testing.assert_frame_equal(eff.table, again.table)
    delta = lcsem.effects(sector)
    ind = eff.table[(eff.table["group"] == "public") & (eff.table["effect"] == "indirect")].iloc[0]
    ind_delta = delta.table[(delta.table["group"] == "public") & (delta.table["effect"] == "indirect")].iloc[0]
    assert ind["est"] == ind_delta["est"] and ind["ci_lower"] != ind_delta["ci_lower"]
    assert ind["ci_lower"] == pytest.approx(ind_delta["ci_lower"], abs=0.02)
    assert any("delta-method intervals" in n for n in eff.notes)


def test_factor_scores_keep_the_data_order_with_a_repeated_index(hs_data, fits):
    data = hs_data.copy()
    data.index = [i // 2 for i in range(len(data))]          # every label twice
    res = _quiet_fit(HS, data, group="school", group_equal=["loadings"])
    scores = lcsem.factor_scores(res)
    reference = lcsem.factor_scores(fits["hs_metric"])
    assert len(scores) == len(data) and scores.index.equals(res.data.index)
    np.testing.assert_allclose(scores[["visual", "textual", "speed"]].to_numpy(),
                               reference[["visual", "textual", "speed"]].to_numpy(), atol=1e-6)
    assert scores["group"].tolist() == data["school"].tolist()


def test_plot_groups_puts_four_groups_in_a_grid_within_the_page(hs_data):
    data = hs_data.dropna(subset=["grade"]).copy()
    data["cohort"] = data["school"] + " " + data["grade"].astype(int).astype(str)
    res = _quiet_fit(HS, data, group="cohort", group_equal=["loadings"])
    with pytest.warns(PlotLegibilityWarning, match="plot_groups: the smallest text"):
        fig = lcsem.plot_groups(res, width=7.0)
    assert len(fig.axes) == 4
    corners = {(round(ax.get_position().x0, 3), round(ax.get_position().y0, 3)) for ax in fig.axes}
    assert len({x for x, _ in corners}) == 2 and len({y for _, y in corners}) == 2, corners
    w, h = fig.get_size_inches()
    assert w <= 7.0 + 1e-6 and h <= 9.0 + 1e-6
    stacked = lcsem.plot_groups(res, width=7.0, ncols=1, structural_only=True)
    assert len({round(ax.get_position().x0, 3) for ax in stacked.axes}) == 1
