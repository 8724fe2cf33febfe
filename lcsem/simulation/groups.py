"""Populations of several groups (and of one group with a mean structure) for simulation.

A grouped population has, per group ``g``, the implied covariance ``Sigma_g`` and means
``mu_g`` of the observed variables, and the analysis model's parameter table (lavaan's
multi-group table: group 1's rows, group 2's, ..., ``:=`` rows) with its true parameter
vector: the ML fit of that table to the population moments (weights ``N_g / N`` from the
population's group shares).

It comes either from a fitted multi-group / mean-structure :class:`~lcsem.FitResult` (each
group's implied moments; the result's own table is refitted), or from a model and
``groups=``: the number of groups, their labels, or ``{label: {"lhs op rhs": value}}`` of
standardised population values per group (on top of ``params``, the model's ``population``
and the defaults of :func:`lcsem.simulate`). In ``params`` (and in a group's values) a value
may also be a list with one value per group, lavaan's ``c(0.5, 0.2)``. Means: a key
``"x ~1"`` gives the intercept of ``x`` (its mean when ``x`` is exogenous, e.g. a latent
mean) in standard-deviation units; the implied means follow the paths (``mu = (I - A)^-1 nu``).
The default is 0 in every group.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from ..engine import GroupStats, GroupStructure, RamStructure, group_starts, minimize, model_matrices
from ..exceptions import ArgumentError, ModelSpecificationError
from ..inference.grouped import fixed_x_ids
from ..results.fit_result import FitResult
from ..spec.groups import group_table
from ..spec.model import Model
from ..spec.partable import ParRow, _key, has_intercepts
from .population import DEFAULT_COVARIANCE, DEFAULT_LOADING, DEFAULT_PATH, standardized_covariance

__all__ = ["GroupPopulation", "group_population", "wants_groups", "split_total", "sizes_per_group"]


@dataclass(frozen=True)
class GroupPopulation:
    """Per-group population moments and the analysis table's true parameters.

    Attributes
    ----------
    model
        The analysis model (its statements; the table is ``rows``).
    rows
        The analysis model's parameter table (every group, then ``:=`` rows).
    struct
        Its :class:`~lcsem.engine.GroupStructure`.
    sigma
        (G, p, p) population covariances, ``model.observed`` order.
    mu
        (G, p) population means.
    theta
        True free parameters (k,): the ML fit of ``rows`` to the population moments.
    fmin
        ``F_ML`` at ``theta`` (0 when the analysis model holds in the population).
    labels
        Group labels (str), in order.
    shares
        (G,) each group's share of the total N (sums to 1).
    sizes
        (G,) the fitted result's group sizes, or None for a model.
    fixed_x
        0-based free numbers of the covariates' moments (lavaan's ``fixed.x``: no test).
    """

    model: Model
    rows: tuple[ParRow, ...]
    struct: GroupStructure
    sigma: np.ndarray
    mu: np.ndarray
    theta: np.ndarray
    fmin: float
    labels: tuple[str, ...]
    shares: np.ndarray
    sizes: np.ndarray | None
    fixed_x: frozenset[int]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.model.observed)

    @property
    def n_groups(self) -> int:
        return len(self.labels)

    @property
    def df(self) -> int:
        return self.struct.n_moments - self.struct.k


def wants_groups(source: Any, groups: Any) -> bool:
    """Whether ``source``/``groups`` describe a grouped population: several groups, or a
    mean structure (a result fitted with one, or model text that writes ``~ 1``)."""
    if isinstance(source, FitResult):
        if groups is not None:
            raise ArgumentError("groups: a fitted result brings its own groups (its population is each group's "
                                "implied moments); pass groups= only with a model")
        return bool(source.grouped)
    if groups is not None:
        return True
    from ..estimation.estimate import as_model
    return has_intercepts(list(as_model(source).statements))


# ---------------------------------------------------------------------------- group sizes
def split_total(total: int, shares: np.ndarray) -> np.ndarray:
    """Split ``total`` cases into groups in proportion to ``shares`` (largest remainders,
    ties to the earlier group), so the sizes add up to ``total``."""
    raw = total * np.asarray(shares, float)
    out = np.floor(raw).astype(int)
    rest = total - int(out.sum())
    order = np.argsort(-(raw - out), kind="stable")
    out[order[:rest]] += 1
    return out


def sizes_per_group(n: Any, labels: tuple[str, ...], default: np.ndarray | None, name: str = "n") -> np.ndarray:
    """Group sizes from ``n``: an int (every group), a sequence (one per group, in order), a
    dict ``{label: n}`` (every label), or None (``default``: a fitted result's sizes)."""
    G = len(labels)
    if n is None:
        if default is None:
            raise ArgumentError(f"{name}: give the rows per group, e.g. {name}=200 (each group) or "
                                f"{name}={{{', '.join(repr(l) + ': 200' for l in labels[:2])}}}")
        return np.asarray(default, int)
    if isinstance(n, Mapping):
        keys = [str(k) for k in n]
        unknown = [k for k in keys if k not in labels]
        missing = [l for l in labels if l not in keys]
        if unknown or missing:
            raise ArgumentError(f"{name}: {'unknown group labels ' + repr(unknown) if unknown else ''}"
                                f"{'; ' if unknown and missing else ''}"
                                f"{'no size for ' + repr(missing) if missing else ''}; the groups are {list(labels)}")
        values = [n[k] for k in n]
        values = [values[keys.index(l)] for l in labels]
    elif isinstance(n, numbers.Integral) and not isinstance(n, bool):
        values = [n] * G
    elif isinstance(n, (list, tuple, np.ndarray)):
        values = list(n)
        if len(values) != G:
            raise ArgumentError(f"{name}: {len(values)} group sizes for {G} groups {list(labels)}; give one per "
                                f"group (or one int for all)")
    else:
        raise ArgumentError(f"{name}: expected rows per group (an int, a list or a dict by group label), got {n!r}")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 2:
            raise ArgumentError(f"{name}: {v!r} is not a whole number of rows ≥ 2 per group")
    return np.asarray(values, int)


# ---------------------------------------------------------------------------- population
def group_population(source: Any, params: Mapping[str, Any] | None = None, groups: Any = None, *,
                     group_equal: Sequence[str] = (), group_partial: Sequence[str] = (),
                     ratio: Sequence[float] | None = None) -> GroupPopulation:
    """The grouped population of a fitted result or of a model with ``groups=`` (module text).

    ``ratio`` sets the groups' relative sizes (default: a result's group sizes; a model's
    groups equally large); it weighs the groups when the analysis model does not hold in
    the population.
    """
    if isinstance(source, FitResult):
        if params:
            raise ArgumentError("params: a fitted result is its own population; pass params only with a "
                                "model (or refit the model with the values you want)")
        if group_equal or group_partial:
            raise ArgumentError("group_equal: a fitted result is refitted with its own constraints; pass "
                                "group_equal/group_partial only with a model")
        return _from_result(source, ratio)
    from ..estimation.estimate import as_model
    model = as_model(source)
    labels, per_group = _group_values(1 if groups is None else groups, params)
    G = len(labels)
    rows = group_table(model, G, group_equal=group_equal, group_partial=group_partial, meanstructure=True)
    p = len(model.observed)
    sigma, mu = np.empty((G, p, p)), np.empty((G, p))
    for g in range(G):
        sigma[g], mu[g] = _standardized_moments(model, [r for r in rows if r.group == g + 1], per_group[g], labels[g])
    shares = _shares(ratio, G, None)
    return _finish(model, rows, sigma, mu, labels, shares, None)


def _from_result(res: FitResult, ratio) -> GroupPopulation:
    labels = tuple(res.group_labels) or ("1",)
    G, p = len(labels), len(res.model.observed)
    cov = np.asarray(res.implied_cov.to_numpy(), float).reshape(G, p, p)
    mean = np.asarray(res.implied_mean.to_numpy(), float).reshape(G, p)
    if res.group_labels:
        sizes = np.array([res.groups[l].n_obs for l in labels], int)
    else:
        sizes = np.array([res.n_obs], int)
    shares = _shares(ratio, G, sizes)
    rows = tuple(res.rows)
    struct = GroupStructure(rows, tuple(res.model.observed), tuple(res.model.latent), n_groups=G, meanstructure=True)
    theta = np.asarray(res.theta, float).copy()
    if ratio is None:
        return GroupPopulation(res.model, rows, struct, cov, mean, theta, 0.0, labels, shares, sizes,
                               fixed_x_ids(rows, res.model))
    return _finish(res.model, rows, cov, mean, labels, shares, sizes, theta)


def _shares(ratio, G: int, sizes: np.ndarray | None) -> np.ndarray:
    if ratio is None:
        base = np.ones(G) if sizes is None else np.asarray(sizes, float)
    else:
        try:
            base = np.asarray(ratio, dtype=float)
        except (TypeError, ValueError):
            raise ArgumentError(f"ratio: expected one positive number per group, got {ratio!r}") from None
        if base.shape != (G,) or not np.all(np.isfinite(base)) or not np.all(base > 0):
            raise ArgumentError(f"ratio: {ratio!r} must give one positive number per group ({G} groups), "
                                f"e.g. ratio={[1] * G}")
    return base / base.sum()


def _finish(model: Model, rows, sigma, mu, labels, shares, sizes, start=None) -> GroupPopulation:
    G = len(labels)
    struct = GroupStructure(rows, tuple(model.observed), tuple(model.latent), n_groups=G, meanstructure=True)
    if struct.n_moments < struct.k:
        raise ModelSpecificationError(f"model: {struct.k} free parameters but only {struct.n_moments} moments "
                                      f"(df < 0); it is not identified: fix parameters or add equality constraints")
    stats = GroupStats(sigma[None], mu[None], shares * 1000.0)
    theta0 = group_starts(struct, stats) if start is None else start
    sol = minimize(struct, stats, np.atleast_2d(theta0), "ML", max_iter=2000)
    if not sol.converged[0]:
        raise ModelSpecificationError("the analysis model could not be fitted to the population moments; "
                                      "check that the model is identified in every group")
    return GroupPopulation(model, tuple(rows), struct, sigma, mu, sol.theta[0].copy(), float(sol.fmin[0]),
                           tuple(labels), shares, sizes, fixed_x_ids(tuple(rows), model))


# ---------------------------------------------------------------------------- model values
def _group_values(groups: Any, params: Mapping[str, Any] | None) -> tuple[tuple[str, ...], list[dict]]:
    """Group labels and each group's population values (params with per-group lists
    resolved, then the group's own values)."""
    if isinstance(groups, Mapping):
        labels = tuple(str(k) for k in groups)
        own = []
        for key, values in groups.items():
            if values is None:
                values = {}
            if not isinstance(values, Mapping):
                raise ArgumentError(f"groups: the values of group {key!r} must be a dict such as "
                                    f"{{'kmsuse ~ culture': 0.4}}, got {values!r}")
            own.append(dict(values))
    elif isinstance(groups, numbers.Integral) and not isinstance(groups, bool):
        if groups < 1:
            raise ArgumentError(f"groups: {groups!r} is not a number of groups ≥ 1")
        labels = tuple(str(g + 1) for g in range(int(groups)))
        own = [{} for _ in labels]
    elif isinstance(groups, (list, tuple)) and groups and all(isinstance(g, str) for g in groups):
        labels = tuple(groups)
        own = [{} for _ in labels]
    else:
        raise ArgumentError(f"groups: expected a number of groups, a list of labels or {{label: {{'lhs op rhs': "
                            f"value}}}}, got {groups!r}")
    if len(set(labels)) != len(labels):
        raise ArgumentError(f"groups: the labels {list(labels)} repeat; give each group its own label")
    G = len(labels)
    out = []
    for g in range(G):
        values: dict[str, float] = {}
        for key, value in (params or {}).items():
            values[key] = _per_group(key, value, g, G, "params")
        for key, value in own[g].items():
            values[key] = _per_group(key, value, g, G, f"groups[{labels[g]!r}]", allow_list=False)
        out.append(values)
    return labels, out


def _per_group(key, value, g: int, G: int, where: str, allow_list: bool = True) -> float:
    if isinstance(value, (list, tuple, np.ndarray)):
        if not allow_list or len(value) != G:
            raise ArgumentError(f"{where}: {key!r} has {len(value)} values; give one number"
                                + (f" or one per group ({G})" if allow_list else ""))
        value = value[g]
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(float(value)):
        raise ArgumentError(f"{where}: the value of {key!r} is {value!r}, not a finite number")
    return float(value)


def _mean_key(key: str) -> str | None:
    text = "".join(str(key).split())
    return text[:-2] if text.endswith("~1") and len(text) > 2 else None


def _standardized_moments(model: Model, rows: list[ParRow], given: Mapping[str, float], label: str
                          ) -> tuple[np.ndarray, np.ndarray]:
    """One group's population covariance (a correlation matrix) and means."""
    observed, latent = tuple(model.observed), tuple(model.latent)
    cov_rows = [r for r in rows if r.op != "~1"]
    values: dict[tuple[str, str, str], float] = {}
    means: dict[str, float] = {}
    for source in (model.population, given):
        for key, value in source.items():
            var = _mean_key(key)
            if var is not None:
                if var not in observed + latent:
                    raise ArgumentError(f"params: {key!r} (group {label}) is the mean of {var!r}, which is not a "
                                        f"variable of the model")
                means[var] = float(value)
                continue
            parts = str(key).split()
            if len(parts) != 3 or parts[1] not in ("=~", "~", "~~"):
                raise ArgumentError(f"params: key {key!r} is not of the form 'lhs op rhs' (e.g. 'kmsuse ~ culture') "
                                    f"or 'x ~1' (a mean)")
            values[_key(*parts)] = float(value)
    known = {_key(r.lhs, r.op, r.rhs) for r in cov_rows}
    unknown = [" ".join(k) for k in values if k not in known and k[0] != k[2]]
    given_keys = {_key(*str(k).split()) for k in given if _mean_key(k) is None}
    unknown = [u for u in unknown if tuple(u.split()) in given_keys]
    if unknown:
        raise ArgumentError(f"params: {unknown} are not parameters of the model (group {label})")
    roles = model.roles
    exogenous = set(roles.exogenous_latent) | set(roles.exogenous_observed)
    out: dict[tuple[str, str, str], float] = {}
    for r in cov_rows:
        key = _key(r.lhs, r.op, r.rhs)
        if key in values:
            out[key] = values[key]
        elif r.op == "=~":
            out[key] = DEFAULT_LOADING
        elif r.op == "~":
            out[key] = DEFAULT_PATH
        elif r.lhs == r.rhs:
            out[key] = 1.0
        elif r.lhs in roles.exogenous_latent and r.rhs in roles.exogenous_latent:
            out[key] = DEFAULT_COVARIANCE
        else:
            out[key] = 0.0
    C = standardized_covariance(out, observed, latent, exogenous)
    nu = np.zeros(len(observed) + len(latent))
    names = observed + latent
    for var, value in means.items():
        nu[names.index(var)] = value
    paths = [ParRow(lhs, op, rhs, "", 0, v, False) for (lhs, op, rhs), v in out.items() if op in ("=~", "~")]
    struct = RamStructure(paths, observed, latent)
    A = model_matrices(struct, np.zeros((1, 0))).direct
    mu = np.linalg.solve(np.eye(struct.m) - A[0], nu[[names.index(n) for n in struct.names]])
    return C, mu[: len(observed)]
