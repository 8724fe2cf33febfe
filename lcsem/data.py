"""Validate a DataFrame against a model and return the data actually used.

Only the columns the model uses are checked; every other column is ignored whatever
its type or missing values. The caller's DataFrame is never modified.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ._warnings import warn
from .exceptions import ArgumentError, DataError, MissingColumnsError, OrdinalDataWarning

MISSING_POLICIES = ("listwise", "error")
ORDINAL_MAX_CATEGORIES = 4


@dataclass(frozen=True)
class PreparedData:
    """The complete cases of the model's columns, as floats."""

    values: np.ndarray            # (n_used, p)
    columns: tuple[str, ...]
    row_labels: pd.Index          # index labels of the rows used
    n_total: int
    missing: str

    @property
    def n_used(self) -> int:
        return self.values.shape[0]

    @property
    def n_dropped(self) -> int:
        return self.n_total - self.n_used

    def covariance(self) -> np.ndarray:
        """Sample covariance with denominator N (as lavaan's ML)."""
        centred = self.values - self.values.mean(axis=0)
        return centred.T @ centred / self.n_used


def prepare_data(data: pd.DataFrame, columns: tuple[str, ...], *, missing: str = "listwise",
                 min_rows: int | None = None, covariates: tuple[str, ...] = ()) -> PreparedData:
    """Check ``data`` for the model's ``columns`` and return the complete cases.
    ``covariates`` (exogenous observed predictors) may be discrete: they are conditioned on."""
    if not isinstance(data, pd.DataFrame):
        raise ArgumentError(f"data: expected a pandas DataFrame, got {type(data).__name__}; "
                            f"read files with lcsem.read_data(path)")
    if missing not in MISSING_POLICIES:
        raise ArgumentError(f"missing: {missing!r} is not a missing-data policy; use one of "
                            f"{', '.join(map(repr, MISSING_POLICIES))}")
    _check_columns(data, columns)
    frame = data.loc[:, list(columns)]
    values = np.empty(frame.shape, dtype=float)
    for j, name in enumerate(columns):
        values[:, j] = _numeric_column(frame.iloc[:, j], name)
    if np.isinf(values).any():
        bad = [c for j, c in enumerate(columns) if np.isinf(values[:, j]).any()]
        raise DataError(f"columns {bad} contain infinite values; replace them with NaN (missing) "
                        f"or finite numbers")
    isnan = np.isnan(values)
    empty = [c for j, c in enumerate(columns) if isnan[:, j].all()]
    if empty:
        raise DataError(f"columns {empty} contain no values at all; drop these indicators from the "
                        f"model or supply the data")
    complete = ~isnan.any(axis=1)
    if not complete.all() and missing == "error":
        counts = {c: int(isnan[:, j].sum()) for j, c in enumerate(columns) if isnan[:, j].any()}
        raise DataError(f"missing values in {counts} (column: count) with missing='error'; use "
                        f"missing='listwise' to drop incomplete rows, or impute first")
    used = values[complete]
    p = len(columns)
    needed = max(p + 1, min_rows or 0)
    if used.shape[0] < needed:
        raise DataError(f"only {used.shape[0]} complete rows of {len(values)} for {p} observed "
                        f"variables; the model needs at least {needed} complete rows")
    constant = [c for j, c in enumerate(columns) if np.ptp(used[:, j]) == 0]
    if constant:
        raise DataError(f"columns {constant} are constant in the rows used; a constant indicator "
                        f"carries no information, drop it from the model")
    _check_singular(used, columns)
    _warn_ordinal(used, columns, covariates)
    return PreparedData(used, tuple(columns), data.index[complete], len(values), missing)


def _check_columns(data: pd.DataFrame, columns: tuple[str, ...]) -> None:
    present = [str(c) for c in data.columns]
    absent = [c for c in columns if c not in data.columns]
    if absent:
        hints = []
        for name in absent:
            close = difflib.get_close_matches(name, present, n=3, cutoff=0.6)
            hints.append(f"{name!r}" + (f" (did you mean {', '.join(map(repr, close))}?)" if close else ""))
        raise MissingColumnsError(f"the data lack the model's columns {', '.join(hints)}; rename the "
                                  f"columns or change the model")
    dupes = [c for c in columns if int((data.columns == c).sum()) > 1]
    if dupes:
        raise DataError(f"the data have duplicated columns named {dupes}; give each column a "
                        f"unique name")


def _numeric_column(column: pd.Series, name: str) -> np.ndarray:
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
        example = column.dropna().iloc[0] if column.notna().any() else None
        raise DataError(f"column {name!r} is not numeric (dtype {dtype}, e.g. {example!r}); "
                        f"convert it with pd.to_numeric or recode it")
    return column.to_numpy(dtype=float, na_value=np.nan)


def _check_singular(values: np.ndarray, columns: tuple[str, ...]) -> None:
    corr = np.corrcoef(values, rowvar=False)
    eig = np.linalg.eigvalsh(corr)
    if eig[0] > 1e-10 * max(eig[-1], 1.0):
        return
    pairs = [(columns[i], columns[j]) for i in range(len(columns)) for j in range(i + 1, len(columns))
             if abs(corr[i, j]) > 1 - 1e-8]
    detail = f" (perfectly correlated: {pairs})" if pairs else " (some column is a linear combination of others)"
    raise DataError(f"the sample covariance matrix of the model's columns is singular{detail}; "
                    f"drop redundant indicators")


def _warn_ordinal(values: np.ndarray, columns: tuple[str, ...], covariates: tuple[str, ...] = ()) -> None:
    """Warn about modelled variables with few integer categories. Exogenous covariates
    (a 0/1 dummy, a sector code) are exempt: the model conditions on them and assumes
    nothing about their distribution (lavaan's ``fixed.x``), so their being discrete
    biases nothing. Indicators and outcomes with 2-4 categories are warned about."""
    exempt = set(covariates)
    ordinal = [c for j, c in enumerate(columns)
               if c not in exempt and np.all(values[:, j] == np.round(values[:, j]))
               and len(np.unique(values[:, j])) <= ORDINAL_MAX_CATEGORIES]
    if ordinal:
        warn(f"columns {ordinal} have {ORDINAL_MAX_CATEGORIES} or fewer integer categories; "
             f"lcsem treats them as continuous (normal-theory ML), which biases estimates "
             f"for so few categories", OrdinalDataWarning, stacklevel=3)


def read_data(path: str | os.PathLike[str], **kwargs) -> pd.DataFrame:
    """Read a CSV (``.csv``, ``.txt``, ``.tsv``) or SPSS (``.sav``, needs pyreadstat) file."""
    path = Path(path)
    if not path.exists():
        raise ArgumentError(f"path: {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".sav":
        try:
            import pyreadstat
        except ImportError:
            raise ArgumentError("path: reading SPSS files needs pyreadstat; install it with "
                                "pip install 'lcsem[spss]'") from None
        frame, _ = pyreadstat.read_sav(str(path), **kwargs)
        return frame
    if suffix in (".csv", ".txt", ".tsv"):
        sep = kwargs.pop("sep", "\t" if suffix == ".tsv" else ",")
        try:
            return pd.read_csv(path, sep=sep, **kwargs)
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise DataError(f"path: cannot read {str(path)!r} as delimited text ({exc})") from None
    raise ArgumentError(f"path: unsupported file type {suffix!r}; use .csv, .tsv or .sav")
