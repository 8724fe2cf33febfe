"""One group's data for full-information ML (``missing="ml"``): its missing-data patterns
and its EM (saturated-model) moments as :class:`~lcsem.data.moments.SampleMoments`.

Exogenous observed covariates follow lavaan's ``fixed.x``: their moments are held at their
sample values, so a row with a missing covariate is deleted (lavaan warns "cases were
deleted due to missing values in exogenous variable(s)"); a row that observes the
covariates and nothing else is kept (it counts in N, as in lavaan)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..exceptions import DataError
from .missing import MissingPatterns, em_moments, missing_covariate_rows, missing_patterns
from .moments import SampleMoments

__all__ = ["fiml_moments"]


def fiml_moments(values: np.ndarray, columns: tuple[str, ...], row_labels: pd.Index,
                 where: str = "", covariates: tuple[str, ...] = ()) -> tuple[SampleMoments, MissingPatterns]:
    """One group's data for full-information ML: its patterns and its EM (h1) moments as
    :class:`~lcsem.data.moments.SampleMoments` (``data``: the used rows, NaN where
    missing; ``missing="ml"``). Rows with a missing value in one of ``covariates`` (the
    model's exogenous observed covariates, lavaan's ``fixed.x``) are deleted first; the
    caller warns (:func:`~lcsem.data.missing.warn_missing_covariates`).

    Raises
    ------
    DataError
        Too few rows, a variable constant (or observed once) in its available values, a
        pair never observed together, or a singular EM covariance matrix. ``where``
        (e.g. ``"group 'public' of 'sector': "``) prefixes the message.
    """
    n_rows = values.shape[0]
    keep = ~missing_covariate_rows(values, columns, covariates)
    if not keep.any():
        raise DataError(f"{where}every row misses one of the exogenous covariates "
                        f"({', '.join(c for c in covariates if c in columns)}), whose moments missing='ml' "
                        f"holds at their sample values (lavaan's fixed.x); supply them, or declare their "
                        f"variances in the model (e.g. '{covariates[0]} ~~ {covariates[0]}') to treat them "
                        f"as random")
    if not keep.all():
        values, row_labels = values[keep], row_labels[keep]
    try:
        patterns = missing_patterns(values, columns, row_labels)
    except DataError as exc:
        raise DataError(f"{where}{exc}") from None
    p = len(columns)
    if patterns.n_obs <= p:
        raise DataError(f"{where}only {patterns.n_obs} rows with any observed value for {p} observed "
                        f"variables; the model needs at least {p + 1} rows")
    used = patterns.values
    with np.errstate(invalid="ignore"):
        spread = np.nanmax(used, axis=0) - np.nanmin(used, axis=0)
    constant = [c for c, s in zip(columns, spread) if not s > 0]
    if constant:
        raise DataError(f"{where}columns {constant} are constant in their observed values; a constant "
                        f"indicator carries no information, drop it from the model")
    mean, cov, _ = em_moments(patterns)
    sd = np.sqrt(np.diag(cov))
    eig = np.linalg.eigvalsh(cov / np.outer(sd, sd))
    if not eig[0] > 1e-10 * max(eig[-1], 1.0):
        raise DataError(f"{where}the EM estimate of the covariance matrix of the model's columns is "
                        f"singular (some column is a linear combination of others); drop redundant "
                        f"indicators")
    data = pd.DataFrame(used, index=patterns.row_labels, columns=list(columns))
    moments = SampleMoments(cov, mean, tuple(columns), patterns.n_obs, n_rows, "ml", data)
    return moments, patterns
