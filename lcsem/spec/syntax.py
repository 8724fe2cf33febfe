"""Reading lavaan-style model text into statements, and writing it back.

Grammar (a subset of lavaan's): one statement per line or per ``;``; comments start
with ``#`` or ``!``; a line ending in ``+`` (or followed by one starting with ``+``)
continues. Operators: ``=~`` (measured by), ``~`` (regressed on), ``~~`` (covaries
with), ``:=`` (defined parameter), and for ordered (ordinal) indicators ``|``
(thresholds: ``y1 | t1 + t2 + t3``, right-hand terms ``t1``, ``t2``, ...) and ``~*~``
(scaling factor: ``y1 ~*~ y1``). Each right-hand term may carry one modifier:
``1*x`` (fixed), ``a*x`` (label), ``NA*x`` (free), ``start(0.5)*x``, ``label("a")*x``.
Intercepts and means are written ``x ~ 1`` (also ``x ~ 0*1``, ``f ~ a*1``, ``y ~ 1 + x``);
they become statements with lavaan's operator ``~1`` and an empty right-hand side.
Per-group modifiers (multi-group models, lavaan's ``c()``): ``c(a1, a2)*x`` (labels),
``c(1, NA)*x`` (fixed in group 1, free in group 2), ``start(c(0.5, 0.7))*x``; one value
per group, and a term with a ``c()`` takes no other modifier (lavaan 0.6.14 silently drops
the others, and reads a ``c()`` mixing labels with numbers as labels, so lcsem refuses
both). As lavaan, a term repeated within one statement is one parameter whose modifiers
are merged, so the per-group values and labels that ``semTools::measEq.syntax`` writes
(``f =~ c(NA, NA)*x1 + c(l1.g1, l1.g2)*x1``, ``x1 ~ c(0, NA)*1 + c(nu.g1, nu.g2)*1``) read
as one free-or-fixed, labelled parameter per group; two values or two labels for one
parameter are an error. Nothing in the text is ever executed; anything else is a
:class:`ModelSyntaxError` naming the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .._validation import NAME_PATTERN, check_number, is_name
from ..exceptions import ArgumentError, ModelSyntaxError, NotSupportedError
from .expressions import parse_expression

NAME = NAME_PATTERN
_NUMBER_RE = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", re.ASCII)
_START_RE = re.compile(r"start\(\s*([^)]*?)\s*\)", re.ASCII)
_C_RE = re.compile(r"c\(\s*([^()]*?)\s*\)", re.ASCII)
_START_C_RE = re.compile(r"start\(\s*c\(\s*([^()]*?)\s*\)\s*\)", re.ASCII)
_QUOTED_RE = re.compile(r"['\"](" + NAME + r")['\"]", re.ASCII)
_LABEL_RE = re.compile(r"(?:label|equal)\(\s*['\"](" + NAME + r")['\"]\s*\)", re.ASCII)
_ARROWS = {"<->": "a covariance is written 'a ~~ b'",
           "<=>": "a covariance is written 'a ~~ b'",
           "->": "a regression is written 'y ~ x' (y regressed on x)",
           "=>": "a regression is written 'y ~ x' (y regressed on x)",
           "<-": "a regression is written 'y ~ x' (y regressed on x)"}
_OPERATORS = ("=~", "~*~", "~~", ":=", "~", "|")
_UNSUPPORTED = {"==": "equality constraints (give the parameters one shared label instead)",
                "<": "inequality constraints", ">": "inequality constraints",
                "<~": "composites ('<~')"}
#: Right-hand side of a threshold statement: ``t1``, ``t2``, ... (lavaan's names).
THRESHOLD_RE = re.compile(r"t([1-9][0-9]{0,3})", re.ASCII)


@dataclass(frozen=True)
class GroupModifier:
    """The modifier of one term in one group (one value of lavaan's ``c(...)``)."""

    fixed: float | None = None
    label: str = ""
    start: float | None = None
    free_forced: bool = False  # ``NA``

    @property
    def empty(self) -> bool:
        """True when this group's value sets nothing."""
        return self.fixed is None and not self.label and self.start is None and not self.free_forced


@dataclass(frozen=True)
class Statement:
    """One parsed term: ``lhs op rhs`` with its modifier.

    Intercepts and means have ``op == "~1"`` and ``rhs == ""`` (lavaan's representation).
    ``groups`` holds per-group modifiers (lavaan's ``c(...)``), one per group, or None
    when the term has none; when it is set, the single-group fields (``fixed``, ``label``,
    ``start``, ``free_forced``) are unused (they are folded into every group's modifier).
    """

    lhs: str
    op: str
    rhs: str
    line: int
    fixed: float | None = None
    label: str = ""
    start: float | None = None
    free_forced: bool = False  # ``NA*x``
    groups: tuple[GroupModifier, ...] | None = None

    @property
    def n_values(self) -> int:
        """Number of per-group values of ``c(...)`` (1 when the term has none)."""
        return 1 if self.groups is None else len(self.groups)

    def in_group(self, group: int) -> "Statement":
        """This statement with the modifier of ``group`` (1-based) as its only modifier.

        A term without ``c(...)`` is the same in every group; a term whose ``c(...)`` has
        a single value uses it in every group (as lavaan). The caller checks the number of
        values against the number of groups.
        """
        if self.groups is None:
            return self
        mod = self.groups[0] if len(self.groups) == 1 else self.groups[group - 1]
        return Statement(self.lhs, self.op, self.rhs, self.line, mod.fixed, mod.label, mod.start,
                         mod.free_forced)

    def term_text(self) -> str:
        """The statement as lavaan text (``lhs op modifier*rhs``), for messages."""
        op = "~" if self.op == "~1" else self.op
        return f"{self.lhs} {op} {rhs_text(self)}"


def parse_syntax(text: str) -> list[Statement]:
    """Parse model text into a list of :class:`Statement`."""
    if not isinstance(text, str):
        raise ModelSyntaxError(f"model text must be a str, got {type(text).__name__}")
    statements: list[Statement] = []
    for line_no, chunk in _logical_lines(text):
        statements.extend(_parse_line(chunk, line_no))
    if not statements:
        raise ModelSyntaxError("the model text contains no statements; write e.g. 'f =~ x1 + x2 + x3'")
    return statements


def _logical_lines(text: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    pending, pending_line = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        body = re.split(r"[#!]", raw, maxsplit=1)[0].strip()
        if not body:
            continue
        for part in (p.strip() for p in body.split(";")):
            if not part:
                continue
            if pending and (pending.endswith(("+", "*", "=~", "~", ":=", "|")) or part.startswith("+")):
                pending = f"{pending} {part}"
                continue
            if pending:
                out.append((pending_line, pending))
            pending, pending_line = part, number
    if pending:
        out.append((pending_line, pending))
    return out


def _find_operator(chunk: str, line: int) -> tuple[str, str, str]:
    if re.match(r"^[A-Za-z_][\w.]*\s*\(", chunk):
        raise ModelSyntaxError("a statement cannot be a function call such as CONSTRAINT(...) or "
                               "START(...); lcsem never evaluates model text (use labels and "
                               "start() modifiers instead)", line, chunk)
    for arrow, fix in _ARROWS.items():
        if arrow in chunk:
            raise ModelSyntaxError(f"'{arrow}' is not lavaan syntax (lavaan has no arrow operators); "
                                   f"{fix}, a loading 'f =~ x1 + x2'", line, chunk)
    for bad in ("<~", "=="):
        if bad in chunk:
            raise NotSupportedError(f"line {line}: {_UNSUPPORTED[bad]} are not supported by lcsem"
                                    f"\n    {chunk}")
    for op in _OPERATORS:
        idx = chunk.find(op)
        if idx >= 0:
            return chunk[:idx].strip(), op, chunk[idx + len(op):].strip()
    for bad in ("<", ">"):
        if bad in chunk:
            raise NotSupportedError(f"line {line}: {_UNSUPPORTED[bad]} are not supported by lcsem"
                                    f"\n    {chunk}")
    raise ModelSyntaxError("no operator found; each statement needs one of =~, ~, ~~, :=, | "
                           "(thresholds) or ~*~ (scaling factors)", line, chunk)


def _parse_line(chunk: str, line: int) -> list[Statement]:
    lhs_text, op, rhs_text = _find_operator(chunk, line)
    if op == ":=":
        if not is_name(lhs_text):
            raise ModelSyntaxError(f"{lhs_text!r} is not a valid name for a defined parameter", line, chunk)
        parse_expression(rhs_text, line)
        return [Statement(lhs_text, op, "".join(rhs_text.split()), line)]
    lhs_names = [t.strip() for t in lhs_text.split("+")]
    for name in lhs_names:
        if not is_name(name):
            raise ModelSyntaxError(f"{name!r} is not a valid variable name (ASCII letters, digits, "
                                   f"'_' and '.', starting with a letter or '_')", line, chunk)
    if not rhs_text:
        raise ModelSyntaxError(f"'{op}' needs a right-hand side", line, chunk)
    terms: dict[str, dict] = {}
    for term in (t.strip() for t in rhs_text.split("+")):
        if not term:
            raise ModelSyntaxError("empty term (two '+' in a row or a trailing '+')", line, chunk)
        fields = _parse_term(term, line, chunk)
        if fields["rhs"] == "":
            if op != "~":
                raise ModelSyntaxError(f"'1' after '{op}' has no meaning; an intercept or mean is "
                                       f"written 'x ~ 1' (with '~')", line, chunk)
            fields["op"] = "~1"
        else:
            fields["op"] = op
            _check_ordinal_term(op, fields["rhs"], lhs_names, line, chunk)
        key = fields["rhs"]
        terms[key] = _merge_terms(terms[key], fields, term, line, chunk) if key in terms else fields
    # lavaan's order: each left-hand name with every term in turn ('a + b ~~ c + d' is
    # a ~~ c, a ~~ d, b ~~ c, b ~~ d)
    return [Statement(lhs=lhs, **fields) for lhs in lhs_names for fields in terms.values()]


def _check_ordinal_term(op: str, rhs: str, lhs_names: list[str], line: int, chunk: str) -> None:
    """The right-hand side of ``|`` is a threshold name; ``~*~`` relates a variable to itself."""
    if op == "|" and THRESHOLD_RE.fullmatch(rhs) is None:
        raise ModelSyntaxError(f"{rhs!r} is not a threshold name; thresholds of an ordered variable "
                               f"are written 'y | t1 + t2 + t3' (t1 the lowest), with modifiers as "
                               f"'y | 0*t1' or 'y | a*t1'", line, chunk)
    if op == "~*~" and any(lhs != rhs for lhs in lhs_names):
        raise ModelSyntaxError(f"a scaling factor relates an ordered variable to itself, "
                               f"'{lhs_names[0]} ~*~ {lhs_names[0]}'; got {rhs!r} on the right", line, chunk)


def _merge_terms(first: dict, second: dict, term: str, line: int, chunk: str) -> dict:
    """One parameter written twice in one statement (lavaan merges the modifiers:
    ``c(NA, NA)*x + c(a1, a2)*x`` is free in both groups with labels a1, a2). A copy
    without any modifier is a repetition by mistake, which lcsem refuses."""
    if all(k in ("rhs", "line", "op") for k in first) or all(k in ("rhs", "line", "op") for k in second):
        shown = "1" if first["rhs"] == "" else first["rhs"]
        raise ModelSyntaxError(f"{shown!r} is written twice in this statement; keep one (a term is "
                               f"repeated only to combine modifiers, e.g. c(NA, NA)*x + c(a1, a2)*x)",
                               line, chunk)
    if "groups" not in first and "groups" not in second:
        out = dict(first)
        for key, value in second.items():
            if key not in ("rhs", "line", "op"):
                _merge(out, {key: value}, term, line, chunk)
        if "fixed" in out and out.get("free_forced"):
            raise ModelSyntaxError(f"{term!r}: the parameter is both fixed and free (NA) in this "
                                   f"statement", line, chunk)
        return out
    a, b = _as_groups(first), _as_groups(second)
    if len(a) != len(b) and 1 not in (len(a), len(b)):
        raise ModelSyntaxError(f"{term!r}: the repeated term gives {len(b)} values per group where "
                               f"the first gave {len(a)}; give each c(...) one value per group",
                               line, chunk)
    n = max(len(a), len(b))
    a, b = (a * n if len(a) == 1 else a), (b * n if len(b) == 1 else b)
    merged = []
    for g, (ma, mb) in enumerate(zip(a, b), start=1):
        fields = _set_fields(ma)
        for key, value in _set_fields(mb).items():
            _merge(fields, {key: value}, f"{term} (group {g})", line, chunk)
        if "fixed" in fields and fields.get("free_forced"):
            raise ModelSyntaxError(f"{term!r}: the parameter is both fixed and free (NA) in group "
                                   f"{g}", line, chunk)
        merged.append(GroupModifier(**fields))
    groups = tuple(merged)
    reason = check_group_modifiers(groups)
    if reason:
        raise ModelSyntaxError(f"{term!r}: {reason}", line, chunk)
    return {"rhs": first["rhs"], "line": line, "op": first["op"], "groups": groups}


def _set_fields(m: GroupModifier) -> dict:
    """The fields a per-group modifier sets."""
    out: dict = {}
    if m.fixed is not None:
        out["fixed"] = m.fixed
    if m.label:
        out["label"] = m.label
    if m.start is not None:
        out["start"] = m.start
    if m.free_forced:
        out["free_forced"] = True
    return out


def _as_groups(fields: dict) -> tuple[GroupModifier, ...]:
    if "groups" in fields:
        return fields["groups"]
    return (GroupModifier(fields.get("fixed"), fields.get("label", ""), fields.get("start"),
                          fields.get("free_forced", False)),)


def _parse_term(term: str, line: int, chunk: str) -> dict:
    parts = [p.strip() for p in term.split("*")]
    name = parts[-1]
    if name == "1":
        name = ""   # an intercept or mean: lavaan's 'lhs ~1'
    elif not is_name(name):
        raise ModelSyntaxError(f"{name!r} is not a valid variable name", line, chunk)
    result: dict = {"rhs": name, "line": line}
    modifiers = parts[:-1]
    c_mods = [mod for mod in modifiers if _C_RE.fullmatch(mod) or _START_C_RE.fullmatch(mod)]
    if c_mods:
        if len(modifiers) > 1:
            raise ModelSyntaxError(
                f"{term!r}: a term with a per-group modifier c(...) takes that one modifier "
                f"(lavaan 0.6.14 silently drops the others); write c(a1, a2)*x for labels, "
                f"c(1, NA)*x for fixed/free values or start(c(0.5, 0.7))*x for start values", line, chunk)
        mod = c_mods[0]
        if (m := _START_C_RE.fullmatch(mod)) is not None:
            values = [_start_value(v, mod, line, chunk) for v in _c_values(m.group(1), mod, line, chunk)]
        else:
            values = [_c_value(v, mod, line, chunk)
                      for v in _c_values(_C_RE.fullmatch(mod).group(1), mod, line, chunk)]  # type: ignore[union-attr]
            kinds = {"label" if "label" in v else "value" for v in values}
            if len(kinds) > 1:
                raise ModelSyntaxError(
                    f"{mod!r} mixes labels with numbers or NA; lavaan reads such a c() as labels "
                    f"(c(a, NA) is the label 'a' in every group), so lcsem refuses it: give every "
                    f"group a label, c(a1, a2), or every group a value, c(1, NA)", line, chunk)
        result["groups"] = tuple(GroupModifier(**v) for v in values)
        return result
    for mod in modifiers:
        _merge(result, _scalar_modifier(mod, line, chunk), term, line, chunk)
    if "fixed" in result and result.get("free_forced"):
        raise ModelSyntaxError(f"{term!r} is both fixed and free (NA)", line, chunk)
    return result


def _scalar_modifier(mod: str, line: int, chunk: str) -> dict:
    if _NUMBER_RE.fullmatch(mod):
        return {"fixed": _number(mod, line, chunk)}
    if mod == "NA":
        return {"free_forced": True}
    if (m := _START_RE.fullmatch(mod)) is not None:
        if not _NUMBER_RE.fullmatch(m.group(1)):
            raise ModelSyntaxError(f"start() needs a number, got {m.group(1)!r}", line, chunk)
        return {"start": _number(m.group(1), line, chunk)}
    if (m := _LABEL_RE.fullmatch(mod)) is not None:
        return {"label": m.group(1)}
    if is_name(mod):
        return {"label": mod}
    raise ModelSyntaxError(f"cannot read the modifier {mod!r}; use a number (fixed value), "
                           f"a label, NA, start(value) or c(...) with one of these per group",
                           line, chunk)


def _c_values(body: str, mod: str, line: int, chunk: str) -> list[str]:
    values = [v.strip() for v in body.split(",")]
    if not body.strip() or any(not v for v in values):
        raise ModelSyntaxError(f"the modifier {mod!r} has an empty value; write one value per group, "
                               f"e.g. c(a1, a2) or c(1, NA)", line, chunk)
    return values


def _c_value(value: str, mod: str, line: int, chunk: str) -> dict:
    if _NUMBER_RE.fullmatch(value):
        return {"fixed": _number(value, line, chunk)}
    if value == "NA":
        return {"free_forced": True}
    if (m := _QUOTED_RE.fullmatch(value)) is not None:
        return {"label": m.group(1)}
    if is_name(value):
        return {"label": value}
    raise ModelSyntaxError(f"cannot read the value {value!r} in {mod!r}; each value of c() is a "
                           f"number (fixed), NA (free) or a label", line, chunk)


def _start_value(value: str, mod: str, line: int, chunk: str) -> dict:
    if value == "NA":
        return {}
    if _NUMBER_RE.fullmatch(value):
        return {"start": _number(value, line, chunk)}
    raise ModelSyntaxError(f"cannot read the value {value!r} in {mod!r}; each value of start(c()) "
                           f"is a number or NA", line, chunk)


def _merge(into: dict, new: dict, term: str, line: int, chunk: str) -> None:
    for key, value in new.items():
        if key in into and into[key] != value:
            what = {"fixed": "fixed values", "label": "labels", "start": "start values",
                    "free_forced": "free markers"}[key]
            raise ModelSyntaxError(f"{term!r} has two {what} for one parameter; give each at most once",
                                   line, chunk)
        into[key] = value


def modifier_text(s: Statement) -> str:
    """The modifier of a statement as lavaan text ending in ``*`` ('' when it has none).

    A statement whose per-group modifiers need several ``c(...)`` (values and labels,
    as ``semTools::measEq.syntax`` writes them) is written as repeated terms: use
    :func:`rhs_text` for text that reads back."""
    if s.groups is not None:
        return "".join(f"{m}*" for m in _group_modifier_texts(s.groups))
    if s.fixed is not None:
        return f"{format_number(s.fixed)}*"
    mods = []
    if s.free_forced:
        mods.append("NA")
    if s.label:
        mods.append(s.label)
    if s.start is not None:
        mods.append(f"start({format_number(s.start)})")
    return "".join(f"{m}*" for m in mods)


def rhs_text(s: Statement) -> str:
    """The right-hand side of a statement with its modifiers, as lavaan text that
    :func:`parse_syntax` reads back (``c(NA, NA)*x + c(a1, a2)*x`` for a statement whose
    per-group modifiers set values and labels)."""
    rhs = "1" if s.op == "~1" else s.rhs
    if s.groups is None:
        return modifier_text(s) + rhs
    return " + ".join(f"{m}*{rhs}" for m in _group_modifier_texts(s.groups)) or rhs


def _group_modifier_texts(groups: tuple[GroupModifier, ...]) -> list[str]:
    """The ``c(...)`` texts that read back as ``groups`` (see :func:`check_group_modifiers`):
    values (a number or NA per group), labels, start values, in that order."""
    out = []
    if any(m.fixed is not None or m.free_forced for m in groups):
        out.append("c(" + ", ".join("NA" if m.fixed is None else format_number(m.fixed) for m in groups) + ")")
    if any(m.label for m in groups):
        out.append("c(" + ", ".join(m.label for m in groups) + ")")
    if any(m.start is not None for m in groups):
        out.append("start(c(" + ", ".join("NA" if m.start is None else format_number(m.start)
                                          for m in groups) + "))")
    return out


def check_group_modifiers(groups: tuple[GroupModifier, ...]) -> str:
    """'' when ``groups`` is what ``c(...)`` modifiers can say, else the reason it is not.

    One ``c()`` gives every group a label, or every group a value (a fixed number or NA,
    free), or start values (``start(c(...))``, NA for none); lavaan 0.6.14 drops the
    other modifiers of a term that has a ``c()``, so lcsem does not combine them in one
    term. A term repeated in one statement merges them (lavaan; ``semTools::measEq.syntax``
    writes ``c(NA, NA)*x + c(a1, a2)*x``): labels in every group or none, a value in every
    group or none, and start values only in groups whose parameter is not fixed."""
    labels = [bool(m.label) for m in groups]
    values = [m.fixed is not None or m.free_forced for m in groups]
    ok = (all(labels) or not any(labels)) and (all(values) or not any(values))
    ok = ok and all(not (m.fixed is not None and m.free_forced) for m in groups)
    ok = ok and all(m.start is None or m.fixed is None for m in groups)
    if ok:
        return ""
    return ("each group needs the same kind of value: a label in every group (c(a1, a2)), a "
            "number or NA in every group (c(1, NA)), start values (start(c(0.5, NA))) only where "
            "the parameter is not fixed; repeat the term to combine them, c(NA, NA)*x + c(a1, a2)*x")


def _number(text: str, line: int, chunk: str) -> float:
    """A fixed or start value: finite and of moderate size, else a syntax error."""
    try:
        return check_number(float(text), "value")  # type: ignore[return-value]
    except ArgumentError:
        shown = text if len(text) <= 30 else f"{text[:12]}...{text[-6:]} ({len(text)} characters)"
        raise ModelSyntaxError(f"the number {shown} is too large (or not finite) for a fixed or start "
                               f"value; use a value between -1e10 and 1e10", line, chunk) from None


def format_number(value: float) -> str:
    """Shortest text that reads back as ``value``."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def group_modifiers_to_records(groups: tuple[GroupModifier, ...] | None) -> list[dict] | None:
    """Per-group modifiers as plain JSON-able dicts (for saved models); None stays None."""
    if groups is None:
        return None
    return [{"fixed": m.fixed, "label": m.label, "start": m.start, "free_forced": m.free_forced}
            for m in groups]


def group_modifiers_from_records(records: object) -> tuple[GroupModifier, ...] | None:
    """Inverse of :func:`group_modifiers_to_records`. Field types are checked here; the
    values are validated by the :class:`~lcsem.Model` constructor (``check_statement``)."""
    if records is None:
        return None
    if not isinstance(records, list) or not records:
        raise ArgumentError(f"groups: expected a non-empty list of per-group modifiers, got "
                            f"{type(records).__name__}")
    out = []
    for i, record in enumerate(records):
        if not isinstance(record, dict) or set(record) - {"fixed", "label", "start", "free_forced"}:
            raise ArgumentError(f"groups[{i}]: expected a dict with fixed, label, start and free_forced, "
                                f"got {str(record)[:60]!r}")
        out.append(GroupModifier(**record))
    return tuple(out)
