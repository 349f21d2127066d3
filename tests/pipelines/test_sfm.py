"""Structure from motion: end to end on a synthetic ring, outputs, bad input."""
import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from geom.io import load_cameras_json
from pipelines import cli
from pipelines.evaluate import relative_pose_errors
from pipelines.export import write_colmap
from pipelines.images import load_images
from pipelines.intrinsics import load_intrinsics, save_intrinsics
from pipelines.sfm.pipeline import run

from test_report_parts import external_urls, view_data

ROTATION_BOUND = np.radians(0.5)  # pairwise relative rotation error, 8 views, 320x240, exact K


@pytest.fixture(scope="module")
def ring(make_ring):
    """An 8-view 320x240 synthetic ring over 100 degrees, its intrinsics file and truth."""
    return make_ring(8, 100)


@pytest.fixture(scope="module")
def result(ring):
    images, K, truth = ring
    out = images.parent / "out"
    rec = run(images, out, K, progress=lambda msg: None)
    return rec, out


def test_every_view_registered_with_small_rotation_errors(ring, result):
    _, _, truth = ring
    rec, _ = result
    assert sorted(rec.cameras) == sorted(truth)
    rot, trans = relative_pose_errors(rec.cameras, truth)
    assert rot.max() < ROTATION_BOUND
    assert trans.max() < 2 * ROTATION_BOUND
    assert np.median(rec.reprojection_errors()) < 0.5
    assert len(rec.points) > 500


def test_colmap_model_reads_back_with_pycolmap(result):
    pycolmap = pytest.importorskip("pycolmap")
    rec, out = result
    model = pycolmap.Reconstruction(str(out / "sparse"))
    assert model.num_reg_images() == len(rec.cameras)
    assert model.num_points3D() == len(rec.points)
    xyz = np.array([model.points3D[p + 1].xyz for p in range(len(rec.points))])
    assert np.allclose(xyz, rec.points, atol=1e-9)
    for image in model.images.values():  # COLMAP's world-to-camera pose is the house one
        cam = rec.cameras[image.name]
        pose = image.cam_from_world()
        assert np.allclose(pose.rotation.matrix(), cam.R, atol=1e-9)
        assert np.allclose(pose.translation, cam.t, atol=1e-9)
        K = model.cameras[image.camera_id].calibration_matrix()
        assert np.allclose(K, cam.K + np.array([[0, 0, 0.5], [0, 0, 0.5], [0, 0, 0]]))  # corner origin


@pytest.mark.parametrize("spaced, fmt", [(False, "text"), (True, "binary")])
def test_colmap_model_keeps_every_name_in_either_format(tmp_path, result, spaced, fmt):
    pycolmap = pytest.importorskip("pycolmap")
    rec, _ = result
    if spaced:  # a user's "view one.png": COLMAP's text format would read back "view"
        rename = {n: f"view {n}" for n in rec.image_names}
        rec = dataclasses.replace(rec, image_names=[rename[n] for n in rec.image_names],
                                  cameras={rename[n]: c for n, c in rec.cameras.items()})
    assert write_colmap(rec, tmp_path) == fmt
    model = pycolmap.Reconstruction(str(tmp_path))
    assert sorted(i.name for i in model.images.values()) == sorted(rec.cameras)
    assert model.num_points3D() == len(rec.points)
    for image in model.images.values():
        assert np.allclose(image.cam_from_world().translation, rec.cameras[image.name].t,
                           atol=1e-12)
        k = rec.image_names.index(image.name)
        xy = np.array([p.xy for p in image.points2D])
        assert np.allclose(xy, rec.obs_xy[rec.obs_image == k] + 0.5, atol=1e-12)
    p = model.points3D[1]
    assert np.allclose(p.xyz, rec.points[0], atol=1e-12)
    assert np.array_equal(p.color, rec.colors[0])
    assert p.track.length() == rec.track_lengths[0]


def test_outputs_and_report(ring, result):
    rec, out = result
    cams = load_cameras_json(out / "cameras.json")
    assert sorted(cams) == sorted(rec.cameras)
    header = (out / "points.ply").read_bytes().split(b"end_header\n")[0].decode()
    assert f"element vertex {len(rec.points)}" in header
    report = (out / "report.html").read_text()
    for name in rec.image_names:
        assert name in report
    assert "Errors against the ground truth" in report  # cameras.json sits beside the images
    assert not external_urls(report)
    view = view_data(report)
    assert view["points"]["shown"] == len(rec.points) and len(view["cameras"]) == len(rec.cameras)
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp folder left


def test_intrinsics_file_forms(tmp_path):
    K = np.array([[500.0, 0, 320], [0, 510, 240], [0, 0, 1]])
    (tmp_path / "one.txt").write_text("# shared\n500 0 320\n0 510 240\n0 0 1\n")
    table = load_intrinsics(tmp_path / "one.txt", ["a", "b"])
    assert all(np.array_equal(v, K) for v in table.values())
    save_intrinsics(tmp_path / "per.txt", {"a": K, "b": 2 * K / 2})
    assert np.array_equal(load_intrinsics(tmp_path / "per.txt", ["b"])["b"], K)
    with pytest.raises(ValueError, match="per.txt: no intrinsics for c"):
        load_intrinsics(tmp_path / "per.txt", ["a", "c"])


def _cli_error(capsys, *argv):
    code = cli.main(list(argv))
    return code, capsys.readouterr().err


def test_cli_bad_input(tmp_path, ring, capsys):
    images, K, _ = ring
    out = tmp_path / "out"
    (tmp_path / "empty").mkdir()
    code, err = _cli_error(capsys, "sfm", str(tmp_path / "empty"), "-o", str(out))
    assert code == 2 and "empty: no JPEG or PNG images" in err
    one = tmp_path / "one"
    one.mkdir()
    (one / "a.png").write_bytes((images / "frame_000.png").read_bytes())
    code, err = _cli_error(capsys, "sfm", str(one), "-o", str(out))
    assert code == 2 and "only one image (a.png)" in err
    (one / "b.jpg").write_text("not an image")
    code, err = _cli_error(capsys, "sfm", str(one), "-o", str(out))
    assert code == 2 and "b.jpg: not a readable image" in err
    (tmp_path / "bad_K.txt").write_text("500 0 320\n0 500 x\n0 0 1\n")
    code, err = _cli_error(capsys, "sfm", str(images), "-o", str(out), "--intrinsics",
                           str(tmp_path / "bad_K.txt"))
    assert code == 2 and "bad_K.txt: not a number" in err
    (tmp_path / "neg_K.txt").write_text("-500 0 320\n0 500 240\n0 0 1\n")
    code, err = _cli_error(capsys, "sfm", str(images), "-o", str(out), "--intrinsics",
                           str(tmp_path / "neg_K.txt"))
    assert code == 2 and "neg_K.txt: K: focal lengths must be positive" in err
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]
    out.mkdir()
    code, err = _cli_error(capsys, "sfm", str(images), "-o", str(out))
    assert code == 2 and "already exists" in err


def test_mixed_image_sizes_are_refused(tmp_path, ring):
    images, _, _ = ring
    (tmp_path / "a.png").write_bytes((images / "frame_000.png").read_bytes())
    cv2.imwrite(str(tmp_path / "b.png"), np.zeros((10, 12, 3), np.uint8))
    with pytest.raises(ValueError, match="b.png: size 12x10 differs from a.png"):
        load_images(tmp_path)


def test_cli_two_view(tmp_path, ring, capsys):
    images, K, truth = ring
    out = tmp_path / "pair"
    assert cli.main(["two-view", str(images / "frame_002.png"), str(images / "frame_003.png"),
                     "-o", str(out), "--intrinsics", str(K)]) == 0
    cams = load_cameras_json(out / "cameras.json")
    assert sorted(cams) == ["frame_002.png", "frame_003.png"]
    rot, trans = relative_pose_errors(cams, truth)
    assert rot.max() < ROTATION_BOUND and trans.max() < 2 * ROTATION_BOUND
    assert str(out / "report.html") in capsys.readouterr().out


@pytest.mark.slow
def test_cli_sample(tmp_path, capsys):
    out = tmp_path / "sample"
    assert cli.main(["sfm", "-o", str(out)]) == 0
    assert str(out / "report.html") in capsys.readouterr().out
    assert len(load_cameras_json(out / "cameras.json")) == 16


def test_dense_depth_matches_the_truth_up_to_scale(tmp_path, ring):
    images, K, _ = ring
    names = ["frame_002.png", "frame_003.png", "frame_004.png"]
    out = tmp_path / "dense"
    run([images / n for n in names], out, K, progress=lambda msg: None, dense=True)
    est = np.load(out / "depth" / "frame_003.npy")
    true = np.load(images / "depth" / "frame_003.npy")
    ok = np.isfinite(est) & np.isfinite(true)
    assert ok.mean() > 0.5
    scale = np.median(true[ok] / est[ok])  # the reconstruction's scale is arbitrary
    rel = np.abs(scale * est[ok] - true[ok]) / true[ok]
    assert np.median(rel) < 0.02
    assert (out / "depth" / "frame_003.png").is_file()
    header = (out / "dense.ply").read_bytes().split(b"end_header\n")[0].decode()
    assert int(header.split("element vertex ")[1].split()[0]) > 1000
    assert "Depth maps" in (out / "report.html").read_text()


def test_outputs_are_byte_identical_across_runs_and_thread_counts(ring, tmp_path):
    images, K, _ = ring
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    for out, run_env in (("a", None), ("b", env)):
        subprocess.run([sys.executable, "-m", "pipelines.cli", "sfm", str(images), "-o",
                        str(tmp_path / out), "--intrinsics", str(K), "--quiet"], check=True,
                       env=run_env, capture_output=True, cwd=Path(__file__).parents[2])
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*")
                   if p.is_file() and p.name != "report.html")  # the report holds timings
    assert len(files) == 6
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
