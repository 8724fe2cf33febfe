"""Ordinal SEM (issue 12, model side): fit(ordered=...) against lavaan 0.6.14.

References: tests/reference/ordinal_reference.json (make_ordinal.R: every fit's estimates,
SEs, std.all, fit measures, WLS.obs/WLS.est) and ordinal_model_gamma.json
(make_ordinal_model_gamma.R: lavaan's Gamma per data set), so that the engine and the
inference are checked on lavaan's own sample statistics as well as end to end.
"""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import lcsem
from lcsem.engine.ordinal import OrdinalStructure
from lcsem.estimation.ordinal_fit import solve_ordinal
from lcsem.exceptions import LcsemError, NotSupportedError
from lcsem.spec.partable import ParRow

REF = Path(__file__).parent / "reference"
ORD = json.loads((REF / "ordinal_reference.json").read_text())
FITS = ORD["fits"]
GAMMA = json.loads((REF / "ordinal_model_gamma.json").read_text())
DATA = {"ordinal_sim.csv": pd.read_csv(REF / "ordinal_sim.csv"), "lc_ordinal.csv": pd.read_csv(REF / "lc_ordinal.csv")}

#: lavaan fit measures lcsem does not report (NA in lavaan for ordinal data anyway)
NOT_REPORTED = {"srmr_mplus", "srmr_mplus_nomean"}


# ---------------------------------------------------------------------- helpers
def lavaan_rows(fit: dict) -> tuple[ParRow, ...]:
    """lavaan's parTable as lcsem rows, its ``==`` constraints as shared free numbers (so
    that the engine is tested independently of the spec layer)."""
    pt = pd.DataFrame(fit["partable"])
    plabel_free = dict(zip(pt.plabel, pt.free))
    parent: dict[int, int] = {}

    def root(x: int) -> int:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for _, r in pt[pt.op == "=="].iterrows():
        a, b = root(plabel_free[r.lhs]), root(plabel_free[r.rhs])
        if a != b:
            parent[max(a, b)] = min(a, b)
    number = {f: i + 1 for i, f in enumerate(sorted({root(f) for f in pt.free if f > 0}))}
    rows = []
    for _, r in pt[~pt.op.isin(["==", ":="])].iterrows():
        value = float(r.ustart) if r.ustart is not None and np.isfinite(r.ustart) else float("nan")
        rows.append(ParRow(r.lhs, r.op, r.rhs, r.label or "", number[root(r.free)] if r.free > 0 else 0,
                           value, bool(r.user), int(r.group)))
    return tuple(rows)


def lavaan_structure(fit: dict) -> tuple[tuple[ParRow, ...], OrdinalStructure]:
    rows = lavaan_rows(fit)
    first = next(iter(fit["sampstat"]))
    observed = tuple(fit["sampstat"][first]["cov"]["rownames"])
    latent = tuple(dict.fromkeys(r.lhs for r in rows if r.op == "=~"))
    return rows, OrdinalStructure(rows, observed, latent, fit["options"]["ordered"], n_groups=fit["ngroups"],
                                  parameterization=fit["options"].get("parameterization", "delta"))


def lavaan_theta(fit: dict, rows, struct) -> np.ndarray:
    p = pd.DataFrame(fit["params"])
    est = {(a, b, c, int(g)): v for a, b, c, g, v in zip(p.lhs, p.op, p.rhs, p.group, p.est)}
    theta = np.zeros(struct.k)
    for r in rows:
        if r.free:
            theta[r.free - 1] = est[(r.lhs, r.op, r.rhs, r.group)]
    return theta


def lavaan_stats(name: str, fit: dict) -> list:
    key = ("sim_mixed" if "mixed" in name else "sim" if name.startswith("sim")
           else "lc_ord_sector" if fit["ngroups"] > 1 else "lc_ord")
    gammas = [np.array(v) for v in GAMMA[key]["gamma"].values()]
    out = []
    for g, label in enumerate(fit["wls_obs"]):
        n = fit["nobs"] if np.ndim(fit["nobs"]) == 0 else fit["nobs"][g]
        out.append(SimpleNamespace(n=n, wls_obs=np.array(list(fit["wls_obs"][label].values())), gamma=gammas[g],
                                   wls_v_diag=np.array(fit["wls_v_diag"][label]),
                                   cov=np.array(fit["sampstat"][label]["cov"]["values"])))
    return out


def check_measures(mine: dict | pd.Series, fit: dict, rel: float = 1e-3) -> None:
    for key, ref in fit["fit_measures"].items():
        name = key.replace(".", "_")
        if name in NOT_REPORTED:
            continue
        assert name in mine, name
        value = mine[name]
        if ref is None:
            assert not np.isfinite(value), (name, value)
        elif name.startswith("chisq") or name.startswith("baseline_chisq"):
            assert value == pytest.approx(ref, abs=0.01), name
        else:
            assert value == pytest.approx(ref, abs=rel), name


def fit_reference(name: str) -> lcsem.FitResult:
    fit = FITS[name]
    o = fit["options"]
    model = lcsem.Model.from_syntax(fit["model"], std_lv=bool(o.get("std.lv", False)))
    return lcsem.fit(model, DATA[o["data"]], ordered=o["ordered"], estimator=o.get("estimator"),
                     parameterization=o.get("parameterization", "delta"), group=o.get("group"),
                     group_equal=o.get("group.equal") or ())


# ---------------------------------------------------------------------- engine
@pytest.mark.parametrize("name", list(FITS))
def test_implied_statistics_and_jacobian_match_lavaan(name):
    """At lavaan's estimates the implied thresholds/correlations are lavaan's WLS.est, and
    the analytic Jacobian agrees with central differences."""
    fit = FITS[name]
    rows, struct = lavaan_structure(fit)
    theta = lavaan_theta(fit, rows, struct)
    for g, label in enumerate(fit["wls_est"]):
        ref = np.array(list(fit["wls_est"][label].values()))
        assert list(fit["wls_est"][label])[: struct.n_th] == list(struct.th_names)
        np.testing.assert_allclose(struct.implied(theta, g), ref, atol=1e-10)
    h = 1e-6
    eye = np.eye(struct.k)
    numeric = np.array([(struct.implied(theta + h * eye[i], 0) - struct.implied(theta - h * eye[i], 0)) / (2 * h)
                        for i in range(struct.k)]).T
    np.testing.assert_allclose(struct.jacobian(theta, 0), numeric, atol=1e-7)


@pytest.mark.parametrize("name", ["sim_wlsmv", "sim_wlsmv_theta", "sim_wls", "sim_ulsmv", "sim_mixed_wlsmv",
                                  "lc_ord_cfa_2factor_misspec", "lc_ord_inv_loadings"])
def test_inference_on_lavaan_statistics(name):
    """Fitted to lavaan's own WLS.obs, Gamma and weights: estimates, SEs and every fit
    measure as lavaan (independent of lcsem's polychoric step)."""
    fit = FITS[name]
    rows, struct = lavaan_structure(fit)
    o = fit["options"]
    sol = solve_ordinal(rows, lavaan_stats(name, fit), struct.observed, struct.latent, o["ordered"],
                        o.get("estimator", "WLSMV"), o.get("parameterization", "delta"))
    np.testing.assert_allclose(sol.theta, lavaan_theta(fit, rows, struct), atol=2e-5)
    p = pd.DataFrame(fit["params"])
    se = {(a, b, c, int(g)): v for a, b, c, g, v in zip(p.lhs, p.op, p.rhs, p.group, p.se)}
    ref_se = np.zeros(struct.k)
    for r in rows:
        if r.free:
            ref_se[r.free - 1] = se[(r.lhs, r.op, r.rhs, r.group)]
    np.testing.assert_allclose(np.sqrt(np.diag(sol.vcov)), ref_se, atol=1e-5)
    check_measures(sol.fit_indices, fit, rel=1e-5)


def test_scaled_shifted_parts_match_lavaan_test():
    fit = FITS["lc_ord_cfa_2factor_misspec"]
    res = fit_reference("lc_ord_cfa_2factor_misspec")
    test = fit["test"]["scaled.shifted"]
    fi = res.fit_indices
    assert fi["chisq_scaling_factor"] == pytest.approx(test["scaling.factor"], rel=1e-5)
    assert fi["chisq_shift_parameter"] == pytest.approx(test["shift.parameter"], rel=1e-5)
    assert fi["chisq_scaled"] == pytest.approx(test["stat"], abs=1e-3)


# ---------------------------------------------------------------------- fit(ordered=...)
@pytest.mark.parametrize("name", list(FITS))
def test_fit_matches_lavaan(name):
    """End to end from the CSV: estimates (thresholds, derived y* variances and scaling
    factors, := rows), robust SEs and std_all <= 1e-3; chisq <= 0.01; every index <= 1e-3."""
    fit = FITS[name]
    res = fit_reference(name)
    assert res.converged
    p = pd.DataFrame(fit["params"])
    p = p[p.op != "=="]
    est = res.estimates
    multi = fit["ngroups"] > 1
    for _, r in p.iterrows():
        group = int(r.group) if r.op != ":=" else None
        sel = (est.lhs == r.lhs) & (est.op == r.op) & (est.rhs == r.rhs)
        if multi and group is not None:
            sel &= est.group == group
        row = est[sel]
        assert len(row) == 1, (r.lhs, r.op, r.rhs, r.group)
        row = row.iloc[0]
        assert row.est == pytest.approx(r.est, abs=1e-3), (r.lhs, r.op, r.rhs)
        if r.se and r.se > 0:
            assert row.se == pytest.approx(r.se, abs=1e-3), (r.lhs, r.op, r.rhs)
        else:
            assert not np.isfinite(row.se)       # fixed: NaN, not 0
        assert row.std_all == pytest.approx(r["std.all"], abs=1e-3), (r.lhs, r.op, r.rhs)
    assert len(est) == len(p)
    check_measures(res.fit_indices, fit)


@pytest.mark.parametrize("name", ["sim_wlsmv", "lc_ord_wlsmv", "sim_mixed_wlsmv", "lc_ord_inv_configural",
                                  "lc_ord_inv_loadings"])
def test_r2_and_thresholds_match_lavaan(name):
    fit = FITS[name]
    res = fit_reference(name)
    for label, values in fit["r2"].items():
        for var, ref in values.items():
            mine = res.r2[var] if fit["ngroups"] == 1 else res.r2[(label, var)]
            assert mine == pytest.approx(ref, abs=1e-3), var
    for label, values in fit["th"].items():
        for th_name, ref in values.items():
            key = th_name if fit["ngroups"] == 1 else (label, th_name)
            assert res.ordinal.implied_th[key] == pytest.approx(ref, abs=1e-3), th_name
    first = list(fit["sampstat"])[-1]       # the last group: Wu & Estabrook's free parameters
    cov = np.array(fit["sampstat"][first]["cov"]["values"])
    sample = res.sample_cov if fit["ngroups"] == 1 else res.sample_cov.xs(first, level=0)
    np.testing.assert_allclose(sample.to_numpy(), cov, atol=1e-4)
    mean = pd.Series(fit["sampstat"][first]["mean"])
    mine = res.sample_mean if fit["ngroups"] == 1 else res.sample_mean.xs(first, level=0)
    np.testing.assert_allclose(mine[mean.index].to_numpy(), mean.to_numpy(), atol=1e-6)
    implied = pd.Series(fit["implied"][first]["mean"])
    mine = res.implied_mean if fit["ngroups"] == 1 else res.implied_mean.xs(first, level=0)
    np.testing.assert_allclose(mine[implied.index].to_numpy(), implied.to_numpy(), atol=1e-4)


def test_ordered_true_is_every_indicator_and_summary_shows_thresholds():
    data = DATA["ordinal_sim.csv"]
    model = FITS["sim_wlsmv"]["model"]
    before = data.copy()
    res = lcsem.fit(model, data, ordered=True)
    pd.testing.assert_frame_equal(data, before)           # the caller's data are not changed
    assert res.estimator == "WLSMV"
    assert res.ordinal.parameterization == "delta"
    assert res.ordinal.ordered_names == tuple(f"y{i}" for i in range(1, 9))
    assert res.fit_indices["chisq"] == pytest.approx(FITS["sim_wlsmv"]["fit_measures"]["chisq"], abs=0.01)
    th = res.estimates[res.estimates.op == "|"]
    assert list(th.rhs[th.lhs == "y5"]) == ["t1", "t2", "t3", "t4"]
    text = res.summary()
    assert "WLSMV" in text and "scaled-and-shifted" in text and "|" in text
    for name in ("chisq_scaled", "df_scaled", "pvalue_scaled", "chisq_scaling_factor", "chisq_shift_parameter",
                 "cfi_scaled", "tli_scaled", "rmsea_scaled", "cfi_robust", "rmsea_robust", "srmr"):
        assert np.isfinite(res.fit_indices[name]), name
    assert "WLSMV" in repr(res)


def test_ordered_list_keeps_other_columns_continuous():
    res = lcsem.fit(FITS["sim_mixed_wlsmv"]["model"], DATA["ordinal_sim.csv"],
                    ordered=[f"y{i}" for i in range(1, 9)])
    assert res.ordinal.ordered_names == tuple(f"y{i}" for i in range(1, 9))
    est = res.estimates
    assert est[(est.lhs == "c1") & (est.op == "~~")].se.notna().all()     # free residual variance
    assert not (est.lhs == "c1").loc[est.op == "|"].any()


def test_mean_adjusted_estimators_run():
    res = lcsem.fit(FITS["sim_wlsmv"]["model"], DATA["ordinal_sim.csv"], ordered=True, estimator="WLSM")
    ref = FITS["sim_wlsmv"]["test"]["scaled.shifted"]
    fi = res.fit_indices
    # Satorra-Bentler: T / (tr(U Gamma) / df), the same traces as the scaled-shifted test
    assert fi["chisq_scaled"] == pytest.approx(ref["scaled.test.stat"] / (ref["trace.UGamma"] / ref["df"]), rel=1e-5)
    assert "chisq_shift_parameter" not in fi.index


# ---------------------------------------------------------------------- bad input
def test_ml_with_ordered_items_names_wlsmv():
    with pytest.raises(LcsemError, match="WLSMV"):
        lcsem.fit(FITS["sim_wlsmv"]["model"], DATA["ordinal_sim.csv"], ordered=True, estimator="ML")


def test_ordered_exogenous_covariate_is_refused():
    data = DATA["ordinal_sim.csv"]
    model = "f1 =~ y1 + y2 + y3 + y4\nf1 ~ y5"
    with pytest.raises(LcsemError, match="covariate"):
        lcsem.fit(model, data, ordered=["y1", "y2", "y3", "y4", "y5"])


@pytest.mark.parametrize("ordered, match", [(["f1"], "latent"), (["nope"], "not an observed"), (3, "ordered"),
                                            ([], "no column")])
def test_bad_ordered_argument(ordered, match):
    with pytest.raises(LcsemError, match=match):
        lcsem.fit(FITS["sim_wlsmv"]["model"], DATA["ordinal_sim.csv"], ordered=ordered)


def test_options_that_do_not_combine_with_ordered():
    model, data = FITS["sim_wlsmv"]["model"], DATA["ordinal_sim.csv"]
    with pytest.raises(LcsemError, match="parameterization"):
        lcsem.fit(model, data, ordered=True, parameterization="gamma")
    with pytest.raises(LcsemError, match="ordinal indicators only"):
        lcsem.fit(model, data, parameterization="theta")
    with pytest.raises(NotSupportedError, match="missing"):
        lcsem.fit(model, data, ordered=True, missing="ml")


def test_without_ordered_the_ordinal_warning_path_is_unchanged():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = lcsem.fit(FITS["sim_wlsmv"]["model"], DATA["ordinal_sim.csv"])
    assert res.estimator == "ML" and res.ordinal is None
    assert any(issubclass(w.category, lcsem.OrdinalDataWarning) and "ordered=True" in str(w.message)
               for w in caught)


def test_unsupported_analyses_say_so():
    res = lcsem.fit(FITS["sim_wlsmv"]["model"], DATA["ordinal_sim.csv"], ordered=True)
    with pytest.raises(NotSupportedError, match="ordinal"):
        res.modindices()
    with pytest.raises(NotSupportedError, match="ordinal"):
        lcsem.factor_scores(res)
    with pytest.raises(NotSupportedError, match="ordinal_reliability"):
        lcsem.measurement(res)


@pytest.mark.parametrize("name", ["lc_ord_wlsmv", "lc_ord_wlsmv_theta", "sim_mixed_wlsmv", "lc_ord_inv_loadings"])
def test_standardized_solution_matches_lavaan(name):
    """standardizedSolution(): std_all with delta-method SEs from the robust covariance."""
    fit = FITS[name]
    res = fit_reference(name)
    mine = res.standardized_solution()
    ref = pd.DataFrame(fit["std_solution"])
    ref = ref[ref.op != "=="]
    keys = ["lhs", "op", "rhs"] + (["group"] if "group" in mine.columns else [])
    both = mine.merge(ref, on=keys, how="inner")
    assert len(both) == len(ref) == len(mine)
    np.testing.assert_allclose(both["est_std"], both["est.std"], atol=1e-3)
    np.testing.assert_allclose(both["se_std"].fillna(0.0), both["se"].fillna(0.0), atol=1e-3)


def test_effects_of_an_ordinal_fit_are_its_defined_parameters():
    """effects(): indirect and total effects on the y* scale equal lavaan's := rows."""
    fit = FITS["lc_ord_wlsmv"]
    eff = lcsem.effects(fit_reference("lc_ord_wlsmv")).table
    ref = pd.DataFrame(fit["params"]).set_index("lhs")
    assert eff.loc["culture->kmsuse->perf", "est"] == pytest.approx(ref.loc["ind", "est"], abs=1e-3)
    assert eff.loc["culture->kmsuse->perf", "se"] == pytest.approx(ref.loc["ind", "se"], abs=1e-3)
    assert eff.loc["total(culture->perf)", "est"] == pytest.approx(ref.loc["total", "est"], abs=1e-3)


# ---------------------------------------------------------------------- compare (lavTestLRT)
@pytest.mark.parametrize("key, names", [
    ("lc_ord_invariance", ["lc_ord_inv_configural", "lc_ord_inv_thresholds", "lc_ord_inv_loadings",
                           "lc_ord_inv_intercepts"]),
    ("sim_wlsmv", ["sim_wlsmv", "sim_wlsmv_nested"]),
])
def test_compare_is_lavaans_satorra_2000(key, names):
    """lavTestLRT of WLSMV fits: the scaled-and-shifted (Satorra 2000) difference test."""
    results = [fit_reference(n) for n in names]
    table = lcsem.compare(*results, names=names).table
    ref = pd.DataFrame(ORD["lrt"][key]["table"])
    np.testing.assert_allclose(table["chisq"], ref["Chisq"], atol=0.01)
    np.testing.assert_allclose(table["chisq_diff"].iloc[1:], ref["Chisq diff"].iloc[1:], atol=1e-3)
    np.testing.assert_allclose(table["pvalue"].iloc[1:], ref["Pr(>Chisq)"].iloc[1:], atol=1e-3)
    assert list(table["df_diff"].iloc[1:]) == list(ref["Df diff"].iloc[1:])


def test_compare_refuses_mixing_ordinal_and_continuous():
    data = DATA["ordinal_sim.csv"]
    model = FITS["sim_wlsmv"]["model"]
    with pytest.warns(lcsem.OrdinalDataWarning):
        continuous = lcsem.fit(FITS["sim_wlsmv_nested"]["model"], data)
    with pytest.raises(LcsemError, match="estimator"):
        lcsem.compare(lcsem.fit(model, data, ordered=True), continuous)


@pytest.mark.parametrize("name, ref_name", [("sim_wlsmv", "sim_wlsmv"), ("lc_ord_cfa_wlsmv", "lc_ord_cfa_wlsmv"),
                                            ("lc_ord_wlsmv", "lc_ord_cfa_wlsmv"),
                                            ("lc_ord_wlsmv_theta", "lc_ord_cfa_wlsmv")])
def test_ordinal_reliability_is_semtools_comprelsem(name, ref_name):
    """Categorical omega (compRelSEM default) and latent-response omega (ord.scale = FALSE);
    the structural model and the theta parameterisation leave both unchanged."""
    table = lcsem.ordinal_reliability(fit_reference(name))
    ref = ORD["reliability"][ref_name]
    for construct, value in ref["default"].items():
        assert table.loc[construct, "omega_categorical"] == pytest.approx(value, abs=1e-3)
        assert table.loc[construct, "omega_latent_response"] == pytest.approx(ref["ord_scale_false"][construct],
                                                                              abs=1e-3)


# ---------------------------------------------------------------------- ordspec's multi-group cases
MODEL_REF = json.loads((REF / "ordinal_model_reference.json").read_text())["fits"]


def _as_list(value) -> list:
    return [value] if isinstance(value, str) else list(value or ())


@pytest.mark.parametrize("name", list(MODEL_REF))
def test_multigroup_cases_match_lavaan(name):
    """group_equal with "thresholds" (Wu & Estabrook's free scaling factors / residual
    variances in group 2), theta, group_partial of thresholds, std_lv, mixed data:
    estimates, SEs, std_all and every fit measure as lavaan (make_ordinal_model.R)."""
    fit = MODEL_REF[name]
    o = fit["options"]
    data = DATA[o["data"]]
    if o.get("group") == "half":
        data = data.assign(half=np.where(np.arange(len(data)) % 2 == 0, "odd", "even"))
    res = lcsem.fit(lcsem.Model.from_syntax(fit["model"], std_lv=bool(o.get("std.lv", False))), data,
                    ordered=o["ordered"], group=o.get("group"), group_equal=_as_list(o.get("group.equal")),
                    group_partial=_as_list(o.get("group.partial")),
                    parameterization=o.get("parameterization", "delta"))
    assert res.converged
    est = res.estimates
    p = pd.DataFrame(fit["params"])
    for _, r in p[p.op != "=="].iterrows():
        row = est[(est.lhs == r.lhs) & (est.op == r.op) & (est.rhs == r.rhs) & (est.group == r.group)]
        assert len(row) == 1, (r.lhs, r.op, r.rhs, r.group)
        row = row.iloc[0]
        assert row.est == pytest.approx(r.est, abs=1e-3), (r.lhs, r.op, r.rhs, r.group)
        if r.se and r.se > 0:
            assert row.se == pytest.approx(r.se, abs=1e-3), (r.lhs, r.op, r.rhs, r.group)
        assert row.std_all == pytest.approx(r["std.all"], abs=1e-3), (r.lhs, r.op, r.rhs, r.group)
    check_measures(res.fit_indices, fit)


def _with(column: str, values) -> pd.DataFrame:
    data = DATA["ordinal_sim.csv"].copy()
    data[column] = values(data[column])
    return data


@pytest.mark.parametrize("data, match", [
    (lambda: _with("y1", lambda c: 1), "single observed category"),
    (lambda: _with("y2", lambda c: np.arange(len(c)) % 12), "more than 10"),
    (lambda: _with("y3", lambda c: c + 0.5), "non-integer"),
])
def test_bad_ordinal_columns_through_fit(data, match):
    frame = data()
    before = frame.copy()
    with pytest.raises(LcsemError, match=match):
        lcsem.fit("f1 =~ y1 + y2 + y3 + y4", frame, ordered=True)
    pd.testing.assert_frame_equal(frame, before)


def test_incomplete_rows_are_dropped_listwise():
    data = _with("y4", lambda c: c.where(np.arange(len(c)) != 3))
    res = lcsem.fit("f1 =~ y1 + y2 + y3 + y4", data, ordered=True)
    assert (res.n_obs, res.n_total, res.n_dropped) == (499, 500, 1)


def test_estimator_names_are_case_insensitive_and_summary_statistics_are_refused():
    model, data = FITS["sim_wlsmv"]["model"], DATA["ordinal_sim.csv"]
    assert lcsem.fit(model, data, ordered=True, estimator="ulsmv").estimator == "ULSMV"
    with pytest.raises(NotSupportedError, match="raw data"):
        lcsem.fit(model, sample_cov=np.eye(8), sample_nobs=500, ordered=True)


def test_binary_items_fit():
    """Two categories (one threshold per item): fitted, thresholds are the probit of the
    proportions of the lower category."""
    data = DATA["ordinal_sim.csv"][["y1", "y2", "y3", "y4", "y5"]].apply(lambda c: (c > 2).astype(int))
    res = lcsem.fit("f =~ y1 + y2 + y3 + y4 + y5", data, ordered=True)
    assert res.converged
    th = res.estimates[res.estimates.op == "|"].set_index("lhs")["est"]
    from scipy.stats import norm
    np.testing.assert_allclose(th.to_numpy(), norm.ppf((data == 0).mean().to_numpy()), atol=1e-6)


def test_unidentified_model_is_flagged():
    """A factor with free marker loading and free variance: singular information -> NaN SEs,
    an IdentificationWarning naming the parameters, res.identified False."""
    model = "f1 =~ NA*y1 + y2 + y3 + y4"
    with pytest.warns(lcsem.IdentificationWarning, match="not identified"):
        res = lcsem.fit(model, DATA["ordinal_sim.csv"], ordered=True)
    assert not res.identified and any("f1" in name for name in res.unidentified)
    assert res.estimates.loc[res.estimates.op == "=~", "se"].isna().all()


def test_implied_moments_of_an_ordinal_fit_are_lavaans_implied():
    fit = FITS["sim_mixed_wlsmv"]
    moments = fit_reference("sim_mixed_wlsmv").implied_moments()
    ref = fit["implied"]["1"]
    cov = pd.DataFrame(np.array(ref["cov"]["values"]), index=ref["cov"]["rownames"], columns=ref["cov"]["colnames"])
    np.testing.assert_allclose(moments["cov"].loc[cov.index, cov.columns].to_numpy(), cov.to_numpy(), atol=1e-4)
    for name, value in ref["th"].items():
        assert moments["th"][name] == pytest.approx(value, abs=1e-4)
    for name, value in ref["mean"].items():
        assert moments["mean"][name] == pytest.approx(value, abs=1e-4)


@pytest.mark.parametrize("name", ["sim_wlsmv", "sim_wlsmv_theta", "sim_mixed_wlsmv", "lc_ord_inv_thresholds"])
def test_ordinal_fits_round_trip_through_json(name):
    import json as _json
    entry = FITS[name]
    options = entry["options"]
    kwargs = {k: options[k] for k in ("group", "parameterization") if k in options}
    res = lcsem.fit(entry["model"], DATA[options["data"]], ordered=options["ordered"],
                    estimator=options.get("estimator"), **kwargs)
    again = lcsem.FitResult.from_dict(_json.loads(_json.dumps(res.to_dict())))
    pd.testing.assert_frame_equal(again.estimates, res.estimates)
    pd.testing.assert_series_equal(again.fit_indices, res.fit_indices)
    pd.testing.assert_series_equal(again.ordinal.sample_th, res.ordinal.sample_th)
    key = [(r.lhs, r.op, r.rhs, r.label, r.free, r.user, r.group) for r in res.ordinal.rows]
    assert [(r.lhs, r.op, r.rhs, r.label, r.free, r.user, r.group) for r in again.ordinal.rows] == key
    assert np.allclose([r.value for r in again.ordinal.rows], [r.value for r in res.ordinal.rows], equal_nan=True)
    pd.testing.assert_frame_equal(again.standardized_solution(), res.standardized_solution())


@pytest.mark.parametrize("estimator", ["ULS", "DWLS", "WLSM", "ULSM"])
def test_ordinal_fits_of_every_estimator_round_trip(estimator):
    """Every ordinal estimator's fit loads back, ULS too (a name continuous fits use as well)."""
    import json as _json
    res = lcsem.fit(FITS["sim_wlsmv"]["model"], DATA["ordinal_sim.csv"], ordered=True, estimator=estimator)
    again = lcsem.FitResult.from_dict(_json.loads(_json.dumps(res.to_dict())))
    assert again.estimator == estimator and again.ordinal is not None
    pd.testing.assert_frame_equal(again.estimates, res.estimates)


def test_edited_ordinal_payloads_are_refused():
    res = lcsem.fit(FITS["sim_wlsmv"]["model"], DATA["ordinal_sim.csv"], ordered=True)
    payload = res.to_dict()
    for edit, fragment in [(lambda p: p.update(estimator="ML"), "estimator"),
                           (lambda p: p["ordinal"].update(parameterization="gamma"), "parameterization"),
                           (lambda p: p["ordinal"]["ordered"].append(["__import__('os')", 3]), "ordered"),
                           (lambda p: p.update(ordinal=None), "edited or is corrupt"),
                           (lambda p: p.update(estimator="MLR"), "ordinal fits")]:
        edited = copy.deepcopy(payload)
        edit(edited)
        with pytest.raises(lcsem.ArgumentError, match=fragment):
            lcsem.FitResult.from_dict(edited)
