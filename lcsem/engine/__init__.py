"""Estimation: the RAM model, the batched optimiser and the semopy back end."""

from .optimize import ESTIMATORS, Solution, discrepancy, gradient, information, minimize
from .ram import RamStructure
from .starts import group_starts
from .structure import GroupStats, GroupStructure

__all__ = ["ESTIMATORS", "GroupStats", "GroupStructure", "RamStructure", "Solution", "discrepancy",
           "gradient", "group_starts", "information", "minimize"]
