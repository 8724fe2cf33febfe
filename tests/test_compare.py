"""lcsem.compare: lavaan's lavTestLRT for nested ML models (tests/reference/make_compare.R),
the multi-group LRT columns of tests/reference/groups_reference.json, and its refusals."""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lcsem
from lcsem.analysis.compare import COLUMNS, NESTING_CRIT, difference_table, nesting_fit
from lcsem.exceptions import (ArgumentError, ConvergenceWarning, DataError, LcsemError,
                              ModelSpecificationError, NotSupportedError)

REF = Path(__file__).parent / "reference"
LAVAAN_COLUMNS = {"Df": "df", "AIC": "aic", "BIC": "bic", "Chisq": "chisq", "Chisq diff": "chisq_diff",
                  "RMSEA": "rmsea", "Df diff": "df_diff", "Pr(>Chisq)": "pvalue"}


@pytest.fixture(scope="module")
def ref():
    return json.loads((REF / "compare_reference.json").read_text())


@pytest.fixture(scope="module")
def fits(ref):
    data = {key: pd.read_csv(REF / name) for key, name in ref["data"].items()}
    return {name: lcsem.fit(m["model"], data[m["data"]]) for name, m in ref["models"].items()}


def _lavaan_table(table: dict) -> pd.DataFrame:
    frame = pd.DataFrame({LAVAAN_COLUMNS[k]: v for k, v in table.items() if k in LAVAAN_COLUMNS},
                         index=pd.Index(table["model"], name="model"))
    return frame.astype(float)


def _assert_matches(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(got.columns) == COLUMNS == ["df", "aic", "bic", "chisq", "chisq_diff", "rmsea", "df_diff",
                                            "pvalue"]
    assert list(got.index) == list(expected.index)           # lavaan's order: sorted by df
    np.testing.assert_array_equal(got["df"], expected["df"])
    np.testing.assert_array_equal(got["df_diff"], expected["df_diff"])   # NaN in the first row
    for column in ("aic", "bic", "chisq"):
        np.testing.assert_allclose(got[column], expected[column], rtol=0, atol=1e-3)
    for column in ("chisq_diff", "rmsea", "pvalue"):
        np.testing.assert_allclose(got[column], expected[column], rtol=1e-3, atol=1e-10)
        assert np.isnan(got[column].iloc[0])


NESTED = ["hs_one_vs_three", "hs_equal_loadings", "hs_sequence", "pd_free_vs_equal", "pd_sequence",
          "pd_free_vs_nocov"]


@pytest.mark.parametrize("name", NESTED)
def test_matches_lavTestLRT(ref, fits, name):
    case = ref["comparisons"][name]
    given = case["given_order"]
    res = lcsem.compare(*[fits[n] for n in given], names=given)
    _assert_matches(res.table, _lavaan_table(case["table"]))
    assert res.method == "standard"
    assert res.names == tuple(case["table"]["model"])
    assert [r is fits[n] for r, n in zip(res.results, res.names)] == [True] * len(given)
    # Bentler & Satorra's statistic of every adjacent pair is ~0, as lavaan's refit says
    assert np.isnan(res.nesting_chisq[0])
    assert all(0 <= x < NESTING_CRIT for x in res.nesting_chisq[1:])
    assert all(pair["chisq"] < NESTING_CRIT for pair in case["nesting"])
    assert any("nested" in note for note in res.notes)


def test_sorts_by_df_whatever_the_order_given(fits):
    a = lcsem.compare(fits["hs_three_equal"], fits["hs_three"], fits["hs_three_rescov"])
    b = lcsem.compare(fits["hs_three_rescov"], fits["hs_three"], fits["hs_three_equal"])
    assert a.names == ("model 3", "model 2", "model 1") and b.names == ("model 1", "model 2", "model 3")
    pd.testing.assert_frame_equal(a.table.reset_index(drop=True), b.table.reset_index(drop=True))
    assert list(a.table["df"]) == [23, 24, 27]


def test_accepts_a_list_of_results(fits):
    res = lcsem.compare([fits["hs_three"], fits["hs_one"]])
    assert res.names == ("model 1", "model 2")


def test_not_nested_models_are_refused(ref, fits):
    case = ref["comparisons"]["pd_equal_vs_nocov_not_nested"]
    assert case["nested"] is False and case["semtools_net"]["values"][1][0] is False
    with pytest.raises(ModelSpecificationError) as info:
        lcsem.compare(fits["pd_equal"], fits["pd_nocov"], names=["equal", "nocov"])
    message = str(info.value)
    for fragment in ("nocov is not nested in equal", "2.08", "Bentler & Satorra", "AIC/BIC"):
        assert fragment in message, message
    # lavaan prints a table for this pair anyway; with the check off, lcsem gives the same numbers
    res = lcsem.compare(fits["pd_equal"], fits["pd_nocov"], names=["pd_equal", "pd_nocov"],
                        check_nesting=False)
    _assert_matches(res.table, _lavaan_table(case["table"]))
    assert res.notes == ("Nesting was not checked (check_nesting=False).",)


def test_nesting_statistic_matches_lavaan(ref, fits):
    """The less restricted model fitted to the restricted model's implied covariances."""
    for case in ref["comparisons"].values():
        for pair in case["nesting"]:
            refit = nesting_fit(fits[pair["free"]], fits[pair["restricted"]])
            got = float(refit.fit_indices["chisq"])
            assert refit.converged
            if pair["chisq"] < NESTING_CRIT:
                assert got < NESTING_CRIT
            else:
                assert got == pytest.approx(pair["chisq"], rel=1e-3)


@pytest.mark.parametrize("name", ["hs_sequence", "hs_metric_vs_partial_scalar", "hs_partial_scalar_vs_scalar",
                                  "lc_sequence", "lc_metric_vs_partial_scalar", "lc_partial_scalar_vs_scalar",
                                  "lc_rescov_configural_vs_equal", "hs_scalar_vs_scalar_lv_means",
                                  "lc_labelled_vs_shared"])
def test_multigroup_columns_match_lavTestLRT(name):
    """The table for two-group results: RMSEA of the difference with N = ntotal and sqrt(G)."""
    groups = json.loads((REF / "groups_reference.json").read_text())
    lrt = groups["lrt"][name]
    table = lrt["table"]
    first = groups["fits"][table["model"][0]]
    got = difference_table(table["Df"], table["Chisq"], table["AIC"], table["BIC"], first["ntotal"],
                           first["ngroups"], table["model"])
    _assert_matches(got, _lavaan_table(table))
    assert lrt["method"].strip() == "Chi-Squared Difference Test"


def test_rounding_below_zero_is_a_zero_difference(fits):
    free = fits["hs_three"]
    restricted = _with_chisq(fits["hs_three_equal"], float(free.fit_indices["chisq"]) * (1 - 1e-9))
    res = lcsem.compare(free, restricted)
    assert res.table["chisq_diff"].iloc[1] == 0.0 and res.table["pvalue"].iloc[1] == 1.0


def _with_chisq(res, chisq):
    fi = res.fit_indices
    fi["chisq"] = chisq
    return dataclasses.replace(res, fit_indices=fi)


def _refused(error, *fragments, results, **kwargs):
    with pytest.raises(error) as info:
        lcsem.compare(*results, **kwargs)
    assert isinstance(info.value, LcsemError)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


def test_refuses_fewer_than_two_results(fits):
    _refused(ArgumentError, "results", "1 result", "at least two", results=[fits["hs_three"]])
    _refused(ArgumentError, "0 result", results=[])


def test_refuses_what_is_not_a_result(fits):
    _refused(ArgumentError, "argument 2", "DataFrame", results=[fits["hs_three"], pd.DataFrame()])


def test_refuses_a_restricted_model_that_fits_better(fits):
    free = _with_chisq(fits["hs_three"], 100.0)          # as if stuck before its optimum
    _refused(ModelSpecificationError, "model 2 (df 27) is more restricted than model 1 (df 24)",
             "fits better", "97.5459", "not nested", "did not reach its optimum",
             results=[free, fits["hs_three_equal"]])


def test_refuses_equal_df(fits):
    _refused(ModelSpecificationError, "same degrees of freedom (27)", "AIC/BIC",
             results=[fits["hs_one"], fits["hs_three_equal"]], names=["one", "equal"])


def test_refuses_different_data(ref, fits):
    hs = pd.read_csv(REF / "hs.csv")
    model = ref["models"]["hs_one"]["model"]
    fewer = lcsem.fit(model, hs.iloc[:250])
    _refused(DataError, "301 respondents", "250", "same rows", results=[fits["hs_three"], fewer])
    other = lcsem.fit(model, hs.assign(x1=hs["x1"] * 2))
    _refused(DataError, "different data", "sample covariance", results=[fits["hs_three"], other])
    eight = lcsem.fit("g =~ x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8", hs)
    _refused(DataError, "different observed variables", "['x9']", results=[fits["hs_three"], eight])


def test_refuses_different_group_labels(fits):
    two = dataclasses.replace(fits["hs_one"])
    object.__setattr__(two, "group_labels", ("Pasteur", "Grant-White"))
    _refused(DataError, "different groups", "Pasteur", results=[fits["hs_three"], two])


def test_refuses_different_estimators_and_unknown_ones(ref, fits):
    hs = pd.read_csv(REF / "hs.csv")
    gls_three = lcsem.fit(ref["models"]["hs_three"]["model"], hs, estimator="GLS")
    gls_one = lcsem.fit(ref["models"]["hs_one"]["model"], hs, estimator="GLS")
    _refused(ArgumentError, "different estimators", "GLS, ML", results=[gls_three, fits["hs_one"]])
    # GLS and ULS are compared by the plain difference (tests/test_ls_groups.py); an estimator
    # without a difference test is refused
    other = [dataclasses.replace(r) for r in (gls_three, gls_one)]
    for r in other:
        object.__setattr__(r, "estimator", "DWLS")
    _refused(NotSupportedError, "'DWLS'", "ML, GLS and ULS", "Satorra-Bentler", "refit with estimator='ML'",
             results=other)


def test_refuses_methods_it_does_not_have(fits):
    pair = [fits["hs_three"], fits["hs_one"]]
    _refused(ArgumentError, "method", "'satorra.bentler.2001'", "MLM/MLR", "method='default'", results=pair,
             method="satorra.bentler.2001")
    _refused(ArgumentError, "method", "'lrt'", "'default'", results=pair, method="lrt")


def test_refuses_bad_names(fits):
    pair = [fits["hs_three"], fits["hs_one"]]
    _refused(ArgumentError, "names", "1 names for 2 results", results=pair, names=["a"])
    _refused(ArgumentError, "names", "more than once", results=pair, names=["a", "a"])
    _refused(ArgumentError, "names", results=pair, names="ab")


def test_refuses_mixed_mean_structures(fits):
    est = fits["hs_three"].estimates
    row = est.iloc[[0]].assign(op="~1", rhs="", lhs="x1")
    with_means = dataclasses.replace(fits["hs_three"], estimates=pd.concat([est, row], ignore_index=True))
    _refused(ModelSpecificationError, "mean structure", "meanstructure=True",
             results=[with_means, fits["hs_one"]])


def test_warns_about_a_result_that_did_not_converge(fits):
    stuck = dataclasses.replace(fits["hs_one"], converged=False)
    with pytest.warns(ConvergenceWarning, match="model 2 did not converge"):
        lcsem.compare(fits["hs_three"], stuck)


def test_result_is_a_frozen_value_and_renders(fits):
    res = lcsem.compare(fits["hs_three"], fits["hs_three_equal"], names=["free", "equal_loadings"])
    table = res.table
    table.loc["free", "chisq"] = -1.0
    assert res.table.loc["free", "chisq"] > 0                 # a copy each time
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.method = "x"
    text = str(res)
    assert text.startswith("Chi-Squared Difference Test") and "equal_loadings" in text
    assert "12.240" in text and ".007" in text and "0.101" in text
    assert "| model |" in res.to_markdown() and "---:" in res.to_markdown()
    latex = res.to_latex()
    assert r"\begin{tabular}" in latex and r"equal\_loadings" in latex and r"chisq\_diff" in latex
    html = res._repr_html_()
    assert html.startswith('<div class="lcsem-compare">') and "<table" in html
    assert "delta chisq(3) = 12.240" in repr(res)
    with pytest.raises(ArgumentError, match="format"):
        res.summary("pdf")


def test_exported_from_the_package():
    assert "compare" in lcsem.__all__ and "ComparisonResult" in lcsem.__all__
    from lcsem.analysis.compare import ComparisonResult, compare

    assert lcsem.compare is compare and lcsem.ComparisonResult is ComparisonResult


def test_no_warning_escapes_a_nested_comparison(fits):
    """The nesting check's own fit (a one-factor covariance fitted by three factors has factor
    correlations of 1, an inadmissible solution) stays quiet."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lcsem.compare(fits["hs_three"], fits["hs_one"])


# ---- multi-group results, end to end: lcsem.fit(group=...) then lcsem.compare -------------------
_GROUPS = json.loads((REF / "groups_reference.json").read_text())


@pytest.fixture(scope="module")
def group_fits():
    data = {key: pd.read_csv(REF / name) for key, name in _GROUPS["data"].items()}
    files = {name: key for key, name in _GROUPS["data"].items()}
    out = {}
    for block in _GROUPS["lrt"].values():
        for name in block["table"]["model"]:
            if name in out:
                continue
            entry = _GROUPS["fits"][name]
            options = entry["options"]
            equal = options.get("group.equal", [])
            partial = options.get("group.partial", [])
            out[name] = lcsem.fit(entry["model"], data[files[options["data"]]], group=options["group"],
                                  group_equal=[equal] if isinstance(equal, str) else equal,
                                  group_partial=[partial] if isinstance(partial, str) else partial)
    return out


@pytest.mark.parametrize("name", list(_GROUPS["lrt"]))
def test_compare_multigroup_results_matches_lavTestLRT(group_fits, name):
    """lcsem.compare itself on two-group fits (not only its table arithmetic): lavaan's order,
    Δχ², Δdf, p, RMSEA of the difference with N = ntotal and sqrt(G), AIC, BIC."""
    table = _GROUPS["lrt"][name]["table"]
    given = list(reversed(table["model"]))          # any order: compare sorts by df
    res = lcsem.compare(*[group_fits[n] for n in given], names=given)
    _assert_matches(res.table, _lavaan_table(table))
    assert res.names == tuple(table["model"])
    assert any("Nesting was not checked" in note for note in res.notes)


def test_compare_refuses_multigroup_results_of_different_means(group_fits):
    """Same covariances, different means: with a mean structure the chi-squares are not comparable."""
    hs = pd.read_csv(REF / "hs.csv")
    shifted = hs.assign(x1=hs["x1"] + np.where(hs["school"] == "Pasteur", 0.5, 0.0))
    metric = lcsem.fit(_GROUPS["fits"]["hs_metric"]["model"], shifted, group="school",
                       group_equal=["loadings", "intercepts"])
    _refused(DataError, "different data", "sample means differ in some group",
             results=[group_fits["hs_configural"], metric])


def test_compare_refuses_a_multigroup_and_a_one_group_result(group_fits):
    hs = pd.read_csv(REF / "hs.csv")
    single = lcsem.fit(_GROUPS["fits"]["hs_configural"]["model"], hs, meanstructure=True)
    _refused(DataError, "different groups", results=[group_fits["hs_configural"], single])
