"""Per-group views of a multi-group / mean-structure parameter table: standardised values,
R² and admissibility of every row, group by group, from one shared parameter vector.

Each group's covariance rows form a :class:`~lcsem.engine.ram.RamStructure` over the global
parameter vector; its intercept rows (``op == "~1"``) are standardised by the model-implied
standard deviation of their variable in that group (lavaan's ``std.all`` of an intercept or
latent mean is ``nu / sd``; ``std.lv`` leaves observed intercepts in raw units).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..engine import RamStructure, implied_all
from ..exceptions import ArgumentError
from ..spec.groups import fixed_x_free
from ..spec.model import Model
from ..spec.partable import ParRow
from .standardized import (STANDARDIZED_KINDS, DefinedParameters, admissibility, delta_table, r2_values,
                           standardized_values, unscaled_variables)


@dataclass(frozen=True)
class GroupBlock:
    """One group's rows: its covariance structure and the table positions of its rows."""

    number: int                      # 1-based group number
    struct: RamStructure             # covariance rows of the group, over the global theta
    cov_positions: np.ndarray        # positions (in the non-':=' table) of those rows
    mean_positions: np.ndarray       # positions of the group's '~1' rows
    mean_variables: np.ndarray       # index (in struct.names) of each '~1' row's variable


class GroupLayout:
    """The table of a (multi-group, mean-structure) model split into per-group blocks."""

    def __init__(self, rows: tuple[ParRow, ...] | list[ParRow], observed: tuple[str, ...],
                 latent: tuple[str, ...]):
        self.rows = tuple(r for r in rows if r.op != ":=")
        self.k = max((r.free for r in self.rows), default=0)
        self.observed, self.latent = tuple(observed), tuple(latent)
        numbers = sorted({r.group for r in self.rows})
        blocks = []
        for g in numbers:
            cov = [i for i, r in enumerate(self.rows) if r.group == g and r.op != "~1"]
            means = [i for i, r in enumerate(self.rows) if r.group == g and r.op == "~1"]
            struct = RamStructure([self.rows[i] for i in cov], self.observed, self.latent, k=self.k)
            blocks.append(GroupBlock(g, struct, np.array(cov, int), np.array(means, int),
                                     np.array([struct.names.index(self.rows[i].lhs) for i in means], int)))
        self.blocks = tuple(blocks)
        self.free = np.array([r.free - 1 for r in self.rows], int)
        self.fixed = np.array([r.value if not r.free and np.isfinite(r.value) else 0.0 for r in self.rows])

    @property
    def n_groups(self) -> int:
        return len(self.blocks)

    def row_values(self, theta: np.ndarray) -> np.ndarray:
        """Value of every (non-':=') row for each row of ``theta``: (R, n_rows)."""
        theta = np.atleast_2d(theta)
        if self.k == 0:
            return np.broadcast_to(self.fixed, (theta.shape[0], self.fixed.size)).copy()
        return np.where(self.free >= 0, theta[:, np.maximum(self.free, 0)], self.fixed)

    def standardized(self, theta: np.ndarray, kind: str, exogenous_observed: tuple[str, ...] = ()
                     ) -> np.ndarray:
        """Standardised value of every row (``kind`` one of ``std_all``, ``std_lv``, ``std_nox``)."""
        theta = np.atleast_2d(theta)
        out = np.empty((theta.shape[0], len(self.rows)))
        values = self.row_values(theta)
        for b in self.blocks:
            unscaled = unscaled_variables(b.struct, kind, exogenous_observed)
            out[:, b.cov_positions] = standardized_values(b.struct, theta, unscaled)
            if b.mean_positions.size:
                total = np.diagonal(implied_all(b.struct, theta), axis1=1, axis2=2)
                keep = np.zeros(b.struct.m, bool)
                keep[list(unscaled)] = True
                with np.errstate(invalid="ignore", divide="ignore"):
                    sd = np.where(keep[None, :], 1.0, np.sqrt(total))[:, b.mean_variables]
                    out[:, b.mean_positions] = values[:, b.mean_positions] / sd
        return out

    def r2(self, theta: np.ndarray, endogenous: tuple[str, ...]) -> np.ndarray:
        """R² of ``endogenous`` per group: (R, G, len(endogenous))."""
        return np.stack([r2_values(b.struct, theta, endogenous) for b in self.blocks], axis=1)

    def inadmissible(self, theta: np.ndarray, labels: tuple[str, ...]) -> tuple[str, ...]:
        """Reasons the solution at one ``theta`` is inadmissible, naming the group."""
        theta = np.atleast_2d(theta)
        std = self.standardized(theta, "std_all")
        out: list[str] = []
        for b, label in zip(self.blocks, labels):
            reasons = admissibility(b.struct, theta, std=std[:, b.cov_positions])[0]
            prefix = f"group {label}: " if self.n_groups > 1 else ""
            out.extend(prefix + r for r in reasons)
        return tuple(out)


def fixed_x_ids(rows: tuple[ParRow, ...], model: Model) -> frozenset[int]:
    """Free numbers of the covariates' moments that lavaan's ``fixed.x`` treats as given."""
    return fixed_x_free(model, rows)


def grouped_standardized_solution(res, kind: str = "std_all", level: float = 0.95) -> pd.DataFrame:
    """lavaan's ``standardizedSolution`` of a multi-group / mean-structure fit: every row of
    every group (and the ``:=`` rows) with delta-method inference from the joint covariance."""
    if kind not in STANDARDIZED_KINDS:
        raise ArgumentError(f"type: {kind!r} is not one of {STANDARDIZED_KINDS}")
    model = res.model
    layout = GroupLayout(res.rows, model.observed, model.latent)
    defined = DefinedParameters(res.rows)
    exo = model.roles.exogenous_observed

    def values(theta: np.ndarray) -> np.ndarray:
        std = layout.standardized(theta, kind, exo)
        return np.hstack([std, defined.evaluate(std)]) if defined.names else std

    return delta_table(values, res.theta, res.vcov, fixed_x_ids(res.rows, model), res.estimates, level)
