"""The fast paths of robust ML on complete data agree with the direct formulas they replace:
the closed-form baseline (independence model) test equals the generic robust test of the
independence model's structure, the h1 trace computed casewise equals ``tr(W_S Gamma)``, the
weight matrix equals ``1/2 D'(A x A) D``, the raw data arrays equal the result's group frames,
and the robust estimates table is the ML table with new se/z/pvalue/ci columns."""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lcsem
from lcsem.engine.structure import GroupStructure
from lcsem.estimation.robust_fit import group_data, robust_result
from lcsem.inference.robust import (GroupData, baseline_rows, baseline_test, duplication, gamma_matrix,
                                    h1_trace, independence_structure, robust_test, weight_matrix)
from lcsem.spec.groups import group_table

REF_DIR = Path(__file__).parent / "reference"
HS = pd.read_csv(REF_DIR / "hs.csv")
LC = pd.read_csv(REF_DIR / "lc_shared.csv")
VARS = ["x1", "x2", "x3", "x4", "x5", "sex", "ageyr"]


def _generic_baseline(estimator: str, data: GroupData, observed: tuple[str, ...], meanstructure: bool):
    """lavaan's independence model fitted through the generic machinery: its structure (the
    covariates' moments fixed at their sample values) and robust_test at its estimates."""
    xs = list(data.x_idx)
    if xs:
        x_moments = [(np.cov(x, rowvar=False, bias=True), x.mean(axis=0)) for x in data.X]
        struct = GroupStructure(baseline_rows(observed, len(data.X), meanstructure, x_moments, xs), observed, (),
                                n_groups=len(data.X), meanstructure=meanstructure)
    else:
        struct = independence_structure(observed, len(data.X), meanstructure)
    theta = []
    for x in data.X:
        theta.extend(np.delete(x.var(axis=0), xs))
        if meanstructure:
            theta.extend(np.delete(x.mean(axis=0), xs))
    return robust_test(estimator, struct, np.asarray(theta), data)


def _groups(n_groups: int) -> tuple[np.ndarray, ...]:
    X = HS[VARS].to_numpy(float)
    if n_groups == 1:
        return (X,)
    school = HS["school"].to_numpy()
    return tuple(X[school == s] for s in pd.unique(school))


@pytest.mark.parametrize("estimator", ["MLM", "MLMV", "MLMVS", "MLR"])
@pytest.mark.parametrize("meanstructure", [False, True])
@pytest.mark.parametrize("n_groups", [1, 2])
@pytest.mark.parametrize("x_idx", [(), (5, 6)])
def test_closed_form_baseline_equals_the_generic_robust_test(estimator, meanstructure, n_groups, x_idx):
    data = GroupData(_groups(n_groups), x_idx)
    ours = baseline_test(estimator, data, meanstructure)
    theirs = _generic_baseline(estimator, GroupData(data.X, x_idx), tuple(VARS), meanstructure)
    assert ours.estimator == theirs.estimator
    for name in ("trace", "trace2", "h1", "h0"):
        np.testing.assert_allclose(getattr(ours, name), getattr(theirs, name), rtol=1e-10, atol=1e-12,
                                   err_msg=name)
    if estimator == "MLR":
        assert (ours.n_h1, ours.n_params) == (theirs.n_h1, theirs.n_params)
        assert ours.trace > 0


@pytest.mark.parametrize("meanstructure", [False, True])
@pytest.mark.parametrize("x_idx", [(), (5,), (5, 6)])
def test_h1_trace_equals_the_weighted_gamma_trace(meanstructure, x_idx):
    X = HS[VARS].to_numpy(float)
    S = np.cov(X, rowvar=False, bias=True)
    direct = float(np.sum(weight_matrix(S, meanstructure) * gamma_matrix(X, meanstructure, x_idx)))
    assert h1_trace(X, meanstructure, x_idx) == pytest.approx(direct, rel=1e-12)


@pytest.mark.parametrize("p", [1, 2, 5, 9])
def test_weight_matrix_is_half_the_duplicated_kronecker_product(p):
    rng = np.random.default_rng(p)
    Y = rng.standard_normal((50, p))
    Sigma = np.atleast_2d(np.cov(Y, rowvar=False))
    A = np.linalg.inv(Sigma)
    D = duplication(p)
    np.testing.assert_allclose(weight_matrix(Sigma, False), 0.5 * D.T @ np.kron(A, A) @ D, rtol=1e-12, atol=1e-14)
    W = weight_matrix(Sigma, True)
    np.testing.assert_allclose(W[-p:, -p:], A, rtol=1e-12)
    assert not W[:-p, -p:].any()


def test_group_data_are_the_result_group_frames():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = lcsem.fit("f =~ x1 + x2 + x3\nf ~ ageyr", HS, group="school")
    data = group_data(res)
    frames = res.group_frames()
    assert len(data.X) == len(frames) == 2
    for X, frame in zip(data.X, frames):
        np.testing.assert_array_equal(X, frame.to_numpy(float))
    assert data.x_idx == (res.model.observed.index("ageyr"),)


@pytest.mark.parametrize("kw", [{}, {"group": "sector"}])
def test_robust_estimates_table_is_the_ml_table_with_new_inference_columns(kw):
    model = ("culture =~ culture1 + culture2 + culture3\nperf =~ perf1 + perf2 + perf3\n"
             "perf ~ b*culture\nind := 2*b")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lcsem.SharedLabelWarning)     # b: one parameter in both groups
        ml = lcsem.fit(model, LC, **kw)
    mlr = robust_result(ml, "MLR")
    a, b = ml.estimates, mlr.estimates
    assert list(a.columns) == list(b.columns) and (a.dtypes == b.dtypes).all() and a.index.equals(b.index)
    changed = ["se", "z", "pvalue", "ci_lower", "ci_upper"]
    pd.testing.assert_frame_equal(a.drop(columns=changed), b.drop(columns=changed))
    free = b["se"].notna()
    assert free.equals(a["se"].notna()) and free.iloc[-1]               # the same rows, with the := row
    assert not np.allclose(a.loc[free, "se"], b.loc[free, "se"])        # robust, not ML, SEs
    np.testing.assert_allclose(b.loc[free, "z"], b.loc[free, "est"] / b.loc[free, "se"])
    half = b["ci_upper"] - b["est"]
    np.testing.assert_allclose(half[free], 1.959963984540054 * b.loc[free, "se"])
    fixed = ~free
    assert b.loc[fixed, "z"].isna().all() and (b.loc[fixed, "ci_lower"] == b.loc[fixed, "est"]).all()
    ind = b[b["op"] == ":="]
    assert ind["se"].iloc[0] == pytest.approx(2 * b.loc[b["label"] == "b", "se"].iloc[0], rel=1e-6)
    fi = mlr.fit_indices
    assert fi.name == "value" and fi.dtype == float and fi.index[:len(ml.fit_indices)].equals(ml.fit_indices.index)


def test_grouped_fit_keeps_the_table_it_fitted():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = lcsem.fit("f =~ x1 + x2 + x3", HS, group="school", group_equal=["loadings", "intercepts"],
                        group_partial=["f=~x2"], estimator="MLR")
    fresh = group_table(res.model, res.n_groups, group_equal=res.group_equal, group_partial=res.group_partial,
                        meanstructure=res.meanstructure)
    assert repr(res.rows) == repr(fresh)
