"""simulate() with several groups and mean structures: populations per group, group sizes,
batches of per-group moments, non-normal / Likert / missing data per group, refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import lcsem
from lcsem.exceptions import ArgumentError
from lcsem.simulation.generate import GroupSampleBatch, SampleBatch
from lcsem.simulation.groups import group_population

REF_DIR = Path(__file__).parent / "reference"
MODEL = """
culture =~ c1 + c2 + c3
kmsuse =~ k1 + k2 + k3
kmsuse ~ c(a1, a2)*culture
diff := a1 - a2
"""
GROUPS = {"public": {"kmsuse ~ culture": 0.6}, "private": {"kmsuse ~ culture": 0.1}}


@pytest.fixture(scope="module")
def hs_groups():
    hs = pd.read_csv(REF_DIR / "hs.csv")
    return lcsem.fit("visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nvisual ~ textual", hs, group="school")


def test_groups_from_a_model():
    data = lcsem.simulate(MODEL, [300, 200], groups=GROUPS, seed=1, group="sector")
    assert list(data.columns) == ["sector", "c1", "c2", "c3", "k1", "k2", "k3"]
    assert list(data["sector"]) == ["public"] * 300 + ["private"] * 200
    # each group's own population: the standardised path is the correlation of the factors
    big = lcsem.simulate(MODEL, 20000, groups=GROUPS, seed=2)
    for label, a in (("public", 0.6), ("private", 0.1)):
        part = big[big["group"] == label].drop(columns="group")
        assert np.allclose(part.var(), 1.0, atol=0.05)
        assert np.isclose(part["c1"].corr(part["k1"]), 0.7 * a * 0.7, atol=0.03)
    res = lcsem.fit(MODEL, big, group="group")
    diff = res.estimates.set_index("lhs").loc["diff"]
    # both factors' markers load 0.7, so in the markers' units the paths keep their
    # standardised values: a1 - a2 = 0.5 (also the population's true value)
    pop = group_population(MODEL, None, GROUPS)
    a1, a2 = (pop.theta[r.free - 1] for r in pop.rows if r.op == "~")
    assert np.isclose(a1 - a2, 0.5, atol=1e-10)
    assert abs(diff["est"] - 0.5) < 4 * diff["se"]


def test_group_sizes_forms_and_seeds():
    a = lcsem.simulate(MODEL, {"private": 50, "public": 80}, groups=GROUPS, seed=3)
    b = lcsem.simulate(MODEL, [80, 50], groups=GROUPS, seed=3)
    pd.testing.assert_frame_equal(a, b)
    three = lcsem.simulate("f =~ y1 + y2 + y3", 40, groups=3, seed=1)
    assert len(three) == 120 and list(three["group"].unique()) == ["1", "2", "3"]
    c = lcsem.simulate(MODEL, 40, groups=["x", "y"], seed=1)
    assert list(c["group"].unique()) == ["x", "y"]


def test_per_group_lists_are_lavaans_c():
    one = group_population(MODEL, {"kmsuse ~ culture": [0.6, 0.1]}, ["public", "private"])
    two = group_population(MODEL, None, GROUPS)
    assert np.array_equal(one.sigma, two.sigma)


def test_grouped_result_is_its_own_population(hs_groups):
    data = lcsem.simulate(hs_groups, seed=4)
    sizes = {label: view.n_obs for label, view in hs_groups.groups.items()}
    assert data["group"].value_counts().to_dict() == sizes
    batch = lcsem.simulate(hs_groups, n={"Pasteur": 400, "Grant-White": 300}, n_datasets=2000, seed=5)
    assert isinstance(batch, GroupSampleBatch) and batch.cov.shape == (2000, 2, 6, 6)
    assert batch.labels == hs_groups.group_labels and list(batch.n) == [400, 300]
    mu = hs_groups.implied_mean.to_numpy().reshape(2, 6)
    sigma = hs_groups.implied_cov.to_numpy().reshape(2, 6, 6)
    for g, n in enumerate((400, 300)):
        # E[S] = (n - 1)/n Sigma; E[mean] = mu; Var(mean) = Sigma / n
        assert np.allclose(batch.cov[:, g].mean(axis=0), sigma[g] * (n - 1) / n, atol=4 * np.sqrt(2 / n / 2000) * 1.5)
        assert np.allclose(batch.mean[:, g].mean(axis=0), mu[g], atol=4 * np.sqrt(np.diag(sigma[g]) / n / 2000))
        assert np.allclose(batch.mean[:, g].var(axis=0), np.diag(sigma[g]) / n, rtol=0.15)
    assert batch.covariance(0, "Grant-White").shape == (6, 6)
    gs = batch.stats()
    assert gs.cov.shape == (2000, 2, 6, 6) and list(gs.n) == [400.0, 300.0]
    with pytest.raises(ArgumentError, match="Pasteur"):
        batch.covariance(0, "Lincoln")
    # the same seed: the same batch whatever else happens in the process
    again = lcsem.simulate(hs_groups, n={"Pasteur": 400, "Grant-White": 300}, n_datasets=2000, seed=5)
    assert np.array_equal(again.cov, batch.cov) and np.array_equal(again.mean, batch.mean)


def test_mean_structure_result_simulates_its_means():
    hs = pd.read_csv(REF_DIR / "hs.csv")
    res = lcsem.fit("visual =~ x1 + x2 + x3", hs, meanstructure=True)
    data = lcsem.simulate(res, 20000, seed=6)
    assert list(data.columns) == ["x1", "x2", "x3"]
    assert np.allclose(data.mean(), res.implied_mean, atol=0.05)
    batch = lcsem.simulate(res, 100, n_datasets=500, seed=7)
    assert isinstance(batch, SampleBatch)
    assert np.allclose(batch.mean.mean(axis=0), res.implied_mean, atol=0.03)


def test_nonnormal_likert_missing_per_group():
    data = lcsem.simulate(MODEL, 20000, groups=GROUPS, seed=8, nonnormal=(1.0, 2.0))
    for label in GROUPS:
        part = data[data["group"] == label]
        assert np.allclose(stats.skew(part.drop(columns="group")), 1.0, atol=0.15)
    shifted = {"public": {}, "private": {"c1 ~1": 1.0}}
    lik = lcsem.simulate(MODEL, 2000, groups=shifted, seed=9, likert=5)
    assert set(np.unique(lik.drop(columns="group"))) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    by = lik.groupby("group")["c1"].mean()
    assert by["private"] > by["public"] + 0.5           # the mean shift moves the categories
    miss = lcsem.simulate(MODEL, 1000, groups=GROUPS, seed=10, missing=0.2)
    share = miss.drop(columns="group").isna().mean().mean()
    assert 0.18 < share < 0.22 and miss["group"].notna().all()
    batch = lcsem.simulate(MODEL, 300, groups=GROUPS, seed=11, n_datasets=20, nonnormal=(1.0, 2.0))
    assert batch.cov.shape == (20, 2, 6, 6)


@pytest.mark.parametrize("kwargs, match", [
    (dict(n={"public": 100, "state": 100}), "unknown group labels"),
    (dict(n={"public": 100}), "no size for"),
    (dict(n=[100, 100, 100]), "3 group sizes for 2 groups"),
    (dict(n=[100, 1]), "≥ 2"),
    (dict(n=[100, 6]), "not more than its 6 variables"),
    (dict(n=None), "rows per group"),
    (dict(n=100, group="c1"), "also a variable"),
    (dict(n=100, params={"kmsuse ~ culture": [0.1, 0.2, 0.3]}), "one per group"),
])
def test_bad_group_input(kwargs, match):
    with pytest.raises(ArgumentError, match=match):
        lcsem.simulate(MODEL, groups=GROUPS, seed=1, **kwargs)


def test_too_small_groups_for_moments():
    with pytest.raises(ArgumentError, match="variables"):
        lcsem.simulate(MODEL, [100, 5], groups=GROUPS, seed=1, n_datasets=3)


def test_groups_refused_with_a_result(hs_groups):
    with pytest.raises(ArgumentError, match="own groups"):
        lcsem.simulate(hs_groups, 100, groups=2)


def test_model_text_with_intercepts_has_a_mean_structure():
    text = "f =~ y1 + y2 + y3\ny1 ~ 1"
    data = lcsem.simulate(text, 500, seed=1)
    assert list(data.columns) == ["y1", "y2", "y3"]
    out = lcsem.power(text, [150], 30, seed=2, mc_draws=0)
    rows = out.table[out.table["op"] == "~1"]
    assert len(rows) == 3 and np.allclose(rows["pop"], 0.0)
    assert "group" not in out.table.columns and out.fit["n_converged"].iloc[0] == 30
