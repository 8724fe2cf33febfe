"""Publication-quality path diagrams of fitted models, drawn with matplotlib alone."""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping

import numpy as np

from .. import _warnings
from ..display.format import format_typographic
from ..exceptions import ArgumentError, PlotLegibilityWarning
from .groups import group_note, group_view
from .layout import Edge, Layout, Node, check_labels, edge_crossings, path_layout
from .style import get_style, stars
from ..results.fit_result import FitResult, parameter_name
from ..resampling.result import BootstrapResult
from ..analysis.mediation import check_bootstrap_of, group_bootstrap

__all__ = ["plot_path", "caption_text"]

_SHOW = ("stars", "ci", "none")
_WHAT = ("std", "est")
_NONSIG = ("auto", "grey", "dashed", "hide", "none")
_DIRECTION = ("auto", "LR", "TB", "wrap", "fold")
_MARGIN = 0.2        # inches around the diagram
_CAPTION = 0.2       # inches per caption line
_CHAR = 0.068        # generous width of a caption character, inches
PAGE_WIDTH = 7.0     # default printed width, inches
_LABEL_T = {
    "loading": (0.6, 0.68, 0.52, 0.76, 0.44, 0.84, 0.36),
    "regression": (0.5, 0.42, 0.58, 0.34, 0.66, 0.27, 0.73),
    "covariance": (0.5, 0.4, 0.6, 0.3, 0.7, 0.22, 0.78),
}


def plot_path(result: FitResult, *, group: str | int | None = None, ax: Any = None, width: float = PAGE_WIDTH, direction: str = "auto",
              what: str = "std", boot: BootstrapResult | None = None, show: str = "stars", structural_only: bool = False,
              style: str = "color", positions: Mapping[str, tuple[float, float]] | None = None,
              labels: Mapping[str, str] | Callable[[str], str] | None = None,
              abbreviate: int | None = None, wrap: int | None = 14,
              label_positions: Mapping[str, float] | None = None, r2: bool | str = True,
              residuals: bool | str = False, caption: bool = True, defined: bool = True,
              digits: int = 2, leading_zero: bool | None = None, nonsig: str = "auto",
              alpha: float = 0.05, level: float = 0.95, ci_method: str = "percentile",
              fontsize: float = 9.0, edge_width: bool = False, sign_colors: bool = False,
              mark_fixed: bool = True) -> Any:
    """Draw the path diagram of a fitted model, laid out for the printed width.

    Latent variables are ellipses, observed variables rectangles; loadings and paths are
    single-headed arrows, covariances curved double-headed arrows. Each arrow carries its
    estimate with significance stars or a bootstrap confidence interval; endogenous
    variables show their R²; a caption gives χ²(df), CFI, TLI, RMSEA [90% CI] and SRMR.

    The diagram is laid out *for* its printed size: all spacing is proportional to the
    font, and the most compact of several layouts is chosen (indicators beside the first
    and last columns, indicators tucked above or below their construct, or top to
    bottom) before anything is scaled. Names longer than ``wrap`` characters are broken
    at ``_`` or spaces. When even the most compact layout would print text smaller than
    6 points, a :class:`lcsem.exceptions.PlotLegibilityWarning` says which option helps.

    Parameters
    ----------
    result
        A :class:`lcsem.FitResult`. A mean-structure result is drawn from its covariance
        structure (intercepts are not drawn).
    group
        The group to draw of a multi-group result: its label (``str``, one of
        ``result.group_labels``) or its number (``int``, 1-based, lavaan's order); required
        for a multi-group result. The panel shows that group's estimates, standardised
        values and R² (from the joint fit); the caption gives the group's N and the whole
        model's fit. :func:`lcsem.plot_groups` draws every group in one figure.
    ax
        Axes to draw on; a new figure at most ``width`` inches wide is made when omitted.
        The diagram (fonts and lines included) is scaled to fit the axes.
    width
        Printed width in inches of a new figure (default 7, a journal page; 3.5 for one
        column). A small diagram is narrower; a large one is laid out compactly, then
        scaled down to this width. The height is at most ``width × 9/7``.
    direction
        ``"auto"`` (the most legible of ``"LR"``, ``"TB"`` and ``"fold"``), ``"LR"`` (predictors left,
        outcomes right), ``"TB"`` (predictors at the top, outcomes at the bottom) or
        ``"wrap"`` (a long chain wrapped into two rows; a tall column of many factors
        split into two columns facing each other) or ``"fold"`` (a long chain folded
        into two columns facing each other, indicators outside): see
        :func:`lcsem.plot.layout.path_layout`.
    what
        ``"std"`` (standardised, std.all; default) or ``"est"`` (unstandardised).
    boot
        A :class:`lcsem.BootstrapResult` of ``result``; needed for ``show="ci"``. For a
        multi-group or mean-structure fit, the bootstrap of the whole fit: the group drawn
        takes its intervals from its own columns (``"<name>@<group label>"``).
    show
        ``"stars"`` (``*`` p < .05, ``**`` p < .01, ``***`` p < .001; default), ``"ci"``
        (bootstrap CI under the estimate) or ``"none"``.
    structural_only
        Draw constructs and structural paths only, without indicators.
    style
        ``"color"`` or ``"bw"`` (black and white).
    positions
        ``{name: (x, y)}`` in inches (at 9 pt) overriding the position of any node.
    labels
        ``{name: text}`` or a function ``name -> text`` giving the text shown instead of
        variable names (any Unicode text, e.g. ``{"culture": "Lernkultur"}``; ``"\\n"``
        breaks a line). Scripts that matplotlib's default font lacks (e.g. CJK) need a
        font that has them: ``plt.rcParams["font.family"] = ...``.
    abbreviate
        Shorten every shown name to at most this many characters (semPlot's
        ``nCharNodes``); at least 2. ``None`` (default) keeps names whole.
    wrap
        Break names longer than this many characters at ``_`` or a space (``None``: never).
    label_positions
        ``{parameter: t}`` placing the label of an arrow at fraction ``t`` (0–1) of its
        length from the arrow's start, e.g. ``{"perf~culture": 0.3}``; other labels are
        placed automatically around them.
    r2
        ``True``: R² inside every endogenous variable; ``"constructs"``: inside
        endogenous constructs and observed outcomes only (not indicators); ``False``: none.
    residuals
        ``True`` or ``"loops"``: residual (and exogenous) variances as small
        double-headed loops with their value; ``"circles"``: AMOS-style error terms, a
        small circle with an arrow into each endogenous variable, its value beside it.
    caption
        Write the fit indices under the diagram.
    defined
        Add a line to the caption with the defined parameters (``:=``, e.g. the indirect
        effect ``ind``), with stars or their bootstrap CI. Not for one group of a
        multi-group fit, whose definitions may combine groups (:func:`lcsem.plot_groups`
        shows them under its panels).
    digits, leading_zero
        Decimals of the labels. ``leading_zero=None`` (default) follows APA: no leading
        zero for numbers that cannot exceed 1 (standardised estimates, R², CFI, RMSEA,
        SRMR, p), a leading zero otherwise; ``True``/``False`` force it.
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
        Printed size in points of the variable names; node sizes and spacing grow with it.
        Edge labels and R² are printed at 0.85 of it. Smaller when the diagram must be
        scaled down to ``width``.
    edge_width
        Line width proportional to the absolute standardised estimate (semPlot habit).
    sign_colors
        Positive estimates in the style's colour, negative ones in red (colour style only).
    mark_fixed
        Mark parameters fixed in the model (e.g. the first loading, fixed to 1) with ``†``
        and explain the mark in the caption.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on. Artists carry ids (``artist.get_gid()``): ``"node:<name>"``,
        ``"nodelabel:<name>"``, ``"r2:<name>"``, ``"edge:<parameter>"``,
        ``"edgelabel:<parameter>"``, ``"variance:<name>"``, ``"variancelabel:<name>"``,
        ``"error:<name>"`` (error circles), ``"caption"``, where ``<parameter>`` is
        :func:`lcsem.results.parameter_name` (``"kmsuse~culture"``). The layout drawn
        (after the choice of direction) is ``ax.lcsem_layout`` (a :class:`Layout`).

    Warns
    -----
    PlotLegibilityWarning
        When text would print smaller than 6 points at ``width`` (or in ``ax``).

    Examples
    --------
    >>> ax = lcsem.plot_path(res)                                  # doctest: +SKIP
    >>> ax = lcsem.plot_path(res, width=3.5, structural_only=True)   # doctest: +SKIP
    >>> ax = lcsem.plot_path(res, boot=boot, show="ci", style="bw")  # doctest: +SKIP
    >>> ax.figure.savefig("model.pdf")                             # doctest: +SKIP
    """
    _check_result(result)
    source = result
    result, group_label, _ = group_view(source, group, "plot_path")
    multi = bool(getattr(source, "group_labels", ()))
    if what not in _WHAT:
        raise ArgumentError(f"what: {what!r} is not one of {_WHAT}; use 'std' for standardised "
                            f"or 'est' for unstandardised estimates")
    if show not in _SHOW:
        raise ArgumentError(f"show: {show!r} is not one of {_SHOW}")
    if nonsig not in _NONSIG:
        raise ArgumentError(f"nonsig: {nonsig!r} is not one of {_NONSIG}")
    if direction not in _DIRECTION:
        raise ArgumentError(f"direction: {direction!r} is not one of {_DIRECTION}; use 'LR' (left to "
                            f"right), 'TB' (top to bottom), 'wrap' (two rows), 'fold' (two columns) or 'auto'")
    if not _is_number(width) or not math.isfinite(width) or width <= 0:
        raise ArgumentError(f"width: {width!r} must be a positive number of inches, e.g. 7.0 for a "
                            f"page or 3.5 for a column")
    if abbreviate is not None and (not _is_int(abbreviate) or abbreviate < 2):
        raise ArgumentError(f"abbreviate: {abbreviate!r} must be an integer of at least 2 (characters "
                            f"kept of each name), or None to keep names whole")
    if wrap is not None and (not _is_int(wrap) or wrap < 2):
        raise ArgumentError(f"wrap: {wrap!r} must be an integer of at least 2, or None")
    if r2 not in (True, False, "constructs"):
        raise ArgumentError(f"r2: {r2!r} must be True, False or 'constructs'")
    if residuals not in (True, False, "loops", "circles"):
        raise ArgumentError(f"residuals: {residuals!r} must be True/'loops', 'circles' or False")
    colors = get_style(style)
    if show == "ci" and boot is None:
        raise ArgumentError("show: 'ci' needs bootstrap draws; pass boot=lcsem.bootstrap(result)")
    if boot is not None and getattr(source, "grouped", False):
        # the joint fit's bootstrap: this group's columns ("<name>@<label>") under plain names
        check_bootstrap_of(boot, source)
        boot = group_bootstrap(boot, source, group_label, result)
    elif boot is not None:
        _check_boot(boot, result)
    if not _is_int(digits) or not 0 <= digits <= 6:
        raise ArgumentError(f"digits: {digits!r} must be an integer from 0 to 6")
    if not _is_number(alpha) or not 0 < alpha < 1:
        raise ArgumentError(f"alpha: {alpha!r} must lie strictly between 0 and 1, e.g. 0.05")
    if not _is_number(level) or not 0 < level < 1:
        raise ArgumentError(f"level: {level!r} must lie strictly between 0 and 1, e.g. 0.95")
    if not _is_number(fontsize) or not fontsize > 0:
        raise ArgumentError(f"fontsize: {fontsize!r} must be a positive number of points")
    if nonsig == "auto":
        nonsig = "dashed" if style == "bw" else "grey"
    fixed_t = dict(label_positions or {})
    for key, t in fixed_t.items():
        if not _is_number(t) or not 0 <= t <= 1:
            raise ArgumentError(f"label_positions: the position of {key!r} must be a number from 0 to 1 "
                                f"(fraction of the arrow from its start), got {t!r}")
    apa = leading_zero is None
    lz_bounded = False if apa else bool(leading_zero)          # std values, R², correlations
    lz_values = lz_bounded if what == "std" else (True if apa else bool(leading_zero))

    shown = _display_names(result.model, labels, abbreviate, wrap)
    candidates = [("LR", "side"), ("LR", "tucked"), ("TB", "side"), ("TB", "tucked"),
                  ("fold", "side")] if direction == "auto" else \
        [(direction, "side"), (direction, "tucked")]
    if positions:
        candidates = candidates[:1]
    loops = residuals in (True, "loops", "circles")
    fixed_names = _fixed_parameters(result.model) if mark_fixed else set()

    import matplotlib.pyplot as plt

    if ax is not None:
        ax.figure.canvas.draw_idle()
        bb = ax.get_position()
        fw, fh = ax.figure.get_size_inches()
        avail_w, avail_h = bb.width * fw, bb.height * fh
    else:
        avail_w, avail_h = float(width), float(width) * _PAGE_RATIO
    # defined parameters (':=') of the fitted table: a mean-structure view has none of its
    # own, and those of a multi-group fit may combine groups (plot_groups shows them)
    extra = [r.lhs for r in getattr(source, "rows", source.model.rows) if r.op == ":="] if defined and not multi else []
    values = _edge_labels(source, extra, what, boot, show, digits, lz_values, alpha, level, ci_method)
    note = group_note(source, group_label, result) if caption else ""
    defined_parts = [f"{n} = {values[n][0].replace(chr(10), ' ')}" for n in extra if n in values]
    tried = []

    def legible(c: tuple) -> bool:
        return _UNIT_PT * c[0] * _SMALL >= MIN_POINTS

    for d, f in candidates:
        if d == "fold" and direction == "auto" and any(legible(c) for c in tried):
            # (direction="wrap", two rows, is not tried: on the gallery's long chains it
            # crosses more and puts paths over loading labels)
            continue      # folding trades crossings for size: only when nothing else is legible
        lay = path_layout(result.model, structural_only=structural_only, positions=positions,
                          labels=shown, direction=d, fans=f, loops=loops,
                          indicator_r2=r2 is True, label_lines=2 if show == "ci" else 1)
        frame = _frame(lay, result, caption, defined_parts, loops, lz_bounded, avail_w / (fontsize / _UNIT_PT),
                       note)
        w_in, h_in = frame[1] - frame[0], frame[3] - frame[2]
        scale = min(fontsize / _UNIT_PT, avail_w / w_in, avail_h / h_in)
        tried.append((scale, edge_crossings(lay, weighted=True), len(tried), lay, frame, d))
        if scale >= fontsize / _UNIT_PT * 0.999 and tried[-1][1] == 0:
            break
    # among the layouts that print legibly (or, if none does, all) and nearly as large as
    # the largest of them, the one with the fewest (weighted) crossings
    # (a folded layout, whose paths cross more, only when it is what makes the text legible)
    pool = [c for c in tried if legible(c)] or \
        [c for c in tried if c[5] == direction or c[5] in ("LR", "TB")]
    top = max(c[0] for c in pool)
    best = min((c for c in pool if c[0] >= 0.9 * top), key=lambda c: (c[1], -c[0], c[2]))
    best = (best[0], best[3], best[4])
    _, layout, (xmin, xmax, ymin, ymax, cap_text, cap_height) = best  # type: ignore[misc]

    unknown = [k for k in fixed_t if k not in {e.name for e in layout.edges}]
    if unknown:
        raise ArgumentError(f"label_positions: {unknown} {'is' if len(unknown) == 1 else 'are'} not arrows "
                            f"of the diagram; arrows are {[e.name for e in layout.edges]}")
    names = [e.name for e in layout.edges] + [f"{v}~~{v}" for v in layout.variances]
    elabels = _edge_labels(result, names, what, boot, show, digits, lz_values, alpha, level, ci_method)
    std_values = _std_values(result)
    if nonsig == "hide":
        hidden = {name for name, (_, sig) in elabels.items() if sig is False}
        layout = Layout(layout.nodes, tuple(e for e in layout.edges if e.name not in hidden),
                        layout.structural_only, layout.variances)
    marked = {e.name for e in layout.edges if e.name in fixed_names and e.name in elabels}
    if marked and caption:
        cap_text += "\n† fixed parameter (not tested)"
        cap_height += _CAPTION

    from matplotlib.patches import Ellipse, FancyArrowPatch, FancyBboxPatch
    from matplotlib.path import Path

    width_l, height_l = xmax - xmin, ymax - ymin
    if ax is None:
        scale = min(fontsize / _UNIT_PT, width / width_l, width * _PAGE_RATIO / height_l)
        fig, ax = plt.subplots(figsize=(width_l * scale, height_l * scale))
        fig.subplots_adjust(0, 0, 1, 1)
    else:
        fig = ax.figure
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    ax.set_aspect("equal", adjustable="box")
    ax.set_axis_off()
    ax.apply_aspect()
    bbox = ax.get_window_extent()
    scale = (bbox.width / fig.dpi) / width_l  # inches of paper per inch of layout
    fs = _UNIT_PT * scale                      # printed size of names

    # ---- nodes
    endogenous = set(result.model.roles.endogenous)
    indicators = set(result.model.roles.indicators)
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
        show_r2 = bool(r2) and node.name in endogenous and node.name in r2_values.index
        if r2 == "constructs" and node.name in indicators:
            show_r2 = False
        name_size = fs * (1.1 if node.role == "construct" else 1.0)
        lines = shown.get(node.name, node.name).count("\n") + 1
        # the name (and the R² line under it) centred in the node, in layout inches
        name_h = lines * name_size / 72 / scale * 1.17
        r2_h = _SMALL * fs / 72 / scale * 1.25 if show_r2 else 0.0
        top = node.y + (name_h + r2_h) / 2
        text = ax.text(node.x, top - name_h / 2, shown.get(node.name, node.name), ha="center", va="center",
                       fontsize=name_size, color=colors["text"], zorder=4, linespacing=1.0,
                       fontweight="bold" if node.role == "construct" else "normal")
        text.set_gid(f"nodelabel:{node.name}")
        if show_r2:
            value = format_typographic(float(r2_values[node.name]), digits, lz_bounded)
            t2 = ax.text(node.x, top - name_h - r2_h / 2, f"R² = {value}", ha="center",
                         va="center", fontsize=fs * _SMALL, color=colors["r2"], zorder=4)
            t2.set_gid(f"r2:{node.name}")

    renderer = _renderer(fig)
    _fit_node_text(ax, layout, renderer)

    # ---- edges
    for e in layout.edges:
        sig = elabels.get(e.name, ("", None))[1]
        color = colors[e.kind]
        linestyle = "-"
        std = std_values.get(e.name, math.nan)
        if sign_colors and style == "color" and math.isfinite(std) and std < 0:
            color = _NEGATIVE
        if sig is False and nonsig == "grey":
            color = colors["nonsig"]
        elif sig is False and nonsig == "dashed":
            linestyle = (0, (4, 2.5))
        lw = (1.5 if e.kind == "regression" else 1.0) * scale
        if edge_width:
            lw = (0.4 + 3.0 * min(abs(std), 1.0) if math.isfinite(std) else 0.4) * scale
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
        cap = ax.text((xmin + xmax) / 2, ymin + _MARGIN + (cap_height - _MARGIN) / 2, cap_text, ha="center",
                      va="center", fontsize=fs * _CAPTION_SIZE, color=colors["text"], zorder=4,
                      linespacing=1.4)
        cap.set_gid("caption")
        occupied.append(_display_box(cap, renderer))

    samples = _ArrowPoints(ax, layout)
    frame = _display_box(ax, renderer)
    # ---- residual variances
    if residuals:
        _draw_variances(ax, result, layout, what, digits, lz_bounded if what == "std" else lz_values,
                        colors, scale, fs, renderer, occupied, samples, residuals == "circles", frame)

    # ---- edge labels, most important first, where they collide with nothing
    priority = {"regression": 0, "covariance": 1, "loading": 2}
    for e in sorted(layout.edges, key=lambda e: (e.name not in fixed_t, priority[e.kind])):
        text_value = elabels.get(e.name, ("", None))[0]
        if not text_value:
            continue
        if e.name in marked:
            head, sep, tail = text_value.partition("\n")
            text_value = head + "†" + sep + tail
        label = ax.text(0, 0, text_value, ha="center", va="center", fontsize=fs * _SMALL,
                        color=colors["text"], zorder=5, linespacing=1.0,
                        bbox=dict(boxstyle=f"square,pad={0.1:.2f}", facecolor=colors["label_face"],
                                  edgecolor="none"))
        label.set_gid(f"edgelabel:{e.name}")
        if e.name in fixed_t:
            p = e.point(float(fixed_t[e.name]))
            label.set_position((float(p[0]), float(p[1])))
        else:
            _place_label(label, e, renderer, occupied, samples, scale, frame)
        occupied.append(_display_box(label, renderer))
    _warn_if_illegible(ax, structural_only, width, abbreviate, r2 is True)
    ax.lcsem_layout = layout
    return ax


_UNIT_PT = 9.0        # the layout's inches are inches at 9-point names
_SMALL = 0.9          # edge labels, R² and variances relative to names
_CAPTION_SIZE = 0.95
_PAGE_RATIO = 9.0 / 7.0
_NEGATIVE = "#b2182b"
MIN_POINTS = 6.0
_HEAD_ROOM = 0.14     # layout inches at an arrow's end kept free of its own label


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _display_names(model: Any, labels: Any, abbreviate: int | None, wrap: int | None) -> dict[str, str]:
    """Shown text of every variable: ``labels`` (dict or callable), abbreviated, wrapped."""
    names = list(model.latent) + list(model.observed)
    if labels is None:
        out = {}
    elif callable(labels) and not isinstance(labels, Mapping):
        out = {}
        for n in names:
            try:
                text = labels(n)
            except Exception as exc:  # the caller's function failed: say for which name
                raise ArgumentError(f"labels: the function raised {type(exc).__name__} for {n!r}: {exc}") from exc
            if not isinstance(text, str) or not text.strip():
                raise ArgumentError(f"labels: the function must return a non-empty string for every "
                                    f"variable; for {n!r} it returned {text!r}")
            out[n] = text
    elif isinstance(labels, Mapping):
        out = check_labels(labels, names)
    else:
        raise ArgumentError(f"labels: expected a dict {{name: text}} or a function name -> text, got "
                            f"{type(labels).__name__}")
    result = {}
    for n in names:
        text = out.get(n, n)
        if abbreviate is not None:
            text = "\n".join(line[:abbreviate] for line in text.split("\n"))
        elif wrap is not None and "\n" not in text and len(text) > wrap:
            text = _wrap_name(text)
        if text != n:
            result[n] = text
    return result


def _wrap_name(text: str) -> str:
    """Break ``text`` into two lines at the ``_`` or space nearest its middle."""
    cuts = [i for i, ch in enumerate(text) if ch in "_ " and 0 < i < len(text) - 1]
    if not cuts:
        return text
    i = min(cuts, key=lambda k: abs(k + 0.5 - len(text) / 2))
    if text[i] == " ":
        return text[:i] + "\n" + text[i + 1:]
    return text[:i + 1] + "\n" + text[i + 1:]


def _fixed_parameters(model: Any) -> set[str]:
    return {parameter_name(r.lhs, r.op, r.rhs) for r in model.rows
            if r.op in ("=~", "~", "~~") and r.lhs != r.rhs and not r.free}


def _std_values(result: Any) -> dict[str, float]:
    est = result.estimates
    return {parameter_name(l, o, r): float(s) for l, o, r, s in
            zip(est["lhs"], est["op"], est["rhs"], est["std_all"])}


def _frame(layout: Layout, result: Any, caption: bool, defined: list[str], loops: bool, leading_zero: bool,
           target: float, note: str = "") -> tuple[float, float, float, float, str, float]:
    """Limits (layout inches) of the drawing with margins, loops and caption, the caption
    text (wrapped to the wider of the diagram and ``target``) and its height."""
    xmin, ymin, xmax, ymax = layout.bounds
    var_pad = 0.6 if loops else 0.0
    xmin, xmax = xmin - _MARGIN - var_pad, xmax + _MARGIN + var_pad
    cap_text, cap_height = "", 0.0
    if caption:
        parts = caption_text(result.fit_indices, None if leading_zero is False else leading_zero).split("; ")
        room = max(xmax - xmin, min(target, 1.6 * (xmax - xmin))) - 2 * _MARGIN
        lines = _wrap_parts(parts, room)
        if note:
            lines = _wrap_parts(note.split("; "), room) + lines
        if defined:
            lines += _wrap_parts(defined, room)
        cap_text = "\n".join(lines)
        cap_height = _CAPTION * len(lines) + _MARGIN
        need = max(len(line) for line in lines) * _CHAR + 2 * _MARGIN
        if need > xmax - xmin:
            grow = (need - (xmax - xmin)) / 2
            xmin, xmax = xmin - grow, xmax + grow
    ymin, ymax = ymin - _MARGIN - var_pad - cap_height, ymax + _MARGIN + var_pad
    return xmin, xmax, ymin, ymax, cap_text, cap_height


def _wrap_parts(parts: list[str], room: float) -> list[str]:
    lines: list[str] = []
    for part in parts:
        if lines and (len(lines[-1]) + 2 + len(part)) * _CHAR <= room:
            lines[-1] += "; " + part
        else:
            lines.append(part)
    return lines


def _warn_if_illegible(ax: Any, structural_only: bool, width: float, abbreviate: int | None,
                       indicator_r2: bool) -> None:
    sizes = [t.get_fontsize() for t in ax.texts if t.get_text().strip()]
    smallest = min(sizes) if sizes else MIN_POINTS
    if smallest >= MIN_POINTS - 1e-9:
        return
    hints = illegibility_hints(structural_only, width, abbreviate, indicator_r2)
    _warnings.warn(f"plot_path: the smallest text would print at {smallest:.1f} pt, below the "
                   f"{MIN_POINTS:g} pt a journal prints legibly; try " + ", ".join(hints),
                   PlotLegibilityWarning, stacklevel=3)


def illegibility_hints(structural_only: bool, width: float, abbreviate: int | None,
                       indicator_r2: bool, axes: bool = True) -> list[str]:
    """The options that make a too-small diagram legible, as the warning names them
    (``axes``: the function takes ``ax=``)."""
    hints = []
    if not structural_only:
        hints.append("structural_only=True")
    hints.append(f"a larger width (now {width:g} in)" + (" or a larger ax=" if axes else ""))
    if abbreviate is None:
        hints.append("abbreviate=8 (shorter names)")
    if indicator_r2:
        hints.append("r2='constructs' (smaller indicators)")
    return hints


def caption_text(fit_indices: Any, leading_zero: bool | None = None) -> str:
    """The fit caption: ``χ²(87) = 78.71, p = .725; CFI = 1.000; TLI = 1.004;
    RMSEA = .000 [.000, .023]; SRMR = .026`` (for a robust estimator the scaled χ² and the
    robust indices: ``scaled χ²(87) = ...``). A saturated model (df = 0) is said to be
    one; indices that are undefined (NaN) are left out. ``leading_zero=None`` follows
    APA: no leading zero for CFI, RMSEA and SRMR (bounded by 1), one for TLI (which can
    exceed 1)."""
    fi = fit_indices

    def f3(v: float, bounded: bool = True) -> str:
        lz = (not bounded) if leading_zero is None else leading_zero
        return format_typographic(float(v), 3, lz)

    def ok(*keys: str) -> bool:
        return all(k in fi.index and math.isfinite(float(fi[k])) for k in keys)

    df = int(fi["df"])
    # a robust estimator (MLM, MLR, WLSMV, ...): the scaled χ² and lavaan's robust indices
    # (the scaled ones where lavaan gives no robust one), as the report's fit table
    scaled = ok("chisq_scaled") and df > 0

    def key_of(name: str) -> str:
        if not scaled:
            return name
        return next((k for k in (f"{name}_robust", f"{name}_scaled") if ok(k)), name)

    if scaled:
        head = f"scaled χ²({df}) = {format_typographic(float(fi['chisq_scaled']), 2)}"
        p_key = "pvalue_scaled"
    else:
        head = f"χ²({df}) = {format_typographic(float(fi['chisq']), 2)}"
        p_key = "pvalue"
    if df == 0:
        head = "saturated model, " + head
    elif ok(p_key):
        p = float(fi[p_key])
        head += ", p < .001" if p < 0.001 else f", p = {format_typographic(p, 3, False)}"
    parts = [head]
    for key, label in (("cfi", "CFI"), ("tli", "TLI")):
        if ok(key_of(key)) and df > 0:
            parts.append(f"{label} = {f3(fi[key_of(key)], key != 'tli')}")
    if ok(key_of("rmsea")) and df > 0:
        text = f"RMSEA = {f3(fi[key_of('rmsea')])}"
        lo, hi = key_of("rmsea_ci_lower"), key_of("rmsea_ci_upper")
        if ok(lo, hi):
            text += f" [{f3(fi[lo])}, {f3(fi[hi])}]"
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
        text = format_typographic(value, digits, leading_zero)
        sig: bool | None = None
        p = float(p) if p is not None else math.nan
        if show == "ci":
            if n in cis:
                lo, hi = cis[n]
                text += f"\n[{format_typographic(lo, digits, leading_zero)}, {format_typographic(hi, digits, leading_zero)}]"
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


class _ArrowPoints:
    """Display points along every arrow, for testing what a label would cover; the
    points near an arrow's end (its head, and a little room) are flagged, so that a label
    may sit on its own arrow but not on its own arrowhead."""

    def __init__(self, ax: Any, layout: Layout) -> None:
        ts = np.concatenate([np.linspace(0, 0.85, 40), np.linspace(0.86, 1.0, 12)])
        pts, owner, head = [], [], []
        self.names = [e.name for e in layout.edges]
        for k, e in enumerate(layout.edges):
            xy = e.point(ts)
            length = float(np.hypot(*np.diff(xy, axis=0).T).sum()) or 1.0
            h = min(0.45, _HEAD_ROOM / length)
            pts.append(ax.transData.transform(xy))
            owner.append(np.full(len(ts), k))
            near = ts > 1 - h
            if e.two_headed:
                near |= ts < h
            head.append(near)
        self.pts = np.vstack(pts) if pts else np.zeros((0, 2))
        self.owner = np.concatenate(owner) if owner else np.zeros(0, int)
        self.head = np.concatenate(head) if head else np.zeros(0, bool)
        self.index = {n: k for k, n in enumerate(self.names)}

    def count(self, box: np.ndarray, own: str = "", pad: float = 0.5) -> int:
        """Points under ``box``: of any other arrow, and of ``own``'s arrowheads."""
        p = self.pts
        inside = ((p[:, 0] > box[0] - pad) & (p[:, 0] < box[2] + pad)
                  & (p[:, 1] > box[1] - pad) & (p[:, 1] < box[3] + pad))
        k = self.index.get(own, -1)
        return int(np.count_nonzero(inside & ((self.owner != k) | self.head)))


def _outside(box: np.ndarray, frame: np.ndarray) -> float:
    """How far (pixels) ``box`` reaches beyond ``frame``."""
    return float(max(frame[0] - box[0], 0) + max(box[2] - frame[2], 0) + max(frame[1] - box[1], 0)
                 + max(box[3] - frame[3], 0))


def _place_label(label: Any, edge: Edge, renderer: Any, occupied: list[np.ndarray],
                 samples: _ArrowPoints, scale: float,
                 frame: np.ndarray) -> None:
    """Put ``label`` on ``edge`` where it overlaps no node, no label placed before and no
    other arrow (nor its own arrowhead); beside its arrow when no place on it is free."""
    pad = 1.5
    best, best_cost = None, None
    ts = _LABEL_T[edge.kind]
    candidates = [(t, 0.0) for t in ts]
    # fall back to positions just beside the line, then a little further
    candidates += [(t, s) for t in ts[:5] for s in (1.0, -1.0)]
    candidates += [(t, s) for t in ts for s in (1.6, -1.6)]
    more = np.linspace(0.15, 0.85, 15)
    candidates += [(float(t), 0.0) for t in more]
    candidates += [(float(t), s) for t in more for s in (1.0, -1.0, 1.6, -1.6)]
    label.set_position((0.0, 0.0))
    box0 = _text_box(label, renderer)
    to_display = label.axes.transData
    box0 = box0 - np.tile(to_display.transform((0.0, 0.0)), 2)   # relative to the anchor
    half_h = (box0[3] - box0[1]) / 2 / (renderer.points_to_pixels(72.0) * scale)  # layout inches
    for t, side in candidates:
        p = edge.point(t)
        if side:
            tangent = edge.point(min(t + 0.01, 1)) - edge.point(max(t - 0.01, 0))
            normal = np.array([-tangent[1], tangent[0]]) / (np.hypot(*tangent) or 1.0)
            p = p + side * (half_h + 0.05) * normal
        box = box0 + np.tile(to_display.transform(p), 2)
        area = _overlap(box, occupied, pad) + _outside(box, frame)
        arrows = samples.count(box, edge.name, 0.5)
        # never on a node or label; then as few arrow points as possible; on the line first
        cost = (area > 0, arrows, area, abs(side))
        if cost[:3] == (False, 0, 0.0) and not side:
            label.set_position((float(p[0]), float(p[1])))
            return
        if best is None or cost < best_cost:
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


def _draw_variances(ax, result, layout, what, digits, leading_zero, colors, scale, fs, renderer, occupied,
                    samples, circles: bool, frame: np.ndarray) -> None:
    """Residual (and exogenous) variances as small double-headed loops with their value
    (or, with ``circles``, AMOS-style error circles with an arrow into each endogenous
    variable), on the side of each node free of its own arrows, other arrows, loops and
    labels."""
    from matplotlib.patches import Circle, FancyArrowPatch
    from matplotlib.path import Path

    est = result.estimates
    values = {parameter_name(l, o, r): (s if what == "std" else e)
              for l, o, r, e, s in zip(est["lhs"], est["op"], est["rhs"], est["est"], est["std_all"])}
    endogenous = set(result.model.roles.endogenous)
    outward = {"left": (-1, 0), "right": (1, 0), "top": (0, 1), "bottom": (0, -1)}
    curves = {e.name: e.point(np.linspace(0, 1, 60)) for e in layout.edges}
    drawn: list[np.ndarray] = []
    centre = np.mean([[n.x, n.y] for n in layout.nodes.values()], axis=0)
    for name in layout.variances:
        node: Node = layout.nodes[name]
        circle = circles and name in endogenous
        away = np.array([node.x - centre[0], node.y - centre[1]])
        order = sorted(("top", "bottom", "right", "left"),
                       key=lambda d: (d != node.side, -float(np.dot(outward[d], away)) - (0.3 if outward[d][1] else 0.0)))
        label = ax.text(0, 0, format_typographic(float(values.get(f"{name}~~{name}", math.nan)), digits, leading_zero),
                        fontsize=fs * _SMALL, color=colors["text"], zorder=5)
        label.set_gid(f"variancelabel:{name}")
        extents: dict[tuple[str, str], np.ndarray] = {}
        best, best_cost = None, math.inf
        for side in order:
            direction = np.array(outward[side], dtype=float)
            perp = np.array([-direction[1], direction[0]])
            base = np.array([node.x, node.y]) + direction * np.array([node.width / 2, node.height / 2])
            if node.shape == "ellipse":
                base = np.array([node.x, node.y]) + direction * np.array([node.width / 2, node.height / 2]) * 0.98
            if circle:
                r = 0.11
                ctr = base + direction * 0.42
                shape = ctr + r * np.column_stack([np.cos(np.linspace(0, 2 * np.pi, 16)),
                                                   np.sin(np.linspace(0, 2 * np.pi, 16))])
                shape = np.vstack([shape, base + direction * np.linspace(0.02, 0.3, 6)[:, None]])
                tip = ctr + direction * r
            else:
                a, b, ctrl = base + perp * 0.15, base - perp * 0.15, base + direction * 0.6
                shape = _bezier_points(a, ctrl, b, 16)
                tip = base + direction * 0.3
            shape_cost = 0.0
            for e in layout.edges:
                d = np.hypot(*(curves[e.name][:, None, :] - shape[None, :, :]).transpose(2, 0, 1))
                shape_cost += 1e4 * float((d < 0.05).any()) + 100.0 * float((d < 0.15).any())
            for other in drawn:
                shape_cost += 1e4 * float((np.hypot(*(other[:, None, :] - shape[None, :, :]).transpose(2, 0, 1)) < 0.2).any())
            for other in layout.nodes.values():
                if other.name != name:
                    shape_cost += 1e4 * float(other.contains(shape[:, 0], shape[:, 1], 0.05).any())
            if direction[0]:   # to the side: the value beyond it, or above / below the loop
                places = [(tip + direction * 0.06, "left" if direction[0] > 0 else "right", "center"),
                          (tip - direction * 0.12 + np.array([0.0, 0.2]), "center", "bottom"),
                          (tip - direction * 0.12 - np.array([0.0, 0.2]), "center", "top")]
            else:              # above or below: the value beside its apex, right or left
                off = 0.2 if not circle else 0.16
                places = [(tip - direction * 0.1 + np.array([off, 0.0]), "left", "center"),
                          (tip - direction * 0.1 - np.array([off, 0.0]), "right", "center"),
                          (tip + direction * 0.06, "center", "bottom" if direction[1] > 0 else "top")]
            for pos, ha, va in places:
                if (ha, va) not in extents:      # the text's box relative to its anchor
                    label.set_position((0.0, 0.0))
                    label.set_ha(ha)
                    label.set_va(va)
                    extents[ha, va] = _display_box(label, renderer) - np.tile(ax.transData.transform((0.0, 0.0)), 2)
                box = extents[ha, va] + np.tile(ax.transData.transform(pos), 2)
                area = _overlap(box, occupied, 1.0) + _outside(box, frame)
                cost = shape_cost + 1e4 * (area > 0) + area + 50.0 * samples.count(box, "", 1.0)
                if cost < best_cost:
                    best, best_cost = (side, base, direction, perp, pos, ha, va, shape), cost
                if cost == 0.0:
                    break
            if best_cost == 0.0:
                break
        side, base, direction, perp, pos, ha, va, shape = best  # type: ignore[misc]
        label.set_position((float(pos[0]), float(pos[1])))
        label.set_ha(ha)
        label.set_va(va)
        drawn.append(shape)
        if circle:
            ctr = base + direction * 0.42
            ring = Circle((float(ctr[0]), float(ctr[1])), 0.11, facecolor=colors["observed_face"],
                          edgecolor=colors["latent_edge"], linewidth=0.9 * scale, zorder=3)
            ring.set_gid(f"error:{name}")
            ax.add_patch(ring)
            path = Path(np.array([ctr - direction * 0.11, base]), [Path.MOVETO, Path.LINETO])
            head = "-|>"
        else:
            a, b, ctrl = base + perp * 0.15, base - perp * 0.15, base + direction * 0.6
            path = Path(np.array([a, ctrl, b]), [Path.MOVETO, Path.CURVE3, Path.CURVE3])
            head = "<|-|>"
        arrow = FancyArrowPatch(path=path, arrowstyle=f"{head},head_length={4 * scale:.3f},head_width={2.2 * scale:.3f}",
                                color=colors["covariance"], linewidth=0.8 * scale, zorder=2, shrinkA=0, shrinkB=0)
        arrow.set_gid(f"variance:{name}")
        ax.add_patch(arrow)
        occupied.append(_display_box(label, renderer))
        occupied.append(_display_box(arrow, renderer))
        if circle:
            occupied.append(_display_box(ring, renderer))


def _bezier_points(a: np.ndarray, ctrl: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 2 * a + 2 * (1 - t) * t * ctrl + t ** 2 * b
