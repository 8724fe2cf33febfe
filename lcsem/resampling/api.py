"""``lcsem.bootstrap(fit, n_resamples, ...)``: validate, plan, run, assemble."""

from __future__ import annotations

import numbers
import os
from pathlib import Path

import numpy as np
import pandas as pd

from .._warnings import warn
from ..exceptions import ArgumentError, BootstrapFailureWarning, BootstrapInterruptedWarning, NotSupportedError
from ..inference.fit_indices import BOOTSTRAP_INDEX_NAMES
from ..results.fit_result import FitResult
from .fiml import bollen_stine_missing, fiml_source
from .groups import GroupedReplicateSpec, GroupSource
from .parallel import default_backend_is_loky
from .ordinal import OrdinalReplicateSpec, OrdinalSource
from .replicates import STATUS_NAMES, ReplicateSpec, refit_estimator
from .result import KINDS, BootstrapResult
from .draws import TILE, CaseDraws, ResampleIndices, fit_positions
from .resample import BLOCK, as_seed_sequence, bollen_stine_transform, symmetric_sqrt
from .runner import Progress, Source, Store, fingerprint, jackknife_tasks, make_tasks, run_all

__all__ = ["bootstrap", "BootstrapInterruptedWarning"]

DEFAULT_BATCH = 200
CACHE_ELEMENTS = 300_000        # one process: chunks of up to this many elements per k x k array
#: default chunk with workers, at most (measured, 4,000 HS replicates on 2 cores: loky
#: 1.6x with 200 replicates a chunk, 1.9x with 1,000; dask 1.3x and 1.6x)
PARALLEL_BATCH = 1000
CHUNKS_PER_WORKER = 2
#: chunk with a joblib backend other than loky (dask, ray), at most: such a backend's task
#: costs more (dask here: a 10 ms round trip, and its scheduler's CPU in this process), so
#: chunks are larger (measured, HS on a 2-worker LocalCluster, one process / dask: 4,000
#: replicates 1.51-1.59x with 1,000 a chunk, 1.56-1.70x with 2,000; 12,000: 1.57x, 1.66x)
REMOTE_BATCH = 2000
#: elements per (batch, k, k) array of such a chunk, at most (8 MB)
REMOTE_ELEMENTS = 1_000_000
# bumped whenever a replicate's numbers change (checkpoints of other revisions are refused);
# 3: resampled moments by fixed tiles of replicates (draws per chunk)
ENGINE_REVISION = 3


def default_batch_size(n_resamples: int, workers: int, k: int, remote: bool = False) -> int:
    """Replicates per chunk for ``k`` free parameters (the numbers do not depend on it).

    The engine holds a few dozen (batch, k, k) arrays: in one process, chunks of
    :data:`CACHE_ELEMENTS` elements per array (at least :data:`DEFAULT_BATCH`: measured, HS,
    k = 21, 4% faster with 600 than with 200; the LC model, k = 35, 4% slower with 400);
    with workers at most :data:`PARALLEL_BATCH` (and ~4 MB per array), and
    :data:`CHUNKS_PER_WORKER` chunks each, so that chunks finish (and are kept on Ctrl-C)
    along the run; every chunk costs a hand-off, so not more. With a ``remote`` joblib
    backend (dask, ray), whose tasks cost more: chunks of up to :data:`REMOTE_BATCH`, of
    equal size and as many for every worker (within one chunk when each gets many). Whole
    seed blocks (a chunk starting inside a block draws and drops the block's earlier
    replicates), else whole tiles (replicates whose moments are one product)."""
    if remote:
        limit = max(8, min(REMOTE_BATCH, REMOTE_ELEMENTS // (k * k)))
        chunks = workers * -(-n_resamples // (workers * limit))
        size = -(-n_resamples // chunks)
        for unit in (BLOCK, TILE):          # rounded up: every worker gets the same share
            if size >= unit:
                return -(-size // unit) * unit
        return size
    single = max(DEFAULT_BATCH, CACHE_ELEMENTS // (k * k))
    limit = max(8, min(single if workers == 1 else PARALLEL_BATCH, PARALLEL_BATCH, 500_000 // (k * k)))
    per_chunk = -(-n_resamples // (workers * CHUNKS_PER_WORKER))
    size = max(1, min(limit, per_chunk if workers > 1 else limit))
    for unit in (BLOCK, TILE):
        if size >= unit:
            return size - size % unit
    return size


def _interrupted_message(count: int, n_resamples: int, done: int, path: Path | None) -> str:
    """What an interrupted run returns and what it keeps, as it happened."""
    text = (f"bootstrap interrupted: returning the first {count} of {n_resamples} replicates "
            f"(the same as a run with n_resamples={count} and this seed)")
    extra = done - count
    if path:
        text += (f"; the checkpoint {str(path)!r} keeps all {done} finished replicates"
                 + (f" ({extra} of them finished out of order, after the first unfinished one)" if extra else "")
                 + ": call again with the same arguments to resume")
    elif extra:
        text += (f"; {extra} more replicates finished out of order (after the first unfinished one) "
                 f"are not returned: pass checkpoint=<file> to keep every finished replicate")
    return text


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ArgumentError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


def _n_workers(n_jobs) -> int:
    if n_jobs is None:
        return 1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0:
        raise ArgumentError(f"n_jobs: expected a positive integer or -1 (all cores), got {n_jobs!r}")
    n_jobs = int(n_jobs)
    return n_jobs if n_jobs > 0 else max(1, (os.cpu_count() or 1) + 1 + n_jobs)


def _indices(draws: CaseDraws | None, count: int, keep: bool) -> np.ndarray | ResampleIndices | None:
    """``BootstrapResult.indices``: None (parametric), the array (``keep_indices=True``) or
    a view drawing them again from the seed when read."""
    if draws is None:
        return None
    view = ResampleIndices(draws, count)
    return np.asarray(view) if keep else view


def _estimate_row(res: FitResult, spec: ReplicateSpec | GroupedReplicateSpec) -> pd.Series:
    """Full-sample value of every column of the distribution."""
    if isinstance(spec, OrdinalReplicateSpec):
        return spec.estimate_row(res)
    est = res.estimates
    values = [float(res.fit_indices[k]) for k in BOOTSTRAP_INDEX_NAMES]
    values += [float(est["est"].iloc[i]) for i in spec.param_pos]
    values += [float(est["std_all"].iloc[i]) for i in spec.std_pos]
    return pd.Series(values, index=list(spec.columns), name="estimate")


class _Jackknife:
    """Leave-one-out values of every column (picklable, so results can be pickled). For a
    multi-group fit (``source`` given) each case is left out of its own group."""

    def __init__(self, spec: ReplicateSpec | GroupedReplicateSpec, Xc: np.ndarray, batch_size: int,
                 workers: int, source: GroupSource | None = None):
        self.spec, self.Xc, self.batch_size, self.workers = spec, Xc, batch_size, workers
        self.source = source

    def __call__(self) -> pd.DataFrame:
        n = self.Xc.shape[0]
        store = Store(n, len(self.spec.columns))
        source = self.source if self.source is not None else Source(kind="cases", n_obs=n - 1, X=self.Xc)
        run_all(self.spec, source, jackknife_tasks(n, self.batch_size), store, n_jobs=self.workers)
        return pd.DataFrame(store.values, columns=list(self.spec.columns))


def _group_data(res: FitResult) -> tuple[np.ndarray, tuple[np.ndarray, ...], np.ndarray]:
    """The stored data as an array, each group's row positions and each row's group."""
    X = res.data[list(res.model.observed)].to_numpy(dtype=float)
    positions = fit_positions(res)
    group_of = np.empty(X.shape[0], dtype=np.int64)
    for g, pos in enumerate(positions):
        group_of[pos] = g
    return X, positions, group_of


def _grouped_sources(res: FitResult, spec: GroupedReplicateSpec, kind: str, root: np.random.SeedSequence
                     ) -> tuple[GroupSource, GroupSource, np.ndarray]:
    """The replicates' source, the jackknife's source and the data (multi-group / means)."""
    X, positions, group_of = _group_data(res)
    n = np.array([pos.size for pos in positions], dtype=float)
    xbar = np.stack([X[pos].mean(axis=0) for pos in positions])
    Xc = np.empty_like(X)
    for g, pos in enumerate(positions):
        Xc[pos] = X[pos] - xbar[g]
    Sigma, mu = spec.struct.implied(spec.theta0[None])
    Sigma = Sigma[0]
    centre = mu[0] if spec.meanstructure else xbar
    common = dict(n=n, positions=positions, group_of=group_of)
    jack = GroupSource(kind="cases", centre=xbar, X=Xc, **common)
    if kind == "parametric":
        source = GroupSource(kind="parametric", centre=centre, Sigma=Sigma, entropy=root.entropy,
                             spawn_key=tuple(root.spawn_key), **common)
    elif kind == "bollen-stine":
        # per group: z = mu_g + (x - xbar_g) S_g^(-1/2) Sigma_g^(1/2), whose mean and
        # covariance (denominator N_g) are the implied ones
        # (GLS and ULS fit the unbiased covariance: the transformed group's is Sigma_g)
        Z = np.empty_like(X)
        for g, pos in enumerate(positions):
            S_g = Xc[pos].T @ Xc[pos] / n[g]
            target = Sigma[g] * (n[g] - 1) / n[g] if res.estimator in ("GLS", "ULS") else Sigma[g]
            Z[pos] = Xc[pos] @ symmetric_sqrt(S_g, inverse=True) @ symmetric_sqrt(target)
        source = GroupSource(kind="cases", centre=centre, X=Z, **common)
    else:
        source = GroupSource(kind="cases", centre=xbar, X=Xc, **common)
    return source, jack, X


def bootstrap(res: FitResult, n_resamples: int = 1000, *, kind: str = "nonparametric", seed=None,
              n_jobs: int | None = 1, batch_size: int | None = None, progress: bool = True,
              checkpoint: str | os.PathLike | None = None, keep_indices: bool = False) -> BootstrapResult:
    """Bootstrap a fitted model: fit indices, parameters, standardised and defined values.

    Every replicate is a full fit with the result's estimator, warm-started at the
    full-sample estimate: ML by batched Newton iterations with the exact Hessian (GLS and
    ULS by the engine's batched Gauss-Newton solver on the unbiased covariance, as lavaan).
    ML replicates that do not converge are retried together from other starts with a
    bounded budget, so a fragile model costs a bounded multiple of a healthy one; those
    still without a finite solution are counted as failed with their reason, and a resample
    whose covariance matrix is not positive definite is failed at once.

    Multi-group and mean-structure fits (ML, GLS, ULS) resample cases within each group, so every
    replicate keeps the group sizes (lavaan's ``bootstrapLavaan``); a replicate is a vector
    of case counts per group, from which each group's mean vector and covariance matrix
    are computed and the whole model is refitted (:mod:`lcsem.resampling.groups`). Each
    group's parameters are columns named ``"<parameter>@<group label>"``
    (:meth:`BootstrapResult.column`); Bollen–Stine transforms each group's data to its
    implied mean and covariance; BCa's jackknife leaves each case out of its own group.
    Per-group views (``res.groups[label]``) cannot be bootstrapped on their own.

    FIML fits (``missing="ml"``) resample cases with their missing values (within groups,
    drawn as for multi-group fits: the same seed gives the same resamples); every replicate
    is refitted by FIML from the full-sample estimate, with EM for its saturated model, all
    replicates of a chunk at once (a replicate is a vector of case weights:
    :mod:`lcsem.resampling.fiml`, :mod:`lcsem.engine.fiml_weighted`); fit indices
    are lavaan's FIML ones (χ² against the replicate's EM saturated model, CFI/TLI against
    the FIML baseline). A resample that cannot be fitted (e.g. a pair of variables never
    observed together in it) is counted as failed with its reason. Bollen–Stine transforms
    every missing-data pattern's observed values to
    ``mu_o + (x_o - m_o) S_oo^(-1/2) Sigma_oo^(1/2)`` (``m``, ``S``: the EM moments);
    ``kind="parametric"`` is refused for FIML fits.

    Ordinal fits (``fit(..., ordered=...)``, single or multi-group) resample cases as
    above (within groups); every replicate's thresholds, polychoric/polyserial
    correlations and weights are recomputed from its case counts, all replicates of a
    chunk at once, and the model is refitted with the fit's weights (DWLS, ULS, or WLS with
    the replicate's full Gamma) by the batched solver (:mod:`lcsem.resampling.ordinal`).
    Their fit-index columns are ``chisq pvalue cfi tli rmsea srmr`` (standard statistic;
    the scaled ones are not computed). A resample with an empty category of an ordered
    variable is failed with that reason (as lavaan's ``bootstrapLavaan``); only
    ``kind="nonparametric"`` is available.

    Parameters
    ----------
    res
        A result of :func:`lcsem.fit` (estimator ML, GLS or ULS; FIML fits: ML; ordinal
        fits: any of their estimators).
    n_resamples
        Number of replicates (lavaan users typically run 1,000--5,000).
    kind
        ``"nonparametric"`` (resample cases), ``"parametric"`` (sample covariances drawn
        from the fitted model: Wishart(N-1, Sigma-hat)/N, the exact distribution of the
        sample covariance of N normal draws) or ``"bollen-stine"`` (resample cases of the
        data transformed so that the model fits exactly; ``result.pvalue`` is the
        Bollen–Stine p of the chi-square test). With groups or means everything is per
        group: cases are resampled within groups; parametric draws add the sample mean
        N(mu_g, Sigma_g / N_g), independent of the covariance; Bollen–Stine transforms each
        group to ``mu_g + (x - xbar_g) S_g^(-1/2) Sigma_g^(1/2)``.
    seed
        None, an int, a ``numpy.random.Generator`` or a ``SeedSequence``. The same seed
        gives bit-identical replicates whatever ``n_jobs``, ``batch_size`` or joblib
        backend (all arithmetic is replicate by replicate).
    n_jobs
        1 (default: in this process), k > 1 processes, or -1 for all cores. With joblib's
        default backend (loky) this process works too, with ``k - 1`` worker processes
        that join as soon as they have started (so a first call never waits for them;
        they are kept for later calls). Any other joblib backend is used as it is:
        ``with joblib.parallel_backend("dask"): ...`` carries the run to a dask cluster,
        in whose workers lcsem restores glibc's allocator thresholds
        (:mod:`lcsem.resampling.allocator`: dask's ``MALLOC_TRIM_THRESHOLD_`` slows the
        bootstrap 1.4--1.9x).
    batch_size
        Replicates per chunk (memory is bounded by one chunk per worker); it never changes
        the numbers. Default: 200 in one process (up to 300,000 / k² replicates for a
        model with k free parameters, at most 1,000); with workers up to 1,000, so that each
        process gets about two chunks (every chunk costs a hand-off; finished chunks are
        kept on Ctrl-C); smaller for models with many parameters (memory); rounded down to
        whole seed blocks of 100 replicates (or tiles of 25), where the draws of a chunk
        begin. With joblib's dask (or another non-loky) backend, whose tasks cost more: up to
        2,000, the same number of equal chunks for every worker (:func:`default_batch_size`).
    progress
        Show a tqdm.auto progress bar when the run lasts more than a second.
    checkpoint
        A file path: every chunk is saved there as it finishes, and a later call with the
        same arguments resumes from them.
    keep_indices
        Keep every replicate's resampled rows in ``result.indices`` as an
        ``(n_resamples, N)`` array. By default (False) they are not kept: each chunk draws
        its own from the seed, so memory is bounded by ``batch_size`` whatever
        ``n_resamples`` and ``N``, and ``result.indices`` is a
        :class:`~lcsem.resampling.draws.ResampleIndices` that draws them again from the
        seed when read (the same numbers; ``np.asarray(result.indices)`` gives the array).

    Returns
    -------
    BootstrapResult

    Warns
    -----
    BootstrapFailureWarning
        When replicates failed or were inadmissible (with counts).
    BootstrapInterruptedWarning
        On Ctrl-C: the result holds the replicates finished before the first unfinished
        one (a run with that ``n_resamples``); the message says how many finished in all
        and whether the checkpoint keeps them.
    """
    if not isinstance(res, FitResult):
        raise ArgumentError(f"res: expected the FitResult of lcsem.fit(...), got {type(res).__name__}")
    if res.view_of:
        raise NotSupportedError(
            f"res: this is a per-group view ({res.view_of}), which cannot be resampled on its own "
            f"(its estimates come from the joint fit); bootstrap the multi-group fit itself, "
            f"lcsem.bootstrap(res_multigroup, ...): cases are resampled within every group and each "
            f"group's parameters are columns named '<parameter>@<group label>'")
    if res.ordinal is not None and kind != "nonparametric":
        raise NotSupportedError(f"kind: {kind!r} is not available for an ordinal fit (ordered=...); use "
                                f"kind='nonparametric': cases are resampled and the thresholds, polychoric "
                                f"correlations and weights are recomputed on every replicate")
    refit_with = refit_estimator(res.estimator)
    if res.ordinal is None and refit_with not in ("ML", "GLS", "ULS"):
        raise NotSupportedError(f"res: the bootstrap refits with ML (also for MLM/MLR fits, whose estimates "
                                f"are ML's), GLS or ULS; this result used estimator {res.estimator!r}: refit "
                                f"with estimator='ML'")
    if res.missing == "ml" and kind == "parametric":
        raise NotSupportedError("kind: 'parametric' is not available for a FIML fit (missing='ml') (it "
                                "would need a model of the missingness); use kind='nonparametric' (cases "
                                "resampled with their missing values, FIML refitted on every replicate) or "
                                "kind='bollen-stine'")
    if res.data is None or res.data.shape[0] == 0:
        raise ArgumentError("res: this result holds no data (fitted from summary statistics, or saved "
                            "with to_dict(include_data=False)), and the bootstrap resamples the data; save "
                            "it with include_data=True, or refit with lcsem.fit(model, data)")
    n_resamples = _check_int("n_resamples", n_resamples, 1)
    if kind not in KINDS:
        raise ArgumentError(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
    root = as_seed_sequence(seed)
    workers = _n_workers(n_jobs)
    if batch_size is None:
        batch_size = default_batch_size(n_resamples, workers, max(1, len(res.theta)),
                                        remote=workers > 1 and not default_backend_is_loky())
    else:
        batch_size = _check_int("batch_size", batch_size, 1)
    if not isinstance(progress, (bool, np.bool_)):
        raise ArgumentError(f"progress: expected True or False, got {progress!r}")
    if not isinstance(keep_indices, (bool, np.bool_)):
        raise ArgumentError(f"keep_indices: expected True or False, got {keep_indices!r}")
    path = None
    if checkpoint is not None:
        if not isinstance(checkpoint, (str, os.PathLike)):
            raise ArgumentError(f"checkpoint: expected a file path, got {checkpoint!r}")
        path = Path(checkpoint)
        if path.is_dir():
            raise ArgumentError(f"checkpoint: {str(path)!r} is a directory; pass a file path such as "
                                f"{str(path / 'bootstrap.npz')!r}")
        if not path.parent.is_dir():
            raise ArgumentError(f"checkpoint: the folder {str(path.parent)!r} does not exist; create it "
                                f"first or pass a path in an existing folder")

    if res.ordinal is not None:
        X, positions, _ = _group_data(res)
        spec = OrdinalReplicateSpec(res, positions)
        source = jack_source = OrdinalSource(positions=positions, n_rows=X.shape[0])
        Xc = X
        draws = CaseDraws(root.entropy, root.spawn_key, positions)
        text = repr(res.rows) + repr(res.group_labels) + res.estimator + "ordinal"
    elif res.missing == "ml":
        spec = GroupedReplicateSpec(res)
        X, positions, group_of = _group_data(res)
        columns = tuple(res.model.observed)
        jack_source = fiml_source(spec, X=X, positions=positions, group_of=group_of, columns=columns)
        source = jack_source
        if kind == "bollen-stine":
            # per group and missing-data pattern: mu_o + (x_o - m_o) S_oo^(-1/2) Sigma_oo^(1/2),
            # with the EM moments m, S (lavaan's transform of incomplete data)
            Sigma, mu = spec.struct.implied(spec.theta0[None])
            Z = np.empty_like(X)
            for g, pos in enumerate(positions):
                Z[pos] = bollen_stine_missing(X[pos], columns, Sigma[0, g], mu[0, g])
            source = fiml_source(spec, X=Z, positions=positions, group_of=group_of, columns=columns)
        Xc = X
        draws = CaseDraws(root.entropy, root.spawn_key, positions)
        text = repr(res.rows) + repr(res.group_labels) + "fiml"
    elif res.grouped:
        spec = GroupedReplicateSpec(res)
        source, jack_source, X = _grouped_sources(res, spec, kind, root)
        Xc = jack_source.X
        draws = None if kind == "parametric" else CaseDraws(root.entropy, root.spawn_key, source.positions)
        text = repr(res.rows) + repr(res.group_labels)
    else:
        spec = ReplicateSpec(res)
        jack_source = None
        X = res.data.to_numpy(dtype=float)
        n = X.shape[0]
        Xc = X - X.mean(axis=0)
        Sigma_hat = res.implied_cov.to_numpy()
        if kind == "parametric":
            source = Source(kind="parametric", n_obs=n, Sigma=Sigma_hat, entropy=root.entropy,
                            spawn_key=tuple(root.spawn_key))
            draws = None
        else:
            # GLS and ULS fit the unbiased covariance: the transformed data's is Sigma-hat
            target = Sigma_hat if refit_with == "ML" else Sigma_hat * (n - 1) / n
            data = bollen_stine_transform(X, target) if kind == "bollen-stine" else Xc
            source = Source(kind="cases", n_obs=n, X=data)
            draws = CaseDraws(root.entropy, root.spawn_key, (np.arange(n),))
        text = repr(res.model.rows)

    # "engine": replicates of an earlier retry rule or arithmetic are not mixed into a resumed run
    meta = {"engine": ENGINE_REVISION, "kind": kind, "n_resamples": n_resamples, "entropy": str(root.entropy),
            "spawn_key": list(root.spawn_key), "block": BLOCK,
            "inputs": fingerprint(X, np.asarray(res.theta), text=text)}
    store = Store(n_resamples, len(spec.columns), path=path, meta=meta)
    store.load()
    todo = np.flatnonzero(~store.done)
    tasks = make_tasks(todo, batch_size, draws)
    bar = Progress(bool(progress), n_resamples, int(store.done.sum()), f"bootstrap ({kind})")
    finished = run_all(spec, source, tasks, store, n_jobs=workers, progress=bar)

    count = n_resamples
    if not finished:
        count = int(np.argmin(store.done)) if not store.done.all() else n_resamples
        warn(_interrupted_message(count, n_resamples, int(store.done.sum()), path),
             BootstrapInterruptedWarning, stacklevel=2)
    values, status = store.values[:count], store.status[:count]
    reasons = {k: v for k, v in sorted(store.reasons.items()) if k < count}
    distribution = pd.DataFrame(values, columns=list(spec.columns))
    status_s = pd.Series(STATUS_NAMES[status], name="status")
    n_failed = int(np.sum(status == 2))
    n_inad = int(np.sum(status == 1))
    if n_failed or n_inad:
        warn(f"bootstrap: {n_failed} of {count} replicates failed and {n_inad} were inadmissible "
             f"(see result.status and result.failure_reasons; failed ones are excluded, "
             f"inadmissible ones kept unless include_inadmissible=False)",
             BootstrapFailureWarning, stacklevel=2)

    entropy = root.entropy if not root.spawn_key else np.random.SeedSequence(root.entropy, spawn_key=root.spawn_key)
    return BootstrapResult(fit=res, kind=kind, n_resamples=count, seed=entropy, distribution=distribution,
                           estimate=_estimate_row(res, spec), status=status_s, failure_reasons=reasons,
                           indices=_indices(draws, count, bool(keep_indices)), interrupted=not finished,
                           _jackknife_runner=_Jackknife(spec, Xc, batch_size, workers, jack_source))
