"""Multi-group power (sector differences in a path) and GLS/ULS power against a lavaan
simulateData + sem loop (tests/reference/make_power_groups.R); multi-group replicates
against lcsem.fit; reproducibility whatever the chunking; refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lcsem
from lcsem.engine import GroupStats
from lcsem.engine.ram import RamStructure
from lcsem.exceptions import ArgumentError, LcsemError
from lcsem.inference.fit_indices import grouped_fit_measures
from lcsem.simulation.group_replicates import fit_group_replicates
from lcsem.simulation.groups import group_population, split_total
from lcsem.simulation.power_analysis import power, sample_size
from lcsem.simulation.replicates import fit_replicates
from example_models import LC_MODEL_TOTAL

REF_DIR = Path(__file__).parent / "reference"
REF = json.loads((REF_DIR / "power_groups_reference.json").read_text())
MODEL = REF["groups"]["model"]
LOADINGS = REF["groups"]["population"]["loadings"]
PARAMS = {**{f"{'culture' if v[0] == 'c' else 'kmsuse' if v[0] == 'k' else 'perf'} =~ {v}": x
             for v, x in LOADINGS.items()},
          "kmsuse ~ culture": REF["groups"]["population"]["a"],          # one value per group: c(.5, .2)
          "perf ~ kmsuse": 0.4, "perf ~ culture": 0.2}
LABELS = tuple(REF["groups"]["labels"])
CANONICAL = LC_MODEL_TOTAL


def _key(row) -> str:
    group = 0 if row.op == ":=" else LABELS.index(row.group) + 1
    return f"{row.lhs}{row.op}{row.rhs.replace(' ', '')}@{group}"


def _key_one_group(row) -> str:
    return f"{row.lhs}{row.op}{row.rhs.replace(' ', '')}@1"


def _compare(ours: pd.DataFrame, ref: dict, key=_key) -> np.ndarray:
    """z of (ours - lavaan) for every parameter lavaan reports: the difference of two
    independent Monte Carlo estimates over its binomial SE (pooled)."""
    theirs = pd.DataFrame(ref["params"]).set_index("param")
    ours = ours.assign(param=[key(r) for r in ours.itertuples()]).set_index("param")
    assert set(theirs.index) == set(ours.index)
    both = ours.loc[theirs.index]
    n_r, n_o = ref["converged"], both["n_tested"].to_numpy()
    p = (theirs["power"].to_numpy() * n_r + both["power"].to_numpy() * n_o) / (n_r + n_o)
    se = np.sqrt(p * (1 - p) * (1 / n_r + 1 / n_o))
    diff = both["power"].to_numpy() - theirs["power"].to_numpy()
    return np.where(se > 0, diff / np.where(se > 0, se, 1.0), np.where(diff == 0, 0.0, np.inf))


@pytest.fixture(scope="module")
def group_power():
    return power(MODEL, [(120, 80), (240, 160)], 1000, params=PARAMS, groups=list(LABELS), seed=2026,
                 mc_draws=0)


def test_population_is_lavaans():
    pop = group_population(MODEL, PARAMS, list(LABELS))
    assert pop.labels == LABELS and pop.fmin < 1e-12
    for g, key in enumerate(["Group 1", "Group 2"]):
        ref = REF["groups"]["implied_cov"][key]
        idx = [pop.names.index(v) for v in ref["rownames"]]
        assert np.allclose(pop.sigma[g][np.ix_(idx, idx)], np.array(ref["values"]), atol=1e-12)
    assert np.all(pop.mu == 0)


@pytest.mark.parametrize("which", ["N1", "N2"])
def test_group_power_agrees_with_the_lavaan_loop(group_power, which):
    ref = REF["groups"][which]
    total = int(sum(ref["n"]))
    ours = group_power.table[group_power.table["n"] == total]
    z = _compare(ours, ref)
    assert np.all(np.abs(z) <= 2.6), ours.assign(z=z).loc[np.abs(z) > 2.6, ["name", "power"]]
    # calibrated as a whole: E|z| = 0.80 for independent estimates that agree
    assert np.mean(np.abs(z)) < 1.0
    # the sector difference is far from 0 and 1 at these sizes: the comparison has teeth
    theirs = pd.DataFrame(ref["params"]).set_index("param")
    assert 0.2 < theirs.loc["diff:=a1-a2@0", "power"] < 0.8
    fit = group_power.fit.set_index("n").loc[total]
    rate, n_r = ref["chisq_reject_rate"], ref["converged"]
    se = np.sqrt(rate * (1 - rate) * (1 / n_r + 1 / fit["n_converged"]))
    assert abs(fit["chisq_reject"] - rate) <= 2.6 * se
    assert abs(fit["mean_chisq"] - ref["mean_fit"]["chisq"]) < 2.0


def test_group_power_on_a_seed_nobody_tuned(group_power):
    """A second seed (never looked at before this test was written) and totals split by
    ratio= instead of explicit group sizes."""
    res = power(MODEL, [200, 400], 500, params=PARAMS, groups=list(LABELS), ratio=(3, 2), seed=90210, mc_draws=0)
    assert list(res.fit["n_public"]) == [120, 240] and list(res.fit["n_private"]) == [80, 160]
    for which, total in (("N1", 200), ("N2", 400)):
        z = _compare(res.table[res.table["n"] == total], REF["groups"][which])
        assert np.all(np.abs(z) <= 2.6) and np.mean(np.abs(z)) < 1.0


def test_gls_power_agrees_with_the_lavaan_loop():
    ref = REF["gls"]["N200"]
    res = lcsem.fit(CANONICAL, pd.read_csv(REF_DIR / "lc_shared.csv"))
    out = power(res, [200], 1000, estimator="GLS", seed=77, mc_draws=0)
    assert out.estimator == "GLS" and "GLS" in out.summary()
    z = _compare(out.table, ref, _key_one_group)
    assert np.all(np.abs(z) <= 2.6) and np.mean(np.abs(z)) < 1.0
    fit = out.fit.iloc[0]
    rate, n_r = ref["chisq_reject_rate"], ref["converged"]
    se = np.sqrt(rate * (1 - rate) * (1 / n_r + 1 / fit["n_converged"]))
    assert abs(fit["chisq_reject"] - rate) <= 2.6 * se


@pytest.mark.parametrize("estimator", ["GLS", "ULS"])
def test_least_squares_replicates_are_lcsem_fit(estimator):
    data = pd.read_csv(REF_DIR / "lc_shared.csv")
    res = lcsem.fit(CANONICAL, data, estimator=estimator)
    S = res.sample_cov.to_numpy()
    struct = RamStructure(res.model.rows, res.model.observed, res.model.latent)
    fits = fit_replicates(res.model, struct, S[None], res.theta * 1.01, res.n_obs, estimator=estimator)
    assert fits.converged[0]
    assert np.allclose(fits.theta[0], res.theta, atol=1e-8)
    assert np.allclose(fits.se[0], np.sqrt(np.diag(res.vcov)), rtol=1e-7)
    for key in ("chisq", "cfi", "tli", "rmsea", "srmr"):
        assert np.isclose(fits.fit[key][0], res.fit_indices[key], rtol=1e-8, atol=1e-10), key
    # ULS has no chi-square test (as lavaan): no rejection rate either
    out = power(res, [300], 20, seed=1, mc_draws=0)
    assert out.estimator == estimator
    assert np.isnan(out.fit["chisq_reject"].iloc[0]) == (estimator == "ULS")


def test_group_replicates_are_lcsem_fit():
    data = lcsem.simulate(MODEL, {"public": 150, "private": 120}, PARAMS, groups=list(LABELS), seed=3,
                          group="sector")
    res = lcsem.fit(MODEL, data, group="sector")
    pop = group_population(res)
    p = len(pop.names)
    S = res.sample_cov.to_numpy().reshape(2, p, p)
    m = res.sample_mean.to_numpy().reshape(2, p)
    stats = GroupStats(S[None], m[None], np.array([150.0, 120.0]))
    fits = fit_group_replicates(pop, stats)
    assert fits.converged[0]
    assert np.allclose(fits.theta[0], res.theta, atol=1e-7)
    assert np.allclose(fits.se[0], np.sqrt(np.diag(res.vcov)), rtol=1e-6)
    for key in ("chisq", "pvalue", "cfi", "tli", "rmsea", "srmr"):
        assert np.isclose(fits.fit[key][0], res.fit_indices[key], rtol=1e-7, atol=1e-10), key
    # the vectorised fit indices are grouped_fit_measures replicate by replicate
    Sigma, mu = pop.struct.implied(res.theta)
    ref = grouped_fit_measures(S, m, Sigma[0], mu[0], np.array([150, 120]), float(res.fit_indices["chisq"]),
                               df=pop.df, n_params=pop.struct.k)
    assert np.isclose(fits.fit["srmr"][0], ref["srmr"]) and np.isclose(fits.fit["rmsea"][0], ref["rmsea"])


def test_power_of_a_grouped_result_and_reproducibility():
    data = lcsem.simulate(MODEL, [150, 120], PARAMS, groups=list(LABELS), seed=4)
    res = lcsem.fit(MODEL, data, group="group")
    kw = dict(seed=123, mc_draws=200)
    a = power(res, [300, 500], 60, batch_size=60, **kw)
    b = power(res, [300, 500], 60, batch_size=7, **kw)
    c = power(res, [300, 500], 60, batch_size=13, n_jobs=2, **kw)
    pd.testing.assert_frame_equal(a.table, b.table)
    pd.testing.assert_frame_equal(a.table, c.table)
    pd.testing.assert_frame_equal(a.fit, c.fit)
    # totals split in the result's proportions (150:120)
    assert list(a.fit["n_public"]) == [167, 278] and list(a.fit["n_private"]) == [133, 222]
    assert list(split_total(500, np.array([150, 120]) / 270)) == [278, 222]
    # the population of a result is its own estimates; := differences get MC CI power too
    row = a.table[(a.table["name"] == "diff") & (a.table["n"] == 500)].iloc[0]
    assert np.isclose(row["pop"], res.estimates.set_index("lhs").loc["diff", "est"])
    assert np.isfinite(row["power_mc"]) and row["n_converged"] == 60
    assert a.power_of("diff").index.tolist() == [300, 500]
    assert len(a.power_of("kmsuse ~ culture [private]")) == 2
    with pytest.raises(ArgumentError, match="private"):
        a.power_of("kmsuse ~ culture")


def test_mean_structure_single_group_power():
    hs = pd.read_csv(REF_DIR / "hs.csv")
    res = lcsem.fit("visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nvisual ~ textual", hs, meanstructure=True)
    out = power(res, [200], 40, seed=2, mc_draws=0)
    intercepts = out.table[out.table["op"] == "~1"]
    assert len(intercepts) == 6 and (intercepts["power"] == 1.0).all()     # HS means are far from 0
    assert "group" not in out.table.columns


def test_sample_size_for_a_group_difference():
    ss = sample_size(MODEL, 0.8, "diff", n_rep=150, params=PARAMS, groups=list(LABELS), seed=8, tolerance=40)
    assert ss.power >= 0.8 and 300 < ss.n < 1500
    smaller = ss.tried[ss.tried["n"] < ss.n]
    assert len(smaller) and smaller["power"].iloc[-1] < 0.8


def test_latent_mean_difference_power():
    # a latent mean difference of 0.5 SD in the private sector, with loadings and intercepts
    # held equal (lavaan's scalar invariance, so the latent means are identified)
    groups = {"public": {}, "private": {"culture ~1": 0.5}}
    out = power("culture =~ c1 + c2 + c3", [100, 200], 200, groups=groups, seed=3, mc_draws=0,
                group_equal=["loadings", "intercepts"])
    row = out.table[(out.table["lhs"] == "culture") & (out.table["op"] == "~1")]
    # free in the private group only; in the marker's units: 0.5 SD x loading 0.7
    assert list(row["group"].unique()) == ["private"] and np.allclose(row["pop"], 0.35, rtol=1e-8)
    assert row["power"].iloc[1] > row["power"].iloc[0] > 0.3


@pytest.mark.parametrize("kwargs, match", [
    (dict(n=[(120, 80, 10)]), "3 group sizes for 2 groups"),
    (dict(n=[{"public": 100, "state": 100}]), "unknown group labels"),
    (dict(n=[(200, 8)]), "not more than its 9 variables"),
    (dict(n=[12]), "not more than its 9 variables"),
    (dict(n=[200], ratio=(1, 2, 3)), "ratio"),
    (dict(n=[200], estimator="GLS"), "ML"),
    (dict(n=[200, 200]), "same total"),
])
def test_bad_group_power_input(kwargs, match):
    with pytest.raises(LcsemError, match=match):
        power(MODEL, n_rep=5, params=PARAMS, groups=list(LABELS), seed=1, **kwargs)


def test_bad_group_population_input():
    with pytest.raises(ArgumentError, match="repeat"):
        group_population(MODEL, PARAMS, ["a", "a"])
    with pytest.raises(ArgumentError, match="one per group"):
        group_population(MODEL, {**PARAMS, "perf ~ kmsuse": [0.1, 0.2, 0.3]}, list(LABELS))
    with pytest.raises(ArgumentError, match="not parameters"):
        group_population(MODEL, PARAMS, {"public": {"perf ~ c1": 0.3}, "private": {}})
    res = lcsem.fit(MODEL, lcsem.simulate(MODEL, 100, PARAMS, groups=list(LABELS), seed=1), group="group")
    with pytest.raises(ArgumentError, match="own groups"):
        power(res, [300], 5, groups=2)
    with pytest.raises(ArgumentError, match="groups="):
        power(CANONICAL, [300], 5, ratio=(1, 1))


def test_group_power_checkpoint_resumes_and_plots(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    path = tmp_path / "groups.npz"
    kw = dict(params=PARAMS, groups=list(LABELS), seed=31, mc_draws=50, batch_size=10)
    full = power(MODEL, [200, 300], 30, **kw)
    first = power(MODEL, [200, 300], 30, checkpoint=path, **kw)
    again = power(MODEL, [200, 300], 30, checkpoint=path, **kw)
    pd.testing.assert_frame_equal(full.table, first.table)
    pd.testing.assert_frame_equal(full.table, again.table)
    ax = full.plot(["diff", "kmsuse ~ culture [public]"])
    assert len(ax.get_lines()) >= 2


def test_group_sizes_forms_in_power():
    kw = dict(params=PARAMS, groups=list(LABELS), seed=3, mc_draws=0)
    totals = power(MODEL, (200, 300), 5, **kw)          # a tuple of N: totals, as with one group
    assert list(totals.fit["n"]) == [200, 300] and list(totals.fit["n_public"]) == [100, 150]
    designs = power(MODEL, [(150, 50), {"private": 60, "public": 160}], 5, **kw)
    assert list(designs.fit["n_public"]) == [150, 160] and list(designs.fit["n_private"]) == [50, 60]
    assert list(designs.fit["n"]) == [200, 220]
    assert "Power (Wald z) by N" in designs.summary()
    with pytest.raises(ArgumentError, match="same total"):
        power(MODEL, [(150, 50), (100, 100)], 5, **kw)
