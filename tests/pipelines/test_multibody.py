"""Multi-body pipeline: end to end on small synthetic scenes (320x240, 3 views), degradations,
bad input."""
import json

import numpy as np
import pytest

import learned
from geom import synth
from geom.camera import relative_pose
from geom.io import load_cameras_json
from geom.rotation import angular_distance
from pipelines import cli
from pipelines.evaluate import relative_pose_errors
from pipelines.images import ImageSet, load_images
from pipelines.intrinsics import save_intrinsics
from pipelines.multibody import dense, evaluate, motion, pipeline
from pipelines.sfm.pipeline import sparse_reconstruction

SEED = 1
SCALE_TOLERANCE = 0.1  # relative error of a body's translation scale against the background's
WIDE = dict(camera_step=np.radians(10), body_speed=0.3, body_spin=np.radians(15))


class ScaledTruthDepth:
    """A depth plug-in (learned.plugins interface: `output`, `inverse`, `__call__(img)`) that
    returns the true depth of a known image times an unknown per-image scale, with 3 % noise."""

    output, inverse = "scale", False

    def __init__(self, frames, seed=0):
        rng = np.random.default_rng(seed)
        self.table = {f.image.tobytes(): (f.depth * rng.uniform(0.2, 5.0)
                                          * (1 + 0.03 * rng.standard_normal(f.depth.shape)))
                      .astype(np.float32) for f in frames}

    def __call__(self, img):
        return self.table[np.ascontiguousarray(img).tobytes()]


def _scene(root, name, **kw):
    seq = synth.render(synth.moving_bodies(n_frames=3, seed=SEED, width=320, height=240, **kw))
    folder = synth.write_folder(seq, root / name)
    save_intrinsics(root / f"{name}_K.txt",
                    {n: c.K for n, c in load_cameras_json(folder / "cameras.json").items()})
    return seq, folder, root / f"{name}_K.txt"


@pytest.fixture(scope="module")
def two_bodies(tmp_path_factory):
    root = tmp_path_factory.mktemp("multibody")
    seq, folder, K = _scene(root, "two", n_bodies=2, **WIDE)
    plugin = ScaledTruthDepth(seq.frames)
    with pytest.MonkeyPatch.context() as mp:  # the plug-in, by name, through learned.load_depth
        mp.setattr(learned, "load_depth", lambda name: plugin if name == "truth-test" else None)
        result = pipeline.run(folder, root / "out", K, depth="truth-test",
                              progress=lambda msg: None)
    return result, folder, root / "out", evaluate.load_truth(folder, result.names)


def test_bodies_found_and_labelled(two_bodies):
    result, _, _, truth = two_bodies
    assert result.segmentation.n_bodies == 3
    mapping = evaluate.body_labels(result, truth)
    assert sorted(mapping.values()) == [0, 1, 2]  # one found body per true body
    assert evaluate.keypoint_misclassification(result, truth, mapping) < 0.05
    wrong, labelled = evaluate.pixel_misclassification(result, truth, mapping)
    # most pixels get the right body; pixels of a body's label far from its keypoints are left
    # unknown (dense.near_keypoints), hence not all are labelled
    assert labelled > 0.75 and wrong < 0.1


def test_moving_bodies_scaled_consistently_with_the_background(two_bodies):
    result, _, _, truth = two_bodies
    mapping = evaluate.body_labels(result, truth)
    errors = evaluate.motion_errors(result, truth, mapping)
    scaled = [(k, e) for k, e in errors.items() if k[2] and np.isfinite(e[1])]
    assert len(scaled) >= 2
    for (i, j, b), (rot, scale_error) in scaled:
        assert scale_error < SCALE_TOLERANCE, (i, j, b)
        assert rot < np.radians(2.0), (i, j, b)
    for (i, j, b), (rot, _) in errors.items():
        if b == 0:
            assert rot < np.radians(0.5)


def test_output_folder(two_bodies):
    result, folder, out, _ = two_bodies
    names = result.names
    assert set(load_cameras_json(out / "cameras.json")) == set(names)
    bodies = json.loads((out / "bodies.json").read_text())
    assert len(bodies["bodies"]) == result.segmentation.n_bodies
    assert bodies["bodies"][0]["background"] and bodies["depth_plugin"] == "truth-test"
    for n in names:
        stem = n.rsplit(".", 1)[0]
        depth = np.load(out / "depth" / f"{stem}.npy")
        assert depth.shape == (240, 320) and np.isfinite(depth).mean() > 0.75
        assert (out / "labels" / f"{stem}.png").is_file()
    assert (out / "points.ply").stat().st_size > 1000
    report = (out / "report.html").read_text()
    assert "Errors against the ground truth" in report and "Trajectories" in report
    assert cli.main(["multibody", str(folder), "-o", str(out)]) == 2  # never overwrites


def test_without_depth_plugin_bodies_are_left_unscaled_and_flagged(two_bodies):
    result, folder, _, _ = two_bodies
    imgs = load_images(folder)
    K = load_cameras_json(folder / "cameras.json")
    res = pipeline.reconstruct(imgs, [K[n].K for n in imgs.names], None, num_planes=16,
                               progress=lambda msg: None)
    moving = [m for (_, _, b), m in res.motions.items() if b]
    assert moving and all(np.isnan(m.scale) and "no monocular depth" in m.note for m in moving)
    assert any("left unscaled" in n for n in res.notes)
    assert all(bodies == [0] for _, _, bodies in res.dense.values())  # no guessed scale used


def test_unavailable_depth_plugin():
    with pytest.raises(ValueError, match="unknown depth plug-in"):
        pipeline.load_depth_plugin("no-such-network")
    est, note = pipeline.load_depth_plugin("none")
    assert est is None and "unscaled" in note
    if pipeline.DEFAULT_DEPTH not in learned.available()["depth"]:
        est, note = pipeline.load_depth_plugin(None)
        assert est is None and "unavailable" in note


def test_body_without_background_motion_or_pose_is_not_scaled(two_bodies):
    result = two_bodies[0]
    motions = {k: motion.BodyMotion(**vars(m)) for k, m in result.motions.items()}
    (i, j, b) = next(k for k in motions if k[2])
    del motions[(i, j, 0)]
    depths = [np.ones((240, 320))] * len(result.names)
    motion.reconcile_scales(motions, result.features, depths)
    assert np.isnan(motions[(i, j, b)].scale)
    assert "no background motion" in motions[(i, j, b)].note
    for k in [k for k in motions if k[2] == b and k != (i, j, b)]:
        del motions[k]  # a body seen in two views only: no motion to the others
    names, cameras = result.names, result.cameras
    assert dense.motion_between(motions, names, cameras, b, i, j) is None  # unscaled
    others = [k for k in range(len(names)) if k not in (i, j)]
    assert all(dense.motion_between(motions, names, cameras, b, i, k) is None for k in others)


def test_motion_composed_through_a_third_view(two_bodies):
    names, cameras = two_bodies[0].names, two_bodies[0].cameras
    motions = {}  # a body moving with the background, known between views 0-1 and 1-2 only
    for i, j in ((0, 1), (1, 2)):
        R, t = relative_pose(cameras[names[i]], cameras[names[j]])
        motions[(i, j, 5)] = motion.BodyMotion(i, j, 5, R, t / np.linalg.norm(t), None, None,
                                               float(np.linalg.norm(t)))
    for ref, src in ((0, 2), (2, 0)):
        R, t, s = dense.motion_between(motions, names, cameras, 5, ref, src)
        R0, t0 = relative_pose(cameras[names[ref]], cameras[names[src]])
        assert angular_distance(R, R0) < 1e-9
        np.testing.assert_allclose(s * t, t0, atol=1e-9)


def test_static_scene_gives_one_body_and_the_static_pipeline_cameras(tmp_path):
    _, folder, K = _scene(tmp_path, "static", n_bodies=1, camera_step=np.radians(10),
                          body_speed=0.0, body_spin=0.0)
    imgs, rec = sparse_reconstruction(folder, K, progress=lambda msg: None)
    Ks = [rec.cameras[n].K for n in imgs.names]
    res = pipeline.reconstruct(imgs, Ks, None, num_planes=16, progress=lambda msg: None)
    assert res.segmentation.n_bodies == 1
    assert set(res.cameras) == set(rec.cameras)
    rot, trans = relative_pose_errors(res.cameras, rec.cameras)
    assert rot.max() < np.radians(0.05) and trans.max() < np.radians(0.5)


def test_views_sharing_no_matches(tmp_path):
    rng = np.random.default_rng(0)
    images = [np.zeros((240, 320, 3), np.uint8), np.zeros((240, 320, 3), np.uint8)]
    images[1][60:180, 80:240] = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    imgs = ImageSet(tmp_path, ["a.png", "b.png"], images, [tmp_path / "a.png", tmp_path / "b.png"])
    K = np.array([[300.0, 0, 159.5], [0, 300.0, 119.5], [0, 0, 1]])
    with pytest.raises(ValueError, match="no pair of views shares enough matches"):
        pipeline.reconstruct(imgs, [K, K], None, progress=lambda msg: None)


def test_cli_bad_input(tmp_path, capsys):
    assert cli.main(["multibody", str(tmp_path / "missing"), "-o", str(tmp_path / "o")]) == 2
    assert "no such image folder" in capsys.readouterr().err


def _scaled_body_motion(result):
    (i, j, b), mo = next((k, m) for k, m in sorted(result.motions.items())
                         if k[2] and np.isfinite(m.scale))
    return mo, result.motions[(i, j, 0)]


def test_body_scale_ignores_each_image_depth_scale_and_flags_contradictions(two_bodies):
    result, _, _, truth = two_bodies
    mo, bg = _scaled_body_motion(result)
    depths = [truth.depth[n] * f for n, f in zip(result.names, (0.3, 7.0, 2.0))]
    scale, note = motion.body_scale(mo, bg, result.features, depths)
    assert note == "" and abs(scale / mo.scale - 1) < SCALE_TOLERANCE
    true_label = evaluate.body_labels(result, truth)[mo.body]
    wrong = [d.copy() for d in depths]  # the body twice as far in view j only
    wrong[mo.j][truth.labels[result.names[mo.j]] == true_label] *= 2.0
    scale, note = motion.body_scale(mo, bg, result.features, wrong)
    assert np.isnan(scale) and "disagree" in note


def test_body_scale_undefined_on_depth_with_two_modes(two_bodies):
    """Half of the body four times farther (a checkerboard of 16-pixel squares over it): two
    equal peaks of log depth ratio, no scale. (Pixel noise would not do: interpolated at the
    keypoints, it averages to about a constant depth, whose scale is well defined.)"""
    result, _, _, truth = two_bodies
    mo, bg = _scaled_body_motion(result)
    label = evaluate.body_labels(result, truth)[mo.body]
    ys, xs = np.mgrid[:240, :320]
    far = (ys // 16 + xs // 16) % 2 == 1
    depths = [np.where(far & (truth.labels[n] == label), 4.0, 1.0) * truth.depth[n]
              for n in result.names]
    scale, note = motion.body_scale(mo, bg, result.features, depths)
    assert np.isnan(scale) and "without a clear mode" in note
