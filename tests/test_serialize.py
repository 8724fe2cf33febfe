"""JSON round trip of FitResult (lcsem.serialize)."""

from __future__ import annotations

import copy
import json
import warnings

import numpy as np
import pandas as pd
import pytest

import lcsem
from lcsem.results.payload import _check_fields_covered, fit_result_from_dict, fit_result_to_dict

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
    assert res.to_dict(include_data=False)["data"] is None
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
    for _, row in res.estimates[res.estimates["se"].notna() & (res.estimates["op"] != ":=")].iterrows():
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


# ---------------------------------------------------------------------- other results
def _assert_equal_values(a, b, where="value"):
    import dataclasses

    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, obj=where)
    elif isinstance(a, pd.Series):
        pd.testing.assert_series_equal(a, b, obj=where)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, lcsem.FitResult):
        _assert_same(a, b, data=not a.data.empty)
    elif dataclasses.is_dataclass(a):
        assert type(a) is type(b), where
        for f in dataclasses.fields(a):
            if f.name.startswith("_") and callable(getattr(a, f.name)):
                continue          # code is never stored
            _assert_equal_values(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_equal_values(x, y, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            _assert_equal_values(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, float) and np.isnan(a):
        assert isinstance(b, float) and np.isnan(b), where
    else:
        assert a == b and type(a) is type(b), where


def test_values_round_trip_losslessly():
    from lcsem.results.payload import decode_value, encode_value

    value = {
        "floats": np.array([[1.5, np.nan], [np.inf, -np.inf]]),
        "ints": np.arange(6, dtype=np.int64).reshape(2, 3),
        "bools": np.array([True, False]),
        "names": np.array(["a", "b"], dtype=object),
        "scalar": float("inf"), "nan": float("nan"), "count": np.int64(3), "flag": np.bool_(True),
        "tuple": (1, "x", None), 2: "non-string key",
        "frame": pd.DataFrame({"est": [0.1, np.nan], "name": ["a", "b"], "ok": [True, False]},
                              index=pd.Index(["r1", "r2"], name="row")),
        "series": pd.Series([1.0, 2.0], index=["x", "y"], name="s"),
        "seed": np.random.SeedSequence(2**70 + 5, spawn_key=(3,)),
    }
    text = json.dumps(encode_value(value), allow_nan=False)
    back = decode_value(json.loads(text))
    seed = back.pop("seed")
    assert seed.entropy == 2**70 + 5 and seed.spawn_key == (3,)
    value.pop("seed")
    back["count"], back["flag"] = np.int64(back["count"]), np.bool_(back["flag"])
    _assert_equal_values(value, back)


def test_common_method_bias_result_round_trip(fitted):
    from lcsem.analysis.common_method import common_method_bias
    from lcsem.results.payload import result_from_dict, result_to_dict

    res = common_method_bias(fitted["learning_culture_survey"])
    back = result_from_dict(json.loads(json.dumps(result_to_dict(res), allow_nan=False)))
    _assert_equal_values(res, back)
    assert back.summary("markdown") == res.summary("markdown")


def test_only_known_classes_are_rebuilt(fitted):
    from dataclasses import dataclass

    from lcsem.results.payload import decode_value, encode_value, result_from_dict, result_to_dict

    @dataclass
    class Foreign:
        x: int = 1

    with pytest.raises(lcsem.ArgumentError, match="cannot be stored"):
        encode_value(Foreign())
    with pytest.raises(lcsem.ArgumentError, match="cannot be stored"):
        encode_value({"f": object()})
    with pytest.raises(lcsem.ArgumentError, match="result"):
        result_to_dict(Foreign())
    evil = {"__lcsem__": "result", "class": "os.system", "fields": {}}
    with pytest.raises(lcsem.ArgumentError, match="not a result class"):
        decode_value(evil)
    with pytest.raises(lcsem.ArgumentError, match="format"):
        result_from_dict({"format": "os.system", "format_version": 1, "result": evil})
    from lcsem.analysis.common_method import common_method_bias

    payload = json.loads(json.dumps(result_to_dict(common_method_bias(fitted["holzinger_swineford"]))))
    payload["format"] = payload["result"]["class"] = "lcsem.effects.EffectsResult"
    with pytest.raises(lcsem.ArgumentError, match="do not match"):
        result_from_dict(payload)
    assert callable(lcsem.effects) and callable(lcsem.measurement)   # imports kept the functions
    # a FitResult payload is accepted by the generic reader too
    res = fitted["holzinger_swineford"]
    _assert_same(res, result_from_dict(json.loads(json.dumps(result_to_dict(res), allow_nan=False))))


@pytest.mark.filterwarnings("ignore::lcsem.BootstrapFailureWarning")
def test_bootstrap_result_round_trip(fitted):
    from lcsem import resampling as bootstrap_module
    from lcsem.resampling.result import bootstrap_result_from_dict, bootstrap_result_to_dict

    boot = bootstrap_module.bootstrap(fitted["political_democracy"], n_resamples=30, seed=3)
    back = bootstrap_result_from_dict(json.loads(json.dumps(bootstrap_result_to_dict(boot), allow_nan=False)))
    _assert_equal_values(boot, back)
    for method in ("percentile", "bc", "bca"):
        pd.testing.assert_frame_equal(back.ci(method=method), boot.ci(method=method))
    pd.testing.assert_series_equal(back.se, boot.se)
    assert back.summary() == boot.summary()
    slim = bootstrap_module.bootstrap(fitted["political_democracy"], n_resamples=10, seed=4)
    again = bootstrap_result_from_dict(bootstrap_result_to_dict(slim, include_jackknife=False))
    pd.testing.assert_frame_equal(again.ci(method="bc"), slim.ci(method="bc"))
    with pytest.raises(lcsem.ArgumentError, match="jackknife"):
        again.ci(method="bca")
    with pytest.raises(lcsem.ArgumentError, match="boot"):
        bootstrap_result_to_dict(fitted["holzinger_swineford"])


# ---------------------------------------------------------------------- issue 8
@pytest.mark.filterwarnings("ignore::lcsem.BootstrapFailureWarning")
def test_bootstrap_result_to_dict_and_from_dict_are_public_methods(fitted):
    boot = lcsem.bootstrap(fitted["political_democracy"], n_resamples=12, seed=5, progress=False)
    text = json.dumps(boot.to_dict(), allow_nan=False)
    back = lcsem.BootstrapResult.from_dict(json.loads(text))
    _assert_equal_values(boot, back)
    pd.testing.assert_frame_equal(back.ci(method="bca"), boot.ci(method="bca"))


@pytest.mark.filterwarnings("ignore::lcsem.BootstrapFailureWarning")
@pytest.mark.parametrize("tamper, word", [
    (lambda f: f.__setitem__("kind", "anything"), "kind"),
    (lambda f: f.__setitem__("n_resamples", 99), "n_resamples"),
    (lambda f: f["indices"].__setitem__("values", [10 ** 6] * len(f["indices"]["values"])), "indices"),
    (lambda f: f["status"].__setitem__("values", {"__lcsem__": "ndarray", "dtype": "object", "shape": [12],
                                                   "values": ["ok"] * 11 + ["os.system"]}), "status"),
    (lambda f: f.__setitem__("fit", 3), "fit"),
])
def test_bootstrap_payload_is_validated(fitted, tamper, word):
    # keep_indices: the indices are stored in the payload (else drawn again from the seed)
    boot = lcsem.bootstrap(fitted["political_democracy"], n_resamples=12, seed=5, progress=False,
                           keep_indices=True)
    payload = json.loads(json.dumps(boot.to_dict(include_jackknife=False), allow_nan=False))
    tamper(payload["result"]["fields"])
    with pytest.raises(lcsem.ArgumentError, match=word):
        lcsem.BootstrapResult.from_dict(payload)


def test_a_result_saved_without_data_refuses_analyses_that_need_the_data(fitted):
    slim = lcsem.FitResult.from_dict(fitted["holzinger_swineford"].to_dict(include_data=False))
    for call in (lambda: lcsem.bootstrap(slim, 10, progress=False), lambda: lcsem.measurement(slim),
                 lambda: lcsem.common_method_bias(slim)):
        with pytest.raises(lcsem.ArgumentError, match=r"holds no data.*include_data"):
            call()


def test_bootstrap_checkpoint_in_a_missing_folder_is_refused_before_work(fitted, tmp_path):
    missing = tmp_path / "no" / "such" / "boot.npz"
    with pytest.raises(lcsem.ArgumentError, match=r"checkpoint: the folder .* does not exist"):
        lcsem.bootstrap(fitted["holzinger_swineford"], 10, checkpoint=missing, progress=False)
    assert not missing.parent.exists()


def test_tampered_statement_numbers_are_refused_with_lcsem_errors(fitted):
    payload = fitted["holzinger_swineford"].to_dict()
    for value in ("1" * 400, 1e400, float("nan"), [1], True):
        bad = copy.deepcopy(payload)
        bad["model"]["statements"][1]["fixed"] = value
        with pytest.raises(lcsem.ArgumentError, match=r"payload: the stored model is invalid"):
            lcsem.FitResult.from_dict(bad)
    bad = copy.deepcopy(payload)
    bad["model"]["statements"][1]["extra"] = 1
    with pytest.raises(lcsem.ArgumentError, match="unknown fields"):
        lcsem.FitResult.from_dict(bad)
    bad = copy.deepcopy(payload)
    bad["sample_cov"]["names"][0] = "x1\nCONSTRAINT(x1 > 0)"
    with pytest.raises(lcsem.ArgumentError, match="sample_cov"):
        lcsem.FitResult.from_dict(bad)
