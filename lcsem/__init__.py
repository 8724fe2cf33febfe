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

from .exceptions import (ArgumentError, BootstrapFailureWarning, BootstrapInterruptedWarning,
                         ConvergenceWarning, DataError,
                         EstimationError, IdentificationWarning, LcsemError, LcsemWarning, MissingColumnsError,
                         ModelSpecificationError, ModelSyntaxError, NonAdmissibleWarning,
                         NotSupportedError, OrdinalDataWarning, PlotLegibilityWarning, ScalingWarning,
                         UnstableRatioWarning)

try:
    __version__ = _version("lcsem")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

from . import datasets
from .bootstrap import BootstrapResult, bootstrap
from .cmb import CommonMethodBiasResult, common_method_bias
from .data import read_data
from .effects import EffectsResult, effects
from .predict import factor_scores
from .fit import fit
from .measurement import MeasurementResult, measurement
from .modindices import modification_indices
from .results import FitResult
from .simulate import simulate
from .spec.canonical import lc_extended_model, lc_model
from .spec.model import Model

# Imported eagerly: a function that shares its module's name (fit, bootstrap, effects,
# measurement) must be bound after its module, or importing the module would rebind the
# package attribute to the module.
_EAGER = ["Model", "lc_model", "lc_extended_model", "fit", "FitResult", "read_data", "simulate",
          "datasets", "bootstrap", "BootstrapResult", "measurement", "MeasurementResult",
          "effects", "EffectsResult", "factor_scores", "common_method_bias", "CommonMethodBiasResult",
          "modification_indices"]
# public name -> module that defines it; imported on first use (keeps matplotlib out of
# ``import lcsem``)
_LAZY = {
    "plot_path": "lcsem.plot",
    "plot_bootstrap": "lcsem.plot",
    "plot_residuals": "lcsem.plot",
    "path_layout": "lcsem.plot",
    "rmsea_power": "lcsem.simulation.rmsea",
    "rmsea_sample_size": "lcsem.simulation.rmsea",
    "power": "lcsem.simulation.power_analysis",
    "sample_size": "lcsem.simulation.power_analysis",
    "PowerResult": "lcsem.simulation.power_analysis",
    "plot_power": "lcsem.simulation.plot",
    "monte_carlo_ci": "lcsem.simulation.montecarlo",
    "dynamic_cutoffs": "lcsem.simulation.dynamic",
    "DynamicCutoffs": "lcsem.simulation.dynamic",
    "plot_dynamic_cutoffs": "lcsem.simulation.plot",
}

__all__ = [
    "__version__",
    *_EAGER,
    *_LAZY,
    "LcsemError", "ModelSyntaxError", "ModelSpecificationError", "DataError", "MissingColumnsError",
    "ArgumentError", "EstimationError", "NotSupportedError",
    "LcsemWarning", "ConvergenceWarning", "NonAdmissibleWarning", "OrdinalDataWarning",
    "BootstrapFailureWarning", "BootstrapInterruptedWarning", "UnstableRatioWarning",
    "IdentificationWarning", "ScalingWarning", "PlotLegibilityWarning",
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
    from .plot import path_layout, plot_bootstrap, plot_path, plot_residuals
