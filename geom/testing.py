"""Test helpers: problem generators with known truth, hypothesis strategies, invariant checks.

Users property-test their own geometry with these; the project's tests use them too.

    from hypothesis import given
    from geom.testing import two_view_problems

    @given(two_view_problems(n_points=50, noise=0.0))
    def test_my_estimator(p):
        F = my_estimator(p.x1, p.x2)
        assert_epipolar(F, p.x1, p.x2, atol=1e-6)

Generators (`make_*`) take a numpy `Generator` or seed and are deterministic; strategies draw
the seed and the free parameters with hypothesis, so failures shrink to a reproducible seed.
"""
from dataclasses import dataclass

import numpy as np

from .camera import Camera, intrinsic_matrix, look_at, relative_pose
from .camera_models import ALL_MODELS, FISHEYE, MODELS, calibration_matrix, project
from .rotation import random_rotation, rotation_from_axis_angle, skew

try:
    from hypothesis import strategies as st
except ImportError:  # the strategies need hypothesis (the `test` extra); the generators do not
    st = None


# ---------------------------------------------------------------------------- generators

def make_intrinsics(rng, width=640, height=480, focal_range=(0.6, 1.6)):
    """Random calibration: focal length in `focal_range` times the image width, principal point
    near the image centre, square pixels."""
    rng = np.random.default_rng(rng)
    f = rng.uniform(*focal_range) * width
    cx = (width - 1) / 2 + rng.uniform(-0.05, 0.05) * width
    cy = (height - 1) / 2 + rng.uniform(-0.05, 0.05) * height
    return intrinsic_matrix(f, f, cx, cy)


def make_camera_ring(rng, n_views, radius=5.0, arc=2 * np.pi, width=640, height=480, jitter=0.05):
    """`n_views` cameras on a horizontal circle of `radius` around the origin, looking at it."""
    rng = np.random.default_rng(rng)
    K = make_intrinsics(rng, width, height)
    cams = []
    for i in range(n_views):
        a = arc * i / (n_views if arc >= 2 * np.pi else max(n_views - 1, 1))
        eye = radius * np.array([np.sin(a), rng.uniform(-0.3, 0.3), -np.cos(a)])
        target = rng.normal(scale=jitter * radius, size=3)
        cams.append(look_at(eye, target, K, width=width, height=height))
    return cams


def make_points_in_view(rng, cams, n_points, fill=0.8, depth_range=(0.5, 1.5), margin=1e-3):
    """`n_points` world points (N, 3) that every camera in `cams` sees in front of it and inside
    its image. Points are backprojected from the first camera at random pixels and depths (as a
    fraction of its distance to the world origin) and kept if all cameras see them."""
    rng = np.random.default_rng(rng)
    c0 = cams[0]
    dist = max(np.linalg.norm(c0.center), 1e-3)
    out = np.empty((0, 3))
    for _ in range(200):
        m = 4 * n_points
        x = np.column_stack([
            (0.5 + fill * (rng.random(m) - 0.5)) * c0.width - 0.5,
            (0.5 + fill * (rng.random(m) - 0.5)) * c0.height - 0.5,
        ])
        X = c0.backproject(x, dist * rng.uniform(*depth_range, size=m))
        ok = np.ones(m, bool)
        for c in cams:
            ok &= c.depth(X) > margin * dist
            ok &= c.in_image(c.project(X))
        out = np.concatenate([out, X[ok]])
        if len(out) >= n_points:
            return out[:n_points]
    raise RuntimeError("make_points_in_view: cameras share too little field of view")


@dataclass
class TwoViewProblem:
    """Two calibrated views of a scene with known truth.

    cam1, cam2: cameras; X (N, 3) points; x1, x2 (N, 2) observed pixels (noise and outliers
    applied); inliers (N,) bool; R, t: relative pose (camera 1 -> camera 2, |t| = baseline);
    E, F: the true essential and fundamental matrices (unit Frobenius norm).
    """

    cam1: Camera
    cam2: Camera
    X: np.ndarray
    x1: np.ndarray
    x2: np.ndarray
    inliers: np.ndarray
    R: np.ndarray
    t: np.ndarray
    E: np.ndarray
    F: np.ndarray

    @property
    def K1(self):
        return self.cam1.K

    @property
    def K2(self):
        return self.cam2.K


def make_two_view(rng, n_points=100, noise=0.0, outlier_ratio=0.0, baseline=(0.2, 1.0),
                  width=640, height=480, planar=False):
    """A random calibrated two-view problem.

    Camera 1 sits at distance ~5 from the origin looking at it; camera 2 is displaced by a
    random baseline (fraction of that distance) and rotated to look at the origin too. `noise`
    is the pixel noise sigma; a fraction `outlier_ratio` of the correspondences has `x2` replaced
    by a uniform random pixel. `planar=True` puts all points on one plane (a degenerate case for F).
    """
    rng = np.random.default_rng(rng)
    K1 = make_intrinsics(rng, width, height)
    K2 = make_intrinsics(rng, width, height)
    eye1 = 5.0 * _unit(rng.normal(size=3))
    eye2 = eye1 + 5.0 * rng.uniform(*baseline) * _unit(rng.normal(size=3))
    cam1 = _look(eye1, K1, rng, width, height)
    cam2 = _look(eye2, K2, rng, width, height)
    X = make_points_in_view(rng, [cam1, cam2], n_points)
    if planar:
        n = _unit(rng.normal(size=3))
        X = X - np.outer(X @ n, n)
        X = X[(cam1.depth(X) > 0.1) & (cam2.depth(X) > 0.1)]
        X = np.resize(X, (n_points, 3))
    x1 = cam1.project(X) + rng.normal(scale=noise, size=(n_points, 2))
    x2 = cam2.project(X) + rng.normal(scale=noise, size=(n_points, 2))
    inliers = np.ones(n_points, bool)
    n_out = int(round(outlier_ratio * n_points))
    if n_out:
        idx = rng.choice(n_points, n_out, replace=False)
        x2[idx] = rng.random((n_out, 2)) * [width, height] - 0.5
        inliers[idx] = False
    R, t = relative_pose(cam1, cam2)
    E = skew(t) @ R
    E /= np.linalg.norm(E)
    F = np.linalg.inv(K2).T @ E @ np.linalg.inv(K1)
    F /= np.linalg.norm(F)
    return TwoViewProblem(cam1, cam2, X, x1, x2, inliers, R, t, E, F)


def make_camera_model(rng, model, width=640, height=480):
    """Random parameters (P,) of the camera model named `model` with realistic distortion.

    Perspective models: focal length 0.6-1.6 image widths; fisheye models: the image corners
    50-70 degrees off axis. Principal point near the image centre, fx/fy within 3 %, a skew
    (K_RADIAL) within 1 % of f. Each
    distortion term is drawn as the fraction it adds at the image corner (k1 up to +-30 %, higher
    orders less, |p| <= 2e-3) and all of them are halved until the radial map is monotonic (slope
    >= 0.1) from the centre to beyond the image corners, so the model is invertible on the whole
    image, strong barrel distortion included.
    """
    rng = np.random.default_rng(rng)
    names = ALL_MODELS[model][1]
    fisheye = model in FISHEYE
    half_diagonal = np.hypot(width, height) / 2
    f = half_diagonal / rng.uniform(0.9, 1.2) if fisheye else rng.uniform(0.6, 1.6) * width
    r_corner = half_diagonal / f  # corner radius, distorted normalised units (theta for fisheye)
    value = {"f": f, "fx": f, "fy": f * rng.uniform(0.97, 1.03),
             "cx": (width - 1) / 2 + rng.uniform(-0.03, 0.03) * width,
             "cy": (height - 1) / 2 + rng.uniform(-0.03, 0.03) * height,
             "p1": rng.uniform(-2e-3, 2e-3), "p2": rng.uniform(-2e-3, 2e-3)}
    # name: (largest fraction added at the corner, power of r^2); k4..k6 of FULL_OPENCV divide
    terms = {"k": (0.3, 1), "k1": (0.3, 1), "k2": (0.1, 2), "k3": (0.05, 3),
             "k4": (0.02, 4) if fisheye else (0.1, 1), "k5": (0.05, 2), "k6": (0.02, 3)}
    for name in names:
        if name in terms:
            amount, power = terms[name]
            value[name] = rng.uniform(-amount, amount) / r_corner ** (2 * power)
    if "skew" in names:
        value["skew"] = rng.uniform(-0.01, 0.01) * f
    params = np.array([value[n] for n in names])
    distortion = np.array([n in terms or n in ("p1", "p2") for n in names])
    for _ in range(30):
        if _invertible_on_image(model, params, width, height):
            return params
        params[distortion] *= 0.5
    raise AssertionError(f"make_camera_model: {model} {params} not invertible even undistorted")


def _invertible_on_image(model, params, width, height, min_slope=0.1, margin=1.05):
    """Along 20 rays from the principal point (4 through the corners) the distorted radius grows
    with slope >= min_slope until it passes `margin` times the farthest corner."""
    K = calibration_matrix(model, params)
    fx, fy, c = K[0, 0], K[1, 1], K[:2, 2]
    corners = (np.array([[-0.5, -0.5], [width - 0.5, -0.5], [-0.5, height - 0.5],
                         [width - 0.5, height - 0.5]]) - c) / [fx, fy]
    reach = margin * np.linalg.norm(corners, axis=1).max()
    angles = np.r_[np.linspace(0, 2 * np.pi, 16, endpoint=False),
                   np.arctan2(corners[:, 1], corners[:, 0])]
    if model in FISHEYE:  # off-axis angle up to 83 degrees
        t = np.linspace(0, 1.45, 1000)
        rho, z = np.sin(t), np.cos(t)
    else:
        t = np.linspace(0, 4 * reach, 1000)
        rho, z = t, np.ones_like(t)
    for phi in angles:
        d = np.array([np.cos(phi), np.sin(phi)])
        X = np.column_stack([rho * d[0], rho * d[1], z])
        g = ((project(model, params, X) - c) / [fx, fy]) @ d
        past = np.flatnonzero(g >= reach)
        if not np.isfinite(g).all() or len(past) == 0:
            return False
        if (np.diff(g[:past[0] + 1]) < min_slope * np.diff(t[:past[0] + 1])).any():
            return False
    return True


def _unit(v):
    return v / np.linalg.norm(v)


def _look(eye, K, rng, width, height):
    """Camera at `eye` looking near the origin, with a random roll about its optical axis."""
    up = (0.0, -1.0, 0.0) if abs(_unit(eye)[1]) < 0.9 else (1.0, 0.0, 0.0)
    cam = look_at(eye, rng.normal(scale=0.2, size=3), K, up=up, width=width, height=height)
    roll = rotation_from_axis_angle([0.0, 0.0, rng.uniform(-np.pi, np.pi)])
    R = roll @ cam.R
    return Camera(K, R, -R @ eye, width, height)


def similarity_transform(X, s, R, T):
    """Apply the world similarity `X -> s R X + T` to points (N, 3)."""
    return s * np.asarray(X) @ np.asarray(R).T + T


def transform_camera(cam, s, R, T):
    """The camera that sees the world transformed by `X -> s R X + T` exactly as `cam` sees the
    original world (same pixels, depths scaled by s)."""
    Rn = cam.R @ R.T
    return Camera(cam.K, Rn, s * cam.t - Rn @ T, cam.width, cam.height)


# ---------------------------------------------------------------------------- strategies

def _need_hypothesis():
    if st is None:
        raise ImportError("geom.testing strategies need hypothesis: pip install 'mvdepth[test]'")


def seeds():
    _need_hypothesis()
    return st.integers(min_value=0, max_value=2**32 - 1)


def rotations():
    """Strategy: uniformly random rotation matrices (3, 3)."""
    return seeds().map(random_rotation)


def cameras(width=640, height=480):
    """Strategy: random cameras at distance ~5 from the origin, looking near it."""
    def build(seed):
        rng = np.random.default_rng(seed)
        return _look(5.0 * _unit(rng.normal(size=3)), make_intrinsics(rng, width, height), rng,
                     width, height)
    return seeds().map(build)


def camera_rings(n_views=(3, 8)):
    """Strategy: lists of cameras on a ring around the origin (see `make_camera_ring`)."""
    _need_hypothesis()
    return st.tuples(seeds(), st.integers(*n_views)).map(lambda a: make_camera_ring(a[0], a[1]))


def camera_models(models=tuple(MODELS), width=640, height=480):
    """Strategy: `(model name, params (P,))` drawn from `models` (names of `ALL_MODELS`; default
    COLMAP's) by `make_camera_model`, whose distortion is realistic and invertible on the whole
    `width` x `height` image."""
    _need_hypothesis()
    return st.tuples(st.sampled_from(models), seeds()).map(
        lambda a: (a[0], make_camera_model(a[1], a[0], width, height)))


def scenes(n_views=(2, 4), n_points=(8, 200)):
    """Strategy: `(cameras, X)` with every point in front of and visible in every camera."""
    _need_hypothesis()

    def build(args):
        seed, v, n = args
        cams = make_camera_ring(seed, v, arc=np.pi / 2)
        return cams, make_points_in_view(seed, cams, n)
    return st.tuples(seeds(), st.integers(*n_views), st.integers(*n_points)).map(build)


def two_view_problems(n_points=(8, 200), noise=0.0, outlier_ratio=0.0, planar=False):
    """Strategy: `TwoViewProblem`s. `n_points` is an int or an inclusive (min, max) range;
    `noise` and `outlier_ratio` are fixed values or (min, max) ranges drawn uniformly."""
    _need_hypothesis()

    def ranged(v, integer=False):
        if np.isscalar(v):
            return st.just(v)
        return st.integers(*v) if integer else st.floats(*v)

    return st.builds(
        lambda seed, n, s, o: make_two_view(seed, n, s, o, planar=planar),
        seeds(), ranged(n_points, True), ranged(noise), ranged(outlier_ratio))


# ---------------------------------------------------------------------------- invariants

def assert_rotation(R, atol=1e-9):
    R = np.asarray(R)
    assert R.shape == (3, 3), R.shape
    np.testing.assert_allclose(R.T @ R, np.eye(3), atol=atol)
    assert abs(np.linalg.det(R) - 1) < atol, np.linalg.det(R)


def assert_epipolar(F, x1, x2, atol):
    """Every correspondence satisfies `x2^T F x1 = 0` (F normalised to unit Frobenius norm, pixels
    scaled by their largest magnitude so `atol` is dimensionless)."""
    F = np.asarray(F) / np.linalg.norm(F)
    s = max(np.abs(x1).max(), np.abs(x2).max(), 1.0)
    S = np.diag([1 / s, 1 / s, 1.0])
    Fs = np.linalg.inv(S).T @ F @ np.linalg.inv(S)
    h1 = np.column_stack([np.asarray(x1) / s, np.ones(len(x1))])
    h2 = np.column_stack([np.asarray(x2) / s, np.ones(len(x2))])
    r = np.abs(np.einsum("ni,ij,nj->n", h2, Fs / np.linalg.norm(Fs), h1))
    assert r.max() <= atol, f"max |x2^T F x1| = {r.max():.3g} > {atol}"


def assert_rank2(F, rtol=1e-9):
    s = np.linalg.svd(np.asarray(F), compute_uv=False)
    assert s[2] <= rtol * s[0], f"smallest singular value {s[2]:.3g} is not ~0 (largest {s[0]:.3g})"


def assert_essential(E, rtol=1e-9):
    """Two equal singular values and one zero."""
    s = np.linalg.svd(np.asarray(E), compute_uv=False)
    assert abs(s[0] - s[1]) <= rtol * s[0], f"singular values {s} are not (s, s, 0)"
    assert s[2] <= rtol * s[0], f"singular values {s} are not (s, s, 0)"


def assert_same_up_to_scale(A, B, atol):
    """`A` and `B` equal up to a non-zero scale factor (including sign), compared at unit norm."""
    a = np.ravel(A) / np.linalg.norm(A)
    b = np.ravel(B) / np.linalg.norm(B)
    err = min(np.abs(a - b).max(), np.abs(a + b).max())
    assert err <= atol, f"differ by {err:.3g} after scale normalisation (atol {atol})"
