"""Temporary parameter tables of ordinal models (lavaan's defaults without group_equal),
used until the spec layer's ``ordinal_table`` (helper ordspec) lands; then deleted."""

from __future__ import annotations

from dataclasses import replace
from typing import Mapping

from ..spec.groups import group_table
from ..spec.model import Model
from ..spec.partable import ParRow


def ordinal_rows(model: Model, ordered: Mapping[str, int], n_groups: int = 1,
                 parameterization: str = "delta") -> tuple[ParRow, ...]:
    """lavaan's table: per group the model's rows with, for each ordered variable, its
    intercept fixed 0, its residual variance fixed 1 (shown; derived under delta), free
    thresholds ``t1..tK`` and a scaling factor ``~*~`` fixed 1."""
    base = group_table(model, n_groups, meanstructure=True)
    out: list[ParRow] = []
    for g in range(1, n_groups + 1):
        rows = [r for r in base if r.group == g]
        fixed = []
        for r in rows:
            if r.lhs in ordered and ((r.op == "~1") or (r.op == "~~" and r.rhs == r.lhs)):
                value = 0.0 if r.op == "~1" else 1.0
                fixed.append(replace(r, free=0, value=value, user=False))
            else:
                fixed.append(r)
        out.extend(fixed)
        for v, K in ordered.items():
            out.extend(ParRow(v, "|", f"t{j}", "", -1, float("nan"), False, g) for j in range(1, K + 1))
        out.extend(ParRow(v, "~*~", v, "", 0, 1.0, False, g) for v in ordered)
    out.extend(r for r in base if r.op == ":=")
    # renumber the free parameters (shared numbers stay shared; thresholds get their own)
    numbers: dict[int, int] = {}
    result = []
    for r in out:
        if r.free == -1:
            numbers_next = len(numbers) + 1
            numbers[-len(result) - 10] = numbers_next
            result.append(replace(r, free=numbers_next))
        elif r.free > 0:
            if r.free not in numbers:
                numbers[r.free] = len(numbers) + 1
            result.append(replace(r, free=numbers[r.free]))
        else:
            result.append(r)
    return tuple(result)
