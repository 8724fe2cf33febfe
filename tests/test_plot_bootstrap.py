"""Bootstrap distribution panels and the residual heatmap: what is drawn."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import lcsem  # noqa: E402
from lcsem.plot import plot_bootstrap, plot_residuals  # noqa: E402

from test_plot_support import StandInBootstrap, fitted, real_bootstrap  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def boot():
    return real_bootstrap("lc")


def test_failed_replicates_are_left_out_and_counted():
    stand_in = StandInBootstrap(fitted("lc"))          # three all-NaN replicates
    fig = plot_bootstrap(stand_in, stats=["cfi", "ind"])
    for ax in [a for a in fig.axes if a.get_gid()]:
        stat = ax.get_gid()[10:]
        assert _hist_counts(ax) == stand_in.distribution[stat].notna().sum() == len(stand_in.distribution) - 3
        assert "B = 397 (3 failed)" == ax.get_xlabel()


def _lines(ax) -> dict[str, float]:
    return {line.get_gid(): float(line.get_xdata()[0]) for line in ax.lines if line.get_gid()}


def _hist_counts(ax) -> int:
    return int(round(sum(p.get_height() for p in ax.patches if p.get_gid() == "hist")))


def test_one_panel_per_statistic_with_estimate_ci_and_cutoffs(boot):
    stats = ["cfi", "tli", "rmsea", "srmr", "ind", "std:kmsuse~culture"]
    fig = plot_bootstrap(boot, stats=stats, level=0.9)
    panels = {ax.get_gid()[10:]: ax for ax in fig.axes if (ax.get_gid() or "").startswith("bootstrap:")}
    assert list(panels) == stats
    ci = boot.ci(level=0.9, stats=stats)
    cutoffs = {"cfi": 0.95, "tli": 0.95, "rmsea": 0.06, "srmr": 0.08}
    for stat, ax in panels.items():
        lines = _lines(ax)
        assert lines["estimate"] == pytest.approx(boot.estimate[stat])
        assert lines["ci_lower"] == pytest.approx(ci.loc[stat, "lower"])
        assert lines["ci_upper"] == pytest.approx(ci.loc[stat, "upper"])
        if stat in cutoffs:
            assert lines["cutoff"] == cutoffs[stat]
        else:
            assert "cutoff" not in lines
        # the histogram holds every successful replicate
        assert _hist_counts(ax) == boot.distribution[stat].notna().sum()
    assert boot.distribution["ind"].min() > 0 and "zero" not in _lines(panels["ind"])
    # a parameter whose draws straddle zero gets zero marked
    pd_boot = real_bootstrap("pd")
    assert pd_boot.distribution["y4~~y8"].min() < 0 < pd_boot.distribution["y4~~y8"].max()
    (ax,) = [a for a in plot_bootstrap(pd_boot, stats=["y4~~y8"]).axes if a.get_gid()]
    assert _lines(ax)["zero"] == 0.0
    assert "CFI = " in panels["cfi"].get_title() and "draws" in panels["cfi"].get_title()
    assert "[" in panels["ind"].get_title()          # a parameter's interval is a CI


def test_a_naive_bootstrap_range_that_excludes_the_sample_value_is_not_called_a_ci(boot):
    """On the bundled survey the naive draws of CFI, TLI, RMSEA and SRMR all exclude the
    sample value (Bollen & Stine's shift): the figure must say so and never say 'CI'."""
    ci = boot.ci(stats=list(("cfi", "tli", "rmsea", "srmr")))
    excluded = [s for s in ci.index if not ci.loc[s, "lower"] <= boot.estimate[s] <= ci.loc[s, "upper"]]
    assert excluded                                   # the case this test is about
    fig = plot_bootstrap(boot)
    legend = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert "middle 95% of the draws" in legend and not any("CI" in t for t in legend)
    note = [t for t in fig.findobj(lambda a: getattr(a, "get_gid", lambda: None)() == "shift_note")]
    assert len(note) == 1
    text = note[0].get_text().replace("\n", " ")
    assert "Not confidence intervals" in text and "Bollen & Stine" in text and "bollen-stine" in text
    titles = {a.get_gid()[10:]: a.get_title() for a in fig.axes if a.get_gid()}
    for stat in excluded:
        assert {"cfi": "CFI", "tli": "TLI", "rmsea": "RMSEA", "srmr": "SRMR"}[stat] in text
        assert "excl. sample" in titles[stat] and "[" not in titles[stat]
    # parameters keep their CI
    fig = plot_bootstrap(boot, stats=["ind"])
    legend = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert "95% CI" in legend and not fig.findobj(lambda a: getattr(a, "get_gid", lambda: None)() == "shift_note")


def test_defaults_and_layout(boot):
    fig = plot_bootstrap(boot)
    panels = [ax for ax in fig.axes if ax.get_gid()]
    assert [ax.get_gid() for ax in panels] == [f"bootstrap:{s}" for s in ("cfi", "tli", "rmsea", "srmr")]
    # four indices in 2 x 2 panels that fit a page
    rows = sorted({round(ax.get_position().y0, 3) for ax in panels})
    cols = sorted({round(ax.get_position().x0, 3) for ax in panels})
    assert len(rows) == 2 and len(cols) == 2 and fig.get_size_inches()[0] <= 7.0
    fig = plot_bootstrap(boot, stats="rmsea", cutoffs=False, style="bw")
    (ax,) = [a for a in fig.axes if a.get_gid()]
    assert "cutoff" not in _lines(ax)
    fig = plot_bootstrap(boot, stats=["cfi", "tli", "rmsea", "srmr", "nfi"], ncols=2)
    visible = [a for a in fig.axes if a.get_gid()]
    assert len(visible) == 5 and len(fig.axes) >= 6        # 3 x 2 grid, one empty


def test_draws_on_a_given_figure(boot):
    fig = plt.figure(figsize=(4, 3))
    assert plot_bootstrap(boot, stats=["srmr"], fig=fig) is fig


def test_bad_arguments(boot):
    with pytest.raises(lcsem.ArgumentError, match="stats: \\['cfx'\\]"):
        plot_bootstrap(boot, stats=["cfx"])
    with pytest.raises(lcsem.ArgumentError, match="boot"):
        plot_bootstrap(fitted("lc"))
    with pytest.raises(lcsem.ArgumentError, match="level"):
        plot_bootstrap(boot, level=95)
    with pytest.raises(lcsem.ArgumentError, match="stats"):
        plot_bootstrap(boot, stats=[])
    for bins in (0, "many", 2.5, True):
        with pytest.raises(lcsem.ArgumentError, match="bins"):
            plot_bootstrap(boot, bins=bins)


@pytest.mark.parametrize("name", ["pd", "hs"])
def test_residual_heatmap_shows_the_residual_correlations_with_names(name):
    res = fitted(name)
    ax = plot_residuals(res, triangle="full")
    expected = res.residuals("cor")
    (image,) = [im for im in ax.images if im.get_gid() == "residuals"]
    np.testing.assert_allclose(np.ma.filled(image.get_array(), np.nan), expected.to_numpy())
    names = list(expected.index)
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    assert [t.get_text() for t in ax.get_yticklabels()] == names
    lo, hi = image.get_clim()
    assert lo == -hi and hi >= np.abs(expected.to_numpy()).max() - 1e-12
    cells = {t.get_gid(): t.get_text() for t in ax.texts if (t.get_gid() or "").startswith("cell:")}
    assert len(cells) == len(names) ** 2
    i, j = 3, 0
    v = expected.iloc[i, j]
    text = f"{abs(v):.2f}".lstrip("0")
    assert cells[f"cell:{names[i]}|{names[j]}"] == ("−" if v < 0 and float(text) else "") + text


def test_residual_heatmap_lower_triangle_bw_and_raw():
    res = fitted("pd")
    ax = plot_residuals(res, style="bw")
    image = ax.images[0]
    data = np.ma.filled(image.get_array(), np.nan)
    assert np.isnan(data[np.triu_indices(len(data), 1)]).all()
    np.testing.assert_allclose(data[np.tril_indices(len(data))], np.abs(res.residuals("cor").to_numpy())[np.tril_indices(len(data))])
    ax = plot_residuals(res, kind="raw", annotate=False, colorbar=False)
    np.testing.assert_allclose(np.ma.filled(ax.images[0].get_array(), np.nan)[np.tril_indices(11)],
                               res.residuals("raw").to_numpy()[np.tril_indices(11)])
    assert not [t for t in ax.texts if (t.get_gid() or "").startswith("cell:")]
    with pytest.raises(lcsem.ArgumentError, match="kind"):
        plot_residuals(res, kind="std")
    fig, given = plt.subplots()
    assert plot_residuals(res, ax=given) is given


def test_residual_heatmap_marks_large_residuals_separates_constructs_and_fits_text_to_cells():
    res = fitted("pd")
    ax = plot_residuals(res, triangle="full")
    values = res.residuals("cor").to_numpy()
    big = np.abs(values) > 0.10
    np.fill_diagonal(big, False)
    assert big.any()                                  # PD has residuals above .10
    (outline,) = [c for c in ax.collections if c.get_gid() == "large"]
    assert len(outline.get_paths()) == int(big.sum())
    names = list(res.residuals("cor").index)
    cells = {t.get_gid(): t for t in ax.texts if (t.get_gid() or "").startswith("cell:")}
    i, j = map(int, np.argwhere(big)[0])
    assert cells[f"cell:{names[i]}|{names[j]}"].get_fontweight() == "bold"
    # construct blocks: x1-x3 | y1-y4 | y5-y8 -> two separators each way
    (blocks,) = [c for c in ax.collections if c.get_gid() == "blocks"]
    assert len(blocks.get_segments()) == 4
    # cell text no larger than the cell
    ax.figure.canvas.draw()
    renderer = ax.figure.canvas.get_renderer()
    cell_px = abs(ax.transData.transform((1, 0))[0] - ax.transData.transform((0, 0))[0])
    assert max(t.get_window_extent(renderer).width for t in cells.values()) <= cell_px
    assert not [c for c in plot_residuals(res, threshold=None).collections if c.get_gid() == "large"]


def test_residual_heatmap_of_48_variables_turns_cell_text_off_or_draws_it_as_one_artist():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent.parent / "docs"))
    import make_gallery

    res = make_gallery.fitted("eight_by_six")
    ax = plot_residuals(res)                          # 1,176 cells: too small for text
    assert not [t for t in ax.texts if (t.get_gid() or "").startswith("cell:")]
    assert not [c for c in ax.collections if c.get_gid() == "cells"]
    ax = plot_residuals(res, annotate=True)           # asked for: one collection of outlines
    (cells,) = [c for c in ax.collections if c.get_gid() == "cells"]
    assert len(cells.get_paths()) == 48 * 49 // 2
    assert ax.figure.get_size_inches()[0] <= 8.0


def test_residual_heatmap_bad_arguments_name_the_argument():
    res = fitted("pd")
    for kwargs, word in [({"cmap": "nope"}, "cmap"), ({"vmax": -1}, "vmax"), ({"digits": 9}, "digits"),
                         ({"threshold": 2}, "threshold"), ({"triangle": "upper"}, "triangle")]:
        with pytest.raises(lcsem.ArgumentError, match=word):
            plot_residuals(res, **kwargs)
