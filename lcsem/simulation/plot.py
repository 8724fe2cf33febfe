"""Plots of simulation results: power curves and dynamic fit-index cut-offs.

matplotlib is imported when a function is first called.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from ..exceptions import ArgumentError
from .power_analysis import PowerResult, _select
from .dynamic import HU_BENTLER, INDICES, DynamicCutoffs

__all__ = ["plot_power", "plot_dynamic_cutoffs"]


def plot_power(result: Any, parameters: Iterable[str] | str | None = None, *, test: str = "wald",
               target: float | None = 0.80, ax=None):
    """Power against sample size, one line per parameter, with ±1.96 Monte Carlo SE bands.

    Parameters
    ----------
    result
        A :class:`lcsem.PowerResult` (from :func:`lcsem.power`).
    parameters
        ``:=`` names, labels or ``"lhs op rhs"``; default: the ``:=`` effects and the
        structural paths (every parameter when the model has neither).
    test
        ``"wald"`` or ``"montecarlo"`` (``:=`` effects).
    target
        Draw a horizontal line at this power (None: no line).
    ax
        A matplotlib Axes to draw on (default: a new figure).

    Returns
    -------
    matplotlib.axes.Axes
    """
    if not isinstance(result, PowerResult):
        raise ArgumentError(f"result: expected the PowerResult of lcsem.power(...), got {type(result).__name__}")
    if test not in ("wald", "montecarlo"):
        raise ArgumentError(f"test: {test!r} is not 'wald' or 'montecarlo'")
    table = result.table
    if parameters is None:
        chosen = table[table["op"].isin([":=", "~"])]
        names = list(dict.fromkeys(chosen["name"])) or list(dict.fromkeys(table["name"]))
    else:
        names = [parameters] if isinstance(parameters, str) else list(parameters)
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    column = "power_mc" if test == "montecarlo" else "power"
    for name in names:
        rows = _select(table, name).sort_values("n")
        label = rows["name"].iloc[0]
        if rows["label"].iloc[0] and rows["op"].iloc[0] != ":=":
            label = f"{label} ({rows['label'].iloc[0]})"
        n, pw, se = rows["n"].to_numpy(), rows[column].to_numpy(float), rows[f"{column}_mcse"].to_numpy(float)
        line, = ax.plot(n, pw, marker="o", label=label)
        ax.fill_between(n, np.clip(pw - 1.96 * se, 0, 1), np.clip(pw + 1.96 * se, 0, 1), color=line.get_color(),
                        alpha=0.15, linewidth=0)
    if target is not None:
        ax.axhline(target, color="0.4", linestyle="--", linewidth=1)
        ax.text(ax.get_xlim()[0], target, f" target {target:.2f}", va="bottom", ha="left", fontsize=8, color="0.3")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("Sample size N")
    ax.set_ylabel("Power" + (" (Monte Carlo CI test)" if test == "montecarlo" else " (Wald z test)"))
    ax.set_title(f"Monte Carlo power, {result.n_rep} replicates per N, α = {result.alpha:g}", fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    return ax


def plot_dynamic_cutoffs(result: Any, level: int | None = None, *, axes=None):
    """Histograms of SRMR, RMSEA and CFI under the true and the misspecified models, with
    the dynamic cut-off (dashed), Hu & Bentler's fixed cut-off (dotted) and the user's
    value (solid red).

    Parameters
    ----------
    result
        A :class:`lcsem.DynamicCutoffs` (from :func:`lcsem.dynamic_cutoffs`).
    level
        One misspecification level (1, 2, ...); default: every level, one row each.
    axes
        Optional array of matplotlib Axes with shape (levels, 3) (or 3 Axes for one level).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not isinstance(result, DynamicCutoffs):
        raise ArgumentError(f"result: expected the DynamicCutoffs of lcsem.dynamic_cutoffs(...), "
                            f"got {type(result).__name__}")
    levels = list(result.table["level"])
    if level is not None:
        if level not in levels:
            raise ArgumentError(f"level: {level!r} is not one of the levels {levels}")
        levels = [level]
    import matplotlib.pyplot as plt

    if axes is None:
        fig, axes = plt.subplots(len(levels), 3, figsize=(10, 2.6 * len(levels) + 0.6), squeeze=False)
    else:
        axes = np.atleast_2d(np.asarray(axes, dtype=object))
        if axes.shape != (len(levels), 3):
            raise ArgumentError(f"axes: expected {len(levels)} x 3 Axes, got shape {axes.shape}")
        fig = axes[0, 0].figure
    dist = result.distributions
    true = dist[dist["level"] == 0]
    for r, lev in enumerate(levels):
        mis = dist[dist["level"] == lev]
        row = result.table[result.table["level"] == lev].iloc[0]
        for c, key in enumerate(INDICES):
            ax = axes[r, c]
            values = np.concatenate([true[key].dropna(), mis[key].dropna(), [result.fit[key]]])
            bins = np.linspace(np.nanmin(values), np.nanmax(values), 40)
            ax.hist(true[key].dropna(), bins=bins, alpha=0.55, color="#66C2F5", label="true model")
            ax.hist(mis[key].dropna(), bins=bins, alpha=0.55, color="#E9798C", label=f"level {lev} misspecified")
            if row[f"{key}_rule"] != "NONE":
                ax.axvline(row[key], color="black", linestyle="--", linewidth=1.2,
                           label=f"dynamic {row[key]:.3f} ({row[f'{key}_rule']})")
            ax.axvline(HU_BENTLER[key], color="0.35", linestyle=":", linewidth=1.2, label=f"Hu & Bentler {HU_BENTLER[key]:g}")
            ax.axvline(result.fit[key], color="#C00000", linewidth=1.8, label=f"your model {result.fit[key]:.3f}")
            ax.set_yticks([])
            ax.set_xlabel(key.upper())
            if c == 0:
                ax.set_ylabel(f"Level {lev}")
            ax.legend(fontsize=6.5, frameon=False)
    fig.suptitle(f"Dynamic fit-index cut-offs ({result.kind} CFA, N = {result.n}, {result.n_rep} replicates)",
                 fontsize=10)
    fig.tight_layout()
    return fig
