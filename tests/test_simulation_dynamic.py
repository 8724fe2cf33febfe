"""Dynamic fit-index cut-offs against the R package `dynamic` 1.1.0 run from its own source
(tests/reference/make_dynamic.R), the published algorithm, and refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lcsem
from lcsem.simulation.dynamic import _cutoff, dynamic_cutoffs

REF = json.loads((Path(__file__).parent / "reference" / "dynamic_reference.json").read_text())
HS = lcsem.datasets.load_holzinger_swineford()
CASES = {"three_factor": "cfaHB", "one_factor": "cfaOne"}


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    ref = REF[request.param]
    res = lcsem.fit(ref["model"], HS)
    return request.param, ref, res, dynamic_cutoffs(res, 500, seed=20231)


def _their_distributions(ref) -> pd.DataFrame:
    return pd.DataFrame(ref["distributions"])


def _parse(stmt: str) -> tuple[tuple[str, str, str], float]:
    op = "=~" if "=~" in stmt else "~~"
    lhs, rest = (s.strip() for s in stmt.split(op))
    value, rhs = (s.strip() for s in rest.split("*"))
    return (lhs, op, rhs), float(value)


def test_misspecification_levels_are_the_packages(case):
    name, ref, res, cut = case
    theirs = [[_parse(s) for s in level[1:]] for level in ref["misspecified_dgm"]]
    assert len(cut.table) == len(theirs)
    for row, level in zip(cut.table.itertuples(), theirs):
        ours = [_parse(s.strip()) for s in row.misspecification.split(";")]
        assert [k for k, _ in ours] == [k for k, _ in level]
        np.testing.assert_allclose([v for _, v in ours], [v for _, v in level], atol=5e-4)
    assert cut.kind == ("multi-factor" if name == "three_factor" else "one-factor")
    assert cut.n == ref["n"] == res.n_obs


def test_fit_index_distributions_agree_with_the_package(case):
    """Means and 5/95% points of every index at every level: within Monte Carlo error of the
    package's run (independent seeds; 500 replicates each)."""
    _, ref, _, cut = case
    theirs = _their_distributions(ref)
    rng = np.random.default_rng(0)
    for level in range(len(cut.table) + 1):
        ours = cut.distributions[cut.distributions["level"] == level]
        for key in ("srmr", "rmsea", "cfi"):
            a = ours[key].dropna().to_numpy()
            b = theirs[f"{key.upper()}_L{level}"].to_numpy(dtype=float)
            se = np.sqrt(a.var() / a.size + b.var() / b.size)
            assert abs(a.mean() - b.mean()) <= 4 * se + 1e-4, (level, key)
            for q in (0.05, 0.95):
                boot = [np.quantile(rng.choice(b, b.size), q) - np.quantile(rng.choice(a, a.size), q)
                        for _ in range(200)]
                assert abs(np.quantile(a, q) - np.quantile(b, q)) <= 4 * np.std(boot) + 2e-3, (level, key, q)


def test_the_rule_reproduces_the_packages_table_from_its_own_draws(case):
    """Our 95/5 -> 90/10 -> NONE rule applied to the package's replicates gives its printed table."""
    _, ref, _, _ = case
    theirs = _their_distributions(ref)
    rows = ref["cutoffs"]["rows"]
    for j in range(1, len(rows) // 2 + 1):
        for key in ("SRMR", "RMSEA", "CFI"):
            value, rule = _cutoff(theirs[f"{key}_L0"].to_numpy(float), theirs[f"{key}_L{j}"].to_numpy(float),
                                  key.lower())
            first, second = ref["cutoffs"][key][2 * (j - 1)], ref["cutoffs"][key][2 * (j - 1) + 1]
            if rule == "95/5":
                assert float(first) == pytest.approx(round(value, 3), abs=1e-9) and second == "--"
            elif rule == "90/10":
                assert first == "NONE" and float(second) == pytest.approx(round(value, 3), abs=1e-9)
            else:
                assert first == "NONE" and second == "NONE"


def test_result_is_seeded_batch_independent_and_summarised(case):
    _, ref, res, cut = case
    again = dynamic_cutoffs(res, 500, seed=20231, batch_size=97)
    pd.testing.assert_frame_equal(cut.table, again.table)
    pd.testing.assert_frame_equal(cut.distributions, again.distributions)
    text = cut.summary()
    assert "Level 1" in text and "SRMR" in text and f"N = {res.n_obs}" in text
    assert set(cut.table.columns) >= {"level", "misspecification", "srmr", "srmr_rule", "rmsea", "rmsea_rule",
                                      "cfi", "cfi_rule"}
    assert cut.table["srmr_rule"].isin(["95/5", "90/10", "NONE"]).all()
    assert cut.converged[0] == 500
    assert "<table" in cut._repr_html_() and "DynamicCutoffs" in repr(cut)


def test_none_when_the_index_cannot_separate_the_models():
    rng = np.random.default_rng(1)
    same = rng.normal(size=500)
    assert _cutoff(same, same + 0.01, "srmr") == (pytest.approx(float("nan"), nan_ok=True), "NONE")
    assert _cutoff(same, same + 10, "srmr")[1] == "95/5"
    assert _cutoff(same + 10, same, "cfi")[1] == "95/5"


def test_plot_marks_cutoffs_and_the_users_values(case, tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    _, _, _, cut = case
    fig = lcsem.plot_dynamic_cutoffs(cut)
    axes = fig.axes
    assert len(axes) == 3 * len(cut.table)
    xs = [line.get_xdata()[0] for line in axes[0].get_lines()]
    assert cut.fit["srmr"] in xs and 0.08 in xs
    fig.savefig(tmp_path / "dynamic.png")
    with pytest.raises(lcsem.LcsemError, match="level"):
        lcsem.plot_dynamic_cutoffs(cut, level=99)


def test_non_cfa_models_are_refused_with_what_the_method_covers():
    res = lcsem.fit(lcsem.lc_model(), lcsem.datasets.load_lc_survey())
    with pytest.raises(lcsem.LcsemError, match="cover single-level CFA measurement models"):
        dynamic_cutoffs(res, 10)
    hier = lcsem.fit("visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\n"
                     "g =~ visual + textual + speed", HS)
    with pytest.raises(lcsem.LcsemError, match="higher-order"):
        dynamic_cutoffs(hier, 10)


@pytest.mark.parametrize("kwargs, match", [(dict(n_rep=0), "n_rep"), (dict(n_rep=2.5), "n_rep"),
                                           (dict(batch_size=0), "batch_size")])
def test_bad_arguments(kwargs, match):
    res = lcsem.fit("f =~ x1 + x2 + x3 + x4", HS)
    with pytest.raises(lcsem.LcsemError, match=match):
        dynamic_cutoffs(res, **kwargs)


def test_just_identified_and_non_results_are_refused():
    res = lcsem.fit("f =~ x1 + x2 + x3", HS)
    with pytest.raises(lcsem.LcsemError, match="just identified"):
        dynamic_cutoffs(res, 10)
    with pytest.raises(lcsem.LcsemError, match="FitResult"):
        dynamic_cutoffs("f =~ x1 + x2 + x3", 10)
