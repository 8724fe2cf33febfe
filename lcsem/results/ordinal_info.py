"""What an ordinal fit adds to a :class:`~lcsem.FitResult`: its ordered variables, the
parameterisation, lavaan's parameter table and the sample and implied thresholds."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..spec.partable import ParRow


@dataclass(frozen=True, eq=False)
class OrdinalInfo:
    """The ordinal part of a fit (``FitResult.ordinal``; None for continuous fits).

    Attributes
    ----------
    ordered
        ``(variable, number of thresholds)`` of every ordered variable, in model order.
    parameterization
        ``"delta"`` or ``"theta"``.
    rows
        lavaan's parameter table of the fit (thresholds ``|``, scaling factors ``~*~``).
    sample_th, implied_th
        The sample thresholds and the model's (lavaan's ``lavInspect(fit, "sampstat")$th``
        and ``"implied"``), named ``"y1|t1"``, ...; continuous variables appear as
        ``"x~1"`` with minus their mean (lavaan's ``WLS.obs`` convention). A (group, name)
        MultiIndex for multi-group fits.
    estimator_details
        lavaan's resolved options: ``{"weights": "DWLS", "se": "robust.sem", "test":
        "scaled.shifted"}``.
    """

    ordered: tuple[tuple[str, int], ...]
    parameterization: str
    rows: tuple[ParRow, ...]
    sample_th: pd.Series
    implied_th: pd.Series
    estimator_details: tuple[tuple[str, str], ...] = ()

    @property
    def ordered_names(self) -> tuple[str, ...]:
        """The ordered variables."""
        return tuple(name for name, _ in self.ordered)
