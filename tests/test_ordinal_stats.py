"""Ordinal sample statistics (issue 12) against lavaan 0.6.14: thresholds, polychoric and
polyserial correlations, WLS.obs, Gamma (NACOV) and DWLS weights; case weights; bad input.

References: ordinal_reference.json (make_ordinal.R) and ordinal_gamma_reference.json
(make_ordinal_gamma.R: full Gamma of two fits, an edge data set with sparse tables, a gap
in the codes and a 2 x 2 table with an empty cell, and pbivnorm values).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lcsem.data.bivariate_normal import bivariate_normal_cdf
from lcsem.data.ordinal import EmptyCategoryError, ordinal_levels, ordinal_stats
from lcsem.exceptions import ArgumentError, DataError, LcsemError, PolychoricWarning

REF = Path(__file__).parent / "reference"
ORD = json.loads((REF / "ordinal_reference.json").read_text())
GAM = json.loads((REF / "ordinal_gamma_reference.json").read_text())
SIM = pd.read_csv(REF / "ordinal_sim.csv")
LC = pd.read_csv(REF / "lc_ordinal.csv")
EDGE = pd.read_csv(REF / "ordinal_edge.csv")
BINARY = pd.read_csv(REF / "ordinal_binary.csv")
DATA = {"ordinal_sim.csv": SIM, "lc_ordinal.csv": LC}
ORD8 = [f"y{i}" for i in range(1, 9)]

#: lavaan's optimiser (nlminb, rel.tol 1e-10; gradient only for polyserial) stops within
#: about 3e-8 of the optimum that Newton reaches here; thresholds are exact (qnorm).
TOL_COR = 1e-7
TOL_TH = 1e-12


def _values(obj) -> np.ndarray:
    return np.asarray(list(obj.values()), dtype=float)


def test_bivariate_normal_cdf_matches_pbivnorm():
    ref = GAM["pbivnorm"]
    p = bivariate_normal_cdf(np.array(ref["h"]), np.array(ref["k"]), np.array(ref["rho"]))
    assert np.max(np.abs(p - np.array(ref["p"]))) < 1e-14


def test_bivariate_normal_cdf_limits():
    h = np.array([np.inf, 0.3, -np.inf, np.inf, 0.2])
    k = np.array([0.5, np.inf, 1.0, np.inf, -np.inf])
    p = bivariate_normal_cdf(h, k, 0.6)
    from scipy.special import ndtr
    np.testing.assert_allclose(p, [ndtr(0.5), ndtr(0.3), 0.0, 1.0, 0.0], rtol=0, atol=1e-16)


@pytest.mark.parametrize("key,data", [("sim_ordinal", "ordinal_sim.csv"), ("sim_mixed", "ordinal_sim.csv"),
                                      ("lc_ordinal", "lc_ordinal.csv")])
def test_lavcor(key, data):
    ref = ORD["lavcor"][key]
    names = ref["cor"]["rownames"]
    st = ordinal_stats(DATA[data], names, ref["ordered"])
    assert st.names == tuple(names)
    np.testing.assert_allclose(st.cov, np.array(ref["cor"]["values"]), rtol=0, atol=TOL_COR)
    ordered_th = [i for i, v in enumerate(st.th_idx) if v > 0]
    assert [st.th_names[i] for i in ordered_th] == list(ref["th"])
    np.testing.assert_allclose(st.th[ordered_th], _values(ref["th"]), rtol=0, atol=TOL_TH)
    # lavCor's se = "standard" of the saturated DWLS model: sqrt(diag(Gamma) / (N - 1))
    params = pd.DataFrame(ref["params"])
    key_of = {(f"{r.lhs}|{r.rhs}" if r.op == "|" else f"{r.lhs}{r.op}{r.rhs}"): (r.est, r.se)
              for r in params.itertuples()}
    se = np.sqrt(np.diag(st.gamma) / (st.n - 1))
    checked = 0
    for i, name in enumerate(st.wls_obs_names):
        if name not in key_of or key_of[name][1] == 0:     # lavCor fixes continuous variances to 1
            continue
        est, se_ref = key_of[name]
        value = -st.wls_obs[i] if name.endswith("~1") else st.wls_obs[i]   # WLS.obs holds minus a mean
        assert value == pytest.approx(est, abs=TOL_COR), name
        assert se[i] == pytest.approx(se_ref, rel=1e-7), name
        checked += 1
    assert checked == len(st.wls_obs) - int((st.th_idx == 0).sum())


def _fit_stats(name: str) -> list[tuple[str, object, dict]]:
    """(group label, OrdinalStats, reference of that group) for every group of a fit."""
    fit = ORD["fits"][name]
    data = DATA[fit["options"]["data"]]
    ordered = list(fit["options"]["ordered"])
    out = []
    labels = fit["group_labels"] or ["1"]
    levels = ordinal_levels(data, ordered)
    for label in labels:
        rows = data if label == "1" else data[data[fit["options"]["group"]] == label]
        names = fit["sampstat"][label]["cov"]["rownames"]
        out.append((label, ordinal_stats(rows, names, {v: levels[v] for v in ordered if v in names},
                                         label=label), fit))
    return out


@pytest.mark.parametrize("name", list(ORD["fits"]))
def test_fit_sample_statistics(name):
    for label, st, fit in _fit_stats(name):
        assert st.n == fit["nobs"][(fit["group_labels"] or ["1"]).index(label)]
        ss = fit["sampstat"][label]
        np.testing.assert_allclose(st.cov, np.array(ss["cov"]["values"]), rtol=0, atol=TOL_COR)
        np.testing.assert_allclose(st.mean, _values(ss["mean"]), rtol=0, atol=1e-12)
        assert tuple(fit["wls_obs"][label]) == st.wls_obs_names
        np.testing.assert_allclose(st.wls_obs, _values(fit["wls_obs"][label]), rtol=0, atol=TOL_COR)
        th = ss["th"]   # (the fit's "th" entry is the model-implied one)
        ordered_th = [i for i, v in enumerate(st.th_idx) if v > 0]
        np.testing.assert_allclose(st.th[ordered_th], _values(th), rtol=0, atol=TOL_TH)
        assert list(st.gamma.shape) == fit["gamma_dim"][label]
        estimator = fit["options_lavaan"]["estimator"]
        ref_vd = np.array(fit["wls_v_diag"][label])
        if estimator == "DWLS":
            np.testing.assert_allclose(st.wls_v_diag, ref_vd, rtol=2e-7)
        elif estimator == "WLS":          # full weight matrix: the inverse of Gamma
            np.testing.assert_allclose(np.diag(np.linalg.inv(st.gamma)), ref_vd, rtol=2e-7)
        else:
            assert estimator == "ULS" and np.all(ref_vd == 1)


@pytest.mark.parametrize("name", ["sim_wlsmv", "sim_mixed_wlsmv", "edge", "binary"])
def test_full_gamma(name):
    ref = GAM[name]
    data = {"edge": EDGE, "binary": BINARY}.get(name, SIM)
    ordered = ORD8 if name.startswith("sim") else True
    st = ordinal_stats(data, ref["ov_names"], ordered)
    assert st.wls_obs_names == tuple(ref["wls_obs"])
    g_ref = np.array(ref["gamma"]["values"])
    scale = np.abs(g_ref).max()
    assert np.max(np.abs(st.gamma - g_ref)) / scale < 1e-6
    # off-diagonal signs included: the element order and lavaan's sign of continuous means
    big = np.abs(g_ref) > 1e-3 * scale
    assert np.all(np.sign(st.gamma[big]) == np.sign(g_ref[big]))
    np.testing.assert_allclose(st.wls_obs, _values(ref["wls_obs"]), rtol=0, atol=TOL_COR)


def test_edge_cases_match_lavaan():
    """Sparse tables with empty cells, a 2 x 2 table with one empty cell (lavaan adds 0.5
    keeping the margins) and a gap in the codes (1, 2, 4, 5, 6: lavaan uses the five
    observed categories)."""
    ref = GAM["edge"]
    st = ordinal_stats(EDGE, list(EDGE.columns), True)
    np.testing.assert_allclose(st.cor, np.array(ref["cor"]["values"]), rtol=0, atol=TOL_COR)
    np.testing.assert_allclose(st.th, _values(ref["th"]), rtol=0, atol=TOL_TH)
    assert tuple(ref["th"]) == st.th_names
    assert st.levels[2] == (1, 2, 4, 5, 6)
    assert len(st.empty_categories) == 1 and "e3" in st.empty_categories[0] and "[3]" in st.empty_categories[0]
    assert ("e1", "e2") in st.zero_cell_pairs and ("e3", "e4") in st.zero_cell_pairs
    # the gap changes nothing: recoded to 1..5, the statistics are the same
    recoded = EDGE.assign(e3=EDGE["e3"].map({1: 1, 2: 2, 4: 3, 5: 4, 6: 5}))
    st2 = ordinal_stats(recoded, list(EDGE.columns), True)
    np.testing.assert_array_equal(st2.wls_obs, st.wls_obs)
    np.testing.assert_array_equal(st2.gamma, st.gamma)


def test_two_by_two_with_two_empty_cells_is_one_with_a_warning():
    d = pd.read_csv(REF / "ordinal_two_empty.csv")
    with pytest.warns(PolychoricWarning, match="two empty cells"):
        st = ordinal_stats(d, ["a", "b", "c"], True)
    assert st.cor[0, 1] == 1.0
    ref = GAM["two_empty"]
    np.testing.assert_allclose(st.cor, np.array(ref["cor"]["values"]), rtol=0, atol=1e-12)
    g_ref = np.array(ref["gamma"]["values"])
    assert np.max(np.abs(st.gamma - g_ref)) / np.abs(g_ref).max() < 1e-6
    d2 = d.assign(b=3 - d["b"])
    with pytest.warns(PolychoricWarning):
        assert ordinal_stats(d2, ["a", "b", "c"], True).cor[0, 1] == -1.0


def test_binary_and_many_category_items_match_lavaan():
    """Binary items (2 x 2 tables; b1 and b2 split exactly in half, so lavaan's closed form
    rho = -cos(2 pi f11 / N) applies) next to 6- and 7-category items."""
    ref = GAM["binary"]
    st = ordinal_stats(BINARY, list(BINARY.columns), True)
    assert st.th[0] == 0.0 and st.th[1] == 0.0
    f11 = ((BINARY.b1 == 1) & (BINARY.b2 == 1)).sum()
    assert st.cor[0, 1] == pytest.approx(-np.cos(2 * np.pi * f11 / len(BINARY)), abs=1e-15)
    np.testing.assert_allclose(st.cor, np.array(ref["cor"]["values"]), rtol=0, atol=TOL_COR)
    np.testing.assert_allclose(st.th, _values(ref["th"]), rtol=0, atol=TOL_TH)


def test_two_by_two_independent_table_gives_zero():
    d = pd.DataFrame({"a": [1] * 20 + [2] * 20, "b": [1, 2] * 20, "c": np.tile([1, 2, 3, 2], 10)})
    st = ordinal_stats(d, ["a", "b", "c"], True)
    assert st.cor[0, 1] == 0.0


@pytest.mark.parametrize("names,ordered", [(ORD8, True),
                                           (["y1", "c1", "y2", "y5", "c2"], ["y1", "y2", "y5"])])
def test_weights_equal_replicated_rows(names, ordered):
    rng = np.random.default_rng(12)
    counts = rng.multinomial(len(SIM), np.full(len(SIM), 1 / len(SIM)))
    weighted = ordinal_stats(SIM, names, ordered, weights=counts)
    replicated = ordinal_stats(SIM.loc[SIM.index.repeat(counts)].reset_index(drop=True), names, ordered)
    assert weighted.n == replicated.n == len(SIM)
    np.testing.assert_allclose(weighted.th, replicated.th, rtol=0, atol=1e-13)
    np.testing.assert_allclose(weighted.wls_obs, replicated.wls_obs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(weighted.gamma, replicated.gamma, rtol=1e-10, atol=1e-12)
    # and the weights matter: unweighted statistics differ
    assert np.max(np.abs(ordinal_stats(SIM, names, ordered).wls_obs - weighted.wls_obs)) > 1e-3


def test_listwise_deletion_and_data_unchanged():
    d = SIM.copy()
    d.loc[[3, 10, 11], "y2"] = np.nan
    d.loc[20, "c1"] = np.nan
    before = d.copy()
    st = ordinal_stats(d, ["y1", "y2", "c1"], ["y1", "y2"])
    pd.testing.assert_frame_equal(d, before)
    assert st.n == len(SIM) - 4
    ref = ordinal_stats(d.dropna(subset=["y1", "y2", "c1"]), ["y1", "y2", "c1"], ["y1", "y2"])
    np.testing.assert_array_equal(st.wls_obs, ref.wls_obs)


def test_ordered_categorical_columns_equal_integer_codes():
    labels = np.array(["never", "rarely", "often", "always"])
    d = SIM[["y1", "y2", "y3"]].copy()
    d["y1"] = pd.Categorical(labels[d["y1"] - 1], categories=list(labels), ordered=True)
    st = ordinal_stats(d, ["y1", "y2", "y3"], True)
    ref = ordinal_stats(SIM, ["y1", "y2", "y3"], True)
    np.testing.assert_array_equal(st.wls_obs, ref.wls_obs)
    assert st.levels[0] == tuple(labels)


def test_group_levels_shared_and_empty_category_in_a_group():
    levels = ordinal_levels(LC, ["culture1", "culture2"])
    assert levels["culture1"] == (1, 2, 3, 4, 5)
    rows = LC[LC["sector"] == "public"]
    rows = rows[rows["culture1"] != 1]
    with pytest.raises(EmptyCategoryError, match=r"'culture1' in group 'public'.*\[1\]"):
        ordinal_stats(rows, ["culture1", "culture2"], levels, label="public")
    # without the shared levels, the group's own categories are used
    st = ordinal_stats(rows, ["culture1", "culture2"], True)
    assert st.levels[0] == (2, 3, 4, 5)


def test_weights_leaving_a_category_empty_raise():
    counts = np.ones(len(SIM), dtype=int)
    counts[SIM["y1"].to_numpy() == 1] = 0
    levels = ordinal_levels(SIM, ["y1", "y2"])
    with pytest.raises(EmptyCategoryError, match="y1"):
        ordinal_stats(SIM, ["y1", "y2"], levels, weights=counts)


@pytest.mark.parametrize("frame,names,ordered,kwargs,error,match", [
    (pd.DataFrame({"a": [1] * 10, "b": [1, 2] * 5}), ["a", "b"], True, {}, DataError, "'a'.*single observed category"),
    (pd.DataFrame({"a": np.arange(30) % 12 + 1, "b": [1, 2] * 15}), ["a", "b"], True, {}, DataError,
     "'a' has 12 categories.*continuous"),
    (pd.DataFrame({"a": [1.5, 2, 3] * 5, "b": [1, 2, 1] * 5}), ["a", "b"], True, {}, DataError,
     "'a'.*non-integer value 1.5.*recode"),
    (pd.DataFrame({"a": ["x", "y"] * 5, "b": [1, 2] * 5}), ["a", "b"], True, {}, DataError, "'a'.*non-numeric value 'x'"),
    (pd.DataFrame({"a": [np.nan, 1, 2], "b": [1, np.nan, np.nan]}), ["a", "b"], True, {}, DataError,
     "no row has all of"),
    (pd.DataFrame({"a": [1, 2] * 5, "b": [1, 2] * 5}), ["a", "b"], ["a", "z"], {}, ArgumentError, r"\['z'\]"),
    (pd.DataFrame({"a": [1, 2] * 5, "b": [1, 2] * 5}), ["a", "c"], True, {}, DataError, r"\['c'\]"),
    (pd.DataFrame({"a": [1, 2] * 5, "b": [1, 2] * 5}), ["a", "b"], True, {"weights": [1] * 9}, ArgumentError,
     "one count per row"),
    (pd.DataFrame({"a": [1, 2] * 5, "b": [1, 2] * 5}), ["a", "b"], True, {"weights": [1.5] + [1] * 9},
     ArgumentError, "non-negative integers, got 1.5"),
    (pd.DataFrame({"a": [1, 2] * 5, "b": [1, 2] * 5}), ["a", "b"], True, {"weights": [-1] + [1] * 9},
     ArgumentError, "non-negative integers"),
    (pd.DataFrame({"a": [1, 2] * 5, "c": [3.0] * 10}), ["a", "c"], ["a"], {}, DataError, "'c'.*constant"),
    (pd.DataFrame({"a": [1, 2] * 5, "b": [1, 2] * 5}), ["a", "b"], {"a": (1, 2), "b": (1, 2, 3)}, {},
     EmptyCategoryError, r"'b'.*\[3\]"),
    (pd.DataFrame({"a": [1, 2] * 5, "b": [1, 4] * 5}), ["a", "b"], {"a": (1, 2), "b": (1, 2, 3)}, {},
     DataError, "value 4"),
    ("not a frame", ["a"], True, {}, ArgumentError, "DataFrame"),
])
def test_bad_input(frame, names, ordered, kwargs, error, match):
    before = frame.copy() if isinstance(frame, pd.DataFrame) else None
    with pytest.raises(error, match=match) as info:
        ordinal_stats(frame, names, ordered, **kwargs)
    assert isinstance(info.value, LcsemError)
    if before is not None:
        pd.testing.assert_frame_equal(frame, before)


def test_near_one_correlation_warns():
    rng = np.random.default_rng(3)
    x = rng.normal(size=400)
    d = pd.DataFrame({"a": np.digitize(x, [-1, 0, 1]), "b": np.digitize(x + 0.01 * rng.normal(size=400), [-1, 0, 1]),
                      "c": np.digitize(rng.normal(size=400), [0])})
    with pytest.warns(PolychoricWarning, match="nearly"):
        st = ordinal_stats(d, ["a", "b", "c"], True)
    assert st.cor[0, 1] > 0.99 and np.isfinite(st.gamma).all()


# ---------------------------------------------------------------------------------------
# many replicates at once


def _replicate_counts(n: int, r: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).multinomial(n, np.full(n, 1.0 / n), size=r)


def test_batch_equals_one_call_per_replicate():
    from lcsem.data.ordinal import prepare_ordinal, stats_of
    from lcsem.data.ordinal_batch import ordinal_stats_batch
    items = [c for c in LC.columns if c != "sector"]
    design, _ = prepare_ordinal(LC, items, True)
    counts = _replicate_counts(design.n_rows, 12, 5)
    batch = ordinal_stats_batch(design, counts)
    assert batch.ok.all() and batch.wls_obs.shape == (12, 165)
    for r in range(0, 12, 4):
        one = stats_of(design, counts[r])
        assert one.wls_obs_names == batch.wls_obs_names
        np.testing.assert_allclose(batch.wls_obs[r], one.wls_obs, rtol=0, atol=1e-12)
        np.testing.assert_allclose(batch.wls_v_diag[r], one.wls_v_diag, rtol=1e-11)
    # the batch size and the starting values do not change the numbers beyond 1e-9
    again = ordinal_stats_batch(design, counts, chunk=5)
    np.testing.assert_array_equal(again.wls_obs, batch.wls_obs)
    np.testing.assert_array_equal(again.wls_v_diag, batch.wls_v_diag)
    full = stats_of(design, np.ones(design.n_rows), gamma=False)
    started = ordinal_stats_batch(design, counts, start=full.wls_obs[60:])
    np.testing.assert_allclose(started.wls_obs, batch.wls_obs, rtol=0, atol=1e-9)
    np.testing.assert_allclose(started.wls_v_diag, batch.wls_v_diag, rtol=1e-8)


def test_batch_flags_replicates_with_an_empty_category():
    from lcsem.data.ordinal import prepare_ordinal
    from lcsem.data.ordinal_batch import ordinal_stats_batch
    design, _ = prepare_ordinal(SIM, ORD8, True)
    counts = np.ones((3, design.n_rows), dtype=int)
    counts[1, SIM["y8"].to_numpy() == 1] = 0          # y8's lowest category vanishes
    batch = ordinal_stats_batch(design, counts)
    assert batch.ok.tolist() == [True, False, True]
    assert np.isnan(batch.wls_obs[1]).all() and np.isfinite(batch.wls_obs[[0, 2]]).all()
    np.testing.assert_allclose(batch.wls_obs[0], _values(ORD["fits"]["sim_wlsmv"]["wls_obs"]["1"]), atol=TOL_COR)


def test_batch_with_continuous_variables_goes_replicate_by_replicate():
    from lcsem.data.ordinal import prepare_ordinal, stats_of
    from lcsem.data.ordinal_batch import ordinal_stats_batch
    names = ["y1", "y2", "c1", "y5", "c2"]
    design, _ = prepare_ordinal(SIM, names, ["y1", "y2", "y5"])
    counts = _replicate_counts(design.n_rows, 3, 8)
    batch = ordinal_stats_batch(design, counts)
    assert batch.ok.all()
    np.testing.assert_array_equal(batch.wls_obs[2], stats_of(design, counts[2]).wls_obs)


# ---------------------------------------------------------------------------------------
# categorical omega (semTools compRelSEM, Green & Yang 2009) from a fit's parameter values


def _factor_inputs(fit_name: str, factor: str):
    fit = ORD["fits"][fit_name]
    params = pd.DataFrame(fit["params"])
    load = params[(params.op == "=~") & (params.lhs == factor)]
    items = list(load.rhs)
    psi = params[(params.op == "~~") & (params.lhs == factor) & (params.rhs == factor)].est.iloc[0]
    th = [params[(params.op == "|") & (params.lhs == v)].est.to_numpy() for v in items]
    cov = fit["sampstat"]["1"]["cov"]
    idx = [cov["rownames"].index(v) for v in items]
    return load.est.to_numpy(), psi, th, np.array(cov["values"])[np.ix_(idx, idx)]


@pytest.mark.parametrize("fit_name", ["sim_wlsmv", "lc_ord_cfa_wlsmv"])
def test_categorical_omega_matches_semtools(fit_name):
    from lcsem.analysis.ordinal_reliability import categorical_omega, latent_response_omega
    ref = ORD["reliability"][fit_name]
    for factor, value in ref["default"].items():
        lam, psi, th, rho = _factor_inputs(fit_name, factor)
        assert categorical_omega(lam, psi, th, rho) == pytest.approx(value, abs=1e-12)
        assert latent_response_omega(lam, psi, rho) == pytest.approx(ref["ord_scale_false"][factor], abs=1e-12)
        # the category-score reliability is below the latent-response one here
        assert categorical_omega(lam, psi, th, rho) < latent_response_omega(lam, psi, rho)


def test_categorical_omega_heywood_and_bad_input():
    from lcsem.analysis.ordinal_reliability import categorical_omega
    from lcsem.exceptions import NonAdmissibleWarning
    lam, psi, th, rho = _factor_inputs("sim_wlsmv", "f1")
    with pytest.warns(NonAdmissibleWarning, match="Heywood"):
        assert np.isnan(categorical_omega(lam * 1.5, psi, th, rho))
    with pytest.raises(ArgumentError, match="thresholds"):
        categorical_omega(lam, psi, th[:-1], rho)
    with pytest.raises(ArgumentError, match="4 x 4"):
        categorical_omega(lam, psi, th, rho[:3, :3])
    with pytest.raises(ArgumentError, match="factor_variance"):
        categorical_omega(lam, -1.0, th, rho)


def test_no_ordered_variable_is_refused():
    with pytest.raises(ArgumentError, match="no variable is declared ordered"):
        ordinal_stats(SIM, ["c1", "c2"], [])


def test_perfectly_associated_table_stops_at_the_bound_with_a_warning():
    """A 3 x 3 table with only diagonal cells: the ML estimate is at the bound. lavaan's
    nlminb stops at its bound 0.999 when it reports convergence (as here for a x b); when
    nlminb reports "singular convergence" (here for a x d) lavaan restarts with bounds
    +-0.995 and returns -0.995. Here the bound is always +-0.999, flagged by a warning."""
    a = np.repeat([1, 2, 3], [20, 15, 25])
    d = pd.DataFrame({"a": a, "b": a, "c": np.tile([1, 2, 3, 2, 1], 12), "d": 4 - a})
    with pytest.warns(PolychoricWarning, match="nearly"):
        st = ordinal_stats(d, list(d.columns), True)
    assert st.cor[0, 1] == 0.999 and st.cor[0, 3] == -0.999
    assert np.isfinite(st.gamma).all()


@pytest.mark.filterwarnings("ignore::lcsem.exceptions.PolychoricWarning")   # flat tables occur
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_sparse_designs_consistent(seed):
    """Random items with 2-7 categories, small N (sparse tables): the polychoric estimates
    are at the optimum (score 0 or a bound), the batch equals one call per replicate, and
    weights equal replicated rows."""
    from lcsem.data.ordinal import prepare_ordinal, stats_of
    from lcsem.data.ordinal_batch import ordinal_stats_batch
    from lcsem.data.polychoric import PairGrid, _derivatives, _evaluate
    rng = np.random.default_rng(seed)
    n, p = 80, 6
    z = rng.multivariate_normal(np.zeros(p), 0.5 * np.eye(p) + 0.5, size=n)
    cats = rng.integers(2, 8, size=p)
    data = pd.DataFrame({f"v{j}": 1 + np.digitize(z[:, j], np.sort(rng.normal(0, 0.8, cats[j] - 1)))
                         for j in range(p)})
    names = list(data.columns)
    design, w = prepare_ordinal(data, names, True)
    st = stats_of(design, w)
    assert np.isfinite(st.gamma).all() and np.all(np.diag(st.gamma) > 0)
    # the score of every free pair is zero at the estimate (up to rounding)
    k = tuple(len(lv) - 1 for lv in st.levels)
    pairs = [(i, j) for j in range(p - 1) for i in range(j + 1, p)]
    grid = PairGrid.build(k, tuple(pairs))
    freq = np.bincount(grid.table_index(design.codes).ravel(), minlength=grid.cell_size)[None, :].astype(float)
    th = st.th[None, :]
    rho = np.array([[st.cor[i, j] for i, j in pairs]])
    grad, hess = _derivatives(grid, freq, _evaluate(grid, th, rho))
    interior = (np.abs(rho) < 0.999) & (k[0] + 0 >= 0)
    two_by_two = np.array([[k[i] == 1 and k[j] == 1 for i, j in pairs]])
    check = interior & ~two_by_two
    assert np.all(np.abs(grad[check]) < 1e-8 * np.abs(hess[check]))
    counts = rng.multinomial(n, np.full(n, 1 / n), size=4)
    batch = ordinal_stats_batch(design, counts)
    for r in range(4):
        if not batch.ok[r]:
            with pytest.raises(EmptyCategoryError):
                stats_of(design, counts[r])
            continue
        one = stats_of(design, counts[r])
        np.testing.assert_allclose(batch.wls_obs[r], one.wls_obs, rtol=0, atol=1e-11)
        np.testing.assert_allclose(batch.wls_v_diag[r], one.wls_v_diag, rtol=1e-9)
        rep = data.loc[data.index.repeat(counts[r])].reset_index(drop=True)
        np.testing.assert_allclose(ordinal_stats(rep, names, dict(zip(names, st.levels))).wls_obs, one.wls_obs,
                                   rtol=0, atol=1e-11)


def test_flat_likelihood_is_reported_and_gets_almost_no_weight():
    """A table whose first column has a single non-empty cell: the likelihood rises towards
    rho = 1 along a plateau flat to machine precision (lavaan's nlminb stops at 0.999 on
    these counts; its Gamma entry is about 4e97). Here: stopped on the plateau, reported,
    a huge Gamma entry and a DWLS weight of about 0."""
    cells = {(1, 1): 14, (1, 2): 18, (2, 2): 29, (3, 2): 19}
    rows = [(a, b) for (a, b), n in cells.items() for _ in range(n)]
    d = pd.DataFrame(rows, columns=["v5", "v3"])
    d["w"] = np.tile([1, 2, 3, 2], len(d) // 4 + 1)[:len(d)]
    with pytest.warns(PolychoricWarning, match="almost no information"):
        st = ordinal_stats(d, ["v5", "v3", "w"], True)
    assert 0.98 < st.cor[0, 1] <= 0.999
    i = st.wls_obs_names.index("v5~~v3")
    assert np.isfinite(st.gamma).all() and st.gamma[i, i] > 1e6 and st.wls_v_diag[i] < 1e-6
