"""Monte Carlo power and sample size against a lavaan simulateData + sem loop; Monte Carlo CIs
against semTools' monteCarloCI; reproducibility and refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import lcsem
from lcsem.simulation import replicates
from lcsem.simulation.power_analysis import power, sample_size
from example_models import LC_MODEL_TOTAL

REF_DIR = Path(__file__).parent / "reference"
REF = json.loads((REF_DIR / "power_reference.json").read_text())
CANONICAL = LC_MODEL_TOTAL


@pytest.fixture(scope="module")
def canonical():
    return lcsem.fit(CANONICAL, pd.read_csv(REF_DIR / "lc_shared.csv"))


@pytest.fixture(scope="module")
def canonical_power(canonical):
    return power(canonical, [150, 300], 1000, seed=2024)


def _param(row) -> str:
    return f"{row.lhs}{row.op}{row.rhs.replace(' ', '')}"


@pytest.mark.parametrize("n", [150, 300])
def test_power_agrees_with_the_lavaan_loop(canonical_power, n):
    ref = REF["power"][f"N{n}"]
    theirs = pd.DataFrame(ref["params"]).set_index("param")
    ours = canonical_power.table[canonical_power.table["n"] == n].copy()
    ours["param"] = [_param(r) for r in ours.itertuples()]
    ours = ours.set_index("param")
    assert set(theirs.index) <= set(ours.index)
    both = ours.loc[theirs.index]
    n_r, n_o = ref["converged"], both["n_converged"].iloc[0]
    p = (theirs["power"] * n_r + both["power"] * n_o) / (n_r + n_o)
    se = np.sqrt(p * (1 - p) * (1 / n_r + 1 / n_o))
    # within 2.6 binomial SEs of the difference of two independent Monte Carlo estimates
    assert np.all(np.abs(both["power"] - theirs["power"]) <= 2.6 * se + 1e-12)
    # some parameters are far from power 1, so the comparison has teeth
    assert (theirs["power"] < 0.95).sum() >= 1
    # mean estimates and mean SEs: within 4 Monte Carlo SEs
    mc = theirs["sd_est"] / np.sqrt(n_r)
    assert np.all(np.abs(both["mean_est"] - theirs["mean_est"]) <= 4 * np.sqrt(2) * mc)
    np.testing.assert_allclose(both["mean_se"], theirs["mean_se"], rtol=0.03)
    fit = canonical_power.fit.set_index("n").loc[n]
    assert fit["n_converged"] == 1000
    rej, rr = fit["chisq_reject"], ref["chisq_reject_rate"]
    pr = (rej + rr) / 2
    assert abs(rej - rr) <= 2.6 * np.sqrt(2 * pr * (1 - pr) / 1000)
    for key in ("cfi", "rmsea", "srmr"):
        spread = ref["sd_fit"][key] / np.sqrt(1000)
        assert abs(fit[f"mean_{key}"] - ref["mean_fit"][key]) <= 4 * np.sqrt(2) * spread


def test_monte_carlo_test_of_the_indirect_effect_tracks_the_wald_test(canonical_power):
    ind = canonical_power.table[canonical_power.table["name"] == "ind"].set_index("n")
    assert np.all(np.abs(ind["power_mc"] - ind["power"]) < 0.05)
    assert ind.loc[150, "power_mc"] >= ind.loc[150, "power"] - 0.01   # MC CI is not less powerful than Wald
    assert canonical_power.power_of("ind").index.tolist() == [150, 300]
    assert canonical_power.power_of("a").iloc[0] == 1.0
    assert canonical_power.power_of("perf ~ culture").iloc[0] == pytest.approx(
        canonical_power.power_of("c").iloc[0])


def test_results_do_not_depend_on_batching_or_workers(canonical):
    a = power(canonical, [120], 60, seed=7, batch_size=60)
    b = power(canonical, [120], 60, seed=7, batch_size=7)
    pd.testing.assert_frame_equal(a.table, b.table)
    pd.testing.assert_frame_equal(a.fit, b.fit)
    c = power(canonical, [120], 60, seed=7, batch_size=13, n_jobs=2)
    pd.testing.assert_frame_equal(a.table, c.table)
    d = power(canonical, [120], 60, seed=8)
    assert not d.table["mean_est"].equals(a.table["mean_est"])


def test_power_from_model_population_values_and_the_summary():
    res = power(lcsem.lc_model(), [80, 160], 100, seed=1, mc_draws=200)
    text = res.summary()
    assert "Power (Wald z) by N" in text and "ind" in text
    assert "<table" in res._repr_html_() and "PowerResult" in repr(res)
    pw = res.power_of("ind")
    assert pw.loc[160] >= pw.loc[80]
    # population values of the analysis model: standardised paths into unit-variance factors
    row = res.table[(res.table["name"] == "kmsuse ~ culture")].iloc[0]
    assert row["pop"] == pytest.approx(0.5 * 0.82 / 0.78, rel=1e-6)


def test_failures_are_counted_and_warned(canonical, monkeypatch):
    real = replicates.fit_batch

    def flaky(struct, S, theta0, **kw):
        out = real(struct, S, theta0, **kw)
        out.converged[::2] = False       # half the replicates "fail"
        return out

    monkeypatch.setattr(replicates, "fit_batch", flaky)
    with pytest.warns(lcsem.ConvergenceWarning, match="converged replicates only"):
        res = power(canonical, [150], 40, seed=1, mc_draws=0)
    assert res.fit["n_converged"].iloc[0] == 20
    assert res.table["n_converged"].eq(20).all() and res.table["n_tested"].eq(20).all()
    assert any("did not converge" in n for n in res.notes)


def test_sample_size_reaches_the_target_and_brackets_it(canonical):
    out = sample_size(canonical, target=0.8, parameter="c", n_rep=400, seed=3)
    assert out.power >= 0.8
    below = out.tried[out.tried["n"] < out.n]
    assert (below["power"] < 0.8).all() and len(below)
    # the Wald test's asymptotic power: N ≈ ((z_.975 + z_.8) se1 / c)^2 with se1 = se * sqrt(N)
    row = canonical.estimates.query("label == 'c'").iloc[0]
    n_asym = ((stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * row["se"] * np.sqrt(canonical.n_obs) / row["est"]) ** 2
    assert 0.8 * n_asym <= out.n <= 1.25 * n_asym
    assert "SampleSizeResult" in repr(out)


@pytest.mark.parametrize("call, match", [
    (lambda r: power(r, [20], 10), "too few"),
    (lambda r: power(r, [200], 0), "n_rep"),
    (lambda r: power(r, [], 10), "empty"),
    (lambda r: power(r, [200, 200], 10), "repeats"),
    (lambda r: power(r, [200], 10, alpha=0), "alpha"),
    (lambda r: power(r, [200], 10, n_jobs=0), "n_jobs"),
    (lambda r: power(r, [200], 10, batch_size=0), "batch_size"),
    (lambda r: sample_size(r, target=1.0), "target"),
    (lambda r: sample_size(r, target=0), "target"),
    (lambda r: sample_size(r, parameter="nope"), "parameter"),
    (lambda r: sample_size(r, parameter="a", test="montecarlo"), "test"),
])
def test_bad_input_is_refused_with_the_fix(canonical, call, match):
    with pytest.raises(lcsem.LcsemError, match=match):
        call(canonical)


def test_zero_population_effect_has_no_sample_size():
    model = lcsem.lc_model()
    with pytest.raises(lcsem.LcsemError, match="0 in the population"):
        sample_size(model, parameter="c", params={"perf ~ culture": 0.0}, n_rep=10)


# ---------------------------------------------------------------------------- Monte Carlo CI
def _quantile_se(values_sd: float, q: float, n: int) -> float:
    """Monte Carlo SE of a sample quantile of a roughly normal distribution."""
    z = stats.norm.ppf(q)
    return np.sqrt(q * (1 - q) / n) / (stats.norm.pdf(z) / values_sd)


def test_monte_carlo_ci_agrees_with_semtools(canonical):
    ref = REF["monte_carlo_ci"]
    table = lcsem.monte_carlo_ci(canonical, 20000, seed=11)
    for key in ("seed1", "seed2"):
        theirs = pd.DataFrame(ref[key]["table"]).set_index("param")
        for name in ("ind", "total"):
            row = table.loc[name]
            assert row["est"] == pytest.approx(theirs.loc[name, "est"], abs=1e-4)
            for col, q in (("ci_lower", 0.025), ("ci_upper", 0.975)):
                se = _quantile_se(row["mc_se"], q, 20000)
                assert abs(row[col] - theirs.loc[name, col.replace("_", ".")]) <= 3 * np.sqrt(2) * se


def test_standardized_monte_carlo_ci_agrees_with_semtools(canonical):
    theirs = pd.DataFrame(REF["monte_carlo_ci"]["seed1_standardized"]["table"]).set_index("param")
    table = lcsem.monte_carlo_ci(canonical, 20000, seed=12, standardized=True)
    for name in ("ind", "total"):
        row = table.loc[name]
        assert row["std"] == pytest.approx(theirs.loc[name, "est.std"], abs=1e-4)
        for col, q in (("std_ci_lower", 0.025), ("std_ci_upper", 0.975)):
            se = _quantile_se(row["std_mc_se"], q, 20000)
            assert abs(row[col] - theirs.loc[name, col.replace("std_", "").replace("_", ".")]) <= 3 * np.sqrt(2) * se


def test_monte_carlo_ci_covers_every_effect_and_is_seeded(canonical):
    a = lcsem.monte_carlo_ci(canonical, 5000, seed=1)
    b = lcsem.monte_carlo_ci(canonical, 5000, seed=1)
    pd.testing.assert_frame_equal(a, b)
    assert {"culture->kmsuse->perf", "indirect(culture->perf)", "total(culture->perf)", "ind", "total"} <= set(a.index)
    assert (a["ci_lower"] < a["est"]).all() and (a["est"] < a["ci_upper"]).all()
    assert a.attrs["n_draws"] == 5000
    with pytest.raises(lcsem.LcsemError, match="n_draws"):
        lcsem.monte_carlo_ci(canonical, 1)
    with pytest.raises(lcsem.LcsemError, match="level"):
        lcsem.monte_carlo_ci(canonical, 100, level=95)
    with pytest.raises(lcsem.LcsemError, match="res"):
        lcsem.monte_carlo_ci("not a result")


def test_power_curve_plot(canonical_power, tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    ax = lcsem.plot_power(canonical_power, ["ind", "c"])
    assert len(ax.get_lines()) >= 3   # two curves and the target line
    ax.figure.savefig(tmp_path / "power.png")


def test_power_on_non_normal_and_likert_rows(canonical):
    normal = power(canonical, [150], 200, seed=4, mc_draws=0)
    skewed = power(canonical, [150], 200, seed=4, mc_draws=0, nonnormal=(2.0, 7.0))
    again = power(canonical, [150], 200, seed=4, mc_draws=0, nonnormal=(2.0, 7.0), batch_size=33)
    pd.testing.assert_frame_equal(skewed.table, again.table)
    # normal-theory chi-square over-rejects with heavy tails (kurtosis 7)
    assert skewed.fit["chisq_reject"].iloc[0] > normal.fit["chisq_reject"].iloc[0] + 0.1
    assert any("Vale–Maurelli" in n for n in skewed.notes)
    lik = power(canonical, [150], 50, seed=4, mc_draws=0, likert=5)
    assert lik.fit["n_converged"].iloc[0] >= 45
    with pytest.raises(lcsem.LcsemError, match="likert"):
        power(canonical, [150], 5, likert=1)
    with pytest.raises(lcsem.LcsemError, match="nonnormal"):
        power(canonical, [150], 5, nonnormal=(3.0, 1.0))


def test_checkpoint_resumes_a_run_and_refuses_other_settings(canonical, tmp_path, monkeypatch):
    from lcsem.simulation import power_analysis
    path = tmp_path / "power.npz"
    full = power(canonical, [120, 160], 40, seed=5, batch_size=10, mc_draws=50)
    real, calls = power_analysis._chunk, []

    def interrupted(setup, i, n, start, stop):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append((i, start))
        return real(setup, i, n, start, stop)

    monkeypatch.setattr(power_analysis, "_chunk", interrupted)
    with pytest.raises(KeyboardInterrupt):
        power(canonical, [120, 160], 40, seed=5, batch_size=10, mc_draws=50, checkpoint=path)
    assert path.exists() and len(calls) == 3
    calls.clear()
    monkeypatch.setattr(power_analysis, "_chunk", lambda *a: (calls.append(a[1:]), real(*a))[1])
    resumed = power(canonical, [120, 160], 40, seed=5, batch_size=10, mc_draws=50, checkpoint=path)
    assert len(calls) == 8 - 3                      # only the missing chunks were run
    pd.testing.assert_frame_equal(resumed.table, full.table)
    with pytest.raises(lcsem.LcsemError, match="other settings"):
        power(canonical, [120, 160], 40, seed=6, batch_size=10, mc_draws=50, checkpoint=path)
    bad = tmp_path / "bad.npz"
    bad.write_text("not a checkpoint")
    with pytest.raises(lcsem.LcsemError, match="not an lcsem simulation checkpoint"):
        power(canonical, [120], 10, seed=6, checkpoint=bad)
