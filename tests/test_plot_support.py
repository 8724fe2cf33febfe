"""Shared pieces of the plot tests: fitted models and a bootstrap stand-in.

``real_bootstrap`` runs :func:`lcsem.bootstrap`; ``StandInBootstrap`` has the
attributes of :class:`lcsem.BootstrapResult` that the plots read (``fit``,
``distribution``, ``estimate``, ``ci``), built from real fitted values with three failed
replicates, to test how failures are shown: parameter draws are normal around the
estimates with their standard errors, fit-index draws normal around the sample values.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

import lcsem
from lcsem.inference.fit_indices import BOOTSTRAP_INDEX_NAMES
from lcsem.results.fit_result import parameter_name

REFERENCE = Path(__file__).parent / "reference"

OBSERVED_PATH_MODEL = """
x4 ~ x1 + x2
x9 ~ x4 + x1
"""


@lru_cache(maxsize=None)
def reference_models() -> dict[str, str]:
    ref = json.loads((REFERENCE / "lavaan_reference.json").read_text())
    return {name: ref[name]["model"] for name in ("holzinger_swineford", "political_democracy")}


@lru_cache(maxsize=None)
def fitted(name: str):
    """Fitted results: ``lc``, ``extended``, ``pd``, ``hs``, ``one_path``, ``observed``."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name == "lc":
            return lcsem.fit(lcsem.lc_model(), lcsem.datasets.load_lc_survey())
        if name == "extended":
            model = lcsem.lc_extended_model()
            return lcsem.fit(model, lcsem.simulate(model, 400, seed=11))
        hs = pd.read_csv(REFERENCE / "hs.csv")
        if name == "pd":
            return lcsem.fit(reference_models()["political_democracy"], pd.read_csv(REFERENCE / "pd.csv"))
        if name == "hs":
            return lcsem.fit(reference_models()["holzinger_swineford"], hs)
        if name == "one_path":
            return lcsem.fit("x4 ~ x1", hs)
        if name == "observed":
            return lcsem.fit(OBSERVED_PATH_MODEL, hs)
    raise KeyError(name)


MODEL_NAMES = ("lc", "extended", "pd", "hs", "one_path", "observed")

# further shapes of model, drawn from simulated data
EXTRA_MODELS = {
    "cross_loading": "f1 =~ a1 + a2 + a3 + b1\nf2 =~ b1 + b2 + b3\ny ~ f1 + f2",
    "second_order": "f1 =~ a1 + a2 + a3\nf2 =~ b1 + b2 + b3\nf3 =~ c1 + c2 + c3\ng =~ f1 + f2 + f3",
    "three_mediators": ("x =~ x1 + x2 + x3\nm1 =~ m11 + m12 + m13\nm2 =~ m21 + m22 + m23\n"
                        "m3 =~ m31 + m32 + m33\ny =~ y1 + y2 + y3\nm1 ~ x\nm2 ~ x\nm3 ~ x\n"
                        "y ~ m1 + m2 + m3 + x"),
    "covariates": "f =~ a1 + a2 + a3\nf ~ age + tenure\ny ~ f + age",
    "item_covariances": "f =~ a1 + a2 + a3 + a4 + a5\na1 ~~ a3\na2 ~~ a5\nz =~ z1 + z2 + z3\nz ~ f",
}


@lru_cache(maxsize=None)
def fitted_extra(name: str):
    import warnings

    model = lcsem.Model.from_syntax(EXTRA_MODELS[name])
    population = {f"{r.lhs} {r.op} {r.rhs}": (0.5 if r.op == "=~" else 0.3)
                  for r in model.rows if r.op in ("=~", "~")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lcsem.fit(model, lcsem.simulate(model, 300, population, seed=2))


@lru_cache(maxsize=None)
def real_bootstrap(name: str, n_resamples: int = 300):
    """``lcsem.bootstrap`` of a fitted model (nonparametric, seeded, one process)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lcsem.bootstrap(fitted(name), n_resamples, seed=5, n_jobs=1, progress=False)


class StandInBootstrap:
    """Same interface as ``lcsem.BootstrapResult`` for what the plots use."""

    def __init__(self, fit, n_resamples: int = 400, seed: int = 1):
        rng = np.random.default_rng(seed)
        est = fit.estimates
        keep = est["se"].notna()
        names = [parameter_name(l, o, r) for l, o, r in zip(est["lhs"], est["op"], est["rhs"])]
        columns: dict[str, np.ndarray] = {}
        for stat in BOOTSTRAP_INDEX_NAMES:
            value = float(fit.fit_indices[stat])
            columns[stat] = value + rng.normal(0, 0.02 * (abs(value) + 0.05), n_resamples)
        for name, k, e, se in zip(names, keep, est["est"], est["se"]):
            if k:
                columns[name] = e + se * rng.standard_normal(n_resamples)
        for name, s, se, e in zip(names, est["std_all"], est["se"], est["est"]):
            ratio = abs(se / e) if np.isfinite(se) and e else 0.05
            columns["std:" + name] = s + abs(s) * ratio * rng.standard_normal(n_resamples)
        self.fit = fit
        self.kind = "nonparametric"
        self.n_resamples = n_resamples
        self.distribution = pd.DataFrame(columns)
        self.distribution.iloc[:3] = np.nan          # three failed replicates
        self.estimate = pd.Series({s: _sample_value(fit, s, names) for s in self.distribution.columns})

    def ci(self, level=0.95, method="percentile", stats=None, include_inadmissible=True):
        stats = list(self.distribution.columns) if stats is None else list(stats)
        alpha = (1 - level) / 2
        rows = {}
        for s in stats:
            d = self.distribution[s].dropna().to_numpy()
            rows[s] = {"estimate": self.estimate[s], "lower": np.quantile(d, alpha),
                       "upper": np.quantile(d, 1 - alpha)}
        return pd.DataFrame.from_dict(rows, orient="index")[["estimate", "lower", "upper"]]


def _sample_value(fit, stat: str, names: list[str]) -> float:
    if stat in fit.fit_indices.index:
        return float(fit.fit_indices[stat])
    col = "est"
    if stat.startswith("std:"):
        stat, col = stat[4:], "std_all"
    return float(fit.estimates[col].iloc[names.index(stat)])
