"""Sample moments a fit starts from: from raw data or from summary statistics.

lavaan's conventions for summary statistics (``sample.cov``, ``sample.mean``,
``sample.nobs``): the covariance matrix supplied is the unbiased one (denominator
N - 1), and lavaan rescales it by (N - 1) / N (``sample.cov.rescale = TRUE``), so a fit
from ``cov(data)`` equals the fit from the data for every estimator. A correlation matrix
with standard deviations is turned into that covariance matrix first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .prepare import PreparedData, prepare_data
from ..exceptions import ArgumentError, DataError, MissingColumnsError

_SYMMETRY_RTOL = 1e-8


@dataclass(frozen=True)
class SampleMoments:
    """Covariance (denominator N), means and counts of the observed variables."""

    cov: np.ndarray                 # (p, p), denominator N
    mean: np.ndarray | None         # (p,), None when not supplied
    columns: tuple[str, ...]
    n_obs: int
    n_total: int
    missing: str
    data: pd.DataFrame | None       # the rows used, or None for summary statistics


def refuse_latent_columns(latent: tuple[str, ...], names: list[str], argument: str) -> None:
    """lavaan refuses latent variables named like observed variables: a construct named
    like a data column would silently ignore that column."""
    clash = [n for n in latent if n in names]
    if clash:
        raise DataError(
            f"{argument}: the latent variables {clash} have the names of columns in the {argument}; "
            f"lavaan refuses this too: rename the constructs (e.g. {clash[0]!r} -> {clash[0] + '_f'!r}) "
            f"or the columns")


def moments_from_data(data: pd.DataFrame, columns: tuple[str, ...], missing: str,
                      latent: tuple[str, ...] = (), covariates: tuple[str, ...] = ()) -> SampleMoments:
    """Validate ``data`` and compute its moments (complete cases, see :func:`prepare_data`,
    which also refuses a covariance matrix passed as data and latent variables named like
    data columns)."""
    return moments_of(prepare_data(data, columns, missing=missing, latent=latent, covariates=covariates))


def moments_of(prepared: PreparedData) -> SampleMoments:
    """The moments of prepared data (the complete cases)."""
    values = prepared.values
    return SampleMoments(prepared.covariance(), values.mean(axis=0), prepared.columns, prepared.n_used,
                         prepared.n_total, prepared.missing,
                         pd.DataFrame(values, index=prepared.row_labels, columns=list(prepared.columns)))


def _names_of(value: object, names: object, argument: str) -> tuple[np.ndarray, list[str]]:
    if isinstance(value, pd.DataFrame):
        if names is not None:
            raise ArgumentError(f"names: {argument} is a DataFrame whose columns name the variables; "
                                f"leave names=None")
        if list(value.index) != list(value.columns):
            raise ArgumentError(f"{argument}: the DataFrame's index must equal its columns (the same "
                                f"variables in the same order); reorder with frame.loc[cols, cols]")
        labels = [str(c) for c in value.columns]
        frame = value
    else:
        if names is None:
            raise ArgumentError(f"names: {argument} is an array; pass names=[...] (the variables in its "
                                f"row/column order) or a DataFrame with named rows and columns")
        if isinstance(names, str) or not all(isinstance(n, str) for n in names):
            raise ArgumentError(f"names: expected a list of variable names, got {names!r}")
        labels = list(names)
        frame = value
    try:
        matrix = np.array(frame, dtype=float)
    except (TypeError, ValueError):
        raise ArgumentError(f"{argument}: expected a numeric square matrix") from None
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ArgumentError(f"{argument}: expected a square matrix, got shape {matrix.shape}")
    if len(labels) != matrix.shape[0]:
        raise ArgumentError(f"names: {len(labels)} names for a {matrix.shape[0]} x {matrix.shape[0]} "
                            f"{argument}; give one name per row")
    if len(set(labels)) != len(labels):
        dupes = sorted({n for n in labels if labels.count(n) > 1})
        raise ArgumentError(f"names: {dupes} appear more than once; each variable needs one name")
    return matrix, labels


def _vector(value: object, labels: list[str], argument: str) -> np.ndarray:
    if isinstance(value, pd.Series):
        missing = [n for n in labels if n not in value.index]
        if missing:
            raise ArgumentError(f"{argument}: no entries for {missing}; index the Series by variable name")
        out = np.asarray(value.loc[labels], dtype=float)
    else:
        try:
            out = np.asarray(value, dtype=float).reshape(-1)
        except (TypeError, ValueError):
            raise ArgumentError(f"{argument}: expected numbers, one per variable") from None
        if out.size != len(labels):
            raise ArgumentError(f"{argument}: {out.size} values for {len(labels)} variables; give one "
                                f"per variable (in the matrix's order) or a Series indexed by name")
    if not np.isfinite(out).all():
        raise ArgumentError(f"{argument}: contains missing or infinite values; supply finite numbers")
    return out


def moments_from_summary(columns: tuple[str, ...], sample_cov: object, sample_nobs: object,
                         sample_mean: object = None, sample_sd: object = None,
                         names: object = None, latent: tuple[str, ...] = ()) -> SampleMoments:
    """Validate summary statistics (lavaan's ``sample.cov``/``sample.mean``/``sample.nobs``).

    ``sample_cov`` is the unbiased covariance matrix (denominator N - 1), or a correlation
    matrix when ``sample_sd`` gives the standard deviations. It is rescaled by
    (N - 1) / N, as lavaan does.
    """
    matrix, labels = _names_of(sample_cov, names, "sample_cov")
    refuse_latent_columns(latent, labels, "sample_cov")
    if isinstance(sample_nobs, bool) or not isinstance(sample_nobs, (int, np.integer)):
        raise ArgumentError(f"sample_nobs: expected the number of respondents as an integer, got "
                            f"{sample_nobs!r}")
    n = int(sample_nobs)
    absent = [c for c in columns if c not in labels]
    if absent:
        raise MissingColumnsError(f"sample_cov: the matrix lacks the model's observed variables {absent}; "
                                  f"its variables are {labels}")
    if not np.isfinite(matrix).all():
        raise ArgumentError("sample_cov: contains missing or infinite values; supply a complete matrix")
    scale = max(float(np.max(np.abs(matrix))), np.finfo(float).tiny)
    if not np.allclose(matrix, matrix.T, rtol=_SYMMETRY_RTOL, atol=_SYMMETRY_RTOL * scale):
        i, j = np.unravel_index(np.argmax(np.abs(matrix - matrix.T)), matrix.shape)
        raise ArgumentError(f"sample_cov: not symmetric ({labels[i]},{labels[j]} = {matrix[i, j]!r} but "
                            f"{labels[j]},{labels[i]} = {matrix[j, i]!r}); supply the full symmetric matrix")
    matrix = (matrix + matrix.T) / 2
    if sample_sd is not None:
        sd = _vector(sample_sd, labels, "sample_sd")
        if (sd <= 0).any():
            bad = [labels[i] for i in np.flatnonzero(sd <= 0)]
            raise ArgumentError(f"sample_sd: standard deviations must be positive; {bad} are not")
        if not np.allclose(np.diag(matrix), 1.0, atol=1e-6):
            raise ArgumentError("sample_sd: given, so sample_cov must be a correlation matrix (unit "
                                f"diagonal), but its diagonal is {np.round(np.diag(matrix), 4).tolist()}; "
                                "pass a covariance matrix without sample_sd instead")
        matrix = matrix * np.outer(sd, sd)
    idx = [labels.index(c) for c in columns]
    S = matrix[np.ix_(idx, idx)]
    p = len(columns)
    if n <= p:
        raise ArgumentError(f"sample_nobs: {n} respondents for {p} observed variables; the sample "
                            f"covariance needs more respondents than variables (n > {p})")
    diag = np.diag(S)
    if (diag <= 0).any():
        bad = [columns[i] for i in np.flatnonzero(diag <= 0)]
        raise DataError(f"sample_cov: the variances of {bad} are not positive; check the matrix")
    d = np.sqrt(diag)
    eig = np.linalg.eigvalsh(S / np.outer(d, d))
    if eig[0] <= 1e-10 * max(eig[-1], 1.0):
        raise DataError(f"sample_cov: not positive definite for the model's variables (smallest "
                        f"eigenvalue of the correlation matrix {eig[0]:.3g}); some variable is a linear "
                        f"combination of others: drop redundant variables or check the matrix")
    mean = None
    if sample_mean is not None:
        mean = _vector(sample_mean, labels, "sample_mean")[idx]
    return SampleMoments(S * (n - 1) / n, mean, tuple(columns), n, n, "listwise", None)
