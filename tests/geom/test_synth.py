import json

import cv2
import numpy as np
import pytest
from hypothesis import given, settings

from geom.camera import intrinsic_matrix, look_at, relative_pose
from geom.io import load_cameras_json
from geom.rotation import skew
from geom.synth import (Body, Light, Scene, Shape, Texture, flow, flying_layers, moving_bodies,
                        orbit_ring, random_scene, render, render_frame, stereo_rig, write_folder)
from geom.synth import io as synth_io
from geom.testing import seeds

SMALL = dict(width=160, height=120)


def _moved_pixels(seq, i, j, x):
    """Reference ground truth: pixels x (N, 2) of frame i, backprojected with their depth, moved
    with their body's motion from frame i to j, projected into frame j."""
    fi, fj = seq.frames[i], seq.frames[j]
    u, v = x[:, 0].astype(int), x[:, 1].astype(int)
    X = fi.camera.backproject(x, fi.depth[v, u].astype(np.float64))
    for k, lab in enumerate(fi.labels[v, u]):
        Ri, ti = seq.scene.body_pose(lab, i)
        Rj, tj = seq.scene.body_pose(lab, j)
        X[k] = Rj @ (Ri.T @ (X[k] - ti)) + tj
    return fj.camera.project(X), fj.camera.depth(X)


def _visible_pixels(seq, i, j):
    fl, occ = seq.flow(i, j)
    v, u = np.nonzero(~occ & np.isfinite(seq.frames[i].depth))
    x = np.column_stack([u, v]).astype(np.float64)
    return x, fl[v, u].astype(np.float64), seq.frames[i].labels[v, u]


@settings(max_examples=4)
@given(seeds())
def test_flow_is_the_motion_of_each_body_projected(seed):
    seq = render(moving_bodies(n_bodies=2, n_frames=3, seed=seed % 1000, **SMALL), antialias=1)
    for i, j in [(0, 1), (2, 0)]:
        x, fl, labels = _visible_pixels(seq, i, j)
        assert (labels == 0).sum() > 1000, "the static room must be visible"
        moving = labels > 0
        assert moving.sum() > 50, "the moving bodies must be visible"
        x2, _ = _moved_pixels(seq, i, j, x)
        np.testing.assert_allclose(x + fl, x2, atol=1e-3)
        # the bodies really move independently of the room: a static-world flow would be wrong
        fi, fj = seq.frames[i], seq.frames[j]
        u, v = x[moving, 0].astype(int), x[moving, 1].astype(int)
        X_static = fi.camera.backproject(x[moving], fi.depth[v, u].astype(np.float64))
        assert np.abs(fj.camera.project(X_static) - x2[moving]).max() > 1.0


@settings(max_examples=3)
@given(seeds())
def test_flow_of_random_scenes_and_layers_matches_reprojection(seed):
    for scene in (random_scene(seed % 1000, **SMALL), flying_layers(seed % 1000, **SMALL)):
        seq = render(scene, antialias=1)
        x, fl, _ = _visible_pixels(seq, 0, 1)
        assert len(x) > 0.3 * 160 * 120
        np.testing.assert_allclose(x + fl, _moved_pixels(seq, 0, 1, x)[0], atol=1e-3)


def test_flow_with_skewed_non_square_pixels_matches_reprojection():
    base = moving_bodies(n_bodies=1, n_frames=2, seed=3, **SMALL)
    K = np.array([[130.0, 6.0, 83.0], [0.0, 150.0, 57.0], [0.0, 0.0, 1.0]])
    scene = Scene([c.with_intrinsics(K) for c in base.cameras], base.background, base.bodies,
                  base.light)
    seq = render(scene, antialias=1)
    x, fl, labels = _visible_pixels(seq, 0, 1)
    assert (labels > 0).sum() > 50
    np.testing.assert_allclose(x + fl, _moved_pixels(seq, 0, 1, x)[0], atol=1e-3)
    # depth is camera z: backprojected room pixels lie on the room's walls
    room = labels == 0
    u, v = x[room, 0].astype(int), x[room, 1].astype(int)
    X = seq.frames[0].camera.backproject(x[room], seq.frames[0].depth[v, u].astype(np.float64))
    (walls,) = scene.background
    assert walls.shape.kind == "room" and np.allclose(walls.R[0], np.eye(3))
    box = np.max(np.abs(X - walls.t[0]) / walls.shape.size, axis=1)
    np.testing.assert_allclose(box, 1, atol=1e-5)


def test_occlusion_mask_agrees_with_the_depth_of_the_other_frame():
    seq = render(moving_bodies(n_bodies=3, n_frames=2, seed=5, camera_step=np.radians(12), **SMALL),
                 antialias=1)
    f0, f1 = seq.frames
    fl, occ = seq.flow(0, 1)
    v, u = np.nonzero(np.isfinite(f0.depth))
    x = np.column_stack([u, v]).astype(np.float64)
    x2, z2 = _moved_pixels(seq, 0, 1, x)
    inside = f1.camera.in_image(x2) & (z2 > 0)
    assert (occ[v, u][~inside]).all(), "points leaving the image are occluded"
    r = np.round(x2[inside]).astype(int)
    seen = f1.depth[r[:, 1], r[:, 0]].astype(np.float64)
    rel = (seen - z2[inside]) / z2[inside]
    hidden = occ[v, u][inside]
    assert hidden.sum() > 50 and (~hidden).sum() > 1000
    # occluded points lie behind what frame 1 sees; visible ones are what frame 1 sees
    assert np.mean(rel[hidden] < -1e-3) > 0.9
    assert np.mean(np.abs(rel[~hidden]) < 0.02) > 0.97


def test_flow_to_the_same_frame_is_zero_and_unoccluded():
    seq = render(orbit_ring(3, seed=1, **SMALL), antialias=1)
    fl, occ = seq.flow(1, 1)
    assert not occ.any()
    np.testing.assert_allclose(fl, 0, atol=1e-6)


def test_points_at_infinity_move_with_the_camera_rotation_only():
    K = intrinsic_matrix(60, 60, 19.5, 14.5)
    cams = [look_at([1, 2, 3], target, K, up=(0, 0, 1), width=40, height=30)
            for target in ([0, 0, 0], [0.3, -0.2, 0.1])]
    seq = render(Scene(cams))  # nothing but sky
    assert np.isinf(seq.frames[0].depth).all() and not seq.frames[0].labels.any()
    fl, occ = seq.flow(0, 1)
    v, u = np.mgrid[0:30, 0:40]
    x = np.column_stack([u.ravel(), v.ravel(), np.ones(u.size)])
    R, _ = relative_pose(*cams)
    h = x @ (K @ R @ np.linalg.inv(K)).T  # the infinite homography
    np.testing.assert_allclose(fl.reshape(-1, 2), h[:, :2] / h[:, 2:] - x[:, :2], atol=1e-4)
    inside = cams[1].in_image(x[:, :2] + fl.reshape(-1, 2))
    assert 0 < inside.mean() < 1
    np.testing.assert_array_equal(occ.ravel(), ~inside)  # only leaving the image hides the sky


def test_rectified_stereo_disparity_is_f_b_over_z():
    scene = stereo_rig(seed=2, baseline=0.3, **SMALL)
    seq = render(scene, antialias=1)
    left, right = seq.frames
    np.testing.assert_array_equal(left.camera.K, right.camera.K)
    np.testing.assert_array_equal(left.camera.R, right.camera.R)
    R, t = relative_pose(left.camera, right.camera)
    np.testing.assert_allclose(t, [-0.3, 0, 0], atol=1e-12)
    disp = seq.disparity()
    finite = np.isfinite(left.depth)
    assert finite.mean() > 0.9
    np.testing.assert_allclose(disp[finite], left.camera.K[0, 0] * 0.3 / left.depth[finite], rtol=1e-6)
    fl, occ = seq.flow(0, 1)
    ok = finite & ~occ
    assert ok.mean() > 0.8
    np.testing.assert_allclose(-fl[..., 0][ok], disp[ok], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(fl[..., 1][ok], 0, atol=1e-4)


@settings(max_examples=10)
@given(seeds())
def test_relative_pose_of_a_body_moves_its_points_between_camera_frames(seed):
    scene = moving_bodies(n_bodies=2, n_frames=3, seed=seed % 1000, **SMALL)
    R, t = scene.relative_pose(0, 0, 2)  # the static room: the plain camera relative pose
    R0, t0 = relative_pose(scene.cameras[0], scene.cameras[2])
    np.testing.assert_allclose(R, R0, atol=1e-12)
    np.testing.assert_allclose(t, t0, atol=1e-12)
    p = np.random.default_rng(seed).normal(size=(5, 3))  # points in body 2's own frame
    R, t = scene.relative_pose(2, 0, 2)
    X = [scene.cameras[f].to_camera(p @ scene.body_pose(2, f)[0].T + scene.body_pose(2, f)[1])
         for f in (0, 2)]
    np.testing.assert_allclose(X[0] @ R.T + t, X[1], atol=1e-9)
    assert np.abs(X[0] @ R0.T + t0 - X[1]).max() > 1e-3  # the body does not move with the room


def _sift_matches(img1, img2):
    sift = cv2.SIFT_create()
    k1, d1 = sift.detectAndCompute(cv2.cvtColor(img1, cv2.COLOR_RGB2GRAY), None)
    k2, d2 = sift.detectAndCompute(cv2.cvtColor(img2, cv2.COLOR_RGB2GRAY), None)
    pairs = [m for m, n in cv2.BFMatcher().knnMatch(d1, d2, k=2) if m.distance < 0.7 * n.distance]
    return (np.array([k1[m.queryIdx].pt for m in pairs]), np.array([k2[m.trainIdx].pt for m in pairs]))


def _body_fundamental(scene, label, i, j):
    """F between frames i and j for the points of one body."""
    R, t = scene.relative_pose(label, i, j)
    Ki, Kj = scene.cameras[i].K, scene.cameras[j].K
    return np.linalg.inv(Kj).T @ skew(t) @ R @ np.linalg.inv(Ki)


def _sampson(F, x1, x2):
    h1 = np.column_stack([x1, np.ones(len(x1))])
    h2 = np.column_stack([x2, np.ones(len(x2))])
    Fx1, Ftx2 = h1 @ F.T, h2 @ F
    e = np.einsum("ni,ni->n", h2, Fx1)
    return np.abs(e) / np.sqrt(Fx1[:, 0] ** 2 + Fx1[:, 1] ** 2 + Ftx2[:, 0] ** 2 + Ftx2[:, 1] ** 2)


def _labels_at(frame, x):
    r = np.round(x).astype(int)
    return frame.labels[r[:, 1], r[:, 0]]


@pytest.mark.parametrize("n_bodies, seed", [(2, 0), (3, 1)])
def test_sift_matches_on_each_body_satisfy_its_epipolar_geometry(n_bodies, seed):
    seq = render(moving_bodies(n_bodies=n_bodies, n_frames=2, seed=seed, width=400, height=300))
    f0, f1 = seq.frames
    x1, x2 = _sift_matches(f0.image, f1.image)
    l1, l2 = _labels_at(f0, x1), _labels_at(f1, x2)
    checked = 0
    for label in range(n_bodies + 1):
        on = (l1 == label) & (l2 == label)
        if on.sum() < 15:
            continue
        d = _sampson(_body_fundamental(seq.scene, label, 0, 1), x1[on], x2[on])
        assert np.median(d) < 0.5, (label, np.median(d))
        checked += 1
    assert checked == n_bodies + 1, "the room and every moving body need matches"


def test_ring_views_give_accurate_sift_matches():
    scene = orbit_ring(16, seed=3, width=320, height=240)
    for i, j in [(0, 1), (9, 10), (15, 0)]:
        x1, x2 = _sift_matches(render_frame(scene, i).image, render_frame(scene, j).image)
        assert len(x1) > 60
        F = _body_fundamental(scene, 0, i, j)  # everything is static in the ring
        d = _sampson(F, x1, x2)
        assert np.median(d) < 0.5 and np.mean(d < 2) > 0.9


def test_textures_move_with_their_body():
    """Under ambient light a surface point keeps its colour: frame j sampled at x + flow equals
    frame i at x wherever the point stays visible (away from edges)."""
    scene = flying_layers(seed=4, **SMALL)
    assert scene.light.diffuse == 0
    seq = render(scene)
    fl, occ = seq.flow(0, 1)
    h, w = occ.shape
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    warped = cv2.remap(seq.frames[1].image, gx + fl[..., 0], gy + fl[..., 1], cv2.INTER_LINEAR)
    edges = cv2.Canny(seq.frames[0].labels * 30, 1, 1)
    edges = cv2.dilate((edges > 0).astype(np.uint8), np.ones((5, 5)))
    ok = ~occ & (edges == 0)
    diff = np.abs(warped.astype(int) - seq.frames[0].image.astype(int))[ok]
    assert ok.mean() > 0.5
    assert np.median(diff) <= 3
    shuffled = np.abs(np.roll(warped, 7, axis=1).astype(int) - seq.frames[0].image.astype(int))[ok]
    assert np.median(shuffled) > 2 * max(np.median(diff), 1)


@pytest.mark.parametrize("make", [
    lambda s: stereo_rig(s, 48, 32), lambda s: orbit_ring(3, s, 48, 32),
    lambda s: moving_bodies(3, 2, s, 48, 32), lambda s: flying_layers(s, 48, 32),
    lambda s: random_scene(s, 48, 32)])
def test_same_seed_same_bytes_and_different_seeds_differ(make):
    a, b, c = (render(make(s)) for s in (7, 7, 8))
    for fa, fb in zip(a.frames, b.frames):
        assert fa.image.tobytes() == fb.image.tobytes()
        assert fa.depth.tobytes() == fb.depth.tobytes()
        assert fa.labels.tobytes() == fb.labels.tobytes()
    assert a.frames[0].image.tobytes() != c.frames[0].image.tobytes()


def test_images_are_textured_and_labels_cover_the_bodies():
    seq = render(moving_bodies(n_bodies=3, n_frames=2, seed=1, **SMALL))
    img = seq.frames[0].image
    assert img.dtype == np.uint8 and img.shape == (120, 160, 3)
    assert cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), cv2.CV_64F).std() > 3
    labels = seq.frames[0].labels
    assert set(np.unique(labels)) == {0, 1, 2, 3}
    assert seq.frames[0].depth.dtype == np.float32
    assert len(seq.frames[0].body_poses) == 3


def test_a_small_ring_builds_quickly_and_consecutive_views_overlap():
    seq = render(orbit_ring(12, seed=0, width=96, height=72), antialias=1)
    assert len(seq.frames) == 12
    for f in seq.frames:
        assert (f.labels > 0).mean() > 0.05  # the object is in view
    centres = np.array([f.camera.center for f in seq.frames])
    np.testing.assert_allclose(np.linalg.norm(centres[:, :2], axis=1), 4 * np.cos(np.radians(30)),
                               rtol=1e-6)
    _, occ = seq.flow(0, 1)
    assert (~occ).mean() > 0.5


# ---------------------------------------------------------------------------- writer

@pytest.fixture(scope="module")
def small_sequence():
    return render(stereo_rig(seed=3, width=64, height=48))


def test_write_folder_contents_and_round_trip(tmp_path, small_sequence):
    seq = small_sequence
    out = write_folder(seq, tmp_path / "scene")
    names = ["frame_000.png", "frame_001.png"]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        names + [".mvdepth-output", "bodies.json", "cameras.json", "depth", "disparity", "flow",
                 "labels", "stereo.json"])
    cams = load_cameras_json(out / "cameras.json")
    assert list(cams) == names
    for name, f in zip(names, seq.frames):
        for attr in ("K", "R", "t"):
            np.testing.assert_array_equal(getattr(cams[name], attr), getattr(f.camera, attr))
        assert cams[name].image_size == (64, 48)
        np.testing.assert_array_equal(cv2.imread(str(out / name))[:, :, ::-1], f.image)
        stem = name[:-4]
        np.testing.assert_array_equal(np.load(out / "depth" / f"{stem}.npy"), f.depth)
        labels = cv2.imread(str(out / "labels" / f"{stem}.png"), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(labels, f.labels)
    bodies = json.loads((out / "bodies.json").read_text())["bodies"]
    assert [b["label"] for b in bodies] == list(range(1, len(seq.scene.bodies) + 1))
    np.testing.assert_array_equal(bodies[0]["poses"]["frame_001.png"]["R"],
                                  seq.frames[1].body_poses[0][0])
    fl, occ = seq.flow(0, 1)
    np.testing.assert_array_equal(np.load(out / "flow" / "frame_000_frame_001.npy"), fl)
    occ_png = cv2.imread(str(out / "flow" / "frame_000_frame_001_occluded.png"), cv2.IMREAD_GRAYSCALE)
    np.testing.assert_array_equal(occ_png > 0, occ)
    np.testing.assert_array_equal(np.load(out / "disparity" / "frame_000.npy"), seq.disparity())
    assert json.loads((out / "stereo.json").read_text())["baseline"] == seq.scene.baseline
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene"]  # no temporary left over


def test_write_folder_is_byte_identical_for_the_same_seed(tmp_path):
    outs = [write_folder(render(moving_bodies(1, 2, 9, 48, 32)), tmp_path / f"s{k}") for k in range(2)]
    files = sorted(p.relative_to(outs[0]) for p in outs[0].rglob("*") if p.is_file())
    assert len(files) == 11  # with the manifest
    for rel in files:
        assert (outs[0] / rel).read_bytes() == (outs[1] / rel).read_bytes(), rel


def test_write_folder_refuses_to_overwrite_unless_told(tmp_path, small_sequence):
    target = write_folder(small_sequence, tmp_path / "scene")
    (target / "cameras.json").write_text("old")
    with pytest.raises(FileExistsError, match="already exists"):
        write_folder(small_sequence, target)
    assert (target / "cameras.json").read_text() == "old"
    write_folder(small_sequence, target, overwrite=True)
    assert (target / "cameras.json").read_text() != "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene"]


def test_write_folder_leaves_nothing_half_written(tmp_path, small_sequence, monkeypatch):
    old = write_folder(small_sequence, tmp_path / "old")
    before = {p.relative_to(old): p.read_bytes() for p in old.rglob("*") if p.is_file()}
    calls = []

    def failing(path, image):
        calls.append(path)
        if len(calls) == 3:
            raise OSError("disk full")
        cv2.imwrite(str(path), image)

    monkeypatch.setattr(synth_io, "_imwrite", failing)
    with pytest.raises(OSError, match="disk full"):
        write_folder(small_sequence, tmp_path / "new")
    assert [p.name for p in tmp_path.iterdir()] == ["old"]
    calls.clear()
    with pytest.raises(OSError, match="disk full"):
        write_folder(small_sequence, old, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["old"]
    assert {p.relative_to(old): p.read_bytes() for p in old.rglob("*") if p.is_file()} == before


# ---------------------------------------------------------------------------- bad input

def _tiny_scene(**kw):
    K = intrinsic_matrix(50, 50, 15.5, 11.5)
    cam = look_at([0, -3, 1], [0, 0, 0], K, up=(0, 0, 1), width=32, height=24)
    args = dict(cameras=[cam, cam], background=[], bodies=[])
    args.update(kw)
    return Scene(**args)


@pytest.mark.parametrize("build, message", [
    (lambda: Texture(-1), "seed"),
    (lambda: Texture(2**40), "seed"),
    (lambda: Texture(1, scale=-1.0), "scale"),
    (lambda: Texture(1, octaves=0), "octaves"),
    (lambda: Texture(1, colors=((2, 0, 0), (0, 0, 0), (0, 0, 0))), "colors"),
    (lambda: Texture(1, pattern="plaid"), "pattern"),
    (lambda: Shape("cone", (1, 1, 1), Texture(1)), "kind"),
    (lambda: Shape("box", (1, -1, 1), Texture(1)), "size"),
    (lambda: Shape("sphere", (np.inf, 1, 1), Texture(1)), "unbounded"),
    (lambda: Body(Shape("box", (1, 1, 1), Texture(1)), np.eye(3), np.zeros(3)), "R"),
    (lambda: Body(Shape("box", (1, 1, 1), Texture(1)), 2 * np.eye(3)[None], np.zeros((1, 3))),
     "R\\[0\\]"),
    (lambda: Body(Shape("box", (1, 1, 1), Texture(1)), np.eye(3)[None], [[0, np.nan, 0]]), "t"),
    (lambda: Light(direction=(0, 0, 0)), "direction"),
    (lambda: _tiny_scene(cameras=[]), "cameras"),
    (lambda: _tiny_scene(bodies=[Body.static(Shape("box", (1, 1, 1), Texture(1)), 3)]), "bodies\\[0\\]"),
    (lambda: _tiny_scene(background=[Body(Shape("box", (1, 1, 1), Texture(1)), np.stack([np.eye(3)] * 2),
                                          [[0, 0, 0], [0, 0, 1]])]), "static"),
    (lambda: _tiny_scene(baseline=-1.0), "baseline"),
    (lambda: moving_bodies(n_bodies=0), "n_bodies"),
    (lambda: moving_bodies(n_frames=0), "n_frames"),
    (lambda: orbit_ring(1), "n_views"),
    (lambda: stereo_rig(seed=-1), "seed"),
    (lambda: random_scene(width=4), "width"),
])
def test_bad_scene_input_names_the_argument(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_bad_render_and_flow_input_names_the_argument():
    scene = _tiny_scene(background=[Body.static(Shape("plane", (np.inf, np.inf, 1), Texture(1)), 2)])
    with pytest.raises(ValueError, match="frame"):
        render_frame(scene, 2)
    with pytest.raises(ValueError, match="antialias"):
        render_frame(scene, 0, antialias=3)
    with pytest.raises(ValueError, match="scene"):
        render("not a scene")
    depth = np.ones((24, 32))
    labels = np.zeros((24, 32), np.uint8)
    with pytest.raises(ValueError, match="depth, labels"):
        flow(scene, 0, 1, depth[:-1], labels)
    with pytest.raises(ValueError, match="depth"):
        flow(scene, 0, 1, np.where(depth > 0, np.nan, 0), labels)
    with pytest.raises(ValueError, match="labels"):
        flow(scene, 0, 1, depth, labels + 1)
    with pytest.raises(ValueError, match="j"):
        flow(scene, 0, 5, depth, labels)
    with pytest.raises(ValueError, match="baseline"):
        render(scene).disparity()
    with pytest.raises(ValueError, match="sequence"):
        write_folder(scene, "/nonexistent/never")
