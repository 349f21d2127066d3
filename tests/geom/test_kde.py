import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from geom.kde import kde_mode, silverman_bandwidth
from geom.testing import seeds


@settings(max_examples=30, deadline=None)
@given(seeds(), st.floats(-5, 5), st.floats(0.02, 0.5))
def test_mode_of_a_mixture_with_40_percent_outliers(seed, centre, sigma):
    rng = np.random.default_rng(seed)
    inliers = rng.normal(centre, sigma, 300)
    outliers = rng.uniform(centre - 30 * sigma, centre + 30 * sigma, 200)  # 40 %
    res = kde_mode(np.concatenate([inliers, outliers]))
    assert abs(res.mode - centre) < 0.35 * sigma
    assert res.support > 0.1  # uniform outliers alone would put ~0.02 within a bandwidth
    assert res.peak_ratio < 0.8


def test_mode_picks_the_heavier_component_where_the_mean_does_not():
    rng = np.random.default_rng(0)
    v = np.concatenate([rng.normal(0.0, 0.1, 60), rng.normal(3.0, 0.1, 45)])
    res = kde_mode(v)
    assert abs(res.mode) < 0.05
    assert abs(v.mean()) > 1.0
    assert 0.5 < res.peak_ratio < 1.0  # the second component is a clear second peak


def test_mode_is_equivariant_to_shift_and_scale():
    rng = np.random.default_rng(1)
    v = rng.standard_normal(200) ** 3
    a, b = kde_mode(v), kde_mode(2.5 * v + 7.0)
    assert b.mode == pytest.approx(2.5 * a.mode + 7.0, abs=1e-6)
    assert b.bandwidth == pytest.approx(2.5 * a.bandwidth)


def test_flat_density_is_reported_ambiguous():
    v = np.linspace(0.0, 1.0, 11).repeat(3)  # uniform: no dominant peak
    res = kde_mode(v, bandwidth=0.02)
    assert res.peak_ratio > 0.9


def test_equal_values_and_explicit_bandwidth():
    res = kde_mode(np.full(5, 2.0))
    assert res == (2.0, 0.0, 1.0, 0.0)
    assert kde_mode([0.0, 0.1, 0.2, 5.0], bandwidth=0.1).mode < 0.2
    assert silverman_bandwidth([1.0, 2.0, 3.0, 4.0]) > 0


@pytest.mark.parametrize("values, bandwidth, message", [
    ([1.0], None, "at least 2"),
    ([[1.0, 2.0]], None, "shape"),
    ([1.0, np.nan], None, "NaN"),
    ([1.0, 2.0], 0.0, "bandwidth"),
    ([1.0, 2.0], -1.0, "bandwidth"),
])
def test_bad_input(values, bandwidth, message):
    with pytest.raises(ValueError, match=message):
        kde_mode(values, bandwidth)
