"""Analyses that take a bootstrap, on multi-group and mean-structure fits: effects,
invariance's latent means, report tables and path diagrams. Every interval is checked
against the same statistic computed by hand from the bootstrap's columns
(``"<name>@<group label>"`` per group; ``:=`` rows by their plain name)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import lcsem
from lcsem.exceptions import ArgumentError, BootstrapFailureWarning
from lcsem.resampling.intervals import confidence_interval

SECTOR_MODEL = """
culture =~ lc_continuous + lc_inquiry + lc_team + lc_embedded + lc_empower + lc_connect + lc_leader
kmsuse =~ kms_frequency + kms_breadth + kms_reliance + kms_contribution
perf =~ op_roi + op_productivity + op_innovation + op_ideas + op_responsiveness
kmsuse ~ c(a1, a2)*culture
perf ~ c(b1, b2)*kmsuse + c(c1, c2)*culture
ind1 := a1*b1
ind2 := a2*b2
diff := a1*b1 - a2*b2
"""
N_BOOT = 150


def _quiet(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


@pytest.fixture(scope="module")
def sector():
    return _quiet(lcsem.fit, SECTOR_MODEL, lcsem.datasets.load_lc_survey(), group="sector")


@pytest.fixture(scope="module")
def sector_boot(sector):
    return _quiet(lcsem.bootstrap, sector, N_BOOT, seed=2026, progress=False)


def _usable(boot) -> pd.DataFrame:
    return boot.distribution[(boot.status != "failed").to_numpy()]


def _percentile(values: np.ndarray, level: float = 0.95) -> np.ndarray:
    values = values[np.isfinite(values)]
    return np.quantile(values, [(1 - level) / 2, (1 + level) / 2])


# ---------------------------------------------------------------------------- effects
def test_group_effects_intervals_are_those_of_the_groups_columns(sector, sector_boot):
    eff = _quiet(lcsem.effects, sector, boot=sector_boot)
    draws = _usable(sector_boot)
    assert eff.ci_method == "percentile" and eff.n_boot_used == N_BOOT - sector_boot.n_failed
    for label in sector.group_labels:
        rows = eff.table[eff.table["group"] == label]
        a = draws[sector_boot.column("kmsuse", "~", "culture", group=label)].to_numpy()
        b = draws[sector_boot.column("perf", "~", "kmsuse", group=label)].to_numpy()
        c = draws[sector_boot.column("perf", "~", "culture", group=label)].to_numpy()
        for name, values in (("culture->kmsuse->perf", a * b), ("direct(culture->perf)", c),
                             ("total(culture->perf)", c + a * b),
                             ("proportion(culture->perf)", a * b / (c + a * b))):
            row = rows.loc[name]
            np.testing.assert_allclose([row["ci_lower"], row["ci_upper"]], _percentile(values), rtol=1e-12)
            np.testing.assert_allclose(row["boot_se"], np.std(values, ddof=1), rtol=1e-12)
        # the direct effect is one column: the bootstrap's own interval of that column
        own = sector_boot.ci(stats=[sector_boot.column("perf", "~", "culture", group=label)])
        np.testing.assert_allclose(rows.loc["direct(culture->perf)", ["ci_lower", "ci_upper"]].to_numpy(float),
                                   own[["lower", "upper"]].to_numpy()[0], rtol=1e-12)
        # standardised: the product of the group's std columns
        sa = draws["std:" + sector_boot.column("kmsuse", "~", "culture", group=label)].to_numpy()
        sb = draws["std:" + sector_boot.column("perf", "~", "kmsuse", group=label)].to_numpy()
        np.testing.assert_allclose(rows.loc["culture->kmsuse->perf", ["std_ci_lower", "std_ci_upper"]]
                                   .to_numpy(float), _percentile(sa * sb), rtol=1e-9)
    # the two groups' intervals differ (group-specific labels), so no group borrowed another's
    first, second = (eff.table[eff.table["group"] == g].loc["culture->kmsuse->perf", "ci_lower"]
                     for g in sector.group_labels)
    assert first != second


def test_defined_rows_use_their_own_columns(sector, sector_boot):
    eff = _quiet(lcsem.effects, sector, boot=sector_boot)
    defined = eff.table[eff.table["effect"] == "defined"]
    assert list(defined.index) == ["ind1", "ind2", "diff"]
    assert (defined["group"] == "").all()
    ci = sector_boot.ci(stats=["ind1", "ind2", "diff"])
    np.testing.assert_allclose(defined[["ci_lower", "ci_upper"]].to_numpy(float),
                               ci[["lower", "upper"]].to_numpy(), rtol=1e-12)
    draws = _usable(sector_boot)
    np.testing.assert_allclose(defined["boot_se"].to_numpy(float), draws[["ind1", "ind2", "diff"]].std(ddof=1),
                               rtol=1e-12)
    # ind1 is group 1's indirect effect: same draws, same interval
    g1 = eff.table[eff.table["group"] == sector.group_labels[0]].loc["culture->kmsuse->perf"]
    np.testing.assert_allclose([g1["ci_lower"], g1["ci_upper"]], defined.loc["ind1", ["ci_lower", "ci_upper"]]
                               .to_numpy(float), rtol=1e-9)
    assert "pvalue_delta" in defined.columns


@pytest.mark.parametrize("method", ["bc", "bca"])
def test_group_effects_other_interval_methods(sector, sector_boot, method):
    eff = _quiet(lcsem.effects, sector, boot=sector_boot, method=method)
    assert eff.ci_method == method
    label = sector.group_labels[1]
    col = sector_boot.column("perf", "~", "culture", group=label)
    own = sector_boot.ci(stats=[col, "ind2"], method=method)
    row = eff.table[eff.table["group"] == label].loc["direct(culture->perf)"]
    np.testing.assert_allclose([row["ci_lower"], row["ci_upper"]], own.loc[col, ["lower", "upper"]].to_numpy(float),
                               rtol=1e-9)
    np.testing.assert_allclose(eff.table.loc["ind2", ["ci_lower", "ci_upper"]].to_numpy(float),
                               own.loc["ind2", ["lower", "upper"]].to_numpy(float), rtol=1e-9)
    if method == "bca":
        indirect = eff.table[eff.table["group"] == label].loc["culture->kmsuse->perf"]
        jk = sector_boot.jackknife()
        a = jk[sector_boot.column("kmsuse", "~", "culture", group=label)].to_numpy()
        b = jk[sector_boot.column("perf", "~", "kmsuse", group=label)].to_numpy()
        draws = _usable(sector_boot)
        d = (draws[sector_boot.column("kmsuse", "~", "culture", group=label)]
             * draws[sector_boot.column("perf", "~", "kmsuse", group=label)]).to_numpy()
        np.testing.assert_allclose([indirect["ci_lower"], indirect["ci_upper"]],
                                   confidence_interval(d, indirect["est"], method="bca", jackknife=a * b), rtol=1e-9)


def test_group_effects_with_a_seed_are_reproducible(sector, sector_boot):
    again = _quiet(lcsem.bootstrap, sector, N_BOOT, seed=2026, progress=False)
    a = _quiet(lcsem.effects, sector, boot=sector_boot).table
    b = _quiet(lcsem.effects, sector, boot=again).table
    pd.testing.assert_frame_equal(a, b)


def test_effects_of_a_mean_structure_fit_with_its_bootstrap():
    data = lcsem.datasets.load_lc_survey()
    res = _quiet(lcsem.fit, lcsem.lc_model(), data, meanstructure=True)
    boot = _quiet(lcsem.bootstrap, res, 100, seed=7, progress=False)
    eff = _quiet(lcsem.effects, res, boot=boot)
    draws = _usable(boot)
    values = (draws["kmsuse~culture"] * draws["perf~kmsuse"]).to_numpy()
    np.testing.assert_allclose(eff.table.loc["culture->kmsuse->perf", ["ci_lower", "ci_upper"]].to_numpy(float),
                               _percentile(values), rtol=1e-12)
    np.testing.assert_allclose(eff.table.loc["ind", ["ci_lower", "ci_upper"]].to_numpy(float),
                               boot.ci(stats=["ind"])[["lower", "upper"]].to_numpy()[0], rtol=1e-12)


def test_effects_refuse_a_foreign_bootstrap(sector, sector_boot):
    with pytest.raises(ArgumentError, match="boot: expected the lcsem.BootstrapResult"):
        lcsem.effects(sector, boot=object())
    other = _quiet(lcsem.fit, SECTOR_MODEL, lcsem.datasets.load_lc_survey().iloc[:-20], group="sector")
    with pytest.raises(ArgumentError, match="boot: it is the bootstrap of another fit"):
        lcsem.effects(other, boot=sector_boot)
    with pytest.raises(ArgumentError, match="ci: 'montecarlo'"):
        lcsem.effects(sector, boot=sector_boot, ci="montecarlo")


# ---------------------------------------------------------------------------- invariance
@pytest.fixture(scope="module")
def invariance_boot():
    return _quiet(lcsem.invariance, lcsem.lc_model(), lcsem.datasets.load_lc_survey(), group="sector",
                  levels=("configural", "metric", "scalar"), n_boot=120, seed=11)


def test_invariance_latent_means_get_bootstrap_intervals_from_their_columns(invariance_boot):
    inv = invariance_boot
    boot = inv.bootstrap
    assert boot is not None and boot.fit is inv.fits["scalar"] and boot.n_resamples == 120
    means = inv.latent_means
    draws = _usable(boot)
    assert len(means) == 3
    for _, row in means.iterrows():
        column = f"{row['lhs']}~1@{row['group']}"
        assert column == boot.column(row["lhs"], "~1", "", group=row["group"])
        values = draws[column].to_numpy()
        np.testing.assert_allclose([row["boot_ci_lower"], row["boot_ci_upper"]], _percentile(values), rtol=1e-12)
        np.testing.assert_allclose(row["boot_se"], np.std(values, ddof=1), rtol=1e-12)
        # the bootstrap's full-sample value is the table's estimate
        np.testing.assert_allclose(boot.estimate[column], row["est"], rtol=1e-10)
    assert "Bootstrap 95% CI" in inv.summary("markdown")
    assert any("Bootstrap intervals of the latent mean differences" in n for n in inv.notes)


def test_invariance_bootstrap_is_reproducible_and_optional(invariance_boot):
    again = _quiet(lcsem.invariance, lcsem.lc_model(), lcsem.datasets.load_lc_survey(), group="sector",
                   levels=("configural", "metric", "scalar"), n_boot=120, seed=11)
    pd.testing.assert_frame_equal(again.latent_means, invariance_boot.latent_means)
    plain = _quiet(lcsem.invariance, lcsem.lc_model(), lcsem.datasets.load_lc_survey(), group="sector",
                   levels=("configural", "metric", "scalar"))
    assert plain.bootstrap is None and "boot_ci_lower" not in plain.latent_means.columns
    assert "Bootstrap" not in plain.summary()


@pytest.mark.parametrize("options, message", [
    ({"n_boot": 0}, "n_boot: expected a whole number"),
    ({"n_boot": 10.5}, "n_boot: expected a whole number"),
    ({"n_boot": True}, "n_boot: expected a whole number"),
    ({"seed": 3}, "seed: .*n_boot is not given"),
    ({"n_boot": 50, "levels": ("configural", "metric")}, "n_boot: .*no.*free latent means|n_boot: .*none of the levels"),
])
def test_invariance_bootstrap_bad_input(options, message):
    options = {"levels": ("configural", "metric", "scalar"), **options}
    with pytest.raises(ArgumentError, match=message):
        _quiet(lcsem.invariance, lcsem.lc_model(), lcsem.datasets.load_lc_survey(), group="sector", **options)


# ---------------------------------------------------------------------------- report
def _ci_text(lower: float, upper: float) -> str:
    from lcsem.display.format import format_ci
    return format_ci(lower, upper, 3)


def test_report_tables_of_each_group_use_its_bootstrap_columns(sector, sector_boot):
    from lcsem.reporting.tables import group_structural_table, means_table
    paths = group_structural_table(sector, sector_boot)
    labels = sector.group_labels
    # rows: group 1's three paths, then group 2's
    assert len(paths) == 6
    flat = paths.reset_index()
    for g, label in enumerate(labels):
        block = flat.iloc[3 * g:3 * g + 3]
        for _, row in block.iterrows():
            column = "std:" + sector_boot.column(row["Outcome"], "~", row["Predictor"], group=label)
            ci = sector_boot.ci(stats=[column])
            assert row["95% CI (β)"] == _ci_text(ci["lower"].iloc[0], ci["upper"].iloc[0])
    means = means_table(sector, sector_boot).reset_index()
    for g, label in enumerate(labels):
        block = means.iloc[19 * g:19 * g + 19]
        row = block[block["Variable"] == "op_roi"].iloc[0]
        ci = sector_boot.ci(stats=[sector_boot.column("op_roi", "~1", "", group=label)])
        from lcsem.display.format import format_ci
        assert row["95% CI"] == format_ci(ci["lower"].iloc[0], ci["upper"].iloc[0], 3, raw=True)
        assert block[block["Variable"] == "culture"]["p"].iloc[0] == "fixed"


def test_report_of_a_grouped_fit_with_its_bootstrap(sector, sector_boot):
    text = _quiet(lcsem.report, sector, boot=sector_boot)
    assert "bootstrap percentile 95% CI" in text
    eff = _quiet(lcsem.effects, sector, boot=sector_boot)
    g2 = eff.table[eff.table["group"] == sector.group_labels[1]].loc["culture->kmsuse->perf"]
    assert _ci_text(g2["ci_lower"], g2["ci_upper"]) in text
    # measurement tables take their intervals from the same multi-group bootstrap, per group
    assert "standardised loading (bootstrap percentile 95% CI)" in text
    meas = _quiet(lcsem.measurement, sector, boot=sector_boot)
    loadings = meas.groups[sector.group_labels[1]].loadings
    first = loadings.iloc[0]
    assert _ci_text(first["ci_lower"], first["ci_upper"]) in text
    assert text == _quiet(lcsem.report, sector, boot=sector_boot)


def test_report_of_a_mean_structure_fit_with_its_bootstrap():
    data = lcsem.datasets.load_lc_survey()
    res = _quiet(lcsem.fit, lcsem.lc_model(), data, meanstructure=True)
    boot = _quiet(lcsem.bootstrap, res, 60, seed=3, progress=False)
    text = _quiet(lcsem.report, res, boot=boot)
    ci = boot.ci(stats=["op_roi~1", "std:kmsuse~culture"])
    from lcsem.display.format import format_ci
    assert format_ci(ci.loc["op_roi~1", "lower"], ci.loc["op_roi~1", "upper"], 3, raw=True) in text
    assert _ci_text(ci.loc["std:kmsuse~culture", "lower"], ci.loc["std:kmsuse~culture", "upper"]) in text


def test_report_refuses_the_bootstrap_of_another_fit(sector, sector_boot):
    other = _quiet(lcsem.fit, lcsem.lc_model(), lcsem.datasets.load_lc_survey(), group="sector")
    with pytest.raises(ArgumentError, match="boot: it is the bootstrap of another fit"):
        lcsem.report(other, boot=sector_boot)


# ---------------------------------------------------------------------------- diagrams
def _edge_texts(ax) -> dict[str, str]:
    return {t.get_gid()[len("edgelabel:"):]: t.get_text() for t in ax.texts
            if t.get_gid() and t.get_gid().startswith("edgelabel:")}


def _expected_label(boot, column: str, digits: int = 2) -> str:
    from lcsem.display.format import format_typographic
    ci = boot.ci(stats=[column])
    est, lo, hi = (float(ci[c].iloc[0]) for c in ("estimate", "lower", "upper"))
    return (f"{format_typographic(est, digits, False)}\n"
            f"[{format_typographic(lo, digits, False)}, {format_typographic(hi, digits, False)}]")


@pytest.fixture()
def _agg():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    yield
    plt.close("all")


def test_plot_path_of_one_group_shows_its_bootstrap_intervals(sector, sector_boot, _agg):
    for label in sector.group_labels:
        ax = _quiet(lcsem.plot_path, sector, group=label, boot=sector_boot, show="ci", structural_only=True)
        texts = _edge_texts(ax)
        assert set(texts) == {"kmsuse~culture", "perf~kmsuse", "perf~culture"}
        for name, text in texts.items():
            lhs, rhs = name.split("~")
            assert text == _expected_label(sector_boot, "std:" + sector_boot.column(lhs, "~", rhs, group=label))
    # unstandardised: the group's raw columns
    ax = _quiet(lcsem.plot_path, sector, group=2, boot=sector_boot, show="ci", what="est", structural_only=True)
    from lcsem.display.format import format_typographic
    ci = sector_boot.ci(stats=[sector_boot.column("perf", "~", "culture", group=2)])
    assert _edge_texts(ax)["perf~culture"].endswith(
        f"[{format_typographic(float(ci['lower'].iloc[0]), 2, True)}, "
        f"{format_typographic(float(ci['upper'].iloc[0]), 2, True)}]")


def test_plot_groups_panels_and_caption_use_the_bootstrap(sector, sector_boot, _agg):
    fig = _quiet(lcsem.plot_groups, sector, boot=sector_boot, show="ci", structural_only=True)
    for label, ax in zip(sector.group_labels, fig.axes):
        assert ax.get_gid() == f"panel:{label}"
        assert _edge_texts(ax)["kmsuse~culture"] == _expected_label(
            sector_boot, "std:" + sector_boot.column("kmsuse", "~", "culture", group=label))
    caption = next(t.get_text() for t in fig.texts if t.get_gid() == "caption")
    assert "ind1 = " + _expected_label(sector_boot, "std:ind1").replace("\n", " ") in caption


def test_diagrams_refuse_bad_bootstrap_arguments(sector, sector_boot, _agg):
    other = _quiet(lcsem.fit, lcsem.lc_model(), lcsem.datasets.load_lc_survey(), group="sector")
    with pytest.raises(ArgumentError, match="boot: it is the bootstrap of another fit"):
        lcsem.plot_path(other, group=1, boot=sector_boot, show="ci")
    with pytest.raises(ArgumentError, match="boot: it is the bootstrap of another fit"):
        lcsem.plot_groups(other, boot=sector_boot, show="ci")
    with pytest.raises(ArgumentError, match="show: 'ci' needs bootstrap draws"):
        lcsem.plot_groups(sector, show="ci")
