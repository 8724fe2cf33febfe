"""A catalogue of bad inputs: each raises an lcsem error that names the problem, and the
caller's DataFrame is unchanged afterwards."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lcsem
from lcsem import (ArgumentError, DataError, MissingColumnsError, ModelSpecificationError,
                   ModelSyntaxError, NotSupportedError)

MODEL = "f =~ x1 + x2 + x3\ng =~ x4 + x5 + x6\ng ~ f"


def _data() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    f = rng.standard_normal(120)
    g = 0.5 * f + rng.standard_normal(120)
    cols = {f"x{i}": (f if i <= 3 else g) + rng.standard_normal(120) for i in range(1, 7)}
    return pd.DataFrame({**cols, "group": ["a", "b"] * 60, "notes": [None] * 120})


def _with(**changes):
    def make():
        d = _data()
        for col, fn in changes.items():
            d[col] = fn(d)
        return d
    return make


def _dup_columns():
    d = _data()
    return pd.concat([d, d[["x1"]]], axis=1)


def _mostly_missing():
    d = _data()
    d.loc[5:, "x1"] = np.nan
    return d


def _some_missing():
    d = _data()
    d.loc[3, "x2"] = np.nan
    return d


CASES = [
    # (id, model, data factory, kwargs, error class, message pattern)
    ("missing column", MODEL.replace("x3", "x33"), _data, {}, MissingColumnsError, r"'x33' \(did you mean 'x3'"),
    ("text column", MODEL, _with(x2=lambda d: d["x2"].astype(str)), {}, DataError, r"column 'x2' is not numeric"),
    ("bool column", MODEL, _with(x4=lambda d: d["x4"] > 0), {}, DataError, r"column 'x4' is not numeric"),
    ("constant column", MODEL, _with(x5=lambda d: 3.0), {}, DataError, r"\['x5'\] are constant"),
    ("infinite values", MODEL, _with(x6=lambda d: d["x6"].where(d.index != 7, np.inf)), {}, DataError, r"\['x6'\] contain infinite"),
    ("all-missing column", MODEL, _with(x1=lambda d: np.nan), {}, DataError, r"\['x1'\] contain no values"),
    ("too few complete rows", MODEL, _mostly_missing, {}, DataError, r"only 5 complete rows of 120"),
    ("duplicated columns", MODEL, _dup_columns, {}, DataError, r"duplicated columns named \['x1'\]"),
    ("singular covariance", MODEL, _with(x3=lambda d: 2 * d["x1"]), {}, DataError, r"singular.*'x1', 'x3'"),
    ("missing='error'", MODEL, _some_missing, {"missing": "error"}, DataError, r"missing values in \{'x2': 1\}"),
    ("bad missing policy", MODEL, _data, {"missing": "pairwise"}, ArgumentError, r"missing: 'pairwise'.*'listwise'"),
    ("bad estimator", MODEL, _data, {"estimator": "WLSMV"}, ArgumentError, r"estimator: 'WLSMV'.*ML, GLS, ULS"),
    ("no operator", "f =~ x1 + x2 + x3\nx4 x5", _data, {}, ModelSyntaxError, r"line 2: no operator"),
    ("semopy CONSTRAINT", MODEL + "\nCONSTRAINT(__import__('os').system('touch HACKED') > 0)", _data, {},
     ModelSyntaxError, r"line 4: a statement cannot be a function call"),
    ("code in :=", MODEL.replace("g ~ f", "g ~ a*f") + "\nd := __import__('os').system('touch HACKED')", _data, {},
     ModelSyntaxError, r"line 4: the expression .* contains"),
    ("attribute in :=", MODEL.replace("g ~ f", "g ~ a*f") + "\nd := a.__class__", _data, {},
     ModelSyntaxError, r"found Attribute"),
    ("unknown label in :=", MODEL + "\nd := a*b", _data, {}, ModelSyntaxError, r"line 4: a, b in ':=' are not labels"),
    ("duplicate statement", MODEL + "\ng ~ f", _data, {}, ModelSyntaxError, r"line 4: 'g ~ f' is specified twice \(first on line 3\)"),
    ("invalid name", "f =~ x1 + 2x + x3", _data, {}, ModelSyntaxError, r"'2x' is not a valid variable name"),
    ("intercepts", MODEL + "\nx1 ~ 1", _data, {}, NotSupportedError, r"line 4: intercepts"),
    ("equality constraint", MODEL + "\na == b", _data, {}, NotSupportedError, r"line 4: equality constraints"),
    ("feedback loop", "y1 ~ y2\ny2 ~ y1", lambda: pd.DataFrame({"y1": [1.0, 2, 3, 4], "y2": [2.0, 1, 4, 3]}), {},
     ModelSpecificationError, r"loop"),
    ("empty model", "# nothing here\n", _data, {}, ModelSyntaxError, r"no statements"),
    ("model of wrong type", 42, _data, {}, ArgumentError, r"model: expected an lcsem.Model"),
    ("not identified", "f =~ x1 + x2\nx1 ~~ x2", _data, {}, ModelSpecificationError, r"df = -2.*not identified"),
    ("data not a DataFrame", MODEL, lambda: _data()[["x1", "x2"]].to_numpy(), {}, ArgumentError, r"data: expected a pandas DataFrame"),
    ("negative fixed variance", MODEL + "\nf ~~ -1*f", _data, {}, ModelSyntaxError, r"cannot be fixed to a negative"),
    ("bad modifier", "f =~ x1 + s(1)*x2 + x3", _data, {}, ModelSyntaxError, r"cannot read the modifier 's\(1\)'"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_raises_named_error(case, tmp_path, monkeypatch):
    _, model, make_data, kwargs, error, pattern = case
    monkeypatch.chdir(tmp_path)
    data = make_data()
    before = data.copy() if isinstance(data, pd.DataFrame) else data.copy()
    with pytest.raises(error, match=pattern) as info:
        lcsem.fit(model, data, **kwargs)
    assert isinstance(info.value, lcsem.LcsemError)
    if isinstance(data, pd.DataFrame):
        pd.testing.assert_frame_equal(data, before)
    assert not Path("HACKED").exists()      # nothing in the model text ran


ARGUMENT_CASES = [
    ("simulate n", lambda: lcsem.simulate(lcsem.lc_model(), -5), r"n: -5 is not a whole number"),
    ("simulate likert", lambda: lcsem.simulate(lcsem.lc_model(), 10, likert=4), r"likert: 4 is not supported"),
    ("simulate params key", lambda: lcsem.simulate(lcsem.lc_model(), 10, params={"kmsuse<-culture": 0.3}),
     r"key 'kmsuse<-culture' is not of the form"),
    ("simulate unknown param", lambda: lcsem.simulate(lcsem.lc_model(), 10, params={"perf ~ nothing": 0.3}),
     r"\['perf ~ nothing'\] are not parameters"),
    ("simulate R2 >= 1", lambda: lcsem.simulate(lcsem.lc_model(), 10, params={"culture =~ lc_team": 1.2}),
     r"no residual variance for \['lc_team'\]"),
    ("builder unknown construct", lambda: lcsem.lc_model().add_indicator("learning", "x"),
     r"construct: 'learning' is not a construct.*\['culture', 'kmsuse', 'perf'\]"),
    ("builder bad name", lambda: lcsem.lc_model().add_path("perf", "org size"), r"predictor: 'org size' is not a valid"),
    ("builder missing path", lambda: lcsem.lc_model().remove_path("culture", "perf"), r"no path culture ~ perf"),
    ("read_data missing file", lambda: lcsem.read_data("no/such/file.csv"), r"path: 'no/such/file.csv' does not exist"),
    ("read_data file type", lambda: lcsem.read_data(__file__), r"unsupported file type '.py'"),
    ("summary format", lambda: lcsem.fit(MODEL, _data()).summary("pdf"), r"format: 'pdf'"),
    ("dataset name", lambda: lcsem.datasets.path_of("iris"), r"name: 'iris' is not a bundled data set"),
]


@pytest.mark.parametrize("case", ARGUMENT_CASES, ids=[c[0] for c in ARGUMENT_CASES])
def test_bad_argument_raises_named_error(case):
    _, call, pattern = case
    with pytest.raises(lcsem.LcsemError, match=pattern):
        call()


def test_constraint_text_never_reaches_semopy(tmp_path, monkeypatch):
    """Even the parser alone refuses semopy's CONSTRAINT syntax before anything runs."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelSyntaxError, match="line 1: a statement cannot be a function call"):
        lcsem.Model.from_syntax("CONSTRAINT(__import__('os').system('touch HACKED')>0)")
    assert not (tmp_path / "HACKED").exists()


def test_unused_columns_are_ignored_whatever_they_hold():
    data = _data()
    data["free_text"] = ["anything", None] * 60
    data["all_missing"] = np.nan
    data["inf"] = np.inf
    result = lcsem.fit(MODEL, data)
    assert result.n_obs == 120 and list(result.data.columns) == [f"x{i}" for i in range(1, 7)]


def test_ordinal_data_warning():
    data = _data()
    for c in ("x1", "x2", "x3"):
        data[c] = np.digitize(data[c], [-1, 0, 1]).astype(float)
    with pytest.warns(lcsem.OrdinalDataWarning, match=r"\['x1', 'x2', 'x3'\] have 4 or fewer"):
        result = lcsem.fit(MODEL, data)
    assert any("4 or fewer integer categories" in w for w in result.warnings)
