"""simulate(likert=...): numbers of categories, explicit thresholds, per-variable cuts."""

import numpy as np
import pytest
from scipy.stats import norm

import lcsem
from lcsem.simulation import likert_thresholds

MODEL = "f =~ y1 + y2 + y3 + y4"


def test_default_points_unchanged_for_5_and_7():
    # the bundled survey was drawn with likert=7: the cut points are the documented ones
    assert np.allclose(likert_thresholds(5), [-1.5, -0.5, 0.5, 1.5])
    assert np.allclose(likert_thresholds(7), np.linspace(-2.5, 2.5, 8)[1:-1])


@pytest.mark.parametrize("points", [2, 3, 4, 10])
def test_any_number_of_categories(points):
    d = lcsem.simulate(MODEL, 4000, seed=3, likert=points)
    assert set(np.unique(d.to_numpy())) <= set(range(1, points + 1))
    # the proportions follow the standard-normal probabilities of the thresholds
    tau = likert_thresholds(points)
    expected = np.diff(np.concatenate([[0.0], norm.cdf(tau), [1.0]]))
    observed = d["y1"].value_counts(normalize=True).reindex(range(1, points + 1), fill_value=0).to_numpy()
    assert np.max(np.abs(observed - expected)) < 0.03


def test_explicit_thresholds_recovered_from_proportions():
    tau = [-1.2, -0.3, 0.4, 1.3]
    d = lcsem.simulate(MODEL, 20000, seed=11, likert=tau)
    cum = d["y2"].value_counts(normalize=True).sort_index().cumsum().to_numpy()[:-1]
    assert np.allclose(norm.ppf(cum), tau, atol=0.03)


def test_per_variable_cuts():
    cuts = {"y1": 3, "y2": [-1.0, 1.0], "y3": 5, "y4": [0.0]}
    d = lcsem.simulate(MODEL, 500, seed=1, likert=cuts)
    assert [d[c].nunique() for c in ["y1", "y2", "y3", "y4"]] == [3, 3, 5, 2]


def test_batches_accept_thresholds_and_are_reproducible():
    a = lcsem.simulate(MODEL, 200, seed=5, n_datasets=7, likert=[-1.0, 0.0, 1.0])
    b = lcsem.simulate(MODEL, 200, seed=5, n_datasets=7, likert=[-1.0, 0.0, 1.0])
    assert np.array_equal(a.cov, b.cov)
    # four categories: means lie in [1, 4]
    assert np.all((a.mean >= 1) & (a.mean <= 4))
    c = lcsem.simulate(MODEL, 200, seed=5, n_datasets=7, likert=[-1.0, 0.0])
    assert not np.array_equal(a.cov, c.cov)


@pytest.mark.parametrize("bad, fragment", [
    (1, "2 to 10"), (11, "2 to 10"), (True, "neither"), ("5", "neither"),
    ([0.5, 0.2], "increasing"), ([np.nan], "finite"), ({"y1": 3}, "y2"), ({"zz": 3}, "'zz'"),
])
def test_bad_likert_is_named(bad, fragment):
    with pytest.raises(lcsem.ArgumentError, match="likert") as err:
        lcsem.simulate(MODEL, 100, seed=1, likert=bad)
    assert fragment in str(err.value)


def test_power_accepts_thresholds():
    res = lcsem.power("f =~ y1 + y2 + y3", [150], 20, seed=2, likert=[-1.0, 0.0, 1.0])
    assert any("cut into 4 categories" in note for note in res.notes)
    again = lcsem.power("f =~ y1 + y2 + y3", [150], 20, seed=2, likert=[-1.0, 0.0, 1.0])
    assert again.table["mean_est"].equals(res.table["mean_est"])
