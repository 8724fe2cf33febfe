"""Bootstrap distributions of fit indices and parameters, one panel per statistic."""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from ..display.format import format_typographic
from ..exceptions import ArgumentError
from ..display.format import format_boot_p
from .style import CUTOFFS, get_style
from ..resampling.result import WORSE_WHEN, BootstrapResult

__all__ = ["plot_bootstrap"]

DEFAULT_STATS = ("cfi", "tli", "rmsea", "srmr")
_SHIFT_NOTE = {
    "nonparametric": ("Not confidence intervals: the draws of a naive bootstrap add each resample's misfit to the "
                      "sample's (Bollen & Stine, 1992),\nso their range is shifted away from the sample value "
                      "and excludes it here ({names}). Test fit with lcsem.bootstrap(res, kind='bollen-stine')."),
    "bollen-stine": ("Not confidence intervals, and no reference for the sample value ({names}): the Bollen–Stine "
                     "transform changes the data's generalised variance, which these indices measure as much as "
                     "misfit."),
}
_REFERENCE_NOTE = ("Bollen–Stine bootstrap, {n} replicates: each panel is the distribution of the index if the "
                   "model were true, at this N and with these data's non-normality. p = probability of an index "
                   "at least as bad as the sample's (Kim & Millsap, 2014); shaded: the worst 5% under the model; "
                   "dashed: conventional cut-off (Hu & Bentler, 1999).")
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
    ``kind="bollen-stine"`` for a test of fit.

    Given a Bollen–Stine bootstrap (``kind="bollen-stine"``), each fit-index panel shows
    instead the index's reference distribution if the model were true (with this sample's
    N and non-normality; :meth:`lcsem.BootstrapResult.fit_reference`): the histogram of the
    replicates, its worst 5% shaded (the reference cut-off), the sample value, the
    Bollen–Stine p-value (the probability of an index at least this bad if the model were
    true; Kim & Millsap, 2014) and the conventional cut-off as a dashed line.

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
        ``"cutoff"`` and ``"zero"``; a Bollen–Stine fit-index panel has ``"estimate"``,
        ``"cutoff"``, ``"reference_cutoff"`` (the edge of the shaded worst 5%, id
        ``"reference_tail"``) and the text ``"pvalue"``.
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
    reference = _reference_pvalues(boot, kind, stats)
    for k, stat in enumerate(stats):
        ax = axes[k // ncols][k % ncols]
        ax.set_gid(f"bootstrap:{stat}")
        draws = np.asarray(boot.distribution[stat], dtype=float)
        draws = draws[np.isfinite(draws)]
        est = float(boot.estimate[stat])
        if stat in reference:
            _reference_panel(ax, stat, draws, est, reference[stat], colors, bins, cutoffs, digits,
                             wide=fig.get_size_inches()[0] / ncols >= 3.0)
            _finish_panel(ax, boot, stat, draws)
            continue
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
        if not_a_ci and (excludes or kind == "bollen-stine"):
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
            sep = "; " if fig.get_size_inches()[0] / ncols >= 3.0 else "\n"
            ax.set_title(f"{title} = {format_typographic(est, digits)}{sep}draws {format_typographic(lo, digits)}"
                         f" to {format_typographic(hi, digits)}{flag}", fontsize=8.5)
        else:
            ax.set_title(f"{title}: {format_typographic(est, digits)} [{format_typographic(lo, digits)}, "
                         f"{format_typographic(hi, digits)}]", fontsize=8.5)
        _finish_panel(ax, boot, stat, draws)
    for k in range(n, nrows * ncols):
        axes[k // ncols][k % ncols].set_axis_off()
    seen: dict[str, Any] = {}
    for row in axes:
        for ax in row:
            for handle, label in zip(*ax.get_legend_handles_labels()):
                seen.setdefault(label, handle)
    texts = []
    if reference:
        used = len(next(iter(reference.values()))[1])
        texts.append(("reference_note", _REFERENCE_NOTE.format(n=used)))
    if notes:
        texts.append(("shift_note", _SHIFT_NOTE[kind].format(names=", ".join(notes)).replace("\n", " ")))
    if texts:
        import textwrap

        chars = int(fig.get_size_inches()[0] * 72 / (7.5 * 0.6))
        text = "\n".join(textwrap.fill(t, chars) for _, t in texts)
        note = fig.suptitle(text, fontsize=7.5, x=0.01, ha="left", linespacing=1.2)
        note.set_gid(texts[0][0] if len(texts) == 1 else "reference_note+shift_note")
    labels, handles = list(seen), list(seen.values())
    if handles:
        outside = fig.get_layout_engine() is not None
        fig.legend(handles, labels, loc="outside lower center" if outside else "lower center",
                   ncols=len(handles) if len(handles) <= 4 else math.ceil(len(handles) / 2), fontsize=8,
                   frameon=False)
    return fig


def _reference_pvalues(boot: Any, kind: str, stats: list[str]) -> dict[str, tuple[str, np.ndarray]]:
    """For a Bollen–Stine result: fit index -> (p-value text, draws); empty otherwise."""
    if kind != "bollen-stine" or not hasattr(boot, "fit_pvalues"):
        return {}
    pvalues = boot.fit_pvalues()
    out = {}
    for stat in stats:
        if stat in pvalues.index:
            draws = np.asarray(boot.distribution[stat], dtype=float)   # failed replicates are NaN
            draws = draws[np.isfinite(draws)]
            out[stat] = (format_boot_p(float(pvalues[stat]), draws.size, sides=1), draws)
    return out


def _reference_panel(ax: Any, stat: str, draws: np.ndarray, est: float, reference: tuple[str, np.ndarray],
                     colors: dict, bins: Any, cutoffs: bool, digits: int, wide: bool) -> None:
    """One fit index against its Bollen–Stine reference distribution."""
    p_text, used = reference
    if draws.size:
        _, _, bars = ax.hist(draws, bins=bins, color=colors["hist"], edgecolor="white", linewidth=0.4)
        for bar in bars:
            bar.set_gid("hist")
    higher = WORSE_WHEN[stat] == "higher"
    edge = float(np.quantile(used, 0.95 if higher else 0.05)) if used.size else math.nan
    if math.isfinite(edge):
        line = ax.axvline(edge, color=colors["ci"], linewidth=1.0)
        line.set_gid("reference_cutoff")
    line = ax.axvline(est, color=colors["estimate"], linewidth=1.8, label="sample value")
    line.set_gid("estimate")
    if cutoffs and stat in CUTOFFS:
        line = ax.axvline(CUTOFFS[stat], color=colors["cutoff"], linestyle="--", linewidth=1.4,
                          label="conventional cut-off")
        line.set_gid("cutoff")
    # limits: every draw and every line, with a margin; headroom above the bars for the p-value
    xs = [float(line.get_xdata()[0]) for line in ax.lines] + ([float(draws.min()), float(draws.max())]
                                                               if draws.size else [])
    lo, hi = min(xs), max(xs)
    pad = 0.04 * (hi - lo) if hi > lo else 0.05 * (abs(hi) + 1e-3)
    lo, hi = lo - pad, hi + pad
    top = max((bar.get_height() for bar in ax.patches if bar.get_gid() == "hist"), default=1.0)
    if math.isfinite(edge):
        # the worst 5% under the model: from the reference cut-off to the edge of the panel
        span = ax.axvspan(edge, hi if higher else lo, color=colors["ci"], alpha=0.15, linewidth=0,
                          label="worst 5% if the model were true")
        span.set_gid("reference_tail")
    ax.set_xlim(lo, hi)
    ax.set_ylim(0, 1.3 * top)
    # the p-value centred in the widest gap between the lines
    marks = sorted([0.0, 1.0] + [(float(line.get_xdata()[0]) - lo) / (hi - lo) for line in ax.lines])
    gap = max(zip(marks[:-1], marks[1:]), key=lambda pair: pair[1] - pair[0])
    label = "p " + (p_text if p_text.startswith(("≤", "<")) else f"= {p_text}")
    text = ax.text(sum(gap) / 2, 0.97, label, transform=ax.transAxes, fontsize=8.5, ha="center", va="top",
                   bbox=dict(boxstyle="round,pad=0.2", facecolor="white", edgecolor="none", alpha=0.85))
    text.set_gid("pvalue")
    title = f"{_TITLES.get(stat, stat)} = {format_typographic(est, digits)}"
    ax.set_title(f"{title}: reference distribution\nif the model were true" if wide
                 else f"{title}\nreference distribution\nif the model were true", fontsize=8.5)


def _finish_panel(ax: Any, boot: Any, stat: str, draws: np.ndarray) -> None:
    ax.set_yticks([])
    ax.spines[["top", "right", "left"]].set_visible(False)
    ax.tick_params(labelsize=8)
    failed = len(boot.distribution) - int(np.isfinite(np.asarray(boot.distribution[stat], float)).sum())
    ax.set_xlabel(f"B = {draws.size}" + (f" ({failed} failed)" if failed else ""), fontsize=8)


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
