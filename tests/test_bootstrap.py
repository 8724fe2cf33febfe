"""lcsem.bootstrap: agreement with lavaan, determinism, failures, checkpoints, parallel runs."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import lcsem
from lcsem.resampling import BootstrapInterruptedWarning, BootstrapResult
from lcsem.resampling import runner as runner_module
from lcsem.resampling.replicates import FAILED, ReplicateSpec, evaluate
from lcsem.resampling.resample import bollen_stine_transform
from lcsem.exceptions import ArgumentError, BootstrapFailureWarning
from lcsem.inference.fit_indices import BOOTSTRAP_INDEX_NAMES

FIT_NAMES = ["cfi", "tli", "rmsea", "srmr", "gfi"]


def quiet_bootstrap(*args, **kwargs) -> BootstrapResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BootstrapFailureWarning)
        return lcsem.bootstrap(*args, **kwargs)


@pytest.fixture(scope="module")
def lc_boot(fitted):
    return quiet_bootstrap(fitted["learning_culture_survey"], 2000, seed=2024, progress=False)


# ---------------------------------------------------------------- agreement with lavaan
def test_percentile_fit_index_intervals_match_lavaan(lc_boot, reference):
    ref = reference["learning_culture_survey"]["boot_pct"]
    ci = lc_boot.ci(level=0.95, method="percentile")
    for name in FIT_NAMES:
        assert ci.loc[name, ["lower", "upper"]].to_numpy() == pytest.approx(ref[name], abs=0.01), name
    assert ci.loc["chisq", ["lower", "upper"]].to_numpy() == pytest.approx(ref["chisq"], rel=0.08)


@pytest.mark.parametrize("name", ["holzinger_swineford", "political_democracy"])
def test_percentile_fit_index_intervals_match_lavaan_on_public_data(fitted, reference, name):
    boot = quiet_bootstrap(fitted[name], 2000, seed=99, progress=False)
    ref = reference[name]["boot_pct"]
    ci = boot.ci(level=0.95, method="percentile")
    for index in FIT_NAMES:
        assert ci.loc[index, ["lower", "upper"]].to_numpy() == pytest.approx(ref[index], abs=0.01), index
    assert ci.loc["chisq", ["lower", "upper"]].to_numpy() == pytest.approx(ref["chisq"], rel=0.08)


def test_indirect_effect_intervals_match_lavaan(lc_boot, reference):
    ref = reference["learning_culture_survey"]["indirect"]
    assert lc_boot.estimate["ind"] == pytest.approx(ref["est"], abs=1e-6)
    perc = lc_boot.ci(method="percentile", stats=["ind"]).loc["ind"]
    bc = lc_boot.ci(method="bc", stats=["ind"]).loc["ind"]
    assert [perc["lower"], perc["upper"]] == pytest.approx(ref["perc"], abs=0.02)
    assert [bc["lower"], bc["upper"]] == pytest.approx(ref["bc"], abs=0.02)
    assert lc_boot.se["ind"] == pytest.approx(ref["boot_se"], rel=0.1)


def test_bollen_stine_p_matches_lavaan(fitted, reference):
    bs = quiet_bootstrap(fitted["learning_culture_survey"], 1000, kind="bollen-stine", seed=7, progress=False)
    assert bs.pvalue == pytest.approx(reference["learning_culture_survey"]["bollen_stine_p"], abs=0.06)
    hs = quiet_bootstrap(fitted["holzinger_swineford"], 1000, kind="bollen-stine", seed=7, progress=False)
    assert hs.pvalue == pytest.approx(reference["holzinger_swineford"]["bollen_stine_p"], abs=0.06)
    assert np.isnan(quiet_bootstrap(fitted["holzinger_swineford"], 5, seed=1, progress=False).pvalue)


def test_bollen_stine_transform_reproduces_sigma_hat(fitted):
    res = fitted["holzinger_swineford"]
    Z = bollen_stine_transform(res.data.to_numpy(), res.implied_cov.to_numpy())
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(Z.T @ Z / Z.shape[0], res.implied_cov.to_numpy(), atol=1e-10)


# ---------------------------------------------------------------- the result's content
def test_distribution_layout(lc_boot, fitted):
    res = fitted["learning_culture_survey"]
    d = lc_boot.distribution
    assert d.shape[0] == 2000 and list(d.index) == list(range(2000))
    assert list(d.columns[:len(BOOTSTRAP_INDEX_NAMES)]) == list(BOOTSTRAP_INDEX_NAMES)
    for name in ["kmsuse~culture", "perf~kmsuse", "culture=~culture2", "culture~~culture", "ind", "total",
                 "std:culture=~culture1", "std:kmsuse~culture", "std:ind"]:
        assert name in d.columns, name
    assert "culture=~culture1" not in d.columns        # fixed loading: only its std value varies
    assert d["std:culture=~culture1"].std() > 0
    # full-sample values are the fit's
    est = res.estimates.set_index(pd.Index(lcsem.results.parameter_names(res.estimates)))
    assert lc_boot.estimate["kmsuse~culture"] == pytest.approx(est.loc["kmsuse~culture", "est"])
    assert lc_boot.estimate["std:perf~kmsuse"] == pytest.approx(est.loc["perf~kmsuse", "std_all"])
    assert lc_boot.estimate["cfi"] == pytest.approx(res.fit_indices["cfi"])
    # defined parameters are evaluated per replicate
    np.testing.assert_allclose(d["ind"], d["kmsuse~culture"] * d["perf~kmsuse"], rtol=1e-12)
    assert lc_boot.indices.shape == (2000, res.n_obs)
    assert set(lc_boot.status) <= {"ok", "inadmissible", "failed"}


def test_replicate_equals_a_refit_of_its_resample(lc_boot, fitted):
    res = fitted["learning_culture_survey"]
    r = 17
    data = res.data.iloc[lc_boot.indices[r]].reset_index(drop=True)
    refit = lcsem.fit(res.model, data)
    row = lc_boot.distribution.loc[r]
    for name in ["chisq", "cfi", "rmsea", "srmr", "gfi", "aic"]:
        assert row[name] == pytest.approx(refit.fit_indices[name], rel=1e-6, abs=1e-9), name
    assert row["ind"] == pytest.approx(refit.estimates.set_index("label").loc["ind", "est"], rel=1e-6)


def test_se_and_pvalues(lc_boot):
    se = lc_boot.se
    assert se["kmsuse~culture"] > 0 and np.isfinite(se).all()
    p = lc_boot.pvalues
    assert np.isnan(p["cfi"]) and p["kmsuse~culture"] < 0.01
    ci = lc_boot.ci(stats=["kmsuse~culture", "ind"])
    assert (ci["lower"] > 0).all()


def test_bca_uses_the_jackknife(fitted):
    res = fitted["holzinger_swineford"]
    boot = quiet_bootstrap(res, 300, seed=3, progress=False)
    jk = boot.jackknife()
    assert jk.shape == (res.n_obs, boot.distribution.shape[1])
    # a leave-one-out row is the fit without that observation
    refit = lcsem.fit(res.model, res.data.drop(index=res.data.index[4]))
    assert jk.loc[4, "chisq"] == pytest.approx(refit.fit_indices["chisq"], rel=1e-6)
    assert jk.loc[4, "visual=~x2"] == pytest.approx(
        refit.estimates.query("lhs == 'visual' and rhs == 'x2'")["est"].iloc[0], rel=1e-6)
    bca = boot.ci(method="bca", stats=["chisq", "visual=~x2"])
    bc = boot.ci(method="bc", stats=["chisq", "visual=~x2"])
    assert np.isfinite(bca.to_numpy()).all() and not np.allclose(bca, bc)
    assert boot.jackknife() is jk      # cached


def test_parametric_bootstrap_chisq_is_near_df(fitted):
    res = fitted["learning_culture_survey"]
    boot = quiet_bootstrap(res, 400, kind="parametric", seed=9, progress=False)
    assert boot.indices is None
    df = res.fit_indices["df"]
    assert boot.distribution["chisq"].mean() == pytest.approx(df, rel=0.06)
    a = quiet_bootstrap(res, 150, kind="parametric", seed=9, batch_size=40, progress=False)
    pd.testing.assert_frame_equal(a.distribution, boot.distribution.iloc[:150])


# ---------------------------------------------------------------- failures
def test_inadmissible_replicates_are_counted_on_political_democracy(fitted):
    res = fitted["political_democracy"]
    with pytest.warns(BootstrapFailureWarning, match="inadmissible"):
        boot = lcsem.bootstrap(res, 400, seed=1, progress=False)
    assert boot.n_inadmissible > 20
    assert boot.n_inadmissible == len(boot.inadmissible_idx) == (boot.status == "inadmissible").sum()
    for r in boot.inadmissible_idx[:10]:
        assert any("variance" in why or "definite" in why or "loading" in why for why in boot.failure_reasons[r])
    bad = boot.distribution.loc[boot.inadmissible_idx]
    variances = [c for c in boot.distribution.columns if "~~" in c and c.split("~~")[0] == c.split("~~")[1]
                 and not c.startswith("std:")]
    assert (bad[variances].min(axis=1) <= 0).any()
    # excluding them changes the draws used
    a = boot.ci(stats=["dem60~ind60"])
    b = boot.ci(stats=["dem60~ind60"], include_inadmissible=False)
    assert not a.equals(b)


def test_failed_replicates_are_nan_and_reported(fitted):
    res = fitted["holzinger_swineford"]
    spec = ReplicateSpec(res)
    S = np.stack([res.sample_cov.to_numpy(), np.ones((9, 9)), res.sample_cov.to_numpy() * 1.1])
    out = evaluate(spec, S, res.n_obs, np.array([10, 11, 12]))
    assert out.status.tolist() == [0, FAILED, 0]
    assert np.isnan(out.values[1]).all() and np.isfinite(out.values[[0, 2], :12]).all()
    assert "singular" in out.reasons[11][0]


# ---------------------------------------------------------------- determinism and parallelism
def test_same_seed_same_distribution_whatever_batch_size(fitted):
    res = fitted["holzinger_swineford"]
    a = quiet_bootstrap(res, 230, seed=5, batch_size=250, progress=False)
    b = quiet_bootstrap(res, 230, seed=5, batch_size=37, progress=False)
    pd.testing.assert_frame_equal(a.distribution, b.distribution)
    np.testing.assert_array_equal(a.indices, b.indices)
    # the first replicates of a longer run are those of a shorter one
    c = quiet_bootstrap(res, 120, seed=5, progress=False)
    pd.testing.assert_frame_equal(c.distribution, a.distribution.iloc[:120])
    d = quiet_bootstrap(res, 120, seed=6, progress=False)
    assert not np.array_equal(d.indices, c.indices)
    # the stored seed repeats the run
    e = quiet_bootstrap(res, 120, seed=c.seed, progress=False)
    pd.testing.assert_frame_equal(c.distribution, e.distribution)
    # a Generator or fresh entropy is recorded too
    g = quiet_bootstrap(res, 30, seed=np.random.default_rng(1), progress=False)
    h = quiet_bootstrap(res, 30, seed=g.seed, progress=False)
    pd.testing.assert_frame_equal(g.distribution, h.distribution)
    f = quiet_bootstrap(res, 30, progress=False)
    pd.testing.assert_frame_equal(f.distribution, quiet_bootstrap(res, 30, seed=f.seed, progress=False).distribution)


def test_same_distribution_with_worker_processes(fitted):
    res = fitted["holzinger_swineford"]
    a = quiet_bootstrap(res, 200, seed=8, progress=False)
    b = quiet_bootstrap(res, 200, seed=8, n_jobs=2, batch_size=50, progress=False)
    pd.testing.assert_frame_equal(a.distribution, b.distribution)
    assert a.status.equals(b.status)


def test_runs_on_a_dask_cluster(fitted):
    distributed = pytest.importorskip("distributed")
    joblib = pytest.importorskip("joblib")
    res = fitted["holzinger_swineford"]
    a = quiet_bootstrap(res, 120, seed=4, progress=False)
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None):
        with joblib.parallel_backend("dask"):
            b = quiet_bootstrap(res, 120, seed=4, n_jobs=2, batch_size=30, progress=False)
    pd.testing.assert_frame_equal(a.distribution, b.distribution)


# ---------------------------------------------------------------- interruption and checkpoints
def test_interrupt_keeps_finished_chunks_and_checkpoint_resumes(fitted, tmp_path, monkeypatch):
    res = fitted["holzinger_swineford"]
    path = tmp_path / "boot.npz"
    real = runner_module.run_task
    calls = {"n": 0}

    def flaky(spec, source, task):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(spec, source, task)

    monkeypatch.setattr(runner_module, "run_task", flaky)
    with pytest.warns(BootstrapInterruptedWarning, match="80 of 200"):
        partial = quiet_bootstrap_keep_interrupt(res, 200, seed=3, batch_size=40, checkpoint=path)
    assert partial.interrupted and partial.n_resamples == 80 and len(partial.distribution) == 80
    assert path.exists()
    monkeypatch.setattr(runner_module, "run_task", real)
    calls["n"] = 0
    resumed = quiet_bootstrap(res, 200, seed=3, batch_size=40, checkpoint=path, progress=False)
    fresh = quiet_bootstrap(res, 200, seed=3, progress=False)
    pd.testing.assert_frame_equal(resumed.distribution, fresh.distribution)
    pd.testing.assert_frame_equal(partial.distribution, fresh.distribution.iloc[:80])
    # a checkpoint of another run is refused
    with pytest.raises(ArgumentError, match="checkpoint"):
        quiet_bootstrap(res, 200, seed=4, checkpoint=path, progress=False)


def quiet_bootstrap_keep_interrupt(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="bootstrap: ", category=BootstrapFailureWarning)
        return lcsem.bootstrap(*args, progress=False, **kwargs)


# ---------------------------------------------------------------- arguments
@pytest.mark.parametrize("kwargs, word", [
    ({"n_resamples": 0}, "n_resamples"), ({"kind": "wild"}, "kind"), ({"seed": -1}, "seed"),
    ({"seed": "x"}, "seed"), ({"n_jobs": 0}, "n_jobs"), ({"batch_size": 0}, "batch_size"),
    ({"progress": "yes"}, "progress"), ({"checkpoint": 3}, "checkpoint")])
def test_bad_arguments_name_themselves(fitted, kwargs, word):
    args = {"n_resamples": 10, **kwargs}
    with pytest.raises(ArgumentError, match=word):
        lcsem.bootstrap(fitted["holzinger_swineford"], **args)


def test_only_fit_results(fitted):
    # (GLS and ULS fits are bootstrapped too: tests/test_bootstrap_estimators.py)
    with pytest.raises(ArgumentError, match="res"):
        lcsem.bootstrap(fitted["holzinger_swineford"].estimates, 10)


def test_summary_and_repr(fitted):
    boot = quiet_bootstrap(fitted["holzinger_swineford"], 50, kind="bollen-stine", seed=1, progress=False)
    text = boot.summary()
    assert "Bollen-Stine p" in text and "visual=~x2" in text
    assert "<table" in boot._repr_html_()
    assert "bollen-stine" in repr(boot)
    with pytest.raises(ArgumentError, match="stats"):
        boot.ci(stats=["nope"])


def test_replicate_statistics_use_the_fit_formulas_with_observed_predictors():
    """A replicate evaluated at the full-sample solution reproduces lcsem.fit's indices,
    including lavaan's fixed.x conventions (baseline and log-likelihood)."""
    import json

    from conftest import REFERENCE
    from lcsem.resampling.replicates import ReplicateSpec
    from lcsem.inference.fit_indices import BOOTSTRAP_INDEX_NAMES

    ref = json.loads((REFERENCE / "estimators_reference.json").read_text())["two_outcomes"]
    res = lcsem.fit(ref["model"], pd.read_csv(REFERENCE / "two_outcomes.csv"))
    spec = ReplicateSpec(res)
    S = res.sample_cov.to_numpy()[None]
    Sigma = res.implied_cov.to_numpy()[None]
    fmin = np.array([res.fit_indices["chisq"] / res.n_obs])
    values, _ = spec.values(res.theta[None], S, Sigma, fmin, res.n_obs)
    got = pd.Series(values[0, :len(BOOTSTRAP_INDEX_NAMES)], index=list(BOOTSTRAP_INDEX_NAMES))
    pd.testing.assert_series_equal(got, res.fit_indices[list(BOOTSTRAP_INDEX_NAMES)], check_names=False,
                                   rtol=1e-9)


def test_results_pickle():
    import pickle

    res = lcsem.fit(lcsem.lc_model(), lcsem.datasets.load_lc_survey())
    again = pickle.loads(pickle.dumps(res))
    assert again.model == res.model and again.model.descriptions == res.model.descriptions
    pd.testing.assert_frame_equal(again.estimates, res.estimates)
