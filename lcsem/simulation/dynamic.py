"""Dynamic fit-index cut-offs for CFA models (McNeish & Wolf, 2023; R package ``dynamic``,
functions ``cfaHB`` and ``cfaOne``, version 1.1.0's 95/5 rule).

Fixed cut-offs (CFI ≥ .95, RMSEA ≤ .06, SRMR ≤ .08; Hu & Bentler, 1999) were derived for
one family of models and lose their meaning elsewhere. Dynamic cut-offs are derived for the
user's own model, loadings and N: data are simulated from the fitted standardised solution
(the "true" model) and from the same model plus increasing amounts of misspecification, the
user's model is fitted to each, and a cut-off separates the two distributions of each index.

How the misspecification levels are built (as the package does):

* **Multi-factor models** (``cfaHB``, "Hu & Bentler-like"): ``F - 1`` levels for ``F``
  factors. Candidate items load on one factor only and have no residual covariance; on each
  factor the candidate with the smallest standardised loading is taken (factors with more
  than two indicators first, then by loading magnitude) and the first ``F - 1`` are kept.
  Each gets a cross-loading on the correlated factor with the largest coefficient H
  (Hancock & Mueller), each pair of factors used once; its size is the item's own loading,
  capped at 95% of the largest value that keeps the item's variance admissible:
  ``.95 (sqrt(λ²φ² + 1 - λ²) - |λφ|)``. Level ``j`` adds the first ``j`` cross-loadings.
* **One-factor models** (``cfaOne``): items without residual covariances, sorted by
  loading (smallest first), are paired (2nd with 1st, 4th with 3rd, ...) and each pair gets a
  residual correlation of .3; with 4 items one level (one pair), with 5 items two levels,
  otherwise three levels of ``floor(m/3)``, ``floor(2m/3)`` and ``m = floor(items/2)`` pairs.

Data are simulated at the sample's N (at most 2,000) and ``n_rep`` replicates per model.
For SRMR and RMSEA the 95/5 rule takes the 5th percentile of the misspecified models'
distribution as the cut-off when it lies above the 95th percentile of the true model's
distribution (95% of misspecified models flagged, at most 5% of correct models rejected);
otherwise the 90/10 rule (10th vs 90th percentiles); otherwise "NONE" (the index cannot
tell this misspecification from sampling error at this N). CFI mirrors this (95th/5th).

What is the same as the R package: the standardised population (loadings, factor and
residual correlations rounded to 4 decimals, every variable with unit variance), the
misspecification levels and magnitudes above, N capped at 2,000, 500 replicates by default,
ML fit indices as lavaan's ``fitMeasures`` (SRMR, RMSEA, CFI), type-7 percentiles and the
95/5 → 90/10 → NONE rule of ``dynamic`` 1.1.0.

What differs: (1) the sample covariance matrices are drawn directly from their exact
Wishart distribution instead of simulating raw data with ``simstandard`` (the same
distribution for normal data, far faster); (2) seeds: the package uses fixed internal seeds,
lcsem takes ``seed=``, so numbers agree within Monte Carlo error, not digit for digit;
(3) the package breaks ties in coefficient H with a random jitter of up to .001; lcsem
breaks exact ties by factor order (and H values closer than .001 are then ordered by H,
where the package may swap them at random); (4) the user's model is refitted as specified
(fixed parameters stay fixed) where the package refits a version with every parameter free
(``std.lv = TRUE``); (5) replicates that do not converge are dropped and counted (the
package keeps lavaan's output); (6) ML only (the package also offers ULS/WLS-family
estimators), and the package's later "sensitivity table" output (``dynamic`` ≥ 1.1.1,
which reports the highest sensitivity instead of 95/5 and 90/10) is not reproduced;
(7) hierarchical, categorical and non-normal variants (``hier1HB``, ``catHB``,
``nnorHB``, ...) are not covered.
"""

from __future__ import annotations

import math
import numbers
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._warnings import warn
from ..display.escape import html_escape
from ..exceptions import ArgumentError, ConvergenceWarning, NotSupportedError
from .draw import as_seed_sequence, covariance_batch
from .population import standardized_covariance, true_parameters
from .replicates import fit_replicates
from ..results.fit_result import FitResult

__all__ = ["dynamic_cutoffs", "DynamicCutoffs", "misspecification_levels"]

N_CAP = 2000
ONE_FACTOR_RESIDUAL = 0.3
HU_BENTLER = {"srmr": 0.08, "rmsea": 0.06, "cfi": 0.95}
INDICES = ("srmr", "rmsea", "cfi")


@dataclass(frozen=True)
class DynamicCutoffs:
    """Dynamic fit-index cut-offs of a CFA model (see :func:`dynamic_cutoffs`).

    Attributes
    ----------
    table
        One row per misspecification level: ``level``, ``misspecification`` (what was
        added, lavaan syntax), ``srmr``, ``srmr_rule``, ``rmsea``, ``rmsea_rule``, ``cfi``,
        ``cfi_rule``. A rule is ``"95/5"``, ``"90/10"`` or ``"NONE"`` (then the cut-off is
        NaN).
    fit
        The user's own ``chisq df pvalue srmr rmsea cfi``.
    distributions
        Every replicate's ``srmr rmsea cfi`` with ``level`` (0 = the true model).
    kind
        ``"multi-factor"`` (``cfaHB``) or ``"one-factor"`` (``cfaOne``).
    n, n_rep
        The simulated sample size (the sample's N, at most 2,000) and replicates per model.
    converged
        Converged replicates per level (0 = the true model).
    notes
        What was done and what differs from the R package.
    """

    table: pd.DataFrame
    fit: pd.Series
    distributions: pd.DataFrame
    kind: str
    n: int
    n_rep: int
    converged: dict[int, int]
    seed: Any
    notes: tuple[str, ...] = field(default=())

    def summary(self) -> str:
        """The cut-offs next to the user's values, as text."""
        lines = [f"Dynamic fit-index cut-offs ({self.kind} CFA; McNeish & Wolf 2023), N = {self.n}, "
                 f"{self.n_rep} replicates per model",
                 "Your model: " + ", ".join(f"{k.upper()} = {self.fit[k]:.3f}" for k in INDICES)]
        rows = []
        for r in self.table.itertuples():
            cells = [f"Level {r.level}"]
            for k in INDICES:
                value, rule = getattr(r, k), getattr(r, f"{k}_rule")
                cells.append("NONE" if rule == "NONE" else f"{value:.3f} ({rule})")
            cells.append(r.misspecification)
            rows.append(cells)
        header = ["", "SRMR", "RMSEA", "CFI", "misspecification added"]
        widths = [max(len(str(x[i])) for x in rows + [header]) for i in range(len(header))]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        lines += [fmt.format(*header)] + [fmt.format(*r) for r in rows]
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = (f"<p><strong>Dynamic fit-index cut-offs</strong> ({self.kind} CFA; McNeish &amp; Wolf 2023), "
                f"N = {self.n}, {self.n_rep} replicates per model. Your model: "
                + ", ".join(f"{k.upper()} = {self.fit[k]:.3f}" for k in INDICES) + "</p>")
        notes = "".join(f"<p><em>{html_escape(n)}</em></p>" for n in self.notes)
        return head + self.table.to_html(index=False, float_format=lambda v: f"{v:.3f}") + notes

    def __repr__(self) -> str:
        return f"DynamicCutoffs(kind={self.kind!r}, levels={len(self.table)}, n={self.n}, n_rep={self.n_rep})"

    def plot(self, level: int | None = None, axes=None):
        """Distributions of the indices with the cut-offs and the user's values
        (see :func:`lcsem.plot_dynamic_cutoffs`)."""
        from .plot import plot_dynamic_cutoffs
        return plot_dynamic_cutoffs(self, level=level, axes=axes)


# ---------------------------------------------------------------------------- the model
def _check_cfa(res) -> None:
    model = res.model
    ops = Counter(r.op for r in model.rows)
    latent = set(model.latent)
    problems = []
    if ops.get("~"):
        problems.append("it has regressions ('~')")
    if any(r.op == "=~" and r.rhs in latent for r in model.rows):
        problems.append("it has higher-order factors (dynamic's hier1HB/hier2 cover those; lcsem does not)")
    indicators = {r.rhs for r in model.rows if r.op == "=~"}
    stray = [v for v in model.observed if v not in indicators]
    if stray:
        problems.append(f"observed variables {stray} are not indicators of a factor")
    if not latent:
        problems.append("it has no factors")
    if problems:
        raise NotSupportedError(
            "res: dynamic fit-index cut-offs (McNeish & Wolf) cover single-level CFA measurement models only -- "
            "one or more factors measured by observed indicators, with factor correlations and optional "
            "residual covariances (dynamic's cfaOne and cfaHB); this model is not one: " + "; ".join(problems)
            + ". Fit the measurement part on its own (the CFA of your constructs) and pass that result")


def _standardized(res) -> dict[tuple[str, str, str], float]:
    """Standardised loadings, factor and residual correlations (rounded to 4 decimals, as the
    package writes its population model)."""
    est = res.estimates
    out: dict[tuple[str, str, str], float] = {}
    for r in est.itertuples():
        if r.op == "=~" or (r.op == "~~" and r.lhs != r.rhs):
            value = round(float(r.std_all), 4)
            if not np.isfinite(value) or abs(value) >= 1:
                raise ArgumentError(f"res: the standardised value of {r.lhs} {r.op} {r.rhs} is {r.std_all:.4f} "
                                    f"(|value| ≥ 1, an inadmissible solution); dynamic cut-offs need an "
                                    f"admissible standardised solution: fix the model first")
            out[(r.lhs, r.op, r.rhs)] = value
    return out


def _coefficient_h(loadings: list[tuple[str, str, float]]) -> dict[str, float]:
    total: dict[str, float] = {}
    for f, _, lam in loadings:
        total[f] = total.get(f, 0.0) + lam**2 / (1 - lam**2)
    return {f: 1.0 / (1.0 + 1.0 / s) if s > 0 else 0.0 for f, s in total.items()}


def misspecification_levels(values: dict[tuple[str, str, str], float], factors: tuple[str, ...]
                            ) -> tuple[str, list[list[tuple[tuple[str, str, str], float]]]]:
    """The package's misspecification levels: (kind, [[(row key, value), ...] per level]).

    ``values`` are the standardised loadings and (factor or residual) correlations.
    """
    loadings = [(k[0], k[2], v) for k, v in values.items() if k[1] == "=~"]
    residual = [k for k in values if k[1] == "~~" and k[0] not in factors]
    uses = Counter(i for _, i, _ in loadings)
    for a, _, b in residual:
        uses[a] += 1
        uses[b] += 1
    solo = [(f, i, lam) for f, i, lam in loadings if uses[i] == 1]
    if len(factors) == 1:
        return "one-factor", _one_factor_levels(solo)
    return "multi-factor", _multi_factor_levels(values, factors, loadings, solo)


def _one_factor_levels(solo):
    items = sorted(solo, key=lambda x: abs(x[2]))          # stable: ties keep model order
    m = len(items)
    if m < 4:
        raise ArgumentError(f"res: only {m} indicators without residual covariances; dynamic's one-factor "
                            f"cut-offs need at least 4 to add residual correlations (add indicators or drop "
                            f"residual covariances)")
    take = 2 if m == 4 else 4 if m == 5 else (m // 2) * 2
    chosen = items[:take]
    pairs = [((chosen[j + 1][1], "~~", chosen[j][1]), ONE_FACTOR_RESIDUAL) for j in range(0, take, 2)]
    if m == 4:
        sizes = [1]
    elif m == 5:
        sizes = [1, 2]
    else:
        l3 = m // 2
        sizes = [l3 // 3, (2 * l3) // 3, l3]
    return [pairs[:s] for s in sizes]


def _multi_factor_levels(values, factors, loadings, solo):
    n_factors = len(factors)
    if len(solo) < n_factors - 1:
        raise ArgumentError(f"res: only {len(solo)} indicators load on a single factor without residual "
                            f"covariances; {n_factors - 1} are needed to build the misspecification levels")
    original = Counter(f for f, _, _ in loadings)
    priority = {f: 0 if original[f] > 2 else 1 for f in factors}      # "Three" before "Two"
    crosses = []
    for f in factors:
        own = [x for x in solo if x[0] == f]
        if own:
            smallest = min(abs(x[2]) for x in own)
            crosses += [x for x in own if abs(x[2]) == smallest]
    crosses = sorted(crosses, key=lambda x: (priority[x[0]], abs(x[2])))[:n_factors - 1]
    H = _coefficient_h(loadings)
    order = {f: j for j, f in enumerate(factors)}
    candidates = []      # (item, own factor, loading, target factor, factor correlation, H of target)
    for f, item, lam in crosses:
        for (a, op, b), r in values.items():
            if op == "~~" and a in factors and b in factors and a != b and f in (a, b):
                g = b if a == f else a
                candidates.append((item, f, lam, g, r, H.get(g, 0.0)))
    candidates.sort(key=lambda c: abs(c[2]))
    chosen = []
    used_pairs: set[frozenset] = set()
    for item in dict.fromkeys(c[0] for c in candidates):
        options = [c for c in candidates if c[0] == item and frozenset((c[1], c[3])) not in used_pairs]
        if not options:
            continue
        best = max(options, key=lambda c: (c[5], -order[c[3]]))
        chosen.append(best)
        used_pairs.add(frozenset((best[1], best[3])))
    chosen.sort(key=lambda c: (priority[c[1]], c[2], -c[5]))
    added = []
    for item, f, lam, g, r, _ in chosen:
        max_allowed = round((math.sqrt(lam**2 * r**2 + 1 - lam**2) - abs(lam * r)) * 0.95, 4)
        added.append(((g, "=~", item), min(abs(lam), abs(max_allowed))))
    return [added[:j] for j in range(1, len(added) + 1)]


# ---------------------------------------------------------------------------- cut-offs
def _quantile(x: np.ndarray, q: float) -> float:
    x = x[np.isfinite(x)]
    return float(np.quantile(x, q)) if x.size else float("nan")


def _cutoff(true: np.ndarray, mis: np.ndarray, index: str) -> tuple[float, str]:
    """The 95/5 rule, then 90/10, else NONE."""
    for q, rule in ((0.05, "95/5"), (0.10, "90/10")):
        if index == "cfi":
            t, m = _quantile(true, q), _quantile(mis, 1 - q)
            if t > m:
                return m, rule
        else:
            t, m = _quantile(true, 1 - q), _quantile(mis, q)
            if t < m:
                return m, rule
    return float("nan"), "NONE"


def _describe(additions) -> str:
    return "; ".join(f"{g} {op} {v:.3f}*{i}" for (g, op, i), v in additions)


def dynamic_cutoffs(res: Any, n_rep: int = 500, *, seed: Any = None, batch_size: int = 250) -> DynamicCutoffs:
    """Dynamic fit-index cut-offs for a fitted CFA model (McNeish & Wolf, 2023).

    Parameters
    ----------
    res
        A fitted :class:`lcsem.FitResult` of a CFA measurement model (ML): one factor
        (``cfaOne``) or several correlated factors (``cfaHB``), every observed variable an
        indicator, optional residual covariances; no regressions or higher-order factors.
    n_rep
        Replicates per model (the package's default and advice: 500).
    seed
        None, an int, a ``numpy.random.Generator`` or a ``SeedSequence``.
    batch_size
        Replicates fitted at once (memory is bounded by it).

    Returns
    -------
    DynamicCutoffs
        Per misspecification level the SRMR, RMSEA and CFI cut-offs and which rule held.
        See the module documentation for what is and is not the same as the R package.

    Raises
    ------
    NotSupportedError
        For models other than single-level CFA models.
    ArgumentError
        For ``n_rep < 1``, a just-identified model (df = 0: nothing can be misspecified),
        inadmissible standardised values or too few indicators for the levels.
    """
    if not isinstance(res, FitResult):
        raise ArgumentError(f"res: expected a fitted lcsem.FitResult, got {type(res).__name__}")
    if isinstance(n_rep, bool) or not isinstance(n_rep, numbers.Integral) or n_rep < 1:
        raise ArgumentError(f"n_rep: {n_rep!r} is not a whole number ≥ 1; the method's authors use n_rep=500")
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ArgumentError(f"batch_size: {batch_size!r} is not a whole number ≥ 1")
    if res.estimator != "ML":
        raise NotSupportedError(f"res: dynamic cut-offs are computed for ML fits; this result used "
                                f"{res.estimator!r}: refit with estimator='ML'")
    _check_cfa(res)
    model = res.model
    if model.df <= 0:
        raise ArgumentError("res: the model is just identified (df = 0): no misspecification can be added and "
                            "every fit index is perfect; dynamic cut-offs need df > 0")
    values = _standardized(res)
    factors = tuple(model.latent)
    kind, levels = misspecification_levels(values, factors)
    n = int(min(res.n_obs, N_CAP))
    n_rep = int(n_rep)
    root = as_seed_sequence(seed)
    struct = res.structure
    observed, exogenous = tuple(model.observed), set(factors)
    populations = [values] + [{**values, **dict(add)} for add in levels]
    dists, converged = [], {}
    for j, pop_values in enumerate(populations):
        sigma = standardized_covariance(pop_values, observed, factors, exogenous)
        theta0, _ = true_parameters(struct, sigma)
        parts = []
        for start in range(0, n_rep, int(batch_size)):
            stop = min(n_rep, start + int(batch_size))
            S = covariance_batch(root, (j,), sigma, n, start, stop)
            fits = fit_replicates(model, struct, S, theta0, n, with_se=False)
            parts.append(pd.DataFrame({k: np.where(fits.converged, fits.fit[k], np.nan) for k in INDICES}))
        frame = pd.concat(parts, ignore_index=True)
        frame.insert(0, "level", j)
        converged[j] = int(frame["srmr"].notna().sum())
        dists.append(frame)
    distributions = pd.concat(dists, ignore_index=True)
    true = distributions[distributions["level"] == 0]
    rows = []
    for j, add in enumerate(levels, start=1):
        mis = distributions[distributions["level"] == j]
        row = {"level": j, "misspecification": _describe(add)}
        for k in INDICES:
            row[k], row[f"{k}_rule"] = _cutoff(true[k].to_numpy(), mis[k].to_numpy(), k)
        rows.append(row)
    notes = [f"{'cfaHB' if kind == 'multi-factor' else 'cfaOne'} algorithm of the R package dynamic 1.1.0 "
             f"(95/5 rule, 90/10 fallback, NONE); sample covariances drawn from their exact Wishart "
             f"distribution at N = {n}" + (f" (the sample's N = {res.n_obs} capped at {N_CAP})" if res.n_obs > N_CAP else "")]
    failed = {j: n_rep - c for j, c in converged.items() if c < n_rep}
    if failed:
        msg = ("replicates that did not converge were dropped: "
               + ", ".join(f"{'true model' if j == 0 else f'level {j}'}: {f} of {n_rep}" for j, f in failed.items()))
        notes.append(msg)
        if max(failed.values()) > 0.05 * n_rep:
            warn(msg + "; the cut-offs rest on the converged replicates only", ConvergenceWarning, stacklevel=2)
    fit = res.fit_indices.reindex(["chisq", "df", "pvalue", "srmr", "rmsea", "cfi"])
    return DynamicCutoffs(table=pd.DataFrame(rows), fit=fit, distributions=distributions, kind=kind, n=n,
                          n_rep=n_rep, converged=converged, seed=root.entropy, notes=tuple(notes))
