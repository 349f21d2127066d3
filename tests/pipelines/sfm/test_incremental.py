"""The steps of incremental SfM on synthetic scenes with known truth (`geom.testing`): choosing
the initial pair, registering by 2D-3D pose and by pair pose, triangulation, local and global
adjustment with their schedule, outlier filtering, and the whole loop."""
from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings

from geom.camera import intrinsic_matrix, look_at, relative_pose
from geom.rotation import angular_distance, rotation_from_axis_angle
from geom.testing import make_camera_ring, make_points_in_view, seeds, two_view_problems
from pipelines.evaluate import relative_pose_errors
from pipelines.features import Features
from pipelines.matching import PairMatches
from pipelines.sfm.incremental import (IncrementalOptions, WorkingModel, adjust_global,
                                       adjust_local, adjust_new_image, filter_model,
                                       focal_change, initial_pair, next_image, reconstruct,
                                       register_by_pair, register_by_pose, restart,
                                       to_reconstruction, triangulate)

SIZE = (640, 480)
OPTIONS = IncrementalOptions()


def _features(cams, X):
    """Every point seen by every camera: keypoint n of each image is point n."""
    n = len(X)
    return [Features(c.project(X), np.zeros((n, 128), np.float32), np.full((n, 3), 7, np.uint8))
            for c in cams]


def _pair(cams, i, j, points):
    """Verified matches of `points` between images i and j with their true relative pose."""
    R, t = relative_pose(cams[i], cams[j])
    return PairMatches(i, j, np.c_[points, points], R, t / np.linalg.norm(t))


def _model(cams, X, matched=None):
    """A `WorkingModel` of the scene; matched: (i, j) -> the points that pair matches (default
    all of them)."""
    matched = matched or {}
    pairs = [_pair(cams, i, j, matched.get((i, j), np.arange(len(X))))
             for i, j in combinations(range(len(cams)), 2)]
    return WorkingModel([f"view{k}.png" for k in range(len(cams))], SIZE, _features(cams, X),
                        pairs, [c.K for c in cams])


def _on_circle(degrees):
    """Cameras at these angles on a horizontal circle of radius 5, looking at its centre."""
    K = intrinsic_matrix(500.0, 500.0, 319.5, 239.5)
    return [look_at(5 * np.array([np.sin(a), 0.0, -np.cos(a)]), np.zeros(3), K, width=SIZE[0],
                    height=SIZE[1]) for a in np.radians(degrees)]


def _ring(seed, n_views, n_points=60):
    cams = make_camera_ring(seed, n_views, arc=np.pi / 2)
    return cams, make_points_in_view(seed, cams, n_points)


def _point_of_track(model):
    """Index of the scene point each track is (keypoint n of every image is point n)."""
    point = np.zeros(model.tracks.count, np.int64)
    point[model.tracks.track] = model.tracks.keypoint
    return point


def _place(model, cams, X, views, tracks=None):
    """Register `views` at their true cameras and set the true points of `tracks` (default all)."""
    for k in views:
        model.cameras[k] = cams[k]
        model.order.append(k)
    tracks = np.arange(model.tracks.count) if tracks is None else tracks
    model.points[tracks] = X[_point_of_track(model)[tracks]]


def _assert_pose(cam, truth, atol):
    assert angular_distance(cam.R, truth.R) < atol
    np.testing.assert_allclose(cam.t, truth.t, atol=atol * np.linalg.norm(truth.t))


def _mean_error(model):
    return _errors(model).mean()


def _errors(model):
    return to_reconstruction(model, OPTIONS).reprojection_errors()


def _perturbed(cam, rng, scale):
    R = rotation_from_axis_angle(rng.normal(scale=scale / 5, size=3)) @ cam.R
    return cam.with_pose(R, cam.t + rng.normal(scale=scale, size=3))


def test_options_are_keyword_only():
    with pytest.raises(TypeError):
        IncrementalOptions(2.0)
    assert IncrementalOptions(max_error=2.0).max_error == 2.0


def test_initial_pair_prefers_the_best_matched_wide_pair():
    """Views at 0, -1 and 30 degrees on a ring: the narrow pair (0, 1) has the most matches but
    too little parallax, so the wide pair with more matches, (0, 2), starts; with no pair wide
    enough, the widest, (1, 2), starts though it has the fewest."""
    cams = _on_circle([0.0, -1.0, 30.0])
    X = make_points_in_view(0, cams, 100)
    model = _model(cams, X, {(0, 2): np.arange(70), (1, 2): np.arange(50)})
    i, j, R, t = initial_pair(model, OPTIONS)
    assert (i, j) == (0, 2)
    np.testing.assert_array_equal(R, model.pairs[1].R)
    np.testing.assert_array_equal(t, model.pairs[1].t)
    assert initial_pair(model, IncrementalOptions(init_min_angle=np.radians(60)))[:2] == (1, 2)


@settings(max_examples=8, deadline=None)
@given(seeds())
def test_register_by_pose_recovers_a_known_pose_from_exact_matches(seed):
    cams, X = _ring(seed, 3)
    model = _model(cams, X)
    _place(model, cams, X, [0, 1])
    assert register_by_pose(model, 2, OPTIONS)
    assert model.order == [0, 1, 2]
    _assert_pose(model.cameras[2], cams[2], 1e-6)
    assert model.inlier.all()


def test_register_by_pair_scales_the_pair_pose_by_few_2d3d_matches():
    """Five triangulated points: too few for a 2D-3D pose, enough to scale the pair's pose."""
    cams, X = _ring(1, 3)
    model = _model(cams, X)
    _place(model, cams, X, [0, 1], tracks=np.arange(5))
    assert not register_by_pose(model, 2, OPTIONS)
    assert model.cameras[2] is None
    assert register_by_pair(model, 2, OPTIONS)
    _assert_pose(model.cameras[2], cams[2], 1e-9)
    model.points[2:5] = np.nan  # two matches cannot confirm a scale
    model.cameras[2] = None
    assert not register_by_pair(model, 2, OPTIONS)


@settings(max_examples=8, deadline=None)
@given(two_view_problems(n_points=(10, 80)))
def test_triangulate_recovers_the_points_of_a_two_view_scene(p):
    model = _model([p.cam1, p.cam2], p.X)
    _place(model, [p.cam1, p.cam2], p.X, [0, 1], tracks=[])
    triangulate(model, OPTIONS)
    assert model.n_points() == len(p.X)
    truth = p.X[_point_of_track(model)]
    np.testing.assert_allclose(model.points, truth, atol=1e-6 * np.abs(truth).max())
    assert model.inlier.all()


def test_triangulate_leaves_out_points_of_too_little_parallax():
    """Two views 0.5 degrees apart on a circle: every ray pair meets at under 1.5 degrees."""
    cams = _on_circle([0.0, 0.5])
    X = make_points_in_view(2, cams, 40)
    model = _model(cams, X)
    _place(model, cams, X, [0, 1], tracks=[])
    triangulate(model, OPTIONS)
    assert model.n_points() == 0
    triangulate(model, IncrementalOptions(min_parallax=0.0))
    assert model.n_points() == len(X)


def test_filter_drops_an_injected_outlier_observation_and_keeps_the_rest():
    cams, X = _ring(3, 3)
    model = _model(cams, X)
    _place(model, cams, X, [0, 1, 2])
    bad = np.flatnonzero((model.tracks.image == 2) & (model.tracks.track == 5))
    model.tracks.xy[bad] += [6.0, 0.0]
    filter_model(model, OPTIONS)
    np.testing.assert_array_equal(np.flatnonzero(~model.inlier), bad)
    assert model.n_points() == len(X)  # the point keeps its two other observations


def test_filter_drops_a_point_left_with_one_observation():
    cams, X = _ring(4, 2)
    model = _model(cams, X)
    _place(model, cams, X, [0, 1])
    model.tracks.xy[(model.tracks.image == 1) & (model.tracks.track == 7)] += [0.0, 6.0]
    filter_model(model, OPTIONS)
    assert np.isnan(model.points[7]).all()
    assert model.n_points() == len(X) - 1
    assert (_errors(model) < 1e-6).all()


@settings(max_examples=5, deadline=None)
@given(seeds())
def test_adjust_global_lowers_the_reprojection_error_of_a_perturbed_scene(seed):
    rng = np.random.default_rng(seed)
    cams, X = _ring(seed, 4)
    model = _model(cams, X)
    _place(model, [*cams[:2], *(_perturbed(c, rng, 0.01) for c in cams[2:])],
           X + rng.normal(scale=0.01, size=X.shape), range(4))
    before = _mean_error(model)
    adjust_global(model, OPTIONS, max_evaluations=30)
    assert before > 0.1
    assert _mean_error(model) < 1e-3 * before
    assert model.inlier.all() and model.last_global_size == 4


def _eight_views_perturbed():
    """Eight views that see every point, all registered; views 0, 1 and 7 perturbed."""
    cams, X = _ring(5, 8)
    model = _model(cams, X)
    rng = np.random.default_rng(5)
    _place(model, [_perturbed(c, rng, 0.02) if k in (0, 1, 7) else c for k, c in enumerate(cams)],
           X, range(8))
    return cams, model


def _moved(new, old):
    return np.abs(new.t - old.t).max() > 1e-9


def test_adjust_local_refines_the_neighbourhood_and_holds_the_rest():
    """Image 7's neighbours are the first two (ties keep index order): images 0, 1 and 7 return
    to the truth, which images 2-6, held, fix."""
    cams, model = _eight_views_perturbed()
    held = model.cameras[2:7]
    adjust_local(model, 7, IncrementalOptions(local_images=3), max_evaluations=30)
    assert not any(_moved(new, old) for new, old in zip(model.cameras[2:7], held))
    for k in (0, 1, 7):
        _assert_pose(model.cameras[k], cams[k], 1e-6)
    assert model.last_global_size == 0  # a local adjustment does not count as global


def test_adjust_local_adjusts_everything_when_too_few_images_would_be_held():
    _, model = _eight_views_perturbed()
    outside = model.cameras[6]
    adjust_local(model, 7, IncrementalOptions(local_images=7), max_evaluations=30)
    assert _moved(model.cameras[6], outside)
    assert model.last_global_size == 0


@pytest.mark.parametrize("last_global, adjusted_globally", [(7, False), (6, True)])
def test_adjust_new_image_goes_global_when_the_model_has_grown_enough(last_global,
                                                                      adjusted_globally):
    """8 images registered: global where 8 >= 1.25 x the size at the last global adjustment."""
    _, model = _eight_views_perturbed()
    model.last_global_size = last_global
    outside = model.cameras[4]
    adjust_new_image(model, 7, IncrementalOptions(local_images=3))
    assert model.last_global_size == (8 if adjusted_globally else last_global)
    assert _moved(model.cameras[4], outside) == adjusted_globally


def test_next_image_takes_the_most_2d3d_matches():
    cams, X = _ring(6, 4)
    few = np.arange(20)
    model = _model(cams, X, {(0, 3): few, (1, 3): few, (2, 3): few})
    _place(model, cams, X, [0, 1])
    assert next_image(model) == 2
    assert next_image(model, skip={2}) == 3
    _place(model, cams, X, [2, 3])
    assert next_image(model) is None


def test_restart_starts_from_the_current_intrinsics():
    cams, X = _ring(7, 3)
    model = _model(cams, X)
    _place(model, cams, X, [0, 1])
    model.Ks[0] = model.Ks[0] * [[1.1], [1.1], [1]]
    assert focal_change(model) == pytest.approx(np.log(1.1))
    fresh = restart(model)
    assert fresh.cameras == [None] * 3 and fresh.order == [] and fresh.n_points() == 0
    np.testing.assert_array_equal(fresh.Ks[0], model.Ks[0])
    fresh.order = [0, 1]
    assert focal_change(fresh) == 0
    assert fresh.verified_Ks[0] is model.verified_Ks[0]


def test_reconstruct_recovers_a_ring_with_known_truth():
    cams, X = _ring(8, 6, n_points=80)
    model = _model(cams, X)
    messages = []
    rec = reconstruct(model.names, model.features, model.Ks, SIZE, model.pairs,
                      progress=messages.append)
    assert len(rec.cameras) == 6 and len(rec.points) == len(X)
    rot, direction = relative_pose_errors(rec.cameras, dict(zip(model.names, cams)))
    assert rot.max() < 1e-6 and direction.max() < 1e-6
    assert rec.reprojection_errors().max() < 1e-3
    assert any(m.startswith("initial pair") for m in messages)
