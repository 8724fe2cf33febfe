"""Parameter tables of models with ordered (ordinal) indicators, as lavaan's ``ordered=``.

:func:`ordinal_table` is :func:`lcsem.spec.groups.group_table` for ordered indicators: it
checks ``ordered`` (variable -> number of thresholds, i.e. categories - 1) and the
parameterisation, then builds lavaan's table (``lav_partable_flat`` / ``lavaanify``):

- thresholds ``y | t1`` ... ``y | tK`` per ordered variable, free (as written when the text
  writes them, with modifiers: ``y | 0*t1``, ``y | a*t1``, ``y | c(t1a, t1b)*t1``);
- the ordered variables' (residual) variances ``y ~~ y`` fixed to 1, their scaling factors
  ``y ~*~ y`` fixed to 1 and their intercepts ``y ~1`` fixed to 0; latent means fixed to 0;
  the mean structure always on; continuous indicators keep their usual rows;
- several groups: ``"thresholds"`` in ``group_equal`` holds the thresholds equal, frees the
  latent means in groups 2..G (unless ``"means"`` is also held equal) and frees the scaling
  factors (delta) or the ordered residual variances (theta) in groups 2..G; explicit
  syntax (``semTools::measEq.syntax``, Wu & Estabrook 2016 identification) says everything
  itself with ``c(...)`` modifiers.

:class:`OrdinalRows` is a small view of such a table for the estimation side: which
parameters are thresholds, scaling factors and ordered residual variances.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Mapping, Sequence

from .._validation import describe_value, is_name
from ..exceptions import ArgumentError
from .groups import PARAMETERIZATIONS, group_table
from .model import Model
from .partable import ParRow

__all__ = ["ordinal_table", "check_ordered", "ordinal_n_moments", "OrdinalRows", "ordinal_rows",
           "MAX_THRESHOLDS", "ORDINAL_ESTIMATORS"]

#: Estimators for ordered indicators -> (weights, standard errors, test), as lavaan resolves
#: them. Here, below the estimation layer, so that saved results and the command line check
#: names against the one list.
ORDINAL_ESTIMATORS = {
    "WLSMV": ("DWLS", "robust.sem", "scaled.shifted"),
    "WLSM": ("DWLS", "robust.sem", "satorra.bentler"),
    "DWLS": ("DWLS", "standard", "standard"),
    "WLS": ("WLS", "standard", "standard"),
    "ULSMV": ("ULS", "robust.sem", "scaled.shifted"),
    "ULSM": ("ULS", "robust.sem", "satorra.bentler"),
    "ULS": ("ULS", "standard", "standard"),
}

#: Most thresholds lcsem accepts for one ordered variable (more than 10 categories is
#: almost surely a continuous variable declared ordered by mistake).
MAX_THRESHOLDS = 19


def check_ordered(model: Model, ordered: object) -> dict[str, int]:
    """``ordered`` checked and restricted to the model's observed variables, in their order.

    Parameters
    ----------
    model
        The model.
    ordered
        Mapping of variable name to its number of thresholds (categories - 1, at least 1).
        Names the model does not use are ignored (as lavaan), but a latent variable's name
        is an error.

    Returns
    -------
    dict
        Ordered observed variables of the model -> number of thresholds, in the model's
        order of observed variables.
    """
    if not isinstance(ordered, Mapping):
        raise ArgumentError(f"ordered: expected a mapping of variable names to numbers of thresholds "
                            f"(categories - 1), e.g. {{'y1': 4}}, got {describe_value(ordered)}")
    for name, n in ordered.items():
        if not is_name(name):
            raise ArgumentError(f"ordered: {describe_value(name)} is not a variable name")
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or not 1 <= n <= MAX_THRESHOLDS:
            raise ArgumentError(
                f"ordered[{name!r}]: expected the number of thresholds (categories - 1), a whole "
                f"number from 1 to {MAX_THRESHOLDS}, got {describe_value(n)}; an item with one "
                f"category carries no information (drop it) and one with more than "
                f"{MAX_THRESHOLDS + 1} categories is better treated as continuous")
        if name in model.latent:
            raise ArgumentError(f"ordered: {name!r} is a latent variable of the model; only observed "
                                f"indicators can be ordered")
    return {name: int(ordered[name]) for name in model.observed if name in ordered}


def ordinal_table(model: Model, ordered: Mapping[str, int], n_groups: int = 1, *,
                  group_equal: Sequence[str] = (), group_partial: Sequence[str] = (),
                  parameterization: str = "delta") -> tuple[ParRow, ...]:
    """lavaan's parameter table of ``model`` with ordered indicators.

    Parameters
    ----------
    model
        The model (its text may write thresholds ``y | t1``, scaling factors ``y ~*~ y``
        and per-group ``c(...)`` modifiers, as ``semTools::measEq.syntax`` does).
    ordered
        Ordered variable -> number of thresholds (categories - 1). Variables the model
        does not use are ignored; a variable whose thresholds the text writes must be
        here, with at least as many thresholds as written.
    n_groups
        Number of groups.
    group_equal, group_partial
        As :func:`lcsem.spec.groups.group_table`, plus ``"thresholds"`` (and rows such as
        ``"y1 | t2"`` in ``group_partial``).
    parameterization
        ``"delta"`` (lavaan's default) or ``"theta"``.

    Returns
    -------
    tuple of ParRow
        Group 1's rows (written rows, then thresholds, variances, scaling factors, means:
        lavaan's order and, in one group, lavaan's ``free`` numbering), group 2's, ...,
        then the ``:=`` rows. Rows sharing a ``free`` number are one parameter (lavaan's
        ``==`` constraints between ``.pN.`` labels).

    Raises
    ------
    ArgumentError
        ``ordered`` is not a mapping of names to 1..19 thresholds, names a latent
        variable or no variable of the model; ``parameterization`` is unknown.
    ModelSpecificationError
        Thresholds or a scaling factor of a variable that is not ordered, a threshold
        beyond the variable's number of thresholds, or an ordered covariate.
    """
    if parameterization not in PARAMETERIZATIONS:
        raise ArgumentError(f"parameterization: expected 'delta' or 'theta', got "
                            f"{describe_value(parameterization)}")
    checked = check_ordered(model, ordered)
    if not ordered:
        raise ArgumentError("ordered: no ordered variable given; name the ordered indicators and their "
                            "numbers of thresholds (categories - 1), e.g. {'y1': 4}")
    if not checked:
        raise ArgumentError(f"ordered: none of {sorted(map(str, ordered))[:5]} is an observed variable "
                            f"of the model ({', '.join(model.observed[:6])}"
                            f"{', ...' if len(model.observed) > 6 else ''}); name the ordered indicators")
    return group_table(model, n_groups, group_equal=group_equal, group_partial=group_partial,
                       meanstructure=True, ordered=checked, parameterization=parameterization)


def ordinal_n_moments(model: Model, ordered: Mapping[str, int], n_groups: int = 1) -> int:
    """Number of sample statistics lavaan fits with ordered indicators (its ``WLS.obs``):
    per group the thresholds, the continuous variables' means and variances, and the
    ``p (p - 1) / 2`` polychoric / polyserial / Pearson correlations of the ``p`` observed
    variables. The degrees of freedom are ``ordinal_n_moments(...) - n_free(rows)``.
    """
    checked = check_ordered(model, ordered)
    p = len(model.observed)
    n_continuous = p - len(checked)
    return n_groups * (sum(checked.values()) + 2 * n_continuous + p * (p - 1) // 2)


@dataclass(frozen=True)
class OrdinalRows:
    """Which rows of an ordinal table are thresholds, scaling factors and ordered
    residual variances (indices into the table, in table order), per group.

    Attributes
    ----------
    ordered
        Ordered variables, in the table's order.
    thresholds
        ``{group: ((variable, (row index of t1, t2, ...)), ...)}``.
    scaling
        ``{group: {variable: row index of 'y ~*~ y'}}``.
    residual_variances
        ``{group: {variable: row index of 'y ~~ y'}}``.
    intercepts
        ``{group: {variable: row index of 'y ~1'}}`` (ordered variables only).
    """

    ordered: tuple[str, ...]
    thresholds: Mapping[int, tuple[tuple[str, tuple[int, ...]], ...]]
    scaling: Mapping[int, Mapping[str, int]]
    residual_variances: Mapping[int, Mapping[str, int]]
    intercepts: Mapping[int, Mapping[str, int]]

    def threshold_names(self, group: int = 1) -> tuple[str, ...]:
        """lavaan's names of the thresholds of ``group`` (``"y1|t1"``), in table order,
        which is the order of lavaan's ``th`` vector for the ordered variables."""
        return tuple(f"{name}|t{k}" for name, idx in self.thresholds[group]
                     for k in range(1, len(idx) + 1))


def ordinal_rows(rows: Sequence[ParRow]) -> OrdinalRows:
    """The :class:`OrdinalRows` view of ``rows`` (a table from :func:`ordinal_table`).

    Ordered variables are listed in the model's order of observed variables (that of
    :attr:`lcsem.Model.observed` and of lavaan's ``th`` vector), whatever order the text
    writes their rows in, and the thresholds of each t1, t2, ...; every ordered variable
    has its scaling factor, variance and intercept rows in every group (the table always
    has them)."""
    rows = list(rows)
    scaled = {r.lhs for r in rows if r.op == "~*~"}
    # the model's order of observed variables (indicators in order of appearance first,
    # as Model.observed and lavaan's ov.names), which is the order of lavaan's th vector
    names = [r.rhs for r in rows if r.op == "=~"] + [n for r in rows if r.op != ":=" for n in (r.lhs, r.rhs)]
    ordered = tuple(n for n in dict.fromkeys(names) if n in scaled)
    groups = sorted({r.group for r in rows if r.op != ":="})
    ths: dict[int, tuple] = {}
    scaling: dict[int, dict[str, int]] = {}
    variances: dict[int, dict[str, int]] = {}
    intercepts: dict[int, dict[str, int]] = {}
    for g in groups:
        by_var: dict[str, dict[int, int]] = {}
        for i, r in enumerate(rows):
            if r.group == g and r.op == "|":
                by_var.setdefault(r.lhs, {})[int(r.rhs[1:])] = i
        ths[g] = tuple((name, tuple(by_var[name][k] for k in sorted(by_var[name])))
                       for name in ordered if name in by_var)
        scaling[g] = {r.lhs: i for i, r in enumerate(rows) if r.group == g and r.op == "~*~"}
        variances[g] = {r.lhs: i for i, r in enumerate(rows)
                        if r.group == g and r.op == "~~" and r.lhs == r.rhs and r.lhs in ordered}
        intercepts[g] = {r.lhs: i for i, r in enumerate(rows)
                         if r.group == g and r.op == "~1" and r.lhs in ordered}
    return OrdinalRows(ordered, ths, scaling, variances, intercepts)
