"""Bootstrap of fitted models: batched replicate fitting, intervals, Bollen–Stine.

``lcsem.bootstrap`` is both this package and the function :func:`bootstrap`: once the
package has been imported (``from lcsem.bootstrap import ...``) Python binds the name
``lcsem.bootstrap`` to the package, so the package itself is made callable and calling
it calls :func:`bootstrap`.

>>> boot = lcsem.bootstrap(res, n_resamples=2000, seed=42)   # doctest: +SKIP
>>> boot.ci(method="bca")                                      # doctest: +SKIP
"""

import sys as _sys
import types as _types

from .api import BootstrapInterruptedWarning, bootstrap
from .intervals import confidence_interval
from .result import BootstrapResult

__all__ = ["bootstrap", "BootstrapResult", "BootstrapInterruptedWarning", "confidence_interval"]


class _CallablePackage(_types.ModuleType):
    """The package, callable as :func:`bootstrap`."""

    def __call__(self, *args, **kwargs):
        return bootstrap(*args, **kwargs)


_sys.modules[__name__].__class__ = _CallablePackage
