"""Errors and warnings raised by lcsem.

Every error derives from :class:`LcsemError`; most also derive from the matching
built-in (``ValueError``, ``TypeError``, ``KeyError``) so that generic handlers keep
working. Every warning has its own class so that callers can filter precisely.
"""

from __future__ import annotations

__all__ = [
    "LcsemError",
    "ModelSyntaxError",
    "ModelSpecificationError",
    "DataError",
    "MissingColumnsError",
    "ArgumentError",
    "EstimationError",
    "NotSupportedError",
    "LcsemWarning",
    "ConvergenceWarning",
    "NonAdmissibleWarning",
    "OrdinalDataWarning",
    "BootstrapFailureWarning",
    "BootstrapInterruptedWarning",
    "UnstableRatioWarning",
    "IdentificationWarning",
    "ScalingWarning",
    "MissingDataWarning",
    "ScaledTestWarning",
    "PolychoricWarning",
]


class LcsemError(Exception):
    """Base class of every error lcsem raises on purpose."""


class ModelSyntaxError(LcsemError, ValueError):
    """Model text that cannot be read; the message names the line."""

    def __init__(self, message: str, line: int | None = None, text: str | None = None):
        self.line = line
        self.text = text
        where = f"line {line}: " if line else ""   # line 0: built in code, not read from text
        shown = f"\n    {text.strip()}" if text else ""
        super().__init__(f"{where}{message}{shown}")


class ModelSpecificationError(LcsemError, ValueError):
    """A model that reads fine but cannot be estimated as written."""


class DataError(LcsemError, ValueError):
    """Data that cannot be used with the model."""


class MissingColumnsError(DataError, KeyError):
    """Indicator columns the model needs are absent from the data."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ArgumentError(LcsemError, ValueError):
    """A function argument with an invalid value."""


class EstimationError(LcsemError, RuntimeError):
    """Estimation failed in a way no result can represent."""


class NotSupportedError(LcsemError, NotImplementedError):
    """A valid request lcsem does not (yet) support."""


class LcsemWarning(UserWarning):
    """Base class of lcsem's warnings."""


class ConvergenceWarning(LcsemWarning):
    """The optimiser stopped before reaching a tight optimum."""


class NonAdmissibleWarning(LcsemWarning):
    """The solution is inadmissible (Heywood case, non-positive-definite matrix...)."""


class OrdinalDataWarning(LcsemWarning):
    """Indicators look ordinal (few distinct integer values) but are treated as continuous."""


class PolychoricWarning(LcsemWarning):
    """A polychoric or polyserial correlation is at or near its bound (above 0.99 in absolute
    value, or a 2 x 2 table with two empty cells) or its optimisation did not converge (as
    lavaan warns)."""


class BootstrapFailureWarning(LcsemWarning):
    """Some bootstrap replicates failed or were inadmissible."""


class BootstrapInterruptedWarning(BootstrapFailureWarning):
    """The bootstrap was interrupted; the result holds the replicates finished."""


class UnstableRatioWarning(LcsemWarning):
    """A ratio effect (such as the proportion mediated) is unstable."""


class PlotLegibilityWarning(LcsemWarning):
    """A plot cannot be drawn at the requested size with text of at least 6 points."""


class IdentificationWarning(LcsemWarning):
    """The model is not (locally) identified at the estimates, or its information matrix
    cannot be inverted: the message names the parameters involved; standard errors,
    z, p-values and confidence intervals are NaN."""


class ScalingWarning(LcsemWarning):
    """Observed variances differ by more than a factor of 1,000 (as lavaan warns): rescale
    the items."""


class SharedLabelWarning(LcsemWarning):
    """A single label in a multi-group model makes the parameter equal in every group
    (lavaan's rule); write ``c(a1, a2)*x`` for group-specific labels."""


class MissingDataWarning(LcsemWarning):
    """Rows were dropped for missing values: listwise deletion dropped a sizeable share of
    them (more than 5%; ``missing="ml"``, full-information ML, uses every value), or FIML
    deleted the rows with a missing exogenous covariate (lavaan's ``fixed.x``)."""


class ScaledTestWarning(LcsemWarning):
    """A scaled (robust) test statistic is undefined here, e.g. a Satorra-Bentler (2001)
    difference test whose scaling factor is not positive: the statistic is NaN; the message
    names the alternative. Also issued where only the ordinary statistic exists (the score
    tests of an MLM/MLR fit, as lavaan's ``lavTestScore``)."""
