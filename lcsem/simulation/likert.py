"""Likert categories for simulated data: which thresholds cut each variable.

A latent response y* (standardised by its population SD) falls in category ``k + 1`` when
``k`` of its thresholds lie below it, as in lavaan's ``simulateData`` with ``|``
thresholds. Fitting the data with ``ordered=True`` recovers these thresholds.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..exceptions import ArgumentError

__all__ = ["MAX_POINTS", "LikertCuts", "likert_cuts", "likert_thresholds"]

MAX_POINTS = 10
_SPAN = 2.5


def likert_thresholds(points: int) -> np.ndarray:
    """The ``points - 1`` equally spaced thresholds on [-2.5, 2.5] that ``likert=points``
    uses (symmetric, bell-shaped responses)."""
    if isinstance(points, bool) or not isinstance(points, numbers.Integral) or not 2 <= points <= MAX_POINTS:
        raise ArgumentError(f"likert: {points!r} is not a number of categories from 2 to {MAX_POINTS}; "
                            f"use e.g. likert=5, or give the thresholds")
    return np.linspace(-_SPAN, _SPAN, int(points) + 1)[1:-1]


@dataclass(frozen=True)
class LikertCuts:
    """The thresholds (in population-SD units) of every variable, in variable order."""

    thresholds: tuple[np.ndarray, ...]

    def cut(self, data: np.ndarray, sd: np.ndarray) -> np.ndarray:
        """Categories ``1..K+1`` of ``data`` (last axis = variables) standardised by ``sd``."""
        z = data / sd
        out = np.empty(z.shape, dtype=float)
        for j, tau in enumerate(self.thresholds):
            out[..., j] = np.searchsorted(tau, z[..., j]) + 1.0
        return out

    def describe(self) -> str:
        """A short description for reports ("cut into 5 categories")."""
        points = sorted({t.size + 1 for t in self.thresholds})
        return f"cut into {points[0]} categories" if len(points) == 1 else \
            f"cut into {points[0]}–{points[-1]} categories"


def _as_thresholds(value, where: str) -> np.ndarray:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return likert_thresholds(int(value))
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise ArgumentError(f"{where}: {value!r} is neither a number of categories nor a list of thresholds; "
                            f"use e.g. 5 or [-1.5, -0.5, 0.5, 1.5]")
    try:
        tau = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ArgumentError(f"{where}: {value!r} is not a list of numbers; use e.g. [-1.5, -0.5, 0.5, 1.5]") from None
    if tau.ndim != 1 or not 1 <= tau.size <= MAX_POINTS - 1 or not np.all(np.isfinite(tau)) \
            or np.any(np.diff(tau) <= 0):
        raise ArgumentError(f"{where}: {value!r} must be 1 to {MAX_POINTS - 1} finite, strictly increasing "
                            f"thresholds (SD units), e.g. [-1.5, -0.5, 0.5, 1.5]")
    return tau


def likert_cuts(likert, names: Sequence[str]) -> LikertCuts | None:
    """Normalise ``simulate``'s ``likert`` argument: None, a number of categories (2..10,
    equally spaced thresholds on [-2.5, 2.5]), one list of thresholds for every variable,
    or ``{variable: categories or thresholds}`` (variables not named stay continuous is not
    allowed: name every variable or none)."""
    if likert is None or isinstance(likert, LikertCuts):
        return likert
    if isinstance(likert, Mapping):
        unknown = [k for k in likert if k not in names]
        if unknown:
            raise ArgumentError(f"likert: {unknown[0]!r} is not an observed variable of the model; "
                                f"use one of {list(names)}")
        missing = [v for v in names if v not in likert]
        if missing:
            raise ArgumentError(f"likert: no categories given for {missing[0]!r}; give every observed "
                                f"variable its categories or thresholds")
        return LikertCuts(tuple(_as_thresholds(likert[v], f"likert[{v!r}]") for v in names))
    tau = _as_thresholds(likert, "likert")
    return LikertCuts(tuple(tau for _ in names))
