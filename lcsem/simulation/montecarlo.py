"""Monte Carlo confidence intervals of indirect and defined effects (Preacher & Selig, 2012).

The free parameters are drawn ``n_draws`` times from their asymptotic normal distribution
N(θ̂, V̂) (V̂ the result's covariance of the estimates: lavaan's expected information);
every effect is evaluated on every draw, and the interval is the percentile interval of
those values (type-7 quantiles, as R's ``quantile``). This is semTools' ``monteCarloCI``,
which draws only the labelled parameters a ``:=`` definition uses -- the same marginal
distribution, so the same interval up to Monte Carlo error.
"""

from __future__ import annotations

import numbers
from typing import Any, Iterable

import numpy as np
import pandas as pd

from ..analysis.mediation import _build_effects, _evaluate
from ..exceptions import ArgumentError
from ..inference.standardized import DefinedParameters, standardized_values
from .draw import as_seed_sequence
from .sampling import parameter_draws
from ..results.fit_result import FitResult

__all__ = ["monte_carlo_ci", "parameter_draws"]


def _used_parameters(specs, struct, defined, theta: np.ndarray) -> np.ndarray:
    """Free parameters (sorted positions) on which some effect depends."""
    k = theta.size
    used = np.zeros(k, dtype=bool)
    for point in (theta, theta * 1.1 + 0.05):
        h = 1e-5 * np.maximum(np.abs(point), 1.0)
        up = point[None, :] + np.diag(h)
        down = point[None, :] - np.diag(h)
        diff = _evaluate(specs, struct.row_values(up), defined) - _evaluate(specs, struct.row_values(down), defined)
        used |= np.any(np.abs(np.nan_to_num(diff, nan=1.0)) > 0, axis=1)
    return np.flatnonzero(used)


def monte_carlo_ci(res: Any, n_draws: int = 20000, *, level: float = 0.95, seed: Any = None,
                   standardized: bool = False, source: str | Iterable[str] | None = None,
                   mediators: Iterable[str] | None = None, outcome: str | Iterable[str] | None = None,
                   proportion: bool = True) -> pd.DataFrame:
    """Monte Carlo intervals of every indirect, total and ``:=`` effect of a fitted model.

    Parameters
    ----------
    res
        A fitted :class:`lcsem.FitResult`.
    n_draws
        Number of parameter draws (semTools' ``nRep``; 20,000 is the usual choice).
    level
        Confidence level.
    seed
        None, an int, a ``numpy.random.Generator`` or a ``SeedSequence``.
    standardized
        Also give intervals of the standardised effects (``std.all``), each draw
        standardised by its own implied variances.
    source, mediators, outcome, proportion
        Which effects, as in :func:`lcsem.effects`.

    Returns
    -------
    pandas.DataFrame
        Indexed by effect name as :func:`lcsem.effects` (``"culture->kmsuse->perf"``,
        ``"indirect(culture->perf)"``, ``"ind"``, ...); columns ``effect, source, outcome,
        path, est`` (at the estimates), ``mc_se`` (SD of the draws), ``ci_lower,
        ci_upper``, and with ``standardized=True`` ``std, std_mc_se, std_ci_lower,
        std_ci_upper``. ``attrs`` holds ``n_draws``, ``level`` and the seed entropy.
    """
    if not isinstance(res, FitResult):
        raise ArgumentError(f"res: expected a fitted lcsem.FitResult, got {type(res).__name__}")
    if isinstance(n_draws, bool) or not isinstance(n_draws, numbers.Integral) or n_draws < 2:
        raise ArgumentError(f"n_draws: {n_draws!r} is not a whole number ≥ 2; use e.g. n_draws=20000")
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0 < float(level) < 1:
        raise ArgumentError(f"level: {level!r} is not a probability between 0 and 1; use e.g. 0.95")
    specs = _build_effects(res, source, mediators, outcome, proportion)
    if not specs:
        raise ArgumentError("res: the model has no indirect effect (no chain of two or more structural paths) "
                            "and no ':=' definition; name source= and outcome= to get direct and total effects")
    root = as_seed_sequence(seed)
    struct = res.structure
    defined = DefinedParameters(res.model.rows)
    est = _evaluate(specs, struct.row_values(res.theta[None]), defined)[0]
    if standardized:
        draws = parameter_draws(res, int(n_draws), root)
        values = _evaluate(specs, struct.row_values(draws), defined)
    else:
        # only the parameters the effects depend on are drawn (their marginal distribution),
        # and only their table rows change from the estimates
        used = _used_parameters(specs, struct, defined, res.theta)
        sub = parameter_draws(res, int(n_draws), root, used)
        base = struct.row_values(res.theta[None])[0]
        rows = np.flatnonzero(np.isin(struct.row_free, used))
        where = np.searchsorted(used, struct.row_free[rows])
        values_rows = np.repeat(base[None, :], int(n_draws), axis=0)
        values_rows[:, rows] = sub[:, where]
        values = _evaluate(specs, values_rows, defined)
    q = [(1 - level) / 2, (1 + level) / 2]
    lo, hi = np.nanquantile(values, q, axis=0)
    table = pd.DataFrame({"effect": [e.kind for e in specs], "source": [e.source for e in specs],
                          "outcome": [e.outcome for e in specs], "path": [e.path for e in specs],
                          "est": est, "mc_se": np.nanstd(values, axis=0, ddof=1), "ci_lower": lo, "ci_upper": hi},
                         index=pd.Index([e.name for e in specs], name="name"))
    if standardized:
        std_est = _evaluate(specs, standardized_values(struct, res.theta[None]), defined)[0]
        std_values = np.concatenate([_evaluate(specs, standardized_values(struct, draws[i:i + 2000]), defined)
                                     for i in range(0, draws.shape[0], 2000)])   # cache-sized chunks
        s_lo, s_hi = np.nanquantile(std_values, q, axis=0)
        table["std"] = std_est
        table["std_mc_se"] = np.nanstd(std_values, axis=0, ddof=1)
        table["std_ci_lower"], table["std_ci_upper"] = s_lo, s_hi
    table.attrs.update(n_draws=int(n_draws), level=float(level), seed=root.entropy, method="montecarlo")
    return table
