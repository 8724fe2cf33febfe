"""Safe arithmetic for defined parameters (``name := a*b``).

Expressions are parsed with :mod:`ast` (which never executes anything) and only a
whitelist of node types is accepted: numbers, parameter labels, ``+ - * / ^ **``,
parentheses and a few functions. Evaluation works element-wise on numpy arrays, so one
call evaluates an expression for every bootstrap replicate at once.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from ..exceptions import ModelSyntaxError

_FUNCTIONS = {
    "sqrt": np.sqrt,
    "exp": np.exp,
    "log": np.log,
    "abs": np.abs,
}
#: Most operators and brackets in one defined parameter (deeper expressions would exhaust
#: Python's recursion limit when parsed or evaluated).
MAX_OPERATORS = 250
_ALLOWED_TEXT = re.compile(r"[A-Za-z0-9_.+\-*/^()\s]*", re.ASCII)

_BINOPS = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.divide,
    ast.Pow: np.power,
}


@dataclass(frozen=True)
class Expression:
    """A parsed, validated arithmetic expression over parameter labels."""

    text: str
    tree: ast.Expression
    names: tuple[str, ...]

    def evaluate(self, values: Mapping[str, np.ndarray | float]) -> np.ndarray | float:
        """Evaluate with ``values[label]`` (scalars or equally shaped arrays)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return _eval(self.tree.body, values)


def parse_expression(text: str, line: int | None = None) -> Expression:
    """Parse ``text`` into an :class:`Expression`, refusing anything but arithmetic."""
    if not isinstance(text, str):
        raise ModelSyntaxError(f"a defined parameter needs an expression as text, got "
                               f"{type(text).__name__}", line)
    source = text.strip().replace("^", "**")
    if not source:
        raise ModelSyntaxError("':=' needs an expression on its right-hand side", line, text)
    if not _ALLOWED_TEXT.fullmatch(source):
        bad = sorted({c for c in source if not _ALLOWED_TEXT.fullmatch(c)})
        raise ModelSyntaxError(f"the expression {_short(text)!r} contains {''.join(bad)!r}; only "
                               f"parameter labels, numbers, + - * / ^, brackets and the functions "
                               f"{', '.join(sorted(_FUNCTIONS))} are allowed", line)
    n_operators = sum(source.count(c) for c in "+-*/(")
    if n_operators > MAX_OPERATORS:
        raise ModelSyntaxError(f"the expression {_short(text)!r} has {n_operators} operators and "
                               f"brackets (at most {MAX_OPERATORS}); split it into several ':=' "
                               f"definitions that build on each other (e.g. 's1 := a+b+c', "
                               f"'total := s1 + d')", line)
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise ModelSyntaxError(f"cannot read the expression {_short(text)!r} ({exc.msg})", line) from None
    except (ValueError, RecursionError, MemoryError, OverflowError) as exc:
        raise ModelSyntaxError(f"cannot read the expression {_short(text)!r} ({type(exc).__name__}: "
                               f"{str(exc)[:80]}); shorten it", line) from None
    names: list[str] = []
    for node in ast.walk(tree):
        _check_node(node, text, line)
        if isinstance(node, ast.Name) and node.id not in _FUNCTIONS and node.id not in names:
            names.append(node.id)
    return Expression(text.strip(), tree, tuple(names))


def _short(text: str, limit: int = 60) -> str:
    text = text.strip()
    return text if len(text) <= limit else f"{text[:limit - 12]}...{text[-8:]}"


def _check_node(node: ast.AST, text: str, line: int | None) -> None:
    allowed = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Load,
               ast.Call, ast.UAdd, ast.USub, *_BINOPS)
    if not isinstance(node, allowed):
        raise ModelSyntaxError(
            f"only numbers, parameter labels, + - * / ^ and the functions "
            f"{', '.join(sorted(_FUNCTIONS))} may appear in a defined parameter; "
            f"found {type(node).__name__} in {text.strip()!r}", line)
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise ModelSyntaxError(f"only numeric constants are allowed, not {node.value!r}", line, text)
        try:
            finite = math.isfinite(float(node.value))
        except OverflowError:
            finite = False
        if not finite:
            raise ModelSyntaxError(f"a number in {_short(text)!r} is too large for a float; use "
                                   f"numbers of at most about 1e308", line)
    if isinstance(node, ast.Name) and not node.id.isascii():
        raise ModelSyntaxError(f"{node.id!r} in {_short(text)!r} is not a valid label", line)
    if isinstance(node, ast.Call):
        if not (isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS) or node.keywords \
                or len(node.args) != 1:
            raise ModelSyntaxError(
                f"only the one-argument functions {', '.join(sorted(_FUNCTIONS))} may be called "
                f"in a defined parameter ({text.strip()!r})", line)


def _eval(node: ast.AST, values: Mapping[str, np.ndarray | float]):
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        return values[node.id]
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, values)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp):
        return _BINOPS[type(node.op)](_eval(node.left, values), _eval(node.right, values))
    if isinstance(node, ast.Call):
        return _FUNCTIONS[node.func.id](_eval(node.args[0], values))  # type: ignore[union-attr]
    raise AssertionError(f"unvalidated node {node!r}")  # pragma: no cover
