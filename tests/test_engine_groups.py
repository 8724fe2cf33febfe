"""The multi-group / mean-structure engine against lavaan 0.6.14.

Parameter tables are built straight from lavaan's own (``fits.<name>.partable`` in
tests/reference/groups_reference.json, made by make_groups.R): equality constraints
(``==`` rows between plabels) become shared free numbers, fixed rows keep lavaan's
``ustart``. Sample moments come from the data (groups in order of first appearance,
covariances with denominator N_g). So these tests check the engine (GroupStructure,
minimize, information, group_starts) without the parameter-table builder.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lcsem.engine import (GroupStats, GroupStructure, RamStructure, discrepancy, gradient, group_starts,
                          information, minimize)
from lcsem.engine.optimize import GroupMLObjective
from lcsem.engine.starts import simple_starts
from lcsem.exceptions import ArgumentError, ModelSpecificationError, NotSupportedError
from lcsem.spec.partable import ParRow

REFERENCE = Path(__file__).parent / "reference"
GROUPS = json.loads((REFERENCE / "groups_reference.json").read_text())
GROUP_COLUMN = {"hs.csv": "school", "lc_shared.csv": "sector"}

FITS = ["hs_meanstructure", "hs_fixed_intercepts", "lc_canonical_meanstructure", "hs_configural",
        "hs_metric", "hs_scalar", "hs_strict", "hs_partial_scalar", "lc_configural", "lc_metric",
        "lc_scalar", "lc_strict", "lc_partial_scalar", "hs_lv_var_cov", "hs_scalar_lv_means",
        "lc_regressions_rescov", "lc_rescov_configural", "hs_labelled", "lc_labelled",
        "lc_canonical_labels_shared"]


def lavaan_table(name: str) -> tuple[tuple[ParRow, ...], tuple[str, ...], tuple[str, ...], int, bool]:
    """``(rows, observed, latent, n_groups, meanstructure)`` from lavaan's parameter table."""
    fit = GROUPS["fits"][name]
    pt = pd.DataFrame(fit["partable"])
    parent = {p: p for p in pt["plabel"] if p}

    def root(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for _, r in pt[pt["op"] == "=="].iterrows():
        parent[root(r["lhs"])] = root(r["rhs"])
    numbers: dict[str, int] = {}
    rows = []
    for _, r in pt.iterrows():
        if r["op"] == "==":
            continue
        if r["op"] == ":=":
            rows.append(ParRow(r["lhs"], ":=", r["rhs"], label=r["label"], group=0))
            continue
        free = 0
        if r["free"] > 0:
            free = numbers.setdefault(root(r["plabel"]), len(numbers) + 1)
        value = float("nan") if r["free"] > 0 or r["ustart"] is None else float(r["ustart"])
        rows.append(ParRow(r["lhs"], r["op"], r["rhs"], label=r["label"], free=free, value=value,
                           user=bool(r["user"]), group=int(r["group"])))
    first = next(iter(fit["sampstat"].values()))
    observed = tuple(first["cov"]["rownames"])
    latent = tuple(dict.fromkeys(r.lhs for r in rows if r.op == "=~"))
    meanstructure = any(r.op == "~1" for r in rows)
    return tuple(rows), observed, latent, int(fit["ngroups"]), meanstructure


def group_moments(name: str, observed: tuple[str, ...]) -> tuple[GroupStats, list[str]]:
    """Sample moments per group (order of first appearance), covariance denominator N_g."""
    fit = GROUPS["fits"][name]
    data = pd.read_csv(REFERENCE / fit["options"]["data"])
    column = GROUP_COLUMN[fit["options"]["data"]] if fit["ngroups"] > 1 else None
    parts = [data] if column is None else [data[data[column] == lev] for lev in data[column].unique()]
    labels = ["1"] if column is None else [str(lev) for lev in data[column].unique()]
    covs, means, ns = [], [], []
    for part in parts:
        X = part[list(observed)].to_numpy(float)
        covs.append(np.cov(X, rowvar=False, ddof=0))
        means.append(X.mean(axis=0))
        ns.append(X.shape[0])
    return GroupStats(np.array(covs)[None], np.array(means)[None], np.array(ns, float)), labels


def lavaan_values(name: str, struct: GroupStructure, column: str) -> np.ndarray:
    """lavaan's ``column`` (est / se) for every non-':=' row of ``struct``, in table order."""
    params = pd.DataFrame(GROUPS["fits"][name]["params"])
    if "group" not in params:
        params["group"] = 1
    key = {(r.lhs, r.op, r.rhs, int(r.group)): v for r, v in
           zip(params.itertuples(), params[column])}
    return np.array([key[(r.lhs, r.op, r.rhs, r.group)] for r in struct.rows], float)


def fitted(name: str, rule: str = "simple"):
    rows, observed, latent, G, means = lavaan_table(name)
    struct = GroupStructure(rows, observed, latent, n_groups=G, meanstructure=means)
    stats, labels = group_moments(name, observed)
    sol = minimize(struct, stats, group_starts(struct, stats, rule))
    return struct, stats, labels, sol


@pytest.mark.parametrize("name", FITS)
def test_sample_moments_are_lavaans(name):
    rows, observed, latent, G, means = lavaan_table(name)
    stats, labels = group_moments(name, observed)
    fit = GROUPS["fits"][name]
    if G > 1:
        assert labels == fit["group_labels"]
    for g, sample in enumerate(fit["sampstat"].values()):
        np.testing.assert_allclose(stats.cov[0, g], np.array(sample["cov"]["values"]), atol=1e-10)
        np.testing.assert_allclose(stats.mean[0, g], [sample["mean"][v] for v in observed], atol=1e-10)
    assert list(stats.n) == fit["nobs"]


@pytest.mark.parametrize("rule", ["simple", "marker"])
@pytest.mark.parametrize("name", FITS)
def test_estimates_chisq_and_se_match_lavaan(name, rule):
    struct, stats, _, sol = fitted(name, rule)
    assert sol.converged[0]
    fit = GROUPS["fits"][name]
    est = struct.row_values(sol.theta)[0]
    np.testing.assert_allclose(est, lavaan_values(name, struct, "est"), atol=1e-4)
    N = float(np.sum(stats.n))
    assert abs(N * sol.fmin[0] - fit["fit_measures"]["chisq"]) < 0.01
    vcov = 2.0 / N * np.linalg.inv(information(struct, sol.theta, stats)[0])
    se_free = np.sqrt(np.diag(vcov))
    se = np.where(struct.row_free >= 0, se_free[np.maximum(struct.row_free, 0)], 0.0)
    np.testing.assert_allclose(se, np.nan_to_num(lavaan_values(name, struct, "se")), atol=1e-3)
    # lavaan counts every free row (npar) and one constraint per '==' row
    n_equalities = sum(op == "==" for op in fit["partable"]["op"])
    assert struct.k == fit["npar"] - n_equalities


def test_implied_moments_match_lavaan():
    name = "hs_scalar_lv_means"
    struct, stats, labels, sol = fitted(name)
    Sigma, mu = struct.implied(sol.theta)
    for g, label in enumerate(labels):
        implied = GROUPS["fits"][name]["implied"][label]
        np.testing.assert_allclose(Sigma[0, g], np.array(implied["cov"]["values"]), atol=1e-4)
        np.testing.assert_allclose(mu[0, g], [implied["mean"][v] for v in struct.observed], atol=1e-4)


HS_MODEL = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"


@pytest.fixture(scope="module")
def hs_single():
    from lcsem import Model
    model = Model.from_syntax(HS_MODEL)
    data = pd.read_csv(REFERENCE / "hs.csv")
    X = data[list(model.observed)].to_numpy(float)
    S = np.cov(X, rowvar=False, ddof=0)
    return model, S, X.shape[0]


@pytest.mark.parametrize("estimator", ["ML", "GLS", "ULS"])
def test_one_group_without_means_is_todays_computation(hs_single, estimator):
    model, S, n = hs_single
    ram = RamStructure(model.rows, model.observed, model.latent)
    grp = GroupStructure(model.rows, model.observed, model.latent)
    stats = GroupStats.single(S, n)
    start = simple_starts(ram, S)
    np.testing.assert_array_equal(group_starts(grp, stats)[0], start)
    old = minimize(ram, S[None], start[None], estimator)
    new = minimize(grp, stats, start[None], estimator)
    np.testing.assert_allclose(new.theta, old.theta, rtol=0, atol=1e-10)
    np.testing.assert_allclose(new.fmin, old.fmin, rtol=0, atol=1e-12)
    assert new.iterations[0] == old.iterations[0] and new.converged[0]
    if estimator == "ML":
        np.testing.assert_allclose(information(grp, new.theta, stats), information(ram, old.theta),
                                   rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(discrepancy(grp, new.theta, stats), old.fmin, rtol=1e-13)


def test_gradient_matches_finite_differences():
    rows, observed, latent, G, means = lavaan_table("hs_scalar")
    struct = GroupStructure(rows, observed, latent, G, means)
    stats, _ = group_moments("hs_scalar", observed)
    theta = group_starts(struct, stats)[0]
    theta = theta + 0.05 * np.sin(np.arange(struct.k))          # away from any special point
    g = gradient(struct, theta[None], stats)[0]
    h = 1e-6
    E = np.eye(struct.k) * h
    f_plus = np.array([discrepancy(struct, (theta + e)[None], stats)[0] for e in E])
    f_minus = np.array([discrepancy(struct, (theta - e)[None], stats)[0] for e in E])
    np.testing.assert_allclose(g, (f_plus - f_minus) / (2 * h), atol=1e-7)


def test_information_is_the_hessian_at_the_model_moments():
    # at S_g = Sigma_g(theta), m_g = mu_g(theta) the Hessian of F equals the expected information
    rows, observed, latent, G, means = lavaan_table("lc_scalar")
    struct = GroupStructure(rows, observed, latent, G, means)
    data_stats, _ = group_moments("lc_scalar", observed)
    theta = minimize(struct, data_stats, group_starts(struct, data_stats)).theta[0]
    theta = theta + 0.02 * np.cos(np.arange(struct.k))
    Sigma, mu = struct.implied(theta[None])
    stats = GroupStats(Sigma, mu, data_stats.n)
    h = 1e-6
    E = np.eye(struct.k) * h
    g_plus = gradient(struct, theta + E, GroupStats(np.repeat(Sigma, struct.k, 0), np.repeat(mu, struct.k, 0), stats.n))
    g_minus = gradient(struct, theta - E, GroupStats(np.repeat(Sigma, struct.k, 0), np.repeat(mu, struct.k, 0), stats.n))
    H = (g_plus - g_minus) / (2 * h)
    info = information(struct, theta[None], stats)[0]
    np.testing.assert_allclose(0.5 * (H + H.T), info, atol=1e-6)
    assert np.abs(info).max() > 0.1          # not a vacuous comparison


def test_mean_part_of_the_information_counts():
    # without the mean term the intercepts' information would be zero: SEs could not be formed
    rows, observed, latent, G, means = lavaan_table("hs_meanstructure")
    struct = GroupStructure(rows, observed, latent, G, means)
    stats, _ = group_moments("hs_meanstructure", observed)
    theta = group_starts(struct, stats)
    info = information(struct, theta, stats)[0]
    intercepts = [f for r, f in zip(struct.rows, struct.row_free) if r.op == "~1" and f >= 0]
    assert np.all(np.diag(info)[intercepts] > 0)


def test_batch_of_replicates_gives_each_replicates_own_solution():
    struct, stats, _, sol = fitted("lc_configural")
    rng = np.random.default_rng(1)
    R = 6
    n = stats.n.astype(int)
    covs = np.empty((R,) + stats.cov.shape[1:])
    means = np.empty((R,) + stats.mean.shape[1:])
    for g in range(struct.n_groups):
        X = rng.multivariate_normal(stats.mean[0, g], stats.cov[0, g], size=(R, n[g]))
        means[:, g] = X.mean(axis=1)
        D = X - means[:, g][:, None, :]
        covs[:, g] = np.einsum("rni,rnj->rij", D, D) / n[g]
    batch = GroupStats(covs, means, stats.n)
    together = minimize(struct, batch, sol.theta[0])
    for r in range(R):
        alone = minimize(struct, GroupStats(covs[r:r + 1], means[r:r + 1], stats.n), sol.theta[0])
        np.testing.assert_allclose(together.theta[r], alone.theta[0], atol=1e-8)
    assert together.converged.all()
    assert np.ptp(together.fmin) > 0


def test_moment_jacobian_matches_finite_differences_and_has_full_rank():
    rows, observed, latent, G, means = lavaan_table("hs_partial_scalar")
    struct = GroupStructure(rows, observed, latent, G, means)
    stats, _ = group_moments("hs_partial_scalar", observed)
    theta = group_starts(struct, stats)[0] + 0.03
    J = struct.moment_jacobian(theta)
    assert J.shape == (struct.n_moments, struct.k)

    def moments(th):
        Sigma, mu = struct.implied(th[None])
        iu = np.triu_indices(struct.p)
        return np.concatenate([np.concatenate([Sigma[0, g][iu], mu[0, g]]) for g in range(G)])

    h = 1e-6
    num = np.column_stack([(moments(theta + h * e) - moments(theta - h * e)) / (2 * h)
                           for e in np.eye(struct.k)])
    np.testing.assert_allclose(J, num, atol=1e-7)
    assert np.linalg.matrix_rank(J) == struct.k


def test_theta_from_rows_and_row_values_round_trip():
    struct, stats, _, sol = fitted("hs_labelled")
    values = struct.row_values(sol.theta)[0]
    keyed = {(r.lhs, r.op, r.rhs, r.group): v for r, v in zip(struct.rows, values)}
    np.testing.assert_array_equal(struct.theta_from_rows(keyed), sol.theta[0])


def test_groups_or_means_need_ml():
    rows, observed, latent, G, means = lavaan_table("hs_configural")
    struct = GroupStructure(rows, observed, latent, G, means)
    stats, _ = group_moments("hs_configural", observed)
    with pytest.raises(NotSupportedError, match="ML only"):
        minimize(struct, stats, group_starts(struct, stats), "GLS")


def test_bad_structures_and_statistics_are_refused():
    rows, observed, latent, G, means = lavaan_table("hs_configural")
    with pytest.raises(ModelSpecificationError, match="meanstructure=True"):
        GroupStructure(rows, observed, latent, G, meanstructure=False)
    with pytest.raises(ModelSpecificationError, match="group 2"):
        GroupStructure(rows, observed, latent, 1, means)
    struct = GroupStructure(rows, observed, latent, G, means)
    stats, _ = group_moments("hs_configural", observed)
    with pytest.raises(ArgumentError, match="stats.mean"):
        minimize(struct, GroupStats(stats.cov, None, stats.n), group_starts(struct, stats))
    with pytest.raises(ArgumentError, match="stats.cov"):
        minimize(struct, GroupStats(stats.cov[:, :1], stats.mean, stats.n), np.zeros(struct.k))
    with pytest.raises(ArgumentError, match="stats.n"):
        GroupMLObjective(struct, GroupStats(stats.cov, stats.mean, np.array([156.0])))


def test_ram_structure_keeps_intercepts_out_of_the_matrices():
    rows, observed, latent, G, means = lavaan_table("hs_meanstructure")
    ram = RamStructure(rows, observed, latent)
    no_means = RamStructure([r for r in rows if r.op != "~1"], observed, latent)
    theta = np.linspace(0.3, 1.2, ram.k)[None]
    # the covariance part ignores the intercepts (their parameters come last in lavaan's table)
    A, S = ram.matrices(theta)
    A0, S0 = no_means.matrices(theta[:, : no_means.k])
    np.testing.assert_array_equal(A, A0)
    np.testing.assert_array_equal(S, S0)
    assert ram.free_map.shape == (no_means.free_map.shape[0], ram.k)
    assert ram.row_is_mean.sum() == sum(r.op == "~1" for r in rows)


@pytest.mark.parametrize("name", ["hs_scalar", "lc_scalar", "lc_configural", "hs_fixed_intercepts",
                                  "lc_regressions_rescov", "hs_labelled"])
def test_exact_hessian_matches_finite_differences(name):
    rows, observed, latent, G, means = lavaan_table(name)
    struct = GroupStructure(rows, observed, latent, G, means)
    stats, _ = group_moments(name, observed)
    theta = group_starts(struct, stats)[0] + 0.05 * np.sin(np.arange(struct.k))
    k = struct.k
    g, H, F = GroupMLObjective(struct, stats).derivatives(theta[None], np.array([0]))
    np.testing.assert_allclose(g, gradient(struct, theta[None], stats), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(F, information(struct, theta[None], stats), rtol=1e-10, atol=1e-12)
    h = 1e-6
    E = np.eye(k) * h
    many = GroupStats(np.repeat(stats.cov, 2 * k, 0), np.repeat(stats.mean, 2 * k, 0), stats.n)
    gg = gradient(struct, np.concatenate([theta + E, theta - E]), many)
    numeric = (gg[:k] - gg[k:]) / (2 * h)
    np.testing.assert_allclose(H[0], numeric, atol=1e-6 * max(1.0, np.abs(numeric).max()))
    assert np.abs(H[0] - F[0]).max() > 1e-3          # away from the minimum they differ


@pytest.mark.parametrize("name", ["hs_scalar", "lc_strict", "hs_labelled"])
def test_newton_reaches_the_scoring_solution_in_fewer_iterations(name):
    struct, stats, _, sol = fitted(name)
    newton = minimize(struct, stats, group_starts(struct, stats), method="newton")
    assert newton.converged[0]
    np.testing.assert_allclose(newton.theta, sol.theta, atol=1e-7)
    assert abs(newton.fmin[0] - sol.fmin[0]) < 1e-12
    assert newton.iterations[0] < sol.iterations[0]


def test_chunked_batches_give_each_replicate_the_same_numbers():
    from lcsem.engine import optimize
    struct, stats, _, sol = fitted("hs_metric")
    rng = np.random.default_rng(3)
    R = optimize.CHUNK + 5
    covs = np.empty((R,) + stats.cov.shape[1:])
    for g in range(struct.n_groups):
        L = np.linalg.cholesky(stats.cov[0, g])
        Z = rng.standard_normal((R, int(stats.n[g]), struct.p)) @ L.T
        covs[:, g] = np.einsum("rni,rnj->rij", Z, Z) / stats.n[g]
    means = np.repeat(stats.mean, R, 0) + 0.05 * rng.standard_normal((R,) + stats.mean.shape[1:])
    batch = GroupStats(covs, means, stats.n)
    for method in ("fisher", "newton"):
        whole = minimize(struct, batch, sol.theta[0], method=method)
        last = minimize(struct, GroupStats(covs[-3:], means[-3:], stats.n), sol.theta[0], method=method)
        np.testing.assert_array_equal(whole.theta[-3:], last.theta)
        assert whole.converged.all()


def test_newton_needs_a_group_structure(hs_single):
    model, S, n = hs_single
    ram = RamStructure(model.rows, model.observed, model.latent)
    with pytest.raises(NotSupportedError, match="newton"):
        minimize(ram, S[None], simple_starts(ram, S)[None], method="newton")
    with pytest.raises(ArgumentError, match="method"):
        minimize(ram, S[None], simple_starts(ram, S)[None], method="bfgs")


def test_curvature_checks_work_on_groups():
    from lcsem.engine.curvature import descent_direction, hessian, leave_saddle
    struct, stats, _, sol = fitted("hs_scalar")
    theta = sol.theta[0]
    # at lavaan's minimum: no direction of negative curvature, nothing to leave
    assert descent_direction(struct, theta, stats, "ML") is None
    assert leave_saddle(struct, stats, theta, "ML") is None
    # a point with negative curvature: the lavaan solution with the visual factor's variance
    # near zero (its loadings then barely matter, and F falls as the variance grows)
    names = [None] * struct.k
    for r, f in zip(struct.rows, struct.row_free):
        if f >= 0 and names[f] is None:
            names[f] = (r.lhs, r.op, r.rhs, r.group)
    bent = theta.copy()
    for f, key in enumerate(names):
        if key[:3] == ("visual", "~~", "visual"):
            bent[f] = 1e-3
        if key[1] == "~~" and "visual" in key[:3:2] and key[0] != key[2]:
            bent[f] = 0.0
    H = hessian(struct, bent, stats, "ML")
    assert np.linalg.eigvalsh(H)[0] < 0
    direction = descent_direction(struct, bent, stats, "ML")
    assert direction is not None and abs(np.linalg.norm(direction) - 1) < 1e-12
    assert direction @ H @ direction < 0
    with pytest.raises(NotSupportedError):
        hessian(struct, theta, stats, "GLS")


def test_identification_check_takes_a_group_structure():
    from lcsem.inference.identification import check_jacobian, moment_jacobian, parameter_labels
    struct, stats, _, sol = fitted("hs_metric")
    assert check_jacobian(struct, sol.theta[0]).identified
    assert moment_jacobian(struct, sol.theta[0]).shape == (struct.n_moments, struct.k)
    labels = parameter_labels(struct)
    assert "x1 ~1 [group 2]" in labels and len(set(labels)) == struct.k
    # latent means free in both groups next to free intercepts: not identified, named
    rows = tuple(r if not (r.op == "~1" and r.lhs == "visual") else
                 ParRow(r.lhs, r.op, r.rhs, free=struct.k + r.group, group=r.group) for r in struct.rows)
    loose = GroupStructure(rows, struct.observed, struct.latent, 2, True)
    theta = np.concatenate([sol.theta[0], [0.1, 0.2]])
    check = check_jacobian(loose, theta)
    assert not check.identified
    assert any("visual ~1" in name for name in check.parameters)


def test_rescaled_group_problem_is_an_exact_reparameterisation():
    from lcsem.engine.rescale import rescaled_group_problem, rescaled_problem
    name = "hs_scalar"
    struct, stats, _, sol = fitted(name)
    # x1 in units 10^4 times smaller: one pooled factor for both groups
    c = 1e4
    big = np.ones(struct.p)
    big[0] = c
    scaled_stats = GroupStats(stats.cov * big[:, None] * big[None, :], stats.mean * big, stats.n)
    problem = rescaled_group_problem(struct, scaled_stats)
    assert problem is not None and not np.allclose(problem.factor, 1.0)
    assert rescaled_problem(struct.rows, struct, scaled_stats, "ML").factor.tolist() == problem.factor.tolist()
    fit = minimize(problem.struct, problem.S, group_starts(problem.struct, problem.S, "marker"))
    assert fit.converged[0]
    theta = problem.to_original(fit.theta[0])
    assert abs(fit.fmin[0] - sol.fmin[0]) < 1e-10
    values = dict(zip([(r.lhs, r.op, r.rhs, r.group) for r in struct.rows], struct.row_values(theta[None])[0]))
    base = dict(zip([(r.lhs, r.op, r.rhs, r.group) for r in struct.rows], struct.row_values(sol.theta)[0]))
    for g in (1, 2):
        assert values[("x1", "~1", "", g)] == pytest.approx(c * base[("x1", "~1", "", g)], rel=1e-7)
        assert values[("x1", "~~", "x1", g)] == pytest.approx(c ** 2 * base[("x1", "~~", "x1", g)], rel=1e-6)
        assert values[("visual", "~~", "visual", g)] == pytest.approx(c ** 2 * base[("visual", "~~", "visual", g)],
                                                                      rel=1e-6)
        assert values[("visual", "=~", "x2", g)] == pytest.approx(base[("visual", "=~", "x2", g)] / c, rel=1e-6)
    # standard errors carried back equal those of the unscaled problem, scaled the same way
    info = information(problem.struct, fit.theta, problem.S)[0]
    se = problem.se_to_original(2.0 / stats.n.sum() * np.linalg.inv(info))
    se0 = np.sqrt(np.diag(2.0 / stats.n.sum() * np.linalg.inv(information(struct, sol.theta, stats)[0])))
    x1_int = struct.row_free[[r.lhs == "x1" and r.op == "~1" for r in struct.rows]][0]
    assert se[x1_int] == pytest.approx(c * se0[x1_int], rel=1e-6)


def test_marker_starts_survive_a_marker_in_other_units():
    # simple starts (loadings 1, latent variances 0.05) assume items on one scale: with the
    # marker x1 in units 3 times smaller, scoring from them does not converge; the marker
    # rule does, to lavaan's chi-square (units do not change it)
    struct, stats, _, sol = fitted("hs_scalar")
    big = np.ones(struct.p)
    big[0] = 3.0
    scaled = GroupStats(stats.cov * big[:, None] * big[None, :], stats.mean * big, stats.n)
    assert not minimize(struct, scaled, group_starts(struct, scaled)).converged[0]
    marker = minimize(struct, scaled, group_starts(struct, scaled, "marker"))
    assert marker.converged[0]
    assert abs(marker.fmin[0] - sol.fmin[0]) < 1e-10
    with pytest.raises(ArgumentError, match="rule"):
        group_starts(struct, stats, "fabin")


def test_group_sizes_may_differ_between_replicates():
    struct, stats, _, sol = fitted("lc_metric")
    n2 = np.array([[175.0, 175.0], [100.0, 250.0]])
    both = GroupStats(np.repeat(stats.cov, 2, 0), np.repeat(stats.mean, 2, 0), n2)
    together = minimize(struct, both, sol.theta[0])
    alone = minimize(struct, GroupStats(stats.cov, stats.mean, n2[1]), sol.theta[0])
    np.testing.assert_allclose(together.theta[0], sol.theta[0], atol=1e-8)
    np.testing.assert_allclose(together.theta[1], alone.theta[0], atol=1e-8)
    assert np.abs(together.theta[1] - together.theta[0]).max() > 1e-3    # the weights matter


def test_group_stats_take_and_repeat():
    _, stats, _, _ = fitted("hs_configural")
    two = stats.repeat(2)
    assert two.n_replicates == 2 and two.cov.shape[1:] == stats.cov.shape[1:]
    np.testing.assert_array_equal(two.take([1]).mean, stats.mean)
    per = GroupStats(two.cov, two.mean, np.array([[156.0, 145.0], [100.0, 201.0]]))
    np.testing.assert_array_equal(per.take(slice(1, 2)).n, [[100.0, 201.0]])
    single = GroupStats.single(stats.cov[0, 0], 156, stats.mean[0, 0])
    assert single.cov.shape == (1, 1, 9, 9) and single.mean.shape == (1, 1, 9)


@pytest.mark.parametrize("method", ["fisher", "newton"])
def test_starts_with_means_far_off_still_reach_the_minimum(method):
    # intercepts 30% off their sample means pull the covariance part astray unless the
    # solver first puts the mean-only parameters at their best values (without that step,
    # 24 of these 40 starts did not converge)
    struct, stats, _, sol = fitted("hs_configural")
    rng = np.random.default_rng(0)
    starts = group_starts(struct, stats, "marker")[0] * np.exp(0.3 * rng.standard_normal((40, struct.k)))
    out = minimize(struct, stats.repeat(40), starts, method=method)
    assert out.converged.all()
    np.testing.assert_allclose(out.fmin, sol.fmin[0], atol=1e-9)
