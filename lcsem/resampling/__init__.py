"""Bootstrap of fitted models: batched replicate fitting, intervals, Bollen–Stine.

:func:`lcsem.bootstrap` is the function
:func:`~lcsem.resampling.api.bootstrap`; this package holds its parts.

>>> boot = lcsem.bootstrap(res, n_resamples=2000, seed=42)   # doctest: +SKIP
>>> boot.ci(method="bca")                                      # doctest: +SKIP
"""

from .api import BootstrapInterruptedWarning, bootstrap
from .draws import ResampleIndices
from .intervals import confidence_interval
from .result import BootstrapResult

__all__ = ["bootstrap", "BootstrapResult", "BootstrapInterruptedWarning", "ResampleIndices", "confidence_interval"]
