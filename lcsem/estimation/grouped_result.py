"""``fit()`` for multi-group, mean-structure and FIML models: validate, compute each
group's moments (or missing-data patterns), build the multi-group table, estimate and
assemble the :class:`~lcsem.FitResult` (moments with a (group, variable) index)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._validation import check_level
from .._warnings import recording, warn
from ..data.groups import moments_by_group
from ..engine.group_ls import LS_ESTIMATORS
from ..exceptions import ArgumentError, EstimationError, NotSupportedError, SharedLabelWarning
from ..results.fit_result import FitResult
from ..spec.groups import group_table, mean_structure_needed, shared_labels
from ..spec.model import Model
from .fiml import fiml_fit
from .grouped import fit_groups
from .provenance import versions


def fit_grouped_result(model: Model, data: pd.DataFrame | None, estimator: str, missing: str, level: float,
                 group: str | None, group_equal: tuple[str, ...], group_partial: tuple[str, ...],
                 meanstructure: bool, sample_cov: object, information: str | None = None) -> FitResult:
    """Multi-group and/or mean-structure fit (ML; FIML with ``missing="ml"``)."""
    what = ("multi-group models" if group is not None else
            "FIML fits (missing='ml')" if missing == "ml" else "mean structures")
    if estimator != "ML" and (missing == "ml" or estimator not in LS_ESTIMATORS):
        raise NotSupportedError(f"estimator: {estimator!r} with {what} is not supported; use "
                                f"estimator=\"ML\"" + ("" if missing == "ml" else " (or \"GLS\", \"ULS\")"))
    if sample_cov is not None or data is None:
        raise NotSupportedError(f"sample_cov: {what} are fitted from raw data; pass data=...")
    if (group_equal or group_partial) and group is None:
        raise ArgumentError(f"{'group_equal' if group_equal else 'group_partial'}: only used with "
                            f"group=...; name the group column (e.g. group=\"sector\")")
    level = check_level(level)
    with recording() as caught:
        moments = moments_by_group(data, model.observed, group, missing, model.latent,
                                   covariates=model.roles.exogenous_observed)
        n_groups = len(moments.groups)
        shared = shared_labels(model) if n_groups > 1 else ()
        if shared:
            warn(f"the labels {', '.join(shared)} are written once for all {n_groups} groups, so each "
                 f"is one parameter equal in every group (lavaan's rule); if that is not intended, give "
                 f"one label per group, e.g. c({shared[0]}1, {shared[0]}2)*..., or remove the label",
                 SharedLabelWarning, stacklevel=3)
        means = mean_structure_needed(model, meanstructure, n_groups)
        rows = group_table(model, n_groups, group_equal=group_equal, group_partial=group_partial,
                           meanstructure=means)
        try:
            if moments.patterns:
                out = fiml_fit(model, rows, moments, level, information or "observed")
            else:
                if information not in (None, "expected"):
                    raise NotSupportedError(f"information: {information!r} is available with missing='ml' "
                                            f"(FIML); complete-data ML uses the expected information "
                                            f"(lavaan's default): leave information out or pass 'expected'")
                out = fit_groups(model, rows, moments, means, level, estimator)
        except np.linalg.LinAlgError as exc:
            raise EstimationError(f"estimation failed with a singular matrix ({exc}); the model is "
                                  f"probably not identified: fix parameters or add indicators") from None
    cols = list(model.observed)
    labels = moments.labels if group is not None else ()
    keys = list(labels) if labels else None

    def frames(mats: np.ndarray) -> pd.DataFrame:
        if keys is None:
            return pd.DataFrame(mats[0], index=cols, columns=cols)
        return pd.concat({k: pd.DataFrame(m, index=cols, columns=cols) for k, m in zip(keys, mats)},
                         names=["group", "variable"])

    def series(vecs: np.ndarray, index: list[str], name: str) -> pd.Series:
        if keys is None:
            return pd.Series(vecs[0], index=index, name=name)
        return pd.concat({k: pd.Series(v, index=index) for k, v in zip(keys, vecs)},
                         names=["group", "variable"]).rename(name)

    parts = [g.data if group is None else g.data.assign(**{group: label})
             for g, label in zip(moments.groups, moments.labels or ("",))]
    frame = pd.concat(parts) if all(p is not None for p in parts) else None
    res = FitResult(
        model=model, estimator=estimator, estimates=out["estimates"], fit_indices=out["fit_indices"],
        r2=series(out["r2"], list(out["endogenous"]), "r2"), converged=out["converged"],
        inadmissible=out["inadmissible"], warnings=tuple(w.message for w in caught),
        n_obs=moments.n_obs, n_total=moments.n_total, missing=moments.groups[0].missing,
        theta=out["theta"], vcov=out["vcov"], sample_cov=frames(out["S"]), implied_cov=frames(out["Sigma"]),
        data=frame, iterations=out["iterations"], versions=versions(), unidentified=out["unidentified"],
        level=level, sample_mean=series(out["xbar"], cols, "mean"),
        group=group, group_labels=labels, group_equal=group_equal, group_partial=group_partial,
        meanstructure=means, implied_mean=series(out["mu"], cols, "mean") if means else None,
        information=out.get("information", "expected"))
    # the table just fitted is the result's parameter table (the cached FitResult.rows would
    # build the same one again, ~1 ms, e.g. for robust corrections)
    res.__dict__["rows"] = rows
    return res
