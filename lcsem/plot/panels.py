"""One path-diagram panel per group of a multi-group fit, in one figure.

:func:`plot_groups` draws every group's view with :func:`lcsem.plot_path` side by side
(or stacked, or in a grid, whichever prints larger) in the same layout, each panel titled
with its group's label and N, and the fit of the whole model once under the panels.
"""

from __future__ import annotations

import math
import textwrap
from typing import Any

import numpy as np

from .. import _warnings
from ..analysis.mediation import check_bootstrap_of, group_bootstrap
from ..exceptions import ArgumentError, PlotLegibilityWarning
from ..results.fit_result import FitResult
from .groups import group_size
from .path_diagram import MIN_POINTS, _edge_labels, _is_number, caption_text, illegibility_hints, plot_path

__all__ = ["plot_groups"]

_TITLE_LINES = 1.7     # height of a panel title, in lines of its font
_EM = 0.55             # mean width of a caption character, in ems (DejaVu Sans, with room)
_PAGE_RATIO = 9.0 / 7.0


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


_NOT_PANEL_OPTIONS = {"ax": "the figure and its axes are made here; draw one group into your own axes "
                            "with lcsem.plot_path(result, group=..., ax=ax)",
                      "group": "every group is drawn; draw one with lcsem.plot_path(result, group=...)",
                      "caption": None, "defined": None}


def plot_groups(result: FitResult, *, width: float = 7.0, ncols: int | None = None, caption: bool = True,
                defined: bool = True, fontsize: float = 9.0, **options: Any) -> Any:
    """Path diagrams of every group of a multi-group fit, one panel per group, in one figure.

    Every panel is :func:`lcsem.plot_path` of one group's view (its estimates, standardised
    values and R² from the joint fit) in the same layout and at the same scale, so that
    the panels can be compared arrow by arrow. Each panel is titled with its group's
    label and N; the fit of the whole model (χ², CFI, TLI, RMSEA, SRMR), the parameters
    held equal across groups and the defined parameters (``:=``) are written once under
    the panels.

    Parameters
    ----------
    result
        A multi-group :class:`lcsem.FitResult` (``lcsem.fit(..., group=...)``).
    width
        Printed width of the figure in inches (default 7, a journal page; 3.5 for one
        column). The height is at most ``width × 9/7``.
    ncols
        Panels per row. Default: side by side or stacked (or a grid from four groups),
        whichever prints the diagrams larger.
    caption
        Write the whole model's fit (and the equality constraints) under the panels.
    defined
        Add the defined parameters (``:=``) of the joint fit to the caption.
    fontsize
        Printed size in points of the variable names (smaller when the panels must be
        scaled down to fit ``width``).
    **options
        Any other option of :func:`lcsem.plot_path` (``what``, ``structural_only``,
        ``style``, ``direction``, ``labels``, ``r2``, ``residuals``, ``digits``, ...),
        applied to every panel. ``boot`` is the bootstrap of the whole fit
        (``lcsem.bootstrap(result)``): with ``show="ci"`` each panel shows its group's
        intervals (from the columns ``"<name>@<group label>"``) and the caption the
        defined parameters' intervals.

    Returns
    -------
    matplotlib.figure.Figure
        Its axes (``fig.axes``) are the panels in group order (gid ``"panel:<label>"``,
        each with its ``lcsem_layout``); panel titles have gid ``"title:<label>"`` and the
        caption ``"caption"``.

    Warns
    -----
    PlotLegibilityWarning
        Once, when text in the panels would print smaller than 6 points (it names the
        options that help, as :func:`lcsem.plot_path`'s).

    Examples
    --------
    >>> res = lcsem.fit(lcsem.lc_model(), data, group="sector")    # doctest: +SKIP
    >>> fig = lcsem.plot_groups(res, width=7, structural_only=True)  # doctest: +SKIP
    >>> fig.savefig("sectors.pdf")                                   # doctest: +SKIP
    """
    if not isinstance(result, FitResult):
        raise ArgumentError(f"result: expected an lcsem.FitResult, got {type(result).__name__}; "
                            f"pass the value returned by lcsem.fit(..., group=...)")
    if not result.group_labels:
        raise ArgumentError("result: it has one group; plot_groups draws the groups of a multi-group fit "
                            "(lcsem.fit(..., group='column')); draw this one with lcsem.plot_path(result)")
    for key, why in _NOT_PANEL_OPTIONS.items():
        if key in options and why is not None:
            raise ArgumentError(f"{key}: not an option of plot_groups ({why})")
    boot = options.get("boot")
    if options.get("show") == "ci" and boot is None:
        raise ArgumentError("show: 'ci' needs bootstrap draws; pass boot=lcsem.bootstrap(result)")
    if boot is not None:
        check_bootstrap_of(boot, result)
    if "width" in options:
        raise ArgumentError("width: give it once")
    if not _is_number(width) or not math.isfinite(width) or width <= 0:
        raise ArgumentError(f"width: {width!r} must be a positive number of inches, e.g. 7.0 for a "
                            f"page or 3.5 for a column")
    if not _is_number(fontsize) or not fontsize > 0:
        raise ArgumentError(f"fontsize: {fontsize!r} must be a positive number of points")
    n_groups = result.n_groups
    if ncols is not None and (not _is_int(ncols) or not 1 <= ncols <= n_groups):
        raise ArgumentError(f"ncols: {ncols!r} must be an integer from 1 to {n_groups} (the number of groups)")
    views = [result.groups[label] for label in result.group_labels]
    # each panel's options: its own group's bootstrap columns under plain names
    panel_options = {label: dict(options, boot=None if boot is None else group_bootstrap(boot, result, label, view))
                     for label, view in zip(result.group_labels, views)}
    first = panel_options[result.group_labels[0]]

    import matplotlib.pyplot as plt

    # ---- the arrangement: the one whose panels print largest
    choices = [ncols] if ncols is not None else sorted({n_groups, 1, math.ceil(math.sqrt(n_groups))},
                                                       reverse=True)
    max_h = width * _PAGE_RATIO
    caption_pt = fontsize * 0.95
    best = None
    for cols in choices:
        rows = math.ceil(n_groups / cols)
        # room of one panel: the page height less the caption (at its largest) and titles
        cap_lines = _caption_lines(result, defined, True, options, width, caption_pt) if caption else []
        slot_h = (max_h - _caption_height(cap_lines, caption_pt)) / rows - _TITLE_LINES * fontsize / 72
        if slot_h <= 0.2:
            continue
        panel = _probe(views[0], width / cols, slot_h, fontsize, first)
        key = (round(panel[2], 2), -rows)
        if best is None or key > best[0]:
            best = (key, cols, rows, panel)
    if best is None:
        raise ArgumentError(f"width: {width!r} in leaves no room for {n_groups} panels; use a larger width")
    _, cols, rows, (panel_w, panel_h, _, title_pt, marked) = best
    # the caption is printed no larger than the panels' names (and at least 6 pt); the
    # room it leaves is given to the panels
    caption_pt = min(caption_pt, max(MIN_POINTS, title_pt * 0.95))
    title_pt = max(title_pt, min(fontsize, MIN_POINTS))
    title_h = _TITLE_LINES * title_pt / 72
    cap_lines = _caption_lines(result, defined, marked, options, width, caption_pt) if caption else []
    slot_h = (max_h - _caption_height(cap_lines, caption_pt)) / rows - title_h
    refined = _probe(views[0], width / cols, slot_h, fontsize, first)
    if refined[2] >= best[3][2]:
        panel_w, panel_h = refined[0], refined[1]
    fig_w = cols * panel_w
    cap_lines = []
    if caption:
        wide = _caption_lines(result, defined, marked, options, width, caption_pt)
        need = max(len(line) for line in wide) * caption_pt * _EM / 72 + 0.3
        fig_w = max(fig_w, min(width, need))
        cap_lines = _caption_lines(result, defined, marked, options, fig_w, caption_pt)
    cap_h = _caption_height(cap_lines, caption_pt)
    fig_h = rows * (panel_h + title_h) + cap_h
    fig = plt.figure(figsize=(fig_w, fig_h))
    left0 = (fig_w - cols * panel_w) / 2
    with _warnings.quiet():
        for g, (label, view) in enumerate(zip(result.group_labels, views)):
            r, c = divmod(g, cols)
            x0 = left0 + c * panel_w
            top = fig_h - r * (panel_h + title_h)
            ax = fig.add_axes((x0 / fig_w, (top - title_h - panel_h) / fig_h, panel_w / fig_w, panel_h / fig_h))
            ax.set_gid(f"panel:{label}")
            plot_path(view, ax=ax, caption=False, defined=False, fontsize=fontsize, **panel_options[label])
            title = fig.text((x0 + panel_w / 2) / fig_w, (top - title_h / 2) / fig_h,
                             f"{label} (N = {group_size(view)})", ha="center", va="center",
                             fontsize=title_pt, fontweight="bold")
            title.set_gid(f"title:{label}")
    panels = fig.axes
    if cap_lines:
        cap = fig.text(0.5, (cap_h / 2) / fig_h, "\n".join(cap_lines), ha="center", va="center",
                       fontsize=caption_pt, linespacing=1.4)
        cap.set_gid("caption")
    sizes = [t.get_fontsize() for ax in panels for t in ax.texts if t.get_text().strip()]
    smallest = min(sizes) if sizes else MIN_POINTS
    if smallest < MIN_POINTS - 1e-9:
        hints = illegibility_hints(bool(options.get("structural_only", False)), width,
                                   options.get("abbreviate"), options.get("r2", True) is True, axes=False)
        _warnings.warn(f"plot_groups: the smallest text would print at {smallest:.1f} pt, below the "
                       f"{MIN_POINTS:g} pt a journal prints legibly; try " + ", ".join(hints)
                       + (", ncols=None (the arrangement that prints largest)" if ncols is not None else ""),
                       PlotLegibilityWarning, stacklevel=2)
    return fig


def _probe(view: FitResult, slot_w: float, slot_h: float, fontsize: float,
           options: dict[str, Any]) -> tuple[float, float, float, float, bool]:
    """Draw ``view`` into a ``slot_w`` × ``slot_h`` inch slot; returns the panel's size
    (inches; no larger than the diagram at ``fontsize``), its smallest and largest text
    (points) and whether a label is marked fixed (†)."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(slot_w, slot_h))
    ax = fig.add_axes((0, 0, 1, 1))
    with _warnings.quiet():
        plot_path(view, ax=ax, caption=False, defined=False, fontsize=fontsize, **options)
    box = ax.get_window_extent()
    w, h = box.width / fig.dpi, box.height / fig.dpi
    texts = [t for t in ax.texts if t.get_text().strip()]
    sizes = [t.get_fontsize() for t in texts]
    marked = any("†" in t.get_text() for t in texts)
    # the axes scale the diagram to fill them: no larger than at ``fontsize``
    nodes = ax.lcsem_layout.nodes
    names = {f"nodelabel:{n}": (1.1 if node.role == "construct" else 1.0) for n, node in nodes.items()}
    name_pt = next(t.get_fontsize() / names[t.get_gid()] for t in texts if t.get_gid() in names)
    plt.close(fig)
    shrink = min(1.0, fontsize / name_pt)
    return w * shrink, h * shrink, min(sizes) * shrink, max(sizes) * shrink, marked


def _caption_height(lines: list[str], size_pt: float) -> float:
    """Inches taken by a caption of ``lines`` at ``size_pt`` (with a margin)."""
    return (len(lines) * 1.4 + 1.0) * size_pt / 72 if lines else 0.0


def _caption_lines(result: FitResult, defined: bool, marked: bool, options: dict[str, Any], width: float,
                   size_pt: float) -> list[str]:
    """The figure caption: the whole model's fit, the equality constraints, the defined
    parameters, wrapped to ``width`` inches at ``size_pt``."""
    lz = options.get("leading_zero")
    parts = caption_text(result.fit_indices, None if lz is False else lz).split("; ")
    parts[0] = f"{result.n_groups} groups: " + parts[0]
    extra = []
    if result.group_equal:
        text = "equal across groups: " + ", ".join(result.group_equal)
        if result.group_partial:
            text += " (released: " + ", ".join(result.group_partial) + ")"
        extra.append(text)
    if defined:
        names = [r.lhs for r in result.rows if r.op == ":="]
        what = options.get("what", "std")
        show = options.get("show", "stars")
        digits = options.get("digits", 2)
        lz_values = False if (lz is None and what == "std") else (True if lz is None else bool(lz))
        boot = options.get("boot") if show == "ci" else None
        values = _edge_labels(result, names, what, boot, show if boot is not None else
                              ("none" if show == "none" else "stars"), digits, lz_values,
                              options.get("alpha", 0.05), options.get("level", 0.95),
                              options.get("ci_method", "percentile"))
        extra += [f"{n} = {values[n][0].replace(chr(10), ' ')}" for n in names if n in values]
    chars = max(20, int((width - 0.3) * 72 / (size_pt * _EM)))
    lines: list[str] = []
    for block in (parts, extra):
        current = ""
        for part in block:
            if current and len(current) + 2 + len(part) <= chars:
                current += "; " + part
            else:
                if current:
                    lines.append(current)
                current = part
        if current:
            lines.append(current)
    if marked:
        lines.append("† fixed parameter (not tested)")
    return [w for line in lines for w in (textwrap.wrap(line, chars) or [""])]
