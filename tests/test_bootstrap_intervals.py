"""Interval maths: percentile, BC, BCa, normal; quantile rules; bootstrap p-values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

from lcsem.resampling.intervals import (acceleration, bias_correction, bootstrap_pvalue,
                                       confidence_interval, quantiles)
from lcsem.exceptions import ArgumentError


@pytest.fixture(scope="module")
def skewed_sample():
    return np.random.default_rng(3).lognormal(size=40)


@pytest.mark.parametrize("method", ["percentile", "bca"])
def test_matches_scipy_bootstrap_on_the_mean(skewed_sample, method):
    """Same draws as scipy.stats.bootstrap (it draws rng.integers(0, n, (B, n)))."""
    x = skewed_sample
    B = 2000
    idx = np.random.default_rng(11).integers(0, x.size, (B, x.size))
    draws = x[idx].mean(axis=1)
    jack = np.array([np.delete(x, i).mean() for i in range(x.size)])
    ours = confidence_interval(draws, x.mean(), method=method, level=0.9, jackknife=jack)
    ref = stats.bootstrap((x,), np.mean, n_resamples=B, confidence_level=0.9, method=method.upper()
                          if method == "bca" else "percentile", rng=np.random.default_rng(11))
    np.testing.assert_allclose(ours, (ref.confidence_interval.low, ref.confidence_interval.high), rtol=1e-12)


def test_bca_by_hand():
    """BCa from its definition (Efron & Tibshirani eq. 14.10-14.15) on a small case."""
    draws = np.array([0.8, 1.1, 1.3, 1.9, 2.0, 2.2, 2.6, 3.1, 3.3, 4.0])
    est = 2.1
    jack = np.array([1.9, 2.0, 2.2, 2.4, 1.7])
    z0 = special.ndtri(5 / 10)     # five draws below 2.1
    d = jack.mean() - jack
    a = np.sum(d ** 3) / (6 * np.sum(d ** 2) ** 1.5)
    za = special.ndtri([0.1, 0.9])
    probs = special.ndtr(z0 + (z0 + za) / (1 - a * (z0 + za)))
    expected = np.quantile(draws, probs)
    got = confidence_interval(draws, est, method="bca", level=0.8, jackknife=jack)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert acceleration(jack) == pytest.approx(a)
    assert a != 0   # the case exercises the acceleration


def test_bc_equals_bca_without_acceleration_and_percentile_when_centred():
    rng = np.random.default_rng(1)
    t = rng.normal(size=999)
    est = np.median(t)
    bc = confidence_interval(t, est, method="bc")
    assert bc == pytest.approx(confidence_interval(t, est, method="bca", jackknife=np.ones(5)))
    assert bc == pytest.approx(confidence_interval(t, est, method="percentile"), abs=1e-12)
    # shifting the estimate shifts the BC interval's probabilities
    lo, hi = confidence_interval(t, est + 0.3, method="bc")
    assert lo > bc[0] and hi > bc[1]


def test_z0_is_guarded_when_every_draw_is_on_one_side():
    t = np.linspace(1, 2, 500)
    assert np.isfinite(bias_correction(t, 0.0))
    lo, hi = confidence_interval(t, 0.0, method="bc")
    assert np.isfinite(lo) and np.isfinite(hi) and 1 <= lo <= hi <= 2


def test_normal_interval_is_bias_corrected():
    t = np.array([1.0, 2.0, 3.0, 4.0, 6.0])
    est = 2.5
    lo, hi = confidence_interval(t, est, method="normal", level=0.95)
    centre = est - (t.mean() - est)
    half = special.ndtri(0.975) * t.std(ddof=1)
    assert (lo, hi) == pytest.approx((centre - half, centre + half))


def test_normal_interpolation_is_boots_norm_inter():
    t = np.arange(1.0, 20.0)          # B = 19: (B+1) * 0.25 = 5 exactly -> 5th order statistic
    assert quantiles(t, [0.25], "normal")[0] == 5.0
    # between order statistics: interpolate on the normal-quantile scale
    p = 0.33
    k = int(np.floor(20 * p))
    z, z1, z2 = special.ndtri(p), special.ndtri(k / 20), special.ndtri((k + 1) / 20)
    expected = t[k - 1] + (z - z1) / (z2 - z1) * (t[k] - t[k - 1])
    assert quantiles(t, [p], "normal")[0] == pytest.approx(expected)
    assert quantiles(t, [0.001, 0.999], "normal").tolist() == [1.0, 19.0]


def test_nan_draws_are_dropped():
    t = np.r_[np.linspace(0, 1, 101), np.nan, np.nan]
    assert confidence_interval(t, 0.5, level=0.9) == pytest.approx((0.05, 0.95))
    assert np.isnan(confidence_interval(np.full(3, np.nan), 0.5)).all()


def test_pvalue_agrees_with_percentile_interval():
    rng = np.random.default_rng(2)
    for shift in (0.5, 1.5, 1.96, 2.5, 3.5):
        t = rng.normal(shift, 1.0, size=4000)
        lo, hi = confidence_interval(t, shift, level=0.95)
        p = bootstrap_pvalue(t)
        # up to the one extra draw of the (1 + k)/(B + 1) convention
        assert (p < 0.05) == (lo > 0 or hi < 0) or abs(p - 0.05) <= 2 / (t.size + 1)
    assert bootstrap_pvalue(np.ones(10)) == pytest.approx(2 / 11)     # never 0
    assert bootstrap_pvalue(np.r_[-np.ones(5), np.ones(5)]) == 1.0


@pytest.mark.parametrize("kwargs, word", [({"method": "basic"}, "method"), ({"level": 95}, "level"),
                                          ({"interpolation": "cubic"}, "interpolation"),
                                          ({"method": "bca"}, "jackknife")])
def test_bad_arguments_name_themselves(kwargs, word):
    with pytest.raises(ArgumentError, match=word):
        confidence_interval(np.arange(10.0), 5.0, **kwargs)
