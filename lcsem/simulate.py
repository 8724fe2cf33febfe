"""Draw data from a model's population values or a fitted result (see :mod:`lcsem.simulation`)."""

from __future__ import annotations

from .simulation.generate import LIKERT_POINTS, SampleBatch, simulate
from .simulation.population import (DEFAULT_COVARIANCE, DEFAULT_LOADING, DEFAULT_PATH,
                                    population_covariance)

__all__ = ["simulate", "population_covariance", "SampleBatch", "LIKERT_POINTS", "DEFAULT_LOADING",
           "DEFAULT_PATH", "DEFAULT_COVARIANCE"]
