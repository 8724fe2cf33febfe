"""The :class:`Model`: an immutable structural equation model built on a parameter table."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from types import MappingProxyType
from typing import Iterable, Mapping

import pandas as pd

from .._validation import check_label, check_name, check_number, describe_value
from ..exceptions import ArgumentError, LcsemError, ModelSyntaxError
from .partable import (ParRow, Variables, all_labels, build_partable, has_intercepts, is_ordinal, to_frame,
                       variable_roles)
from .expressions import parse_expression
from .syntax import (THRESHOLD_RE, GroupModifier, Statement, check_group_modifiers, parse_syntax,
                     rhs_text)

OPERATORS = ("=~", "~", "~~", ":=", "~1", "|", "~*~")


def _frozen(mapping: Mapping[str, object] | None) -> Mapping[str, object]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True, eq=False)
class Model:
    """A structural equation model.

    Build one with :meth:`from_syntax` (lavaan-style text) or take the canonical
    learning-culture model from :func:`lcsem.lc_model`. Models are immutable: every
    builder method returns a new model.

    Parameters
    ----------
    statements
        Parsed statements (see :func:`lcsem.spec.syntax.parse_syntax`).
    std_lv
        Identify latent variables by fixing exogenous latent variances to 1 and freeing
        every loading (lavaan's ``std.lv=TRUE``), instead of fixing the first loading.
    descriptions
        Text describing constructs and indicators, keyed by variable name.
    population
        Standardised population values keyed ``"lhs op rhs"`` (e.g. ``"kmsuse ~ culture"``),
        used by :func:`lcsem.simulate`.
    """

    statements: tuple[Statement, ...]
    std_lv: bool = False
    descriptions: Mapping[str, str] = field(default_factory=dict)
    population: Mapping[str, float] = field(default_factory=dict)
    name: str = ""

    def __post_init__(self) -> None:
        # every way of building a model ends here: validate every part of every statement
        # (names, labels, operators, numbers), whoever made it (text, builders, JSON, code)
        if isinstance(self.statements, (str, bytes)):
            raise ArgumentError("statements: expected a sequence of Statement objects, got text; "
                                "use Model.from_syntax(text) to read lavaan-style model text")
        try:
            statements = tuple(self.statements)
        except TypeError:
            raise ArgumentError(f"statements: expected a sequence of Statement objects, got "
                                f"{type(self.statements).__name__}") from None
        for i, s in enumerate(statements):
            check_statement(s, f"statements[{i}]")
        if type(self.std_lv).__name__ not in ("bool", "bool_"):
            raise ArgumentError(f"std_lv: expected True or False, got {describe_value(self.std_lv)}")
        object.__setattr__(self, "std_lv", bool(self.std_lv))
        if not isinstance(self.name, str):
            raise ArgumentError(f"name: expected a str, got {type(self.name).__name__}")
        object.__setattr__(self, "statements", statements)
        object.__setattr__(self, "descriptions", _frozen(_checked_descriptions(self.descriptions)))
        object.__setattr__(self, "population", _frozen(_checked_population(self.population)))
        # validate eagerly, every group's version of the statements (c() modifiers)
        labels = all_labels(list(statements))
        for group in range(1, max((st.n_values for st in statements), default=1) + 1):
            build_partable([st.in_group(group) for st in statements], self.std_lv, labels=labels)

    # ------------------------------------------------------------------ creation
    @classmethod
    def from_syntax(cls, text: str, *, std_lv: bool = False,
                    descriptions: Mapping[str, str] | None = None, name: str = "") -> "Model":
        """Read lavaan-style model text (see :mod:`lcsem.spec.syntax` for the grammar)."""
        return cls(tuple(parse_syntax(text)), std_lv=std_lv, descriptions=descriptions or {}, name=name)

    def to_syntax(self) -> str:
        """Write the model as lavaan-style text that :meth:`from_syntax` reads back."""
        lines: list[str] = []
        groups: dict[tuple[str, str], list[str]] = {}
        for s in self.statements:
            if s.op == ":=":
                continue
            groups.setdefault((s.lhs, s.op), []).append(_term(s))
        for op in ("=~", "~", "~~", "~1", "|", "~*~"):
            for (lhs, o), terms in groups.items():
                if o == op:
                    lines.append(f"{lhs} {'~' if op == '~1' else op} {' + '.join(terms)}")
        lines.extend(f"{s.lhs} := {s.rhs}" for s in self.statements if s.op == ":=")
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------------ views
    @cached_property
    def rows(self) -> tuple[ParRow, ...]:
        """The complete parameter table (one group) as :class:`ParRow` objects.

        With any ``~ 1`` in the model it holds lavaan's mean structure (observed intercepts
        free, latent means fixed to 0 unless written). A model whose ``c(...)`` modifiers
        give several values (one per group) has no single-group table: use
        :func:`lcsem.spec.groups.group_table`.
        """
        return tuple(build_partable(list(self.statements), self.std_lv))

    @property
    def meanstructure(self) -> bool:
        """True when the model writes intercepts or means (``~ 1``), or thresholds or
        scaling factors of ordered variables (``|``, ``~*~``), as lavaan."""
        statements = list(self.statements)
        return has_intercepts(statements) or is_ordinal(statements)

    @property
    def n_groups_written(self) -> int:
        """Number of values of the model's ``c(...)`` modifiers (1 when it has none)."""
        return max((s.n_values for s in self.statements), default=1)

    @property
    def partable(self) -> pd.DataFrame:
        """The complete parameter table (lhs, op, rhs, label, free, value, user)."""
        return to_frame(list(self.rows))

    @cached_property
    def roles(self) -> Variables:
        """Latent, observed, endogenous and exogenous variables."""
        return variable_roles(list(self.statements))

    @property
    def latent(self) -> tuple[str, ...]:
        """Latent variable (construct) names."""
        return self.roles.latent

    @property
    def observed(self) -> tuple[str, ...]:
        """Observed variable names: the data columns the model uses."""
        return self.roles.observed

    @cached_property
    def fixed_x_free(self) -> frozenset[int]:
        """Free-parameter numbers (1-based) of the automatically added (co)variances of
        exogenous observed predictors. lavaan's ``fixed.x`` treats these moments as given:
        they are not counted as parameters, carry no standard error, and are held fixed in
        delta-method standard errors of standardised values and in score tests."""
        return fixed_x_numbers(self.rows, self.roles.exogenous_observed)

    def fixed_x_for(self, estimator: str) -> frozenset[int]:
        """:attr:`fixed_x_free` under lavaan's per-estimator default for ``fixed.x``:
        ``TRUE`` for ML (the covariates' moments are given: not counted as parameters, no
        standard errors, held fixed in delta-method SEs), ``FALSE`` for GLS and ULS (free
        parameters with standard errors, counted in ``n_params``): an empty set."""
        robust_ml = ("MLM", "MLMV", "MLMVS", "MLR")   # ML estimates, as lavaan's fixed.x = TRUE
        return self.fixed_x_free if estimator == "ML" or estimator in robust_ml else frozenset()

    @property
    def n_free(self) -> int:
        """Number of free parameters."""
        return max((r.free for r in self.rows), default=0)

    @property
    def df(self) -> int:
        """Degrees of freedom of the model test: p(p+1)/2 (plus p with a mean structure)
        minus free parameters."""
        p = len(self.observed)
        return p * (p + 1) // 2 + (p if self.meanstructure else 0) - self.n_free

    def indicators_of(self, construct: str) -> tuple[str, ...]:
        """Indicators measuring ``construct``."""
        self._require_latent(construct, "construct")
        return tuple(s.rhs for s in self.statements if s.op == "=~" and s.lhs == construct)

    def describe(self) -> pd.DataFrame:
        """Constructs and indicators with their roles and descriptions."""
        records = []
        for name in self.latent:
            records.append({"name": name, "kind": "construct", "construct": "",
                            "description": self.descriptions.get(name, "")})
            for ind in self.indicators_of(name):
                records.append({"name": ind, "kind": "indicator", "construct": name,
                                "description": self.descriptions.get(ind, "")})
        for name in self.observed:
            if name not in self.roles.indicators:
                records.append({"name": name, "kind": "observed", "construct": "",
                                "description": self.descriptions.get(name, "")})
        return pd.DataFrame.from_records(records, columns=["name", "kind", "construct", "description"])

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        if self.n_groups_written > 1:
            return (f"<lcsem.Model{label}: {len(self.latent)} constructs, {len(self.observed)} "
                    f"observed, c() modifiers for {self.n_groups_written} groups>")
        return (f"<lcsem.Model{label}: {len(self.latent)} constructs, {len(self.observed)} observed, "
                f"{self.n_free} free parameters, df={self.df}>")

    def __str__(self) -> str:
        return self.to_syntax()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Model):
            return NotImplemented
        n = self.n_groups_written
        if n != other.n_groups_written or self.std_lv != other.std_lv:
            return False
        return all(_comparable(_group_rows(self, g)) == _comparable(_group_rows(other, g))
                   for g in range(1, n + 1))

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self):
        # mapping proxies cannot be pickled; rebuild from plain dicts
        return (Model, (self.statements, self.std_lv, dict(self.descriptions), dict(self.population),
                        self.name))

    # ------------------------------------------------------------------ builders
    def add_construct(self, name: str, indicators: Iterable[str], *, description: str = "",
                      indicator_descriptions: Mapping[str, str] | None = None) -> "Model":
        """Add a construct measured by ``indicators``."""
        call = f"add_construct(name={describe_value(name)})"
        check_name(name, f"{call}: name")
        try:
            indicators = list(indicators) if not isinstance(indicators, str) else [indicators]
        except TypeError:
            raise ArgumentError(f"{call}: indicators must be a list of names, got "
                                f"{type(indicators).__name__}") from None
        if not indicators:
            raise ArgumentError(f"{call}: construct {name!r} needs at least one indicator")
        if name in self.latent or name in self.observed:
            raise ArgumentError(f"{call}: {name!r} is already in the model; choose another name")
        for ind in indicators:
            check_name(ind, f"{call}: indicators")
        new = [Statement(name, "=~", ind, 0) for ind in indicators]
        desc = dict(self.descriptions)
        if description:
            desc[name] = description
        if indicator_descriptions is not None and not isinstance(indicator_descriptions, Mapping):
            raise ArgumentError(f"{call}: indicator_descriptions must map indicator names to text, got "
                                f"{type(indicator_descriptions).__name__}")
        desc.update(indicator_descriptions or {})
        return self._with(self._insert(new), descriptions=desc, call=call)

    def remove_construct(self, name: str) -> "Model":
        """Remove a construct, its indicators' loadings and every path or covariance using it."""
        self._require_latent(name, "name")
        keep = tuple(s for s in self.statements if s.op == ":=" or name not in (s.lhs, s.rhs))
        return self._with(_drop_orphan_definitions(keep))

    def add_indicator(self, construct: str, indicator: str, *, description: str = "") -> "Model":
        """Add ``indicator`` to ``construct``."""
        self._require_latent(construct, "construct")
        call = f"add_indicator(construct={construct!r}, indicator={describe_value(indicator)})"
        check_name(indicator, f"{call}: indicator")
        if indicator in self.indicators_of(construct):
            raise ArgumentError(f"{call}: {indicator!r} already measures {construct!r}")
        desc = dict(self.descriptions)
        if description:
            desc[indicator] = description
        return self._with(self._insert([Statement(construct, "=~", indicator, 0)]), descriptions=desc,
                          call=call)

    def remove_indicator(self, construct: str, indicator: str) -> "Model":
        """Remove ``indicator`` from ``construct`` (and covariances that involve it)."""
        if indicator not in self.indicators_of(construct):
            raise ArgumentError(f"indicator: {indicator!r} does not measure {construct!r}; its "
                                f"indicators are {list(self.indicators_of(construct))}")
        if len(self.indicators_of(construct)) == 1:
            raise ArgumentError(f"indicator: {indicator!r} is the only indicator of {construct!r}; "
                                f"use remove_construct({construct!r}) instead")
        keep = tuple(s for s in self.statements
                     if not (s.op == "=~" and s.lhs == construct and s.rhs == indicator)
                     and not (s.op == "~~" and indicator in (s.lhs, s.rhs)))
        return self._with(_drop_orphan_definitions(keep))

    def add_path(self, outcome: str, predictor: str, *, label: str = "") -> "Model":
        """Add the regression ``outcome ~ predictor`` (optionally labelled)."""
        call = (f"add_path(outcome={describe_value(outcome)}, predictor={describe_value(predictor)}"
                + (f", label={describe_value(label)})" if label != "" else ")"))
        check_name(outcome, f"{call}: outcome")
        check_name(predictor, f"{call}: predictor")
        check_label(label, f"{call}: label")
        if any(s.op == "~" and s.lhs == outcome and s.rhs == predictor for s in self.statements):
            raise ArgumentError(f"{call}: the path {outcome} ~ {predictor} is already in the model")
        return self._with(self._insert([Statement(outcome, "~", predictor, 0, label=label)]), call=call)

    def remove_path(self, outcome: str, predictor: str) -> "Model":
        """Remove the regression ``outcome ~ predictor``."""
        keep = tuple(s for s in self.statements
                     if not (s.op == "~" and s.lhs == outcome and s.rhs == predictor))
        if len(keep) == len(self.statements):
            raise ArgumentError(f"there is no path {outcome} ~ {predictor} in the model")
        return self._with(_drop_orphan_definitions(keep))

    def add_covariance(self, a: str, b: str, *, label: str = "") -> "Model":
        """Free the (residual) covariance ``a ~~ b``."""
        call = (f"add_covariance(a={describe_value(a)}, b={describe_value(b)}"
                + (f", label={describe_value(label)})" if label != "" else ")"))
        check_name(a, f"{call}: a")
        check_name(b, f"{call}: b")
        check_label(label, f"{call}: label")
        if any(s.op == "~~" and {s.lhs, s.rhs} == {a, b} for s in self.statements):
            raise ArgumentError(f"{call}: the covariance {a} ~~ {b} is already in the model")
        return self._with(self._insert([Statement(a, "~~", b, 0, label=label)]), call=call)

    def remove_covariance(self, a: str, b: str) -> "Model":
        """Remove a user-specified covariance ``a ~~ b``."""
        keep = tuple(s for s in self.statements if not (s.op == "~~" and {s.lhs, s.rhs} == {a, b}))
        if len(keep) == len(self.statements):
            raise ArgumentError(f"there is no user-specified covariance {a} ~~ {b} in the model")
        return self._with(_drop_orphan_definitions(keep))

    def add_control(self, control: str, outcomes: Iterable[str] | str | None = None, *,
                    description: str = "") -> "Model":
        """Add an observed control variable predicting ``outcomes`` (default: every
        endogenous construct)."""
        call = f"add_control(control={describe_value(control)})"
        check_name(control, f"{call}: control")
        if outcomes is None:
            outcomes = [n for n in self.latent if any(s.op == "~" and s.lhs == n for s in self.statements)]
            if not outcomes:
                raise ArgumentError(f"{call}: the model has no structural outcome; name the outcomes")
        try:
            outcomes = [outcomes] if isinstance(outcomes, str) else list(outcomes)
        except TypeError:
            raise ArgumentError(f"{call}: outcomes must be a name or a list of names, got "
                                f"{type(outcomes).__name__}") from None
        for o in outcomes:
            check_name(o, f"{call}: outcomes")
        desc = dict(self.descriptions)
        if description:
            desc[control] = description
        new = [Statement(o, "~", control, 0) for o in outcomes]
        return self._with(self._insert(new), descriptions=desc, call=call)

    def define(self, name: str, expression: str) -> "Model":
        """Add a defined parameter ``name := expression`` over parameter labels."""
        call = f"define(name={describe_value(name)}, expression={describe_value(expression)})"
        check_name(name, f"{call}: name", "name for a defined parameter")
        try:
            parse_expression(expression)
        except ModelSyntaxError as exc:
            raise ModelSyntaxError(f"{call}: {exc}") from None
        return self._with(self.statements + (Statement(name, ":=", "".join(expression.split()), 0),),
                          call=call)

    def with_population(self, values: Mapping[str, float]) -> "Model":
        """Return a copy with standardised population values for simulation."""
        merged = dict(self.population)
        merged.update(values)
        return replace(self, population=merged)

    # ------------------------------------------------------------------ helpers
    def _insert(self, new: list[Statement]) -> tuple[Statement, ...]:
        body = tuple(s for s in self.statements if s.op != ":=")
        defs = tuple(s for s in self.statements if s.op == ":=")
        return body + tuple(new) + defs

    def _with(self, statements: tuple[Statement, ...], descriptions: Mapping[str, str] | None = None,
              call: str = "") -> "Model":
        try:
            return replace(self, statements=statements,
                           descriptions=self.descriptions if descriptions is None else descriptions)
        except LcsemError as exc:
            if not call:
                raise
            # cite the builder call the user wrote, not the internal 'line 0'
            message = str(exc).removeprefix("line 0: ").replace(" (first on line 0)", "")
            if isinstance(exc, ModelSyntaxError):
                raise ModelSyntaxError(f"{call}: {message}") from None
            raise type(exc)(f"{call}: {message}") from None

    def _require_latent(self, name: str, argument: str) -> None:
        if name not in self.latent:
            raise ArgumentError(f"{argument}: {name!r} is not a construct of this model; constructs "
                                f"are {list(self.latent)}")


def _comparable(rows: tuple[ParRow, ...]) -> list[tuple]:
    """Rows as tuples in which NaN values compare equal."""
    return [(r.lhs, r.op, r.rhs, r.label, r.free, None if r.value != r.value else r.value, r.user)
            for r in rows]


def _group_rows(model: Model, group: int) -> list[ParRow]:
    statements = list(model.statements)
    return build_partable([s.in_group(group) for s in statements], model.std_lv,
                          labels=all_labels(statements))


def _term(s: Statement) -> str:
    return rhs_text(s)


def fixed_x_numbers(rows: Iterable[ParRow], exogenous_observed: Iterable[str]) -> frozenset[int]:
    """Free-parameter numbers of the automatically added moments (variances, covariances
    and, with a mean structure, means) of the exogenous observed covariates: the
    parameters lavaan's ``fixed.x`` holds at their sample values."""
    exo = set(exogenous_observed)
    return frozenset(r.free for r in rows if r.free and not r.user and r.lhs in exo
                     and ((r.op == "~~" and r.rhs in exo) or r.op == "~1"))


def check_statement(s: object, where: str) -> None:
    """Validate every field of one :class:`Statement` (raises :class:`ArgumentError`)."""
    if not isinstance(s, Statement):
        raise ArgumentError(f"{where}: expected an lcsem Statement, got {type(s).__name__}")
    if s.op not in OPERATORS:
        raise ArgumentError(f"{where}.op: {describe_value(s.op)} is not an operator; use one of "
                            f"{', '.join(OPERATORS)}")
    check_name(s.lhs, f"{where}.lhs")
    if isinstance(s.line, bool) or not isinstance(s.line, int) or s.line < 0:
        raise ArgumentError(f"{where}.line: expected a line number >= 0, got {describe_value(s.line)}")
    if not isinstance(s.free_forced, bool):
        raise ArgumentError(f"{where}.free_forced: expected True or False, got {describe_value(s.free_forced)}")
    if s.op == ":=":
        if s.label or s.fixed is not None or s.start is not None or s.free_forced or s.groups is not None:
            raise ArgumentError(f"{where}: a defined parameter ':=' takes no label, fixed or start value")
        try:
            parse_expression(s.rhs)
        except ModelSyntaxError as exc:
            raise ArgumentError(f"{where}.rhs: {exc}") from None
        if s.rhs != "".join(s.rhs.split()):
            raise ArgumentError(f"{where}.rhs: {describe_value(s.rhs)} contains white space")
        return
    if s.op == "~1":
        if s.rhs != "":
            raise ArgumentError(f"{where}.rhs: an intercept ('~1') has an empty right-hand side, got "
                                f"{describe_value(s.rhs)}")
    else:
        check_name(s.rhs, f"{where}.rhs")
    if s.op == "|" and THRESHOLD_RE.fullmatch(s.rhs) is None:
        raise ArgumentError(f"{where}.rhs: a threshold ('|') is named t1, t2, ..., got "
                            f"{describe_value(s.rhs)}")
    if s.op == "~*~" and s.rhs != s.lhs:
        raise ArgumentError(f"{where}: a scaling factor ('~*~') relates a variable to itself, got "
                            f"{s.lhs!r} ~*~ {s.rhs!r}")
    check_label(s.label, f"{where}.label")
    check_number(s.fixed, f"{where}.fixed")
    check_number(s.start, f"{where}.start")
    if s.fixed is not None and s.free_forced:
        raise ArgumentError(f"{where}: a parameter cannot be both fixed and free (free_forced)")
    _check_groups(s, where)


def _check_groups(s: Statement, where: str) -> None:
    """Validate the per-group modifiers (``c(...)``) of one statement."""
    if s.groups is None:
        return
    if not isinstance(s.groups, tuple) or not s.groups:
        raise ArgumentError(f"{where}.groups: expected None or a non-empty tuple of GroupModifier, got "
                            f"{describe_value(s.groups)}")
    if s.label or s.fixed is not None or s.start is not None or s.free_forced:
        raise ArgumentError(f"{where}: a statement with per-group modifiers (groups) keeps its label, "
                            f"fixed, start and free_forced in each GroupModifier; leave the "
                            f"statement's own fields empty")
    for g, m in enumerate(s.groups, start=1):
        at = f"{where}.groups[{g - 1}]"
        if not isinstance(m, GroupModifier):
            raise ArgumentError(f"{at}: expected a GroupModifier, got {type(m).__name__}")
        check_label(m.label, f"{at}.label")
        check_number(m.fixed, f"{at}.fixed")
        check_number(m.start, f"{at}.start")
        if not isinstance(m.free_forced, bool):
            raise ArgumentError(f"{at}.free_forced: expected True or False, got "
                                f"{describe_value(m.free_forced)}")
    reason = check_group_modifiers(s.groups)
    if reason:
        raise ArgumentError(f"{where}.groups: {reason}")


def _checked_descriptions(descriptions: object) -> dict[str, str]:
    if not isinstance(descriptions, Mapping):
        raise ArgumentError(f"descriptions: expected a mapping of names to text, got "
                            f"{type(descriptions).__name__}")
    for key, value in descriptions.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ArgumentError(f"descriptions: keys and values must be text, got "
                                f"{describe_value(key)}: {describe_value(value)}")
    return dict(descriptions)


def _checked_population(population: object) -> dict[str, float]:
    if not isinstance(population, Mapping):
        raise ArgumentError(f"population: expected a mapping of 'lhs op rhs' to numbers, got "
                            f"{type(population).__name__}")
    out = {}
    for key, value in population.items():
        if not isinstance(key, str):
            raise ArgumentError(f"population: keys must be text such as 'kmsuse ~ culture', got "
                                f"{describe_value(key)}")
        out[key] = check_number(value, f"population[{describe_value(key)}]", allow_none=False)
    return out


def _drop_orphan_definitions(statements: tuple[Statement, ...]) -> tuple[Statement, ...]:
    """Drop intercepts ('~ 1') of variables no longer in the model, then ':=' definitions
    whose labels no longer exist."""
    used = {n for s in statements if s.op not in (":=", "~1") for n in (s.lhs, s.rhs)}
    statements = tuple(s for s in statements if s.op != "~1" or s.lhs in used)
    kept: list[Statement] = []
    labels = set(all_labels([s for s in statements if s.op != ":="]))
    for s in statements:
        if s.op == ":=":
            if not set(parse_expression(s.rhs).names) <= labels:
                continue
            labels.add(s.lhs)
        kept.append(s)
    return tuple(kept)
