"""Full-information ML (``missing="ml"``) against lavaan 0.6.14 (tests/reference/make_missing_robust.R
→ missing_robust_reference.json; data hs_mcar.csv, hs_mar.csv, lc_missing.csv): missing-data
patterns, coverage and the EM (h1) moments exactly; estimates, SEs (observed and expected
information), std_all and its SEs, R², fit indices, χ²/loglik/AIC/BIC for one group and by
school; the listwise fits and the listwise-deletion warning; the objective's derivatives and
casewise scores; bad input."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lcsem
from lcsem.data.missing import em_moments, missing_patterns
from lcsem.engine import GroupStats, GroupStructure, group_starts
from lcsem.engine.fiml import FIMLObjective, fit_fiml
from lcsem.spec.groups import group_table

REF_DIR = Path(__file__).parent / "reference"
REF = json.loads((REF_DIR / "missing_robust_reference.json").read_text())
DATA = {name: pd.read_csv(REF_DIR / name) for name in ("hs_mcar.csv", "hs_mar.csv", "lc_missing.csv")}
FIML_FITS = sorted(k for k in REF["fits"] if k.endswith(("_fiml", "_fiml_expected", "_fiml_nested", "_fiml_school"))
                   and "mlr" not in k)
LISTWISE_FITS = sorted(k for k in REF["fits"] if k.endswith("_listwise"))
FIT_NAMES = {"chisq": "chisq", "df": "df", "pvalue": "pvalue", "cfi": "cfi", "tli": "tli", "nfi": "nfi",
             "rmsea": "rmsea", "rmsea_ci_lower": "rmsea.ci.lower", "rmsea_ci_upper": "rmsea.ci.upper",
             "rmsea_pvalue": "rmsea.pvalue", "srmr": "srmr", "gfi": "gfi", "agfi": "agfi", "loglik": "logl",
             "aic": "aic", "bic": "bic", "baseline_chisq": "baseline.chisq", "baseline_df": "baseline.df",
             "n_params": "npar", "n_obs": "ntotal"}
COUNTS = {"chisq", "loglik", "aic", "bic", "baseline_chisq"}


def _fit(name):
    spec = REF["fits"][name]
    opts = spec["options"]
    kwargs = {"missing": opts.get("missing", "listwise")}
    if "information" in opts:
        kwargs["information"] = opts["information"]
    if "group" in opts:
        kwargs["group"] = opts["group"]
    if kwargs["missing"] == "listwise":
        with pytest.warns(lcsem.MissingDataWarning, match='missing="ml"'):
            return lcsem.fit(spec["model"], DATA[opts["data"]], **kwargs)
    return lcsem.fit(spec["model"], DATA[opts["data"]], **kwargs)


@pytest.fixture(scope="module")
def fits():
    return {}


def _get(fits, name):
    if name not in fits:
        fits[name] = _fit(name)
    return fits[name]


def _merged(ours, theirs, keys):
    theirs = pd.DataFrame(theirs)
    theirs["rhs"] = theirs["rhs"].fillna("")
    return ours.merge(theirs, on=keys, suffixes=("", "_lav"), how="inner", validate="one_to_one")


def _compare_estimates(res, spec):
    lav = pd.DataFrame(spec["params"])
    lav = lav[lav["op"] != "=="]
    multi = spec["ngroups"] > 1
    ours = res.estimates.copy()
    if multi:
        ours.loc[ours["op"] == ":=", "group"] = 0
    keys = ["lhs", "op", "rhs"] + (["group"] if multi else [])
    m = _merged(ours, lav.drop(columns=[c for c in ("block", "label", "group") if c in lav and c not in keys]),
                keys)
    assert len(m) == len(lav), f"{len(lav) - len(m)} lavaan rows without a match"
    np.testing.assert_allclose(m["est"], m["est_lav"], atol=1e-3)
    se_lav = m["se_lav"].astype(float).where(m["se_lav"].astype(float) > 0)
    np.testing.assert_allclose(m["se"].astype(float), se_lav, atol=1e-3, equal_nan=True)
    np.testing.assert_allclose(m["std_all"], m["std.all"].astype(float), atol=1e-3)


# ---------------------------------------------------------------------- patterns and h1
@pytest.mark.parametrize("name", ["hs_mcar_fiml", "hs_mar_fiml", "lc_missing_fiml", "hs_mcar_fiml_school"])
def test_patterns_coverage_and_em_moments_match_lavaan(name):
    spec = REF["fits"][name]
    data = DATA[spec["options"]["data"]]
    labels = spec["group_labels"] or ["1"]
    group = spec["options"].get("group")
    for label in labels:
        frame = data if group is None else data[data[group] == label]
        cols = spec["coverage"][label]["colnames"]
        mp = missing_patterns(frame[cols].to_numpy(float), tuple(cols), frame.index)
        np.testing.assert_array_equal(mp.counts, spec["pattern_freq"][label])
        np.testing.assert_array_equal(mp.observed, np.array(spec["patterns"][label]["values"], bool))
        np.testing.assert_allclose(mp.coverage, spec["coverage"][label]["values"], rtol=0, atol=1e-14)
        empty = spec["empty_idx"][label]
        assert [frame.index.get_loc(i) + 1 for i in mp.empty_rows] == list(empty)
        mean, cov, _ = em_moments(mp)
        np.testing.assert_allclose(cov, spec["h1"][label]["cov"]["values"], atol=1e-10)
        np.testing.assert_allclose(mean, list(spec["h1"][label]["mean"].values()), atol=1e-10)


def test_fit_reports_patterns_coverage_and_rows_used(fits):
    res = _get(fits, "lc_missing_fiml")
    spec = REF["fits"]["lc_missing_fiml"]
    assert (res.n_obs, res.n_total, res.n_dropped) == (spec["nobs"][0], spec["norig"][0], 2)
    table = res.missing_patterns
    assert list(table["count"]) == spec["pattern_freq"]["1"]
    assert table["count"].sum() == res.n_obs
    cols = list(res.model.observed)
    np.testing.assert_array_equal(table[cols].to_numpy(), np.array(spec["patterns"]["1"]["values"], bool))
    assert table["pattern"].iloc[0] == "1" * len(cols)
    np.testing.assert_allclose(res.coverage.to_numpy(), spec["coverage"]["1"]["values"], atol=1e-14)
    # the sample moments of a FIML fit are the EM (h1) estimates (lavaan's sampstat)
    np.testing.assert_allclose(res.sample_cov.to_numpy(), spec["sampstat"]["1"]["cov"]["values"], atol=1e-10)
    summary = REF["missing_summary"]["lc_missing"]
    assert res.data.isna().sum().to_dict() == {c: n - 2 for c, n in summary["missing_per_column"].items()}


def test_multigroup_patterns_carry_the_group(fits):
    res = _get(fits, "hs_mcar_fiml_school")
    spec = REF["fits"]["hs_mcar_fiml_school"]
    table = res.missing_patterns
    for label in spec["group_labels"]:
        assert list(table.loc[table["group"] == label, "count"]) == spec["pattern_freq"][label]
        np.testing.assert_allclose(res.coverage.xs(label, level=0).to_numpy(), spec["coverage"][label]["values"],
                                   atol=1e-14)


# ---------------------------------------------------------------------- against lavaan
@pytest.mark.parametrize("name", FIML_FITS)
def test_fiml_estimates_ses_and_std_all_match_lavaan(fits, name):
    res = _get(fits, name)
    assert res.converged and res.missing == "ml" and res.meanstructure
    _compare_estimates(res, REF["fits"][name])


@pytest.mark.parametrize("name", FIML_FITS + LISTWISE_FITS)
def test_fit_indices_match_lavaan(fits, name):
    res = _get(fits, name)
    fm = REF["fits"][name]["fit_measures"]
    for ours, theirs in FIT_NAMES.items():
        if fm.get(theirs) is None:
            continue
        tol = 0.01 if ours in COUNTS else 1e-3
        assert res.fit_indices[ours] == pytest.approx(fm[theirs], abs=tol), ours


@pytest.mark.parametrize("name", FIML_FITS)
def test_r2_and_standardized_solution_match_lavaan(fits, name):
    _compare_r2_and_standardized(_get(fits, name), REF["fits"][name])


def _compare_r2_and_standardized(res, spec):
    """R² and ``standardized_solution()`` (estimates and SEs) of ``res`` against the
    reference fit ``spec``."""
    multi = spec["ngroups"] > 1
    for label, values in spec["r2"].items():
        ours = res.r2.xs(label, level=0) if multi else res.r2
        for var, value in values.items():
            assert ours[var] == pytest.approx(value, abs=1e-3), (label, var)
    keys = ["lhs", "op", "rhs"] + (["group"] if multi else [])
    ours = res.standardized_solution()
    if multi:
        ours.loc[ours["op"] == ":=", "group"] = 0
    lav = pd.DataFrame(spec["std_solution"])
    lav = lav[lav["op"] != "=="].drop(columns=[c for c in ("label", "group") if c in lav and c not in keys])
    m = _merged(ours, lav, keys)
    assert len(m) == len(lav)
    np.testing.assert_allclose(m["est_std"], m["est.std"].astype(float), atol=1e-3)
    se_lav = m["se"].astype(float)
    np.testing.assert_allclose(m["se_std"], se_lav.where(se_lav > 0), atol=1e-3, equal_nan=True)


@pytest.mark.parametrize("name", LISTWISE_FITS)
def test_listwise_fits_match_lavaan_and_warn(fits, name):
    res = _get(fits, name)     # _fit asserts the MissingDataWarning
    spec = REF["fits"][name]
    assert res.n_obs == spec["nobs"][0]
    assert any('missing="ml"' in w for w in res.warnings)
    _compare_estimates(res, spec)


def test_observed_and_expected_information_differ_as_in_lavaan(fits):
    observed = _get(fits, "hs_mar_fiml").estimates["se"].to_numpy(float)
    expected = _get(fits, "hs_mar_fiml_expected").estimates["se"].to_numpy(float)
    # under MAR the two are not the same (each matches its own lavaan reference above)
    assert np.nanmax(np.abs(observed - expected)) > 0.01


def test_fiml_alias_and_defined_parameters(fits):
    spec = REF["fits"]["hs_mcar_fiml"]
    a = _get(fits, "hs_mcar_fiml")
    b = lcsem.fit(spec["model"], DATA["hs_mcar.csv"], missing="fiml")
    np.testing.assert_allclose(a.theta, b.theta)
    lc = _get(fits, "lc_missing_fiml")
    assert set(lc.estimates.loc[lc.estimates["op"] == ":=", "lhs"]) == {"ind", "total"}


def test_fiml_does_not_change_the_callers_data():
    data = DATA["lc_missing.csv"]
    before = data.copy()
    lcsem.fit(REF["fits"]["lc_missing_fiml"]["model"], data, missing="ml")
    pd.testing.assert_frame_equal(data, before)


def test_result_round_trips_with_its_patterns(fits):
    res = _get(fits, "hs_mcar_fiml")
    back = lcsem.FitResult.from_dict(res.to_dict())
    assert (back.information, res.information) == ("observed", "observed")
    assert _get(fits, "hs_mcar_fiml_expected").information == "expected"
    pd.testing.assert_frame_equal(back.missing_patterns, res.missing_patterns)
    pd.testing.assert_series_equal(back.fit_indices, res.fit_indices)


def test_listwise_below_five_percent_does_not_warn():
    data = DATA["hs_mcar.csv"].dropna().copy()
    data.loc[data.index[:3], "x1"] = np.nan          # 3 of 135 rows: 2.2%
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error", lcsem.MissingDataWarning)
        res = lcsem.fit(REF["fits"]["hs_mcar_fiml"]["model"], data)
    assert res.n_dropped == 3


# ---------------------------------------------------------------------- the objective
@pytest.fixture(scope="module")
def objective():
    spec = REF["fits"]["hs_mar_fiml"]
    model = lcsem.Model.from_syntax(spec["model"])
    cols = model.observed
    data = DATA["hs_mar.csv"]
    mp = missing_patterns(data[list(cols)].to_numpy(float), tuple(cols), data.index)
    mean, cov, _ = em_moments(mp)
    struct = GroupStructure(group_table(model, 1, meanstructure=True), model.observed, model.latent, 1, True)
    obj = FIMLObjective(struct, [mp])
    start = group_starts(struct, GroupStats(cov[None, None], mean[None, None], np.array([float(mp.n_obs)])))
    sol = fit_fiml(obj, start)
    return obj, np.atleast_2d(start)[0], sol.theta[0]


def _numeric_gradient(obj, theta, h=1e-6):
    eye = np.eye(theta.size) * h
    return np.array([(obj.value((theta + e)[None], [0])[0] - obj.value((theta - e)[None], [0])[0]) / (2 * h)
                     for e in eye])


def test_gradient_matches_finite_differences(objective):
    obj, start, _ = objective
    np.testing.assert_allclose(obj.gradient(start[None])[0], _numeric_gradient(obj, start), atol=1e-6)


def test_observed_information_is_the_hessian(objective):
    obj, _, theta = objective
    H = obj.observed_information(theta)
    h = 1e-4
    eye = np.eye(theta.size) * h
    num = np.array([(_numeric_gradient(obj, theta + e, 1e-5) - _numeric_gradient(obj, theta - e, 1e-5)) / (2 * h)
                    for e in eye[:4]])
    np.testing.assert_allclose(H[:4], num, rtol=1e-3, atol=1e-4)


def test_analytic_observed_information_equals_lavaans_numerical_hessian(objective):
    obj, start, theta = objective
    for point in (start, theta):
        np.testing.assert_allclose(obj.observed_information(point), obj.numeric_observed_information(point),
                                   rtol=1e-7, atol=1e-7)


def test_casewise_scores_add_up_to_the_gradient(objective):
    obj, start, theta = objective
    scores = obj.casewise_scores(start)[0]
    assert scores.shape == (obj.groups[0].n_obs, obj.k)
    np.testing.assert_allclose(scores.sum(axis=0), -0.5 * obj.N * obj.gradient(start[None])[0], rtol=1e-8,
                               atol=1e-8)
    np.testing.assert_allclose(obj.casewise_scores(theta)[0].sum(axis=0), 0.0, atol=1e-5)


def test_loglik_matches_lavaans_casewise_loglik(objective):
    obj, _, theta = objective
    casewise = REF["fits"]["hs_mar_fiml"]["loglik_casewise"]["1"]
    ours = obj.casewise_loglik(theta)[0]
    np.testing.assert_allclose(ours, casewise, atol=1e-5)
    assert obj.loglik(theta)[0] == pytest.approx(sum(casewise), abs=1e-6)
    assert ours.sum() == pytest.approx(obj.loglik(theta)[0], abs=1e-8)


# ---------------------------------------------------------------------- bad input
MODEL = REF["fits"]["hs_mcar_fiml"]["model"]


def test_pair_never_observed_together_is_named():
    data = DATA["hs_mcar.csv"].copy()
    data.loc[data["x1"].notna(), "x2"] = np.nan
    data.loc[data.index[:5], "x2"] = 1.0
    data.loc[data.index[:5], "x1"] = np.nan
    with pytest.raises(lcsem.DataError, match=r"x1.*x2.*never observed together"):
        lcsem.fit(MODEL, data, missing="ml")


def test_variable_missing_for_a_whole_group_is_named():
    data = DATA["hs_mcar.csv"].copy()
    data.loc[data["school"] == "Pasteur", "x4"] = np.nan
    with pytest.raises(lcsem.DataError, match=r"Pasteur.*x4"):
        lcsem.fit(MODEL, data, missing="ml", group="school")


@pytest.mark.parametrize("kwargs, error", [
    ({"missing": "ml", "information": "hessian"}, lcsem.ArgumentError),
    ({"information": "observed"}, lcsem.NotSupportedError),
    ({"missing": "ml", "estimator": "GLS"}, lcsem.NotSupportedError),
    ({"missing": "fiml", "estimator": "MLM"}, lcsem.NotSupportedError),
    ({"missing": "pairwise"}, lcsem.ArgumentError),
])
def test_bad_options_are_refused(kwargs, error):
    with pytest.raises(error):
        lcsem.fit(MODEL, DATA["hs_mcar.csv"].dropna(), **kwargs)


def test_fiml_with_sample_cov_is_refused():
    cov = DATA["hs_mcar.csv"][[f"x{i}" for i in range(1, 10)]].dropna().cov()
    with pytest.raises(lcsem.NotSupportedError, match="raw data"):
        lcsem.fit(MODEL, sample_cov=cov, sample_nobs=135, missing="ml")


# ---------------------------------------------------------------------- analyses on FIML fits
MI_REF = json.loads((REF_DIR / "fiml_modindices_reference.json").read_text())


@pytest.mark.parametrize("name", sorted(MI_REF["fits"]))
def test_modification_indices_match_lavaans_fiml_modindices(name):
    spec = MI_REF["fits"][name]
    group = spec.get("group") or None            # R's NULL is stored as {}
    res = lcsem.fit(spec["model"], DATA[spec["data"]], missing="ml", information=spec["information"],
                    group=group, group_equal=spec.get("group_equal") or ())
    lav = pd.DataFrame(spec["modindices"])
    keys = ["lhs", "op", "rhs"] + (["group"] if group else [])
    for obj in (res,) if group else (res, res.groups["1"]):
        mi = lcsem.modification_indices(obj, sort=False)
        m = mi.merge(lav, on=keys, suffixes=("", "_lav"), validate="one_to_one")
        assert len(m) == len(lav) == len(mi)
        np.testing.assert_allclose(m["mi"], m["mi_lav"], atol=1e-3)
        np.testing.assert_allclose(m["epc"], m["epc_lav"], atol=1e-3)
        np.testing.assert_allclose(m["sepc_all"], m["sepc.all"], atol=1e-3)


@pytest.mark.parametrize("a, b", [("hs_mcar_fiml", "hs_mcar_fiml_nested"), ("lc_missing_fiml", "lc_missing_fiml_nested")])
def test_compare_gives_lavaans_fiml_likelihood_ratio_test(fits, a, b):
    table = REF["lrt"][a]["table"]
    out = lcsem.compare(_get(fits, a), _get(fits, b)).table
    assert out["chisq_diff"].iloc[1] == pytest.approx(table["Chisq diff"][1], abs=0.01)
    assert out["pvalue"].iloc[1] == pytest.approx(table["Pr(>Chisq)"][1], abs=1e-4)
    assert out["rmsea"].iloc[1] == pytest.approx(table["RMSEA"][1], abs=1e-4)


@pytest.mark.parametrize("method", ["regression", "bartlett"])
def test_factor_scores_of_a_fiml_fit_match_lavpredict(fits, method):
    res = _get(fits, "hs_mcar_fiml")
    ours = lcsem.factor_scores(res.groups["1"], method=method)
    lav = pd.DataFrame(MI_REF["factor_scores_hs_mcar_fiml"][method])
    assert ours.shape == lav.shape and not ours.isna().any().any()
    np.testing.assert_allclose(ours.to_numpy(), lav[list(ours.columns)].to_numpy(), atol=1e-4)


def test_parametric_bootstrap_of_a_fiml_fit_is_refused_not_run_on_the_wrong_model(fits):
    # the case and Bollen-Stine bootstraps of FIML fits: tests/test_bootstrap_fiml.py
    with pytest.raises(lcsem.NotSupportedError, match="FIML"):
        lcsem.bootstrap(_get(fits, "hs_mcar_fiml"), 10, kind="parametric", seed=1)


def test_methods_paragraph_names_fiml_not_listwise_deletion(fits):
    from lcsem.reporting.methods import methods_paragraph
    text = methods_paragraph(_get(fits, "lc_missing_fiml").groups["1"])
    assert "full-information maximum likelihood" in text and "listwise" not in text
    assert "2 responses without any observed answer were removed" in text


def test_command_line_fits_fiml(tmp_path, capsys):
    from lcsem.cli import main
    model = tmp_path / "model.txt"
    model.write_text(MODEL, encoding="utf-8")
    assert main(["fit", str(REF_DIR / "hs_mcar.csv"), "--model", str(model), "--missing", "ml", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["missing"] == "ml" and payload["n_obs"] == 301
    assert payload["fit_indices"]["chisq"] == pytest.approx(REF["fits"]["hs_mcar_fiml"]["fit_measures"]["chisq"],
                                                            abs=0.01)


def test_multigroup_listwise_deletion_warns_with_the_count():
    with pytest.warns(lcsem.MissingDataWarning, match=r"dropped 166 of 301 rows .*missing=\"ml\""):
        res = lcsem.fit(MODEL, DATA["hs_mcar.csv"], group="school")
    assert res.n_obs == 135


def test_factor_scores_of_the_joint_fiml_result_equal_its_views(fits):
    res = _get(fits, "hs_mcar_fiml")
    pd.testing.assert_frame_equal(lcsem.factor_scores(res), lcsem.factor_scores(res.groups["1"]))


def test_measurement_of_a_fiml_fit_refits_the_cfa_by_fiml_as_semtools(fits):
    res = _get(fits, "lc_missing_fiml")
    out = lcsem.measurement(res)
    assert out.cfa.missing == "ml" and out.cfa.n_obs == 348
    ref = MI_REF["reliability_lc_missing_fiml"]
    for column, key in (("omega", "omega"), ("alpha", "alpha"), ("ave", "ave")):
        for construct, value in ref[key].items():
            assert out.reliability.loc[construct, column] == pytest.approx(value, abs=1e-3), (column, construct)
    with pytest.raises(lcsem.NotSupportedError, match="FIML"):
        lcsem.measurement(res.groups["1"])


def test_effects_of_a_fiml_fit_use_its_observed_information(fits):
    res = _get(fits, "lc_missing_fiml")
    table = lcsem.effects(res).table
    lav = pd.DataFrame(REF["fits"]["lc_missing_fiml"]["params"])
    for name in ("ind", "total"):
        row = lav[(lav["op"] == ":=") & (lav["lhs"] == name)].iloc[0]
        assert table.loc[name, "est"] == pytest.approx(row["est"], abs=1e-4)
        assert table.loc[name, "se"] == pytest.approx(row["se"], abs=1e-4)


def test_fiml_on_complete_data_is_ml_with_means():
    spec = REF["fits"]["hs_ml"]
    data = pd.read_csv(REF_DIR / "hs.csv")
    fiml = lcsem.fit(spec["model"], data, missing="ml")
    ml = lcsem.fit(spec["model"], data, meanstructure=True)
    assert len(fiml.missing_patterns) == 1 and fiml.missing_patterns["count"].iloc[0] == 301
    # (AIC/BIC differ from hs_ml's by the 9 intercepts FIML adds)
    for name in ("chisq", "df", "cfi", "tli", "rmsea", "srmr", "loglik"):
        assert fiml.fit_indices[name] == pytest.approx(spec["fit_measures"][name.replace("loglik", "logl")],
                                                       abs=0.01), name
    np.testing.assert_allclose(fiml.theta, ml.theta, atol=1e-5)
