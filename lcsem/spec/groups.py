"""Multi-group parameter tables with lavaan's semantics (``group_equal``, ``group_partial``).

One table for all groups: group 1's rows, then group 2's, ..., then the ``:=`` rows
(group 0). Every group has the same structure; its parameters are its own unless

- a label is shared: a plain label (``a*x``) in a multi-group model is the same label in
  every group, so one parameter (lavaan); ``c(a1, a2)*x`` gives each group its label;
- ``group_equal`` names a class of parameters held equal across groups (lavaan's names:
  ``"loadings"``, ``"intercepts"``, ``"means"``, ``"residuals"``, ``"residual.covariances"``,
  ``"lv.variances"``, ``"lv.covariances"``, ``"regressions"``, and for ordered indicators
  ``"thresholds"``), except the rows named in ``group_partial`` (lavaan's row strings such
  as ``"visual =~ x2"``, ``"x3 ~ 1"`` or ``"y1 | t2"``).

Equal rows share one global free-parameter number (or, when one of them is fixed, are all
fixed to the first fixed row's value, as lavaan). Multi-group models always have a mean
structure: observed intercepts free, latent means fixed to 0, and, with ``"intercepts"``
(or ``"thresholds"``) in ``group_equal`` but not ``"means"``, latent means free in groups
2..G (lavaan). With ordered indicators and ``"thresholds"`` in ``group_equal``, groups 2..G
also free the scaling factors (``~*~``, delta parameterisation) or the ordered variables'
residual variances (theta parameterisation), as lavaan's ``lav_partable_flat``.
"""

from __future__ import annotations

import numbers
import re
from dataclasses import replace
from typing import Mapping, Sequence

from .._validation import describe_value
from ..exceptions import ArgumentError, ModelSpecificationError, NotSupportedError
from .model import Model, fixed_x_numbers
from .partable import (ParRow, _key, all_labels, build_partable, has_intercepts, is_ordinal,
                       variable_roles)
from .syntax import GroupModifier, Statement

__all__ = ["GROUP_EQUAL", "PARAMETERIZATIONS", "group_table", "mean_structure_needed", "view_model",
           "n_moments", "n_free", "fixed_x_free", "parse_partial", "shared_labels"]

#: lavaan's ``group.equal`` classes that lcsem implements (``"thresholds"``: ordered
#: indicators only).
GROUP_EQUAL = ("loadings", "intercepts", "means", "residuals", "residual.covariances",
               "lv.variances", "lv.covariances", "regressions", "thresholds")
_REFUSED = {"composite.loadings": "composites ('<~') are not supported"}
#: lavaan's parameterisations of ordered indicators.
PARAMETERIZATIONS = ("delta", "theta")


def mean_structure_needed(model: Model, meanstructure: bool, n_groups: int) -> bool:
    """Whether the table has intercepts and means: lavaan's rules.

    True when asked for (``meanstructure``), with more than one group (lavaan's
    multi-group default), or when the model writes any ``~ 1``.
    """
    return bool(meanstructure) or n_groups > 1 or has_intercepts(list(model.statements))


def n_moments(p: int, n_groups: int = 1, meanstructure: bool = False) -> int:
    """Number of sample moments lavaan counts for ``p`` observed variables:
    ``G * (p (p + 1) / 2 + p)`` with a mean structure, without it ``G * p (p + 1) / 2``.

    The degrees of freedom are ``n_moments(...) - n_free(rows)`` (the covariates' moments
    of lavaan's ``fixed.x`` count on both sides, so they cancel as in lavaan)."""
    return n_groups * (p * (p + 1) // 2 + (p if meanstructure else 0))


def n_free(rows: Sequence[ParRow]) -> int:
    """Number of distinct free parameters (distinct non-zero ``free`` numbers)."""
    return len({r.free for r in rows if r.free and r.op != ":="})


def fixed_x_free(model: Model, rows: Sequence[ParRow]) -> frozenset[int]:
    """Global free numbers of the exogenous covariates' automatic moments in ``rows``
    (lavaan's ``fixed.x``: given, not counted in ``npar``), in every group."""
    return fixed_x_numbers(rows, model.roles.exogenous_observed)


def shared_labels(model: Model) -> tuple[str, ...]:
    """Labels written once for all groups (``a*x``, not ``c(a1, a2)*x``), in order.

    In a multi-group model each is one parameter in every group; lavaan warns about them
    when ``group.equal`` is empty ("using a single label per parameter in a multiple group
    setting implies imposing equality constraints across all the groups")."""
    return tuple(dict.fromkeys(s.label for s in model.statements if s.op != ":=" and s.label))


def _check_options(n_groups: object, group_equal: object, group_partial: object, ordinal: bool = False
                   ) -> tuple[int, tuple[str, ...], tuple[str, ...]]:
    if isinstance(n_groups, bool) or not isinstance(n_groups, numbers.Integral) or n_groups < 1:
        raise ArgumentError(f"n_groups: expected a whole number >= 1, got {describe_value(n_groups)}")
    out = []
    for name, value in (("group_equal", group_equal), ("group_partial", group_partial)):
        if isinstance(value, str):
            value = (value,)
        try:
            items = tuple(value)  # type: ignore[arg-type]
        except TypeError:
            raise ArgumentError(f"{name}: expected a list of strings, got {describe_value(value)}") from None
        for item in items:
            if not isinstance(item, str):
                raise ArgumentError(f"{name}: expected strings, got {describe_value(item)} "
                                    f"({type(item).__name__})")
        out.append(items)
    for item in out[0]:
        if item in _REFUSED:
            raise NotSupportedError(f"group_equal: {item!r}: {_REFUSED[item]}; use the classes "
                                    f"{', '.join(GROUP_EQUAL)}")
        if item not in GROUP_EQUAL:
            raise ArgumentError(f"group_equal: {item!r} is not one of lavaan's classes; use any of "
                                f"{', '.join(repr(g) for g in GROUP_EQUAL)}")
        if item == "thresholds" and not ordinal:
            raise NotSupportedError("group_equal: 'thresholds': thresholds belong to ordered (ordinal) "
                                    "indicators and this model has none; fit with ordered=[...] or "
                                    "leave 'thresholds' out")
    return int(n_groups), out[0], out[1]


def _check_values(statements: Sequence[Statement], n_groups: int) -> None:
    for s in statements:
        if s.groups is not None and len(s.groups) not in (1, n_groups):
            values = ", ".join(_value_text(m) for m in s.groups)
            raise ModelSpecificationError(
                f"line {s.line}: '{s.term_text()}' gives {len(s.groups)} values ({values}) but the "
                f"data have {n_groups} group{'s' if n_groups > 1 else ''}; give one value per group "
                f"in c(...), in the order the groups appear in the data")


def _value_text(m: GroupModifier) -> str:
    parts = []
    if m.fixed is not None:
        parts.append(f"{m.fixed:g}")
    elif m.free_forced:
        parts.append("NA")
    if m.label:
        parts.append(m.label)
    if m.start is not None:
        parts.append(f"start {m.start:g}")
    return "/".join(parts) or "-"


def _row_name(lhs: str, op: str, rhs: str) -> str:
    """lavaan's internal row label: ``lhs op rhs`` without spaces (``x3~1`` for intercepts)."""
    return f"{lhs}{op}{rhs}"


def parse_partial(group_partial: Sequence[str], rows: Sequence[ParRow]) -> set[tuple[str, str, str]]:
    """(lhs, op, rhs) of the rows named by ``group_partial`` (lavaan's strings, white space
    ignored; ``"x3 ~ 1"`` and ``"x3~1"`` name an intercept; ``"a ~~ b"`` either way round)."""
    names: dict[str, tuple[str, str, str]] = {}
    for r in rows:
        if r.op == ":=":
            continue
        names[_row_name(r.lhs, r.op, r.rhs)] = (r.lhs, r.op, r.rhs)
        if r.op == "~~":
            names.setdefault(_row_name(r.rhs, r.op, r.lhs), (r.lhs, r.op, r.rhs))
    out = set()
    for text in group_partial:
        key = re.sub(r"\s+", "", text)
        if key in names:
            out.add(names[key])
            continue
        examples = [f"{r.lhs} {'~ 1' if r.op == '~1' else r.op + ' ' + r.rhs}" for r in rows
                    if r.op in ("=~", "~1")][:3]
        raise ArgumentError(f"group_partial: {text!r} is not a parameter of the model; name a row as "
                            f"lavaan writes it, e.g. {', '.join(repr(e) for e in examples)}")
    return out


def _flagged(r: ParRow, group_equal: tuple[str, ...], latent: set[str], ov_nox: set[str]) -> bool:
    """Whether ``group_equal`` holds this (group-1) row equal across groups (lavaan's
    ``lav_partable_labels``)."""
    eq = set(group_equal)
    if r.op == "=~":
        return "loadings" in eq
    if r.op == "~":
        return "regressions" in eq
    if r.op == "|":
        return "thresholds" in eq
    if r.op == "~1":
        return ("intercepts" in eq and r.lhs in ov_nox) or ("means" in eq and r.lhs in latent)
    if r.op == "~~":
        if r.lhs in ov_nox:
            return ("residuals" if r.lhs == r.rhs else "residual.covariances") in eq
        if r.lhs in latent:
            return ("lv.variances" if r.lhs == r.rhs else "lv.covariances") in eq
    return False


def group_table(model: Model, n_groups: int = 1, *, group_equal: Sequence[str] = (),
                group_partial: Sequence[str] = (), meanstructure: bool = False,
                ordered: Mapping[str, int] | None = None, parameterization: str = "delta"
                ) -> tuple[ParRow, ...]:
    """The parameter table of ``model`` fitted to ``n_groups`` groups (lavaan's semantics).

    Parameters
    ----------
    model
        The model; its ``c(...)`` modifiers give one value per group (or one for all).
    n_groups
        Number of groups (1: the single-group table; without a mean structure it is
        exactly ``model.rows``).
    group_equal
        lavaan's ``group.equal`` classes held equal across groups (see :data:`GROUP_EQUAL`;
        ``"thresholds"`` needs ordered indicators).
    group_partial
        Rows released from ``group_equal``, as lavaan writes them (``"visual =~ x2"``,
        ``"x3 ~ 1"``, ``"f1 ~~ f2"``, ``"y1 | t2"``).
    meanstructure
        Add intercepts and means (always on with several groups, with ``"intercepts"`` or
        ``"means"`` in ``group_equal``, with ordered indicators, or when the model writes
        ``~ 1``).
    ordered
        Ordered indicators and their numbers of thresholds (see
        :func:`lcsem.spec.ordinal.ordinal_table`, which checks it); None: those whose
        thresholds the model text writes.
    parameterization
        ``"delta"`` or ``"theta"`` (ordered indicators only; decides which parameters
        ``"thresholds"`` frees in groups 2..G).

    Returns
    -------
    tuple of ParRow
        Group 1's rows, group 2's, ..., then the ``:=`` rows (group 0). ``free`` numbers
        are global (1..k); rows sharing one are one parameter.
    """
    statements = list(model.statements)
    ordinal = is_ordinal(statements, ordered)
    n_groups, group_equal, group_partial = _check_options(n_groups, group_equal, group_partial, ordinal)
    if parameterization not in PARAMETERIZATIONS:
        raise ArgumentError(f"parameterization: expected 'delta' or 'theta', got "
                            f"{describe_value(parameterization)}")
    _check_values(statements, n_groups)
    means = (mean_structure_needed(model, meanstructure, n_groups) or ordinal
             or bool({"intercepts", "means"} & set(group_equal)))
    labels = all_labels(statements)
    roles = variable_roles(statements)
    latent = set(roles.latent)
    ov_nox = set(roles.observed) - set(roles.exogenous_observed)
    equal = set(group_equal) if n_groups > 1 else set()
    free_lv_means = bool({"intercepts", "thresholds"} & equal) and "means" not in equal
    free_lv_vars = model.std_lv and "loadings" in equal and "lv.variances" not in equal
    # lavaan: equal thresholds free the scaling factors (delta) or the ordered variables'
    # residual variances (theta) in groups 2..G
    free_ord_scale = "thresholds" in equal and parameterization == "delta"
    free_ord_vars = "thresholds" in equal and parameterization == "theta"

    per_group: list[list[ParRow]] = []
    for g in range(1, n_groups + 1):
        rows = build_partable([s.in_group(g) for s in statements], model.std_lv, means, labels,
                              ordered=ordered)
        ord_names = {r.lhs for r in rows if r.op == "~*~"}
        body = []
        for r in rows:
            if r.op == ":=":
                continue
            if g > 1 and not r.user:
                if free_lv_means and r.op == "~1" and r.lhs in latent:
                    r = replace(r, free=1, value=float("nan"))
                elif free_lv_vars and r.op == "~~" and r.lhs == r.rhs and r.lhs in latent:
                    r = replace(r, free=1, value=float("nan"))
                elif free_ord_scale and r.op == "~*~":
                    r = replace(r, free=1, value=float("nan"))
                elif free_ord_vars and r.op == "~~" and r.lhs == r.rhs and r.lhs in ord_names:
                    r = replace(r, free=1, value=float("nan"))
            body.append(replace(r, group=g))
        per_group.append(body)

    released = parse_partial(group_partial, per_group[0]) if group_partial else set()
    flagged = {(r.lhs, r.op, r.rhs) for r in per_group[0]
               if equal and _flagged(r, tuple(equal), latent, ov_nox)
               and (r.lhs, r.op, r.rhs) not in released}

    def class_key(r: ParRow) -> tuple:
        # lavaan's LABEL: the user's label, else 'lhs op rhs' of group 1 when group_equal
        # holds the row equal, else 'lhs op rhs' of the row's own group
        if r.label:
            return ("label", r.label)
        group = 1 if (r.lhs, r.op, r.rhs) in flagged else r.group
        return ("row", _key(r.lhs, r.op, r.rhs), group)

    table = [r for rows in per_group for r in rows]
    first_fixed: dict[tuple, float] = {}
    for r in table:
        if not r.free:
            first_fixed.setdefault(class_key(r), r.value)
    numbers_: dict[tuple, int] = {}
    out: list[ParRow] = []
    for r in table:
        key = class_key(r)
        if key in first_fixed:
            out.append(replace(r, free=0, value=first_fixed[key]))
            continue
        if key not in numbers_:
            numbers_[key] = len(numbers_) + 1
        out.append(replace(r, free=numbers_[key]))
    out.extend(ParRow(s.lhs, ":=", s.rhs, s.lhs, 0, float("nan"), True, 0)
               for s in statements if s.op == ":=")
    return tuple(out)


def view_model(rows: Sequence[ParRow]) -> Model:
    """A single-group :class:`Model` whose ``rows`` reproduce one group's rows.

    Every row becomes an explicit statement (fixed rows ``value*rhs``, free rows
    ``NA*rhs`` with their start value), in table order, so the view's ``rows`` have the
    same lhs, op, rhs, label, free status and value, in the same order; ``free`` numbers
    are renumbered 1..k within the view. Free rows that share a number but no label get
    the label ``_eq<number>`` (more underscores if a label of the model starts so) so they
    stay one parameter. ``:=`` rows are kept when every
    label they use is in the view. Give the rows of one group (``r.group == g``) and,
    optionally, the ``:=`` rows.

    The view marks the variances, covariances and means of the exogenous covariates as
    defaults, so :attr:`Model.fixed_x_free` still finds them.
    """
    rows = list(rows)
    groups = {r.group for r in rows if r.op != ":="}
    if len(groups) > 1:
        raise ArgumentError(f"rows: view_model takes the rows of one group, got groups {sorted(groups)}; "
                            f"select them with [r for r in rows if r.group == g]")
    body = [r for r in rows if r.op != ":="]
    counts: dict[int, int] = {}
    for r in body:
        if r.free:
            counts[r.free] = counts.get(r.free, 0) + 1
    taken = {r.label for r in rows if r.label}
    prefix = "_eq"
    while any(t.startswith(prefix) for t in taken):
        prefix += "_"
    statements: list[Statement] = []
    for r in body:
        label = r.label
        if r.free and not label and counts[r.free] > 1:
            label = f"{prefix}{r.free}"
        if r.free:
            start = r.value if r.value == r.value else None
            statements.append(Statement(r.lhs, r.op, r.rhs, 0, None, label, start, True))
        else:
            statements.append(Statement(r.lhs, r.op, r.rhs, 0, float(r.value), label))
    labels = {s.label for s in statements if s.label}
    for r in rows:
        if r.op == ":=":
            names = set(re.findall(r"[A-Za-z_][A-Za-z0-9_.]*", r.rhs))
            if names <= labels | {s.lhs for s in statements if s.op == ":="}:
                statements.append(Statement(r.lhs, ":=", r.rhs, 0))
    return _ViewModel.build(tuple(statements), {(r.lhs, r.op, r.rhs) for r in body if not r.user})


class _ViewModel(Model):
    """A :class:`Model` built from a table: the statements are explicit, but rows that were
    defaults in the table stay marked as defaults (``user=False``)."""

    @classmethod
    def build(cls, statements: tuple[Statement, ...], defaults: set) -> "_ViewModel":
        view = cls(statements)
        object.__setattr__(view, "_defaults", frozenset(defaults))
        return view

    @property
    def roles(self):  # type: ignore[override]
        cached = self.__dict__.get("_view_roles")
        if cached is None:
            defaults = getattr(self, "_defaults", frozenset())
            full = variable_roles(list(self.statements))
            written = [s for s in self.statements
                       if not (s.op in ("~~", "~1") and (s.lhs, s.op, s.rhs) in defaults)]
            cached = replace(full, exogenous_observed=tuple(
                n for n in variable_roles(written).exogenous_observed if n in full.observed))
            self.__dict__["_view_roles"] = cached
        return cached

    @property
    def rows(self) -> tuple[ParRow, ...]:  # type: ignore[override]
        cached = self.__dict__.get("_view_rows")
        if cached is None:
            base = build_partable(list(self.statements), False)
            defaults = getattr(self, "_defaults", frozenset())
            cached = tuple(replace(r, user=False) if (r.lhs, r.op, r.rhs) in defaults else r
                           for r in base)
            self.__dict__["_view_rows"] = cached
        return cached
