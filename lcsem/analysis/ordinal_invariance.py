"""Measurement invariance of ordered (Likert) items: the Wu and Estabrook (2016) sequence.

With ordered indicators, equal loadings alone are not testable: the latent responses'
scales are set by the thresholds. Wu and Estabrook's identification (semTools'
``measEq.syntax(ID.cat = "Wu.Estabrook.2016", ID.fac = "std.lv", parameterization =
"delta")``) fits, in every group, free loadings and thresholds with latent variances 1,
latent means 0, intercepts of the latent responses 0 and scaling factors 1 (configural);
then holds the thresholds equal and frees the intercepts and scaling factors of groups
2..G (thresholds); then also the loadings, freeing the latent variances of groups 2..G
(metric); then also the intercepts, fixing them at 0 again and freeing the latent means of
groups 2..G (scalar). This module writes those models as lavaan syntax with ``c()``
modifiers, exactly as ``measEq.syntax`` does; :func:`lcsem.invariance` fits them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..exceptions import ArgumentError, NotSupportedError
from ..spec.model import Model

__all__ = ["ORDINAL_LEVELS", "ORDINAL_LEVEL_CLASSES", "wu_estabrook_models"]

#: The levels of the ordinal sequence, in order.
ORDINAL_LEVELS = ("configural", "thresholds", "metric", "scalar")
#: lavaan ``group.equal`` classes each level holds equal (cumulative).
ORDINAL_LEVEL_CLASSES: Mapping[str, tuple[str, ...]] = {
    "configural": (),
    "thresholds": ("thresholds",),
    "metric": ("thresholds", "loadings"),
    "scalar": ("thresholds", "loadings", "intercepts"),
}


def _c(values: Sequence[str]) -> str:
    return f"c({', '.join(values)})"


def _check_measurement_model(model: Model, ordered: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The factors and their indicators of a CFA whose indicators are all ordered."""
    latent = set(model.latent)
    factors: dict[str, list[str]] = {}
    for row in model.rows:
        if row.op == "=~":
            factors.setdefault(row.lhs, []).append(row.rhs)
        elif row.op == "~" or (row.op == "~~" and (row.lhs in latent) != (row.rhs in latent)):
            raise NotSupportedError(
                f"model: invariance of ordered items tests a measurement model (factors, their "
                f"indicators and the factors' covariances), as semTools' measEq.syntax; the row "
                f"'{row.lhs} {row.op} {row.rhs}' is not one. Test invariance on the CFA of the "
                f"measurement part, then fit the structural model with the constraints that held")
        elif row.op == "~~" and row.lhs not in latent and row.lhs != row.rhs:
            raise NotSupportedError(f"model: the residual covariance '{row.lhs} ~~ {row.rhs}' of ordered "
                                    f"items is not supported by the ordinal invariance sequence; leave it out")
    indicators = [x for items in factors.values() for x in items]
    if len(set(indicators)) != len(indicators):
        raise NotSupportedError("model: an indicator loads on two factors; the ordinal invariance sequence "
                                "needs each ordered item to measure one factor")
    continuous = [x for x in indicators if x not in ordered]
    if continuous:
        raise NotSupportedError(f"ordered: {continuous[0]!r} is an indicator but not ordered; the Wu-Estabrook "
                                f"sequence is for models whose indicators are all ordered (pass ordered=True)")
    return {f: tuple(items) for f, items in factors.items()}


def wu_estabrook_models(model: Model, n_thresholds: Mapping[str, int], n_groups: int,
                        levels: Sequence[str]) -> dict[str, str]:
    """Model text of each level (configural, thresholds, metric, scalar) for ``n_groups``
    groups, with ``n_thresholds[item]`` thresholds per ordered item."""
    if n_groups < 2:
        raise ArgumentError(f"group: invariance compares two or more groups, got {n_groups}")
    factors = _check_measurement_model(model, tuple(n_thresholds))
    G = range(1, n_groups + 1)
    free_all = _c(["NA"] * n_groups)
    out: dict[str, str] = {}
    for level in levels:
        held = set(ORDINAL_LEVEL_CLASSES[level])
        lines: list[str] = []
        for f, items in factors.items():
            for x in items:
                labels = [f"lambda.{x}"] * n_groups if "loadings" in held else [f"lambda.{x}.g{g}" for g in G]
                lines.append(f"{f} =~ {free_all}*{x} + {_c(labels)}*{x}")
        for f, items in factors.items():
            for x in items:
                for t in range(1, n_thresholds[x] + 1):
                    labels = ([f"{x}.thr{t}"] * n_groups if "thresholds" in held
                              else [f"{x}.thr{t}.g{g}" for g in G])
                    lines.append(f"{x} | {_c(labels)}*t{t}")
        # latent-response intercepts and scaling factors: free in groups 2..G once the
        # thresholds are equal; the intercepts are fixed at 0 again when held equal
        free_later = "thresholds" in held and "intercepts" not in held
        for f, items in factors.items():
            for x in items:
                fixed = ["0"] + (["NA"] * (n_groups - 1) if free_later else ["0"] * (n_groups - 1))
                lines.append(f"{x} ~ {_c(fixed)}*1")
                scale = ["1"] + (["NA"] * (n_groups - 1) if "thresholds" in held else ["1"] * (n_groups - 1))
                lines.append(f"{x} ~*~ {_c(scale)}*{x}")
        names = list(factors)
        for f in names:
            means = ["0"] + (["NA"] * (n_groups - 1) if "intercepts" in held else ["0"] * (n_groups - 1))
            lines.append(f"{f} ~ {_c(means)}*1")
            variances = ["1"] + (["NA"] * (n_groups - 1) if "loadings" in held else ["1"] * (n_groups - 1))
            lines.append(f"{f} ~~ {_c(variances)}*{f}")
        for i, f in enumerate(names):
            for h in names[i + 1:]:
                lines.append(f"{f} ~~ {free_all}*{h}")
        out[level] = "\n".join(lines)
    return out
