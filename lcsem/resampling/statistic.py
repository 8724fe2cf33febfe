"""The bootstrap's statistic hook: a function of every replicate, evaluated from what the
bootstrap stored (as ``scipy.stats.bootstrap`` takes a ``statistic``).

Analyses never resample on their own. A statistic is a function of a :class:`Replicates`
batch: each replicate's parameter vector (read from the bootstrap's distribution, no
refit) and, on request, its sample moments per group (recomputed from the stored resample
indices: the resampled cases of every group) or the leave-one-out moments of the
jackknife. :meth:`lcsem.BootstrapResult.statistic` evaluates one on the replicates (or the
jackknife) and returns its draws, NaN for replicates that failed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..exceptions import ArgumentError, NotSupportedError
from ..results.fit_result import FitResult, parameter_name
from .resample import leave_one_out_covariances

__all__ = ["Replicates", "evaluate_statistic", "theta_draws"]

#: Separates a parameter's name from its group's label in a multi-group bootstrap's columns
#: (as :data:`lcsem.resampling.groups.GROUP_SEPARATOR`).
_SEPARATOR = "@"

#: replicates whose resampled data are held in memory at once when computing moments
_CHUNK = 200


def theta_draws(frame: pd.DataFrame, res: FitResult) -> np.ndarray:
    """Parameter vectors (R, k) of ``res`` from a bootstrap distribution (or its jackknife)
    whose columns name the parameters (:func:`lcsem.results.parameter_name`; in a
    multi-group fit followed by ``"@<group label>"``): the joint vector of a multi-group or
    mean-structure fit, the fit's own vector otherwise."""
    labels = tuple(res.group_labels)
    theta = np.full((len(frame), len(np.atleast_1d(res.theta))), np.nan)
    rows = res.rows if res.grouped else res.model.rows
    for r in rows:
        if r.op == ":=" or not r.free or not np.isnan(theta[:, r.free - 1]).all():
            continue
        suffix = f"{_SEPARATOR}{labels[r.group - 1]}" if labels else ""
        name = parameter_name(r.lhs, r.op, r.rhs) + suffix
        if name not in frame.columns and r.op == "~~":
            name = parameter_name(r.rhs, r.op, r.lhs) + suffix
        if name in frame.columns:
            theta[:, r.free - 1] = frame[name].to_numpy(dtype=float)
    if np.isnan(theta).all(axis=0).any():
        raise ArgumentError("boot: its distribution lacks some free parameters of this result; pass the "
                            "bootstrap of this very result")
    return theta


@dataclass(frozen=True, eq=False)
class Replicates:
    """A batch of bootstrap replicates (or jackknife samples) as a statistic sees them.

    Attributes
    ----------
    fit
        The bootstrapped :class:`~lcsem.FitResult`.
    theta
        (R, k) each replicate's parameter vector (the joint vector of a multi-group or
        mean-structure fit, in ``fit.theta``'s order).
    numbers
        (R,) the replicates' numbers in the bootstrap (rows of its distribution; for the
        jackknife, the left-out case's row in ``fit.data``).
    jackknife
        True for leave-one-out samples.
    """

    fit: FitResult
    theta: np.ndarray
    numbers: np.ndarray
    jackknife: bool = False
    _moments: Callable[[], tuple[np.ndarray, np.ndarray, np.ndarray]] | None = field(default=None, repr=False)
    _cache: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return int(self.theta.shape[0])

    def moments(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each replicate's sample moments per group: covariances (R, G, p, p) with
        denominator ``N_g`` (ML's; multiply by ``N_g / (N_g - 1)`` for GLS/ULS), means
        (R, G, p) and group sizes (G,), in ``fit.model.observed`` order; ``G = 1`` for a
        single-group fit.

        Raises
        ------
        NotSupportedError
            When the bootstrap keeps no resampled cases of the observed data (parametric
            and Bollen–Stine bootstraps, per-group views of a bootstrap).
        """
        if "moments" not in self._cache:
            if self._moments is None:
                raise NotSupportedError("replicates: this bootstrap keeps no resampled cases of the observed "
                                        "data (a parametric or Bollen-Stine bootstrap, or one group's view); "
                                        "statistics of the resampled data need lcsem.bootstrap(res, "
                                        "kind='nonparametric') of the fit itself")
            self._cache["moments"] = self._moments()
        return self._cache["moments"]


def _group_rows(res: FitResult) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """The stored data's observed columns and each group's row positions."""
    X = res.data[list(res.model.observed)].to_numpy(dtype=float)
    if res.group_labels:
        column = res.data[res.group].astype(str).to_numpy()
        positions = tuple(np.flatnonzero(column == label) for label in res.group_labels)
    else:
        positions = (np.arange(X.shape[0]),)
    return X, positions


def _resampled_moments(res: FitResult, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Moments of every group's resampled cases: a row of ``indices`` holds group 1's
    draws (row positions of ``res.data``), then group 2's, ... (the bootstrap's layout)."""
    X, positions = _group_rows(res)
    sizes = np.array([pos.size for pos in positions])
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    R, G, p = indices.shape[0], len(positions), X.shape[1]
    cov = np.empty((R, G, p, p))
    mean = np.empty((R, G, p))
    for start in range(0, R, _CHUNK):
        for g in range(G):
            Xg = X[indices[start:start + _CHUNK, offsets[g]:offsets[g + 1]]]
            m = Xg.mean(axis=1, keepdims=True)
            Xc = Xg - m
            mean[start:start + _CHUNK, g] = m[:, 0]
            cov[start:start + _CHUNK, g] = np.einsum("bni,bnj->bij", Xc, Xc) / Xg.shape[1]
    return cov, mean, sizes.astype(float)


def _leave_one_out_moments(res: FitResult, cases: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Moments per group with case ``i`` (a row of ``res.data``) left out of its own group,
    for each ``i`` in ``cases``; the other groups keep their full-sample moments."""
    X, positions = _group_rows(res)
    G, p = len(positions), X.shape[1]
    cov = np.empty((cases.size, G, p, p))
    mean = np.empty((cases.size, G, p))
    for g, pos in enumerate(positions):
        Xg = X[pos]
        n = pos.size
        full_mean = Xg.mean(axis=0)
        Xc = Xg - full_mean
        cov[:, g] = Xc.T @ Xc / n
        mean[:, g] = full_mean
        local = np.full(X.shape[0], -1)
        local[pos] = np.arange(n)
        inside = np.flatnonzero(local[cases] >= 0)
        if inside.size:
            rows = local[cases[inside]]
            cov[inside, g] = leave_one_out_covariances(Xc, rows)
            mean[inside, g] = full_mean + (Xc.sum(axis=0) - Xc[rows]) / (n - 1)
    return cov, mean, np.array([pos.size for pos in positions], dtype=float)


def replicates_of(boot: Any, *, jackknife: bool = False, include_inadmissible: bool = True) -> Replicates:
    """The usable replicates of ``boot`` (a :class:`~lcsem.BootstrapResult`): failed ones,
    and inadmissible ones unless ``include_inadmissible``, are left out, and so are those
    without a finite parameter vector. ``jackknife``: the leave-one-out samples instead."""
    res = boot.fit
    if jackknife:
        frame = boot.jackknife()
        keep = np.ones(len(frame), dtype=bool)
    else:
        frame = boot.distribution
        status = boot.status.to_numpy()
        keep = status != "failed"
        if not include_inadmissible:
            keep &= status != "inadmissible"
    theta = theta_draws(frame, res)
    keep &= np.isfinite(theta).all(axis=1)
    numbers = np.flatnonzero(keep)
    moments = None
    own_data = not res.view_of and res.data is not None and res.missing != "ml"
    if own_data and boot.kind == "nonparametric":
        if jackknife:
            moments = lambda: _leave_one_out_moments(res, numbers)        # noqa: E731
        elif boot.indices is not None:
            indices = np.asarray(boot.indices)
            moments = lambda: _resampled_moments(res, indices[numbers])   # noqa: E731
    return Replicates(fit=res, theta=theta[keep], numbers=numbers, jackknife=jackknife, _moments=moments)


def evaluate_statistic(boot: Any, fn: Callable[[Replicates], Any], *, jackknife: bool = False,
                       include_inadmissible: bool = True) -> np.ndarray | dict[str, np.ndarray]:
    """``fn`` of every usable replicate, scattered into arrays over ALL replicates (or
    jackknife samples) with NaN rows for those left out (see :func:`replicates_of`).

    ``fn`` returns an array whose first axis runs over the replicates it was given, or a
    dict of such arrays; the result has the same form."""
    if not callable(fn):
        raise ArgumentError(f"fn: expected a function of lcsem Replicates, got {type(fn).__name__}")
    reps = replicates_of(boot, jackknife=jackknife, include_inadmissible=include_inadmissible)
    total = len(boot.jackknife()) if jackknife else boot.n_resamples
    out = fn(reps)

    def scatter(values: Any, name: str) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        if values.ndim == 0 or values.shape[0] != len(reps):
            raise ArgumentError(f"fn: {name} has shape {values.shape}; a statistic returns one value (or "
                                f"array) per replicate given: first axis {len(reps)}")
        full = np.full((total,) + values.shape[1:], np.nan)
        full[reps.numbers] = values
        return full

    if isinstance(out, Mapping):
        return {key: scatter(value, f"entry {key!r}") for key, value in out.items()}
    return scatter(out, "its value")
