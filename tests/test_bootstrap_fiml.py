"""The bootstrap of FIML fits (``missing="ml"``): case resampling with the missing values,
FIML refitted on every replicate, against lavaan's ``bootstrapLavaan`` of the same fit
(tests/reference/missing_robust_reference.json, block ``bootstrap_hs_mcar_fiml``, made by
tests/reference/make_missing_robust.R)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import lcsem
from lcsem.exceptions import BootstrapFailureWarning, NotSupportedError
from lcsem.resampling.fiml import bollen_stine_missing
from lcsem.resampling.resample import bollen_stine_transform

REF_DIR = Path(__file__).parent / "reference"
REF = json.loads((REF_DIR / "missing_robust_reference.json").read_text())
HS_MCAR = pd.read_csv(REF_DIR / "hs_mcar.csv")
MODEL = REF["fits"]["hs_mcar_fiml"]["model"]
#: lavaan's fitMeasures names in the reference -> the bootstrap's columns
INDEX_NAMES = {"chisq": "chisq", "cfi": "cfi", "tli": "tli", "rmsea": "rmsea", "srmr": "srmr"}


@pytest.fixture(scope="module")
def fit():
    return lcsem.fit(MODEL, HS_MCAR, missing="ml")


@pytest.fixture(scope="module")
def boot(fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BootstrapFailureWarning)
        return lcsem.bootstrap(fit, 250, seed=20262, progress=False)


def _quiet_bootstrap(res, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BootstrapFailureWarning)
        return lcsem.bootstrap(res, *args, progress=False, **kwargs)


def test_percentile_intervals_match_bootstrap_lavaan(boot):
    """lavaan ran 1,000 replicates, lcsem 250 here (to keep the test fast). Each 2.5% /
    97.5% quantile carries Monte Carlo error sd sqrt(p(1-p)) / phi(z_p) / sqrt(R), so the
    difference of the two quantiles has standard error
    2.67 sqrt(sd^2 / R + sd_ref^2 / R_ref) (the bound of tests/test_bootstrap_groups.py,
    for these R); every difference must be within 4 of them, means and SDs within 4 of
    theirs. Columns: every parameter and lavaan's chisq, cfi, tli, rmsea, srmr."""
    ref = REF["bootstrap_hs_mcar_fiml"]
    R_ref = ref["R"]
    assert ref["n_ok"] == R_ref
    names = [INDEX_NAMES.get(n, n) for n in ref["names"]]
    assert len(names) == 35 and set(names) <= set(boot.distribution.columns)
    ok = boot.status.to_numpy() != "failed"
    R = int(ok.sum())
    assert R >= 245
    np.testing.assert_allclose(boot.estimate[names], ref["estimate"], atol=2e-3, rtol=1e-3)
    draws = boot.distribution.loc[ok, names]
    lower, upper = draws.quantile(0.025).to_numpy(), draws.quantile(0.975).to_numpy()
    sd_ref, sd = np.asarray(ref["sd"]), draws.std(ddof=1).to_numpy()
    factor = np.sqrt(0.025 * 0.975) / stats.norm.pdf(stats.norm.ppf(0.975))
    se_quantile = factor * np.sqrt(sd ** 2 / R + sd_ref ** 2 / R_ref)
    for ours, theirs in ((lower, ref["pct_2.5"]), (upper, ref["pct_97.5"])):
        z = (ours - np.asarray(theirs)) / se_quantile
        assert np.abs(z).max() < 4, dict(zip(names, np.round(z, 2)))
    z_mean = (draws.mean().to_numpy() - np.asarray(ref["mean"])) / np.sqrt(sd ** 2 / R + sd_ref ** 2 / R_ref)
    assert np.abs(z_mean).max() < 4, dict(zip(names, np.round(z_mean, 2)))
    z_sd = (sd - sd_ref) / np.sqrt(sd ** 2 / (2 * R) + sd_ref ** 2 / (2 * R_ref))
    assert np.abs(z_sd).max() < 4, dict(zip(names, np.round(z_sd, 2)))


def test_a_replicate_is_the_fiml_fit_of_its_resampled_rows(fit, boot):
    """Replicate 0 equals lcsem.fit(missing="ml") of the resampled rows, with their missing
    values: parameters, std_all and the FIML fit indices (chi-square against the
    replicate's EM h1, CFI/TLI against the FIML baseline)."""
    rows = fit.data.iloc[boot.indices[0]].reset_index(drop=True)
    direct = lcsem.fit(MODEL, rows, missing="ml")
    row = boot.distribution.iloc[0]
    est = direct.estimates
    for _, r in est[est["op"].isin(["=~", "~~", "~1"])].iterrows():
        name = f"{r['lhs']}{r['op']}{r['rhs']}" if r["op"] != "~1" else f"{r['lhs']}~1"
        if name in row.index:
            assert row[name] == pytest.approx(r["est"], abs=1e-5), name
            assert row["std:" + name] == pytest.approx(r["std_all"], abs=1e-5), name
    for key in ("chisq", "cfi", "tli", "rmsea", "srmr", "loglik", "aic", "bic"):
        assert row[key] == pytest.approx(direct.fit_indices[key], rel=1e-6, abs=1e-6), key


def test_numbers_do_not_depend_on_batch_size_or_workers(fit, boot):
    a = _quiet_bootstrap(fit, 6, seed=20262, batch_size=4)
    b = _quiet_bootstrap(fit, 6, seed=20262, n_jobs=2, batch_size=1)
    np.testing.assert_array_equal(a.distribution.to_numpy(), b.distribution.to_numpy())
    np.testing.assert_array_equal(a.distribution.to_numpy(), boot.distribution.iloc[:6].to_numpy())


def test_multigroup_fiml_resamples_within_groups():
    res = lcsem.fit(MODEL, HS_MCAR, missing="ml", group="school")
    b = _quiet_bootstrap(res, 3, seed=5)
    labels = res.group_labels
    assert all(f"visual=~x2@{g}" in b.distribution.columns for g in labels)
    groups = res.data["school"].astype(str).to_numpy()
    for r in range(3):
        drawn = groups[b.indices[r]]
        for g in labels:
            assert np.sum(drawn == g) == np.sum(groups == g)
    direct = lcsem.fit(MODEL, res.data.iloc[b.indices[1]].reset_index(drop=True), missing="ml", group="school")
    est = direct.estimates
    for g_num, g in enumerate(labels, start=1):
        value = est[(est["lhs"] == "visual") & (est["rhs"] == "x2") & (est["group"] == g_num)]["est"].iloc[0]
        assert b.distribution[f"visual=~x2@{g}"].iloc[1] == pytest.approx(value, abs=1e-5)
    assert b.distribution["chisq"].iloc[1] == pytest.approx(direct.fit_indices["chisq"], rel=1e-6)


def test_parametric_bootstrap_is_refused_for_fiml(fit):
    with pytest.raises(NotSupportedError, match="parametric"):
        lcsem.bootstrap(fit, 10, kind="parametric", seed=1, progress=False)


def test_bollen_stine_transform_with_complete_data_is_the_listwise_one():
    data = pd.read_csv(REF_DIR / "hs.csv")
    res = lcsem.fit(MODEL, data, missing="ml")
    X = res.data[list(res.model.observed)].to_numpy(float)
    Sigma, mu = res.implied_cov.to_numpy(), res.implied_mean.to_numpy().ravel()
    Z = bollen_stine_missing(X, tuple(res.model.observed), Sigma, mu)
    np.testing.assert_allclose(Z, bollen_stine_transform(X, Sigma) + mu, atol=1e-10)


def test_bollen_stine_transformed_incomplete_data_fit_the_model(fit):
    """Per pattern the observed values are moved to the implied moments: the FIML fit of
    the transformed data (chi-square 70.6 before) nearly vanishes, its estimates are the
    full-sample ones."""
    X = fit.data[list(fit.model.observed)].to_numpy(float)
    Z = bollen_stine_missing(X, tuple(fit.model.observed), fit.implied_cov.to_numpy(),
                             fit.implied_mean.to_numpy().ravel())
    assert np.array_equal(np.isnan(Z), np.isnan(X))
    refit = lcsem.fit(MODEL, pd.DataFrame(Z, columns=list(fit.model.observed)), missing="ml")
    assert refit.fit_indices["chisq"] < 0.5 < fit.fit_indices["chisq"]
    np.testing.assert_allclose(refit.estimates["est"], fit.estimates["est"], atol=0.02)


def test_bollen_stine_bootstrap_of_a_fiml_fit(fit):
    """Replicates are FIML fits of resampled transformed rows; the chi-square's reference
    distribution is centred near the model's df (24), and the fit's 70.6 is far in its
    tail: the Bollen-Stine p is its floor 1 / (R + 1)."""
    b = _quiet_bootstrap(fit, 40, kind="bollen-stine", seed=11)
    X = fit.data[list(fit.model.observed)].to_numpy(float)
    Z = bollen_stine_missing(X, tuple(fit.model.observed), fit.implied_cov.to_numpy(),
                             fit.implied_mean.to_numpy().ravel())
    rows = pd.DataFrame(Z[b.indices[0]], columns=list(fit.model.observed))
    direct = lcsem.fit(MODEL, rows, missing="ml")
    assert b.distribution["chisq"].iloc[0] == pytest.approx(direct.fit_indices["chisq"], rel=1e-6)
    assert b.distribution["visual=~x2"].iloc[0] == pytest.approx(
        direct.estimates.query("lhs == 'visual' and rhs == 'x2'")["est"].iloc[0], abs=1e-5)
    df = fit.fit_indices["df"]
    assert 0.7 * df < b.distribution["chisq"].mean() < 1.3 * df
    assert b.pvalue == pytest.approx(1 / 41)


def test_resamples_that_cannot_be_fitted_are_counted_with_their_reason():
    """x1 and x2 observed together in one row: resamples that do not draw it cannot
    estimate that covariance, and are failed with the reason (never a crash)."""
    data = HS_MCAR[["x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9"]].copy()
    both = data[["x1", "x2"]].notna().all(axis=1).to_numpy()
    keep = np.flatnonzero(both)[:1]
    drop = np.setdiff1d(np.flatnonzero(both), keep)
    data.iloc[drop[: drop.size // 2], 0] = np.nan
    data.iloc[drop[drop.size // 2:], 1] = np.nan
    res = lcsem.fit(MODEL, data, missing="ml")
    before = data.copy()
    with pytest.warns(BootstrapFailureWarning, match="failed"):
        b = lcsem.bootstrap(res, 12, seed=3, progress=False)
    pd.testing.assert_frame_equal(data, before)
    failed = np.flatnonzero(b.status.to_numpy() == "failed")
    # P(the row is not drawn) = (1 - 1/301)^301, about 37%
    drawn_none = [r for r in range(12) if not np.isin(keep, b.indices[r]).any()]
    assert drawn_none and set(drawn_none) <= set(failed)
    for r in drawn_none:
        assert "never observed together" in b.failure_reasons[r][0]
    assert b.n_failed == failed.size
