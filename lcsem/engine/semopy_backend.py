"""The only module that imports semopy.

semopy is given model text that lcsem generates from its own validated parameter table
(names, numbers and labels only), never the user's text, so semopy's ``CONSTRAINT(...)``
evaluation can never be reached. Its solution is the starting point that lcsem then
polishes without bounds (semopy bounds variances at zero, which hides Heywood cases).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..spec.partable import ParRow
from ..spec.syntax import format_number

_OBJECTIVES = {"ML": "MLW", "GLS": "GLS", "ULS": "ULS"}


def semopy_syntax(rows: tuple[ParRow, ...] | list[ParRow]) -> str:
    """semopy model text for the parameter table (no defined parameters)."""
    lines = []
    for r in rows:
        if r.op == ":=":
            continue
        if not r.free:
            mod = f"{format_number(r.value)}*"
        elif r.label:
            mod = f"{r.label}*"
        else:
            mod = ""
        lines.append(f"{r.lhs} {r.op} {mod}{r.rhs}")
    return "\n".join(lines)


def semopy_estimates(rows: tuple[ParRow, ...] | list[ParRow], S: np.ndarray, observed: tuple[str, ...],
                     n_obs: int, estimator: str = "ML") -> dict[tuple[str, str, str], float]:
    """Fit with semopy from the covariance ``S``; estimates keyed by lcsem's (lhs, op, rhs).

    Returns an empty dict when semopy fails, so the caller can fall back to its own starts.
    """
    import semopy  # local import: keeps ``import lcsem`` light

    measured = {(r.lhs, r.rhs) for r in rows if r.op == "=~"}
    cov = pd.DataFrame(S, index=list(observed), columns=list(observed))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = semopy.Model(semopy_syntax(rows))
            model.fit(cov=cov, n_samples=n_obs, obj=_OBJECTIVES[estimator])
            table = model.inspect()
    except Exception:  # semopy's failure modes are many; lcsem's own optimiser takes over
        return {}
    out: dict[tuple[str, str, str], float] = {}
    for lval, op, rval, est in table[["lval", "op", "rval", "Estimate"]].itertuples(index=False):
        try:
            value = float(est)
        except (TypeError, ValueError):
            continue
        if op == "~" and (rval, lval) in measured:
            out[(rval, "=~", lval)] = value
        else:
            out[(lval, op, rval)] = value
    return out

