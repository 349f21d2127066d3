"""`mvdepth sfm --flow`: dense flow matches augment the SIFT matches of each selected pair."""
import numpy as np
import pytest

from pipelines import cli, features, flowmatches, matching
from pipelines.evaluate import relative_pose_errors
from pipelines.images import load_images
from pipelines.sfm.pipeline import run

# pairwise relative rotation error, 6 views 320x240 over 75 degrees, exact K, dis-medium flow
# (measured 0.27 deg with the flow, 0.10 deg with SIFT alone)
ROTATION_BOUND = np.radians(0.5)


@pytest.fixture(scope="module")
def ring(make_ring):
    """A 6-view 320x240 synthetic ring over 75 degrees, its intrinsics file and truth."""
    return make_ring(6, 75)


@pytest.fixture(scope="module")
def two_views(ring):
    """The first two images of the ring, their features and intrinsics."""
    images, _, truth = ring
    imgs = load_images(images)
    feats = features.extract_all(imgs.images[:2])
    return imgs.images[:2], feats, [truth[n].K for n in imgs.names[:2]]


def _quiet(msg):
    pass


def _zero_flow(a, b):
    return np.zeros(a.shape[:2] + (2,), np.float32)


def test_flow_matches_added_on_a_grid(two_views):
    images, feats, _ = two_views
    done = []
    aug, (pm,) = flowmatches.add_flow_matches(
        feats, images, [matching.PairMatches(0, 1, np.zeros((0, 2), np.int64))], _zero_flow,
        step=16, progress=lambda d, n: done.append((d, n)))
    assert done == [(1, 1)]
    n = (240 // 16) * (320 // 16)
    assert (pm.i, pm.j) == (0, 1) and len(pm.matches) == n  # every grid point, zero flow
    x0 = aug[0].keypoints[pm.matches[:, 0]]
    x1 = aug[1].keypoints[pm.matches[:, 1]]
    np.testing.assert_array_equal(x0, x1)
    assert len(aug[1].keypoints) == len(feats[1].keypoints) + 2 * n  # own grid + end points
    assert len(aug[0].descriptors) == len(aug[0].keypoints) == len(aug[0].colors)


def test_given_matches_are_the_ones_verified(two_views):
    _, feats, Ks = two_views
    (sift,) = matching.match_pairs(feats, [(0, 1)])
    (verified,) = matching.verify_pairs(feats, Ks, [sift])
    assert len(verified.matches) >= 20 and verified.R is not None
    assert set(map(tuple, verified.matches)) <= set(map(tuple, sift.matches))
    few = matching.PairMatches(0, 1, sift.matches[:5])
    assert matching.verify_pairs(feats, Ks, [few]) == []  # cannot pass the 20-inlier check


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
