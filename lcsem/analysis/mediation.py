"""Direct, indirect and total effects with delta-method SEs and bootstrap intervals.

For every pair of variables joined by a chain of at least two directed structural paths
(``~``), :func:`effects` reports each **specific indirect** effect (the product of the
path coefficients along one chain), the **total indirect** effect (their sum), the
**direct** effect (the path itself, when the model has it), the **total** effect and the
**proportion mediated** (total indirect / total). Effects named by ``:=`` definitions are
added as they are. Standard errors use the delta method with the result's covariance
matrix and numerical Jacobians; with a :class:`lcsem.BootstrapResult`, intervals and
p-values come from the same bootstrap draws (every effect is recomputed from each
replicate's parameter vector), as do the intervals of the standardised effects
(``std.all``: the effect times sd(source) / sd(outcome)).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from .. import _lazy
from .._warnings import warn
from ..display.escape import html_escape
from ..exceptions import ArgumentError, NotSupportedError, UnstableRatioWarning
from ..display.render import FORMATS, render_table
from ..display.format import format_boot_p, format_p
from ..inference.standardized import DefinedParameters, delta_se, fixed_x_vcov, standardized_values
from ..results.fit_result import FitResult
from ..simulation.sampling import parameter_draws
from ..resampling.intervals import bootstrap_pvalue as _bootstrap_pvalue, confidence_interval
from ..resampling.result import BootstrapResult

__all__ = ["effects", "EffectsResult", "CI_METHODS", "bootstrap_pvalue"]

CI_METHODS = ("percentile", "bc", "bca")
KINDS = ("indirect", "total indirect", "direct", "total", "proportion mediated", "defined")


def bootstrap_pvalue(draws: np.ndarray) -> float:
    """Two-sided bootstrap p-value of ``H0: value = 0``, never 0: the one definition of
    :func:`lcsem.resampling.intervals.bootstrap_pvalue` (``min(1, 2 (1 + k) / (B + 1))``,
    ``k`` replicates on the far side of 0)."""
    return _bootstrap_pvalue(draws)


# ---------------------------------------------------------------------------- effect specs
@dataclass(frozen=True)
class _Effect:
    """A table row: sum over chains of the product of path values (``num``), optionally
    divided by another such sum (``den``), or a ``:=`` definition (``defined``)."""

    kind: str
    source: str
    outcome: str
    path: str
    name: str
    num: tuple[tuple[int, ...], ...] = ()
    den: tuple[tuple[int, ...], ...] | None = None
    defined: int = -1


def _chains_value(values: np.ndarray, chains: tuple[tuple[int, ...], ...]) -> np.ndarray:
    total = np.zeros(values.shape[0])
    for chain in chains:
        total = total + np.prod(values[:, list(chain)], axis=1)
    return total


def _graph(struct) -> dict[str, list[tuple[str, int]]]:
    """Outgoing structural edges: source -> [(target, table-row position)]."""
    out: dict[str, list[tuple[str, int]]] = {}
    for pos, r in enumerate(struct.rows):
        if r.op == "~":
            out.setdefault(r.rhs, []).append((r.lhs, pos))
    return out


def _check_acyclic(graph: dict[str, list[tuple[str, int]]]) -> None:
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt, _ in graph.get(node, []):
            if state.get(nxt) == 1:
                cycle = trail[trail.index(nxt):] + [node, nxt] if nxt in trail else [node, nxt]
                raise NotSupportedError(
                    "effects: the structural model has a feedback loop (" + " -> ".join(cycle) + "); "
                    "chains of indirect effects are infinite in non-recursive models and are not supported")
            if nxt not in state:
                visit(nxt, trail + [node])
        state[node] = 2

    for node in list(graph):
        if node not in state:
            visit(node, [])


def _all_chains(graph, source: str) -> dict[str, list[tuple[tuple[str, ...], tuple[int, ...]]]]:
    """Every directed chain from ``source``: outcome -> [(nodes, row positions)]."""
    found: dict[str, list[tuple[tuple[str, ...], tuple[int, ...]]]] = {}

    def walk(node: str, nodes: tuple[str, ...], rows: tuple[int, ...]) -> None:
        for nxt, pos in graph.get(node, []):
            n2, r2 = nodes + (nxt,), rows + (pos,)
            found.setdefault(nxt, []).append((n2, r2))
            walk(nxt, n2, r2)

    walk(source, (source,), ())
    return found


def _as_names(value: Any, argument: str, allowed: Iterable[str]) -> list[str] | None:
    if value is None:
        return None
    names = [value] if isinstance(value, str) else list(value)
    allowed = list(allowed)
    for n in names:
        if not isinstance(n, str) or n not in allowed:
            raise ArgumentError(f"{argument}: {n!r} is not a variable of the structural model; "
                                f"choose among {allowed}")
    return names


def _build_effects(res, source, mediators, outcome, proportion: bool) -> list[_Effect]:
    struct = res.structure
    graph = _graph(struct)
    _check_acyclic(graph)
    variables = list(dict.fromkeys([v for v in struct.names if v in graph or
                                    any(v == t for e in graph.values() for t, _ in e)]))
    sources = _as_names(source, "source", variables)
    outcomes = _as_names(outcome, "outcome", variables)
    meds = _as_names(mediators, "mediators", variables)
    out: list[_Effect] = []
    for s in (sources or [v for v in variables if v in graph]):
        chains = _all_chains(graph, s)
        for o, found in chains.items():
            if outcomes is not None and o not in outcomes:
                continue
            indirect = [c for c in found if len(c[1]) > 1]
            direct = [c for c in found if len(c[1]) == 1]
            named = sources is not None and outcomes is not None
            if not indirect and not named:
                continue
            shown = [c for c in indirect if meds is None or set(c[0][1:-1]) <= set(meds)]
            if meds is not None and not shown:
                continue
            tag = f"{s}->{o}"
            for nodes, rows in shown:
                out.append(_Effect("indirect", s, o, " -> ".join(nodes), "->".join(nodes), (rows,)))
            all_ind = tuple(rows for _, rows in indirect)
            if indirect:
                out.append(_Effect("total indirect", s, o, f"{s} -> ... -> {o}", f"indirect({tag})", all_ind))
            if direct:
                out.append(_Effect("direct", s, o, f"{s} -> {o}", f"direct({tag})", (direct[0][1],)))
            total = tuple(rows for _, rows in found)
            out.append(_Effect("total", s, o, f"{s} => {o}", f"total({tag})", total))
            if proportion and indirect and direct:
                out.append(_Effect("proportion mediated", s, o, "total indirect / total",
                                   f"proportion({tag})", all_ind, total))
    defined = DefinedParameters(res.model.rows)
    for j, (name, row) in enumerate(zip(defined.names, [r for r in res.model.rows if r.op == ":="])):
        out.append(_Effect("defined", "", "", f"{name} := {row.rhs}", name, defined=j))
    return out


def _evaluate(specs: list[_Effect], values: np.ndarray, defined: DefinedParameters) -> np.ndarray:
    """Effects (R, q) from table-row values (R, n_rows)."""
    values = np.atleast_2d(values)
    out = np.empty((values.shape[0], len(specs)))
    dvals = defined.evaluate(values) if defined.names else None
    for j, e in enumerate(specs):
        if e.kind == "defined":
            out[:, j] = dvals[:, e.defined]
            continue
        num = _chains_value(values, e.num)
        if e.den is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                num = num / _chains_value(values, e.den)
        out[:, j] = num
    return out


# ---------------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class EffectsResult:
    """Effects table (see :func:`effects`).

    Attributes
    ----------
    table
        One row per effect, indexed by its statistic name (``"culture->kmsuse->perf"``,
        ``"indirect(culture->perf)"``, ``"direct(culture->perf)"``, ``"total(culture->perf)"``,
        ``"proportion(culture->perf)"``, or the name of a ``:=`` definition). Columns:
        ``effect, source, outcome, path, est, se`` (delta method), ``z``, ``pvalue``,
        ``ci_lower, ci_upper, std, std_se, std_ci_lower, std_ci_upper``. Without a
        bootstrap the intervals are delta-method normal intervals and ``pvalue`` is the
        z-test's; with a bootstrap both come from the bootstrap draws (``pvalue`` agrees
        with the percentile interval), and ``boot_se`` and ``pvalue_delta`` are added.
    ci_method
        ``"delta"``, ``"percentile"``, ``"bc"`` or ``"bca"``.
    level
        Confidence level of the intervals.
    n_boot_used
        Bootstrap replicates used (0 without a bootstrap).
    notes
        Explanations (ratio instability, replicates used).
    groups
        For a multi-group result: ``{label: EffectsResult}`` of each group (its view's
        effects); the group's rows in :attr:`table` carry its label in the ``group``
        column, and the ``:=`` definitions of the whole model have ``group == ""``.
    """

    table: pd.DataFrame
    ci_method: str = "delta"
    level: float = 0.95
    n_boot_used: int = 0
    notes: tuple[str, ...] = field(default=())
    groups: Mapping[str, "EffectsResult"] = field(default_factory=dict, repr=False)

    @property
    def indirect(self) -> pd.DataFrame:
        """Rows of specific and total indirect effects."""
        return self.table[self.table["effect"].isin(["indirect", "total indirect"])]

    def summary(self, format: str = "text", digits: int = 3) -> str:
        """The effects table with its notes."""
        if format not in FORMATS:
            raise ArgumentError(f"format: {format!r} is not one of {FORMATS}")
        cols = ["effect", "path", "est", "se", "ci_lower", "ci_upper", "pvalue", "std"]
        if "group" in self.table.columns:
            cols = ["group"] + cols
        frame = self.table[cols].copy()
        frame["pvalue"] = [format_boot_p(p, self.n_boot_used) if self.n_boot_used else format_p(p)
                           for p in frame["pvalue"]]
        method = "delta method" if self.ci_method == "delta" else f"bootstrap {self.ci_method}, {self.n_boot_used} replicates"
        text = render_table(frame, format, digits=digits, index=False,
                            caption=f"Effects ({self.level:.0%} CI: {method})")
        if not self.notes:
            return text
        if format == "html":
            return text + "".join(f"<p><small>{html_escape(n)}</small></p>" for n in self.notes)
        return text + "\n\nNotes:\n" + "\n".join(f"- {n}" for n in self.notes)

    def _repr_html_(self) -> str:
        return self.summary("html")

    def __repr__(self) -> str:
        return f"<lcsem.EffectsResult: {len(self.table)} effects, CI {self.ci_method}>"


# ---------------------------------------------------------------------------- entry point
def effects(res: FitResult, boot: BootstrapResult | None = None, *, source: str | Iterable[str] | None = None,
            mediators: Iterable[str] | None = None, outcome: str | Iterable[str] | None = None,
            method: str = "percentile", level: float = 0.95, proportion: bool = True,
            include_inadmissible: bool = True, ci: str = "delta", n_draws: int = 20000,
            seed: Any = None) -> EffectsResult:
    """Direct, indirect and total effects of a fitted model.

    Parameters
    ----------
    res
        A fitted :class:`lcsem.FitResult` with a recursive structural part.
    boot
        Optional :class:`lcsem.BootstrapResult` of ``res``; intervals, p-values and SEs
        then come from its draws.
    source, outcome
        Restrict to effects of these variables on those. When both are given, the pairs
        are reported even without an indirect chain (direct and total only).
    mediators
        Report only the specific indirect effects whose intermediate variables are all
        among these (the total indirect effect still sums every chain).
    method
        Bootstrap interval: ``"percentile"`` (default), ``"bc"`` or ``"bca"``.
    level
        Confidence level.
    proportion
        Add the proportion mediated (total indirect / total) for pairs with both a direct
        and an indirect effect. It is an unstable ratio: an :class:`UnstableRatioWarning`
        is issued when the total effect's interval includes 0 or the ratio lies outside
        [0, 1] (inconsistent mediation).
    include_inadmissible
        Use bootstrap replicates whose solutions are inadmissible (default, as lavaan).
    ci
        Without ``boot``: ``"delta"`` (default; Wald intervals from delta-method SEs) or
        ``"montecarlo"`` (Preacher & Selig, 2012; semTools' ``monteCarloCI``): percentile
        intervals of the effects over ``n_draws`` parameter vectors drawn from
        N(θ̂, V̂), seeded by ``seed``.

    Returns
    -------
    EffectsResult
        For a multi-group result, every group's effects (computed on its view,
        ``res.groups[label]``, with the joint fit's estimates and covariance) with a
        ``group`` column, then the ``:=`` definitions of the whole model (``group == ""``,
        from the joint table). A single-group mean-structure result gives the effects of
        its covariance structure (intercepts are not effects) and its definitions.
    """
    if not isinstance(res, FitResult):
        raise ArgumentError(f"res: expected a fitted lcsem.FitResult, got {type(res).__name__}")
    if method not in CI_METHODS:
        raise ArgumentError(f"method: {method!r} is not one of {CI_METHODS}")
    if not (isinstance(level, (float, int)) and 0 < float(level) < 1):
        raise ArgumentError(f"level: {level!r} is not a probability between 0 and 1; use e.g. 0.95")
    if ci not in ("delta", "montecarlo"):
        raise ArgumentError(f"ci: {ci!r} is not 'delta' or 'montecarlo'")
    if ci == "montecarlo" and boot is not None:
        raise ArgumentError("ci: 'montecarlo' intervals replace the bootstrap's; pass boot=None or ci='delta'")
    if ci == "montecarlo" and (isinstance(n_draws, bool) or not isinstance(n_draws, (int, np.integer))
                               or n_draws < 100):
        raise ArgumentError(f"n_draws: {n_draws!r} is not a whole number of at least 100; use e.g. 20000")
    if res.grouped:
        return _grouped_effects(res, boot, source=source, mediators=mediators, outcome=outcome, method=method,
                                level=level, proportion=proportion, include_inadmissible=include_inadmissible,
                                ci=ci, n_draws=n_draws, seed=seed)
    specs = _build_effects(res, source, mediators, outcome, proportion)
    if not specs:
        raise ArgumentError("the model has no indirect effect (no chain of two or more structural paths) "
                            "and no ':=' definition; name source= and outcome= to get direct and total effects")
    struct = res.structure
    defined = DefinedParameters(res.model.rows)
    theta = res.theta

    def raw(th):
        return _evaluate(specs, struct.row_values(th), defined)

    def std(th):
        return _evaluate(specs, standardized_values(struct, th), defined)

    est = raw(theta[None])[0]
    std_est = std(theta[None])[0]

    std_vcov = fixed_x_vcov(res.vcov, res.model.fixed_x_for(res.estimator))
    se, std_se = delta_se(raw, theta, res.vcov), delta_se(std, theta, std_vcov)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = est / se
    z_crit = _lazy.norm_ppf(0.5 + level / 2)
    table = pd.DataFrame({
        "effect": [e.kind for e in specs], "source": [e.source for e in specs],
        "outcome": [e.outcome for e in specs], "path": [e.path for e in specs],
        "est": est, "se": se, "z": z, "pvalue": 2 * _lazy.norm_sf(np.abs(z)),
        "ci_lower": est - z_crit * se, "ci_upper": est + z_crit * se,
        "std": std_est, "std_se": std_se,
        "std_ci_lower": std_est - z_crit * std_se, "std_ci_upper": std_est + z_crit * std_se},
        index=pd.Index([e.name for e in specs], name="name"))
    notes: list[str] = []
    ci_method, n_used = "delta", 0
    if ci == "montecarlo":
        _add_monte_carlo(table, res, raw, std, level, int(n_draws), seed)
        ci_method = "montecarlo"
        notes.append(f"intervals from {int(n_draws)} Monte Carlo draws of the estimates (Preacher & "
                     f"Selig, 2012); z and p are the delta method's")
    if boot is not None:
        n_used = _add_bootstrap(table, boot, res, raw, std, method, level, include_inadmissible)
        ci_method = method
        notes.append(f"intervals and p-values from {n_used} bootstrap replicates ({method}); "
                     f"se is the delta-method SE, boot_se the bootstrap SD")
    _check_ratios(table, specs, notes)
    return EffectsResult(table=table, ci_method=ci_method, level=float(level), n_boot_used=n_used,
                         notes=tuple(notes))


def _add_monte_carlo(table: pd.DataFrame, res, raw, std, level: float, n_draws: int, seed: Any) -> None:
    """Replace the intervals by Monte Carlo percentile intervals (type-7 quantiles)."""
    draws = parameter_draws(res, n_draws, seed)
    q = [(1 - level) / 2, (1 + level) / 2]
    table["ci_lower"], table["ci_upper"] = np.nanquantile(raw(draws), q, axis=0)
    table["std_ci_lower"], table["std_ci_upper"] = np.nanquantile(std(draws), q, axis=0)


def _add_bootstrap(table, boot, res, raw, std, method, level, include_inadmissible) -> int:
    """Bootstrap intervals, SEs and p-values of the effects: ``raw`` and ``std`` registered
    as statistics with the bootstrap (:meth:`BootstrapResult.statistic`), evaluated on every
    replicate's estimates (no refit)."""
    check_bootstrap_of(boot, res)
    used: list[int] = []

    def statistic(rep):
        used.append(len(rep))
        return {"raw": raw(rep.theta), "std": std(rep.theta)}

    # rows of replicates left out (failed) are NaN, and NaN draws are dropped below
    values = boot.statistic(statistic, include_inadmissible=include_inadmissible)
    draws, sdraws = values["raw"], values["std"]
    jack = sjack = None
    if method == "bca":
        jk = boot.statistic(statistic, jackknife=True)
        jack, sjack = jk["raw"], jk["std"]
    lo, hi, slo, shi, bse, bp = ([] for _ in range(6))
    for j in range(table.shape[0]):
        for d_all, e, jk_all, lo_l, hi_l in ((draws, table["est"].iloc[j], jack, lo, hi),
                                             (sdraws, table["std"].iloc[j], sjack, slo, shi)):
            d = d_all[:, j]
            d = d[np.isfinite(d)]
            if d.size < 2 or not np.isfinite(e):
                lo_l.append(np.nan)
                hi_l.append(np.nan)
                continue
            jkv = None
            if jk_all is not None:
                jkv = jk_all[:, j]
                jkv = jkv[np.isfinite(jkv)]
            a, b = confidence_interval(d, float(e), method=method, level=level, jackknife=jkv)
            lo_l.append(a)
            hi_l.append(b)
        d = draws[:, j]
        d = d[np.isfinite(d)]
        bse.append(float(np.std(d, ddof=1)) if d.size > 1 else np.nan)
        bp.append(bootstrap_pvalue(d))
    table["pvalue_delta"] = table["pvalue"]
    table["ci_lower"], table["ci_upper"] = lo, hi
    table["std_ci_lower"], table["std_ci_upper"] = slo, shi
    table["boot_se"] = bse
    table["pvalue"] = bp
    return used[0]


def _check_ratios(table: pd.DataFrame, specs: list[_Effect], notes: list[str]) -> None:
    for e in specs:
        if e.kind != "proportion mediated":
            continue
        total = table.loc[f"total({e.source}->{e.outcome})"]
        ratio = table.loc[e.name, "est"]
        reasons = []
        if total["ci_lower"] <= 0 <= total["ci_upper"]:
            reasons.append("the total effect's interval includes 0")
        if not 0 <= ratio <= 1:
            reasons.append(f"the ratio is {ratio:.3f}, outside [0, 1] (inconsistent mediation)")
        message = (f"proportion mediated {e.source} -> {e.outcome} is an unstable ratio"
                   + (": " + "; ".join(reasons) if reasons else "") +
                   "; report the indirect effect and its interval instead")
        if reasons:
            warn(message, UnstableRatioWarning, stacklevel=3)
        notes.append("the proportion mediated is a ratio of estimates and is unstable in small samples "
                     "or when the total effect is small; interpret it with care" if not reasons else message)


# ---------------------------------------------------------------------------- groups
def group_bootstrap(boot: BootstrapResult, res: FitResult, label: str, view: FitResult) -> BootstrapResult:
    """The bootstrap of one group's view: the columns of ``boot`` that belong to group
    ``label`` (``"<name>@<label>"``, ``"std:<name>@<label>"``) under their plain names, the
    same replicates and status, and the jackknife renamed the same way (computed lazily)."""
    if not res.group_labels:      # one group with means: the columns are plain already
        return replace(boot, fit=view, _cache={}, _jackknife_runner=boot.jackknife)
    suffix = "@" + label

    def own(frame: pd.DataFrame) -> pd.DataFrame:
        cols = [c for c in frame.columns if str(c).endswith(suffix)]
        return frame[cols].rename(columns={c: c[:-len(suffix)] for c in cols})

    estimate = boot.estimate
    keys = [c for c in estimate.index if str(c).endswith(suffix)]
    return replace(boot, fit=view, distribution=own(boot.distribution),
                   estimate=estimate[keys].rename(index={c: c[:-len(suffix)] for c in keys}),
                   _cache={}, _jackknife_runner=lambda: own(boot.jackknife()))


def check_bootstrap_of(boot: Any, res: FitResult) -> None:
    """Raise :class:`ArgumentError` unless ``boot`` is a :class:`BootstrapResult` of ``res``
    (the same fit object, or a fit with the same estimates and groups)."""
    if not isinstance(boot, BootstrapResult):
        raise ArgumentError(f"boot: expected the lcsem.BootstrapResult of this fit (lcsem.bootstrap(res)), "
                            f"got {type(boot).__name__}")
    other = boot.fit
    if other is not res and (len(other.theta) != len(res.theta) or not np.allclose(other.theta, res.theta)
                             or tuple(other.group_labels) != tuple(res.group_labels)):
        raise ArgumentError("boot: it is the bootstrap of another fit; run lcsem.bootstrap(res) on this result")


def _grouped_effects(res: FitResult, boot: BootstrapResult | None, *, level: float, ci: str,
                     **options: Any) -> EffectsResult:
    """Effects of a multi-group or mean-structure fit: each group's from its view, then the
    whole model's ``:=`` definitions from the joint table. With a bootstrap, each group's
    effects are recomputed from that group's parameter columns of every replicate
    (``"<name>@<label>"``), and the definitions from their own columns."""
    if boot is not None:
        check_bootstrap_of(boot, res)
    method = options["method"]
    include_inadmissible = options.pop("include_inadmissible", True)
    multi = bool(res.group_labels)
    per_group: dict[str, EffectsResult] = {}
    missing: list[str] = []
    for label, view in res.groups.items():
        view_boot = None if boot is None else group_bootstrap(boot, res, label, view)
        try:
            per_group[label] = effects(view, view_boot, level=level, ci=ci,
                                       include_inadmissible=include_inadmissible, **options)
        except ArgumentError as exc:
            if "no indirect effect" not in str(exc):
                raise
            missing.append(label)
    defined = _defined_rows(res, level)
    if not per_group and defined.empty:
        raise ArgumentError("the model has no indirect effect (no chain of two or more structural paths) "
                            "and no ':=' definition; name source= and outcome= to get direct and total effects")
    n_used = 0
    if boot is not None and not defined.empty:
        n_used = _add_defined_bootstrap(defined, boot, method, level, include_inadmissible)
    elif boot is not None:
        n_used = next(iter(per_group.values())).n_boot_used
    frames, notes = [], []
    for label, eff in per_group.items():
        frame = eff.table.copy()
        if multi:
            frame.insert(0, "group", label)
            notes += [f"group {label}: {n}" for n in eff.notes]
        else:
            notes += list(eff.notes)
        frames.append(frame)
    if not defined.empty:
        if multi:
            defined.insert(0, "group", "")
        frames.append(defined)
        if ci == "montecarlo":
            notes.append("the ':=' definitions have delta-method intervals (Monte Carlo draws are per group)")
        if boot is not None:
            notes.append(f"the ':=' definitions' intervals and p-values come from their bootstrap columns "
                         f"({n_used} replicates, {method})")
    table = pd.concat(frames) if frames else defined
    if multi:
        notes.insert(0, f"effects per group ({res.group}: {', '.join(res.group_labels)}), each from the "
                        f"group's estimates in the joint fit; ':=' definitions (group '') are the whole model's")
    ci_method = method if boot is not None else ("montecarlo" if ci == "montecarlo" else "delta")
    return EffectsResult(table=table, ci_method=ci_method, level=float(level), n_boot_used=n_used,
                         notes=tuple(dict.fromkeys(notes)), groups=per_group if multi else {})


def _add_defined_bootstrap(defined: pd.DataFrame, boot: BootstrapResult, method: str, level: float,
                           include_inadmissible: bool) -> int:
    """Bootstrap intervals, SEs and p-values of the ``:=`` rows from their own columns of
    the distribution (plain names; standardised values from ``"std:<name>"``)."""
    frame = boot.distribution
    status = boot.status.to_numpy()
    keep = status != "failed"
    if not include_inadmissible:
        keep &= status != "inadmissible"
    jack = boot.jackknife() if method == "bca" else None
    lo, hi, slo, shi, bse, bp = ([] for _ in range(6))
    for name, row in defined.iterrows():
        for col, est, lo_l, hi_l in ((name, row["est"], lo, hi), ("std:" + name, row["std"], slo, shi)):
            if col not in frame.columns or not np.isfinite(est):
                lo_l.append(np.nan)
                hi_l.append(np.nan)
                continue
            d = frame[col].to_numpy(float)[keep]
            d = d[np.isfinite(d)]
            if d.size < 2:
                lo_l.append(np.nan)
                hi_l.append(np.nan)
                continue
            jkv = None
            if jack is not None:
                jkv = jack[col].to_numpy(float)
                jkv = jkv[np.isfinite(jkv)]
            a, b = confidence_interval(d, float(est), method=method, level=level, jackknife=jkv)
            lo_l.append(a)
            hi_l.append(b)
        d = frame[name].to_numpy(float)[keep] if name in frame.columns else np.array([])
        d = d[np.isfinite(d)]
        bse.append(float(np.std(d, ddof=1)) if d.size > 1 else np.nan)
        bp.append(bootstrap_pvalue(d) if d.size else np.nan)
    defined["pvalue_delta"] = defined["pvalue"]
    defined["ci_lower"], defined["ci_upper"] = lo, hi
    defined["std_ci_lower"], defined["std_ci_upper"] = slo, shi
    defined["boot_se"] = bse
    defined["pvalue"] = bp
    return int(keep.sum())


def _defined_rows(res: FitResult, level: float) -> pd.DataFrame:
    """The ``:=`` rows of a grouped fit as effects rows: estimate, SE, z, p and the Wald
    interval at ``level`` from the joint table, standardised values with their
    delta-method SEs and intervals from :meth:`FitResult.standardized_solution`."""
    est = res.parameter_estimates(level)
    mask = (est["op"] == ":=").to_numpy()
    if not mask.any():
        return pd.DataFrame()
    std = res.standardized_solution("std_all", level=level)
    e, s = est[mask], std[mask]
    return pd.DataFrame({
        "effect": "defined", "source": "", "outcome": "",
        "path": [f"{l} := {r}" for l, r in zip(e["lhs"], e["rhs"])],
        "est": e["est"].to_numpy(float), "se": e["se"].to_numpy(float), "z": e["z"].to_numpy(float),
        "pvalue": e["pvalue"].to_numpy(float), "ci_lower": e["ci_lower"].to_numpy(float),
        "ci_upper": e["ci_upper"].to_numpy(float), "std": s["est_std"].to_numpy(float),
        "std_se": s["se_std"].to_numpy(float), "std_ci_lower": s["ci_lower_std"].to_numpy(float),
        "std_ci_upper": s["ci_upper_std"].to_numpy(float)},
        index=pd.Index(list(e["lhs"]), name="name"))
