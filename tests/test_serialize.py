"""JSON round trip of FitResult (lcsem.serialize)."""

from __future__ import annotations

import copy
import json
import warnings

import numpy as np
import pandas as pd
import pytest

import lcsem
from lcsem.serialize import _check_fields_covered, fit_result_from_dict, fit_result_to_dict

from conftest import load_reference_data


def _plain(value) -> bool:
    """Only JSON's own types, all the way down (no numpy scalars, no pickled objects)."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, float):
        return np.isfinite(value)
    return value is None or isinstance(value, (str, int, bool))


def _round_trip(res, **kwargs):
    text = json.dumps(fit_result_to_dict(res, **kwargs), allow_nan=False)
    return lcsem.FitResult.from_dict(json.loads(text)), text


def _assert_same(a: lcsem.FitResult, b: lcsem.FitResult, data: bool = True) -> None:
    pd.testing.assert_frame_equal(a.estimates, b.estimates)
    pd.testing.assert_series_equal(a.fit_indices, b.fit_indices)
    pd.testing.assert_series_equal(a.r2, b.r2)
    pd.testing.assert_frame_equal(a.sample_cov, b.sample_cov)
    pd.testing.assert_frame_equal(a.implied_cov, b.implied_cov)
    np.testing.assert_array_equal(a.theta, b.theta)
    np.testing.assert_array_equal(a.vcov, b.vcov)
    if data:
        pd.testing.assert_frame_equal(a.data, b.data)
    assert a.model == b.model
    assert a.model.to_syntax() == b.model.to_syntax()
    assert dict(a.model.descriptions) == dict(b.model.descriptions)
    assert dict(a.model.population) == dict(b.model.population)
    assert a.model.name == b.model.name
    for name in ("estimator", "converged", "inadmissible", "warnings", "n_obs", "n_total", "missing",
                 "iterations", "versions"):
        assert getattr(a, name) == getattr(b, name), name


@pytest.mark.parametrize("name", ["holzinger_swineford", "political_democracy", "learning_culture_survey"])
def test_round_trip_gives_equal_tables(fitted, name):
    res = fitted[name]
    payload = res.to_dict()
    assert _plain(json.loads(json.dumps(payload, allow_nan=False)))
    assert payload["fit_indices"]["chisq"] == res.fit_indices["chisq"]      # readable by other tools
    assert payload["estimates"]["data"]["est"][0] == res.estimates["est"].iloc[0]
    back, _ = _round_trip(res)
    _assert_same(res, back)
    assert res.estimates["se"].isna().any()           # NaN survives as null and back
    assert back.summary("markdown") == res.summary("markdown")
    pd.testing.assert_frame_equal(back.residuals("cor"), res.residuals("cor"))
    pd.testing.assert_frame_equal(back.modindices(top=5), res.modindices(top=5))


def test_canonical_model_keeps_descriptions_population_and_labels():
    data = lcsem.datasets.load_lc_survey()
    data = data.assign(lc_team=data["lc_team"].where(data.index % 50 != 3))   # a few missing rows
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = lcsem.fit(lcsem.lc_model(), data)
    assert res.n_dropped > 0
    back, text = _round_trip(res)
    _assert_same(res, back)
    assert back.model.descriptions["culture"].startswith("Learning culture")
    assert list(back.data.index) == list(res.data.index)     # respondents' row labels survive
    assert res.model.descriptions["culture"] in text


def test_without_data():
    res = lcsem.fit("visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6",
                    load_reference_data("holzinger_swineford"))
    back, text = _round_trip(res, include_data=False)
    _, full = _round_trip(res)
    assert len(text) < len(full) / 2
    _assert_same(res, back, data=False)
    assert back.data.empty and list(back.data.columns) == list(res.model.observed)


def test_theta_follows_the_parameters_when_rebuilt_from_text():
    """to_syntax() groups statements by operator, so the free parameters can come back in
    another order; theta and vcov are permuted to follow them."""
    text = "visual =~ x1 + x2 + x3\n x1 ~~ x4\n textual =~ x4 + x5 + x6"
    res = lcsem.fit(text, load_reference_data("holzinger_swineford"))
    payload = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    del payload["model"]["statements"]
    back = fit_result_from_dict(payload)
    assert [r.free for r in back.model.rows] != [r.free for r in res.model.rows]   # order did change
    Sigma = back.structure.implied(back.theta[None])[0][0]
    np.testing.assert_allclose(Sigma, res.implied_cov.to_numpy(), atol=1e-12)
    se_back = np.sqrt(np.diag(back.vcov))
    name = {(r.lhs, r.op, r.rhs): r.free - 1 for r in back.model.rows if r.free}
    for _, row in res.free_estimates.iterrows():
        assert se_back[name[(row.lhs, row.op, row.rhs)]] == pytest.approx(row.se, abs=1e-12)


def test_every_field_is_stored():
    assert _check_fields_covered() == set()


def test_payload_does_not_alias_the_result(fitted):
    res = fitted["holzinger_swineford"]
    payload = res.to_dict()
    before = res.estimates.copy()
    payload["estimates"]["data"]["est"][0] = 99.0
    pd.testing.assert_frame_equal(res.estimates, before)


@pytest.mark.parametrize("mutate, word", [
    (lambda d: d.update(format="other"), "payload"),
    (lambda d: d.update(format_version=99), "format_version"),
    (lambda d: d.pop("vcov"), "vcov"),
    (lambda d: d.update(theta=d["theta"][:-1]), "theta"),
    (lambda d: d["estimates"].pop("kinds"), "estimates"),
])
def test_bad_payloads(fitted, mutate, word):
    payload = copy.deepcopy(fitted["holzinger_swineford"].to_dict())
    mutate(payload)
    with pytest.raises(lcsem.ArgumentError, match=word):
        lcsem.FitResult.from_dict(payload)


def test_bad_arguments(fitted):
    with pytest.raises(lcsem.ArgumentError, match="payload"):
        lcsem.FitResult.from_dict([1, 2])
    with pytest.raises(lcsem.ArgumentError, match="include_data"):
        fit_result_to_dict(fitted["holzinger_swineford"], include_data="no")
    with pytest.raises(lcsem.ArgumentError, match="res"):
        fit_result_to_dict({"format": "x"})
