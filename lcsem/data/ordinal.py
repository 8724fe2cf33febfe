"""Sample statistics of ordered (and mixed) data, one group, as lavaan computes them.

:func:`ordinal_stats` validates one group's rows and returns :class:`OrdinalStats`:
thresholds (``qnorm`` of cumulative proportions), polychoric / polyserial / Pearson
correlations by lavaan's two-step method, continuous means and ML variances, lavaan's
``WLS.obs`` vector, and Gamma (lavaan's ``NACOV``: N times the asymptotic covariance of
``WLS.obs``, from casewise scores with the two-step correction of ``muthen1984``) with the
DWLS weights 1 / diag(Gamma). The caller splits groups; ``weights`` are case counts (a
bootstrap replicate) and give exactly the statistics of the replicated rows.

Categories are the *observed* distinct values of a column, in increasing order, as lavaan
(a gap in the codes, e.g. 1, 2, 4, is no error: the column has three categories and two
thresholds; :attr:`OrdinalStats.empty_categories` reports it). For several groups, pass
the categories of the whole data set (:func:`ordinal_levels`) so that every group has the
same thresholds; a category that a group lacks is then an error, as in lavaan.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._threads import one_blas_thread
from .._warnings import warn
from ..exceptions import ArgumentError, DataError, MissingColumnsError, PolychoricWarning
from .ordinal_gamma import gamma_matrix
from .polychoric import PairGrid, polychoric, thresholds_from_counts
from .polyserial import SerialPairs, polyserial, polyserial_start

__all__ = ["OrdinalStats", "OrdinalDesign", "ordinal_stats", "ordinal_levels", "prepare_ordinal", "stats_of",
           "EmptyCategoryError", "MAX_CATEGORIES"]

#: more categories than this declared ordered is refused (treat the column as continuous)
MAX_CATEGORIES = 10


class EmptyCategoryError(DataError):
    """A category of an ordered variable has no case in this group (or replicate)."""


@dataclass(frozen=True)
class OrdinalDesign:
    """One group's validated rows: category codes of the ordered columns, values of the
    continuous ones, and the per-case weights. Built once; statistics for any case
    counts follow from it (:func:`stats_of`)."""

    names: tuple[str, ...]
    ordered: tuple[bool, ...]
    levels: tuple[tuple, ...]          # categories per variable (() for continuous)
    codes: np.ndarray                  # (n, p) int: 0-based category (0 for continuous)
    values: np.ndarray                 # (n, p) float: continuous values (0 for ordered)
    row_labels: pd.Index
    empty_categories: tuple[str, ...]  # what lavaan collapses (gaps in codes), in words
    label: str = ""                    # the group, for messages

    @property
    def n_rows(self) -> int:
        return self.codes.shape[0]

    @property
    def n_thresholds(self) -> tuple[int, ...]:
        """lavaan's count per variable: categories - 1, and 1 (the mean) for continuous."""
        return tuple(len(lv) - 1 if o else 1 for lv, o in zip(self.levels, self.ordered))


@dataclass(frozen=True)
class OrdinalStats:
    """Sample statistics of one group of ordered / mixed data, in lavaan's layout.

    Attributes
    ----------
    names, ordered : observed variables in model order, and which are ordered.
    n : number of cases (sum of the weights).
    th : lavaan's ``th`` vector: the thresholds of each ordered variable, in variable
        order; a continuous variable contributes its mean (lavaan's internal ``th``).
    th_names : ``"y1|t1"``, ...; ``"c1~1"`` for a continuous mean.
    th_idx : lavaan's ``th.idx``: 1-based variable number of each ``th`` entry, 0 for a
        continuous mean.
    mean, var : per variable (0 and 1 for ordered variables; ML variance for continuous).
    cor : correlations (polychoric, polyserial, Pearson); ones on the diagonal.
    cov : lavaan's ``sampstat`` ``cov``: ``cor`` rescaled by the continuous standard
        deviations (continuous variances on the diagonal).
    wls_obs, wls_obs_names : lavaan's ``WLS.obs``: ``th`` (continuous means with the sign
        lavaan gives them: minus the mean), continuous variances, then the lower triangle
        of ``cov`` without its diagonal, column by column (y1~~y2, y1~~y3, ...).
    gamma : lavaan's ``NACOV`` (N times the asymptotic covariance of ``wls_obs``), or
        None when not requested.
    wls_v_diag : DWLS weights, 1 / diag(gamma) (lavaan's ``WLS.VD``).
    levels : the categories of each ordered variable (observed values, sorted).
    empty_categories : gaps in the codes that were collapsed, in words.
    zero_cell_pairs : pairs of ordered variables whose table has an empty cell.
    converged : every polychoric / polyserial optimisation converged.
    """

    names: tuple[str, ...]
    ordered: tuple[bool, ...]
    n: int
    th: np.ndarray
    th_names: tuple[str, ...]
    th_idx: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    cor: np.ndarray
    cov: np.ndarray
    wls_obs: np.ndarray
    wls_obs_names: tuple[str, ...]
    gamma: np.ndarray | None
    wls_v_diag: np.ndarray | None
    levels: tuple[tuple, ...]
    empty_categories: tuple[str, ...] = ()
    zero_cell_pairs: tuple[tuple[str, str], ...] = ()
    converged: bool = True


# --------------------------------------------------------------------------------------
# validation


def _ordered_names(names: tuple[str, ...], ordered) -> tuple[dict[str, tuple] | None, set[str]]:
    if ordered is True:
        return None, set(names)
    if ordered is False or ordered is None:
        return None, set()
    if isinstance(ordered, str):
        ordered = [ordered]
    if isinstance(ordered, Mapping):
        levels = {}
        for k, v in ordered.items():
            if isinstance(v, (str, bytes)) or not isinstance(v, Sequence) or len(v) < 1:
                raise ArgumentError(f"ordered: the categories of {k!r} must be a sequence of values, got {v!r}; "
                                    f"build them with lcsem.data.ordinal.ordinal_levels(data, ordered)")
            levels[str(k)] = tuple(v)
        chosen = set(levels)
    elif isinstance(ordered, Collection):
        levels = None
        chosen = {str(x) for x in ordered}
    else:
        raise ArgumentError(f"ordered: expected True, a list of column names or a mapping name -> categories, "
                            f"got {type(ordered).__name__}")
    unknown = sorted(chosen - set(names))
    if unknown:
        raise ArgumentError(f"ordered: {unknown} are not among the observed variables {list(names)}; "
                            f"list only observed variables (indicators) as ordered")
    return levels, chosen


def _category_values(column: pd.Series, name: str) -> tuple[np.ndarray, tuple | None]:
    """(values as float with NaN, declared order of an ordered Categorical or None)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        if not column.cat.ordered:
            raise DataError(f"column {name!r} is an unordered categorical; make it ordered "
                            f"(pd.Categorical(..., ordered=True)) or recode it to integers 1, 2, ...")
        codes = column.cat.codes.to_numpy().astype(float)
        codes[codes < 0] = np.nan
        return codes, tuple(column.cat.categories)
    if column.dtype == bool:
        return column.to_numpy().astype(float), None
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(values) & column.notna().to_numpy()
    if bad.any():
        example = column[bad].iloc[0]
        raise DataError(f"ordered column {name!r} holds the non-numeric value {example!r}; code the "
                        f"categories as integers 1, 2, ... (or pass an ordered pandas Categorical)")
    return values, None


def _check_weights(weights, n: int) -> np.ndarray:
    w = np.asarray(weights)
    if w.ndim != 1 or w.shape[0] != n:
        raise ArgumentError(f"weights: expected one count per row ({n}), got shape {w.shape}")
    if not np.issubdtype(w.dtype, np.number) or np.issubdtype(w.dtype, np.complexfloating):
        raise ArgumentError(f"weights: expected integer case counts, got dtype {w.dtype}")
    w = w.astype(float)
    if not np.all(np.isfinite(w)) or np.any(w < 0) or np.any(w != np.round(w)):
        bad = float(w[~(np.isfinite(w) & (w >= 0) & (w == np.round(w)))][0])
        raise ArgumentError(f"weights: case counts must be non-negative integers, got {bad!r}; pass how "
                            f"often each row occurs (a bootstrap replicate's counts)")
    return w


def ordinal_levels(data: pd.DataFrame, ordered: Collection[str]) -> dict[str, tuple]:
    """The observed categories of each ordered column of the whole ``data`` (sorted), to
    pass as ``ordered=`` to :func:`ordinal_stats` for every group, so that all groups share
    the categories (as lavaan, whose levels come from the whole data set)."""
    if not isinstance(data, pd.DataFrame):
        raise ArgumentError(f"data: expected a pandas DataFrame, got {type(data).__name__}")
    out = {}
    for name in ordered:
        if name not in data.columns:
            raise MissingColumnsError(f"ordered: column {name!r} is not in the data; columns: {list(data.columns)}")
        values, declared = _category_values(data[name], name)
        obs = np.unique(values[~np.isnan(values)])
        out[name] = tuple(declared[int(v)] for v in obs) if declared is not None else tuple(_as_code(v) for v in obs)
    return out


def _as_code(v: float):
    return int(v) if float(v).is_integer() else float(v)


def prepare_ordinal(data: pd.DataFrame, names: Sequence[str], ordered, *, weights=None,
                    label: str = "") -> tuple[OrdinalDesign, np.ndarray]:
    """Validate one group's rows; return the design and the case weights of the complete
    rows (rows with a missing value in ``names`` are dropped, lavaan's listwise default)."""
    if not isinstance(data, pd.DataFrame):
        raise ArgumentError(f"data: expected a pandas DataFrame, got {type(data).__name__}")
    names = tuple(str(n) for n in names)
    if len(names) == 0:
        raise ArgumentError("names: no observed variables given")
    if len(set(names)) != len(names):
        raise ArgumentError(f"names: duplicated variables in {list(names)}")
    missing_cols = [n for n in names if n not in data.columns]
    if missing_cols:
        raise MissingColumnsError(f"data: columns {missing_cols} are missing; the data have {list(data.columns)}")
    declared_levels, chosen = _ordered_names(names, ordered)
    if not chosen:
        raise ArgumentError("ordered: no variable is declared ordered; these statistics (thresholds, "
                            "polychorics, Gamma of WLSMV) are for ordered items: list them in ordered= or use "
                            "the continuous estimators")
    where = f" in group {label!r}" if label else ""
    n_all = len(data)
    w_all = np.ones(n_all) if weights is None else _check_weights(weights, n_all)

    p = len(names)
    raw = np.empty((n_all, p))
    cat_orders: list[tuple | None] = []
    for j, name in enumerate(names):
        col = data[name]
        if name in chosen:
            vals, declared = _category_values(col, name)
        else:
            if isinstance(col.dtype, pd.CategoricalDtype) or not (pd.api.types.is_numeric_dtype(col) or col.dtype == bool):
                raise DataError(f"column {name!r} is not numeric ({col.dtype}); declare it ordered "
                                f"(ordered=[..., {name!r}]) or recode it to numbers")
            vals, declared = col.to_numpy(dtype=float), None
            if np.isinf(vals).any():
                raise DataError(f"column {name!r} holds an infinite value; replace it by NaN (missing) or a number")
        raw[:, j] = vals
        cat_orders.append(declared)
    complete = ~np.isnan(raw).any(axis=1)
    if not complete.any() or w_all[complete].sum() == 0:
        raise DataError(f"data{where}: no row has all of {list(names)} observed (every row has a missing value "
                        f"or a zero weight); check the columns or the group")
    raw = raw[complete]
    w = w_all[complete]
    row_labels = data.index[complete]

    codes = np.zeros(raw.shape, dtype=np.intp)
    values = np.zeros(raw.shape)
    levels: list[tuple] = []
    is_ord: list[bool] = []
    empty: list[str] = []
    for j, name in enumerate(names):
        x = raw[:, j]
        if name not in chosen:
            values[:, j] = x
            levels.append(())
            is_ord.append(False)
            used = w > 0
            m = np.average(x[used], weights=w[used])
            if np.all(x[used] == x[used][0]) or np.average((x[used] - m) ** 2, weights=w[used]) <= 0:
                raise DataError(f"column {name!r}{where} is constant ({x[used][0]!r}); drop it from the model")
            continue
        is_ord.append(True)
        declared = cat_orders[j]
        nonint = x != np.round(x)
        if declared is None and nonint.any():
            raise DataError(f"ordered column {name!r} holds the non-integer value {float(x[nonint][0])!r}; ordered "
                            f"categories must be integer codes (1, 2, ...): recode the column, or treat it as "
                            f"continuous (leave it out of ordered=)")
        present = np.unique(x[w > 0])
        if declared_levels is not None and name in declared_levels:
            lv = declared_levels[name]
            lv_codes = np.asarray([declared.index(v) if declared is not None else v for v in lv], dtype=float) \
                if declared is not None else np.asarray(lv, dtype=float)
            unknown = np.setdiff1d(np.unique(x), lv_codes)
            if unknown.size:
                shown = declared[int(unknown[0])] if declared is not None else _as_code(unknown[0])
                raise DataError(f"ordered column {name!r}{where} holds the value {shown!r}, which is not among "
                                f"its categories {list(lv)}; pass the categories of the whole data "
                                f"(ordinal_levels(data, ordered))")
            absent = np.setdiff1d(lv_codes, present)
            if absent.size:
                shown = [declared[int(a)] if declared is not None else _as_code(a) for a in absent]
                raise EmptyCategoryError(
                    f"ordered column {name!r}{where}: categories {shown} of {list(lv)} have no case; lavaan "
                    f"refuses this too (thresholds must be shared): merge the empty category with a neighbour "
                    f"in every group (recode the column)")
            cats = lv_codes
            shown_levels = tuple(lv)
        else:
            cats = present
            shown_levels = tuple(declared[int(c)] for c in cats) if declared is not None \
                else tuple(_as_code(c) for c in cats)
        if cats.size < 2:
            raise DataError(f"ordered column {name!r}{where} has a single observed category "
                            f"({shown_levels[0]!r}); a constant item carries no information: drop it from the model")
        if cats.size > MAX_CATEGORIES:
            raise DataError(f"ordered column {name!r}{where} has {cats.size} categories (more than "
                            f"{MAX_CATEGORIES}); with that many categories treat it as continuous (leave it out "
                            f"of ordered=) or collapse categories")
        if declared is None and cats.size < cats[-1] - cats[0] + 1:
            gaps = sorted(set(range(int(cats[0]), int(cats[-1]) + 1)) - {int(c) for c in cats})
            empty.append(f"{name}: codes {gaps} do not occur between {int(cats[0])} and {int(cats[-1])}; "
                         f"the {cats.size} observed categories are used ({cats.size - 1} thresholds), as lavaan")
        codes[:, j] = np.searchsorted(cats, x)
        # rows with zero weight may hold values outside the categories of this replicate
        codes[:, j] = np.clip(codes[:, j], 0, cats.size - 1)
        levels.append(shown_levels)
    design = OrdinalDesign(names=names, ordered=tuple(is_ord), levels=tuple(levels), codes=codes,
                           values=values, row_labels=row_labels, empty_categories=tuple(empty), label=label)
    return design, w


# --------------------------------------------------------------------------------------
# statistics


def ordinal_stats(data: pd.DataFrame, names: Sequence[str], ordered, *, weights=None,
                  gamma: bool = True, label: str = "") -> OrdinalStats:
    """Thresholds, polychoric/polyserial correlations, WLS.obs and Gamma of one group.

    Parameters
    ----------
    data : DataFrame
        One group's rows (the caller splits groups). Never modified.
    names : sequence of str
        Observed variables in model order (the order of ``cov``, ``th`` and ``wls_obs``).
    ordered : True, sequence of str, or mapping
        Which of ``names`` are ordered: all (True), those listed, or a mapping name ->
        categories (sorted values, e.g. from :func:`ordinal_levels` on the whole data, so
        that every group has the same categories).
    weights : array of non-negative integers, optional
        How often each row occurs (a bootstrap replicate): the statistics equal those of
        the data with each row repeated that many times.
    gamma : bool
        Compute Gamma and the DWLS weights (default True).
    label : str
        The group's name, used in messages.

    Returns
    -------
    OrdinalStats
    """
    design, w = prepare_ordinal(data, names, ordered, weights=weights, label=label)
    return stats_of(design, w, gamma=gamma)


def _pair_order(p: int) -> list[tuple[int, int]]:
    """lavaan's order of the correlations: lower triangle column by column, (i, j), i > j."""
    return [(i, j) for j in range(p - 1) for i in range(j + 1, p)]


def stats_of(design: OrdinalDesign, weights: np.ndarray, *, gamma: bool = True) -> OrdinalStats:
    """The statistics of a validated design for one vector of case counts (BLAS at one
    thread: the matrices are small, and extra threads only fight for busy cores)."""
    with one_blas_thread():
        return _stats_of(design, weights, gamma=gamma)


def _stats_of(design: OrdinalDesign, weights: np.ndarray, *, gamma: bool) -> OrdinalStats:
    w = np.asarray(weights, dtype=float)
    names, ordered = design.names, design.ordered
    p = len(names)
    n = float(w.sum())
    where = f" in group {design.label!r}" if design.label else ""
    ord_vars = [j for j in range(p) if ordered[j]]
    num_vars = [j for j in range(p) if not ordered[j]]
    ord_pos = {j: q for q, j in enumerate(ord_vars)}

    # step 1: thresholds, means, variances
    th_parts, th_names, th_idx = [], [], []
    ord_th: dict[int, np.ndarray] = {}
    mean = np.zeros(p)
    var = np.ones(p)
    for j in range(p):
        if ordered[j]:
            k = len(design.levels[j])
            counts = np.bincount(design.codes[:, j], weights=w, minlength=k)
            if np.any(counts == 0):
                empty = [design.levels[j][c] for c in np.flatnonzero(counts == 0)]
                raise EmptyCategoryError(f"ordered column {names[j]!r}{where}: categories {empty} of "
                                         f"{list(design.levels[j])} have no case (frequencies "
                                         f"{counts.astype(int).tolist()}); lavaan refuses this too: merge the "
                                         f"empty category with a neighbour (recode the column)")
            t = thresholds_from_counts(counts)
            ord_th[j] = t
            th_parts.append(t)
            th_names += [f"{names[j]}|t{i + 1}" for i in range(k - 1)]
            th_idx += [j + 1] * (k - 1)
        else:
            x = design.values[:, j]
            m = float(w @ x / n)
            v = float(w @ (x - m) ** 2 / n)
            if not v > 0:
                raise DataError(f"column {names[j]!r}{where} is constant in these rows; drop it from the model")
            mean[j], var[j] = m, v
            th_parts.append(np.array([m]))
            th_names.append(f"{names[j]}~1")
            th_idx.append(0)
    th = np.concatenate(th_parts)
    th_idx_arr = np.asarray(th_idx, dtype=np.intp)

    # step 2: correlations
    pairs = _pair_order(p)
    cor = np.eye(p)
    converged = True
    zero_pairs: list[tuple[str, str]] = []
    at_one: set[tuple[int, int]] = set()      # pairs already reported (two empty cells)
    oo = [(i, j) for i, j in pairs if ordered[i] and ordered[j]]
    grid = PairGrid.build(tuple(len(design.levels[j]) - 1 for j in ord_vars),
                          tuple((ord_pos[i], ord_pos[j]) for i, j in oo))
    th_flat = np.concatenate([ord_th[j] for j in ord_vars]) if ord_vars else np.zeros(0)
    freq = None
    evaluation = None
    if oo:
        idx = grid.table_index(design.codes[:, ord_vars])
        freq = np.bincount(idx.ravel(), weights=np.repeat(w, len(oo)), minlength=grid.cell_size)
        fit = polychoric(grid, th_flat[None, :], freq[None, :])
        converged &= bool(fit.converged.all())
        evaluation = fit.evaluation
        for q, (i, j) in enumerate(oo):
            cor[i, j] = cor[j, i] = fit.rho[0, q]
            if np.any(freq[grid.cell_pair == q] == 0):
                zero_pairs.append((names[j], names[i]))
            if fit.flat[0, q]:
                at_one.add((i, j))
                warn(f"the table of {names[j]!r} x {names[i]!r}{where} carries almost no information about "
                     f"their polychoric correlation (empty cells make the likelihood flat; lavaan's value is "
                     f"arbitrary there too); the estimate is {fit.rho[0, q]:.4f}, where the likelihood "
                     f"stops rising; consider merging sparse categories", PolychoricWarning, stacklevel=3)
            if fit.two_zero_cells[0, q]:
                at_one.add((i, j))
                warn(f"the 2 x 2 table of {names[j]!r} x {names[i]!r}{where} has two empty cells: the "
                     f"polychoric correlation is set to {fit.rho[0, q]:+.0f}, as lavaan", PolychoricWarning,
                     stacklevel=3)
    mixed = [(i, j) for i, j in pairs if ordered[i] != ordered[j]]
    serial = None
    if mixed:
        cont = [i if not ordered[i] else j for i, j in mixed]
        ordv = [j if not ordered[i] else i for i, j in mixed]
        serial = SerialPairs.build(design.values[:, cont].T, mean[cont], var[cont], design.codes[:, ordv].T,
                                   [ord_th[o] for o in ordv], w)
        start = np.array([polyserial_start(design.values[:, c], design.codes[:, o].astype(float), ord_th[o], w)
                          for c, o in zip(cont, ordv)])
        rho, ok = polyserial(serial, start)
        converged &= bool(ok.all())
        for q, (i, j) in enumerate(mixed):
            cor[i, j] = cor[j, i] = rho[q]
    for i, j in pairs:
        if not ordered[i] and not ordered[j]:
            xi = design.values[:, i] - mean[i]
            xj = design.values[:, j] - mean[j]
            cor[i, j] = cor[j, i] = (w @ (xi * xj) / n) / np.sqrt(var[i] * var[j])
    if not converged:
        warn(f"a polychoric or polyserial correlation{where} did not converge; its value is the last "
             f"iterate", PolychoricWarning, stacklevel=3)
    for i, j in pairs:
        if abs(cor[i, j]) > 0.99 and (i, j) not in at_one:
            warn(f"the correlation of {names[j]!r} and {names[i]!r}{where} is (nearly) 1.0 "
                 f"({cor[i, j]:.4f}); lavaan warns too", PolychoricWarning, stacklevel=3)

    sd = np.sqrt(var)
    cov = cor * np.outer(sd, sd)
    num_th = th_idx_arr == 0
    wls_th = np.where(num_th, -th, th)
    wls_obs = np.concatenate([wls_th, var[num_vars], np.array([cov[i, j] for i, j in pairs])])
    wls_names = tuple(th_names) + tuple(f"{names[j]}~~{names[j]}" for j in num_vars) + \
        tuple(f"{names[j]}~~{names[i]}" for i, j in pairs)

    g = vd = None
    if gamma:
        g = gamma_matrix(design, w, th=th, th_idx=th_idx_arr, ord_th=ord_th, mean=mean, var=var, cor=cor,
                         pairs=pairs, grid=grid, th_flat=th_flat, serial=serial, mixed=mixed,
                         evaluation=evaluation)
        with np.errstate(divide="ignore"):
            vd = 1.0 / np.diag(g)
        if not np.all(np.isfinite(g)):
            warn(f"Gamma{where} is undefined (NaN) for a correlation whose table carries no information "
                 f"about it (its score is 0 for every case); merge sparse categories", PolychoricWarning,
                 stacklevel=3)
    return OrdinalStats(names=names, ordered=ordered, n=int(round(n)), th=th, th_names=tuple(th_names),
                        th_idx=th_idx_arr, mean=mean, var=np.where(ordered, 1.0, var), cor=cor, cov=cov,
                        wls_obs=wls_obs, wls_obs_names=wls_names, gamma=g, wls_v_diag=vd,
                        levels=design.levels, empty_categories=design.empty_categories,
                        zero_cell_pairs=tuple(zero_pairs), converged=converged)
