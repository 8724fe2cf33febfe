"""Validate a DataFrame against a model and return the data actually used.

Only the columns the model uses are checked; every other column is ignored whatever
its type or missing values. The caller's DataFrame is never modified.
"""

from __future__ import annotations

import csv
import difflib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .._warnings import warn
from ..exceptions import ArgumentError, DataError, MissingColumnsError, OrdinalDataWarning
from .missing import warn_listwise

MISSING_POLICIES = ("listwise", "error", "ml", "fiml")
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
                 min_rows: int | None = None, latent: tuple[str, ...] = (),
                 covariates: tuple[str, ...] = (), check_ordinal: bool = True) -> PreparedData:
    """Check ``data`` for the model's ``columns`` and return the complete cases.

    ``latent`` are the model's latent variables: a data column with the name of one is
    refused (as lavaan does), because the model would silently ignore the column.
    ``covariates`` (exogenous observed predictors) may be discrete: they are conditioned on.
    ``check_ordinal=False`` leaves the warning about few-category items to the caller
    (:func:`warn_ordinal`), which prepares several groups and warns once.
    """
    values = model_values(data, columns, missing=missing, latent=latent)
    prepared = complete_cases(values, columns, data.index, missing=missing, min_rows=min_rows,
                              covariates=covariates, check_ordinal=check_ordinal)
    warn_listwise(prepared.n_dropped, prepared.n_total, stacklevel=3)
    return prepared


def model_values(data: pd.DataFrame, columns: tuple[str, ...], *, missing: str = "listwise",
                 latent: tuple[str, ...] = ()) -> np.ndarray:
    """The model's ``columns`` of ``data`` as floats (NaN where missing), after the checks
    that concern the whole data set: a DataFrame, a known ``missing`` policy, no covariance
    matrix passed as data, no latent variable named like a column, every column present,
    numeric, finite and not empty."""
    if not isinstance(data, pd.DataFrame):
        raise ArgumentError(f"data: expected a pandas DataFrame, got {type(data).__name__}; "
                            f"read files with lcsem.read_data(path)")
    if missing not in MISSING_POLICIES:
        raise ArgumentError(f"missing: {missing!r} is not a missing-data policy; use one of "
                            f"{', '.join(map(repr, MISSING_POLICIES))}")
    _refuse_moment_matrix(data)
    _refuse_latent_columns(data, latent)
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
    return values


def complete_cases(values: np.ndarray, columns: tuple[str, ...], row_labels: pd.Index, *,
                   missing: str = "listwise", min_rows: int | None = None,
                   covariates: tuple[str, ...] = (), check_ordinal: bool = True) -> PreparedData:
    """The complete rows of ``values`` (from :func:`model_values`), checked: enough rows,
    no constant column, a non-singular covariance matrix."""
    isnan = np.isnan(values)
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
    if check_ordinal:
        warn_ordinal(used, columns, covariates, stacklevel=4)
    return PreparedData(used, tuple(columns), row_labels[complete], len(values), missing)


def _refuse_moment_matrix(data: pd.DataFrame) -> None:
    """A square frame whose row labels are its column labels is a covariance or
    correlation matrix, not one row per respondent."""
    n_rows, n_cols = data.shape
    if n_rows == n_cols and n_rows > 0 and [str(i) for i in data.index] == [str(c) for c in data.columns]:
        raise DataError(f"data: this {n_rows} x {n_cols} table has the same row and column labels: it "
                        f"looks like a covariance or correlation matrix, not one row per respondent; "
                        f"fit summary statistics with lcsem.fit(model, sample_cov=matrix, "
                        f"sample_nobs=number_of_respondents)")


def _refuse_latent_columns(data: pd.DataFrame, latent: tuple[str, ...]) -> None:
    clash = [name for name in latent if name in data.columns]
    if clash:
        raise DataError(f"data: the latent variables {clash} have the names of data columns; a latent "
                        f"variable is not observed, so the column would be ignored (lavaan refuses "
                        f"this too): rename the construct(s) in the model (e.g. "
                        f"{clash[0] + '_f'!r}) or the column(s) in the data")


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
    if pd.api.types.is_complex_dtype(dtype):
        raise DataError(f"column {name!r} holds complex numbers (dtype {dtype}); lcsem needs real "
                        f"numbers: take the real part (column.real) or the modulus if that is meant")
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


def warn_ordinal(values: np.ndarray, columns: tuple[str, ...], covariates: tuple[str, ...] = (),
                 stacklevel: int = 3) -> None:
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
             f"for so few categories; pass ordered=True (or the columns) to fit them as ordinal "
             f"(WLSMV, as lavaan's ordered =)", OrdinalDataWarning, stacklevel=stacklevel)


def read_data(path: str | os.PathLike[str], **kwargs) -> pd.DataFrame:
    """Read a CSV (``.csv``, ``.txt``, ``.tsv``) or SPSS (``.sav``, needs pyreadstat) file.

    The separator of ``.csv`` and ``.txt`` files is detected from the header line
    (``,``, ``;``, tab or ``|``) unless ``sep=`` is given; with ``;`` and decimal commas
    (``3,5``) the decimal comma is detected too. Duplicated column names are refused
    (pandas would silently rename them). Other keyword arguments go to
    :func:`pandas.read_csv` or :func:`pyreadstat.read_sav`.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ArgumentError(f"path: expected a file path, got {type(path).__name__}")
    path = Path(path)
    if not path.exists():
        raise ArgumentError(f"path: {str(path)!r} does not exist")
    if path.is_dir():
        raise ArgumentError(f"path: {str(path)!r} is a folder; give the path of a data file in it "
                            f"(.csv, .tsv or .sav)")
    suffix = path.suffix.lower()
    if suffix == ".sav":
        return _read_sav(path, kwargs)
    if suffix in (".csv", ".txt", ".tsv"):
        return _read_delimited(path, suffix, kwargs)
    raise ArgumentError(f"path: unsupported file type {suffix!r}; use .csv, .tsv or .sav")


def _read_sav(path: Path, kwargs: dict) -> pd.DataFrame:
    try:
        import pyreadstat
    except ImportError:
        raise ArgumentError("path: reading SPSS files needs pyreadstat; install it with "
                            "pip install 'lcsem[spss]'") from None
    if "sep" in kwargs or "delimiter" in kwargs:
        raise ArgumentError("sep: SPSS files have no separator; leave sep out for .sav files")
    try:
        frame, _ = pyreadstat.read_sav(str(path), **kwargs)
    except TypeError as exc:
        raise ArgumentError(f"read_data: {exc} (keyword arguments go to pyreadstat.read_sav)") from None
    except Exception as exc:  # pyreadstat's own error classes (ReadstatError, PyreadstatError, ...)
        raise DataError(f"path: cannot read {str(path)!r} as an SPSS file ({type(exc).__name__}: "
                        f"{exc}); check that it is a valid .sav file") from None
    return frame


def _read_delimited(path: Path, suffix: str, kwargs: dict) -> pd.DataFrame:
    encoding = kwargs.get("encoding", "utf-8")
    try:
        with open(path, encoding=encoding, newline="") as handle:
            sample = handle.read(64_000)
    except (UnicodeDecodeError, LookupError) as exc:
        raise DataError(f"path: cannot read {str(path)!r} as {encoding} text ({exc}); save it as "
                        f"UTF-8 or pass encoding='latin-1' (or the file's encoding)") from None
    if not sample.strip():
        raise DataError(f"path: {str(path)!r} is empty; it needs a header line with the column names "
                        f"and one line per respondent")
    if "sep" in kwargs or "delimiter" in kwargs:
        sep = kwargs.pop("sep", None)
        sep = kwargs.pop("delimiter", None) if sep is None else sep
    else:
        sep = "\t" if suffix == ".tsv" else _sniff_separator(sample)
        if sep == ";" and "decimal" not in kwargs and re.search(r"\d,\d", sample):
            kwargs["decimal"] = ","
    if isinstance(sep, str) and len(sep) == 1:
        header = next(csv.reader([sample.splitlines()[0]], delimiter=sep), [])
        names = [h.strip() for h in header]
        dupes = sorted({h for h in names if names.count(h) > 1})
        if dupes and kwargs.get("header", "infer") == "infer" and "names" not in kwargs:
            raise DataError(f"path: {str(path)!r} has duplicated column names {dupes}; give each "
                            f"column a unique name in the file")
    try:
        return pd.read_csv(path, sep=sep, **kwargs)
    except TypeError as exc:
        raise ArgumentError(f"read_data: {exc} (keyword arguments go to pandas.read_csv)") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"path: {str(path)!r} holds no columns; it needs a header line with the "
                        f"column names and one line per respondent") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"path: cannot read {str(path)!r} as delimited text ({exc})") from None


def _sniff_separator(sample: str) -> str:
    """The separator of a delimited text: the candidate most frequent in the header line,
    and as frequent in the next lines."""
    lines = [line for line in sample.splitlines() if line.strip()][:20]
    best, best_count = ",", 0
    for sep in (",", ";", "\t", "|"):
        counts = [line.count(sep) for line in lines]
        if counts[0] > best_count and all(c == counts[0] for c in counts[1:-1] or counts[:1]):
            best, best_count = sep, counts[0]
    return best
