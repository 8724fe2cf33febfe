"""Build the full parameter table from parsed statements, with lavaan's defaults.

The table is the hub of lcsem: one row per parameter (``lhs op rhs``), with its label,
its free-parameter number (``free``, 0 when fixed, shared by rows with one label) and
its fixed value or start value (``value``). Defaults follow lavaan's ``sem()``:
first loading fixed to 1, every variance free (with ``std_lv`` every loading free and
every latent variance fixed to 1 instead: the variance of an exogenous latent variable,
the residual variance of an endogenous one, as lavaan's ``std.lv = TRUE``), exogenous latent variables covary,
exogenous observed predictors covary (equivalent to lavaan's ``fixed.x`` for
estimates, SEs and the test statistic), and residuals of pure outcomes covary.

With a mean structure (any ``~ 1`` in the text, or asked for) the table also holds one
intercept row (``lhs ~1``, ``rhs == ""``) per observed variable, free unless written, and
one mean row per latent variable, fixed to 0 unless written (lavaan's ``sem()``).

Ordered (ordinal) indicators, as lavaan's ``ordered=`` (``ordered`` maps each to its number
of thresholds; a model whose text writes thresholds ``y | t1 + t2`` makes ``y`` ordered with
the thresholds written): after the written rows come one free threshold row per threshold
not written (``y | t1``, ...), then the variances as above, with each ordered variable's
(residual) variance fixed to 1, then one scaling-factor row ``y ~*~ y`` fixed to 1 per
ordered variable, then the mean structure (always on), with each ordered variable's
intercept fixed to 0: lavaan's row order and defaults (``lav_partable_flat``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import combinations
from typing import Mapping

import pandas as pd

from ..exceptions import ModelSpecificationError, ModelSyntaxError
from .expressions import parse_expression
from .syntax import Statement

COLUMNS = ["lhs", "op", "rhs", "label", "free", "value", "user"]


@dataclass(frozen=True)
class ParRow:
    """One row of the parameter table."""

    lhs: str
    op: str
    rhs: str
    label: str = ""
    free: int = 0          # 1-based free-parameter number; 0 when fixed
    value: float = float("nan")  # fixed value, or start value (NaN: automatic)
    user: bool = True
    group: int = 1         # 1-based group number (lavaan's ``group``); 0 for ``:=`` rows


@dataclass(frozen=True)
class Variables:
    """Variable roles derived from the statements."""

    latent: tuple[str, ...]
    observed: tuple[str, ...]
    indicators: tuple[str, ...]
    endogenous: tuple[str, ...]   # on the left of '~' or indicators (have a residual)
    exogenous_latent: tuple[str, ...]
    exogenous_observed: tuple[str, ...]   # lavaan's "ov.x": covariates the model conditions on


def variable_roles(statements: list[Statement]) -> Variables:
    """Classify every name in the statements."""
    latent: list[str] = []
    for s in statements:
        if s.op == "=~" and s.lhs not in latent:
            latent.append(s.lhs)
    order: list[str] = []
    for s in statements:
        if s.op in (":=", "~1"):
            continue
        for name in ((s.lhs,) if s.op == "|" else (s.lhs, s.rhs)):
            if name not in order:
                order.append(name)
    indicators = [s.rhs for s in statements if s.op == "=~"]
    observed = [n for n in order if n not in latent]
    # indicators first (in order of appearance), then the remaining observed variables
    observed = [n for n in observed if n in indicators] + [n for n in observed if n not in indicators]
    regressed = {s.lhs for s in statements if s.op == "~"}
    endogenous = [n for n in order if n in regressed or (n in indicators)]
    exo_lat = [n for n in latent if n not in regressed and n not in indicators]
    # as lavaan's ov.x: a predictor the user gives a variance or covariance (``x ~~ ...``)
    # is "random", not a fixed.x covariate: its moments are free parameters and it gets no
    # automatic covariances with the covariates
    # (likewise a predictor given an intercept, ``x ~ 1``)
    mentioned = {n for s in statements if s.op == "~~" for n in (s.lhs, s.rhs)}
    mentioned.update(s.lhs for s in statements if s.op in ("~1", "|", "~*~"))
    exo_obs = [n for n in observed if n not in endogenous and n not in mentioned]
    return Variables(tuple(latent), tuple(observed), tuple(dict.fromkeys(indicators)),
                     tuple(endogenous), tuple(exo_lat), tuple(exo_obs))


def has_intercepts(statements: list[Statement]) -> bool:
    """True when the statements write any intercept or mean (``~ 1``)."""
    return any(s.op == "~1" for s in statements)


def all_labels(statements: list[Statement]) -> frozenset[str]:
    """Every label of the statements, in any group's ``c(...)`` modifier too."""
    out = {s.label for s in statements if s.label}
    out.update(m.label for s in statements for m in (s.groups or ()) if m.label)
    return frozenset(out)


def written_thresholds(statements: list[Statement]) -> dict[str, int]:
    """Ordered variables the statements write thresholds (``y | t3``) or a scaling factor
    (``y ~*~ y``) of, each with the highest threshold number written (0 when none is),
    in order of appearance."""
    out: dict[str, int] = {}
    for s in statements:
        if s.op == "|":
            out[s.lhs] = max(out.get(s.lhs, 0), int(s.rhs[1:]))
        elif s.op == "~*~":
            out.setdefault(s.lhs, 0)
    return out


def is_ordinal(statements: list[Statement], ordered: Mapping[str, int] | None = None) -> bool:
    """True when the table of ``statements`` has ordered indicators: ``ordered`` names an
    observed variable of the model, or the text writes ``|`` or ``~*~``."""
    if any(s.op in ("|", "~*~") for s in statements):
        return True
    return bool(ordered) and bool(set(ordered) & set(variable_roles(statements).observed))


def build_partable(statements: list[Statement], std_lv: bool = False,
                   meanstructure: bool = False, labels: frozenset[str] = frozenset(),
                   ordered: Mapping[str, int] | None = None) -> list[ParRow]:
    """Return the complete list of :class:`ParRow` for ``statements``.

    ``statements`` are those of one group (see :meth:`Statement.in_group`); a mean
    structure is added when ``meanstructure`` is true or any statement is an intercept.
    ``labels``: labels of the other groups, which ``:=`` definitions may use too.
    ``ordered``: ordered variables and their numbers of thresholds (names the model does
    not use are ignored, as lavaan); None: those whose thresholds or scaling factor the
    text writes, each with the highest threshold written (a table without data). Ordered variables give lavaan's ordinal table
    (module docstring); the caller checks ``ordered`` itself
    (:func:`lcsem.spec.ordinal.ordinal_table`).
    """
    _check_statements(statements, labels | all_labels(statements))
    for s in statements:
        if s.groups is not None and len(s.groups) != 1:
            raise ModelSpecificationError(
                f"line {s.line}: '{s.term_text()}' gives {len(s.groups)} values, one per group, but "
                f"the model is fitted as one group; fit it with group=... ({len(s.groups)} groups) "
                f"or write a single value")
        if s.groups is not None:
            statements = [t.in_group(1) for t in statements]
            break
    roles = variable_roles(statements)
    if ordered is None:
        ordered = written_thresholds(statements)
    ordered = {name: int(ordered[name]) for name in roles.observed if name in ordered}
    if ordered or any(s.op in ("|", "~*~") for s in statements):
        _check_ordinal(statements, roles, ordered)
        meanstructure = True
    rows: list[ParRow] = []
    first_loading_seen: set[str] = set()
    for s in statements:
        if s.op == ":=":
            continue
        free = s.fixed is None
        value = s.fixed if s.fixed is not None else (s.start if s.start is not None else float("nan"))
        if s.op == "=~" and s.lhs not in first_loading_seen:
            first_loading_seen.add(s.lhs)
            if not std_lv and s.fixed is None and not s.free_forced:
                free, value = False, 1.0
        if (std_lv and s.op == "~~" and s.lhs == s.rhs and s.lhs in roles.latent
                and s.fixed is None and not s.free_forced):
            # lavaan's std.lv: a written latent variance (even labelled) is fixed to 1
            # unless NA* frees it or a number fixes it
            free, value = False, 1.0
        rows.append(ParRow(s.lhs, s.op, s.rhs, s.label, int(free), value, True))
    rows.extend(_default_threshold_rows(rows, ordered))
    rows.extend(_default_rows(rows, roles, std_lv, ordered))
    rows.extend(_default_scaling_rows(rows, ordered))
    if meanstructure or has_intercepts(statements):
        rows.extend(_default_mean_rows(rows, roles, ordered))
    rows = _number_free(rows)
    rows.extend(ParRow(s.lhs, ":=", s.rhs, s.lhs, 0, float("nan"), True, 0)
                for s in statements if s.op == ":=")
    return rows


def _key(lhs: str, op: str, rhs: str) -> tuple[str, str, str]:
    if op == "~~" and rhs < lhs:
        return (rhs, op, lhs)
    return (lhs, op, rhs)


def _default_threshold_rows(rows: list[ParRow], ordered: Mapping[str, int]) -> list[ParRow]:
    """lavaan's thresholds: ``y | t1`` ... ``y | tK`` per ordered variable, free unless written."""
    have = {(r.lhs, r.rhs) for r in rows if r.op == "|"}
    return [ParRow(name, "|", f"t{k}", "", 1, float("nan"), False)
            for name, n in ordered.items() for k in range(1, n + 1) if (name, f"t{k}") not in have]


def _default_scaling_rows(rows: list[ParRow], ordered: Mapping[str, int]) -> list[ParRow]:
    """lavaan's scaling factors ``y ~*~ y``, fixed to 1 unless written."""
    have = {r.lhs for r in rows if r.op == "~*~"}
    return [ParRow(name, "~*~", name, "", 0, 1.0, False) for name in ordered if name not in have]


def _check_ordinal(statements: list[Statement], roles: Variables, ordered: Mapping[str, int]) -> None:
    """Thresholds and scaling factors only of ordered variables, and only as many as they
    have; no ordered covariates."""
    latent = set(roles.latent)
    for s in statements:
        if s.op not in ("|", "~*~"):
            continue
        what = "thresholds" if s.op == "|" else "scaling factor ('~*~')"
        if s.lhs in latent:
            raise ModelSpecificationError(f"line {s.line}: '{s.term_text()}': {s.lhs!r} is a latent "
                                          f"variable; only ordered observed variables have {what}")
        if s.lhs not in ordered:
            raise ModelSpecificationError(
                f"line {s.line}: '{s.term_text()}': {s.lhs!r} is not ordered, so it has no {what}; "
                f"declare it ordered (ordered=[..., {s.lhs!r}]) or remove the statement")
        if s.op == "|" and int(s.rhs[1:]) > ordered[s.lhs]:
            n = ordered[s.lhs]
            raise ModelSpecificationError(
                f"line {s.line}: '{s.term_text()}': {s.lhs!r} has {n + 1} categories, so "
                f"{n} threshold{'s' if n != 1 else ''} ({', '.join(f't{k}' for k in range(1, n + 1))}); "
                f"remove {s.rhs} or check the item's categories")
    predictors = {s.rhs for s in statements if s.op == "~"}
    for name in ordered:
        if name in roles.exogenous_observed or (name in predictors and name not in roles.endogenous):
            raise ModelSpecificationError(
                f"ordered: {name!r} is an exogenous covariate (it only predicts); an ordered "
                f"covariate has no thresholds in lavaan's model: treat it as numeric (leave it out "
                f"of ordered) or dummy-code its categories")


def _default_rows(rows: list[ParRow], roles: Variables, std_lv: bool,
                  ordered: Mapping[str, int] | None = None) -> list[ParRow]:
    have = {_key(r.lhs, r.op, r.rhs) for r in rows}
    extra: list[ParRow] = []
    ordered = ordered or {}

    def add(lhs: str, rhs: str, value: float = float("nan"), free: bool = True) -> None:
        key = _key(lhs, "~~", rhs)
        if key not in have:
            have.add(key)
            extra.append(ParRow(lhs, "~~", rhs, "", int(free), value, False))

    # with ordered indicators the covariates' moments follow the other defaults, in lavaan's
    # order (lav_partable_flat; continuous tables keep lcsem's earlier order)
    covariates_last = bool(ordered)
    for name in roles.observed:
        if name in ordered:
            add(name, name, 1.0, free=False)   # lavaan: an ordered variable's variance is fixed to 1
        elif not (covariates_last and name in roles.exogenous_observed):
            add(name, name)
    for name in roles.latent:
        # std_lv: exogenous latent variances and endogenous latent residual variances
        # are all fixed to 1 (lavaan's std.lv = TRUE)
        if std_lv:
            add(name, name, 1.0, free=False)
        else:
            add(name, name)
    for a, b in combinations(roles.exogenous_latent, 2):
        add(a, b)
    if not covariates_last:
        for a, b in combinations(roles.exogenous_observed, 2):
            add(a, b)
    predictors = {r.rhs for r in rows if r.op == "~"}
    pure_outcomes = [n for n in roles.endogenous
                     if n not in predictors and n not in roles.indicators]
    for a, b in combinations(pure_outcomes, 2):
        add(a, b)
    if covariates_last:
        covariates = roles.exogenous_observed
        for j, a in enumerate(covariates):
            for b in covariates[j:]:
                add(a, b)
    return extra


def _default_mean_rows(rows: list[ParRow], roles: Variables,
                       ordered: Mapping[str, int] | None = None) -> list[ParRow]:
    """lavaan's mean defaults: observed intercepts free (ordered variables': fixed to 0),
    latent means fixed to 0."""
    have = {r.lhs for r in rows if r.op == "~1"}
    ordered = ordered or {}
    extra = [ParRow(n, "~1", "", "", 0, 0.0, False) if n in ordered
             else ParRow(n, "~1", "", "", 1, float("nan"), False) for n in roles.observed if n not in have]
    extra += [ParRow(n, "~1", "", "", 0, 0.0, False) for n in roles.latent if n not in have]
    return extra


def _number_free(rows: list[ParRow]) -> list[ParRow]:
    """Number the free rows 1..k in table order; rows with one label are one parameter.

    As lavaan, a label shared by a fixed row fixes every row with that label to the first
    fixed row's value (a label on a fixed first loading makes the other rows fixed too).
    """
    fixed_by_label: dict[str, float] = {}
    for r in rows:
        if r.label and not r.free and r.label not in fixed_by_label:
            fixed_by_label[r.label] = r.value
    by_label: dict[str, int] = {}
    out: list[ParRow] = []
    counter = 0
    for r in rows:
        if r.label in fixed_by_label:
            out.append(replace(r, free=0, value=fixed_by_label[r.label]))
            continue
        if not r.free:
            out.append(r)
            continue
        if r.label and r.label in by_label:
            out.append(replace(r, free=by_label[r.label]))
            continue
        counter += 1
        if r.label:
            by_label[r.label] = counter
        out.append(replace(r, free=counter))
    return out


def _check_statements(statements: list[Statement], labels: frozenset[str]) -> None:
    seen: dict[tuple[str, str, str], int] = {}
    latent = {s.lhs for s in statements if s.op == "=~"}
    defined: set[str] = set()
    names = {n for s in statements if s.op not in (":=", "~1")
             for n in ((s.lhs,) if s.op == "|" else (s.lhs, s.rhs))}
    for s in statements:
        if s.op == ":=":
            if s.lhs in defined or s.lhs in labels or s.lhs in names:
                raise ModelSyntaxError(f"the defined parameter name {s.lhs!r} is already used "
                                       f"as a label, variable or definition; choose another name", s.line)
            expr = parse_expression(s.rhs, s.line)
            unknown = [n for n in expr.names if n not in labels and n not in defined]
            if unknown:
                raise ModelSyntaxError(
                    f"{', '.join(unknown)} in ':=' {'is not a label' if len(unknown) == 1 else 'are not labels'} "
                    f"of any parameter; label a parameter first, e.g. 'y ~ a*x'", s.line)
            defined.add(s.lhs)
            continue
        if s.op in ("~", "=~") and s.lhs == s.rhs:
            raise ModelSyntaxError(f"{s.lhs!r} cannot {'be regressed on' if s.op == '~' else 'measure'} "
                                   f"itself", s.line)
        if s.op == "=~" and s.rhs in latent and _reaches(statements, s.rhs, s.lhs):
            raise ModelSpecificationError(f"line {s.line}: the factors {s.lhs!r} and {s.rhs!r} measure "
                                          f"each other; a model must not loop")
        if s.op == "~1" and s.lhs not in names:
            raise ModelSyntaxError(f"'{s.lhs} ~ 1': {s.lhs!r} is not a variable of the model (no "
                                   f"loading, regression or covariance uses it); an intercept or "
                                   f"mean needs a variable the model defines, e.g. 'f =~ {s.lhs}'",
                                   s.line)
        key = _key(s.lhs, s.op, s.rhs)
        if key in seen:
            shown = f"{s.lhs} ~ 1" if s.op == "~1" else f"{s.lhs} {s.op} {s.rhs}"
            raise ModelSyntaxError(f"'{shown}' is specified twice (first on line "
                                   f"{seen[key]}); keep one", s.line)
        seen[key] = s.line
        if s.op == "~~" and s.lhs == s.rhs and s.fixed is not None and s.fixed < 0:
            raise ModelSyntaxError(f"the variance of {s.lhs!r} cannot be fixed to a negative value", s.line)
    _check_acyclic(statements)


def _reaches(statements: list[Statement], start: str, target: str) -> bool:
    stack, seen = [start], set()
    while stack:
        node = stack.pop()
        if node == target:
            return True
        if node in seen:
            continue
        seen.add(node)
        stack.extend(s.rhs for s in statements if s.op == "=~" and s.lhs == node)
    return False


def _check_acyclic(statements: list[Statement]) -> None:
    """Refuse feedback loops (non-recursive models), which lcsem does not estimate."""
    edges: dict[str, set[str]] = {}
    for s in statements:
        if s.op == "~":
            edges.setdefault(s.rhs, set()).add(s.lhs)
        elif s.op == "=~":
            edges.setdefault(s.lhs, set()).add(s.rhs)
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in edges.get(node, ()):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [node, nxt] if nxt in path else [node, nxt]
                raise ModelSpecificationError(
                    f"the directed paths form a loop ({' -> '.join(dict.fromkeys(cycle))} -> {nxt}); "
                    f"lcsem estimates recursive models only")
            if state.get(nxt) is None:
                visit(nxt, path + [node])
        state[node] = 2

    for node in list(edges):
        if state.get(node) is None:
            visit(node, [])


def to_frame(rows: list[ParRow]) -> pd.DataFrame:
    """The parameter table as a DataFrame with lavaan-like columns."""
    return pd.DataFrame([r.__dict__ for r in rows], columns=COLUMNS)
