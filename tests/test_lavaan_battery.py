"""An unseen-style battery against lavaan 0.6.14 / semTools 0.5.6 (issue 9).

``tests/reference/make_battery.R`` simulates (fixed seeds) or loads the data of some
twenty model shapes — second-order CFA, MIMIC with a binary covariate, serial and
parallel latent mediation with ``:=``, shared-label equalities, fixed loadings, variances
and covariances, std.lv models, an observed path model at N = 47, a single-indicator
latent, a Heywood case, skewed data, N = 60, a 6x5 SEM at N = 1000, published covariance
structures — under ML, GLS and ULS, and stores every lavaan output in
``battery_reference.json``. Every number lcsem reports for these fits is compared here,
one test per case and quantity, at the core tolerances (estimates, SEs, standardised
values and fit indices 1e-3, chi-square 0.01, z 1e-2).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lcsem

REFERENCE = Path(__file__).parent / "reference"
BATTERY = json.loads((REFERENCE / "battery_reference.json").read_text())
CASES = BATTERY["cases"]

TOL = 1e-3
TOL_CHISQ = 0.01        # chisq, baseline chisq, loglik, aic, bic
TOL_Z = 1e-2
FIT_NAMES = {"npar": "n_params", "baseline.chisq": "baseline_chisq", "baseline.df": "baseline_df",
             "rmsea.ci.lower": "rmsea_ci_lower", "rmsea.ci.upper": "rmsea_ci_upper",
             "rmsea.pvalue": "rmsea_pvalue", "logl": "loglik"}
LOOSE = {"chisq", "baseline.chisq", "logl", "aic", "bic"}
FIT_TIME_LIMIT = 20.0   # seconds per fit (with modindices and measurement)

NEEDS: dict[tuple[str, str], str] = {}   # (case, quantity) -> reason for a strict xfail


def _key(lhs: str, op: str, rhs: str) -> tuple[str, str, str]:
    return (min(lhs, rhs), op, max(lhs, rhs)) if op == "~~" else (lhs, op, rhs)


@lru_cache(maxsize=None)
def _data(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / name)


@lru_cache(maxsize=None)
def _fit(case_id: str):
    case = CASES[case_id]
    model = lcsem.Model.from_syntax(case["model"], std_lv=case["std_lv"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lcsem.fit(model, _data(case["data"]), estimator=case["estimator"])


@lru_cache(maxsize=None)
def _measurement(case_id: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lcsem.measurement(_fit(case_id))


def _params(quantity: str) -> list:
    out = []
    for cid, case in CASES.items():
        if not case["converged"]:   # lavaan found no solution: see test_where_lavaan_finds_no_solution
            continue
        if quantity == "modindices" and "modindices" not in case:
            continue
        if quantity == "measurement" and "measurement" not in case:
            continue
        if quantity == "defined" and not any(e["op"] == ":=" for e in case["estimates"]):
            continue
        marks = [pytest.mark.xfail(strict=True, reason=NEEDS[(cid, quantity)])] if (cid, quantity) in NEEDS else []
        out.append(pytest.param(cid, id=f"{cid}-{quantity}", marks=marks))
    return out


def _close(ours: float, theirs: float | None, tol: float) -> bool:
    if theirs is None:
        return True
    return bool(abs(ours - theirs) <= tol)


def _report(bad: list[str]) -> str:
    return f"{len(bad)} numbers differ from lavaan:\n" + "\n".join(bad[:40])


# ---------------------------------------------------------------------------- fit
@pytest.mark.parametrize("case_id", _params("fit"))
def test_fit_indices(case_id):
    res = _fit(case_id)
    assert res.converged == CASES[case_id]["converged"]
    bad = []
    for name, value in CASES[case_id]["fit"].items():
        ours = float(res.fit_indices[FIT_NAMES.get(name, name)])
        if value is None:
            if np.isfinite(ours):
                bad.append(f"{name}: lcsem {ours:.6f}, lavaan NA")
            continue
        if not _close(ours, value, TOL_CHISQ if name in LOOSE else TOL):
            bad.append(f"{name}: lcsem {ours:.6f}, lavaan {value:.6f}")
    assert not bad, _report(bad)


@pytest.mark.parametrize("case_id", _params("estimates"))
def test_estimates_se_z_pvalue(case_id):
    est = _fit(case_id).estimates
    ours = {_key(*k): row for k, row in zip(zip(est.lhs, est.op, est.rhs), est.to_dict("records"))}
    bad = []
    for e in CASES[case_id]["estimates"]:
        k = _key(e["lhs"], e["op"], e["rhs"])
        if k not in ours:
            bad.append(f"{k}: not in lcsem's estimates")
            continue
        o = ours[k]
        if not _close(o["est"], e["est"], TOL):
            bad.append(f"{k} est: lcsem {o['est']:.6f}, lavaan {e['est']:.6f}")
        if not e["se"]:   # fixed in lavaan (se 0 / NA): lcsem shows no SE
            if np.isfinite(o["se"]):
                bad.append(f"{k} se: lcsem {o['se']:.6f} for a parameter lavaan does not estimate")
            continue
        for q, tol in (("se", TOL), ("z", TOL_Z), ("pvalue", TOL)):
            if not _close(o[q], e[q], tol):
                bad.append(f"{k} {q}: lcsem {o[q]:.6f}, lavaan {e[q]:.6f}")
    assert not bad, _report(bad)


@pytest.mark.parametrize("case_id", _params("std_all"))
def test_standardized_solution(case_id):
    est = _fit(case_id).estimates
    ours = {_key(*k): v for k, v in zip(zip(est.lhs, est.op, est.rhs), est.std_all)}
    bad = [f"{_key(e['lhs'], e['op'], e['rhs'])}: lcsem {ours.get(_key(e['lhs'], e['op'], e['rhs']))}, "
           f"lavaan {e['est.std']:.6f}"
           for e in CASES[case_id]["std"]
           if not _close(ours.get(_key(e["lhs"], e["op"], e["rhs"]), np.nan), e["est.std"], TOL)]
    assert not bad, _report(bad)


@pytest.mark.parametrize("case_id", _params("r2"))
def test_r2(case_id):
    r2 = _fit(case_id).r2
    bad = [f"{n}: lcsem {r2.get(n)}, lavaan {v}" for n, v in CASES[case_id]["r2"].items()
           if not _close(float(r2.get(n, np.nan)), v, TOL)]
    assert not bad, _report(bad)


@pytest.mark.parametrize("case_id", _params("defined"))
def test_defined_parameters_and_their_standardised_se(case_id):
    """``:=`` rows: estimate, delta-method SE, std.all and its SE (lcsem.effects)."""
    res = _fit(case_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = lcsem.effects(res).table
    defined = table[table["effect"] == "defined"].set_index("path")
    std = {e["lhs"]: e for e in CASES[case_id]["std"] if e["op"] == ":="}
    bad = []
    for e in CASES[case_id]["estimates"]:
        if e["op"] != ":=":
            continue
        row = defined.loc[f"{e['lhs']} := {e['rhs']}"]
        s = std[e["lhs"]]
        for ours, theirs, what in ((row["est"], e["est"], "est"), (row["se"], e["se"], "se"),
                                   (row["std"], s["est.std"], "std"), (row["std_se"], s["se"], "std se")):
            if not _close(ours, theirs, TOL):
                bad.append(f"{e['lhs']} {what}: lcsem {ours:.6f}, lavaan {theirs:.6f}")
    assert not bad, _report(bad)


@pytest.mark.parametrize("case_id", _params("modindices"))
def test_modification_indices(case_id):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mi = _fit(case_id).modindices(top=None)
    ours = {_key(*k): row for k, row in zip(zip(mi.lhs, mi.op, mi.rhs), mi.to_dict("records"))}
    bad = []
    for e in CASES[case_id]["modindices"]:
        k = _key(e["lhs"], e["op"], e["rhs"])
        if k not in ours:
            # lavaan lists the fixed.x covariates' moments with an index of 0; lcsem omits them
            if e["mi"] is not None and e["mi"] > 1e-8:
                bad.append(f"{k}: lavaan mi {e['mi']:.4f}, not listed by lcsem")
            continue
        for q, lq in (("mi", "mi"), ("epc", "epc"), ("sepc_all", "sepc.all")):
            if q != "mi" and e["mi"] is not None and e["mi"] < 1e-6:
                # EPC = gradient / information with a gradient that is 0 at the optimum:
                # with mi ~ 1e-8 it is the optimiser's convergence noise (lavaan 1e-3, lcsem 1e-7)
                continue
            if not _close(ours[k][q], e[lq], TOL):
                bad.append(f"{k} {q}: lcsem {ours[k][q]:.6f}, lavaan {e[lq]:.6f}")
    assert not bad, _report(bad)


@pytest.mark.parametrize("case_id", _params("measurement"))
def test_measurement_reliability_validity(case_id):
    """omega (compRelSEM), alpha (tau.eq), AVE, HTMT/HTMT2 and the CFA's std loadings."""
    ref = CASES[case_id]["measurement"]
    meas = _measurement(case_id)
    assert meas.converged == ref["converged"]
    rel = meas.reliability
    bad = []
    for q in ("omega", "alpha", "ave"):
        for construct, value in ref[q].items():
            if construct not in rel.index:
                bad.append(f"{q} {construct}: not reported")
            elif not _close(rel.loc[construct, q], value, TOL):
                bad.append(f"{q} {construct}: lcsem {rel.loc[construct, q]:.6f}, semTools {value:.6f}")
    if "htmt" in ref:
        names = ref["htmt_constructs"]
        for q in ("htmt", "htmt2"):
            diff = np.abs(getattr(meas, q).loc[names, names].to_numpy() - np.array(ref[q], dtype=float))
            if not np.nanmax(diff) <= TOL:
                bad.append(f"{q}: largest difference {np.nanmax(diff):.6f}")
    loadings = meas.loadings.set_index(["construct", "indicator"])
    factors = {e["lhs"] for e in ref["std_loadings"]}
    for e in ref["std_loadings"]:
        k = (e["lhs"], e["rhs"])
        if e["rhs"] in factors:   # second-order loadings: lcsem reports items' loadings only
            continue
        if not _close(loadings.loc[k, "std"], e["est.std"], TOL):
            bad.append(f"std {k}: lcsem {loadings.loc[k, 'std']:.6f}, lavaan {e['est.std']:.6f}")
        if e["se"] and not _close(loadings.loc[k, "se"], e["se"], TOL):
            bad.append(f"std se {k}: lcsem {loadings.loc[k, 'se']:.6f}, lavaan {e['se']:.6f}")
    assert not bad, _report(bad)


# ---------------------------------------------------------------------------- non-convergence
def test_model_without_a_solution_is_reported_as_not_converged():
    """A marker exactly uncorrelated with its factor's other indicators: no finite ML
    solution exists (lavaan: "the optimizer warns that a solution has NOT been found").
    lcsem must say the same — converged False and a ConvergenceWarning — and never
    present a stationary point that is not a minimum as a solution."""
    ref = BATTERY["nonconvergence"]
    assert ref["converged"] is False
    data = _data(ref["data"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = lcsem.fit(ref["model"], data)
    assert res.converged is False
    assert any(issubclass(w.category, lcsem.ConvergenceWarning) for w in caught)
    assert any("converge" in m for m in res.warnings)
    assert "converged: NO" in res.summary()


@pytest.mark.parametrize("case_id", [c for c, case in CASES.items() if not case["converged"]])
def test_where_lavaan_finds_no_solution(case_id):
    """lavaan's optimiser stops without a solution (ULS on the Swiss path model: 4,913
    iterations). lcsem must either say so (converged False, ConvergenceWarning) or
    return a verified minimum: zero gradient, no direction of negative curvature, and a
    discrepancy no larger than at lavaan's last iterate."""
    from lcsem.engine.curvature import descent_direction
    from lcsem.engine.optimize import discrepancy, gradient

    case = CASES[case_id]
    res = _fit(case_id)
    if not res.converged:
        assert any("converge" in m for m in res.warnings)
        return
    struct = res.structure
    n = res.n_obs
    S = res.sample_cov.to_numpy() * (1.0 if case["estimator"] == "ML" else n / (n - 1))
    last = {_key(e["lhs"], e["op"], e["rhs"]): e["est"] for e in case["last_iterate"]}
    theta_lavaan = struct.theta_from_rows({k: last[_key(*k)] for k in
                                           [(r.lhs, r.op, r.rhs) for r in struct.rows]})
    f_ours, f_lavaan = discrepancy(struct, np.stack([res.theta, theta_lavaan]), np.stack([S, S]),
                                   case["estimator"])
    assert f_ours <= f_lavaan
    g = gradient(struct, res.theta[None], S[None], case["estimator"])[0]
    assert np.max(np.abs(g)) < 1e-6 * max(1.0, f_ours)
    assert descent_direction(struct, res.theta, S, case["estimator"]) is None


# ---------------------------------------------------------------------------- time
_WORKER = r"""
import sys, time, warnings, json
import pandas as pd
import lcsem
warnings.simplefilter("ignore")
print("@@ready", flush=True)
for line in sys.stdin:
    job = json.loads(line)
    t = time.perf_counter()
    model = lcsem.Model.from_syntax(job["model"], std_lv=job["std_lv"])
    try:
        res = lcsem.fit(model, pd.read_csv(job["data"]), estimator=job["estimator"])
        if job["estimator"] == "ML":
            res.modindices(top=None)
        if job["measurement"]:
            lcsem.measurement(res)
    except lcsem.LcsemError:
        pass
    print("@@seconds", time.perf_counter() - t, flush=True)
"""

_HANG_CASE = {"model": "f =~ a*x1 + a*x2 + a*x3 + a*x4", "data": "battery_cfa2.csv", "estimator": "ML",
              "std_lv": True, "measurement": True}


class _Worker:
    """A Python process that fits jobs one at a time; a job that does not return within
    the limit is killed instead of blocking the test run."""

    def __init__(self):
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        self.proc = subprocess.Popen([sys.executable, "-c", _WORKER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        self.ready = self._answer("@@ready", 120.0) is not None   # importing lcsem

    def _answer(self, tag: str, limit: float) -> str | None:
        """The worker's next line starting with ``tag``; None (worker killed) after ``limit`` s."""
        deadline = time.monotonic() + limit
        while True:
            ready, _, _ = select.select([self.proc.stdout], [], [], max(deadline - time.monotonic(), 0.0))
            if not ready:
                self.proc.kill()
                self.proc.wait()
                return None
            line = self.proc.stdout.readline()
            if not line:
                return None
            if line.startswith(tag):
                return line

    def run(self, job: dict, limit: float) -> float | None:
        job = dict(job, data=str(REFERENCE / job["data"]))
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        line = self._answer("@@seconds ", limit)
        return None if line is None else float(line.split()[1])

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def fit_times():
    jobs = {cid: {"model": c["model"], "data": c["data"], "estimator": c["estimator"],
                  "std_lv": c["std_lv"], "measurement": "measurement" in c} for cid, c in CASES.items()}
    jobs["std_lv_equal_loadings_hang"] = _HANG_CASE
    times: dict[str, float | None] = {}
    worker = _Worker()
    for cid, job in jobs.items():
        if worker.proc.poll() is not None:
            worker = _Worker()
        times[cid] = worker.run(job, FIT_TIME_LIMIT)
    worker.close()
    return times


_TIME_IDS = list(CASES) + ["std_lv_equal_loadings_hang"]


@pytest.mark.parametrize("case_id", [pytest.param(c, id=f"{c}-time") for c in _TIME_IDS])
def test_every_fit_returns_within_the_time_limit(fit_times, case_id):
    seconds = fit_times[case_id]
    assert seconds is not None, f"{case_id}: no answer within {FIT_TIME_LIMIT} s (killed)"
    assert seconds < FIT_TIME_LIMIT, f"{case_id}: {seconds:.1f} s"


# ---------------------------------------------------------------------------- issue 9 items
def _fit_value(case_id: str, name: str) -> tuple[float, float]:
    return float(_fit(case_id).fit_indices[FIT_NAMES.get(name, name)]), CASES[case_id]["fit"][name]


@pytest.mark.parametrize("case_id", ["path_swiss_ML", "path_swiss_indirect_ML", "mimic_binary_ML",
                                     "small_n60_ML"])
def test_gfi_agfi_give_fixed_x_covariates_zero_weight(case_id):
    """ML with exogenous covariates (fixed.x): lavaan's weight matrix has zero rows and
    columns for the covariates' moments (was AGFI 0.190 vs 0.068 on a path model)."""
    for name in ("gfi", "agfi"):
        ours, theirs = _fit_value(case_id, name)
        assert ours == pytest.approx(theirs, abs=1e-4), name


@pytest.mark.parametrize("case_id", ["second_order_ULS", "published_cfa_ULS", "std_lv_cfa_ULS"])
def test_uls_gfi_counts_every_moment_once(case_id):
    for name in ("gfi", "agfi"):
        ours, theirs = _fit_value(case_id, name)
        assert ours == pytest.approx(theirs, abs=1e-4), name


def test_agfi_is_one_when_df_is_zero():
    """lavaan's lav_fit_agfi: AGFI = 1 for a saturated model (df = 0)."""
    res = _fit("path_swiss_ML")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sat = lcsem.fit("fertility ~ education + agriculture", _data("battery_swiss.csv"))
    assert sat.fit_indices["df"] == 0
    assert sat.fit_indices["agfi"] == 1.0
    assert res.fit_indices["agfi"] < 1


@pytest.mark.parametrize("case_id", ["path_swiss_GLS", "path_swiss_ULS", "mimic_binary_GLS",
                                     "mimic_mediation_ULS", "small_n60_GLS"])
def test_gls_uls_estimate_the_covariates_moments(case_id):
    """lavaan's default for GLS and ULS is fixed.x = FALSE: the covariates' variances and
    covariances are free parameters with SEs and count in npar (was 9 vs 12)."""
    res = _fit(case_id)
    assert res.fit_indices["n_params"] == CASES[case_id]["fit"]["npar"]
    est = res.estimates.set_index(["lhs", "op", "rhs"])
    exo = res.model.roles.exogenous_observed
    for x in exo:
        assert np.isfinite(est.loc[(x, "~~", x), "se"])


def test_gls_standardised_se_of_defined_parameter_uses_free_covariates():
    """GLS std SE of ``:=`` (issue: 0.155 vs lavaan's 0.163) with the covariates' moments free."""
    res = _fit("path_swiss_indirect_GLS")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = lcsem.effects(res).table
    row = table[table["effect"] == "defined"].iloc[0]
    ref = next(e for e in CASES["path_swiss_indirect_GLS"]["std"] if e["op"] == ":=")
    assert row["std_se"] == pytest.approx(ref["se"], abs=1e-4)


@pytest.mark.parametrize("case_id", ["fixed_values_ULS", "path_swiss_ULS"])
def test_uls_discrepancy_counts_every_moment_once(case_id):
    """lavaan's ULS minimises sum_{i<=j} (s_ij - sigma_ij)^2; with fixed or unfitted
    variances the estimates differ from those of 1/2 tr[(S - Sigma)^2] (chisq 140.7 vs 160.0)."""
    ours, theirs = _fit_value(case_id, "chisq")
    assert ours == pytest.approx(theirs, abs=0.01)
    assert np.isnan(_fit(case_id).fit_indices["pvalue"])   # lavaan: no p-value under ULS


def test_binary_covariate_raises_no_ordinal_warning():
    """A 0/1 dummy predictor is conditioned on: no OrdinalDataWarning (an ordinal indicator
    still raises one)."""
    data = _data("battery_mimic.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("error", lcsem.OrdinalDataWarning)
        lcsem.fit(CASES["mimic_binary_ML"]["model"], data)
    coarse = data.assign(y1=(data["y1"] > 0).astype(int))
    with pytest.warns(lcsem.OrdinalDataWarning, match=r"\['y1'\]"):
        lcsem.fit(CASES["mimic_binary_ML"]["model"], coarse)


def _duplication(p: int) -> np.ndarray:
    """D with vec(A) = D vech(A) for symmetric A (vech: lower triangle, column-major)."""
    pairs = [(i, j) for j in range(p) for i in range(j, p)]
    D = np.zeros((p * p, len(pairs)))
    for col, (i, j) in enumerate(pairs):
        D[i + j * p, col] = D[j + i * p, col] = 1.0
    return D, pairs


@pytest.mark.parametrize("estimator, fixed_x", [("ML", ()), ("ML", (1, 3)), ("GLS", ()), ("ULS", ())])
def test_gfi_is_lavaans_weighted_form(estimator, fixed_x):
    """``lcsem.inference.fit_indices.gfi`` equals lavaan's ``1 - e'We / s'Ws`` built literally: W the
    expected h1 information ``1/2 D'(A x A)D`` (A = Sigma^-1 for ML, S^-1 for GLS) with
    the covariate-moment rows and columns zeroed under fixed.x, or the identity (ULS)."""
    from lcsem.inference.fit_indices import gfi

    rng = np.random.default_rng(9)
    p = 5
    X = rng.standard_normal((40, p))
    S = np.cov(X, rowvar=False)
    Sigma = S + 0.05 * np.diag(rng.random(p)) + 0.02
    D, pairs = _duplication(p)
    if estimator == "ULS":
        W = np.eye(len(pairs))
    else:
        A = np.linalg.inv(Sigma if estimator == "ML" else S)
        W = 0.5 * D.T @ np.kron(A, A) @ D
    drop = [k for k, (i, j) in enumerate(pairs) if i in fixed_x and j in fixed_x]
    W[drop, :] = 0.0
    W[:, drop] = 0.0
    s = np.array([S[i, j] for i, j in pairs])
    e = s - np.array([Sigma[i, j] for i, j in pairs])
    expected = 1.0 - (e @ W @ e) / (s @ W @ s)
    assert gfi(S, Sigma, estimator, fixed_x) == pytest.approx(expected, abs=1e-12)
    # vectorised over replicates
    both = gfi(np.stack([S, S]), np.stack([Sigma, Sigma]), estimator, fixed_x)
    np.testing.assert_allclose(both, expected, atol=1e-12)
