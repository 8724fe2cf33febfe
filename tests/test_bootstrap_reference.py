"""Bollen–Stine reference distributions and p-values of every fit index (Kim & Millsap, 2014):
definition, direction, floor, refusal for other kinds, agreement with lavaan, and how
the summary, the demo and the plot show them."""

from __future__ import annotations

import math
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import lcsem  # noqa: E402
from lcsem.exceptions import BootstrapFailureWarning, NotSupportedError  # noqa: E402
from lcsem.display.format import format_boot_p  # noqa: E402

B = 1000
SEED = 2026
# written out here, independently of the library's table: larger is worse / smaller is worse
LARGER_IS_WORSE = ("chisq", "rmsea", "srmr")
SMALLER_IS_WORSE = ("pvalue", "cfi", "tli", "nfi", "gfi", "agfi")
CONVENTIONAL = {"cfi": 0.95, "tli": 0.95, "rmsea": 0.06, "srmr": 0.08}


def quiet(res, n, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BootstrapFailureWarning)
        return lcsem.bootstrap(res, n, progress=False, **kwargs)


@pytest.fixture(scope="module")
def runs(fitted):
    """1,000 Bollen–Stine replicates of each lavaan reference data set (fixed seed)."""
    return {name: quiet(res, B, kind="bollen-stine", seed=SEED) for name, res in fitted.items()}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def hand_pvalue(draws, observed, larger_is_worse: bool) -> float:
    t = np.asarray(draws, dtype=float)
    t = t[np.isfinite(t)]
    k = np.sum(t >= observed) if larger_is_worse else np.sum(t <= observed)
    return (1 + k) / (t.size + 1)


def with_estimate(bs, **values):
    """The same replicates with other sample values (to put the sample in either tail)."""
    estimate = bs.estimate.copy()
    for name, value in values.items():
        estimate[name] = value
    return type(bs)(fit=bs.fit, kind=bs.kind, n_resamples=bs.n_resamples, seed=bs.seed,
                    distribution=bs.distribution, estimate=estimate, status=bs.status,
                    failure_reasons=bs.failure_reasons, indices=bs.indices)


# ---------------------------------------------------------------- definition
@pytest.mark.parametrize("name", ["political_democracy", "learning_culture_survey"])
def test_pvalues_are_the_share_of_replicates_at_least_as_bad_as_the_sample(runs, name):
    bs = runs[name]
    p = bs.fit_pvalues()
    assert list(p.index) == ["chisq", "pvalue", "cfi", "tli", "nfi", "rmsea", "srmr", "gfi", "agfi"]
    usable = bs.distribution[(bs.status != "failed").to_numpy()]
    for index in LARGER_IS_WORSE + SMALLER_IS_WORSE:
        expected = hand_pvalue(usable[index], bs.estimate[index], index in LARGER_IS_WORSE)
        assert p[index] == pytest.approx(expected, abs=1e-15), index
    # only admissible replicates, when asked
    ok = bs.distribution[(bs.status == "ok").to_numpy()]
    strict = bs.fit_pvalues(include_inadmissible=False)
    for index in LARGER_IS_WORSE + SMALLER_IS_WORSE:
        assert strict[index] == pytest.approx(hand_pvalue(ok[index], bs.estimate[index],
                                                          index in LARGER_IS_WORSE), abs=1e-15)
    if name == "political_democracy":
        assert bs.n_inadmissible > 0 and (strict != p).any()      # the option changes something here


def test_chisq_entry_is_the_bollen_stine_p_and_monotone_indices_agree(runs):
    for name, bs in runs.items():
        p = bs.fit_pvalues()
        assert p["chisq"] == bs.pvalue, name
        # the chi-square p-value is a decreasing function of chisq (df fixed): the same test
        assert p["pvalue"] == p["chisq"], name
        # RMSEA increases with chisq above df; below df it is 0 and the sample's p is 1
        if bs.estimate["rmsea"] > 0:
            assert p["rmsea"] == p["chisq"], name
        else:
            assert p["rmsea"] == 1.0, name


def test_direction_per_index_and_the_floor(runs):
    bs = runs["learning_culture_survey"]
    d = bs.distribution
    n = int(d["chisq"].notna().sum())
    floor = 1 / (n + 1)
    # every sample value worse than every replicate: p at its floor, never 0
    worst = {i: d[i].max() + 1.0 for i in LARGER_IS_WORSE} | {i: d[i].min() - 1.0 for i in SMALLER_IS_WORSE}
    p = with_estimate(bs, **worst).fit_pvalues()
    np.testing.assert_allclose(p.to_numpy(), floor, rtol=1e-12)
    assert (p > 0).all()
    # every sample value better than every replicate: p = 1
    best = {i: d[i].min() - 1.0 for i in LARGER_IS_WORSE} | {i: d[i].max() + 1.0 for i in SMALLER_IS_WORSE}
    assert (with_estimate(bs, **best).fit_pvalues() == 1.0).all()
    # ties count as at least as bad: the survey's CFI of 1 and RMSEA of 0 (truncated) give p = 1
    shared = lcsem.fit(lcsem.lc_model(), lcsem.datasets.load_lc_survey())
    assert shared.fit_indices["cfi"] == 1.0 and shared.fit_indices["rmsea"] == 0.0
    survey = quiet(shared, 200, kind="bollen-stine", seed=3)
    assert survey.distribution["cfi"].eq(1.0).any() and survey.distribution["rmsea"].eq(0.0).any()
    assert survey.fit_pvalues()[["cfi", "rmsea"]].tolist() == [1.0, 1.0]


def test_reference_table(runs):
    bs = runs["holzinger_swineford"]
    ref = bs.fit_reference()
    assert list(ref.columns) == ["sample", "worse", "mean", "q05", "q95", "cutoff", "pvalue"]
    assert ref.attrs["n_draws"] == int(bs.distribution["chisq"].notna().sum())
    p = bs.fit_pvalues()
    for index in LARGER_IS_WORSE + SMALLER_IS_WORSE:
        t = bs.distribution[index].dropna().to_numpy()
        row = ref.loc[index]
        assert row["sample"] == bs.estimate[index]
        assert row["worse"] == ("higher" if index in LARGER_IS_WORSE else "lower")
        assert row["mean"] == pytest.approx(t.mean())
        assert [row["q05"], row["q95"]] == pytest.approx(list(np.quantile(t, [0.05, 0.95])))
        # the bad tail's quantile: a correct model is worse than it 5% of the time
        assert row["cutoff"] == (row["q95"] if index in LARGER_IS_WORSE else row["q05"])
        assert row["pvalue"] == p[index]
    # HS misfits: its RMSEA lies beyond the 95th percentile of RMSEA under the true model
    assert ref.loc["rmsea", "sample"] > ref.loc["rmsea", "cutoff"] and p["rmsea"] < 0.05


def test_other_kinds_are_refused_with_the_fix(fitted):
    res = fitted["holzinger_swineford"]
    for kind in ("nonparametric", "parametric"):
        boot = quiet(res, 5, kind=kind, seed=1)
        for method in (boot.fit_pvalues, boot.fit_reference):
            with pytest.raises(NotSupportedError, match="kind='bollen-stine'") as err:
                method()
            assert isinstance(err.value, lcsem.LcsemError) and kind in str(err.value)


# ---------------------------------------------------------------- lavaan
@pytest.mark.parametrize("name", ["holzinger_swineford", "political_democracy", "learning_culture_survey"])
def test_chisq_bollen_stine_p_agrees_with_lavaan(runs, reference, name):
    """lavaan 0.6.14, 1,000 replicates, p = k/B; lcsem 1,000 replicates, p = (1 + k)/(B + 1).
    Two independent Monte Carlo estimates: their difference has SE sqrt(se1² + se2²) with
    binomial SEs (about 0.016 at p = .5); allowed 3 SEs plus the conventions' offset 1/(B + 1)."""
    ours = runs[name].fit_pvalues()["chisq"]
    theirs = reference[name]["bollen_stine_p"]
    se = math.sqrt(ours * (1 - ours) / B + theirs * (1 - theirs) / B)
    assert abs(ours - theirs) <= 3 * se + 1 / (B + 1), (ours, theirs, se)


# ---------------------------------------------------------------- summary and demo
def test_summary_shows_the_reference_distribution_and_p(runs):
    bs = runs["holzinger_swineford"]
    text = bs.summary()
    assert "reference distribution if the model were true" in text
    ref = bs.fit_reference()
    n = ref.attrs["n_draws"]
    section = text.split("Parameters:")[0]
    for index in ("chisq", "cfi", "tli", "rmsea", "srmr"):
        (line,) = [ln for ln in section.splitlines() if ln.startswith(index + " ")]
        assert line.endswith(format_boot_p(ref.loc[index, "pvalue"], n, sides=1)), line
    assert "≤ .001" in section                         # HS is rejected at the floor
    # the parameter table no longer repeats the fit indices as 'intervals'
    params = text.split("Parameters:")[1]
    assert not [ln for ln in params.splitlines() if ln.startswith(("cfi ", "rmsea "))]
    assert "visual=~x2" in params
    assert "reference distribution" in bs._repr_html_()


def test_naive_summary_labels_fit_index_intervals_for_what_they_are(fitted):
    text = quiet(fitted["learning_culture_survey"], 20, seed=1).summary()
    assert "sampling variability of the misfit, not a CI of the sample value" in text
    assert "kind='bollen-stine'" in text


def test_demo_shows_the_reference_table_and_labels_the_naive_draws():
    from lcsem.demo import run_demo

    out = run_demo(n_resamples=200, seed=42)
    assert "middle 95% of the draws: sampling variability of the misfit, not a CI of the sample value" in out
    assert "percentile 95% CI" not in out
    head, table = out.split("Bollen-Stine bootstrap: each fit index against its reference distribution if "
                            "the model were true")
    rows = {ln.split()[0]: ln for ln in table.splitlines()[1:8] if ln.strip()}
    for index in ("chisq", "cfi", "tli", "rmsea", "srmr"):
        assert index in rows
    # the survey's CFI of 1.000 and RMSEA of 0: at least this bad under the model with p = 1
    assert rows["cfi"].endswith("1.000") and rows["rmsea"].endswith("1.000")
    assert "probability of an index at least this bad if the model were true" in table


# ---------------------------------------------------------------- plot
def _lines(ax) -> dict[str, float]:
    return {line.get_gid(): float(line.get_xdata()[0]) for line in ax.lines if line.get_gid()}


@pytest.mark.parametrize("name", ["holzinger_swineford", "learning_culture_survey"])
def test_plot_shows_each_index_against_its_reference_distribution(runs, name, tmp_path):
    bs = runs[name]
    fig = lcsem.plot_bootstrap(bs)
    fig.set_size_inches(7.0, fig.get_size_inches()[1])
    fig.savefig(tmp_path / "bollen_stine.png", dpi=200)
    assert (tmp_path / "bollen_stine.png").stat().st_size > 20_000
    ref = bs.fit_reference()
    n = ref.attrs["n_draws"]
    panels = {ax.get_gid()[10:]: ax for ax in fig.axes if (ax.get_gid() or "").startswith("bootstrap:")}
    assert list(panels) == ["cfi", "tli", "rmsea", "srmr"]
    renderer = fig.canvas.get_renderer()
    for stat, ax in panels.items():
        lines = _lines(ax)
        assert lines["estimate"] == bs.estimate[stat]                      # the sample value
        assert lines["cutoff"] == CONVENTIONAL[stat]                       # the conventional cut-off
        (cut,) = [ln for ln in ax.lines if ln.get_gid() == "cutoff"]
        assert cut.get_linestyle() == "--"
        assert lines["reference_cutoff"] == pytest.approx(ref.loc[stat, "cutoff"])
        (ptext,) = [t for t in ax.texts if t.get_gid() == "pvalue"]
        shown = format_boot_p(ref.loc[stat, "pvalue"], n, sides=1)
        assert ptext.get_text() == "p " + (shown if shown.startswith("≤") else f"= {shown}")
        title = ax.get_title().replace("\n", " ")
        assert "reference distribution if the model were true" in title and "CI" not in title
        assert int(round(sum(p.get_height() for p in ax.patches if p.get_gid() == "hist"))) == n
        # the p-value is readable: no line runs through it, and it sits inside the panel
        box = ptext.get_window_extent(renderer)
        for line in ax.lines:
            x = ax.transData.transform((line.get_xdata()[0], 0))[0]
            assert not box.x0 <= x <= box.x1, (stat, line.get_gid())
        frame = ax.get_window_extent(renderer)
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1
    legend = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert "conventional cut-off" in legend and not any("CI" in t for t in legend)
    (note,) = fig.findobj(lambda a: getattr(a, "get_gid", lambda: None)() == "reference_note")
    assert "if the model were true" in note.get_text().replace("\n", " ")
    if name == "holzinger_swineford":
        assert all(t.get_text() == "p ≤ .001" for ax in panels.values() for t in ax.texts
                   if t.get_gid() == "pvalue")


def test_plot_of_a_naive_bootstrap_keeps_the_middle_of_the_draws(fitted):
    boot = quiet(fitted["learning_culture_survey"], 100, seed=4)
    fig = lcsem.plot_bootstrap(boot)
    legend = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert "middle 95% of the draws" in legend and not any("CI" in t for t in legend)
    assert not [t for ax in fig.axes for t in ax.texts if t.get_gid() == "pvalue"]


def test_plot_of_bollen_stine_loglik_aic_bic_says_why_there_is_no_reference(runs):
    fig = lcsem.plot_bootstrap(runs["political_democracy"], stats=["srmr", "aic"])
    panels = {ax.get_gid()[10:]: ax for ax in fig.axes if ax.get_gid()}
    assert [t.get_gid() for t in panels["srmr"].texts] == ["pvalue"] and not panels["aic"].texts
    (note,) = fig.findobj(lambda a: getattr(a, "get_gid", lambda: None)() == "reference_note+shift_note")
    text = note.get_text().replace("\n", " ")
    assert "no reference for the sample value (AIC)" in text and "if the model were true" in text
