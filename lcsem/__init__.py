"""lcsem: structural equation models of learning culture, KMS use and performance.

Fit with semopy, statistics that agree with lavaan, fast bootstrap, measurement quality,
mediation effects, publication tables and matplotlib path diagrams.

>>> import lcsem
>>> res = lcsem.fit(lcsem.lc_model(), lcsem.datasets.load_lc_survey())
>>> res.fit_indices["cfi"]  # doctest: +SKIP

Plotting functions import matplotlib only when first used.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version as _version
from typing import TYPE_CHECKING, Any

from .exceptions import (ArgumentError, BootstrapFailureWarning, ConvergenceWarning, DataError,
                         EstimationError, LcsemError, LcsemWarning, MissingColumnsError,
                         ModelSpecificationError, ModelSyntaxError, NonAdmissibleWarning,
                         NotSupportedError, OrdinalDataWarning, UnstableRatioWarning)

try:
    __version__ = _version("lcsem")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

from . import datasets
from .data import read_data
from .fit import fit
from .results import FitResult
from .simulate import simulate
from .spec.canonical import lc_extended_model, lc_model
from .spec.model import Model

# Functions that share their module's name are imported above, because importing a
# submodule rebinds the package attribute of the same name.
_EAGER = ["Model", "lc_model", "lc_extended_model", "fit", "FitResult", "read_data", "simulate",
          "datasets"]
# public name -> module that defines it; imported on first use
_LAZY = {
    "bootstrap": "lcsem.bootstrap",
    "BootstrapResult": "lcsem.bootstrap",
    "measurement": "lcsem.measurement",
    "MeasurementResult": "lcsem.measurement",
    "effects": "lcsem.effects",
    "EffectsResult": "lcsem.effects",
    "common_method_bias": "lcsem.cmb",
    "plot_path": "lcsem.plot",
    "plot_bootstrap": "lcsem.plot",
    "plot_residuals": "lcsem.plot",
    "path_layout": "lcsem.plot",
}

__all__ = [
    "__version__",
    *_EAGER,
    *_LAZY,
    "LcsemError", "ModelSyntaxError", "ModelSpecificationError", "DataError", "MissingColumnsError",
    "ArgumentError", "EstimationError", "NotSupportedError",
    "LcsemWarning", "ConvergenceWarning", "NonAdmissibleWarning", "OrdinalDataWarning",
    "BootstrapFailureWarning", "UnstableRatioWarning",
]


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'lcsem' has no attribute {name!r}")
    module = import_module(module_name)
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover
    from .bootstrap import BootstrapResult, bootstrap
    from .plot import path_layout, plot_bootstrap, plot_path, plot_residuals
