import numpy as np
import pytest
from hypothesis import given

from geom import sevenpoint as sp
from geom.testing import assert_epipolar, assert_rank2, make_two_view, two_view_problems

GOOD = make_two_view(7, 20, noise=0.5)


@given(two_view_problems(n_points=7))
def test_seven_point_candidates_fit_and_one_is_the_truth(p):
    Fs = sp.seven_point(p.x1, p.x2)
    assert 1 <= len(Fs) <= 3
    for F in Fs:
        assert abs(np.linalg.norm(F) - 1) < 1e-12
        assert_rank2(F, rtol=1e-7)
        assert_epipolar(F, p.x1, p.x2, atol=1e-8)
    err = [min(np.abs(F - p.F).max(), np.abs(F + p.F).max()) for F in Fs]
    assert min(err) < 1e-6, err


@given(two_view_problems(n_points=7, noise=(0.5, 3.0)))
def test_seven_point_candidates_fit_any_seven_noisy_points_exactly(p):
    for F in sp.seven_point(p.x1, p.x2):
        assert_rank2(F, rtol=1e-7)
        assert_epipolar(F, p.x1, p.x2, atol=1e-8)


def test_private_seven_point_kernel():
    p = make_two_view(3, 7)
    out = np.zeros((3, 3, 3))
    k = sp._seven_point(p.x1, p.x2, out)
    assert 1 <= k <= 3
    np.testing.assert_array_equal(out[:k], sp.seven_point(p.x1, p.x2))
    x = np.c_[np.arange(7.0), 2 * np.arange(7.0) + 1]  # collinear
    assert sp._seven_point(x, p.x2, out) == 0


@pytest.mark.parametrize("n, match", [(6, "need at least 7 points"), (8, "exactly 7 points")])
def test_seven_point_rejects_wrong_counts(n, match):
    with pytest.raises(ValueError, match=match):
        sp.seven_point(GOOD.x1[:n], GOOD.x2[:n])


def test_seven_point_rejects_degenerate_samples():
    with pytest.raises(ValueError, match="x2: all points are collinear"):
        sp.seven_point(GOOD.x1[:7], np.c_[np.arange(7.0), np.arange(7.0)])
    with pytest.raises(ValueError, match="degenerate configuration"):
        sp.seven_point(np.repeat(GOOD.x1[:4], 2, axis=0)[:7], np.repeat(GOOD.x2[:4], 2, axis=0)[:7])
