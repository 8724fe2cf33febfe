"""JSON-safe payloads of a fitted result's parts (no pickle; nothing is ever executed).

:func:`fit_result_payload` turns the fields of a :class:`~lcsem.FitResult` into a dict of
plain ``str``, ``int``, ``float``, ``bool``, ``None``, lists and dicts that ``json.dumps``
writes without a custom encoder (NaN and infinities become ``null``), and
:func:`fit_result_fields` reads the fields back (``FitResult.from_dict`` builds the result):

>>> import json, lcsem                                          # doctest: +SKIP
>>> text = json.dumps(res.to_dict())                            # doctest: +SKIP
>>> again = lcsem.FitResult.from_dict(json.loads(text))         # doctest: +SKIP

The model is stored twice: as lavaan-style text (``Model.to_syntax()``, for people
and other programs) and as its parsed statements (so that the parameter table, and
with it the order of ``theta``, is rebuilt exactly), with ``std_lv``, descriptions,
population values and name. Nothing in a payload is ever executed. Other results and
values: :mod:`lcsem.results.payload`.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import pandas as pd

from .._version import __version__
from ..exceptions import ArgumentError, LcsemError
from ..spec.model import Model
from ..spec.groups import group_table
from ..engine.optimize import ESTIMATORS
from ..inference.robust import ROBUST_ESTIMATORS
from ..spec.groups import PARAMETERIZATIONS
from ..spec.ordinal import MAX_THRESHOLDS, ORDINAL_ESTIMATORS, ordinal_table
from .ordinal_info import OrdinalInfo
from ..spec.syntax import Statement, group_modifiers_from_records, group_modifiers_to_records, parse_syntax

__all__ = ["fit_result_payload", "fit_result_fields", "model_to_dict", "model_from_dict", "FORMAT",
           "FORMAT_VERSION", "STORED_FIELDS"]

FORMAT = "lcsem.FitResult"
FORMAT_VERSION = 1
_STATEMENT_FIELDS = ("lhs", "op", "rhs", "line", "fixed", "label", "start", "free_forced")
#: the fields of FitResult that a payload stores
STORED_FIELDS = frozenset({"model", "estimator", "estimates", "fit_indices", "r2", "converged",
                           "inadmissible", "warnings", "n_obs", "n_total", "missing", "theta", "vcov",
                           "sample_cov", "implied_cov", "data", "iterations", "versions",
                           "unidentified", "level", "sample_mean", "implied_mean", "group",
                           "group_labels", "group_equal", "group_partial", "meanstructure", "view_of",
                           "information",
                           "ordinal"})
#: estimators a payload may name for continuous data (ordinal fits: ORDINAL_ESTIMATORS)
_CONTINUOUS_ESTIMATORS = ESTIMATORS + ROBUST_ESTIMATORS


# ---------------------------------------------------------------------- JSON-safe scalars
def _num(x: Any) -> float | None:
    """A float, or ``None`` for NaN/inf (strict JSON has neither)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _nums(values: Any) -> list:
    """Nested lists of JSON-safe floats from an array."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 0:
        return _num(arr)  # type: ignore[return-value]
    return [_nums(v) for v in arr] if arr.ndim > 1 else [_num(v) for v in arr]


def _array(values: Any, shape: tuple[int, ...] | None = None) -> np.ndarray:
    arr = np.array(values if values is not None else [], dtype=float)   # None -> nan
    if shape is not None:
        arr = arr.reshape(shape)
    return arr


def _label(x: Any) -> Any:
    """An index label as a JSON scalar."""
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating, float)):
        return _num(x)
    if isinstance(x, (str, int, bool)) or x is None:
        return x
    return str(x)


# ---------------------------------------------------------------------- frames
def _frame_to_dict(frame: pd.DataFrame, index: bool = True) -> dict[str, Any]:
    columns: dict[str, list] = {}
    kinds: dict[str, str] = {}
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_bool_dtype(col):
            columns[str(name)] = [bool(v) for v in col]
            kinds[str(name)] = "bool"
        elif pd.api.types.is_numeric_dtype(col):
            columns[str(name)] = [_num(v) for v in col]
            kinds[str(name)] = "float"
        else:
            columns[str(name)] = [None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
                                  for v in col]
            kinds[str(name)] = "str"
    out: dict[str, Any] = {"columns": [str(c) for c in frame.columns], "kinds": kinds, "data": columns}
    if index:
        out["index"] = [_label(v) for v in frame.index]
    return out


def _frame_from_dict(payload: Mapping[str, Any], what: str) -> pd.DataFrame:
    try:
        names = list(payload["columns"])
        kinds = payload["kinds"]
        data = payload["data"]
        series = {}
        for name in names:
            if kinds[name] == "float":
                series[name] = np.array([np.nan if v is None else v for v in data[name]], dtype=float)
            elif kinds[name] == "bool":
                series[name] = np.array(data[name], dtype=bool)
            else:
                series[name] = pd.Series(list(data[name]))
        frame = pd.DataFrame({n: pd.Series(v) if not isinstance(v, pd.Series) else v
                              for n, v in series.items()}, columns=names)
        if "index" in payload:
            frame.index = pd.Index(payload["index"])
        return frame
    except (KeyError, TypeError, ValueError) as exc:
        raise ArgumentError(f"payload: the {what!r} table is malformed ({exc}); pass the unchanged "
                            f"output of to_dict()") from exc


def _series_to_dict(series: pd.Series) -> dict[str, float | None]:
    """A float Series as a plain ``{label: value}`` object (JSON keeps the order)."""
    return {str(k): _num(v) for k, v in series.items()}


def _series_from_dict(payload: Mapping[str, Any], name: Any, index_name: Any = None) -> pd.Series:
    values = np.array([np.nan if v is None else v for v in payload.values()], dtype=float)
    return pd.Series(values, index=pd.Index(list(payload.keys()), name=index_name), name=name)


def _matrix_to_dict(frame: pd.DataFrame) -> dict[str, Any]:
    if isinstance(frame.index, pd.MultiIndex):    # one matrix per group
        return {"by_group": {str(g): _matrix_to_dict(frame.xs(g, level=0))
                             for g in frame.index.get_level_values(0).unique()}}
    return {"names": [str(c) for c in frame.columns], "values": _nums(frame.to_numpy())}


def _matrix_from_dict(payload: Mapping[str, Any]) -> pd.DataFrame:
    if "by_group" in payload:
        return pd.concat({str(g): _matrix_from_dict(m) for g, m in payload["by_group"].items()},
                         names=["group", "variable"])
    names = list(payload["names"])
    return pd.DataFrame(_array(payload["values"], (len(names), len(names))), index=names, columns=names)


def _grouped_series_to_dict(series: pd.Series) -> dict[str, Any]:
    if isinstance(series.index, pd.MultiIndex):
        return {"by_group": {str(g): _series_to_dict(series.xs(g, level=0))
                             for g in series.index.get_level_values(0).unique()}}
    return _series_to_dict(series)


def _grouped_series_from_dict(payload: Mapping[str, Any], name: Any, index_name: Any = None) -> pd.Series:
    if "by_group" in payload and isinstance(payload["by_group"], Mapping):
        return pd.concat({str(g): _series_from_dict(v, name) for g, v in payload["by_group"].items()},
                         names=["group", "variable"]).rename(name)
    return _series_from_dict(payload, name, index_name)


# ---------------------------------------------------------------------- model
def model_to_dict(model) -> dict[str, Any]:
    """A JSON-safe description of a :class:`~lcsem.Model` (text plus exact statements)."""
    statements = []
    for s in model.statements:
        record = {f: getattr(s, f) for f in _STATEMENT_FIELDS}
        for f in ("fixed", "start"):
            if record[f] is not None:
                record[f] = float(record[f])
        if s.groups is not None:
            record["groups"] = group_modifiers_to_records(s.groups)
        statements.append(record)
    return {"syntax": model.to_syntax(), "statements": statements, "std_lv": bool(model.std_lv),
            "descriptions": dict(model.descriptions),
            "population": {k: float(v) for k, v in model.population.items()}, "name": model.name}


def model_from_dict(payload: Mapping[str, Any]):
    """Rebuild a :class:`~lcsem.Model` from :func:`model_to_dict`'s output.

    Every statement is validated as the :class:`~lcsem.Model` constructor validates any
    statement (names, labels, operators, finite numbers); an edited payload that does not
    pass raises :class:`ArgumentError` and nothing in it is ever executed.
    """
    if not isinstance(payload, Mapping):
        raise ArgumentError(f"payload: the model must be a dict, got {type(payload).__name__}; pass "
                            f"the unchanged output of to_dict()")
    try:
        if payload.get("statements"):
            records = payload["statements"]
            if not isinstance(records, list):
                raise ArgumentError(f"the statements must be a list, got {type(records).__name__}")
            statements = []
            for i, record in enumerate(records):
                if not isinstance(record, Mapping):
                    raise ArgumentError(f"statement {i} must be a dict, got {type(record).__name__}")
                unknown = set(record) - set(_STATEMENT_FIELDS) - {"groups"}
                missing = {"lhs", "op", "rhs", "line"} - set(record)
                if unknown or missing:
                    raise ArgumentError(f"statement {i} has unknown fields {sorted(unknown)} or lacks "
                                        f"{sorted(missing)}")
                fields_ = {k: v for k, v in record.items() if k != "groups"}
                statements.append(Statement(**fields_, groups=group_modifiers_from_records(record.get("groups"))))
            statements = tuple(statements)
        else:
            statements = tuple(parse_syntax(payload["syntax"]))
        return Model(statements, std_lv=payload.get("std_lv", False),
                     descriptions=payload.get("descriptions") or {},
                     population=payload.get("population") or {}, name=payload.get("name", ""))
    except LcsemError as exc:
        raise ArgumentError(f"payload: the stored model is invalid ({exc}); the payload was edited or "
                            f"is corrupt: pass the unchanged output of to_dict()") from None


def _check_matches_model(model, payload: Mapping[str, Any], estimates: pd.DataFrame,
                         data: pd.DataFrame | None, table=None, group: str | None = None) -> None:
    """Refuse a payload whose tables do not describe its own model (edited names, labels
    or operators)."""
    by_group = "group" in estimates.columns
    rows = {(r.lhs, r.op, r.rhs) + ((r.group,) if by_group else ()): r.label
            for r in (model.rows if table is None else table)}
    for column in ("lhs", "op", "rhs", "label"):
        if column not in estimates.columns:
            raise ArgumentError(f"payload: the estimates table lacks the column {column!r}")
    groups = estimates["group"] if by_group else [None] * len(estimates)
    for (lhs, op, rhs, label), g in zip(estimates[["lhs", "op", "rhs", "label"]].itertuples(index=False),
                                        groups):
        tail = (int(g) if g is not None and np.isfinite(g) else -1,) if by_group else ()
        if op == ":=":
            expected = rows.get((lhs, op, rhs) + ((0,) if by_group else ()))
            ok = expected is not None and label == lhs
        else:
            expected = rows.get((lhs, op, rhs) + tail)
            if expected is None and op == "~~":
                expected = rows.get((rhs, op, lhs) + tail)
            ok = expected is not None and (label if isinstance(label, str) else "") == expected
        if not ok:
            raise ArgumentError(f"payload: the estimates row {lhs!r} {op!r} {rhs!r} (label {label!r}) "
                                f"is not a parameter of the stored model; the payload was edited or "
                                f"is corrupt: pass the unchanged output of to_dict()")
    observed = list(model.observed)
    for what in ("sample_cov", "implied_cov"):
        block = payload[what]
        blocks = list(block["by_group"].values()) if isinstance(block, Mapping) and isinstance(
            block.get("by_group"), Mapping) else [block]
        for one in blocks:
            names = list(one.get("names", [])) if isinstance(one, Mapping) else None
            if names != observed:
                raise ArgumentError(f"payload: the {what} names {names!r} are not the model's observed "
                                    f"variables {observed}; the payload was edited or is corrupt")
    if group is not None:
        observed = observed + [group]
    if data is not None and list(data.columns) != observed:
        raise ArgumentError(f"payload: the data columns {list(data.columns)} are not the model's "
                            f"observed variables {observed}; the payload was edited or is corrupt")
    names = set(model.latent) | set(observed)
    r2 = payload["r2"]
    if isinstance(r2, Mapping) and isinstance(r2.get("by_group"), Mapping):
        r2 = {k: v for one in r2["by_group"].values() for k, v in one.items()}
    unknown = [k for k in r2 if k not in names]
    if unknown:
        raise ArgumentError(f"payload: r2 names {unknown} are not variables of the stored model")
    for what in ("inadmissible", "warnings"):
        if not isinstance(payload[what], list) or not all(isinstance(x, str) for x in payload[what]):
            raise ArgumentError(f"payload: {what!r} must be a list of text")


# ---------------------------------------------------------------------- FitResult
def fit_result_payload(res: Any, include_data: bool = True) -> dict[str, Any]:
    """A JSON-serialisable dict holding everything in a :class:`~lcsem.FitResult`
    (``FitResult.to_dict``; :func:`lcsem.results.payload.fit_result_to_dict` checks the type).

    Parameters
    ----------
    res
        The result to store.
    include_data
        Store the data actually used (complete cases, model columns, row labels).
        ``False`` keeps the payload small and free of respondents' answers; the rebuilt
        result then has an empty ``data`` table, so it cannot be bootstrapped again.

    Returns
    -------
    dict
        Keys ``format``, ``format_version``, ``model``, ``estimator``, ``estimates``
        (column name -> values), ``fit_indices`` and ``r2`` (name -> value),
        ``converged``, ``inadmissible``, ``warnings``, ``n_obs``, ``n_total``, ``missing``, ``theta``, ``vcov``, ``sample_cov``, ``implied_cov``,
        ``data``, ``iterations``, ``versions``, ``parameters`` (the free parameters'
        ``lhs op rhs`` in ``theta``'s order).
    """
    if not isinstance(include_data, bool):
        raise ArgumentError(f"include_data: expected True or False, got {include_data!r}")
    rows = [r for r in res.rows if r.op != ":="]
    k = max((r.free for r in rows), default=0)
    parameters: list[list | None] = [None] * k
    for r in rows:
        if r.free and parameters[r.free - 1] is None:
            parameters[r.free - 1] = [r.lhs, r.op, r.rhs] + ([r.group] if res.grouped else [])
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "written_by": {"lcsem": __version__},
        "model": model_to_dict(res.model),
        "estimator": res.estimator,
        "estimates": _frame_to_dict(res.estimates, index=False),
        "fit_indices": _series_to_dict(res.fit_indices),
        "r2": _grouped_series_to_dict(res.r2),
        "series_names": {"fit_indices": res.fit_indices.name, "r2": res.r2.name},
        "series_index_names": {"fit_indices": res.fit_indices.index.name, "r2": res.r2.index.name},
        "converged": bool(res.converged),
        "inadmissible": [str(x) for x in res.inadmissible],
        "warnings": [str(x) for x in res.warnings],
        "n_obs": int(res.n_obs),
        "n_total": int(res.n_total),
        "missing": res.missing,
        "information": res.information,
        "parameters": parameters,
        "theta": _nums(res.theta),
        "vcov": _nums(np.asarray(res.vcov).reshape(k, k)),
        "sample_cov": _matrix_to_dict(res.sample_cov),
        "implied_cov": _matrix_to_dict(res.implied_cov),
        "data": _frame_to_dict(res.data) if include_data and res.data is not None else None,
        "iterations": int(res.iterations),
        "versions": {str(k): str(v) for k, v in res.versions.items()},
        "unidentified": [str(x) for x in res.unidentified],
        "level": float(res.level),
        "sample_mean": None if res.sample_mean is None else _grouped_series_to_dict(res.sample_mean),
        "implied_mean": None if res.implied_mean is None else _grouped_series_to_dict(res.implied_mean),
        "grouping": {"group": res.group, "group_labels": list(res.group_labels),
                     "group_equal": list(res.group_equal), "group_partial": list(res.group_partial),
                     "meanstructure": bool(res.meanstructure), "view_of": res.view_of},
        "ordinal": None if res.ordinal is None else _ordinal_to_dict(res.ordinal),
    }


def _ordinal_to_dict(info: OrdinalInfo) -> dict[str, Any]:
    return {"ordered": [[name, int(k)] for name, k in info.ordered],
            "parameterization": info.parameterization,
            "sample_th": _grouped_series_to_dict(info.sample_th),
            "implied_th": _grouped_series_to_dict(info.implied_th),
            "estimator_details": [[str(a), str(b)] for a, b in info.estimator_details]}


def _ordinal_from_dict(payload: Any, model, grouping: Mapping[str, Any]) -> OrdinalInfo | None:
    """The ordinal part of a payload, checked (text and numbers only), with its parameter
    table rebuilt from the model."""
    if payload is None:
        return None
    keys = {"ordered", "parameterization", "sample_th", "implied_th", "estimator_details"}
    if not isinstance(payload, Mapping) or set(payload) != keys:
        raise ArgumentError("payload: 'ordinal' must be the dict written by to_dict(); the payload was "
                            "edited or is corrupt")
    observed = set(model.observed)
    ordered = payload["ordered"]
    if (not isinstance(ordered, list) or not ordered
            or not all(isinstance(o, list) and len(o) == 2 and o[0] in observed
                       and isinstance(o[1], int) and not isinstance(o[1], bool) and 1 <= o[1] <= MAX_THRESHOLDS
                       for o in ordered)):
        raise ArgumentError("payload: ordinal.ordered must list [observed variable, number of thresholds]")
    if payload["parameterization"] not in PARAMETERIZATIONS:
        raise ArgumentError(f"payload: ordinal.parameterization {payload['parameterization']!r} is not "
                            f"'delta' or 'theta'")
    details = payload["estimator_details"]
    if not isinstance(details, list) or not all(isinstance(d, list) and len(d) == 2
                                                and all(isinstance(x, str) and len(x) < 40 for x in d)
                                                for d in details):
        raise ArgumentError("payload: ordinal.estimator_details must be pairs of short texts")
    rows = ordinal_table(model, {name: k for name, k in ordered}, max(len(grouping["group_labels"]), 1),
                         group_equal=grouping["group_equal"], group_partial=grouping["group_partial"],
                         parameterization=payload["parameterization"])
    return OrdinalInfo(ordered=tuple((name, k) for name, k in ordered),
                       parameterization=payload["parameterization"], rows=rows,
                       sample_th=_grouped_series_from_dict(payload["sample_th"], "th"),
                       implied_th=_grouped_series_from_dict(payload["implied_th"], "th"),
                       estimator_details=tuple((a, b) for a, b in details))


def fit_result_fields(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a :class:`~lcsem.FitResult` from :func:`fit_result_payload`'s output
    (after a JSON round trip or not), checked; ``FitResult(**fields)`` rebuilds it.

    Raises
    ------
    ArgumentError
        When ``payload`` is not such a dict, or comes from a newer format version.
    """
    if not isinstance(payload, Mapping) or payload.get("format") != FORMAT:
        found = payload.get("format") if isinstance(payload, Mapping) else type(payload).__name__
        raise ArgumentError(f"payload: expected the dict written by FitResult.to_dict() (format "
                            f"{FORMAT!r}), got {found!r}")
    version = payload.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ArgumentError(f"payload: format_version {version!r} is not supported by this lcsem "
                            f"(it reads versions up to {FORMAT_VERSION}); upgrade lcsem")
    try:
        names = payload.get("series_names") or {}
        index_names = payload.get("series_index_names") or {}
        model = model_from_dict(payload["model"])
        observed = list(model.observed)
        grouping = _grouping_from_dict(payload.get("grouping"))
        ordinal = _ordinal_from_dict(payload.get("ordinal"), model, grouping)
        rows = (ordinal.rows if ordinal is not None else
                group_table(model, max(len(grouping["group_labels"]), 1),
                            group_equal=grouping["group_equal"], group_partial=grouping["group_partial"],
                            meanstructure=grouping["meanstructure"])
                if grouping["group_labels"] or grouping["meanstructure"] else model.rows)
        theta, vcov = _theta_in_model_order(model, payload, rows)
        stored_data = (_frame_from_dict(payload["data"], "data") if payload.get("data") is not None
                       else None)
        allowed = _CONTINUOUS_ESTIMATORS if ordinal is None else tuple(ORDINAL_ESTIMATORS)
        if payload["estimator"] not in allowed:
            kind = "continuous" if ordinal is None else "ordinal"
            raise ArgumentError(f"payload: estimator {payload['estimator']!r} is not one of "
                                f"{', '.join(allowed)} (those of {kind} fits); the payload was edited "
                                f"or is corrupt")
        estimates = _frame_from_dict(payload["estimates"], "estimates")
        if "group" in estimates.columns:
            if not np.isfinite(estimates["group"].to_numpy(dtype=float)).all():
                raise ArgumentError("payload: the estimates' group column has missing numbers")
            estimates["group"] = estimates["group"].astype(int)
        _check_matches_model(model, payload, estimates, stored_data, rows, grouping["group"])
        data = (stored_data if stored_data is not None
                else pd.DataFrame({c: pd.Series(dtype=float) for c in observed}))
        if stored_data is None and grouping["group"] is not None:
            data[grouping["group"]] = pd.Series(dtype=str)
        return dict(
            model=model, estimator=payload["estimator"],
            estimates=estimates,
            fit_indices=_series_from_dict(payload["fit_indices"], names.get("fit_indices", "value"),
                                          index_names.get("fit_indices")),
            r2=_grouped_series_from_dict(payload["r2"], names.get("r2", "r2"), index_names.get("r2")),
            converged=bool(payload["converged"]), inadmissible=tuple(payload["inadmissible"]),
            warnings=tuple(payload["warnings"]), n_obs=int(payload["n_obs"]),
            n_total=int(payload["n_total"]), missing=payload["missing"], theta=theta, vcov=vcov,
            information=str(payload.get("information", "expected")),
            sample_cov=_matrix_from_dict(payload["sample_cov"]),
            implied_cov=_matrix_from_dict(payload["implied_cov"]), data=data,
            iterations=int(payload.get("iterations", 0)), versions=dict(payload.get("versions", {})),
            unidentified=tuple(str(x) for x in payload.get("unidentified", ())),
            level=float(payload.get("level", 0.95)),
            sample_mean=(None if payload.get("sample_mean") is None
                         else _grouped_series_from_dict(payload["sample_mean"], "mean")),
            implied_mean=(None if payload.get("implied_mean") is None
                          else _grouped_series_from_dict(payload["implied_mean"], "mean")),
            group=grouping["group"], group_labels=tuple(grouping["group_labels"]),
            group_equal=tuple(grouping["group_equal"]), group_partial=tuple(grouping["group_partial"]),
            meanstructure=grouping["meanstructure"], view_of=grouping["view_of"], ordinal=ordinal)
    except KeyError as exc:
        raise ArgumentError(f"payload: the key {exc.args[0]!r} is missing; pass the unchanged output "
                            f"of to_dict()") from exc


def _grouping_from_dict(payload: Any) -> dict[str, Any]:
    """The multi-group / mean-structure settings of a payload, checked (text only)."""
    out: dict[str, Any] = {"group": None, "group_labels": [], "group_equal": [], "group_partial": [],
                           "meanstructure": False, "view_of": ""}
    if payload is None:
        return out
    if not isinstance(payload, Mapping) or set(payload) - set(out):
        raise ArgumentError("payload: 'grouping' must be the dict written by to_dict(); the payload was "
                            "edited or is corrupt")
    out.update(payload)
    if out["group"] is not None and not isinstance(out["group"], str):
        raise ArgumentError(f"payload: grouping.group must be text, got {out['group']!r}")
    for key in ("group_labels", "group_equal", "group_partial"):
        if not isinstance(out[key], list) or not all(isinstance(x, str) and len(x) <= 200 for x in out[key]):
            raise ArgumentError(f"payload: grouping.{key} must be a list of short texts")
    if not isinstance(out["meanstructure"], bool) or not isinstance(out["view_of"], str):
        raise ArgumentError("payload: grouping.meanstructure must be true/false and view_of text")
    return out


def _theta_in_model_order(model, payload: Mapping[str, Any], rows=None) -> tuple[np.ndarray, np.ndarray]:
    """``theta`` and ``vcov`` reordered to the rebuilt model's free parameters (they agree
    unless the payload was written from text alone)."""
    rows = [r for r in (model.rows if rows is None else rows) if r.op != ":="]
    grouped = any(r.op == "~1" or r.group != 1 for r in rows)
    k = max((r.free for r in rows), default=0)
    theta = _array(payload["theta"]).reshape(-1)
    vcov = _array(payload["vcov"])
    if theta.size != k or vcov.size != k * k:
        raise ArgumentError(f"payload: theta has {theta.size} values and vcov {vcov.size} but the stored "
                            f"model has {k} free parameters; the payload was edited or is corrupt")
    vcov = vcov.reshape(k, k)
    stored = payload.get("parameters")
    if not stored:
        return theta, vcov

    def key(lhs, op, rhs, group=1):
        return ((min(lhs, rhs), op, max(lhs, rhs)) if op == "~~" else (lhs, op, rhs)) + (group,)

    try:
        position = {key(*p): i for i, p in enumerate(stored)}
    except TypeError:
        raise ArgumentError("payload: the stored parameters are malformed; pass the unchanged output "
                            "of to_dict()") from None
    order = np.full(k, -1)
    for r in rows:
        f = r.free - 1
        if f >= 0 and order[f] < 0:
            order[f] = position.get(key(r.lhs, r.op, r.rhs, r.group if grouped else 1), -1)
    if (order < 0).any():
        raise ArgumentError("payload: the stored parameters do not match the stored model; the payload "
                            "was edited or is corrupt")
    return theta[order], vcov[np.ix_(order, order)]
