"""``fit(model, data)``: estimate with semopy, polish, check identification, and compute
lavaan's statistics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from .._threads import one_blas_thread
from .._validation import check_level
from .._warnings import recording, warn
from ..engine import ESTIMATORS, RamStructure, discrepancy, information, minimize
from ..engine.curvature import leave_saddle
from ..engine.semopy_backend import semopy_estimates
from ..engine.starts import simple_starts
from ..exceptions import (ArgumentError, ConvergenceWarning, EstimationError, IdentificationWarning,
                         ModelSpecificationError, NonAdmissibleWarning, NotSupportedError, ScalingWarning)
from ..inference.identification import check_information, check_jacobian, moment_jacobian, parameter_labels
from ..inference.wald import add_inference_columns, standard_errors
from ..inference.fit_indices import baseline_chisq, fit_measures, test_statistic
from ..results.fit_result import FitResult
from ..spec.model import Model
from ..engine.rescale import rescaled_problem
from ..data.moments import SampleMoments, moments_from_data, moments_from_summary
from .grouped import best_start
from .grouped_result import fit_grouped_result
from .provenance import versions
from .robust_fiml import fiml_robust_fields
from .robust_fit import ROBUST_ESTIMATORS, check_robust_input, robust_fields
from ..inference.standardized import (STANDARDIZED_KINDS, DefinedParameters, admissibility, delta_se, r2_values,
                          standardized_values, unscaled_variables)


def as_model(model: Model | str) -> Model:
    """Accept a :class:`Model` or lavaan-style text."""
    if isinstance(model, Model):
        return model
    if isinstance(model, str):
        return Model.from_syntax(model)
    raise ArgumentError(f"model: expected an lcsem.Model or lavaan-style text, got {type(model).__name__}")


def fit(model: Model | str, data: pd.DataFrame | None = None, *, estimator: str | None = None,
        missing: str = "listwise", level: float = 0.95, use_semopy: bool = True,
        sample_cov: pd.DataFrame | np.ndarray | None = None, sample_nobs: int | None = None,
        sample_mean: pd.Series | np.ndarray | None = None,
        sample_sd: pd.Series | np.ndarray | None = None,
        sample_names: list[str] | None = None, group: str | None = None,
        group_equal: Sequence[str] | str = (), group_partial: Sequence[str] | str = (),
        meanstructure: bool = False, engine: str = "lcsem", information: str | None = None,
        ordered: bool | Sequence[str] | None = None, parameterization: str = "delta") -> FitResult:
    """Fit ``model`` to ``data`` (or to summary statistics) and return a :class:`FitResult`.

    Parameters
    ----------
    model
        An :class:`lcsem.Model` or lavaan-style model text.
    data
        One row per respondent; columns named as the model's observed variables. Other
        columns are ignored. The DataFrame is not modified. Leave it out when fitting
        from ``sample_cov``.
    estimator
        ``"ML"`` (default without ``ordered``; normal-theory maximum likelihood, lavaan's
        defaults), ``"GLS"``
        or ``"ULS"``; robust ML for non-normal complete data (lavaan's): ``"MLM"`` (robust
        standard errors from the expected information, Satorra-Bentler scaled chi-square),
        ``"MLR"`` (Huber-White standard errors from the observed information, Yuan-Bentler
        scaled chi-square), ``"MLMV"`` (scaled-and-shifted) and ``"MLMVS"``
        (Satterthwaite mean-and-variance adjusted). Robust fits add lavaan's scaled and
        robust indices to ``fit_indices`` (``chisq_scaled``, ``cfi_robust``, ...). With
        ``missing="ml"`` only ``"MLR"`` (lavaan's): FIML estimates, Huber-White standard
        errors from the observed information and the casewise scores, the Yuan-Bentler
        scaled chi-square against the EM saturated model and lavaan's FIML-corrected
        robust CFI/TLI/RMSEA. With ``ordered``: ``"WLSMV"`` (default; DWLS estimates, robust
        standard errors, scaled-and-shifted chi-square, lavaan's), ``"WLSM"`` (mean-adjusted
        chi-square), ``"DWLS"``, ``"WLS"`` (full weight matrix), ``"ULSMV"``, ``"ULSM"`` or
        ``"ULS"``.
    missing
        ``"listwise"`` (drop incomplete rows; the result reports N used and dropped; a
        :class:`~lcsem.MissingDataWarning` when more than 5% of the rows are dropped),
        ``"ml"`` (alias ``"fiml"``: full-information ML over the missing-data patterns,
        lavaan's ``missing = "ml"``; always with a mean structure; rows missing every model
        variable are dropped and counted; ``res.missing_patterns`` and ``res.coverage``
        describe the patterns) or ``"error"``.
    level
        Confidence level of the Wald intervals ``ci_lower``/``ci_upper`` in
        ``estimates`` (lavaan's ``parameterEstimates(level = )``; default 0.95).
    use_semopy
        When lcsem's own starts (lavaan's simple starts, in the data's units and on
        unit-variance variables) do not converge, start once more from semopy's solution
        (default True). lcsem then polishes it without bounds by Fisher scoring, so that
        estimates match lavaan and Heywood cases show.
    sample_cov
        Summary-statistics input instead of ``data`` (lavaan's ``sample.cov``): the
        unbiased (N - 1) covariance matrix of the observed variables, as a DataFrame
        whose index and columns name the variables, or an array with ``sample_names``.
        As lavaan, it is rescaled by (N - 1) / N, so the fit equals the fit from the raw
        data. With ``sample_sd`` it is read as a correlation matrix.
    sample_nobs
        Number of respondents behind ``sample_cov`` (lavaan's ``sample.nobs``).
    sample_mean
        Means of the variables (optional; kept on the result, lavaan's ``sample.mean``).
    sample_sd
        Standard deviations turning a correlation matrix ``sample_cov`` into covariances.
    sample_names
        Variable names of an array ``sample_cov`` (in its row order).
    group
        Column of ``data`` whose values define groups (lavaan's ``group``): a multi-group
        model with every parameter group-specific unless constrained, groups numbered in
        order of first appearance, and a mean structure. ML, GLS or ULS (lavaan's
        least squares: groups weighed by N_g - 1, chi-square sum_g (N_g - 1) F_g).
    group_equal
        Parameter classes held equal across groups (lavaan's ``group.equal``):
        ``"loadings"``, ``"intercepts"``, ``"means"``, ``"residuals"``,
        ``"residual.covariances"``, ``"lv.variances"``, ``"lv.covariances"``,
        ``"regressions"``. With equal intercepts the latent means of groups 2..G are free.
    group_partial
        Rows released from ``group_equal`` (lavaan's ``group.partial``), written as in the
        model text: ``"kmsuse =~ kms_breadth"``, ``"op_roi ~ 1"``.
    engine
        ``"lcsem"`` (default): lcsem's optimiser. ``"semopy"``: a cross-check that reports
        semopy's own solution (no polishing; semopy bounds variances at 0) with lcsem's
        standard errors, fit indices and standardised values; single-group ML/GLS/ULS.
    meanstructure
        Add a mean structure to a single-group model (observed intercepts free, latent
        means 0), as lavaan's ``meanstructure = TRUE``; writing any ``~ 1`` in the model
        switches it on.

    ordered
        Ordinal indicators (lavaan's ``ordered =``): ``True`` for every observed indicator,
        or a list of column names (the others stay continuous: polyserial correlations).
        The model is fitted to thresholds and polychoric correlations (lavaan's two-step
        method) by least squares; estimates include the thresholds (``op == "|"``, ``rhs``
        ``t1``, ``t2``, ...), ``std_all`` and R-squared are on the latent-response (``y*``)
        scale, and ``fit_indices`` hold lavaan's scaled and robust indices
        (``chisq_scaled``, ``cfi_scaled``, ``cfi_robust``, ``rmsea_robust``, ...). Works with
        ``group=``, ``group_equal=["thresholds", "loadings", ...]`` and thresholds written
        in the model text. Listwise deletion of incomplete rows.
    parameterization
        With ``ordered``: ``"delta"`` (default; the ``y*`` have unit variance, scaling
        factors ``~*~`` are parameters) or ``"theta"`` (the ``y*`` residual variances are 1),
        as lavaan.
    information
        Standard errors of a FIML fit (``missing="ml"``) from the ``"observed"`` information
        (the Hessian of the log-likelihood; lavaan's default for FIML) or the
        ``"expected"`` one. Complete-data fits use the expected information.

    Returns
    -------
    FitResult
        Without raw data (``sample_cov``), ``res.data`` is None: analyses that resample
        or need respondents' answers (bootstrap, factor scores) refuse such a result.
    """
    model = as_model(model)
    if ordered is not None and ordered is not False:
        return _fit_ordered(model, data, estimator, missing, level, sample_cov, group, group_equal,
                            group_partial, engine, information, ordered, parameterization)
    if parameterization != "delta":
        raise ArgumentError(f"parameterization: {parameterization!r} applies to ordinal indicators only; "
                            f"pass ordered=... or leave parameterization out")
    if estimator is None:
        estimator = "ML"
    if missing == "fiml":
        missing = "ml"   # lavaan's alias
    fiml = missing == "ml"
    if information is not None and information not in ("observed", "expected"):
        raise ArgumentError(f"information: {information!r} is not 'observed' or 'expected'")
    if fiml and estimator not in ("ML", "MLR"):
        raise NotSupportedError(f"estimator: {estimator!r} with missing='ml' is not supported; "
                                f"full-information ML uses estimator='ML', or 'MLR' for robust standard "
                                f"errors and the Yuan-Bentler scaled test (lavaan's MLR with missing='ml')")
    if fiml and estimator == "MLR" and information not in (None, "observed"):
        raise NotSupportedError(f"information: {information!r} with estimator='MLR' and missing='ml' is not "
                                f"supported; MLR's Huber-White standard errors with missing data use the "
                                f"observed information (lavaan's default): leave information out")
    robust = None
    if estimator in ROBUST_ESTIMATORS:
        # lavaan: robust ML = ML estimates with corrected standard errors and test
        check_robust_input(model, data, estimator, missing, sample_cov)
        robust, estimator = estimator, "ML"
    group_equal, group_partial = _names_list(group_equal, "group_equal"), _names_list(group_partial, "group_partial")
    if not isinstance(meanstructure, bool):
        raise ArgumentError(f"meanstructure: expected True or False, got {meanstructure!r}")
    if engine not in ENGINES:
        raise ArgumentError(f"engine: {engine!r} is not one of {', '.join(map(repr, ENGINES))}")
    if fiml or group is not None or meanstructure or any(s.op == "~1" for s in model.statements):
        if engine != "lcsem":
            raise NotSupportedError("engine: 'semopy' is a single-group cross-check; fit multi-group, "
                                    "mean-structure and FIML models with engine='lcsem'")
        with one_blas_thread():
            return _robust(fit_grouped_result(model, data, estimator, missing, level, group, group_equal,
                                        group_partial, meanstructure or fiml, sample_cov, information), robust)
    if information not in (None, "expected"):
        raise NotSupportedError(f"information: {information!r} is available with missing='ml' (FIML); "
                                f"complete-data ML uses the expected information (lavaan's default)")
    if group_equal or group_partial:
        raise ArgumentError(f"{'group_equal' if group_equal else 'group_partial'}: only used with "
                            f"group=...; name the group column (e.g. group=\"sector\")")
    if estimator not in ESTIMATORS:
        raise ArgumentError(f"estimator: {estimator!r} is not supported; use one of "
                            f"{', '.join(ESTIMATORS + ROBUST_ESTIMATORS)}")
    level = check_level(level)
    if model.df < 0:
        raise ModelSpecificationError(
            f"the model has {model.n_free} free parameters but only "
            f"{len(model.observed) * (len(model.observed) + 1) // 2} variances and covariances to fit "
            f"(df = {model.df}); it is not identified: fix parameters or add indicators")
    summary_args = {"sample_nobs": sample_nobs, "sample_mean": sample_mean, "sample_sd": sample_sd,
                    "sample_names": sample_names}
    if sample_cov is None:
        given = [k for k, v in summary_args.items() if v is not None]
        if given:
            raise ArgumentError(f"{given[0]}: only used with sample_cov=; pass the covariance matrix "
                                f"as sample_cov or leave {given[0]} out")
        if data is None:
            raise ArgumentError("data: give the respondents' data, or summary statistics as "
                                "sample_cov=... with sample_nobs=...")
    else:
        if data is not None:
            raise ArgumentError("data: give either data or sample_cov, not both")
        if sample_nobs is None:
            raise ArgumentError("sample_nobs: fitting from sample_cov needs the number of respondents "
                                "(sample_nobs=n)")
    # record every lcsem warning of this call on the result (per thread), and issue it
    with recording() as caught:
        if sample_cov is None:
            moments = moments_from_data(data, model.observed, missing, model.latent,
                                       covariates=model.roles.exogenous_observed)
        else:
            moments = moments_from_summary(model.observed, sample_cov, sample_nobs, sample_mean,
                                           sample_sd, sample_names, model.latent)
        try:
            with one_blas_thread():
                result = _estimate(model, moments, estimator, use_semopy, level, engine)
        except np.linalg.LinAlgError as exc:
            raise EstimationError(f"estimation failed with a singular matrix ({exc}); the model is "
                                  f"probably not identified: fix parameters or add indicators") from None
    return _robust(result, robust, warnings=tuple(w.message for w in caught))


def _fit_ordered(model, data, estimator, missing, level, sample_cov, group, group_equal, group_partial, engine,
                 information, ordered, parameterization) -> FitResult:
    """``fit(..., ordered=...)``: check what does not combine with ordinal indicators, then
    :func:`~lcsem.estimation.ordinal_fit.fit_ordinal`."""
    from .ordinal_fit import fit_ordinal

    if sample_cov is not None:
        raise NotSupportedError("sample_cov: ordinal fits need the raw data (thresholds and polychoric "
                                "correlations come from the answers); pass data=...")
    if missing not in ("listwise",):
        raise NotSupportedError(f"missing: {missing!r} is not available with ordered= (lavaan's pairwise "
                                f"handling is not implemented); use missing='listwise'")
    if engine != "lcsem":
        raise NotSupportedError("engine: ordinal fits use engine='lcsem'")
    if information not in (None, "expected"):
        raise NotSupportedError(f"information: {information!r}; ordinal fits use the expected information")
    group_equal = _names_list(group_equal, "group_equal")
    group_partial = _names_list(group_partial, "group_partial")
    if (group_equal or group_partial) and group is None:
        raise ArgumentError(f"{'group_equal' if group_equal else 'group_partial'}: only used with "
                            f"group=...; name the group column (e.g. group=\"sector\")")
    with one_blas_thread():
        if isinstance(estimator, str):
            estimator = estimator.upper()      # lavaan accepts "wlsmv"
        return fit_ordinal(model, data, ordered, "WLSMV" if estimator is None else estimator, parameterization,
                           level, group, group_equal, group_partial)


def _robust(res: FitResult, estimator: str | None, warnings: tuple[str, ...] | None = None) -> FitResult:
    """``res`` with ``estimator``'s robust corrections (none when None) and, when given,
    ``warnings`` in place of its warnings, in one copy of the result (unchanged when there
    is nothing to change)."""
    changes: dict = {} if warnings is None else {"warnings": warnings}
    if estimator is not None:
        with recording() as caught, one_blas_thread():
            changes.update(fiml_robust_fields(res) if res.missing == "ml" else robust_fields(res, estimator))
        changes["warnings"] = (res.warnings if warnings is None else warnings) + tuple(w.message for w in caught)
    return replace(res, **changes) if changes else res


#: values of ``fit(engine=...)``
ENGINES = ("lcsem", "semopy")


def _semopy_solution(model, moments, estimator, level, struct, problem, S_fit) -> FitResult:
    """``engine="semopy"``: semopy's own estimates with lcsem's statistics."""
    n = moments.n_obs
    theta = struct.theta_from_rows(semopy_estimates(model.rows, S_fit, model.observed, n, estimator))
    if not np.isfinite(theta).all():
        raise EstimationError("engine: semopy did not return a solution for every parameter; fit with "
                              "engine='lcsem'")
    theta_scaled = problem.factor * theta
    fmin = float(discrepancy(problem.struct, theta_scaled[None], problem.S[None], estimator)[0])
    return _finish(model, moments, estimator, level, struct, problem, S_fit, theta, theta_scaled,
                   converged=bool(np.isfinite(fmin)), fmin=fmin, iterations=0)


def _names_list(value: Sequence[str] | str, argument: str) -> tuple[str, ...]:
    """A str or a sequence of str as a tuple (lavaan accepts both)."""
    if isinstance(value, str):
        return (value,)
    if value is None:
        return ()
    try:
        items = tuple(value)
    except TypeError:
        raise ArgumentError(f"{argument}: expected a list of text, got {value!r}") from None
    bad = [v for v in items if not isinstance(v, str)]
    if bad:
        raise ArgumentError(f"{argument}: expected text entries, got {bad[0]!r}")
    return items


def _estimate(model: Model, moments: SampleMoments, estimator: str, use_semopy: bool,
              level: float, engine: str = "lcsem") -> FitResult:
    n = moments.n_obs
    S = moments.cov
    S_fit = S if estimator == "ML" else S * n / (n - 1)   # lavaan: unbiased S except for ML
    struct = RamStructure(model.rows, model.observed, model.latent)
    _warn_scaling(model.observed, S_fit, estimator)
    # ML and GLS are scale-free: estimate on variables scaled to unit variance (an exact
    # reparameterisation), so that tolerances and conditioning do not depend on units
    problem = rescaled_problem(model.rows, struct, S_fit, estimator)
    # lavaan's simple starts in the data's units (loadings 1 suit items on one scale),
    # carried to the rescaled problem, and the same rule on the unit-variance scale (which
    # suits items of very different units)
    # (a start carried across extreme units may overflow: such entries fall back to the
    # unit-variance rule)
    unit_start = simple_starts(problem.struct, problem.S)
    with np.errstate(over="ignore", invalid="ignore"):
        start = problem.factor * simple_starts(struct, S_fit)
    start = np.where(np.isfinite(start), start, unit_start)
    if engine == "semopy":
        return _semopy_solution(model, moments, estimator, level, struct, problem, S_fit)
    candidates = [start]
    if problem.struct is not struct:
        candidates.append(unit_start)
    sol = minimize(problem.struct, np.stack([problem.S] * len(candidates)), np.stack(candidates), estimator)
    best = best_start(sol)
    if use_semopy and (best is None or not sol.converged[best]):
        # semopy's solution (fitted in the data's units, where it needs fewer iterations)
        # as one more start, only when lcsem's own starts did not converge
        with np.errstate(over="ignore", invalid="ignore"):
            from_semopy = problem.factor * struct.theta_from_rows(
                semopy_estimates(model.rows, S_fit, model.observed, n, estimator))
        candidates.insert(0, np.where(np.isfinite(from_semopy), from_semopy, start))
        sol = minimize(problem.struct, np.stack([problem.S] * len(candidates)), np.stack(candidates),
                       estimator)
        best = best_start(sol)
    if best is None:
        raise EstimationError("estimation failed from every starting point (the implied covariance "
                              "matrix never became positive definite); check the model's identification")
    theta_scaled = sol.theta[best]
    theta = problem.to_original(theta_scaled)
    converged = bool(sol.converged[best])
    fmin, iterations, max_gradient = float(sol.fmin[best]), int(sol.iterations[best]), sol.max_gradient[best]
    # a stationary point that is not a minimum: restart on the rescaled problem, too
    escaped = leave_saddle(problem.struct, problem.S, theta_scaled, estimator) if converged else None
    if escaped is not None:
        theta_scaled, fmin, converged = escaped.theta, escaped.fmin, escaped.converged
        theta = problem.to_original(theta_scaled)
        iterations, max_gradient = iterations + escaped.iterations, escaped.max_gradient
        if not converged:
            warn("the optimiser stopped at a saddle point (the discrepancy still decreases in "
                 "some direction) and found no minimum from there: the model has no proper "
                 "solution for these data (empirically unidentified?)", ConvergenceWarning, stacklevel=3)
    if not converged:
        warn(f"the optimiser did not converge (largest gradient {max_gradient:.2e} "
             f"after {iterations} iterations); estimates are not reliable",
             ConvergenceWarning, stacklevel=3)
    return _finish(model, moments, estimator, level, struct, problem, S_fit, theta, theta_scaled,
                   converged=converged, fmin=fmin, iterations=iterations)


def _finish(model: Model, moments: SampleMoments, estimator: str, level: float, struct: RamStructure,
            problem, S_fit: np.ndarray, theta: np.ndarray, theta_scaled: np.ndarray, *, converged: bool,
            fmin: float, iterations: int) -> FitResult:
    """Standard errors, fit indices, standardised values and the result at a solution."""
    n = moments.n_obs
    S = moments.cov
    vcov_scaled, unidentified = _vcov(problem.struct, theta_scaled, problem.S, n, estimator)
    vcov = problem.vcov_to_original(vcov_scaled)
    Sigma = struct.implied(theta[None])[0][0]
    chisq = float(test_statistic(fmin, n, estimator))
    exogenous = fixed_x_positions(model)
    chisq0 = float(baseline_chisq(S_fit, n, exogenous, estimator))
    n_params = struct.k - len(model.fixed_x_for(estimator))
    fi = fit_measures(S_fit, Sigma, np.array(chisq), np.array(chisq0), n_obs=n, df=model.df,
                      n_params=n_params, exogenous=exogenous, estimator=estimator)
    fit_indices = pd.Series({k: float(v) for k, v in fi.items()}, name="value")
    # standard errors from the rescaled problem: exact even where an extreme unit puts a
    # variance of an estimate outside the floating-point range
    se_free = problem.se_to_original(vcov_scaled)
    estimates = estimates_table(model, struct, theta, vcov, level, se_free, model.fixed_x_for(estimator))
    reasons = tuple(admissibility(struct, theta[None],
                                  std=estimates["std_all"].to_numpy()[None, :len(struct.rows)])[0])
    if reasons:
        warn("inadmissible solution: " + "; ".join(reasons), NonAdmissibleWarning, stacklevel=3)
    endogenous = tuple(n for n in struct.names if n in model.roles.endogenous)
    r2 = pd.Series(r2_values(struct, theta[None], endogenous)[0], index=list(endogenous), name="r2")
    cols = list(model.observed)
    return FitResult(
        model=model, estimator=estimator, estimates=estimates, fit_indices=fit_indices, r2=r2,
        converged=converged, inadmissible=reasons, warnings=(), n_obs=n, n_total=moments.n_total,
        missing=moments.missing, theta=theta, vcov=vcov,
        sample_cov=pd.DataFrame(S, index=cols, columns=cols),
        implied_cov=pd.DataFrame(Sigma, index=cols, columns=cols),
        data=moments.data, iterations=iterations, versions=versions(),
        unidentified=unidentified, level=level,
        sample_mean=None if moments.mean is None else pd.Series(moments.mean, index=cols, name="mean"))


#: lavaan warns when observed variances differ by more than this factor
VARIANCE_RATIO_LIMIT = 1000.0


def _warn_scaling(observed: tuple[str, ...], S: np.ndarray, estimator: str) -> None:
    """lavaan's check: observed variances that differ by more than a factor of 1,000."""
    var = np.diag(S)
    hi, lo = int(np.argmax(var)), int(np.argmin(var))
    ratio = var[hi] / var[lo]
    if not ratio > VARIANCE_RATIO_LIMIT:
        return
    # dividing an item by 10^k divides its variance by 10^2k: k brings the two together
    k = max(int(round(np.log10(ratio) / 2)), 1)
    note = ("; lcsem estimated on internally rescaled variables, but rescaled items give readable "
            "estimates" if estimator != "ULS" else
            "; ULS estimates depend on the variables' units, so rescale before fitting")
    warn(f"observed variances differ by a factor of {ratio:.3g} (largest: {observed[hi]} {var[hi]:.3g}, "
         f"smallest: {observed[lo]} {var[lo]:.3g}; lavaan warns above {VARIANCE_RATIO_LIMIT:,.0f}): "
         f"rescale the items to similar variances, e.g. divide {observed[hi]} by 10^{k} or "
         f"multiply {observed[lo]} by 10^{k}{note}", ScalingWarning, stacklevel=4)


def _vcov(struct: RamStructure, theta: np.ndarray, S: np.ndarray, n: int, estimator: str
          ) -> tuple[np.ndarray, tuple[str, ...]]:
    """Covariance of the estimates from the expected information (lavaan's default), and
    the parameters involved when the model is not identified (then the covariance is NaN)."""
    if struct.k == 0:
        return np.zeros((0, 0)), ()
    check = check_jacobian(struct, theta)
    if not check.identified:
        warn(check.message("the Jacobian of the implied covariances is rank deficient"),
             IdentificationWarning, stacklevel=4)
        return np.full((struct.k, struct.k), np.nan), check.parameters
    if estimator == "ML":
        info = information(struct, theta[None])[0]
        scale = 2.0 / n
    elif estimator == "GLS":
        info = information(struct, theta[None], np.linalg.inv(S)[None])[0]
        scale = 2.0 / (n - 1)
    else:
        # lavaan's "standard" ULS standard errors: (D'D)^-1 / (N - 1) with D the Jacobian
        # of vech(Sigma) (identity weights); not robust to non-normality
        D = moment_jacobian(struct, theta)
        info = D.T @ D
        scale = 1.0 / (n - 1)
    check = check_information(struct, info)
    if check.identified:
        try:
            vcov = scale * np.linalg.inv(info)
        except np.linalg.LinAlgError:
            vcov = None
        if vcov is not None and np.isfinite(vcov).all() and (np.diag(vcov) > 0).all():
            return vcov, ()
    warn(check.message("the information matrix cannot be inverted numerically"),
         IdentificationWarning, stacklevel=4)
    return np.full((struct.k, struct.k), np.nan), check.parameters or tuple(parameter_labels(struct))


def fixed_x_positions(model: Model) -> tuple[int, ...]:
    """Positions (in ``model.observed``) of exogenous observed predictors, whose moments
    lavaan's ``fixed.x`` treats as given."""
    return tuple(model.observed.index(n) for n in model.roles.exogenous_observed)


def estimates_table(model: Model, struct: RamStructure, theta: np.ndarray, vcov: np.ndarray,
                    level: float = 0.95, se_free: np.ndarray | None = None,
                    fixed_x_ids: frozenset[int] | None = None) -> pd.DataFrame:
    """lavaan's ``parameterEstimates(standardized = TRUE)``: est, se, z, p, Wald CI at
    ``level`` and the ``std_lv``, ``std_all`` and ``std_nox`` solutions (lcsem's names).
    ``se_free`` (one per free parameter) defaults to the roots of ``diag(vcov)``;
    ``fixed_x_ids`` (default: ML's) are the covariates' moments held as given (fixed.x)."""
    if fixed_x_ids is None:
        fixed_x_ids = model.fixed_x_free
    rows = [r for r in model.rows if r.op != ":="]
    values = struct.row_values(theta[None])[0]
    if se_free is None:
        se_free = standard_errors(vcov)
    se = np.where(struct.row_free >= 0, se_free[np.maximum(struct.row_free, 0)] if struct.k else np.nan, np.nan)
    fixed_x = np.array([r.free in fixed_x_ids for r in rows], bool)
    se[fixed_x] = np.nan  # lavaan's fixed.x: sample moments, not estimated parameters
    fixed = (struct.row_free < 0) | fixed_x
    exo = model.roles.exogenous_observed
    std = {kind: standardized_values(struct, theta[None], unscaled_variables(struct, kind, exo))[0]
           for kind in STANDARDIZED_KINDS}
    table = pd.DataFrame({"lhs": [r.lhs for r in rows], "op": [r.op for r in rows],
                          "rhs": [r.rhs for r in rows], "label": [r.label for r in rows],
                          "est": values, "se": se, **std})
    defined = DefinedParameters(model.rows)
    if defined.names:
        d_est = defined.evaluate(values[None])[0]
        d_se = delta_se(lambda th: defined.evaluate(struct.row_values(th)), theta, vcov)
        d_rows = [r for r in model.rows if r.op == ":="]
        table = pd.concat([table, pd.DataFrame({
            "lhs": [r.lhs for r in d_rows], "op": ":=", "rhs": [r.rhs for r in d_rows],
            "label": [r.lhs for r in d_rows], "est": d_est, "se": d_se,
            **{kind: defined.evaluate(v[None])[0] for kind, v in std.items()}})],
            ignore_index=True)
        fixed = np.concatenate([fixed, np.zeros(len(d_rows), bool)])
    return add_inference_columns(table, fixed, level)
