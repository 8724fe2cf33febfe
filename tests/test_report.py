"""Publication tables and the methods paragraph."""

from __future__ import annotations


import numpy as np
import pytest

import lcsem
from lcsem.exceptions import ArgumentError
from lcsem.analysis.mediation import effects
from lcsem.analysis.validity import measurement
from lcsem.reporting.methods import methods_paragraph
from lcsem.reporting.document import latex_symbols, report
from lcsem.display.format import format_boot_p, format_ci, format_p
from lcsem.reporting.tables import (effects_table, fit_table, htmt_table, measurement_table,
                                 structural_table, validity_table)

from conftest import load_reference_data


@pytest.fixture(scope="module")
def survey(fitted):
    return fitted["learning_culture_survey"]


def test_apa_number_formats():
    assert format_p(0.0004) == "< .001"
    assert format_p(0.0123) == ".012"
    assert format_p(1.0) == "1.000"
    assert format_p(float("nan")) == "–"
    assert format_ci(0.1, 0.25) == "[0.100, 0.250]"
    # bootstrap p-values are never 0 (2(1 + k)/(B + 1)); at the floor they read "≤ floor"
    assert format_boot_p(2 / 1001, 1000) == "≤ .002" and format_boot_p(2 / 5001, 5000) == "≤ .0004"
    assert format_boot_p(1 / 1000, 999, sides=1) == "≤ .001" and format_boot_p(1 / 1001, 1000, sides=1) == "≤ .001"
    assert format_boot_p(2 / 272, 271) == "≤ .008"          # .00735 rounded up: the bound stays true
    assert format_boot_p(0.034, 1000) == ".034"
    assert format_ci(np.nan, 0.2) == "–"


def test_fit_table_shows_lavaan_values(survey, reference):
    t = fit_table(survey)
    ref = reference["learning_culture_survey"]["fit"]
    assert t.loc["χ²", "Value"] == f"{ref['chisq']:.3f}"
    assert t.loc["df", "Value"] == str(ref["df"])
    assert t.loc["SRMR", "Value"] == f"{ref['srmr']:.3f}"
    assert t.loc["RMSEA [90% CI]", "Value"] == f"{ref['rmsea']:.3f} [{ref['rmsea.ci.lower']:.3f}, {ref['rmsea.ci.upper']:.3f}]"


def test_measurement_and_validity_tables(survey, reference):
    meas = measurement(survey)
    t = measurement_table(meas)
    assert len(t) == 15 and list(t.index).count("culture") == 1
    row = t.iloc[0]
    assert row["α"] == f"{reference['learning_culture_survey']['alpha']['culture']:.3f}"
    assert row["CR (ω)"] == f"{reference['learning_culture_survey']['omega']['culture']:.3f}"
    v = validity_table(meas)
    assert v.loc["culture", "culture"] == f"{np.sqrt(reference['learning_culture_survey']['ave']['culture']):.3f}"
    assert v.loc["culture", "perf"] == ""          # lower triangle only
    h = htmt_table(meas)
    assert h.loc["culture – kmsuse", "HTMT2"] == f"{reference['learning_culture_survey']['htmt']['m'][0][1]:.3f}"


def test_structural_table_and_delta_std_cis(survey, reference):
    t = structural_table(survey)
    params = {(p["lhs"], p["rhs"]): p for p in reference["learning_culture_survey"]["params"] if p["op"] == "~"}
    assert len(t) == 3
    for outcome, row in t.iterrows():
        p = params[(outcome, row["Predictor"])]
        assert row["b"] == f"{p['est']:.3f}" and row["β"] == f"{p['std.all']:.3f}"
    lo, hi = (float(x) for x in t.iloc[0]["95% CI (β)"].strip("[]").split(","))
    assert lo < float(t.iloc[0]["β"]) < hi


def test_effects_table_is_compact(survey):
    t = effects_table(effects(survey))
    assert list(t.index) == ["indirect", "direct", "total", "proportion mediated"]
    assert t.loc["indirect", "Path"] == "culture -> kmsuse -> perf (ind)"
    assert t.loc["proportion mediated", "p"] == ""


def test_methods_paragraph_names_software_estimator_sample_and_missing():
    data = load_reference_data("learning_culture_survey").copy()
    data.loc[[3, 10, 20], "perf2"] = np.nan
    model = lcsem.fit("culture =~ culture1 + culture2 + culture3\nperf =~ perf1 + perf2 + perf3\nperf ~ culture",
                      data)
    text = methods_paragraph(model)
    assert "lcsem" in text and "Python" in text and "semopy" in text
    assert "maximum likelihood" in text
    assert "Of 350 responses, 347 complete cases were analysed" in text
    assert "3 incomplete responses were removed by listwise deletion" in text
    assert "delta-method" in text


class _FakeBoot:
    kind = "nonparametric"
    n_resamples = 1000
    seed = 12345
    n_failed = 2
    n_inadmissible = 1


def test_methods_paragraph_names_bootstrap_seed_and_replicates(survey):
    text = methods_paragraph(survey, _FakeBoot(), method="bc")
    assert "1000 replicates" in text and "seed 12345" in text and "2 failed" in text
    assert "bias-corrected (BC)" in text and "nonparametric" in text


@pytest.mark.parametrize("fmt", ["markdown", "latex", "html", "text"])
def test_report_renders_every_format(survey, fmt):
    out = report(survey, format=fmt)
    for needle in ("culture", "kmsuse", "Model fit", "Structural paths", "effects", "HTMT"):
        assert needle.lower() in out.lower()
    if fmt == "markdown":
        assert out.startswith("### Method") and "| culture -> kmsuse -> perf (ind) |" in out
        assert out.count("**Table ") == 6
    if fmt == "latex":
        assert r"\begin{tabular}" in out and "χ" not in out and "≥" not in out and "λ" not in out
        assert out.count(r"\begin{table}") == out.count(r"\end{table}") == 6
    if fmt == "html":
        assert out.startswith('<div class="lcsem-report">') and out._repr_html_() == out
        assert out.count("<table") == 6


def test_public_functions_stay_functions_after_report(survey):
    report(survey)
    assert callable(lcsem.effects) and callable(lcsem.measurement)


def test_fitresult_report_delegates(survey):
    assert survey.report() == report(survey)
    assert survey.report("html") == report(survey, format="html")


def test_report_of_a_path_model_without_constructs():
    res = lcsem.fit("x2 ~ x1\nx3 ~ x2", load_reference_data("holzinger_swineford"))
    out = report(res)
    assert "Measurement model" not in out and "Structural paths" in out
    assert "0 latent constructs" in out


def test_report_arguments_are_validated(survey):
    with pytest.raises(ArgumentError, match="format"):
        report(survey, format="docx")
    with pytest.raises(ArgumentError, match="res"):
        report("model")
    with pytest.raises(ArgumentError, match="digits"):
        report(survey, digits=-1)


def test_latex_symbols():
    assert latex_symbols("χ² ≥ .95 a -> b") == r"$\chi^2$ $\geq$ .95 a $\to$ b"


def test_report_with_a_bootstrap(survey):
    from lcsem.resampling import bootstrap

    boot = bootstrap(survey, 200, seed=3, progress=False)
    out = report(survey, boot=boot)
    assert "nonparametric (case-resampling) bootstrap with 200 replicates (seed 3" in out
    assert "HTMT upper 95%" in out and "< .85" in out
    assert "p: two-sided bootstrap p-value" in out
    assert "≤ .010" in out                      # 2/(B + 1): the smallest p-value 200 replicates resolve
    assert "bootstrap percentile 95% CI" in out
    bs = bootstrap(survey, 100, kind="bollen-stine", seed=4, progress=False)
    t = fit_table(survey, bs)
    assert any(i.startswith("Bollen–Stine p") for i in t.index)
    assert "HTMT upper" not in report(survey, boot=bs)   # transformed data say nothing about HTMT
