import numpy as np
import pytest
from hypothesis import given

from geom.camera import (Camera, decompose_projection, denormalize_points, intrinsic_matrix,
                         look_at, normalize_points, relative_pose)
from geom.rotation import random_rotation
from geom.testing import (assert_rotation, cameras, make_points_in_view, scenes,
                          similarity_transform, transform_camera)


@given(scenes(n_views=(2, 3)))
def test_project_backproject_round_trip(scene):
    cams, X = scene
    for cam in cams:
        x = cam.project(X)
        np.testing.assert_allclose(cam.backproject(x, cam.depth(X)), X, atol=1e-9)
        assert cam.in_image(x).all() and (cam.depth(X) > 0).all()


@given(scenes(n_views=(2, 2)))
def test_rays_point_at_the_points(scene):
    cams, X = scene
    cam = cams[0]
    d = X - cam.center
    np.testing.assert_allclose(cam.rays(cam.project(X)), d / np.linalg.norm(d, axis=1)[:, None],
                               atol=1e-9)


@given(cameras())
def test_projection_matrix_and_decomposition(cam):
    X = np.random.default_rng(0).normal(size=(20, 3))
    h = np.c_[X, np.ones(20)] @ cam.P.T
    np.testing.assert_allclose(h[:, :2] / h[:, 2:], cam.project(X), rtol=1e-9, atol=1e-9)
    K, R, t = decompose_projection(-3.7 * cam.P)  # any scale, including a negative one
    assert_rotation(R)
    np.testing.assert_allclose(K, cam.K, atol=1e-6 * cam.K[0, 0])
    np.testing.assert_allclose(R, cam.R, atol=1e-9)
    np.testing.assert_allclose(t, cam.t, atol=1e-9)
    np.testing.assert_allclose(cam.center, -cam.R.T @ cam.t)
    np.testing.assert_allclose(cam.P @ np.r_[cam.center, 1.0], 0, atol=1e-9)


@given(cameras())
def test_normalize_round_trip(cam):
    x = np.random.default_rng(1).uniform(0, 640, size=(10, 2))
    xn = normalize_points(x, cam.K)
    np.testing.assert_allclose(np.c_[xn, np.ones(10)] @ cam.K.T, np.c_[x, np.ones(10)], atol=1e-9)
    np.testing.assert_allclose(denormalize_points(xn, cam.K), x, atol=1e-9)


@given(scenes(n_views=(2, 2)))
def test_similarity_invariance(scene):
    cams, X = scene
    rng = np.random.default_rng(2)
    s, R, T = 2.5, random_rotation(rng), rng.normal(size=3)
    Xs = similarity_transform(X, s, R, T)
    for cam in cams:
        cs = transform_camera(cam, s, R, T)
        np.testing.assert_allclose(cs.project(Xs), cam.project(X), atol=1e-8)
        np.testing.assert_allclose(cs.depth(Xs), s * cam.depth(X), rtol=1e-9)


def test_relative_pose_maps_camera1_to_camera2():
    K = intrinsic_matrix(500, cx=320, cy=240)
    c1 = look_at([0, 0, -5], [0, 0, 0], K)
    c2 = look_at([2, 0, -5], [0, 0, 0], K)
    X = make_points_in_view(0, [c1.with_intrinsics(K, 640, 480), c2.with_intrinsics(K, 640, 480)], 10)
    R, t = relative_pose(c1, c2)
    np.testing.assert_allclose(c1.to_camera(X) @ R.T + t, c2.to_camera(X), atol=1e-12)


def test_look_at_puts_target_at_principal_point_with_up_up():
    K = intrinsic_matrix(500, cx=320, cy=240)
    cam = look_at([1, -2, -5], [0, 0, 0], K)
    np.testing.assert_allclose(cam.project(np.zeros((1, 3))), [[320, 240]], atol=1e-9)
    above = cam.project(np.array([[0.0, -1.0, 0.0]]))  # world -y is up
    assert above[0, 1] < 240


def test_bad_input():
    K = intrinsic_matrix(500)
    with pytest.raises(ValueError, match="not a rotation"):
        Camera(K, np.ones((3, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="focal lengths must be positive"):
        Camera(np.diag([-1.0, 1, 1]), np.eye(3), np.zeros(3))
    with pytest.raises(ValueError, match=r"t: expected shape \(3\)"):
        Camera(K, np.eye(3), np.zeros(4))
    with pytest.raises(ValueError, match="width"):
        Camera(K, np.eye(3), np.zeros(3), width=-3, height=2)
    cam = Camera(K, np.eye(3), np.zeros(3))
    with pytest.raises(ValueError, match=r"X: expected shape \(N, 3\)"):
        cam.project(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="X: contains NaN"):
        cam.project(np.full((4, 3), np.nan))
    with pytest.raises(ValueError, match="singular"):
        decompose_projection(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="coincide"):
        look_at([0, 0, 0], [0, 0, 0], K)
