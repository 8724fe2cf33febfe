"""Multi-group and mean-structure fit indices against lavaan 0.6.14, from lavaan's own
sample and implied moments (tests/reference/groups_reference.json, make_groups.R), so the
formulas are checked apart from the estimation."""

import json
from pathlib import Path

import numpy as np
import pytest

from lcsem.inference.fit_indices import grouped_fit_measures

REF = json.loads((Path(__file__).parent / "reference" / "groups_reference.json").read_text())
LAVAAN_NAMES = {"chisq": "chisq", "df": "df", "pvalue": "pvalue", "cfi": "cfi", "tli": "tli", "nfi": "nfi",
                "rmsea": "rmsea", "rmsea_ci_lower": "rmsea.ci.lower", "rmsea_ci_upper": "rmsea.ci.upper",
                "rmsea_pvalue": "rmsea.pvalue", "srmr": "srmr", "gfi": "gfi", "agfi": "agfi",
                "loglik": "logl", "aic": "aic", "bic": "bic", "baseline_chisq": "baseline.chisq",
                "baseline_df": "baseline.df", "n_params": "npar", "n_obs": "ntotal"}


def _moments(block):
    names = block["cov"]["rownames"]
    return np.array(block["cov"]["values"]), np.array([block["mean"][n] for n in names])


@pytest.mark.parametrize("name", sorted(REF["fits"]))
def test_fit_indices_match_lavaan_given_its_implied_moments(name):
    f = REF["fits"][name]
    labels = list(f["sampstat"])
    S, mean = map(np.array, zip(*(_moments(f["sampstat"][g]) for g in labels)))
    Sigma, mu = map(np.array, zip(*(_moments(f["implied"][g]) for g in labels)))
    fm = f["fit_measures"]
    out = grouped_fit_measures(S, mean, Sigma, mu, np.atleast_1d(f["nobs"]), fm["chisq"],
                               df=int(fm["df"]), n_params=int(fm["npar"]))
    for ours, theirs in LAVAAN_NAMES.items():
        if fm[theirs] is None:
            continue
        assert out[ours] == pytest.approx(fm[theirs], rel=1e-6, abs=1e-8), ours


def test_without_means_two_groups_is_the_sum_of_single_group_parts():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(2, 200, 4))
    S = np.array([np.cov(x.T, bias=True) for x in X])
    Sigma = np.array([np.diag(np.diag(s)) for s in S])
    out = grouped_fit_measures(S, None, Sigma, None, np.array([200, 200]), 10.0, df=12, n_params=8)
    one = [grouped_fit_measures(S[g:g + 1], None, Sigma[g:g + 1], None, np.array([200]), 5.0, df=6,
                                n_params=4) for g in range(2)]
    assert out["baseline_chisq"] == pytest.approx(one[0]["baseline_chisq"] + one[1]["baseline_chisq"])
    assert out["loglik"] == pytest.approx(one[0]["loglik"] + one[1]["loglik"])
    assert out["srmr"] == pytest.approx((one[0]["srmr"] + one[1]["srmr"]) / 2)
