"""Estimation: the RAM model, the batched optimiser and the semopy back end."""

from .optimize import ESTIMATORS, Solution, discrepancy, information, minimize
from .ram import RamStructure

__all__ = ["ESTIMATORS", "RamStructure", "Solution", "discrepancy", "information", "minimize"]
