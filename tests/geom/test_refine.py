import numpy as np
import pytest
from hypothesis import given, settings

from geom.epipolar import sampson_distance
from geom.refine import refine_absolute_pose, refine_fundamental, refine_relative_pose
from geom.rotation import angle_between, angular_distance, rotation_from_axis_angle
from geom.testing import (assert_rank2, assert_rotation, assert_same_up_to_scale, make_two_view,
                          seeds)


def _sampson_cost(R, t, p):
    E = np.cross(np.eye(3), t) @ R  # [t]x R
    F = np.linalg.inv(p.K2).T @ E @ np.linalg.inv(p.K1)
    h1, h2 = np.c_[p.x1, np.ones(len(p.x1))], np.c_[p.x2, np.ones(len(p.x2))]
    Fx1, Ftx2 = h1 @ F.T, h2 @ F
    num = np.einsum("ni,ni->n", h2, Fx1) ** 2
    return np.sum(num / (Fx1[:, 0] ** 2 + Fx1[:, 1] ** 2 + Ftx2[:, 0] ** 2 + Ftx2[:, 1] ** 2))


@settings(max_examples=20)
@given(seeds())
def test_relative_refinement_reduces_the_error_and_recovers_the_truth(seed):
    p = make_two_view(seed, 100, noise=0.0)
    rng = np.random.default_rng(seed)
    R0 = rotation_from_axis_angle(rng.normal(scale=0.02, size=3)) @ p.R
    t0 = p.t / np.linalg.norm(p.t) + rng.normal(scale=0.05, size=3)
    R, t = refine_relative_pose(R0, t0, p.x1, p.x2, p.K1, p.K2)
    assert_rotation(R)
    assert abs(np.linalg.norm(t) - 1) < 1e-12
    assert _sampson_cost(R, t, p) < 1e-6 * max(_sampson_cost(R0, t0 / np.linalg.norm(t0), p), 1e-300)
    assert angular_distance(R, p.R) < 1e-6
    assert angle_between(t, p.t) < 1e-5


@settings(max_examples=20)
@given(seeds())
def test_absolute_refinement_reduces_the_error_and_recovers_the_truth(seed):
    p = make_two_view(seed, 100, noise=0.0)
    cam = p.cam2
    rng = np.random.default_rng(seed)
    R0 = rotation_from_axis_angle(rng.normal(scale=0.05, size=3)) @ cam.R
    t0 = cam.t + rng.normal(scale=0.1, size=3)
    R, t = refine_absolute_pose(R0, t0, p.X, p.x2, cam.K)
    assert_rotation(R)
    np.testing.assert_allclose(R, cam.R, atol=1e-9)  # (arccos-based angles resolve ~1e-8)
    np.testing.assert_allclose(t, cam.t, atol=1e-7)


def test_noisy_refinement_does_not_increase_the_cost():
    p = make_two_view(3, 200, noise=1.0)
    R, t = refine_relative_pose(p.R, p.t, p.x1, p.x2, p.K1, p.K2)
    assert _sampson_cost(R, t, p) <= _sampson_cost(p.R, p.t / np.linalg.norm(p.t), p)


def _robust_cost(F, x1, x2, scale):
    d2 = sampson_distance(F, x1, x2) ** 2
    return np.sum(d2) if scale is None else np.sum(scale ** 2 * np.log1p(d2 / scale ** 2))


def _perturbed(p, seed):
    """The F of p's relative pose off by ~0.01 rad and ~0.02 in t's direction (a few pixels of
    Sampson error), plus a full-rank term, not at unit norm."""
    rng = np.random.default_rng(seed)
    R = rotation_from_axis_angle(rng.normal(scale=0.01, size=3)) @ p.R
    t = p.t / np.linalg.norm(p.t) + rng.normal(scale=0.02, size=3)
    F = np.linalg.inv(p.K2).T @ np.cross(np.eye(3), t) @ R @ np.linalg.inv(p.K1)
    return 3.0 * (F / np.linalg.norm(F) + 1e-7 * rng.normal(size=(3, 3)))


def _clean_error(F, p):
    """RMS Sampson distance (px) of the noise-free projections of the true matches under F."""
    x1, x2 = p.cam1.project(p.X)[p.inliers], p.cam2.project(p.X)[p.inliers]
    return np.sqrt(np.mean(sampson_distance(F, x1, x2) ** 2))


@settings(max_examples=20)
@given(seeds())
def test_fundamental_refinement_recovers_exact_f_from_a_perturbed_one(seed):
    p = make_two_view(seed, 60, noise=0.0)
    F0 = _perturbed(p, seed)
    for scale in (None, 0.5):
        F = refine_fundamental(F0, p.x1, p.x2, scale=scale)
        assert_rank2(F, rtol=1e-12)
        assert abs(np.linalg.norm(F) - 1.0) < 1e-12
        assert_same_up_to_scale(F, p.F, atol=1e-7)
        assert sampson_distance(F, p.x1, p.x2).max() < 1e-6


@settings(max_examples=15)
@given(seeds())
def test_fundamental_refinement_never_increases_the_cost_and_finds_the_noisy_optimum(seed):
    p = make_two_view(seed, 150, noise=0.7)
    F0 = _perturbed(p, seed)
    for scale in (None, 0.3, 2.0):
        # from the (rank-2) truth: the cost cannot go up
        F_true_start = refine_fundamental(p.F, p.x1, p.x2, scale=scale)
        assert (_robust_cost(F_true_start, p.x1, p.x2, scale)
                <= _robust_cost(p.F, p.x1, p.x2, scale) * (1 + 1e-12))
        # from a perturbed F (Sampson errors of pixels): the same minimum, nearer the truth
        F = refine_fundamental(F0, p.x1, p.x2, scale=scale)
        assert_rank2(F, rtol=1e-12)
        assert abs(np.linalg.norm(F) - 1.0) < 1e-12
        if scale != 0.3:  # (a Cauchy scale below the noise sigma 0.7 has several minima)
            same = sampson_distance(F, p.x1, p.x2) - sampson_distance(F_true_start, p.x1, p.x2)
            assert np.abs(same).max() < 1e-4
        assert _clean_error(F, p) < min(_clean_error(F0, p), 0.4)


def test_cauchy_refinement_ignores_the_outliers_that_pull_least_squares_off():
    p = make_two_view(7, 300, noise=0.5, outlier_ratio=0.3)
    F0 = _perturbed(p, 7)
    robust = refine_fundamental(F0, p.x1, p.x2, scale=0.5)
    squares = refine_fundamental(F0, p.x1, p.x2)
    assert _clean_error(robust, p) < 0.2
    assert _clean_error(squares, p) > 3 * _clean_error(robust, p)
    # on the inliers alone, least squares does as well
    inl = refine_fundamental(F0, p.x1[p.inliers], p.x2[p.inliers])
    assert _clean_error(inl, p) < 0.2


def test_bad_input():
    p = make_two_view(0, 10)
    with pytest.raises(ValueError, match="R: not a rotation"):
        refine_relative_pose(2 * p.R, p.t, p.x1, p.x2, p.K1, p.K2)
    with pytest.raises(ValueError, match="t: zero translation"):
        refine_relative_pose(p.R, np.zeros(3), p.x1, p.x2, p.K1, p.K2)
    with pytest.raises(ValueError, match="x1: need at least 5 points"):
        refine_relative_pose(p.R, p.t, p.x1[:4], p.x2[:4], p.K1, p.K2)
    with pytest.raises(ValueError, match="X: expected shape"):
        refine_absolute_pose(p.R, p.t, p.x1, p.x2, p.K2)
    with pytest.raises(ValueError, match="K: focal lengths must be positive"):
        refine_absolute_pose(p.R, p.t, p.X, p.x2, p.K2 * [[-1], [1], [1]])
    with pytest.raises(ValueError, match=r"F: expected shape \(3, 3\)"):
        refine_fundamental(p.F[:2], p.x1, p.x2)
    with pytest.raises(ValueError, match="F: contains NaN"):
        refine_fundamental(np.full((3, 3), np.nan), p.x1, p.x2)
    with pytest.raises(ValueError, match="F: the zero matrix"):
        refine_fundamental(np.zeros((3, 3)), p.x1, p.x2)
    with pytest.raises(ValueError, match="x1: need at least 7 points"):
        refine_fundamental(p.F, p.x1[:6], p.x2[:6])
    with pytest.raises(ValueError, match="x1 and x2: different lengths"):
        refine_fundamental(p.F, p.x1, p.x2[:9])
    with pytest.raises(ValueError, match="x2: contains NaN"):
        refine_fundamental(p.F, p.x1, np.where(np.eye(10, 2) > 0, np.nan, p.x2))
    with pytest.raises(ValueError, match="scale: must be a positive"):
        refine_fundamental(p.F, p.x1, p.x2, scale=0.0)
    with pytest.raises(ValueError, match="tolerance: must be a positive"):
        refine_fundamental(p.F, p.x1, p.x2, tolerance=-1e-6)
