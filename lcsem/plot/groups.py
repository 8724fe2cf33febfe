"""Which group of a multi-group result a plot draws.

A multi-group fit (``lcsem.fit(..., group="sector")``) has one single-group view per
group (:attr:`lcsem.FitResult.groups`) holding that group's estimates, standardised
values and R² from the joint fit. :func:`group_view` picks the view a plot draws
(``group=`` as a label or a 1-based number).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import ArgumentError
from ..results.fit_result import FitResult

__all__ = ["group_view", "group_note", "group_size"]


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _options_text(result: FitResult) -> str:
    labels = ", ".join(repr(g) for g in result.group_labels)
    return (f"group='{result.group_labels[0]}' (a label of {result.group!r}: {labels}) or "
            f"group=1 (a number, 1 to {result.n_groups})")


def group_view(result: FitResult, group: str | int | None, caller: str) -> tuple[FitResult, str, int]:
    """The single-group result ``caller`` draws: ``(view, label, number)``.

    A result without groups or mean structure is returned as it is (label ``""``,
    number 1). A single-group mean-structure result gives its covariance-structure view
    (``result.groups["1"]``). A multi-group result needs ``group``: a label (``str``,
    one of ``result.group_labels``) or a 1-based number (``int``, lavaan's group number).

    Raises
    ------
    ArgumentError
        ``group`` missing on a multi-group result, or not one of its groups.
    """
    multi = bool(getattr(result, "group_labels", ()))
    if not multi:
        if group is not None and not (group == 1 or group == "1"):
            raise ArgumentError(f"group: {group!r} given, but the result has one group; leave group=None")
        if getattr(result, "grouped", False):
            return result.groups["1"], "1", 1
        return result, "", 1
    if group is None:
        raise ArgumentError(
            f"{caller}: the result is a {result.n_groups}-group fit ({result.group}); pass "
            f"{_options_text(result)} to draw one group, or draw every group in one figure with "
            f"lcsem.plot_groups(result)")
    if _is_int(group):
        if not 1 <= int(group) <= result.n_groups:
            raise ArgumentError(f"group: {group!r} is not a group number of this fit; pass "
                                f"{_options_text(result)}")
        number = int(group)
        label = result.group_labels[number - 1]
    elif isinstance(group, str):
        if group not in result.group_labels:
            raise ArgumentError(f"group: {group!r} is not a group of this fit; pass {_options_text(result)}")
        label = group
        number = result.group_labels.index(group) + 1
    else:
        raise ArgumentError(f"group: expected a group label (str) or number (int), got "
                            f"{type(group).__name__}; pass {_options_text(result)}")
    return result.groups[label], label, number


def group_size(view: FitResult) -> int:
    """N of a group's view."""
    return int(view.n_obs)


def group_note(result: FitResult, label: str, view: FitResult) -> str:
    """The caption line of one group drawn alone (its N; the fit is the whole model's)."""
    if not result.group_labels:
        return ""
    return (f"Group {label} (N = {group_size(view)}) of a {result.n_groups}-group model "
            f"({result.group}); fit of the whole model:")


