"""Data in: validation and preparation of a data frame, sample moments.

``prepare`` checks and prepares raw data; ``moments`` turns data or summary statistics into
the sample moments every estimator consumes.
"""

from .prepare import read_data

__all__ = ["read_data"]
