"""Path diagrams: what is drawn (arrows, labels, R², stars, CIs, caption) and that
nothing overlaps, measured with the renderer's bounding boxes."""

from __future__ import annotations

import io
import re
import warnings
from itertools import combinations
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402

import lcsem  # noqa: E402
from lcsem.plot import plot_path  # noqa: E402
from lcsem.results.fit_result import parameter_name  # noqa: E402

from test_plot_support import (EXTRA_MODELS, MODEL_NAMES, StandInBootstrap, fitted,  # noqa: E402
                               fitted_extra, real_bootstrap)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def by_gid(ax) -> dict[str, object]:
    out = {}
    for artist in list(ax.patches) + list(ax.texts):
        gid = artist.get_gid()
        if gid:
            assert gid not in out, f"two artists with id {gid}"
            out[gid] = artist
    return out


def drawn_parameters(res, structural_only=False) -> set[str]:
    model = res.model
    structural = set(model.latent) | (set(model.observed) - set(model.roles.indicators))
    names = set()
    for l, o, r in zip(res.estimates["lhs"], res.estimates["op"], res.estimates["rhs"]):
        if o in ("=~", "~") or (o == "~~" and l != r):
            if structural_only and not (l in structural and r in structural):
                continue
            names.add(parameter_name(l, o, r))
    return names


def expected_label(value: float, p: float, digits=2, leading_zero=False, fixed=False) -> str:
    text = f"{abs(value):.{digits}f}"
    if not leading_zero:
        text = text.lstrip("0") if text.startswith("0.") else text
    text = ("−" if value < 0 and float(text) != 0 else "") + text
    if np.isfinite(p):
        text += "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else ""
    return text + ("†" if fixed else "")


def fixed_parameters(res) -> set[str]:
    return {parameter_name(r.lhs, r.op, r.rhs) for r in res.model.rows if r.op in ("=~", "~", "~~") and not r.free}


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_parameter_has_one_arrow_and_a_label(name):
    res = fitted(name)
    ax = plot_path(res)
    items = by_gid(ax)
    arrows = {g[5:] for g in items if g.startswith("edge:")}
    labels = {g[10:] for g in items if g.startswith("edgelabel:")}
    assert arrows == drawn_parameters(res)
    assert labels == arrows
    est = res.estimates
    fixed = fixed_parameters(res)
    for l, o, r, std, p in zip(est["lhs"], est["op"], est["rhs"], est["std_all"], est["pvalue"]):
        pname = parameter_name(l, o, r)
        if pname in labels:
            text = items[f"edgelabel:{pname}"].get_text()
            assert text == expected_label(std, p, fixed=pname in fixed), pname
            arrow = items[f"edge:{pname}"]
            two_headed = o == "~~"
            assert ("<|-|>" if two_headed else "-|>") in repr(arrow.get_arrowstyle()) or \
                type(arrow.get_arrowstyle()).__name__ == ("CurveFilledAB" if two_headed else "CurveFilledB")
    # fixed parameters are marked and the mark is explained under the diagram
    assert ("† fixed parameter" in items["caption"].get_text()) == bool(fixed & labels)
    plain = by_gid(plot_path(res, mark_fixed=False))
    assert not any("†" in a.get_text() for g, a in plain.items() if g.startswith(("edgelabel", "caption")))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_node_is_drawn_and_labelled_and_endogenous_variables_show_r2(name):
    res = fitted(name)
    ax = plot_path(res)
    items = by_gid(ax)
    model = res.model
    for v in set(model.latent) | set(model.observed):
        patch = items[f"node:{v}"]
        assert type(patch).__name__ == ("Ellipse" if v in model.latent else "FancyBboxPatch")
        assert items[f"nodelabel:{v}"].get_text().replace("\n", "") == v
    r2_texts = {g[3:]: a.get_text() for g, a in items.items() if g.startswith("r2:")}
    assert set(r2_texts) == set(model.roles.endogenous)
    for v, text in r2_texts.items():
        assert text == f"R² = {res.r2[v]:.2f}".replace("0.", ".", 1)


def _boxes(ax, renderer):
    texts = {t.get_gid(): t.get_window_extent(renderer) for t in ax.texts if t.get_gid() and t.get_text().strip()}
    nodes = {p.get_gid(): p.get_window_extent(renderer) for p in ax.patches
             if (p.get_gid() or "").startswith("node:")}
    return texts, nodes


def _overlap(a, b, tol=0.5) -> bool:
    return a.x0 < b.x1 - tol and b.x0 < a.x1 - tol and a.y0 < b.y1 - tol and b.y0 < a.y1 - tol


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("options", [{}, {"style": "bw", "leading_zero": False}, {"structural_only": True},
                                     {"show": "ci"}, {"residuals": True}])
def test_no_two_texts_or_nodes_overlap(name, options):
    res = fitted(name)
    if options.get("show") == "ci":
        options = {**options, "boot": real_bootstrap(name)}
    ax = plot_path(res, **options)
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts, nodes = _boxes(ax, renderer)
    assert texts and nodes
    for (ga, a), (gb, b) in combinations(texts.items(), 2):
        assert not _overlap(a, b), (ga, gb)
    for (ga, a), (gb, b) in combinations(nodes.items(), 2):
        assert not _overlap(a, b), (ga, gb)
    for gt, t in texts.items():
        kind, _, owner = gt.partition(":")
        for gn, n in nodes.items():
            if kind in ("nodelabel", "r2") and gn == f"node:{owner}":
                # a node's own texts lie inside it
                assert n.x0 <= t.x0 and t.x1 <= n.x1 and n.y0 <= t.y0 and t.y1 <= n.y1, gt
            else:
                assert not _overlap(t, n), (gt, gn)
    # everything lies inside the figure
    fb = fig.bbox
    for g, b in list(texts.items()) + list(nodes.items()):
        assert fb.x0 - 1 <= b.x0 and b.x1 <= fb.x1 + 1 and fb.y0 - 1 <= b.y0 and b.y1 <= fb.y1 + 1, g


@pytest.mark.parametrize("name", list(EXTRA_MODELS))
@pytest.mark.parametrize("options", [{}, {"residuals": True}])
def test_other_model_shapes_draw_every_parameter_without_overlaps(name, options):
    res = fitted_extra(name)
    ax = plot_path(res, **options)
    items = by_gid(ax)
    assert {g[5:] for g in items if g.startswith("edge:")} == drawn_parameters(res)
    ax.figure.canvas.draw()
    texts, nodes = _boxes(ax, ax.figure.canvas.get_renderer())
    everything = list(texts.items()) + list(nodes.items())
    for (ga, a), (gb, b) in combinations(everything, 2):
        own = ga.partition(":")[2] == gb.partition(":")[2] and {ga.partition(":")[0], gb.partition(":")[0]} & {"nodelabel", "r2"}
        assert own or not _overlap(a, b), (ga, gb)


@pytest.mark.parametrize("name", ["lc", "hs", "pd"])
def test_caption_reports_chisq_cfi_tli_rmsea_ci_and_srmr(name):
    res = fitted(name)
    fi = res.fit_indices
    caption = by_gid(plot_path(res))["caption"].get_text().replace("\n", " ")
    f3 = lambda v: f"{v:.3f}".replace("0.", ".", 1) if f"{v:.3f}".startswith("0.") else f"{v:.3f}"  # noqa: E731
    assert f"χ²({int(fi['df'])}) = {fi['chisq']:.2f}" in caption
    assert f"CFI = {f3(fi['cfi'])}" in caption
    assert f"TLI = {fi['tli']:.3f}" in caption          # APA: TLI can exceed 1, so it keeps its zero
    assert f"RMSEA = {f3(fi['rmsea'])} [{f3(fi['rmsea_ci_lower'])}, {f3(fi['rmsea_ci_upper'])}]" in caption
    assert f"SRMR = {f3(fi['srmr'])}" in caption
    p = fi["pvalue"]
    assert ("p < .001" if p < 0.001 else f"p = {p:.3f}".replace("0.", ".", 1)) in caption
    assert "caption" not in by_gid(plot_path(res, caption=False))


def test_caption_reports_defined_parameters():
    res = fitted("lc")
    est = res.estimates.set_index("lhs")
    ind, total = est.loc["ind"], est.loc["total"]
    caption = by_gid(plot_path(res))["caption"].get_text()
    assert [line for line in caption.split("\n") if line.startswith("ind")][0] == (f"ind = {expected_label(ind['std_all'], ind['pvalue'])}; "
                                       f"total = {expected_label(total['std_all'], total['pvalue'])}")
    assert "ind =" not in by_gid(plot_path(res, defined=False))["caption"].get_text()
    boot = real_bootstrap("lc")
    lo, hi = boot.ci(stats=["std:ind"]).loc["std:ind", ["lower", "upper"]]
    caption = by_gid(plot_path(res, boot=boot, show="ci"))["caption"].get_text()
    assert f"ind = {_fmt(ind['std_all'])} [{_fmt(lo)}, {_fmt(hi)}]" in caption


def test_caption_of_a_saturated_model():
    res = fitted("one_path")
    caption = by_gid(plot_path(res))["caption"].get_text()
    assert caption.startswith("saturated model, χ²(0) = 0.00")
    assert "nan" not in caption.lower() and "CFI" not in caption and "SRMR = " in caption


def test_unstandardised_estimates_and_apa_numbers():
    res = fitted("pd")
    items = by_gid(plot_path(res, what="est", leading_zero=False))
    row = res.estimates.query("lhs == 'dem60' and op == '~' and rhs == 'ind60'").iloc[0]
    assert items["edgelabel:dem60~ind60"].get_text() == expected_label(row["est"], row["pvalue"])
    row = res.estimates.query("lhs == 'dem60' and op == '=~' and rhs == 'y2'").iloc[0]
    assert items["edgelabel:dem60=~y2"].get_text() == expected_label(row["est"], row["pvalue"])
    std_items = by_gid(plot_path(res, leading_zero=False))
    for gid, artist in std_items.items():
        if gid.startswith(("edgelabel:", "r2:")):
            assert not re.search(r"(?<![\d.])0\.\d", artist.get_text()), artist.get_text()
    assert std_items["r2:dem65"].get_text() == f"R² = {res.r2['dem65']:.2f}".replace("0.", ".", 1)


def test_bootstrap_confidence_intervals_in_labels_and_nonsignificance_from_them():
    res = fitted("pd")
    boot = real_bootstrap("pd")
    ax = plot_path(res, boot=boot, show="ci", level=0.90)
    items = by_gid(ax)
    ci = boot.ci(level=0.90, stats=[f"std:{n}" for n in drawn_parameters(res)])
    n_dashed = n_solid = 0
    for pname in drawn_parameters(res):
        lo, hi = ci.loc[f"std:{pname}", ["lower", "upper"]]
        text = items[f"edgelabel:{pname}"].get_text()
        value, interval = text.split("\n")
        assert interval == f"[{_fmt(lo)}, {_fmt(hi)}]", pname
        assert "*" not in text
        colour = to_rgba(items[f"edge:{pname}"].get_edgecolor())
        grey = to_rgba("#a5a5a5")
        if lo <= 0 <= hi:
            assert np.allclose(colour, grey), pname
            n_dashed += 1
        else:
            assert not np.allclose(colour, grey), pname
            n_solid += 1
    assert n_dashed and n_solid
    # unstandardised intervals come from the raw columns
    items = by_gid(plot_path(res, boot=boot, show="ci", what="est"))
    lo, hi = boot.ci(stats=["dem60~ind60"]).loc["dem60~ind60", ["lower", "upper"]]
    assert items["edgelabel:dem60~ind60"].get_text().endswith(f"[{_fmt(lo, leading_zero=True)}, "
                                                              f"{_fmt(hi, leading_zero=True)}]")


def _fmt(v, digits=2, leading_zero=False):
    text = f"{abs(v):.{digits}f}"
    if not leading_zero and text.startswith("0."):
        text = text[1:]
    return ("−" if v < 0 and float(text) != 0 else "") + text


def test_non_significant_parameters_grey_dashed_or_hidden():
    res = fitted("pd")
    est = res.estimates
    nonsig = {parameter_name(l, o, r) for l, o, r, p in zip(est["lhs"], est["op"], est["rhs"], est["pvalue"])
              if np.isfinite(p) and p >= 0.05} & drawn_parameters(res)
    assert "y1~~y5" in nonsig and "dem60~ind60" not in nonsig
    items = by_gid(plot_path(res, style="bw"))          # auto: dashed in black and white
    for pname in drawn_parameters(res):
        dashes = items[f"edge:{pname}"].get_linestyle()
        assert (dashes != "solid" and dashes != "-") == (pname in nonsig), pname
    items = by_gid(plot_path(res, nonsig="hide"))
    assert {g[5:] for g in items if g.startswith("edge:")} == drawn_parameters(res) - nonsig
    items = by_gid(plot_path(res, nonsig="none"))
    colours = {to_rgba(items[f"edge:{p}"].get_edgecolor()) for p in nonsig}
    assert to_rgba("#a5a5a5") not in colours


def test_black_and_white_uses_no_colour():
    ax = plot_path(fitted("extended"), style="bw")
    for artist in list(ax.patches) + list(ax.texts):
        colours = [artist.get_color()] if hasattr(artist, "get_color") and not hasattr(artist, "get_facecolor") \
            else [artist.get_facecolor(), artist.get_edgecolor()]
        for c in colours:
            r, g, b, _ = to_rgba(c)
            assert r == g == b, (artist.get_gid(), c)


def test_structural_only_draws_constructs_and_paths():
    res = fitted("lc")
    items = by_gid(plot_path(res, structural_only=True))
    assert {g[5:] for g in items if g.startswith("node:")} == {"culture", "kmsuse", "perf"}
    assert {g[5:] for g in items if g.startswith("edge:")} == {"kmsuse~culture", "perf~kmsuse", "perf~culture"}


def test_residual_variances_when_asked():
    res = fitted("lc")
    items = by_gid(plot_path(res, residuals=True))
    loops = {g[9:] for g in items if g.startswith("variance:")}
    est = res.estimates
    assert loops == {l for l, o, r in zip(est["lhs"], est["op"], est["rhs"]) if o == "~~" and l == r}
    row = est.query("lhs == 'kmsuse' and op == '~~' and rhs == 'kmsuse'").iloc[0]
    assert items["variancelabel:kmsuse"].get_text() == f"{row['std_all']:.2f}".replace("0.", ".", 1)
    assert not any(g.startswith("variance:") for g in by_gid(plot_path(res)))


def test_positions_labels_and_given_axes():
    res = fitted("lc")
    fig, ax = plt.subplots(figsize=(6, 4))
    out = plot_path(res, ax=ax, positions={"kmsuse": (3.5, 2.0)},
                    labels={"culture": "Lernkultur (Ä)", "perf": "Leistung"})
    assert out is ax and ax.figure is fig
    items = by_gid(ax)
    assert items["node:kmsuse"].center == (3.5, 2.0)
    assert items["nodelabel:culture"].get_text() == "Lernkultur (Ä)"
    # fonts shrink with the axes: the diagram is scaled, not cropped
    big = by_gid(plot_path(res))
    assert items["nodelabel:perf"].get_fontsize() < big["nodelabel:perf"].get_fontsize()


def test_label_positions_put_a_label_where_asked():
    res = fitted("lc")
    ax = plot_path(res, label_positions={"perf~culture": 0.25})
    layout = ax.lcsem_layout
    expected = layout.edge("perf~culture").point(0.25)
    assert by_gid(ax)["edgelabel:perf~culture"].get_position() == pytest.approx(tuple(expected))
    with pytest.raises(lcsem.ArgumentError, match="label_positions: \\['perf~kms'\\]"):
        plot_path(res, label_positions={"perf~kms": 0.5})
    with pytest.raises(lcsem.ArgumentError, match="label_positions"):
        plot_path(res, label_positions={"perf~culture": 1.5})


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_export_and_unicode_glyphs_render(fmt):
    res = fitted("pd")
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # a missing glyph would warn
        ax = plot_path(res, labels={"ind60": "Industrialisierung ’60", "dem60": "Demokratie 1960 — α"})
        ax.figure.savefig(buf, format=fmt, dpi=200 if fmt == "png" else "figure")
    data = buf.getvalue()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" if fmt == "png" else (b"<svg" in data if fmt == "svg" else data[:4] == b"%PDF")


def test_bad_arguments_name_the_argument():
    res = fitted("one_path")
    for kwargs, word in [({"what": "raw"}, "what"), ({"show": "p"}, "show"), ({"style": "sepia"}, "style"),
                         ({"show": "ci"}, "boot=lcsem.bootstrap"), ({"digits": -1}, "digits"),
                         ({"nonsig": "faint"}, "nonsig"), ({"alpha": 5}, "alpha"), ({"boot": object()}, "boot")]:
        with pytest.raises(lcsem.ArgumentError, match=re.escape(word)):
            plot_path(res, **kwargs)
    with pytest.raises(lcsem.ArgumentError, match="result"):
        plot_path("y ~ x")
    other = StandInBootstrap(fitted("pd"))
    with pytest.raises(lcsem.ArgumentError, match="another model"):
        plot_path(res, boot=other, show="ci")


def test_library_code_never_shows_or_needs_graphviz():
    source = "\n".join(p.read_text() for p in Path(lcsem.__file__).parent.rglob("*.py"))
    assert "plt.show(" not in source and ".show()" not in source
    assert not re.search(r"^\s*(import|from)\s+\S*(graphviz|semplot)", source, re.M)
    assert "semplot(" not in source
    # with graphviz made unimportable, a diagram is still drawn
    code = ("import sys; sys.modules['graphviz'] = None\n"
            "import matplotlib; matplotlib.use('Agg')\n"
            "import lcsem, lcsem.plot\n"
            "res = lcsem.fit('y ~ x', lcsem.simulate('y ~ x', 50, {'y ~ x': 0.3}, seed=1))\n"
            "lcsem.plot.plot_path(res).figure.savefig(sys.argv[1])\n")
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "d.png"
        subprocess.run([sys.executable, "-c", code, str(out)], check=True)
        assert out.stat().st_size > 1000


def test_print_size_bad_input_names_the_argument():
    res = fitted("lc")
    for kwargs, word in [({"width": 0}, "width"), ({"width": -3.5}, "width"), ({"width": "7"}, "width"),
                         ({"direction": "RL"}, "direction"), ({"labels": {"culture2": "C"}}, "labels"),
                         ({"labels": 5}, "labels"), ({"labels": lambda n: ""}, "labels"),
                         ({"abbreviate": 1}, "abbreviate"), ({"abbreviate": 2.5}, "abbreviate"),
                         ({"r2": "all"}, "r2"), ({"residuals": "boxes"}, "residuals"), ({"fontsize": 0}, "fontsize")]:
        with pytest.raises(lcsem.ArgumentError, match=re.escape(word)):
            plot_path(res, **kwargs)


@pytest.mark.parametrize("width", [7.0, 3.5])
def test_a_new_figure_is_at_most_the_printed_width_and_text_grows_with_fontsize(width):
    res = fitted("pd")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lcsem.exceptions.PlotLegibilityWarning)
        ax = plot_path(res, width=width)
    assert ax.figure.get_size_inches()[0] <= width + 1e-9
    small_ax, large_ax = plot_path(fitted("one_path"), fontsize=8), plot_path(fitted("one_path"), fontsize=11)
    small, large = by_gid(small_ax), by_gid(large_ax)
    # a one-path model fits at any size: names print at the size asked, and boxes (so the
    # figure) grow with them
    assert small["nodelabel:x1"].get_fontsize() == pytest.approx(8.0)
    assert large["nodelabel:x1"].get_fontsize() == pytest.approx(11.0)
    ratio = large_ax.figure.get_size_inches()[0] / small_ax.figure.get_size_inches()[0]
    assert ratio == pytest.approx(11 / 8, rel=0.02)


def test_long_names_wrap_abbreviate_and_labels_can_be_a_function():
    res = fitted("lc")
    items = by_gid(plot_path(res))
    assert items["nodelabel:op_responsiveness"].get_text() == "op_\nresponsiveness"
    items = by_gid(plot_path(res, wrap=None, abbreviate=6))
    assert items["nodelabel:op_responsiveness"].get_text() == "op_res"
    assert items["nodelabel:culture"].get_text() == "cultur"
    items = by_gid(plot_path(res, labels=lambda name: name.replace("_", " ").title()))
    assert items["nodelabel:culture"].get_text() == "Culture"
    assert items["nodelabel:op_responsiveness"].get_text() == "Op\nResponsiveness"


def test_encodings_width_sign_r2_error_circles_and_apa_default():
    res = fitted("pd")
    items = by_gid(plot_path(res, edge_width=True))
    std = {parameter_name(l, o, r): s for l, o, r, s in zip(res.estimates["lhs"], res.estimates["op"],
                                                              res.estimates["rhs"], res.estimates["std_all"])}
    edges = {g[5:]: a for g, a in items.items() if g.startswith("edge:")}
    strong, weak = max(edges, key=lambda n: abs(std[n])), min(edges, key=lambda n: abs(std[n]))
    assert edges[strong].get_linewidth() > 2 * edges[weak].get_linewidth()
    # colour by sign: a model with a negative path
    neg = lcsem.fit("y ~ x1 + x2", lcsem.simulate("y ~ x1 + x2", 300, {"y ~ x1": -0.5, "y ~ x2": 0.4}, seed=3),
                    use_semopy=False)
    items = by_gid(plot_path(neg, sign_colors=True))
    assert to_rgba(items["edge:y~x1"].get_edgecolor()) == to_rgba("#b2182b")
    assert to_rgba(items["edge:y~x2"].get_edgecolor()) != to_rgba("#b2182b")
    # R² in constructs only
    items = by_gid(plot_path(res, r2="constructs"))
    assert {g[3:] for g in items if g.startswith("r2:")} == {"dem60", "dem65"}
    # AMOS-style error circles: one per endogenous variable, exogenous variances as loops
    items = by_gid(plot_path(res, residuals="circles"))
    circles = {g[6:] for g in items if g.startswith("error:")}
    assert circles == set(res.model.roles.endogenous)
    assert "variance:ind60" in items and type(items["variance:ind60"]).__name__ == "FancyArrowPatch"
    # APA by default: no leading zero on standardised values, R² and the bounded indices
    items = by_gid(plot_path(res))
    for gid, artist in items.items():
        if gid.startswith(("edgelabel:", "r2:")):
            assert not re.search(r"(?<![\d.])0\.\d", artist.get_text()), artist.get_text()
    assert "CFI = .99" in items["caption"].get_text()


@pytest.mark.parametrize("direction", ["wrap", "fold"])
def test_explicit_wrap_and_fold_layouts_are_drawn_and_named_in_the_direction_error(direction):
    ax = plot_path(fitted("lc"), direction=direction)
    assert ax.lcsem_layout.nodes["culture"].x < ax.lcsem_layout.nodes["perf"].x + 1e-9 or direction == "wrap"
    with pytest.raises(lcsem.ArgumentError, match="'wrap'.*'fold'"):
        plot_path(fitted("lc"), direction="rows")
