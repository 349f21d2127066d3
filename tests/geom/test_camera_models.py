import cv2
import numpy as np
import pycolmap
import pytest
from hypothesis import given
from numba import njit

from geom.camera_models import (FISHEYE, MODELS, _project_point, calibration_matrix, project,
                                project_jacobians)
from geom.testing import camera_models, make_camera_model, seeds

PERSPECTIVE = tuple(m for m in MODELS if m not in FISHEYE)


def _points_in_view(seed, model, params, n=200, width=640, height=480):
    """Camera-frame points (n, 3) at random depths whose rays reach past the image borders (the
    distorted corners lie inside the ring of directions drawn)."""
    rng = np.random.default_rng(seed)
    K = calibration_matrix(model, params)
    r_corner = np.linalg.norm(([width, height] - K[:2, 2]) / np.diag(K)[:2])
    phi = rng.uniform(0, 2 * np.pi, n)
    if model in FISHEYE:
        theta = rng.uniform(0, 1.2, n)
        d = np.column_stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)])
    else:
        r = r_corner * np.sqrt(rng.uniform(0, 1.2, n))
        d = np.column_stack([r * np.cos(phi), r * np.sin(phi), np.ones(n)])
    return d * rng.uniform(0.5, 20, n)[:, None]


def _opencv_coefficients(model, params):
    """OpenCV's distortion vector (k1, k2, p1, p2[, k3, k4, k5, k6]) of a perspective model."""
    names = MODELS[model][1]
    value = dict(zip(names, params))
    value.setdefault("k1", value.get("k", 0.0))
    keys = ("k1", "k2", "p1", "p2", "k3", "k4", "k5", "k6") if model == "FULL_OPENCV" else ("k1", "k2", "p1", "p2")
    return np.array([value.get(k, 0.0) for k in keys])


@given(camera_models(PERSPECTIVE), seeds())
def test_project_matches_opencv(cam, seed):
    model, params = cam
    X = _points_in_view(seed, model, params)
    expected, _ = cv2.projectPoints(X, np.zeros(3), np.zeros(3), calibration_matrix(model, params),
                                    _opencv_coefficients(model, params))
    np.testing.assert_allclose(project(model, params, X), expected[:, 0], rtol=0, atol=1e-9)


@given(camera_models(("OPENCV_FISHEYE",)), seeds())
def test_project_matches_opencv_fisheye(cam, seed):
    model, params = cam
    X = _points_in_view(seed, model, params)
    expected, _ = cv2.fisheye.projectPoints(X[:, None], np.zeros(3), np.zeros(3),
                                            calibration_matrix(model, params), params[4:])
    np.testing.assert_allclose(project(model, params, X), expected[:, 0], rtol=0, atol=1e-9)


@given(camera_models(), seeds())
def test_project_matches_pycolmap(cam, seed):
    model, params = cam
    X = _points_in_view(seed, model, params)
    colmap_params = params.copy()
    i = MODELS[model][1].index("cx")
    colmap_params[i:i + 2] += 0.5  # COLMAP's pixel origin is the corner of the top-left pixel
    colmap = pycolmap.Camera(model=model, width=640, height=480, params=colmap_params)
    np.testing.assert_allclose(project(model, params, X), colmap.img_from_cam(X) - 0.5,
                               rtol=0, atol=1e-9)


@given(camera_models(), seeds())
def test_jacobians_match_central_differences(cam, seed):
    model, params = cam
    X = _points_in_view(seed, model, params, n=20)
    J_point, J_params = project_jacobians(model, params, X)

    def numeric(f, x0, scale):
        cols = []
        for j in range(x0.shape[-1]):
            h = 1e-5 * scale[..., j]
            step = np.zeros_like(x0)
            step[..., j] = h
            cols.append((f(x0 + step) - f(x0 - step)) / (2 * h[..., None]))
        return np.stack(cols, axis=-1)

    J_x = numeric(lambda Y: project(model, params, Y), X, np.abs(X).max(axis=1, keepdims=True)
                  * np.ones((1, 3)))
    # pixels are linear in every parameter but FULL_OPENCV's denominator: steps of 1e-5 (relative,
    # absolute below 1) keep the rounding of ~300 px values under 1e-8 of the derivatives
    J_p = np.stack([numeric(lambda q: project(model, q, X[i:i + 1])[0], params,
                            np.maximum(np.abs(params), 1.0)) for i in range(len(X))])
    for J, J_fd in ((J_point, J_x), (J_params, J_p)):
        scale = np.abs(J_fd).max(axis=(1, 2), keepdims=True)
        err = (np.abs(J - J_fd) / scale).max()
        assert err <= 1e-6, f"Jacobian off by {err:.3g} relative"



@njit
def _project_from_numba(model_id, params, X):
    """What a bundle adjuster does: the scalar kernel per point, Jacobians into scratch arrays."""
    x, J_point, J_params = np.empty((len(X), 2)), np.empty((len(X), 2, 3)), np.empty((len(X), 2, len(params)))
    jp, jq = np.empty((2, 3)), np.empty((2, len(params)))
    for i in range(len(X)):
        x[i, 0], x[i, 1] = _project_point(model_id, params, X[i, 0], X[i, 1], X[i, 2], jp, jq)
        J_point[i], J_params[i] = jp, jq
    return x, J_point, J_params


@given(camera_models(), seeds())
def test_scalar_kernel_called_from_numba(cam, seed):
    model, params = cam
    X = _points_in_view(seed, model, params, n=20)
    x, J_point, J_params = _project_from_numba(MODELS[model][0], params, X)
    np.testing.assert_array_equal(x, project(model, params, X))
    for J, expected in zip((J_point, J_params), project_jacobians(model, params, X)):
        np.testing.assert_array_equal(J, expected)


def test_points_at_or_behind_the_camera_have_no_pixel():
    X = np.array([[0.1, 0.2, 0.0], [0.1, 0.2, -1.0], [0.0, 0.0, -1e-300], [0.1, 0.2, 1.0]])
    for model in MODELS:
        params = make_camera_model(0, model)
        x = project(model, params, X)
        assert np.isnan(x[:3]).all() and np.isfinite(x[3]).all(), model
        J_point, J_params = project_jacobians(model, params, X)
        assert np.isnan(J_point[:3]).all() and np.isnan(J_params[:3]).all(), model
        assert np.isfinite(J_point[3]).all() and np.isfinite(J_params[3]).all(), model


def test_calibration_matrix_and_shared_focal_length():
    np.testing.assert_array_equal(calibration_matrix("SIMPLE_RADIAL", [500, 320, 240, 0.1]),
                                  [[500, 0, 320], [0, 500, 240], [0, 0, 1]])
    np.testing.assert_array_equal(calibration_matrix("OPENCV", [500, 510, 320, 240, 0, 0, 0, 0]),
                                  [[500, 0, 320], [0, 510, 240], [0, 0, 1]])


def test_bad_input():
    X = np.array([[0.1, 0.2, 1.0]])
    with pytest.raises(ValueError, match="model: unknown camera model 'FOV'"):
        project("FOV", [500, 500, 320, 240, 0.1], X)
    with pytest.raises(ValueError, match="model: unknown"):
        project(["OPENCV"], [500, 320, 240], X)
    with pytest.raises(ValueError, match=r"params: RADIAL takes 5 parameters \(f, cx, cy, k1, k2\), got 4"):
        project("RADIAL", [500, 320, 240, 0.1], X)
    with pytest.raises(ValueError, match="params: contains NaN or inf"):
        project("SIMPLE_RADIAL", [500, 320, 240, np.nan], X)
    with pytest.raises(ValueError, match="params: focal lengths must be positive"):
        project("PINHOLE", [500, -500, 320, 240], X)
    with pytest.raises(ValueError, match=r"X_cam: expected shape \(N, 3\)"):
        project("PINHOLE", [500, 500, 320, 240], X[:, :2])
    with pytest.raises(ValueError, match="X_cam: contains NaN"):
        project_jacobians("PINHOLE", [500, 500, 320, 240], np.full((2, 3), np.nan))
