"""Measurement quality: reliability, convergent and discriminant validity of each construct.

``measurement(res)`` fits the CFA version of a model (every ``=~`` statement and the
residual covariances among indicators are kept; the structural part is replaced by free
covariances among all constructs, as lavaan's ``cfa()`` on the measurement part) to the
data the result used, and reports per construct:

* **alpha** — Cronbach's alpha ``k/(k-1) (1 - tr S / 1'S1)`` of the construct's items
  (semTools ``compRelSEM(tau.eq = TRUE)``).
* **omega** — composite reliability ``(sum lambda)^2 psi / 1'S1`` with the **observed**
  variance of the sum score in the denominator (semTools 0.5.6 ``compRelSEM()`` default,
  ``obs.var = TRUE``). The version with the model-implied variance ``1'Sigma1`` is in
  :attr:`MeasurementResult.omega_implied`.
* **ave** — average variance extracted ``sum lambda^2 psi / tr S`` (semTools ``AVE()``
  default, observed item variances); undefined when an item loads on several constructs.

``S`` is the covariance the estimator fits, as in lavaan and semTools: denominator N for
ML, N - 1 for GLS and ULS (:func:`moment_scale`).
* **msv / asv** — maximum and average squared correlation with the other constructs
  (model-implied latent correlations of the CFA); **sqrt_ave** for Fornell–Larcker.
* **HTMT** (Henseler et al., 2015; arithmetic means of absolute item correlations) and
  **HTMT2** (Roemer et al., 2021; geometric means). semTools 0.5.6 ``htmt()`` returns
  HTMT2 unless ``htmt2 = FALSE``.

Constructs with a single indicator have no reliability, AVE or HTMT: they are reported
as NaN with an explanation in :attr:`MeasurementResult.notes`, never as numbers.

With a nonparametric :class:`lcsem.BootstrapResult` of the fit, every statistic is
registered with that bootstrap (:meth:`lcsem.BootstrapResult.statistic`; nothing is
resampled here), giving CIs of the standardised loadings and reliability statistics and
one-sided upper bounds of HTMT/HTMT2, flagged against .85 and .90. When the CFA is the
fitted model or equivalent to it (a saturated structural part), each replicate's estimates
are the CFA's and nothing is refitted; otherwise the CFA is refitted (batched) on each
replicate's moments. Multi-group bootstraps give the statistics per group.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import numpy as np
import pandas as pd

from .. import _lazy
from ..engine import GroupStats, GroupStructure, RamStructure, model_matrices
from ..engine.group_ls import LS_ESTIMATORS, GroupLSObjective
from ..engine.optimize import fisher_scoring, minimize
from .._warnings import quiet, warn
from ..exceptions import ArgumentError, BootstrapFailureWarning, ConvergenceWarning, NotSupportedError
from ..display.escape import html_escape, latex_escape
from ..display.render import FORMATS, render_table
from ..spec.groups import group_table, parse_partial
from ..spec.model import Model
from ..spec.syntax import Statement
from ..inference.standardized import delta_se, standardized_values
from ..estimation.estimate import as_model, fit
from ..results.fit_result import FitResult
from ..resampling.intervals import confidence_interval
from ..resampling.result import BootstrapResult

__all__ = ["measurement", "MeasurementResult", "cfa_model", "moment_scale", "CI_METHODS"]

CI_METHODS = ("percentile", "bc", "bca")
HTMT_THRESHOLDS = (0.85, 0.90)
OMEGA_NOTE = ("omega (composite reliability) uses the observed variance of the sum score in its "
              "denominator (semTools compRelSEM default, obs.var=TRUE); omega_implied uses the "
              "model-implied variance")
HTMT_NOTE = ("HTMT: arithmetic means of absolute item correlations (Henseler et al., 2015); HTMT2: "
             "geometric means (Roemer et al., 2021)")


# ---------------------------------------------------------------------------- the CFA
def cfa_model(model: Model, n_groups: int = 1) -> Model:
    """The CFA version of ``model``: its ``=~`` statements and the covariances among
    indicators, with free covariances among all constructs instead of the structural part.

    Every user-specified variance or covariance among constructs whose meaning the CFA
    does not change is kept as written (fixed values and labels): those of constructs
    that are not regressed on anything (``~``), e.g. ``f ~~ 0.5*f`` identifying a factor
    whose loadings are all free (``NA*x1``), or a fixed covariance between two exogenous
    constructs. A regressed construct becomes exogenous in the CFA, so its residual
    (co)variances are dropped; if a fixed residual variance identified it (no fixed
    loading), its variance is fixed to 1 instead — a choice of scale that leaves the fit
    and every standardised statistic unchanged.

    ``n_groups``: the number of groups the model is fitted to (a model with per-group
    modifiers ``c(...)`` has a parameter table only for that many groups).
    """
    if not isinstance(model, Model):
        raise ArgumentError(f"model: expected an lcsem.Model, got {type(model).__name__}")
    if not model.latent:
        raise ArgumentError("model: it has no latent construct (no '=~' statement); measurement "
                            "quality needs constructs measured by indicators")
    latent = set(model.latent)
    observed_ind = set(model.roles.indicators) - latent
    regressed = {s.lhs for s in model.statements if s.op == "~"} & latent
    rows = model.rows if n_groups == 1 else [r for r in group_table(model, n_groups) if r.group == 1]
    scaled_by_loading = {r.lhs for r in rows if r.op == "=~" and r.free == 0 and r.value != 0}
    keep: list[Statement] = []
    rescaled: list[Statement] = []
    for s in model.statements:
        if s.op == "=~":
            keep.append(s)
        elif s.op == "~~" and s.lhs in observed_ind and s.rhs in observed_ind:
            keep.append(s)
        elif s.op == "~~" and s.lhs in latent and s.rhs in latent:
            if not {s.lhs, s.rhs} & regressed:
                keep.append(s)
            elif (s.lhs == s.rhs and s.fixed is not None and not model.std_lv
                  and s.lhs not in scaled_by_loading):
                rescaled.append(Statement(s.lhs, "~~", s.lhs, s.line, fixed=1.0))
    # constructs that are indicators of others (higher order) stay endogenous; every
    # exogenous construct covaries freely (lcsem's default, as lavaan's cfa())
    name = f"{model.name} (CFA)" if model.name else "CFA"
    return Model(tuple(keep + rescaled), std_lv=model.std_lv, descriptions=dict(model.descriptions),
                 name=name)


def moment_scale(estimator: str, n_obs) -> np.ndarray | float:
    """Factor from the N-denominator covariance to the one each estimator fits and
    reports, as lavaan: 1 for ML, N/(N - 1) (the unbiased covariance) for GLS and ULS.
    semTools' reliability denominators use that same covariance (robust ML: ML's)."""
    if estimator in ("ML", "MLM", "MLMV", "MLMVS", "MLR"):
        return 1.0
    n = np.asarray(n_obs, dtype=float)
    return n / (n - 1.0)


@dataclass(frozen=True)
class _Layout:
    """Which observed items measure which construct in the CFA structure."""

    constructs: tuple[str, ...]
    items: dict[str, tuple[int, ...]]          # construct -> observed column positions
    latent_pos: dict[str, int]                 # construct -> position in struct.names
    cross_loaded: frozenset[str]               # constructs with an item loading elsewhere too
    loading_rows: tuple[int, ...]              # struct.rows positions of observed loadings


def _layout(struct: RamStructure) -> _Layout:
    obs = {n: i for i, n in enumerate(struct.observed)}
    items: dict[str, list[int]] = {c: [] for c in struct.latent}
    rows = []
    owner: dict[int, list[str]] = {}
    for pos, r in enumerate(struct.rows):
        if r.op == "=~" and r.rhs in obs:
            items[r.lhs].append(obs[r.rhs])
            owner.setdefault(obs[r.rhs], []).append(r.lhs)
            rows.append(pos)
    cross = {c for owners in owner.values() if len(owners) > 1 for c in owners}
    return _Layout(tuple(struct.latent), {c: tuple(v) for c, v in items.items()},
                   {c: struct.names.index(c) for c in struct.latent}, frozenset(cross), tuple(rows))


def _statistics(struct: RamStructure, layout: _Layout, theta: np.ndarray, S: np.ndarray) -> dict[str, np.ndarray]:
    """Every measurement statistic for each replicate (theta (R, k), S (R, p, p))."""
    theta = np.atleast_2d(theta)
    mats = model_matrices(struct, theta)
    A, C = mats.direct, mats.implied       # loadings: direct effects of constructs on items
    Sigma = C[:, :struct.p, :struct.p]
    R = theta.shape[0]
    names = layout.constructs
    q = len(names)
    out = {key: np.full((R, q), np.nan) for key in ("alpha", "omega", "omega_implied", "ave")}
    for j, c in enumerate(names):
        idx = list(layout.items[c])
        if len(idx) < 2:
            continue
        Sf = S[:, idx][:, :, idx]
        total = Sf.sum(axis=(1, 2))
        tr = np.trace(Sf, axis1=1, axis2=2)
        k = len(idx)
        out["alpha"][:, j] = k / (k - 1) * (1 - tr / total)
        lam = A[:, idx, layout.latent_pos[c]]
        psi = C[:, layout.latent_pos[c], layout.latent_pos[c]]
        common = lam.sum(axis=1) ** 2 * psi
        out["omega"][:, j] = common / total
        out["omega_implied"][:, j] = common / Sigma[:, idx][:, :, idx].sum(axis=(1, 2))
        if c not in layout.cross_loaded:
            out["ave"][:, j] = (lam ** 2).sum(axis=1) * psi / tr
    lat = [layout.latent_pos[c] for c in names]
    Phi = C[:, lat][:, :, lat]
    d = np.sqrt(np.diagonal(Phi, axis1=1, axis2=2))
    with np.errstate(invalid="ignore", divide="ignore"):
        cor = Phi / (d[:, :, None] * d[:, None, :])
    out["cor"] = cor
    sq = cor ** 2
    off = ~np.eye(q, dtype=bool)
    if q > 1:
        out["msv"] = np.where(off[None], sq, -np.inf).max(axis=2)
        out["asv"] = np.where(off[None], sq, 0.0).sum(axis=2) / (q - 1)
    else:
        out["msv"] = np.full((R, q), np.nan)
        out["asv"] = np.full((R, q), np.nan)
    out["htmt"], out["htmt2"] = _htmt(S, layout)
    out["std_loadings"] = standardized_values(struct, theta)[:, list(layout.loading_rows)]
    return out


def _htmt(S: np.ndarray, layout: _Layout) -> tuple[np.ndarray, np.ndarray]:
    """HTMT and HTMT2 matrices (R, q, q) from covariance matrices (absolute correlations)."""
    sd = np.sqrt(np.diagonal(S, axis1=1, axis2=2))
    Rm = np.abs(S / (sd[:, :, None] * sd[:, None, :]))
    names = layout.constructs
    q = len(names)
    n = S.shape[0]
    arith = np.full((n, q, q), np.nan)
    geo = np.full((n, q, q), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        for a in range(q):
            ia = list(layout.items[names[a]])
            for b in range(a, q):
                ib = list(layout.items[names[b]])
                block = Rm[:, ia][:, :, ib]
                if a == b:
                    if len(ia) < 2:
                        continue
                    iu = np.triu_indices(len(ia), 1)
                    vals = block[:, iu[0], iu[1]]
                else:
                    vals = block.reshape(n, -1)
                arith[:, a, b] = arith[:, b, a] = vals.mean(axis=1)
                geo[:, a, b] = geo[:, b, a] = np.exp(np.log(vals).mean(axis=1))
        out = []
        for m in (arith, geo):
            mono = np.diagonal(m, axis1=1, axis2=2)
            ratio = m / np.sqrt(mono[:, :, None] * mono[:, None, :])
            out.append(ratio)
    return out[0], out[1]


# ---------------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class MeasurementResult:
    """Reliability and validity of every construct (see :func:`measurement`).

    Attributes
    ----------
    reliability
        One row per construct: ``n_items, alpha, omega, ave, msv, asv, sqrt_ave``
        (omega with the observed-variance denominator, semTools' default).
    omega_implied
        Composite reliability with the model-implied variance of the sum score.
    loadings
        Standardised loadings of the CFA: ``construct, indicator, est, std, se, ci_lower,
        ci_upper`` (CIs by the delta method, or from the bootstrap when one is given).
    correlations
        Model-implied construct correlations of the CFA.
    fornell_larcker
        Construct correlations with sqrt(AVE) on the diagonal.
    fornell_larcker_passed
        Per construct: sqrt(AVE) exceeds every absolute correlation with another construct.
    htmt, htmt2
        Heterotrait–monotrait ratios (absolute item correlations; arithmetic / geometric
        means), 1 on the diagonal, NaN for single-indicator constructs.
    htmt_inference
        One row per pair of constructs: htmt, htmt2 and, with a bootstrap, their one-sided
        upper bounds and flags ``upper >= .85`` / ``upper >= .90`` (discriminant validity
        not established at that threshold).
    intervals
        With a bootstrap: ``estimate, lower, upper, se`` of every statistic, indexed
        ``"alpha:culture"``, ``"omega:culture"``, ``"ave:culture"``, ``"std:culture=~culture1"``,
        ``"htmt:culture~kmsuse"``, ``"htmt2:..."``.
    cfa
        The fitted CFA (:class:`lcsem.FitResult`; multi-group for a multi-group result).
    notes
        Explanations (denominators, undefined values, bootstrap replicates used).
    groups
        For a multi-group result: ``{label: MeasurementResult}`` of each group.
    """

    reliability: pd.DataFrame
    omega_implied: pd.Series
    loadings: pd.DataFrame
    correlations: pd.DataFrame
    fornell_larcker: pd.DataFrame
    fornell_larcker_passed: pd.Series
    htmt: pd.DataFrame
    htmt2: pd.DataFrame
    htmt_inference: pd.DataFrame
    cfa: Any = field(repr=False)
    intervals: pd.DataFrame | None = None
    level: float = 0.95
    ci_method: str = "delta"
    n_boot_used: int = 0
    notes: tuple[str, ...] = ()
    groups: Mapping[str, "MeasurementResult"] = field(default_factory=dict, repr=False)

    @property
    def converged(self) -> bool:
        """Whether the measurement CFA converged (if not, a :class:`lcsem.ConvergenceWarning`
        was issued and every statistic is unreliable)."""
        return bool(self.cfa.converged)

    def summary(self, format: str = "text", digits: int = 3) -> str:
        """Reliability, loadings, Fornell–Larcker and HTMT tables with notes."""
        if format not in FORMATS:
            raise ArgumentError(f"format: {format!r} is not one of {FORMATS}")
        if self.groups:
            return _group_summaries(self, format, digits)
        rel = self.reliability.copy()
        rel.index.name = "construct"
        parts = [
            render_table(rel, format, digits=digits, caption="Reliability and convergent validity"),
            render_table(self.loadings, format, digits=digits, index=False,
                         caption=f"Standardised loadings ({self.level:.0%} CI: {self.ci_method})"),
            render_table(_named(self.fornell_larcker), format, digits=digits,
                         caption="Fornell-Larcker (sqrt(AVE) on the diagonal)"),
            render_table(_named(self.htmt), format, digits=digits, caption="HTMT"),
            render_table(_named(self.htmt2), format, digits=digits, caption="HTMT2"),
        ]
        if self.n_boot_used:
            parts.append(render_table(self.htmt_inference, format, digits=digits, index=False,
                                      caption="HTMT with one-sided bootstrap upper bounds"))
        notes = list(self.notes)
        if format == "html":
            return ('<div class="lcsem-measurement">' + "".join(parts)
                    + "".join(f"<p><small>{html_escape(n)}</small></p>" for n in notes) + "</div>")
        sep = "\n\n"
        note_text = ("Notes:\n" + "\n".join(f"- {n}" for n in notes)) if notes else ""
        return sep.join(parts + ([note_text] if note_text else []))

    def _repr_html_(self) -> str:
        return self.summary("html")

    def __repr__(self) -> str:
        if self.groups:
            first = next(iter(self.groups.values()))
            return (f"<lcsem.MeasurementResult: {len(first.reliability)} constructs in {len(self.groups)} "
                    f"groups>\n" + self.reliability.round(3).to_string())
        return f"<lcsem.MeasurementResult: {len(self.reliability)} constructs>\n" + \
            self.reliability.round(3).to_string()


def _named(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out.index.name = "construct"
    return out


# ---------------------------------------------------------------------------- entry point
def measurement(res_or_model: FitResult | Model | str, data: pd.DataFrame | None = None, *,
                boot: BootstrapResult | None = None,
                level: float = 0.95, method: str = "percentile") -> MeasurementResult:
    """Reliability and validity of every construct, on the CFA version of the model.

    Parameters
    ----------
    res_or_model
        A fitted :class:`lcsem.FitResult` (its complete-case data are used), or an
        :class:`lcsem.Model` / lavaan-style model text together with ``data``.
    data
        The data, when ``res_or_model`` is a model.
    boot
        Optional nonparametric :class:`lcsem.BootstrapResult` of ``res_or_model``
        (multi-group bootstraps too: statistics per group). The statistics are evaluated on
        its replicates through :meth:`lcsem.BootstrapResult.statistic`: from each
        replicate's estimates when the CFA is equivalent to the fitted model (no refit),
        else by refitting the CFA on each replicate's moments. Replicates without a
        solution are left out, counted in :attr:`MeasurementResult.notes` and warned about
        (:class:`lcsem.BootstrapFailureWarning`).
    level
        Confidence level of two-sided intervals; HTMT upper bounds are one-sided at
        this level (e.g. the 95th percentile for 0.95).
    method
        Bootstrap interval: ``"percentile"``, ``"bc"`` or ``"bca"`` (BCa refits the CFA
        leaving out each row in turn for the acceleration: the bootstrap's jackknife).

    Returns
    -------
    MeasurementResult
        For a multi-group result, the CFA is fitted to every group at once with the fit's
        ``group_equal`` / ``group_partial`` (those of its rows that the CFA has) and every
        statistic is computed per group from that group's view of the CFA: row tables
        (``reliability``, ``loadings``, ``htmt_inference``) gain a ``group`` column,
        matrices (``correlations``, ``fornell_larcker``, ``htmt``, ``htmt2``) and the
        Series a (group, construct) MultiIndex, and :attr:`MeasurementResult.groups` holds
        each group's result. A single-group mean-structure result gives the statistics of
        its covariance structure.
    """

    if not (isinstance(level, (float, int)) and 0 < float(level) < 1):
        raise ArgumentError(f"level: {level!r} is not a probability between 0 and 1; use e.g. 0.95")
    if method not in CI_METHODS:
        raise ArgumentError(f"method: {method!r} is not one of {CI_METHODS}")
    if isinstance(res_or_model, FitResult):
        if res_or_model.ordinal is not None:
            raise NotSupportedError("res_or_model: measurement() of ordinal fits (ordered=...) is not "
                                    "available yet; lcsem.ordinal_reliability(res) gives categorical omega "
                                    "(semTools' compRelSEM) and the omega of the latent responses")
        if data is not None:
            raise ArgumentError("data: give data only with a model; a FitResult already holds the "
                                "data it was fitted to")
        model, used, estimator = res_or_model.model, res_or_model.data, res_or_model.estimator
        if used is None or used.shape[0] == 0:
            raise ArgumentError("res_or_model: this result holds no data (fitted from summary "
                                "statistics, or saved with to_dict(include_data=False)), and "
                                "measurement() refits the CFA to "
                                "the data; save it with include_data=True, or pass the model and the "
                                "data: measurement(model, data)")
    else:
        if data is None:
            raise ArgumentError("data: a DataFrame is needed when the first argument is a model "
                                "(or pass a fitted lcsem.FitResult)")
        model, used, estimator = as_model(res_or_model), data, "ML"
    cmodel = cfa_model(model, res_or_model.n_groups if isinstance(res_or_model, FitResult) else 1)
    if isinstance(res_or_model, FitResult) and res_or_model.grouped:
        if boot is not None:
            _check_boot(boot, res_or_model)
        return _grouped_measurement(res_or_model, cmodel, level, method, boot)
    if isinstance(res_or_model, FitResult) and res_or_model.missing == "ml":
        raise NotSupportedError(f"res_or_model: a view ({res_or_model.view_of}) of a FIML fit (missing='ml'); "
                                "pass the fit itself, whose CFA is refitted by FIML")
    if isinstance(res_or_model, FitResult) and res_or_model.view_of and boot is not None:
        raise NotSupportedError(f"boot: res_or_model is a view ({res_or_model.view_of}), which is never "
                                "resampled on its own; use boot=None")
    with quiet():
        cf = fit(cmodel, used, estimator=estimator)
    out = _assess(cf, level, method, boot, res_or_model)
    if isinstance(res_or_model, FitResult) and res_or_model.view_of:
        out = replace(out, notes=out.notes + (
            f"res_or_model is a view ({res_or_model.view_of}): the CFA was fitted to this group's data "
            "alone, without the multi-group fit's equality constraints; measurement() of the multi-group "
            "fit keeps them",))
    return out


def _assess(cf: FitResult, level: float, method: str = "percentile", boot: BootstrapResult | None = None,
            res_or_model: Any = None, boot_draws: tuple | None = None) -> MeasurementResult:
    """Every statistic of :func:`measurement` from the fitted CFA ``cf`` (one group, or
    one group's view of a multi-group CFA). ``boot_draws``: a group's ``(draws, jackknife
    draws, how, n_resamples)`` from :func:`boot_statistics` of a multi-group bootstrap."""
    struct = cf.structure
    layout = _layout(struct)
    S = cf.sample_cov.loc[list(struct.observed), list(struct.observed)].to_numpy()[None]
    S = S * moment_scale(cf.estimator, cf.n_obs)
    point = {k: v[0] for k, v in _statistics(struct, layout, cf.theta[None], S).items()}
    names = list(layout.constructs)
    notes = [OMEGA_NOTE, "AVE uses the observed item variances (semTools AVE default)", HTMT_NOTE]
    if not cf.converged:
        warn(f"the measurement CFA did not converge (after {cf.iterations} iterations); its loadings, "
             f"reliability and validity statistics are not reliable: check the identification of "
             f"every construct", ConvergenceWarning, stacklevel=3)
        notes.append("the CFA did NOT converge: every statistic here is unreliable")
    if cf.vcov.size and not np.isfinite(cf.vcov).any():
        warn("the measurement CFA's information matrix is singular (the CFA may not be identified); "
             "standard errors and delta-method intervals of the loadings are not available",
             ConvergenceWarning, stacklevel=3)
    single = [c for c in names if len(layout.items[c]) < 2]
    for c in single:
        notes.append(f"{c} has a single indicator: alpha, omega, AVE and HTMT are undefined (NaN)")
    for c in sorted(layout.cross_loaded):
        notes.append(f"{c} has cross-loading items: AVE is undefined (NaN), as in semTools")
    if cf.inadmissible:
        notes.append("the CFA solution is inadmissible: " + "; ".join(cf.inadmissible))

    # standardised loadings with delta-method CIs
    rows = [struct.rows[i] for i in layout.loading_rows]
    std_se = delta_se(lambda th: standardized_values(struct, th)[:, list(layout.loading_rows)],
                      cf.theta, cf.vcov)
    z = _lazy.norm_ppf(0.5 + level / 2)
    loadings = pd.DataFrame({
        "construct": [r.lhs for r in rows], "indicator": [r.rhs for r in rows],
        "est": struct.row_values(cf.theta[None])[0, list(layout.loading_rows)],
        "std": point["std_loadings"], "se": std_se,
        "ci_lower": point["std_loadings"] - z * std_se, "ci_upper": point["std_loadings"] + z * std_se})
    ci_method = "delta"

    intervals = None
    n_used = 0
    if boot_draws is not None:
        draws_g, jack_g, how, n_resamples = boot_draws
        n_used = _n_used(draws_g)
        intervals = _intervals(point, draws_g, jack_g, names, rows, level, method)
    elif boot is not None:
        if not isinstance(res_or_model, FitResult):
            raise ArgumentError("boot: pass the bootstrap of this very result (lcsem.bootstrap(res)) together "
                                "with the fitted result, not with a model and data")
        _check_boot(boot, res_or_model)
        boot_draws, jack, how = boot_statistics(boot, res_or_model, cf, method)
        boot_draws, jack = boot_draws[0], None if jack is None else jack[0]
        n_used = _n_used(boot_draws)
        n_resamples = boot.n_resamples
        intervals = _intervals(point, boot_draws, jack, names, rows, level, method)
    if intervals is not None:
        for j, r in enumerate(rows):
            key = f"std:{r.lhs}=~{r.rhs}"
            loadings.loc[j, "ci_lower"] = intervals.loc[key, "lower"]
            loadings.loc[j, "ci_upper"] = intervals.loc[key, "upper"]
            loadings.loc[j, "se"] = intervals.loc[key, "se"]
        ci_method = {"percentile": "bootstrap percentile", "bc": "bootstrap BC", "bca": "bootstrap BCa"}[method]
        notes.append(_boot_note(how, n_used, n_resamples, method, level))
        if n_used < n_resamples:
            warn(_boot_failures(how, n_used, n_resamples), BootstrapFailureWarning, stacklevel=3)

    reliability = pd.DataFrame({
        "n_items": [len(layout.items[c]) for c in names],
        "alpha": point["alpha"], "omega": point["omega"], "ave": point["ave"],
        "msv": point["msv"], "asv": point["asv"], "sqrt_ave": np.sqrt(point["ave"])}, index=names)
    cor = pd.DataFrame(point["cor"], index=names, columns=names)
    fl = cor.copy()
    for c in names:
        fl.loc[c, c] = np.sqrt(point["ave"][names.index(c)])
    absr = cor.abs().to_numpy().copy()
    np.fill_diagonal(absr, -np.inf)
    passed = pd.Series([bool(np.sqrt(point["ave"][j]) > absr[j].max()) if np.isfinite(point["ave"][j])
                        else False for j in range(len(names))], index=names, name="fornell_larcker")
    htmt = _with_unit_diagonal(pd.DataFrame(point["htmt"], index=names, columns=names))
    htmt2 = _with_unit_diagonal(pd.DataFrame(point["htmt2"], index=names, columns=names))
    inference = _htmt_inference(names, point, intervals)
    return MeasurementResult(
        reliability=reliability, omega_implied=pd.Series(point["omega_implied"], index=names, name="omega_implied"),
        loadings=loadings, correlations=cor, fornell_larcker=fl, fornell_larcker_passed=passed,
        htmt=htmt, htmt2=htmt2, htmt_inference=inference, cfa=cf, intervals=intervals, level=float(level),
        ci_method=ci_method, n_boot_used=n_used, notes=tuple(notes))


def _with_unit_diagonal(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for c in out.index:
        if np.isfinite(out.loc[c].drop(c)).any() or len(out) == 1:
            out.loc[c, c] = 1.0
    return out


def _htmt_inference(names, point, intervals) -> pd.DataFrame:
    records = []
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            rec = {"construct_a": names[a], "construct_b": names[b],
                   "htmt": point["htmt"][a, b], "htmt2": point["htmt2"][a, b]}
            if intervals is not None:
                for kind in ("htmt", "htmt2"):
                    up = intervals.loc[f"{kind}:{names[a]}~{names[b]}", "upper_one_sided"]
                    rec[f"{kind}_upper"] = up
                for t in HTMT_THRESHOLDS:
                    up = rec["htmt_upper"]
                    rec[f"flag_{int(round(t * 100))}"] = bool(up >= t) if np.isfinite(up) else True
            records.append(rec)
    return pd.DataFrame.from_records(records)


# ---------------------------------------------------------------------------- bootstrap
def _check_boot(boot: Any, res: FitResult) -> None:
    """Refuse a bootstrap that cannot give the measurement statistics of ``res``."""
    kind = getattr(boot, "kind", None)
    if kind is None:
        raise ArgumentError(f"boot: expected the lcsem.BootstrapResult of this fit (lcsem.bootstrap(res)), "
                            f"got {type(boot).__name__}")
    if kind == "bollen-stine":
        raise NotSupportedError(
            "boot: a Bollen-Stine bootstrap resamples model-transformed data, which say nothing about "
            "the measurement quality of the observed data; run lcsem.bootstrap(res, kind='nonparametric')")
    if kind != "nonparametric" or getattr(boot, "indices", None) is None:
        raise NotSupportedError(
            f"boot: a {kind!r} bootstrap keeps no resampled cases, whose moments the "
            "reliability and HTMT statistics need; run lcsem.bootstrap(res, kind='nonparametric')")
    if not isinstance(boot, BootstrapResult):
        raise ArgumentError(f"boot: expected the lcsem.BootstrapResult of this fit (lcsem.bootstrap(res)), "
                            f"got {type(boot).__name__}")
    other = boot.fit
    if other is not res and not (other.data is not None and res.data is not None
                                 and other.data.shape == res.data.shape
                                 and len(other.theta) == len(res.theta) and np.allclose(other.theta, res.theta)
                                 and tuple(other.group_labels) == tuple(res.group_labels)):
        raise ArgumentError("boot: pass the bootstrap of this very result (lcsem.bootstrap(res)) together "
                            "with the fitted result")
    if other.estimator != res.estimator:
        raise ArgumentError("boot: it was run on a fit with another estimator than this result")
    if res.missing == "ml":
        raise NotSupportedError("boot: the replicates of a FIML fit (missing='ml') have no complete-data "
                                "moments for alpha, omega and HTMT; use the delta-method intervals (boot=None)")


#: how the CFA's replicate estimates were obtained (see :func:`boot_statistics`)
_SAME_MODEL, _REFITTED = "same model", "refitted"


def boot_statistics(boot: BootstrapResult, res: FitResult, cf: FitResult, method: str
                    ) -> tuple[list[dict[str, np.ndarray]], list[dict[str, np.ndarray]] | None, str]:
    """Draws of every measurement statistic of each group (a list over groups), from the
    bootstrap's replicates through its statistic hook (:meth:`BootstrapResult.statistic`):
    the bootstrap provides each replicate's estimates and resampled moments, nothing is
    resampled here. With ``method="bca"`` also the jackknife's draws.

    When the CFA ``cf`` is the fitted model itself or equivalent to it (the same observed
    variables, df and chi-square: the structural part of the model is saturated), each
    replicate's parameters ARE the CFA's estimates on that replicate, and the statistics
    are evaluated from them with no refit (``how = "same model"``). Otherwise the CFA is
    refitted (batched) on each replicate's moments, warm-started at its full-sample
    estimate (``how = "refitted"``)."""
    G = res.n_groups
    c_struct = _group_structures(cf)
    c_layouts = [_layout(s) for s in c_struct]
    m_struct = _group_structures(res)
    same = _equivalent(res, cf) and all(_same_layout(_layout(a), b) for a, b in zip(m_struct, c_layouts))
    observed = list(res.model.observed)
    cols = [observed.index(v) for v in cf.model.observed]

    def statistic(rep) -> dict[str, np.ndarray]:
        cov, mean, n = rep.moments()
        cov = cov[:, :, cols][:, :, :, cols]
        mean = mean[:, :, cols]
        scale = np.asarray(moment_scale(cf.estimator, n), float).reshape(-1)
        S = cov * scale[None, :, None, None]
        if same:
            theta, ok, structs = rep.theta, np.ones(len(rep), bool), m_struct
            layouts = [_layout(st) for st in m_struct]
        else:
            theta, ok = _refit(cf, S, mean, n)
            structs, layouts = c_struct, c_layouts
        out = {}
        for g in range(G):
            stats = _statistics(structs[g], layouts[g], theta, S[:, g])
            for key, value in stats.items():
                value = np.array(value, dtype=float)
                value[~ok] = np.nan
                out[f"{g}/{key}"] = value
        return out

    def split(flat: dict[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
        return [{key.split("/", 1)[1]: v for key, v in flat.items() if key.startswith(f"{g}/")} for g in range(G)]

    draws = split(boot.statistic(statistic))
    jack = split(boot.statistic(statistic, jackknife=True)) if method == "bca" else None
    return draws, jack, _SAME_MODEL if same else _REFITTED


def _group_structures(res: FitResult) -> list[RamStructure]:
    """One RAM structure per group mapping the fit's (joint) parameter vector."""
    if not res.grouped:
        return [res.structure]
    return list(GroupStructure(res.rows, res.model.observed, res.model.latent, res.n_groups,
                               res.meanstructure).groups)


def _equivalent(res: FitResult, cf: FitResult) -> bool:
    """Is the CFA the fitted model, or equivalent to it on these data (same observed
    variables, degrees of freedom and chi-square)?"""
    if tuple(res.model.observed) != tuple(cf.model.observed):
        return False
    a, b = res.fit_indices, cf.fit_indices
    if int(a["df"]) != int(b["df"]):
        return False
    return bool(abs(float(a["chisq"]) - float(b["chisq"])) <= 1e-6 * max(1.0, abs(float(a["chisq"]))))


def _same_layout(a: _Layout, b: _Layout) -> bool:
    """Do two layouts name the same constructs and items in the same order?"""
    return a.constructs == b.constructs and a.items == b.items and a.cross_loaded == b.cross_loaded


def _refit(cf: FitResult, S: np.ndarray, mean: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The CFA refitted on every replicate's moments (``S`` (R, G, p, p) in the estimator's
    denominator), warm-started at its full-sample estimate: (theta, converged)."""
    R = S.shape[0]
    start = np.broadcast_to(np.asarray(cf.theta, float), (R, len(cf.theta)))
    # GLS and ULS refit by least squares; ML and robust ML (whose estimates are ML's) by ML
    estimator = cf.estimator if cf.estimator in LS_ESTIMATORS else "ML"
    if not cf.grouped:
        sol = minimize(cf.structure, S[:, 0], start, estimator)
    else:
        struct = GroupStructure(cf.rows, cf.model.observed, cf.model.latent, cf.n_groups, cf.meanstructure)
        means = mean if cf.meanstructure else None
        if estimator == "ML":
            sol = minimize(struct, GroupStats(S, means, n), start, "ML", method="newton")
        else:
            sol = fisher_scoring(GroupLSObjective(struct, GroupStats(S, means, n), estimator), start, newton=True)
    return sol.theta, sol.converged & np.isfinite(sol.fmin)


def _n_used(draws: dict[str, np.ndarray]) -> int:
    """Replicates with a finite solution (every standardised loading finite)."""
    return int(np.isfinite(draws["std_loadings"]).all(axis=1).sum())


def _boot_note(how: str, n_used: int, n_resamples: int, method: str, level: float) -> str:
    if how == _SAME_MODEL:
        return (f"bootstrap: statistics from {n_used} of {n_resamples} replicates of the fit's bootstrap (the "
                f"CFA is equivalent to the fitted model, so each replicate's estimates are the CFA's and "
                f"nothing was refitted; failed replicates left out); {method} intervals at level {level}")
    return (f"bootstrap: the CFA was refitted on {n_used} of {n_resamples} replicates of the fit's "
            f"bootstrap (others did not converge); {method} intervals at level {level}")


def _boot_failures(how: str, n_used: int, n_resamples: int) -> str:
    if how == _SAME_MODEL:
        return (f"{n_resamples - n_used} of {n_resamples} bootstrap replicates failed; the measurement "
                f"intervals use the {n_used} others")
    return (f"the measurement CFA did not converge on {n_resamples - n_used} of {n_resamples} bootstrap "
            f"resamples; intervals use the {n_used} that did")


def _flatten(stat: dict[str, np.ndarray], names, rows) -> dict[str, np.ndarray]:
    """Statistic name -> (R,) draws."""
    out = {}
    for key in ("alpha", "omega", "omega_implied", "ave", "msv", "asv"):
        for j, c in enumerate(names):
            out[f"{key}:{c}"] = stat[key][..., j]
    for j, r in enumerate(rows):
        out[f"std:{r.lhs}=~{r.rhs}"] = stat["std_loadings"][..., j]
    for key in ("htmt", "htmt2"):
        for a in range(len(names)):
            for b in range(a + 1, len(names)):
                out[f"{key}:{names[a]}~{names[b]}"] = stat[key][..., a, b]
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            out[f"cor:{names[a]}~{names[b]}"] = stat["cor"][..., a, b]
    return out


def _intervals(point, draws, jack, names, rows, level, method) -> pd.DataFrame:
    est = _flatten({k: np.asarray(v)[None] for k, v in point.items()}, names, rows)
    dr = _flatten(draws, names, rows)
    jk = _flatten(jack, names, rows) if jack is not None else None
    one_sided_level = 1 - 2 * (1 - level)
    records = {}
    for key, values in dr.items():
        e = float(est[key][0])
        d = values[np.isfinite(values)]
        if not np.isfinite(e) or d.size < 2:
            records[key] = (e, np.nan, np.nan, np.nan, np.nan)
            continue
        j = None
        if jk is not None:
            j = jk[key]
            j = j[np.isfinite(j)]
        lo, hi = confidence_interval(d, e, method=method, level=level, jackknife=j)
        _, up = confidence_interval(d, e, method=method, level=one_sided_level, jackknife=j)
        records[key] = (e, lo, hi, up, float(np.std(d, ddof=1)))
    return pd.DataFrame.from_dict(records, orient="index",
                                  columns=["estimate", "lower", "upper", "upper_one_sided", "se"])


# ---------------------------------------------------------------------------- groups
def _grouped_measurement(res: FitResult, cmodel: Model, level: float, method: str = "percentile",
                         boot: BootstrapResult | None = None) -> MeasurementResult:
    """:func:`measurement` of a multi-group or mean-structure fit: one CFA fitted to all
    groups with the fit's equality constraints, statistics per group from its views; with a
    bootstrap (cases resampled within groups), each group's statistics from every
    replicate (:func:`boot_statistics`)."""
    multi = bool(res.group_labels)
    with quiet():
        cf = fit(cmodel, res.data, estimator=res.estimator, group=res.group if multi else None,
                 group_equal=res.group_equal, group_partial=_cfa_partial(res, cmodel),
                 meanstructure=res.meanstructure, missing=res.missing,
                 information=res.information if res.missing == "ml" else None)
    if boot is None:
        per_group = {label: _assess(view, level) for label, view in cf.groups.items()}
    else:
        draws, jack, how = boot_statistics(boot, res, cf, method)
        per_group = {label: _assess(view, level, method, boot_draws=(
            draws[g], None if jack is None else jack[g], how, boot.n_resamples))
            for g, (label, view) in enumerate(cf.groups.items())}
    if not multi:
        return replace(per_group["1"], cfa=cf)
    labels = list(per_group)

    def rows(name: str) -> pd.DataFrame:
        frames = []
        for label, m in per_group.items():
            frame = getattr(m, name).copy()
            frame.insert(0, "group", label)
            frames.append(frame)
        return pd.concat(frames)

    def stacked(name: str) -> Any:
        out = pd.concat({label: getattr(m, name) for label, m in per_group.items()})
        out.index = out.index.set_names(["group", "construct"])
        return out

    first = per_group[labels[0]]
    notes = list(first.notes[:3]) + [
        f"statistics per group ({res.group}: {', '.join(labels)}) from a CFA fitted to all groups at once"
        + (f" with {', '.join(res.group_equal)} equal across groups" if res.group_equal else "")]
    for label, m in per_group.items():
        notes += [f"group {label}: {n}" for n in m.notes[3:]]
    return MeasurementResult(
        reliability=rows("reliability"), omega_implied=stacked("omega_implied"), loadings=rows("loadings"),
        correlations=stacked("correlations"), fornell_larcker=stacked("fornell_larcker"),
        fornell_larcker_passed=stacked("fornell_larcker_passed"), htmt=stacked("htmt"), htmt2=stacked("htmt2"),
        htmt_inference=rows("htmt_inference"), cfa=cf,
        intervals=None if boot is None else pd.concat({label: m.intervals for label, m in per_group.items()},
                                                      names=["group", "statistic"]),
        level=float(level), ci_method=first.ci_method,
        n_boot_used=min(m.n_boot_used for m in per_group.values()), notes=tuple(notes), groups=per_group)


def _cfa_partial(res: FitResult, cmodel: Model) -> tuple[str, ...]:
    """The fit's ``group_partial`` entries that name rows of the CFA (released structural
    paths have no counterpart in it)."""
    if not res.group_partial:
        return ()
    rows = group_table(cmodel, res.n_groups, meanstructure=True)
    kept = []
    for text in res.group_partial:
        try:
            parse_partial([text], rows)
        except ArgumentError:
            continue
        kept.append(text)
    return tuple(kept)


def _group_summaries(meas: MeasurementResult, format: str, digits: int) -> str:
    """The summary of a multi-group result: each group's, under its label."""
    parts = []
    for label, m in meas.groups.items():
        head = f"Group {label}"
        if format == "html":
            parts.append(f"<h4>{html_escape(head)}</h4>" + m.summary(format, digits))
        elif format == "markdown":
            parts.append(f"#### {head}\n\n" + m.summary(format, digits))
        elif format == "latex":
            parts.append(f"\\paragraph{{{latex_escape(head)}}}\n\n" + m.summary(format, digits))
        else:
            parts.append(f"{head}\n{'-' * len(head)}\n" + m.summary(format, digits))
    return "\n\n".join(parts) if format != "html" else '<div class="lcsem-measurement-groups">' + "".join(parts) + "</div>"
