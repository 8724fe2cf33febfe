"""Result objects: immutable values that summarise, render and serialise themselves."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..engine import RamStructure
from ..display.render import FORMATS, render_table
from ..display.format import format_p
from ..spec.model import Model
from .._validation import check_level
from ..exceptions import ArgumentError, NotSupportedError
from ..inference.grouped import fixed_x_ids, grouped_standardized_solution
from ..inference.standardized import standardized_solution
from ..spec.groups import group_table, view_model
from ..spec.partable import ParRow
from ..inference.wald import add_inference_columns
from .codec import fit_result_fields, fit_result_payload
from .ordinal_info import OrdinalInfo

STANDARDIZED_COLUMNS = ["lhs", "op", "rhs", "label", "est_std", "se_std", "z_std", "pvalue_std",
                        "ci_lower_std", "ci_upper_std"]
RESIDUAL_KINDS = ("raw", "cor", "cor.bollen", "cor.bentler")
# pandas values handed out as shallow copies: with pandas' copy-on-write, changing what a
# caller receives never changes the result
_PANDAS_FIELDS = frozenset({"estimates", "fit_indices", "r2", "sample_cov", "implied_cov", "data",
                            "sample_mean", "implied_mean"})


def parameter_name(lhs: str, op: str, rhs: str) -> str:
    """Name of a parameter as a statistic: ``"kmsuse~culture"``, ``"visual=~x1"``; a
    defined parameter is named by its left-hand side (``"ind"``)."""
    return lhs if op == ":=" else f"{lhs}{op}{rhs}"


def parameter_names(estimates: pd.DataFrame) -> list[str]:
    """:func:`parameter_name` of every row of an estimates table."""
    return [parameter_name(l, o, r) for l, o, r in zip(estimates["lhs"], estimates["op"], estimates["rhs"])]


def _readonly(array: np.ndarray) -> np.ndarray:
    array = np.array(array, dtype=float, copy=True)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class FitResult:
    """The outcome of :func:`lcsem.fit`: an immutable value.

    Every DataFrame, Series and array a result hands out is a copy or read-only: changing
    what you receive never changes what the result reports later.

    Multi-group results hold ``sample_cov``, ``implied_cov``, ``sample_mean``,
    ``implied_mean`` and ``r2`` with a (group, variable) MultiIndex; :attr:`groups`
    gives one single-group view per group (its covariance structure, estimates and SEs
    from the joint fit) to analyse, plot or report a group on its own.

    Attributes
    ----------
    model
        The fitted :class:`~lcsem.Model`.
    estimator
        ``"ML"``, ``"GLS"`` or ``"ULS"``; robust ML ``"MLM"``, ``"MLR"``, ...; with ordinal
        indicators ``"WLSMV"``, ``"WLSM"``, ``"DWLS"``, ``"WLS"``, ``"ULSMV"``, ``"ULSM"``, ``"ULS"``.
    estimates
        One row per parameter (lavaan's ``parameterEstimates(standardized = TRUE)``):
        ``lhs op rhs label est se z pvalue ci_lower ci_upper std_lv std_all std_nox``.
        Fixed parameters have NaN ``se``, ``z`` and ``pvalue`` and a CI equal to ``est``;
        ``:=`` rows carry delta-method SEs; the CI is the normal-theory Wald interval at
        ``level``. Standardised SEs and CIs: :meth:`standardized_solution`.
    fit_indices
        chisq, df, pvalue, cfi, tli, nfi, rmsea (with 90% CI and p-close), srmr, gfi, agfi,
        loglik, aic, bic, n_obs, n_params, baseline_chisq and baseline_df.
    r2
        R² of every endogenous variable (indicators and structural outcomes).
    converged
        Whether the optimiser reached a tight optimum.
    inadmissible
        Reasons the solution is inadmissible (empty when it is admissible).
    warnings
        Every warning issued while fitting, as text.
    data
        The rows used (complete cases of the model's columns), or None for a fit from
        summary statistics (``sample_cov``).
    unidentified
        Parameters involved in a failed identification check (empty when identified);
        then every SE, z, p and CI is NaN. See :attr:`identified`.
    level
        Confidence level of ``ci_lower``/``ci_upper``.
    sample_mean
        Sample means of the observed variables (None when fitted from a covariance
        matrix without ``sample_mean``).
    group
        The group column of a multi-group fit (None for one group).
    group_labels
        The groups' labels (the group column's values as text) in lavaan's order, the
        order of first appearance in the data; ``estimates["group"]`` numbers them 1..G.
    group_equal, group_partial
        lavaan's ``group.equal`` / ``group.partial`` of the fit.
    meanstructure
        Whether the model has a mean structure (intercepts ``~1`` rows; always for groups).
    implied_mean
        Model-implied means (with a mean structure).
    view_of
        Set on a per-group view (:attr:`groups`): which multi-group fit it comes from.
    information
        The information matrix behind ``vcov``: ``"expected"`` (lavaan's default for
        complete data) or, for a FIML fit (``missing="ml"``), ``"observed"`` (default) or
        ``"expected"`` as requested.
    ordinal
        For a fit with ``ordered=`` (WLSMV, DWLS, WLS, ULSMV, ...): the ordered variables,
        the parameterisation, lavaan's table and the thresholds
        (:class:`~lcsem.results.ordinal_info.OrdinalInfo`); ``sample_cov``/``implied_cov``
        then hold the polychoric (polyserial) and the implied correlation matrices. None
        for continuous fits.

    """

    model: Model
    estimator: str
    estimates: pd.DataFrame
    fit_indices: pd.Series
    r2: pd.Series
    converged: bool
    inadmissible: tuple[str, ...]
    warnings: tuple[str, ...]
    n_obs: int
    n_total: int
    missing: str
    theta: np.ndarray
    vcov: np.ndarray
    sample_cov: pd.DataFrame
    implied_cov: pd.DataFrame
    data: pd.DataFrame | None = field(repr=False)
    iterations: int = 0
    versions: Mapping[str, str] = field(default_factory=dict)
    unidentified: tuple[str, ...] = ()
    level: float = 0.95
    sample_mean: pd.Series | None = None
    group: str | None = None
    group_labels: tuple[str, ...] = ()
    group_equal: tuple[str, ...] = ()
    group_partial: tuple[str, ...] = ()
    meanstructure: bool = False
    implied_mean: pd.Series | None = None
    view_of: str = ""
    information: str = "expected"
    ordinal: OrdinalInfo | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "theta", _readonly(self.theta))
        object.__setattr__(self, "vcov", _readonly(self.vcov))
        object.__setattr__(self, "versions", MappingProxyType(dict(self.versions)))
        object.__setattr__(self, "inadmissible", tuple(self.inadmissible))
        object.__setattr__(self, "warnings", tuple(self.warnings))
        object.__setattr__(self, "unidentified", tuple(self.unidentified))
        for name in ("group_labels", "group_equal", "group_partial"):
            object.__setattr__(self, name, tuple(object.__getattribute__(self, name)))
        if (self.sample_mean is None and self.data is not None and len(self.data)
                and not self.group_labels):
            object.__setattr__(self, "sample_mean", self.data.mean(axis=0).rename("mean"))
        for name in _PANDAS_FIELDS:
            value = object.__getattribute__(self, name)
            if value is not None:
                # a private deep copy: the caller's objects stay theirs
                object.__setattr__(self, name, value.copy(deep=True))

    def __getattribute__(self, name: str) -> Any:
        value = object.__getattribute__(self, name)
        if name in _PANDAS_FIELDS and value is not None:
            return value.copy(deep=False)   # copy-on-write: isolated from the stored value
        return value

    def __reduce__(self):
        # pickle through the constructor (mapping proxies cannot be pickled)
        values = {f.name: object.__getattribute__(self, f.name) for f in fields(self)}
        values["versions"] = dict(values["versions"])
        return (_rebuild, (values,))

    # ------------------------------------------------------------------ views
    @property
    def identified(self) -> bool:
        """False when the identification check failed (see :attr:`unidentified`)."""
        return not self.unidentified

    @property
    def n_dropped(self) -> int:
        """Rows dropped by listwise deletion."""
        return self.n_total - self.n_obs

    @property
    def missing_patterns(self) -> pd.DataFrame | None:
        """The missing-data patterns of a FIML fit (``missing="ml"``), most frequent first:
        ``pattern`` (0/1 code, 1 = observed, variables in the model's order), ``count``,
        ``n_observed`` and one True/False column per variable (lavaan's
        ``lavInspect(fit, "patterns")`` with the counts), plus ``group`` for multi-group
        fits; None for other fits."""
        return self._missing_info()[0]

    @property
    def coverage(self) -> pd.DataFrame | None:
        """The coverage matrix of a FIML fit: per pair of variables, the proportion of the
        rows used that observe both (lavaan's ``lavInspect(fit, "coverage")``); a
        (group, variable) MultiIndex for multi-group fits; None for other fits."""
        return self._missing_info()[1]

    def group_frames(self) -> tuple[pd.DataFrame, ...]:
        """The rows used, one DataFrame per group in :attr:`group_labels` order (the model's
        observed columns, the data's row labels); one frame for a single-group fit."""
        if self.data is None:
            raise ArgumentError("res: this result holds no data (fitted from summary statistics); fit "
                                "with data=...")
        cols = list(self.model.observed)
        data = self.data
        if not self.group_labels:
            return (data[cols],)
        keys = data[self.group].astype(str)
        return tuple(data.loc[keys == label, cols] for label in self.group_labels)

    def _missing_info(self) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
        if self.missing != "ml" or self.data is None or self.view_of:
            return None, None
        from ..data.missing import missing_patterns
        cols = list(self.model.observed)
        parts = list(zip(self.group_labels or (None,), self.group_frames()))
        tables, covs = {}, {}
        for label, frame in parts:
            mp = missing_patterns(frame[cols].to_numpy(float), tuple(cols), frame.index)
            tables[label], covs[label] = mp.table(), mp.coverage_frame()
        if not self.group_labels:
            return tables[None], covs[None]
        table = pd.concat([t.assign(group=label) for label, t in tables.items()], ignore_index=True)
        table = table[["group"] + [c for c in table.columns if c != "group"]]
        return table, pd.concat(covs, names=["group", "variable"])

    @property
    def admissible(self) -> bool:
        """True when no variance is negative, no standardised loading exceeds 1 and
        the latent and residual covariance matrices are positive definite."""
        return not self.inadmissible

    @property
    def n_groups(self) -> int:
        """Number of groups (1 without ``group=``)."""
        return max(len(self.group_labels), 1)

    @property
    def grouped(self) -> bool:
        """True for a multi-group or mean-structure fit, whose table has ``group`` and
        ``~1`` rows beyond the model's covariance structure."""
        return bool(self.group_labels) or self.meanstructure

    @cached_property
    def rows(self) -> tuple[ParRow, ...]:
        """The fitted parameter table (all groups; lavaan's ``parTable``)."""
        if self.ordinal is not None:
            return self.ordinal.rows
        if not self.grouped:
            return self.model.rows
        return group_table(self.model, self.n_groups, group_equal=self.group_equal,
                           group_partial=self.group_partial, meanstructure=self.meanstructure)

    @cached_property
    def structure(self) -> RamStructure:
        """The RAM structure of the model in the data's column order (one group without
        means; for a multi-group or mean-structure fit use a view in :attr:`groups`)."""
        if self.grouped:
            raise NotSupportedError(
                "this analysis needs one group's covariance structure, but the result is a "
                f"{'multi-group' if self.group_labels else 'mean-structure'} fit: pass one group's "
                "view, res.groups[label] (labels: " + ", ".join(map(repr, self.group_labels or ("1",)))
                + "), or loop over res.groups.values()")
        return RamStructure(self.model.rows, self.model.observed, self.model.latent)

    def _refuse_ordinal(self, what: str) -> None:
        if self.ordinal is not None:
            raise NotSupportedError(f"{what} is not available for ordinal fits (ordered=...) yet; "
                                    f"estimates, std_all, R-squared and fit indices are in res.estimates, "
                                    f"res.r2 and res.fit_indices")

    @cached_property
    def groups(self) -> Mapping[str, "FitResult"]:
        """One single-group view per group, keyed by group label (``"1"`` for a
        single-group mean-structure fit): the group's covariance structure with its
        estimates, standard errors (from the joint fit), standardised values, R²,
        sample and implied moments and data. Fit indices are the whole model's. Views
        serve analyses, plots and reports of one group; they cannot be bootstrapped
        (resample the multi-group fit instead)."""
        return MappingProxyType(_group_views(self))

    def parameter_estimates(self, level: float | None = None) -> pd.DataFrame:
        """lavaan's ``parameterEstimates``: :attr:`estimates` with the Wald CI at ``level``
        (default: the fit's :attr:`level`)."""
        level = self.level if level is None else check_level(level)
        table = self.estimates
        return add_inference_columns(table, self._fixed_rows(), level)

    def _fixed_rows(self) -> np.ndarray:
        if self.grouped:
            fx = fixed_x_ids(self.rows, self.model)
            table = [r for r in self.rows if r.op != ":="]
            fixed = np.array([(not r.free) or r.free in fx for r in table], bool)
            return np.concatenate([fixed, np.zeros(len(self.estimates) - len(table), bool)])
        struct = self.structure
        fx = self.model.fixed_x_for(self.estimator)
        fixed = (struct.row_free < 0) | np.array([r.free in fx for r in struct.rows], bool)
        n_defined = sum(r.op == ":=" for r in self.model.rows)
        return np.concatenate([fixed, np.zeros(n_defined, bool)])

    def standardized_solution(self, type: str = "std_all", level: float | None = None) -> pd.DataFrame:
        """lavaan's ``standardizedSolution``: standardised values with delta-method SEs,
        z, p and Wald CIs (columns ``est_std se_std z_std pvalue_std ci_lower_std
        ci_upper_std``).

        ``type`` is ``"std_all"`` (default), ``"std_lv"`` or ``"std_nox"``. As lavaan, the
        moments of fixed.x covariates are treated as given; a standardised value that
        does not depend on any estimated parameter (such as a variance standardised to 1)
        has NaN SE, z and p, like a fixed parameter, and its CI is the value itself.
        """
        if self.ordinal is not None:
            from ..inference.ordinal_standardized import ordinal_standardized_solution
            return ordinal_standardized_solution(self, type, self.level if level is None else check_level(level))
        level = self.level if level is None else check_level(level)
        if self.grouped:
            return grouped_standardized_solution(self, type, level)
        return standardized_solution(self, type, level)

    def implied_moments(self) -> dict[str, pd.DataFrame | pd.Series | None]:
        """Model-implied moments (lavaan's ``fitted``/``lavInspect(fit, "implied")``):
        ``{"cov": implied covariance, "mean": implied means}``. Without a mean structure
        the implied means are the sample means (None when fitted from a covariance
        matrix without ``sample_mean``). Ordinal fits (lavaan's ``implied`` of categorical
        data): the implied correlation matrix, the means of the latent responses and
        continuous variables, and ``"th"``, the implied thresholds."""
        if self.ordinal is not None:
            return {"cov": self.implied_cov, "mean": self.implied_mean, "th": self.ordinal.implied_th}
        mean = self.sample_mean
        return {"cov": self.implied_cov, "mean": None if mean is None else mean.rename("mean")}

    def residuals(self, kind: str = "cor") -> pd.DataFrame:
        """Residual covariance or correlation matrix (sample minus model-implied).

        ``kind``:

        * ``"raw"``: ``S - Sigma`` (lavaan's ``resid(fit, type = "raw")``);
        * ``"cor.bollen"``: ``cor(S) - cor(Sigma)``, the difference of the observed and
          the implied correlation matrices (lavaan's ``type = "cor"``/``"cor.bollen"``,
          ``lavResiduals``' default);
        * ``"cor.bentler"`` (``"cor"``, the default): ``(S - Sigma) / sqrt(s_ii s_jj)``, both
          scaled by the observed standard deviations, the residuals SRMR averages
          (lavaan's ``type = "cor.bentler"``).

        ``S`` is the covariance with denominator N (lavaan's for ML).
        """
        self._refuse_ordinal('residuals()')
        S, Sigma = self.sample_cov.to_numpy(), self.implied_cov.to_numpy()
        if kind == "raw":
            out = S - Sigma
        elif kind in ("cor", "cor.bentler"):
            d = np.sqrt(np.diag(S))
            out = (S - Sigma) / np.outer(d, d)
        elif kind == "cor.bollen":
            d, e = np.sqrt(np.diag(S)), np.sqrt(np.diag(Sigma))
            out = S / np.outer(d, d) - Sigma / np.outer(e, e)
        else:
            raise ArgumentError(f"kind: {kind!r} is not one of {RESIDUAL_KINDS}")
        return pd.DataFrame(out, index=self.sample_cov.index, columns=self.sample_cov.columns)

    def modindices(self, top: int | None = 10, *, sort: bool = True, min_mi: float | None = None,
                   op: str | list[str] | None = None) -> pd.DataFrame:
        """Modification indices and expected parameter changes (lavaan's ``modindices``);
        see :func:`lcsem.analysis.modindices.modification_indices`. ``top=None`` lists every row."""
        self._refuse_ordinal('modindices()')
        from ..analysis.modindices import modification_indices

        return modification_indices(self, top=top, sort=sort, min_mi=min_mi, op=op)

    def score_tests(self, kind: str = "univariate") -> pd.DataFrame:
        """Score tests for releasing equality constraints (lavaan's ``lavTestScore``);
        ``kind`` "univariate", "total" or "cumulative"; see :func:`lcsem.analysis.score_tests.score_tests`."""
        self._refuse_ordinal('score_tests()')
        from ..analysis.score_tests import score_tests

        return score_tests(self, kind)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ display
    def summary(self, format: str = "text", digits: int = 3) -> str:
        """A readable summary: header, fit indices, estimates and R²."""
        if format not in FORMATS:
            raise ArgumentError(f"format: {format!r} is not one of {FORMATS}")
        fi = self.fit_indices
        header = [
            f"lcsem {self.versions.get('lcsem', '')} (semopy {self.versions.get('semopy', '')}) "
            f"| estimator {self.estimator} | converged: {'yes' if self.converged else 'NO'}"
            f" | identified: {'yes' if self.identified else 'NO'}",
            (f"N used {self.n_obs} of {self.n_total} (dropped {self.n_dropped}, missing={self.missing!r})"
             if self.data is not None else f"N = {self.n_obs} (fitted from summary statistics, no raw data)"),
            f"chi-square({int(fi['df'])}) = {fi['chisq']:.3f}, p = {fi['pvalue']:.3f}; "
            f"CFI = {fi['cfi']:.3f}; TLI = {fi['tli']:.3f}; RMSEA = {fi['rmsea']:.3f} "
            f"[{fi['rmsea_ci_lower']:.3f}, {fi['rmsea_ci_upper']:.3f}]; SRMR = {fi['srmr']:.3f}",
        ]
        if "chisq_scaled" in fi.index:
            header.append(_robust_line(self.estimator, fi))
        if self.group_labels:
            sizes = self.data[self.group].astype(str).value_counts() if self.data is not None else {}
            header.append(f"{self.n_groups} groups ({self.group}): " + ", ".join(
                f"{g + 1} = {label} (N {int(sizes.get(label, 0))})" for g, label in enumerate(self.group_labels))
                + (f"; equal across groups: {', '.join(self.group_equal)}" if self.group_equal else "")
                + (f"; released: {', '.join(self.group_partial)}" if self.group_partial else ""))
        if self.view_of:
            header.append(f"view of {self.view_of}: fit indices are the whole model's")
        if not self.identified:
            header.append("NOT IDENTIFIED: no standard errors, z, p-values or confidence intervals; "
                          "parameters involved: " + ", ".join(self.unidentified))
        if self.inadmissible:
            header.append("INADMISSIBLE SOLUTION: " + "; ".join(self.inadmissible))
        counts = {"df", "n_obs", "n_params", "baseline_df"}
        fit_table = pd.DataFrame({"value": [int(v) if k in counts else v
                                            for k, v in self.fit_indices.items()]},
                                 index=self.fit_indices.index, dtype=object)
        fit_table.index.name = "index"
        est = self.estimates.copy()
        est["pvalue"] = [format_p(p) if np.isfinite(p) else "" for p in est["pvalue"]]
        r2 = self.r2.to_frame("r2")
        r2.index.name = "variable"
        parts = [render_table(fit_table, format, digits=digits, caption="Fit indices"),
                 render_table(est, format, digits=digits, index=False, caption="Parameter estimates"),
                 render_table(r2, format, digits=digits, caption="R-squared")]
        if format == "html":
            head = "".join(f"<p>{h}</p>" for h in header)
            return f'<div class="lcsem-summary">{head}{"".join(parts)}</div>'
        sep = "\n\n"
        if format == "markdown":
            return "  \n".join(header) + sep + sep.join(parts)
        return "\n".join(header) + sep + sep.join(parts)

    def _repr_html_(self) -> str:
        return self.summary("html")

    def report(self, format: str = "markdown", boot: Any = None, **options: Any) -> str:
        """Methods paragraph and APA-style tables (see :func:`lcsem.report.report`)."""
        from ..reporting.document import report

        return report(self, boot=boot, format=format, **options)

    def __repr__(self) -> str:
        fi = self.fit_indices
        return (f"<lcsem.FitResult {self.estimator} N={self.n_obs} chisq({int(fi['df'])})={fi['chisq']:.3f} "
                f"CFI={fi['cfi']:.3f} RMSEA={fi['rmsea']:.3f} SRMR={fi['srmr']:.3f}"
                f"{'' if self.admissible else ' INADMISSIBLE'}{'' if self.converged else ' NOT CONVERGED'}"
                f"{'' if self.identified else ' NOT IDENTIFIED'}>")

    def to_dict(self, include_data: bool = True) -> dict[str, Any]:
        """A JSON-serialisable dict (see :mod:`lcsem.results.codec`); ``include_data=False``
        leaves out the respondents' data."""
        return fit_result_payload(self, include_data=include_data)

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> "FitResult":
        """Rebuild a result from :meth:`to_dict`'s output."""
        return cls(**fit_result_fields(payload))


def _rebuild(values: dict[str, Any]) -> FitResult:
    return FitResult(**values)


# ---------------------------------------------------------------------- per-group views
# A view is an ordinary single-group FitResult of one group's covariance structure: its
# model reproduces the group's rows (labels, fixed values, free status), its parameter
# vector and covariance are the joint fit's entries for those rows (so standard errors
# and delta-method SEs account for cross-group equalities), and its moments, R² and data
# are the group's. Every single-group analysis, plot and table then works on a group
# unchanged; ``view_of`` marks it so that it is never refitted or resampled on its own.
#: the correction each robust estimator applies (summary header)
_ROBUST_CORRECTIONS = {
    "MLM": "robust SEs (expected information), Satorra-Bentler scaled chi-square",
    "MLMV": "robust SEs (expected information), scaled-and-shifted chi-square",
    "MLMVS": "robust SEs (expected information), Satterthwaite mean-and-variance adjusted chi-square",
    "MLR": "Huber-White robust SEs (observed information), Yuan-Bentler scaled chi-square",
    "WLSMV": "DWLS estimates, robust SEs, scaled-and-shifted chi-square",
    "ULSMV": "ULS estimates, robust SEs, scaled-and-shifted chi-square",
    "WLSM": "DWLS estimates, robust SEs, Satorra-Bentler scaled chi-square",
    "ULSM": "ULS estimates, robust SEs, Satorra-Bentler scaled chi-square",
}


def _robust_line(estimator: str, fi: pd.Series) -> str:
    """The summary line of a robust fit: its correction and the scaled test and indices."""
    def num(key: str) -> str:
        return f"{fi[key]:.3f}" if key in fi.index and np.isfinite(fi[key]) else "NA"

    df = fi["df_scaled"]
    df_text = str(int(df)) if np.isfinite(df) and float(df).is_integer() else f"{df:.3f}"
    line = (f"{estimator}: {_ROBUST_CORRECTIONS.get(estimator, 'robust correction')}; scaled chi-square({df_text}) = "
            f"{num('chisq_scaled')}, p = {num('pvalue_scaled')}, scaling factor {num('chisq_scaling_factor')}")
    if "cfi_robust" in fi.index:
        line += (f"; robust CFI = {num('cfi_robust')}, TLI = {num('tli_robust')}, RMSEA = {num('rmsea_robust')} "
                 f"[{num('rmsea_ci_lower_robust')}, {num('rmsea_ci_upper_robust')}]")
    return line


def _group_views(res: FitResult) -> dict[str, FitResult]:
    """``{label: view}`` for every group of ``res`` (label ``"1"`` for one group)."""
    labels = res.group_labels or ("1",)
    return {label: _view(res, g + 1, label) for g, label in enumerate(labels)}


def _pick(frame, label: str, multi: bool):
    if frame is None:
        return None
    return frame.xs(label, level=0) if multi else frame


#: rows of an ordinal table that have no place in a group's covariance structure
_NOT_IN_VIEW = ("~1", ":=", "|", "~*~")


def _ordinal_view_rows(res: FitResult, rows: list[ParRow], number: int) -> list[ParRow]:
    """An ordinal fit's group rows with the ordered variables' derived residual variances
    (delta) fixed at their estimates, so that the view is the model of the ``y*``."""
    est = res.estimates
    if "group" in est.columns:
        est = est[est["group"] == number]
    derived = {(l, r): v for l, o, r, v in zip(est["lhs"], est["op"], est["rhs"], est["est"]) if o == "~~"}
    ordered = set(res.ordinal.ordered_names)
    return [replace(r, value=float(derived[(r.lhs, r.rhs)]))
            if (not r.free and r.op == "~~" and r.lhs == r.rhs and r.lhs in ordered) else r for r in rows]


def _view(res: FitResult, number: int, label: str) -> FitResult:
    rows = [r for r in res.rows if r.group == number and r.op not in _NOT_IN_VIEW]
    if res.ordinal is not None:
        rows = _ordinal_view_rows(res, rows, number)
    model = view_model(rows)
    local = model.rows
    k_local = max((r.free for r in local), default=0)
    index = np.zeros(k_local, int)
    for mine, theirs in zip(local, rows):
        if mine.free:
            index[mine.free - 1] = theirs.free - 1
    theta = np.asarray(res.theta)[index]
    vcov = np.asarray(res.vcov)[np.ix_(index, index)]
    multi = bool(res.group_labels)
    table = res.estimates
    if multi:
        table = table[table["group"] == number].drop(columns="group")
    # the joint table's rows of this group (standardised per group already), without means
    table = table[~table["op"].isin(list(_NOT_IN_VIEW))].reset_index(drop=True)
    data = res.data
    if res.ordinal is not None:
        data = None     # the view models the latent responses y*, not the category codes
    elif multi and data is not None:
        data = res.group_frames()[number - 1]
    r2 = _pick(res.r2, label, multi)
    prefix = f"group {label}: "
    return replace(
        res, model=model, estimates=table, r2=r2.rename("r2") if r2 is not None else r2,
        theta=theta, vcov=vcov,
        sample_cov=_pick(res.sample_cov, label, multi), implied_cov=_pick(res.implied_cov, label, multi),
        sample_mean=_pick(res.sample_mean, label, multi), implied_mean=_pick(res.implied_mean, label, multi),
        data=data, n_obs=int(len(data)) if data is not None and multi else res.n_obs,
        n_total=int(len(data)) if data is not None and multi else res.n_total,
        inadmissible=tuple(r[len(prefix):] for r in res.inadmissible if r.startswith(prefix))
        if multi else res.inadmissible,
        group=None, group_labels=(), group_equal=(), group_partial=(), meanstructure=False, ordinal=None,
        view_of=(f"group {label!r} (number {number}) of a {res.n_groups}-group fit" if multi
                 else "the covariance structure of a mean-structure fit")
        + (" (ordinal: the latent responses y*, without data)" if res.ordinal is not None else ""))
