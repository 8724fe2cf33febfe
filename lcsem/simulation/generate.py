"""``simulate``: data sets from a model's population values or from a fitted result."""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np
import pandas as pd

from ..exceptions import ArgumentError
from .draw import BLOCK, ValeMaurelli, as_seed_sequence, block_rng, covariance_batch, moments_batch
from .likert import likert_cuts
from .groups import group_population, sizes_per_group, wants_groups
from .population import population_sigma
from ..results.fit_result import FitResult

if TYPE_CHECKING:
    from ..engine import GroupStats

__all__ = ["simulate", "SampleBatch", "GroupSampleBatch"]


@dataclass(frozen=True)
class SampleBatch:
    """Sample statistics of many simulated data sets.

    Attributes
    ----------
    cov
        (R, p, p) sample covariance matrices with denominator ``n`` (lavaan's ML ``S``).
    mean
        (R, p) sample means (the population means: 0 for a model, a mean-structure
        result's implied means).
    n
        Rows per data set.
    names
        Variable names (columns of every data set).
    """

    cov: np.ndarray
    mean: np.ndarray
    n: int
    names: tuple[str, ...]

    def __len__(self) -> int:
        return self.cov.shape[0]

    def covariance(self, r: int) -> pd.DataFrame:
        """Data set ``r``'s covariance matrix as a labelled DataFrame."""
        return pd.DataFrame(self.cov[r], index=list(self.names), columns=list(self.names))


@dataclass(frozen=True)
class GroupSampleBatch:
    """Per-group sample statistics of many simulated multi-group data sets.

    Attributes
    ----------
    cov
        (R, G, p, p) sample covariances per data set and group (denominator ``n[g]``).
    mean
        (R, G, p) sample means.
    n
        (G,) rows per group.
    names
        Variable names.
    labels
        Group labels, in order.
    """

    cov: np.ndarray
    mean: np.ndarray
    n: np.ndarray
    names: tuple[str, ...]
    labels: tuple[str, ...]

    def __len__(self) -> int:
        return self.cov.shape[0]

    def covariance(self, r: int, group: str) -> pd.DataFrame:
        """Data set ``r``'s covariance matrix in group ``group`` as a labelled DataFrame."""
        g = self._index(group)
        return pd.DataFrame(self.cov[r, g], index=list(self.names), columns=list(self.names))

    def stats(self) -> "GroupStats":
        """The batch as the engine's :class:`lcsem.engine.GroupStats` (to fit a grouped model)."""
        from ..engine import GroupStats
        return GroupStats(self.cov, self.mean, self.n.astype(float))

    def _index(self, group: str) -> int:
        if str(group) not in self.labels:
            raise ArgumentError(f"group: {group!r} is not a group; the groups are {list(self.labels)}")
        return self.labels.index(str(group))


def _check_nonnormal(nonnormal, p: int) -> tuple[np.ndarray, np.ndarray] | None:
    if nonnormal is None:
        return None
    if not isinstance(nonnormal, (tuple, list)) or len(nonnormal) != 2:
        raise ArgumentError(f"nonnormal: expected a (skew, kurtosis) pair, e.g. nonnormal=(1.0, 3.0), got {nonnormal!r}")
    out = []
    for name, value in zip(("skew", "kurtosis"), nonnormal):
        arr = np.asarray(value, dtype=float) if not isinstance(value, (str, bytes)) else None
        if arr is None or arr.ndim > 1 or (arr.ndim == 1 and arr.size != p) or not np.all(np.isfinite(arr)):
            raise ArgumentError(f"nonnormal: {name} {value!r} must be a finite number or one value per "
                                f"observed variable ({p})")
        out.append(np.broadcast_to(arr, (p,)).astype(float))
    return out[0], out[1]


def _check_common(n_datasets, missing) -> None:
    if n_datasets is not None and (isinstance(n_datasets, bool) or not isinstance(n_datasets, numbers.Integral)
                                   or n_datasets < 1):
        raise ArgumentError(f"n_datasets: {n_datasets!r} is not a whole number ≥ 1; use None for one DataFrame")
    if missing is not None:
        if isinstance(missing, bool) or not isinstance(missing, numbers.Real) or not 0 <= float(missing) < 1:
            raise ArgumentError(f"missing: {missing!r} is not a share of cells in [0, 1); use e.g. missing=0.1")
        if n_datasets is not None:
            raise ArgumentError("missing: a batch of sample moments (n_datasets=...) cannot carry missing values; "
                                "draw data sets one at a time (n_datasets=None) with different seeds")


def simulate(model: Any, n: Any = None, params: Mapping[str, Any] | None = None, *,
             seed: int | np.random.Generator | np.random.SeedSequence | None = None,
             n_datasets: int | None = None, nonnormal: tuple[Any, Any] | None = None,
             likert: Any = None, missing: float | None = None, groups: Any = None,
             group: str = "group", group_equal: Any = ()) -> pd.DataFrame | SampleBatch | GroupSampleBatch:
    """Draw data from a model's population values or from a fitted result.

    Parameters
    ----------
    model
        An :class:`lcsem.Model` or model text (its standardised ``population`` values, then
        ``params``, then defaults: loading 0.7, path 0.3, covariance of exogenous constructs
        0.3), or an :class:`lcsem.FitResult` (its estimates are the population: the implied
        covariance ``res.implied_cov``, and with a mean structure the implied means; a
        multi-group result gives each group its own implied moments).
    n
        Rows per data set. With groups: rows per group, as an int (every group), a list
        (one per group, in order, as lavaan's ``sample.nobs = c(200, 150)``) or a dict
        ``{label: n}``; for a fitted result the default (None) is its own (group) sizes.
    params
        Standardised values keyed ``"lhs op rhs"`` overriding the model's (models only).
        With ``groups``, a value may be a list with one value per group (lavaan's
        ``c(0.5, 0.2)``), and ``"x ~1"`` keys set intercepts/means in SD units.
    groups
        Several groups from a model (a fitted multi-group result brings its own): the
        number of groups (labels ``"1"``, ``"2"``, ...), a list of labels, or
        ``{label: {"lhs op rhs": value}}`` giving each group's standardised values on top
        of ``params`` (e.g. ``{"public": {"kmsuse ~ culture": 0.5}, "private":
        {"kmsuse ~ culture": 0.2}}``). Means are 0 unless set with ``"x ~1"`` keys.
    group
        Name of the group column of the returned DataFrame (default ``"group"``).
    group_equal
        Equality constraints of the analysis model (lavaan's ``group.equal`` classes); they
        matter only when the population values break them (the population is then the
        constrained model's closest fit). Models with ``groups`` only.
    seed
        None, an int, a ``numpy.random.Generator`` or a ``SeedSequence``.
    n_datasets
        None (default): one DataFrame. An int R: a :class:`SampleBatch` of R data sets'
        sample covariances and means. For normal data they are drawn directly (Wishart and
        normal, the exact distribution of the moments of ``n`` normal rows), without ever
        making the rows; with ``nonnormal`` or ``likert`` rows are drawn a block at a time
        and reduced to their moments (memory bounded by the block, not by R).
    nonnormal
        ``(skew, kurtosis)``: skewness and **excess** kurtosis of every observed variable
        (numbers, or one value per variable), by Vale and Maurelli's (1983) method (as
        lavaan's ``simulateData(skewness=, kurtosis=)``). Pairs Fleishman's polynomial cannot
        reach raise an :class:`lcsem.ArgumentError`.
    likert
        Cut each variable, standardised by its population SD, into categories ``1, 2, ...``
        (lavaan's ``simulateData`` with ``|`` thresholds): a number of categories (2 to 10;
        equally spaced thresholds on [-2.5, 2.5], symmetric bell-shaped responses, see
        :func:`lcsem.simulation.likert_thresholds`), one list of increasing thresholds for
        every variable (e.g. ``[-1.5, -0.5, 0.5, 1.5]`` for five categories), or
        ``{variable: categories or thresholds}`` naming every observed variable. With
        several groups the thresholds stay put while a group's means move its responses.
        Fitting such data with ``ordered=True`` recovers the thresholds (single group, means 0).
    missing
        Share of cells to blank out completely at random (MCAR), in [0, 1). Only for a single
        DataFrame (``n_datasets=None``): a batch of moments cannot carry missing data.

    Returns
    -------
    pandas.DataFrame or SampleBatch or GroupSampleBatch
        With groups: one DataFrame with the group column first, the groups' rows in group
        order; with ``n_datasets`` a :class:`GroupSampleBatch` of per-group moments.
    """
    if wants_groups(model, groups):
        return _simulate_groups(model, n, params, groups, group, group_equal, seed, n_datasets, nonnormal,
                                likert, missing)
    if n is None and hasattr(model, "n_obs"):
        n = int(model.n_obs)
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 2:
        raise ArgumentError(f"n: {n!r} is not a whole number of rows ≥ 2")
    _check_common(n_datasets, missing)
    sigma, names_ = population_sigma(model, params)
    names = list(names_)
    likert = likert_cuts(likert, names)
    if n_datasets is not None and n <= len(names):
        raise ArgumentError(f"n: {n} rows per data set are not more than the {len(names)} variables, so every "
                            f"sample covariance matrix would be singular; use n > {len(names)}")
    shape = _check_nonnormal(nonnormal, len(names))
    generator = None if shape is None else ValeMaurelli(sigma, *shape)
    sd = np.sqrt(np.diag(sigma))
    n = int(n)
    if n_datasets is None:
        # a Generator is used as it is (the bundled survey's script passes one)
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(as_seed_sequence(seed))
        if generator is None:
            draws = rng.multivariate_normal(np.zeros(len(names)), sigma, size=n, method="cholesky")
        else:
            draws = generator.draw(rng, (n,))
        if likert is not None:
            draws = likert.cut(draws, sd)
        if missing:
            draws[rng.random(draws.shape) < float(missing)] = np.nan
        return pd.DataFrame(draws, columns=names)
    root = as_seed_sequence(seed)
    R = int(n_datasets)
    if generator is None and likert is None:
        cov = covariance_batch(root, (0,), sigma, n, 0, R)
        means = np.concatenate([block_rng(root, (1,), b).standard_normal((BLOCK, len(names)))
                                for b in range(-(-R // BLOCK))])[:R] @ np.linalg.cholesky(sigma / n).T
        return SampleBatch(cov, means, n, tuple(names))
    cov, means = moments_batch(root, (2,), sigma, n, 0, R, generator, likert)
    return SampleBatch(cov, means, n, tuple(names))


def _simulate_groups(model, n, params, groups, group, group_equal, seed, n_datasets, nonnormal, likert,
                     missing) -> pd.DataFrame | SampleBatch | GroupSampleBatch:
    """:func:`simulate` for several groups or a mean structure (see there)."""
    _check_common(n_datasets, missing)
    if not isinstance(group, str) or not group:
        raise ArgumentError(f"group: {group!r} is not a column name; use e.g. group='sector'")
    if isinstance(group_equal, str):
        group_equal = [group_equal]
    pop = group_population(model, params, groups, group_equal=tuple(group_equal))
    names = list(pop.names)
    likert = likert_cuts(likert, names)
    if group in names:
        raise ArgumentError(f"group: {group!r} is also a variable of the model; name the group column "
                            f"differently, e.g. group='{group}_'")
    sizes = sizes_per_group(n, pop.labels, pop.sizes)
    small = [(label, int(v)) for label, v in zip(pop.labels, sizes) if v <= len(names)]
    if small:
        raise ArgumentError(f"n: group {small[0][0]!r} gets {small[0][1]} rows, not more than its {len(names)} "
                            f"variables (its covariance matrix would be singular); give every group more than "
                            f"{len(names)} rows")
    # a group column for several groups (or groups= asked for); not for one group with means
    multi = bool(model.group_labels) if isinstance(model, FitResult) else groups is not None
    shape = _check_nonnormal(nonnormal, len(names))
    generators = [None if shape is None else ValeMaurelli(pop.sigma[g], *shape) for g in range(pop.n_groups)]
    if n_datasets is None:
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(as_seed_sequence(seed))
        frames = []
        for g, label in enumerate(pop.labels):
            sigma, mu = pop.sigma[g], pop.mu[g]
            if generators[g] is None:
                draws = rng.multivariate_normal(mu, sigma, size=int(sizes[g]), method="cholesky")
            else:
                draws = generators[g].draw(rng, (int(sizes[g]),)) + mu
            if likert is not None:
                draws = likert.cut(draws, np.sqrt(np.diag(sigma)))
            if missing:
                draws[rng.random(draws.shape) < float(missing)] = np.nan
            frame = pd.DataFrame(draws, columns=names)
            if multi:
                frame.insert(0, group, label)
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)
    root = as_seed_sequence(seed)
    R, G, p = int(n_datasets), pop.n_groups, len(names)
    cov, mean = np.empty((R, G, p, p)), np.empty((R, G, p))
    for g in range(G):
        sigma, mu, n_g = pop.sigma[g], pop.mu[g], int(sizes[g])
        if generators[g] is None and likert is None:
            cov[:, g] = covariance_batch(root, (0, g), sigma, n_g, 0, R)
            z = np.concatenate([block_rng(root, (1, g), b).standard_normal((BLOCK, p)) for b in range(-(-R // BLOCK))])
            mean[:, g] = mu + z[:R] @ np.linalg.cholesky(sigma / n_g).T
        else:
            cov[:, g], mean[:, g] = moments_batch(root, (2, g), sigma, n_g, 0, R, generators[g], likert, mean=mu)
    if not multi:
        return SampleBatch(cov[:, 0], mean[:, 0], int(sizes[0]), tuple(names))
    return GroupSampleBatch(cov, mean, sizes.copy(), tuple(names), pop.labels)
