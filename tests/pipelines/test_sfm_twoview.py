"""`mvdepth two-view --dense`: rectified stereo on the reconstructed pair, depth on image 1."""
import numpy as np
import pytest
from hypothesis import given, settings

from geom import synth
from geom.io import load_cameras_json
from geom.rectify import rectify_pair
from geom.testing import make_camera_ring, seeds
from pipelines import images, intrinsics
from pipelines.cli import main
from pipelines.evaluate import depth_absrel
from pipelines.multibody.evaluate import load_truth
from pipelines.sfm.pipeline import run
from pipelines.sfm.reconstruction import Reconstruction
from pipelines.sfm.twoview import depth_maps, unrectify_depth

W, H = 320, 240
ABSREL_BOUND = 0.03  # measured 0.013 (coverage 75 %) on this pair


@pytest.fixture(scope="module")
def ring(tmp_path_factory):
    """Two views 20 degrees apart of the synthetic ring, 320x240, with their exact K.txt."""
    tmp = tmp_path_factory.mktemp("twoview")
    seq = synth.render(synth.orbit_ring(2, 0, W, H, arc=np.radians(20)))
    folder = synth.write_folder(seq, tmp / "ring")
    truth = load_cameras_json(folder / "cameras.json")
    intrinsics.save_intrinsics(tmp / "K.txt", {n: c.K for n, c in truth.items()})
    return folder, tmp / "K.txt"


def test_dense_two_view_depth_of_image_1_matches_the_truth(ring, tmp_path, capsys):
    folder, K = ring
    out = tmp_path / "out"
    assert main(["two-view", str(folder / "frame_000.png"), str(folder / "frame_001.png"),
                 "-o", str(out), "--intrinsics", str(K), "--dense"]) == 0
    assert "wrote" in capsys.readouterr().out
    depth = np.load(out / "depth" / "frame_000.npy")
    assert depth.shape == (H, W) and depth.dtype == np.float32
    assert (out / "depth" / "frame_000.png").is_file() and (out / "dense.ply").is_file()
    assert not (out / "depth" / "frame_001.npy").exists()  # image 1 only
    assert (depth[np.isfinite(depth)] > 0).all()
    truth = load_truth(folder, ["frame_000.png"])
    absrel, coverage = depth_absrel({"frame_000.png": depth}, truth,
                                    {"frame_000.png": np.isfinite(depth)})["all"]
    assert absrel < ABSREL_BOUND
    assert coverage > 0.5
    header = (out / "dense.ply").read_bytes()[:200].decode("ascii", "replace")
    n_points = int(header.split("element vertex ")[1].split()[0])
    assert n_points == np.isfinite(depth).sum()


@settings(max_examples=20, deadline=None)
@given(seeds())
def test_unrectify_depth_gives_the_depth_in_camera_1_of_the_same_point(seed):
    cam1, cam2 = make_camera_ring(seed, 2, arc=np.radians(30), width=64, height=48)
    H1, _, rcam1, _ = rectify_pair(cam1, cam2, (64, 48))
    c = 3.0  # a plane at rectified depth c
    depth = unrectify_depth(np.full((48, 64), c, np.float32), H1, (64, 48))
    assert depth.shape == (48, 64)
    ys, xs = np.nonzero(np.isfinite(depth))
    assert ys.size > 0.5 * depth.size  # the rectified image holds all of image 1
    u = np.stack([xs, ys, np.ones_like(xs)]).astype(np.float64)
    u = H1 @ u
    X = rcam1.backproject((u[:2] / u[2]).T, np.full(xs.size, c))
    np.testing.assert_allclose(depth[ys, xs], cam1.depth(X), rtol=1e-5)
    np.testing.assert_allclose(cam1.project(X), np.stack([xs, ys], 1), atol=1e-6)


def test_dense_two_view_needs_exactly_two_registered_cameras():
    cam1, cam2, cam3 = make_camera_ring(0, 3, arc=np.radians(30), width=64, height=48)
    names = ["a.png", "b.png", "c.png"]
    rec = Reconstruction(names, dict(zip(names, (cam1, cam2, cam3))), np.zeros((0, 3)),
                         np.zeros((0, 3), np.uint8), *[np.zeros(0, int)] * 3, np.zeros((0, 2)))
    imgs = images.ImageSet(None, names, [np.zeros((48, 64, 3), np.uint8)] * 3, names)
    with pytest.raises(ValueError, match="expected 2 registered images, got 3"):
        depth_maps(imgs, rec)


def test_an_unknown_dense_method_fails_before_reading_images(tmp_path):
    with pytest.raises(ValueError, match="dense_method: expected one of"):
        run(tmp_path / "missing", tmp_path / "out", dense=True, dense_method="lidar")
    assert not (tmp_path / "out").exists()


def test_cli_two_view_dense_on_a_missing_image_is_a_one_line_error(ring, tmp_path, capsys):
    folder, K = ring
    out = tmp_path / "out"
    assert main(["two-view", str(folder / "frame_000.png"), str(tmp_path / "nope.png"),
                 "-o", str(out), "--intrinsics", str(K), "--dense"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mvdepth two-view: error:") and "\n" not in err
    assert not out.exists()
