"""The bootstrap's result: the distribution of every statistic and what to do with it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from ..exceptions import ArgumentError, NotSupportedError
from ..inference.fit_indices import BOOTSTRAP_INDEX_NAMES
from ..display.render import FORMATS, render_table
from ..display.format import format_boot_p
from ..results.fit_result import FitResult
from ..results.payload import result_from_dict, result_to_dict
from .draws import ResampleIndices, indices_of
from .replicates import STATUS_NAMES
from .statistic import Replicates, evaluate_statistic
from .intervals import METHODS, bootstrap_pvalue, confidence_interval, quantiles, upper_tail_pvalue

__all__ = ["BootstrapResult", "WORSE_WHEN"]

KINDS = ("nonparametric", "parametric", "bollen-stine")

#: The direction in which each fit index signals worse fit (Kim & Millsap, 2014): the
#: Bollen–Stine p of an index is the share of replicates at least this far that way.
#: loglik, AIC and BIC are left out: they measure the data's generalised variance as much
#: as misfit, and the Bollen–Stine transform changes that variance, so their reference
#: draws are not comparable with the sample value.
WORSE_WHEN: dict[str, str] = {"chisq": "higher", "pvalue": "lower", "cfi": "lower", "tli": "lower",
                              "nfi": "lower", "rmsea": "higher", "srmr": "higher", "gfi": "lower",
                              "agfi": "lower"}


@dataclass(frozen=True, eq=False)
class BootstrapResult:
    """The outcome of :func:`lcsem.bootstrap`.

    Attributes
    ----------
    fit
        The :class:`~lcsem.FitResult` that was bootstrapped.
    kind
        ``"nonparametric"`` (case resampling), ``"parametric"`` (draws from the fitted
        model) or ``"bollen-stine"`` (case resampling of data transformed to fit the model).
    n_resamples
        Number of replicates (those finished, if the run was interrupted).
    seed
        The seed entropy used: ``lcsem.bootstrap(fit, n, seed=result.seed)`` repeats the run.
    distribution
        One row per replicate (index 0..n_resamples-1; failed replicates are all NaN):
        the fit indices of :data:`lcsem.inference.fit_indices.BOOTSTRAP_INDEX_NAMES`, every free and
        defined parameter (named as :func:`lcsem.results.parameter_name`), then
        standardised values (std.all) named ``"std:<name>"`` (free rows, fixed loadings
        and paths, defined parameters). In a multi-group fit each group's rows are
        columns of their own, named ``"<name>@<group label>"`` (``"visual=~x2@Pasteur"``,
        ``"x1~1@Pasteur"``, ``"std:visual=~x2@Pasteur"``; :meth:`column` builds the
        name); defined (``:=``) parameters keep their name. Rows held equal across groups
        have identical draws.
    estimate
        The full-sample value of every column.
    status
        ``"ok"``, ``"inadmissible"`` or ``"failed"`` per replicate.
    failure_reasons
        Replicate number -> reasons, for failed and inadmissible replicates.
    indices
        (n_resamples, N) resampled row positions (nonparametric and Bollen–Stine), or None
        (parametric: regenerate with the seed). An array with ``keep_indices=True``; by
        default a :class:`~lcsem.resampling.draws.ResampleIndices`, which draws them again
        from the seed when read (``indices[r]``: replicate ``r``'s rows;
        ``np.asarray(indices)``: all of them), so the run never holds them all.
        Multi-group fits resample within groups: each row holds group 1's draws (rows of
        ``fit.data`` in group 1), then group 2's, ..., so group sizes are those of the data.
    interrupted
        True when the run was stopped (Ctrl-C) and this result holds the replicates done.
    """

    fit: FitResult
    kind: str
    n_resamples: int
    seed: Any
    distribution: pd.DataFrame
    estimate: pd.Series
    status: pd.Series
    failure_reasons: dict
    indices: np.ndarray | ResampleIndices | None = field(repr=False)
    interrupted: bool = False
    _cache: dict = field(default_factory=dict, repr=False)
    _jackknife_runner: Any = field(default=None, repr=False)

    # ------------------------------------------------------------------ counts
    @property
    def n_failed(self) -> int:
        """Replicates whose fit failed (excluded from every summary)."""
        return int((self.status == "failed").sum())

    @property
    def n_inadmissible(self) -> int:
        """Replicates with an inadmissible solution (kept unless excluded)."""
        return int((self.status == "inadmissible").sum())

    @property
    def failed_idx(self) -> np.ndarray:
        """Numbers of the failed replicates."""
        return np.flatnonzero(self.status.to_numpy() == "failed")

    @property
    def inadmissible_idx(self) -> np.ndarray:
        """Numbers of the inadmissible replicates."""
        return np.flatnonzero(self.status.to_numpy() == "inadmissible")

    def _draws(self, include_inadmissible: bool = True) -> pd.DataFrame:
        keep = self.status == "ok"
        if include_inadmissible:
            keep |= self.status == "inadmissible"
        return self.distribution[keep.to_numpy()]

    # ------------------------------------------------------------------ summaries
    @property
    def se(self) -> pd.Series:
        """Bootstrap standard errors (SD of each column over usable replicates)."""
        return self._draws().std(ddof=1).rename("se")

    @property
    def pvalues(self) -> pd.Series:
        """Two-sided bootstrap p-values of parameters and standardised values:
        ``min(1, 2 (1 + k) / (B + 1))`` with ``k`` replicates on the far side of 0 (see
        :func:`lcsem.resampling.intervals.bootstrap_pvalue`; never 0, floor ``2/(B + 1)``);
        NaN for fit indices."""
        draws = self._draws()
        out = {c: (np.nan if c in BOOTSTRAP_INDEX_NAMES else bootstrap_pvalue(draws[c].to_numpy()))
               for c in draws.columns}
        return pd.Series(out, name="pvalue")

    @property
    def pvalue(self) -> float:
        """Bollen–Stine p of the chi-square test: ``(1 + #(T* >= T)) / (B + 1)`` over the
        ``B`` usable replicates (failed ones excluded; never 0, floor ``1/(B + 1)``); NaN
        for other kinds."""
        if self.kind != "bollen-stine":
            return float("nan")
        return upper_tail_pvalue(self._draws()["chisq"].to_numpy(), float(self.estimate["chisq"]))

    def _require_bollen_stine(self, what: str) -> None:
        if self.kind != "bollen-stine":
            raise NotSupportedError(
                f"{what}: this is a {self.kind} bootstrap, whose fit-index draws are not a reference "
                f"distribution of the indices if the model were true (naive draws add each resample's "
                f"misfit to the sample's); run lcsem.bootstrap(res, n_resamples, kind='bollen-stine', "
                f"seed=...) and call {what} on that result")

    def fit_pvalues(self, include_inadmissible: bool = True) -> pd.Series:
        """Bollen–Stine p-value of every fit index (Kim & Millsap, 2014).

        The probability, if the model were true (data transformed to fit it exactly, with
        the sample's N and non-normality), of an index at least as bad as the sample's:
        ``(1 + k) / (B + 1)`` with ``k`` the replicates at least this bad among the ``B``
        usable ones (failed replicates excluded). Worse means larger for chisq, rmsea and
        srmr and smaller for cfi, tli, nfi, gfi, agfi and the chi-square p-value (see
        :data:`WORSE_WHEN`); ties count as at least as bad, so a sample CFI of 1 or RMSEA
        of 0 gets p = 1. Never 0: the floor is ``1/(B + 1)``. The chisq entry is
        :attr:`pvalue`.

        Parameters
        ----------
        include_inadmissible
            Count inadmissible replicates too (default, as :attr:`pvalue` and lavaan).

        Returns
        -------
        Series indexed by fit index (the keys of :data:`WORSE_WHEN`), named ``"pvalue"``.

        Raises
        ------
        NotSupportedError
            For a nonparametric or parametric bootstrap: run ``kind="bollen-stine"``.
        """
        self._require_bollen_stine("fit_pvalues")
        draws = self._draws(include_inadmissible)
        return pd.Series({name: _reference_pvalue(draws[name].to_numpy(), float(self.estimate[name]), worse)
                          for name, worse in WORSE_WHEN.items()}, name="pvalue")

    def fit_reference(self, include_inadmissible: bool = True) -> pd.DataFrame:
        """Each fit index against its Bollen–Stine reference distribution.

        Columns: ``sample`` (the sample value), ``worse`` (``"higher"`` or ``"lower"``: the
        direction of worse fit), ``mean``, ``q05`` and ``q95`` (5% and 95% quantiles of the
        index over the replicates, i.e. if the model were true at this N with these data's
        non-normality), ``cutoff`` (the quantile of the bad tail: q95 for chisq, rmsea and
        srmr, q05 for the others -- a cut-off for this model, N and data in the spirit of
        dynamic fit-index cut-offs: a correct model exceeds it 5% of the time) and
        ``pvalue`` (:meth:`fit_pvalues`). ``attrs["n_draws"]`` is the number of replicates
        used.

        Raises
        ------
        NotSupportedError
            For a nonparametric or parametric bootstrap: run ``kind="bollen-stine"``.
        """
        self._require_bollen_stine("fit_reference")
        draws = self._draws(include_inadmissible)
        p = self.fit_pvalues(include_inadmissible)
        rows = []
        for name, worse in WORSE_WHEN.items():
            t = draws[name].to_numpy(dtype=float)
            t = t[np.isfinite(t)]
            q05, q95 = quantiles(t, [0.05, 0.95])
            rows.append((float(self.estimate[name]), worse, float(t.mean()) if t.size else np.nan,
                         float(q05), float(q95), float(q95 if worse == "higher" else q05), float(p[name])))
        out = pd.DataFrame(rows, index=pd.Index(list(WORSE_WHEN), name="index"),
                           columns=["sample", "worse", "mean", "q05", "q95", "cutoff", "pvalue"])
        out.attrs["n_draws"] = int(np.isfinite(draws["chisq"].to_numpy(dtype=float)).sum())
        return out

    def ci(self, level: float = 0.95, method: str = "percentile", stats=None,
           include_inadmissible: bool = True, interpolation: str = "linear") -> pd.DataFrame:
        """Confidence intervals.

        Parameters
        ----------
        level
            Confidence level.
        method
            ``"percentile"``, ``"bc"``, ``"bca"`` (jackknife acceleration, computed on
            first use with the batched engine) or ``"normal"``.
        stats
            Column names (default: all columns).
        include_inadmissible
            Use inadmissible replicates too (default, as lavaan); failed ones never count.
        interpolation
            ``"linear"`` quantiles (numpy/R default) or ``"normal"`` (boot's ``norm.inter``).

        Returns
        -------
        DataFrame indexed by statistic with columns ``estimate, lower, upper``.
        """
        if method not in METHODS:
            raise ArgumentError(f"method: {method!r} is not one of {', '.join(METHODS)}")
        names = self._stat_names(stats)
        draws = self._draws(include_inadmissible)
        jk = self.jackknife() if method == "bca" else None
        rows = []
        for name in names:
            lo, hi = confidence_interval(draws[name].to_numpy(), float(self.estimate[name]), method=method,
                                         level=level, interpolation=interpolation,
                                         jackknife=None if jk is None else jk[name].to_numpy())
            rows.append((float(self.estimate[name]), lo, hi))
        out = pd.DataFrame(rows, index=pd.Index(names, name="statistic"), columns=["estimate", "lower", "upper"])
        out.attrs.update(level=level, method=method)
        return out

    def _stat_names(self, stats) -> list[str]:
        if stats is None:
            return list(self.distribution.columns)
        if isinstance(stats, str):
            stats = [stats]
        names = list(stats)
        unknown = [s for s in names if s not in self.distribution.columns]
        if unknown:
            qualified = [c for s in unknown for c in self.distribution.columns
                         if isinstance(s, str) and (c.startswith(s + "@") or c.startswith(f"std:{s}@"))]
            if qualified:
                raise ArgumentError(
                    f"stats: {unknown} name a parameter of every group of a multi-group fit; name one "
                    f"group's with '@<group label>', e.g. {qualified[:len(self.fit.group_labels)]} "
                    f"(or result.column(lhs, op, rhs, group=...))")
            raise ArgumentError(f"stats: {unknown} are not columns of the bootstrap distribution; "
                                f"use names such as {list(self.distribution.columns[:3])} "
                                f"(see result.distribution.columns)")
        return names

    def column(self, lhs: str, op: str, rhs: str = "", group: str | int | None = None,
               std: bool = False) -> str:
        """The distribution's column of a parameter-table row.

        Columns are named ``lhs op rhs`` without spaces (``"visual=~x2"``, intercepts
        ``"x1~1"``, defined parameters by their name); in a multi-group fit every row's name
        ends in ``"@<group label>"`` (``"visual=~x2@Pasteur"``); standardised values start
        with ``"std:"``.

        Parameters
        ----------
        lhs, op, rhs
            The row (``rhs=""`` for intercepts ``~1`` and for ``:=`` rows).
        group
            The group's label (as in ``fit.group_labels``) or its number 1..G; required for
            the rows of a multi-group fit, not allowed otherwise.
        std
            The standardised (std.all) value's column instead of the parameter's.

        Returns
        -------
        str

        Raises
        ------
        ArgumentError
            When the column does not exist (a fixed parameter, a row not in the model, a
            missing or unknown group).
        """
        labels = tuple(self.fit.group_labels)
        name = lhs if op == ":=" else f"{lhs}{op}{rhs}"
        if op != ":=" and labels:
            if group is None:
                raise ArgumentError(f"group: {name!r} is a row of every group of this {len(labels)}-group "
                                    f"fit; pass group= one of {list(labels)} (or 1..{len(labels)})")
            if isinstance(group, (int, np.integer)) and not isinstance(group, bool):
                if not 1 <= group <= len(labels):
                    raise ArgumentError(f"group: {group!r} is not a group number; use 1..{len(labels)}")
                group = labels[group - 1]
            if str(group) not in labels:
                raise ArgumentError(f"group: {group!r} is not a group of this fit; use one of {list(labels)}")
            name = f"{name}@{group}"
        elif group is not None and op != ":=":
            raise ArgumentError(f"group: {group!r} given, but this is a single-group fit; leave group out")
        if std:
            name = "std:" + name
        if name not in self.distribution.columns:
            raise ArgumentError(f"lhs/op/rhs: {name!r} is not a column of the bootstrap distribution (fixed "
                                f"parameters have none); see result.distribution.columns")
        return name

    def statistic(self, fn: Callable[[Replicates], Any], *, jackknife: bool = False,
                  include_inadmissible: bool = True) -> np.ndarray | dict[str, np.ndarray]:
        """Draws of a statistic of the fit, from this bootstrap's replicates (no refit), as
        ``scipy.stats.bootstrap`` takes a ``statistic``.

        Parameters
        ----------
        fn
            A function of a :class:`~lcsem.resampling.statistic.Replicates` batch: its
            ``theta`` (R, k) holds each usable replicate's parameter vector (the joint vector
            of a multi-group fit, as ``fit.theta``), and ``moments()`` each replicate's
            sample covariances and means per group (nonparametric bootstraps). It returns
            an array whose first axis runs over those R replicates, or a dict of such arrays.
        jackknife
            Evaluate on the leave-one-out samples (:meth:`jackknife`, one per case; each
            case left out of its own group) instead, e.g. for the BCa acceleration.
        include_inadmissible
            Use inadmissible replicates too (default, as lavaan); failed ones never count.

        Returns
        -------
        ndarray or dict of ndarray
            One row per replicate (``n_resamples`` rows; per case with ``jackknife``), NaN
            for replicates left out.

        Examples
        --------
        >>> ratio = boot.statistic(lambda rep: rep.theta[:, 1] / rep.theta[:, 0])  # doctest: +SKIP
        """
        return evaluate_statistic(self, fn, jackknife=jackknife, include_inadmissible=include_inadmissible)

    def jackknife(self) -> pd.DataFrame:
        """Leave-one-out values of every column (one row per observation), computed once
        with the batched engine; used for the BCa acceleration."""
        if "jackknife" not in self._cache:
            if self._jackknife_runner is None:
                raise ArgumentError("jackknife: this result cannot compute jackknife values "
                                    "(it was not made by lcsem.bootstrap)")
            self._cache["jackknife"] = self._jackknife_runner()
        return self._cache["jackknife"]

    # ------------------------------------------------------------------ storage
    def to_dict(self, include_jackknife: bool = True) -> dict[str, Any]:
        """A JSON-serialisable dict of this result (see
        :func:`bootstrap_result_to_dict`); ``include_jackknife`` stores the
        leave-one-out values so that BCa intervals work on the rebuilt result."""
        return bootstrap_result_to_dict(self, include_jackknife=include_jackknife)

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> "BootstrapResult":
        """Rebuild (and validate) a result from :meth:`to_dict`'s output."""
        return bootstrap_result_from_dict(payload)

    def _check_rebuilt(self) -> None:
        """Refuse a result rebuilt from a payload whose parts do not fit together."""
        check_rebuilt(self)

    # ------------------------------------------------------------------ display
    def summary(self, format: str = "text", level: float = 0.95, method: str = "percentile",
                digits: int = 3) -> str:
        """Fit indices and parameters with bootstrap SEs and confidence intervals.

        For a Bollen–Stine bootstrap the fit indices come first, each against its
        reference distribution if the model were true (:meth:`fit_reference`: mean, 5% and
        95% quantiles, the bad-tail cut-off and the p-value), and the parameter table
        follows. For a naive (nonparametric) bootstrap the fit-index rows' interval is the
        middle of the draws, which shows the sampling variability of the misfit and is not
        a confidence interval of the sample value; a note under the table says so.
        """
        if format not in FORMATS:
            raise ArgumentError(f"format: {format!r} is not one of {FORMATS}")
        table = self.ci(level=level, method=method)
        table.insert(1, "se", self.se.reindex(table.index))
        # shown as in every report table: '≤ floor' when no replicate fell beyond 0
        used = self.n_resamples - self.n_failed
        table["pvalue"] = [format_boot_p(p, used, digits) if np.isfinite(p) else np.nan
                           for p in self.pvalues.reindex(table.index)]
        head = (f"{self.kind} bootstrap, {self.n_resamples} replicates (seed {self.seed}): "
                f"{self.n_failed} failed, {self.n_inadmissible} inadmissible"
                f"{'; INTERRUPTED' if self.interrupted else ''}")
        sections = []
        caption = f"{int(level * 100)}% {method} intervals"
        if self.kind == "bollen-stine":
            head += f"; Bollen-Stine p {self._bollen_stine_text(digits)}"
            sections.append(self._reference_section(format, digits))
            table = table.drop(index=[c for c in BOOTSTRAP_INDEX_NAMES if c in table.index])
            caption = f"Parameters: {caption}"
        sections.append(render_table(table, format, digits=digits, caption=caption))
        if self.kind == "nonparametric":
            sections.append(_NAIVE_NOTE.format(pct=f"{level * 100:g}%"))
        elif self.kind == "parametric":
            sections.append(_PARAMETRIC_NOTE)
        if format == "html":
            body = "".join(s if s.lstrip().startswith("<") else f"<p>{s}</p>" for s in sections)
            return f"<div class=\"lcsem-bootstrap\"><p>{head}</p>{body}</div>"
        return head + "\n\n" + "\n\n".join(sections)

    def _reference_section(self, format: str, digits: int) -> str:
        """The fit indices against their Bollen–Stine reference distributions."""
        ref = self.fit_reference()
        used = ref.attrs["n_draws"]
        ref["pvalue"] = [format_boot_p(p, used, digits, sides=1) for p in ref["pvalue"]]
        caption = (f"Fit indices against their reference distribution if the model were true "
                   f"(Bollen-Stine, {used} replicates): p = share of replicates with an index at least "
                   f"this bad, (1 + k)/(B + 1); cutoff = the worse-tail 5% quantile for this model, N "
                   f"and data (Kim & Millsap, 2014)")
        return render_table(ref, format, digits=digits, caption=caption)

    def _bollen_stine_text(self, digits: int) -> str:
        """``= .034`` or ``≤ .001`` (at the floor 1/(B + 1)), as in the report tables."""
        text = format_boot_p(self.pvalue, self.n_resamples - self.n_failed, digits, sides=1)
        return text if text.startswith(("≤", "<")) else f"= {text}"

    def _repr_html_(self) -> str:
        return self.summary("html")

    def __repr__(self) -> str:
        extra = f" Bollen-Stine p {self._bollen_stine_text(3)}" if self.kind == "bollen-stine" else ""
        return (f"<lcsem.BootstrapResult {self.kind} n_resamples={self.n_resamples} failed={self.n_failed} "
                f"inadmissible={self.n_inadmissible}{extra}{' INTERRUPTED' if self.interrupted else ''}>")


_NAIVE_NOTE = ("Fit-index rows (chisq to bic): the middle {pct} of the naive draws is the sampling "
               "variability of the misfit, not a CI of the sample value: each resample adds its own "
               "misfit to the sample's (Bollen & Stine, 1992), so it can exclude the sample value. To "
               "judge fit, use lcsem.bootstrap(res, B, kind='bollen-stine').fit_reference().")
_PARAMETRIC_NOTE = ("Fit-index rows (chisq to bic): draws from the fitted model with normal data, a "
                    "reference distribution if the model were true, not a CI of the sample value.")


def _reference_pvalue(draws: np.ndarray, observed: float, worse: str) -> float:
    """``(1 + #(draws at least as bad as observed)) / (B + 1)``; ``worse`` is ``"higher"``
    or ``"lower"``."""
    if worse == "higher":
        return upper_tail_pvalue(draws, observed)
    return upper_tail_pvalue(-np.asarray(draws, dtype=float), -observed)


# ---------------------------------------------------------------------- storage
def check_rebuilt(boot: BootstrapResult) -> None:
    """Refuse a rebuilt :class:`~lcsem.BootstrapResult` whose parts do not fit together."""
    def bad(what: str) -> ArgumentError:
        return ArgumentError(f"payload: {what}; the payload was edited or is corrupt: pass the "
                             f"unchanged output of BootstrapResult.to_dict()")

    if not isinstance(boot.fit, FitResult):
        raise bad(f"'fit' is a {type(boot.fit).__name__}, not a FitResult")
    if boot.kind not in KINDS:
        raise bad(f"kind {boot.kind!r} is not one of {KINDS}")
    n = boot.n_resamples
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise bad(f"n_resamples {n!r} is not a count")
    dist = boot.distribution
    if not isinstance(dist, pd.DataFrame) or dist.shape[0] != n:
        raise bad(f"the distribution does not have n_resamples={n} rows")
    if not all(isinstance(c, str) for c in dist.columns) or not all(
            pd.api.types.is_float_dtype(dist[c]) for c in dist.columns):
        raise bad("the distribution's columns must be named by text and hold numbers")
    if not isinstance(boot.estimate, pd.Series) or list(boot.estimate.index) != list(dist.columns):
        raise bad("the estimate does not name the distribution's columns")
    status = boot.status
    if (not isinstance(status, pd.Series) or len(status) != n
            or not set(map(str, status)) <= set(map(str, STATUS_NAMES))):
        raise bad(f"status must hold {n} values among {list(map(str, STATUS_NAMES))}")
    if not isinstance(boot.failure_reasons, dict):
        raise bad("failure_reasons must be a dict")
    idx = boot.indices
    if isinstance(idx, ResampleIndices):
        if idx.shape != (n, boot.fit.data.shape[0]):
            raise bad(f"indices describe {idx.shape[0]} replicates of {idx.shape[1]} rows, not {n} of "
                      f"{boot.fit.data.shape[0]}")
    elif idx is not None:
        n_obs = boot.fit.data.shape[0]
        if (not isinstance(idx, np.ndarray) or idx.dtype.kind not in "iu" or idx.shape != (n, n_obs)
                or (idx.size and (idx.min() < 0 or idx.max() >= n_obs))):
            raise bad(f"indices must be an integer array of shape ({n}, {n_obs}) with row positions "
                      f"of the stored data")


def bootstrap_result_to_dict(boot: BootstrapResult, include_jackknife: bool = True) -> dict[str, Any]:
    """A JSON-safe dict of a :class:`~lcsem.BootstrapResult` (with its :class:`FitResult`,
    the distribution, replicate status and resampled row indices).

    Parameters
    ----------
    boot
        The bootstrap result.
    include_jackknife
        Compute (if not yet done) and store the leave-one-out values that BCa intervals
        need, so that ``ci(method="bca")`` works on the rebuilt result. Without them the
        rebuilt result gives percentile, BC and normal intervals only.
    """
    if not isinstance(boot, BootstrapResult):
        raise ArgumentError(f"boot: expected an lcsem.BootstrapResult, got {type(boot).__name__}")
    if not isinstance(include_jackknife, bool):
        raise ArgumentError(f"include_jackknife: expected True or False, got {include_jackknife!r}")
    if include_jackknife and getattr(boot, "_jackknife_runner", None) is not None:
        boot.jackknife()          # fills the result's cache, which is stored below
    if isinstance(boot.indices, ResampleIndices):
        # not kept: stored as None and drawn again from the seed when rebuilt
        boot = dataclasses.replace(boot, indices=None)
    return result_to_dict(boot)


def bootstrap_result_from_dict(payload: Mapping[str, Any]) -> BootstrapResult:
    """Rebuild a :class:`~lcsem.BootstrapResult` from :func:`bootstrap_result_to_dict`'s output."""
    if not isinstance(payload, Mapping) or payload.get("format") != "lcsem.bootstrap.BootstrapResult":
        found = payload.get("format") if isinstance(payload, Mapping) else type(payload).__name__
        raise ArgumentError(f"payload: expected the dict written by bootstrap_result_to_dict(), got "
                            f"format {found!r}")
    boot = result_from_dict(payload)
    if (boot.indices is None and boot.kind != "parametric" and isinstance(boot.fit, FitResult)
            and boot.fit.data is not None and boot.fit.data.shape[0]):
        # a run that did not keep its indices: they follow from the seed
        boot = dataclasses.replace(boot, indices=indices_of(boot.fit, boot.seed, boot.n_resamples))
        boot._check_rebuilt()
    return boot
