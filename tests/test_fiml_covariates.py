"""FIML (``missing="ml"``) with exogenous observed covariates, as lavaan 0.6.14 fits them under
``fixed.x = TRUE`` (tests/reference/make_fiml_covariates.R -> fiml_covariates_reference.json):
rows with a missing covariate deleted with a warning, the covariates' moments held at their
sample values, the log-likelihood conditional on them, the baseline keeping their
covariances. Estimates, SEs, std_all, R², every fit index, MLR, modification indices and
factor scores against lavaan, and robust FIML (MLR) with its scaled and FIML-corrected robust
indices; the bootstrap's replicates against direct fits."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lcsem
import test_fiml as fiml_reference
from lcsem.exceptions import BootstrapFailureWarning

REF_DIR = Path(__file__).parent / "reference"
REF = json.loads((REF_DIR / "fiml_covariates_reference.json").read_text())
FITS = sorted(k for k in REF["fits"] if not k.endswith("_mlr"))


def _data(name: str) -> pd.DataFrame:
    """The reference's data sets (the derived ones by the rules of make_fiml_covariates.R)."""
    if name == "hs_mar":
        return pd.read_csv(REF_DIR / "hs_mar.csv")
    if name == "hs_mar_x":
        data = pd.read_csv(REF_DIR / "hs_mar.csv")
        data.loc[data["id"] % 23 == 0, "ageyr"] = np.nan
        return data
    data = pd.read_csv(REF_DIR / "lc_missing.csv")
    data["private"] = (data["sector"] == "private").astype(float)
    return data


def _fit(name: str):
    spec = REF["fits"][name]
    opts = spec["options"]
    kwargs = {k: opts[k] for k in ("missing", "information", "group", "estimator") if k in opts}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = lcsem.fit(spec["model"], _data(opts["data"]), **kwargs)
    return res, [w for w in caught if issubclass(w.category, lcsem.MissingDataWarning)]


_CACHE: dict = {}


def fitted(name: str):
    if name not in _CACHE:
        _CACHE[name] = _fit(name)
    return _CACHE[name]


@pytest.mark.parametrize("name", FITS)
def test_rows_with_a_missing_covariate_are_deleted_with_a_warning_as_in_lavaan(name):
    res, caught = fitted(name)
    spec = REF["fits"][name]
    by_group = [res.groups[label].n_obs for label in res.group_labels] if spec["ngroups"] > 1 else [res.n_obs]
    assert by_group == spec["nobs"]
    assert res.n_total == sum(spec["norig"])
    deleted = sum(spec["norig"]) - sum(spec["nobs"])
    if deleted:
        assert spec["warnings"] and len(caught) == 1
        message = str(caught[0].message)
        assert f"deleted {deleted} of {res.n_total} rows" in message and "fixed.x" in message
        assert "ageyr" in message or "grade" in message
    else:
        assert not caught and not spec["warnings"]


def test_rows_observing_only_a_covariate_are_kept_as_in_lavaan():
    # lc_missing.csv has two rows missing every item (FIML without covariates drops them:
    # 348 of 350); with `private` in the model they observe a model variable (lavaan: 350)
    res, _ = fitted("lc_missing_x_private")
    assert res.n_obs == 350
    assert res.missing_patterns["count"].sum() == 350


@pytest.mark.parametrize("name", sorted(REF["fits"]))
def test_estimates_ses_and_std_all_match_lavaan(name):
    res, _ = fitted(name)
    assert res.converged and res.missing == "ml"
    fiml_reference._compare_estimates(res, REF["fits"][name])
    est = res.estimates
    # the covariates' moments are held at their sample values: no standard error (lavaan: 0)
    x = est["lhs"].isin(res.model.roles.exogenous_observed) & est["op"].isin(["~~", "~1"])
    x &= est["rhs"].isin(list(res.model.roles.exogenous_observed) + [""])
    assert x.any() and est.loc[x, "se"].isna().all()


@pytest.mark.parametrize("name", sorted(REF["fits"]))
def test_fit_indices_match_lavaan(name):
    res, _ = fitted(name)
    fm = REF["fits"][name]["fit_measures"]
    for ours, theirs in fiml_reference.FIT_NAMES.items():
        if fm.get(theirs) is None:
            continue
        tol = 0.01 if ours in fiml_reference.COUNTS else 1e-3
        assert res.fit_indices[ours] == pytest.approx(fm[theirs], abs=tol), (ours, res.fit_indices[ours], fm[theirs])


def test_log_likelihood_is_conditional_on_the_covariates():
    """lavaan's logl under fixed.x is the joint one minus the covariates' own saturated
    log-likelihood at their sample moments (here -612: the two differ by far more than the
    tolerance)."""
    res, _ = fitted("hs_mar_mimic")
    x = res.data[["ageyr", "grade"]].to_numpy(float)
    n = x.shape[0]
    Sxx = np.cov(x, rowvar=False, ddof=0)
    ll_x = -0.5 * n * (2 * np.log(2 * np.pi) + np.linalg.slogdet(Sxx)[1] + 2)
    joint = REF["fits"]["hs_mar_mimic"]["fit_measures"]["logl"] + ll_x
    assert ll_x < -600
    assert res.fit_indices["loglik"] == pytest.approx(joint - ll_x, abs=0.01)


MLR_FITS = sorted(k for k in REF["fits"] if k.endswith("_mlr"))
#: lavaan's scaled test and its scaled and FIML-corrected robust indices
SCALED = ("chisq_scaled", "df_scaled", "pvalue_scaled", "chisq_scaling_factor", "scaling_factor_h1",
          "scaling_factor_h0", "baseline_chisq_scaled", "baseline_chisq_scaling_factor", "cfi_scaled",
          "tli_scaled", "rmsea_scaled", "rmsea_ci_lower_scaled", "rmsea_ci_upper_scaled", "rmsea_pvalue_scaled",
          "cfi_robust", "tli_robust", "rmsea_robust", "rmsea_ci_lower_robust", "rmsea_ci_upper_robust",
          "rmsea_pvalue_robust")


@pytest.mark.parametrize("name", MLR_FITS)
def test_mlr_with_covariates_matches_lavaan(name):
    """Robust FIML (MLR) with fixed.x covariates: lavaan leaves the covariates' share out of
    scaling.factor.h1/.h0 and their moments out of every information matrix of the
    FIML-corrected robust indices; the baseline keeps their covariances (0.02-0.004 off in
    cfi_scaled/cfi_robust without each of these)."""
    res, _ = fitted(name)
    fm = REF["fits"][name]["fit_measures"]
    for key in SCALED:
        want = fm[key.replace("_", ".")]
        tol = 1e-3 * max(1.0, abs(want))
        assert abs(res.fit_indices[key] - want) <= tol, (key, res.fit_indices[key], want)


def test_covariates_given_variances_are_random_under_mlr_too():
    spec = REF["fits"]["hs_mar_mimic_mlr"]
    random = spec["model"] + "\n ageyr ~~ ageyr + grade\n grade ~~ grade"
    res = lcsem.fit(random, _data("hs_mar"), missing="ml", estimator="MLR")
    assert res.n_obs == 301 and np.isfinite(res.fit_indices["cfi_robust"])


@pytest.mark.parametrize("name", FITS)
def test_r2_and_standardized_solution_match_lavaan(name):
    fiml_reference._compare_r2_and_standardized(fitted(name)[0], REF["fits"][name])


def test_modification_indices_match_lavaan():
    res, _ = fitted("hs_mar_mimic")
    lav = pd.DataFrame(REF["modindices_hs_mar_mimic"])
    mi = lcsem.modification_indices(res, sort=False)
    m = mi.merge(lav, on=["lhs", "op", "rhs"], suffixes=("", "_lav"), validate="one_to_one")
    assert len(m) == len(lav) == len(mi)
    np.testing.assert_allclose(m["mi"], m["mi_lav"], atol=1e-3)
    np.testing.assert_allclose(m["epc"], m["epc_lav"], atol=1e-3)
    np.testing.assert_allclose(m["sepc_all"], m["sepc.all"], atol=1e-3)
    # a group's view would need the fixed.x handling of the whole fit: refused, not guessed
    with pytest.raises(lcsem.NotSupportedError, match=r"lcsem.modification_indices\(fit\)"):
        lcsem.modification_indices(res.groups["1"])


def test_regression_factor_scores_match_lavpredict():
    res, _ = fitted("hs_mar_mimic")
    ours = lcsem.factor_scores(res, method="regression")
    lav = pd.DataFrame(REF["factor_scores_hs_mar_mimic"]["regression"])
    assert ours.shape == lav.shape and not ours.isna().any().any()
    np.testing.assert_allclose(ours.to_numpy(), lav[list(ours.columns)].to_numpy(), atol=1e-4)
    # Bartlett scores with observed predictors are refused (as for complete data), not guessed
    with pytest.raises(lcsem.LcsemError, match="method='regression'"):
        lcsem.factor_scores(res, method="bartlett")


@pytest.mark.parametrize("kind", ["nonparametric", "bollen-stine"])
def test_a_bootstrap_replicate_is_the_fiml_fit_of_its_resampled_rows(kind):
    """Replicate 0 equals lcsem.fit(missing="ml") of its resampled rows: parameters,
    std_all and every bootstrapped index (the baseline with the covariates' covariances,
    the conditional log-likelihood, GFI without the covariates' moments)."""
    res, _ = fitted("hs_mar_mimic")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BootstrapFailureWarning)
        boot = lcsem.bootstrap(res, 4, seed=11, kind=kind, progress=False, keep_indices=True)
        again = lcsem.bootstrap(res, 4, seed=11, kind=kind, progress=False, batch_size=1, n_jobs=2)
    np.testing.assert_array_equal(boot.distribution.to_numpy(), again.distribution.to_numpy())
    if kind == "bollen-stine":
        assert (boot.status != "failed").all()
        return
    rows = res.data.iloc[boot.indices[0]].reset_index(drop=True)
    direct = lcsem.fit(REF["fits"]["hs_mar_mimic"]["model"], rows, missing="ml")
    row = boot.distribution.iloc[0]
    est = direct.estimates
    checked = 0
    for _, r in est[est["op"].isin(["=~", "~"]) & est["se"].notna()].iterrows():
        name = f"{r['lhs']}{r['op']}{r['rhs']}"
        assert row[name] == pytest.approx(r["est"], abs=1e-5), name
        assert row["std:" + name] == pytest.approx(r["std_all"], abs=1e-5), name
        checked += 1
    assert checked == 12
    for key in ("chisq", "cfi", "tli", "rmsea", "srmr", "gfi", "agfi", "loglik", "aic", "bic"):
        assert row[key] == pytest.approx(direct.fit_indices[key], rel=1e-6, abs=1e-6), key


def test_covariates_given_a_variance_are_random_and_keep_their_rows():
    """``x ~~ x`` makes a covariate random (lavaan's ov.x rule): its moments are estimated,
    so FIML keeps the rows where it is missing."""
    spec = REF["fits"]["hs_mar_mimic"]
    data = _data("hs_mar")
    model = spec["model"] + "\n ageyr ~~ ageyr + grade\n grade ~~ grade"
    with warnings.catch_warnings():
        warnings.simplefilter("error", lcsem.MissingDataWarning)
        res = lcsem.fit(model, data, missing="ml")
    assert res.n_obs == 301
    est = res.estimates
    assert est.loc[(est["lhs"] == "grade") & (est["op"] == "~~") & (est["rhs"] == "grade"), "se"].iloc[0] > 0


def test_callers_data_are_unchanged():
    data = _data("hs_mar_x")
    before = data.copy()
    with pytest.warns(lcsem.MissingDataWarning, match="deleted 12 of 301 rows"):
        lcsem.fit(REF["fits"]["hs_mar_x_mimic3"]["model"], data, missing="ml")
    pd.testing.assert_frame_equal(data, before)


def test_methods_paragraph_says_why_rows_were_removed():
    res, _ = fitted("hs_mar_x_mimic3")
    text = lcsem.report(res)
    assert "12 responses with a missing covariate" in text and "fixed.x" in text


@pytest.mark.parametrize("key", ["fiml", "mlr_sb2001", "mlr_sb2010"])
def test_difference_tests_match_lavtestlrt(key):
    """Nested FIML and MLR fits with covariates (hs_mar_x: `x9 ~ sex` dropped) against
    lavTestLRT: the plain difference, Satorra-Bentler 2001 and 2010."""
    names = {"fiml": ("hs_mar_x_mimic3", "hs_mar_x_mimic3_nested"),
             "mlr_sb2001": ("hs_mar_x_mimic3_mlr", "hs_mar_x_mimic3_nested_mlr"),
             "mlr_sb2010": ("hs_mar_x_mimic3_mlr", "hs_mar_x_mimic3_nested_mlr")}[key]
    table = REF["lrt"][key]["table"]
    method = "satorra.bentler.2010" if key.endswith("2010") else "default"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lcsem.ScaledTestWarning)
        out = lcsem.compare(*(fitted(name)[0] for name in names), method=method)
    row = out.table.iloc[1]
    assert row["chisq_diff"] == pytest.approx(table["Chisq diff"][1], abs=1e-3)
    assert row["df_diff"] == table["Df diff"][1]
    assert row["pvalue"] == pytest.approx(table["Pr(>Chisq)"][1], abs=1e-4)
    np.testing.assert_allclose(out.table["chisq"], table["Chisq"], atol=1e-2)


def test_a_group_whose_every_row_misses_a_covariate_is_named():
    data = _data("hs_mar")
    data.loc[data["school"] == "Pasteur", "ageyr"] = np.nan
    with pytest.raises(lcsem.DataError, match="group 'Pasteur' of 'school': every row misses one of the exogenous"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", lcsem.MissingDataWarning)
            lcsem.fit(REF["fits"]["hs_mar_mimic"]["model"], data, missing="ml", group="school")
