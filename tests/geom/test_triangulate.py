import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from geom.camera import Camera, intrinsic_matrix
from geom.rotation import angle_between, random_rotation
from geom.testing import (make_two_view, scenes, seeds, similarity_transform, transform_camera,
                          two_view_problems)
from geom.triangulate import (MIN_PARALLAX, cheirality_parallax_check, dlt, dlt_multiview,
                              midpoint, reprojection_errors)

TWO_VIEW = [lambda *a: midpoint(*a, weighted=False), midpoint, dlt]
TWO_VIEW_IDS = ["midpoint_centre", "midpoint_weighted", "dlt"]


@pytest.mark.parametrize("triangulate", TWO_VIEW, ids=TWO_VIEW_IDS)
@given(scene=scenes(n_views=(2, 2), n_points=(1, 60)))
def test_two_view_reproduces_points(triangulate, scene):
    (cam1, cam2), X = scene
    Y = triangulate(cam1, cam2, cam1.project(X), cam2.project(X))
    np.testing.assert_allclose(Y, X, atol=1e-9 * np.linalg.norm(cam1.center))


@given(scene=scenes(n_views=(2, 5), n_points=(1, 60)), seed=seeds())
def test_multiview_dlt_reproduces_points_with_missing_views(scene, seed):
    cams, X = scene
    xs = np.stack([c.project(X) for c in cams])
    rng = np.random.default_rng(seed)
    mask = rng.random(xs.shape[:2]) < 0.6
    for j in range(X.shape[0]):  # every point keeps two random views
        mask[rng.choice(len(cams), 2, replace=False), j] = True
    xs[~mask] = np.nan  # unobserved entries are ignored
    np.testing.assert_allclose(dlt_multiview(cams, xs, mask), X,
                               atol=1e-9 * np.linalg.norm(cams[0].center))
    np.testing.assert_array_less(reprojection_errors(cams, X, np.nan_to_num(xs))[mask], 1e-6)


@pytest.mark.parametrize("triangulate", TWO_VIEW, ids=TWO_VIEW_IDS)
@given(p=two_view_problems(n_points=(1, 40), noise=(0.5, 3.0)), seed=seeds())
def test_similarity_invariance_on_noisy_data(triangulate, p, seed):
    rng = np.random.default_rng(seed)
    s, R, T = rng.uniform(0.01, 100), random_rotation(rng), rng.normal(scale=10, size=3)
    c1, c2 = transform_camera(p.cam1, s, R, T), transform_camera(p.cam2, s, R, T)
    expected = similarity_transform(triangulate(p.cam1, p.cam2, p.x1, p.x2), s, R, T)
    np.testing.assert_allclose(triangulate(c1, c2, p.x1, p.x2), expected,
                               atol=1e-7 * s * np.linalg.norm(p.cam1.center))


def _feet(p, X):
    """The points of the two viewing rays nearest to X, and the rays' unit directions."""
    out = []
    for cam, x in ((p.cam1, p.x1), (p.cam2, p.x2)):
        d = cam.rays(x)
        out.append((cam.center + ((X - cam.center) * d).sum(1, keepdims=True) * d, d))
    return out


@given(p=two_view_problems(n_points=(1, 40), noise=(0.5, 3.0)))
def test_midpoint_is_centre_of_common_perpendicular(p):
    X = midpoint(p.cam1, p.cam2, p.x1, p.x2, weighted=False)
    (f1, d1), (f2, d2) = _feet(p, X)
    scale = np.linalg.norm(p.cam1.center)
    np.testing.assert_allclose(X, (f1 + f2) / 2, atol=1e-9 * scale)
    for d in (d1, d2):  # the segment is perpendicular to both rays
        np.testing.assert_allclose(((f2 - f1) * d).sum(1), 0, atol=1e-9 * scale)


@given(p=two_view_problems(n_points=(1, 40), noise=(0.5, 3.0)))
def test_weighted_midpoint_lies_on_the_common_perpendicular(p):
    Xw = midpoint(p.cam1, p.cam2, p.x1, p.x2)
    (f1, d1), (f2, d2) = _feet(p, midpoint(p.cam1, p.cam2, p.x1, p.x2, weighted=False))
    seg = f2 - f1
    a = ((Xw - f1) * seg).sum(1) / (seg * seg).sum(1)
    assert ((a >= -1e-6) & (a <= 1 + 1e-6)).all()
    np.testing.assert_allclose(Xw, f1 + a[:, None] * seg, atol=1e-9 * np.linalg.norm(p.cam1.center))


def test_weighted_midpoint_trusts_the_sharper_camera():
    # camera 2 has 10x the focal length (10x less angular noise). The two methods differ only
    # along the common perpendicular of the rays; there the weighted point sits near ray 2 and
    # is much closer to the truth than the plain mid-point.
    rng = np.random.default_rng(3)
    p = make_two_view(rng, 300)
    cam2 = p.cam2.with_intrinsics(p.cam2.K @ np.diag([10.0, 10.0, 1.0]))
    x1 = p.x1 + rng.normal(scale=1.0, size=(300, 2))
    x2 = cam2.project(p.X) + rng.normal(scale=1.0, size=(300, 2))
    normal = np.cross(p.cam1.rays(x1), cam2.rays(x2))
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    err = [np.median(np.abs(((midpoint(p.cam1, cam2, x1, x2, weighted=w) - p.X) * normal).sum(1)))
           for w in (False, True)]
    assert err[1] < 0.3 * err[0], err


@pytest.mark.parametrize("seed", range(3))
def test_noisy_accuracy_at_least_opencv(seed):
    """The pixel-weighted, reweighted DLT and the weighted mid-point are no less accurate than
    OpenCV's DLT on noisy data (different focal lengths and depths), where the plain mid-point
    can be several percent worse."""
    rng = np.random.default_rng(seed)
    p = make_two_view(rng, 2000, noise=1.0)
    h = cv2.triangulatePoints(p.cam1.P, p.cam2.P, p.x1.T, p.x2.T)
    err = {"cv2": (h[:3] / h[3]).T, "dlt": dlt(p.cam1, p.cam2, p.x1, p.x2),
           "weighted": midpoint(p.cam1, p.cam2, p.x1, p.x2)}
    err = {k: np.median(np.linalg.norm(v - p.X, axis=1)) for k, v in err.items()}
    assert err["dlt"] <= 1.01 * err["cv2"] and err["weighted"] <= 1.02 * err["cv2"], err


def test_reprojection_errors_are_pixel_distances():
    p = make_two_view(0, 20)
    shift = np.array([3.0, 4.0])
    err = reprojection_errors([p.cam1, p.cam2], p.X, np.stack([p.x1 + shift, p.x2]))
    np.testing.assert_allclose(err[0], 5.0, rtol=1e-9)
    np.testing.assert_allclose(err[1], 0.0, atol=1e-9)
    behind = 2 * p.cam1.center - p.X  # reflected through camera 1's centre
    assert np.isinf(reprojection_errors([p.cam1], behind, p.x1[None])).all()


@given(p=two_view_problems(n_points=(1, 40)))
def test_check_flags_points_behind_a_camera(p):
    X = dlt(p.cam1, p.cam2, p.x1, p.x2)
    check = cheirality_parallax_check(p.cam1, p.cam2, X)
    assert check.in_front.all()
    np.testing.assert_array_equal(check.ok, check.parallax >= MIN_PARALLAX)
    for cam in (p.cam1, p.cam2):
        behind = 2 * cam.center - X
        check = cheirality_parallax_check(p.cam1, p.cam2, behind)
        assert not check.in_front.any() and not check.ok.any()


@given(p=two_view_problems(n_points=(1, 40)), far=st.floats(1e3, 1e6))
def test_check_flags_nearly_parallel_rays(p, far):
    X = p.X[:5]
    for j, x in enumerate(X):
        expected = angle_between(x - p.cam1.center, x - p.cam2.center)
        np.testing.assert_allclose(cheirality_parallax_check(p.cam1, p.cam2, x[None]).parallax[0],
                                   expected, rtol=1e-9)
    distant = p.cam1.center + far * (p.X - p.cam1.center)  # same pixel in camera 1, far away
    check = cheirality_parallax_check(p.cam1, p.cam2, distant)
    # far along the ray, a point is in front of camera 2 iff the ray's direction is (margin for
    # the finite distance)
    direction_z2 = (p.X - p.cam1.center) @ p.cam2.R[2]
    clear = np.abs(direction_z2) > 1e-2 * np.linalg.norm(p.X - p.cam1.center, axis=1)
    assert (check.in_front[clear] == (direction_z2[clear] > 0)).all()
    assert (check.parallax < MIN_PARALLAX).all() and not check.ok.any()
    assert (cheirality_parallax_check(p.cam1, p.cam2, distant, min_angle=0.0).ok
            == check.in_front).all()


def test_exactly_parallel_rays_give_nan():
    K = intrinsic_matrix(500, cx=320, cy=240)
    cam1, cam2 = Camera(K, np.eye(3), [0.0, 0, 0]), Camera(K, np.eye(3), [-1.0, 0, 0])
    x = np.array([[100.0, 200.0], [320.0, 240.0]])
    X = midpoint(cam1, cam2, x, x + [[0, 0], [10, 0]])
    assert np.isnan(X[0]).all() and np.isfinite(X[1]).all()


# ------------------------------------------------------------------------------ bad input

@pytest.fixture(scope="module")
def pair():
    return make_two_view(1, 10)


@pytest.mark.parametrize("triangulate", TWO_VIEW, ids=TWO_VIEW_IDS)
def test_two_view_bad_input(triangulate, pair):
    p = pair
    with pytest.raises(ValueError, match=r"x1: expected shape \(N, 2\)"):
        triangulate(p.cam1, p.cam2, p.x1[:, :1], p.x2)
    with pytest.raises(ValueError, match="x2: contains NaN"):
        triangulate(p.cam1, p.cam2, p.x1, np.where(p.x2 > 300, np.nan, p.x2))
    with pytest.raises(ValueError, match="different lengths 10 and 9"):
        triangulate(p.cam1, p.cam2, p.x1, p.x2[:9])
    with pytest.raises(ValueError, match="zero baseline"):
        triangulate(p.cam1, p.cam1.with_intrinsics(p.cam2.K), p.x1, p.x2)
    with pytest.raises(ValueError, match="cam2: expected a geom.camera.Camera"):
        triangulate(p.cam1, p.cam2.P, p.x1, p.x2)


def test_multiview_bad_input(pair):
    p = pair
    cams, xs = [p.cam1, p.cam2], np.stack([p.x1, p.x2])
    with pytest.raises(ValueError, match="cams: need at least 2 cameras"):
        dlt_multiview(cams[:1], xs[:1])
    with pytest.raises(ValueError, match=r"xs: expected shape \(2, N, 2\) for 2 cameras"):
        dlt_multiview(cams, xs[:, :, :1])
    with pytest.raises(ValueError, match="mask: expected a bool array of shape"):
        dlt_multiview(cams, xs, np.ones((2, 9), bool))
    mask = np.ones((2, 10), bool)
    mask[1, 4] = False
    with pytest.raises(ValueError, match="mask: point 4 is observed in 1 view"):
        dlt_multiview(cams, xs, mask)
    xs_nan = xs.copy()
    xs_nan[0, 3] = np.nan
    with pytest.raises(ValueError, match="xs: contains NaN"):
        dlt_multiview(cams, xs_nan)
    with pytest.raises(ValueError, match=r"xs: expected shape \(2, 10, 2\)"):
        reprojection_errors(cams, p.X, xs[:, :5])
    with pytest.raises(ValueError, match=r"X: expected shape \(N, 3\)"):
        reprojection_errors(cams, p.X[:, :2], xs)
    with pytest.raises(ValueError, match="min_angle: expected an angle in radians"):
        cheirality_parallax_check(p.cam1, p.cam2, p.X, min_angle=-0.1)
    with pytest.raises(ValueError, match="zero baseline"):
        cheirality_parallax_check(p.cam1, p.cam1, p.X)


# ------------------------------------------------------------------------------ real data

def _sift(folder, name):
    """SIFT keypoint pixels (K, 2) and descriptors of one temple image (detect once per image:
    OpenCV's SIFT does not return its keypoints in a fixed order)."""
    from pipelines.datasets import middlebury_mview as mm

    sift = cv2.SIFT_create(contrastThreshold=0.01)  # the temple is dark and smooth
    kp, desc = sift.detectAndCompute(mm.load_image(folder, name, gray=True), None)
    return np.array([k.pt for k in kp]), desc


def _match(desc_a, desc_b):
    """Indices (M,), (M,) of the ratio-test nearest-neighbour matches."""
    good = [m for m, n in cv2.BFMatcher().knnMatch(desc_a, desc_b, k=2)
            if m.distance < 0.8 * n.distance]
    return np.array([m.queryIdx for m in good]), np.array([m.trainIdx for m in good])


@pytest.fixture
def temple(dataset):
    from pipelines.datasets import middlebury_mview as mm

    folder = dataset("middlebury_mview") / "templeSparseRing"
    return folder, mm.load_cameras(folder)


def test_temple_matches_triangulate_inside_the_object(temple):
    """SIFT matches between two neighbouring temple views, triangulated with the ground-truth
    cameras: the matches consistent with those cameras (reprojection error < 1 px) land in the
    temple's published bounding box, and the three methods agree."""
    folder, cams = temple
    (p1, d1), (p2, d2) = _sift(folder, "templeSR0001.png"), _sift(folder, "templeSR0002.png")
    i1, i2 = _match(d1, d2)
    x1, x2 = p1[i1], p2[i2]
    c1, c2 = cams["templeSR0001.png"], cams["templeSR0002.png"]

    X = dlt(c1, c2, x1, x2)
    err = reprojection_errors([c1, c2], X, np.stack([x1, x2])).max(axis=0)
    ok = (err < 1.0) & cheirality_parallax_check(c1, c2, X).ok
    assert ok.sum() >= 40, ok.sum()
    lo = np.array([-0.073568, 0.021728, -0.012445]) - 0.005  # README.txt, plus 5 mm
    hi = np.array([0.028855, 0.181892, 0.062736]) + 0.005
    assert ((X[ok] > lo) & (X[ok] < hi)).all(axis=1).mean() > 0.95
    for Y in (midpoint(c1, c2, x1, x2, weighted=False), midpoint(c1, c2, x1, x2)):
        assert np.median(np.linalg.norm(Y[ok] - X[ok], axis=1)) < 1e-4  # 0.1 mm


def test_temple_tracks_over_three_views(temple):
    """Chain SIFT matches 1-2 and 2-3 into tracks (seen in views 1 and 2, some also in 3) and
    triangulate them all at once with a visibility mask: the tracks that two views confirm
    (reprojection < 1 px) mostly reproject within 2 px in the third view too, where they are
    seen, and the three-view points stay within a pixel in all their views."""
    folder, cams = temple
    names = ["templeSR0010.png", "templeSR0001.png", "templeSR0002.png"]  # 23 degrees apart
    (p1, d1), (p2, d2), (p3, d3) = (_sift(folder, n) for n in names)
    i1, i2 = _match(d1, d2)
    j2, j3 = _match(d2, d3)
    x1, x2 = p1[i1], p2[i2]
    third = dict(zip(j2, p3[j3]))
    xs = np.full((3, len(x1), 2), np.nan)
    xs[0], xs[1] = x1, x2
    mask = np.zeros((3, len(x1)), bool)
    mask[:2] = True
    for k, i in enumerate(i2):
        if i in third:
            xs[2, k], mask[2, k] = third[i], True
    views = [cams[n] for n in names]
    pair = dlt(views[0], views[1], x1, x2)
    confirmed = reprojection_errors(views[:2], pair, xs[:2]).max(axis=0) < 1.0
    tracked = confirmed & mask[2]
    err3 = reprojection_errors(views[2:], pair[tracked], xs[2:, tracked])[0]
    assert tracked.sum() >= 100, tracked.sum()
    assert (err3 < 2.0).mean() > 0.9, np.median(err3)
    X = dlt_multiview(views, xs, mask)
    # confirmed tracks seen in views 1 and 2 only: the two-view result, up to the world
    # normalisation (another mean centre), which moves a noisy algebraic solution by far less
    # than its noise (1 um here, against ~0.1 mm)
    only2 = confirmed & ~mask[2]
    np.testing.assert_allclose(X[only2], pair[only2], atol=1e-6)
    good = tracked.copy()
    good[tracked] = err3 < 2.0
    err = reprojection_errors(views, X[good], np.nan_to_num(xs[:, good]))
    assert np.median(err) < 0.5 and err.max() < 2.0, (np.median(err), err.max())


def test_temple_duplicate_view_is_a_zero_baseline(temple):
    """templeSR0011 repeats templeSR0001's camera (centres equal to 1e-16): refused, not
    triangulated into garbage."""
    _, cams = temple
    c1, c11 = cams["templeSR0001.png"], cams["templeSR0011.png"]
    x = np.array([[300.0, 200.0], [320.0, 260.0]])
    for fn in (midpoint, dlt):
        with pytest.raises(ValueError, match="zero baseline"):
            fn(c1, c11, x, x)
