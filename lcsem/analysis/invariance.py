"""Measurement invariance across groups in one call (semTools' ``measEq`` sequence).

:func:`invariance` fits one model to several groups at increasing levels of equality
(lavaan's ``group.equal``), tests each level against the one before it with lavaan's
``lavTestLRT`` (:func:`lcsem.compare`) and shows the changes in CFI, RMSEA and SRMR with
Chen's (2007) guidelines as flags. The latent mean differences come from the scalar fit.

Levels, each adding equality constraints to the level before it:

=================  ===========================================================
``configural``     same pattern of loadings, nothing held equal
``metric``         + loadings (``"loadings"``)
``scalar``         + intercepts of the indicators (``"intercepts"``); latent
                   means become free in groups 2..G (lavaan)
``strict``         + residual variances of the indicators (``"residuals"``)
``lv.variances``   + variances of the latent variables (residual variances for
                   endogenous ones)
``lv.covariances`` + covariances of the latent variables
``means``          + latent means (intercepts of endogenous latent variables)
=================  ===========================================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .._validation import describe_value
from ..display.escape import html_escape, latex_escape
from ..display.format import format_number, format_p, format_typographic
from ..display.render import FORMATS, SummaryRendering, render_table
from ..engine import RamStructure, implied_all
from ..estimation.estimate import as_model, fit
from ..data.ordinal import ordinal_levels
from ..exceptions import ArgumentError, ModelSpecificationError, NotSupportedError
from ..inference.grouped import fixed_x_ids
from ..inference.standardized import delta_table
from .._threads import one_blas_thread
from .._warnings import quiet, warn
from ..resampling.api import bootstrap as run_bootstrap
from ..resampling.intervals import confidence_interval
from ..resampling.result import BootstrapResult
from ..results.fit_result import FitResult
from ..spec.groups import GROUP_EQUAL, parse_partial, shared_labels
from ..spec.model import Model
from .compare import ComparisonResult, compare
from .ordinal_invariance import ORDINAL_LEVEL_CLASSES, ORDINAL_LEVELS, wu_estabrook_models
from .validity import cfa_model

__all__ = ["invariance", "InvarianceResult", "LEVELS", "CHEN_CFI", "CHEN_RMSEA", "CHEN_SRMR"]

#: The levels :func:`invariance` knows, in the order they are nested.
LEVELS = ("configural", "metric", "scalar", "strict", "lv.variances", "lv.covariances", "means")
#: lavaan ``group.equal`` classes each level holds equal (added to the level before it).
LEVEL_CLASSES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "configural": (),
    "metric": ("loadings",),
    "scalar": ("loadings", "intercepts"),
    "strict": ("loadings", "intercepts", "residuals"),
    "lv.variances": ("lv.variances",),
    "lv.covariances": ("lv.covariances",),
    "means": ("means",),
})
LEVEL_NAMES: Mapping[str, str] = MappingProxyType({
    "configural": "Configural", "thresholds": "Thresholds", "metric": "Metric", "scalar": "Scalar",
    "strict": "Strict",
    "lv.variances": "Latent variances", "lv.covariances": "Latent covariances",
    "means": "Latent means",
})
#: Chen (2007): a drop in CFI of at least .010 ...
CHEN_CFI = -0.010
#: ... with a rise in RMSEA of at least .015 ...
CHEN_RMSEA = 0.015
#: ... or in SRMR of at least .030 (loadings) or .015 (intercepts, residuals and beyond).
CHEN_SRMR: Mapping[str, float] = MappingProxyType({"metric": 0.030, "default": 0.015})
#: Rounding slack of the flags (a change of exactly -.010 is flagged).
_FLAG_TOL = 1e-12

INDEX_COLUMNS = ["chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea_ci_lower", "rmsea_ci_upper",
                 "srmr", "aic", "bic"]
#: Added for robust estimators (MLM, MLR, ...): the scaled test and the robust indices
#: (lavaan's ``.scaled``/``.robust`` measures; ``*_scaled`` where lavaan gives no robust one).
ROBUST_COLUMNS = ["chisq_scaled", "df_scaled", "pvalue_scaled", "chisq_scaling_factor", "cfi_robust",
                  "tli_robust", "rmsea_robust", "rmsea_ci_lower_robust", "rmsea_ci_upper_robust"]
DIFF_COLUMNS = ["chisq_diff", "df_diff", "pvalue_diff", "rmsea_d", "cfi_diff", "rmsea_diff", "srmr_diff"]
FLAG_COLUMNS = ["flag_cfi", "flag_rmsea", "flag_srmr"]
_FORBIDDEN_OPTIONS = ("group", "group_equal", "group_partial", "data", "sample_cov", "sample_nobs",
                      "sample_mean", "sample_sd", "sample_names")
FLAG_NOTE = ("Flags mark changes beyond Chen's (2007) guidelines (ΔCFI ≤ −.010, ΔRMSEA ≥ .015, "
             "ΔSRMR ≥ .030 for metric and ≥ .015 for the later levels); they are rules of thumb for "
             "N > 300 with equal groups, not tests, and not verdicts on invariance.")
_DAGGER = "†"


@dataclass(frozen=True, eq=False)
class InvarianceResult(SummaryRendering):
    """Outcome of :func:`invariance`.

    Attributes
    ----------
    table
        One row per level (index ``level``): ``chisq df pvalue cfi tli rmsea rmsea_ci_lower
        rmsea_ci_upper srmr aic bic`` of the level's fit, then against the level above it
        ``chisq_diff df_diff pvalue_diff`` (lavaan's ``lavTestLRT``), ``rmsea_d`` (lavTestLRT's
        RMSEA of the difference), ``cfi_diff rmsea_diff srmr_diff`` (this level minus the one
        above), and Chen's (2007) flags ``flag_cfi`` (ΔCFI ≤ −.010), ``flag_rmsea`` (ΔRMSEA ≥
        .015), ``flag_srmr`` (ΔSRMR ≥ .030 for metric, ≥ .015 otherwise). The first row has
        NaN differences and missing (``<NA>``) flags. Flags are guidelines, not verdicts.
        With a robust estimator (``estimator="MLM"``, ``"MLR"``, ...) the table also has
        ``chisq_scaled df_scaled pvalue_scaled chisq_scaling_factor cfi_robust tli_robust
        rmsea_robust rmsea_ci_lower_robust rmsea_ci_upper_robust`` (a ``*_scaled`` index
        where lavaan gives no robust one), ``chisq_diff`` is the scaled difference test
        (Satorra–Bentler 2001, as lavTestLRT) and ``cfi_diff rmsea_diff`` and their flags
        use the robust indices; the summary shows the scaled χ² and the robust indices.
    fits
        Level name -> its :class:`~lcsem.FitResult`.
    latent_means
        Latent mean differences of groups 2..G from group 1 (whose means are 0): one row
        per latent variable and group with ``lhs group est se z pvalue ci_lower ci_upper``
        from :attr:`latent_means_level`'s fit and the standardised difference ``est_std``
        (the difference divided by the model-implied standard deviation of the latent
        variable in group 1, the reference group) with delta-method ``se_std z_std
        pvalue_std ci_lower_std ci_upper_std``. For an endogenous latent variable the
        difference is in its intercept (lavaan's ``~1`` row). Empty when no level has free
        latent means. With ``n_boot=`` it also has ``boot_se``, ``boot_ci_lower`` and
        ``boot_ci_upper``: the bootstrap SD and percentile interval of each difference,
        from the columns ``"<latent>~1@<group label>"`` of :attr:`bootstrap`.
    latent_means_level
        The level the latent means come from: ``"scalar"`` when fitted, else the most
        constrained fitted level with equal intercepts and free latent means; ``None`` when
        there is none.
    comparison
        :func:`lcsem.compare`'s result for the levels (``None`` for a single level).
    levels, group, group_labels, group_equal, group_partial
        The levels fitted; the group column and its values (group 1 first); the
        ``group_equal`` classes of each level; the rows released at each level.
    notes
        What the table shows and how.
    bootstrap
        With ``n_boot=``: the :class:`~lcsem.BootstrapResult` of
        :attr:`latent_means_level`'s fit (``None`` otherwise).
    """

    table: pd.DataFrame
    fits: Mapping[str, FitResult] = field(repr=False)
    latent_means: pd.DataFrame = field(repr=False)
    latent_means_level: str | None
    comparison: ComparisonResult | None = field(repr=False)
    levels: tuple[str, ...]
    group: str
    group_labels: tuple[str, ...]
    group_equal: Mapping[str, tuple[str, ...]] = field(repr=False)
    group_partial: Mapping[str, tuple[str, ...]] = field(repr=False)
    notes: tuple[str, ...] = ()
    bootstrap: BootstrapResult | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "table", self.table.copy(deep=True))
        object.__setattr__(self, "latent_means", self.latent_means.copy(deep=True))
        object.__setattr__(self, "fits", MappingProxyType(dict(self.fits)))
        object.__setattr__(self, "group_equal", MappingProxyType(dict(self.group_equal)))
        object.__setattr__(self, "group_partial", MappingProxyType(dict(self.group_partial)))

    def __getattribute__(self, name: str) -> Any:
        value = object.__getattribute__(self, name)
        return value.copy(deep=True) if name in ("table", "latent_means") else value

    # ---- display ---------------------------------------------------------------------
    def _level_label(self, level: str) -> str:
        label = LEVEL_NAMES[level]
        partial = object.__getattribute__(self, "group_partial")[level]
        return f"{label} (partial)" if partial else label

    def _display_table(self, digits: int) -> pd.DataFrame:
        table = object.__getattribute__(self, "table")

        def bounded(v: float) -> str:
            return format_typographic(float(v), digits, leading_zero=False)

        def flagged(text: str, flag: Any) -> str:
            return text + _DAGGER if flag is True or (flag is not pd.NA and bool(flag)) else text

        shown = _shown_columns(table)
        rows = []
        for level, r in table.iterrows():
            r = r.rename(shown)
            first = not np.isfinite(r["df_diff"])
            ci = (f"[{bounded(r['rmsea_ci_lower'])}, {bounded(r['rmsea_ci_upper'])}]"
                  if np.isfinite(r["rmsea_ci_lower"]) and np.isfinite(r["rmsea_ci_upper"]) else "–")
            rows.append({
                "Model": self._level_label(str(level)),
                "χ²": format_number(r["chisq"], 2),
                "df": format_number(r["df"], 0) if float(r["df"]).is_integer() else format_number(r["df"], 2),
                "p": format_p(r["pvalue"], digits),
                "CFI": bounded(r["cfi"]),
                "TLI": format_typographic(float(r["tli"]), digits),
                "RMSEA [90% CI]": f"{bounded(r['rmsea'])} {ci}",
                "SRMR": bounded(r["srmr"]),
                "Δχ²": "" if first else format_number(r["chisq_diff"], 2),
                "Δdf": "" if first else str(int(r["df_diff"])),
                "p(Δχ²)": "" if first else format_p(r["pvalue_diff"], digits),
                "ΔCFI": "" if first else flagged(bounded(r["cfi_diff"]), r["flag_cfi"]),
                "ΔRMSEA": "" if first else flagged(bounded(r["rmsea_diff"]), r["flag_rmsea"]),
                "ΔSRMR": "" if first else flagged(bounded(r["srmr_diff"]), r["flag_srmr"]),
            })
        return pd.DataFrame(rows).set_index("Model")

    def _display_means(self, digits: int) -> pd.DataFrame:
        means = object.__getattribute__(self, "latent_means")
        rows = []
        for _, r in means.iterrows():
            ci = (f"[{format_typographic(r['ci_lower'], digits)}, {format_typographic(r['ci_upper'], digits)}]"
                  if np.isfinite(r["ci_lower"]) and np.isfinite(r["ci_upper"]) else "–")
            rows.append({"Latent variable": str(r["lhs"]), "Group": str(r["group"]),
                         "Difference": format_typographic(r["est"], digits),
                         "SE": format_typographic(r["se"], digits),
                         "z": format_typographic(r["z"], 2), "p": format_p(r["pvalue"], digits),
                         "95% CI": ci, **self._display_boot_ci(r, digits),
                         "Standardised": format_typographic(r["est_std"], digits)})
        return pd.DataFrame(rows).set_index("Latent variable")

    def _display_boot_ci(self, row: pd.Series, digits: int) -> dict[str, str]:
        if object.__getattribute__(self, "bootstrap") is None:
            return {}
        lo, hi = row["boot_ci_lower"], row["boot_ci_upper"]
        shown = (f"[{format_typographic(lo, digits)}, {format_typographic(hi, digits)}]"
                 if np.isfinite(lo) and np.isfinite(hi) else "–")
        return {"Bootstrap 95% CI": shown}

    def _notes(self) -> list[str]:
        return list(object.__getattribute__(self, "notes"))

    def summary(self, format: str = "text", digits: int = 3) -> str:
        """The APA-style invariance table (and the latent mean differences) with notes, in
        ``format``: ``"text"``, ``"markdown"``, ``"latex"`` or ``"html"``.

        Changes beyond Chen's (2007) guidelines are marked with a dagger (†): guidelines,
        not verdicts.
        """
        if format not in FORMATS:
            raise ArgumentError(f"format: {format!r} is not one of {FORMATS}; use e.g. format='markdown'")
        if isinstance(digits, bool) or not isinstance(digits, (int, np.integer)) or not 0 <= digits <= 10:
            raise ArgumentError(f"digits: expected a whole number from 0 to 10, got {describe_value(digits)}")
        caption = f"Measurement invariance across {self.group} ({', '.join(self.group_labels)})"
        parts = [_latex_symbols(render_table(self._display_table(digits), format, caption=caption))
                 if format == "latex" else render_table(self._display_table(digits), format, caption=caption)]
        means_level = self.latent_means_level
        if means_level is not None and len(object.__getattribute__(self, "latent_means")):
            means_caption = (f"Latent mean differences from {self.group_labels[0]} "
                             f"({LEVEL_NAMES[means_level].lower()} model)")
            shown = render_table(self._display_means(digits), format, caption=means_caption)
            parts.append(_latex_symbols(shown) if format == "latex" else shown)
        notes = [f"Note. {n}" for n in self._notes()]
        if format == "html":
            body = "".join(f"<p>{html_escape(n)}</p>" for n in notes)
            return f'<div class="lcsem-invariance">{"".join(parts)}{body}</div>'
        if format == "latex":
            return "\n\n".join([*parts, *(_latex_symbols(latex_escape(n)) for n in notes)])
        return "\n\n".join([*parts, *notes])

    def __repr__(self) -> str:
        table = object.__getattribute__(self, "table").rename(columns=_shown_columns(
            object.__getattribute__(self, "table")))
        last = table.index[-1]
        return (f"<lcsem.InvarianceResult {self.group} ({len(self.group_labels)} groups); levels "
                f"{', '.join(self.levels)}; last: CFI {table.loc[last, 'cfi']:.3f}, "
                f"RMSEA {table.loc[last, 'rmsea']:.3f}>")


def _latex_symbols(text: str) -> str:
    """Math symbols of the invariance table for LaTeX (the cells keep lcsem's en dash for NaN)."""
    for plain, tex in (("χ²", r"$\chi^2$"), ("Δ", r"$\Delta$"), ("−", "$-$"), (_DAGGER, r"$^\dagger$"),
                       ("≤", r"$\leq$"), ("≥", r"$\geq$")):
        text = text.replace(plain, tex)
    return text


# ---- argument checks ---------------------------------------------------------------------
def _check_levels(levels: object) -> tuple[str, ...]:
    if isinstance(levels, str):
        levels = (levels,)
    try:
        given = tuple(levels)  # type: ignore[arg-type]
    except TypeError:
        raise ArgumentError(f"levels: expected a sequence of level names, got {describe_value(levels)}; "
                            f"use e.g. levels=('configural', 'metric', 'scalar')") from None
    if not given:
        raise ArgumentError(f"levels: no level given; use any of {', '.join(map(repr, LEVELS))}, in that order")
    for level in given:
        if level not in LEVELS:
            raise ArgumentError(f"levels: {describe_value(level)} is not a level lcsem knows; the levels are "
                                f"{', '.join(map(repr, LEVELS))} (in that order)")
    positions = [LEVELS.index(level) for level in given]
    for (a, pa), (b, pb) in zip(zip(given, positions), zip(given[1:], positions[1:])):
        if pb <= pa:
            what = f"{a!r} is listed twice" if a == b else f"{a!r} is listed before {b!r} but comes after it"
            raise ArgumentError(f"levels: {what}; each level adds equality constraints to the "
                                f"one before it, so list the levels once each in the order "
                                f"{', '.join(map(repr, LEVELS))}, e.g. levels={tuple(sorted(set(given), key=LEVELS.index))!r}")
    if "means" in given and not {"scalar", "strict"} & set(given[:given.index("means")]):
        raise ArgumentError("levels: 'means' holds latent means equal, but latent means are free (and "
                            "comparable) only once intercepts are equal: put 'scalar' before 'means', e.g. "
                            "levels=('configural', 'metric', 'scalar', 'means')")
    return given


def _level_classes(levels: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """``group_equal`` of each level: its own classes plus those of the level before it."""
    out: dict[str, tuple[str, ...]] = {}
    held: set[str] = set()
    for level in levels:
        held |= set(LEVEL_CLASSES[level])
        out[level] = tuple(c for c in GROUP_EQUAL if c in held)
    return out


def _check_partial(group_partial: object) -> tuple[str, ...]:
    if isinstance(group_partial, str):
        group_partial = (group_partial,)
    try:
        items = tuple(group_partial)  # type: ignore[arg-type]
    except TypeError:
        raise ArgumentError(f"group_partial: expected a list of parameters such as ['x3 ~ 1'], got "
                            f"{describe_value(group_partial)}") from None
    for item in items:
        if not isinstance(item, str):
            raise ArgumentError(f"group_partial: expected strings such as 'x3 ~ 1' or 'visual =~ x2', got "
                                f"{describe_value(item)} ({type(item).__name__})")
    return items


_OPS = ("=~", "~~", "~1", "~")


def _partial_class(text: str, latent: set[str]) -> str:
    """The ``group_equal`` class a ``group_partial`` row releases (lavaan's classes)."""
    key = re.sub(r"\s+", "", text)
    for op in _OPS:
        lhs, sep, rhs = key.partition(op)
        if not sep or not lhs or (op == "~1" and rhs) or (op != "~1" and not rhs):
            continue
        if op == "=~":
            return "loadings"
        if op == "~":
            return "regressions"
        if op == "~1":
            return "means" if lhs in latent else "intercepts"
        if lhs in latent:
            return "lv.variances" if lhs == rhs else "lv.covariances"
        return "residuals" if lhs == rhs else "residual.covariances"
    raise ArgumentError(f"group_partial: {text!r} is not a parameter as lavaan writes it; name one row, "
                        f"e.g. 'visual =~ x2', 'x3 ~ 1' or 'x1 ~~ x1'")


def _check_options(fit_options: dict[str, Any]) -> None:
    for name in _FORBIDDEN_OPTIONS:
        if name in fit_options:
            fix = {"group_equal": "use levels= (each level sets group_equal)",
                   "group_partial": "pass group_partial= to invariance itself",
                   "group": "pass group= to invariance itself"}.get(
                       name, "invariance fits raw data: pass the data frame as data")
            raise ArgumentError(f"{name}: invariance sets it for every level and does not take it as a fit "
                                f"option: {fix}")


# ---- the analysis ------------------------------------------------------------------------
def invariance(model: Model | str, data: pd.DataFrame, group: str, *,
               levels: Sequence[str] | None = None,
               group_partial: Sequence[str] | str = (), n_boot: int | None = None, seed: Any = None,
               **fit_options: Any) -> InvarianceResult:
    """Test measurement invariance across groups: a sequence of multi-group fits.

    Each level is fitted with lavaan's ``group.equal`` and tested against the level before
    it (lavaan's ``lavTestLRT``, via :func:`lcsem.compare`), as semTools users do with
    ``measEq.syntax`` or a series of ``cfa(..., group.equal = ...)`` calls.

    Parameters
    ----------
    model
        The model (text or :class:`~lcsem.Model`), written as for one group.
    data
        Raw data with the model's variables and the ``group`` column.
    group
        The column that holds the groups (group 1 is the value seen first, as lavaan).
    levels
        The levels to fit, in this order (any may be left out; default: configural, metric,
        scalar, strict; with ordered items: configural, thresholds, metric, scalar):
        ``"configural"`` (nothing
        equal), ``"metric"`` (+ loadings), ``"scalar"`` (+ intercepts), ``"strict"``
        (+ residual variances), ``"lv.variances"`` (+ latent (residual) variances),
        ``"lv.covariances"`` (+ latent covariances), ``"means"`` (+ latent means; needs
        ``"scalar"`` or ``"strict"`` before it). Each level holds equal what the level before it does
        plus its own class; ``"scalar"`` and ``"strict"`` always include the measurement
        classes below them (scalar = loadings + intercepts).
    group_partial
        Rows released from equality (partial invariance), as lavaan writes them:
        ``"x3 ~ 1"``, ``"visual =~ x2"``. A row is released at every level that holds its
        class equal (an intercept from ``"scalar"`` on) and nowhere else.
    **fit_options
        Passed to :func:`lcsem.fit` for every level (``estimator``: ML, GLS, ULS or robust
        ML, with the difference tests of :func:`lcsem.compare`; ``group``, ``group_equal``,
        ``group_partial`` and summary-statistic input are not fit options here).
    n_boot
        Bootstrap replicates for the latent mean differences (default ``None``: none).
        The fit the latent means come from (:attr:`InvarianceResult.latent_means_level`)
        is bootstrapped with :func:`lcsem.bootstrap` (case resampling within groups), and
        ``latent_means`` gains ``boot_se``, ``boot_ci_lower`` and ``boot_ci_upper``
        (percentile intervals at the fit's ``level``); the bootstrap is kept in
        ``.bootstrap`` for other intervals (``.bootstrap.ci(method="bca", ...)``). Only
        that one level is bootstrapped: the other levels' fits have no free latent means.
    seed
        Seed of that bootstrap (``n_boot`` with the same seed repeats it bit for bit).

    Returns
    -------
    InvarianceResult
        ``.table`` (fit and Δ statistics with Chen's flags), ``.fits``, ``.latent_means``,
        ``.comparison``; ``summary()``, ``to_markdown()``, ``to_latex()``, ``to_html()``.

    Raises
    ------
    ArgumentError
        An unknown level, levels out of order or repeated, ``'means'`` without
        ``'scalar'`` or ``'strict'`` before it, ``data`` that is not a DataFrame, a ``group_partial`` row that is not in the model or whose class no
        level holds equal, a fit option that invariance sets itself, a bad ``group``.
    ModelSpecificationError
        A level that adds no constraint to the level before it for this model (e.g.
        ``"lv.covariances"`` with one latent variable).

    Notes
    -----
    As in lavaan, the configural and metric models have latent means fixed at 0 in every
    group; with equal intercepts the latent means of groups 2..G are free, so the scalar
    model estimates the latent mean differences from group 1.

    The flags follow Chen (2007): ΔCFI ≤ −.010 together with ΔRMSEA ≥ .015 or ΔSRMR ≥ .030
    (loadings) / .015 (intercepts, residuals) suggest non-invariance for samples above
    300 with equal groups. They are rules of thumb derived by simulation under particular
    conditions, shown as flags, not verdicts; the χ² difference test is the formal test.

    References
    ----------
    Chen, F. F. (2007). Sensitivity of goodness of fit indexes to lack of measurement
    invariance. *Structural Equation Modeling, 14*\\ (3), 464–504.

    Examples
    --------
    >>> inv = lcsem.invariance(lcsem.lc_model(), lcsem.datasets.load_lc_survey(),  # doctest: +SKIP
    ...                        group="sector")
    >>> inv.table[["cfi", "cfi_diff", "flag_cfi"]]                                   # doctest: +SKIP
    """
    if fit_options.get("ordered") not in (None, False):
        return _ordinal_invariance(model, data, group, levels, group_partial, n_boot, fit_options)
    chosen = _check_levels(("configural", "metric", "scalar", "strict") if levels is None else levels)
    partial = _check_partial(group_partial)
    if n_boot is not None and (isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer))
                               or n_boot < 2):
        raise ArgumentError(f"n_boot: expected a whole number of bootstrap replicates of at least 2, got "
                            f"{describe_value(n_boot)}; use e.g. n_boot=1000 (or leave it out for none)")
    if n_boot is None and seed is not None:
        raise ArgumentError("seed: it seeds the bootstrap of the latent means, but n_boot is not given; "
                            "pass n_boot= (e.g. 1000) or leave seed out")
    _check_options(fit_options)
    if group is None or not isinstance(group, str) or not group:
        raise ArgumentError(f"group: invariance compares groups and needs the name of the column that "
                            f"holds them, got {describe_value(group)}; e.g. group='sector'")
    if not isinstance(data, pd.DataFrame):
        raise ArgumentError(f"data: invariance fits each level to the raw data and needs a pandas DataFrame "
                            f"with the model's variables and the {group!r} column, got "
                            f"{type(data).__name__}; read files with lcsem.read_data(path)")
    model = as_model(model)
    latent = set(model.latent)
    classes = {text: _partial_class(text, latent) for text in partial}
    equal = _level_classes(chosen)
    held = set().union(*equal.values())
    unused = [t for t, c in classes.items() if c not in held]
    if unused:
        raise ArgumentError(
            f"group_partial: {unused!r} release(s) {sorted({classes[t] for t in unused})} but no level of "
            f"{chosen!r} holds that class equal, so nothing would be released; drop them or add the level "
            f"that constrains them (e.g. 'scalar' for intercepts)")
    released = {level: tuple(t for t in partial if classes[t] in equal[level]) for level in chosen}

    fits: dict[str, FitResult] = {}
    # small matrices: a second BLAS thread only contends with other processes (4x slower on
    # a loaded 2-core machine), as in the bootstrap's workers
    caught: dict[str, list] = {}
    with one_blas_thread():
        for i, level in enumerate(chosen):
            with quiet() as caught[level]:
                fits[level] = fit(model, data, group=group, group_equal=equal[level],
                                  group_partial=released[level], **fit_options)
            if i == 0 and partial:      # every row named exists (the later fits check their own)
                parse_partial(partial, [r for r in fits[level].rows if r.group == 1])
    # a warning every level gives (a label shared by the groups) once; the others named by level
    everywhere = set.intersection(*(set(items) for items in caught.values()))
    for item in dict.fromkeys(x for items in caught.values() for x in items if x in everywhere):
        warn(item.message, item.category, stacklevel=2)
    for level, items in caught.items():
        for item in dict.fromkeys(x for x in items if x not in everywhere):
            warn(f"{level} level: {item.message}", item.category, stacklevel=2)
    return _result(fits, chosen, equal, released, group, n_boot, seed)


def _ordinal_invariance(model: Model | str, data: pd.DataFrame, group: str, levels: Sequence[str] | None,
                        group_partial: Sequence[str] | str, n_boot: int | None,
                        fit_options: dict[str, Any]) -> InvarianceResult:
    """:func:`invariance` for ordered indicators: the Wu-Estabrook sequence."""
    _check_options(fit_options)
    if group_partial:
        raise NotSupportedError("group_partial: partial invariance of ordered items is not supported yet; "
                                "write the released parameters' c() labels in the model and fit it with "
                                "lcsem.fit(..., group=, ordered=)")
    if n_boot is not None:
        raise NotSupportedError("n_boot: the bootstrap of latent mean differences is not available for ordered "
                                "items through invariance(); bootstrap the scalar fit, "
                                "lcsem.bootstrap(inv.fits['scalar'], 1000)")
    if fit_options.get("parameterization", "delta") != "delta":
        raise NotSupportedError(f"parameterization: {fit_options['parameterization']!r}: the ordinal invariance "
                                f"sequence uses the delta parameterisation (Wu & Estabrook's, as "
                                f"measEq.syntax); leave parameterization out")
    chosen = tuple(ORDINAL_LEVELS if levels is None else ((levels,) if isinstance(levels, str) else levels))
    unknown = [lv for lv in chosen if lv not in ORDINAL_LEVELS]
    if unknown or not chosen or list(chosen) != sorted(set(chosen), key=ORDINAL_LEVELS.index):
        raise ArgumentError(f"levels: {describe_value(levels)}; with ordered items the levels are "
                            f"{', '.join(map(repr, ORDINAL_LEVELS))}, each once and in that order")
    if group is None or not isinstance(group, str) or not group:
        raise ArgumentError(f"group: invariance compares groups and needs the name of the column that "
                            f"holds them, got {describe_value(group)}; e.g. group='sector'")
    if not isinstance(data, pd.DataFrame):
        raise ArgumentError(f"data: invariance fits each level to the raw data and needs a pandas DataFrame, "
                            f"got {type(data).__name__}")
    if group not in data.columns:
        raise ArgumentError(f"group: {group!r} is not a column of data; use one of {list(data.columns)[:8]}")
    model = as_model(model)
    structural = any(r.op == "~" for r in model.rows)
    if structural:      # measEq.syntax tests the measurement model: the CFA of the model's constructs
        model = cfa_model(model)
    ordered = fit_options["ordered"]
    items = list(model.observed) if ordered is True else list(ordered)
    n_thresholds = {x: len(values) - 1 for x, values in ordinal_levels(data, items).items()}
    n_groups = int(data[group].dropna().nunique())
    texts = wu_estabrook_models(model, n_thresholds, n_groups, chosen)
    options = {k: v for k, v in fit_options.items() if k != "ordered"}
    fits: dict[str, FitResult] = {}
    with one_blas_thread():
        for level in chosen:
            fits[level] = fit(texts[level], data, group=group, ordered=items, **options)
    equal = {level: tuple(ORDINAL_LEVEL_CLASSES[level]) for level in chosen}
    result = _result(fits, chosen, equal, {level: () for level in chosen}, group)
    if structural:
        note = ("The model's structural paths were replaced by free covariances among its constructs: "
                "invariance is tested on the measurement model (its CFA), as with semTools' measEq.syntax.")
        result = replace(result, notes=(*result.notes, note))
    return result


def _result(fits: dict[str, FitResult], levels: tuple[str, ...], equal: dict[str, tuple[str, ...]],
            released: dict[str, tuple[str, ...]], group: str, n_boot: int | None = None,
            seed: Any = None) -> InvarianceResult:
    first = fits[levels[0]]
    labels = tuple(first.group_labels)
    if len(labels) < 2:     # fit refuses one group; kept as a guard for the table below
        raise ArgumentError(f"group: the column {group!r} has one group; invariance compares two or more")
    df = [float(fits[lv].fit_indices["df"]) for lv in levels]
    for (a, da), (b, db) in zip(zip(levels, df), zip(levels[1:], df[1:])):
        if db <= da:
            raise ModelSpecificationError(
                f"levels: {b!r} adds no equality constraint to {a!r} for this model (df {int(db)} vs "
                f"{int(da)}; e.g. one latent variable has no covariances to hold equal, or group_partial "
                f"releases every row of the class): leave {b!r} out of levels")
    comparison = compare(*[fits[lv] for lv in levels], names=list(levels)) if len(levels) > 1 else None
    table = _table(fits, levels, comparison)
    means_level = _means_level(levels, equal)
    means = _latent_means(fits[means_level]) if means_level is not None else _empty_means()
    notes = _notes(fits, levels, equal, released, means_level, group)
    boot = None
    if n_boot is not None:
        if means_level is None or means.empty:
            raise ArgumentError(f"n_boot: the bootstrap is of the latent mean differences, but none of the levels "
                                f"{list(levels)} has free latent means; add 'scalar' to levels or leave n_boot out")
        boot = run_bootstrap(fits[means_level], int(n_boot), seed=seed, progress=False)
        means = _add_mean_bootstrap(means, boot)
        notes.append(f"Bootstrap intervals of the latent mean differences: {boot.n_resamples - boot.n_failed} "
                     f"usable replicates of the {LEVEL_NAMES[means_level].lower()} model (case resampling within "
                     f"groups; {boot.n_failed} failed), {fits[means_level].level:.0%} percentile.")
    return InvarianceResult(table, fits, means, means_level, comparison, levels, group, labels,
                            equal, released, tuple(notes), boot)


def _add_mean_bootstrap(means: pd.DataFrame, boot: BootstrapResult) -> pd.DataFrame:
    """``boot_se``, ``boot_ci_lower``, ``boot_ci_upper`` of every latent mean difference from
    its bootstrap column ``"<latent>~1@<group label>"`` (percentile, the fit's level;
    failed replicates dropped, inadmissible ones kept as lavaan)."""
    draws = boot.distribution[(boot.status != "failed").to_numpy()]
    level = float(boot.fit.level)
    se, lo, hi = [], [], []
    for _, row in means.iterrows():
        d = draws[boot.column(str(row["lhs"]), "~1", "", group=str(row["group"]))].to_numpy(float)
        d = d[np.isfinite(d)]
        se.append(float(np.std(d, ddof=1)) if d.size > 1 else np.nan)
        a, b = confidence_interval(d, float(row["est"]), method="percentile", level=level)
        lo.append(a)
        hi.append(b)
    out = means.copy()
    out["boot_se"], out["boot_ci_lower"], out["boot_ci_upper"] = se, lo, hi
    return out


def _robust(fits: dict[str, FitResult]) -> bool:
    """Do the fits have a scaled test statistic (a robust estimator)?"""
    return all(np.isfinite(float(f.fit_indices.get("chisq_scaled", np.nan))) for f in fits.values())


def _robust_value(fi: pd.Series, column: str) -> float:
    """A robust index, or its ``*_scaled`` version where lavaan gives no robust one."""
    value = float(fi.get(column, np.nan))
    if not np.isfinite(value) and column.endswith("_robust"):
        value = float(fi.get(column[: -len("_robust")] + "_scaled", np.nan))
    return value


def _shown_columns(table: pd.DataFrame) -> dict[str, str]:
    """Table column -> the display name it fills (the robust ones when there are any)."""
    if "chisq_scaled" not in table.columns:
        return {}
    return {"chisq": "chisq_ml", "df": "df_ml", "pvalue": "pvalue_ml", "cfi": "cfi_ml", "tli": "tli_ml",
            "rmsea": "rmsea_ml", "rmsea_ci_lower": "rmsea_ci_lower_ml", "rmsea_ci_upper": "rmsea_ci_upper_ml",
            "chisq_scaled": "chisq", "df_scaled": "df", "pvalue_scaled": "pvalue", "cfi_robust": "cfi",
            "tli_robust": "tli", "rmsea_robust": "rmsea", "rmsea_ci_lower_robust": "rmsea_ci_lower",
            "rmsea_ci_upper_robust": "rmsea_ci_upper"}


def _table(fits: dict[str, FitResult], levels: tuple[str, ...], comparison: ComparisonResult | None
           ) -> pd.DataFrame:
    robust = _robust({lv: fits[lv] for lv in levels})
    rows = []
    for level in levels:
        fi = fits[level].fit_indices
        row = {c: float(fi.get(c, np.nan)) for c in INDEX_COLUMNS}      # no AIC/BIC for GLS, ULS, WLSMV
        if robust:
            row.update({c: _robust_value(fi, c) for c in ROBUST_COLUMNS})
        rows.append(row)
    table = pd.DataFrame(rows, index=pd.Index(list(levels), name="level"))
    table["df"] = table["df"].astype(int)
    if comparison is not None:
        lrt = comparison.table.loc[list(levels)]
        table["chisq_diff"] = lrt["chisq_diff"].to_numpy()
        table["df_diff"] = lrt["df_diff"].to_numpy()
        table["pvalue_diff"] = lrt["pvalue"].to_numpy()
        table["rmsea_d"] = lrt["rmsea"].to_numpy()
    else:
        for c in ("chisq_diff", "df_diff", "pvalue_diff", "rmsea_d"):
            table[c] = np.nan
    for index in ("cfi", "rmsea", "srmr"):
        source = f"{index}_robust" if robust and index != "srmr" else index
        table[f"{index}_diff"] = table[source].diff()
    srmr_limit = np.array([CHEN_SRMR.get(level, CHEN_SRMR["default"]) for level in levels])
    first = np.arange(len(levels)) == 0
    flags = {
        "flag_cfi": table["cfi_diff"].to_numpy() <= CHEN_CFI + _FLAG_TOL,
        "flag_rmsea": table["rmsea_diff"].to_numpy() >= CHEN_RMSEA - _FLAG_TOL,
        "flag_srmr": table["srmr_diff"].to_numpy() >= srmr_limit - _FLAG_TOL,
    }
    for name, values in flags.items():
        table[name] = pd.array(np.where(first, None, values), dtype="boolean")
    return table[INDEX_COLUMNS + (ROBUST_COLUMNS if robust else []) + DIFF_COLUMNS + FLAG_COLUMNS]


def _means_level(levels: tuple[str, ...], equal: dict[str, tuple[str, ...]]) -> str | None:
    if "scalar" in levels:
        return "scalar"
    free = [lv for lv in levels if "intercepts" in equal[lv] and "means" not in equal[lv]]
    return free[-1] if free else None


MEANS_COLUMNS = ["lhs", "group", "est", "se", "z", "pvalue", "ci_lower", "ci_upper",
                 "est_std", "se_std", "z_std", "pvalue_std", "ci_lower_std", "ci_upper_std"]


def _empty_means() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object if c in ("lhs", "group") else float)
                         for c in MEANS_COLUMNS})


def _latent_means(res: FitResult) -> pd.DataFrame:
    """Free latent means of groups 2..G with SEs, and standardised by group 1's latent SD."""
    latent = tuple(res.model.latent)
    estimates = res.estimates
    rows = [r for r in res.rows if r.op != ":="]
    picked = [i for i, r in enumerate(rows) if r.op == "~1" and r.lhs in latent and r.group >= 2 and r.free]
    if not picked:
        return _empty_means()
    table = estimates.iloc[picked].reset_index(drop=True)
    first_cov = [r for r in rows if r.group == 1 and r.op in ("=~", "~", "~~")]
    k = len(res.theta)
    struct = RamStructure(first_cov, tuple(res.model.observed), latent, k=k)
    where = np.array([struct.names.index(rows[i].lhs) for i in picked], int)
    free = np.array([rows[i].free - 1 for i in picked], int)

    def standardized(theta: np.ndarray) -> np.ndarray:
        theta = np.atleast_2d(theta)
        total = np.diagonal(implied_all(struct, theta), axis1=1, axis2=2)[:, where]
        with np.errstate(invalid="ignore", divide="ignore"):
            return theta[:, free] / np.sqrt(np.where(total > 0, total, np.nan))

    level = float(res.level)
    std = delta_table(standardized, res.theta, res.vcov, fixed_x_ids(res.rows, res.model), table, level)
    labels = tuple(res.group_labels)
    out = pd.DataFrame({
        "lhs": table["lhs"].to_numpy(),
        "group": [labels[int(g) - 1] for g in table["group"]],
        **{c: table[c].to_numpy(dtype=float) for c in ("est", "se", "z", "pvalue", "ci_lower", "ci_upper")},
        **{c: std[c].to_numpy(dtype=float) for c in MEANS_COLUMNS[8:]},
    })
    return out[MEANS_COLUMNS]


def _group_sizes(res: FitResult) -> dict[str, int]:
    """Cases per group (counted in the rows used; the per-group views only when needed)."""
    labels = tuple(res.group_labels)
    if res.data is not None and res.group in res.data.columns:
        counts = res.data[res.group].astype(str).value_counts()
        if set(labels) <= set(counts.index) and int(counts.loc[list(labels)].sum()) == res.n_obs:
            return {label: int(counts[label]) for label in labels}
    return {label: int(view.n_obs) for label, view in res.groups.items()}


def _notes(fits: dict[str, FitResult], levels: tuple[str, ...], equal: dict[str, tuple[str, ...]],
           released: dict[str, tuple[str, ...]], means_level: str | None, group: str) -> list[str]:
    first = fits[levels[0]]
    sizes = ", ".join(f"{label} n = {n}" for label, n in _group_sizes(first).items())
    held = "; ".join(f"{LEVEL_NAMES[lv].lower()}: {', '.join(equal[lv]) or 'none'}" for lv in levels)
    notes = [f"N = {first.n_obs} ({sizes}); {first.estimator} estimation. Equal across groups at each "
             f"level: {held}. Δ: change from the row above; Δχ² and p(Δχ²) are lavaan's lavTestLRT."]
    if _robust(fits):
        test = first.fit_indices
        shifted = first.estimator in ("WLSMV", "ULSMV", "MLMV")
        ordinal = first.estimator.startswith(("WLS", "ULS", "DWLS"))
        notes.append(f"χ², p, CFI, TLI and RMSEA are the {first.estimator} versions: the "
                     f"{'scaled-and-shifted' if shifted else 'scaled'} χ² (scaling factor "
                     f"{float(test.get('chisq_scaling_factor', np.nan)):.3f} at "
                     f"{LEVEL_NAMES[levels[0]].lower()}) and lavaan's robust indices "
                     f"({'Savalei, 2021, for ordered data' if ordinal else 'Brosseau-Liard, Savalei & Li'}; "
                     f"the scaled ones where lavaan gives none); Δχ² is the "
                     f"{'scaled-and-shifted difference test (Satorra, 2000)' if shifted else 'scaled difference test (Satorra & Bentler, 2001)'}"
                     f", as lavTestLRT, and ΔCFI and ΔRMSEA compare the robust indices. The unscaled "
                     f"values are in the table's chisq/cfi/rmsea columns.")
    if "thresholds" in {c for lv in levels for c in equal[lv]}:
        notes.append("Ordered items: Wu and Estabrook's (2016) sequence (semTools' measEq.syntax with "
                     "ID.cat = \"Wu.Estabrook.2016\", ID.fac = \"std.lv\", delta parameterisation): "
                     "thresholds equal first (latent-response intercepts and scaling factors then free in "
                     "the other groups), then loadings (latent variances free), then intercepts (latent "
                     "means free).")
    partial = sorted({t for rows in released.values() for t in rows})
    if partial:
        where = {t: [LEVEL_NAMES[lv].lower() for lv in levels if t in released[lv]] for t in partial}
        notes.append("Partial invariance: released from equality " +
                     "; ".join(f"{t} ({', '.join(w)})" for t, w in where.items()) + ".")
    shared = shared_labels(first.model)
    if shared:
        notes.append(f"The labels {', '.join(shared)} are written once for all groups, so their parameters "
                     f"are equal across groups at every level, configural included (lavaan's rule); "
                     f"write c({shared[0]}1, {shared[0]}2)*... for one label per group.")
    notes.append(f"{_DAGGER} {FLAG_NOTE}")
    if means_level is not None:
        notes.append(f"Latent mean differences from {first.group_labels[0]} (whose latent means are fixed "
                     f"at 0) come from the {LEVEL_NAMES[means_level].lower()} model; standardised: divided "
                     f"by the model-implied SD of the latent variable in {first.group_labels[0]} (for "
                     f"endogenous latent variables the difference is in the intercept).")
    return notes
