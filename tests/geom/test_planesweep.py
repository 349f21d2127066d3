import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geom.camera import Camera, intrinsic_matrix, relative_pose
from geom.planesweep import inverse_depth_planes, multibody_plane_sweep, plane_sweep
from geom.rotation import rotation_from_axis_angle
from geom.testing import seeds
from pipelines.datasets import middlebury_mview

H, W = 96, 128
K = intrinsic_matrix(120.0, 120.0, (W - 1) / 2, (H - 1) / 2)
BASELINES = ([0.3, 0.0, 0.0], [-0.3, 0.0, 0.0], [0.0, 0.25, 0.0], [0.1, -0.2, 0.05])


def texture(seed, h=H, w=W):
    """Random texture with structure at a few pixels' scale (uint8)."""
    rng = np.random.default_rng(seed)
    t = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 1.0)
    return cv2.normalize(t, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)


def plane_homography(R, t, n, d, K1=K, K2=K):
    """Reference pixels -> source pixels for the plane n.X = d (reference camera frame)."""
    return K2 @ (R + np.outer(t, n) / d) @ np.linalg.inv(K1)


def plane_depth(n, d):
    """True depth (H, W) of the plane n.X = d seen by a camera with calibration K."""
    ys, xs = np.mgrid[0:H, 0:W]
    rays = np.stack([(xs - K[0, 2]) / K[0, 0], (ys - K[1, 2]) / K[1, 1], np.ones((H, W))], -1)
    return d / (rays @ n)


def plane_scene(seed, n=(0.0, 0.0, 1.0), d=2.0, scale=1.0):
    """Reference image and camera plus 4 source views of the textured plane n.X = d; the whole
    scene (plane and baselines) scaled by `scale`."""
    n = np.asarray(n, float) / np.linalg.norm(n)
    ref_img = texture(seed)
    ref_cam = Camera(K, np.eye(3), np.zeros(3), W, H)
    rng = np.random.default_rng(seed)
    sources = []
    for b in BASELINES:
        R = rotation_from_axis_angle(rng.normal(scale=0.02, size=3))
        t = scale * np.asarray(b)
        img = cv2.warpPerspective(ref_img, plane_homography(R, t, n, scale * d), (W, H))
        sources.append((img, Camera(K, R, t, W, H)))
    return ref_img, ref_cam, sources, scale * plane_depth(n, d)


INTERIOR = (slice(12, -12), slice(12, -12))


def rel_err(depth, truth):
    return np.abs(depth - truth)[INTERIOR] / truth[INTERIOR]


def test_fronto_parallel_plane_depth_within_half_a_percent():
    ref, cam, sources, truth = plane_scene(1)
    out = plane_sweep(ref, cam, sources, depth_range=(1.0, 5.0), num_planes=48)
    e = rel_err(out.depth, truth)
    assert np.isfinite(e).mean() > 0.99
    assert np.nanmedian(e) < 0.005 and np.mean(e < 0.01) > 0.97
    assert out.depth.dtype == np.float32 and out.confidence.shape == (H, W)
    assert out.labels is None and out.cost is None


def test_slanted_plane_depth_within_one_percent():
    ref, cam, sources, truth = plane_scene(2, n=(0.3, -0.2, 1.0), d=2.0)
    assert truth.max() / truth.min() > 1.3  # really slanted
    out = plane_sweep(ref, cam, sources, depth_range=(1.0, 5.0), num_planes=64)
    e = rel_err(out.depth, truth)
    assert np.nanmedian(e) < 0.01 and np.mean(e < 0.02) > 0.95


def test_cost_volume_on_request_and_explicit_depths():
    ref, cam, sources, truth = plane_scene(3)
    depths = np.linspace(1.5, 3.0, 31)  # increasing: kept far to near internally
    out = plane_sweep(ref, cam, sources, depths=depths, return_cost=True, aggregation="box")
    assert out.cost.shape == (H, W, 31)
    np.testing.assert_allclose(out.planes, depths[::-1])
    # the plane of least cost is the true one (depth 2.0 is a sampled plane)
    best = out.planes[np.argmin(out.cost, axis=2)][INTERIOR]
    assert np.mean(best == 2.0) > 0.95


@settings(max_examples=4)
@given(seeds(), st.floats(0.05, 20.0))
def test_scaling_scene_and_baselines_scales_depths(seed, s):
    ref, cam, sources, _ = plane_scene(seed % 1000, n=(0.1, 0.2, 1.0))
    scaled = [(img, Camera(c.K, c.R, s * c.t, W, H)) for img, c in sources]
    a = plane_sweep(ref, cam, sources, depth_range=(1.0, 5.0), num_planes=32)
    b = plane_sweep(ref, cam, scaled, depth_range=(s * 1.0, s * 5.0), num_planes=32)
    both = np.isfinite(a.depth) & np.isfinite(b.depth)
    assert both.mean() > 0.9 and (np.isfinite(a.depth) == np.isfinite(b.depth)).mean() > 0.99
    np.testing.assert_allclose(b.depth[both], s * a.depth[both], rtol=1e-4)


def test_swapping_the_reference_gives_consistent_depths():
    """Depths of view A moved into view B agree with B's own depth map (and back)."""
    n = np.array([0.2, 0.1, 1.0]) / np.linalg.norm([0.2, 0.1, 1.0])
    d = 2.0
    img_a = texture(5)
    cam_a = Camera(K, np.eye(3), np.zeros(3), W, H)
    poses = [(rotation_from_axis_angle([0, 0.03, 0]), np.array([0.35, 0.0, 0.0])),
             (rotation_from_axis_angle([0.02, 0, 0]), np.array([0.0, 0.3, 0.02]))]
    R_b, t_b = poses[0]
    cam_b = Camera(K, R_b, t_b, W, H)
    img_b = cv2.warpPerspective(img_a, plane_homography(R_b, t_b, n, d), (W, H))
    img_c = cv2.warpPerspective(img_a, plane_homography(*poses[1], n, d), (W, H))
    cam_c = Camera(K, *poses[1], W, H)
    da = plane_sweep(img_a, cam_a, [(img_b, cam_b), (img_c, cam_c)], depth_range=(1, 5),
                     num_planes=64).depth
    db = plane_sweep(img_b, cam_b, [(img_a, cam_a), (img_c, cam_c)], depth_range=(1, 5),
                     num_planes=64).depth
    ys, xs = np.mgrid[16:H - 16, 16:W - 16]
    x = np.column_stack([xs.ravel(), ys.ravel()]).astype(float)
    X = cam_a.backproject(x, da[ys, xs].ravel().astype(float))
    ok = np.isfinite(X).all(axis=1)
    xb = cam_b.project(X[ok])
    inside = cam_b.in_image(xb)
    xb, zb = np.round(xb[inside]).astype(int), cam_b.depth(X[ok][inside])
    zb_map = db[xb[:, 1], xb[:, 0]]
    e = np.abs(zb_map - zb) / zb
    assert inside.mean() > 0.8 and np.mean(e < 0.02) > 0.9


def test_two_bodies_get_their_labels_and_depths():
    """A static background plane (depth 3) and a textured square (depth 1.5) moving on its own."""
    bg, fg = texture(7), texture(8)
    z_bg, z_fg = 3.0, 1.5
    n = np.array([0.0, 0.0, 1.0])
    ref_cam = Camera(K, np.eye(3), np.zeros(3), W, H)
    square = np.zeros((H, W), np.uint8)
    square[28:68, 40:90] = 1
    ref = np.where(square > 0, fg, bg)
    rng = np.random.default_rng(3)
    sources, motions = [], [[], []]
    for b in BASELINES:
        R, t = rotation_from_axis_angle(rng.normal(scale=0.01, size=3)), np.asarray(b)
        # the square moves by its own rigid motion, then the camera moves
        Rm, tm = rotation_from_axis_angle([0.0, 0.0, 0.05]), np.array([0.08, -0.05, 0.1])
        R1, t1 = R @ Rm, R @ tm + t
        Hb, Hf = plane_homography(R, t, n, z_bg), plane_homography(R1, t1, n, z_fg)
        img_bg = cv2.warpPerspective(bg, Hb, (W, H))
        img_fg = cv2.warpPerspective(fg, Hf, (W, H))
        mask = cv2.warpPerspective(square * 255, Hf, (W, H)) > 127
        sources.append((np.where(mask, img_fg, img_bg), Camera(K, R, t, W, H)))
        motions[0].append((R, t))
        motions[1].append((R1, t1 / 2, 2.0))  # the optional scale multiplies t
    out = multibody_plane_sweep(ref, ref_cam, sources, motions, depth_range=(1.0, 6.0),
                                num_planes=64, return_cost=True)
    assert out.cost.shape == (2, H, W, 64)
    inner = np.zeros((H, W), bool)
    inner[34:62, 46:84] = True
    outer = np.zeros((H, W), bool)
    outer[8:-8, 8:-8] = True
    outer[20:76, 32:98] = False
    assert np.mean(out.labels[inner] == 1) > 0.95
    assert np.mean(out.labels[outer] == 0) > 0.9
    assert np.mean(np.abs(out.depth[inner] - z_fg) < 0.02 * z_fg) > 0.95
    assert np.mean(np.abs(out.depth[outer] - z_bg) < 0.02 * z_bg) > 0.85
    # the single-body sweep cannot explain the moving square
    static = plane_sweep(ref, ref_cam, sources, depth_range=(1.0, 6.0), num_planes=64)
    assert np.mean(np.abs(static.depth[inner] - z_fg) < 0.02 * z_fg) < 0.5


def test_untextured_pixels_have_no_depth():
    ref, cam, sources, _ = plane_scene(4)
    ref = ref.copy()
    ref[:, :40] = 128
    out = plane_sweep(ref, cam, sources, depth_range=(1.0, 5.0), num_planes=16, median=False)
    assert np.isnan(out.depth[:, :30]).all() and (out.confidence[:, :30] == 0).all()
    assert np.isfinite(out.depth[20:-20, 60:-20]).all()


def test_inverse_depth_planes():
    p = inverse_depth_planes(1.0, 4.0, 7)
    assert p[0] == pytest.approx(4.0) and p[-1] == pytest.approx(1.0)
    np.testing.assert_allclose(np.diff(1 / p), np.full(6, (1 - 0.25) / 6))


def test_bad_input_is_rejected_with_clear_errors():
    ref, cam, sources, _ = plane_scene(0)
    kw = dict(depth_range=(1.0, 5.0), num_planes=8)
    with pytest.raises(ValueError, match="depth_range: expected near < far"):
        plane_sweep(ref, cam, sources, depth_range=(3.0, 3.0))
    with pytest.raises(ValueError, match="depth_range: give"):
        plane_sweep(ref, cam, sources)
    with pytest.raises(ValueError, match="depths: contains repeated"):
        plane_sweep(ref, cam, sources, depths=[1.0, 2.0, 2.0])
    with pytest.raises(ValueError, match="depths: must be positive"):
        plane_sweep(ref, cam, sources, depths=[-1.0, 2.0])
    with pytest.raises(ValueError, match="ref_cam: camera image size 128x96 does not match"):
        plane_sweep(ref[:50], cam, sources, **kw)
    small = Camera(K, np.eye(3), np.zeros(3), 64, 48)
    with pytest.raises(ValueError, match=r"sources\[1\] camera: camera image size 64x48"):
        plane_sweep(ref, cam, [sources[0], (sources[1][0], small)], **kw)
    with pytest.raises(ValueError, match="sources: need at least one"):
        plane_sweep(ref, cam, [], **kw)
    with pytest.raises(ValueError, match="ref_cam: expected a geom.camera.Camera"):
        plane_sweep(ref, K, sources, **kw)
    with pytest.raises(ValueError, match="ref_image: expected an image of shape"):
        plane_sweep(np.zeros((H, W, 4)), cam, sources, **kw)
    bad = ref.astype(float) / 255
    bad[3, 3] = np.nan
    with pytest.raises(ValueError, match="ref_image: contains NaN"):
        plane_sweep(bad, cam, sources, **kw)
    with pytest.raises(ValueError, match="window: must be an odd integer"):
        plane_sweep(ref, cam, sources, window=4, **kw)
    with pytest.raises(ValueError, match="aggregation: expected"):
        plane_sweep(ref, cam, sources, aggregation="guided", **kw)
    motions = [[relative_pose(cam, c) for _, c in sources]]
    with pytest.raises(ValueError, match=r"motions\[0\]: expected one motion per source \(4\)"):
        multibody_plane_sweep(ref, cam, sources, [motions[0][:3]], **kw)
    with pytest.raises(ValueError, match=r"motions\[0\]\[1\] R: not a rotation"):
        multibody_plane_sweep(ref, cam, sources, [[motions[0][0], (2 * np.eye(3), np.zeros(3))]
                                                  + motions[0][2:]], **kw)
    with pytest.raises(ValueError, match=r"motions\[0\]\[0\] scale: must be a positive"):
        multibody_plane_sweep(ref, cam, sources, [[(np.eye(3), np.ones(3), 0.0)]
                                                  + motions[0][1:]], **kw)


def test_grey_and_colour_sources_mix():
    ref, cam, sources, truth = plane_scene(6)
    coloured = [(np.repeat(img[..., None], 3, axis=2), c) for img, c in sources[:2]] + sources[2:]
    a = plane_sweep(ref, cam, sources, depth_range=(1.0, 5.0), num_planes=32)
    b = plane_sweep(ref.astype(np.float32) / 255, cam, coloured, depth_range=(1.0, 5.0),
                    num_planes=32)
    np.testing.assert_allclose(a.depth, b.depth, rtol=1e-3)


def test_temple_depth_is_consistent_between_neighbouring_views(dataset):
    """templeSparseRing (half resolution): the depths of view 1 moved into view 2 agree with
    view 2's own depth map to 1 % on most of the temple."""
    folder = dataset("middlebury_mview") / "templeSparseRing"
    cams = middlebury_mview.load_cameras(folder)
    names = sorted(cams)
    views = {}
    for i in (0, 1):
        ref_name = names[i]
        src_names = [names[(i - 1) % len(names)], names[(i + 1) % len(names)],
                     names[(i + 2) % len(names)]]
        views[i] = _half(folder, ref_name, cams[ref_name]), [_half(folder, s, cams[s])
                                                             for s in src_names]
    box = middlebury_mview.load_bounding_box(folder)
    depths = {}
    for i, ((img, cam), srcs) in views.items():
        near_far = middlebury_mview.depth_range(cam, box)
        depths[i] = plane_sweep(img, cam, srcs, depth_range=near_far, num_planes=64,
                                min_std=4.0, speckle_size=50).depth
    cam_a, cam_b = views[0][0][1], views[1][0][1]
    ys, xs = np.nonzero(np.isfinite(depths[0]))
    X = cam_a.backproject(np.column_stack([xs, ys]).astype(float), depths[0][ys, xs].astype(float))
    xb = cam_b.project(X)
    inside = cam_b.in_image(xb)
    xb = np.round(xb[inside]).astype(int)
    zb = depths[1][xb[:, 1], xb[:, 0]]
    z = cam_b.depth(X[inside])
    ok = np.isfinite(zb)
    assert ok.sum() > 2000
    assert np.mean(np.abs(zb[ok] - z[ok]) < 0.01 * z[ok]) > 0.6


def _half(folder, name, cam):
    img = middlebury_mview.load_image(folder, name)
    img = cv2.resize(img, (cam.width // 2, cam.height // 2), interpolation=cv2.INTER_AREA)
    S = np.diag([0.5, 0.5, 1.0])
    K = S @ cam.K
    K[:2, 2] = (cam.K[:2, 2] + 0.5) / 2 - 0.5  # pixel centres: x_half = (x + 0.5) / 2 - 0.5
    return img, Camera(K, cam.R, cam.t, cam.width // 2, cam.height // 2)
