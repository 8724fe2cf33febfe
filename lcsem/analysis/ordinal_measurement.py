"""Reliability of the constructs of an ordinal fit (``fit(..., ordered=...)``), as semTools'
``compRelSEM``: categorical omega (Green & Yang, 2009; the reliability of the sum of the
observed category scores, semTools' default ``ord.scale = TRUE``) and omega of the latent
responses ``y*`` (``ord.scale = FALSE``), both with the sample polychoric correlations in
the denominator (``obs.var = TRUE``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..exceptions import ArgumentError, NotSupportedError
from ..results.fit_result import FitResult
from .ordinal_reliability import categorical_omega, latent_response_omega

__all__ = ["ordinal_reliability"]


def ordinal_reliability(res: FitResult) -> pd.DataFrame:
    """Reliability of each construct measured by ordered items.

    Parameters
    ----------
    res
        An ordinal fit (``lcsem.fit(..., ordered=...)``) of one group.

    Returns
    -------
    pandas.DataFrame
        One row per construct whose indicators are all ordered and load on it alone:
        ``omega_categorical`` (Green & Yang's categorical omega: the reliability of the sum
        of the items' category scores, semTools' ``compRelSEM`` default for ordered items),
        ``omega_latent_response`` (omega of the sum of the latent responses ``y*``, each
        scaled to unit variance, ``ord.scale = FALSE``) and ``n_items``. Both use the sample polychoric correlations
        for the total variance (semTools' ``obs.var = TRUE``).
    """
    if not isinstance(res, FitResult) or res.ordinal is None:
        raise ArgumentError("res: expected an ordinal fit, lcsem.fit(model, data, ordered=...)")
    if res.n_groups > 1:
        raise NotSupportedError("res: ordinal reliability is computed for one-group fits; fit each group "
                                "(data[data[group] == label]) on its own")
    est = res.estimates
    ordered = set(res.ordinal.ordered_names)
    loads = est[est["op"] == "=~"]
    indicators_of = loads.groupby("lhs", sort=False)["rhs"].apply(list)
    n_factors = loads.groupby("rhs")["lhs"].nunique()
    value = {(l, o, r): v for l, o, r, v in zip(est["lhs"], est["op"], est["rhs"], est["est"])}
    std_lv = {(l, o, r): v for l, o, r, v in zip(est["lhs"], est["op"], est["rhs"], est["std_lv"])}
    scales = {r: v for (l, o, r), v in value.items() if o == "~*~"}
    poly = res.sample_cov
    rows = []
    for factor, items in indicators_of.items():
        if not items or any(i not in ordered or n_factors[i] > 1 for i in items) or len(items) < 2:
            continue
        lam = [value[(factor, "=~", i)] for i in items]
        # the construct's model-implied variance (not a residual variance when it is an
        # outcome): std_lv of a loading is lambda sd(f)
        first = next((i for i, l in zip(items, lam) if l != 0), items[0])
        psi = (std_lv[(factor, "=~", first)] / value[(factor, "=~", first)]) ** 2
        ths = [[v for (l, o, r), v in value.items() if o == "|" and l == i] for i in items]
        rho = poly.loc[items, items].to_numpy(float)
        s = [scales.get(i, 1.0) for i in items]
        rows.append({"construct": factor,
                     "omega_categorical": categorical_omega(lam, psi, ths, rho, s),
                     # on the unit-variance y* that the polychoric correlations describe (the
                     # same under the delta and the theta parameterisation)
                     "omega_latent_response": latent_response_omega(np.multiply(lam, s), psi, rho),
                     "n_items": len(items)})
    if not rows:
        raise ArgumentError("res: no construct is measured by two or more ordered items that load on it alone")
    return pd.DataFrame(rows).set_index("construct")
