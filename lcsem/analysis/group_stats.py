"""The sample statistics of a fitted result in the engine's form (for score tests and
modification indices, which evaluate the discrepancy's derivatives at the estimates)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..engine import GroupStats
from ..exceptions import NotSupportedError
from ..results.fit_result import FitResult

__all__ = ["result_group_stats"]


def result_group_stats(res: FitResult, what: str) -> GroupStats:
    """``GroupStats`` (one replicate) of ``res``: each group's covariance matrix (denominator
    N_g, as fitted by ML), mean vector when the fit has a mean structure, and size.

    Parameters
    ----------
    res
        A fitted result (ML).
    what
        The analysis asking, for the error message (e.g. ``"score tests"``).

    Raises
    ------
    NotSupportedError
        For a multi-group result saved without its data (the group sizes are unknown).
    """
    cols = list(res.model.observed)
    if not res.group_labels:
        cov = res.sample_cov.loc[cols, cols].to_numpy()
        mean = res.sample_mean.loc[cols].to_numpy() if res.meanstructure else None
        return GroupStats.single(cov, float(res.n_obs), mean)
    sizes = (res.data[res.group].astype(str).value_counts()
             if res.data is not None and res.group in res.data.columns else pd.Series(dtype=int))
    if not all(sizes.get(label, 0) > 0 for label in res.group_labels):
        raise NotSupportedError(f"{what} of a multi-group result need its group sizes, but the result was "
                                f"saved without its data: save it with to_dict(include_data=True) or refit")
    covs, means = [], []
    for label in res.group_labels:
        covs.append(res.sample_cov.xs(label, level=0).loc[cols, cols].to_numpy())
        if res.meanstructure:
            means.append(res.sample_mean.xs(label, level=0).loc[cols].to_numpy())
    n = np.array([float(sizes.get(label, 0)) for label in res.group_labels])
    return GroupStats(np.stack(covs)[None], np.stack(means)[None] if res.meanstructure else None, n)
