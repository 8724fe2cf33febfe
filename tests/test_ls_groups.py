"""GLS and ULS with groups and mean structures against lavaan 0.6.14
(tests/reference/make_ls_groups.R -> ls_groups_reference.json): HS by school (configural,
metric, scalar) and single-group fits with meanstructure=TRUE; estimates, SEs, std_all and
fit indices; and the objective's derivatives (lcsem.engine.group_ls)."""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lcsem
from lcsem.engine import GroupStats, GroupStructure, group_starts
from lcsem.engine.group_ls import GroupLSObjective, ls_weights, unbiased
from lcsem.engine.optimize import discrepancy
from lcsem.spec.groups import group_table

REF_DIR = Path(__file__).parent / "reference"
REF = json.loads((REF_DIR / "ls_groups_reference.json").read_text())
HS = pd.read_csv(REF_DIR / "hs.csv")
NAMES = sorted(REF["fits"])
FIT_NAMES = {"chisq": "chisq", "df": "df", "pvalue": "pvalue", "cfi": "cfi", "tli": "tli", "nfi": "nfi",
             "rmsea": "rmsea", "rmsea_ci_lower": "rmsea.ci.lower", "rmsea_ci_upper": "rmsea.ci.upper",
             "rmsea_pvalue": "rmsea.pvalue", "srmr": "srmr", "gfi": "gfi", "agfi": "agfi",
             "baseline_chisq": "baseline.chisq", "baseline_df": "baseline.df", "n_params": "npar"}
HS_MODEL = "visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n speed =~ x7 + x8 + x9"


def _fit(name):
    spec = REF["fits"][name]
    opts = spec["options"]
    equal = opts.get("group.equal") or ()
    return lcsem.fit(spec["model"], HS, estimator=opts["estimator"], group=opts.get("group"),
                     group_equal=(equal,) if isinstance(equal, str) else tuple(equal),
                     meanstructure=bool(opts.get("meanstructure", False)))


@pytest.fixture(scope="module")
def fits():
    return {name: _fit(name) for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_estimates_ses_and_std_all_match_lavaan(fits, name):
    res, spec = fits[name], REF["fits"][name]
    assert res.estimator == spec["options"]["estimator"]
    lav = pd.DataFrame(spec["params"])
    lav["rhs"] = lav["rhs"].fillna("")
    keys = ["lhs", "op", "rhs"] + (["group"] if spec["ngroups"] > 1 else [])
    m = res.estimates.merge(lav.drop(columns=["block", "label"]), on=keys, suffixes=("", "_lav"),
                            validate="one_to_one")
    assert len(m) == len(lav)
    np.testing.assert_allclose(m["est"], m["est_lav"], atol=1e-4)
    se_lav = m["se_lav"].astype(float).where(m["se_lav"].astype(float) > 0)
    np.testing.assert_allclose(m["se"].astype(float), se_lav, atol=1e-4, equal_nan=True)
    np.testing.assert_allclose(m["std_all"], m["std.all"].astype(float), atol=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_fit_indices_match_lavaan(fits, name):
    res, fm = fits[name], REF["fits"][name]["fit_measures"]
    for ours, theirs in FIT_NAMES.items():
        if fm.get(theirs) is None:     # ULS: no p-value (lavaan's NA), and so do we
            assert not np.isfinite(res.fit_indices[ours]), ours
            continue
        assert res.fit_indices[ours] == pytest.approx(fm[theirs], abs=1e-4), ours
    # no likelihood under least squares (lavaan reports none)
    assert np.isnan(res.fit_indices["loglik"]) and np.isnan(res.fit_indices["aic"])


@pytest.mark.parametrize("name", [n for n in NAMES if "meanstructure" not in n])
def test_chisq_is_the_sum_of_lavaans_group_statistics(fits, name):
    res, spec = fits[name], REF["fits"][name]
    assert res.fit_indices["chisq"] == pytest.approx(sum(spec["chisq_group"]), abs=1e-3)


def _objective(estimator, equal=(), means=True, G=2):
    from lcsem.data.groups import moments_by_group
    model = lcsem.Model.from_syntax(HS_MODEL)
    moments = moments_by_group(HS, model.observed, "school" if G > 1 else None, "listwise", model.latent)
    rows = group_table(model, G, group_equal=equal, meanstructure=means)
    struct = GroupStructure(rows, model.observed, model.latent, G, means)
    n = np.array([g.n_obs for g in moments.groups], float)
    stats = GroupStats(np.stack([g.cov for g in moments.groups])[None],
                       np.stack([g.mean for g in moments.groups])[None] if means else None, n)
    return struct, stats


@pytest.mark.parametrize("estimator", ["GLS", "ULS"])
def test_gradient_is_the_derivative_of_the_discrepancy(estimator):
    struct, stats = _objective(estimator, equal=("loadings",))
    stats = unbiased(stats)
    objective = GroupLSObjective(struct, stats, estimator)
    theta = group_starts(struct, stats)[0] * 1.1 + 0.01
    grad, info = objective.gradient_information(theta[None], np.array([0]))
    h = 1e-6
    numeric = np.array([(objective.value((theta + h * e)[None], np.array([0]))[0]
                         - objective.value((theta - h * e)[None], np.array([0]))[0]) / (2 * h)
                        for e in np.eye(struct.k)])
    np.testing.assert_allclose(grad[0], numeric, rtol=1e-5, atol=1e-7)
    assert np.allclose(info[0], info[0].T) and np.linalg.eigvalsh(info[0])[0] > 0


@pytest.mark.parametrize("estimator", ["GLS", "ULS"])
def test_one_group_without_means_is_the_single_group_discrepancy(estimator):
    struct, stats = _objective(estimator, means=False, G=1)
    stats = unbiased(stats)
    theta = group_starts(struct, stats)[0]
    ours = GroupLSObjective(struct, stats, estimator).value(theta[None], np.array([0]))[0]
    single = discrepancy(struct.groups[0], theta[None], stats.cov[:, 0], estimator)[0]
    assert ours == pytest.approx(single, rel=1e-12)
    assert ls_weights(np.array([100.0, 201.0])) == pytest.approx([99 / 299, 200 / 299])


def test_least_squares_with_missing_ml_is_refused():
    with pytest.raises(lcsem.NotSupportedError, match="estimator: 'GLS'"):
        lcsem.fit(HS_MODEL, HS, estimator="GLS", group="school", missing="ml")


@pytest.mark.parametrize("estimator", ["GLS", "ULS"])
def test_difference_tests_match_lavaans_lrt(fits, estimator):
    """lavTestLRT of configural < metric < scalar: the plain chi-square difference, its RMSEA
    and p (lavaan gives a p-value under ULS here too), no AIC/BIC."""
    e = estimator.lower()
    lav = REF["lrt"][e]["table"]
    results = [fits[f"hs_{level}_{e}"] for level in ("scalar", "configural", "metric")]   # any order
    table = lcsem.compare(*results, names=["scalar", "configural", "metric"]).table
    assert list(table.index) == ["configural", "metric", "scalar"]
    np.testing.assert_allclose(table["chisq"], lav["Chisq"], atol=1e-3)
    np.testing.assert_allclose(table["chisq_diff"].iloc[1:], lav["Chisq diff"][1:], atol=1e-3)
    np.testing.assert_allclose(table["rmsea"].iloc[1:], lav["RMSEA"][1:], atol=1e-4)
    np.testing.assert_allclose(table["pvalue"].iloc[1:], lav["Pr(>Chisq)"][1:], atol=1e-4)
    assert table["aic"].isna().all() and table["bic"].isna().all()


def test_invariance_sequence_by_least_squares(fits):
    inv = lcsem.invariance(HS_MODEL, HS, group="school", levels=("configural", "metric", "scalar"),
                           estimator="GLS")
    lav = REF["lrt"]["gls"]["table"]
    np.testing.assert_allclose(inv.table["chisq"], lav["Chisq"], atol=1e-3)
    np.testing.assert_allclose(inv.table["chisq_diff"].iloc[1:], lav["Chisq diff"][1:], atol=1e-3)
    for level in ("configural", "metric", "scalar"):
        ref = REF["fits"][f"hs_{level}_gls"]["fit_measures"]
        assert inv.table.loc[level, "cfi"] == pytest.approx(ref["cfi"], abs=1e-4)
        assert inv.table.loc[level, "rmsea"] == pytest.approx(ref["rmsea"], abs=1e-4)


# ---------------------------------------------------------------------- bootstrap
@pytest.mark.filterwarnings("ignore::lcsem.BootstrapFailureWarning")
@pytest.mark.parametrize("name", ["hs_metric_gls", "hs_configural_uls", "hs_meanstructure_gls"])
def test_bootstrap_replicate_is_the_fit_of_the_resampled_data(fits, name):
    """A replicate of a multi-group / mean-structure GLS or ULS bootstrap is lcsem.fit of its
    resampled cases (within groups) with the same estimator: estimates and fit indices."""
    res, spec = fits[name], REF["fits"][name]
    boot = lcsem.bootstrap(res, 3, seed=4, progress=False)
    assert (boot.status != "failed").all()     # (a ULS replicate of Pasteur's is inadmissible)
    for r in range(3):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", lcsem.NonAdmissibleWarning)
            again = _fit_data(spec, res.data.iloc[boot.indices[r]])
        row = boot.distribution.iloc[r]
        for index in ("chisq", "cfi", "tli", "rmsea", "srmr", "gfi"):
            assert row[index] == pytest.approx(again.fit_indices[index], abs=1e-6), index
        assert np.isnan(row["aic"]) and (np.isnan(row["pvalue"]) == (res.estimator == "ULS"))
        est = again.estimates
        for _, e in est[est["se"].notna() & (est["op"] != ":=")].iterrows():
            group = e["group"] if "group" in est else None
            col = boot.column(e["lhs"], e["op"], e["rhs"], group=group)
            assert row[col] == pytest.approx(e["est"], abs=1e-5), col


def _fit_data(spec, data):
    opts = spec["options"]
    equal = opts.get("group.equal") or ()
    return lcsem.fit(spec["model"], data, estimator=opts["estimator"], group=opts.get("group"),
                     group_equal=(equal,) if isinstance(equal, str) else tuple(equal),
                     meanstructure=bool(opts.get("meanstructure", False)))


@pytest.mark.parametrize("estimator", ["GLS", "ULS"])
def test_bollen_stine_data_fit_the_model_exactly(fits, estimator):
    """Each group is transformed so that its UNBIASED covariance is the implied one (the
    covariance GLS and ULS fit): the model then fits the transformed data exactly."""
    from lcsem.resampling.api import _grouped_sources
    from lcsem.resampling.groups import GroupedReplicateSpec

    res = fits[f"hs_metric_{estimator.lower()}"]
    source, _, _ = _grouped_sources(res, GroupedReplicateSpec(res), "bollen-stine", np.random.SeedSequence(1))
    data = res.data.copy()
    data[list(res.model.observed)] = source.X
    again = _fit_data(REF["fits"][f"hs_metric_{estimator.lower()}"], data)
    assert again.fit_indices["chisq"] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("estimator", ["GLS", "ULS"])
@pytest.mark.parametrize("means", [True, False])
def test_exact_hessian_is_the_derivative_of_the_gradient(estimator, means):
    # two groups with means (loadings equal), or one group without
    struct, stats = _objective(estimator, equal=("loadings",) if means else (), means=means, G=2 if means else 1)
    stats = unbiased(stats)
    objective = GroupLSObjective(struct, stats, estimator)
    theta = group_starts(struct, stats)[0] * 1.1 + 0.01
    grads = []
    h = 1e-6
    for e in np.eye(struct.k):
        plus = objective.gradient_information((theta + h * e)[None], np.array([0]))[0][0]
        minus = objective.gradient_information((theta - h * e)[None], np.array([0]))[0][0]
        grads.append((plus - minus) / (2 * h))
    numeric = np.array(grads)
    H = np.zeros((struct.k, struct.k))
    for g in range(struct.n_groups):
        g_e, h_e = objective._entry_hessian(theta[None], np.array([0]), g)
        plan = struct.plans[g]
        H[np.ix_(plan.cols, plan.cols)] += objective.w[0, g] * (plan.local.T @ h_e[0] @ plan.local)
    np.testing.assert_allclose(H, 0.5 * (numeric + numeric.T), rtol=1e-4, atol=1e-6)
    grad, step, descent = objective.direction(theta[None], np.array([0]), exact=True)
    assert grad.shape == (1, struct.k) and step.shape == (1, struct.k)
