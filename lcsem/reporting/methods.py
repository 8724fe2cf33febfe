"""A methods paragraph for a paper: software and versions, estimator, sample used and
dropped, missing-data handling, fit criteria, measurement-quality definitions, and the
bootstrap (kind, replicates, seed, failures) when one is given."""

from __future__ import annotations

import platform
from typing import Any

from ..analysis.mediation import EffectsResult
from ..analysis.validity import MeasurementResult
from ..resampling.result import BootstrapResult
from ..results.fit_result import FitResult
from ..spec.groups import shared_labels

__all__ = ["methods_paragraph"]

_ESTIMATORS = {
    "ML": "maximum likelihood (ML; sample covariances with denominator N, standard errors from "
          "the expected information, as lavaan's defaults)",
    "GLS": "generalised least squares (GLS)",
    "ULS": "unweighted least squares (ULS) with normal-theory robust standard errors",
    "MLM": "maximum likelihood with robust standard errors and the Satorra–Bentler scaled chi-square (MLM)",
    "MLMV": "maximum likelihood with robust standard errors and the scaled-and-shifted chi-square (MLMV)",
    "MLMVS": "maximum likelihood with robust standard errors and the Satterthwaite mean-and-variance "
             "adjusted chi-square (MLMVS)",
    "MLR": "maximum likelihood with Huber–White robust standard errors and the Yuan–Bentler scaled "
           "chi-square (MLR)",
}
#: Estimators of ordinal fits (``ordered=``), as lavaan names them.
_ORDINAL_ESTIMATORS = {
    "WLSMV": "diagonally weighted least squares with robust standard errors and the scaled-and-shifted "
             "chi-square (WLSMV)",
    "WLSM": "diagonally weighted least squares with robust standard errors and the mean-adjusted "
            "chi-square (WLSM)",
    "DWLS": "diagonally weighted least squares (DWLS)",
    "WLS": "weighted least squares with the full asymptotic weight matrix (WLS)",
    "ULSMV": "unweighted least squares with robust standard errors and the scaled-and-shifted "
             "chi-square (ULSMV)",
    "ULSM": "unweighted least squares with robust standard errors and the mean-adjusted chi-square (ULSM)",
    "ULS": "unweighted least squares (ULS)",
}
_KINDS = {"nonparametric": "nonparametric (case-resampling)", "parametric": "parametric",
          "bollen-stine": "Bollen–Stine (model-based)"}
_METHODS = {"percentile": "percentile", "bc": "bias-corrected (BC)", "bca": "bias-corrected and accelerated (BCa)"}


def _versions(res: Any) -> str:
    v = dict(getattr(res, "versions", {}) or {})
    parts = [f"lcsem {v.get('lcsem', 'unknown')}"]
    for name in ("semopy", "numpy", "scipy", "pandas"):
        if name in v:
            parts.append(f"{name} {v[name]}")
    return f"{parts[0]} (Python {platform.python_version()}; " + ", ".join(parts[1:]) + ")"


def methods_paragraph(res: FitResult, boot: BootstrapResult | None = None, *,
                      measurement: MeasurementResult | None = None, effects: EffectsResult | None = None,
                      method: str = "percentile", level: float = 0.95) -> str:
    """The methods paragraph for ``res`` (plain text, no markup).

    Parameters
    ----------
    res
        The fitted :class:`lcsem.FitResult`.
    boot
        Optional :class:`lcsem.BootstrapResult` of ``res``.
    measurement, effects
        Optional :class:`lcsem.MeasurementResult` / :class:`lcsem.EffectsResult` that the
        report includes, so that the paragraph describes them.
    method, level
        Bootstrap interval method and confidence level used in the tables.
    """
    model = res.model
    n_constructs = len(model.latent)
    n_ind = len([n for n in model.observed if n in model.roles.indicators])
    dropped = res.n_total - res.n_obs
    missing = (f"{dropped} incomplete response{'s were' if dropped != 1 else ' was'} removed by listwise "
               f"deletion" if dropped else "no response had missing values, so none was removed")
    if res.missing == "error":
        missing = "the data had no missing values (missing values would have stopped the analysis)"
    cases = f"Of {res.n_total} responses, {res.n_obs} complete cases were analysed; {missing}."
    estimator = _ESTIMATORS.get(res.estimator, res.estimator)
    ordinal = getattr(res, "ordinal", None)
    if ordinal is not None:
        names = ordinal.ordered_names
        estimator = (f"{_ORDINAL_ESTIMATORS.get(res.estimator, res.estimator)} on the polychoric "
                     f"{'and polyserial ' if len(names) < len(model.observed) else ''}correlations, "
                     f"lavaan's {ordinal.parameterization} parameterisation; the {len(names)} ordered "
                     f"indicator{'s' if len(names) != 1 else ''} were treated as ordered categories, with "
                     f"thresholds and polychoric correlations estimated by the two-step method")
    if res.missing == "ml":
        estimator = ("full-information maximum likelihood (FIML, lavaan's missing = \"ml\": the casewise "
                     "normal likelihood of every observed answer, assuming values are missing at random; "
                     + (f"standard errors from the {res.information} information; chi-square against the "
                        "saturated model estimated by EM)" if res.estimator != "MLR" else
                        "Huber–White robust standard errors from the observed information and the casewise "
                        "scores; the chi-square against the saturated model estimated by EM with the "
                        "Yuan–Bentler scaling (lavaan's MLR), robust CFI, TLI and RMSEA corrected for "
                        "missing data (FIML-C))"))
        covariates = model.roles.exogenous_observed
        why = ("with a missing covariate (their moments are held at the sample values, lavaan's fixed.x) "
               "or without any observed answer" if covariates else "without any observed answer")
        cases = (f"Of {res.n_total} responses, {res.n_obs} were analysed"
                 + (f"; {dropped} response{'s' if dropped != 1 else ''} {why} "
                    f"{'were' if dropped != 1 else 'was'} removed." if dropped else ", every one with at least "
                    "one observed answer."))
    if res.grouped:     # the fitted table's counts (all groups, intercepts, equalities)
        n_free, df = int(res.fit_indices["n_params"]), int(res.fit_indices["df"])
    else:
        n_free, df = model.n_free, model.df
    sentences = [
        f"The structural equation model was estimated in {_versions(res)} by {estimator}.",
        cases,
        *_group_sentences(res),
        f"The model has {n_constructs} latent construct{'s' if n_constructs != 1 else ''} measured by "
        f"{n_ind} indicators, {n_free} free parameters and {df} degrees of freedom"
        f"{' (all groups together)' if res.group_labels else ''}; each "
        f"construct's scale was set by {'fixing its variance to 1' if model.std_lv else 'fixing its first loading to 1'}"
        f"{' in every group' if res.group_labels else ''}.",
        "Model fit was judged by the chi-square test, CFI and TLI (≥ .95), RMSEA with its 90% "
        "confidence interval (≤ .06) and SRMR (≤ .08) (Hu & Bentler, 1999).",
    ]
    if not res.converged:
        sentences.append("The optimiser did not converge; the estimates are not reliable.")
    if res.inadmissible:
        sentences.append("The solution is inadmissible (" + "; ".join(res.inadmissible) + ").")
    if measurement is not None:
        where = ("the confirmatory factor analysis of the measurement part (all constructs freely "
                 "correlated)")
        if res.group_labels:
            where = ("a multi-group confirmatory factor analysis of the measurement part (all constructs "
                     "freely correlated; the same equality constraints across groups), in each group")
        sentences.append(
            f"Measurement quality was assessed on {where}: standardised loadings, Cronbach's alpha, "
            "composite reliability (omega, with the observed variance of the sum score in the "
            "denominator, as semTools' compRelSEM), average variance extracted (AVE), the "
            "Fornell–Larcker criterion and the heterotrait–monotrait ratio of correlations (HTMT, "
            "arithmetic means of absolute item correlations; HTMT2, geometric means).")
        if measurement.n_boot_used:
            sentences.append(
                f"One-sided {measurement.level:.0%} bootstrap upper bounds of HTMT were compared with "
                f"the .85 and .90 thresholds (the CFA was refitted on {measurement.n_boot_used} of the "
                f"bootstrap resamples).")
    if effects is not None:
        sentences.append("Indirect effects are products of the structural paths along each chain"
                         f"{' (in each group, with its own estimates)' if res.group_labels else ''}; "
                         "their standard errors use the delta method.")
    if boot is not None:
        n_fail = int(getattr(boot, "n_failed", 0))
        n_inad = int(getattr(boot, "n_inadmissible", 0))
        seed = getattr(boot, "seed", None)
        sentences.append(
            f"Confidence intervals and p-values of the paths and effects come from a "
            f"{_KINDS.get(getattr(boot, 'kind', ''), getattr(boot, 'kind', ''))} bootstrap with "
            f"{boot.n_resamples} replicates (seed {seed}; {n_fail} failed and {n_inad} inadmissible "
            f"replicate{'s' if n_inad != 1 else ''}, the latter kept): {_METHODS.get(method, method)} "
            f"{level:.0%} intervals and two-sided bootstrap p-values, computed as 2(1 + k)/(B + 1) with k "
            f"of the B replicates on the far side of zero (Davison & Hinkley, 1997), so that no p-value "
            f"is reported as 0.")
    else:
        sentences.append(f"Confidence intervals ({level:.0%}) are delta-method normal intervals.")
    return " ".join(sentences)


_EQUAL_NAMES = {"loadings": "factor loadings", "intercepts": "intercepts", "means": "latent means",
                "residuals": "residual variances", "residual.covariances": "residual covariances",
                "lv.variances": "latent variances", "lv.covariances": "latent covariances",
                "regressions": "regression paths", "thresholds": "thresholds"}


def _listing(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _group_sentences(res: FitResult) -> list[str]:
    """The grouping (variable, groups and their N, equality constraints) and the mean
    structure of a multi-group or mean-structure fit."""
    if not res.grouped:
        return []
    out = []
    if res.group_labels:
        sizes = "; ".join(f"{label}, N = {view.n_obs}" for label, view in res.groups.items())
        text = (f"A multi-group model was fitted to the {res.n_groups} groups of {res.group!r} ({sizes}) "
                f"simultaneously")
        if res.group_equal:
            text += (f", with the {_listing([_EQUAL_NAMES.get(g, g) for g in res.group_equal])} constrained to "
                     f"be equal across groups")
            if res.group_partial:
                text += f" except {_listing(list(res.group_partial))} (partial invariance)"
        else:
            text += ", every parameter free to differ across groups (configural model)"
        out.append(text + "; the chi-square statistic is the sum of the groups' contributions.")
        shared = shared_labels(res.model)
        if shared:
            out.append(f"Parameters labelled alike for all groups ({_listing(list(shared))}) were held equal "
                       f"across groups, as in lavaan.")
    latent = set(res.model.latent)
    latent_free = any(r.op == "~1" and r.lhs in latent and r.free for r in res.rows)
    means = "estimated" if latent_free else "fixed at 0"
    if res.group_labels and latent_free:
        first_fixed = all(not r.free for r in res.rows if r.op == "~1" and r.lhs in latent and r.group == 1)
        means = "fixed at 0 in the first group and estimated in the others" if first_fixed else "estimated"
    if getattr(res, "ordinal", None) is None:
        out.append("The model has a mean structure: intercepts of the observed variables"
                   + (f" and means of the latent variables ({means})" if latent else "")
                   + " were part of the model.")
    elif res.group_labels and latent_free:
        out.append(f"Means of the latent variables were {means}.")
    return out
