"""Analytic RMSEA power and sample size against semTools (findRMSEApower / findRMSEAsamplesize)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import lcsem
from lcsem.simulation.rmsea import rmsea_power, rmsea_sample_size

REF = json.loads((Path(__file__).parent / "reference" / "rmsea_power_reference.json").read_text())


@pytest.mark.parametrize("row", REF["power"], ids=lambda r: f"df{r['df']}-n{r['n']}-{r['rmsea0']}-{r['rmsea1']}-g{r['groups']}-a{r['alpha']}")
def test_rmsea_power_matches_semtools(row):
    got = rmsea_power(row["df"], row["n"], row["rmsea0"], row["rmsea1"], row["alpha"], groups=row["groups"])
    assert got == pytest.approx(row["power"], abs=1e-4)


@pytest.mark.parametrize("row", REF["sample_size"], ids=lambda r: f"df{r['df']}-{r['rmsea0']}-{r['rmsea1']}-p{r['power']}")
def test_rmsea_sample_size_matches_semtools(row):
    assert rmsea_sample_size(row["df"], row["rmsea0"], row["rmsea1"], row["power"], row["alpha"]) == row["n"]


def test_public_names():
    assert lcsem.rmsea_power(41, 300) == pytest.approx(rmsea_power(41, 300))
    assert lcsem.rmsea_sample_size(41) == rmsea_sample_size(41)


@pytest.mark.parametrize("call, match", [
    (lambda: rmsea_power(0, 100), "df"),
    (lambda: rmsea_power(10, 1), "n"),
    (lambda: rmsea_power(10, 100, 0.05, 0.05), "rmsea1"),
    (lambda: rmsea_power(10, 100, alpha=1.5), "alpha"),
    (lambda: rmsea_power(10, 100, rmsea0=-0.1), "rmsea0"),
    (lambda: rmsea_sample_size(10, power=1.0), "power"),
    (lambda: rmsea_sample_size(10, power=0), "power"),
    (lambda: rmsea_sample_size(10, 0.05, 0.0501, power=0.99, n_max=1000), "not reached"),
])
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(lcsem.LcsemError, match=match):
        call()


# the refs helper's grid (tests/reference/make_power.R): the canonical model's df, two groups, alpha .01
REFS = json.loads((Path(__file__).parent / "reference" / "power_reference.json").read_text())
POWER_ROWS = [dict(zip(REFS["rmsea_power"], values)) for values in zip(*REFS["rmsea_power"].values())]
SIZE_ROWS = [dict(zip(REFS["rmsea_samplesize"]["table"], values))
             for values in zip(*REFS["rmsea_samplesize"]["table"].values())]


@pytest.mark.parametrize("row", POWER_ROWS, ids=lambda r: f"df{r['df']}-n{r['n']}-{r['rmsea0']}-{r['rmseaA']}-g{r['group']}-a{r['alpha']}")
def test_rmsea_power_matches_the_refs_grid(row):
    got = rmsea_power(int(row["df"]), row["n"], row["rmsea0"], row["rmseaA"], row["alpha"], groups=int(row["group"]))
    assert got == pytest.approx(row["power"], abs=1e-4)


@pytest.mark.parametrize("row", SIZE_ROWS, ids=lambda r: f"df{r['df']}-{r['rmsea0']}-{r['rmseaA']}-p{r['power']}")
def test_rmsea_sample_size_matches_the_refs_grid(row):
    n = rmsea_sample_size(int(row["df"]), row["rmsea0"], row["rmseaA"], row["power"], row["alpha"])
    assert n == row["n"] * row["group"]
