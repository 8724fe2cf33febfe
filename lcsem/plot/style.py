"""Colours, line styles and number formatting shared by lcsem's plots."""

from __future__ import annotations

import math

from ..exceptions import ArgumentError

__all__ = ["STYLES", "get_style", "stars", "CUTOFFS"]

STYLES: dict[str, dict[str, object]] = {
    "color": {
        "latent_face": "#dfeaf6", "latent_edge": "#1f4e79",
        "observed_face": "#f5f5f5", "observed_edge": "#3c3c3c",
        "regression": "#1f4e79", "loading": "#3c3c3c", "covariance": "#7a4a1f",
        "nonsig": "#a5a5a5", "text": "#111111", "r2": "#1f4e79", "label_face": "white",
        "hist": "#9ab8d8", "estimate": "#1f4e79", "ci": "#c0504d", "cutoff": "#555555",
        "cmap": "RdBu_r",
    },
    "bw": {
        "latent_face": "white", "latent_edge": "black",
        "observed_face": "white", "observed_edge": "black",
        "regression": "black", "loading": "black", "covariance": "black",
        "nonsig": "black", "text": "black", "r2": "black", "label_face": "white",
        "hist": "#bdbdbd", "estimate": "black", "ci": "black", "cutoff": "#555555",
        "cmap": "Greys",
    },
}

# Conventional cut-offs (Hu & Bentler, 1999) marked on bootstrap distributions.
CUTOFFS: dict[str, float] = {"cfi": 0.95, "tli": 0.95, "nfi": 0.95, "gfi": 0.95, "rmsea": 0.06, "srmr": 0.08}


def get_style(style: str) -> dict[str, object]:
    """The colour set of ``style`` (``"color"`` or ``"bw"``)."""
    if style not in STYLES:
        raise ArgumentError(f"style: {style!r} is not one of {sorted(STYLES)}; use 'color' or "
                            f"'bw' (black and white)")
    return STYLES[style]


def stars(pvalue: float) -> str:
    """``"***"`` for p < .001, ``"**"`` for p < .01, ``"*"`` for p < .05, else ``""``
    (also for a missing p-value, e.g. of a fixed parameter)."""
    if pvalue is None or not math.isfinite(pvalue):
        return ""
    return "***" if pvalue < 0.001 else "**" if pvalue < 0.01 else "*" if pvalue < 0.05 else ""
