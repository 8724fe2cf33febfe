"""Shared fixtures: the lavaan reference outputs and their data sets."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

REFERENCE = Path(__file__).parent / "reference"
DATASETS = {
    "holzinger_swineford": "hs.csv",
    "political_democracy": "pd.csv",
    "learning_culture_survey": "lc_shared.csv",
}


@pytest.fixture(scope="session")
def reference() -> dict:
    """lavaan 0.6.14 / semTools 0.5.6 outputs (see tests/reference/README.md)."""
    return json.loads((REFERENCE / "lavaan_reference.json").read_text())


def load_reference_data(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / DATASETS[name])


@pytest.fixture(scope="session")
def fitted(reference):
    """Fitted results of the three reference models, keyed by data-set name."""
    import lcsem

    return {name: lcsem.fit(reference[name]["model"], load_reference_data(name)) for name in DATASETS}
