"""JSON round trip of results and values (no pickle; nothing in a payload is executed).

:func:`result_to_dict` and :func:`result_from_dict` store and rebuild any lcsem result
(:class:`~lcsem.FitResult`, :class:`~lcsem.BootstrapResult`, measurement, effects and
common-method-bias results); :func:`encode_value` and :func:`decode_value` handle the
numbers, arrays, tables, models and results inside them. Result classes are rebuilt only
from the list :data:`RESULT_CLASSES` (module path and class name); a class may define
``_check_rebuilt(result)`` to refuse a rebuilt result whose parts do not fit together.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from typing import Any, Mapping

import numpy as np
import pandas as pd

from .._version import __version__
from ..exceptions import ArgumentError
from ..spec.model import Model
from .codec import (FORMAT, FORMAT_VERSION, STORED_FIELDS, fit_result_payload, model_from_dict,
                    model_to_dict)
from .fit_result import FitResult

__all__ = ["fit_result_to_dict", "fit_result_from_dict", "result_to_dict", "result_from_dict",
           "encode_value", "decode_value", "RESULT_CLASSES"]


def fit_result_to_dict(res: FitResult, include_data: bool = True) -> dict[str, Any]:
    """A JSON-serialisable dict holding everything in a :class:`~lcsem.FitResult` (as
    ``res.to_dict(include_data)``; see :func:`lcsem.results.codec.fit_result_payload`)."""
    if not isinstance(res, FitResult):
        raise ArgumentError(f"res: expected an lcsem.FitResult, got {type(res).__name__}")
    return fit_result_payload(res, include_data=include_data)


def fit_result_from_dict(payload: Mapping[str, Any]) -> FitResult:
    """Rebuild a :class:`~lcsem.FitResult` from :func:`fit_result_to_dict`'s output."""
    return FitResult.from_dict(payload)


def _check_fields_covered() -> set[str]:
    """Fields of FitResult that the payload does not store (for tests)."""
    return {f.name for f in dataclasses.fields(FitResult)} - STORED_FIELDS


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
    if isinstance(result, FitResult):
        return fit_result_to_dict(result)
    path = _class_path(result)
    if path not in RESULT_CLASSES or not dataclasses.is_dataclass(result):
        raise ArgumentError(f"result: expected an lcsem result ({', '.join(RESULT_CLASSES)}), got {path}")
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
    check = getattr(type(result), "_check_rebuilt", None)
    if check is not None:
        check(result)               # a result class may refuse parts that do not fit together
    return result
