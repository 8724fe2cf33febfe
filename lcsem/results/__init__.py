"""Fitted results as frozen values (:class:`FitResult`); this layer computes nothing new."""

from .fit_result import ESTIMATE_COLUMNS, FitResult, parameter_name, parameter_names

__all__ = ["FitResult", "ESTIMATE_COLUMNS", "parameter_name", "parameter_names"]
