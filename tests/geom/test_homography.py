import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from geom.homography import homography_dlt, symmetric_transfer_error, transfer_error
from geom.testing import assert_same_up_to_scale, seeds


def _random_homography(rng):
    """A well-conditioned homography: near-identity perspective warp of a 640 x 480 image."""
    A = np.eye(3) + rng.normal(scale=[[0.1, 0.1, 20], [0.1, 0.1, 20], [1e-4, 1e-4, 0.1]])
    return A / np.linalg.norm(A)


def _apply(H, x):
    h = np.c_[x, np.ones(len(x))] @ H.T
    return h[:, :2] / h[:, 2:]


@given(seeds(), st.integers(4, 60))
def test_dlt_recovers_exact_homography(seed, n):
    rng = np.random.default_rng(seed)
    H = _random_homography(rng)
    x1 = rng.uniform(0, 640, size=(n, 2))
    x2 = _apply(H, x1)
    Hest = homography_dlt(x1, x2)
    assert_same_up_to_scale(Hest, H, atol=1e-7)
    assert abs(np.linalg.norm(Hest) - 1) < 1e-12 and Hest[2, 2] >= 0
    assert transfer_error(Hest, x1, x2).max() < 1e-6


@settings(max_examples=20)
@given(seeds())
def test_dlt_with_noise_is_close(seed):
    rng = np.random.default_rng(seed)
    H = _random_homography(rng)
    x1 = rng.uniform(0, 640, size=(200, 2))
    x2 = _apply(H, x1) + rng.normal(scale=0.5, size=(200, 2))
    err = transfer_error(homography_dlt(x1, x2), x1, _apply(H, x1))
    assert np.median(err) < 0.25


@given(seeds())
def test_symmetric_transfer_error_is_mean_of_both_directions(seed):
    rng = np.random.default_rng(seed)
    H = _random_homography(rng)
    x1 = rng.uniform(0, 640, size=(30, 2))
    x2 = _apply(H, x1) + rng.normal(scale=2.0, size=(30, 2))
    back = np.linalg.norm(_apply(np.linalg.inv(H), x2) - x1, axis=1)
    fwd = np.linalg.norm(_apply(H, x1) - x2, axis=1)
    np.testing.assert_allclose(transfer_error(H, x1, x2), fwd, rtol=1e-9)
    np.testing.assert_allclose(symmetric_transfer_error(H, x1, x2), 0.5 * (fwd + back), rtol=1e-9)


def test_transfer_error_is_infinite_on_the_line_at_infinity():
    H = np.array([[1.0, 0, 0], [0, 1, 0], [1, 0, 0]])  # x = 0 maps to infinity
    assert np.isinf(transfer_error(H, [[0.0, 5.0]], [[1.0, 1.0]])[0])


def test_bad_input():
    x = np.random.default_rng(0).uniform(0, 100, size=(10, 2))
    with pytest.raises(ValueError, match="x1: need at least 4 points"):
        homography_dlt(x[:3], x[:3])
    with pytest.raises(ValueError, match="x1 and x2: different lengths"):
        homography_dlt(x, x[:5])
    bad = x.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="x2: contains NaN"):
        homography_dlt(x, bad)
    with pytest.raises(ValueError, match="degenerate"):
        homography_dlt(np.ones((6, 2)), x[:6])
    line = np.c_[np.arange(6.0), 2 * np.arange(6.0)]
    with pytest.raises(ValueError, match="degenerate"):
        homography_dlt(line, x[:6])
    with pytest.raises(ValueError, match="H: expected shape"):
        transfer_error(np.eye(2), x, x)
    with pytest.raises(ValueError, match="H: singular"):
        symmetric_transfer_error(np.zeros((3, 3)), x, x)
