"""Results you can trust blind (issue 8): bit-identical replicates whatever the chunking,
workers or backend; Ctrl-C keeps what finished and says so; hopeless replicates are
cheap and counted with their reasons."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import lcsem
from lcsem.resampling import BootstrapInterruptedWarning
from lcsem.resampling import runner as runner_module
from lcsem.resampling.replicates import FAILED, NOT_CONVERGED_REASON, NOT_PD_REASON, ReplicateSpec, evaluate
from lcsem.exceptions import BootstrapFailureWarning, NonAdmissibleWarning
from example_models import POLITICAL_DEMOCRACY_EQUAL_LOADINGS

EQUAL_LOADINGS_PD = POLITICAL_DEMOCRACY_EQUAL_LOADINGS


def quiet(*args, **kwargs):
    """lcsem.bootstrap without the failure-count warning (interruptions still warn)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="bootstrap: ", category=BootstrapFailureWarning)
        return lcsem.bootstrap(*args, progress=False, **kwargs)


def assert_bit_identical(a, b):
    """Every estimate and statistic equal to the last bit (NaN where NaN)."""
    assert a.distribution.columns.equals(b.distribution.columns)
    assert np.array_equal(a.distribution.to_numpy(), b.distribution.to_numpy(), equal_nan=True)
    assert np.array_equal(a.status.to_numpy(), b.status.to_numpy())
    assert a.failure_reasons == b.failure_reasons


def fragile_data(n: int = 40, seed: int = 1) -> pd.DataFrame:
    """Two-factor CFA data with one standardised loading of .98 per factor: in small
    samples many resamples have Heywood solutions or none at all."""
    rng = np.random.default_rng(seed)
    lam = np.array([[0.98, 0.6, 0.5, 0, 0, 0], [0, 0, 0, 0.97, 0.55, 0.45]]).T
    phi = np.array([[1.0, 0.5], [0.5, 1.0]])
    Sigma = lam @ phi @ lam.T
    Sigma += np.diag(1.0 - np.diag(Sigma))
    X = rng.multivariate_normal(np.zeros(6), Sigma, size=n)
    return pd.DataFrame(X, columns=[f"y{i}" for i in range(1, 7)])


FRAGILE_MODEL = "f1 =~ y1 + y2 + y3\nf2 =~ y4 + y5 + y6"


def fragile_fit():
    """The fragile model's fit: itself a Heywood case (it says so)."""
    with pytest.warns(NonAdmissibleWarning, match="negative variance"):
        return lcsem.fit(FRAGILE_MODEL, fragile_data())


# ---------------------------------------------------------------- bit-identical replicates
@pytest.mark.parametrize("kind", ["nonparametric", "parametric", "bollen-stine"])
def test_same_seed_bit_identical_whatever_batch_size(fitted, kind):
    res = fitted["learning_culture_survey"]
    base = quiet(res, 150, kind=kind, seed=21, batch_size=1000)
    for batch_size in (1, 7, 64):
        assert_bit_identical(base, quiet(res, 150, kind=kind, seed=21, batch_size=batch_size))


def test_same_seed_bit_identical_with_equality_constraints_and_failures(reference):
    """Labels shared by several loadings (a non-trivial map from entries to parameters)
    and a fragile model whose replicates go through the retry ladder."""
    from conftest import load_reference_data

    pd_res = lcsem.fit(EQUAL_LOADINGS_PD, load_reference_data("political_democracy"))
    base = quiet(pd_res, 120, seed=3, batch_size=1000)
    for batch_size in (1, 7, 64):
        assert_bit_identical(base, quiet(pd_res, 120, seed=3, batch_size=batch_size))
    frag = fragile_fit()
    base = quiet(frag, 120, seed=5, batch_size=1000)
    assert base.n_failed > 0 and base.n_inadmissible > 0
    for batch_size in (1, 7, 64):
        assert_bit_identical(base, quiet(frag, 120, seed=5, batch_size=batch_size))


@pytest.mark.parametrize("backend", ["loky", "threading"])
def test_same_seed_bit_identical_with_two_workers(fitted, backend):
    joblib = pytest.importorskip("joblib")
    res = fitted["holzinger_swineford"]
    base = quiet(res, 160, seed=8, batch_size=1000)
    with joblib.parallel_backend(backend):
        for batch_size in (7, 64, None):
            assert_bit_identical(base, quiet(res, 160, seed=8, n_jobs=2, batch_size=batch_size))


def test_same_seed_bit_identical_on_a_dask_cluster(fitted):
    distributed = pytest.importorskip("distributed")
    joblib = pytest.importorskip("joblib")
    res = fitted["political_democracy"]
    base = quiet(res, 100, seed=4, batch_size=1000)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        with joblib.parallel_backend("dask"):
            got = quiet(res, 100, seed=4, n_jobs=2, batch_size=7)
    assert_bit_identical(base, got)


# ---------------------------------------------------------------- Ctrl-C with workers
@pytest.mark.filterwarnings("ignore:.*have been cancelled:UserWarning")     # joblib's notes on the
@pytest.mark.filterwarnings("ignore:.*executed  *but not used:UserWarning")  # tasks it dropped
def test_ctrl_c_with_two_workers_keeps_every_finished_chunk_and_says_so(fitted, tmp_path, monkeypatch):
    """Ctrl-C (a KeyboardInterrupt in the main process after three chunks arrived) with
    n_jobs=2 and chunks of 25 (joblib's threading backend would get two chunks by default):
    every chunk that arrived is in the checkpoint, the result is the finished prefix, and
    the warning says exactly that."""
    joblib = pytest.importorskip("joblib")
    res = fitted["holzinger_swineford"]
    path = tmp_path / "boot.npz"
    seen = {"updates": 0, "replicates": 0}
    real_update = runner_module.Progress.update

    def update(self, k):
        seen["updates"] += 1
        seen["replicates"] += k
        if seen["updates"] == 3:
            raise KeyboardInterrupt
        real_update(self, k)

    monkeypatch.setattr(runner_module.Progress, "update", update)
    with joblib.parallel_backend("threading"):
        with pytest.warns(BootstrapInterruptedWarning) as record:
            partial = quiet(res, 200, seed=3, n_jobs=2, batch_size=25, checkpoint=path)
    assert seen["updates"] >= 3 and partial.interrupted   # (+ the stragglers of arrived chunks)
    with np.load(path) as z:
        done = z["done"]
    assert done.sum() == seen["replicates"] > 0          # every chunk that arrived is kept
    assert partial.n_resamples == int(np.argmin(done))   # the result is the finished prefix
    message = " ".join(str(w.message) for w in record if w.category is BootstrapInterruptedWarning)
    assert f"first {partial.n_resamples} of 200" in message
    assert f"keeps all {seen['replicates']} finished replicates" in message
    monkeypatch.setattr(runner_module.Progress, "update", real_update)
    fresh = quiet(res, 200, seed=3)
    assert np.array_equal(partial.distribution.to_numpy(), fresh.distribution.to_numpy()[:partial.n_resamples],
                          equal_nan=True)
    resumed = quiet(res, 200, seed=3, n_jobs=2, checkpoint=path)
    assert_bit_identical(resumed, fresh)


def test_interrupt_message_without_checkpoint_says_what_is_dropped():
    from lcsem.resampling.api import _interrupted_message

    text = _interrupted_message(40, 200, 100, None)
    assert "first 40 of 200" in text and "60 more replicates finished out of order" in text
    assert "not returned" in text and "checkpoint=" in text
    assert "keeps" not in _interrupted_message(40, 200, 40, None)


# ---------------------------------------------------------------- hopeless replicates
def test_non_positive_definite_resample_is_failed_at_once_with_its_reason(fitted):
    """A covariance with two negative eigenvalues has a positive determinant: it must be
    refused by positive definiteness, not by the determinant's sign, and not fitted."""
    res = fitted["holzinger_swineford"]
    spec = ReplicateSpec(res)
    S = res.sample_cov.to_numpy()
    w, V = np.linalg.eigh(S)
    w[:2] = [-0.2, -0.1]
    indefinite = (V * w) @ V.T
    assert np.linalg.det(indefinite) > 0
    out = evaluate(spec, np.stack([S, indefinite]), res.n_obs, np.array([0, 1]))
    assert out.status.tolist() == [0, FAILED]
    assert out.reasons[1] == (NOT_PD_REASON,)


def test_fragile_model_failures_are_counted_with_reasons():
    res = fragile_fit()
    with pytest.warns(BootstrapFailureWarning, match=r"\d+ of 150 replicates failed"):
        boot = lcsem.bootstrap(res, 150, seed=1, progress=False)
    failed = boot.failed_idx
    assert 0 < failed.size < 30
    assert set(failed) <= set(boot.failure_reasons)
    assert all(boot.failure_reasons[i] == (NOT_CONVERGED_REASON,) for i in failed)
    assert all(boot.failure_reasons[i] for i in boot.inadmissible_idx)
    assert boot.distribution.iloc[failed].isna().all().all()
    assert boot.n_failed + boot.n_inadmissible + int((boot.status == "ok").sum()) == 150


def test_checkpoint_holds_every_stored_chunk_when_writes_are_throttled(fitted, tmp_path, monkeypatch):
    """The checkpoint is rewritten at most every SAVE_INTERVAL seconds (the whole store is
    written each time), and always once more when the run ends or is interrupted."""
    res = fitted["holzinger_swineford"]
    monkeypatch.setattr(runner_module, "SAVE_INTERVAL", 1e9)
    real = runner_module.run_task
    calls = {"n": 0}

    def flaky(spec, source, task):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real(spec, source, task)

    monkeypatch.setattr(runner_module, "run_task", flaky)
    path = tmp_path / "boot.npz"
    with pytest.warns(BootstrapInterruptedWarning, match="keeps all 60 finished"):
        quiet(res, 100, seed=2, batch_size=20, checkpoint=path)
    with np.load(path) as z:
        assert z["done"].sum() == 60 and z["done"][:60].all()
    monkeypatch.setattr(runner_module, "run_task", real)
    full = tmp_path / "full.npz"
    done = quiet(res, 100, seed=2, batch_size=20, checkpoint=full)
    with np.load(full) as z:
        assert z["done"].all()
    assert_bit_identical(done, quiet(res, 100, seed=2, batch_size=20, checkpoint=path))
