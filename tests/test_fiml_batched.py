"""The batched FIML bootstrap (issue 11, speed): replicates as case weights, pattern blocks by
Schur complements (lcsem/engine/fiml_weighted.py), all replicates of a chunk refitted at once.
Its numbers must be those of refitting every replicate's resampled rows on their own
(``evaluate_fiml_unbatched``) to 1e-8, and bit-identical whatever the batch size."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lcsem
from lcsem.data.missing import em_moments, missing_patterns
from lcsem.engine.fiml import FIMLObjective
from lcsem.engine.fiml_weighted import WeightedFIMLObjective, WeightedRows, em_batch, small_inverse
from lcsem.exceptions import BootstrapFailureWarning
from lcsem.resampling import fiml as fiml_resampling
from lcsem.resampling.api import _group_data
from lcsem.resampling.groups import GroupedReplicateSpec
from lcsem.resampling.replicates import FAILED
from lcsem.resampling.resample import counts_from_indices, group_resample_indices

REF_DIR = Path(__file__).parent / "reference"
REF = json.loads((REF_DIR / "missing_robust_reference.json").read_text())
HS_MODEL = REF["fits"]["hs_mcar_fiml"]["model"]


def _survey_mcar(rate: float = 0.08, seed: int = 11) -> tuple[object, pd.DataFrame]:
    """The bundled survey (N = 400) with the canonical model's 16 items deleted MCAR:
    a value is deleted when ``default_rng(seed).random((400, 16)) < rate`` (benchmarks/
    bootstrap_fiml.py uses the same rule)."""
    model = lcsem.lc_model()
    data = lcsem.datasets.load_lc_survey()
    columns = list(lcsem.fit(model, data).model.observed)
    mask = np.random.default_rng(seed).random((len(data), len(columns))) < rate
    data = data.copy()
    data[columns] = data[columns].mask(mask)
    return model, data


@pytest.fixture(scope="module")
def hs_fit():
    return lcsem.fit(HS_MODEL, pd.read_csv(REF_DIR / "hs_mcar.csv"), missing="ml")


@pytest.fixture(scope="module")
def survey_fit():
    model, data = _survey_mcar()
    return lcsem.fit(model, data, missing="ml")


def _setup(res):
    spec = GroupedReplicateSpec(res)
    X, positions, group_of = _group_data(res)
    source = fiml_resampling.fiml_source(spec, X=X, positions=positions, group_of=group_of,
                                         columns=tuple(res.model.observed))
    return spec, source


def _compare(spec, source, indices=None, leave_out=None):
    R = (indices if indices is not None else leave_out).shape[0]
    positions = np.arange(R)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batched = fiml_resampling.evaluate_fiml(spec, source, positions, indices, leave_out)
        one_by_one = fiml_resampling.evaluate_fiml_unbatched(spec, source, positions, indices, leave_out)
    np.testing.assert_array_equal(batched.status, one_by_one.status)
    assert batched.reasons == one_by_one.reasons
    ok = batched.status != FAILED
    np.testing.assert_allclose(batched.values[ok], one_by_one.values[ok], rtol=0, atol=1e-8)
    return batched


def test_weighted_objective_is_the_fiml_objective_of_the_resampled_rows(survey_fit):
    """Value, gradient and structured expected information of every replicate (case
    weights) equal FIMLObjective's on the replicate's own missing-data patterns, and the
    batched EM equals em_moments (same iterations)."""
    spec, source = _setup(survey_fit)
    X = source.X
    rng = np.random.default_rng(5)
    idx = rng.integers(0, X.shape[0], (4, X.shape[0]))
    rows = WeightedRows(X, counts_from_indices(idx, X.shape[0]))
    objective = WeightedFIMLObjective(spec.struct, [rows])
    theta = spec.theta0[None] + 0.01 * rng.standard_normal((4, spec.theta0.size))
    value = objective.value(theta, np.arange(4))
    grad, info = objective.gradient_information(theta, np.arange(4))
    mean, cov, iterations = em_batch(rows)
    columns = tuple(survey_fit.model.observed)
    for r in range(4):
        patterns = missing_patterns(X[idx[r]], columns)
        direct = FIMLObjective(spec.struct, [patterns])
        assert value[r] == pytest.approx(direct.value(theta[r:r + 1], [0])[0], abs=1e-12)
        g1, i1 = direct.gradient_information(theta[r:r + 1], [0])
        np.testing.assert_allclose(grad[r], g1[0], atol=1e-12)
        np.testing.assert_allclose(info[r], i1[0], atol=1e-11)
        m1, c1, it1 = em_moments(patterns)
        assert iterations[r] == it1
        np.testing.assert_allclose(mean[r], m1, atol=1e-12)
        np.testing.assert_allclose(cov[r], c1, atol=1e-12)


def test_small_inverse_closed_forms_and_sweeps():
    rng = np.random.default_rng(3)
    for k in range(1, 7):
        A = rng.standard_normal((5, 7, k, k))
        M = A @ np.swapaxes(A, -1, -2) + np.eye(k)
        inv, logdet = small_inverse(M)
        np.testing.assert_allclose(inv, np.linalg.inv(M), atol=1e-10)
        np.testing.assert_allclose(logdet, np.linalg.slogdet(M)[1], atol=1e-10)


def test_batched_replicates_equal_one_by_one_refits_survey(survey_fit):
    """The canonical model on the survey with 8% MCAR: every column of 12 replicates (fit
    indices, parameters, defined and standardised values) as the one-by-one refits."""
    spec, source = _setup(survey_fit)
    indices = group_resample_indices(np.random.SeedSequence(7), 12, source.positions)
    out = _compare(spec, source, indices=indices)
    assert (out.status != FAILED).all()


def test_batched_replicates_equal_one_by_one_refits_hs_bollen_stine_and_jackknife(hs_fit):
    spec, source = _setup(hs_fit)
    indices = group_resample_indices(np.random.SeedSequence(8), 10, source.positions)
    _compare(spec, source, indices=indices)
    _compare(spec, source, leave_out=np.array([0, 5, 17, 300]))
    Sigma, mu = spec.struct.implied(spec.theta0[None])
    Z = fiml_resampling.bollen_stine_missing(source.X, source.columns, Sigma[0, 0], mu[0, 0])
    bs = fiml_resampling.fiml_source(spec, X=Z, positions=source.positions, group_of=source.group_of,
                                     columns=source.columns)
    _compare(spec, bs, indices=indices)


def test_batched_multigroup_replicates_equal_one_by_one_refits():
    res = lcsem.fit(HS_MODEL, pd.read_csv(REF_DIR / "hs_mcar.csv"), missing="ml", group="school")
    spec, source = _setup(res)
    indices = group_resample_indices(np.random.SeedSequence(9), 6, source.positions)
    _compare(spec, source, indices=indices)


def test_batched_replicates_with_fixed_x_covariates_equal_one_by_one_refits():
    """A MIMIC model with fixed.x covariates (one group and by school): the baseline with the
    covariates' covariances, the conditional log-likelihood and GFI without their moments
    agree between the batched and the one-by-one path, for resamples and Bollen-Stine."""
    model = HS_MODEL + "\n visual + textual + speed ~ ageyr + grade"
    data = pd.read_csv(REF_DIR / "hs_mcar.csv")
    for group in (None, "school"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", lcsem.MissingDataWarning)     # grade is missing once
            res = lcsem.fit(model, data, missing="ml", group=group)
        spec, source = _setup(res)
        indices = group_resample_indices(np.random.SeedSequence(10), 6, source.positions)
        out = _compare(spec, source, indices=indices)
        assert (out.status != FAILED).sum() >= 5      # by school: one resample fails in both paths
    Sigma, mu = spec.struct.implied(spec.theta0[None])
    Z = np.vstack([fiml_resampling.bollen_stine_missing(source.X[pos], source.columns, Sigma[0, g], mu[0, g])
                   for g, pos in enumerate(source.positions)])
    order = np.concatenate(source.positions)
    X = np.empty_like(source.X)
    X[order] = Z
    bs = fiml_resampling.fiml_source(spec, X=X, positions=source.positions, group_of=source.group_of,
                                     columns=source.columns)
    _compare(spec, bs, indices=indices)


def test_a_resample_without_a_pair_observed_together_fails_as_one_by_one():
    """x1 and x2 are observed together in only two rows: resamples that draw neither cannot
    be fitted (coverage 0); the batched path hands them to the one-by-one path, which names
    the pair, and fits the others."""
    data = pd.read_csv(REF_DIR / "hs.csv")
    cols = [f"x{i}" for i in range(1, 10)]
    data = data[cols].copy()
    data.loc[2:150, "x1"] = np.nan
    data.loc[151:, "x2"] = np.nan
    data.loc[0:1, ["x1", "x2"]] = data.loc[0:1, ["x1", "x2"]].to_numpy()
    res = lcsem.fit(HS_MODEL, data, missing="ml")
    spec, source = _setup(res)
    indices = group_resample_indices(np.random.SeedSequence(2), 12, source.positions)
    out = _compare(spec, source, indices=indices)
    failed = [r for r, why in out.reasons.items() if "never observed together" in " ".join(why)]
    assert failed and len(failed) < 12


def test_bootstrap_of_the_survey_is_bit_identical_across_batch_sizes(survey_fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BootstrapFailureWarning)
        runs = [lcsem.bootstrap(survey_fit, 9, seed=3, batch_size=b, progress=False).distribution.to_numpy()
                for b in (1, 4, 9)]
    np.testing.assert_array_equal(runs[0], runs[2])
    np.testing.assert_array_equal(runs[1], runs[2])


def test_quasi_newton_and_fisher_scoring_reach_the_same_estimates(hs_fit):
    """Without a usable full-sample Hessian the batch takes Fisher-scoring steps (structured
    expected information); both routes end at the same FIML estimates."""
    from lcsem.engine.optimize import fisher_scoring

    spec, source = _setup(hs_fit)
    indices = group_resample_indices(np.random.SeedSequence(4), 5, source.positions)
    weights = fiml_resampling.replicate_weights(source, 5, indices, None)
    rows = WeightedRows(source.X, weights[0])
    scoring = fisher_scoring(WeightedFIMLObjective(spec.struct, [rows]), spec.theta0[None])
    objective = WeightedFIMLObjective(spec.struct, [rows])
    objective.use_quasi_newton(source.hessian)
    quasi = fisher_scoring(objective, spec.theta0[None])
    assert scoring.converged.all() and quasi.converged.all()
    np.testing.assert_allclose(quasi.theta, scoring.theta, atol=1e-8)
    assert quasi.iterations.mean() < scoring.iterations.mean()
    not_pd = WeightedFIMLObjective(spec.struct, [rows])
    not_pd.use_quasi_newton(-np.eye(spec.struct.k))
    np.testing.assert_allclose(fisher_scoring(not_pd, spec.theta0[None]).theta, scoring.theta, atol=1e-10)
