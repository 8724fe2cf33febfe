"""The only module that imports semopy.

semopy evaluates parts of its model text as Python (``CONSTRAINT(...)`` lines go
through sympy's ``parse_expr``), so no text a user or a file supplied ever reaches it.
:func:`semopy_syntax` writes semopy's model text from lcsem's parameter table alone,
renaming every variable (``o1``, ``o2``, ... observed; ``l1``, ... latent) and every
equality label (``p1``, ...), and checks each line it writes against a strict pattern
(``name op [number*|label*]name``) before semopy sees it; anything else raises.

semopy's solution is only a starting point that lcsem then polishes without bounds
(semopy bounds variances at zero, which hides Heywood cases). It is skipped when semopy
would never return: semopy's start-value search loops forever when a latent variable has
no loading that is fixed or unlabelled (for example ``f =~ a*x1 + a*x2`` with
``std_lv=True``).

semopy logs through the *module-level* ``logging`` functions, which call
``logging.basicConfig()`` and so install a handler on the application's root logger
(and print ``WARNING:root:...``). Here semopy's modules get a stand-in ``logging`` that
sends their messages to the ``"lcsem.semopy"`` logger instead (which has a
``NullHandler``; attach a handler to see them); lcsem never configures logging.
"""

from __future__ import annotations

import importlib
import logging
import re
import sys
import threading
import types
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import EstimationError
from ..spec.partable import ParRow
from ..spec.syntax import format_number

_OBJECTIVES = {"ML": "MLW", "GLS": "GLS", "ULS": "ULS"}

#: The logger that receives semopy's messages.
LOGGER = logging.getLogger("lcsem.semopy")
LOGGER.addHandler(logging.NullHandler())

# every line of text given to semopy matches this (generated names only: o<i>, l<i>, p<i>)
_TOKEN = r"[olp][0-9]+"
_NUMBER = r"-?[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?"
SEMOPY_LINE = re.compile(rf"{_TOKEN} (?:=~|~~|~) (?:(?:{_NUMBER}|{_TOKEN})\*)?{_TOKEN}", re.ASCII)

_IMPORT_LOCK = threading.Lock()
_SEMOPY_MODULES_WITH_LOGGING = ("semopy.model", "semopy.model_means", "semopy.solver", "semopy.plot",
                                "semopy.report.report")


class _LoggingShim(types.ModuleType):
    """Stands in for the ``logging`` module inside semopy's modules: the module-level
    functions log to :data:`LOGGER` (never ``basicConfig``); anything else is the real
    ``logging``."""

    def __init__(self) -> None:
        super().__init__("lcsem_semopy_logging")

    def __getattr__(self, name: str) -> Any:
        return getattr(logging, name)

    @staticmethod
    def debug(msg: object, *args: object, **kwargs: Any) -> None:
        LOGGER.debug(msg, *args, **kwargs)

    @staticmethod
    def info(msg: object, *args: object, **kwargs: Any) -> None:
        LOGGER.info(msg, *args, **kwargs)

    @staticmethod
    def warning(msg: object, *args: object, **kwargs: Any) -> None:
        LOGGER.warning(msg, *args, **kwargs)

    warn = warning

    @staticmethod
    def error(msg: object, *args: object, **kwargs: Any) -> None:
        LOGGER.error(msg, *args, **kwargs)

    @staticmethod
    def exception(msg: object, *args: object, **kwargs: Any) -> None:
        LOGGER.exception(msg, *args, **kwargs)

    @staticmethod
    def critical(msg: object, *args: object, **kwargs: Any) -> None:
        LOGGER.critical(msg, *args, **kwargs)

    @staticmethod
    def log(level: int, msg: object, *args: object, **kwargs: Any) -> None:
        LOGGER.log(level, msg, *args, **kwargs)

    @staticmethod
    def basicConfig(**kwargs: Any) -> None:  # noqa: N802 (logging's name)
        """Never configure the application's logging."""


_SHIM = _LoggingShim()


def import_semopy() -> types.ModuleType:
    """Import semopy without letting it touch the application's logging.

    semopy logs at import time (``semopy.plot`` when graphviz is absent), before its
    modules can be redirected; while it is imported the root logger holds a
    ``NullHandler`` (so ``logging``'s module-level functions do not call
    ``basicConfig``), which is removed again right after.
    """
    with _IMPORT_LOCK:
        semopy = sys.modules.get("semopy")
        if semopy is None:
            root = logging.getLogger()
            guard = logging.NullHandler()
            added = not root.handlers
            if added:
                root.addHandler(guard)
            try:
                semopy = importlib.import_module("semopy")
            finally:
                if added:
                    root.removeHandler(guard)
        for name in _SEMOPY_MODULES_WITH_LOGGING:
            module = sys.modules.get(name)
            if module is not None and getattr(module, "logging", None) is logging:
                module.logging = _SHIM  # type: ignore[attr-defined]
        return semopy


def semopy_names(rows: tuple[ParRow, ...] | list[ParRow]) -> dict[str, str]:
    """lcsem variable name -> the generated name semopy sees (``o<i>``/``l<i>``)."""
    latent = list(dict.fromkeys(r.lhs for r in rows if r.op == "=~"))
    names: dict[str, str] = {n: f"l{i + 1}" for i, n in enumerate(latent)}
    count = 0
    for r in rows:
        if r.op == ":=":
            continue
        for n in (r.lhs, r.rhs):
            if n not in names:
                count += 1
                names[n] = f"o{count}"
    return names


def semopy_syntax(rows: tuple[ParRow, ...] | list[ParRow], names: dict[str, str] | None = None) -> str:
    """semopy model text for the parameter table (no defined parameters).

    Variables are renamed by :func:`semopy_names`; rows sharing a free-parameter number
    get one generated label ``p<free>``; fixed values are written as finite numbers.
    Every line is checked against :data:`SEMOPY_LINE`.

    Raises
    ------
    EstimationError
        When a line would not match the pattern (a value that is not a finite number or
        an operator lcsem does not write); nothing is handed to semopy then.
    """
    names = semopy_names(rows) if names is None else names
    shared = _shared_free(rows)
    lines = []
    for r in rows:
        if r.op == ":=":
            continue
        if not r.free:
            value = float(r.value)
            if not np.isfinite(value):
                raise EstimationError(f"the fixed value of {r.lhs} {r.op} {r.rhs} is {value}; fixed "
                                      f"values must be finite numbers")
            mod = f"{format_number(value)}*"
        elif r.free in shared:
            mod = f"p{int(r.free)}*"
        else:
            mod = ""
        line = f"{names[r.lhs]} {r.op} {mod}{names[r.rhs]}"
        if SEMOPY_LINE.fullmatch(line) is None:
            raise EstimationError(f"refusing to hand semopy the line {line!r} (for {r.lhs} {r.op} "
                                  f"{r.rhs}); it is not of the form 'name op [value*]name'")
        lines.append(line)
    return "\n".join(lines)


def _shared_free(rows: tuple[ParRow, ...] | list[ParRow]) -> set[int]:
    """Free-parameter numbers used by more than one row (equality constraints)."""
    seen: set[int] = set()
    shared: set[int] = set()
    for r in rows:
        if r.op != ":=" and r.free:
            (shared if r.free in seen else seen).add(r.free)
    return shared


def semopy_would_hang(rows: tuple[ParRow, ...] | list[ParRow]) -> bool:
    """True when semopy's start-value search would loop forever on this model.

    semopy scales each latent variable by the first of its loadings that is fixed or
    unlabelled (:meth:`semopy.Model.effect_measurement`), and its ``start_lambda`` follows
    these reference indicators (through higher-order factors) until it reaches an
    observed variable; when a latent variable has no such loading the chain never ends.
    """
    shared = _shared_free(rows)
    latent = list(dict.fromkeys(r.lhs for r in rows if r.op == "=~"))
    reference: dict[str, str | None] = {}
    for f in latent:
        loadings = [r for r in rows if r.op == "=~" and r.lhs == f]
        fixed = [r for r in loadings if not r.free]
        unlabelled = [r for r in loadings if r.free and r.free not in shared]
        first = fixed[0] if fixed else (unlabelled[0] if unlabelled else None)
        reference[f] = None if first is None else first.rhs
    for f in latent:
        seen = {f}
        node: str | None = f
        while node in reference:
            node = reference[node]
            if node is None or node in seen:
                return True
            seen.add(node)
    return False


def semopy_estimates(rows: tuple[ParRow, ...] | list[ParRow], S: np.ndarray, observed: tuple[str, ...],
                     n_obs: int, estimator: str = "ML") -> dict[tuple[str, str, str], float]:
    """Fit with semopy from the covariance ``S``; estimates keyed by lcsem's (lhs, op, rhs).

    Returns an empty dict when semopy fails or would not return, so the caller falls
    back to its own starts.
    """
    if semopy_would_hang(rows):
        return {}
    names = semopy_names(rows)
    text = semopy_syntax(rows, names)   # raises before semopy is touched
    original = {v: k for k, v in names.items()}
    measured = {(r.lhs, r.rhs) for r in rows if r.op == "=~"}
    semopy = import_semopy()
    cov = pd.DataFrame(S, index=[names[o] for o in observed], columns=[names[o] for o in observed])
    try:
        with np.errstate(all="ignore"):
            model = semopy.Model(text)
            model.fit(cov=cov, n_samples=n_obs, obj=_OBJECTIVES[estimator])
            rows_read = _estimate_rows(model)
    except Exception:  # semopy's failure modes are many; lcsem's own optimiser takes over
        return {}
    out: dict[tuple[str, str, str], float] = {}
    for lval, op, rval, est in rows_read:
        try:
            value = float(est)
            lhs, rhs = original[lval], original[rval]
        except (TypeError, ValueError, KeyError):
            continue
        if op == "~" and (rhs, lhs) in measured:
            out[(rhs, "=~", lhs)] = value
        else:
            out[(lhs, op, rhs)] = value
    return out


#: semopy.Model's parameter matrices in the order ``Model.inspect()`` lists them, with the
#: operator it shows (a loading ``f =~ x`` is the ``Lambda`` entry ``x ~ f``)
_SEMOPY_MATRICES = (("beta", "~"), ("lambda", "~"), ("psi", "~~"), ("theta", "~~"))


def _estimate_rows(model: Any) -> list[tuple[str, str, str, float]]:
    """``(lval, op, rval, estimate)`` rows of a fitted ``semopy.Model``, in the order and
    with the values of ``model.inspect()``'s ``lval op rval Estimate`` columns, read from
    the parameter vector and the parameters' matrix locations (``inspect()`` also
    computes standard errors, which lcsem does not use).

    Free parameters take their value from ``model.param_vals`` (ordered as the active
    parameters of ``model.parameters``); fixed ones their start value; fixed covariances
    of observed exogenous variables are left out, as ``inspect()`` leaves them out.
    """
    if any(hasattr(model, f"mx_{m}") for m in ("gamma1", "gamma2", "d", "d1")):
        raise EstimationError("only plain semopy.Model fits are read")  # caught by the caller
    vals = model.param_vals
    active = [name for name, param in model.parameters.items() if param.active]
    position = {name: i for i, name in enumerate(active)}
    obs_exo = set(model.vars["observed"]) & model.vars["exogenous"]
    rows: list[tuple[str, str, str, float]] = []
    for matrix, op in _SEMOPY_MATRICES:
        mx = getattr(model, f"mx_{matrix}", None)
        if mx is None:
            continue
        names = getattr(model, f"names_{matrix}")
        for name, param in model.parameters.items():
            for loc in param.locations:
                if loc.matrix is not mx:
                    continue
                a, b = names[0][loc.indices[0]], names[1][loc.indices[1]]
                if param.active:
                    value = vals[position[name]]
                elif matrix == "psi" and a in obs_exo and b in obs_exo:
                    continue
                else:
                    value = param.start
                rows.append((a, op, b, value))
    return rows
