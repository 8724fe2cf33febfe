"""Missing-data patterns, their sufficient statistics and the saturated (h1) moments by EM,
for full-information ML (lavaan's ``missing = "ml"``).

lavaan's conventions (``lav_data_missing_patterns``, ``lav_mvnorm_missing_h1_estimate_moments``):

* rows missing every model variable ("empty" rows) are dropped and counted; every other
  row is used;
* a pattern is the set of variables a row observes; patterns are listed from the most
  frequent to the least, ties in the order of their 0/1 codes (``"110111111"``: 1 =
  observed, variables in the model's order) sorted as text;
* the coverage matrix is the proportion of the used rows that observe both variables
  of a pair (``lavInspect(fit, "coverage")``);
* per pattern the sufficient statistics are the number of rows, the mean and the
  covariance (denominator n_j) of the observed variables;
* the saturated model's means and covariances are estimated by EM from the available-case
  means and variances (zero covariances), stopping when no mean or (co)variance changes by
  more than ``1e-5`` (lavaan's ``tol``), at most 500 iterations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._warnings import warn
from ..exceptions import DataError, MissingDataWarning

__all__ = ["MissingPatterns", "missing_patterns", "em_moments", "warn_listwise", "missing_covariate_rows",
           "warn_missing_covariates", "FIML_POLICIES", "LISTWISE_WARN_SHARE"]

#: values of ``missing=`` that select full-information ML (lavaan's names)
FIML_POLICIES = ("ml", "fiml")
#: listwise deletion warns when it drops more than this share of the rows
LISTWISE_WARN_SHARE = 0.05


@dataclass(frozen=True)
class MissingPatterns:
    """The missing-data patterns of one group and their sufficient statistics.

    Attributes
    ----------
    columns
        The model's observed variables.
    observed
        (J, p) bool: which variables each pattern observes, most frequent pattern first.
    counts
        (J,) rows per pattern.
    means
        (J, p) mean of each pattern's rows over its observed variables (0 elsewhere).
    covs
        (J, p, p) covariance (denominator n_j) of each pattern's observed variables (0 elsewhere).
    case_pattern
        (n,) the pattern of every used row.
    values
        (n, p) the used rows (NaN where missing).
    row_labels
        Index labels of the used rows.
    n_total
        Rows before the empty rows were dropped.
    empty_rows
        Index labels of the rows missing every model variable (dropped).
    """

    columns: tuple[str, ...]
    observed: np.ndarray
    counts: np.ndarray
    means: np.ndarray
    covs: np.ndarray
    case_pattern: np.ndarray
    values: np.ndarray
    row_labels: pd.Index
    n_total: int
    empty_rows: tuple

    @property
    def n_obs(self) -> int:
        """Rows used (all rows but the empty ones)."""
        return int(self.values.shape[0])

    @property
    def n_patterns(self) -> int:
        """Number of missing-data patterns."""
        return int(self.counts.size)

    @property
    def coverage(self) -> np.ndarray:
        """(p, p) proportion of the used rows that observe both variables (lavaan's coverage)."""
        obs = (~np.isnan(self.values)).astype(float)
        return obs.T @ obs / max(self.n_obs, 1)

    def coverage_frame(self) -> pd.DataFrame:
        """:attr:`coverage` labelled by the variables."""
        return pd.DataFrame(self.coverage, index=list(self.columns), columns=list(self.columns))

    def table(self) -> pd.DataFrame:
        """One row per pattern: ``pattern`` (0/1 code, 1 = observed), ``count``,
        ``n_observed`` and one True/False column per variable."""
        codes = ["".join("1" if o else "0" for o in row) for row in self.observed]
        frame = pd.DataFrame({"pattern": codes, "count": self.counts.astype(int),
                              "n_observed": self.observed.sum(axis=1).astype(int)})
        flags = pd.DataFrame(self.observed, columns=list(self.columns))
        return pd.concat([frame, flags], axis=1)


def missing_patterns(values: np.ndarray, columns: tuple[str, ...], row_labels: pd.Index | None = None
                     ) -> MissingPatterns:
    """Patterns and per-pattern statistics of ``values`` (n, p; NaN = missing).

    Rows missing every variable are dropped (and listed in ``empty_rows``).

    Raises
    ------
    DataError
        No row observes anything, a variable is observed in no row, or a pair of
        variables is never observed together (its covariance cannot be estimated).
    """
    values = np.asarray(values, dtype=float)
    columns = tuple(columns)
    if row_labels is None:
        row_labels = pd.RangeIndex(values.shape[0])
    obs = ~np.isnan(values)
    empty = ~obs.any(axis=1)
    used = values[~empty]
    obs = obs[~empty]
    labels = row_labels[~empty]
    if used.shape[0] == 0:
        raise DataError("data: every row misses every model variable; there is nothing to fit")
    never = [c for j, c in enumerate(columns) if not obs[:, j].any()]
    if never:
        raise DataError(f"columns {never} are missing in every row; drop them from the model or "
                        f"supply their values")
    together = obs.astype(float).T @ obs.astype(float)
    iu = np.argwhere(np.triu(together == 0, 1))
    if iu.size:
        pairs = [(columns[i], columns[j]) for i, j in iu[:5]]
        raise DataError(f"missing='ml': the variable pairs {pairs} are never observed together "
                        f"(coverage 0), so their covariance cannot be estimated; drop one variable "
                        f"of each pair or collect data that observe both")
    # a pattern's code is its 0/1 row; np.unique sorts the rows as the codes sort as text
    unique, inverse, counts = np.unique(obs.astype(np.uint8), axis=0, return_inverse=True, return_counts=True)
    inverse = np.ravel(inverse)
    # most frequent first; ties in the (text) order of the codes (R: sort(table(), decreasing = TRUE))
    order = np.lexsort((np.arange(counts.size), -counts))
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    case_pattern = rank[inverse]
    counts = counts[order]
    observed = unique[order].astype(bool).reshape(-1, len(columns))
    J, p = observed.shape
    # per pattern: mean and covariance (denominator n_j) of the observed values, the rows
    # sorted by pattern and summed block by block
    by_pattern = np.argsort(case_pattern, kind="stable")
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    x0 = np.where(obs, used, 0.0)[by_pattern]
    means = np.add.reduceat(x0, starts, axis=0) / counts[:, None]
    centred = x0 - means[case_pattern[by_pattern]]
    covs = np.add.reduceat(centred[:, :, None] * centred[:, None, :], starts, axis=0) / counts[:, None, None]
    mask2 = observed[:, :, None] & observed[:, None, :]
    means = np.where(observed, means, 0.0)
    covs = np.where(mask2, covs, 0.0)
    empty_labels = tuple(row_labels[empty])
    return MissingPatterns(columns, observed, counts.astype(int), means, covs, case_pattern, used, labels,
                           int(values.shape[0]), empty_labels)


def em_moments(patterns: MissingPatterns, max_iter: int = 500, tol: float = 1e-5
               ) -> tuple[np.ndarray, np.ndarray, int]:
    """Saturated-model means and covariance (denominator N) by EM, as lavaan computes them.

    Starts from the available-case means and variances (zero covariances); each iteration
    replaces every pattern's missing values by their regression on the observed ones (and
    adds the residual covariance); stops when the largest change of a mean or
    (co)variance is below ``tol`` (lavaan: 1e-5) or after ``max_iter`` iterations.

    Returns
    -------
    mean (p,), cov (p, p), iterations
    """
    values = patterns.values
    N = float(patterns.n_obs)
    p = values.shape[1]
    obs = patterns.observed
    n = patterns.counts.astype(float)
    mu = np.nanmean(values, axis=0)
    var = np.nanmean((values - mu) ** 2, axis=0)
    var = np.where(np.isfinite(var) & (var != 0), var, 1.0)
    mu = np.where(np.isfinite(mu), mu, 0.0)
    Sigma = np.diag(var)
    iu = np.triu_indices(p)
    mask2 = obs[:, :, None] & obs[:, None, :]
    iterations = 0
    for iterations in range(1, max_iter + 1):
        W = pattern_inverse(Sigma, mask2)                             # (J, p, p), 0 off the block
        A = Sigma @ W                                                  # regression of all on observed
        # rows of A for observed variables are the identity on the observed block
        centred_mean = np.where(obs, patterns.means - mu, 0.0)
        e = mu + np.einsum("jab,jb->ja", A, centred_mean)              # mean of the completed rows
        # sum over rows of xhat xhat' = n (e e' + A S_c A') with S_c the pattern covariance
        AS = A @ patterns.covs
        T2 = np.einsum("j,jab->ab", n, e[:, :, None] * e[:, None, :] + AS @ np.swapaxes(A, 1, 2)
                       + (Sigma[None] - A @ Sigma[None]))
        T1 = n @ e
        mu_new = T1 / N
        Sigma_new = T2 / N - np.outer(mu_new, mu_new)
        Sigma_new = 0.5 * (Sigma_new + Sigma_new.T)
        if np.linalg.eigvalsh(Sigma_new)[0] < 1e-6:
            Sigma_new[np.diag_indices(p)] += np.max(np.diag(Sigma_new)) * 1e-8
        delta = max(np.max(np.abs(mu_new - mu)), np.max(np.abs(Sigma_new[iu] - Sigma[iu])))
        mu, Sigma = mu_new, Sigma_new
        if delta < tol:
            break
    return mu, Sigma, iterations


def pattern_inverse(Sigma: np.ndarray, mask2: np.ndarray) -> np.ndarray:
    """Inverse of each pattern's observed block of ``Sigma`` (p, p), embedded in a (J, p, p)
    array of zeros (``mask2``: (J, p, p) observed-pair masks)."""
    blocks = np.where(mask2, Sigma[None], np.eye(Sigma.shape[-1])[None])
    return np.where(mask2, np.linalg.inv(blocks), 0.0)


def warn_listwise(n_dropped: int, n_total: int, stacklevel: int = 3) -> None:
    """Warn (:class:`~lcsem.exceptions.MissingDataWarning`) when listwise deletion drops more
    than 5% of the rows, naming the count and ``missing="ml"``."""
    if n_total <= 0 or n_dropped <= LISTWISE_WARN_SHARE * n_total:
        return
    warn(f"listwise deletion dropped {n_dropped} of {n_total} rows ({100.0 * n_dropped / n_total:.1f}%) "
         f"with a missing value in the model's columns; the estimates use only the complete rows and "
         f"are biased unless values are missing completely at random: fit with missing=\"ml\" "
         f"(full-information ML, lavaan's missing = \"ml\") to use every observed value",
         MissingDataWarning, stacklevel=stacklevel + 1)


def missing_covariate_rows(values: np.ndarray, columns: tuple[str, ...], covariates: tuple[str, ...]
                           ) -> np.ndarray:
    """(n,) bool: rows of ``values`` (columns ``columns``) missing any of ``covariates``."""
    idx = [columns.index(c) for c in covariates if c in columns]
    return np.isnan(values[:, idx]).any(axis=1) if idx else np.zeros(values.shape[0], dtype=bool)


def warn_missing_covariates(values: np.ndarray, columns: tuple[str, ...], covariates: tuple[str, ...],
                            stacklevel: int = 3) -> None:
    """Warn (:class:`~lcsem.exceptions.MissingDataWarning`) that FIML deletes the rows with a
    missing exogenous covariate, naming the count and the covariates (lavaan's ``fixed.x``
    deletes them with a warning too)."""
    n = int(missing_covariate_rows(values, columns, covariates).sum())
    if not n:
        return
    idx = [columns.index(c) for c in covariates if c in columns]
    missing = np.isnan(values[:, idx])
    counts = ", ".join(f"{columns[j]} {int(k)}" for j, k in zip(idx, missing.sum(axis=0)) if k)
    xs = [columns[j] for j in idx]
    warn(f"missing='ml' deleted {n} of {values.shape[0]} rows with a missing value in an exogenous "
         f"covariate (missing per covariate: {counts}): the covariates' moments are held at their "
         f"sample values (lavaan's fixed.x), so a row needs every covariate; to keep those rows, declare "
         f"the covariates' variances and covariances in the model (e.g. '{xs[0]} ~~ {' + '.join(xs)}') so "
         f"that FIML treats them as random variables", MissingDataWarning, stacklevel=stacklevel + 1)
