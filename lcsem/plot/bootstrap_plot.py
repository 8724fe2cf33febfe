"""Bootstrap distributions of fit indices and parameters, one panel per statistic."""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from ..display.format import format_typographic
from ..exceptions import ArgumentError
from .style import CUTOFFS, get_style
from ..resampling.result import BootstrapResult

__all__ = ["plot_bootstrap"]

DEFAULT_STATS = ("cfi", "tli", "rmsea", "srmr")
_SHIFT_NOTE = {
    "nonparametric": ("Not confidence intervals: the draws of a naive bootstrap add each resample's misfit to the "
                      "sample's (Bollen & Stine, 1992),\nso their range is shifted away from the sample value "
                      "and excludes it here ({names}). Test fit with lcsem.bootstrap(res, kind='bollen-stine')."),
    "bollen-stine": ("Not confidence intervals: Bollen–Stine draws are a reference distribution of each index "
                     "under the model\n(for its p-value), so their range need not contain the sample value "
                     "({names})."),
}
_TITLES = {"chisq": "χ²", "pvalue": "p (χ²)", "cfi": "CFI", "tli": "TLI", "nfi": "NFI",
           "rmsea": "RMSEA", "srmr": "SRMR", "gfi": "GFI", "agfi": "AGFI", "loglik": "log-likelihood",
           "aic": "AIC", "bic": "BIC"}


def plot_bootstrap(boot: BootstrapResult, stats: Sequence[str] | str | None = None, *, level: float = 0.95,
                   method: str = "percentile", bins: int | str = "auto", cutoffs: bool = True,
                   style: str = "color", ncols: int | None = None, fig: Any = None,
                   digits: int = 3) -> Any:
    """Plot bootstrap distributions: one panel per statistic.

    Each panel shows the histogram of the successful replicates, the full-sample value
    (solid line), the confidence interval (shaded, with dashed bounds) and, for fit
    indices, the conventional cut-off (dotted: CFI, TLI, NFI and GFI .95; RMSEA .06;
    SRMR .08, after Hu & Bentler, 1999); for parameters, zero is marked.

    Fit indices of a naive (nonparametric) bootstrap are not centred on the sample
    value: each resample adds its own misfit to the sample's (Bollen & Stine, 1992), so
    their percentile interval can exclude the sample value itself. Such a band is never
    labelled a confidence interval of the index: it is labelled "middle 95% of the
    draws", and where it excludes the sample value the panel says why (the shift is the
    sample's misfit, not uncertainty about the index) and points to
    ``kind="bollen-stine"`` for a test of fit. The same holds for a Bollen–Stine
    bootstrap, whose draws are a reference distribution under the model, not a CI.

    Parameters
    ----------
    boot
        A :class:`lcsem.BootstrapResult`.
    stats
        Columns of ``boot.distribution``: fit indices (``"cfi"``, ``"rmsea"``, ...),
        parameters (``"kmsuse~culture"``, ``"ind"``) or standardised parameters
        (``"std:kmsuse~culture"``). Default: CFI, TLI, RMSEA and SRMR.
    level, method
        Confidence level and interval method passed to ``boot.ci``.
    bins
        Histogram bins (as in :func:`numpy.histogram_bin_edges`).
    cutoffs
        Mark the conventional cut-offs of fit indices.
    style
        ``"color"`` or ``"bw"``.
    ncols
        Panels per row (default: 2 × 2 for four statistics, up to 3 in one row, then 3
        per row).
    fig
        A matplotlib Figure to draw on (cleared first); a new one when omitted.
    digits
        Decimals in the panel titles.

    Returns
    -------
    matplotlib.figure.Figure
        Axes carry ids ``"bootstrap:<stat>"``; in each panel the histogram bars have id
        ``"hist"`` and the lines ``"estimate"``, ``"ci_lower"``, ``"ci_upper"``,
        ``"cutoff"`` and ``"zero"``.
    """
    for attr in ("distribution", "estimate", "ci"):
        if not hasattr(boot, attr):
            raise ArgumentError(f"boot: expected an lcsem.BootstrapResult, got {type(boot).__name__}; "
                                f"pass the value returned by lcsem.bootstrap(result)")
    colors = get_style(style)
    if stats is None:
        stats = list(DEFAULT_STATS)
    elif isinstance(stats, str):
        stats = [stats]
    else:
        stats = list(stats)
    if not stats:
        raise ArgumentError("stats: give at least one statistic, e.g. stats=['cfi', 'rmsea']")
    columns = list(boot.distribution.columns)
    unknown = [s for s in stats if s not in columns]
    if unknown:
        raise ArgumentError(f"stats: {unknown} {'is' if len(unknown) == 1 else 'are'} not in the bootstrap "
                            f"distribution; choose from {columns}")
    if not 0 < level < 1:
        raise ArgumentError(f"level: {level!r} must lie strictly between 0 and 1, e.g. 0.95")
    if ncols is not None and (not isinstance(ncols, (int, np.integer)) or isinstance(ncols, bool) or ncols < 1):
        raise ArgumentError(f"ncols: {ncols!r} must be a positive integer")
    _check_bins(bins)

    import matplotlib.pyplot as plt

    n = len(stats)
    ncols = ncols or (2 if n == 4 else n if n <= 3 else 3)
    nrows = math.ceil(n / ncols)
    if fig is None:
        fig = plt.figure(figsize=(min(3.4 * ncols, 7.0), 2.5 * nrows + 0.5), layout="constrained")
    else:
        fig.clear()
    axes = fig.subplots(nrows, ncols, squeeze=False)
    ci = boot.ci(level=level, method=method, stats=stats)
    pct = f"{100 * level:g}%"
    kind = str(getattr(boot, "kind", "nonparametric"))
    notes: list[str] = []
    for k, stat in enumerate(stats):
        ax = axes[k // ncols][k % ncols]
        ax.set_gid(f"bootstrap:{stat}")
        draws = np.asarray(boot.distribution[stat], dtype=float)
        draws = draws[np.isfinite(draws)]
        est = float(boot.estimate[stat])
        lo, hi = float(ci.loc[stat, "lower"]), float(ci.loc[stat, "upper"])
        if draws.size:
            _, _, bars = ax.hist(draws, bins=bins, color=colors["hist"], edgecolor="white", linewidth=0.4)
            for bar in bars:
                bar.set_gid("hist")
        fit_index = stat in _TITLES
        # a fit index's naive (or Bollen-Stine) draws are not a CI of the sample value
        not_a_ci = fit_index and kind in ("nonparametric", "bollen-stine")
        excludes = math.isfinite(lo) and math.isfinite(hi) and not (lo <= est <= hi)
        band = f"middle {pct} of the draws" if not_a_ci else f"{pct} CI"
        if math.isfinite(lo) and math.isfinite(hi):
            ax.axvspan(lo, hi, color=colors["ci"], alpha=0.12, linewidth=0, label=band)
        line = ax.axvline(lo, color=colors["ci"], linestyle="--", linewidth=1.1)
        line.set_gid("ci_lower")
        line = ax.axvline(hi, color=colors["ci"], linestyle="--", linewidth=1.1)
        line.set_gid("ci_upper")
        line = ax.axvline(est, color=colors["estimate"], linewidth=1.8, label="sample value")
        line.set_gid("estimate")
        if not_a_ci and excludes:
            notes.append(_TITLES[stat])
        base = stat[4:] if stat.startswith("std:") else stat
        if cutoffs and stat in CUTOFFS:
            line = ax.axvline(CUTOFFS[stat], color=colors["cutoff"], linestyle=":", linewidth=1.4,
                              label="cut-off")
            line.set_gid("cutoff")
        elif stat not in _TITLES and stat not in ("chisq",):
            lo_x, hi_x = (draws.min(), draws.max()) if draws.size else (est, est)
            if lo_x <= 0 <= hi_x or lo <= 0 <= hi:
                line = ax.axvline(0.0, color=colors["cutoff"], linestyle=":", linewidth=1.2, label="zero")
                line.set_gid("zero")
        title = _TITLES.get(stat, ("std. " if stat.startswith("std:") else "") + base)
        if not_a_ci:
            flag = " (excl. sample)" if excludes else ""
            ax.set_title(f"{title} = {format_typographic(est, digits)}; draws {format_typographic(lo, digits)}"
                         f" to {format_typographic(hi, digits)}{flag}", fontsize=8.5)
        else:
            ax.set_title(f"{title}: {format_typographic(est, digits)} [{format_typographic(lo, digits)}, "
                         f"{format_typographic(hi, digits)}]", fontsize=8.5)
        ax.set_yticks([])
        ax.spines[["top", "right", "left"]].set_visible(False)
        ax.tick_params(labelsize=8)
        failed = len(boot.distribution) - int(np.isfinite(np.asarray(boot.distribution[stat], float)).sum())
        ax.set_xlabel(f"B = {draws.size}" + (f" ({failed} failed)" if failed else ""), fontsize=8)
    for k in range(n, nrows * ncols):
        axes[k // ncols][k % ncols].set_axis_off()
    seen: dict[str, Any] = {}
    for row in axes:
        for ax in row:
            for handle, label in zip(*ax.get_legend_handles_labels()):
                seen.setdefault(label, handle)
    if notes:
        names = ", ".join(notes)
        import textwrap

        chars = int(fig.get_size_inches()[0] * 72 / (7.5 * 0.6))
        text = textwrap.fill(_SHIFT_NOTE[kind].format(names=names).replace("\n", " "), chars)
        note = fig.suptitle(text, fontsize=7.5, x=0.01, ha="left", linespacing=1.2)
        note.set_gid("shift_note")
    labels, handles = list(seen), list(seen.values())
    if handles:
        outside = fig.get_layout_engine() is not None
        fig.legend(handles, labels, loc="outside lower center" if outside else "lower center",
                   ncols=len(handles), fontsize=8, frameon=False)
    return fig


def _check_bins(bins: Any) -> None:
    named = ("auto", "fd", "doane", "scott", "stone", "rice", "sturges", "sqrt")
    if isinstance(bins, str):
        if bins not in named:
            raise ArgumentError(f"bins: {bins!r} is not one of {named} (numpy.histogram_bin_edges)")
    elif isinstance(bins, (int, np.integer)) and not isinstance(bins, bool):
        if bins < 1:
            raise ArgumentError(f"bins: {bins!r} must be a positive number of bins")
    else:
        raise ArgumentError(f"bins: expected a positive integer or one of {named}, got {type(bins).__name__}")
