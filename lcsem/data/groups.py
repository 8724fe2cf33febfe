"""Sample moments per group (lavaan's ``group =``): one :class:`SampleMoments` per level of
a grouping column.

As lavaan, groups are numbered in the order in which their values first appear in the data
(``unique(as.character(data[[group]]))``), each group keeps its complete cases of the
model's columns (listwise deletion within the group), and each group's covariance has
denominator N_g. Group labels are the column's values as text; a float that is a whole
number is written without its decimal part (``1.0`` -> ``"1"``), as R's ``as.character``
writes it, so labels agree with lavaan's.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..exceptions import ArgumentError, DataError, MissingColumnsError
from .moments import SampleMoments, moments_of
from .incomplete import fiml_moments
from .missing import FIML_POLICIES, MissingPatterns, warn_listwise, warn_missing_covariates
from .prepare import complete_cases, model_values, prepare_data, warn_ordinal


@dataclass(frozen=True)
class GroupedMoments:
    """Sample moments of every group, in order of first appearance in the data.

    Attributes
    ----------
    groups
        One :class:`SampleMoments` per group (covariance with denominator N_g, means,
        the rows used).
    labels
        The group column's values as text, in the order of :attr:`groups`; empty for one
        group without a group column (lavaan's ``group.label`` is ``character(0)`` then).
    column
        Name of the group column, or None for one group.
    n_obs
        Rows used, summed over the groups.
    n_total
        Rows in the data.
    patterns
        With ``missing="ml"`` (full-information ML): each group's missing-data patterns
        (:class:`~lcsem.data.missing.MissingPatterns`); each group's ``cov``/``mean`` are
        then its EM (saturated-model) estimates and its ``data`` the rows with any
        observed value (NaN where missing). Empty otherwise.
    """

    groups: tuple[SampleMoments, ...]
    labels: tuple[str, ...]
    column: str | None
    n_obs: int
    n_total: int
    patterns: tuple[MissingPatterns, ...] = ()

    @property
    def n_groups(self) -> int:
        """Number of groups."""
        return len(self.groups)

    @property
    def n_dropped(self) -> int:
        """Rows dropped by listwise deletion, over all groups."""
        return self.n_total - self.n_obs

    @property
    def n_obs_by_group(self) -> tuple[int, ...]:
        """Rows used in each group (lavaan's ``lavInspect(fit, "nobs")``)."""
        return tuple(g.n_obs for g in self.groups)

    @property
    def n_dropped_by_group(self) -> tuple[int, ...]:
        """Rows dropped by listwise deletion in each group."""
        return tuple(g.n_total - g.n_obs for g in self.groups)

    def describe(self) -> str:
        """One line on the rows used and dropped, per group and in total, e.g.
        ``"N used 298 of 301 (dropped 3; by school: Pasteur 155 of 156, Grant-White 143 of
        145; missing='listwise')"``."""
        missing = self.groups[0].missing
        head = f"N used {self.n_obs} of {self.n_total} (dropped {self.n_dropped}"
        if self.column is None:
            return f"{head}; missing={missing!r})"
        parts = ", ".join(f"{label} {g.n_obs} of {g.n_total}" for label, g in zip(self.labels, self.groups))
        return f"{head}; by {self.column}: {parts}; missing={missing!r})"


def group_label(value: object) -> str:
    """A group value as text, as R's ``as.character``: whole floats lose ``.0``."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def moments_by_group(data: pd.DataFrame, columns: tuple[str, ...], group: str | None, missing: str,
                     latent: tuple[str, ...] = (), covariates: tuple[str, ...] = ()) -> GroupedMoments:
    """Validate ``data`` and compute the sample moments of each group.

    Parameters
    ----------
    data
        One row per respondent; never modified.
    columns
        The model's observed variables, in the model's order.
    group
        Name of the grouping column, or None for one group.
    missing
        Missing-data policy of :func:`~lcsem.data.prepare.prepare_data`, applied within
        each group.
    latent, covariates
        The model's latent variables and exogenous observed covariates (see
        :func:`~lcsem.data.prepare.prepare_data`).

    Returns
    -------
    GroupedMoments

    Raises
    ------
    ArgumentError
        ``group`` is not a string (or None).
    MissingColumnsError
        The data have no column ``group``.
    DataError
        The group column is a model variable, has missing values, has one level, or a
        level has too few complete cases (or fails any check of ``prepare_data``: the
        message names the level).
    """
    columns = tuple(columns)
    fiml = missing in FIML_POLICIES
    if group is None and fiml:
        values = model_values(data, columns, missing=missing, latent=latent)
        warn_missing_covariates(values, columns, covariates, stacklevel=4)
        moments, patterns = fiml_moments(values, columns, data.index, covariates=covariates)
        return GroupedMoments((moments,), (), None, moments.n_obs, moments.n_total, (patterns,))
    if group is None:
        prepared = prepare_data(data, columns, missing=missing, latent=latent, covariates=covariates)
        moments = moments_of(prepared)
        return GroupedMoments((moments,), (), None, moments.n_obs, moments.n_total)
    if not isinstance(group, str):
        raise ArgumentError(f"group: expected the name of the grouping column as a string, got "
                            f"{group!r} ({type(group).__name__}); e.g. group='sector'")
    if not isinstance(data, pd.DataFrame):
        raise ArgumentError(f"data: expected a pandas DataFrame, got {type(data).__name__}; "
                            f"read files with lcsem.read_data(path)")
    if group in columns or group in latent:
        kind = "an observed variable" if group in columns else "a latent variable"
        raise DataError(f"group: {group!r} is {kind} of the model; a grouping column cannot also be "
                        f"modelled (it is constant within each group): group by another column or "
                        f"remove {group!r} from the model")
    _check_group_column(data, group)
    if int((data.columns == group).sum()) > 1:
        raise DataError(f"group: the data have more than one column named {group!r}; give each column "
                        f"a unique name")
    group_values = data[group]
    absent = group_values.isna().to_numpy()
    if absent.any():
        raise DataError(f"group: the group column {group!r} is missing in {int(absent.sum())} of "
                        f"{len(group_values)} rows; lcsem does not guess a group: drop those rows "
                        f"(data.dropna(subset=[{group!r}])) or recode them to a group")
    labels = [group_label(v) for v in group_values.tolist()]
    order = list(dict.fromkeys(labels))
    if len(order) < 2:
        shown = repr(order[0]) if order else "no value"
        raise DataError(f"group: the group column {group!r} has one level ({shown}) in the "
                        f"{len(group_values)} rows; a multi-group model needs at least two groups: "
                        f"leave group out for a one-group fit, or group by another column")
    p = len(columns)
    values = model_values(data, columns, missing=missing, latent=latent)
    codes = np.array(labels, dtype=object)
    masks = [codes == label for label in order]
    if fiml:
        warn_missing_covariates(values, columns, covariates, stacklevel=4)
        parts = [fiml_moments(values[mask], columns, data.index[mask], where=f"group {label!r} of {group!r}: ",
                              covariates=covariates)
                 for label, mask in zip(order, masks)]
        n_obs = sum(m.n_obs for m, _ in parts)
        return GroupedMoments(tuple(m for m, _ in parts), tuple(order), group, n_obs, len(data),
                              tuple(mp for _, mp in parts))
    complete = ~np.isnan(values).any(axis=1)
    short = [(label, int(complete[m].sum()), int(m.sum())) for label, m in zip(order, masks)
             if complete[m].sum() <= p]
    if short:
        detail = "; ".join(f"{label!r}: {n} complete of {total} rows" for label, n, total in short)
        raise DataError(f"group: levels of {group!r} with too few complete cases for the model's {p} "
                        f"observed variables ({detail}); each group needs more complete cases than "
                        f"observed variables (at least {p + 1}): merge small groups, recode {group!r}, "
                        f"or drop those levels")
    groups = []
    for label, mask in zip(order, masks):
        try:
            prepared = complete_cases(values[mask], columns, data.index[mask], missing=missing,
                                      covariates=covariates, check_ordinal=False)
        except DataError as exc:
            raise DataError(f"group {label!r} of {group!r}: {exc}") from None
        groups.append(moments_of(prepared))
    used = np.concatenate([g.data.to_numpy() for g in groups])
    warn_ordinal(used, columns, covariates, stacklevel=4)
    n_obs = sum(g.n_obs for g in groups)
    warn_listwise(len(data) - n_obs, len(data), stacklevel=3)
    return GroupedMoments(tuple(groups), tuple(order), group, n_obs, len(data))


def _check_group_column(data: pd.DataFrame, group: str) -> None:
    if group in data.columns:
        return
    present = [str(c) for c in data.columns]
    close = difflib.get_close_matches(group, present, n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
    shown = present if len(present) <= 20 else present[:20] + ["..."]
    raise MissingColumnsError(f"group: the data have no column {group!r}; {hint}the columns are {shown}; "
                              f"pass the name of the column that holds the groups")
