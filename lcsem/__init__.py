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
from typing import TYPE_CHECKING, Any

from .exceptions import (ArgumentError, BootstrapFailureWarning, BootstrapInterruptedWarning,
                         ConvergenceWarning, DataError,
                         EstimationError, IdentificationWarning, LcsemError, LcsemWarning, MissingColumnsError,
                         MissingDataWarning,
                         ModelSpecificationError, ModelSyntaxError, NonAdmissibleWarning,
                         NotSupportedError, OrdinalDataWarning, PlotLegibilityWarning, ScaledTestWarning,
                         ScalingWarning,
                         SharedLabelWarning, UnstableRatioWarning)

from ._version import __version__

from . import datasets
from .resampling import BootstrapResult, bootstrap
from .analysis.common_method import CommonMethodBiasResult, common_method_bias
from .data.prepare import read_data
from .analysis.mediation import EffectsResult, effects
from .analysis.scores import factor_scores
from .estimation.estimate import fit
from .analysis.validity import MeasurementResult, measurement
from .analysis.modindices import modification_indices
from .reporting.document import report
from .results.fit_result import FitResult
from .simulation.generate import simulate
from .spec.canonical import lc_extended_model, lc_model
from .spec.model import Model

# Imported eagerly. No public function shares the name of a module or package of lcsem
# (``lcsem.fit``, ``lcsem.bootstrap``, ``lcsem.report`` ... are functions only), so importing
# a submodule never rebinds one of these attributes.
_EAGER = ["Model", "lc_model", "lc_extended_model", "fit", "FitResult", "read_data", "simulate",
          "datasets", "bootstrap", "BootstrapResult", "measurement", "MeasurementResult",
          "effects", "EffectsResult", "factor_scores", "common_method_bias", "CommonMethodBiasResult",
          "modification_indices", "report"]
# public name -> module that defines it; imported on first use (keeps matplotlib out of
# ``import lcsem``)
_LAZY = {
    "plot_path": "lcsem.plot",
    "plot_groups": "lcsem.plot",
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
    "compare": "lcsem.analysis.compare", "ComparisonResult": "lcsem.analysis.compare",
    "invariance": "lcsem.analysis.invariance", "InvarianceResult": "lcsem.analysis.invariance",
    "ordinal_reliability": "lcsem.analysis.ordinal_measurement",
}

__all__ = [
    "__version__",
    *_EAGER,
    *_LAZY,
    "LcsemError", "ModelSyntaxError", "ModelSpecificationError", "DataError", "MissingColumnsError",
    "ArgumentError", "EstimationError", "NotSupportedError",
    "LcsemWarning", "ConvergenceWarning", "NonAdmissibleWarning", "OrdinalDataWarning",
    "BootstrapFailureWarning", "BootstrapInterruptedWarning", "UnstableRatioWarning",
    "IdentificationWarning", "ScalingWarning", "MissingDataWarning", "PlotLegibilityWarning", "SharedLabelWarning",
    "ScaledTestWarning",
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
    from .plot import path_layout, plot_bootstrap, plot_groups, plot_path, plot_residuals
