"""Population models for simulation: implied covariance and the analysis model's true values.

A population comes either from a :class:`~lcsem.Model`'s standardised population values
(every observed and latent variable with unit variance) or from a fitted
:class:`~lcsem.FitResult`, whose estimates are taken as the population. In both cases the
true parameter vector of the *analysis* model (the model that will be refitted to each
simulated data set, with its own identification, e.g. marker loadings fixed to 1) is the
minimiser of ``F_ML`` at the population covariance, so that power and bias are judged
against the values the estimator targets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..engine import RamStructure, model_matrices
from ..engine.starts import simple_starts
from ..exceptions import ArgumentError, ModelSpecificationError
from ..spec.model import Model
from ..spec.partable import ParRow, _key
from ..estimation.estimate import as_model
from ..results.fit_result import FitResult
from ..engine.batch import fit_batch

__all__ = ["Population", "population", "population_sigma", "true_parameters", "population_covariance", "standardized_covariance"]

DEFAULT_LOADING = 0.7
DEFAULT_PATH = 0.3
DEFAULT_COVARIANCE = 0.3


@dataclass(frozen=True)
class Population:
    """A population covariance and the analysis model's true parameters.

    Attributes
    ----------
    model
        The analysis model (refitted to simulated data).
    struct
        Its RAM structure.
    sigma
        Population covariance of the observed variables (p, p), in ``model.observed`` order.
    theta
        True free parameters of the analysis model (k,): the ML fit to ``sigma``.
    fmin
        ``F_ML`` of that fit (0 when the analysis model holds in the population).
    """

    model: Model
    struct: RamStructure
    sigma: np.ndarray
    theta: np.ndarray
    fmin: float

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.model.observed)


def standardized_covariance(values: Mapping[tuple[str, str, str], float], observed: tuple[str, ...],
                            latent: tuple[str, ...], exogenous: set[str] | frozenset[str]) -> np.ndarray:
    """Implied correlation matrix of the observed variables from standardised values.

    ``values`` maps ``(lhs, op, rhs)`` of ``=~``, ``~`` and ``~~`` rows to standardised
    values: loadings and paths are standardised coefficients; a covariance between two
    different variables is the correlation of their (residual) parts. Residual variances are
    set so that every variable has unit variance (a fixed point, as ``simstandard``).
    """
    rows = [ParRow(lhs, op, rhs, "", 0, float(v), False) for (lhs, op, rhs), v in values.items()]
    struct = RamStructure(rows, tuple(observed), tuple(latent))
    A, S0 = model_matrices(struct, np.zeros((1, 0)))[:2]
    corr = {(i, j): S0[0, i, j] for i in range(struct.m) for j in range(i + 1, struct.m) if S0[0, i, j] != 0}
    B = np.linalg.inv(np.eye(struct.m) - A[0])
    S = np.eye(struct.m)
    for _ in range(500):  # fixed point: unit total variances
        for (i, j), r in corr.items():
            S[i, j] = S[j, i] = r * np.sqrt(max(S[i, i], 0.0) * max(S[j, j], 0.0))
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
    return C[:p, :p]


def population_covariance(model: Model, params: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Implied covariance (a correlation matrix) of the observed variables.

    Loadings, paths and covariances are standardised values taken from ``params``, then
    ``model.population``, then defaults (loading 0.7, path 0.3, covariance between
    exogenous constructs 0.3, residual covariances 0); residual variances are set so that
    every variable has unit variance.
    """
    values = _population_values(model, params)
    exogenous = set(model.roles.exogenous_latent) | set(model.roles.exogenous_observed)
    C = standardized_covariance(values, model.observed, model.latent, exogenous)
    return pd.DataFrame(C, index=list(model.observed), columns=list(model.observed))


def population_sigma(source: Any, params: Mapping[str, float] | None = None) -> tuple[np.ndarray, tuple[str, ...]]:
    """Population covariance of ``source`` (see :func:`population`) and its variable names."""

    if isinstance(source, FitResult):
        if params:
            raise ArgumentError("params: a fitted result is its own population; pass params only with a "
                                "model (or refit the model with the values you want)")
        return np.asarray(source.implied_cov.to_numpy(), dtype=float), tuple(source.model.observed)
    model = as_model(source)
    return population_covariance(model, params).to_numpy(), tuple(model.observed)


def population(source: Any, params: Mapping[str, float] | None = None) -> Population:
    """The population of ``source``: a fitted result (its estimates) or a model (its values).

    Parameters
    ----------
    source
        An :class:`lcsem.FitResult` (its estimates are the population; ``params`` must be
        None), an :class:`lcsem.Model` or model text (standardised population values from
        ``params``, then ``model.population``, then defaults).
    params
        Standardised values keyed ``"lhs op rhs"`` overriding the model's.
    """

    if isinstance(source, FitResult):
        if params:
            raise ArgumentError("params: a fitted result is its own population; pass params only with a "
                                "model (or refit the model with the values you want)")
        struct = source.structure
        sigma = np.asarray(source.implied_cov.to_numpy(), dtype=float)
        return Population(source.model, struct, sigma, np.asarray(source.theta, dtype=float).copy(), 0.0)
    model = as_model(source)
    sigma = population_covariance(model, params).to_numpy()
    struct = RamStructure(model.rows, model.observed, model.latent)
    theta, fmin = true_parameters(struct, sigma)
    return Population(model, struct, sigma, theta, fmin)


def true_parameters(struct: RamStructure, sigma: np.ndarray) -> tuple[np.ndarray, float]:
    """ML fit of ``struct`` to the population covariance ``sigma``: (theta, F_ML)."""
    start = simple_starts(struct, sigma)
    out = fit_batch(struct, sigma[None], start[None])
    if not out.converged[0]:
        raise ModelSpecificationError("the analysis model could not be fitted to the population covariance; "
                                      "check that the model is identified")
    return out.theta[0].copy(), float(out.fmin[0])


def _population_values(model: Model, params: Mapping[str, float] | None) -> dict[tuple[str, str, str], float]:
    given: dict[tuple[str, str, str], float] = {}
    for source in (model.population, params or {}):
        for key, value in source.items():
            parts = str(key).split()
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
