"""Reading lavaan-style model text into statements, and writing it back.

Grammar (a subset of lavaan's): one statement per line or per ``;``; comments start
with ``#`` or ``!``; a line ending in ``+`` (or followed by one starting with ``+``)
continues. Operators: ``=~`` (measured by), ``~`` (regressed on), ``~~`` (covaries
with), ``:=`` (defined parameter). Each right-hand term may carry one modifier:
``1*x`` (fixed), ``a*x`` (label), ``NA*x`` (free), ``start(0.5)*x``, ``label("a")*x``.
Nothing in the text is ever executed; anything else is a :class:`ModelSyntaxError`
naming the line.
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
_LABEL_RE = re.compile(r"(?:label|equal)\(\s*['\"](" + NAME + r")['\"]\s*\)", re.ASCII)
_ARROWS = {"<->": "a covariance is written 'a ~~ b'",
           "<=>": "a covariance is written 'a ~~ b'",
           "->": "a regression is written 'y ~ x' (y regressed on x)",
           "=>": "a regression is written 'y ~ x' (y regressed on x)",
           "<-": "a regression is written 'y ~ x' (y regressed on x)"}
_OPERATORS = ("=~", "~~", ":=", "~")
_UNSUPPORTED = {"==": "equality constraints (give the parameters one shared label instead)",
                "<": "inequality constraints", ">": "inequality constraints",
                "<~": "composites ('<~')", "|": "thresholds ('|')"}


@dataclass(frozen=True)
class Statement:
    """One parsed term: ``lhs op rhs`` with its modifier."""

    lhs: str
    op: str
    rhs: str
    line: int
    fixed: float | None = None
    label: str = ""
    start: float | None = None
    free_forced: bool = False  # ``NA*x``


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
            if pending and (pending.endswith(("+", "*", "=~", "~", ":=")) or part.startswith("+")):
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
    for bad in ("<~", "==", "|"):
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
    raise ModelSyntaxError("no operator found; each statement needs one of =~, ~, ~~ or :=", line, chunk)


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
    out = []
    for term in (t.strip() for t in rhs_text.split("+")):
        if not term:
            raise ModelSyntaxError("empty term (two '+' in a row or a trailing '+')", line, chunk)
        out.extend(Statement(lhs, op, **_parse_term(term, line, chunk)) for lhs in lhs_names)
    return out


def _parse_term(term: str, line: int, chunk: str) -> dict:
    parts = [p.strip() for p in term.split("*")]
    name = parts[-1]
    if name == "1":
        # every intercept form: 'x ~ 1', 'x ~ 0*1', 'f ~ a*1', 'x ~ start(2)*1'
        raise NotSupportedError(f"line {line}: intercepts and means ('~ 1', also with a modifier such "
                                f"as '0*1' or 'a*1') are not supported; lcsem fits covariance "
                                f"structures only: remove the statement\n    {chunk}")
    if not is_name(name):
        raise ModelSyntaxError(f"{name!r} is not a valid variable name", line, chunk)
    result: dict = {"rhs": name, "line": line}
    for mod in parts[:-1]:
        if _NUMBER_RE.fullmatch(mod):
            result["fixed"] = _number(mod, line, chunk)
        elif mod == "NA":
            result["free_forced"] = True
        elif (m := _START_RE.fullmatch(mod)) is not None:
            if not _NUMBER_RE.fullmatch(m.group(1)):
                raise ModelSyntaxError(f"start() needs a number, got {m.group(1)!r}", line, chunk)
            result["start"] = _number(m.group(1), line, chunk)
        elif (m := _LABEL_RE.fullmatch(mod)) is not None:
            result["label"] = m.group(1)
        elif is_name(mod):
            result["label"] = mod
        else:
            raise ModelSyntaxError(f"cannot read the modifier {mod!r}; use a number (fixed value), "
                                   f"a label, NA or start(value)", line, chunk)
    if "fixed" in result and result.get("free_forced"):
        raise ModelSyntaxError(f"{term!r} is both fixed and free (NA)", line, chunk)
    return result


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
