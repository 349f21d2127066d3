"""Bundle adjustment's Levenberg-Marquardt: against a generic least-squares solver, the noise
level, invariance to a world similarity, robustness to outliers, cameras held fixed, bad input."""
import numpy as np
import pytest
import scipy.optimize
from hypothesis import given, settings

from geom.rotation import angular_distance, random_rotation, rotation_from_axis_angle
from geom.testing import (make_camera_ring, make_points_in_view, scenes, similarity_transform,
                          transform_camera)
from geom.bundle import NC, _linearise, _problem_data, _retract, bundle_adjust
from geom.camera_models import k_radial_params
from pipelines.evaluate import relative_pose_errors


def _observe(rng, cams, X, noise, perturb):
    """Every point seen in every view with `noise` px of noise, and a start: the first two
    cameras exact, the other cameras and the points perturbed by about `perturb`.
    Returns (start cameras, start points, obs_camera, obs_point, obs_xy)."""
    oc = np.repeat(np.arange(len(cams)), len(X))
    op = np.tile(np.arange(len(X)), len(cams))
    xy = np.concatenate([c.project(X) for c in cams]) + rng.normal(scale=noise, size=(oc.size, 2))
    start = cams[:2] + [
        c.with_pose(rotation_from_axis_angle(rng.normal(scale=perturb / 2, size=3)) @ c.R,
                    c.t + rng.normal(scale=perturb, size=3)) for c in cams[2:]]
    return start, X + rng.normal(scale=perturb, size=X.shape), oc, op, xy


def _problem(seed, n_views=4, n_points=60, noise=0.5, perturb=0.02):
    rng = np.random.default_rng(seed)
    cams = make_camera_ring(rng, n_views, arc=np.pi / 2)
    X = make_points_in_view(rng, cams, n_points)
    return (cams, X, *_observe(rng, cams, X, noise, perturb))


def _reference_cost(start, X0, oc, op, xy):
    """Least-squares optimum by scipy (finite-difference Jacobian) with the same gauge: the first
    camera fixed, the second camera's translation coordinate of largest magnitude fixed."""
    k = int(np.argmax(np.abs(start[1].t - start[1].R @ start[0].R.T @ start[0].t)))
    free_t1 = [i for i in range(3) if i != k]
    n_cam = len(start)

    def unpack(x):
        cams = [start[0]]
        w = x[:3 * (n_cam - 1)].reshape(-1, 3)
        t1 = start[1].t.copy()
        t1[free_t1] = x[3 * (n_cam - 1):3 * (n_cam - 1) + 2]
        m = 3 * (n_cam - 1) + 2
        ts = [t1] + list(x[m:m + 3 * (n_cam - 2)].reshape(-1, 3))
        for c in range(1, n_cam):
            R = rotation_from_axis_angle(w[c - 1]) @ start[c].R
            cams.append(start[c].with_pose(R, ts[c - 1]))
        return cams, x[-3 * len(X0):].reshape(-1, 3)

    def residuals(x):
        cams, X = unpack(x)
        return np.concatenate([cams[c].project(X[op[oc == c]]) - xy[oc == c]
                               for c in range(n_cam)]).ravel()

    x0 = np.concatenate([np.zeros(3 * (n_cam - 1)), start[1].t[free_t1],
                         np.concatenate([c.t for c in start[2:]]), X0.ravel()])
    sol = scipy.optimize.least_squares(residuals, x0, method="trf", x_scale="jac",
                                       ftol=1e-12, xtol=1e-12, gtol=1e-12)
    return 0.5 * np.sum(sol.fun ** 2)


@pytest.mark.parametrize("seed", [0, 1])
def test_least_squares_optimum_matches_a_generic_solver(seed):
    _, _, start, X0, oc, op, xy = _problem(seed, n_views=3, n_points=25)
    res = bundle_adjust(start, X0, oc, op, xy, loss="linear", max_evaluations=100)
    ours = 0.5 * np.sum(res.errors ** 2)
    assert ours <= _reference_cost(start, X0, oc, op, xy) * (1 + 1e-6)
    assert 1 < res.evaluations < 100  # converged before the budget


@settings(max_examples=5, deadline=None)
@given(scenes(n_views=(3, 5), n_points=(40, 80)))
def test_huber_loss_ignores_gross_outliers(scene):
    cams, X = scene
    rng = np.random.default_rng(len(X))
    start, _, oc, op, xy = _observe(rng, cams, X, 0.3, 0.02)
    bad = rng.random(oc.size) < 0.1
    xy[bad] += rng.choice([-1, 1], size=(bad.sum(), 2)) * rng.uniform(30, 60, size=(bad.sum(), 2))
    robust = bundle_adjust(start, X, oc, op, xy, loss="huber", loss_scale=1.0, max_evaluations=60)
    plain = bundle_adjust(start, X, oc, op, xy, loss="linear", max_evaluations=60)
    clean = bundle_adjust(start, X, oc[~bad], op[~bad], xy[~bad], loss="linear",
                          max_evaluations=60)
    assert np.median(robust.errors[~bad]) < 0.6  # the inliers sit at the noise level
    assert np.median(robust.errors[bad]) > 20  # the outliers stay out

    def rotation_gap(res):  # largest rotation difference to the solution without the outliers
        return max(angular_distance(a.R, b.R) for a, b in zip(res.cameras, clean.cameras))

    # Huber's bounded influence leaves a small bias (a few tenths of a degree with 40 points in
    # 3 views), plain least squares a large one
    assert rotation_gap(robust) < 0.5 * rotation_gap(plain)


def test_fixed_cameras_are_held_and_the_others_refined():
    cams, _, start, X0, oc, op, xy = _problem(2, n_views=5)
    fixed = np.array([True, True, False, True, False])
    res = bundle_adjust(start, X0, oc, op, xy, fixed=fixed)
    for got, given_, held in zip(res.cameras, start, fixed):
        if held:
            assert np.allclose(got.R, given_.R, atol=1e-12) and np.allclose(got.t, given_.t)
    for c in (2, 4):
        before, after = start[c].R, res.cameras[c].R
        assert angular_distance(after, cams[c].R) < angular_distance(before, cams[c].R)
    assert np.median(res.errors) < 0.3 * np.median(res.initial_errors)


def test_all_cameras_fixed_refines_the_points_alone():
    cams, X, _, X0, oc, op, xy = _problem(3)
    res = bundle_adjust(cams, X0, oc, op, xy, fixed=np.ones(len(cams), bool))
    assert all(np.array_equal(a.t, b.t) for a, b in zip(res.cameras, cams))
    before, after = np.linalg.norm(X0 - X, axis=1), np.linalg.norm(res.points - X, axis=1)
    assert after.mean() < 0.5 * before.mean()


def test_a_point_behind_the_cameras_has_an_infinite_error():
    """Far in front of every camera and its antipode behind them all project to the same pixels
    (mirrored); the cost cannot tell them apart, the reported errors do."""
    cams, X, _, _, oc, op, xy = _problem(0)
    far = 1e6 * np.mean([c.R[2] for c in cams], axis=0)  # along the mean optical axis
    seen = op == 0
    xy[seen] = [cams[c].project(far[None])[0] for c in oc[seen]]
    X0 = X.copy()
    X0[0] = -far
    res = bundle_adjust(cams, X0, oc, op, xy, fixed=np.ones(len(cams), bool))
    for errors in (res.initial_errors, res.errors):
        assert np.isinf(errors[seen]).all()
        assert np.isfinite(errors[~seen]).all()
    assert all(c.depth(res.points[:1])[0] < 0 for c in cams)


def test_bad_input_is_named():
    _, _, start, X0, oc, op, xy = _problem(0)
    with pytest.raises(ValueError, match=r"fixed: expected \(4,\) bool"):
        bundle_adjust(start, X0, oc, op, xy, fixed=np.zeros(3, bool))
    with pytest.raises(ValueError, match=r"fixed: expected \(4,\) bool"):
        bundle_adjust(start, X0, oc, op, xy, fixed=np.zeros(4))
    with pytest.raises(ValueError, match="loss_scale: must be a positive"):
        bundle_adjust(start, X0, oc, op, xy, loss_scale=0.0)
    with pytest.raises(ValueError, match="loss: expected 'huber' or 'linear'"):
        bundle_adjust(start, X0, oc, op, xy, loss="cauchy")


@pytest.mark.parametrize("seed", [0, 1])
def test_bundle_adjustment_reaches_the_noise_level(seed):
    noise = 0.5
    cams, X, start, X0, oc, op, xy = _problem(seed, 5, 200, noise, perturb=0.03)
    res = bundle_adjust(start, X0, oc, op, xy)
    rms = np.sqrt(np.mean(res.errors ** 2))
    assert np.sqrt(np.mean(res.initial_errors ** 2)) > 5 * noise
    # 2-D error RMS of sigma-noise is sigma sqrt(2), less the fitted degrees of freedom
    assert 0.8 * noise * np.sqrt(2) * np.sqrt(1 - (6 * 3 + 3 * len(X)) / xy.size) < rms
    assert rms < 1.05 * noise * np.sqrt(2)
    for got, true in zip(res.cameras, cams):
        assert angular_distance(got.R, true.R) < np.radians(0.1)


@settings(max_examples=5)
@given(scenes(n_views=(3, 4), n_points=(30, 60)))
def test_bundle_adjustment_is_invariant_to_a_world_similarity(scene):
    cams, X = scene
    rng = np.random.default_rng(len(X))
    start, _, oc, op, xy = _observe(rng, cams, X, 0.3, 0.02)
    s, Rw, T = 2.5, random_rotation(rng), rng.normal(size=3)
    # least squares: converged to the same optimum in both frames (the IRLS rounds of the robust
    # loss stop after a fixed count, wherever each frame's inexact steps got to)
    a = bundle_adjust(start, X, oc, op, xy, loss="linear", max_evaluations=100)
    b = bundle_adjust([transform_camera(c, s, Rw, T) for c in start],
                      similarity_transform(X, s, Rw, T), oc, op, xy, loss="linear",
                      max_evaluations=100)
    assert np.allclose(a.errors, b.errors, atol=1e-4)
    rot, trans = relative_pose_errors(dict(enumerate(a.cameras)), dict(enumerate(b.cameras)))
    assert rot.max() < 1e-6 and trans.max() < 1e-6


def test_bundle_adjustment_rejects_bad_input():
    cams, X, start, X0, oc, op, xy = _problem(0)
    with pytest.raises(ValueError, match="cameras: need at least 2"):
        bundle_adjust(start[:1], X0, oc, op, xy)
    with pytest.raises(ValueError, match="obs_point: indices must be in"):
        bundle_adjust(start, X0, oc, op + 1, xy)
    with pytest.raises(ValueError, match="obs_xy: contains NaN"):
        bundle_adjust(start, X0, oc, op, np.where(xy > 100, np.nan, xy))
    with pytest.raises(ValueError, match="obs_camera: expected"):
        bundle_adjust(start, X0, oc[:-1], op, xy)


def _distorted_problem(seed, k, n_views=8, n_points=150, noise=0.3):
    """A full ring seeing points all round, observed through SIMPLE_RADIAL (focal of the
    ring's K, radial k): (true cameras, points, obs_camera, obs_point, obs_xy)."""
    rng = np.random.default_rng(seed)
    cams = make_camera_ring(rng, n_views, arc=2 * np.pi)
    X = rng.uniform(-1.5, 1.5, size=(n_points, 3))
    oc = np.repeat(np.arange(n_views), n_points)
    op = np.tile(np.arange(n_points), n_views)
    q = np.concatenate([c.to_camera(X) for c in cams])
    uv = q[:, :2] / q[:, 2:]
    uv *= 1 + k * (uv ** 2).sum(1, keepdims=True)
    K = cams[0].K
    xy = uv @ K[:2, :2].T + K[:2, 2] + rng.normal(scale=noise, size=uv.shape)
    return cams, X, oc, op, xy


@pytest.mark.parametrize("k", [0.0, -0.15])
def test_shared_focal_and_radial_coefficient_are_recovered(k):
    """One camera group started 10 % off in focal length, k from 0: both refined to the truth,
    poses as good as with the true intrinsics, and the reported standard deviation of f covers
    its error."""
    cams, X, oc, op, xy = _distorted_problem(4, k)
    f = cams[0].K[0, 0]
    K0 = cams[0].K.copy()
    K0[:2, :2] *= 1.1
    rng = np.random.default_rng(1)
    start = [c.with_intrinsics(K0).with_pose(
        rotation_from_axis_angle(rng.normal(scale=0.005, size=3)) @ c.R, c.t) for c in cams]
    groups = np.zeros(len(cams), np.int64)
    res = bundle_adjust(start, X + rng.normal(scale=0.01, size=X.shape), oc, op, xy,
                        loss="linear", max_evaluations=100, groups=groups,
                        refine=np.array([[True, True, False, False]]))
    f_got = res.cameras[0].K[0, 0]
    assert abs(f_got / f - 1) < 2e-3
    assert abs(res.radial[0] - k) < 0.01
    assert all(np.allclose(c.K, res.cameras[0].K) for c in res.cameras)
    assert np.all(res.radial == res.radial[0])
    std_f = res.intrinsics_std[0, 0]
    assert 0 < std_f < 0.01 * f and abs(f_got - f) < 5 * std_f
    rms = np.sqrt(np.mean(res.errors ** 2))
    assert rms < 1.05 * 0.3 * np.sqrt(2)
    rot, _ = relative_pose_errors(dict(enumerate(res.cameras)), dict(enumerate(cams)))
    assert np.degrees(rot.max()) < 0.05


def test_intrinsics_the_data_do_not_see_are_held_by_their_prior():
    """Two views, points spread in depth: a focal length poorly fixed by two views; the prior
    keeps it near its start and its standard deviation says so (a large fraction of f)."""
    cams, _, start, X0, oc, op, xy = _problem(5, n_views=2, n_points=40, perturb=0.0)
    res = bundle_adjust(start, X0, oc, op, xy, loss="linear", groups=np.zeros(2, np.int64),
                        refine=np.array([[True, False, False, False]]))
    assert res.intrinsics_std[0, 0] > 0.05 * start[0].K[0, 0]
    assert np.isnan(res.intrinsics_std[0, 1:]).all()


def test_refined_groups_must_share_their_intrinsics():
    _, _, start, X0, oc, op, xy = _problem(0)
    K = start[1].K.copy()
    K[0, 0] *= 1.01
    start[1] = start[1].with_intrinsics(K)
    with pytest.raises(ValueError, match="group 0: refined intrinsics must start equal"):
        bundle_adjust(start, X0, oc, op, xy, groups=np.zeros(4, np.int64),
                      refine=np.array([[True, False, False, False]]))
    with pytest.raises(ValueError, match=r"refine: expected \(1, 4\) bool"):
        bundle_adjust(start, X0, oc, op, xy, groups=np.zeros(4, np.int64),
                      refine=np.array([True, False]))


def test_off_centre_principal_point_is_recovered():
    """The ring's principal point (306.6, 254.6) is 13 and 15 px off the centre of its
    640 x 480 image: refined from the centre with f 10 % off and k from 0, each coordinate
    closes 70 % or more of its offset (cy, which trades with the tilt of a horizontal ring, is
    held back by its prior: 3.6 px short), f within 0.2 %, k within 0.01, the errors at the
    noise level; held at the centre, f and k absorb what they can and the errors stay above
    it."""
    cams, X, oc, op, xy = _distorted_problem(2, -0.15)
    K = cams[0].K
    K0 = K.copy()
    K0[:2, :2] *= 1.1
    K0[:2, 2] = (cams[0].width - 1) / 2, (cams[0].height - 1) / 2
    start = [c.with_intrinsics(K0) for c in cams]
    groups = np.zeros(len(cams), np.int64)
    got = {}
    for pp in (False, True):
        got[pp] = bundle_adjust(start, X, oc, op, xy, loss="linear", max_evaluations=100,
                                groups=groups, refine=np.array([[True, True, pp, pp]]))
    res = got[True]
    error = np.abs(res.cameras[0].K[:2, 2] - K[:2, 2])
    assert np.all(error < 0.3 * np.abs(K0[:2, 2] - K[:2, 2]))
    assert np.all(res.intrinsics_std[0, 2:] > 0)
    assert abs(res.cameras[0].K[0, 0] / K[0, 0] - 1) < 2e-3
    assert abs(res.radial[0] + 0.15) < 0.01
    assert all(np.allclose(c.K, res.cameras[0].K) for c in res.cameras)
    rms = np.sqrt(np.mean(res.errors ** 2))
    assert rms < 1.05 * 0.3 * np.sqrt(2)
    held = got[False]
    assert np.array_equal(held.cameras[0].K[:2, 2], K0[:2, 2])
    assert np.isnan(held.intrinsics_std[0, 2:]).all()
    assert np.sqrt(np.mean(held.errors ** 2)) > 1.2 * rms


def test_jacobian_matches_finite_differences():
    """All 10 columns of the camera Jacobian (rotation, translation, f scaling K's 2 x 2 block,
    k, cx, cy) and the point Jacobian against central differences of the residuals, each step
    applied to every camera and point by the retraction."""
    cams, X, oc, op, xy = _distorted_problem(3, -0.1, n_views=3, n_points=5)
    C = len(cams)
    K = cams[0].K.copy()
    K[0, 1] = 3.0  # skew, so the f column's scaling of the whole block is checked
    cam = k_radial_params(np.stack([K] * C), np.full(C, -0.1))
    params = np.concatenate([np.stack([c.R for c in cams]).ravel(),
                             np.stack([c.t for c in cams]).ravel(), cam.ravel(), X.ravel()])
    data = _problem_data(np.zeros(C, np.int64), np.zeros(1, np.int64), np.ones((1, 4), bool),
                         cam[:1, [0, 5, 2, 3]], np.ones((1, 4)), np.ones(6 * C + 4, bool), np.inf,
                         oc, op, xy, len(X))
    _linearise(params, data)
    Jc, Jp = data.Jc.copy(), data.Jp.copy()
    assert Jc.shape[2] == NC

    def residuals(d, dX):
        """Residuals (O, 2) after the step d (10,) applied to every camera (one group) and dX
        (3,) to every point."""
        moved = np.empty_like(params)
        _retract(params, np.concatenate([np.tile(d[:6], C), d[6:], np.tile(dX, len(X))]), data,
                 moved)
        _linearise(moved, data)
        return data.r.copy()

    eps = 1e-6
    for i in range(NC):
        d = np.zeros(NC)
        d[i] = eps
        fd = (residuals(d, np.zeros(3)) - residuals(-d, np.zeros(3))) / (2 * eps)
        np.testing.assert_allclose(Jc[:, :, i], fd, rtol=1e-5, atol=1e-4)
    for i in range(3):
        dX = np.zeros(3)
        dX[i] = eps
        fd = (residuals(np.zeros(NC), dX) - residuals(np.zeros(NC), -dX)) / (2 * eps)
        np.testing.assert_allclose(Jp[:, :, i], fd, rtol=1e-5, atol=1e-4)
