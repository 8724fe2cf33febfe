"""Heatmap of residual correlations."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..display.format import format_typographic
from ..exceptions import ArgumentError
from .groups import group_view
from .style import get_style
from ..results.fit_result import FitResult

__all__ = ["plot_residuals"]


def plot_residuals(result: FitResult, *, group: str | int | None = None, ax: Any = None, kind: str = "cor", triangle: str = "lower",
                   annotate: bool | None = None, vmax: float | None = None, style: str = "color",
                   digits: int = 2, colorbar: bool = True, cmap: str | None = None,
                   blocks: bool = True, threshold: float | None = 0.10) -> Any:
    """Heatmap of the residuals between sample and model-implied covariances.

    By default the standardised residual correlations ``(s_ij - σ_ij) / sqrt(s_ii s_jj)``
    (the quantities SRMR averages; :meth:`FitResult.residuals`). Large cells show where
    the model misfits; an absolute value above .10 is a common rule of thumb for a local
    misfit, and such cells are outlined (and their values set in bold).

    Parameters
    ----------
    result
        A :class:`lcsem.FitResult`.
    group
        The group of a multi-group result to draw: its label (``str``) or 1-based number
        (``int``); required for a multi-group result (one heatmap per group).
    ax
        Axes to draw on (a new figure when omitted).
    kind
        ``"cor"`` (standardised residual correlations) or ``"raw"`` (covariance residuals).
    triangle
        ``"lower"`` (with the diagonal) or ``"full"``.
    annotate
        Write the value in every cell. Default: when the text, scaled to the cell, prints
        at 5 pt or more; with ``True`` it is written at the size the cell allows.
    vmax
        Limit of the symmetric colour scale (default: the largest absolute residual, at
        least .10 for correlations).
    style
        ``"color"`` (blue–red) or ``"bw"`` (grey by absolute size).
    digits
        Decimals of the cell values (no leading zero for correlations).
    colorbar
        Add a colour bar.
    cmap
        A matplotlib colormap name overriding the style's.
    blocks
        Separate the indicators of each construct by lines (variables are in the
        model's order, so each construct's indicators are adjacent).
    threshold
        Outline cells whose absolute residual correlation exceeds this value (default
        .10; ``None`` for none). Only for ``kind="cor"``.

    Returns
    -------
    matplotlib.axes.Axes
        The image has id ``"residuals"``; cell texts ``"cell:<row>|<col>"`` (beyond 400
        cells, one collection of glyph outlines with id ``"cells"``, for speed); outlines
        of large residuals ``"large"``; block separators ``"blocks"``.
    """
    if not hasattr(result, "residuals"):
        raise ArgumentError(f"result: expected an lcsem.FitResult, got {type(result).__name__}")
    if isinstance(result, FitResult):
        result = group_view(result, group, "plot_residuals")[0]
    elif group is not None:
        raise ArgumentError("group: only a fitted lcsem.FitResult has groups")
    if kind not in ("cor", "raw"):
        raise ArgumentError(f"kind: {kind!r} is not 'cor' or 'raw'")
    if triangle not in ("lower", "full"):
        raise ArgumentError(f"triangle: {triangle!r} is not 'lower' or 'full'")
    if not isinstance(digits, (int, np.integer)) or isinstance(digits, bool) or not 0 <= digits <= 6:
        raise ArgumentError(f"digits: {digits!r} must be an integer from 0 to 6")
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.number))
                                  or not 0 < threshold < 1):
        raise ArgumentError(f"threshold: {threshold!r} must lie strictly between 0 and 1 (e.g. 0.10), or None")
    colors = get_style(style)
    if cmap is not None:
        import matplotlib

        if not isinstance(cmap, str) or cmap not in matplotlib.colormaps:
            raise ArgumentError(f"cmap: {cmap!r} is not a matplotlib colormap name; use e.g. 'RdBu_r' or 'Greys'")
    resid = result.residuals(kind)
    names = list(resid.index)
    values = resid.to_numpy(dtype=float)
    p = len(names)
    shown = values.copy()
    if triangle == "lower":
        shown[np.triu_indices(p, 1)] = np.nan
    if vmax is None:
        vmax = float(np.nanmax(np.abs(shown))) if p else 1.0
        if kind == "cor":
            vmax = max(vmax, 0.10)
        vmax = vmax or 1.0
    elif isinstance(vmax, bool) or not isinstance(vmax, (int, float, np.number)) or not vmax > 0:
        raise ArgumentError(f"vmax: {vmax!r} must be a positive number")

    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection, PatchCollection
    from matplotlib.patches import Rectangle

    new_figure = ax is None
    if new_figure:
        # margins computed here rather than by a layout engine, which would measure every
        # cell's text and draw the figure twice
        size = min(max(3.5, 0.3 * p + 1.6), 7.0)
        tick_pt = float(np.clip(size * 72 * 0.75 / max(p, 1) * 0.75, 4.0, 8.0))
        label = max((len(str(n)) for n in names), default=1) * tick_pt * 0.62 / 72 + 0.15
        side = size - label - 0.35
        width = label + side + (0.9 if colorbar else 0.15)
        fig = plt.figure(figsize=(width, size))
        ax = fig.add_axes((label / width, label / size, side / width, side / size))
    if style == "bw" and cmap is None:
        data, vmin, cmap_name = np.abs(shown), 0.0, colors["cmap"]
    else:
        data, vmin, cmap_name = shown, -vmax, cmap or colors["cmap"]
    image = ax.imshow(np.ma.masked_invalid(data), cmap=cmap_name, vmin=vmin, vmax=vmax,
                      interpolation="nearest")
    image.set_gid("residuals")
    tick = float(np.clip(_cell_points(ax, p) * 0.75, 4.0, 8.0))
    ax.set_xticks(range(p), names, rotation=90, fontsize=tick)
    ax.set_yticks(range(p), names, fontsize=tick)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title("Residual correlations" if kind == "cor" else "Residual covariances", fontsize=10)
    if blocks:
        _draw_blocks(ax, result, names, triangle, LineCollection)
    large = np.zeros_like(shown, dtype=bool)
    if kind == "cor" and threshold is not None:
        large = np.abs(np.nan_to_num(shown)) > threshold
        np.fill_diagonal(large, False)
        if large.any():
            rects = [Rectangle((j - 0.5, i - 0.5), 1, 1) for i, j in zip(*np.nonzero(large))]
            outline = PatchCollection(rects, facecolor="none", edgecolor="black", linewidth=1.0, zorder=3)
            outline.set_gid("large")
            ax.add_collection(outline)
    # cell text at a size that fits the cell (the widest value: sign, digits and point)
    width_chars = digits + (1 if kind == "cor" else 2) + (1 if (shown < 0).any() else 0)
    cell_size = min(_cell_points(ax, p) * 0.92 / (0.62 * width_chars + 0.2), 8.0)
    if annotate is None:
        annotate = cell_size >= _MIN_CELL_POINTS
    if annotate:
        cells = [(i, j) for i in range(p) for j in range(p) if not np.isnan(shown[i, j])]
        texts = [format_typographic(shown[i, j], digits, leading_zero=(kind != "cor")) for i, j in cells]
        white = [abs(shown[i, j]) > 0.6 * vmax for i, j in cells]
        bold = [bool(large[i, j]) for i, j in cells]
        if len(cells) <= _TEXT_ARTISTS_UP_TO:
            for (i, j), t, w, b in zip(cells, texts, white, bold):
                text = ax.text(j, i, t, ha="center", va="center", fontsize=cell_size,
                               fontweight="bold" if b else "normal", color="white" if w else "black")
                text.set_gid(f"cell:{names[i]}|{names[j]}")
                text.set_in_layout(False)      # constrained layout need not measure each cell
        else:
            _draw_cell_paths(ax, cells, texts, white, bold, cell_size)
    if colorbar:
        if new_figure:
            pos = ax.get_position()
            fig_w = ax.figure.get_size_inches()[0]
            cax = ax.figure.add_axes((pos.x1 + 0.1 / fig_w, pos.y0 + 0.1 * pos.height, 0.12 / fig_w, 0.8 * pos.height))
            cb = ax.figure.colorbar(image, cax=cax)
        else:
            cb = ax.figure.colorbar(image, ax=ax, shrink=0.8, pad=0.02)
        cb.ax.tick_params(labelsize=8)
        what = "correlation" if kind == "cor" else "covariance"
        label = f"|residual {what}|" if (style == "bw" and cmap is None) else f"residual {what}"
        if large.any():
            label += f"; outlined: |r| > {format_typographic(threshold, 2, False)}"
        cb.set_label(label, fontsize=8)
    return ax


_MIN_CELL_POINTS = 5.0
_TEXT_ARTISTS_UP_TO = 400     # more cells are drawn as one collection of glyph outlines


def _draw_cell_paths(ax: Any, cells, texts, white, bold, size: float) -> None:
    """Cell values as one collection of glyph outlines: one artist instead of a text
    per cell (a 48-variable matrix has 1,176), each distinct value laid out once."""
    from matplotlib.collections import PathCollection
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath
    from matplotlib.transforms import Affine2D

    shapes: dict[tuple[str, bool], Any] = {}
    paths, offsets, colours = [], [], []
    for (i, j), t, w, b in zip(cells, texts, white, bold):
        key = (t, b)
        if key not in shapes:
            path = TextPath((0, 0), t, size=size, prop=FontProperties(weight="bold" if b else "normal"))
            ext = path.get_extents()
            shapes[key] = path.transformed(Affine2D().translate(-(ext.x0 + ext.x1) / 2, -(ext.y0 + ext.y1) / 2))
        paths.append(shapes[key])
        offsets.append((j, i))
        colours.append("white" if w else "black")
    points = Affine2D().scale(1 / 72) + ax.figure.dpi_scale_trans      # points -> display
    collection = PathCollection(paths, offsets=offsets, offset_transform=ax.transData,
                                facecolors=colours, edgecolors="none", zorder=5)
    collection.set_transform(points)
    collection.set_gid("cells")
    ax.add_collection(collection, autolim=False)


def _cell_points(ax: Any, p: int) -> float:
    """Side of one cell in points (the axes drawn square, as ``imshow`` does)."""
    fig = ax.figure
    pos = ax.get_position()
    w, h = fig.get_size_inches()
    side = min(pos.width * w, pos.height * h) * 72.0
    if fig.get_layout_engine() is not None:
        side *= 0.8          # room the layout will take for labels and the colour bar
    return side / max(p, 1)


def _draw_blocks(ax: Any, result: Any, names: list[str], triangle: str, LineCollection: Any) -> None:
    """Lines between the indicators of different constructs."""
    model = result.model
    owner: dict[str, str] = {}
    for r in model.rows:
        if r.op == "=~" and r.rhs not in owner:
            owner[r.rhs] = r.lhs
    groups = [owner.get(n, "") for n in names]
    cuts = [k for k in range(1, len(names)) if groups[k] != groups[k - 1]]
    if not cuts:
        return
    p = len(names)
    segments = []
    for k in cuts:
        edge = k - 0.5
        if triangle == "lower":   # only inside the drawn triangle
            segments.append([(edge, edge), (edge, p - 0.5)])
            segments.append([(-0.5, edge), (edge, edge)])
        else:
            segments.append([(edge, -0.5), (edge, p - 0.5)])
            segments.append([(-0.5, edge), (p - 0.5, edge)])
    lines = LineCollection(segments, colors="black", linewidths=0.8, zorder=4)
    lines.set_gid("blocks")
    ax.add_collection(lines)
