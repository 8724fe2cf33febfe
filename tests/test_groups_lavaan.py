"""Multi-group and mean-structure fits against lavaan 0.6.14 (tests/reference/make_groups.R →
groups_reference.json): estimates, SEs, std_all and its SEs per group, R², fit indices,
χ²/loglik/AIC/BIC, for HS by school, the bundled survey by sector, and single-group models
with means."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lcsem

REF_DIR = Path(__file__).parent / "reference"
REF = json.loads((REF_DIR / "groups_reference.json").read_text())
DATA = {"hs.csv": pd.read_csv(REF_DIR / "hs.csv"), "lc_shared.csv": pd.read_csv(REF_DIR / "lc_shared.csv")}
FIT_NAMES = {"chisq": "chisq", "df": "df", "pvalue": "pvalue", "cfi": "cfi", "tli": "tli", "rmsea": "rmsea",
             "rmsea_ci_lower": "rmsea.ci.lower", "rmsea_ci_upper": "rmsea.ci.upper", "srmr": "srmr",
             "gfi": "gfi", "agfi": "agfi", "loglik": "logl", "aic": "aic", "bic": "bic",
             "baseline_chisq": "baseline.chisq", "baseline_df": "baseline.df", "n_params": "npar"}
COUNTS = {"chisq", "loglik", "aic", "bic", "baseline_chisq"}


def _as_list(value):
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def fit_reference(name):
    spec = REF["fits"][name]
    opts = spec["options"]
    if name == "lc_canonical_labels_shared":   # lavaan warns about single labels across groups too
        with pytest.warns(lcsem.SharedLabelWarning):
            return _fit(spec, opts)
    return _fit(spec, opts)


def _fit(spec, opts):
    return lcsem.fit(spec["model"], DATA[opts["data"]], group=opts.get("group"),
                     group_equal=_as_list(opts.get("group.equal")),
                     group_partial=_as_list(opts.get("group.partial")),
                     meanstructure=bool(opts.get("meanstructure", False)))


@pytest.fixture(scope="module")
def fits():
    return {}


def _get(fits, name):
    if name not in fits:
        fits[name] = fit_reference(name)
    return fits[name]


def _merged(ours, theirs, keys):
    theirs = pd.DataFrame(theirs)
    theirs["rhs"] = theirs["rhs"].fillna("")
    return ours.merge(theirs, on=keys, suffixes=("", "_lav"), how="inner", validate="one_to_one")


NAMES = sorted(REF["fits"])


@pytest.mark.parametrize("name", NAMES)
def test_estimates_ses_and_std_all_match_lavaan(fits, name):
    res = _get(fits, name)
    spec = REF["fits"][name]
    lav = pd.DataFrame(spec["params"])
    multi = spec["ngroups"] > 1
    keys = ["lhs", "op", "rhs"] + (["group"] if multi else [])
    ours = res.estimates.copy()
    if multi:
        ours.loc[ours["op"] == ":=", "group"] = 0
    lav = lav[lav["op"] != "=="]
    m = _merged(ours, lav.drop(columns=[c for c in ("block", "label") if c in lav]), keys)
    assert len(m) == len(lav), f"{len(lav) - len(m)} lavaan rows without a match"
    np.testing.assert_allclose(m["est"], m["est_lav"], atol=1e-4, rtol=1e-4)
    se_lav = m["se_lav"].astype(float).where(m["se_lav"].astype(float) > 0)
    np.testing.assert_allclose(m["se"].astype(float), se_lav, atol=1e-3, rtol=1e-3, equal_nan=True)
    np.testing.assert_allclose(m["std_all"], m["std.all"].astype(float), atol=1e-4)
    np.testing.assert_allclose(m["std_lv"], m["std.lv"].astype(float), atol=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_fit_indices_match_lavaan(fits, name):
    res = _get(fits, name)
    fm = REF["fits"][name]["fit_measures"]
    for ours, theirs in FIT_NAMES.items():
        if fm[theirs] is None:
            continue
        tol = 0.01 if ours in COUNTS else 1e-4
        assert res.fit_indices[ours] == pytest.approx(fm[theirs], abs=tol), ours


@pytest.mark.parametrize("name", NAMES)
def test_r2_per_group_matches_lavaan(fits, name):
    res = _get(fits, name)
    spec = REF["fits"][name]
    for label, values in spec["r2"].items():
        ours = res.r2.xs(label, level=0) if spec["ngroups"] > 1 else res.r2
        for var, value in values.items():
            assert ours[var] == pytest.approx(value, abs=1e-4), (label, var)


@pytest.mark.parametrize("name", ["hs_configural", "lc_scalar", "hs_labelled", "hs_meanstructure"])
def test_standardized_solution_ses_match_lavaan(fits, name):
    res = _get(fits, name)
    spec = REF["fits"][name]
    multi = spec["ngroups"] > 1
    keys = ["lhs", "op", "rhs"] + (["group"] if multi else [])
    ours = res.standardized_solution()
    if multi:
        ours.loc[ours["op"] == ":=", "group"] = 0
    lav = pd.DataFrame(spec["std_solution"])
    lav = lav[lav["op"] != "=="].drop(columns=[c for c in ("label",) if c in lav])
    m = _merged(ours, lav, keys)
    np.testing.assert_allclose(m["est_std"], m["est.std"].astype(float), atol=1e-4)
    se_lav = m["se"].astype(float)
    se_lav = se_lav.where(se_lav > 0)
    np.testing.assert_allclose(m["se_std"], se_lav, atol=1e-3, equal_nan=True)


def test_groups_are_numbered_in_order_of_first_appearance(fits):
    res = _get(fits, "hs_configural")
    assert res.group_labels == tuple(REF["fits"]["hs_configural"]["group_labels"])
    assert res.n_groups == 2
    assert set(res.estimates["group"]) == {1, 2}


def test_group_views_are_single_group_results_of_the_joint_fit(fits):
    res = _get(fits, "hs_metric")
    views = res.groups
    assert list(views) == list(res.group_labels)
    for number, (label, view) in enumerate(views.items(), start=1):
        assert view.n_groups == 1 and not view.grouped and view.view_of
        joint = res.estimates[(res.estimates["group"] == number) & (res.estimates["op"] != "~1")]
        np.testing.assert_allclose(view.estimates["est"], joint["est"])
        np.testing.assert_allclose(view.estimates["se"], joint["se"], equal_nan=True)
        assert view.n_obs == REF["fits"]["hs_metric"]["nobs"][number - 1]
        np.testing.assert_allclose(view.implied_cov.to_numpy(),
                                   REF["fits"]["hs_metric"]["implied"][label]["cov"]["values"], atol=1e-4)


def test_badly_fitting_mean_structure_reaches_lavaans_optimum():
    """x1's intercept fixed at 0 with a latent mean of 0: from lavaan's simple start Fisher
    scoring drifts into negative variances; the retry starts find lavaan's solution."""
    ref = json.loads((REF_DIR / "means_misfit_reference.json").read_text())
    res = lcsem.fit(ref["model"], DATA["hs.csv"])
    assert res.converged
    for ours, theirs in {"chisq": "chisq", "df": "df", "loglik": "logl", "cfi": "cfi", "rmsea": "rmsea",
                         "srmr": "srmr"}.items():
        assert res.fit_indices[ours] == pytest.approx(ref["fit_measures"][theirs], abs=1e-3), ours
    lav = pd.DataFrame(ref["params"])
    m = _merged(res.estimates, lav, ["lhs", "op", "rhs"])
    assert len(m) == len(lav)
    np.testing.assert_allclose(m["est"], m["est_lav"], atol=1e-4)
    np.testing.assert_allclose(m["se"], m["se_lav"].where(m["se_lav"] > 0), atol=1e-3, equal_nan=True)
