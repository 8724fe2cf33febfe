"""Draw the path-diagram gallery of the documentation: every model shape at 7 in and 3.5 in.

Run from the repository root::

    python docs/make_gallery.py            # writes docs/images/gallery_*.png
    python docs/make_gallery.py --dpi 200 --out /tmp/gallery

The tests import this module (``tests/test_plot_gallery.py``) and measure every figure
it draws, so the gallery is also the set of models on which legibility is checked.
Models are fitted with lcsem's own ML engine (``use_semopy=False``) for speed; data are
the bundled learning-culture survey, Holzinger–Swineford and Political Democracy, and
seeded simulations for the shapes no bundled data set has.
"""

from __future__ import annotations

import argparse
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import lcsem

WIDTHS = (7.0, 3.5)
OUT = Path(__file__).parent / "images"

HS_MODEL = """
visual  =~ x1 + x2 + x3
textual =~ x4 + x5 + x6
speed   =~ x7 + x8 + x9
"""

PD_MODEL = """
ind60 =~ x1 + x2 + x3
dem60 =~ y1 + y2 + y3 + y4
dem65 =~ y5 + y6 + y7 + y8
dem60 ~ ind60
dem65 ~ ind60 + dem60
y1 ~~ y5
y2 ~~ y4 + y6
y3 ~~ y7
y4 ~~ y8
y6 ~~ y8
"""

# culture as a second-order factor of three DLOQ dimensions (bundled survey items)
SECOND_ORDER_MODEL = """
individual   =~ lc_continuous + lc_inquiry
team         =~ lc_team + lc_embedded
organisation =~ lc_empower + lc_connect + lc_leader
culture =~ individual + team + organisation
kmsuse =~ kms_frequency + kms_breadth + kms_reliance + kms_contribution
perf =~ op_roi + op_productivity + op_innovation + op_ideas + op_responsiveness
kmsuse ~ culture
perf ~ kmsuse + culture
"""

# MIMIC: observed causes (controls) of a construct
MIMIC_MODEL = """
kmsuse =~ k1 + k2 + k3 + k4
perf =~ p1 + p2 + p3
kmsuse ~ size + tenure + public
perf ~ kmsuse + size
"""

EIGHT_BY_SIX_MODEL = "\n".join(f"f{k} =~ " + " + ".join(f"f{k}_x{j}" for j in range(1, 7))
                               for k in range(1, 9))

LONG_NAMES_MODEL = """
organisational_learning_culture =~ continuous_learning_opportunities + dialogue_and_inquiry + team_learning_collaboration
knowledge_management_system_use =~ frequency_of_system_use + breadth_of_system_use + reliance_on_system
organisational_performance =~ return_on_investment + employee_productivity + innovation_rate
knowledge_management_system_use ~ organisational_learning_culture
organisational_performance ~ knowledge_management_system_use + organisational_learning_culture
"""


@dataclass(frozen=True)
class Entry:
    """One gallery model: its fitted result and the options of its diagram."""

    name: str
    title: str
    options: dict[str, Any] = field(default_factory=dict)


ENTRIES = (
    Entry("canonical", "Learning culture → KMS use → performance (bundled survey)"),
    Entry("extended", "Extended learning-culture model (six constructs)", {"r2": "constructs"}),
    Entry("hs", "Holzinger–Swineford three-factor CFA"),
    Entry("pd_residuals", "Political Democracy with residual variances", {"residuals": True}),
    Entry("pd_ci", "Political Democracy with bootstrap CIs", {"show": "ci"}),
    Entry("second_order", "Culture as a second-order factor of three DLOQ dimensions"),
    Entry("mimic", "MIMIC: observed causes of a construct"),
    Entry("eight_by_six", "Eight factors with six indicators each", {"r2": "constructs"}),
    Entry("long_names", "Long variable names"),
)


# multi-group diagrams: lcsem.plot_groups, one panel per group (measured in
# tests/test_groups_analyses.py)
GROUP_ENTRIES = (
    Entry("sector_groups", "Learning-culture model by sector (bundled survey), structural part",
          {"structural_only": True}),
    Entry("sector_groups_full", "Learning-culture model by sector (bundled survey), with indicators"),
    Entry("hs_groups", "Holzinger–Swineford by school, loadings equal across schools"),
)


def _simulated(model_text: str, seed: int, loading: float = 0.7, path: float = 0.3):
    model = lcsem.Model.from_syntax(model_text)
    population = {f"{r.lhs} {r.op} {r.rhs}": (loading if r.op == "=~" else path)
                  for r in model.rows if r.op in ("=~", "~")}
    return model, lcsem.simulate(model, 400, population, seed=seed)


@lru_cache(maxsize=None)
def fitted(name: str):
    """The fitted result of gallery model ``name`` (cached)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name == "canonical":
            return lcsem.fit(lcsem.lc_model(), lcsem.datasets.load_lc_survey(), use_semopy=False)
        if name == "extended":
            model = lcsem.lc_extended_model()
            return lcsem.fit(model, lcsem.simulate(model, 400, seed=11), use_semopy=False)
        if name == "hs":
            return lcsem.fit(HS_MODEL, lcsem.datasets.load_holzinger_swineford(), use_semopy=False)
        if name in ("pd_residuals", "pd_ci"):
            return lcsem.fit(PD_MODEL, lcsem.datasets.load_political_democracy(), use_semopy=False)
        if name == "second_order":
            return lcsem.fit(SECOND_ORDER_MODEL, lcsem.datasets.load_lc_survey(), use_semopy=False)
        texts = {"mimic": (MIMIC_MODEL, 4), "eight_by_six": (EIGHT_BY_SIX_MODEL, 3),
                 "long_names": (LONG_NAMES_MODEL, 5)}
        model, data = _simulated(*texts[name])
        return lcsem.fit(model, data, use_semopy=False)


@lru_cache(maxsize=None)
def fitted_groups(name: str):
    """The fitted multi-group result of group gallery model ``name`` (cached)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name in ("sector_groups", "sector_groups_full"):
            return lcsem.fit(lcsem.lc_model(), lcsem.datasets.load_lc_survey(), group="sector", use_semopy=False)
        if name == "hs_groups":
            return lcsem.fit(HS_MODEL, lcsem.datasets.load_holzinger_swineford(), group="school",
                             group_equal=["loadings"], use_semopy=False)
    raise KeyError(name)


def draw_groups(entry: Entry, width: float) -> Any:
    """Draw group gallery ``entry`` at ``width`` inches; returns the Figure."""
    return lcsem.plot_groups(fitted_groups(entry.name), width=width, **entry.options)


@lru_cache(maxsize=None)
def bootstrapped(name: str):
    """A small seeded bootstrap of gallery model ``name`` (for the CI labels)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lcsem.bootstrap(fitted(name), 200, seed=7, n_jobs=1, progress=False)


def bollen_stine(res):
    """A seeded Bollen–Stine bootstrap (reference distributions of the fit indices)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lcsem.bootstrap(res, 1000, kind="bollen-stine", seed=43, n_jobs=1, progress=False)


def image_name(name: str, width: float) -> str:
    """File name of a gallery image, e.g. ``gallery_hs_7in.png``."""
    return f"gallery_{name}_{width:g}in.png"


def draw(entry: Entry, width: float) -> Any:
    """Draw ``entry`` at ``width`` inches; returns the Axes."""
    options = dict(entry.options)
    if options.get("show") == "ci":
        options["boot"] = bootstrapped(entry.name)
    return lcsem.plot_path(fitted(entry.name), width=width, **options)


def guide_images(out: Path, dpi: int) -> None:
    """The figures of the user guide's plotting section."""
    import matplotlib.pyplot as plt

    canonical = fitted("canonical")
    pd_fit = fitted("pd_residuals")
    boot = bootstrapped("canonical")
    figures = {
        "path_lc.png": lcsem.plot_path(canonical).figure,
        "path_pd_bw.png": lcsem.plot_path(pd_fit, style="bw", residuals=True).figure,
        "bootstrap_fit.png": lcsem.plot_bootstrap(boot),
        "bootstrap_reference.png": lcsem.plot_bootstrap(bollen_stine(canonical)),
        "residuals_pd.png": lcsem.plot_residuals(pd_fit).figure,
    }
    for name, fig in figures.items():
        fig.savefig(out / name, dpi=dpi)
        plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the PNG files")
    parser.add_argument("--dpi", type=int, default=150)
    parser.add_argument("--only", default="", help="comma-separated model names (default: all)")
    parser.add_argument("--guide", action="store_true",
                        help="also write the user guide's figures into docs/images")
    args = parser.parse_args(argv)
    only = {n for n in args.only.split(",") if n}

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    args.out.mkdir(parents=True, exist_ok=True)
    for entry in ENTRIES:
        if only and entry.name not in only:
            continue
        for width in WIDTHS:
            ax = draw(entry, width)
            ax.figure.savefig(args.out / image_name(entry.name, width), dpi=args.dpi)
            plt.close(ax.figure)
    for entry in GROUP_ENTRIES:
        if only and entry.name not in only:
            continue
        for width in WIDTHS:
            fig = draw_groups(entry, width)
            fig.savefig(args.out / image_name(entry.name, width), dpi=args.dpi)
            plt.close(fig)
    if args.guide:
        guide_images(Path(__file__).parent / "images", args.dpi)


if __name__ == "__main__":
    main()
