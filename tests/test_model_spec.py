"""Model text, the parameter table, builders and the canonical models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import lcsem
from lcsem.spec.syntax import parse_syntax

HS = """
# Holzinger-Swineford
visual  =~ x1 + x2 + x3   ! three tests each
textual =~ x4 + x5 + x6; speed =~ x7 +
           x8 + x9
"""


def test_syntax_reads_comments_semicolons_and_continuations():
    model = lcsem.Model.from_syntax(HS)
    assert model.latent == ("visual", "textual", "speed")
    assert model.observed == tuple(f"x{i}" for i in range(1, 10))
    assert model.n_free == 21 and model.df == 24


def test_modifiers_fixed_label_free_start():
    model = lcsem.Model.from_syntax("f =~ NA*x1 + a*x2 + a*x3 + start(0.5)*x4\nf ~~ 1*f\ny ~ 0.3*f")
    table = model.partable.set_index(["lhs", "op", "rhs"])
    assert table.loc[("f", "=~", "x1"), "free"] > 0          # NA frees the first loading
    assert table.loc[("f", "=~", "x2"), "free"] == table.loc[("f", "=~", "x3"), "free"]  # shared label
    assert table.loc[("f", "=~", "x4"), "value"] == 0.5       # start value
    assert table.loc[("f", "~~", "f"), "free"] == 0 and table.loc[("f", "~~", "f"), "value"] == 1.0
    assert table.loc[("y", "~", "f"), "free"] == 0 and table.loc[("y", "~", "f"), "value"] == 0.3


def test_defaults_follow_lavaan():
    model = lcsem.Model.from_syntax("f1 =~ a1 + a2 + a3\nf2 =~ b1 + b2 + b3\ny1 ~ f1\ny2 ~ f1 + x")
    table = model.partable
    keys = set(zip(table.lhs, table.op, table.rhs))
    assert ("f1", "=~", "a1") in keys and table.iloc[0]["free"] == 0   # first loading fixed
    assert ("f1", "~~", "f2") in keys            # exogenous latent variables covary
    assert ("y1", "~~", "y2") in keys            # pure outcomes' residuals covary (auto.cov.y)
    assert ("f1", "~~", "x") not in keys         # latent and observed predictors do not
    assert all((v, "~~", v) in keys for v in model.observed + model.latent)


def test_std_lv_frees_loadings_and_fixes_variances():
    model = lcsem.Model.from_syntax("f =~ x1 + x2 + x3", std_lv=True)
    table = model.partable.set_index(["lhs", "op", "rhs"])
    assert (table.loc[("f", "=~", "x1"), "free"]) > 0
    assert table.loc[("f", "~~", "f"), "free"] == 0 and table.loc[("f", "~~", "f"), "value"] == 1.0


def test_to_syntax_round_trips():
    for model in (lcsem.lc_model(), lcsem.lc_extended_model(),
                  lcsem.Model.from_syntax("f =~ NA*x1 + a*x2 + 1*x3 + start(2)*x4\nf ~~ 1*f\nd := a^2")):
        again = lcsem.Model.from_syntax(model.to_syntax())
        assert again == model
        assert again.partable.equals(model.partable)


def test_defined_parameters_and_delta_se(fitted, reference):
    est = fitted["learning_culture_survey"].estimates.set_index("lhs")
    labelled = fitted["learning_culture_survey"].estimates.set_index("label")
    assert est.loc["ind", "est"] == pytest.approx(labelled.loc["a", "est"] * labelled.loc["b", "est"])
    lav = {r["lhs"]: r for r in reference["learning_culture_survey"]["params"] if r["op"] == ":="}
    for name in ("ind", "total"):
        assert est.loc[name, "se"] == pytest.approx(lav[name]["se"], abs=1e-3)
        assert est.loc[name, "std_all"] == pytest.approx(lav[name]["std.all"], abs=1e-3)


def test_builders_return_new_models_and_refit():
    base = lcsem.lc_model()
    extended = (base.add_construct("mgmt", ["m1", "m2", "m3"], description="Managerial competencies")
                .add_path("culture", "mgmt").add_control("org_size"))
    assert base.latent == ("culture", "kmsuse", "perf")       # unchanged
    assert "mgmt" in extended.latent and ("culture", "~", "mgmt") in {
        (r.lhs, r.op, r.rhs) for r in extended.rows}
    assert ("kmsuse", "~", "org_size") in {(r.lhs, r.op, r.rhs) for r in extended.rows}
    assert extended.describe().set_index("name").loc["mgmt", "description"] == "Managerial competencies"
    smaller = base.remove_indicator("culture", "lc_connect").remove_path("perf", "culture")
    assert "lc_connect" not in smaller.observed
    assert "total" not in {r.lhs for r in smaller.rows if r.op == ":="}  # its label c is gone
    assert "ind" in {r.lhs for r in smaller.rows if r.op == ":="}
    cov = base.add_covariance("kms_frequency", "kms_breadth")
    assert cov.n_free == base.n_free + 1
    assert cov.remove_covariance("kms_breadth", "kms_frequency") == base
    data = lcsem.simulate(extended.with_population({"culture ~ mgmt": 0.3}), 300, seed=3)
    assert lcsem.fit(extended, data).converged


def test_canonical_model_is_documented():
    model = lcsem.lc_model()
    assert len(model.indicators_of("culture")) == 7
    assert len(model.indicators_of("kmsuse")) >= 4 and len(model.indicators_of("perf")) >= 4
    paths = {(r.lhs, r.rhs) for r in model.rows if r.op == "~"}
    assert paths == {("kmsuse", "culture"), ("perf", "kmsuse"), ("perf", "culture")}
    described = model.describe()
    assert (described["description"].str.len() > 10).all()
    assert set(described["name"]) == set(model.latent) | set(model.observed)
    ext = lcsem.lc_extended_model()
    assert {"mgmt_comp", "learning_proc", "emp_ability"} <= set(ext.latent) and len(ext.latent) == 6
    assert (ext.describe()["description"].str.len() > 10).all()
    # every structural parameter has a documented population value
    for m in (model, ext):
        for r in m.rows:
            if r.op in ("=~", "~"):
                assert f"{r.lhs} {r.op} {r.rhs}" in m.population


def test_statement_order_of_parse():
    st = parse_syntax("y ~ b*m + c*x\nm ~ a*x\nind := a * b")
    assert [(s.lhs, s.op, s.rhs, s.label) for s in st] == [
        ("y", "~", "m", "b"), ("y", "~", "x", "c"), ("m", "~", "x", "a"), ("ind", ":=", "a*b", "")]


def test_heywood_case_is_reported_not_hidden():
    """A just-identified factor whose sample correlations force a loading above 1."""
    rng = np.random.default_rng(0)
    target = np.array([[1.0, 0.8, 0.8], [0.8, 1.0, 0.5], [0.8, 0.5, 1.0]])  # lambda1^2 = 1.28
    z = rng.standard_normal((200, 3))
    z = (z - z.mean(0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(z.T, bias=True)).T)
    data = pd.DataFrame(z @ np.linalg.cholesky(target).T, columns=["x1", "x2", "x3"])
    with pytest.warns(lcsem.NonAdmissibleWarning, match="negative variance of x1"):
        result = lcsem.fit("f =~ x1 + x2 + x3", data)
    assert not result.admissible
    est = result.estimates.set_index(["lhs", "op", "rhs"])
    assert est.loc[("x1", "~~", "x1"), "est"] < 0              # semopy would stop at 0
    assert est.loc[("f", "=~", "x1"), "std_all"] > 1
    assert any("standardised loading" in r for r in result.inadmissible)
    assert "INADMISSIBLE" in repr(result) and "INADMISSIBLE" in result.summary()


def test_summary_formats():
    result = lcsem.fit(lcsem.lc_model(), lcsem.datasets.load_lc_survey())
    text = result.summary()
    assert "N used 386 of 400" in text and "CFI" in text
    md = result.summary("markdown")
    assert "| lhs | op | rhs |" in md
    html = result._repr_html_()
    assert html.startswith("<div") and "<table" in html
    assert result.n_dropped == 14


@pytest.mark.filterwarnings("ignore::lcsem.NonAdmissibleWarning")
def test_empirically_unidentified_model_is_flagged_not_converged():
    """Two uncorrelated two-indicator factors: the optimum is not identified; lcsem says so."""
    rng = np.random.default_rng(1)
    f, g = rng.normal(size=300), rng.normal(size=300)
    data = pd.DataFrame({"a1": f + rng.normal(size=300), "a2": f + rng.normal(size=300),
                         "b1": g + rng.normal(size=300), "b2": g + rng.normal(size=300)})
    with pytest.warns(lcsem.ConvergenceWarning, match="did not converge"):
        result = lcsem.fit("f =~ a1 + a2\ng =~ b1 + b2", data)
    assert not result.converged
    assert "NOT CONVERGED" in repr(result) and "converged: NO" in result.summary()
    assert any("did not converge" in w for w in result.warnings)
    assert not result.admissible          # the wandering solution is also inadmissible
