"""Simulation-based planning: data generation, power, sample size, dynamic fit cut-offs and
Monte Carlo confidence intervals."""

from .likert import likert_thresholds

__all__ = ["likert_thresholds"]
