"""Factor scores, as lavaan's ``lavPredict`` (``method = "regression"`` or ``"Bartlett"``).

Without a mean structure lavaan centres the data at the sample means of the rows used
(the implied means equal the sample means) and fixes latent intercepts at 0, so a latent
variable regressed on observed covariates has the implied mean ``Gamma xbar`` (0 for a
model without covariates); lcsem does the same: scores are the implied latent means plus
the weighted deviations below.

* Regression (Thurstone) scores: ``(y - ybar) Sigma^-1 Cov(y, eta)``, with the
  model-implied covariance ``Sigma`` of the observed variables and ``Cov(y, eta)`` of
  observed and latent variables (for a CFA, ``Sigma^-1 Lambda Psi``).
* Bartlett scores: ``(y - ybar) Theta^-1 Lambda (Lambda' Theta^-1 Lambda)^-1`` with the
  loadings ``Lambda`` and the residual covariance ``Theta`` of the indicators. They need
  every observed variable to be an indicator (no observed covariates).

With a mean structure (``meanstructure=True``, any ``~ 1``, and every multi-group fit)
the scores are centred at the model-implied means instead, as lavaan's ``lavPredict``:
``E(eta) + (y - mu) W`` with the implied means ``mu`` of the observed and ``E(eta)`` of
the latent variables (intercepts, latent means and, for latent regressions, their
implied consequences). A multi-group fit is scored per group, with each group's
parameters; the result has a ``group`` column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..engine import model_matrices
from ..exceptions import ArgumentError, DataError, NotSupportedError
from ..results.fit_result import FitResult

METHODS = ("regression", "bartlett")


def factor_scores(res: FitResult, method: str = "regression") -> pd.DataFrame:
    """Scores of every respondent (row used in the fit) on every latent variable.

    Parameters
    ----------
    res
        A :class:`~lcsem.FitResult` fitted to raw data.
    method
        ``"regression"`` (default) or ``"bartlett"`` (case-insensitive), as lavaan's
        ``lavPredict(method = )``.

    Returns
    -------
    pandas.DataFrame
        One row per respondent used (indexed as the data), one column per latent variable;
        for a multi-group result a first column ``group`` (the respondent's group label)
        and each row scored with its group's parameters and implied means.
    """
    if not isinstance(res, FitResult):
        raise ArgumentError(f"res: expected an lcsem.FitResult, got {type(res).__name__}")
    key = method.lower() if isinstance(method, str) else method
    if key not in METHODS:
        raise ArgumentError(f"method: {method!r} is not one of {METHODS}")
    if getattr(res, "ordinal", None) is not None or "ordinal" in getattr(res, "view_of", ""):
        raise NotSupportedError("res: factor scores of ordinal fits (ordered=...) need the latent "
                                "responses' posterior (lavaan's EBM scores), which lcsem does not compute "
                                "yet; fit without ordered= for regression/Bartlett scores of the items")
    data = res.data
    if data is None or len(data) == 0:
        raise DataError("res: this result holds no respondents' data (fitted from summary statistics "
                        "or saved without data); factor scores need the data: refit with "
                        "lcsem.fit(model, data)")
    model = res.model
    if not model.latent:
        raise ArgumentError("res: the model has no latent variables to score")
    if not res.identified:
        raise NotSupportedError("res: the model is not identified; its factor scores are not defined")
    if res.grouped:
        return _grouped_scores(res, key)
    return _scores(res, data, key, None)


def _grouped_scores(res: FitResult, key: str) -> pd.DataFrame:
    """Scores of a multi-group or mean-structure fit: each group's rows with its view's
    parameters, centred at the group's implied means (from the joint table's ``~1`` rows)."""
    est = res.estimates
    multi = bool(res.group_labels)
    frames = []
    for number, (label, view) in enumerate(res.groups.items(), start=1):
        rows = est[est["op"] == "~1"]
        if multi:
            rows = rows[rows["group"] == number]
        intercepts = dict(zip(rows["lhs"], rows["est"].astype(float)))
        scores = _scores(view, view.data, key, intercepts)
        if multi:
            scores.insert(0, "group", label)
        frames.append(scores)
    out = pd.concat(frames)
    if not multi:
        return out
    # back to the data's row order (by position: the index may repeat labels)
    column = res.data[res.group].astype(str).to_numpy()
    order = np.concatenate([np.flatnonzero(column == label) for label in res.groups])
    return out.iloc[np.argsort(order, kind="stable")]


def _scores(res: FitResult, data: pd.DataFrame, key: str, intercepts: dict[str, float] | None) -> pd.DataFrame:
    """Scores of the rows of ``data`` from the single-group (or view) result ``res``;
    ``intercepts`` (the ``~1`` estimates) give the implied means, else the sample means
    of ``data`` are the observed means (no mean structure)."""
    model = res.model
    struct = res.structure
    X = data[list(model.observed)].to_numpy(dtype=float)
    mats = model_matrices(struct, np.asarray(res.theta)[None])
    A, S, B = mats.direct[0], mats.residual[0], mats.total[0]
    p = struct.p
    if intercepts is None and res.missing == "ml" and res.implied_mean is not None:
        # a view of a FIML fit: centred at its implied means (lavPredict with missing = "ml")
        means = np.asarray(res.implied_mean, float)
        latent_means = B[p:, :p] @ np.linalg.solve(B[:p, :p], means)
    elif intercepts is None:
        # implied means B m with latent intercepts 0 and observed intercepts that reproduce
        # the sample means
        means = X.mean(axis=0)
        latent_means = B[p:, :p] @ np.linalg.solve(B[:p, :p], means)
    else:
        # implied means of every variable: B m with the fitted intercepts m
        implied = B @ np.array([intercepts.get(v, 0.0) for v in struct.names])
        means, latent_means = implied[:p], implied[p:]
    centred = X - means
    if np.isnan(centred).any():
        # FIML data (missing="ml"): each row scored from the variables it observes
        return pd.DataFrame(latent_means + _pattern_scores(centred, A, S, B, p, key), index=data.index,
                            columns=list(model.latent))
    if key == "regression":
        C = B @ S @ B.T
        weights = np.linalg.solve(C[:p, :p], C[:p, p:])
    else:
        if np.any(A[:p, :p]) or np.any(A[p:, :p]):
            raise NotSupportedError("method: 'bartlett' scores need every observed variable to be an "
                                    "indicator; this model has observed predictors; use "
                                    "method='regression'")
        Lambda, Theta = A[:p, p:], S[:p, :p]
        try:
            TiL = np.linalg.solve(Theta, Lambda)
            weights = TiL @ np.linalg.inv(Lambda.T @ TiL)
        except np.linalg.LinAlgError:
            raise NotSupportedError("method: 'bartlett' scores need an invertible residual covariance "
                                    "matrix (some residual variance is zero); use method='regression'"
                                    ) from None
    return pd.DataFrame(latent_means + centred @ weights, index=data.index, columns=list(model.latent))


def _pattern_scores(centred: np.ndarray, A: np.ndarray, S: np.ndarray, B: np.ndarray, p: int,
                    key: str) -> np.ndarray:
    """Weighted deviations of rows with missing values: for each missing-data pattern the
    weights of :func:`factor_scores` computed from the observed variables only (regression:
    ``Sigma_oo^-1 Cov(y_o, eta)``; Bartlett: ``Theta_oo^-1 Lambda_o (Lambda_o' Theta_oo^-1
    Lambda_o)^-1``)."""
    observed = ~np.isnan(centred)
    out = np.empty((centred.shape[0], B.shape[0] - p))
    C = B @ S @ B.T
    if key == "bartlett" and (np.any(A[:p, :p]) or np.any(A[p:, :p])):
        raise NotSupportedError("method: 'bartlett' scores need every observed variable to be an "
                                "indicator; this model has observed predictors; use method='regression'")
    codes, inverse = np.unique(observed, axis=0, return_inverse=True)
    for j, obs in enumerate(codes):
        rows = np.flatnonzero(inverse.ravel() == j)
        o = np.flatnonzero(obs)
        if key == "regression":
            weights = np.linalg.solve(C[np.ix_(o, o)], C[o, p:])
        else:
            Lambda, Theta = A[o, p:], S[np.ix_(o, o)]
            TiL = np.linalg.solve(Theta, Lambda)
            weights = TiL @ np.linalg.inv(Lambda.T @ TiL)
        out[rows] = centred[np.ix_(rows, o)] @ weights
    return out
