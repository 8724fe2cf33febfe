"""Chi-square difference tests of nested models: lavaan's ``lavTestLRT`` (``anova``).

:func:`compare` takes two or more fitted results of the same data, sorts them by degrees
of freedom (least restricted first, as lavaan) and tests each model against the one
before it: Δχ² = χ²_restricted − χ²_free on Δdf = df_restricted − df_free, with the
RMSEA of the difference (lavaan 0.6-13 and later; Savalei, Brace & Fouladi's RMSEA_D)

    RMSEA_D = sqrt(max(Δχ² / (N Δdf) − 1 / N, 0)) · sqrt(G)

(N all respondents, G groups) and lavaan's AIC and BIC of each model.

Before testing, :func:`compare` checks what lavaan only warns about or does not check:
the same data (N, variables, sample covariances, sample means with a mean structure, groups),
one estimator, different df, a more restricted model that fits no better than the less
restricted one, and, for one-group results, that each model is nested in the one before it
(Bentler & Satorra, 2010).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from .. import _lazy
from .._warnings import quiet, warn
from ..display.escape import html_escape, latex_escape
from ..display.format import format_p, format_value
from ..display.render import FORMATS, SummaryRendering, render_table
from ..estimation.estimate import fit
from ..exceptions import (ArgumentError, ConvergenceWarning, DataError, EstimationError, LcsemError,
                          ModelSpecificationError, NotSupportedError, ScaledTestWarning)
from ..estimation.robust_fit import fixed_parameters, group_data, result_structure
from ..inference.robust import robust_test, satorra_2000_difference
from ..results.fit_result import FitResult

__all__ = ["compare", "ComparisonResult", "difference_table", "nesting_fit", "NESTING_CRIT",
           "CHISQ_ORDER_RTOL"]

#: Chi-square below which the less restricted model reproduces the more restricted model's
#: implied moments, i.e. the models are nested (semTools' ``net(crit = .0001)``).
NESTING_CRIT = 1e-4
#: How far (relative) the more restricted model's chi-square may fall below the less
#: restricted model's before the order is refused (rounding, optimiser tolerance).
CHISQ_ORDER_RTOL = 1e-6
#: Relative tolerance for "the same sample covariances".
SAME_DATA_RTOL = 1e-8

METHODS = ("default", "standard")
SCALED_METHODS = ("satorra.bentler.2001", "satorra.bentler.2010", "satorra.2000")
#: estimators whose difference test is the plain difference of the chi-squares (lavaan's
#: "standard" lavTestLRT; for GLS and ULS as for ML, with no AIC/BIC)
STANDARD_ESTIMATORS = ("ML", "GLS", "ULS")
#: robust estimators whose scaled difference tests compare() computes
SCALED_ESTIMATORS = ("MLM", "MLR", "MLMV", "MLMVS")
#: ordinal least-squares estimators: WLSMV/ULSMV compared by satorra.2000 (lavaan's default),
#: WLSM/ULSM by Satorra-Bentler 2001, DWLS/WLS/ULS by the standard difference
ORDINAL_SCALED = ("WLSMV", "ULSMV")
ORDINAL_MEAN = ("WLSM", "ULSM")
ORDINAL_PLAIN = ("DWLS", "WLS", "ULS")
#: lavaan's note under a scaled difference test
SCALED_NOTE = ("The chisq column holds the standard (unscaled) statistics, as lavaan's; the difference test "
               "is the scaled one, a function of the standard statistics and the scaling factors.")
COLUMNS = ["df", "aic", "bic", "chisq", "chisq_diff", "rmsea", "df_diff", "pvalue"]
HEADING = "Chi-Squared Difference Test"


@dataclass(frozen=True, eq=False)
class ComparisonResult(SummaryRendering):
    """Outcome of :func:`compare`: lavaan's ``lavTestLRT`` table.

    Attributes
    ----------
    table
        One row per model (index ``model``), sorted by df, least restricted first, with
        lavTestLRT's columns in lcsem's names: ``df aic bic chisq`` of each model and
        ``chisq_diff rmsea df_diff pvalue`` of the test against the row above (NaN in the
        first row). ``rmsea`` is the RMSEA of the difference (lavaan's ``RMSEA`` column).
    method
        ``"standard"``: the difference of the normal-theory ML chi-squares;
        ``"satorra.bentler.2001"`` / ``"satorra.bentler.2010"``: the scaled difference of
        robust (MLM/MLR) results (``table["scaling_factor"]`` is the difference's scaling
        factor ``cd``; ``rmsea`` is NaN, as lavaan gives none); ``"satorra.2000"``: the
        scaled-and-shifted difference (MLMV/MLMVS by default; ``scaling_factor`` = 1/a and
        ``shift_parameter`` = b).
    results
        The fitted results, in the table's order.
    nesting_chisq
        For each row after the first: the chi-square of the model above fitted to this
        row's implied covariance matrix (Bentler & Satorra's nesting statistic, below
        :data:`NESTING_CRIT` for nested models); NaN where not computed.
    notes
        What was and was not checked.
    """

    table: pd.DataFrame
    method: str
    results: tuple[FitResult, ...] = field(repr=False)
    nesting_chisq: tuple[float, ...]
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "table", self.table.copy(deep=True))

    def __getattribute__(self, name: str):
        value = object.__getattribute__(self, name)
        return value.copy(deep=True) if name == "table" else value

    @property
    def names(self) -> tuple[str, ...]:
        """Model names in the table's order."""
        return tuple(object.__getattribute__(self, "table").index)

    def _display_table(self, digits: int) -> pd.DataFrame:
        table = object.__getattribute__(self, "table")
        shown = pd.DataFrame(index=table.index)
        shown.index.name = "model"
        for column in COLUMNS + [c for c in ("scaling_factor", "shift_parameter") if c in table.columns]:
            values = table[column].to_numpy()
            if column in ("df", "df_diff"):
                shown[column] = ["" if not np.isfinite(v) else str(int(v)) for v in values]
            elif column == "pvalue":
                shown[column] = ["" if not np.isfinite(v) else format_p(v, digits) for v in values]
            else:
                shown[column] = [format_value(float(v), digits) for v in values]
        return shown

    def summary(self, format: str = "text", digits: int = 3) -> str:
        """The table with its heading and notes in ``format`` (``"text"``, ``"markdown"``,
        ``"latex"`` or ``"html"``)."""
        if format not in FORMATS:
            raise ArgumentError(f"format: {format!r} is not one of {FORMATS}")
        heading = (HEADING if self.method == "standard" else
                   f"Scaled Chi-Squared Difference Test (method = {self.method})")
        table = render_table(self._display_table(digits), format, digits=digits, caption=heading)
        notes = [f"Note. {n}" for n in self.notes]
        if format == "html":
            body = "".join(f"<p>{html_escape(n)}</p>" for n in notes)
            return f'<div class="lcsem-compare">{table}{body}</div>'
        if format == "latex":
            return "\n\n".join([table, *(latex_escape(n) for n in notes)])
        return "\n\n".join([table, *notes])

    def __repr__(self) -> str:
        table = object.__getattribute__(self, "table")
        last = table.iloc[-1]
        return (f"<lcsem.ComparisonResult {len(table)} models; last: delta chisq({int(last['df_diff'])}) = "
                f"{last['chisq_diff']:.3f}, p = {format_p(last['pvalue'])}>")


def compare(*results: FitResult, method: str = "default", names: Sequence[str] | None = None,
            check_nesting: bool = True) -> ComparisonResult:
    """Chi-square difference tests of nested models (lavaan's ``lavTestLRT``/``anova``).

    Parameters
    ----------
    *results
        Two or more :class:`~lcsem.FitResult` of the same data, fitted by one estimator
        (ML, GLS, ULS or robust ML), in any order
        (or one list of them): they are sorted by df (least restricted first) and each is
        tested against the one before it.
    method
        ``"default"``: lavaan's default for the results' estimator: the difference of the
        chi-squares for ML, GLS and ULS (also ``"standard"``; GLS and ULS results have no
        AIC or BIC, as in lavaan); for MLM and MLR the Satorra-Bentler
        (2001) scaled difference ``(T0 - T1) / cd`` with ``cd = (df0 c0 - df1 c1) /
        (df0 - df1)`` from the standard statistics ``T`` and scaling factors ``c``
        (``"satorra.bentler.2001"``). ``"satorra.bentler.2010"``: Satorra & Bentler's
        (2010) strictly positive version, where ``c1`` is the less restricted model's
        scaling factor evaluated at the restricted model's estimates (lavaan's ``M10``).
        ``"standard"`` with robust results: the unscaled difference. For MLMV/MLMVS
        (and MLM on request) ``"satorra.2000"``: Satorra's (2000) scaled-and-shifted
        difference from Gamma and the less restricted model's information (lavaan's
        ``A.method = "delta"``).
    names
        Model names for the table, one per result in the order given (default
        ``"model 1"``, ``"model 2"``, ...; lavaan uses the argument names).
    check_nesting
        Run Bentler & Satorra's (2010) nesting test for one-group results (default).

    Returns
    -------
    ComparisonResult
        ``.table`` with columns ``df aic bic chisq chisq_diff rmsea df_diff pvalue``.

    Raises
    ------
    ArgumentError
        Fewer than two results, something that is not a FitResult, bad ``names`` or
        ``method``.
    NotSupportedError
        Results of another estimator, or ``satorra.2000`` with MLR results.
    DataError
        The results are not fitted to the same data (N, observed variables, sample
        covariances or groups differ).
    ModelSpecificationError
        Two results with the same df; a more restricted model (more df) with a lower
        chi-square than a less restricted one; a model not nested in the one before it;
        some models with a mean structure and some without.

    Notes
    -----
    **Nesting** (Bentler & Satorra, 2010): model B (more df) is nested in model A when A
    reproduces every covariance matrix B can, in particular B's implied matrix Σ̂_B. So A
    is fitted to Σ̂_B (as ``sample_cov = Σ̂_B · N/(N−1)`` with ``sample_nobs = N``, which
    lcsem rescales back to Σ̂_B exactly) and the models count as nested when that
    chi-square is below :data:`NESTING_CRIT` = 1e-4, the criterion of semTools' ``net()``.
    A nested pair reproduces Σ̂_B exactly, so the chi-square is zero up to the optimiser's
    tolerance (lcsem reaches about 1e-10 or less); a pair that is not nested leaves a
    misfit that is a real chi-square (2.08 for two variants of the Political Democracy
    model), many orders of magnitude above the criterion, while 1e-4 moves no reported
    p-value. The check costs one extra fit per pair (from lcsem's own starts, without
    semopy's). It is not run for multi-group results
    (it needs per-group summary statistics) nor when ``check_nesting=False``; the notes say
    so. When the extra fit does not converge, a :class:`~lcsem.ConvergenceWarning` says the
    check could not be completed and the test is reported.

    **Chi-square order**: a more restricted model cannot fit better than a less
    restricted model that contains it; a restricted χ² below the free one by more than
    :data:`CHISQ_ORDER_RTOL` (relative) is refused (lavaan only warns), and a smaller
    shortfall (rounding) is reported as a difference of 0.

    References
    ----------
    Bentler, P. M., & Satorra, A. (2010). Testing model nesting and equivalence.
    *Psychological Methods, 15*(2), 111–123.
    Savalei, V., Brace, J. C., & Fouladi, R. T. (2023). We need to change how we compute
    RMSEA for nested model comparisons in structural equation modeling. *Psychological
    Methods*.

    Examples
    --------
    >>> three = lcsem.fit(hs_model, hs)                       # doctest: +SKIP
    >>> one = lcsem.fit("g =~ x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9", hs)  # doctest: +SKIP
    >>> lcsem.compare(three, one, names=["three factors", "one factor"]).table  # doctest: +SKIP
    """
    given = _check_results(results)
    labels = _check_names(names, len(given))
    _check_method(method, given)
    _check_same_data(given, labels)
    _check_mean_structures(given, labels)
    for res, label in zip(given, labels):
        if not res.converged:
            warn(f"compare: {label} did not converge; its chi-square, and the difference tests "
                 f"that use it, are not reliable: refit it until it converges", ConvergenceWarning,
                 stacklevel=2)
    df = np.array([float(r.fit_indices["df"]) for r in given])
    order = np.argsort(df, kind="stable")          # lavaan: order(df), ties in the given order
    ordered = tuple(given[i] for i in order)
    ordered_labels = [labels[i] for i in order]
    df = df[order]
    chisq = np.array([float(r.fit_indices["chisq"]) for r in ordered])
    same = [(ordered_labels[i], ordered_labels[i + 1]) for i in range(len(df) - 1) if df[i + 1] == df[i]]
    if same:
        a, b = same[0]
        raise ModelSpecificationError(
            f"results: {a} and {b} have the same degrees of freedom ({_df_of(ordered, ordered_labels, a)}); "
            f"a chi-square difference test needs one model with more df (more restrictions) than the "
            f"other; models with equal df are not nested in each other (if equivalent, they fit "
            f"equally well): compare them by AIC/BIC instead")
    diff = np.diff(chisq)
    for i, d in enumerate(diff):
        tolerance = CHISQ_ORDER_RTOL * max(abs(chisq[i]), 1.0)
        if d < -tolerance:
            raise ModelSpecificationError(
                f"results: {ordered_labels[i + 1]} (df {int(df[i + 1])}) is more restricted than "
                f"{ordered_labels[i]} (df {int(df[i])}) but fits better (chi-square {chisq[i + 1]:.6g} < "
                f"{chisq[i]:.6g}); a restricted model cannot fit better than a model that contains it, "
                f"so either they are not nested or {ordered_labels[i]} did not reach its optimum: check "
                f"that {ordered_labels[i + 1]} adds restrictions to {ordered_labels[i]}, and refit "
                f"{ordered_labels[i]} (e.g. with use_semopy=False for other starting values)")
    n_groups = max(_n_groups(r) for r in ordered)
    notes: list[str] = []
    nesting = [float("nan")] * len(ordered)
    if not check_nesting:
        notes.append("Nesting was not checked (check_nesting=False).")
    elif ordered[0].ordinal is not None:
        notes.append("Nesting was not checked (Bentler & Satorra's test is run for continuous "
                     "results only); make sure each model adds restrictions to the one above it.")
    elif n_groups > 1:
        notes.append("Nesting was not checked (Bentler & Satorra's test is run for one-group "
                     "results only); make sure each model adds restrictions to the one above it.")
    else:
        for i in range(len(ordered) - 1):
            nesting[i + 1] = _nesting_chisq(ordered[i], ordered[i + 1], ordered_labels[i],
                                            ordered_labels[i + 1])
        unchecked = [ordered_labels[i] for i in range(1, len(ordered)) if not np.isfinite(nesting[i])]
        if not unchecked:
            notes.append(f"Each model is nested in the one above it (Bentler & Satorra, 2010: the less "
                         f"restricted model reproduces the restricted model's implied covariances, "
                         f"chi-square < {NESTING_CRIT:g}).")
        else:
            notes.append(f"Nesting could not be checked for {unchecked} (the check's fit failed; see "
                         f"the warning); the other models are nested in the one above them.")
    table = difference_table(df, chisq, [float(r.fit_indices.get("aic", np.nan)) for r in ordered],
                             [float(r.fit_indices.get("bic", np.nan)) for r in ordered], ordered[0].n_obs,
                             n_groups, ordered_labels)
    resolved = _resolve_method(method, ordered[0].estimator)
    if resolved != "standard":
        table = _scaled_table(table, ordered, ordered_labels, resolved)
        notes.append(SCALED_NOTE)
    return ComparisonResult(table, resolved, ordered, tuple(nesting), tuple(notes))


def difference_table(df: Sequence[float], chisq: Sequence[float], aic: Sequence[float],
                     bic: Sequence[float], n_obs: int, n_groups: int, names: Sequence[str]) -> pd.DataFrame:
    """lavTestLRT's table for models already sorted by ``df`` (ascending, no ties).

    ``n_obs`` is the number of respondents over all groups (lavaan's ``ntotal``) and
    ``n_groups`` the number of groups G of the RMSEA of the difference,
    sqrt(max(Δχ²/(N Δdf) − 1/N, 0)) · sqrt(G). A negative difference (rounding; larger
    ones are refused by :func:`compare`) is reported as 0.
    """
    df = np.asarray(df, dtype=float)
    chisq = np.asarray(chisq, dtype=float)
    diff = np.maximum(np.diff(chisq), 0.0)
    df_diff = np.diff(df)
    rmsea = np.sqrt(np.maximum(diff / (n_obs * df_diff) - 1.0 / n_obs, 0.0)) * np.sqrt(n_groups)
    pvalue = _lazy.chi2_sf(diff, df_diff)
    nan = np.array([np.nan])
    return pd.DataFrame({
        "df": df.astype(int),
        "aic": np.asarray(aic, dtype=float),
        "bic": np.asarray(bic, dtype=float),
        "chisq": chisq,
        "chisq_diff": np.concatenate([nan, diff]),
        "rmsea": np.concatenate([nan, rmsea]),
        "df_diff": np.concatenate([nan, df_diff]),
        "pvalue": np.concatenate([nan, pvalue]),
    }, index=pd.Index(list(names), name="model"))


def _df_of(results: Sequence[FitResult], labels: Sequence[str], label: str) -> int:
    return int(results[list(labels).index(label)].fit_indices["df"])


def _check_results(results: tuple) -> tuple[FitResult, ...]:
    if len(results) == 1 and isinstance(results[0], (list, tuple)):
        results = tuple(results[0])
    bad = [(i, r) for i, r in enumerate(results, 1) if not isinstance(r, FitResult)]
    if bad:
        i, r = bad[0]
        raise ArgumentError(f"results: argument {i} is a {type(r).__name__}, not a fitted result; pass "
                            f"results of lcsem.fit, e.g. lcsem.compare(res_a, res_b)")
    if len(results) < 2:
        raise ArgumentError(f"results: {len(results)} result given; a difference test compares at least "
                            f"two fitted models of the same data: lcsem.compare(res_a, res_b)")
    return tuple(results)


def _check_names(names: Sequence[str] | None, count: int) -> list[str]:
    if names is None:
        return [f"model {i}" for i in range(1, count + 1)]
    if isinstance(names, str) or not all(isinstance(n, str) and n for n in names):
        raise ArgumentError(f"names: expected one non-empty name per result, got {names!r}")
    names = list(names)
    if len(names) != count:
        raise ArgumentError(f"names: {len(names)} names for {count} results; give one name per result")
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise ArgumentError(f"names: {dupes} appear more than once; give each model its own name")
    return names


def _check_method(method: str, results: tuple[FitResult, ...]) -> None:
    estimators = sorted({r.estimator for r in results})
    if len(estimators) > 1:
        raise ArgumentError(f"results: fitted with different estimators ({', '.join(estimators)}); a "
                            f"difference test compares models fitted by one estimator: refit them all "
                            f"with the same estimator=")
    estimator = estimators[0]
    if any(r.ordinal is not None for r in results):
        if not all(r.ordinal is not None for r in results):
            raise ArgumentError("results: some are ordinal fits (ordered=...) and some are not; compare "
                                "models fitted with the same ordered= and estimator=")
        allowed = {**dict.fromkeys(ORDINAL_SCALED, ("default", "satorra.2000")),
                   **dict.fromkeys(ORDINAL_MEAN, ("default", "satorra.bentler.2001", "standard")),
                   **dict.fromkeys(ORDINAL_PLAIN, ("default", "standard"))}.get(estimator, ())
        if method not in allowed:
            raise NotSupportedError(f"method: {method!r} is not available for {estimator} results; use "
                                    f"{', '.join(map(repr, allowed))}")
        return
    if estimator not in STANDARD_ESTIMATORS + SCALED_ESTIMATORS:
        raise NotSupportedError(
            f"results: estimator {estimator!r}: lcsem.compare tests ML, GLS and ULS results (the "
            f"difference of the chi-squares) and the scaled differences of robust results (MLM/MLR: "
            f"Satorra-Bentler 2001/2010; MLMV/MLMVS: Satorra 2000); other estimators are not "
            f"supported: refit with estimator='ML' (or 'MLM'/'MLR')")
    if method not in METHODS + SCALED_METHODS:
        raise ArgumentError(f"method: {method!r} is not a difference test lcsem knows; use one of "
                            f"{', '.join(map(repr, METHODS + SCALED_METHODS))}")
    if method in SCALED_METHODS and estimator in STANDARD_ESTIMATORS:
        raise ArgumentError(f"method: {method!r} is a scaled difference test for robust (MLM/MLR) results; "
                            f"these results are {estimator}, whose difference test is the standard one: use "
                            f"method='default', or refit with estimator='MLM' or 'MLR'")
    if method == "satorra.2000" and estimator == "MLR":
        raise NotSupportedError("method: 'satorra.2000' is implemented for MLM, MLMV and MLMVS results "
                                "(expected information); for MLR use 'satorra.bentler.2001' (default) or "
                                "'satorra.bentler.2010'")
    if method in SCALED_METHODS[:2] and estimator in ("MLMV", "MLMVS"):
        raise ArgumentError(f"method: {method!r} needs Satorra-Bentler scaling factors (MLM/MLR); "
                            f"{estimator} results are compared by lavaan's default, 'satorra.2000' "
                            f"(method='default')")


def _resolve_method(method: str, estimator: str) -> str:
    """lavaan's default: the standard difference for ML, Satorra-Bentler 2001 for MLM/MLR."""
    if method == "default":
        if estimator in ("MLMV", "MLMVS") + ORDINAL_SCALED:
            return "satorra.2000"
        if estimator in ORDINAL_MEAN:
            return "satorra.bentler.2001"
        return "satorra.bentler.2001" if estimator in SCALED_ESTIMATORS else "standard"
    return method


def _scaled_table(table: pd.DataFrame, results: tuple[FitResult, ...], labels: Sequence[str],
                  method: str) -> pd.DataFrame:
    """The table with lavaan's scaled differences (``chisq_diff``, ``pvalue``,
    ``scaling_factor``) in place of the standard ones; ``rmsea`` NaN as lavaan."""
    table = table.copy()
    n = len(results)
    diff, cds, pvals, shifts = (np.full(n, np.nan) for _ in range(4))
    for i in range(n - 1):
        free, restricted = results[i], results[i + 1]
        T1, r1 = float(free.fit_indices["chisq"]), float(free.fit_indices["df"])
        T0, r0 = float(restricted.fit_indices["chisq"]), float(restricted.fit_indices["df"])
        c0 = float(restricted.fit_indices["chisq_scaling_factor"])
        if method == "satorra.2000":
            c1 = float("nan")
        elif r1 == 0:                                  # saturated model (lavaan)
            c1 = 1.0
        elif method == "satorra.bentler.2010":
            c1 = _scaling_at(free, restricted)
        else:
            c1 = float(free.fit_indices["chisq_scaling_factor"])
        m = r0 - r1
        if method == "satorra.2000":
            out = _satorra_2000(free, restricted, T0 - T1, int(m))
            diff[i + 1], pvals[i + 1], cds[i + 1], shifts[i + 1] = out["stat"], out["pvalue"], 1 / out["a"], out["b"]
            continue
        cd = (r0 * c0 - r1 * c1) / m
        if not cd > 0:
            warn(f"compare: the scaling factor of the difference between {labels[i]} and {labels[i + 1]} is "
                 f"{cd:.4g} (not positive), so the {method} test is undefined (NaN); use "
                 f"method='satorra.bentler.2010', whose scaling factor is positive",
                 ScaledTestWarning, stacklevel=4)
            cd = float("nan")
        diff[i + 1] = (T0 - T1) / cd
        cds[i + 1] = cd
        pvals[i + 1] = _lazy.chi2_sf(diff[i + 1], m) if np.isfinite(cd) else np.nan
    table["chisq_diff"] = diff
    table["pvalue"] = pvals
    table["rmsea"] = np.nan
    table["scaling_factor"] = cds
    if method == "satorra.2000":
        table["shift_parameter"] = shifts
    return table


def _satorra_2000(free: FitResult, restricted: FitResult, chisq_diff: float, df_diff: int) -> dict:
    """lavaan's satorra.2000 scaled-and-shifted difference of two robust results."""
    if free.ordinal is not None:
        from ..estimation.ordinal_fit import ordinal_pieces
        from ..inference.ordinal_tests import satorra_2000_ordinal
        _, p1 = ordinal_pieces(free)
        s0, p0 = ordinal_pieces(restricted)
        return satorra_2000_ordinal(p1.Delta, p0.Delta, p1.W, p1.Gamma, p1.n, chisq_diff, df_diff)
    s_free, _ = result_structure(free)
    s_restricted, _ = result_structure(restricted)
    return satorra_2000_difference(s_free, np.asarray(free.theta, float), s_restricted,
                                   np.asarray(restricted.theta, float), group_data(free), chisq_diff, df_diff,
                                   fixed_parameters(free), fixed_parameters(restricted))


def _scaling_at(free: FitResult, restricted: FitResult) -> float:
    """The less restricted model's scaling factor at the restricted model's estimates
    (lavaan's ``M10`` of the Satorra-Bentler 2010 test): every parameter of ``free`` takes
    the value of the same row (lhs, op, rhs, group) in ``restricted``, 0 where that row is
    absent (a path the restricted model leaves out)."""
    struct, _ = result_structure(free)
    est = restricted.estimates
    est = est[est["op"] != ":="]
    groups = est["group"].to_numpy(int) if "group" in est.columns else np.ones(len(est), int)
    values = {(l, o, r, int(g)): float(v)
              for l, o, r, g, v in zip(est["lhs"], est["op"], est["rhs"], groups, est["est"])}
    theta = struct.theta_from_rows(values)
    theta = np.where(np.isfinite(theta), theta, 0.0)
    if free.missing == "ml":        # MLR with FIML: the casewise (observed-data) traces
        from ..estimation.robust_fiml import fiml_patterns, fiml_robust_analysis
        test = fiml_robust_analysis(struct, theta, fiml_patterns(free), with_vcov=False)[1]
    else:
        test = robust_test(free.estimator, struct, theta, group_data(free), fixed=fixed_parameters(free))
    return test.trace / float(free.fit_indices["df"])


def _group_labels(res: FitResult) -> tuple[str, ...]:
    labels = getattr(res, "group_labels", None)
    return tuple(str(x) for x in labels) if labels else ()


def _n_groups(res: FitResult) -> int:
    labels = _group_labels(res)
    if labels:
        return len(labels)
    estimates = res.estimates
    if "group" in estimates.columns:
        groups = {int(g) for g in estimates["group"] if np.isfinite(g) and g > 0}
        return max(len(groups), 1)
    return 1


def _has_means(res: FitResult) -> bool:
    return bool((res.estimates["op"] == "~1").any())


def _check_same_data(results: tuple[FitResult, ...], labels: list[str]) -> None:
    first, name = results[0], labels[0]
    variables = sorted(first.model.observed)
    first_cov, first_mean, first_has_means = first.sample_cov, first.sample_mean, _has_means(first)
    for res, label in zip(results[1:], labels[1:]):
        if res.n_obs != first.n_obs:
            raise DataError(f"results: {name} was fitted to {first.n_obs} respondents and {label} to "
                            f"{res.n_obs}; a difference test compares models of the same data: fit both "
                            f"to the same rows (listwise deletion depends on each model's variables: "
                            f"drop incomplete rows of the union of variables first)")
        other = sorted(res.model.observed)
        if other != variables:
            only_a = sorted(set(variables) - set(other))
            only_b = sorted(set(other) - set(variables))
            raise DataError(f"results: {name} and {label} use different observed variables (only in "
                            f"{name}: {only_a}; only in {label}: {only_b}); a difference test needs "
                            f"models of the same variables: add the missing variables to the models")
        if _group_labels(res) != _group_labels(first) or _n_groups(res) != _n_groups(first):
            raise DataError(f"results: {name} and {label} have different groups "
                            f"({list(_group_labels(first))} vs {list(_group_labels(res))}); fit both "
                            f"with the same group= column and data")
        a, b = first_cov, res.sample_cov
        if isinstance(a, pd.DataFrame) and isinstance(b, pd.DataFrame) and set(a.index) == set(b.index):
            if not (b.index.equals(a.index) and b.columns.equals(a.columns)):
                b = b.loc[a.index, a.columns]
            scale = max(float(np.max(np.abs(a.to_numpy()))), np.finfo(float).tiny)
            if not np.allclose(a.to_numpy(), b.to_numpy(), rtol=SAME_DATA_RTOL, atol=SAME_DATA_RTOL * scale):
                raise DataError(f"results: {name} and {label} were fitted to different data (their sample "
                                f"covariance matrices differ); fit both models to the same data")
        if first_has_means and _has_means(res) and not _same_means(first_mean, res.sample_mean):
            raise DataError(f"results: {name} and {label} were fitted to different data (their sample "
                            f"means differ{' in some group' if _n_groups(first) > 1 else ''}); with a mean "
                            f"structure the chi-square depends on the means: fit both models to the same data")


def _same_means(a: pd.Series | None, b: pd.Series | None) -> bool:
    """Whether two results' sample means agree (True when either is unknown)."""
    if not isinstance(a, pd.Series) or not isinstance(b, pd.Series) or set(a.index) != set(b.index):
        return True
    if not b.index.equals(a.index):
        b = b.loc[a.index]
    scale = max(float(np.max(np.abs(a.to_numpy()))), 1.0)
    return bool(np.allclose(a.to_numpy(), b.to_numpy(), rtol=SAME_DATA_RTOL, atol=SAME_DATA_RTOL * scale))


def _check_mean_structures(results: tuple[FitResult, ...], labels: list[str]) -> None:
    means = [_has_means(r) for r in results]
    if any(means) and not all(means):
        with_means = [l for l, m in zip(labels, means) if m]
        without = [l for l, m in zip(labels, means) if not m]
        raise ModelSpecificationError(f"results: {with_means} have a mean structure and {without} do not; "
                                      f"lavaan refuses this comparison too: refit all with "
                                      f"meanstructure=True")


def nesting_fit(free: FitResult, restricted: FitResult) -> FitResult:
    """Bentler & Satorra's (2010) nesting statistic: the fit of ``free``'s model to the
    moments ``restricted`` implies (its ``fit_indices["chisq"]`` is ~0 when ``restricted``
    is nested in ``free``). One-group results only.
    """
    n = restricted.n_obs
    implied = restricted.implied_cov
    sample_mean = None
    if _has_means(restricted):
        sample_mean = restricted.implied_moments()["mean"]
    with quiet():
        return fit(free.model, sample_cov=implied * (n / (n - 1)), sample_nobs=n, estimator="ML",
                   sample_mean=sample_mean, use_semopy=False)


def _nesting_chisq(free: FitResult, restricted: FitResult, free_label: str, restricted_label: str) -> float:
    """:func:`nesting_fit`'s chi-square; refuses when it shows that ``restricted`` is not
    nested in ``free``."""
    try:
        refit = nesting_fit(free, restricted)
    except LcsemError as exc:
        if isinstance(exc, (EstimationError, ModelSpecificationError, DataError)):
            warn(f"compare: the nesting check of {restricted_label} in {free_label} could not be completed "
                 f"({exc}); the difference test is reported without it", ConvergenceWarning, stacklevel=3)
            return float("nan")
        raise
    chisq = float(refit.fit_indices["chisq"])
    if not refit.converged:
        warn(f"compare: the nesting check of {restricted_label} in {free_label} did not converge "
             f"(chi-square {chisq:.3g}); the difference test is reported without it", ConvergenceWarning,
             stacklevel=3)
        return float("nan")
    if chisq >= NESTING_CRIT:
        raise ModelSpecificationError(
            f"results: {restricted_label} is not nested in {free_label}: fitted to the covariances "
            f"{restricted_label} implies, {free_label} leaves a chi-square of {chisq:.4g} (nested models "
            f"leave < {NESTING_CRIT:g}; Bentler & Satorra, 2010), so {free_label} cannot reproduce "
            f"everything {restricted_label} can and the chi-square difference has no chi-square "
            f"distribution: compare non-nested models by AIC/BIC (the table's columns), or make "
            f"{restricted_label} a restricted version of {free_label}")
    return chisq
