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
    sentences = [
        f"The structural equation model was estimated in {_versions(res)} by "
        f"{_ESTIMATORS.get(res.estimator, res.estimator)}.",
        f"Of {res.n_total} responses, {res.n_obs} complete cases were analysed; {missing}.",
        f"The model has {n_constructs} latent construct{'s' if n_constructs != 1 else ''} measured by "
        f"{n_ind} indicators, {model.n_free} free parameters and {model.df} degrees of freedom; each "
        f"construct's scale was set by {'fixing its variance to 1' if model.std_lv else 'fixing its first loading to 1'}.",
        "Model fit was judged by the chi-square test, CFI and TLI (≥ .95), RMSEA with its 90% "
        "confidence interval (≤ .06) and SRMR (≤ .08) (Hu & Bentler, 1999).",
    ]
    if not res.converged:
        sentences.append("The optimiser did not converge; the estimates are not reliable.")
    if res.inadmissible:
        sentences.append("The solution is inadmissible (" + "; ".join(res.inadmissible) + ").")
    if measurement is not None:
        sentences.append(
            "Measurement quality was assessed on the confirmatory factor analysis of the measurement "
            "part (all constructs freely correlated): standardised loadings, Cronbach's alpha, "
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
        sentences.append("Indirect effects are products of the structural paths along each chain; "
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
