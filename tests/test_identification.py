"""Identification: lavaan's std.lv semantics, the rank check that names the parameters,
NaN inference for unidentified models, the scaling check and scale-free estimation."""

from __future__ import annotations

import json

import warnings

import numpy as np
import pandas as pd
import pytest

import lcsem
from conftest import REFERENCE

HS_MODEL = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
INFERENCE = ["se", "z", "pvalue", "ci_lower", "ci_upper"]


@pytest.fixture(scope="module")
def ref() -> dict:
    return json.loads((REFERENCE / "identification_reference.json").read_text())


@pytest.fixture(scope="module")
def hs() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "hs.csv")


@pytest.fixture(scope="module")
def survey() -> pd.DataFrame:
    return lcsem.datasets.load_lc_survey()


# ---------------------------------------------------------------- std.lv
def test_std_lv_fixes_endogenous_latent_residual_variances_as_lavaan(ref):
    model = lcsem.Model.from_syntax(lcsem.lc_model().to_syntax(), std_lv=True)
    table = model.partable
    lav = pd.DataFrame(ref["canonical_std_lv"]["partable"])
    for name in ("culture", "kmsuse", "perf"):
        row = table[(table["lhs"] == name) & (table["op"] == "~~") & (table["rhs"] == name)].iloc[0]
        assert row["free"] == 0 and row["value"] == 1.0, name
        lrow = lav[(lav["lhs"] == name) & (lav["op"] == "~~") & (lav["rhs"] == name)].iloc[0]
        assert lrow["free"] == 0 and lrow["ustart"] == 1.0
    loadings = table[table["op"] == "=~"]
    assert (loadings["free"] > 0).all()
    assert model.n_free == ref["canonical_std_lv"]["fit"]["npar"] == 35
    assert model.df == ref["canonical_std_lv"]["fit"]["df"] == 101


@pytest.mark.parametrize("case", ["canonical_std_lv", "extended_std_lv"])
def test_std_lv_fit_matches_lavaan(ref, case):
    c = ref[case]
    data = (lcsem.datasets.load_lc_survey() if c["data"] == "lc_survey"
            else pd.read_csv(REFERENCE / c["data"]))
    res = lcsem.fit(lcsem.Model.from_syntax(c["model"], std_lv=True), data)
    assert res.converged and res.identified
    for key in ("chisq", "df", "cfi", "tli", "rmsea", "srmr", "npar"):
        ours = res.fit_indices["n_params" if key == "npar" else key]
        assert ours == pytest.approx(c["fit"][key], abs=1e-3), key
    structural = res.estimates[res.estimates["op"] == "~"]
    assert (structural["se"] > 0.01).all() and np.isfinite(structural["z"]).all()
    assert (structural["pvalue"] > 0).all()


def test_std_lv_user_written_latent_variances_follow_lavaan():
    text = ("visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\n"
            "visual ~~ v*visual\ntextual ~~ NA*textual\nspeed ~~ 2*speed")
    table = lcsem.Model.from_syntax(text, std_lv=True).partable.set_index(["lhs", "op", "rhs"])
    assert table.loc[("visual", "~~", "visual"), "free"] == 0
    assert table.loc[("visual", "~~", "visual"), "value"] == 1.0
    assert table.loc[("textual", "~~", "textual"), "free"] > 0
    assert table.loc[("speed", "~~", "speed"), "value"] == 2.0


def test_std_lv_canonical_model_without_semopy_gives_lavaan_fit(ref, survey):
    res = lcsem.fit(lcsem.Model.from_syntax(lcsem.lc_model().to_syntax(), std_lv=True), survey,
                    use_semopy=False)
    assert res.converged and res.identified
    assert res.fit_indices["chisq"] == pytest.approx(ref["canonical_std_lv"]["fit"]["chisq"], abs=1e-3)


# ---------------------------------------------------------------- unidentified models
UNIDENTIFIED = {
    # a two-indicator factor uncorrelated with everything else
    "two_indicator_factor": ("f =~ x1 + x2\ng =~ x3 + x4 + x5\nf ~~ 0*g", "hs",
                             {"f =~ x2", "f ~~ f"}),
    # a path plus a covariance between the predictor and the outcome's residual
    "path_and_residual_covariance": (lcsem.lc_model().to_syntax() + "kmsuse ~~ perf\n", "survey",
                                     {"kmsuse ~~ perf", "perf ~ kmsuse (b)"}),
    # std.lv with the endogenous residual variances freed again (the old std_lv rule)
    "std_lv_freed_residual_variances": (lcsem.lc_model().to_syntax()
                                        + "kmsuse ~~ NA*kmsuse\nperf ~~ NA*perf\n", "survey",
                                        {"kmsuse ~~ kmsuse", "perf ~~ perf", "kmsuse ~ culture (a)"}),
}


@pytest.mark.parametrize("use_semopy", [True, False])
@pytest.mark.parametrize("case", list(UNIDENTIFIED))
def test_unidentified_model_reports_nan_inference_and_names_parameters(case, use_semopy, hs, survey):
    text, data_name, involved = UNIDENTIFIED[case]
    model = lcsem.Model.from_syntax(text, std_lv=case.startswith("std_lv"))
    data = hs if data_name == "hs" else survey
    with pytest.warns(lcsem.IdentificationWarning) as record:
        res = lcsem.fit(model, data, use_semopy=use_semopy)
    message = " ".join(str(w.message) for w in record if w.category is lcsem.IdentificationWarning)
    assert not res.identified
    assert involved <= set(res.unidentified), res.unidentified
    for name in involved:
        assert name in message
    est = res.estimates
    free = est["op"].eq(":=") | ~(est["ci_lower"] == est["est"])
    assert est.loc[free, INFERENCE].isna().all().all()
    assert not (est[["se", "z", "pvalue"]] == 0).any().any()
    assert not np.isinf(est["z"]).any()
    std = res.standardized_solution()
    assert std["se_std"].isna().all() and std["pvalue_std"].isna().all()
    assert "NOT IDENTIFIED" in res.summary() and "NOT IDENTIFIED" in repr(res)
    assert any("not identified" in w for w in res.warnings)


def test_identification_check_is_a_relative_rank_test():
    from lcsem.engine.ram import RamStructure
    from lcsem.inference.identification import JACOBIAN_RTOL, check_jacobian

    model = lcsem.Model.from_syntax(HS_MODEL)
    struct = RamStructure(model.rows, model.observed, model.latent)
    theta = np.full(struct.k, 0.5)
    theta[[r.free - 1 for r in model.rows if r.op == "=~" and r.free]] = 1.0
    ok = check_jacobian(struct, theta)
    # identified whatever the units: scaling every parameter leaves the verdict alone
    assert ok.identified and ok.relative_singular_value > JACOBIAN_RTOL
    assert check_jacobian(struct, theta * 1e-6).identified


def test_identified_model_has_flag_and_finite_inference(hs):
    res = lcsem.fit(HS_MODEL, hs)
    assert res.identified and res.unidentified == ()
    assert "identified: yes" in res.summary()
    free = res.estimates["se"].notna()
    assert (res.estimates.loc[free, "se"] > 0).all()


# ---------------------------------------------------------------- scaling
def test_variances_differing_by_more_than_1000_warn_to_rescale(hs):
    data = hs.copy()
    data["x2"] = data["x2"] * 100.0
    with pytest.warns(lcsem.ScalingWarning, match=r"divide x2 by 10\^2"):
        res = lcsem.fit(HS_MODEL, data)
    assert any("rescale" in w for w in res.warnings)
    # following the advice removes the warning
    fixed = data.assign(x2=data["x2"] / 10 ** 2)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", lcsem.ScalingWarning)
        lcsem.fit(HS_MODEL, fixed)


@pytest.mark.parametrize("factor", [1e-150, 1e-6, 1e8, 1e150])
@pytest.mark.parametrize("estimator", ["ML", "GLS"])
def test_estimation_is_scale_free(hs, factor, estimator):
    base = lcsem.fit(HS_MODEL, hs, estimator=estimator)
    data = hs.copy()
    data["x2"] = data["x2"] * factor
    with pytest.warns(lcsem.ScalingWarning):
        res = lcsem.fit(HS_MODEL, data, estimator=estimator)
    assert res.converged and res.identified
    assert res.fit_indices["chisq"] == pytest.approx(base.fit_indices["chisq"], rel=1e-8)
    np.testing.assert_allclose(res.estimates["std_all"], base.estimates["std_all"], atol=1e-8)
    # every estimate in the units of its variables: loadings and SEs scale with x2
    scale = np.where(res.estimates["rhs"] == "x2", factor, 1.0)
    scale = np.where((res.estimates["lhs"] == "x2") & (res.estimates["rhs"] == "x2"), factor ** 2, scale)
    np.testing.assert_allclose(res.estimates["est"] / scale, base.estimates["est"], rtol=1e-7)
    np.testing.assert_allclose(res.estimates["se"] / scale, base.estimates["se"], rtol=1e-6)


def test_scale_free_estimation_keeps_equality_constraints(hs):
    text = "visual =~ x1 + a*x2 + a*x3\ntextual =~ x4 + x5 + x6"
    base = lcsem.fit(text, hs)
    data = hs.copy()
    data["x2"] = data["x2"] * 1e3
    with pytest.warns(lcsem.ScalingWarning):
        res = lcsem.fit(text, data)
    est = res.estimates.set_index(["lhs", "op", "rhs"])["est"]
    assert est[("visual", "=~", "x2")] == est[("visual", "=~", "x3")]
    assert res.converged
    assert res.fit_indices["chisq"] != pytest.approx(base.fit_indices["chisq"], rel=1e-3)


def test_latent_named_like_a_data_column_is_refused(hs, ref):
    data = hs.assign(visual=hs["x1"])
    with pytest.raises(lcsem.DataError, match="visual"):
        lcsem.fit(HS_MODEL, data)
    sc = ref["sample_cov"]
    names = ["visual" if n == "x1" else n for n in sc["names"]] + []
    S = pd.DataFrame(sc["cov"], index=names, columns=names)
    with pytest.raises(lcsem.DataError, match="visual"):
        lcsem.fit(HS_MODEL, sample_cov=S, sample_nobs=sc["nobs"])


def test_singular_matrix_in_estimation_becomes_an_lcsem_error(hs, monkeypatch):
    from lcsem.estimation import estimate as fit_module

    def singular(*args, **kwargs):
        raise np.linalg.LinAlgError("Singular matrix")

    monkeypatch.setattr(fit_module, "minimize", singular)
    with pytest.raises(lcsem.EstimationError, match="not identified"):
        lcsem.fit(HS_MODEL, hs, use_semopy=False)


@pytest.mark.parametrize("case", ["hs", "mimic", "pd", "canonical", "canonical_std_lv",
                                  "extended_std_lv", "heywood"])
def test_identified_reference_models_raise_no_identification_warning(ref, case):
    import warnings

    c = ref[case]
    name = c["data"]
    data = lcsem.datasets.load_lc_survey() if name == "lc_survey" else pd.read_csv(REFERENCE / name)
    with warnings.catch_warnings():
        warnings.simplefilter("error", lcsem.IdentificationWarning)
        warnings.simplefilter("ignore", lcsem.NonAdmissibleWarning)
        warnings.simplefilter("ignore", lcsem.OrdinalDataWarning)
        res = lcsem.fit(lcsem.Model.from_syntax(c["model"], std_lv=bool(c.get("std_lv", False))), data)
    assert res.identified


@pytest.mark.parametrize("factor", [1e-150, 1e150])
def test_extreme_units_leak_no_numpy_runtime_warnings(hs, factor):
    """Starts carried across extreme units may overflow; that is handled inside (the
    trial point counts as not evaluable), never shown to the user as a numpy warning."""
    data = hs.copy()
    data["x2"] = data["x2"] * factor
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = lcsem.fit(HS_MODEL, data)
    assert res.converged
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]
