"""Draw data from a model's standardised population values."""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from .engine.ram import RamStructure
from .exceptions import ArgumentError
from .spec.model import Model
from .spec.partable import ParRow, _key

DEFAULT_LOADING = 0.7
DEFAULT_PATH = 0.3
DEFAULT_COVARIANCE = 0.3
LIKERT_POINTS = (5, 7)


def population_covariance(model: Model, params: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Implied covariance (a correlation matrix) of the observed variables.

    Loadings, paths and covariances are standardised values taken from ``params``, then
    ``model.population``, then defaults (loading 0.7, path 0.3, covariance between
    exogenous constructs 0.3, residual covariances 0); residual variances are set so that
    every variable has unit variance.
    """
    values = _population_values(model, params)
    rows = [ParRow(r.lhs, r.op, r.rhs, "", 0, values[_key(r.lhs, r.op, r.rhs)], False)
            for r in model.rows if r.op != ":="]
    struct = RamStructure(rows, model.observed, model.latent)
    A, S = struct.matrices(np.zeros((1, 0)))
    corr = {(i, j): S[0, i, j] for i in range(struct.m) for j in range(i + 1, struct.m) if S[0, i, j] != 0}
    exogenous = set(model.roles.exogenous_latent) | set(model.roles.exogenous_observed)
    B = np.linalg.inv(np.eye(struct.m) - A[0])
    S = np.eye(struct.m)
    for _ in range(200):  # fixed point: unit total variances
        for (i, j), r in corr.items():
            S[i, j] = S[j, i] = r * np.sqrt(S[i, i] * S[j, j])
        C = B @ S @ B.T
        diag = np.diag(C)
        if np.allclose(diag, 1.0, atol=1e-12):
            break
        for i, name in enumerate(struct.names):
            if name not in exogenous:
                S[i, i] += 1.0 - diag[i]
    if np.any(np.diag(S) <= 0):
        bad = [n for i, n in enumerate(struct.names) if S[i, i] <= 0]
        raise ArgumentError(f"params: the population values leave no residual variance for {bad} "
                            f"(R² ≥ 1); lower the paths or loadings into them")
    C = B @ S @ B.T
    p = struct.p
    return pd.DataFrame(C[:p, :p], index=list(model.observed), columns=list(model.observed))


def simulate(model: Model | str, n: int, params: Mapping[str, float] | None = None, *,
             seed: int | np.random.Generator | np.random.SeedSequence | None = None,
             likert: int | None = None) -> pd.DataFrame:
    """Draw ``n`` multivariate-normal rows from the model's population values.

    Parameters
    ----------
    model
        A :class:`Model` (its ``population`` values are used) or model text.
    n
        Number of rows.
    params
        Standardised values keyed ``"lhs op rhs"`` (``"kmsuse ~ culture"``,
        ``"culture =~ lc_team"``, ``"mgmt_comp ~~ emp_ability"``) overriding the model's.
    seed
        Seed for :func:`numpy.random.default_rng`.
    likert
        ``5`` or ``7`` to cut each standardised variable into Likert categories ``1..likert``
        at equally spaced thresholds on [-2.5, 2.5] (symmetric, bell-shaped responses).
    """
    from .fit import as_model

    model = as_model(model)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ArgumentError(f"n: {n!r} is not a whole number of rows ≥ 2")
    if likert is not None and likert not in LIKERT_POINTS:
        raise ArgumentError(f"likert: {likert!r} is not supported; use 5, 7 or None (continuous)")
    cov = population_covariance(model, params)
    rng = np.random.default_rng(seed)
    draws = rng.multivariate_normal(np.zeros(len(cov)), cov.to_numpy(), size=int(n), method="cholesky")
    if likert is not None:
        thresholds = np.linspace(-2.5, 2.5, likert + 1)[1:-1]
        draws = np.searchsorted(thresholds, draws).astype(float) + 1.0
    return pd.DataFrame(draws, columns=cov.columns)


def _population_values(model: Model, params: Mapping[str, float] | None) -> dict[tuple[str, str, str], float]:
    given: dict[tuple[str, str, str], float] = {}
    for source in (model.population, params or {}):
        for key, value in source.items():
            parts = key.split()
            if len(parts) != 3 or parts[1] not in ("=~", "~", "~~"):
                raise ArgumentError(f"params: key {key!r} is not of the form 'lhs op rhs' "
                                    f"(e.g. 'kmsuse ~ culture')")
            given[_key(*parts)] = float(value)
    known = {_key(r.lhs, r.op, r.rhs) for r in model.rows if r.op != ":="}
    unknown = [" ".join(k) for k in given if k not in known and k[0] != k[2]]
    if params and unknown:
        raise ArgumentError(f"params: {unknown} are not parameters of the model")
    out = {}
    for r in model.rows:
        if r.op == ":=":
            continue
        key = _key(r.lhs, r.op, r.rhs)
        if key in given:
            out[key] = given[key]
        elif r.op == "=~":
            out[key] = DEFAULT_LOADING
        elif r.op == "~":
            out[key] = DEFAULT_PATH
        elif r.lhs == r.rhs:
            out[key] = 1.0
        elif r.lhs in model.roles.exogenous_latent and r.rhs in model.roles.exogenous_latent:
            out[key] = DEFAULT_COVARIANCE
        else:
            out[key] = 0.0
    return out
