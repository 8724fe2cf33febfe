"""semopy's solution (lcsem's first start values) is read from semopy's parameter vector,
without ``Model.inspect()``, whose standard errors lcsem would discard; the values are
exactly those ``inspect()`` reports."""

from __future__ import annotations

import numpy as np
import pytest

import lcsem
from lcsem.engine import semopy_backend
from lcsem.estimation.estimate import as_model
from example_models import POLITICAL_DEMOCRACY_EQUAL_LOADINGS

HS = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
PD = POLITICAL_DEMOCRACY_EQUAL_LOADINGS
CASES = {
    "hs": (HS, lcsem.datasets.load_holzinger_swineford),
    "pd": (PD, lcsem.datasets.load_political_democracy),
    "canonical": (lcsem.lc_model(), lcsem.datasets.load_lc_survey),
}


def _problem(case: str):
    model = as_model(CASES[case][0])
    data = CASES[case][1]()[list(model.observed)].dropna()
    S = np.cov(data.to_numpy(dtype=float), rowvar=False, bias=True)
    return model.rows, S, model.observed, len(data)


def _via_inspect(model) -> list[tuple[str, str, str, float]]:
    return list(model.inspect()[["lval", "op", "rval", "Estimate"]].itertuples(index=False, name=None))


@pytest.mark.parametrize("case", sorted(CASES))
def test_starts_equal_inspect_estimates(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    problem = _problem(case)
    direct = semopy_backend.semopy_estimates(*problem)
    monkeypatch.setattr(semopy_backend, "_estimate_rows", _via_inspect)
    reference = semopy_backend.semopy_estimates(*problem)
    assert set(reference) == {(r.lhs, r.op, r.rhs) for r in problem[0] if r.op != ":="}
    assert list(direct) == list(reference)
    assert all(direct[k] == reference[k] for k in reference)   # bit-identical


@pytest.mark.parametrize("case", ["hs", "canonical"])
def test_fit_does_not_call_semopy_inspect(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    semopy = semopy_backend.import_semopy()

    def refuse(*args, **kwargs):
        raise AssertionError("semopy.Model.inspect() called")

    monkeypatch.setattr(semopy.Model, "inspect", refuse)
    assert semopy_backend.semopy_estimates(*_problem(case))
