"""APA-style tables as DataFrames of formatted cells: model fit, measurement (loadings and
reliability), discriminant validity (Fornell–Larcker and HTMT), structural paths with R²,
and effects. Render them with :func:`lcsem.display.render.render_table`.

Numbers are formatted as text following APA 7: ``p`` without a leading zero and as
``< .001`` below .001; intervals as ``[lower, upper]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..results.fit_result import FitResult, parameter_name
from ..display.format import format_boot_p, format_ci, format_number, format_p, format_raw
from ..resampling.result import BootstrapResult
from ..analysis.mediation import EffectsResult, group_bootstrap
from ..analysis.validity import MeasurementResult

__all__ = ["fit_table", "measurement_table", "means_table", "group_structural_table", "group_effects_table",
           "validity_table", "htmt_table", "structural_table", "effects_table"]


# ---------------------------------------------------------------------------- fit
def _robust_index(fi: pd.Series, name: str) -> float:
    """lavaan's robust version of an index, else its scaled version, else NaN."""
    for key in (f"{name}_robust", f"{name}_scaled"):
        value = float(fi.get(key, np.nan))
        if np.isfinite(value):
            return value
    return float("nan")


def fit_table(res: FitResult, boot: BootstrapResult | None = None, digits: int = 3) -> pd.DataFrame:
    """Model fit: chi-square test, CFI, TLI, RMSEA with its 90% CI and p-close, SRMR;
    the Bollen–Stine p when ``boot`` is a Bollen–Stine bootstrap; conventional guides
    (Hu & Bentler, 1999) beside each index. For a robust estimator (MLM, MLR, WLSMV, ...)
    the scaled χ² with its scaling factor and the robust indices (``*_robust``, else
    ``*_scaled`` where lavaan gives no robust one), with the normal-theory χ² beside them."""
    fi = res.fit_indices
    if np.isfinite(float(fi.get("chisq_scaled", np.nan))):
        return _robust_fit_table(res, digits)
    rows = [
        ("χ²", format_number(fi["chisq"], digits), ""),
        ("df", str(int(fi["df"])), ""),
        ("p", format_p(fi["pvalue"], digits), "> .05"),
        ("CFI", format_number(fi["cfi"], digits), "≥ .95"),
        ("TLI", format_number(fi["tli"], digits), "≥ .95"),
        ("RMSEA [90% CI]", f"{format_number(fi['rmsea'], digits)} "
                           f"{format_ci(fi['rmsea_ci_lower'], fi['rmsea_ci_upper'], digits)}", "≤ .06"),
        ("RMSEA p-close", format_p(fi["rmsea_pvalue"], digits), "> .05"),
        ("SRMR", format_number(fi["srmr"], digits), "≤ .08"),
    ]
    if boot is not None and getattr(boot, "kind", "") == "bollen-stine":
        ok = boot.n_resamples - getattr(boot, "n_failed", 0)
        rows.insert(3, (f"Bollen–Stine p ({ok} resamples)", format_boot_p(boot.pvalue, ok, digits, sides=1),
                        "> .05"))
    frame = pd.DataFrame(rows, columns=["Index", "Value", "Guideline"])
    return frame.set_index("Index")


def _robust_fit_table(res: FitResult, digits: int) -> pd.DataFrame:
    fi = res.fit_indices
    df_scaled = float(fi.get("df_scaled", fi["df"]))
    rows = [
        (f"χ² ({res.estimator}, scaled)", format_number(fi["chisq_scaled"], digits), ""),
        ("df", str(int(df_scaled)) if df_scaled.is_integer() else format_number(df_scaled, 2), ""),
        ("p", format_p(fi["pvalue_scaled"], digits), "> .05"),
        ("Scaling factor", format_number(fi.get("chisq_scaling_factor", np.nan), digits), ""),
        ("χ² (unscaled)", f"{format_number(fi['chisq'], digits)}, df = {int(fi['df'])}, "
                          f"p {_p_phrase(fi['pvalue'], digits)}", ""),
        ("CFI (robust)", format_number(_robust_index(fi, "cfi"), digits), "≥ .95"),
        ("TLI (robust)", format_number(_robust_index(fi, "tli"), digits), "≥ .95"),
        ("RMSEA (robust) [90% CI]", f"{format_number(_robust_index(fi, 'rmsea'), digits)} "
                                    f"{format_ci(_robust_index(fi, 'rmsea_ci_lower'), _robust_index(fi, 'rmsea_ci_upper'), digits)}",
         "≤ .06"),
        ("SRMR", format_number(fi["srmr"], digits), "≤ .08"),
    ]
    return pd.DataFrame(rows, columns=["Index", "Value", "Guideline"]).set_index("Index")


def _p_phrase(p: float, digits: int) -> str:
    text = format_p(p, digits)
    return text if text.startswith("<") else f"= {text}"


# ---------------------------------------------------------------------------- measurement
def measurement_table(meas: MeasurementResult, digits: int = 3) -> pd.DataFrame:
    """One row per indicator: standardised loading with its CI; alpha, composite
    reliability (omega) and AVE on each construct's first row."""
    rel = meas.reliability
    records = []
    seen: set[str] = set()
    ci_head = f"{meas.level:.0%} CI"
    for _, row in meas.loadings.iterrows():
        c = row["construct"]
        first = c not in seen
        seen.add(c)
        records.append({
            "Construct": c if first else "", "Indicator": row["indicator"],
            "λ (std.)": format_number(row["std"], digits),
            ci_head: format_ci(row["ci_lower"], row["ci_upper"], digits),
            "α": format_number(rel.loc[c, "alpha"], digits) if first else "",
            "CR (ω)": format_number(rel.loc[c, "omega"], digits) if first else "",
            "AVE": format_number(rel.loc[c, "ave"], digits) if first else ""})
    return pd.DataFrame.from_records(records).set_index("Construct")


def validity_table(meas: MeasurementResult, digits: int = 3) -> pd.DataFrame:
    """Fornell–Larcker: CR, AVE, MSV, ASV and the construct correlations (lower
    triangle) with sqrt(AVE) on the diagonal."""
    rel = meas.reliability
    names = list(rel.index)
    fl = meas.fornell_larcker
    records = []
    for i, c in enumerate(names):
        rec = {"Construct": c, "CR (ω)": format_number(rel.loc[c, "omega"], digits),
               "AVE": format_number(rel.loc[c, "ave"], digits),
               "MSV": format_number(rel.loc[c, "msv"], digits),
               "ASV": format_number(rel.loc[c, "asv"], digits)}
        for j, other in enumerate(names):
            rec[other] = format_number(fl.loc[c, other], digits) if j <= i else ""
        records.append(rec)
    return pd.DataFrame.from_records(records).set_index("Construct")


def htmt_table(meas: MeasurementResult, digits: int = 3) -> pd.DataFrame:
    """HTMT and HTMT2 per pair of constructs, with one-sided bootstrap upper bounds and
    whether each bound stays below .85 and .90 when a bootstrap was given."""
    records = []
    inf = meas.htmt_inference
    for _, row in inf.iterrows():
        rec = {"Pair": f"{row['construct_a']} – {row['construct_b']}",
               "HTMT": format_number(row["htmt"], digits), "HTMT2": format_number(row["htmt2"], digits)}
        if "htmt_upper" in inf.columns:
            rec[f"HTMT upper {meas.level:.0%}"] = format_number(row["htmt_upper"], digits)
            rec[f"HTMT2 upper {meas.level:.0%}"] = format_number(row["htmt2_upper"], digits)
            rec["< .85"] = "no" if row["flag_85"] else "yes"
            rec["< .90"] = "no" if row["flag_90"] else "yes"
        records.append(rec)
    return pd.DataFrame.from_records(records).set_index("Pair") if records else pd.DataFrame()


# ---------------------------------------------------------------------------- structural
def _boot_intervals(boot: Any, names: list[str], level: float, method: str) -> pd.DataFrame | None:
    if boot is None:
        return None
    wanted = [n for n in names if n in boot.distribution.columns]
    if not wanted:
        return None
    return boot.ci(level=level, method=method, stats=wanted)


def structural_table(res: FitResult, boot: BootstrapResult | None = None, *, level: float = 0.95, method: str = "percentile",
                     digits: int = 3) -> pd.DataFrame:
    """Structural paths (``~`` rows): unstandardised b, SE, standardised β, its CI and p,
    and R² of each outcome. CIs and p-values are from the bootstrap when one is given
    (``method`` interval; bootstrap p), else from the delta method (z-test)."""
    est = res.estimates
    paths = est[est["op"] == "~"]
    names = [parameter_name(l, o, r) for l, o, r in zip(paths["lhs"], paths["op"], paths["rhs"])]
    ci = _boot_intervals(boot, ["std:" + n for n in names], level, method)
    pvals = getattr(boot, "pvalues", None) if boot is not None else None
    n_boot = int(boot.n_resamples - getattr(boot, "n_failed", 0)) if boot is not None else 0
    delta = res.standardized_solution("std_all", level=level)   # delta-method CIs of beta
    records = []
    for (idx, row), name in zip(paths.iterrows(), names):
        if ci is not None and "std:" + name in ci.index:
            lo, hi = ci.loc["std:" + name, "lower"], ci.loc["std:" + name, "upper"]
        else:
            lo, hi = delta.loc[idx, "ci_lower_std"], delta.loc[idx, "ci_upper_std"]
        if pvals is not None and name in pvals.index:
            p_text = format_boot_p(pvals[name], n_boot, digits)
        else:
            p_text = format_p(row["pvalue"], digits)
        records.append({"Outcome": row["lhs"], "Predictor": row["rhs"], "Label": row["label"],
                        "b": format_raw(row["est"], digits), "SE": format_raw(row["se"], digits),
                        "β": format_number(row["std_all"], digits),
                        f"{level:.0%} CI (β)": format_ci(lo, hi, digits), "p": p_text,
                        "R² (outcome)": format_number(res.r2.get(row["lhs"], np.nan), digits)})
    frame = pd.DataFrame.from_records(records)
    if frame.empty:
        return frame
    if not frame["Label"].astype(bool).any():
        frame = frame.drop(columns="Label")
    return frame.set_index("Outcome")


def effects_table(eff: EffectsResult, digits: int = 3, *, compact: bool = True) -> pd.DataFrame:
    """Effects: kind, path, estimate, delta-method SE, interval, p and the standardised
    effect with its interval.

    With ``compact`` (default), a ``:=`` definition equal to an enumerated effect is
    not repeated (its name is added to that effect's row), a total indirect effect made
    of one chain is not repeated, and the proportion mediated shows no p-value.
    """
    t = eff.table
    ci_head = f"{eff.level:.0%} CI"
    alias: dict[str, list[str]] = {}
    skip: set[str] = set()
    if compact:
        enumerated = t[t["effect"] != "defined"]
        for name, row in t[t["effect"] == "defined"].iterrows():
            same = enumerated.index[np.isclose(enumerated["est"], row["est"], rtol=0, atol=1e-10)
                                    & (enumerated["effect"] != "proportion mediated")]
            if len(same):
                alias.setdefault(same[0], []).append(str(name))
                skip.add(name)
        for (s, o), group in enumerated.groupby(["source", "outcome"], sort=False):
            if (group["effect"] == "indirect").sum() == 1:
                skip.update(group.index[group["effect"] == "total indirect"])
    records = []
    for name, row in t.iterrows():
        if name in skip:
            continue
        path = row["path"] + (f" ({', '.join(alias[name])})" if name in alias else "")
        ratio = compact and row["effect"] == "proportion mediated"
        unit_free = row["effect"] == "proportion mediated"     # the others are in the data's units
        records.append({"Effect": row["effect"], "Path": path,
                        "Estimate": format_number(row["est"], digits) if unit_free else format_raw(row["est"], digits),
                        "SE": format_number(row["se"], digits) if unit_free else format_raw(row["se"], digits),
                        ci_head: format_ci(row["ci_lower"], row["ci_upper"], digits, raw=not unit_free),
                        "p": "" if ratio else (format_boot_p(row["pvalue"], eff.n_boot_used, digits)
                                               if eff.n_boot_used else format_p(row["pvalue"], digits)),
                        "β": "" if ratio else format_number(row["std"], digits),
                        f"{ci_head} (β)": "" if ratio else format_ci(row["std_ci_lower"], row["std_ci_upper"], digits)})
    return pd.DataFrame.from_records(records).set_index("Effect")


# ---------------------------------------------------------------------------- groups and means
def _group_column(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Stack per-group tables (each indexed by its first column) under a ``Group`` index
    that names each group on its first row only."""
    out = []
    for label, frame in frames.items():
        if frame.empty:
            continue
        flat = frame.reset_index()
        flat.insert(0, "Group", [label] + [""] * (len(flat) - 1))
        out.append(flat)
    if not out:
        return pd.DataFrame()
    return pd.concat(out, ignore_index=True).set_index("Group")


def group_structural_table(res: FitResult, boot: BootstrapResult | None = None, *, level: float = 0.95,
                           method: str = "percentile", digits: int = 3) -> pd.DataFrame:
    """Structural paths of every group of a multi-group fit (each from its view,
    :func:`structural_table`), stacked under a ``Group`` column. With ``boot`` (the
    bootstrap of ``res``), each group's intervals and p-values come from its own columns
    (``"<name>@<group label>"``)."""
    return _group_column({label: structural_table(view, None if boot is None else group_bootstrap(boot, res, label, view),
                                                  level=level, method=method, digits=digits)
                          for label, view in res.groups.items()})


def group_effects_table(eff: EffectsResult, digits: int = 3) -> pd.DataFrame:
    """Effects of a multi-group result: each group's (:func:`effects_table` of
    ``eff.groups[label]``), then the whole model's ``:=`` definitions (group "all")."""
    frames = {label: effects_table(e, digits) for label, e in eff.groups.items()}
    defined = eff.table[eff.table["group"] == ""] if "group" in eff.table.columns else eff.table.iloc[:0]
    if len(defined):
        whole = EffectsResult(table=defined.drop(columns="group"), ci_method=eff.ci_method, level=eff.level,
                              n_boot_used=eff.n_boot_used)
        frames["all groups"] = effects_table(whole, digits, compact=False)
    return _group_column(frames)


def means_table(res: FitResult, boot: BootstrapResult | None = None, *, level: float = 0.95,
                method: str = "percentile", digits: int = 3) -> pd.DataFrame:
    """Intercepts of the observed variables and means of the latent variables (``~1``
    rows): b, SE, p, and the label of parameters held equal across groups; for a
    multi-group fit the groups side by side in blocks (``Group`` column). Fixed values
    (latent means fixed at 0) are shown with ``fixed`` in the p column. With ``boot``
    (the bootstrap of ``res``), a ``CI`` column holds each free row's bootstrap interval
    (``method`` at ``level``) and p is the two-sided bootstrap p-value, from the row's
    column (``"<lhs>~1@<group label>"`` in a multi-group fit)."""
    est = res.estimates
    rows = est[est["op"] == "~1"]
    if rows.empty:
        return pd.DataFrame()
    latent = set(res.model.latent)
    shared = _shared_free(res)
    frames = {}
    numbers = rows["group"] if "group" in rows.columns else pd.Series(1, index=rows.index)
    labels = res.group_labels or ("",)
    ci_head = f"{level:.0%} CI"
    for g, label in enumerate(labels, start=1):
        records = []
        group_rows = rows[numbers == g]
        names = [f"{lhs}~1" + (f"@{label}" if res.group_labels else "") for lhs in group_rows["lhs"]]
        ci = _boot_intervals(boot, names, level, method)
        pvals = boot.pvalues if boot is not None else None
        n_boot = int(boot.n_resamples - boot.n_failed) if boot is not None else 0
        for (idx, row), name in zip(group_rows.iterrows(), names):
            fixed = not np.isfinite(row["se"])
            record = {"Variable": row["lhs"],
                      "Parameter": "mean" if row["lhs"] in latent else "intercept",
                      "b": format_raw(row["est"], digits), "SE": "" if fixed else format_raw(row["se"], digits)}
            if boot is not None:
                record[ci_head] = ("" if fixed or ci is None or name not in ci.index
                                   else format_ci(ci.loc[name, "lower"], ci.loc[name, "upper"], digits, raw=True))
            booted = boot is not None and not fixed and name in pvals.index
            record["p"] = ("fixed" if fixed else format_boot_p(pvals[name], n_boot, digits) if booted
                           else format_p(row["pvalue"], digits))
            record["Equal across groups"] = "yes" if (g, row["lhs"]) in shared else ""
            records.append(record)
        frames[label] = pd.DataFrame.from_records(records).set_index("Variable")
    if not res.group_labels:
        return frames[""].drop(columns="Equal across groups")
    return _group_column(frames)


def _shared_free(res: FitResult) -> set[tuple[int, str]]:
    """(group, variable) of the ``~1`` parameters that are one free parameter in several groups."""
    counts: dict[int, int] = {}
    for r in res.rows:
        if r.op == "~1" and r.free:
            counts[r.free] = counts.get(r.free, 0) + 1
    return {(r.group, r.lhs) for r in res.rows if r.op == "~1" and r.free and counts[r.free] > 1}
