import cv2
import numpy as np
import pycolmap
import pytest
from hypothesis import given, settings
from numba import njit

from geom.camera import Camera
from geom.camera_models import (ALL_MODELS, FISHEYE, MODELS, _project_point, calibration_matrix,
                                k_radial_params, project, project_jacobians, undistort_maps,
                                undistorted_calibration, unproject)
from geom.rotation import random_rotation
from geom.testing import camera_models, make_camera_model, seeds

PERSPECTIVE = tuple(m for m in MODELS if m not in FISHEYE)
W, H = 640, 480
# pixels over the whole image, its outer corners included
GRID = np.stack(np.meshgrid(np.linspace(-0.5, W - 0.5, 65), np.linspace(-0.5, H - 0.5, 49)),
                axis=-1).reshape(-1, 2)


def _points_in_view(seed, model, params, n=200, width=W, height=H):
    """Camera-frame points (n, 3) at random depths whose rays reach past the image borders (the
    distorted corners lie inside the ring of directions drawn)."""
    rng = np.random.default_rng(seed)
    K = calibration_matrix(model, params)
    r_corner = np.linalg.norm(([width, height] - K[:2, 2]) / np.diag(K)[:2])
    phi = rng.uniform(0, 2 * np.pi, n)
    if model in FISHEYE:
        theta = rng.uniform(0, 1.2, n)
        d = np.column_stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi),
                             np.cos(theta)])
    else:
        r = r_corner * np.sqrt(rng.uniform(0, 1.2, n))
        d = np.column_stack([r * np.cos(phi), r * np.sin(phi), np.ones(n)])
    return d * rng.uniform(0.5, 20, n)[:, None]


def _opencv_coefficients(model, params):
    """OpenCV's distortion vector (k1, k2, p1, p2[, k3, k4, k5, k6]) of a perspective model."""
    names = MODELS[model][1]
    value = dict(zip(names, params))
    value.setdefault("k1", value.get("k", 0.0))
    keys = ("k1", "k2", "p1", "p2") + (("k3", "k4", "k5", "k6") if model == "FULL_OPENCV" else ())
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


def _pycolmap_camera(model, params):
    colmap_params = params.copy()
    i = MODELS[model][1].index("cx")
    colmap_params[i:i + 2] += 0.5  # COLMAP's pixel origin is the corner of the top-left pixel
    return pycolmap.Camera(model=model, width=W, height=H, params=colmap_params)


@given(camera_models(), seeds())
def test_project_matches_pycolmap(cam, seed):
    model, params = cam
    X = _points_in_view(seed, model, params)
    expected = _pycolmap_camera(model, params).img_from_cam(X) - 0.5
    np.testing.assert_allclose(project(model, params, X), expected, rtol=0, atol=1e-9)


@given(camera_models(tuple(ALL_MODELS)), seeds())
def test_unproject_inverts_project_on_the_whole_image(cam, seed):
    model, params = cam
    xn = unproject(model, params, GRID)
    assert np.isfinite(xn).all()
    np.testing.assert_allclose(project(model, params, np.c_[xn, np.ones(len(xn))]), GRID,
                               rtol=0, atol=1e-9)
    X = _points_in_view(seed, model, params)
    x = project(model, params, X)
    seen = ((x >= -0.5) & (x <= [W - 0.5, H - 0.5])).all(axis=1)
    truth = X[seen, :2] / X[seen, 2:]
    err = np.abs(unproject(model, params, x[seen]) - truth) / (1 + np.abs(truth))
    assert err.max() <= 1e-10


@given(camera_models(PERSPECTIVE))
def test_unproject_matches_opencv_undistort_points(cam):
    model, params = cam
    # OpenCV iterates a fixed point a fixed number of times unless told to converge
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 1000, 1e-15)
    expected = cv2.undistortPoints(GRID[:, None], calibration_matrix(model, params),
                                   _opencv_coefficients(model, params), None, None, None, criteria)
    np.testing.assert_allclose(unproject(model, params, GRID), expected[:, 0], rtol=0, atol=1e-12)


@given(camera_models(("OPENCV_FISHEYE",)))
def test_unproject_matches_opencv_fisheye_undistort_points(cam):
    model, params = cam
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 1000, 1e-15)
    expected = cv2.fisheye.undistortPoints(GRID[:, None], calibration_matrix(model, params),
                                           params[4:], criteria=criteria)
    np.testing.assert_allclose(unproject(model, params, GRID), expected[:, 0], rtol=0, atol=1e-12)


@given(camera_models())
def test_unproject_matches_pycolmap(cam):
    model, params = cam
    # COLMAP stops its Newton iteration at a step of 1e-5, some 1e-10 from the root
    np.testing.assert_allclose(unproject(model, params, GRID),
                               _pycolmap_camera(model, params).cam_from_img(GRID + 0.5),
                               rtol=0, atol=1e-9)


def test_unproject_reports_pixels_without_inverse():
    # r (1 - 0.5 r^2) peaks at r = 0.816 with a distorted radius of 0.544: pixels beyond have none
    params = [500.0, 320.0, 240.0, -0.5]
    xn = unproject("SIMPLE_RADIAL", params, [[320 + 500 * 0.5, 240], [320 + 500 * 0.56, 240],
                                              [320, 240 - 500 * 0.6]])
    assert np.isfinite(xn[0]).all() and np.isnan(xn[1:]).all()
    # an undistorted fisheye sees 90 degrees off axis at f * pi / 2 px from the centre
    xn = unproject("SIMPLE_RADIAL_FISHEYE", [100.0, 320.0, 240.0, 0.0],
                   [[320 + 100 * 1.5, 240], [320 + 100 * 1.6, 240]])
    np.testing.assert_allclose(xn[0], [np.tan(1.5), 0], rtol=1e-12)
    assert np.isnan(xn[1]).all()


@given(camera_models(tuple(ALL_MODELS)), seeds())
def test_jacobians_match_central_differences(cam, seed):
    model, params = cam
    # plus points on and near the axis, either side of the fisheye kernel's series (r < 0.01)
    near_axis = np.array([[0, 0, 2.0], [1e-3, -2e-3, 1], [6e-3, 7e-3, 1], [0.02, 0.01, 1]])
    X = np.r_[_points_in_view(seed, model, params, n=20), near_axis]
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
    n = len(X)
    x, J_point, J_params = np.empty((n, 2)), np.empty((n, 2, 3)), np.empty((n, 2, len(params)))
    jp, jq = np.empty((2, 3)), np.empty((2, len(params)))
    for i in range(len(X)):
        x[i, 0], x[i, 1] = _project_point(model_id, params, X[i, 0], X[i, 1], X[i, 2], jp, jq)
        J_point[i], J_params[i] = jp, jq
    return x, J_point, J_params


@given(camera_models(tuple(ALL_MODELS)), seeds())
def test_scalar_kernel_called_from_numba(cam, seed):
    model, params = cam
    X = _points_in_view(seed, model, params, n=20)
    x, J_point, J_params = _project_from_numba(ALL_MODELS[model][0], params, X)
    np.testing.assert_array_equal(x, project(model, params, X))
    for J, expected in zip((J_point, J_params), project_jacobians(model, params, X)):
        np.testing.assert_array_equal(J, expected)


@given(camera_models())
def test_undistorted_calibration_keeps_the_valid_area(cam):
    model, params = cam
    # blank=0: every undistorted pixel samples inside the original image, and a view 1 % wider
    # would not
    def inside(K_new):
        map_x, map_y = undistort_maps(model, params, W, H, K_new=K_new)
        return (map_x.min() >= -1e-3 and map_x.max() <= W - 1 + 1e-3
                and map_y.min() >= -1e-3 and map_y.max() <= H - 1 + 1e-3)

    K = undistorted_calibration(model, params, W, H)
    assert inside(K)
    assert not inside(np.diag([0.99, 0.99, 1]) @ K)
    # blank=1: every original pixel centre lands inside the undistorted image
    K = undistorted_calibration(model, params, W, H, blank=1.0)
    x = unproject(model, params, np.round(GRID).clip(0, [W - 1, H - 1])) @ K[:2, :2].T + K[:2, 2]
    assert x.min() >= -1e-6 and (x <= [W - 1 + 1e-6, H - 1 + 1e-6]).all()
    K_model = calibration_matrix(model, params)
    np.testing.assert_allclose(K[0, 0] / K[1, 1], K_model[0, 0] / K_model[1, 1], rtol=1e-12)


@settings(max_examples=10)
@given(camera_models(width=320, height=240), seeds())
def test_undistorted_image_puts_points_where_the_pinhole_says(cam, seed):
    model, params = cam
    w, h = 320, 240
    K_new = undistorted_calibration(model, params, w, h, blank=0.5)
    # Gaussian dots at known undistorted pixels (a jittered 40 px grid, each whole in the
    # original), drawn in the original image through the model: each original pixel shows the
    # dots at its undistorted position
    rng = np.random.default_rng(seed)
    dots = np.stack(np.meshgrid(np.arange(20, w, 40), np.arange(20, h, 40)), -1).reshape(-1, 2)
    dots = dots + rng.uniform(-7, 7, dots.shape)
    rays = np.c_[(dots - K_new[:2, 2]) / np.diag(K_new)[:2], np.ones(len(dots))]
    source = project(model, params, rays)
    dots = dots[((source > 20) & (source < [w - 21, h - 21])).all(axis=1)]
    ys, xs = np.mgrid[0:h, 0:w]
    xn = unproject(model, params, np.c_[xs.ravel(), ys.ravel()].astype(float))
    seen = (xn @ K_new[:2, :2].T + K_new[:2, 2]).reshape(h, w, 2)
    sigma = 3.0
    image = np.zeros((h, w), np.float32)
    for d in dots:
        image += np.exp(-((seen - d) ** 2).sum(-1) / (2 * sigma ** 2)).astype(np.float32)
    undistorted = cv2.remap(image, *undistort_maps(model, params, w, h, K_new=K_new),
                            cv2.INTER_LINEAR)
    wy, wx = np.mgrid[-12:13, -12:13]
    for d in dots:
        x0, y0 = np.round(d).astype(int)
        win = undistorted[y0 - 12:y0 + 13, x0 - 12:x0 + 13].astype(float)
        centroid = np.array([(win * wx).sum(), (win * wy).sum()]) / win.sum() + [x0, y0]
        assert np.abs(centroid - d).max() < 0.05, (d, centroid)
    assert len(dots) >= 10


def test_points_at_or_behind_the_camera_have_no_pixel():
    X = np.array([[0.1, 0.2, 0.0], [0.1, 0.2, -1.0], [0.0, 0.0, -1e-300], [0.1, 0.2, 1.0]])
    for model in ALL_MODELS:
        params = make_camera_model(0, model)
        x = project(model, params, X)
        assert np.isnan(x[:3]).all() and np.isfinite(x[3]).all(), model
        J_point, J_params = project_jacobians(model, params, X)
        assert np.isnan(J_point[:3]).all() and np.isnan(J_params[:3]).all(), model
        assert np.isfinite(J_point[3]).all() and np.isfinite(J_params[3]).all(), model


@given(seeds())
def test_k_radial_is_a_camera_with_radial_distortion(seed):
    """K_RADIAL: the pixel K [d u, d v, 1], d = 1 + k (u^2 + v^2), of a `Camera` with any K
    (skew included): `Camera.project` where k = 0, COLMAP's SIMPLE_RADIAL where fx = fy and
    skew = 0."""
    rng = np.random.default_rng(seed)
    K = np.array([[500.0, 3.0, 320.0], [0.0, 510.0, 240.0], [0.0, 0.0, 1.0]])
    cam = Camera(K, random_rotation(rng), rng.normal(size=3))
    X = cam.backproject(rng.uniform(0, [W, H], size=(50, 2)), rng.uniform(1, 10, 50))
    np.testing.assert_allclose(project("K_RADIAL", k_radial_params(K, 0.0), cam.to_camera(X)),
                               cam.project(X), rtol=0, atol=1e-9)
    np.testing.assert_array_equal(calibration_matrix("K_RADIAL", k_radial_params(K, 0.1)), K)
    params = make_camera_model(rng, "SIMPLE_RADIAL")
    f, cx, cy, k = params
    Ks = np.array([[[f, 0.0, cx], [0.0, f, cy], [0.0, 0.0, 1.0]]] * 2)
    both = k_radial_params(Ks, [k, k])
    assert both.shape == (2, 6)
    X_cam = _points_in_view(seed, "SIMPLE_RADIAL", params)
    np.testing.assert_allclose(project("K_RADIAL", both[1], X_cam),
                               project("SIMPLE_RADIAL", params, X_cam), rtol=0, atol=1e-9)


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
    message = r"params: RADIAL takes 5 parameters \(f, cx, cy, k1, k2\), got 4"
    with pytest.raises(ValueError, match=message):
        project("RADIAL", [500, 320, 240, 0.1], X)
    with pytest.raises(ValueError, match="params: contains NaN or inf"):
        project("SIMPLE_RADIAL", [500, 320, 240, np.nan], X)
    with pytest.raises(ValueError, match="params: focal lengths must be positive"):
        project("PINHOLE", [500, -500, 320, 240], X)
    with pytest.raises(ValueError, match=r"X_cam: expected shape \(N, 3\)"):
        project("PINHOLE", [500, 500, 320, 240], X[:, :2])
    with pytest.raises(ValueError, match=r"xy: expected shape \(N, 2\)"):
        unproject("PINHOLE", [500, 500, 320, 240], X)
    with pytest.raises(ValueError, match="width: expected an integer >= 1"):
        undistort_maps("PINHOLE", [500, 500, 320, 240], 0, 480)
    with pytest.raises(ValueError, match="blank: expected a number in"):
        undistorted_calibration("PINHOLE", [500, 500, 320, 240], 640, 480, blank=2)
    with pytest.raises(ValueError, match="K_new: focal lengths must be positive"):
        undistort_maps("PINHOLE", [500, 500, 320, 240], 640, 480, K_new=np.diag([-500.0, 500, 1]))
    with pytest.raises(ValueError, match="params: the SIMPLE_RADIAL distortion has no inverse"):
        undistorted_calibration("SIMPLE_RADIAL", [300, 320, 240, -0.5], 640, 480)
    with pytest.raises(ValueError, match="X_cam: contains NaN"):
        project_jacobians("PINHOLE", [500, 500, 320, 240], np.full((2, 3), np.nan))
