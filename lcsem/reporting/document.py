"""``report(res)``: the methods paragraph and APA-style tables of a fitted model, in
Markdown, LaTeX, HTML (notebook display) or plain text."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._warnings import quiet, warn
from ..exceptions import ArgumentError, UnstableRatioWarning
from .methods import methods_paragraph
from ..analysis.ordinal_measurement import ordinal_reliability
from ..display.render import FORMATS, render_table
from ..display.escape import html_escape, latex_escape
from ..display.format import format_ci, format_number
from .tables import (effects_table, fit_table, group_effects_table, group_structural_table, htmt_table,
                     means_table, measurement_table, structural_table, validity_table)
from ..results.fit_result import FitResult
from ..analysis.mediation import check_bootstrap_of, effects as _effects
from ..analysis.validity import measurement as _measurement
from ..resampling.result import BootstrapResult

__all__ = ["report", "Report"]

# how bootstrap p-values are computed and shown (lcsem.resampling.intervals.bootstrap_pvalue)
BOOT_P_RULE = ("2(1 + k)/(B + 1) with k of the B replicates on the far side of 0 (never 0; "
               "'≤' marks the smallest value B replicates can resolve)")


class Report(str):
    """The rendered report: a ``str`` that notebooks display as HTML when it is HTML."""

    format: str = "markdown"

    def _repr_html_(self) -> str | None:
        return str(self) if self.format == "html" else None

    def _repr_markdown_(self) -> str | None:
        return str(self) if self.format == "markdown" else None


_LATEX_SYMBOLS = ((" -> ", r" $\to$ "), (" => ", r" $\Rightarrow$ "), ("χ²", r"$\chi^2$"), ("R²", r"$R^2$"), ("²", r"$^2$"), ("χ", r"$\chi$"),
                  ("λ", r"$\lambda$"), ("α", r"$\alpha$"), ("ω", r"$\omega$"), ("β", r"$\beta$"),
                  ("≥", r"$\geq$"), ("≤", r"$\leq$"), ("< ", "$<$ "), ("> ", "$>$ "), ("–", "--"),
                  ("—", "---"))


def latex_symbols(text: str) -> str:
    """Replace the Unicode symbols of the tables by LaTeX math, so that the output
    compiles with pdflatex as well as with XeLaTeX/LuaLaTeX."""
    for old, new in _LATEX_SYMBOLS:
        text = text.replace(old, new)
    return text


def _heading(text: str, fmt: str) -> str:
    if fmt == "markdown":
        return f"### {text}"
    if fmt == "latex":
        return rf"\subsection*{{{text}}}"
    if fmt == "html":
        return f"<h3>{html_escape(text)}</h3>"
    return f"{text}\n{'=' * len(text)}"


def _paragraph(text: str, fmt: str) -> str:
    if fmt == "html":
        return f"<p>{html_escape(text)}</p>"
    if fmt == "latex":
        return latex_escape(text)
    if fmt == "text":
        import textwrap

        return textwrap.fill(text, width=88)
    return text


def _note(text: str, fmt: str) -> str:
    if fmt == "markdown":
        return f"*Note.* {text}"
    if fmt == "html":
        return f"<p><small><em>Note.</em> {html_escape(text)}</small></p>"
    if fmt == "latex":
        return r"\textit{Note.} " + _paragraph(text, fmt)
    import textwrap

    return textwrap.fill(f"Note. {text}", width=88)


def report(res: FitResult, *, boot: BootstrapResult | None = None, format: str = "markdown", digits: int = 3, level: float = 0.95,
           method: str = "percentile", measurement: bool = True, effects: bool = True) -> str:
    """Methods paragraph and publication tables of a fitted model.

    Parameters
    ----------
    res
        A fitted :class:`lcsem.FitResult`.
    boot
        Optional :class:`lcsem.BootstrapResult` of ``res``: paths and effects then get
        bootstrap intervals and p-values, HTMT gets one-sided bootstrap upper bounds, and
        the methods paragraph names the replicates and seed.
    format
        ``"markdown"`` (default), ``"latex"``, ``"html"`` or ``"text"``.
    digits
        Decimals shown.
    level, method
        Confidence level and bootstrap interval method (``"percentile"``, ``"bc"``, ``"bca"``).
    measurement, effects
        Include the measurement-quality tables (models with constructs) and the effects
        table (models with indirect effects or ``:=`` definitions).

    Returns
    -------
    str
        The report (a :class:`Report`, a ``str`` that notebooks render).
    """

    if not isinstance(res, FitResult):
        raise ArgumentError(f"res: expected a fitted lcsem.FitResult, got {type(res).__name__}")
    if format not in FORMATS:
        raise ArgumentError(f"format: {format!r} is not one of {FORMATS}")
    if not isinstance(digits, int) or digits < 0:
        raise ArgumentError(f"digits: {digits!r} is not a non-negative integer")
    multi = bool(res.group_labels)
    if boot is not None:
        check_bootstrap_of(boot, res)
    meas = eff = None
    eff_notes: list[str] = []
    ordinal = getattr(res, "ordinal", None) is not None
    if measurement and res.model.latent and not ordinal:
        # measurement() reads its statistics from the bootstrap's replicates (per group for
        # a multi-group bootstrap), through BootstrapResult.statistic
        meas = _measurement(res, boot=_measurement_boot(boot), level=level, method=method)
    if effects:
        try:
            with quiet() as caught:
                eff = _effects(res, boot, method=method, level=level)
            eff_notes = [w.message for w in caught if issubclass(w.category, UnstableRatioWarning)]
            for w in caught:
                if not issubclass(w.category, UnstableRatioWarning):
                    warn(w.message, w.category, stacklevel=2)
        except ArgumentError:
            eff = None
    ci_kind = "delta-method" if boot is None else f"bootstrap {method}"
    meas_ci_kind = ci_kind if _measurement_boot(boot) is not None else "delta-method"
    parts = [_heading("Method", format), _paragraph(methods_paragraph(
        res, boot, measurement=meas, effects=eff, method=method, level=level), format)]
    n = 1

    def table(frame: pd.DataFrame, caption: str, note: str = "", index: bool = True) -> None:
        nonlocal n
        if format == "latex":   # LaTeX numbers captions itself; the note stays inside the float
            body = render_table(frame, format, digits=digits, index=index, caption=caption)
            if note:
                body = body.replace(r"\end{table}", "\\par\\smallskip\\parbox{\\linewidth}{\\footnotesize "
                                    + _note(note, format) + "}\n" + r"\end{table}")
            parts.append(body)
        else:
            parts.append(render_table(frame, format, digits=digits, index=index, caption=f"Table {n}. {caption}"))
            if note:
                parts.append(_note(note, format))
        n += 1

    parts.append(_heading("Results", format))
    fi = res.fit_indices
    sizes = ("" if not multi else " (" + "; ".join(f"{label}: {view.n_obs}" for label, view in res.groups.items())
             + "); χ² is the sum over the groups")
    if np.isfinite(float(fi.get("chisq_scaled", np.nan))):
        statistic = (f"Scaled χ² = {fi['chisq_scaled']:.{digits}f} ({res.estimator}; scaling factor "
                     f"{float(fi.get('chisq_scaling_factor', np.nan)):.{digits}f}); CFI, TLI and RMSEA are the "
                     f"robust versions (scaled where lavaan gives no robust one)")
    else:
        statistic = f"χ² = {fi['chisq']:.{digits}f}, df = {int(fi['df'])}"
    table(fit_table(res, boot, digits), "Model fit",
          f"N = {res.n_obs}{sizes}. {statistic}. Guidelines after Hu and Bentler (1999).")
    if ordinal and measurement and res.model.latent:
        _ordinal_measurement_table(table, res, digits, level)
    if meas is not None and multi:
        for label, m in meas.groups.items():
            where = f" ({res.group} = {label}, N = {res.groups[label].n_obs})"
            _measurement_tables(table, m, digits, level, meas_ci_kind, where)
    elif meas is not None:
        table(measurement_table(meas, digits), "Measurement model: standardised loadings and reliability",
              f"λ: standardised loading ({meas_ci_kind} {level:.0%} CI); α: Cronbach's alpha; CR (ω): composite "
              "reliability with the observed variance of the sum score (semTools' compRelSEM default); "
              "AVE: average variance extracted. Estimated on the CFA of the measurement part."
              + ("".join(" " + x for x in meas.notes if "single indicator" in x or "cross-loading" in x)))
        table(validity_table(meas, digits), "Discriminant validity (Fornell–Larcker)",
              "Diagonal: square root of AVE; below it: construct correlations of the CFA. "
              "MSV/ASV: maximum/average squared correlation with the other constructs. "
              "Passed for: " + (", ".join(c for c, ok in meas.fornell_larcker_passed.items() if ok) or "none") + ".")
        ht = htmt_table(meas, digits)
        if not ht.empty:
            table(ht, "Heterotrait–monotrait ratios",
                  "HTMT: arithmetic means of absolute item correlations; HTMT2: geometric means."
                  + (f" Upper: one-sided {level:.0%} bootstrap bound; '< .85'/'< .90': the bound stays "
                     "below the threshold (discriminant validity supported)." if meas.n_boot_used else ""))
    st = (group_structural_table(res, boot, level=level, method=method, digits=digits) if multi
          else structural_table(res, boot, level=level, method=method, digits=digits))
    if not st.empty:
        table(st, "Structural paths",
              f"b: unstandardised; β: standardised (std.all) with its {ci_kind} {level:.0%} CI; "
              + (f"p: two-sided bootstrap p-value, {BOOT_P_RULE}." if boot is not None else "p: z-test.")
              + (" Each group's estimates from the joint fit." if multi else ""))
    # an ordinal fit's mean structure is its identification (intercepts of the latent
    # responses fixed at 0) unless some means are free (groups 2..G of an invariance model)
    free_means = any(r.op == "~1" and r.free for r in res.rows)
    if res.grouped and (not ordinal or free_means):
        mt = means_table(res, boot, level=level, method=method, digits=digits)
        if not mt.empty:
            table(mt, "Intercepts and latent means",
                  "b: unstandardised intercept (observed variables) or mean (latent variables); "
                  + (f"CI: bootstrap {method} {level:.0%} interval; p: two-sided bootstrap p-value, {BOOT_P_RULE}; "
                     if boot is not None else "p: z-test; ") +
                  "fixed: not estimated (latent means fixed at 0 identify the mean structure)"
                  + ("; equal across groups: one parameter shared by the groups (group_equal or a shared label)."
                     if multi else "."))
    if eff is not None:
        note = (f"Estimate with delta-method SE; {ci_kind} {level:.0%} CIs"
                + (f" from {eff.n_boot_used} replicates; p: two-sided bootstrap p-value, {BOOT_P_RULE}."
                   if boot is not None else "; p: z-test."))
        if eff_notes:
            note += " " + " ".join(eff_notes)
        elif any(eff.table["effect"] == "proportion mediated"):
            note += " The proportion mediated is an unstable ratio; interpret it with care."
        if multi:
            note += " Each group's effects use its own estimates; 'all groups': the ':=' definitions of the whole model."
        table(group_effects_table(eff, digits) if multi else effects_table(eff, digits),
              "Direct, indirect and total effects", note)
    if format == "html":
        out = '<div class="lcsem-report">' + "".join(parts) + "</div>"
    else:
        out = "\n\n".join(parts) + "\n"
    if format == "latex":
        out = latex_symbols(out)
    rep = Report(out)
    rep.format = format
    return rep


def _ordinal_measurement_table(table: Any, res: FitResult, digits: int, level: float) -> None:
    """Standardised loadings (on the latent responses) and categorical omega of an ordinal fit."""
    std = res.standardized_solution(level=level)
    loadings = std[std["op"] == "=~"]
    multi = bool(res.group_labels)
    omega = None if multi else ordinal_reliability(res)
    records = []
    seen: set[tuple[Any, str]] = set()
    for _, row in loadings.iterrows():
        key = (row.get("group", 1), row["lhs"])
        first = key not in seen
        seen.add(key)
        record = {"Construct": row["lhs"] if first else "", "Indicator": row["rhs"],
                  "λ (std.)": format_number(row["est_std"], digits),
                  f"{level:.0%} CI": format_ci(row["ci_lower_std"], row["ci_upper_std"], digits)}
        if multi:
            record = {"Group": res.group_labels[int(row["group"]) - 1] if first else "", **record}
        if omega is not None:
            record["ω (categorical)"] = format_number(omega.loc[row["lhs"], "omega_categorical"], digits) if first else ""
            record["ω (latent responses)"] = (format_number(omega.loc[row["lhs"], "omega_latent_response"], digits)
                                             if first else "")
        records.append(record)
    frame = pd.DataFrame.from_records(records).set_index("Group" if multi else "Construct")
    note = (f"λ: standardised loading on the latent responses (delta-method {level:.0%} CI). ")
    if omega is not None:
        note += ("ω (categorical): reliability of the sum of the category scores (Green & Yang, 2009; "
                 "semTools' compRelSEM default); ω (latent responses): of the sum of the latent responses. "
                 "Alpha, AVE and HTMT of ordered items are not reported (they assume interval scores).")
    else:
        note += "Reliability of ordered items is reported for single-group fits (lcsem.ordinal_reliability)."
    table(frame, "Measurement model (ordered items): standardised loadings and reliability", note)


def _measurement_boot(boot: Any) -> Any:
    """Measurement bounds need the resamples of a nonparametric bootstrap."""
    if boot is None or getattr(boot, "indices", None) is None or getattr(boot, "kind", "") != "nonparametric":
        return None
    return boot


def _measurement_tables(table: Any, meas: Any, digits: int, level: float, ci_kind: str, where: str) -> None:
    """The loadings/reliability, Fornell–Larcker and HTMT tables of one group."""
    table(measurement_table(meas, digits), f"Measurement model: standardised loadings and reliability{where}",
          f"λ: standardised loading ({ci_kind} {level:.0%} CI); α: Cronbach's alpha; CR (ω): composite "
          "reliability with the observed variance of the sum score (semTools' compRelSEM default); "
          "AVE: average variance extracted. Estimated on the multi-group CFA of the measurement part."
          + ("".join(" " + x for x in meas.notes if "single indicator" in x or "cross-loading" in x)))
    table(validity_table(meas, digits), f"Discriminant validity (Fornell–Larcker){where}",
          "Diagonal: square root of AVE; below it: construct correlations of the CFA. "
          "MSV/ASV: maximum/average squared correlation with the other constructs. "
          "Passed for: " + (", ".join(c for c, ok in meas.fornell_larcker_passed.items() if ok) or "none") + ".")
    ht = htmt_table(meas, digits)
    if not ht.empty:
        table(ht, f"Heterotrait–monotrait ratios{where}",
              "HTMT: arithmetic means of absolute item correlations; HTMT2: geometric means.")
