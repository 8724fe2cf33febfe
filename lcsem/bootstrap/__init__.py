"""Bootstrap of fitted models: batched replicate fitting, intervals, Bollen–Stine.

``lcsem.bootstrap`` (the attribute of the top-level package) is the function
:func:`bootstrap`; this package holds its parts.

>>> boot = lcsem.bootstrap(res, n_resamples=2000, seed=42)   # doctest: +SKIP
>>> boot.ci(method="bca")                                      # doctest: +SKIP
"""

from .api import BootstrapInterruptedWarning, bootstrap
from .intervals import confidence_interval
from .result import BootstrapResult

__all__ = ["bootstrap", "BootstrapResult", "BootstrapInterruptedWarning", "confidence_interval"]
