"""The bootstrap's statistic hook (``BootstrapResult.statistic``): analyses register a
function of every replicate (its estimates, its resampled moments per group, or the
jackknife's leave-one-out moments) instead of resampling on their own; measurement() and
effects() use it, per group for multi-group bootstraps."""

import warnings

import numpy as np
import pandas as pd
import pytest

import lcsem
from lcsem.analysis import validity
from lcsem.exceptions import ArgumentError, NotSupportedError

HS = pd.read_csv(__file__.rsplit("/", 1)[0] + "/reference/hs.csv")
CFA = "visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n speed =~ x7 + x8 + x9"
# over-identified structure: the CFA is NOT equivalent to it (cov(visual, speed) is constrained)
SEM = CFA + "\n speed ~ textual"


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


@pytest.fixture(scope="module")
def single():
    res = _quiet(lcsem.fit, CFA, HS)
    return res, _quiet(lcsem.bootstrap, res, 60, seed=5, progress=False)


@pytest.fixture(scope="module")
def grouped():
    res = _quiet(lcsem.fit, CFA, HS, group="school", group_equal="loadings")
    return res, _quiet(lcsem.bootstrap, res, 40, seed=9, progress=False)


def test_theta_of_every_replicate_is_read_from_the_distribution(single, grouped):
    for res, boot in (single, grouped):
        theta = boot.statistic(lambda rep: rep.theta)
        assert theta.shape == (boot.n_resamples, len(res.theta))
        ok = (boot.status != "failed").to_numpy()
        assert np.isfinite(theta[ok]).all() and np.isnan(theta[~ok]).all()
        # every free row's column equals its parameter's draws
        for r in (res.rows if res.grouped else res.model.rows):
            if r.op == ":=" or not r.free:
                continue
            group = r.group if res.group_labels else None
            col = boot.column(r.lhs, r.op, r.rhs, group=group)
            np.testing.assert_array_equal(theta[ok, r.free - 1], boot.distribution[col].to_numpy()[ok])


def test_replicate_moments_are_those_of_the_resampled_cases(single):
    res, boot = single
    cov = boot.statistic(lambda rep: rep.moments()[0][:, 0])
    X = res.data[list(res.model.observed)].to_numpy(float)
    for r in (0, 7, boot.n_resamples - 1):
        rows = X[boot.indices[r]]
        np.testing.assert_allclose(cov[r], np.cov(rows.T, bias=True), atol=1e-12)
    mean = boot.statistic(lambda rep: rep.moments()[1][:, 0])
    np.testing.assert_allclose(mean[3], X[boot.indices[3]].mean(axis=0), atol=1e-12)


def test_grouped_replicates_resample_within_groups(grouped):
    res, boot = grouped
    X = res.data[list(res.model.observed)].to_numpy(float)
    labels = res.data[res.group].astype(str).to_numpy()
    sizes = [int((labels == lab).sum()) for lab in res.group_labels]
    cov = boot.statistic(lambda rep: rep.moments()[0])
    np.testing.assert_array_equal(boot.statistic(lambda rep: np.broadcast_to(rep.moments()[2], (len(rep), 2)))[0],
                                  sizes)
    start = 0
    for g, size in enumerate(sizes):
        rows = boot.indices[2, start:start + size]
        assert (labels[rows] == res.group_labels[g]).all()
        np.testing.assert_allclose(cov[2, g], np.cov(X[rows].T, bias=True), atol=1e-12)
        start += size


def test_jackknife_moments_leave_each_case_out_of_its_own_group(grouped):
    res, boot = grouped
    X = res.data[list(res.model.observed)].to_numpy(float)
    labels = res.data[res.group].astype(str).to_numpy()
    cov = boot.statistic(lambda rep: rep.moments()[0], jackknife=True)
    assert cov.shape[0] == X.shape[0]
    for i in (0, X.shape[0] - 1):
        g = res.group_labels.index(labels[i])
        own = np.flatnonzero(labels == labels[i])
        other = np.flatnonzero(labels != labels[i])
        np.testing.assert_allclose(cov[i, g], np.cov(X[own[own != i]].T, bias=True), atol=1e-10)
        np.testing.assert_allclose(cov[i, 1 - g], np.cov(X[other].T, bias=True), atol=1e-10)


def test_bad_statistics_and_unavailable_moments_are_refused(single):
    res, boot = single
    with pytest.raises(ArgumentError, match="fn: expected a function"):
        boot.statistic(3)
    with pytest.raises(ArgumentError, match="one value .* per replicate"):
        boot.statistic(lambda rep: rep.theta[0])
    para = _quiet(lcsem.bootstrap, res, 5, kind="parametric", seed=1, progress=False)
    assert para.statistic(lambda rep: rep.theta[:, 0]).shape == (5,)
    with pytest.raises(NotSupportedError, match="kind='nonparametric'"):
        para.statistic(lambda rep: rep.moments()[0])


def test_measurement_of_an_equivalent_cfa_reads_the_replicates_and_matches_refitting(single, monkeypatch):
    res, boot = single
    same = _quiet(lcsem.measurement, res, boot=boot)
    assert any("nothing was refitted" in n for n in same.notes)
    monkeypatch.setattr(validity, "_equivalent", lambda a, b: False)
    refit = _quiet(lcsem.measurement, res, boot=boot)
    assert any("the CFA was refitted on" in n for n in refit.notes)
    pd.testing.assert_frame_equal(same.intervals, refit.intervals, atol=1e-6)


def test_measurement_of_a_multi_group_bootstrap_gives_each_groups_replicates(grouped):
    """Replicate 0's statistics of each group are those of the grouped CFA fitted to
    replicate 0's resampled data."""
    res, boot = grouped
    meas = _quiet(lcsem.measurement, res, boot=boot)
    assert meas.n_boot_used == boot.n_resamples - boot.n_failed
    assert set(meas.intervals.index.get_level_values("group")) == set(res.group_labels)
    for label, m in meas.groups.items():
        assert m.ci_method == "bootstrap percentile"
        assert (m.loadings["ci_lower"] < m.loadings["std"]).all() and (m.loadings["std"] < m.loadings["ci_upper"]).all()
    cf = meas.cfa
    draws, _, how = validity.boot_statistics(boot, res, cf, "percentile")
    assert how == "same model"
    data0 = res.data.iloc[boot.indices[0]]
    again = _quiet(lcsem.measurement, _quiet(lcsem.fit, CFA, data0, group="school", group_equal="loadings"))
    for g, label in enumerate(res.group_labels):
        rel = again.groups[label].reliability
        np.testing.assert_allclose(draws[g]["omega"][0], rel["omega"].to_numpy(), atol=1e-6)
        np.testing.assert_allclose(draws[g]["alpha"][0], rel["alpha"].to_numpy(), atol=1e-10)
        off = ~np.eye(3, dtype=bool)
        np.testing.assert_allclose(draws[g]["htmt"][0][off], again.groups[label].htmt.to_numpy()[off], atol=1e-10)


def test_measurement_refits_a_cfa_that_is_not_the_model_per_group():
    res = _quiet(lcsem.fit, SEM, HS, group="school")
    boot = _quiet(lcsem.bootstrap, res, 20, seed=2, progress=False)
    meas = _quiet(lcsem.measurement, res, boot=boot)
    draws, _, how = validity.boot_statistics(boot, res, meas.cfa, "percentile")
    assert how == "refitted"
    again = _quiet(lcsem.measurement, _quiet(lcsem.fit, SEM, res.data.iloc[boot.indices[0]], group="school"))
    for g, label in enumerate(res.group_labels):
        np.testing.assert_allclose(draws[g]["omega"][0], again.groups[label].reliability["omega"].to_numpy(),
                                   atol=1e-6)
