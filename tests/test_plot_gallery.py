"""The documentation's gallery, measured as a reviewer would read it in print.

Every gallery model is drawn by ``docs/make_gallery.py`` at 7 in (a page) and 3.5 in (a
column) and measured on the drawn artists (``plot_geometry``): no text on text or on a
node; no label on a foreign arrow or arrowhead; every edge label beside its own arrow;
no variance loop on its node's arrows; arc–arc and arrow–arrow crossings at most the
numbers stated below; every element inside the figure; and the smallest text at least
6 pt at 7 in — or, where a model cannot reach 6 pt, a ``PlotLegibilityWarning`` that
names the options that help, never silently tiny text.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

import lcsem  # noqa: E402
from lcsem.exceptions import PlotLegibilityWarning  # noqa: E402

import plot_geometry as pg  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent.parent / "docs"))
import make_gallery as gallery  # noqa: E402

# Crossings allowed per model, at either width. Political
# Democracy's residual covariances y1–y5, y2–y4, y2–y6, y3–y7, y4–y8, y6–y8 interleave
# along the indicator stack, so some of its arcs must cross; eight correlated factors
# in one column: their 28 covariances are split over both sides of the column (70
# interleaving pairs on one side), leaving 34 crossings. MIMIC: the
# direct path size -> perf passes the two other covariates' paths into kmsuse. Extended:
# printed at 7 pt only when folded into two columns (direction="fold"), where
# culture -> perf bends round kmsuse across the paths into kmsuse (2) and the
# mgmt_comp–emp_ability covariance crosses learning_proc's two paths (4).
CROSSINGS = {   # (arc–arc, arrow–arrow, arc–arrow)
    "canonical": (0, 0, 0), "extended": (0, 2, 4), "hs": (0, 0, 0), "pd_residuals": (8, 0, 0),
    "pd_ci": (8, 0, 0), "second_order": (0, 0, 0), "mimic": (0, 2, 0), "eight_by_six": (40, 0, 10),
    "long_names": (0, 0, 0),
}
# Labels that may still touch a foreign arc (known limit: every place along their own
# arc is taken): Political Democracy with two-line CI labels, and the 28 covariances of
# eight factors stacked in one column.
LABELS_ON_ARCS = {"pd_ci": 2, "eight_by_six": 8}
# Models that cannot print at 6 pt on a 7-inch page with every indicator shown: they
# must warn (the remedies are tested below).
# (The extended model reaches 7.0 pt folded into two columns.)
TOO_BIG_AT_PAGE_WIDTH = {"eight_by_six"}

CASES = [(e, w) for e in gallery.ENTRIES for w in gallery.WIDTHS]


def _case_id(case) -> str:
    entry, width = case
    return f"{entry.name}@{width:g}in"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _draw(entry, width):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ax = gallery.draw(entry, width)
    legibility = [w for w in caught if issubclass(w.category, PlotLegibilityWarning)]
    return ax, pg.measure(ax), legibility


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_gallery_figure_is_legible_untangled_and_inside_the_figure(case):
    entry, width = case
    ax, d, legibility = _draw(entry, width)
    where = f"{entry.name} at {width:g} in"
    fig_w, _ = ax.figure.get_size_inches()
    assert fig_w <= width + 1e-6, f"{where}: figure {fig_w:.2f} in wide"
    assert not (bad := pg.text_collisions(d)), f"{where}: {len(bad)} text collisions: {bad[:5]}"
    bad = pg.labels_on_arrows(d)
    allowed = LABELS_ON_ARCS.get(entry.name, 0)
    assert len(bad) <= allowed, f"{where}: {len(bad)} labels on arrows (at most {allowed}): {bad[:5]}"
    assert not [b for b in bad if "arrowhead" in b or "edge:" in b and "~~" not in b.split("edge:")[1]], bad
    assert not (bad := pg.detached_labels(d)), f"{where}: {len(bad)} labels away from their arrow: {bad[:5]}"
    assert not (bad := pg.loops_on_own_arrows(d)), f"{where}: {bad[:5]}"
    assert not (bad := pg.outside_figure(d)), f"{where}: outside the figure: {bad[:5]}"
    arcs, arrows, mixed = (pg.crossings(d, k) for k in ("covariance", "directed", "mixed"))
    max_arcs, max_arrows, max_mixed = CROSSINGS[entry.name]
    assert arcs <= max_arcs, f"{where}: {arcs} arc–arc crossings (at most {max_arcs})"
    assert arrows <= max_arrows, f"{where}: {arrows} arrow–arrow crossings (at most {max_arrows})"
    assert mixed <= max_mixed, f"{where}: {mixed} arcs across arrows (at most {max_mixed})"
    smallest = min(d.fontsizes.values())
    if width >= 7.0 and entry.name not in TOO_BIG_AT_PAGE_WIDTH:
        assert smallest >= 6.0, f"{where}: smallest text {smallest:.1f} pt (< 6 pt)"
    if smallest < 6.0:
        assert legibility, f"{where}: text at {smallest:.1f} pt without a PlotLegibilityWarning"
        message = str(legibility[0].message)
        assert f"{smallest:.1f} pt" in message and "structural_only=True" in message, message
    else:
        assert not legibility, f"{where}: warned although the smallest text is {smallest:.1f} pt"


@pytest.mark.parametrize("name", sorted(TOO_BIG_AT_PAGE_WIDTH))
def test_the_remedy_the_warning_names_makes_a_large_model_legible(name):
    """structural_only=True, named by the warning, brings the model to ≥ 6 pt at 7 in."""
    ax = lcsem.plot_path(gallery.fitted(name), width=7.0, structural_only=True)
    smallest = min(t.get_fontsize() for t in ax.texts if t.get_text().strip())
    assert smallest >= 6.0, f"{name} structural only at 7 in: {smallest:.1f} pt"


def test_the_extended_model_prints_at_6_pt_on_a_page_by_folding_its_chain():
    """Before the fold the extended model printed at 4.8 pt at 7 in (with a warning)."""
    ax, d, legibility = _draw(next(e for e in gallery.ENTRIES if e.name == "extended"), 7.0)
    smallest = min(d.fontsizes.values())
    assert smallest >= 6.0 and not legibility, f"extended at 7 in: {smallest:.1f} pt"
    columns = {round(n.x, 1) for n in ax.lcsem_layout.nodes.values() if n.role == "construct"}
    assert len(columns) == 2, f"extended at 7 in: constructs in {len(columns)} columns (folded: 2)"


def test_a_too_small_axes_warns_instead_of_printing_tiny_text():
    fig, ax = plt.subplots(figsize=(3.5, 2.5))
    with pytest.warns(PlotLegibilityWarning, match=r"pt, below the 6 pt.*structural_only=True"):
        lcsem.plot_path(gallery.fitted("canonical"), ax=ax)


def test_the_gallery_script_writes_every_image(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PlotLegibilityWarning)
        gallery.main(["--out", str(tmp_path), "--dpi", "40", "--only", "hs,mimic"])
    written = sorted(p.name for p in tmp_path.glob("*.png"))
    assert written == sorted(gallery.image_name(n, w) for n in ("hs", "mimic") for w in gallery.WIDTHS)


@pytest.mark.parametrize("residuals", ["loops", "circles"])
@pytest.mark.parametrize("name", ["three_mediators", "item_covariances", "covariates"])
def test_other_shapes_with_variances_drawn_have_no_collisions(name, residuals):
    from test_plot_support import fitted_extra

    ax = lcsem.plot_path(fitted_extra(name), direction="LR", residuals=residuals)
    d = pg.measure(ax)
    where = f"{name} with {residuals}"
    assert not (bad := pg.text_collisions(d)), f"{where}: {bad[:5]}"
    assert not (bad := pg.labels_on_arrows(d)), f"{where}: {bad[:5]}"
    assert not (bad := pg.loops_on_own_arrows(d)), f"{where}: {bad[:5]}"
    assert not (bad := pg.outside_figure(d)), f"{where}: {bad[:5]}"
