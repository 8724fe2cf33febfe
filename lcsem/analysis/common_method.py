"""Common-method-bias checks: full-collinearity VIFs and Harman's single-factor test.

Both are screening heuristics that reviewers ask for; neither can show that method
variance is absent. Each result carries a note on its weakness.

* **Full-collinearity VIFs** (Kock, 2015; Kock & Lynn, 2012): every construct's score
  is regressed on the scores of all other constructs (whatever their role in the
  structural model); ``VIF = 1 / (1 - R^2)``. A VIF above 3.3 is read as a sign of
  pathological collinearity, possibly from common-method variance.
* **Harman's single-factor test**, in its CFA form (Podsakoff et al., 2003): all
  indicators load on one factor; if that model fits about as well as the measurement
  model (the CFA of the constructs), one general factor — possibly the method — could
  account for the covariances. Also reported: the share of variance of the first
  unrotated principal component of the item correlations (the classic EFA form, flagged
  above 50%) and the mean squared standardised loading of the single factor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .. import _lazy
from .._warnings import quiet
from ..exceptions import ArgumentError, NotSupportedError
from ..display.render import FORMATS, render_table
from ..display.escape import html_escape, latex_escape
from ..display.format import format_p
from ..spec.model import Model
from ..spec.syntax import Statement
from ..estimation.estimate import as_model, fit
from ..results.fit_result import FitResult
from .validity import cfa_model

__all__ = ["common_method_bias", "CommonMethodBiasResult", "VIF_THRESHOLD", "SCORE_METHODS"]

VIF_THRESHOLD = 3.3
HARMAN_THRESHOLD = 0.5
SCORE_METHODS = ("mean", "factor")
VIF_NOTE = (
    "Full-collinearity VIFs (Kock, 2015) screen for collinearity from any source, not only "
    "common-method variance: values above 3.3 call for a closer look but do not prove method bias, "
    "and values below 3.3 do not rule it out (strongly related constructs and method variance both "
    "raise VIFs; the 3.3 threshold is a rule of thumb). The VIFs depend on how construct scores are "
    "formed ({scores}).")
HARMAN_NOTE = (
    "Harman's single-factor test is insensitive: a single factor rarely fits data from several "
    "distinct constructs even when method variance is substantial, so a poor single-factor fit (or "
    "a first factor below 50% of the variance) does not show that common-method bias is absent "
    "(Podsakoff et al., 2003). The chi-square difference test is approximate (the one-factor model "
    "is the measurement model with every construct correlation fixed at 1, a boundary value). "
    "Prefer procedural remedies and, statistically, a marker variable or a latent method factor.")
SCORE_TEXT = {
    "mean": "unit-weighted mean of each construct's indicators, as raw item scores",
    "factor": "regression (Thurstone) factor scores from the measurement model (CFA), as "
              "lavaan's lavPredict(method = 'regression')",
}


@dataclass(frozen=True)
class CommonMethodBiasResult:
    """Outcome of :func:`common_method_bias`.

    Attributes
    ----------
    vif
        One row per construct: ``r2`` (of the construct's score on all other scores),
        ``vif`` and ``flagged`` (``vif > vif_threshold``).
    harman
        Fit of the single-factor model and of the measurement model (rows
        ``single_factor`` and ``measurement``): chisq, df, pvalue, cfi, tli, rmsea, srmr.
    chisq_diff, df_diff, pvalue_diff
        Chi-square difference test of the single-factor model against the measurement model.
    first_factor_share
        Share of the item variance carried by the first unrotated principal component of
        the item correlation matrix (classic Harman test; > 0.5 is flagged).
    single_factor_share
        Mean squared standardised loading in the single-factor CFA (variance explained
        by the common factor).
    scores
        ``"mean"`` or ``"factor"``: how construct scores were formed for the VIFs.
    notes
        ``{"vif": ..., "harman": ...}``: what each test can and cannot show.
    single_factor_fit, measurement_fit
        The two fitted models (:class:`lcsem.FitResult`).
    """

    vif: pd.DataFrame
    harman: pd.DataFrame
    chisq_diff: float
    df_diff: int
    pvalue_diff: float
    first_factor_share: float
    single_factor_share: float
    scores: str
    vif_threshold: float
    notes: dict[str, str]
    n_obs: int
    single_factor_fit: Any = field(repr=False)
    measurement_fit: Any = field(repr=False)

    @property
    def flagged(self) -> bool:
        """True when any VIF exceeds the threshold, or the single factor explains more than
        half of the variance, or fits no worse than the measurement model (p > .05)."""
        return bool(self.vif["flagged"].any() or self.first_factor_share > HARMAN_THRESHOLD
                    or self.single_factor_share > HARMAN_THRESHOLD or self.pvalue_diff > 0.05)

    def summary(self, format: str = "text", digits: int = 3) -> str:
        """The VIF table, the single-factor comparison and the two notes."""
        if format not in FORMATS:
            raise ArgumentError(f"format: {format!r} is not one of {FORMATS}")
        vif = self.vif.copy()
        vif["flagged"] = np.where(vif["flagged"], "yes", "no")
        lines = [
            f"Chi-square difference (single factor vs measurement model): "
            f"{self.chisq_diff:.{digits}f} on {self.df_diff} df, p {_p(self.pvalue_diff)}",
            f"First unrotated principal component: {100 * self.first_factor_share:.1f}% of item variance; "
            f"single factor (CFA): {100 * self.single_factor_share:.1f}%",
        ]
        harman = self.harman.copy()
        harman["pvalue"] = [format_p(p) for p in harman["pvalue"]]
        harman.index = ["single factor", "measurement model"]
        harman.index.name = "model"
        parts = [render_table(vif, format, digits=digits,
                              caption=f"Full-collinearity VIFs (threshold {self.vif_threshold:g})"),
                 render_table(harman, format, digits=digits, caption="Harman's single-factor test (CFA)")]
        notes = [f"Note (VIF). {self.notes['vif']}", f"Note (Harman). {self.notes['harman']}"]
        if format == "html":
            body = "".join(f"<p>{html_escape(x)}</p>" for x in lines + notes)
            return f'<div class="lcsem-cmb">{parts[0]}{parts[1]}{body}</div>'
        if format == "markdown":
            return "\n\n".join([parts[0], parts[1], *lines, *notes])
        if format == "latex":
            return "\n\n".join([parts[0], parts[1], *(latex_escape(x) for x in lines + notes)])
        return "\n\n".join([parts[0], parts[1], "\n".join(lines), "\n".join(notes)])

    def _repr_html_(self) -> str:
        return self.summary("html")

    def __repr__(self) -> str:
        worst = self.vif["vif"].max()
        return (f"<lcsem.CommonMethodBiasResult max VIF={worst:.2f} (threshold {self.vif_threshold:g}); "
                f"single factor: delta chisq({self.df_diff})={self.chisq_diff:.1f}, "
                f"first component {100 * self.first_factor_share:.0f}%>")


def _p(p: float) -> str:
    """``= .012``, ``< .001`` or ``= n/a`` after "p"."""
    if not np.isfinite(p):
        return "= n/a"
    text = format_p(p, 3)
    return text if text.startswith("<") else "= " + text


def single_factor_model(model: Model, name: str = "method") -> Model:
    """Harman's single-factor model: every observed indicator of ``model`` loads on one factor."""
    items = [v for v in model.observed if v in model.roles.indicators]
    while name in model.observed or name in model.latent:
        name = f"{name}_"
    return Model(tuple(Statement(name, "=~", v, 1) for v in items), name="single factor")


def common_method_bias(res_or_model: FitResult | Model | str, data: pd.DataFrame | None = None, *, scores: str = "mean",
                       vif_threshold: float = VIF_THRESHOLD) -> CommonMethodBiasResult:
    """Full-collinearity VIFs and Harman's single-factor test.

    Parameters
    ----------
    res_or_model
        A fitted :class:`lcsem.FitResult` (its complete-case data are used), or an
        :class:`lcsem.Model` / lavaan-style model text together with ``data``.
    data
        The data, when ``res_or_model`` is a model.
    scores
        How construct scores are formed for the VIFs: ``"mean"`` (default; the unweighted
        mean of each construct's indicators, closest to the composite scores of Kock's
        PLS-based procedure) or ``"factor"`` (regression factor scores from the CFA of
        the constructs, lavaan's ``lavPredict(method = "regression")``; factor scores of
        correlated factors correlate more strongly than the factors, so these VIFs are
        higher).
    vif_threshold
        VIFs above this are flagged (Kock, 2015: 3.3).

    Returns
    -------
    CommonMethodBiasResult

    Raises
    ------
    NotSupportedError
        For a multi-group result (screen each group's view, ``res.groups[label]``). A
        single-group mean-structure result is screened on its covariance structure.

    Notes
    -----
    The measurement model is the CFA version of the model (:func:`lcsem.analysis.validity.cfa_model`):
    constructs with their indicators, free covariances among all constructs. Only
    first-order constructs (measured by observed indicators) get VIFs.
    """

    if scores not in SCORE_METHODS:
        raise ArgumentError(f"scores: {scores!r} is not one of {SCORE_METHODS}")
    if (isinstance(vif_threshold, bool) or not isinstance(vif_threshold, (int, float, np.number))
            or not np.isfinite(vif_threshold) or vif_threshold <= 1):
        raise ArgumentError(f"vif_threshold: {vif_threshold!r} is not a number above 1; use e.g. 3.3")
    if isinstance(res_or_model, FitResult):
        if data is not None:
            raise ArgumentError("data: give data only with a model; a FitResult already holds the "
                                "data it was fitted to")
        if res_or_model.group_labels:
            raise NotSupportedError(
                "res_or_model: common_method_bias() screens one sample: its chi-square difference, "
                "first-factor share and VIFs are single numbers of one set of respondents, so a "
                f"{res_or_model.n_groups}-group fit has no one answer; screen each group (its data, "
                "models fitted to it alone): {label: lcsem.common_method_bias(view) for label, view in "
                "res.groups.items()}, or pass the model and the pooled data: "
                "lcsem.common_method_bias(model, data)")
        model, used = res_or_model.model, res_or_model.data
        if res_or_model.grouped:    # one group with means: its covariance structure
            model = res_or_model.groups["1"].model
        if used is None or used.empty:
            raise ArgumentError("res_or_model: this result holds no data (fitted from summary "
                                "statistics, or stored with include_data=False); pass the model "
                                "and the data instead")
    else:
        if data is None:
            raise ArgumentError("data: a DataFrame is needed when the first argument is a model "
                                "(or pass a fitted lcsem.FitResult)")
        model, used = as_model(res_or_model), data
    cmodel = cfa_model(model)
    constructs = [f for f in cmodel.latent
                  if all(i in cmodel.observed for i in cmodel.indicators_of(f))]
    if len(constructs) < 2:
        raise ArgumentError(f"res_or_model: the model has {len(constructs)} construct(s) measured by "
                            f"observed indicators; common-method checks need at least two")
    with quiet():
        cfa = fit(cmodel, used)
        one = fit(single_factor_model(cmodel), cfa.data)
    X = cfa.data[list(cfa.model.observed)].to_numpy(dtype=float)
    score_matrix = _construct_scores(cfa, X, constructs, scores)
    vif = _vif_table(score_matrix, constructs, float(vif_threshold))
    harman = pd.DataFrame.from_records([_fit_row(one), _fit_row(cfa)],
                                       index=pd.Index(["single_factor", "measurement"], name="model"))
    harman["df"] = harman["df"].astype(int)
    chisq_diff = float(one.fit_indices["chisq"] - cfa.fit_indices["chisq"])
    df_diff = int(one.fit_indices["df"] - cfa.fit_indices["df"])
    p_diff = float(_lazy.chi2_sf(chisq_diff, df_diff)) if df_diff > 0 else float("nan")
    items = list(one.model.observed)
    R = np.corrcoef(X[:, [list(cfa.model.observed).index(v) for v in items]], rowvar=False)
    first_share = float(np.linalg.eigvalsh(R)[-1] / len(items))
    loads = one.estimates[one.estimates["op"] == "=~"]["std_all"].to_numpy()
    return CommonMethodBiasResult(
        vif=vif, harman=harman, chisq_diff=chisq_diff, df_diff=df_diff, pvalue_diff=p_diff,
        first_factor_share=first_share, single_factor_share=float(np.mean(loads ** 2)), scores=scores,
        vif_threshold=float(vif_threshold),
        notes={"vif": VIF_NOTE.format(scores=SCORE_TEXT[scores]), "harman": HARMAN_NOTE},
        n_obs=int(cfa.n_obs), single_factor_fit=one, measurement_fit=cfa)


def _construct_scores(cfa, X: np.ndarray, constructs: list[str], method: str) -> np.ndarray:
    observed = list(cfa.model.observed)
    if method == "mean":
        return np.column_stack([X[:, [observed.index(i) for i in cfa.model.indicators_of(f)]].mean(axis=1)
                                for f in constructs])
    struct = cfa.structure
    Sigma, _, C = struct.implied(np.asarray(cfa.theta)[None])
    cols = [struct.names.index(f) for f in constructs]
    weights = np.linalg.solve(Sigma[0], C[0][: struct.p][:, cols])      # Sigma^-1 Cov(x, eta)
    return (X - X.mean(axis=0)) @ weights


def _vif_table(scores: np.ndarray, names: list[str], threshold: float) -> pd.DataFrame:
    R = np.corrcoef(scores, rowvar=False)
    try:
        vif = np.diag(np.linalg.inv(R))
    except np.linalg.LinAlgError:
        vif = np.full(len(names), np.inf)
    with np.errstate(divide="ignore"):
        r2 = 1.0 - 1.0 / vif
    out = pd.DataFrame({"r2": r2, "vif": vif, "flagged": vif > threshold}, index=pd.Index(names, name="construct"))
    return out


def _fit_row(res) -> dict[str, float]:
    fi = res.fit_indices
    return {k: float(fi[k]) for k in ("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr")}
