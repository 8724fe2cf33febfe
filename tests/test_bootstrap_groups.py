"""lcsem.bootstrap of multi-group and mean-structure fits: lavaan's bootstrapLavaan, seeds,
fixed group sizes, refits, Bollen–Stine per group, jackknife within groups."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import lcsem
from lcsem.exceptions import ArgumentError, BootstrapFailureWarning, NotSupportedError
from lcsem.inference.fit_indices import BOOTSTRAP_INDEX_NAMES, grouped_fit_measures
from lcsem.resampling.group_indices import bootstrap_group_indices
from lcsem.resampling.resample import group_resample_indices, resample_indices

REFERENCE = Path(__file__).parent / "reference"
HS_MODEL = """
visual  =~ x1 + x2 + x3
textual =~ x4 + x5 + x6
speed   =~ x7 + x8 + x9
"""


def quiet_bootstrap(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BootstrapFailureWarning)
        return lcsem.bootstrap(*args, progress=False, **kwargs)


@pytest.fixture(scope="module")
def groups_reference() -> dict:
    return json.loads((REFERENCE / "groups_reference.json").read_text())


@pytest.fixture(scope="module")
def lc_configural(groups_reference):
    model = groups_reference["fits"]["lc_configural"]["model"]
    return lcsem.fit(model, pd.read_csv(REFERENCE / "lc_shared.csv"), group="sector")


@pytest.fixture(scope="module")
def lc_boot(lc_configural):
    return quiet_bootstrap(lc_configural, 2000, seed=20261)


@pytest.fixture(scope="module")
def hs_school():
    data = pd.read_csv(REFERENCE / "hs.csv")
    return lcsem.fit(HS_MODEL, data, group="school", group_equal=["loadings"])


def lavaan_name(name: str, labels: tuple[str, ...]) -> str:
    """lavaan's coef() name (``.g2`` for group 2) -> lcsem's column (``@label``)."""
    if name in BOOTSTRAP_INDEX_NAMES:
        return name
    for g in range(len(labels), 1, -1):
        if name.endswith(f".g{g}"):
            return name[: -len(f".g{g}")] + "@" + labels[g - 1]
    return name + "@" + labels[0]


# ---------------------------------------------------------------- agreement with lavaan
def test_percentile_intervals_match_bootstrap_lavaan(lc_boot, lc_configural, groups_reference):
    """Both runs have 2,000 replicates; each 2.5% / 97.5% quantile carries Monte Carlo error
    sd sqrt(p(1-p)) / phi(z_p) / sqrt(R) (normal approximation of the sampling density), so
    the difference of lcsem's and lavaan's quantile has standard error
    2.67 sqrt(sd_lcsem^2 + sd_lavaan^2) / sqrt(2000) (about 0.008 for a loading with
    sd 0.1, which is why a flat 0.01 cannot hold for every one of 100 statistics). Every
    difference must be within 4 of those standard errors (a false alarm rate of 6e-5 per
    comparison); means and SDs within 4 of theirs."""
    ref = groups_reference["bootstrap_lc_configural"]
    R_ref, R = ref["R"], lc_boot.n_resamples - lc_boot.n_failed
    assert ref["n_ok"] == R_ref and lc_boot.n_failed == 0
    names = [lavaan_name(n, lc_configural.group_labels) for n in ref["names"]]
    assert len(names) == 100 and set(names) <= set(lc_boot.distribution.columns)
    np.testing.assert_allclose(lc_boot.estimate[names], ref["estimate"], atol=1e-4, rtol=1e-4)
    ci = lc_boot.ci(stats=names)                        # R's quantile type 7 = numpy's linear
    draws = lc_boot.distribution[names]
    sd_ref, sd = np.asarray(ref["sd"]), draws.std(ddof=1).to_numpy()
    factor = np.sqrt(0.025 * 0.975) / stats.norm.pdf(stats.norm.ppf(0.975))
    se_quantile = factor * np.sqrt(sd ** 2 / R + sd_ref ** 2 / R_ref)
    for ours, theirs in ((ci["lower"], ref["pct_2.5"]), (ci["upper"], ref["pct_97.5"])):
        z = (ours.to_numpy() - np.asarray(theirs)) / se_quantile
        assert np.abs(z).max() < 4, dict(zip(names, np.round(z, 2)))
    z_mean = (draws.mean().to_numpy() - np.asarray(ref["mean"])) / np.sqrt(sd ** 2 / R + sd_ref ** 2 / R_ref)
    assert np.abs(z_mean).max() < 4
    # the SD of a normal sample's SD is about sd / sqrt(2 R)
    z_sd = (sd - sd_ref) / np.sqrt(sd ** 2 / (2 * R) + sd_ref ** 2 / (2 * R_ref))
    assert np.abs(z_sd).max() < 4
    # the intervals are of the right size: a flat 0.03 holds everywhere but chi-square
    loadings = [n for n in names if "=~" in n]
    assert np.abs(ci.loc[loadings, "lower"].to_numpy()
                  - np.asarray(ref["pct_2.5"])[[names.index(n) for n in loadings]]).max() < 0.03


def test_replicate_equals_a_refit_of_its_resample(lc_boot, lc_configural):
    res = lc_configural
    r = 11
    data = res.data.iloc[lc_boot.indices[r]].reset_index(drop=True)
    refit = lcsem.fit(res.model, data, group="sector")
    row = lc_boot.distribution.loc[r]
    for name in BOOTSTRAP_INDEX_NAMES:
        assert row[name] == pytest.approx(refit.fit_indices[name], rel=1e-6, abs=1e-9), name
    est = refit.estimates
    for g, label in enumerate(res.group_labels, start=1):
        for lhs, op, rhs in [("culture", "=~", "culture2"), ("perf", "~", "kmsuse"), ("perf3", "~1", ""),
                             ("kmsuse", "~~", "kmsuse")]:
            hit = est[(est.lhs == lhs) & (est.op == op) & (est.rhs == rhs) & (est.group == g)].iloc[0]
            name = f"{lhs}{op}{rhs}@{label}"
            assert row[name] == pytest.approx(hit["est"], rel=1e-6, abs=1e-8), name
            assert row["std:" + name] == pytest.approx(hit["std_all"], rel=1e-6, abs=1e-8), name


def test_vectorised_indices_equal_the_fit_formulas():
    """Against lcsem.fit's scalar grouped_fit_measures, with a covariate (fixed.x), means,
    group sizes varying per replicate (the jackknife's) and three groups."""
    rng = np.random.default_rng(0)
    G, p, R = 3, 4, 5
    A = rng.normal(size=(R, G, p, p + 3))
    S = A @ np.swapaxes(A, -1, -2) / (p + 3)
    B = rng.normal(size=(R, G, p, p + 5))
    Sigma = B @ np.swapaxes(B, -1, -2) / (p + 5)
    mean, mu = rng.normal(size=(R, G, p)), rng.normal(size=(R, G, p))
    n = np.array([[50, 60, 70]] * R, float) - np.eye(R, G)
    chisq = rng.uniform(5, 40, size=R)
    for exo in [(), (3,), (2, 3)]:
        for means in (True, False):
            out = bootstrap_group_indices(S, mean if means else None, Sigma, mu if means else None, n, chisq,
                                          df=17, n_params=20, exogenous=exo)
            for r in range(R):
                one = grouped_fit_measures(S[r], mean[r] if means else None, Sigma[r], mu[r] if means else None,
                                           n[r], float(chisq[r]), df=17, n_params=20, exogenous=exo)
                for name in BOOTSTRAP_INDEX_NAMES:
                    assert out[name][r] == pytest.approx(one[name], rel=1e-12, abs=1e-12), (name, exo, means)


# ---------------------------------------------------------------- resampling within groups
def test_group_sizes_stay_fixed(lc_boot, lc_configural):
    res = lc_configural
    groups = res.data[res.group].astype(str).to_numpy()
    sizes = pd.Series(groups).value_counts()
    assert lc_boot.indices.shape == (2000, res.n_obs)
    offset = 0
    for label in res.group_labels:
        n_g = int(sizes[label])
        block = lc_boot.indices[:, offset:offset + n_g]
        assert (groups[block] == label).all()          # group g's draws come from group g only
        offset += n_g
    assert offset == res.n_obs
    # and are not a permutation: cases repeat
    assert all(len(np.unique(row)) < res.n_obs for row in lc_boot.indices[:5])


def test_one_group_draws_as_the_single_group_bootstrap():
    root = np.random.SeedSequence(7)
    positions = (np.arange(40) + 3,)
    np.testing.assert_array_equal(group_resample_indices(root, 230, positions),
                                  resample_indices(root, 230, 40) + 3)
    two = group_resample_indices(root, 30, (np.arange(10), np.arange(10, 30)))
    assert two.shape == (30, 30) and (two[:, :10] < 10).all() and (two[:, 10:] >= 10).all()


def test_mean_structure_bootstrap_matches_the_covariance_only_one():
    """A single-group model with saturated means has the covariance-only model's estimates:
    with the same seed both bootstraps resample the same cases and agree."""
    data = pd.read_csv(REFERENCE / "hs.csv")
    plain = lcsem.fit(HS_MODEL, data)
    means = lcsem.fit(HS_MODEL, data, meanstructure=True)
    a = quiet_bootstrap(plain, 60, seed=5)
    b = quiet_bootstrap(means, 60, seed=5)
    np.testing.assert_array_equal(a.indices, b.indices)
    shared = ["visual=~x2", "speed~~speed", "textual~~speed", "std:visual=~x3"]
    np.testing.assert_allclose(b.distribution[shared], a.distribution[shared], rtol=1e-5, atol=1e-7)
    assert "x1~1" in b.distribution.columns and "x1~1@1" not in b.distribution.columns


def test_same_seed_same_distribution_whatever_chunking(hs_school):
    a = quiet_bootstrap(hs_school, 230, seed=5, batch_size=250)
    b = quiet_bootstrap(hs_school, 230, seed=5, batch_size=37)
    pd.testing.assert_frame_equal(a.distribution, b.distribution)
    np.testing.assert_array_equal(a.indices, b.indices)
    c = quiet_bootstrap(hs_school, 120, seed=5)
    pd.testing.assert_frame_equal(c.distribution, a.distribution.iloc[:120])
    d = quiet_bootstrap(hs_school, 120, seed=6)
    assert not np.array_equal(d.indices, c.indices)
    e = quiet_bootstrap(hs_school, 120, seed=c.seed)
    pd.testing.assert_frame_equal(c.distribution, e.distribution)


def test_same_distribution_with_worker_processes(hs_school):
    a = quiet_bootstrap(hs_school, 200, seed=8)
    b = quiet_bootstrap(hs_school, 200, seed=8, n_jobs=2, batch_size=50)
    pd.testing.assert_frame_equal(a.distribution, b.distribution)
    assert a.status.equals(b.status)


# ---------------------------------------------------------------- names and lookups
def test_columns_are_named_by_group(hs_school):
    boot = quiet_bootstrap(hs_school, 20, seed=1)
    cols = list(boot.distribution.columns)
    assert cols[:len(BOOTSTRAP_INDEX_NAMES)] == list(BOOTSTRAP_INDEX_NAMES)
    for label in hs_school.group_labels:
        assert f"visual=~x2@{label}" in cols and f"x1~1@{label}" in cols and f"std:visual=~x1@{label}" in cols
    # equal loadings: one parameter, the same draws in both groups
    a, b = (boot.distribution[f"visual=~x2@{label}"] for label in hs_school.group_labels)
    np.testing.assert_array_equal(a, b)
    # an unqualified name says how to qualify it
    with pytest.raises(ArgumentError, match="visual=~x2@Pasteur"):
        boot.ci(stats="visual=~x2")
    assert boot.column("visual", "=~", "x2", group="Pasteur") == "visual=~x2@Pasteur"
    assert boot.column("visual", "=~", "x2", group=2) == "visual=~x2@Grant-White"


def test_defined_parameters_carry_no_group():
    data = pd.read_csv(REFERENCE / "lc_shared.csv")
    model = """
    culture =~ culture1 + culture2 + culture3
    kmsuse  =~ kmsuse1 + kmsuse2 + kmsuse3
    perf    =~ perf1 + perf2 + perf3
    kmsuse ~ c(a1, a2)*culture
    perf ~ c(b1, b2)*kmsuse + culture
    ind1 := a1*b1
    ind2 := a2*b2
    diff := ind1 - ind2
    """
    res = lcsem.fit(model, data, group="sector")
    boot = quiet_bootstrap(res, 50, seed=2)
    d = boot.distribution
    np.testing.assert_allclose(d["ind1"], d["kmsuse~culture@public"] * d["perf~kmsuse@public"])
    np.testing.assert_allclose(d["diff"], d["ind1"] - d["ind2"])
    assert "std:diff" in d.columns and boot.ci(stats="diff").shape == (1, 3)


# ---------------------------------------------------------------- kinds and intervals
def test_bollen_stine_transforms_each_group(hs_school):
    from lcsem.resampling.api import _grouped_sources
    from lcsem.resampling.groups import GroupedReplicateSpec

    spec = GroupedReplicateSpec(hs_school)
    source, _, _ = _grouped_sources(hs_school, spec, "bollen-stine", np.random.SeedSequence(1))
    Sigma, mu = spec.struct.implied(spec.theta0[None])
    for g, pos in enumerate(source.positions):
        Z = source.centre[g] + source.X[pos]
        np.testing.assert_allclose(Z.mean(axis=0), mu[0, g], atol=1e-10)
        np.testing.assert_allclose(np.cov(Z.T, bias=True), Sigma[0, g], atol=1e-10)
    boot = quiet_bootstrap(hs_school, 200, seed=4, kind="bollen-stine")
    # the model holds exactly in the transformed data: chi-square draws centre near df
    df = hs_school.fit_indices["df"]
    assert abs(boot.distribution["chisq"].mean() - df) < 0.2 * df
    assert 0 < boot.pvalue <= 1 and boot.pvalue < 0.05      # HS by school misfits (chisq 124, df 54)
    fp = boot.fit_pvalues()
    assert fp["chisq"] == boot.pvalue and np.isfinite(fp).all()


def test_parametric_bootstrap_of_groups(hs_school):
    a = quiet_bootstrap(hs_school, 150, seed=9, kind="parametric", batch_size=40)
    b = quiet_bootstrap(hs_school, 150, seed=9, kind="parametric", batch_size=150)
    pd.testing.assert_frame_equal(a.distribution, b.distribution)
    df = hs_school.fit_indices["df"]
    assert abs(a.distribution["chisq"].mean() - df) < 0.15 * df and a.indices is None


def test_bca_jackknife_leaves_one_case_out_of_its_group(hs_school):
    res = hs_school
    boot = quiet_bootstrap(res, 200, seed=3)
    jk = boot.jackknife()
    assert jk.shape == (res.n_obs, boot.distribution.shape[1])
    for i in (4, res.n_obs - 2):       # one case of each group
        refit = lcsem.fit(HS_MODEL, res.data.drop(index=res.data.index[i]), group="school",
                          group_equal=["loadings"])
        assert jk.loc[i, "chisq"] == pytest.approx(refit.fit_indices["chisq"], rel=1e-6)
        est = refit.estimates
        hit = est[(est.lhs == "speed") & (est.op == "~~") & (est.rhs == "speed") & (est.group == 2)]
        assert jk.loc[i, "speed~~speed@Grant-White"] == pytest.approx(hit["est"].iloc[0], rel=1e-6)
    names = ["chisq", "visual=~x2@Pasteur", "x1~1@Grant-White"]
    bca, bc = boot.ci(method="bca", stats=names), boot.ci(method="bc", stats=names)
    assert np.isfinite(bca.to_numpy()).all() and not np.allclose(bca, bc)


def test_a_per_group_view_is_refused(hs_school):
    view = hs_school.groups["Pasteur"]
    with pytest.raises(NotSupportedError, match="multi-group fit"):
        lcsem.bootstrap(view, 10, progress=False)


def test_summary_and_serialisation(hs_school):
    boot = quiet_bootstrap(hs_school, 40, seed=1)
    text = boot.summary()
    assert "visual=~x2@Pasteur" in text
    again = lcsem.BootstrapResult.from_dict(boot.to_dict(include_jackknife=False))
    pd.testing.assert_frame_equal(again.distribution, boot.distribution)


def test_checkpoint_resume_pickle_and_plot(hs_school, tmp_path):
    import pickle

    path = tmp_path / "boot.npz"
    first = quiet_bootstrap(hs_school, 90, seed=12, batch_size=30, checkpoint=path)
    again = quiet_bootstrap(hs_school, 90, seed=12, batch_size=45, checkpoint=path)     # all from the file
    pd.testing.assert_frame_equal(first.distribution, again.distribution)
    with pytest.raises(ArgumentError, match="checkpoint"):
        quiet_bootstrap(hs_school, 90, seed=13, checkpoint=path)
    copy = pickle.loads(pickle.dumps(first))
    pd.testing.assert_frame_equal(copy.distribution, first.distribution)
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    fig = lcsem.plot_bootstrap(first, stats=["cfi", "visual=~x2@Pasteur", "std:x1~1@Grant-White"])
    assert len(fig.axes) >= 3


def test_failed_replicates_are_nan_and_reported(hs_school):
    from lcsem.engine import GroupStats
    from lcsem.resampling.groups import FAILED, GroupedReplicateSpec, evaluate_groups

    spec = GroupedReplicateSpec(hs_school)
    Sigma, mu = spec.struct.implied(spec.theta0[None])
    cov = np.repeat(Sigma, 3, axis=0)
    mean = np.repeat(mu, 3, axis=0)
    cov[1, 1, 0, :] = cov[1, 1, :, 0] = 0.0          # a constant variable in group 2 of replicate 1
    n = np.array([156.0, 145.0])
    out = evaluate_groups(spec, GroupStats(cov, mean, n), np.array([10, 11, 12]))
    assert out.status[1] == FAILED and np.isnan(out.values[1]).all()
    assert "singular" in out.reasons[11][0] and 10 not in out.reasons
    # the model-implied moments are fitted exactly: chi-square 0, the estimate returned
    assert np.allclose(out.values[[0, 2], 0], 0.0, atol=1e-8)
    np.testing.assert_allclose(out.values[0, len(BOOTSTRAP_INDEX_NAMES):][:5],
                               quiet_bootstrap(hs_school, 1, seed=0).estimate.iloc[len(BOOTSTRAP_INDEX_NAMES):][:5],
                               rtol=1e-6)


def test_bollen_stine_reference_distribution_matches_lavaan():
    """lavaan's bootstrapLavaan(type = "bollen.stine") of the scalar two-group HS model
    (tests/reference/make_bootstrap_groups.R, 1,000 replicates) against lcsem's 2,000: the
    chi-square and SRMR reference distributions agree within Monte Carlo error (quantile SEs
    from the draws' own density, 4 SEs). With equal intercepts the implied means differ
    from the sample means, so a transform that left each group at its sample means (or
    pooled the groups) would shift the chi-square draws by far more."""
    ref = json.loads((REFERENCE / "bootstrap_groups_reference.json").read_text())
    res = lcsem.fit(HS_MODEL, pd.read_csv(REFERENCE / "hs.csv"), group="school",
                    group_equal=list(ref["group_equal"]))
    boot = quiet_bootstrap(res, 2000, seed=77, kind="bollen-stine")
    np.testing.assert_allclose(boot.estimate[ref["names"]], ref["estimate"], rtol=1e-5)
    draws = boot._draws()
    R, R_ref = len(draws), ref["n_ok"]
    probs = np.asarray(ref["quantiles"])
    for name, key in (("chisq", "chisq_quantiles"), ("srmr", "srmr_quantiles")):
        x = draws[name].to_numpy()
        ours = np.quantile(x, probs)
        density = (np.quantile(x, probs + 0.02) - np.quantile(x, probs - 0.02)) / 0.04
        se = np.sqrt(probs * (1 - probs)) * density * np.sqrt(1 / R + 1 / R_ref)
        z = (ours - np.asarray(ref[key])) / se
        assert np.abs(z).max() < 4, (name, np.round(z, 2))
    sd_ref = np.asarray(ref["sd"])
    z_mean = (draws[ref["names"]].mean().to_numpy() - np.asarray(ref["mean"])) / (sd_ref * np.sqrt(1 / R + 1 / R_ref))
    assert np.abs(z_mean).max() < 4
    p_ref = ref["chisq_pvalue_bollen_stine"]
    assert abs(boot.pvalue - p_ref) <= 4 * np.sqrt(max(p_ref, 1 / R_ref) * (1 / R + 1 / R_ref)) + 1 / R_ref
