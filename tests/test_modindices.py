"""Modification indices against lavaan 0.6.14 ``modindices()`` (tests/reference)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import lcsem
from lcsem.analysis.modindices import MODINDEX_COLUMNS, candidate_parameters, modification_indices
from lcsem.spec.model import Model

from conftest import REFERENCE

MI_REFERENCE = json.loads((REFERENCE / "modindices_reference.json").read_text())
DATA = {"holzinger": "hs.csv", "political": "pd.csv", "learning": "lc_shared.csv"}
CASES = [k for k, v in MI_REFERENCE.items() if isinstance(v, dict)]


def _data_for(case: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / next(v for k, v in DATA.items() if case.startswith(k)))


def _key(lhs: str, op: str, rhs: str) -> tuple[str, str, str]:
    return (min(lhs, rhs), op, max(lhs, rhs)) if op == "~~" else (lhs, op, rhs)


def _keyed(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out.index = pd.MultiIndex.from_tuples([_key(*t) for t in zip(frame["lhs"], frame["op"], frame["rhs"])])
    return out


@pytest.fixture(scope="module")
def results() -> dict[str, lcsem.FitResult]:
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for case in CASES:
            entry = MI_REFERENCE[case]
            out[case] = lcsem.fit(Model.from_syntax(entry["model"], std_lv=entry["std_lv"]), _data_for(case))
    return out


def test_holzinger_swineford_top_ten_match_lavaan(fitted, reference):
    """Issue 5 acceptance: the top ten on Holzinger-Swineford within 1e-2 of lavaan."""
    ref = pd.DataFrame(reference["holzinger_swineford"]["modindices_top15"]).head(10)
    ours = fitted["holzinger_swineford"].modindices(top=10)
    assert list(ours.columns) == MODINDEX_COLUMNS
    assert len(ours) == 10
    # same parameters in the same order (the MIs are well separated)
    assert [_key(*t) for t in zip(ours.lhs, ours.op, ours.rhs)] == [_key(*t) for t in zip(ref.lhs, ref.op, ref.rhs)]
    np.testing.assert_allclose(ours["mi"], ref["mi"], atol=1e-2)
    np.testing.assert_allclose(ours["epc"], ref["epc"], atol=1e-2)
    np.testing.assert_allclose(ours["sepc_all"], ref["sepc.all"], atol=1e-2)


@pytest.mark.parametrize("case", CASES)
def test_every_row_matches_lavaan(results, case):
    """Same candidate set as lavaan and every index within 1e-2 (in practice ~1e-4)."""
    ref = _keyed(pd.DataFrame(MI_REFERENCE[case]["modindices"]))
    ours = _keyed(modification_indices(results[case]))
    # lavaan lists the fixed.x (co)variances of exogenous covariates with MI 0; lcsem
    # estimates them as free parameters, so it does not list them
    exo = set(results[case].model.roles.exogenous_observed)
    fixed_x = [k for k in ref.index if k[1] == "~~" and k[0] in exo and k[2] in exo]
    assert bool(fixed_x) == case.endswith(("covariates", "path"))
    assert np.allclose(ref.loc[fixed_x, "mi"], 0.0, atol=1e-8)
    ref = ref.drop(index=fixed_x)
    assert set(ours.index) == set(ref.index)
    joined = ref.merge(ours, left_index=True, right_index=True, how="left", suffixes=("", "_lcsem"))
    np.testing.assert_allclose(joined["mi_lcsem"], joined["mi"], atol=1e-2, rtol=1e-4)
    np.testing.assert_allclose(joined["epc_lcsem"], joined["epc"], atol=1e-3, rtol=1e-4)
    np.testing.assert_allclose(joined["sepc_all"], joined["sepc.all"], atol=1e-3, rtol=1e-4)


def test_political_democracy_top_ten(results):
    ref = pd.DataFrame(MI_REFERENCE["political_democracy"]["modindices"]).head(10)
    ours = results["political_democracy"].modindices(top=10)
    assert [_key(*t) for t in zip(ours.lhs, ours.op, ours.rhs)] == [_key(*t) for t in zip(ref.lhs, ref.op, ref.rhs)]
    np.testing.assert_allclose(ours["mi"], ref["mi"], atol=1e-2)


def test_mi_is_the_chisquare_drop_when_freeing(results):
    """The score test approximates the likelihood-ratio test: refit with the parameter free."""
    res = results["holzinger_swineford"]
    top = res.modindices(top=1).iloc[0]
    assert (top.lhs, top.op, top.rhs) == ("visual", "=~", "x9")
    freed = lcsem.fit(res.model.add_indicator("visual", "x9"), res.data)
    drop = res.fit_indices["chisq"] - freed.fit_indices["chisq"]
    assert drop == pytest.approx(top.mi, rel=0.25)
    est = freed.estimates.query("lhs == 'visual' and op == '=~' and rhs == 'x9'")["est"].iloc[0]
    assert est == pytest.approx(top.epc, rel=0.25)


def test_candidates_follow_lavaan(results):
    model = results["political_democracy"].model
    cands = candidate_parameters(model)
    assert ("ind60", "=~", "x1") in cands            # fixed marker: considered, then dropped (V = 0)
    assert ("dem65", "~", "dem60") not in cands      # already free
    assert ("dem60", "~", "dem65") in cands          # reverse path: considered
    assert not any(op == "=~" and rhs in model.latent for _, op, rhs in cands)
    table = modification_indices(results["political_democracy"])
    assert not ((table.lhs == "ind60") & (table.rhs == "x1")).any()
    assert not (table.op == "~").any()               # the structural part is saturated


def test_options(results):
    res = results["holzinger_swineford"]
    full = res.modindices(top=None)
    assert len(full) == 54
    assert full["mi"].is_monotonic_decreasing
    assert (res.modindices(top=None, min_mi=3.84)["mi"] > 3.84).all()
    only_cov = res.modindices(top=None, op="~~")
    assert set(only_cov.op) == {"~~"} and len(only_cov) == (full.op == "~~").sum()
    unsorted = res.modindices(top=None, sort=False)
    assert set(map(tuple, unsorted[["lhs", "op", "rhs"]].to_numpy())) == set(map(tuple, full[["lhs", "op", "rhs"]].to_numpy()))
    assert not unsorted["mi"].is_monotonic_decreasing


@pytest.mark.parametrize("kwargs, word", [({"top": 0}, "top"), ({"top": 2.5}, "top"), ({"min_mi": "x"}, "min_mi"),
                                          ({"op": "=="}, "op"), ({"min_mi": float("nan")}, "min_mi")])
def test_bad_arguments(results, kwargs, word):
    with pytest.raises(lcsem.ArgumentError, match=word):
        modification_indices(results["holzinger_swineford"], **kwargs)


def test_not_a_result():
    with pytest.raises(lcsem.ArgumentError, match="res"):
        modification_indices("visual =~ x1")


def test_non_ml_is_refused(results):
    res = results["holzinger_swineford"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        uls = lcsem.fit(res.model, res.data, estimator="ULS")
    with pytest.raises(lcsem.NotSupportedError, match="ML"):
        uls.modindices()


def test_saturated_model_has_no_indices():
    res = lcsem.fit("f =~ x1 + x2 + x3", _data_for("holzinger"))
    table = res.modindices(top=None)
    assert list(table.columns) == MODINDEX_COLUMNS and table.empty


def test_not_converged_warns(results):
    import dataclasses

    res = dataclasses.replace(results["holzinger_swineford"], converged=False)
    with pytest.warns(lcsem.ConvergenceWarning, match="did not converge"):
        res.modindices()


def test_works_on_a_result_read_back_from_json(results):
    res = results["political_democracy"]
    back = lcsem.FitResult.from_dict(json.loads(json.dumps(res.to_dict(include_data=False))))
    pd.testing.assert_frame_equal(back.modindices(top=None), res.modindices(top=None))
