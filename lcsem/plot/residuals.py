"""Heatmap of residual correlations."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import ArgumentError
from .style import format_number, get_style

__all__ = ["plot_residuals"]


def plot_residuals(result: Any, *, ax: Any = None, kind: str = "cor", triangle: str = "lower",
                   annotate: bool | None = None, vmax: float | None = None, style: str = "color",
                   digits: int = 2, colorbar: bool = True, cmap: str | None = None) -> Any:
    """Heatmap of the residuals between sample and model-implied covariances.

    By default the standardised residual correlations ``(s_ij - σ_ij) / sqrt(s_ii s_jj)``
    (the quantities SRMR averages; :meth:`FitResult.residuals`). Large cells show where
    the model misfits; an absolute value above .10 is a common rule of thumb for a local misfit.

    Parameters
    ----------
    result
        A :class:`lcsem.FitResult`.
    ax
        Axes to draw on (a new figure when omitted).
    kind
        ``"cor"`` (standardised residual correlations) or ``"raw"`` (covariance residuals).
    triangle
        ``"lower"`` (with the diagonal) or ``"full"``.
    annotate
        Write the value in every cell; default: when there are at most 20 variables.
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

    Returns
    -------
    matplotlib.axes.Axes
        The image has id ``"residuals"``; cell texts ``"cell:<row>|<col>"``.
    """
    if not hasattr(result, "residuals"):
        raise ArgumentError(f"result: expected an lcsem.FitResult, got {type(result).__name__}")
    if kind not in ("cor", "raw"):
        raise ArgumentError(f"kind: {kind!r} is not 'cor' or 'raw'")
    if triangle not in ("lower", "full"):
        raise ArgumentError(f"triangle: {triangle!r} is not 'lower' or 'full'")
    colors = get_style(style)
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
    elif not vmax > 0:
        raise ArgumentError(f"vmax: {vmax!r} must be positive")
    if annotate is None:
        annotate = p <= 20

    import matplotlib.pyplot as plt

    if ax is None:
        size = min(max(3.5, 0.42 * p + 1.6), 14.0)
        _, ax = plt.subplots(figsize=(size + (0.8 if colorbar else 0.0), size), layout="constrained")
    if style == "bw" and cmap is None:
        data, vmin, cmap_name = np.abs(shown), 0.0, colors["cmap"]
    else:
        data, vmin, cmap_name = shown, -vmax, cmap or colors["cmap"]
    image = ax.imshow(np.ma.masked_invalid(data), cmap=cmap_name, vmin=vmin, vmax=vmax,
                      interpolation="nearest")
    image.set_gid("residuals")
    ax.set_xticks(range(p), names, rotation=90, fontsize=8)
    ax.set_yticks(range(p), names, fontsize=8)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title("Residual correlations" if kind == "cor" else "Residual covariances", fontsize=10)
    if annotate:
        cell_size = 7.0 if p <= 12 else 6.0
        for i in range(p):
            for j in range(p):
                if np.isnan(shown[i, j]):
                    continue
                v = shown[i, j]
                strong = abs(v) > 0.6 * vmax
                text = ax.text(j, i, format_number(v, digits, leading_zero=(kind != "cor")),
                               ha="center", va="center", fontsize=cell_size,
                               color="white" if strong else "black")
                text.set_gid(f"cell:{names[i]}|{names[j]}")
    if colorbar:
        cb = ax.figure.colorbar(image, ax=ax, shrink=0.8, pad=0.02)
        cb.ax.tick_params(labelsize=8)
        what = "correlation" if kind == "cor" else "covariance"
        cb.set_label(f"|residual {what}|" if (style == "bw" and cmap is None) else f"residual {what}", fontsize=8)
    return ax
