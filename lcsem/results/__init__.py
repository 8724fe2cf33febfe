"""Fitted results as frozen values (:class:`FitResult`); this layer computes nothing new."""

from ..inference.wald import ESTIMATE_COLUMNS
from .fit_result import FitResult, parameter_name, parameter_names

__all__ = ["FitResult", "ESTIMATE_COLUMNS", "parameter_name", "parameter_names"]
