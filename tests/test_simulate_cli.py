"""Simulation from population values, the bundled survey, and the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lcsem
from lcsem.cli import main
from lcsem.datasets.make_lc_survey import make_lc_survey
from lcsem.simulation.population import population_covariance


def test_population_covariance_is_a_correlation_matrix_with_the_given_paths():
    model = lcsem.lc_model()
    cov = population_covariance(model)
    np.testing.assert_allclose(np.diag(cov), 1.0)
    # two indicators of one construct correlate as the product of their loadings
    p = model.population
    assert cov.loc["kms_frequency", "kms_breadth"] == pytest.approx(
        p["kmsuse =~ kms_frequency"] * p["kmsuse =~ kms_breadth"])
    # indicators of culture and KMS use: loading * (a) * loading
    assert cov.loc["lc_team", "kms_breadth"] == pytest.approx(
        p["culture =~ lc_team"] * p["kmsuse ~ culture"] * p["kmsuse =~ kms_breadth"])


def test_large_simulated_sample_recovers_population_values():
    model = lcsem.lc_model()
    result = lcsem.fit(model, lcsem.simulate(model, 20000, seed=11))
    std = result.estimates.set_index(["lhs", "op", "rhs"])["std_all"]
    for key, value in model.population.items():
        lhs, op, rhs = key.split()
        assert std[(lhs, op, rhs)] == pytest.approx(value, abs=0.03), key


def test_simulation_is_seeded_and_likert_has_the_right_categories():
    model = lcsem.lc_model()
    a = lcsem.simulate(model, 300, seed=5, likert=5)
    b = lcsem.simulate(model, 300, seed=np.random.default_rng(5), likert=5)
    pd.testing.assert_frame_equal(a, b)
    assert set(np.unique(a.to_numpy())) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert not lcsem.simulate(model, 300, seed=6).equals(lcsem.simulate(model, 300, seed=5))


def test_bundled_survey_is_reproduced_by_its_script():
    bundled = lcsem.datasets.load_lc_survey()
    again = make_lc_survey()
    assert bundled.shape == (400, 19)
    pd.testing.assert_frame_equal(bundled, again, check_dtype=False)
    assert set(bundled["sector"]) == {"public", "private"}


def test_reference_datasets_are_bundled():
    assert lcsem.datasets.load_holzinger_swineford().shape == (301, 15)
    assert lcsem.datasets.load_political_democracy().shape == (75, 11)


def test_cli_fit_text_and_json(tmp_path, capsys):
    model = tmp_path / "model.txt"
    model.write_text("visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\n")
    data = lcsem.datasets.path_of("holzinger_swineford")
    assert main(["fit", data, "--model", str(model)]) == 0
    out = capsys.readouterr().out
    assert "chi-square(24) = 85.306" in out
    assert main(["fit", data, "--model", str(model), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["model"]["syntax"].startswith("visual =~ x1 + x2 + x3")
    again = lcsem.FitResult.from_dict(payload)
    assert again.fit_indices["chisq"] == pytest.approx(85.3055, abs=1e-3)


def test_cli_errors_are_clear(tmp_path, capsys):
    model = tmp_path / "model.txt"
    model.write_text("visual =~ x1 + x2 + nope\n")
    data = lcsem.datasets.path_of("holzinger_swineford")
    assert main(["fit", data, "--model", str(model)]) == 2
    assert "lcsem: error: the data lack the model's columns 'nope'" in capsys.readouterr().err
    assert main(["fit", data, "--model", str(tmp_path / "missing.txt")]) == 2
    assert "--model:" in capsys.readouterr().err


def test_cli_demo(tmp_path, capsys):
    assert main(["demo", "--bootstrap", "200", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "386 complete responses of 400" in out
    assert (tmp_path / "summary.txt").exists()


def test_read_data_csv_and_spss(tmp_path):
    import pyreadstat  # the optional [spss] extra; part of [test]
    survey = lcsem.datasets.load_lc_survey()
    numeric = survey.drop(columns=["sector"]).astype(float)
    pyreadstat.write_sav(numeric, str(tmp_path / "survey.sav"))
    from_sav = lcsem.read_data(tmp_path / "survey.sav")
    pd.testing.assert_frame_equal(from_sav, numeric, check_dtype=False)
    survey.to_csv(tmp_path / "survey.tsv", sep="\t", index=False)
    pd.testing.assert_frame_equal(lcsem.read_data(tmp_path / "survey.tsv"), survey, check_dtype=False)
    a = lcsem.fit(lcsem.lc_model(), from_sav)
    b = lcsem.fit(lcsem.lc_model(), survey)
    assert a.fit_indices["chisq"] == pytest.approx(b.fit_indices["chisq"])


# ---------------------------------------------------------------------- issue 8: no tracebacks
HS_MODEL = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\n"


def test_cli_non_utf8_model_file_is_a_clear_error(tmp_path, capsys):
    model = tmp_path / "model.txt"
    model.write_bytes(HS_MODEL.replace("speed", "sp\u00e9ed").encode("latin-1"))
    data = lcsem.datasets.path_of("holzinger_swineford")
    assert main(["fit", data, "--model", str(model)]) == 2
    err = capsys.readouterr().err
    assert "--model: " in err and "is not UTF-8 text" in err and "Traceback" not in err


def test_cli_folders_and_empty_files_are_clear_errors(tmp_path, capsys):
    model = tmp_path / "model.txt"
    model.write_text(HS_MODEL)
    data = lcsem.datasets.path_of("holzinger_swineford")
    assert main(["fit", str(tmp_path), "--model", str(model)]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert main(["fit", data, "--model", str(tmp_path)]) == 2
    assert "--model: " in capsys.readouterr().err
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert main(["fit", str(empty), "--model", str(model)]) == 2
    assert "is empty" in capsys.readouterr().err


def test_cli_sep_option_reads_semicolon_files(tmp_path, capsys):
    model = tmp_path / "model.txt"
    model.write_text(HS_MODEL)
    frame = lcsem.datasets.load_holzinger_swineford()
    path = tmp_path / "hs.txt"
    frame.to_csv(path, sep="|", index=False)
    assert main(["fit", str(path), "--model", str(model), "--sep", "|"]) == 0
    assert "chi-square(24) = 85.306" in capsys.readouterr().out
    frame.to_csv(path, sep=";", index=False)
    assert main(["fit", str(path), "--model", str(model)]) == 0          # detected
    assert "chi-square(24) = 85.306" in capsys.readouterr().out
    assert main(["fit", str(path), "--model", str(model), "--sep", ";;"]) == 2
    assert "--sep" in capsys.readouterr().err


def test_cli_unwritable_out_fails_before_the_work(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    assert main(["demo", "--bootstrap", "0", "--out", str(blocker)]) == 2
    assert "--out: " in capsys.readouterr().err
    assert main(["demo", "--bootstrap", "0", "--out", str(blocker / "sub")]) == 2
    assert "--out: cannot write" in capsys.readouterr().err


def test_cli_fit_robust_grouped_and_ordinal(tmp_path, capsys):
    model = tmp_path / "model.txt"
    model.write_text("visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\n")
    hs = str(Path(__file__).parent / "reference" / "hs.csv")
    assert main(["fit", hs, "--model", str(model), "--estimator", "MLR", "--group", "school", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    res = lcsem.fit(model.read_text(), pd.read_csv(hs), estimator="MLR", group="school")
    assert payload["fit_indices"]["chisq_scaled"] == pytest.approx(res.fit_indices["chisq_scaled"], abs=1e-9)
    ordinal = Path(__file__).parent / "reference" / "ordinal_sim.csv"
    model.write_text("f1 =~ y1 + y2 + y3 + y4\nf2 =~ y5 + y6 + y7 + y8\n")
    assert main(["fit", str(ordinal), "--model", str(model), "--ordered"]) == 0
    assert "WLSMV" in capsys.readouterr().out
    assert main(["fit", str(ordinal), "--model", str(model), "--ordered", "y1", "y2", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert [name for name, _ in payload["ordinal"]["ordered"]] == ["y1", "y2"]
