"""Nothing a user or a file supplies ever executes code.

Every public way of building a model (model text, every builder, the Model constructor,
saved FitResult and BootstrapResult payloads, the command line, and the analyses that
refit a stored model) is driven with hostile names and labels. Each must raise an
lcsem error, and a canary file that the payloads try to create must never appear.
semopy evaluates ``CONSTRAINT(...)`` lines as Python, so the text lcsem hands to semopy
is also checked line by line against a strict whitelist.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lcsem
from lcsem import LcsemError, Model
from lcsem.reporting.document import report
from lcsem.spec.partable import ParRow
from lcsem.spec.syntax import Statement

ROOT = Path(__file__).resolve().parents[1]
MODEL = "f =~ x1 + x2 + x3\ng =~ x4 + x5 + x6\ng ~ a*f\nx1 ~~ x4"


@pytest.fixture
def canary(tmp_path, monkeypatch):
    """Path of a file every payload tries to create; the test fails if it exists."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "PWNED"
    yield path
    assert not path.exists(), "a hostile name or label executed code"
    assert not (tmp_path / "CANARY").exists(), "a hostile name or label executed code"


def hostile(canary_path: Path) -> list[str]:
    """Hostile names and labels (the first is the one that ran a shell command before)."""
    touch = f"__import__('os').system('touch {canary_path}')"
    return [
        f"a*x1\nCONSTRAINT({touch} > 0)\nx3 ~~ b",          # newline + semopy CONSTRAINT line
        f'x"); import os; os.system("touch {canary_path}") #',
        f"CONSTRAINT({touch} > 0)",
        "__import__('os')",
        f"constraint: {touch} > 0",
        "x1\n",                                              # trailing newline
        "x1\r\nCONSTRAINT(x1 > 0)",
        "x1\u2028CONSTRAINT(x1 > 0)",                      # unicode line separator
        "f\u223cx1",                                        # '∼', which semopy turns into '~'
        "\uff58\uff11",                                     # fullwidth 'x1'
        "x\u00e91",                                         # non-ASCII letter
        "x1 ",
        "a b",
        "x1\x00",
        "1x",
        "",
        "a" * 300,
    ]


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 300
    f = rng.standard_normal(n)
    g = 0.5 * f + rng.standard_normal(n)
    cols = {f"x{i}": 0.8 * (f if i <= 3 else g) + rng.standard_normal(n) for i in range(1, 7)}
    return pd.DataFrame(cols)


@pytest.fixture(scope="module")
def result(data):
    return lcsem.fit(MODEL, data)


# ---------------------------------------------------------------------- model text
def test_model_text_refuses_hostile_names_and_labels(canary):
    for bad in hostile(canary):
        for text in (f"f =~ {bad}*x1 + x2 + x3", f"f =~ x1 + x2 + {bad}", f"{bad} =~ x1 + x2 + x3",
                     f"f =~ x1 + x2 + x3\nd := {bad}"):
            if bad in ("x1 ",):      # trailing blanks are not part of a name in model text
                continue
            with pytest.raises(LcsemError):
                Model.from_syntax(text)


# ---------------------------------------------------------------------- builders
BUILDERS = {
    "add_construct(name)": lambda m, h: m.add_construct(h, ["x7", "x8"]),
    "add_construct(indicators)": lambda m, h: m.add_construct("k", ["x7", h]),
    "add_indicator": lambda m, h: m.add_indicator("f", h),
    "add_path(outcome)": lambda m, h: m.add_path(h, "f"),
    "add_path(predictor)": lambda m, h: m.add_path("g", h),
    "add_path(label)": lambda m, h: m.add_path("x2", "x5", label=h),
    "add_covariance(a)": lambda m, h: m.add_covariance(h, "x2"),
    "add_covariance(b)": lambda m, h: m.add_covariance("x2", h),
    "add_covariance(label)": lambda m, h: m.add_covariance("x2", "x5", label=h),
    "add_control(control)": lambda m, h: m.add_control(h),
    "add_control(outcomes)": lambda m, h: m.add_control("age", [h]),
    "define(name)": lambda m, h: m.define(h, "a*2"),
    "define(expression)": lambda m, h: m.define("d", h),
}


@pytest.mark.parametrize("builder", list(BUILDERS))
def test_every_builder_refuses_hostile_names_and_labels(builder, canary, data):
    base = Model.from_syntax(MODEL)
    for bad in hostile(canary):
        if bad == "" and builder.endswith("(label)"):
            continue              # "" means "no label"
        with pytest.raises(LcsemError):
            model = BUILDERS[builder](base, bad)
            lcsem.fit(model, data.assign(x7=data.x1, x8=data.x2, age=data.x3))  # pragma: no cover


def test_builder_errors_cite_the_builder_call():
    model = Model.from_syntax(MODEL)
    with pytest.raises(LcsemError, match=r"^add_path\(outcome='x y', predictor='f'\): outcome"):
        model.add_path("x y", "f")
    with pytest.raises(LcsemError, match=r"^add_covariance\(a='x2', b='x5', label='1a'\): label"):
        model.add_covariance("x2", "x5", label="1a")
    with pytest.raises(LcsemError, match=r"^add_path\(outcome='g', predictor='f'\): the path g ~ f"):
        model.add_path("g", "f")
    # an error found while building the parameter table names the call, not 'line 0'
    with pytest.raises(LcsemError, match=r"^add_path\(outcome='x1', predictor='x1'\):") as info:
        model.add_path("x1", "x1")
    assert "line 0" not in str(info.value)


# ---------------------------------------------------------------------- the constructor
def _statements() -> list[Statement]:
    return list(Model.from_syntax(MODEL).statements)


def _replace(i: int, **changes) -> list[Statement]:
    statements = _statements()
    fields = {**statements[i].__dict__, **changes}
    statements[i] = Statement(**fields)
    return statements


def test_model_constructor_validates_every_statement_field(canary, data):
    for bad in hostile(canary):
        for field in ("lhs", "rhs", "label"):
            if field == "label" and bad == "":
                continue          # "" means "no label"
            with pytest.raises(LcsemError):
                lcsem.fit(Model(tuple(_replace(0, **{field: bad}))), data)
        with pytest.raises(LcsemError):
            Model(tuple(_replace(0, op=bad)))
        statements = _statements() + [Statement("d", ":=", bad, 0)]
        with pytest.raises(LcsemError):
            Model(tuple(statements))
    for value in (float("nan"), float("inf"), -float("inf"), 1e300, 10 ** 400, "1", True):
        with pytest.raises(LcsemError):
            Model(tuple(_replace(1, fixed=value)))
        with pytest.raises(LcsemError):
            Model(tuple(_replace(1, start=value)))
    with pytest.raises(LcsemError):
        Model(tuple(_replace(1, free_forced="yes")))
    with pytest.raises(LcsemError):
        Model(tuple(_statements() + ["f =~ x9"]))          # not a Statement
    with pytest.raises(LcsemError):
        Model("f =~ x1 + x2 + x3")                          # text, not statements


def test_model_constructor_refuses_bad_descriptions_and_population():
    statements = tuple(_statements())
    with pytest.raises(LcsemError):
        Model(statements, descriptions={"f": object()})
    with pytest.raises(LcsemError):
        Model(statements, population={"g ~ f": float("nan")})
    with pytest.raises(LcsemError):
        Model(statements, std_lv="yes")


# ---------------------------------------------------------------------- saved results
def _tampered_payloads(result, bad: str):
    payload = json.loads(json.dumps(result.to_dict()))
    out = []
    for field in ("lhs", "rhs", "label", "op"):
        if field == "label" and bad == "":
            continue              # "" means "no label"
        p = copy.deepcopy(payload)
        p["model"]["statements"][2][field] = bad
        out.append(p)
    p = copy.deepcopy(payload)
    p["model"]["statements"][2]["fixed"] = bad
    out.append(p)
    p = copy.deepcopy(payload)                      # text-only payloads go through the parser
    p["model"]["statements"] = []
    p["model"]["syntax"] = f"f =~ x1 + x2 + x3\ng =~ x4 + x5 + x6\ng ~ {bad}*f"
    out.append(p)
    p = copy.deepcopy(payload)                      # the estimates table must describe the model
    labels = p["estimates"]["data"]["label"]
    labels[labels.index("a")] = bad
    out.append(p)
    p = copy.deepcopy(payload)
    p["estimates"]["data"]["lhs"][0] = bad
    out.append(p)
    p = copy.deepcopy(payload)
    p["model"]["descriptions"] = {"f": [bad]}
    out.append(p)
    return out


def test_fit_result_from_dict_refuses_tampered_names_labels_and_ops(result, canary):
    for bad in hostile(canary):
        for payload in _tampered_payloads(result, bad):
            with pytest.raises(LcsemError):
                again = lcsem.FitResult.from_dict(payload)
                lcsem.measurement(again)     # pragma: no cover - would refit through semopy


def test_fit_result_from_dict_refuses_an_unknown_estimator(result):
    payload = result.to_dict()
    payload["estimator"] = "ML; __import__('os')"
    with pytest.raises(LcsemError, match="estimator"):
        lcsem.FitResult.from_dict(payload)


def _tamper_labels(node, bad: str) -> int:
    """Set every statement label 'a' inside a nested payload to ``bad``; count them."""
    count = 0
    if isinstance(node, dict):
        if node.get("label") == "a" and "op" in node:
            node["label"] = bad
            count += 1
        for value in node.values():
            count += _tamper_labels(value, bad)
    elif isinstance(node, list):
        for value in node:
            count += _tamper_labels(value, bad)
    return count


def test_bootstrap_result_from_dict_refuses_a_tampered_fit(result, canary):
    boot = lcsem.bootstrap(result, 5, seed=1, progress=False)
    text = json.dumps(boot.to_dict(include_jackknife=False))
    again = lcsem.BootstrapResult.from_dict(json.loads(text))
    assert again.n_resamples == 5
    for bad in hostile(canary):
        tampered = json.loads(text)
        assert _tamper_labels(tampered, bad) > 0
        with pytest.raises(LcsemError):
            again = lcsem.BootstrapResult.from_dict(tampered)
            lcsem.bootstrap(again.fit, 5, seed=1, progress=False)   # pragma: no cover


def test_analyses_of_a_forged_model_never_reach_semopy_with_its_text(result, canary, data):
    """Bypass the Model's validation entirely (as a hostile pickle or a bug could) and
    check that report, measurement, common_method_bias and the bootstrap fallbacks
    still never hand semopy a hostile line."""
    bad = hostile(canary)[0]
    forged = copy.copy(result.model)
    statements = list(forged.statements)
    statements[2] = Statement(statements[2].lhs, "~", statements[2].rhs, 3, label=bad)
    object.__setattr__(forged, "statements", tuple(statements))
    forged.__dict__.pop("rows", None)
    forged.__dict__.pop("roles", None)
    from lcsem.engine.semopy_backend import semopy_estimates, semopy_syntax

    text = semopy_syntax(forged.rows)
    assert "CONSTRAINT" not in text and "__import__" not in text
    S = data[list(forged.observed)].cov().to_numpy()
    semopy_estimates(forged.rows, S, forged.observed, len(data))
    res = lcsem.fit(forged, data)        # forged labels are only a grouping of parameters
    for call in (lambda: lcsem.measurement(res), lambda: lcsem.common_method_bias(res),
                 lambda: report(res, measurement=True)):
        try:
            call()
        except LcsemError:
            pass


def test_semopy_text_refuses_a_non_finite_fixed_value():
    from lcsem.engine.semopy_backend import semopy_syntax

    rows = [ParRow("f", "=~", "x1", "", 0, float("nan")), ParRow("f", "=~", "x2", "", 1)]
    with pytest.raises(LcsemError, match="finite"):
        semopy_syntax(rows)


# ---------------------------------------------------------------------- whitelist of semopy text
SEMOPY_LINE = re.compile(r"[olp][0-9]+ (=~|~~|~) (?:(?:-?[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?|[olp][0-9]+)\*)?"
                         r"[olp][0-9]+", re.ASCII)


def test_every_text_given_to_semopy_matches_a_strict_whitelist(monkeypatch, data, canary):
    import semopy

    texts: list[str] = []
    original = semopy.Model.__init__

    def spy(self, description, *args, **kwargs):
        texts.append(description)
        return original(self, description, *args, **kwargs)

    monkeypatch.setattr(semopy.Model, "__init__", spy)
    # names and labels that mean something to semopy's parser: all must arrive renamed
    odd = data.rename(columns={"x1": "START", "x2": "CONSTRAINT", "x3": "nan", "x4": "inf",
                               "x5": "e1", "x6": "_x.1"})
    models = [MODEL,
              "f =~ START + CONSTRAINT + nan\ng =~ inf + e1 + _x.1\ng ~ inf*f\nSTART ~~ NaN*inf",
              "f =~ x1 + x2 + x3\ng =~ x4 + x5 + x6\ng ~ 0.5*f",
              lcsem.Model.from_syntax("f =~ x1 + x2 + x3 + x4", std_lv=True)]
    for model in models:
        frame = odd if "START" in str(model) else data
        res = lcsem.fit(model, frame, engine="semopy")
        assert res.converged
        lcsem.measurement(res)
    lcsem.bootstrap(res, 3, seed=1, progress=False)
    assert len(texts) >= len(models)
    for text in texts:
        for line in text.splitlines():
            assert SEMOPY_LINE.fullmatch(line), f"unexpected text given to semopy: {line!r}"


def test_labels_that_mean_numbers_to_semopy_are_only_labels(data):
    """A label 'inf' or 'nan' once reached semopy as a fixed value; estimates must not
    depend on how parameters are named."""
    plain = lcsem.fit("f =~ x1 + a*x2 + a*x3\ng =~ x4 + x5 + x6\ng ~ b*f", data)
    odd = lcsem.fit("f =~ x1 + inf*x2 + inf*x3\ng =~ x4 + x5 + x6\ng ~ nan*f", data)
    np.testing.assert_allclose(odd.estimates["est"], plain.estimates["est"], rtol=1e-8, atol=1e-10)


# ---------------------------------------------------------------------- command line
def test_cli_fit_refuses_a_hostile_model_file(tmp_path, data, canary):
    csv = tmp_path / "data.csv"
    data.to_csv(csv, index=False)
    for i, bad in enumerate(hostile(canary)[:4]):
        model = tmp_path / f"model{i}.txt"
        model.write_text(f"f =~ x1 + x2 + x3\ng =~ x4 + x5 + x6\ng ~ {bad}*f\n", encoding="utf-8")
        done = subprocess.run([sys.executable, "-m", "lcsem.cli", "fit", str(csv), "--model", str(model)],
                              capture_output=True, text=True, cwd=tmp_path, timeout=120,
                              env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("lcsem: error:"), done.stderr
        assert "Traceback" not in done.stderr
