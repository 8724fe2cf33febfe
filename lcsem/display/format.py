"""The one place that turns numbers into text for tables, summaries, reports and plots.

- :func:`format_value`: a table cell (NaN empty, tiny values in scientific notation);
- :func:`format_number`, :func:`format_ci`, :func:`format_raw`: report numbers (NaN as an
  en dash; ``format_raw`` for values in the data's units);
- :func:`format_p`, :func:`format_boot_p`: APA p-values (bootstrap p never shown as 0);
- :func:`format_typographic`: plot labels (typographic minus, optional leading zero).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["format_value", "format_number", "format_ci", "format_raw", "format_p", "format_boot_p",
           "format_typographic"]


def format_value(value: object, digits: int = 3) -> str:
    """Numbers with ``digits`` decimals, NaN as an empty cell, everything else as text."""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return ""
        if value != 0 and abs(value) < 10 ** (-digits):
            return f"{value:.{digits}e}" if abs(value) >= 1e-300 else "0"
        return f"{value:.{digits}f}"
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value)


def format_raw(value: float, digits: int = 3) -> str:
    """A raw-scale number (estimate, SE, interval bound in the data's units) with
    ``digits`` decimals, in scientific notation when that would print a non-zero value
    as 0 (variables measured in tiny units); an en dash for NaN."""
    if value is None or not np.isfinite(value):
        return "–"
    if value != 0 and abs(value) < 0.5 * 10 ** (-digits):
        return f"{value:.{max(digits - 1, 1)}e}"
    return f"{value:.{digits}f}"


def format_p(p: float, digits: int = 3) -> str:
    """APA p-value: no leading zero, ``< .001`` below the smallest shown value."""
    if p is None or not np.isfinite(p):
        return "–"
    floor = 10 ** (-digits)
    if p < floor:
        return "< " + f"{floor:.{digits}f}".lstrip("0")
    return f"{p:.{digits}f}".lstrip("0") if p < 1 else f"{1:.{digits}f}"


def format_boot_p(p: float, n_boot: int, digits: int = 3, sides: int = 2) -> str:
    """A bootstrap p-value (never 0: lcsem uses the ``(1 + k)/(B + 1)`` convention).

    At its floor -- ``2/(B + 1)`` two-sided, ``1/(B + 1)`` one-sided, when no replicate
    fell on the far side -- it is shown as ``≤ floor`` (rounded up, with enough decimals
    not to read as 0): ``B`` replicates cannot resolve a smaller p-value.
    """
    if p is None or not np.isfinite(p):
        return "–"
    floor = sides / (n_boot + 1) if n_boot > 0 else 0.0
    if floor and p <= floor * (1 + 1e-9):
        # rounded up (so the bound stays true), with the fewest decimals (at least
        # ``digits``) that keep it within 1.5 times the floor
        for decimals in range(digits, 16):
            bound = np.ceil(floor * 10 ** decimals * (1 - 1e-12)) / 10 ** decimals
            if bound <= 1.5 * floor:
                break
        return "≤ " + f"{bound:.{decimals}f}".lstrip("0")
    return format_p(p, digits)


def format_number(value: float, digits: int = 3) -> str:
    """``value`` with ``digits`` decimals; an en dash for NaN (undefined)."""
    if value is None or not np.isfinite(value):
        return "–"
    return f"{value:.{digits}f}"


def format_ci(lower: float, upper: float, digits: int = 3, raw: bool = False) -> str:
    """``[lower, upper]``; an en dash when either bound is undefined. With ``raw``
    (bounds in the data's units) tiny non-zero bounds are shown in scientific notation
    (:func:`format_raw`) instead of as 0."""
    if not (np.isfinite(lower) and np.isfinite(upper)):
        return "–"
    if raw:
        return f"[{format_raw(lower, digits)}, {format_raw(upper, digits)}]"
    return f"[{lower:.{digits}f}, {upper:.{digits}f}]"


def format_typographic(value: float, digits: int = 2, leading_zero: bool = True) -> str:
    """``0.49`` -> ``"0.49"`` (or ``".49"`` without the leading zero, APA style); negative
    numbers get a typographic minus sign; NaN gives ``"–"``."""
    if value is None or not math.isfinite(value):
        return "–"
    text = f"{abs(value):.{digits}f}"
    if not leading_zero and text.startswith("0."):
        text = text[1:]
    if float(text) == 0:
        return text
    return ("−" if value < 0 else "") + text
