"""Score tests for releasing equality constraints (lavaan's ``lavTestScore``) and modification
indices of multi-group / mean-structure fits (lavaan's ``modindices``), against lavaan 0.6.14:
tests/reference/groups_reference.json (make_groups.R) and score_tests_reference.json
(make_score_tests.R: labelled and shared-label constraints, three groups, single-group shared
labels and intercepts, covariates, constrained multi-group models)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lcsem
from lcsem.analysis.score_tests import equality_constraints, score_tests
from lcsem.exceptions import ArgumentError, NotSupportedError

REF_DIR = Path(__file__).parent / "reference"
GROUPS = json.loads((REF_DIR / "groups_reference.json").read_text())
SCORE = json.loads((REF_DIR / "score_tests_reference.json").read_text())["cases"]


def _hs() -> pd.DataFrame:
    hs = pd.read_csv(REF_DIR / "hs.csv")
    # the three age groups of make_score_tests.R
    hs["age3"] = np.where(hs["ageyr"] <= 12, "young", np.where(hs["ageyr"] == 13, "thirteen", "older"))
    return hs


DATA = {"hs": _hs(), "lc": pd.read_csv(REF_DIR / "lc_shared.csv"), "hs.csv": _hs(),
        "lc_shared.csv": pd.read_csv(REF_DIR / "lc_shared.csv")}
UNIVARIATE_COLUMNS = ["lhs", "op", "rhs", "group_a", "param_b", "group_b", "label", "x2", "df", "pvalue"]


def _as_tuple(value) -> tuple[str, ...]:
    if not value:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _fit(model: str, data: str, group=None, group_equal=(), meanstructure=False) -> lcsem.FitResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # lavaan's shared-label warning has an lcsem twin
        return lcsem.fit(model, DATA[data], group=group or None, group_equal=_as_tuple(group_equal),
                         meanstructure=bool(meanstructure))


_CACHE: dict[str, lcsem.FitResult] = {}


def groups_fit(name: str) -> lcsem.FitResult:
    key = "groups:" + name
    if key not in _CACHE:
        spec = GROUPS["fits"][name]
        opts = spec["options"]
        _CACHE[key] = _fit(spec["model"], opts["data"], opts.get("group"), opts.get("group.equal"),
                           opts.get("meanstructure", False))
    return _CACHE[key]


def score_case(name: str) -> lcsem.FitResult:
    key = "score:" + name
    if key not in _CACHE:
        cs = SCORE[name]
        _CACHE[key] = _fit(cs["model"], cs["data"], cs.get("group"), cs.get("group_equal"),
                           cs.get("meanstructure", False))
    return _CACHE[key]


def _param(lhs, op, rhs) -> list[str]:
    return [f"{a} {b} {c or ''}".rstrip() for a, b, c in zip(lhs, op, rhs)]


# ------------------------------------------------------------------ score tests
@pytest.mark.parametrize("name", sorted(GROUPS["score_tests"]))
def test_invariance_score_tests_match_lavaan(name):
    res = groups_fit(name)
    ref = GROUPS["score_tests"][name]
    uni = res.score_tests()
    assert list(uni.columns) == UNIVARIATE_COLUMNS
    lav = ref["univariate"]
    # one row per released equality, in lavaan's order, named readably
    assert [f"{a}{b}{c}" for a, b, c in zip(uni.lhs, uni.op, uni.rhs)] == lav["lhs.param"]
    assert [p.replace(" ", "") for p in uni.param_b] == lav["rhs.param"]
    labels = res.group_labels
    assert list(uni.group_a) == [labels[g - 1] for g in lav["lhs.group"]]
    assert list(uni.group_b) == [labels[g - 1] for g in lav["rhs.group"]]
    np.testing.assert_allclose(uni.x2, lav["X2"], atol=1e-4)
    np.testing.assert_allclose(uni.pvalue, lav["p.value"], atol=1e-5)
    assert (uni.df == 1).all()
    total = res.score_tests("total")
    assert list(total.columns) == ["test", "x2", "df", "pvalue"]
    np.testing.assert_allclose(total.x2, ref["total"]["X2"], atol=1e-4)
    assert list(total.df) == ref["total"]["df"]
    np.testing.assert_allclose(total.pvalue, ref["total"]["p.value"], atol=1e-6)
    cum = res.score_tests("cumulative")
    assert [f"{a}{b}{c}" for a, b, c in zip(cum.lhs, cum.op, cum.rhs)] == ref["cumulative"]["lhs.param"]
    np.testing.assert_allclose(cum.x2, ref["cumulative"]["X2"], atol=1e-4)
    assert list(cum.df) == ref["cumulative"]["df"]


SCORE_CASES = sorted(n for n, cs in SCORE.items() if cs["score_tests"])


@pytest.mark.parametrize("name", SCORE_CASES)
def test_labelled_shared_and_single_group_score_tests_match_lavaan(name):
    """c(a1, a1), labels shared across groups, three groups (one constraint per extra
    group), single-group shared labels on loadings and on intercepts, covariates."""
    res = score_case(name)
    ref = SCORE[name]["score_tests"]
    lav = ref["univariate"]
    uni = score_tests(res)
    assert list(zip(uni.lhs, uni.op, uni.rhs)) == list(zip(lav["lhs.lhs"], lav["lhs.op"],
                                                           [r or "" for r in lav["lhs.rhs"]]))
    assert list(uni.param_b) == _param(lav["rhs.lhs"], lav["rhs.op"], lav["rhs.rhs"])
    if res.group_labels:
        assert list(uni.group_a) == [res.group_labels[g - 1] for g in lav["lhs.group"]]
        assert list(uni.group_b) == [res.group_labels[g - 1] for g in lav["rhs.group"]]
    else:
        assert "group_a" not in uni.columns and "group_b" not in uni.columns
    np.testing.assert_allclose(uni.x2, lav["X2"], atol=1e-4)
    np.testing.assert_allclose(score_tests(res, "total").x2, ref["total"]["X2"], atol=1e-4)
    np.testing.assert_allclose(score_tests(res, "cumulative").x2, ref["cumulative"]["X2"], atol=1e-4)


def test_labels_name_the_shared_label():
    uni = score_case("hs_labelled").score_tests()
    assert list(uni.label) == ["a1", "v9", "i4"]
    assert list(groups_fit("hs_metric").score_tests().label) == [""] * 6


def test_three_groups_give_one_constraint_per_extra_group_in_lavaans_order():
    uni = score_case("hs3_metric").score_tests()
    assert len(uni) == 12
    assert list(uni.rhs[:2]) == ["x2", "x2"]
    assert list(uni.group_b[:2]) == ["young", "older"]
    assert set(uni.group_a) == {"thirteen"}


@pytest.mark.parametrize("name", ["hs3_configural", "hs_covariates_means"])
def test_a_model_without_constraints_gives_empty_tables(name):
    res = score_case(name)
    for kind, columns in (("univariate", None), ("total", ["test", "x2", "df", "pvalue"]),
                          ("cumulative", None)):
        table = res.score_tests(kind)
        assert len(table) == 0
        assert {"x2", "df", "pvalue"} <= set(table.columns)
        if columns:
            assert list(table.columns) == columns


def test_single_group_without_means_or_labels_is_empty_not_an_error():
    res = _fit("visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6", "hs")
    table = res.score_tests()
    assert len(table) == 0
    assert list(table.columns) == ["lhs", "op", "rhs", "param_b", "label", "x2", "df", "pvalue"]


def test_equality_constraints_follow_lavaanify():
    """Classes ordered by their second row, each as first == other."""
    rows = score_case("hs3_metric").rows
    pairs = equality_constraints(rows)
    table = [r for r in rows if r.op != ":="]
    assert all(table[i].free == table[j].free for i, j in pairs)
    firsts = [j for _, j in pairs]
    # within a class in table order; classes by their second row
    assert [table[j].group for j in firsts[:2]] == [2, 3]


def test_score_tests_bad_input():
    res = groups_fit("hs_metric")
    with pytest.raises(ArgumentError, match="kind"):
        res.score_tests("bivariate")
    with pytest.raises(ArgumentError, match="res"):
        score_tests("not a result")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        uls = lcsem.fit("f =~ x1 + a*x2 + a*x3", DATA["hs"], estimator="ULS")
    with pytest.raises(NotSupportedError, match="ML"):
        uls.score_tests()


def test_multi_group_result_saved_without_data_says_what_to_do():
    res = groups_fit("hs_metric")
    back = lcsem.FitResult.from_dict(res.to_dict(include_data=False))
    with pytest.raises(NotSupportedError, match="include_data=True"):
        back.score_tests()
    with pytest.raises(NotSupportedError, match="include_data=True"):
        back.modindices()


# ------------------------------------------------------------------ modification indices
def _keyed(frame: pd.DataFrame, group) -> pd.DataFrame:
    keys = [(min(a, c), b, max(a, c), int(g)) if b == "~~" else (a, b, c, int(g))
            for a, b, c, g in zip(frame["lhs"], frame["op"], frame["rhs"].fillna(""), group)]
    out = frame.copy()
    out.index = pd.MultiIndex.from_tuples(keys)
    return out


def _check_modindices(res: lcsem.FitResult, lav: dict, *, fixed_x_rows: int = 0) -> None:
    ours = res.modindices(top=None, sort=False)
    lav = pd.DataFrame(lav)
    lav = lav[lav["mi"].notna()]
    multi = bool(res.group_labels)
    assert list(ours.columns) == (["lhs", "op", "rhs", "group", "mi", "epc", "sepc_all"] if multi
                                  else ["lhs", "op", "rhs", "mi", "epc", "sepc_all"])
    o = _keyed(ours, ours["group"] if multi else [1] * len(ours))
    ll = _keyed(lav, lav["group"] if "group" in lav else [1] * len(lav))
    # lavaan lists the covariates' fixed.x (co)variances with an index of 0; lcsem estimates them
    extra = [k for k in ll.index if k not in o.index]
    assert len(extra) == fixed_x_rows and all(k[1] == "~~" and k[0] in ("ageyr", "grade") for k in extra)
    ll = ll.drop(index=extra)
    assert list(o.index) == list(ll.index)      # lavaan's order
    np.testing.assert_allclose(o["mi"], ll["mi"], atol=0.01)
    np.testing.assert_allclose(o["epc"], ll["epc"], atol=1e-3)
    np.testing.assert_allclose(o["sepc_all"], ll["sepc.all"], atol=1e-3)


@pytest.mark.parametrize("name", sorted(GROUPS["modindices"]))
def test_configural_modindices_match_lavaan(name):
    _check_modindices(groups_fit(name), GROUPS["modindices"][name])


MI_CASES = sorted(SCORE)


@pytest.mark.parametrize("name", MI_CASES)
def test_constrained_mean_structure_and_covariate_modindices_match_lavaan(name):
    res = score_case(name)
    fixed_x = {"hs_covariates": 6, "hs_covariates_means": 2}.get(name, 0)
    _check_modindices(res, SCORE[name]["modindices"], fixed_x_rows=fixed_x)


def test_modindices_of_a_mean_structure_list_fixed_intercepts():
    """speed's mean (fixed at 0) is identified by the equal intercepts of x8 and x9 and gets an
    index; freeing x1's fixed intercept next to visual's free mean would not be identified."""
    mi = score_case("hs_single_intercepts").modindices(top=None, op="~1")
    assert list(mi.lhs) == ["speed"]
    assert mi.loc[0, "mi"] > 0


def test_grouped_modindices_filters_and_sorting():
    res = groups_fit("hs_configural")
    top = res.modindices(top=5)
    assert len(top) == 5 and (np.diff(top["mi"].to_numpy()) <= 0).all()
    assert set(res.modindices(top=None, op="=~")["op"]) == {"=~"}
    assert set(res.modindices(top=None)["group"]) == {1, 2}


def test_block_inverse_shortcut_equals_the_generalised_inverse_of_each_reduced_matrix():
    """Every released set (univariate and cumulative, including the sets whose reduced
    matrix is singular: all intercepts released next to free latent means) agrees with
    lavaan's direct computation ``N s' ginv(Z1)[1:k, 1:k] s``."""
    from lcsem.analysis import score_tests as st

    res = groups_fit("hs_scalar")
    table = [r for r in res.rows if r.op != ":="]
    pairs = st.equality_constraints(tuple(table))
    score, info, n = st._score_information(res, table)
    column = {pos: c for c, pos in enumerate(pos for pos, r in enumerate(table) if r.free)}
    R = np.zeros((len(pairs), len(column)))
    for c, (i, j) in enumerate(pairs):
        R[c, column[i]], R[c, column[j]] = 1.0, -1.0
    release = st._Release(score, info, R, n)
    assert release.invertible
    sets = [[c] for c in range(len(pairs))] + [list(range(r + 1)) for r in range(len(pairs))]
    for released in sets:
        R1 = np.delete(R, released, axis=0)
        m = R1.shape[0]
        Z = np.block([[info, R1.T], [R1, np.zeros((m, m))]])
        direct = n * score @ st._ginv(Z)[: info.shape[0], : info.shape[0]] @ score
        assert release.statistic(released) == pytest.approx(direct, rel=1e-7, abs=1e-7)
