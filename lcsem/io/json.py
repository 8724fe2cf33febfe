"""JSON round trip of results (no pickle).

:func:`fit_result_to_dict` turns a :class:`~lcsem.FitResult` into a dict of plain
``str``, ``int``, ``float``, ``bool``, ``None``, lists and dicts that ``json.dumps``
writes without a custom encoder (NaN and infinities become ``null``), and
:func:`fit_result_from_dict` rebuilds an equal result:

>>> import json, lcsem                                          # doctest: +SKIP
>>> text = json.dumps(res.to_dict())                            # doctest: +SKIP
>>> again = lcsem.FitResult.from_dict(json.loads(text))         # doctest: +SKIP

The model is stored twice: as lavaan-style text (``Model.to_syntax()``, for people
and other programs) and as its parsed statements (so that the parameter table, and
with it the order of ``theta``, is rebuilt exactly), with ``std_lv``, descriptions,
population values and name. Nothing in a payload is ever executed.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..exceptions import ArgumentError

__all__ = ["fit_result_to_dict", "fit_result_from_dict", "result_to_dict", "result_from_dict",
           "bootstrap_result_to_dict", "bootstrap_result_from_dict", "encode_value", "decode_value",
           "FORMAT", "FORMAT_VERSION", "RESULT_CLASSES"]

FORMAT = "lcsem.FitResult"
FORMAT_VERSION = 1
_STATEMENT_FIELDS = ("lhs", "op", "rhs", "line", "fixed", "label", "start", "free_forced")


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
    return {"names": [str(c) for c in frame.columns], "values": _nums(frame.to_numpy())}


def _matrix_from_dict(payload: Mapping[str, Any]) -> pd.DataFrame:
    names = list(payload["names"])
    return pd.DataFrame(_array(payload["values"], (len(names), len(names))), index=names, columns=names)


# ---------------------------------------------------------------------- model
def model_to_dict(model) -> dict[str, Any]:
    """A JSON-safe description of a :class:`~lcsem.Model` (text plus exact statements)."""
    statements = []
    for s in model.statements:
        record = {f: getattr(s, f) for f in _STATEMENT_FIELDS}
        for f in ("fixed", "start"):
            if record[f] is not None:
                record[f] = float(record[f])
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
    from ..exceptions import LcsemError
    from ..spec.model import Model
    from ..spec.syntax import Statement, parse_syntax

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
                unknown = set(record) - set(_STATEMENT_FIELDS)
                missing = {"lhs", "op", "rhs", "line"} - set(record)
                if unknown or missing:
                    raise ArgumentError(f"statement {i} has unknown fields {sorted(unknown)} or lacks "
                                        f"{sorted(missing)}")
                statements.append(Statement(**record))
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
                         data: pd.DataFrame | None) -> None:
    """Refuse a payload whose tables do not describe its own model (edited names, labels
    or operators)."""
    rows = {(r.lhs, r.op, r.rhs): r.label for r in model.rows}
    for column in ("lhs", "op", "rhs", "label"):
        if column not in estimates.columns:
            raise ArgumentError(f"payload: the estimates table lacks the column {column!r}")
    for lhs, op, rhs, label in estimates[["lhs", "op", "rhs", "label"]].itertuples(index=False):
        key = (lhs, op, rhs)
        if op == ":=":
            key = (lhs, op, rhs)
            expected = rows.get(key)
            ok = expected is not None and label == lhs
        else:
            expected = rows.get(key)
            if expected is None and op == "~~":
                expected = rows.get((rhs, op, lhs))
            ok = expected is not None and (label if isinstance(label, str) else "") == expected
        if not ok:
            raise ArgumentError(f"payload: the estimates row {lhs!r} {op!r} {rhs!r} (label {label!r}) "
                                f"is not a parameter of the stored model; the payload was edited or "
                                f"is corrupt: pass the unchanged output of to_dict()")
    observed = list(model.observed)
    for what in ("sample_cov", "implied_cov"):
        names = list(payload[what].get("names", [])) if isinstance(payload[what], Mapping) else None
        if names != observed:
            raise ArgumentError(f"payload: the {what} names {names!r} are not the model's observed "
                                f"variables {observed}; the payload was edited or is corrupt")
    if data is not None and list(data.columns) != observed:
        raise ArgumentError(f"payload: the data columns {list(data.columns)} are not the model's "
                            f"observed variables {observed}; the payload was edited or is corrupt")
    names = set(model.latent) | set(observed)
    unknown = [k for k in payload["r2"] if k not in names]
    if unknown:
        raise ArgumentError(f"payload: r2 names {unknown} are not variables of the stored model")
    for what in ("inadmissible", "warnings"):
        if not isinstance(payload[what], list) or not all(isinstance(x, str) for x in payload[what]):
            raise ArgumentError(f"payload: {what!r} must be a list of text")


# ---------------------------------------------------------------------- FitResult
def fit_result_to_dict(res, include_data: bool = True) -> dict[str, Any]:
    """A JSON-serialisable dict holding everything in a :class:`~lcsem.FitResult`.

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
    from .._version import __version__
    from ..results.fit_result import FitResult

    if not isinstance(res, FitResult):
        raise ArgumentError(f"res: expected an lcsem.FitResult, got {type(res).__name__}")
    if not isinstance(include_data, bool):
        raise ArgumentError(f"include_data: expected True or False, got {include_data!r}")
    struct = res.structure
    parameters: list[list[str] | None] = [None] * struct.k
    for r, f in zip(struct.rows, struct.row_free):
        if f >= 0 and parameters[f] is None:
            parameters[f] = [r.lhs, r.op, r.rhs]
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "written_by": {"lcsem": __version__},
        "model": model_to_dict(res.model),
        "estimator": res.estimator,
        "estimates": _frame_to_dict(res.estimates, index=False),
        "fit_indices": _series_to_dict(res.fit_indices),
        "r2": _series_to_dict(res.r2),
        "series_names": {"fit_indices": res.fit_indices.name, "r2": res.r2.name},
        "series_index_names": {"fit_indices": res.fit_indices.index.name, "r2": res.r2.index.name},
        "converged": bool(res.converged),
        "inadmissible": [str(x) for x in res.inadmissible],
        "warnings": [str(x) for x in res.warnings],
        "n_obs": int(res.n_obs),
        "n_total": int(res.n_total),
        "missing": res.missing,
        "parameters": parameters,
        "theta": _nums(res.theta),
        "vcov": _nums(np.asarray(res.vcov).reshape(struct.k, struct.k)),
        "sample_cov": _matrix_to_dict(res.sample_cov),
        "implied_cov": _matrix_to_dict(res.implied_cov),
        "data": _frame_to_dict(res.data) if include_data and res.data is not None else None,
        "iterations": int(res.iterations),
        "versions": {str(k): str(v) for k, v in res.versions.items()},
        "unidentified": [str(x) for x in res.unidentified],
        "level": float(res.level),
        "sample_mean": None if res.sample_mean is None else _series_to_dict(res.sample_mean),
    }


def fit_result_from_dict(payload: Mapping[str, Any]):
    """Rebuild a :class:`~lcsem.FitResult` from :func:`fit_result_to_dict`'s output
    (after a JSON round trip or not).

    Raises
    ------
    ArgumentError
        When ``payload`` is not such a dict, or comes from a newer format version.
    """
    from ..results.fit_result import FitResult

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
        theta, vcov = _theta_in_model_order(model, payload)
        stored_data = (_frame_from_dict(payload["data"], "data") if payload.get("data") is not None
                       else None)
        if payload["estimator"] not in ("ML", "GLS", "ULS"):
            raise ArgumentError(f"payload: estimator {payload['estimator']!r} is not ML, GLS or ULS; the "
                                f"payload was edited or is corrupt")
        estimates = _frame_from_dict(payload["estimates"], "estimates")
        _check_matches_model(model, payload, estimates, stored_data)
        data = (stored_data if stored_data is not None
                else pd.DataFrame({c: pd.Series(dtype=float) for c in observed}))
        return FitResult(
            model=model, estimator=payload["estimator"],
            estimates=estimates,
            fit_indices=_series_from_dict(payload["fit_indices"], names.get("fit_indices", "value"),
                                          index_names.get("fit_indices")),
            r2=_series_from_dict(payload["r2"], names.get("r2", "r2"), index_names.get("r2")),
            converged=bool(payload["converged"]), inadmissible=tuple(payload["inadmissible"]),
            warnings=tuple(payload["warnings"]), n_obs=int(payload["n_obs"]),
            n_total=int(payload["n_total"]), missing=payload["missing"], theta=theta, vcov=vcov,
            sample_cov=_matrix_from_dict(payload["sample_cov"]),
            implied_cov=_matrix_from_dict(payload["implied_cov"]), data=data,
            iterations=int(payload.get("iterations", 0)), versions=dict(payload.get("versions", {})),
            unidentified=tuple(str(x) for x in payload.get("unidentified", ())),
            level=float(payload.get("level", 0.95)),
            sample_mean=(None if payload.get("sample_mean") is None
                         else _series_from_dict(payload["sample_mean"], "mean")))
    except KeyError as exc:
        raise ArgumentError(f"payload: the key {exc.args[0]!r} is missing; pass the unchanged output "
                            f"of to_dict()") from exc


def _theta_in_model_order(model, payload: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """``theta`` and ``vcov`` reordered to the rebuilt model's free parameters (they agree
    unless the payload was written from text alone)."""
    from ..engine.ram import RamStructure

    struct = RamStructure(model.rows, model.observed, model.latent)
    k = struct.k
    theta = _array(payload["theta"]).reshape(-1)
    vcov = _array(payload["vcov"])
    if theta.size != k or vcov.size != k * k:
        raise ArgumentError(f"payload: theta has {theta.size} values and vcov {vcov.size} but the stored "
                            f"model has {k} free parameters; the payload was edited or is corrupt")
    vcov = vcov.reshape(k, k)
    stored = payload.get("parameters")
    if not stored:
        return theta, vcov

    def key(lhs, op, rhs):
        return (min(lhs, rhs), op, max(lhs, rhs)) if op == "~~" else (lhs, op, rhs)

    position = {key(*p): i for i, p in enumerate(stored)}
    order = np.full(k, -1)
    for r, f in zip(struct.rows, struct.row_free):
        if f >= 0 and order[f] < 0:
            order[f] = position.get(key(r.lhs, r.op, r.rhs), -1)
    if (order < 0).any():
        raise ArgumentError("payload: the stored parameters do not match the stored model; the payload "
                            "was edited or is corrupt")
    return theta[order], vcov[np.ix_(order, order)]


def _check_fields_covered() -> set[str]:
    """Fields of FitResult that the payload does not store (for tests)."""
    from ..results.fit_result import FitResult

    stored = {"model", "estimator", "estimates", "fit_indices", "r2", "converged", "inadmissible",
              "warnings", "n_obs", "n_total", "missing", "theta", "vcov", "sample_cov", "implied_cov",
              "data", "iterations", "versions", "unidentified", "level", "sample_mean"}
    return {f.name for f in dataclasses.fields(FitResult)} - stored


# ---------------------------------------------------------------------- other results
#: Result classes that :func:`result_from_dict` may rebuild (nothing else is ever imported).
RESULT_CLASSES = {
    # the keys are the stored format (stable across versions); the values say where each class lives now
    "lcsem.bootstrap.BootstrapResult": ("lcsem.resampling.result", "BootstrapResult"),
    "lcsem.cmb.CommonMethodBiasResult": ("lcsem.analysis.common_method", "CommonMethodBiasResult"),
    "lcsem.measurement.MeasurementResult": ("lcsem.analysis.validity", "MeasurementResult"),
    "lcsem.effects.EffectsResult": ("lcsem.analysis.mediation", "EffectsResult"),
}
_TYPE = "__lcsem__"


def _float_token(x: float) -> float | str:
    """Floats losslessly in strict JSON: non-finite values become "NaN"/"Infinity"/"-Infinity"."""
    x = float(x)
    if math.isfinite(x):
        return x
    return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")


def _float_from_token(x: Any) -> float:
    return float({"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}.get(x, x)) if isinstance(x, str) else (
        float("nan") if x is None else float(x))


def _class_path(obj: Any) -> str:
    cls = type(obj)
    module = cls.__module__
    for path, (mod, name) in RESULT_CLASSES.items():
        if name == cls.__name__ and module.startswith(mod):
            return path
    return f"{module}.{cls.__qualname__}"


def encode_value(value: Any, where: str = "value") -> Any:
    """A JSON-safe, lossless encoding of numbers, arrays, tables, models, results and
    containers of them (see :func:`decode_value`)."""
    from ..results.fit_result import FitResult
    from ..spec.model import Model

    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (float, np.floating)):
        token = _float_token(value)
        return token if not isinstance(token, str) else {_TYPE: "float", "value": token}
    if isinstance(value, np.ndarray):
        kind = value.dtype.kind
        flat = value.ravel()
        if kind == "f":
            values = [_float_token(v) for v in flat]
        elif kind in "iu":
            values = [int(v) for v in flat]
        elif kind == "b":
            values = [bool(v) for v in flat]
        elif kind in "UO":
            values = [encode_value(v, where) for v in flat]
        else:
            raise ArgumentError(f"{where}: arrays of dtype {value.dtype} cannot be stored as JSON")
        return {_TYPE: "ndarray", "dtype": value.dtype.str if kind not in "UO" else "object",
                "shape": list(value.shape), "values": values}
    if isinstance(value, pd.DataFrame):
        return {_TYPE: "DataFrame", "columns": [encode_value(c, where) for c in value.columns],
                "index": encode_value(value.index.to_numpy(), where), "index_name": encode_value(value.index.name),
                "data": [encode_value(value[c].to_numpy(), f"{where}[{c!r}]") for c in value.columns]}
    if isinstance(value, pd.Series):
        return {_TYPE: "Series", "name": encode_value(value.name, where),
                "index": encode_value(value.index.to_numpy(), where), "index_name": encode_value(value.index.name),
                "values": encode_value(value.to_numpy(), where)}
    if isinstance(value, FitResult):
        return {_TYPE: "FitResult", "payload": fit_result_to_dict(value)}
    if isinstance(value, Model):
        return {_TYPE: "Model", "payload": model_to_dict(value)}
    if isinstance(value, np.random.SeedSequence):
        return {_TYPE: "SeedSequence", "entropy": encode_value(value.entropy, where),
                "spawn_key": [int(k) for k in value.spawn_key]}
    if isinstance(value, tuple):
        return {_TYPE: "tuple", "items": [encode_value(v, where) for v in value]}
    if isinstance(value, list):
        return [encode_value(v, where) for v in value]
    if isinstance(value, Mapping):
        return {_TYPE: "dict", "items": [[encode_value(k, where), encode_value(v, f"{where}[{k!r}]")]
                                         for k, v in value.items()]}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        path = _class_path(value)
        if path not in RESULT_CLASSES:
            raise ArgumentError(f"{where}: objects of type {path} cannot be stored as JSON")
        fields = {}
        for f in dataclasses.fields(value):
            if not f.init:
                continue
            item = getattr(value, f.name)
            if f.name.startswith("_"):
                # private state (caches, callbacks): stored when it is data, else left out
                if callable(item):
                    continue
                try:
                    fields[f.name] = encode_value(item, f"{where}.{f.name}")
                except ArgumentError:
                    pass
                continue
            fields[f.name] = encode_value(item, f"{where}.{f.name}")
        return {_TYPE: "result", "class": path, "fields": fields}
    raise ArgumentError(f"{where}: objects of type {type(value).__name__} cannot be stored as JSON")


def decode_value(payload: Any) -> Any:
    """Inverse of :func:`encode_value`. Only classes in :data:`RESULT_CLASSES` are rebuilt."""
    if isinstance(payload, list):
        return [decode_value(v) for v in payload]
    if not isinstance(payload, dict):
        return payload
    kind = payload.get(_TYPE)
    if kind is None:
        return {k: decode_value(v) for k, v in payload.items()}
    if kind == "float":
        return _float_from_token(payload["value"])
    if kind == "ndarray":
        dtype = payload["dtype"]
        if dtype == "object":
            arr = np.empty(len(payload["values"]), dtype=object)
            arr[:] = [decode_value(v) for v in payload["values"]]
        elif np.dtype(dtype).kind == "f":
            arr = np.array([_float_from_token(v) for v in payload["values"]], dtype=dtype)
        else:
            arr = np.array(payload["values"], dtype=dtype)
        return arr.reshape(payload["shape"])
    if kind == "DataFrame":
        columns = [decode_value(c) for c in payload["columns"]]
        index = pd.Index(decode_value(payload["index"]), name=decode_value(payload["index_name"]))
        data = {i: decode_value(col) for i, col in enumerate(payload["data"])}
        frame = pd.DataFrame({i: pd.Series(v if v.dtype != object else list(v), index=index)
                              for i, v in data.items()}, index=index)
        frame.columns = columns
        return frame
    if kind == "Series":
        values = decode_value(payload["values"])
        index = pd.Index(decode_value(payload["index"]), name=decode_value(payload["index_name"]))
        return pd.Series(values if values.dtype != object else list(values), index=index,
                         name=decode_value(payload["name"]))
    if kind == "FitResult":
        return fit_result_from_dict(payload["payload"])
    if kind == "Model":
        return model_from_dict(payload["payload"])
    if kind == "SeedSequence":
        return np.random.SeedSequence(decode_value(payload["entropy"]), spawn_key=tuple(payload["spawn_key"]))
    if kind == "tuple":
        return tuple(decode_value(v) for v in payload["items"])
    if kind == "dict":
        return {decode_value(k): decode_value(v) for k, v in payload["items"]}
    if kind == "result":
        path = payload.get("class")
        if path not in RESULT_CLASSES:
            raise ArgumentError(f"payload: {path!r} is not a result class lcsem rebuilds "
                                f"({', '.join(RESULT_CLASSES)})")
        module, name = RESULT_CLASSES[path]
        cls = getattr(importlib.import_module(module), name)
        try:
            return cls(**{k: decode_value(v) for k, v in payload["fields"].items()})
        except TypeError as exc:
            raise ArgumentError(f"payload: the stored fields do not match {path} ({exc}); the payload "
                                f"was written by another lcsem version or edited") from exc
    raise ArgumentError(f"payload: unknown stored type {kind!r}; pass the unchanged output of to_dict()")


def result_to_dict(result: Any) -> dict[str, Any]:
    """A JSON-safe dict of any lcsem result (:class:`~lcsem.BootstrapResult`,
    :class:`~lcsem.analysis.common_method.CommonMethodBiasResult`, measurement and effects results, or a
    :class:`~lcsem.FitResult`), rebuilt by :func:`result_from_dict`."""
    from ..results.fit_result import FitResult

    if isinstance(result, FitResult):
        return fit_result_to_dict(result)
    path = _class_path(result)
    if path not in RESULT_CLASSES or not dataclasses.is_dataclass(result):
        raise ArgumentError(f"result: expected an lcsem result ({', '.join(RESULT_CLASSES)}), got {path}")
    from .._version import __version__

    return {"format": path, "format_version": FORMAT_VERSION, "written_by": {"lcsem": __version__},
            "result": encode_value(result, "result")}


def result_from_dict(payload: Mapping[str, Any]) -> Any:
    """Rebuild a result from :func:`result_to_dict`'s output."""
    if isinstance(payload, Mapping) and payload.get("format") == FORMAT:
        return fit_result_from_dict(payload)
    if not isinstance(payload, Mapping) or payload.get("format") not in RESULT_CLASSES:
        found = payload.get("format") if isinstance(payload, Mapping) else type(payload).__name__
        raise ArgumentError(f"payload: expected the dict written by result_to_dict(), got format {found!r}")
    version = payload.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ArgumentError(f"payload: format_version {version!r} is not supported by this lcsem "
                            f"(it reads versions up to {FORMAT_VERSION}); upgrade lcsem")
    try:
        result = decode_value(payload["result"])
    except KeyError as exc:
        raise ArgumentError(f"payload: the key {exc.args[0]!r} is missing; pass the unchanged output "
                            f"of to_dict()") from exc
    except (TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, ArgumentError):
            raise
        raise ArgumentError(f"payload: a stored value is malformed ({type(exc).__name__}: {exc}); "
                            f"pass the unchanged output of to_dict()") from None
    if type(result).__name__ != RESULT_CLASSES[payload["format"]][1]:
        raise ArgumentError(f"payload: format {payload['format']!r} but the stored result is a "
                            f"{type(result).__name__}; the payload was edited or is corrupt")
    if payload["format"] == "lcsem.bootstrap.BootstrapResult":
        _check_bootstrap_result(result)
    return result


def _check_bootstrap_result(boot: Any) -> None:
    """Refuse a rebuilt :class:`~lcsem.BootstrapResult` whose parts do not fit together."""
    from ..resampling.replicates import STATUS_NAMES
    from ..resampling.result import KINDS
    from ..results.fit_result import FitResult

    def bad(what: str) -> ArgumentError:
        return ArgumentError(f"payload: {what}; the payload was edited or is corrupt: pass the "
                             f"unchanged output of BootstrapResult.to_dict()")

    if not isinstance(boot.fit, FitResult):
        raise bad(f"'fit' is a {type(boot.fit).__name__}, not a FitResult")
    if boot.kind not in KINDS:
        raise bad(f"kind {boot.kind!r} is not one of {KINDS}")
    n = boot.n_resamples
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise bad(f"n_resamples {n!r} is not a count")
    dist = boot.distribution
    if not isinstance(dist, pd.DataFrame) or dist.shape[0] != n:
        raise bad(f"the distribution does not have n_resamples={n} rows")
    if not all(isinstance(c, str) for c in dist.columns) or not all(
            pd.api.types.is_float_dtype(dist[c]) for c in dist.columns):
        raise bad("the distribution's columns must be named by text and hold numbers")
    if not isinstance(boot.estimate, pd.Series) or list(boot.estimate.index) != list(dist.columns):
        raise bad("the estimate does not name the distribution's columns")
    status = boot.status
    if (not isinstance(status, pd.Series) or len(status) != n
            or not set(map(str, status)) <= set(map(str, STATUS_NAMES))):
        raise bad(f"status must hold {n} values among {list(map(str, STATUS_NAMES))}")
    if not isinstance(boot.failure_reasons, dict):
        raise bad("failure_reasons must be a dict")
    idx = boot.indices
    if idx is not None:
        n_obs = boot.fit.data.shape[0]
        if (not isinstance(idx, np.ndarray) or idx.dtype.kind not in "iu" or idx.shape != (n, n_obs)
                or (idx.size and (idx.min() < 0 or idx.max() >= n_obs))):
            raise bad(f"indices must be an integer array of shape ({n}, {n_obs}) with row positions "
                      f"of the stored data")


def bootstrap_result_to_dict(boot: Any, include_jackknife: bool = True) -> dict[str, Any]:
    """A JSON-safe dict of a :class:`~lcsem.BootstrapResult` (with its :class:`FitResult`,
    the distribution, replicate status and resampled row indices).

    Parameters
    ----------
    boot
        The bootstrap result.
    include_jackknife
        Compute (if not yet done) and store the leave-one-out values that BCa intervals
        need, so that ``ci(method="bca")`` works on the rebuilt result. Without them the
        rebuilt result gives percentile, BC and normal intervals only.
    """
    if type(boot).__name__ != "BootstrapResult":
        raise ArgumentError(f"boot: expected an lcsem.BootstrapResult, got {type(boot).__name__}")
    if not isinstance(include_jackknife, bool):
        raise ArgumentError(f"include_jackknife: expected True or False, got {include_jackknife!r}")
    if include_jackknife and getattr(boot, "_jackknife_runner", None) is not None:
        boot.jackknife()          # fills the result's cache, which is stored below
    return result_to_dict(boot)


def bootstrap_result_from_dict(payload: Mapping[str, Any]) -> Any:
    """Rebuild a :class:`~lcsem.BootstrapResult` from :func:`bootstrap_result_to_dict`'s output."""
    if not isinstance(payload, Mapping) or payload.get("format") != "lcsem.bootstrap.BootstrapResult":
        found = payload.get("format") if isinstance(payload, Mapping) else type(payload).__name__
        raise ArgumentError(f"payload: expected the dict written by bootstrap_result_to_dict(), got "
                            f"format {found!r}")
    return result_from_dict(payload)
