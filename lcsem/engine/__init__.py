"""Estimation: the RAM model, the batched optimiser and the semopy back end."""

from .optimize import ESTIMATORS, Solution, discrepancy, gradient, information, minimize
from .ram import RamStructure
from .starts import group_starts
from .structure import GroupStats, GroupStructure
from .views import (ModelMatrices, free_variance_rows, implied_all, implied_covariance, model_matrices,
                    moment_jacobian, r2_values, residual_blocks, row_variables, standardized_values,
                    unscaled_variables)

__all__ = ["ESTIMATORS", "GroupStats", "GroupStructure", "ModelMatrices", "RamStructure", "Solution",
           "discrepancy", "free_variance_rows", "gradient", "group_starts", "implied_all", "implied_covariance",
           "information", "minimize", "model_matrices", "moment_jacobian", "r2_values", "residual_blocks",
           "row_variables", "standardized_values", "unscaled_variables"]
