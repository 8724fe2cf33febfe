"""Bundled data sets: the example learning-culture survey and the reference data."""

from __future__ import annotations

from importlib.resources import files

import pandas as pd
from ..exceptions import ArgumentError

__all__ = ["load_lc_survey", "load_holzinger_swineford", "load_political_democracy", "path_of"]

_FILES = {
    "lc_survey": "lc_survey.csv",
    "holzinger_swineford": "holzinger_swineford.csv",
    "political_democracy": "political_democracy.csv",
}


def path_of(name: str) -> str:
    """File path of a bundled data set (``"lc_survey"``, ``"holzinger_swineford"``,
    ``"political_democracy"``)."""
    if name not in _FILES:
        raise ArgumentError(f"name: {name!r} is not a bundled data set; choose one of {sorted(_FILES)}")
    return str(files(__name__) / _FILES[name])


def load_lc_survey() -> pd.DataFrame:
    """The example learning-culture survey: 400 employees of 400 organisations.

    Simulated with :func:`lcsem.simulate` from :func:`lcsem.lc_model`'s standardised
    population values (seed 2026), cut into 7-point Likert items, with ``respondent``,
    ``sector`` (public/private) and ``org_size`` (employees) columns and a few missing
    answers (so that listwise deletion drops some rows). Regenerate it with
    ``python -m lcsem.datasets.make_lc_survey``.
    """
    return pd.read_csv(path_of("lc_survey"))


def load_holzinger_swineford() -> pd.DataFrame:
    """Holzinger & Swineford (1939): 301 pupils, nine ability tests x1-x9."""
    return pd.read_csv(path_of("holzinger_swineford"))


def load_political_democracy() -> pd.DataFrame:
    """Bollen (1989): industrialization and political democracy in 75 countries."""
    return pd.read_csv(path_of("political_democracy"))
