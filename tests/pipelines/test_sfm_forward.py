"""Structure from motion on forward motion (a rendered street, KITTI frames) without K: every
written point is finite, in front of the cameras that observe it, with a finite small error; the
writers and the report take a model with odd values."""
import dataclasses

import numpy as np
import pytest

from geom import synth
from geom.camera import intrinsic_matrix, look_at
from geom.rotation import rotation_from_axis_angle
from pipelines import export
from pipelines.sfm import report
from pipelines.sfm.pipeline import match_images, run
from pipelines.timing import Timer

MAX_ERROR = 4.0  # IncrementalOptions.max_error, the default outlier threshold (px)


def street(n_frames=10, width=320, height=240, seed=0):
    """A camera driving 1 unit per frame down a street (ground, side walls 3 units away, a wall
    across its end 30 units ahead, all textured), focal 0.58 width: half the guess without K."""
    rng = np.random.default_rng(seed)

    def plane(scale):
        texture = synth.Texture(int(rng.integers(0, 2**31)), scale, 8,
                                tuple(map(tuple, rng.uniform(0.15, 0.95, (3, 3)))), "noise", 0.9)
        return synth.Shape("plane", (np.inf, np.inf, 1.0), texture)

    side = rotation_from_axis_angle([0, np.pi / 2, 0])  # plane normal (body z) -> world x
    across = rotation_from_axis_angle([np.pi / 2, 0, 0])  # -> world -y
    background = [synth.Body.static(plane(1.0), n_frames),
                  synth.Body.static(plane(1.5), n_frames, side, (-3.0, 0.0, 0.0)),
                  synth.Body.static(plane(1.5), n_frames, side, (3.0, 0.0, 0.0)),
                  synth.Body.static(plane(3.0), n_frames, across, (0.0, 30.0, 0.0))]
    K = intrinsic_matrix(0.58 * width, 0.58 * width, (width - 1) / 2, (height - 1) / 2)
    cams = [look_at((0.0, i, 1.5), (0.0, i + 10.0, 1.2), K, up=(0, 0, 1), width=width,
                    height=height) for i in range(n_frames)]
    return synth.Scene(cams, background, [], synth.Light((0.3, 0.5, -1.0), 0.5, 0.6))


@pytest.fixture(scope="module")
def street_run(tmp_path_factory):
    """(image folder, `Reconstruction`, output folder) of `mvdepth sfm` on the street, no K."""
    root = tmp_path_factory.mktemp("street")
    images = synth.write_folder(synth.render(street()), root / "street")
    rec = run(images, root / "out", progress=lambda msg: None)
    return images, rec, root / "out"


def assert_points_finite_and_in_front(rec):
    """Every point finite; every observation of it in front of its camera, error < MAX_ERROR;
    two or more per point."""
    assert np.isfinite(rec.points).all()
    for k, name in enumerate(rec.image_names):
        sel = rec.obs_image == k
        depth = rec.cameras[name].depth(rec.points[rec.obs_point[sel]])
        assert (depth > 0).all(), f"{name}: {(depth <= 0).sum()} points at or behind it"
    assert (rec.reprojection_errors() < MAX_ERROR).all()
    assert rec.track_lengths.min() >= 2


def test_forward_street_without_K_keeps_only_points_in_front(street_run):
    _, rec, out = street_run
    assert len(rec.cameras) == len(rec.image_names) == 10
    assert len(rec.points) > 500
    assert_points_finite_and_in_front(rec)
    assert "not finite, left out" not in (out / "report.html").read_text()


def test_writers_and_report_take_points_behind_a_camera_or_not_finite(street_run, tmp_path):
    images, rec, _ = street_run
    points = rec.points.copy()
    points[0] = np.nan
    cam = rec.cameras[rec.image_names[rec.obs_image[rec.obs_point == 1][0]]]
    points[1] = 2 * cam.center - points[1]  # mirrored through a camera centre: behind it
    odd = dataclasses.replace(rec, points=points)
    left_out = (~np.isfinite(odd.reprojection_errors())).sum()
    assert left_out > (rec.obs_point == 0).sum()  # point 0's observations and point 1's in cam
    export.write_sparse(odd, tmp_path)
    m = match_images(images, progress=lambda msg: None)
    report.write_report(tmp_path / "report.html", m, odd, Timer())
    header = (tmp_path / "points.ply").read_bytes().split(b"end_header\n")[0].decode()
    assert f"element vertex {len(points)}" in header
    assert len((tmp_path / "sparse" / "points3D.txt").read_text().splitlines()) == len(points) + 1
    assert f"({left_out} not finite, left out)" in (tmp_path / "report.html").read_text()


@pytest.mark.slow
def test_kitti_without_K_keeps_only_points_in_front(dataset, tmp_path):
    images = dataset("kitti_odometry_07_first30") / "sequences" / "07" / "image_0"
    rec = run(images, tmp_path / "out", progress=lambda msg: None)
    assert len(rec.cameras) == 30
    assert len(rec.points) > 3000
    assert_points_finite_and_in_front(rec)
    assert (tmp_path / "out" / "report.html").is_file()
