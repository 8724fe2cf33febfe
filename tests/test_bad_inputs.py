"""A catalogue of bad inputs: each raises an lcsem error that names the problem, and the
caller's DataFrame is unchanged afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
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
    ("equality constraint", MODEL + "\na == b", _data, {}, NotSupportedError, r"line 4: equality constraints"),
    ("feedback loop", "y1 ~ y2\ny2 ~ y1", lambda: pd.DataFrame({"y1": [1.0, 2, 3, 4], "y2": [2.0, 1, 4, 3]}), {},
     ModelSpecificationError, r"loop"),
    ("empty model", "# nothing here\n", _data, {}, ModelSyntaxError, r"no statements"),
    ("model of wrong type", 42, _data, {}, ArgumentError, r"model: expected an lcsem.Model"),
    ("not identified", "f =~ x1 + x2\nx1 ~~ x2", _data, {}, ModelSpecificationError, r"df = -2.*not identified"),
    ("data not a DataFrame", MODEL, lambda: _data()[["x1", "x2"]].to_numpy(), {}, ArgumentError, r"data: expected a pandas DataFrame"),
    ("negative fixed variance", MODEL + "\nf ~~ -1*f", _data, {}, ModelSyntaxError, r"cannot be fixed to a negative"),
    ("bad modifier", "f =~ x1 + s(1)*x2 + x3", _data, {}, ModelSyntaxError, r"cannot read the modifier 's\(1\)'"),
    # issue 8: refusals that used to be silent wrong answers or raw exceptions
    ("latent named like a column", MODEL, _with(f=lambda d: d["x1"]), {}, DataError,
     r"latent variables \['f'\] have the names of data columns.*rename the construct"),
    ("correlation matrix as data", MODEL, lambda: _data()[[f"x{i}" for i in range(1, 7)]].corr(), {}, DataError,
     r"covariance or correlation matrix.*sample_cov=.*sample_nobs="),
    ("complex column", MODEL, _with(x2=lambda d: d["x2"] + 1j), {}, DataError, r"column 'x2' holds complex numbers"),
    ("400-digit fixed value", MODEL.replace("x2", "1" * 400 + "*x2"), _data, {}, ModelSyntaxError,
     r"line 1: the number 111.*\(400 characters\) is too large"),
    ("infinite start value", MODEL.replace("x2", "start(1e999)*x2"), _data, {}, ModelSyntaxError, r"1e999 is too large"),
    ("400-digit number in :=", MODEL.replace("g ~ f", "g ~ a*f") + "\nd := " + "9" * 400 + "*a", _data, {},
     ModelSyntaxError, r"too large for a float"),
    (":= with 5,000 terms", MODEL.replace("g ~ f", "g ~ a*f") + "\nd := " + "+".join(["a"] * 5000), _data, {},
     ModelSyntaxError, r"4999 operators.*split it into several ':='"),
    ("arrow =>", MODEL + "\ng => f", _data, {}, ModelSyntaxError, r"'=>' is not lavaan syntax.*'y ~ x'"),
    ("arrow <->", MODEL + "\nx1 <-> x2", _data, {}, ModelSyntaxError, r"'<->' is not lavaan syntax.*'a ~~ b'"),
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
    ("simulate likert", lambda: lcsem.simulate(lcsem.lc_model(), 10, likert=12), r"likert: 12 is not a number of categories from 2 to 10"),
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
    ("read_data folder", lambda: lcsem.read_data(Path(__file__).parent), r"path: .* is a folder"),
    ("builder duplicate covariance", lambda: lcsem.lc_model().add_covariance("lc_team", "lc_inquiry")
     .add_covariance("lc_inquiry", "lc_team"), r"^add_covariance\(a='lc_inquiry', b='lc_team'\): the covariance"),
    ("builder := names the call", lambda: lcsem.lc_model().define("d", "a*zz"),
     r"^define\(name='d', expression='a\*zz'\): zz in ':=' is not a label"),
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


# ---------------------------------------------------------------------- files
def _write(tmp_path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_read_data_refuses_an_empty_csv(tmp_path):
    with pytest.raises(DataError, match=r"is empty; it needs a header line"):
        lcsem.read_data(_write(tmp_path, "empty.csv", b""))
    with pytest.raises(DataError, match=r"is empty"):
        lcsem.read_data(_write(tmp_path, "blank.csv", b"\n\n"))


def test_read_data_refuses_duplicate_csv_headers(tmp_path):
    path = _write(tmp_path, "dupes.csv", b"x1,x2,x1\n1,2,3\n4,5,6\n")
    with pytest.raises(DataError, match=r"duplicated column names \['x1'\]"):
        lcsem.read_data(path)


def test_read_data_sniffs_semicolon_separated_files(tmp_path):
    path = _write(tmp_path, "eu.csv", b"x1;x2;x3\n1,5;2;3\n4;5,25;6\n")
    frame = lcsem.read_data(path)
    assert list(frame.columns) == ["x1", "x2", "x3"]
    assert frame["x1"].tolist() == [1.5, 4.0] and frame["x2"].tolist() == [2.0, 5.25]
    plain = lcsem.read_data(_write(tmp_path, "plain.csv", b"x1;x2\n1.5;2\n3;4\n"))
    assert plain["x1"].tolist() == [1.5, 3.0]
    commas = lcsem.read_data(_write(tmp_path, "commas.csv", b'x1,x2,note\n1,2,"a; b"\n3,4,c\n'))
    assert list(commas.columns) == ["x1", "x2", "note"]


def test_read_data_reports_non_utf8_text(tmp_path):
    path = _write(tmp_path, "latin.csv", "x1,x2\n1,2\n".encode() + "\u00e9,3\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"encoding='latin-1'"):
        lcsem.read_data(path)


def test_read_data_turns_pyreadstat_errors_into_data_errors(tmp_path):
    pytest.importorskip("pyreadstat")
    with pytest.raises(DataError, match=r"cannot read .* as an SPSS file"):
        lcsem.read_data(_write(tmp_path, "broken.sav", b"this is not SPSS"))


# ---------------------------------------------------------------------- no hangs, no logging
def _run(code: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})


def test_equal_labelled_loadings_with_std_lv_return():
    """semopy's start-value search looped forever when no loading was fixed or unlabelled
    (issue 9); run in a subprocess so that a regression fails instead of hanging."""
    code = r"""
import numpy as np, pandas as pd, lcsem
rng = np.random.default_rng(3)
f = rng.standard_normal(250)
d = pd.DataFrame({f"x{i}": 0.7 * f + rng.standard_normal(250) for i in range(1, 7)})
m = lcsem.Model.from_syntax("f =~ a*x1 + a*x2 + a*x3 + a*x4", std_lv=True)
res = lcsem.fit(m, d)
own = lcsem.fit(m, d, use_semopy=False)
assert res.converged
load = res.estimates.query("op == '=~'")["est"].to_numpy()
assert np.ptp(load) == 0 and np.allclose(load, own.estimates.query("op == '=~'")["est"], atol=1e-8)
lcsem.measurement(res)
higher = lcsem.Model.from_syntax("f1 =~ a*x1 + a*x2 + a*x3\nf2 =~ x4 + x5 + x6\nh =~ f1 + f2", std_lv=True)
try:
    lcsem.fit(higher, d)
except lcsem.LcsemError:
    pass
print("done")
"""
    try:
        done = _run(code, timeout=240)
    except subprocess.TimeoutExpired:
        pytest.fail("fitting a std_lv model with equal labelled loadings did not return in 240 s")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "done"


def test_semopy_would_hang_detects_every_unreferenced_latent():
    from lcsem.engine.semopy_backend import semopy_would_hang

    def rows(text, std_lv=False):
        return lcsem.Model.from_syntax(text, std_lv=std_lv).rows

    assert semopy_would_hang(rows("f =~ a*x1 + a*x2 + a*x3", std_lv=True))
    assert semopy_would_hang(rows("f1 =~ a*x1 + a*x2 + a*x3\nf2 =~ x4 + x5 + x6\nh =~ f1 + f2", std_lv=True))
    assert not semopy_would_hang(rows("f1 =~ a*x1 + a*x2 + a*x3\nf2 =~ x4 + x5 + x6\nh =~ f1 + f2"))
    assert not semopy_would_hang(rows("f =~ x1 + x2 + x3", std_lv=True))
    assert not semopy_would_hang(rows("f =~ a*x1 + a*x2 + x3", std_lv=True))
    assert not semopy_would_hang(rows("f =~ x1 + a*x2 + a*x3"))


def test_fit_never_configures_logging_or_prints():
    """semopy logs through logging's module-level functions, which call basicConfig()
    and print 'WARNING:root:...'. Checked in a subprocess: pytest's logging plugin would
    hide the bug in-process."""
    code = r"""
import logging
records = []
class Keep(logging.Handler):
    def emit(self, record):
        records.append(record)
logging.getLogger("lcsem.semopy").addHandler(Keep())
logging.getLogger("lcsem.semopy").setLevel(logging.DEBUG)
import lcsem
d = lcsem.datasets.load_holzinger_swineford()
res = lcsem.fit("visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9", d, engine="semopy")
assert res.converged
assert records, "semopy logged nothing: the test cannot see the bug"
assert logging.getLogger().handlers == [], logging.getLogger().handlers
logging.basicConfig(level=logging.INFO, format="APP %(name)s %(message)s")
lcsem.fit("visual =~ x1 + x2 + x3", d, engine="semopy")
"""
    done = _run(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    # after the application configures logging, its own format is used (basicConfig worked)
    assert all(line.startswith("APP ") for line in done.stderr.splitlines()), done.stderr
    assert "WARNING:root" not in done.stderr


def test_import_of_lcsem_and_semopy_leaves_the_root_logger_alone():
    code = r"""
import logging
from lcsem.engine.semopy_backend import import_semopy
import_semopy()
assert logging.getLogger().handlers == [], logging.getLogger().handlers
"""
    done = _run(code)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and done.stdout == ""
