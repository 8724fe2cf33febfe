"""Replicates of ordinal fits (``fit(..., ordered=...)``): statistics recomputed, model refitted.

A replicate is a vector of case counts per group, drawn as for every other case bootstrap
(:func:`lcsem.resampling.resample.group_resample_indices`: the same seed resamples the
same cases). For every replicate of a chunk at once:

1. the thresholds, polychoric (and polyserial) correlations and DWLS weights
   ``1 / diag(Gamma)`` are recomputed from the counts by
   :func:`lcsem.data.ordinal_batch.ordinal_stats_batch` (category and pair tables as one
   sparse product with the count matrix, one vectorised Newton iteration over all
   replicates and pairs, started at the full-sample correlations); WLS fits need each
   replicate's full Gamma (:func:`lcsem.data.ordinal.stats_of`, replicate by replicate);
2. the model is refitted to them with the fit's estimator's weights (DWLS, WLS or ULS) by
   the engine's batched solver (:func:`lcsem.engine.optimize.fisher_scoring`) on
   :class:`lcsem.engine.wls_batch.ReplicateWLSObjective`, warm-started at the full-sample
   estimate;
3. every column is computed: the fit indices of :data:`ORDINAL_INDEX_NAMES` (the standard
   statistic ``sum_g (N_g - 1) e' W e`` and the indices built on it and on the closed-form
   independence baseline, as lavaan's fitMeasures; the scaled statistics would need each
   replicate's full Gamma and are not computed), the free rows (thresholds ``y|t1`` too)
   and ``:=`` rows, and the std.all values of those rows and of fixed loadings and paths.

A replicate in which a category of an ordered variable is empty (in some group) is failed
with that reason, as lavaan's ``bootstrapLavaan`` fails it ("some categories of variable
... are empty"); so are replicates whose polychoric step or refit does not converge.
Negative (residual) variances, including the derived ``y*`` residual variances of the
delta parameterisation, make a replicate inadmissible.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
from scipy.special import chdtrc

from .._warnings import quiet
from ..data.ordinal import EmptyCategoryError, ordinal_levels, prepare_ordinal, stats_of
from ..data.ordinal_batch import ordinal_stats_batch
from ..engine.optimize import fisher_scoring
from ..engine.ordinal import OrdinalStructure
from ..engine.ordinal_batch import batch_moments
from ..engine.wls_batch import ReplicateWLSObjective
from ..estimation.ordinal_fit import ORDINAL_ESTIMATORS, _residual_indices
from ..inference.robust import _cfi, _rmsea, _tli
from ..inference.standardized import DefinedParameters
from ..results.fit_result import FitResult
from .groups import group_parameter_name
from .replicates import FAILED, INADMISSIBLE, OK, ChunkOutput, replicate_columns
from .resample import counts_from_indices

__all__ = ["ORDINAL_INDEX_NAMES", "OrdinalReplicateSpec", "OrdinalSource", "evaluate_ordinal"]

#: fit indices of every ordinal replicate (lavaan's fitMeasures names; standard statistic)
ORDINAL_INDEX_NAMES = ("chisq", "pvalue", "cfi", "tli", "rmsea", "srmr")
MAX_ITER = 500

NOT_CONVERGED_REASON = ("the {estimator} optimiser did not converge from the full-sample estimate within "
                        f"{MAX_ITER} iterations: no solution was found for this resample")
POLYCHORIC_REASON = ("a polychoric (or polyserial) correlation of this resample did not converge or its "
                     "DWLS weight is undefined (e.g. a pair table whose non-empty cells leave the correlation "
                     "at a bound): its statistics are not defined")
SINGULAR_GAMMA_REASON = ("the asymptotic covariance (Gamma) of this resample's statistics is singular, so its "
                         "WLS weight matrix does not exist")


@dataclass
class OrdinalSource:
    """Where the replicates' case counts come from: ``positions[g]`` holds group ``g``'s
    rows of the stored data (``n_rows`` rows in all)."""

    positions: tuple
    n_rows: int


class OrdinalReplicateSpec:
    """What is computed for each replicate of an ordinal fit (picklable, built once)."""

    def __init__(self, res: FitResult, positions: tuple):
        info = res.ordinal
        model = res.model
        cols = list(model.observed)
        self.G = res.n_groups
        self.labels = tuple(res.group_labels) or ("1",)
        self.estimator = res.estimator
        self.weight_kind = ORDINAL_ESTIMATORS[res.estimator][0]
        self.struct = OrdinalStructure(info.rows, cols, model.latent, info.ordered_names, n_groups=self.G,
                                       parameterization=info.parameterization)
        self.theta0 = np.array(res.theta, dtype=float)
        self.defined = DefinedParameters(tuple(info.rows))
        levels = ordinal_levels(res.data, info.ordered_names)
        frames = res.group_frames()
        self.designs = []
        for frame, label, pos in zip(frames, res.group_labels or ("",), positions):
            design, _ = prepare_ordinal(frame[cols], cols, levels, label=label)
            if design.n_rows != len(pos):
                raise RuntimeError("the stored data and its groups disagree")   # pragma: no cover - invariant
            self.designs.append(design)
        self.n = np.array([d.n_rows for d in self.designs], dtype=float)
        self.df = float(res.fit_indices["df"])
        self.df0 = float(res.fit_indices["baseline_df"])
        # full-sample correlations: the polychoric step's starting values
        self.rho_start = []
        for design in self.designs:
            full = stats_of(design, np.ones(design.n_rows), gamma=False)
            self.rho_start.append(np.asarray(full.wls_obs)[self.struct.n_th + self.struct.n_var:])
        # category one-hot per group: the empty-category check
        self._categories = [self._category_matrix(d) for d in self.designs]
        # columns, as the other bootstraps: indices, free rows and := rows, std.all
        table = list(self.struct.rows)
        defined_rows = [r for r in info.rows if r.op == ":="]
        multi = bool(res.group_labels)
        names = [group_parameter_name(r.lhs, r.op, r.rhs, self.labels[r.group - 1] if multi else "")
                 for r in table] + [r.lhs for r in defined_rows]
        ops = np.array([r.op for r in table] + [":="] * len(defined_rows), dtype=object)
        free = np.zeros(len(names), dtype=bool)
        free[:len(table)] = np.array([r.free > 0 for r in table], dtype=bool)
        param = free | (ops == ":=")
        std = param | np.isin(ops, ["=~", "~"])
        positions_ = np.arange(len(names))
        self.param_pos, self.std_pos = positions_[param], positions_[std]
        self.n_rows = len(table)
        self.index_names = ORDINAL_INDEX_NAMES
        self.columns = (tuple(ORDINAL_INDEX_NAMES) + tuple(names[i] for i in self.param_pos)
                        + tuple("std:" + names[i] for i in self.std_pos))
        self.n_index, self.n_param = len(ORDINAL_INDEX_NAMES), int(param.sum())
        # per group: derived rows (and their variable), and the rows of each std.all formula
        index = {v: i for i, v in enumerate(self.struct.observed + self.struct.latent)}
        self._derived, self._std_plan = [], []
        for g in range(self.G):
            derived = [(n, index[r.lhs]) for n, r in enumerate(table)
                       if r.group == g + 1 and r.lhs in self.struct.ordered and r.rhs == r.lhs
                       and r.op == ("~~" if self.struct.parameterization == "delta" else "~*~")]
            self._derived.append((np.array([d[0] for d in derived], int), np.array([d[1] for d in derived], int)))
            plan = []
            for op in ("=~", "~", "~~", "~1", "|", "~*~"):
                rows = [n for n, r in enumerate(table) if r.group == g + 1 and r.op == op
                        and r.lhs in index and (op in ("~1", "|", "~*~") or r.rhs in index)]
                if rows:
                    a = np.array([index[table[n].lhs] for n in rows], int)
                    b = np.array([index.get(table[n].rhs, 0) for n in rows], int)
                    plan.append((op, np.array(rows, int), a, b))
            self._std_plan.append(plan)
        self.variance_rows = np.flatnonzero([r.op == "~~" and r.lhs == r.rhs for r in table])

    @staticmethod
    def _category_matrix(design) -> tuple[np.ndarray, list[tuple[str, object]]]:
        """One-hot (n, categories) of the ordered variables' categories and each column's
        (variable, category)."""
        blocks, labels = [], []
        for j, (name, ordered, levels) in enumerate(zip(design.names, design.ordered, design.levels)):
            if not ordered:
                continue
            blocks.append((design.codes[:, j][:, None] == np.arange(len(levels))[None, :]).astype(float))
            labels += [(name, level) for level in levels]
        return np.concatenate(blocks, axis=1), labels

    # ------------------------------------------------------------------ values
    def estimate_row(self, res: FitResult):
        """Full-sample value of every column."""
        import pandas as pd

        est = res.estimates
        values = [float(res.fit_indices.get(k, np.nan)) for k in ORDINAL_INDEX_NAMES]
        values += [float(est["est"].iloc[i]) for i in self.param_pos]
        values += [float(est["std_all"].iloc[i]) for i in self.std_pos]
        return pd.Series(values, index=list(self.columns), name="estimate")

    def empty_category(self, g: int, counts: np.ndarray) -> list[str | None]:
        """Per replicate: a sentence naming an empty category of group ``g``, or None."""
        onehot, labels = self._categories[g]
        cat = counts @ onehot
        out: list[str | None] = []
        where = f" in group {self.labels[g]!r}" if self.G > 1 else ""
        for row in cat:
            empty = np.flatnonzero(row <= 0)
            if not empty.size:
                out.append(None)
                continue
            name, level = labels[empty[0]]
            out.append(f"category {level!r} of the ordered variable {name!r} is empty in this resample{where}, "
                       f"so its thresholds are not defined (lavaan's bootstrapLavaan fails such a resample "
                       f"too: 'some categories of variable {name} are empty')")
        return out

    def statistics(self, g: int, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Statistics (R, m), weights (R, m) or (R, m, m), and which replicates are usable."""
        design = self.designs[g]
        if self.weight_kind == "WLS":
            stats, weights, ok = [], [], []
            m = self.struct.n_stats
            for c in counts:
                try:
                    with quiet():
                        st = stats_of(design, c)
                    W = np.linalg.inv(np.asarray(st.gamma, float))
                    good = bool(st.converged) and np.isfinite(W).all() and np.linalg.cond(st.gamma) < 1e12
                except (EmptyCategoryError, np.linalg.LinAlgError):
                    st, W, good = None, np.full((m, m), np.nan), False
                stats.append(np.asarray(st.wls_obs, float) if st is not None else np.full(m, np.nan))
                weights.append(W)
                ok.append(good)
            return np.array(stats).reshape(-1, m), np.array(weights).reshape(-1, m, m), np.asarray(ok, bool)
        with quiet():
            batch = ordinal_stats_batch(design, counts, start=self.rho_start[g])
        weights = batch.wls_v_diag if self.weight_kind == "DWLS" else np.ones_like(batch.wls_obs)
        usable = batch.ok & np.isfinite(batch.wls_obs).all(axis=1) & np.isfinite(weights).all(axis=1)
        return batch.wls_obs, weights, usable

    def fit_indices(self, objective: ReplicateWLSObjective, theta: np.ndarray, idx: np.ndarray
                    ) -> dict[str, np.ndarray]:
        """The indices of :data:`ORDINAL_INDEX_NAMES` of the fitted replicates ``idx``."""
        R = len(idx)
        chisq = np.zeros(R)
        chisq0 = np.zeros(R)
        n_free0 = self.struct.n_th + self.struct.n_var
        residuals = objective.residuals(theta, idx)
        for g, (e, W, s) in enumerate(zip(residuals, objective.weights, objective.stats)):
            Wr, sr = W[idx], s[idx]
            chisq += (self.n[g] - 1.0) * objective._quadratic(e, Wr)
            # independence baseline: thresholds (and continuous means, variances) free,
            # correlations 0; closed form (a diagonal weight leaves the free part exact)
            if Wr.ndim == 2:
                rest = sr[:, n_free0:]
                chisq0 += (self.n[g] - 1.0) * np.sum(Wr[:, n_free0:] * rest * rest, axis=1)
            else:
                for r in range(R):
                    Wf, Wo = Wr[r, :n_free0, :n_free0], Wr[r, :n_free0, n_free0:]
                    coef = np.linalg.solve(Wf, Wf @ sr[r, :n_free0] + Wo @ sr[r, n_free0:])
                    e0 = sr[r].copy()
                    e0[:n_free0] -= coef
                    chisq0[r] += (self.n[g] - 1.0) * float(e0 @ Wr[r] @ e0)
        N = float(self.n.sum()) - self.G
        with np.errstate(all="ignore"):
            pvalue = chdtrc(self.df, chisq) if self.df > 0 and self.weight_kind != "ULS" else np.full(R, np.nan)
        cfi = np.array([_cfi(x, self.df, x0, self.df0) for x, x0 in zip(chisq, chisq0)])
        tli = np.array([_tli(x, self.df, x0, self.df0) for x, x0 in zip(chisq, chisq0)])
        rmsea = np.array([_rmsea(x, self.df, N, self.G) for x in chisq])
        srmr = np.empty(R)
        for r in range(R):
            stats = [SimpleNamespace(wls_obs=s[idx[r]]) for s in objective.stats]
            srmr[r] = _residual_indices(self.struct, theta[r], stats, self.n)["srmr"]
        return {"chisq": chisq, "pvalue": np.asarray(pvalue, float), "cfi": cfi, "tli": tli, "rmsea": rmsea,
                "srmr": srmr}

    def rows(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row values (derived ones included: delta: the ``y*`` residual variances; theta:
        the scaling factors) and std.all values of every replicate (R, n_rows): the values
        of :meth:`OrdinalStructure.row_values` and
        :func:`~lcsem.inference.ordinal_standardized.ordinal_standardized`, for all
        replicates at once."""
        struct = self.struct
        R = theta.shape[0]
        free = struct._row_free
        values = np.where(free >= 0, theta[:, np.maximum(free, 0)] if struct.k else 0.0, struct._row_fixed)
        std = np.full(values.shape, np.nan)
        ordinal = np.flatnonzero(struct.is_ordinal)
        for g in range(struct.n_groups):
            m = batch_moments(struct, theta, g)
            derived, var = self._derived[g]
            if derived.size:
                if struct.parameterization == "delta":
                    values[:, derived] = m["Sigma"][:, var, var] - m["C"][:, var, var]
                else:
                    values[:, derived] = m["delta"][:, var]
            C = m["C"]
            diag = np.diagonal(C, axis1=1, axis2=2).copy()
            if struct.parameterization == "delta":
                diag[:, ordinal] = m["Sigma"][:, ordinal, ordinal]
            sd = np.sqrt(np.clip(diag, 0, None))                              # (R, variables)
            with np.errstate(divide="ignore", invalid="ignore"):
                for op, rows, a, b in self._std_plan[g]:
                    est = values[:, rows]
                    if op == "=~":
                        std[:, rows] = est * sd[:, a] / sd[:, b]
                    elif op == "~":
                        std[:, rows] = est * sd[:, b] / sd[:, a]
                    elif op == "~~":
                        std[:, rows] = est / (sd[:, a] * sd[:, b])
                    elif op in ("~1", "|"):
                        std[:, rows] = est / sd[:, a]
                    elif op == "~*~":
                        std[:, rows] = est * sd[:, a]
        return values, std[:R]

    def inadmissible(self, rows: np.ndarray) -> list[tuple[str, ...]]:
        """Per replicate: its negative (residual) variances, as sentences."""
        out = []
        table = self.struct.rows
        for values in rows:
            bad = [n for n in self.variance_rows if values[n] < 0]
            out.append(tuple(f"{'group ' + self.labels[table[n].group - 1] + ': ' if self.G > 1 else ''}"
                             f"negative variance {table[n].lhs} ~~ {table[n].rhs} = {values[n]:.4g}"
                             for n in bad))
        return out


def evaluate_ordinal(spec: OrdinalReplicateSpec, source: OrdinalSource, positions: np.ndarray,
                     indices: np.ndarray | None = None, leave_out: np.ndarray | None = None) -> ChunkOutput:
    """Fit every replicate of a chunk (resampled rows ``indices``, or the rows ``leave_out``
    left out of each jackknife replicate) and compute its row of the distribution."""
    positions = np.asarray(positions)
    R = positions.size
    if leave_out is not None:
        counts = np.ones((R, source.n_rows))
        counts[np.arange(R), np.asarray(leave_out)] = 0.0
    else:
        counts = counts_from_indices(indices, source.n_rows)
    values = np.full((R, len(spec.columns)), np.nan)
    status = np.full(R, FAILED, dtype=np.int8)
    reasons: dict[int, tuple[str, ...]] = {}
    usable = np.ones(R, dtype=bool)
    stats, weights = [], []
    for g, pos in enumerate(source.positions):
        c = counts[:, pos]
        for r, why in enumerate(spec.empty_category(g, c)):
            if why and usable[r]:
                usable[r] = False
                reasons[int(positions[r])] = (why,)
        s, W, ok = spec.statistics(g, c)
        for r in np.flatnonzero(~ok & usable):
            usable[r] = False
            reasons[int(positions[r])] = (SINGULAR_GAMMA_REASON if spec.weight_kind == "WLS" and
                                          np.isfinite(s[r]).all() else POLYCHORIC_REASON,)
        stats.append(s)
        weights.append(W)
    idx = np.flatnonzero(usable)
    if idx.size:
        objective = ReplicateWLSObjective(spec.struct, [s[idx] for s in stats], [W[idx] for W in weights],
                                          spec.n)
        sol = fisher_scoring(objective, spec.theta0[None], max_iter=MAX_ITER)
        ok = sol.converged & np.isfinite(sol.fmin)
        for i in idx[~ok]:
            reasons[int(positions[i])] = (NOT_CONVERGED_REASON.format(estimator=spec.weight_kind),)
        local = np.flatnonzero(ok)
        if local.size:
            theta = sol.theta[local]
            fi = spec.fit_indices(objective, theta, local)
            rows, std = spec.rows(theta)
            good = idx[local]
            values[good] = replicate_columns(spec, fi, rows, std, ORDINAL_INDEX_NAMES)
            status[good] = OK
            for j, why in enumerate(spec.inadmissible(rows)):
                if why:
                    status[good[j]] = INADMISSIBLE
                    reasons[int(positions[good[j]])] = why
    return ChunkOutput(positions=positions, values=values, status=status, reasons=reasons)
