"""Motion segmentation of point tracks (`segment_tracks`): synthetic multi-body tracks, the
metric, bad input, one real sequence of each dataset."""
import numpy as np
import pytest

from geom.camera import look_at
from geom.rotation import rotation_from_axis_angle
from geom.testing import make_intrinsics
from pipelines.datasets import hopkins155, kt3dmoseg
from pipelines.multibody import segment_tracks
from pipelines.multibody.evaluate import track_misclassification

N_FRAMES, WIDTH, HEIGHT = 10, 640, 480


def multibody_tracks(seed, n_bodies=3, n_points=80, n_outliers=6, noise=0.3):
    """Perspective tracks of `n_bodies` rigid motions (body 0 static, the others translating and
    turning their own way) seen by a camera moving forward and panning, each track visible in a
    random window of 5..10 frames, plus `n_outliers` random tracks (true label -1).
    Returns (points (F, N, 2) NaN where not visible, visible (F, N), labels (N,), K)."""
    rng = np.random.default_rng(seed)
    K = make_intrinsics(rng, WIDTH, HEIGHT)
    cams = [look_at([0.3 * f * np.sin(0.1 * f), 0, 0.3 * f],
                    [2 * np.sin(0.05 * f), 0, 10 + 0.3 * f], K, width=WIDTH, height=HEIGHT)
            for f in range(N_FRAMES)]
    tracks, labels = [], []
    for b in range(n_bodies):
        centre = (np.array([0, 0, 9.0]) if b == 0
                  else np.array([rng.uniform(-2, 2), rng.uniform(-1, 1), 7]))
        spread = 4.0 if b == 0 else 1.0
        X = centre + rng.uniform(-spread, spread, (n_points, 3))
        v, w = rng.normal(0, 0.15, 3) * (b > 0), rng.normal(0, 0.05, 3) * (b > 0)
        for f, cam in enumerate(cams):
            R = rotation_from_axis_angle(w * f)
            tracks.append(cam.project((X - centre) @ R.T + centre + v * f))
        labels += [b] * n_points
    points = np.stack([np.concatenate(tracks[f::N_FRAMES]) for f in range(N_FRAMES)])
    points += rng.normal(0, noise, points.shape)
    outliers = rng.uniform([0, 0], [WIDTH, HEIGHT], (N_FRAMES, n_outliers, 2))
    points = np.concatenate([points, outliers], axis=1)
    labels = np.array(labels + [-1] * n_outliers)
    first = rng.integers(0, N_FRAMES - 4, points.shape[1])
    last = np.minimum(first + rng.integers(4, N_FRAMES, points.shape[1]), N_FRAMES - 1)
    frames = np.arange(N_FRAMES)[:, None]
    visible = (frames >= first) & (frames <= last)
    return np.where(visible[..., None], points, np.nan), visible, labels, K


@pytest.mark.parametrize("seed,n_bodies", [(0, 2), (1, 3)])
def test_synthetic_bodies_segmented(seed, n_bodies):
    points, visible, truth, K = multibody_tracks(seed, n_bodies)
    labels = segment_tracks(points, visible, K, seed=0)
    assert labels.shape == truth.shape and labels.dtype == np.int64
    assert labels.max() + 1 == n_bodies
    assert track_misclassification(truth, labels) < 0.05  # 0.0-2.5 % over seeds 0-4
    assert np.sum(labels[truth < 0] == -1) >= 4  # of the 6 random tracks


def test_same_seed_same_labels():
    points, visible, _, _ = multibody_tracks(2)
    assert np.array_equal(segment_tracks(points, visible, seed=3),
                          segment_tracks(points, visible, seed=3))


def test_misclassification_relabelling():
    truth = np.array([0, 0, 1, 1, 2, 2, -1])
    assert track_misclassification(truth, np.array([2, 2, 0, 0, 1, 1, 5])) == 0
    assert track_misclassification(truth, np.array([2, 2, 0, 0, -1, -1, 1])) == pytest.approx(2 / 6)
    assert track_misclassification(truth, np.zeros(7, int)) == pytest.approx(4 / 6)
    with pytest.raises(ValueError, match="labels"):
        track_misclassification(truth, truth[:3])


def test_bad_input():
    points, visible, _, _ = multibody_tracks(0, n_bodies=2)
    with pytest.raises(ValueError, match="^visible"):
        segment_tracks(points, visible.astype(np.uint8))
    with pytest.raises(ValueError, match="^points"):
        segment_tracks(points[..., :1], visible)
    with pytest.raises(ValueError, match="^points"):
        segment_tracks(points.astype(complex), visible)
    bad = points.copy()
    bad[visible] = np.nan
    with pytest.raises(ValueError, match="^points"):
        segment_tracks(bad, visible)
    with pytest.raises(ValueError, match="^K"):
        segment_tracks(points, visible, np.eye(2))
    with pytest.raises(TypeError):
        segment_tracks(points, visible, None, 0)  # options are keyword-only
    none = segment_tracks(points, np.zeros_like(visible))  # nothing co-visible: all outliers
    assert (none == -1).all()


@pytest.mark.parametrize("reader,folder,name,bound", [
    (kt3dmoseg, "kt3dmoseg_half", "Seq037_Clip01", 0.10),
    (hopkins155, "hopkins155", "kanatani1", 0.03),
])
def test_real_sequence(dataset, reader, folder, name, bound):  # measured 6.4 % and 0.7 %
    seq = reader.load_sequence(dataset(folder), name)
    labels = segment_tracks(seq.points, seq.visible, seq.K)
    assert track_misclassification(seq.labels, labels) < bound
