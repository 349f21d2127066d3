import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from geom.camera import intrinsic_matrix, look_at
from geom.rectify import (depth_to_disparity, disparity_to_depth, rectification_maps,
                          rectify_images, rectify_pair)
from geom.testing import assert_rotation, make_camera_ring, make_points_in_view, seeds
from geom.triangulate import dlt, midpoint, reprojection_errors

SIZE = (640, 480)


def stereo_scenes():
    """Strategy: (cam1, cam2, X) two ring cameras 0.05-1 rad apart looking at the origin, in
    either order (so cam2 stands on cam1's right or left), and points both see."""
    def build(args):
        seed, arc, swap = args
        cams = make_camera_ring(seed, 2, arc=arc, width=SIZE[0], height=SIZE[1])
        cams = cams[::-1] if swap else cams
        return cams[0], cams[1], make_points_in_view(seed, cams, 30)
    return st.tuples(seeds(), st.floats(0.05, 1.0), st.booleans()).map(build)


def _apply(H, x):
    h = np.column_stack([x, np.ones(len(x))]) @ H.T
    return h[:, :2] / h[:, 2:]


@pytest.mark.parametrize("same_pp", [True, False])
@given(scene=stereo_scenes())
def test_rectified_correspondences_share_a_row(same_pp, scene):
    cam1, cam2, X = scene
    H1, H2, r1, r2 = rectify_pair(cam1, cam2, SIZE, same_principal_point=same_pp)
    y1, y2 = _apply(H1, cam1.project(X)), _apply(H2, cam2.project(X))
    scale = cam1.K[0, 0] / r1.K[0, 0]  # rectified pixels are this much larger than the originals
    np.testing.assert_allclose(y1, r1.project(X), atol=1e-8 * scale)  # H maps to the new cameras
    np.testing.assert_allclose(y2, r2.project(X), atol=1e-8 * scale)
    np.testing.assert_allclose(y1[:, 1], y2[:, 1], atol=1e-6)
    doffs = r2.K[0, 2] - r1.K[0, 2]
    assert (y1[:, 0] - y2[:, 0] + doffs > 0).all()  # cam1 is the left camera, whatever the order


@pytest.mark.parametrize("same_pp", [True, False])
@given(scene=stereo_scenes())
def test_rectified_cameras_share_K_and_R_with_baseline_along_x(same_pp, scene):
    cam1, cam2, _ = scene
    _, _, r1, r2 = rectify_pair(cam1, cam2, SIZE, same_principal_point=same_pp)
    assert np.array_equal(r1.R, r2.R)
    same = np.ones((3, 3), bool)
    same[0, 2] = same_pp  # only cx may differ
    assert np.array_equal(r1.K == r2.K, same)
    assert_rotation(r1.R)
    assert r1.K[0, 0] == r1.K[1, 1] and r1.K[0, 1] == 0
    np.testing.assert_allclose(r1.center, cam1.center, atol=1e-12)
    np.testing.assert_allclose(r2.center, cam2.center, atol=1e-12)
    b = np.linalg.norm(cam2.center - cam1.center)
    np.testing.assert_allclose(r1.R @ (r2.center - r1.center), [b, 0, 0], atol=1e-12 * b + 1e-15)
    assert r1.image_size == r2.image_size == SIZE


@given(stereo_scenes())
def test_new_K_fits_the_warped_images_tightly(scene):
    cam1, cam2, _ = scene
    w, h = SIZE
    corners = np.array([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]])
    shared = rectify_pair(cam1, cam2, SIZE)
    own = rectify_pair(cam1, cam2, SIZE, same_principal_point=False)
    boxes = []
    for H1, H2, _, _ in (shared, own):
        warped = [_apply(H1, corners), _apply(H2, corners)]
        lo = np.array([p.min(axis=0) for p in warped])
        hi = np.array([p.max(axis=0) for p in warped])
        assert (lo >= -0.5 - 1e-6).all() and (hi <= np.array(SIZE) - 0.5 + 1e-6).all()
        boxes.append((lo, hi))
    # shared K: the union of both warped images fills the width or the height, centred
    lo, hi = boxes[0][0].min(axis=0), boxes[0][1].max(axis=0)
    assert abs(((hi - lo) / SIZE).max() - 1) < 1e-9
    np.testing.assert_allclose((lo + hi) / 2, (np.array(SIZE) - 1) / 2, atol=1e-6)
    # own cx: each image is centred in x, and one of them fills the width or the height
    lo, hi = boxes[1]
    np.testing.assert_allclose((lo[:, 0] + hi[:, 0]) / 2, (w - 1) / 2, atol=1e-6)
    assert abs(max(((hi - lo)[:, 0] / w).max(), (hi[:, 1].max() - lo[:, 1].min()) / h) - 1) < 1e-9
    assert own[2].K[0, 0] >= shared[2].K[0, 0] * (1 - 1e-12)  # never a smaller focal length


@pytest.mark.parametrize("same_pp", [True, False])
@given(scene=stereo_scenes())
def test_depth_is_f_b_over_disparity_on_triangulated_points(same_pp, scene):
    cam1, cam2, X = scene
    H1, H2, r1, r2 = rectify_pair(cam1, cam2, SIZE, same_principal_point=same_pp)
    y1, y2 = _apply(H1, cam1.project(X)), _apply(H2, cam2.project(X))
    f, b, doffs = r1.K[0, 0], np.linalg.norm(r2.center - r1.center), r2.K[0, 2] - r1.K[0, 2]
    Z = disparity_to_depth(y1[:, 0] - y2[:, 0], f, b, doffs=doffs)
    for Y in (midpoint(r1, r2, y1, y2), dlt(r1, r2, y1, y2)):
        np.testing.assert_allclose(r1.depth(Y), Z, rtol=1e-8)
    np.testing.assert_allclose(depth_to_disparity(Z, f, b, doffs=doffs), y1[:, 0] - y2[:, 0],
                               atol=1e-9 * f)


@given(st.integers(0, 3).flatmap(lambda nd: st.tuples(seeds(), st.just(nd))))
def test_disparity_depth_round_trip_any_shape(args):
    seed, ndim = args
    rng = np.random.default_rng(seed)
    d = rng.uniform(0.1, 300, size=tuple(rng.integers(1, 5, ndim)))
    f, b = rng.uniform(100, 2000), rng.uniform(0.01, 2)
    doffs = rng.uniform(-50, 50)
    Z = disparity_to_depth(d, f, b)
    assert np.shape(Z) == d.shape
    np.testing.assert_allclose(Z, f * b / d, rtol=1e-12)
    np.testing.assert_allclose(depth_to_disparity(Z, f, b), d, rtol=1e-12)
    np.testing.assert_allclose(depth_to_disparity(disparity_to_depth(d - doffs, f, b, doffs=doffs),
                                                  f, b, doffs=doffs), d - doffs, atol=1e-9 * 300)


def test_disparity_depth_special_values():
    Z = disparity_to_depth(np.array([[0.0, -1.0], [np.nan, 2.0]]), 100.0, 0.5)
    assert np.isinf(Z[0, 0]) and Z[0, 0] > 0 and np.isnan(Z[0, 1]) and np.isnan(Z[1, 0])
    assert Z[1, 1] == 25.0
    d = depth_to_disparity([np.inf, 0.0, -3.0, np.nan, 25.0], 100.0, 0.5)
    np.testing.assert_array_equal(d, [0.0, np.nan, np.nan, np.nan, 2.0])
    assert np.ndim(disparity_to_depth(4.0, 100.0, 0.5)) == 0
    assert disparity_to_depth(4.0, 100.0, 0.5) == 12.5


def test_baseline_to_the_left_keeps_disparity_positive():
    K = intrinsic_matrix(500, cx=319.5, cy=239.5)
    left = look_at([-0.5, 0, -5], [-0.5, 0, 0], K, width=640, height=480)
    right = look_at([0.5, 0, -5], [0.5, 0, 0], K, width=640, height=480)
    X = make_points_in_view(0, [left, right], 20)
    for c1, c2 in ((left, right), (right, left)):
        H1, H2, r1, r2 = rectify_pair(c1, c2, SIZE)
        y1, y2 = _apply(H1, c1.project(X)), _apply(H2, c2.project(X))
        assert (y1[:, 0] > y2[:, 0]).all()
        np.testing.assert_allclose(y1[:, 1], y2[:, 1], atol=1e-9)
    # an already rectified pair is kept as it is (up to the fitted K); swapped, it turns 180 deg
    np.testing.assert_allclose(rectify_pair(left, right, SIZE)[2].R, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(rectify_pair(right, left, SIZE)[2].R, np.diag([-1.0, -1, 1]),
                               atol=1e-12)


@given(stereo_scenes())
def test_rectification_maps_invert_the_homography(scene):
    cam1, cam2, _ = scene
    H1 = rectify_pair(cam1, cam2, SIZE)[0]
    map_x, map_y = rectification_maps(H1, SIZE)
    assert map_x.shape == map_y.shape == (SIZE[1], SIZE[0]) and map_x.dtype == np.float32
    rng = np.random.default_rng(0)
    uv = np.column_stack([rng.integers(0, SIZE[0], 50), rng.integers(0, SIZE[1], 50)])
    src = np.column_stack([map_x[uv[:, 1], uv[:, 0]], map_y[uv[:, 1], uv[:, 0]]])
    near = (np.abs(src) < 2000).all(axis=1)  # float32 maps: compare where they are precise
    np.testing.assert_allclose(_apply(H1, src[near]), uv[near], atol=1e-3)
    # -1e6 marks exactly the rectified pixels whose ray is behind the original camera
    rays = np.column_stack([uv, np.ones(50)]) @ np.linalg.inv(H1).T
    np.testing.assert_array_equal((src == -1e6).all(axis=1), rays[:, 2] <= 0)


def test_rectify_images_warps_by_the_maps():
    cam1, cam2 = make_camera_ring(5, 2, arc=0.4)
    H1, H2, _, _ = rectify_pair(cam1, cam2, SIZE)
    ramp = np.tile(np.arange(SIZE[0], dtype=np.float32), (SIZE[1], 1))  # intensity = x
    rgb = np.dstack([ramp.astype(np.uint8)] * 3)
    out1, out2 = rectify_images(ramp, rgb, H1, H2)
    assert out1.shape == ramp.shape and out1.dtype == np.float32
    assert out2.shape == rgb.shape and out2.dtype == np.uint8
    map_x, map_y = rectification_maps(H1, SIZE)
    inner = (map_x > 1) & (map_x < SIZE[0] - 2) & (map_y > 1) & (map_y < SIZE[1] - 2)
    assert inner.sum() > 10000
    np.testing.assert_allclose(out1[inner], map_x[inner], atol=1e-2)
    outside = (map_x < -1) | (map_y < -1) | (map_x > SIZE[0]) | (map_y > SIZE[1])
    assert (out1[outside] == 0).all()


# ------------------------------------------------------------------------------ bad input

def test_rectify_pair_bad_input():
    K = intrinsic_matrix(500, cx=319.5, cy=239.5)
    cam = look_at([0, 0, -5], [0, 0, 0], K, width=640, height=480)
    with pytest.raises(ValueError, match="zero baseline"):
        rectify_pair(cam, cam.with_intrinsics(intrinsic_matrix(600, cx=319.5, cy=239.5)), SIZE)
    forward = look_at([0, 0, -4], [0, 0, 0], K, width=640, height=480)
    with pytest.raises(ValueError, match="baseline parallel to the mean viewing direction"):
        rectify_pair(cam, forward, SIZE)
    oblique = look_at([0.5, 0, -4], [0.5, 0, 1], K, width=640, height=480)
    with pytest.raises(ValueError, match="cam1: image reaches behind the rectified camera"):
        rectify_pair(cam, oblique, SIZE)
    right = look_at([1, 0, -5], [1, 0, 0], K, width=640, height=480)
    with pytest.raises(ValueError, match=r"cam1: image size \(640, 480\) differs from image_size"):
        rectify_pair(cam, right, (320, 240))
    with pytest.raises(ValueError, match="image_size: expected positive integers"):
        rectify_pair(cam, right, (640.5, 480))
    with pytest.raises(ValueError, match="image_size: expected \\(width, height\\)"):
        rectify_pair(cam, right, 640)
    with pytest.raises(ValueError, match="cam2: expected a geom.camera.Camera"):
        rectify_pair(cam, right.P, SIZE)


def test_maps_and_images_bad_input():
    with pytest.raises(ValueError, match="H: contains NaN"):
        rectification_maps(np.full((3, 3), np.nan), SIZE)
    with pytest.raises(ValueError, match=r"H: expected shape \(3, 3\)"):
        rectification_maps(np.eye(2), SIZE)
    with pytest.raises(ValueError, match="H: singular homography"):
        rectification_maps(np.diag([1.0, 1.0, 0.0]), SIZE)
    img = np.zeros((480, 640), np.uint8)
    with pytest.raises(ValueError, match=r"img2: expected an image of shape \(H, W\)"):
        rectify_images(img, np.zeros(640, np.uint8), np.eye(3), np.eye(3))
    with pytest.raises(ValueError, match="img1: expected dtype uint8 or float32, got float64"):
        rectify_images(img.astype(float), img, np.eye(3), np.eye(3))
    with pytest.raises(ValueError, match="f: must be a positive finite number"):
        disparity_to_depth(np.ones(3), 0.0, 1.0)
    with pytest.raises(ValueError, match="baseline: must be a positive finite number"):
        depth_to_disparity(np.ones(3), 100.0, -1.0)
    with pytest.raises(ValueError, match="doffs: must be a finite number"):
        disparity_to_depth(np.ones(3), 100.0, 1.0, doffs=np.nan)
    with pytest.raises(ValueError, match="d: expected a numeric array"):
        disparity_to_depth("abc", 100.0, 1.0)


# ------------------------------------------------------------------------------ real data

@pytest.mark.parametrize("same_pp", [True, False])
def test_temple_rectified_sift_matches_share_a_row(dataset, same_pp):
    """Rectify two neighbouring temple views with the ground-truth cameras, SIFT-match the
    rectified images: matches consistent with the cameras (reprojection error of their
    triangulation below 1 px, in the original images) lie on the same rectified row."""
    from pipelines.datasets import middlebury_mview as mm

    folder = dataset("middlebury_mview") / "templeSparseRing"
    cams = mm.load_cameras(folder)
    names = ["templeSR0001.png", "templeSR0002.png"]
    c1, c2 = cams[names[0]], cams[names[1]]
    H1, H2, r1, r2 = rectify_pair(c1, c2, c1.image_size, same_principal_point=same_pp)
    imgs = rectify_images(*(mm.load_image(folder, n, gray=True) for n in names), H1, H2)
    sift = cv2.SIFT_create()
    feats = [sift.detectAndCompute(img, None) for img in imgs]
    knn = cv2.BFMatcher().knnMatch(feats[0][1], feats[1][1], k=2)
    good = [m for m, n in knn if m.distance < 0.8 * n.distance]
    y1 = np.array([feats[0][0][m.queryIdx].pt for m in good])
    y2 = np.array([feats[1][0][m.trainIdx].pt for m in good])
    x1, x2 = _apply(np.linalg.inv(H1), y1), _apply(np.linalg.inv(H2), y2)
    err = reprojection_errors([c1, c2], dlt(c1, c2, x1, x2), np.stack([x1, x2])).max(axis=0)
    consistent = err < 1.0
    assert consistent.sum() >= 30, consistent.sum()
    dy = np.abs(y1[consistent, 1] - y2[consistent, 1])
    assert np.median(dy) < 0.3, np.median(dy)
    doffs = r2.K[0, 2] - r1.K[0, 2]
    assert (y1[consistent, 0] - y2[consistent, 0] + doffs > 0).all()  # positive disparities


def test_temple_duplicate_view_is_refused(dataset):
    """templeSR0011 repeats templeSR0001's camera: zero baseline, nothing to rectify."""
    from pipelines.datasets import middlebury_mview as mm

    cams = mm.load_cameras(dataset("middlebury_mview") / "templeSparseRing")
    c1, c11 = cams["templeSR0001.png"], cams["templeSR0011.png"]
    with pytest.raises(ValueError, match="zero baseline"):
        rectify_pair(c1, c11, c1.image_size)
