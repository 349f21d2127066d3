"""`mvdepth sfm --flow`: dense flow matches augment the SIFT matches of each selected pair."""
import numpy as np
import pytest

from geom import synth
from geom.io import load_cameras_json
from pipelines import cli
from pipelines.sfm.evaluate import relative_pose_errors
from pipelines.sfm.images import save_intrinsics
from pipelines.sfm.pipeline import run

# pairwise relative rotation error, 6 views 320x240 over 75 degrees, exact K, dis-medium flow
# (measured 0.27 deg with the flow, 0.10 deg with SIFT alone)
ROTATION_BOUND = np.radians(0.5)


@pytest.fixture(scope="module")
def ring(tmp_path_factory):
    """A 6-view 320x240 synthetic ring over 75 degrees, its intrinsics file and truth."""
    root = tmp_path_factory.mktemp("sfmflow")
    images = synth.write_folder(synth.render(synth.orbit_ring(6, 0, 320, 240,
                                                              arc=np.radians(75))), root / "ring")
    truth = load_cameras_json(images / "cameras.json")
    save_intrinsics(root / "K.txt", {n: c.K for n, c in truth.items()})
    return images, root / "K.txt", truth


def _quiet(msg):
    pass


def test_flow_matches_register_every_view_with_more_points(ring, tmp_path):
    images, K, truth = ring
    sift = run(images, tmp_path / "sift", K, progress=_quiet)
    rec = run(images, tmp_path / "flow", K, progress=_quiet, flow="dis-medium")
    assert sorted(rec.cameras) == sorted(truth)
    rot, trans = relative_pose_errors(rec.cameras, truth)
    assert rot.max() < ROTATION_BOUND
    assert trans.max() < 2 * ROTATION_BOUND
    assert np.median(rec.reprojection_errors()) < 0.5
    # the flow's grid points join tracks: more points than SIFT alone
    assert len(rec.points) > 1.2 * len(sift.points)
    assert (tmp_path / "flow" / "report.html").is_file()


def test_cli_unknown_flow_fails_before_reading_images(tmp_path, capsys):
    out = tmp_path / "out"
    code = cli.main(["sfm", str(tmp_path / "missing"), "-o", str(out), "--flow", "nope"])
    err = capsys.readouterr().err
    assert code == 2
    assert "unknown flow plug-in 'nope'" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
