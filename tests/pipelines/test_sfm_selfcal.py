"""Self-calibration in `mvdepth sfm`: without intrinsics the focal length and radial
coefficient are refined from a wrong start, the principal point where asked; camera groups; the
COLMAP model's camera."""
import numpy as np
import pytest

from pipelines import intrinsics
from pipelines.evaluate import relative_pose_errors
from pipelines.export import colmap_model
from pipelines.sfm import calibration
from pipelines.sfm.pipeline import sparse_reconstruction


@pytest.fixture(scope="module")
def ring(make_ring):
    return make_ring(12, 360)


def test_focal_refined_from_a_start_twice_the_truth(ring, monkeypatch):
    """The guess set to twice the true focal length (no initialisation from the pairs): the
    refined focal within 0.2 %, every view registered, rotations as good as with the true K."""
    folder, K_file, truth = ring
    f_true = next(iter(truth.values())).K[0, 0]
    monkeypatch.setattr(intrinsics, "GUESS_FOCAL_FACTOR", 2 * f_true / 320)
    monkeypatch.setattr(calibration, "initial_focal", lambda *a, **k: (None, None, None))
    quiet = lambda msg: None  # noqa: E731
    _, rec = sparse_reconstruction(folder, progress=quiet, camera_model="SIMPLE_PINHOLE")
    _, known = sparse_reconstruction(folder, K_file, progress=quiet)
    assert sorted(rec.cameras) == sorted(truth)
    f = [c.K[0, 0] for c in rec.cameras.values()]
    assert abs(np.median(f) / f_true - 1) < 2e-3
    rot, _ = relative_pose_errors(rec.cameras, truth)
    rot_known, _ = relative_pose_errors(known.cameras, truth)
    assert np.median(rot) < 1.5 * np.median(rot_known) + np.radians(0.02)
    (group,) = rec.camera_groups
    assert group["model"] == "SIMPLE_PINHOLE" and 0 < group["std"][0] < 0.01 * f_true


def test_principal_point_refined_where_asked(ring):
    """refine_principal_point: the ring's centred principal point stays within 2.5 px (a ring
    barely sees cy: it trades with a common tilt of the views, the prior holds it; 1.8 px), with
    finite standard deviations in the group and the same values in the COLMAP camera."""
    folder, _, truth = ring
    _, rec = sparse_reconstruction(folder, progress=lambda msg: None, refine_principal_point=True)
    K_true = next(iter(truth.values())).K
    (group,) = rec.camera_groups
    assert np.all(np.abs(group["K"][:2, 2] - K_true[:2, 2]) < 2.5)
    assert np.all(np.isfinite(group["std"]))
    (camera,) = colmap_model(rec)[0]
    assert np.allclose(camera[4][1:3], group["K"][:2, 2] + 0.5)


def test_camera_groups_by_mode(tmp_path):
    paths = [tmp_path / f"{k}.png" for k in range(3)]
    for p in paths:
        p.write_bytes(b"")  # no EXIF: one group in auto mode
    assert calibration.camera_groups(paths, (64, 48), "auto").tolist() == [0, 0, 0]
    assert calibration.camera_groups(paths, (64, 48), "single").tolist() == [0, 0, 0]
    assert calibration.camera_groups(paths, (64, 48), "per-image").tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="camera mode: expected one of auto, single, per-image"):
        calibration.camera_groups(paths, (64, 48), "each")


def test_undistort_inverts_the_radial_model():
    from geom.camera import Camera
    rng = np.random.default_rng(0)
    K = np.array([[300.0, 0, 159.5], [0, 300.0, 119.5], [0, 0, 1]])
    cam = Camera(K, np.eye(3), np.zeros(3))
    X = np.c_[rng.uniform(-0.5, 0.5, (50, 2)), np.ones(50)]
    for k in (-0.2, 0.0, 0.15):
        x = calibration.project(cam, k, X)
        assert np.allclose(calibration.undistort(x, K, k), cam.project(X), atol=1e-9)


def test_two_views_without_k_say_their_focal_length_was_not_refined(ring):
    folder, _, _ = ring
    messages = []
    _, rec = sparse_reconstruction([folder / "frame_000.png", folder / "frame_001.png"],
                                   progress=messages.append)
    (group,) = rec.camera_groups
    assert np.isnan(group["std"][0]) and group["K"][0, 0] == 1.2 * 320  # the guess, as it was
    warning = [n for n in rec.notes if "was not refined" in n]
    assert len(warning) == 1 and warning[0] in messages  # on stderr and in the report
