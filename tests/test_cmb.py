"""Common-method-bias checks against lavaan/base R (tests/reference/cmb_reference.json)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import lcsem
from lcsem.analysis.common_method import VIF_THRESHOLD, CommonMethodBiasResult, common_method_bias, single_factor_model

from conftest import REFERENCE, load_reference_data

CMB_REFERENCE = json.loads((REFERENCE / "cmb_reference.json").read_text())
NAMES = ["holzinger_swineford", "learning_culture_survey"]


@pytest.fixture(scope="module")
def checks(fitted) -> dict:
    return {(name, s): common_method_bias(fitted[name], scores=s) for name in NAMES for s in ("mean", "factor")}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("scores", ["mean", "factor"])
def test_vifs_match_r(checks, name, scores):
    """VIFs from R's lm() on rowMeans / lavPredict(method = "regression") scores."""
    ref = pd.Series(CMB_REFERENCE[name][f"vif_{scores}"])
    got = checks[(name, scores)].vif
    assert list(got.index) == list(ref.index)
    np.testing.assert_allclose(got["vif"], ref, atol=1e-4)
    np.testing.assert_allclose(got["r2"], 1 - 1 / ref, atol=1e-4)
    assert not got["flagged"].any()


@pytest.mark.parametrize("name", NAMES)
def test_harman_matches_lavaan(checks, name):
    ref = CMB_REFERENCE[name]
    res = checks[(name, "mean")]
    for row in ("single_factor", "measurement"):
        np.testing.assert_allclose(res.harman.loc[row].astype(float), pd.Series(ref[row]).astype(float)[res.harman.columns],
                                   atol=1e-4, rtol=1e-6)
    assert res.chisq_diff == pytest.approx(ref["single_factor"]["chisq"] - ref["measurement"]["chisq"], abs=1e-4)
    assert res.df_diff == ref["single_factor"]["df"] - ref["measurement"]["df"] == 3
    assert res.pvalue_diff < 1e-10
    assert res.first_factor_share == pytest.approx(ref["first_factor_share"], abs=1e-8)
    assert res.single_factor_share == pytest.approx(ref["single_factor_share"], abs=1e-5)


def test_factor_scores_raise_vifs(checks):
    """Regression factor scores of correlated factors correlate more than mean scores."""
    for name in NAMES:
        assert (checks[(name, "factor")].vif["vif"] > checks[(name, "mean")].vif["vif"]).all()


def test_notes_state_the_weaknesses(checks):
    res = checks[("learning_culture_survey", "mean")]
    assert "do not rule it out" in res.notes["vif"] and "mean of each construct" in res.notes["vif"]
    assert "insensitive" in res.notes["harman"]
    assert "Thurstone" in checks[("learning_culture_survey", "factor")].notes["vif"]
    for fmt in ("text", "markdown", "latex", "html"):
        text = res.summary(fmt)
        assert "insensitive" in text and "culture" in text
    assert "p < .001" in res.summary()
    assert "VIF" in repr(res) and "lcsem-cmb" in res._repr_html_()
    assert not res.flagged


def _method_data(method_loading: float, seed: int = 5, n: int = 500) -> tuple[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    eta = rng.multivariate_normal(np.zeros(3), [[1, .3, .3], [.3, 1, .3], [.3, .3, 1]], size=n)
    method = rng.standard_normal(n)
    cols = {f"{f}{i}": 0.5 * eta[:, j] + method_loading * method + 0.45 * rng.standard_normal(n)
            for j, f in enumerate("abc") for i in range(4)}
    text = "\n".join(f"{f} =~ " + " + ".join(f"{f}{i}" for i in range(4)) for f in "abc") + "\nc ~ a + b"
    return text, pd.DataFrame(cols)


def test_strong_method_factor_is_flagged():
    text, data = _method_data(0.9)
    res = common_method_bias(text, data)
    assert isinstance(res, CommonMethodBiasResult)
    assert res.vif["flagged"].all() and (res.vif["vif"] > VIF_THRESHOLD).all()
    assert res.first_factor_share > 0.5 and res.flagged
    # ... yet the single factor still fits far worse: the weakness the note describes
    assert res.pvalue_diff < 1e-10
    clean = common_method_bias(*_method_data(0.0))
    assert not clean.vif["flagged"].any() and clean.first_factor_share < 0.5


def test_public_functions_stay_functions_after_submodule_imports():
    """Importing a submodule first (in a fresh interpreter) must not turn lcsem.fit,
    lcsem.bootstrap, lcsem.effects or lcsem.measurement into modules."""
    import subprocess
    import sys

    code = ("import lcsem.analysis.validity, lcsem.analysis.mediation, lcsem.resampling.intervals, lcsem.estimation.estimate, lcsem.analysis.common_method\n"
            "import lcsem, types\n"
            "names = ['fit', 'bootstrap', 'effects', 'measurement', 'common_method_bias']\n"
            "bad = [n for n in names if isinstance(getattr(lcsem, n), types.ModuleType)]\n"
            "assert not bad, bad\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_model_with_data_equals_result_and_does_not_modify_data(fitted, reference):
    data = load_reference_data("learning_culture_survey")
    before = data.copy()
    a = common_method_bias(reference["learning_culture_survey"]["model"], data)
    b = common_method_bias(fitted["learning_culture_survey"])
    pd.testing.assert_frame_equal(a.vif, b.vif)
    pd.testing.assert_frame_equal(data, before)


def test_single_factor_model():
    model = lcsem.Model.from_syntax("method =~ a + b\n f =~ c + d + e")
    one = single_factor_model(model)
    assert one.latent == ("method_",) and one.observed == ("a", "b", "c", "d", "e")


def test_bad_arguments(fitted):
    res = fitted["learning_culture_survey"]
    with pytest.raises(lcsem.ArgumentError, match="scores"):
        common_method_bias(res, scores="pls")
    with pytest.raises(lcsem.ArgumentError, match="vif_threshold"):
        common_method_bias(res, vif_threshold=0.5)
    with pytest.raises(lcsem.ArgumentError, match="data"):
        common_method_bias(res, data=res.data)
    with pytest.raises(lcsem.ArgumentError, match="data"):
        common_method_bias(res.model)
    with pytest.raises(lcsem.ArgumentError, match="at least two"):
        common_method_bias("f =~ x1 + x2 + x3", load_reference_data("holzinger_swineford"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        slim = lcsem.FitResult.from_dict(res.to_dict() | {"data": None})
    with pytest.raises(lcsem.ArgumentError, match="include_data"):
        common_method_bias(slim)
