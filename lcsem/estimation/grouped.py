"""Estimation of multi-group and mean-structure models (ML), lavaan's semantics.

The fitted parameter table comes from :func:`lcsem.spec.groups.group_table` (one block of
rows per group; ``group_equal``/``group_partial``/``c()`` equalities as shared free
numbers), the sample statistics from :func:`lcsem.data.groups.moments_by_group` (groups
in order of first appearance, covariances with denominator N_g), and the engine's
:class:`~lcsem.engine.GroupStructure` maps the one parameter vector to every group's
implied means and covariances. ``chisq = N F_min = sum_g N_g F_g``; standard errors from
the expected information (lavaan's default).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from .._warnings import warn
from ..data.groups import GroupedMoments
from ..engine import GroupStats, GroupStructure, group_starts, information, minimize
from ..engine.curvature import leave_saddle
from ..engine.group_ls import (LS_ESTIMATORS, GroupLSObjective, ls_information, ls_statistic, ls_vcov_scale,
                               unbiased)
from ..engine.optimize import fisher_scoring
from ..engine.rescale import rescaled_group_problem
from ..exceptions import (ConvergenceWarning, EstimationError, IdentificationWarning, ModelSpecificationError,
                          NonAdmissibleWarning)
from ..inference.fit_indices import grouped_fit_measures
from ..inference.grouped import GroupLayout, fixed_x_ids
from ..inference.identification import IdentificationCheck, check_information, rank_check
from ..inference.standardized import STANDARDIZED_KINDS, DefinedParameters, delta_se
from ..inference.wald import add_inference_columns, standard_errors
from ..spec.model import Model
from ..spec.partable import ParRow

GROUP_ESTIMATE_COLUMNS = ["lhs", "op", "rhs", "group", "label", "est", "se", "z", "pvalue", "ci_lower",
                          "ci_upper", "std_lv", "std_all", "std_nox"]


def fit_groups(model: Model, rows: tuple[ParRow, ...], moments: GroupedMoments, meanstructure: bool,
               level: float, estimator: str = "ML") -> dict:
    """Estimate ``rows`` (the full multi-group table) on ``moments``; the fields of a result.

    ``estimator`` ``"ML"``, or ``"GLS"``/``"ULS"`` (lavaan's least squares on the unbiased
    covariances, :mod:`lcsem.engine.group_ls`)."""
    G = len(moments.groups)
    p = len(model.observed)
    n = np.array([g.n_obs for g in moments.groups], dtype=float)
    N = float(n.sum())
    S = np.stack([g.cov for g in moments.groups])
    xbar = np.stack([g.mean for g in moments.groups])
    struct = GroupStructure(rows, model.observed, model.latent, n_groups=G, meanstructure=meanstructure)
    stats = GroupStats(cov=S[None], mean=xbar[None] if meanstructure else None, n=n)
    least_squares = estimator in LS_ESTIMATORS
    if least_squares:   # lavaan: GLS and ULS fit the unbiased covariances
        stats = unbiased(stats)
    S_fit = stats.cov[0]     # the covariances fitted (S itself stays ML's, as on single-group results)
    n_moments = G * (p * (p + 1) // 2 + (p if meanstructure else 0))
    if n_moments < struct.k:
        raise ModelSpecificationError(
            f"the model has {struct.k} free parameters but only {n_moments} sample moments to fit "
            f"(df = {n_moments - struct.k}); it is not identified: fix parameters (e.g. latent means "
            f"to 0, or one intercept per factor) or add equality constraints")
    theta, fmin, converged, iterations, max_gradient = _solve(struct, stats, estimator)
    if not converged:
        warn(f"the optimiser did not converge (largest gradient {max_gradient:.2e} after {iterations} "
             f"iterations, from {2 + RETRY_STARTS} starts); estimates are not reliable",
             ConvergenceWarning, stacklevel=4)
    layout = GroupLayout(rows, model.observed, model.latent)
    names = _parameter_names(layout, moments.labels)
    if least_squares:
        # lavaan's "standard" SEs: inv(sum_g (N_g/N) Delta_g' V_g Delta_g) / (N - G)
        vcov, unidentified = information_vcov(
            struct, theta, 2.0 / ls_vcov_scale(n), names,
            lambda: ls_information(struct, theta[None], stats, estimator)[0], stacklevel=5)
    else:
        vcov, unidentified = information_vcov(struct, theta, N, names,
                                              lambda: information(struct, theta[None], stats)[0], stacklevel=5)
    Sigma, mu = struct.implied(theta[None])
    Sigma, mu = Sigma[0], mu[0]
    df = n_moments - struct.k
    # lavaan's fixed.x holds for ML only (GLS and ULS estimate the covariates' moments)
    fixed_x = frozenset() if least_squares else fixed_x_ids(rows, model)
    exogenous = tuple(model.observed.index(v) for v in model.roles.exogenous_observed)
    chisq = float(ls_statistic(fmin, n)) if least_squares else float(N * max(fmin, 0.0))
    fi = grouped_fit_measures(S_fit, xbar if meanstructure else None, Sigma, mu if meanstructure else None, n,
                              chisq, df=df, n_params=struct.k - len(fixed_x), exogenous=exogenous,
                              estimator=estimator)
    estimates = _estimates(model, rows, layout, theta, vcov, fixed_x, level, G > 1)
    reasons = layout.inadmissible(theta, moments.labels)
    if reasons:
        warn("inadmissible solution: " + "; ".join(reasons), NonAdmissibleWarning, stacklevel=4)
    endogenous = tuple(v for v in layout.blocks[0].struct.names if v in model.roles.endogenous)
    r2 = layout.r2(theta[None], endogenous)[0]
    return dict(theta=theta, vcov=vcov, unidentified=unidentified, converged=converged,
                iterations=iterations, fit_indices=pd.Series(fi, name="value", dtype=float),
                estimates=estimates, inadmissible=reasons, r2=r2, endogenous=endogenous,
                Sigma=Sigma, mu=mu, S=S, xbar=xbar, n=n)


#: latent variances of the retry starts (on unit-variance observed variables)
RETRY_LATENT_VARIANCES = (1.0, 10.0, 30.0)
RETRY_STARTS = len(RETRY_LATENT_VARIANCES)


def _solve(struct: GroupStructure, stats: GroupStats, estimator: str = "ML"
           ) -> tuple[np.ndarray, float, bool, int, float]:
    """Minimise on the rescaled problem (one pooled unit-variance scaling for all groups)
    from lavaan's simple start and from the marker rule's start, by Newton's method with
    scoring where the Hessian is not positive definite; when neither converges (a badly
    fitting mean structure can lead the optimiser from a latent variance of 0.05 into a
    region of negative variances), retry from starts with larger latent variances. A
    converged saddle point is left along its direction of negative curvature.

    GLS and ULS: Gauss-Newton on :class:`~lcsem.engine.group_ls.GroupLSObjective` (ULS
    is not scale-invariant and is solved in the data's units); no saddle check.

    Returns ``(theta, fmin, converged, iterations, max_gradient)`` in the data's units."""
    problem = rescaled_group_problem(struct, stats, estimator)
    scaled, scaled_stats = problem.struct, problem.S
    with np.errstate(over="ignore", invalid="ignore"):
        simple = problem.factor * group_starts(struct, stats)[0]
    marker = group_starts(scaled, scaled_stats, "marker")[0]
    starts = [np.where(np.isfinite(simple), simple, marker), marker]
    sol = _minimize(scaled, scaled_stats.repeat(len(starts)), np.stack(starts), estimator)
    best = best_start(sol)
    if best is None or not sol.converged[best]:
        latent = set(struct.latent)
        ids = sorted({r.free - 1 for r in struct.rows
                      if r.free and r.op == "~~" and r.lhs == r.rhs and r.lhs in latent})
        for factor in RETRY_LATENT_VARIANCES:     # unit-variance problem: observed variances ~1
            alt = starts[0].copy()
            alt[ids] = factor
            starts.append(alt)
        sol = _minimize(scaled, scaled_stats.repeat(len(starts)), np.stack(starts), estimator, max_iter=2000)
        best = best_start(sol)
    if best is None:
        raise EstimationError("estimation failed from every starting point (the implied covariance "
                              "matrix of some group never became positive definite); check the "
                              "model's identification")
    theta, fmin, converged = sol.theta[best], float(sol.fmin[best]), bool(sol.converged[best])
    iterations, max_gradient = int(sol.iterations[best]), float(sol.max_gradient[best])
    escaped = leave_saddle(scaled, scaled_stats, theta, "ML") if converged and estimator == "ML" else None
    if escaped is not None:
        theta, fmin, converged = escaped.theta, float(escaped.fmin), bool(escaped.converged)
        iterations, max_gradient = iterations + int(escaped.iterations), float(escaped.max_gradient)
        if not converged:
            warn("the optimiser stopped at a saddle point (the discrepancy still decreases in some "
                 "direction) and found no minimum from there: the model has no proper solution for "
                 "these data (empirically unidentified?)", ConvergenceWarning, stacklevel=5)
    return problem.to_original(theta), fmin, converged, iterations, max_gradient


def _minimize(struct: GroupStructure, stats: GroupStats, starts: np.ndarray, estimator: str, max_iter: int = 500):
    """ML by Newton's method (scoring where the Hessian is not positive definite); GLS
    and ULS by Gauss-Newton on their objective."""
    if estimator == "ML":
        return minimize(struct, stats, starts, "ML", method="newton", max_iter=max_iter)
    return fisher_scoring(GroupLSObjective(struct, stats, estimator), starts, max_iter=max_iter, newton=True)


def best_start(sol) -> int | None:
    """The converged solution with the lowest discrepancy (else the lowest finite one)."""
    finite = np.isfinite(sol.fmin)
    if not finite.any():
        return None
    return int(np.lexsort((np.where(finite, sol.fmin, np.inf), ~sol.converged))[0])


def _parameter_names(layout: GroupLayout, labels: tuple[str, ...]) -> list[str]:
    names: list[str | None] = [None] * layout.k
    for r, f in zip(layout.rows, layout.free):
        if f >= 0 and names[f] is None:
            text = f"{r.lhs} {r.op} {r.rhs}".rstrip()
            if layout.n_groups > 1:
                text += f" [group {labels[r.group - 1]}]"
            names[f] = f"{text} ({r.label})" if r.label else text
    return [n or f"parameter {i + 1}" for i, n in enumerate(names)]


def information_vcov(struct: GroupStructure, theta: np.ndarray, N: float, names: list[str],
                     information: Callable[[], np.ndarray], what: str = "information",
                     stacklevel: int = 6) -> tuple[np.ndarray, tuple[str, ...]]:
    """``2 / N inv(I)`` with ``I = information()`` (called only when the moment Jacobian has
    full rank); NaN with an :class:`IdentificationWarning` naming the parameters when the
    model is not identified or ``I`` cannot be inverted."""
    k = struct.k
    if k == 0:
        return np.zeros((0, 0)), ()
    check = rank_check(struct.moment_jacobian(theta), names)
    if not check.identified:
        warn(check.message("the Jacobian of the implied moments is rank deficient"), IdentificationWarning,
             stacklevel=stacklevel)
        return np.full((k, k), np.nan), check.parameters
    info = information()
    check = check_information(None, info, names)
    if check.identified:
        try:
            vcov = 2.0 / N * np.linalg.inv(info)
        except np.linalg.LinAlgError:
            vcov = None
        if vcov is not None and np.isfinite(vcov).all() and (np.diag(vcov) > 0).all():
            return 0.5 * (vcov + vcov.T), ()
    if not isinstance(check, IdentificationCheck) or check.identified:
        check = IdentificationCheck(False, tuple(names), float("nan"))
    warn(check.message(f"the {what} matrix cannot be inverted numerically"), IdentificationWarning,
         stacklevel=stacklevel)
    return np.full((k, k), np.nan), check.parameters


def _estimates(model: Model, table_rows: tuple[ParRow, ...], layout: GroupLayout, theta: np.ndarray, vcov: np.ndarray,
               fixed_x: frozenset[int], level: float, with_group: bool) -> pd.DataFrame:
    rows = layout.rows
    values = layout.row_values(theta[None])[0]
    se_free = standard_errors(vcov)
    se = np.where(layout.free >= 0, se_free[np.maximum(layout.free, 0)] if layout.k else np.nan, np.nan)
    is_fixed_x = np.array([r.free in fixed_x for r in rows], bool)
    se[is_fixed_x] = np.nan
    fixed = (layout.free < 0) | is_fixed_x
    exo = model.roles.exogenous_observed
    std = {kind: layout.standardized(theta[None], kind, exo)[0] for kind in STANDARDIZED_KINDS}
    table = pd.DataFrame({"lhs": [r.lhs for r in rows], "op": [r.op for r in rows],
                          "rhs": [r.rhs for r in rows], "group": [r.group for r in rows],
                          "label": [r.label for r in rows], "est": values, "se": se, **std})
    defined = DefinedParameters(table_rows)
    if defined.names:
        d_est = defined.evaluate(values[None])[0]
        d_se = delta_se(lambda th: defined.evaluate(layout.row_values(th)), theta, vcov)
        d_rows = [r for r in table_rows if r.op == ":="]
        table = pd.concat([table, pd.DataFrame({
            "lhs": [r.lhs for r in d_rows], "op": ":=", "rhs": [r.rhs for r in d_rows], "group": 0,
            "label": [r.lhs for r in d_rows], "est": d_est, "se": d_se,
            **{kind: defined.evaluate(v[None])[0] for kind, v in std.items()}})], ignore_index=True)
        fixed = np.concatenate([fixed, np.zeros(len(d_rows), bool)])
    out = add_inference_columns(table.drop(columns="group"), fixed, level)
    out.insert(3, "group", table["group"].to_numpy())
    return out if with_group else out.drop(columns="group")
