"""The one place that decides what a variable name, a label and a model number may be.

Every way of building a model (model text, the builder methods, the :class:`~lcsem.Model`
constructor, saved results, the command line) validates through these functions, and
the text lcsem hands to semopy is re-checked against the same rules. A name is ASCII
letters, digits, ``_`` and ``.``, starting with a letter or ``_`` (lavaan's rule), so it
can never carry parentheses, quotes, operators, spaces, newlines or look-alike
characters; a number is a finite float of moderate size.
"""

from __future__ import annotations

import math
import numbers
import re

from .exceptions import ArgumentError

__all__ = ["NAME_PATTERN", "MAX_NAME_LENGTH", "MAX_ABS_VALUE", "is_name", "check_name",
           "check_label", "check_number", "check_level", "describe_value"]

#: A variable name or label (ASCII only; ``re.fullmatch`` so a trailing newline never matches).
NAME_PATTERN = r"[A-Za-z_][A-Za-z0-9_.]*"
_NAME_RE = re.compile(NAME_PATTERN, re.ASCII)
#: Longest accepted name (lavaan has no limit; longer names are almost surely a mistake).
MAX_NAME_LENGTH = 256
#: Largest magnitude of a fixed or start value: larger values overflow the implied moments.
MAX_ABS_VALUE = 1e10


def describe_value(value: object, limit: int = 60) -> str:
    """``repr(value)``, shortened for error messages."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit - 15]}...{text[-12:]} ({len(text)} chars)"


def is_name(value: object) -> bool:
    """True when ``value`` is a valid variable name or label."""
    return (isinstance(value, str) and len(value) <= MAX_NAME_LENGTH
            and _NAME_RE.fullmatch(value) is not None)


def check_name(value: object, argument: str, what: str = "variable name") -> str:
    """Return ``value`` when it is a valid name, else raise :class:`ArgumentError`.

    Parameters
    ----------
    value
        The candidate name.
    argument
        Where it came from, as the user wrote it (e.g. ``"add_path(outcome=...)"``); it
        starts the error message.
    what
        What the name is for (``"variable name"``, ``"label"``, ...).
    """
    if is_name(value):
        return value  # type: ignore[return-value]
    if not isinstance(value, str):
        reason = f"expected a str, got {type(value).__name__}"
    elif len(value) > MAX_NAME_LENGTH:
        reason = f"it is {len(value)} characters long (at most {MAX_NAME_LENGTH})"
    else:
        reason = ("use ASCII letters, digits, '_' and '.', starting with a letter or '_' "
                  "(no spaces, operators, brackets, quotes or line breaks)")
    raise ArgumentError(f"{argument}: {describe_value(value)} is not a valid {what}; {reason}")


def check_label(value: object, argument: str) -> str:
    """Return ``value`` when it is ``""`` (no label) or a valid label, else raise."""
    if isinstance(value, str) and value == "":
        return value
    return check_name(value, argument, "label")


def check_number(value: object, argument: str, *, allow_none: bool = True) -> float | None:
    """Return ``value`` as a finite float of magnitude at most :data:`MAX_ABS_VALUE`.

    Booleans, strings, NaN, infinities and numbers too large for a float are refused with
    :class:`ArgumentError` (never ``OverflowError``).
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ArgumentError(f"{argument}: expected a number, got {describe_value(value)} "
                            f"({type(value).__name__})")
    try:
        number = float(value)
    except (OverflowError, ValueError):
        number = math.inf
    if not math.isfinite(number) or abs(number) > MAX_ABS_VALUE:
        raise ArgumentError(f"{argument}: {describe_value(value)} is not a usable value; fixed and "
                            f"start values must be finite numbers between {-MAX_ABS_VALUE:g} and "
                            f"{MAX_ABS_VALUE:g} (rescale the variable if it needs larger values)")
    return number


def check_level(level: object) -> float:
    """Validate a confidence level in (0, 1)."""
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0 < float(level) < 1:
        raise ArgumentError(f"level: {level!r} is not a confidence level; use a number between 0 and 1 "
                            f"such as 0.95")
    return float(level)
