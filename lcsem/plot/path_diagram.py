"""Publication-quality path diagrams of fitted models, drawn with matplotlib alone."""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from ..exceptions import ArgumentError
from .layout import Edge, Layout, Node, path_layout
from .style import format_number, get_style, stars

__all__ = ["plot_path", "caption_text"]

_SHOW = ("stars", "ci", "none")
_WHAT = ("std", "est")
_NONSIG = ("auto", "grey", "dashed", "hide", "none")
_MARGIN = 0.3        # inches around the diagram
_CAPTION = 0.45      # inches reserved for the caption
_MAX_WIDTH = 13.0    # a new figure wider than this is scaled down
_LABEL_T = {
    "loading": (0.6, 0.68, 0.52, 0.76, 0.44, 0.84, 0.36),
    "regression": (0.5, 0.42, 0.58, 0.34, 0.66, 0.27, 0.73),
    "covariance": (0.5, 0.4, 0.6, 0.3, 0.7, 0.22, 0.78),
}


def plot_path(result: Any, *, ax: Any = None, what: str = "std", boot: Any = None,
              show: str = "stars", structural_only: bool = False, style: str = "color",
              positions: Mapping[str, tuple[float, float]] | None = None,
              labels: Mapping[str, str] | None = None,
              label_positions: Mapping[str, float] | None = None, r2: bool = True,
              residuals: bool = False, caption: bool = True, defined: bool = True, digits: int = 2,
              leading_zero: bool = True, nonsig: str = "auto", alpha: float = 0.05,
              level: float = 0.95, ci_method: str = "percentile", fontsize: float = 9.0,
              max_width: float = _MAX_WIDTH) -> Any:
    """Draw the path diagram of a fitted model.

    Latent variables are ellipses, observed variables rectangles; loadings and paths are
    single-headed arrows, covariances curved double-headed arrows. Each arrow carries its
    estimate with significance stars or a bootstrap confidence interval; endogenous
    variables show their R²; a caption gives χ²(df), CFI, TLI, RMSEA [90% CI] and SRMR.
    The layout comes from :func:`lcsem.path_layout` (exogenous left, outcomes right,
    indicators fanned outside their construct); labels are placed where they overlap
    neither nodes nor other labels.

    Parameters
    ----------
    result
        A :class:`lcsem.FitResult`.
    ax
        Axes to draw on; a new figure sized to the diagram is made when omitted. The
        diagram (fonts and lines included) is scaled to fit the axes.
    what
        ``"std"`` (standardised, std.all; default) or ``"est"`` (unstandardised).
    boot
        A :class:`lcsem.BootstrapResult` of ``result``; needed for ``show="ci"``.
    show
        ``"stars"`` (``*`` p < .05, ``**`` p < .01, ``***`` p < .001; default), ``"ci"``
        (bootstrap CI under the estimate) or ``"none"``.
    structural_only
        Draw constructs and structural paths only, without indicators.
    style
        ``"color"`` or ``"bw"`` (black and white).
    positions
        ``{name: (x, y)}`` in inches overriding the position of any node.
    labels
        ``{name: text}`` shown instead of variable names (any Unicode text, e.g.
        ``{"culture": "Lernkultur"}``). Scripts that matplotlib's default font lacks
        (e.g. CJK) need a font that has them: ``plt.rcParams["font.family"] = ...``.
    label_positions
        ``{parameter: t}`` placing the label of an arrow at fraction ``t`` (0–1) of its
        length from the arrow's start, e.g. ``{"perf~culture": 0.3}``; other labels are
        placed automatically around them.
    r2
        Show R² inside every endogenous variable.
    residuals
        Show residual (and exogenous) variances as small double-headed loops.
    caption
        Write the fit indices under the diagram.
    defined
        Add a line to the caption with the defined parameters (``:=``, e.g. the indirect
        effect ``ind``), with stars or their bootstrap CI.
    digits, leading_zero
        Decimals of the labels; ``leading_zero=False`` writes ``.49`` (APA style).
    nonsig
        How to draw parameters that are not significant (p ≥ ``alpha``, or a CI that
        includes 0): ``"grey"``, ``"dashed"``, ``"hide"`` or ``"none"``; ``"auto"`` is
        grey in colour and dashed in black and white.
    alpha
        Significance level for ``nonsig``.
    level, ci_method
        Confidence level and method (``"percentile"``, ``"bc"``, ``"bca"``, ``"normal"``)
        of the bootstrap intervals.
    fontsize
        Size in points of the variable names (at the diagram's natural size).
    max_width
        Largest width in inches of a new figure; wider diagrams are scaled down.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on. Artists carry ids (``artist.get_gid()``): ``"node:<name>"``,
        ``"nodelabel:<name>"``, ``"r2:<name>"``, ``"edge:<parameter>"``,
        ``"edgelabel:<parameter>"``, ``"variance:<name>"``, ``"caption"``, where
        ``<parameter>`` is :func:`lcsem.results.parameter_name` (``"kmsuse~culture"``).

    Examples
    --------
    >>> ax = lcsem.plot_path(res)                                  # doctest: +SKIP
    >>> ax = lcsem.plot_path(res, boot=boot, show="ci", style="bw")  # doctest: +SKIP
    >>> ax.figure.savefig("model.pdf")                             # doctest: +SKIP
    """
    _check_result(result)
    if what not in _WHAT:
        raise ArgumentError(f"what: {what!r} is not one of {_WHAT}; use 'std' for standardised "
                            f"or 'est' for unstandardised estimates")
    if show not in _SHOW:
        raise ArgumentError(f"show: {show!r} is not one of {_SHOW}")
    if nonsig not in _NONSIG:
        raise ArgumentError(f"nonsig: {nonsig!r} is not one of {_NONSIG}")
    colors = get_style(style)
    if show == "ci" and boot is None:
        raise ArgumentError("show: 'ci' needs bootstrap draws; pass boot=lcsem.bootstrap(result)")
    if boot is not None:
        _check_boot(boot, result)
    if not isinstance(digits, (int, np.integer)) or isinstance(digits, bool) or not 0 <= digits <= 6:
        raise ArgumentError(f"digits: {digits!r} must be an integer from 0 to 6")
    if not 0 < alpha < 1:
        raise ArgumentError(f"alpha: {alpha!r} must lie strictly between 0 and 1, e.g. 0.05")
    if not 0 < level < 1:
        raise ArgumentError(f"level: {level!r} must lie strictly between 0 and 1, e.g. 0.95")
    if not fontsize > 0:
        raise ArgumentError(f"fontsize: {fontsize!r} must be positive")
    if nonsig == "auto":
        nonsig = "dashed" if style == "bw" else "grey"
    fixed_t = dict(label_positions or {})
    for key, t in fixed_t.items():
        if not isinstance(t, (int, float, np.integer, np.floating)) or isinstance(t, bool) or not 0 <= t <= 1:
            raise ArgumentError(f"label_positions: the position of {key!r} must be a number from 0 to 1 "
                                f"(fraction of the arrow from its start), got {t!r}")

    layout = path_layout(result.model, structural_only=structural_only, positions=positions,
                         labels=labels)
    unknown = [k for k in fixed_t if k not in {e.name for e in layout.edges}]
    if unknown:
        raise ArgumentError(f"label_positions: {unknown} {'is' if len(unknown) == 1 else 'are'} not arrows "
                            f"of the diagram; arrows are {[e.name for e in layout.edges]}")
    shown = dict(labels or {})
    names = [e.name for e in layout.edges] + [f"{v}~~{v}" for v in layout.variances]
    labels = _edge_labels(result, names, what, boot, show, digits, leading_zero, alpha, level, ci_method)
    if nonsig == "hide":
        hidden = {name for name, (_, sig) in labels.items() if sig is False}
        layout = Layout(layout.nodes, tuple(e for e in layout.edges if e.name not in hidden),
                        layout.structural_only, layout.variances)

    import matplotlib.pyplot as plt
    from matplotlib.patches import Ellipse, FancyArrowPatch, FancyBboxPatch
    from matplotlib.path import Path

    xmin, ymin, xmax, ymax = layout.bounds
    var_pad = 0.6 if residuals else 0.0
    xmin, xmax = xmin - _MARGIN - var_pad, xmax + _MARGIN + var_pad
    cap_text, cap_height = "", 0.0
    if caption:
        cap_text = caption_text(result.fit_indices, leading_zero)
        char = 0.07 * fontsize / 9.0   # generous width of a caption character, inches
        if len(cap_text) * char > xmax - xmin and "; RMSEA" in cap_text:
            head, tail = cap_text.split("; RMSEA", 1)
            cap_text = head + ";\nRMSEA" + tail
        extra = [r.lhs for r in result.model.rows if r.op == ":="] if defined else []
        if extra:
            values = _edge_labels(result, extra, what, boot, show, digits, leading_zero, alpha, level, ci_method)
            cap_text += "\n" + "; ".join(f"{n} = {values[n][0].replace(chr(10), ' ')}" for n in extra if n in values)
        cap_height = _CAPTION * cap_text.count("\n") + _CAPTION
        need = max(len(line) for line in cap_text.split("\n")) * char + 2 * _MARGIN
        if need > xmax - xmin:
            grow = (need - (xmax - xmin)) / 2
            xmin, xmax = xmin - grow, xmax + grow
    ymin, ymax = ymin - _MARGIN - var_pad - cap_height, ymax + _MARGIN + var_pad
    width, height = xmax - xmin, ymax - ymin
    if ax is None:
        scale = min(1.0, max_width / width)
        fig, ax = plt.subplots(figsize=(width * scale, height * scale))
        fig.subplots_adjust(0, 0, 1, 1)
    else:
        fig = ax.figure
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    ax.set_aspect("equal", adjustable="box")
    ax.set_axis_off()
    ax.apply_aspect()
    bbox = ax.get_window_extent()
    scale = (bbox.width / fig.dpi) / width  # inches of paper per inch of layout
    fs = fontsize * scale

    # ---- nodes
    endogenous = set(result.model.roles.endogenous)
    r2_values = result.r2
    for node in layout.nodes.values():
        face = colors["latent_face"] if node.shape == "ellipse" else colors["observed_face"]
        edge = colors["latent_edge"] if node.shape == "ellipse" else colors["observed_edge"]
        if node.shape == "ellipse":
            patch = Ellipse((node.x, node.y), node.width, node.height, facecolor=face,
                            edgecolor=edge, linewidth=1.3 * scale, zorder=3)
        else:
            patch = FancyBboxPatch((node.x - node.width / 2, node.y - node.height / 2),
                                   node.width, node.height, boxstyle="round,pad=0,rounding_size=0.04",
                                   facecolor=face, edgecolor=edge, linewidth=1.0 * scale, zorder=3)
        patch.set_gid(f"node:{node.name}")
        ax.add_patch(patch)
        show_r2 = r2 and node.name in endogenous and node.name in r2_values.index
        name_size = fs * (1.1 if node.role == "construct" else 1.0)
        dy = node.height * (0.14 if show_r2 else 0.0)
        text = ax.text(node.x, node.y + dy, shown.get(node.name, node.name), ha="center", va="center",
                       fontsize=name_size, color=colors["text"], zorder=4,
                       fontweight="bold" if node.role == "construct" else "normal")
        text.set_gid(f"nodelabel:{node.name}")
        if show_r2:
            value = format_number(float(r2_values[node.name]), digits, leading_zero)
            t2 = ax.text(node.x, node.y - node.height * 0.22, f"R² = {value}", ha="center",
                         va="center", fontsize=fs * 0.8, color=colors["r2"], zorder=4)
            t2.set_gid(f"r2:{node.name}")

    renderer = _renderer(fig)
    _fit_node_text(ax, layout, renderer)

    # ---- edges
    for e in layout.edges:
        sig = labels.get(e.name, ("", None))[1]
        color = colors[e.kind]
        linestyle = "-"
        if sig is False and nonsig == "grey":
            color = colors["nonsig"]
        elif sig is False and nonsig == "dashed":
            linestyle = (0, (4, 2.5))
        lw = (1.5 if e.kind == "regression" else 1.0) * scale
        head = "<|-|>" if e.two_headed else "-|>"
        arrow = FancyArrowPatch(path=Path(np.array(e.points), [Path.MOVETO, Path.CURVE3, Path.CURVE3]),
                                arrowstyle=f"{head},head_length={5 * scale:.3f},head_width={2.6 * scale:.3f}",
                                color=color, linewidth=lw, linestyle=linestyle, zorder=2,
                                shrinkA=0, shrinkB=0)
        arrow.set_gid(f"edge:{e.name}")
        ax.add_patch(arrow)

    # ---- caption
    occupied = [_display_box(p, renderer) for p in ax.patches if (p.get_gid() or "").startswith("node:")]
    if caption:
        cap = ax.text((xmin + xmax) / 2, ymin + cap_height / 2 + 0.05, cap_text, ha="center",
                      va="center", fontsize=fs * 0.95, color=colors["text"], zorder=4, linespacing=1.4)
        cap.set_gid("caption")
        occupied.append(_display_box(cap, renderer))

    # ---- residual variances
    if residuals:
        _draw_variances(ax, result, layout, what, digits, leading_zero, colors, scale, fs, renderer, occupied)

    # ---- edge labels, most important first, where they collide with nothing
    priority = {"regression": 0, "covariance": 1, "loading": 2}
    for e in sorted(layout.edges, key=lambda e: (e.name not in fixed_t, priority[e.kind])):
        text_value = labels.get(e.name, ("", None))[0]
        if not text_value:
            continue
        label = ax.text(0, 0, text_value, ha="center", va="center", fontsize=fs * 0.82,
                        color=colors["text"], zorder=5, linespacing=1.0,
                        bbox=dict(boxstyle=f"square,pad={0.12:.2f}", facecolor=colors["label_face"],
                                  edgecolor="none"))
        label.set_gid(f"edgelabel:{e.name}")
        if e.name in fixed_t:
            p = e.point(float(fixed_t[e.name]))
            label.set_position((float(p[0]), float(p[1])))
        else:
            _place_label(label, e, renderer, occupied)
        occupied.append(_display_box(label, renderer))
    return ax


def caption_text(fit_indices: Any, leading_zero: bool = True) -> str:
    """The fit caption: ``χ²(87) = 78.71, p = .725; CFI = 1.000; TLI = 1.004;
    RMSEA = 0.000 [0.000, 0.023]; SRMR = 0.026``. A saturated model (df = 0) is said to be
    one; indices that are undefined (NaN) are left out."""
    fi = fit_indices

    def f3(v: float) -> str:
        return format_number(float(v), 3, leading_zero)

    def ok(*keys: str) -> bool:
        return all(k in fi.index and math.isfinite(float(fi[k])) for k in keys)

    df = int(fi["df"])
    head = f"χ²({df}) = {format_number(float(fi['chisq']), 2)}"
    if df == 0:
        head = "saturated model, " + head
    elif ok("pvalue"):
        p = float(fi["pvalue"])
        head += ", p < .001" if p < 0.001 else f", p = {format_number(p, 3, False)}"
    parts = [head]
    for key, label in (("cfi", "CFI"), ("tli", "TLI")):
        if ok(key) and df > 0:
            parts.append(f"{label} = {f3(fi[key])}")
    if ok("rmsea") and df > 0:
        text = f"RMSEA = {f3(fi['rmsea'])}"
        if ok("rmsea_ci_lower", "rmsea_ci_upper"):
            text += f" [{f3(fi['rmsea_ci_lower'])}, {f3(fi['rmsea_ci_upper'])}]"
        parts.append(text)
    if ok("srmr"):
        parts.append(f"SRMR = {f3(fi['srmr'])}")
    return "; ".join(parts)


# --------------------------------------------------------------------------- labels
def _check_result(result: Any) -> None:
    for attr in ("model", "estimates", "fit_indices", "r2"):
        if not hasattr(result, attr):
            raise ArgumentError(f"result: expected an lcsem.FitResult, got {type(result).__name__}; "
                                f"pass the value returned by lcsem.fit(...)")


def _check_boot(boot: Any, result: Any) -> None:
    for attr in ("distribution", "ci"):
        if not hasattr(boot, attr):
            raise ArgumentError(f"boot: expected an lcsem.BootstrapResult, got {type(boot).__name__}; "
                                f"pass the value returned by lcsem.bootstrap(result)")
    fit = getattr(boot, "fit", None)
    if fit is not None and fit is not result and fit.model != result.model:
        raise ArgumentError("boot: the bootstrap was run on another model than result's; pass "
                            "lcsem.bootstrap(result)")


def _edge_labels(result: Any, names: list[str], what: str, boot: Any, show: str, digits: int,
                 leading_zero: bool, alpha: float, level: float, ci_method: str) -> dict[str, tuple[str, bool | None]]:
    """``{parameter name: (label text, significant or None when unknown)}`` of ``names``."""
    from ..results import parameter_name

    est = result.estimates
    table = {parameter_name(l, o, r): (e, s, p)
             for l, o, r, e, s, p in zip(est["lhs"], est["op"], est["rhs"], est["est"],
                                         est["std_all"], est["pvalue"])}
    cis: dict[str, tuple[float, float]] = {}
    if boot is not None and show == "ci":
        stat = {n: (f"std:{n}" if what == "std" else n) for n in names}
        wanted = [s for s in stat.values() if s in boot.distribution.columns]
        if wanted:
            frame = boot.ci(level=level, method=ci_method, stats=wanted)
            for n, s in stat.items():
                if s in frame.index:
                    cis[n] = (float(frame.loc[s, "lower"]), float(frame.loc[s, "upper"]))
    out: dict[str, tuple[str, bool | None]] = {}
    for n in names:
        if n not in table:
            continue
        raw, std, p = table[n]
        value = float(std if what == "std" else raw)
        text = format_number(value, digits, leading_zero)
        sig: bool | None = None
        p = float(p) if p is not None else math.nan
        if show == "ci":
            if n in cis:
                lo, hi = cis[n]
                text += f"\n[{format_number(lo, digits, leading_zero)}, {format_number(hi, digits, leading_zero)}]"
                if math.isfinite(lo) and math.isfinite(hi):
                    sig = not (lo <= 0.0 <= hi)
        else:
            if show == "stars":
                text += stars(p)
            if math.isfinite(p):
                sig = p < alpha
        out[n] = (text, sig)
    return out


def _renderer(fig: Any) -> Any:
    getter = getattr(fig.canvas, "get_renderer", None)
    return getter() if getter is not None else fig._get_renderer()


def _display_box(artist: Any, renderer: Any) -> np.ndarray:
    b = artist.get_window_extent(renderer)
    return np.array([b.x0, b.y0, b.x1, b.y1])


def _overlap(box: np.ndarray, others: list[np.ndarray], pad: float) -> float:
    if not others:
        return 0.0
    o = np.array(others)
    w = np.minimum(box[2] + pad, o[:, 2]) - np.maximum(box[0] - pad, o[:, 0])
    h = np.minimum(box[3] + pad, o[:, 3]) - np.maximum(box[1] - pad, o[:, 1])
    return float(np.sum(np.clip(w, 0, None) * np.clip(h, 0, None)))


def _place_label(label: Any, edge: Edge, renderer: Any, occupied: list[np.ndarray]) -> None:
    """Put ``label`` on ``edge`` where it overlaps no node and no label placed before."""
    pad = 1.5
    best, best_cost = None, math.inf
    ts = _LABEL_T[edge.kind]
    candidates = [(t, 0.0) for t in ts]
    # fall back to positions beside the line
    candidates += [(t, s) for t in ts[:4] for s in (1.0, -1.0)]
    for t, side in candidates:
        p = edge.point(t)
        if side:
            tangent = edge.point(min(t + 0.01, 1)) - edge.point(max(t - 0.01, 0))
            normal = np.array([-tangent[1], tangent[0]]) / (np.hypot(*tangent) or 1.0)
            p = p + side * 0.22 * normal
        label.set_position((float(p[0]), float(p[1])))
        box = _text_box(label, renderer)
        cost = _overlap(box, occupied, pad)
        if cost == 0.0:
            return
        if cost < best_cost:
            best, best_cost = p, cost
    label.set_position((float(best[0]), float(best[1])))  # type: ignore[index]


def _text_box(text: Any, renderer: Any) -> np.ndarray:
    """Display box of a text including its background box."""
    patch = text.get_bbox_patch()
    if patch is not None:
        text.update_bbox_position_size(renderer)
        b = patch.get_window_extent(renderer)
        t = text.get_window_extent(renderer)
        return np.array([min(b.x0, t.x0), min(b.y0, t.y0), max(b.x1, t.x1), max(b.y1, t.y1)])
    return _display_box(text, renderer)


def _fit_node_text(ax: Any, layout: Layout, renderer: Any) -> None:
    """Shrink any node text that would spill out of its node."""
    node_px = {}
    for p in ax.patches:
        gid = p.get_gid() or ""
        if gid.startswith("node:"):
            node_px[gid[5:]] = p.get_window_extent(renderer)
    for t in ax.texts:
        gid = t.get_gid() or ""
        if not (gid.startswith("nodelabel:") or gid.startswith("r2:")):
            continue
        name = gid.split(":", 1)[1]
        node = layout.nodes[name]
        room = node_px[name].width * (0.78 if node.shape == "ellipse" else 0.92)
        width = t.get_window_extent(renderer).width
        if width > room:
            t.set_fontsize(t.get_fontsize() * room / width)


def _draw_variances(ax, result, layout, what, digits, leading_zero, colors, scale, fs, renderer, occupied) -> None:
    """Residual (and exogenous) variances as small double-headed loops with their value,
    on the side of each node where loop and value collide with nothing."""
    from matplotlib.patches import FancyArrowPatch
    from matplotlib.path import Path

    from ..results import parameter_name

    est = result.estimates
    values = {parameter_name(l, o, r): (s if what == "std" else e)
              for l, o, r, e, s in zip(est["lhs"], est["op"], est["rhs"], est["est"], est["std_all"])}
    outward = {"left": (-1, 0), "right": (1, 0), "top": (0, 1), "bottom": (0, -1)}
    curves = {e.name: e.point(np.linspace(0, 1, 40)) for e in layout.edges}
    loops: list[np.ndarray] = []
    centre = np.mean([[n.x, n.y] for n in layout.nodes.values()], axis=0)
    for name in layout.variances:
        node: Node = layout.nodes[name]
        if node.role == "indicator":
            order = [node.side] if node.side in outward else ["top"]
        else:
            opposite = {"left": "right", "right": "left", "top": "bottom", "bottom": "top"}
            # outward sides first (away from the middle of the diagram), vertical before horizontal
            away = np.array([node.x - centre[0], node.y - centre[1]])
            order = sorted((d for d in ("top", "bottom", "right", "left") if d != node.side),
                           key=lambda d: (-float(np.dot(outward[d], away)) - (0.5 if outward[d][1] else 0.0)))
            if node.side in opposite:
                order.remove(opposite[node.side])
                order.append(opposite[node.side])
        label = ax.text(0, 0, format_number(float(values.get(f"{name}~~{name}", math.nan)), digits, leading_zero),
                        fontsize=fs * 0.72, color=colors["text"], zorder=5)
        label.set_gid(f"variancelabel:{name}")
        best, best_cost = None, math.inf
        for side in order:
            direction = np.array(outward[side], dtype=float)
            perp = np.array([-direction[1], direction[0]])
            base = np.array([node.x, node.y]) + direction * np.array([node.width / 2, node.height / 2])
            a, b, ctrl = base + perp * 0.16, base - perp * 0.16, base + direction * 0.75
            if direction[0]:   # loop to the side: the value beyond it
                pos, ha, va = base + direction * 0.45, ("left" if direction[0] > 0 else "right"), "center"
            else:              # loop above or below: the value beside its apex
                pos, ha, va = base + direction * 0.3 + np.array([0.2, 0.0]), "left", "center"
            label.set_position((float(pos[0]), float(pos[1])))
            label.set_ha(ha)
            label.set_va(va)
            cost = _overlap(_display_box(label, renderer), occupied, 1.0)
            loop = np.array([0.25 * a + 0.5 * ctrl + 0.25 * b, (a + ctrl) / 2, (b + ctrl) / 2])
            for e in layout.edges:
                if name in (e.source, e.target):
                    continue
                d = np.hypot(*(curves[e.name][:, None, :] - loop[None, :, :]).transpose(2, 0, 1))
                cost += 1000.0 * float((d < 0.2).any())
            for other in loops:
                cost += 1000.0 * float((np.hypot(*(other[:, None, :] - loop[None, :, :]).transpose(2, 0, 1)) < 0.3).any())
            if cost < best_cost:
                best, best_cost = (a, b, ctrl, pos, ha, va, loop), cost
            if cost == 0.0:
                break
        a, b, ctrl, pos, ha, va, loop = best  # type: ignore[misc]
        label.set_position((float(pos[0]), float(pos[1])))
        label.set_ha(ha)
        label.set_va(va)
        loops.append(loop)
        path = Path(np.array([a, ctrl, b]), [Path.MOVETO, Path.CURVE3, Path.CURVE3])
        arrow = FancyArrowPatch(path=path, arrowstyle=f"<|-|>,head_length={4 * scale:.3f},head_width={2.2 * scale:.3f}",
                                color=colors["covariance"], linewidth=0.8 * scale, zorder=2, shrinkA=0, shrinkB=0)
        arrow.set_gid(f"variance:{name}")
        ax.add_patch(arrow)
        occupied.append(_display_box(label, renderer))
