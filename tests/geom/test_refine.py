import numpy as np
import pytest
from hypothesis import given, settings

from geom.refine import refine_absolute_pose, refine_relative_pose
from geom.rotation import angle_between, angular_distance, rotation_from_axis_angle
from geom.testing import assert_rotation, make_two_view, seeds


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
