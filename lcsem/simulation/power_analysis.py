"""Monte Carlo power of every parameter and ``:=`` effect, and the sample size that reaches
a target power.

For each sample size N, ``n_rep`` sample covariance matrices are drawn from the population
(Wishart(N - 1, Σ)/N: the exact distribution of the ML sample covariance of N normal
rows, so no data rows are made), the analysis model is refitted to each by the batched ML
engine, and each parameter is tested with its Wald z (SE from that replicate's expected
information, lavaan's default). ``:=`` effects are also tested by the Monte Carlo CI
(Preacher & Selig, 2012): ``mc_draws`` draws of the parameters from N(θ̂, V̂) per replicate;
H0 is rejected when the ``1 - alpha`` percentile interval excludes 0.

Estimators: replicates are fitted with the result's estimator (or ``estimator=``): ML, or
for single-group covariance models GLS and ULS (the engine's one solver; SEs and χ² as
:func:`lcsem.fit` computes them).

Several groups: the population is a multi-group (or mean-structure) result's implied
moments per group, or a model with ``groups=`` (see :mod:`lcsem.simulation.groups`). Each
replicate draws every group's covariance (Wishart) and mean (normal) at its own size
(the total N split by the groups' shares), and the multi-group table is refitted by ML on
:class:`~lcsem.engine.GroupStats` batches; ``:=`` effects such as ``diff := a1 - a2`` test
differences between groups.
"""

from __future__ import annotations

import numbers
import os
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from .. import _lazy
from .._warnings import warn
from ..display.escape import html_escape
from ..exceptions import ArgumentError, ConvergenceWarning
from ..inference.standardized import DefinedParameters
from .draw import BLOCK, ValeMaurelli, as_seed_sequence, block_rng, covariance_batch, mean_batch, moments_batch
from .checkpoint import ChunkStore, fingerprint
from .generate import _check_nonnormal
from .likert import LikertCuts, likert_cuts
from ..resampling.allocator import warm_dynamic_threshold
from .population import Population, population
from .groups import GroupPopulation, group_population, split_total, sizes_per_group, wants_groups
from .group_replicates import fit_group_replicates
from .replicates import defined_with_se, fit_replicates
from ..engine import ESTIMATORS, GroupStats
from ..engine.optimize import information
from ..exceptions import NotSupportedError

__all__ = ["power", "sample_size", "PowerResult", "SampleSizeResult"]

DEFAULT_N = (100, 200, 300, 400, 600)
DEFAULT_BATCH = 250
FAILURE_SHARE_WARN = 0.05


@dataclass(frozen=True)
class PowerResult:
    """Monte Carlo power per sample size.

    Attributes
    ----------
    table
        One row per sample size and parameter: ``n lhs op rhs [group] label name pop mean_est
        sd_est mean_se power power_mcse power_mc power_mc_mcse n_converged n_tested``.
        ``power`` is the share of the ``n_tested`` replicates (converged, with a finite SE)
        whose Wald test rejects H0: value = 0 at ``alpha``; ``power_mc`` the share whose Monte Carlo CI excludes 0 (``:=`` rows);
        ``*_mcse`` their Monte Carlo standard errors. With several groups, ``n`` is the
        total N, ``group`` the row's group label (``""`` for ``:=`` rows) and ``name`` ends
        in ``[label]``; a parameter held equal across groups is listed once.
    fit
        One row per sample size: ``n n_rep n_converged n_admissible chisq_reject`` and the
        mean (over converged replicates) of ``chisq cfi tli rmsea srmr``; with several
        groups also ``n_<label>``, each group's size.
    alpha, n_rep, seed
        The settings (``seed`` is the SeedSequence entropy: reusing it reproduces the run).
    estimator
        The estimator the replicates were fitted with.
    notes
        Plain-language caveats (failures, what the power is computed over).
    """

    table: pd.DataFrame
    fit: pd.DataFrame
    alpha: float
    n_rep: int
    seed: Any
    notes: tuple[str, ...] = field(default=())
    estimator: str = "ML"

    def power_of(self, parameter: str, test: str = "wald") -> pd.Series:
        """Power of one parameter (a ``:=`` name, a label or ``"lhs op rhs"``) per N."""
        rows = _select(self.table, parameter)
        column = "power_mc" if test == "montecarlo" else "power"
        return rows.set_index("n")[column]

    def summary(self) -> str:
        """A plain-text summary."""
        lines = [f"Monte Carlo power ({self.estimator}, {self.n_rep} replicates per N, alpha = {self.alpha:g})",
                 self.fit.to_string(index=False, float_format=lambda v: f"{v:.3f}")]
        wide = self.table.pivot(index="name", columns="n", values="power").reindex(
            list(dict.fromkeys(self.table["name"])))
        lines += ["", "Power (Wald z) by N", wide.to_string(float_format=lambda v: f"{v:.3f}")]
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        wide = self.table.pivot(index="name", columns="n", values="power").reindex(
            list(dict.fromkeys(self.table["name"])))
        notes = "".join(f"<p><em>{html_escape(n)}</em></p>" for n in self.notes)
        return (f"<p><strong>Monte Carlo power</strong> ({html_escape(self.estimator)}, {self.n_rep} replicates per N, "
                f"α = {self.alpha:g})</p>" + self.fit.to_html(index=False, float_format=lambda v: f"{v:.3f}")
                + "<p>Power (Wald z) by N</p>" + wide.to_html(float_format=lambda v: f"{v:.3f}") + notes)

    def __repr__(self) -> str:
        return f"PowerResult(n={list(self.fit['n'])}, n_rep={self.n_rep}, alpha={self.alpha:g})"

    def plot(self, parameters: Iterable[str] | str | None = None, ax=None, **kwargs):
        """Power curves (see :func:`lcsem.plot_power`)."""
        from .plot import plot_power
        return plot_power(self, parameters, ax=ax, **kwargs)


@dataclass(frozen=True)
class SampleSizeResult:
    """The smallest N found to reach the target power, and every N tried."""

    n: int
    power: float
    target: float
    parameter: str
    test: str
    tried: pd.DataFrame   # n, power, power_mcse
    result: PowerResult   # the simulation at ``n``

    def __repr__(self) -> str:
        return (f"SampleSizeResult(n={self.n}, power={self.power:.3f} for {self.parameter!r} "
                f"({self.test}), target={self.target:g})")


# ---------------------------------------------------------------------------- validation
def _int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ArgumentError(f"{name}: {value!r} is not a whole number ≥ {minimum}")
    return int(value)


def _prob(name: str, value, example: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (0 < float(value) < 1):
        raise ArgumentError(f"{name}: {value!r} is not a probability strictly between 0 and 1; use e.g. {example}")
    return float(value)


def _sizes(n, k: int) -> list[int]:
    values = [n] if isinstance(n, numbers.Integral) and not isinstance(n, bool) else n
    try:
        values = list(values)
    except TypeError:
        raise ArgumentError(f"n: expected a sample size or a list of them, got {n!r}") from None
    if not values:
        raise ArgumentError("n: the list of sample sizes is empty; pass e.g. n=[100, 200, 300]")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise ArgumentError(f"n: {v!r} is not a whole number of cases")
        if v <= k:
            raise ArgumentError(f"n: {v} cases are too few for a model with {k} free parameters; use N > {k} "
                                f"(in practice several times more)")
        out.append(int(v))
    if len(set(out)) != len(out):
        raise ArgumentError(f"n: {values!r} repeats a sample size; list each once")
    return out


def _n_workers(n_jobs) -> int:
    if n_jobs is None:
        return 1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0 or n_jobs < -1:
        raise ArgumentError(f"n_jobs: {n_jobs!r} is not 1, a number of workers, or -1 (all cores)")
    if n_jobs == -1:
        return os.cpu_count() or 1
    return int(n_jobs)


# ---------------------------------------------------------------------------- one chunk
@dataclass
class _Setup:
    pop: Population | GroupPopulation
    defined: DefinedParameters
    mc_draws: int
    alpha: float
    entropy: Any
    spawn_key: tuple
    used: np.ndarray     # free parameters the ':=' definitions depend on
    used_rows: np.ndarray = None        # table rows holding one of them
    used_row_param: np.ndarray = None   # position in ``used`` of each such row's parameter
    generator: ValeMaurelli | None = None   # non-normal rows (None: Wishart moments)
    likert: LikertCuts | None = None
    estimator: str = "ML"
    group_sizes: list = None                 # per N: (G,) group sizes (grouped populations)
    generators: list = None                  # per group: ValeMaurelli or None

    def __post_init__(self):
        free = self.pop.struct.row_free
        pos = {int(f): j for j, f in enumerate(self.used)}
        self.used_rows = np.array([r for r, f in enumerate(free) if int(f) in pos], dtype=int)
        self.used_row_param = np.array([pos[int(free[r])] for r in self.used_rows], dtype=int)


def _chunk(setup: _Setup, i: int, n: int, start: int, stop: int) -> dict[str, np.ndarray]:
    """Replicates ``start..stop-1`` at sample size index ``i``."""
    warm_dynamic_threshold()
    from threadpoolctl import threadpool_limits

    pop = setup.pop
    root = np.random.SeedSequence(setup.entropy, spawn_key=setup.spawn_key)
    with threadpool_limits(limits=1):
        if isinstance(pop, GroupPopulation):
            fits = fit_group_replicates(pop, _group_stats(setup, root, i, start, stop))
        else:
            if setup.generator is None and setup.likert is None:
                S = covariance_batch(root, (i, 0), pop.sigma, n, start, stop)
            else:
                S, _ = moments_batch(root, (i, 2), pop.sigma, n, start, stop, setup.generator, setup.likert)
            fits = fit_replicates(pop.model, pop.struct, S, pop.theta, n, estimator=setup.estimator)
        out: dict[str, np.ndarray] = {"theta": fits.theta, "se": fits.se, "converged": fits.converged,
                                      "admissible": fits.admissible, **{f"fit_{k}": v for k, v in fits.fit.items()}}
        if setup.defined.names:
            values, se, J = defined_with_se(setup.defined, pop.struct, fits.theta, fits.vcov)
            out["def_est"], out["def_se"] = values, se
            out["def_mc"] = _mc_reject(setup, root, i, start, stop, fits.theta, fits.vcov, J)
    return out


def _group_stats(setup: _Setup, root, i: int, start: int, stop: int) -> GroupStats:
    """Every group's sample covariances and means for replicates ``start..stop-1`` at
    sample size index ``i`` (streams keyed by the group: whole blocks, chunk-independent)."""
    pop, sizes = setup.pop, setup.group_sizes[i]
    G, p = pop.n_groups, len(pop.names)
    R = stop - start
    cov, mean = np.empty((R, G, p, p)), np.empty((R, G, p))
    for g in range(G):
        n_g = int(sizes[g])
        if setup.generators[g] is None and setup.likert is None:
            cov[:, g] = covariance_batch(root, (i, 0, g), pop.sigma[g], n_g, start, stop)
            mean[:, g] = mean_batch(root, (i, 3, g), pop.mu[g], pop.sigma[g], n_g, start, stop)
        else:
            cov[:, g], mean[:, g] = moments_batch(root, (i, 2, g), pop.sigma[g], n_g, start, stop,
                                                  setup.generators[g], setup.likert, mean=pop.mu[g])
    return GroupStats(cov, mean, np.asarray(sizes, float))


def _mc_reject(setup: _Setup, root, i: int, start: int, stop: int, theta, vcov, J) -> np.ndarray:
    """Monte Carlo CI test of each ``:=`` value per replicate: (R, D), NaN where V̂ is unusable."""
    struct, defined, used = setup.pop.struct, setup.defined, setup.used
    R, k = theta.shape
    D = len(defined.names)
    reject = np.full((R, D), np.nan)
    if used.size == 0 or setup.mc_draws == 0 or R == 0:
        return reject
    first, last = start // BLOCK, (stop - 1) // BLOCK
    Z = np.concatenate([block_rng(root, (i, 1), b).standard_normal((BLOCK, setup.mc_draws, used.size))
                        for b in range(first, last + 1)])[start - first * BLOCK: stop - first * BLOCK]
    V = vcov[:, used[:, None], used[None, :]]
    ok = np.all(np.isfinite(V), axis=(1, 2)) & np.all(np.isfinite(theta), axis=1)
    L = np.zeros_like(V)
    if ok.any():
        w, U = np.linalg.eigh(V[ok])
        good = w[:, 0] >= -1e-12 * np.maximum(1.0, w[:, -1])
        L[np.flatnonzero(ok)] = U * np.sqrt(np.clip(w, 0, None))[:, None, :]
        ok[np.flatnonzero(ok)[~good]] = False
    lo_q, hi_q = setup.alpha / 2, 1 - setup.alpha / 2
    for s0 in range(0, R, BLOCK):            # bounded memory: BLOCK * mc_draws parameter vectors
        idx = np.arange(s0, min(R, s0 + BLOCK))
        idx = idx[ok[idx]]
        if idx.size == 0:
            continue
        # table-row values of every draw: the replicate's rows, with the rows of the used
        # parameters replaced by their draws
        moved = theta[idx][:, None, used] + Z[idx] @ np.swapaxes(L[idx], 1, 2)
        rows = np.repeat(struct.row_values(theta[idx])[:, None, :], setup.mc_draws, axis=1)
        rows[:, :, setup.used_rows] = moved[:, :, setup.used_row_param]
        vals = defined.evaluate(rows.reshape(idx.size * setup.mc_draws, -1)).reshape(idx.size, setup.mc_draws, D)
        lo, hi = np.quantile(vals, [lo_q, hi_q], axis=1)
        reject[idx] = ((lo > 0) | (hi < 0)).astype(float)
    return reject


def _used(defined: DefinedParameters, pop: Population) -> np.ndarray:
    """Free parameters the definitions depend on (non-zero Jacobian at two points)."""
    if not defined.names:
        return np.zeros(0, dtype=int)
    k = pop.struct.k
    points = np.stack([pop.theta, pop.theta * 1.1 + 0.05])
    _, _, J = defined_with_se(defined, pop.struct, points, np.zeros((2, k, k)))
    return np.flatnonzero(np.any(np.abs(J) > 0, axis=(0, 1)))


# ---------------------------------------------------------------------------- the run
def _run(setup: _Setup, sizes: list[int], n_rep: int, batch_size: int, workers: int,
         progress: bool, store: ChunkStore) -> list[dict[str, np.ndarray]]:
    tasks = [(i, n, s, min(s + batch_size, n_rep)) for i, n in enumerate(sizes) for s in range(0, n_rep, batch_size)]
    todo = [t for t in tasks if (t[0], t[2]) not in store.chunks]
    bar = _progress(progress, len(tasks), len(tasks) - len(todo))
    try:
        if workers == 1:
            results = (_chunk(setup, *t) for t in todo)
        else:
            from joblib import Parallel, delayed
            results = Parallel(n_jobs=workers, return_as="generator")(delayed(_chunk)(setup, *t) for t in todo)
        for t, out in zip(todo, results):
            store.add(t[0], t[2], out)     # saved at once when checkpointing
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    merged = []
    for i in range(len(sizes)):
        parts = [store.chunks[(t[0], t[2])] for t in tasks if t[0] == i]
        merged.append({key: np.concatenate([p[key] for p in parts]) for key in parts[0]})
    return merged


def _progress(enabled: bool, total: int, done: int):
    if not enabled:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, initial=done, desc="power", leave=False)


def power(model: Any, n: Any = DEFAULT_N, n_rep: int = 1000, *, alpha: float = 0.05,
          params: Mapping[str, Any] | None = None, seed: Any = None, mc_draws: int = 1000,
          n_jobs: int | None = 1, batch_size: int | None = None, progress: bool = False,
          nonnormal: tuple[Any, Any] | None = None, likert: Any = None,
          checkpoint: str | os.PathLike | None = None, estimator: str | None = None, groups: Any = None,
          ratio: Any = None, group_equal: Any = (), group_partial: Any = ()) -> PowerResult:
    """Monte Carlo power of every free parameter and ``:=`` effect at each sample size.

    Parameters
    ----------
    model
        A fitted :class:`lcsem.FitResult` (its estimates are the population and its model
        is refitted; a multi-group or mean-structure result: each group's implied means and
        covariances), or an :class:`lcsem.Model` / model text (standardised population
        values: ``model.population``, ``params``, defaults; several groups with
        ``groups=``).
    n
        Sample sizes (each larger than the number of free parameters). With several
        groups: an int is the total N, split by the groups' shares (``ratio``), so the
        groups grow together; an entry that is a tuple (one size per group, in order) or a
        dict ``{label: n}`` gives the group sizes, e.g. ``n=[(120, 80), (240, 160)]``.
        Every group needs more cases than observed variables.
    n_rep
        Replicates per sample size (1,000 gives a Monte Carlo SE of at most 0.016).
    alpha
        Significance level of every test.
    params
        Standardised population values ``{"lhs op rhs": value}`` overriding the model's.
    seed
        None, an int, a ``numpy.random.Generator`` or a ``SeedSequence``. The same seed
        gives bit-identical results whatever ``n_jobs`` and ``batch_size``.
    mc_draws
        Draws per replicate for the Monte Carlo CI test of ``:=`` effects (0: skip it).
    n_jobs
        1 (in process), k worker processes, or -1 for all cores (joblib; any joblib backend,
        e.g. a dask cluster, with ``joblib.parallel_backend``).
    batch_size
        Replicates per chunk; memory is bounded by one chunk per worker, never by ``n_rep``.
    progress
        Show a tqdm progress bar over chunks.
    nonnormal, likert
        Simulate raw rows instead of Wishart moments: Vale–Maurelli data with these
        ``(skew, excess kurtosis)`` values and/or cut into Likert categories (a number of
        categories, thresholds, or ``{variable: ...}``), as in :func:`lcsem.simulate`. The replicates are still fitted by normal-theory ML (with
        its SEs), so the power shows what that analysis achieves on such data; with Likert
        data the estimates target the categorised variables, not ``pop``.
    estimator
        ``"ML"``, ``"GLS"`` or ``"ULS"`` for the replicates (default: the result's
        estimator, ML for a model). GLS and ULS fit single-group covariance models on the
        unbiased covariance, with the SEs and χ² of :func:`lcsem.fit` (ULS has no χ² test:
        ``chisq_reject`` is NaN); several groups or a mean structure: ML.
    groups
        Several groups from a model (see :func:`lcsem.simulate`): a number of groups, a
        list of labels, or ``{label: {"lhs op rhs": value}}`` of each group's standardised
        values; in ``params`` a list gives one value per group (lavaan's ``c()``), and
        ``"x ~1"`` keys set intercepts/means. Not with a fitted result (it has its groups).
    ratio
        Relative group sizes used to split an int N (default: a result's group sizes, equal
        for a model), e.g. ``ratio=(3, 2)``.
    group_equal, group_partial
        lavaan's ``group.equal`` / ``group.partial`` for the analysis model fitted to a
        model's groups (as in :func:`lcsem.fit`).
    checkpoint
        A file path: every finished chunk is saved there, and a later call with the same
        settings (model, population, seed, sizes, ``n_rep``, ``batch_size``, ...) resumes
        from it, e.g. after Ctrl-C. The file holds plain arrays (read without pickle).

    Returns
    -------
    PowerResult

    Warns
    -----
    ConvergenceWarning
        When more than 5% of the replicates at some N did not converge: the power is then
        computed over the converged replicates only, and the counts are in ``.fit``.
    """
    n_rep = _int("n_rep", n_rep, 1)
    alpha = _prob("alpha", alpha, "alpha=0.05")
    mc_draws = _int("mc_draws", mc_draws, 0)
    workers = _n_workers(n_jobs)
    batch_size = DEFAULT_BATCH if batch_size is None else _int("batch_size", batch_size, 1)
    if not isinstance(progress, (bool, np.bool_)):
        raise ArgumentError(f"progress: expected True or False, got {progress!r}")
    if checkpoint is not None and not isinstance(checkpoint, (str, os.PathLike)):
        raise ArgumentError(f"checkpoint: expected a file path, got {checkpoint!r}")
    pop = _population(model, params, groups, ratio, group_equal, group_partial)
    estimator = _estimator(model, estimator, pop)
    cuts = likert_cuts(likert, list(pop.names) if isinstance(pop, GroupPopulation) else list(pop.model.observed))
    cut_points = None if cuts is None else [t.tolist() for t in cuts.thresholds]
    root = as_seed_sequence(seed)
    extra = []
    if isinstance(pop, GroupPopulation):
        sizes, group_sizes = _group_sizes(n, pop)
        shape = _check_nonnormal(nonnormal, len(pop.names))
        generators = [None if shape is None else ValeMaurelli(pop.sigma[g], *shape) for g in range(pop.n_groups)]
        generator = generators[0]
        defined = DefinedParameters(pop.rows)
        setup = _Setup(pop, defined, mc_draws, alpha, root.entropy, tuple(root.spawn_key), _used(defined, pop),
                       generator=generator, likert=cuts, group_sizes=group_sizes, generators=generators)
        stamp = fingerprint("power-groups-v1", repr(pop.rows), pop.sigma, pop.mu, pop.theta, pop.labels,
                            [list(map(int, g)) for g in group_sizes], n_rep, batch_size, alpha, mc_draws,
                            root.entropy, tuple(root.spawn_key), nonnormal, cut_points)
        if pop.fmin > 1e-10:
            extra.append(f"the analysis model does not hold in the population (F_ML = {pop.fmin:.4g}); 'pop' is "
                         f"its closest ML fit (groups weighed by their shares)")
    else:
        if pop.model.df < 0:
            raise ArgumentError(f"model: it has df = {pop.model.df} (not identified); fix parameters or add "
                                f"indicators")
        sizes = _sizes(n, pop.struct.k)
        shape = _check_nonnormal(nonnormal, pop.struct.p)
        generator = None if shape is None else ValeMaurelli(pop.sigma, *shape)
        defined = DefinedParameters(pop.model.rows)
        setup = _Setup(pop, defined, mc_draws, alpha, root.entropy, tuple(root.spawn_key), _used(defined, pop),
                       generator=generator, likert=cuts, estimator=estimator)
        stamp = fingerprint("power-v1", pop.model.to_syntax(), pop.sigma, pop.theta, sizes, n_rep, batch_size,
                            alpha, mc_draws, root.entropy, tuple(root.spawn_key), nonnormal, cut_points,
                            *([estimator] if estimator != "ML" else []))
    merged = _run(setup, sizes, n_rep, batch_size, workers, progress, ChunkStore(checkpoint, stamp))
    if generator is not None or cuts is not None:
        what = [f"Vale–Maurelli rows (skew, kurtosis) = {nonnormal}" if generator is not None else "normal rows",
                cuts.describe() if cuts is not None else ""]
        extra.append("data: " + " ".join(w for w in what if w) + f"; fitted by normal-theory {estimator}")
    return _summarise(setup, sizes, n_rep, merged, root, extra)


def _population(model, params, groups, ratio, group_equal, group_partial) -> Population | GroupPopulation:
    """The simulation's population: grouped (several groups or means) or one group."""
    if isinstance(group_equal, str):
        group_equal = [group_equal]
    if isinstance(group_partial, str):
        group_partial = [group_partial]
    if wants_groups(model, groups):
        return group_population(model, params, groups, group_equal=tuple(group_equal),
                                group_partial=tuple(group_partial), ratio=ratio)
    if ratio is not None or tuple(group_equal) or tuple(group_partial):
        raise ArgumentError("ratio / group_equal / group_partial: they apply to several groups; pass groups=... "
                            "(or a multi-group result)")
    return population(model, params)


def _estimator(model, estimator, pop) -> str:
    """The estimator of the replicates: ``estimator=``, else the result's, else ML."""
    if estimator is None:
        estimator = getattr(model, "estimator", "ML") if hasattr(model, "theta") else "ML"
    if not isinstance(estimator, str) or estimator.upper() not in ESTIMATORS:
        raise ArgumentError(f"estimator: {estimator!r} is not supported; use one of {', '.join(ESTIMATORS)}")
    estimator = estimator.upper()
    if estimator != "ML" and isinstance(pop, GroupPopulation):
        raise NotSupportedError(f"estimator: {estimator} power for several groups or a mean structure is not "
                                f"available (the engine fits those by ML); use estimator='ML'")
    return estimator


def _group_sizes(n: Any, pop: GroupPopulation) -> tuple[list[int], list[np.ndarray]]:
    """Totals and per-group sizes: an int entry is the total N split by the groups' shares;
    an entry that is a list/tuple (one size per group) or a dict ``{label: n}`` gives the
    sizes themselves (``n=[(120, 80), (240, 160)]``)."""
    single = (isinstance(n, numbers.Integral) and not isinstance(n, bool)) or isinstance(n, Mapping)
    entries = [n] if single else n
    try:
        entries = list(entries)
    except TypeError:
        raise ArgumentError(f"n: expected a total sample size or a list of them, got {n!r}") from None
    if not entries:
        raise ArgumentError("n: the list of sample sizes is empty; pass e.g. n=[200, 400]")
    totals, per_group = [], []
    p, k = len(pop.names), pop.struct.k
    for entry in entries:
        if isinstance(entry, bool) or not isinstance(entry, (numbers.Integral, list, tuple, np.ndarray, Mapping)):
            raise ArgumentError(f"n: {entry!r} is not a total sample size or a list of group sizes")
        if isinstance(entry, numbers.Integral):
            sizes = split_total(int(entry), pop.shares)
        else:
            sizes = sizes_per_group(entry, pop.labels, None)
        small = [(l, int(v)) for l, v in zip(pop.labels, sizes) if v <= p]
        if small:
            raise ArgumentError(f"n: {entry!r} gives group {small[0][0]!r} {small[0][1]} cases, not more than its "
                                f"{p} variables; every group needs N_g > {p} (raise N)")
        if int(sizes.sum()) <= k:
            raise ArgumentError(f"n: {int(sizes.sum())} cases are too few for a model with {k} free parameters; "
                                f"use N > {k} (in practice several times more)")
        totals.append(int(sizes.sum()))
        per_group.append(sizes)
    if len(set(totals)) != len(totals):
        raise ArgumentError(f"n: {n!r} gives two designs with the same total N (the results are keyed by the "
                            f"total); list each total once, or run power() once per split")
    return totals, per_group


def _row_info(pop: Population | GroupPopulation) -> list[tuple[str, str, str, str, int, float, str]]:
    """(lhs, op, rhs, label, free index, population value, group label) of each free
    parameter, once (group label ``""`` with one group)."""
    seen, out = set(), []
    theta = pop.theta
    grouped = isinstance(pop, GroupPopulation)
    fixed_x = pop.fixed_x if grouped else pop.model.fixed_x_free
    labels = pop.labels if grouped and pop.n_groups > 1 else None
    for r, f in zip(pop.struct.rows, pop.struct.row_free):
        if f < 0 or f in seen or (f + 1) in fixed_x:
            continue
        seen.add(f)
        out.append((r.lhs, r.op, r.rhs, r.label, int(f), float(theta[f]), labels[r.group - 1] if labels else ""))
    return out


def _table_rows(pop: Population | GroupPopulation) -> tuple:
    return pop.rows if isinstance(pop, GroupPopulation) else pop.model.rows


def _name(lhs: str, op: str, rhs: str, group: str) -> str:
    text = f"{lhs} {op} {rhs}".rstrip()
    return f"{text} [{group}]" if group else text


def _summarise(setup: _Setup, sizes: list[int], n_rep: int, merged, root, extra: list[str]) -> PowerResult:
    pop = setup.pop
    z_crit = _lazy.norm_ppf(1 - setup.alpha / 2)
    rows, fit_rows, notes = [], [], []
    free_rows = _row_info(pop)
    if setup.defined.names:
        d_pop, _, _ = defined_with_se(setup.defined, pop.struct, pop.theta[None], np.zeros((1, pop.struct.k, pop.struct.k)))
    multi = isinstance(pop, GroupPopulation) and pop.n_groups > 1
    for i_n, (n, out) in enumerate(zip(sizes, merged)):
        conv = out["converged"]
        nc = int(conv.sum())

        def share(x):
            x = x[conv]
            x = x[np.isfinite(x)]
            if x.size == 0:
                return np.nan, np.nan, 0
            p = float(np.mean(x))
            return p, float(np.sqrt(p * (1 - p) / x.size)), int(x.size)

        for lhs, op, rhs, label, f, value, group in free_rows:
            est, se = out["theta"][:, f], out["se"][:, f]
            with np.errstate(invalid="ignore", divide="ignore"):
                rej = np.where(np.isfinite(se), (np.abs(est / se) > z_crit).astype(float), np.nan)
            pw, mcse, used = share(rej)
            rows.append(dict(n=n, lhs=lhs, op=op, rhs=rhs, **({"group": group} if multi else {}), label=label,
                             name=_name(lhs, op, rhs, group), pop=value,
                             mean_est=_mean(est[conv]), sd_est=_sd(est[conv]), mean_se=_mean(se[conv]),
                             power=pw, power_mcse=mcse, power_mc=np.nan, power_mc_mcse=np.nan, n_converged=nc,
                             n_tested=used))
        for d, name in enumerate(setup.defined.names):
            est, se = out["def_est"][:, d], out["def_se"][:, d]
            with np.errstate(invalid="ignore", divide="ignore"):
                rej = np.where(np.isfinite(se), (np.abs(est / se) > z_crit).astype(float), np.nan)
            pw, mcse, used = share(rej)
            mc, mc_se, _ = share(out["def_mc"][:, d]) if setup.mc_draws else (np.nan, np.nan, 0)
            expr = [r.rhs for r in _table_rows(pop) if r.op == ":=" and r.lhs == name][0]
            rows.append(dict(n=n, lhs=name, op=":=", rhs=expr, **({"group": ""} if multi else {}), label=name,
                             name=name, pop=float(d_pop[0, d]),
                             mean_est=_mean(est[conv]), sd_est=_sd(est[conv]), mean_se=_mean(se[conv]),
                             power=pw, power_mcse=mcse, power_mc=mc, power_mc_mcse=mc_se, n_converged=nc,
                             n_tested=used))
        fit = {k[4:]: v for k, v in out.items() if k.startswith("fit_")}
        per_group = ({f"n_{label}": int(v) for label, v in zip(pop.labels, setup.group_sizes[i_n])}
                     if multi else {})
        fit_rows.append(dict(n=n, **per_group, n_rep=n_rep, n_converged=nc, n_admissible=int(out["admissible"].sum()),
                             chisq_reject=_reject_rate(fit["pvalue"][conv], setup.alpha),
                             **{f"mean_{k}": _mean(fit[k][conv]) for k in ("chisq", "cfi", "tli", "rmsea", "srmr")}))
        failed = n_rep - nc
        if failed > FAILURE_SHARE_WARN * n_rep:
            msg = (f"at N = {n}, {failed} of {n_rep} replicates did not converge; power is computed over the "
                   f"{nc} converged replicates only (see .fit for the counts)")
            notes.append(msg)
            warn(msg, ConvergenceWarning, stacklevel=4)
    if not notes and not extra:
        notes.append("power is the share of converged replicates rejecting H0 (counts in .fit); "
                     f"normal-theory {setup.estimator} on multivariate-normal data"
                     + (f"; {pop.n_groups} groups, n is the total N" if multi else ""))
    notes += extra
    table = pd.DataFrame(rows)
    return PowerResult(table=table, fit=pd.DataFrame(fit_rows), alpha=setup.alpha, n_rep=n_rep,
                       seed=root.entropy, notes=tuple(notes), estimator=setup.estimator)


def _reject_rate(pvalue: np.ndarray, alpha: float) -> float:
    """Share of finite p-values below ``alpha`` (NaN when there are none: ULS has no χ² test)."""
    pvalue = pvalue[np.isfinite(pvalue)]
    return float(np.mean(pvalue < alpha)) if pvalue.size else float("nan")


def _mean(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else float("nan")


def _sd(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(x.std(ddof=1)) if x.size > 1 else float("nan")


def _select(table: pd.DataFrame, parameter: str) -> pd.DataFrame:
    key = " ".join(str(parameter).split())
    for column in ("name", "label"):
        rows = table[table[column] == key]
        if len(rows):
            return rows[rows["label"] == key] if column == "label" and (rows["op"] == ":=").any() else rows
    parts = key.replace("=~", " =~ ").replace("~~", " ~~ ").split()
    if len(parts) == 1 and "~" in key:
        parts = key.replace("~", " ~ ").split()
    rows = table[table["name"] == " ".join(parts)]
    if len(rows):
        return rows
    names = list(dict.fromkeys(table["name"]))
    in_groups = [name for name in names if name.rsplit(" [", 1)[0] == " ".join(parts)]
    if in_groups:
        raise ArgumentError(f"parameter: {parameter!r} is a parameter of every group; name one of {in_groups} "
                            f"(or its label)")
    raise ArgumentError(f"parameter: {parameter!r} is not a parameter of the model; use a ':=' name, a label "
                        f"or one of {names[:8]}{' ...' if len(names) > 8 else ''}")


# ---------------------------------------------------------------------------- sample size
def sample_size(model: Any, target: float = 0.80, parameter: str = "ind", *, test: str = "wald",
                n_rep: int = 1000, alpha: float = 0.05, params: Mapping[str, float] | None = None,
                seed: Any = None, n_max: int = 100_000, tolerance: int | None = None, mc_draws: int = 1000,
                n_jobs: int | None = 1, batch_size: int | None = None, estimator: str | None = None,
                groups: Any = None, ratio: Any = None, group_equal: Any = (),
                group_partial: Any = ()) -> SampleSizeResult:
    """The smallest sample size at which ``parameter`` reaches ``target`` power.

    A first guess comes from the population's expected information (the N at which the
    Wald test's asymptotic power is ``target``); it is then checked and refined by
    simulation: the guess is widened until it brackets the target, then bisected on
    integers (every N uses the same seed). The answer is where the bisection ends: an N
    whose simulated power is at least ``target`` while an N at most ``tolerance`` cases
    smaller (default 2% of N, at least 2) falls short. Simulated power carries Monte Carlo
    error (see ``tried``), so neighbouring N can swap order; raise ``n_rep`` to narrow it.

    Parameters
    ----------
    model
        As in :func:`power`.
    target
        Power to reach, in (0, 1).
    parameter
        A ``:=`` name (default ``"ind"``), a label or ``"lhs op rhs"``.
    test
        ``"wald"`` (z test) or ``"montecarlo"`` (Monte Carlo CI; ``:=`` effects only).
    n_rep, alpha, params, seed, mc_draws, n_jobs, batch_size, estimator
        As in :func:`power`.
    groups, ratio, group_equal, group_partial
        As in :func:`power`: with several groups the search is over the total N, split by
        the groups' shares (``ratio``; a result's own group sizes by default), so every
        group grows with it.
    n_max
        Largest N considered.

    Returns
    -------
    SampleSizeResult
    """
    target = _prob("target", target, "target=0.80")
    if test not in ("wald", "montecarlo"):
        raise ArgumentError(f"test: {test!r} is not 'wald' or 'montecarlo'")
    n_rep = _int("n_rep", n_rep, 1)
    alpha = _prob("alpha", alpha, "alpha=0.05")
    pop = _population(model, params, groups, ratio, group_equal, group_partial)
    estimator = _estimator(model, estimator, pop)
    guess = _analytic_n(pop, parameter, target, alpha)
    if test == "montecarlo" and parameter not in DefinedParameters(_table_rows(pop)).names:
        raise ArgumentError(f"test: the Monte Carlo CI test applies to ':=' effects; {parameter!r} is not one "
                            f"(use test='wald')")
    column = "power_mc" if test == "montecarlo" else "power"
    tried: dict[int, tuple[float, float, PowerResult]] = {}

    def at(n_: int) -> float:
        if n_ not in tried:
            res = power(model, [n_], n_rep, alpha=alpha, params=params, seed=seed,
                        mc_draws=mc_draws if test == "montecarlo" else 0, n_jobs=n_jobs, batch_size=batch_size,
                        estimator=estimator, groups=groups, ratio=ratio, group_equal=group_equal,
                        group_partial=group_partial)
            row = _select(res.table, parameter).iloc[0]
            tried[n_] = (float(row[column]), float(row[f"{column}_mcse"]), res)
        return tried[n_][0]

    lo_n = _smallest_n(pop)
    hi = int(min(max(guess, lo_n + 1), n_max))
    while at(hi) < target:
        lo_n = hi
        if hi >= n_max:
            raise ArgumentError(f"target: power {target:g} for {parameter!r} is not reached with N ≤ {n_max:,} "
                                f"(power {at(hi):.3f} at N = {hi}); raise n_max or lower the target")
        hi = int(min(n_max, np.ceil(hi * 1.5)))
    floor = _smallest_n(pop)
    lo = max(lo_n, int(hi / 1.5)) if lo_n == floor else lo_n
    while lo > floor and at(lo) >= target:
        hi, lo = lo, max(floor, int(lo / 1.5))
    while hi - lo > max(2, tolerance if tolerance is not None else int(0.02 * hi)):
        mid = (lo + hi) // 2
        if at(mid) >= target:
            hi = mid
        else:
            lo = mid
    table = pd.DataFrame([(n_, v[0], v[1]) for n_, v in sorted(tried.items())], columns=["n", "power", "power_mcse"])
    return SampleSizeResult(n=hi, power=tried[hi][0], target=target, parameter=str(parameter), test=test,
                            tried=table, result=tried[hi][2])


def _smallest_n(pop: Population | GroupPopulation) -> int:
    """The smallest total N ``power`` accepts: more cases than parameters and, with groups,
    more cases than variables in every group."""
    k = pop.struct.k
    if not isinstance(pop, GroupPopulation):
        return k + 1
    p = len(pop.names)
    n = max(k + 1, int(np.ceil((p + 1) / pop.shares.min())))
    while np.any(split_total(n, pop.shares) <= p):
        n += 1
    return n


def _analytic_n(pop: Population | GroupPopulation, parameter: str, target: float, alpha: float) -> int:
    """N at which the Wald test's asymptotic power reaches ``target`` (ML's expected
    information, also GLS's asymptotic variance; for ULS only a first guess that the
    simulated search corrects)."""
    struct, theta = pop.struct, pop.theta
    if isinstance(pop, GroupPopulation):
        stats = GroupStats(pop.sigma[None], pop.mu[None], pop.shares)
        info = information(struct, theta[None], stats)[0]
    else:
        info = information(struct, theta[None])[0]
    V1 = 2.0 * np.linalg.pinv(info)   # N * vcov
    defined = DefinedParameters(_table_rows(pop))
    table = pd.DataFrame([dict(name=_name(l, o, r, grp), label=lab, op=o, f=f, value=v)
                          for l, o, r, lab, f, v, grp in _row_info(pop)]
                         + [dict(name=d, label=d, op=":=", f=-1 - j, value=np.nan) for j, d in enumerate(defined.names)])
    row = _select(table, parameter).iloc[0]
    if row["f"] >= 0:
        value, se1 = row["value"], np.sqrt(V1[int(row["f"]), int(row["f"])])
    else:
        j = -1 - int(row["f"])
        vals, se, _ = defined_with_se(defined, struct, theta[None], V1[None])
        value, se1 = vals[0, j], se[0, j]
    if not np.isfinite(se1) or abs(value) < 1e-5 * max(se1, 1e-12):
        raise ArgumentError(f"parameter: {parameter!r} is 0 in the population, so its power stays at alpha for "
                            f"every N; choose a non-zero effect (or set its population value with params=)")
    z = _lazy.norm_ppf(1 - alpha / 2) + _lazy.norm_ppf(target)
    return int(np.ceil((z * se1 / abs(value)) ** 2))
