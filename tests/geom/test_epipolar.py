import numpy as np
import pytest
from hypothesis import given, settings
from scipy.optimize import minimize_scalar

from geom import epipolar as ep
from geom.camera import normalize_points
from geom.eightpoint import eight_point
from geom.rotation import angle_between, angular_distance
from geom.testing import (assert_epipolar, assert_essential, assert_rotation,
                          assert_same_up_to_scale, make_two_view, two_view_problems)


@given(two_view_problems(n_points=8))
def test_essential_from_pose_and_conversions(p):
    E = ep.essential_from_pose(p.R, p.t)
    assert_essential(E)
    np.testing.assert_allclose(np.linalg.svd(E, compute_uv=False)[:2], np.linalg.norm(p.t), rtol=1e-12)
    F = ep.fundamental_from_essential(E, p.K1, p.K2)
    assert_same_up_to_scale(F, p.F, atol=1e-10)
    assert_same_up_to_scale(ep.essential_from_fundamental(F, p.K1, p.K2), E, atol=1e-10)
    assert_same_up_to_scale(ep.fundamental_from_cameras(p.cam1, p.cam2), p.F, atol=1e-10)
    assert_epipolar(F, p.x1, p.x2, atol=1e-9)


@given(two_view_problems(n_points=8, noise=1.0))
def test_project_to_essential(p):
    E = ep.essential_from_fundamental(eight_point(p.x1, p.x2), p.K1, p.K2)
    Ep = ep.project_to_essential(E)
    assert_essential(Ep)
    s = np.linalg.svd(E, compute_uv=False)
    # The projection moves E by exactly the Frobenius distance of its singular values to (s, s, 0).
    m = (s[0] + s[1]) / 2
    np.testing.assert_allclose(np.linalg.norm(E - Ep), np.linalg.norm(s - [m, m, 0]),
                               rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(ep.project_to_essential(Ep), Ep, atol=1e-12)


@given(two_view_problems(n_points=(5, 100)))
def test_exactly_one_decomposition_passes_cheirality_and_it_is_the_truth(p):
    E = ep.essential_from_pose(p.R, p.t)
    Rs, ts = ep.decompose_essential(E)
    y1, y2 = normalize_points(p.x1, p.K1), normalize_points(p.x2, p.K2)
    passing = []
    for R, t in zip(Rs, ts):
        assert_rotation(R)
        assert abs(np.linalg.norm(t) - 1) < 1e-12
        assert_same_up_to_scale(ep.essential_from_pose(R, t), E, atol=1e-10)
        # Depths of the two-view triangulation, in both cameras.
        X1 = np.array([np.linalg.lstsq(np.c_[-(R @ [*a, 1]), [*b, 1]], t, rcond=None)[0]
                       for a, b in zip(y1, y2)])
        passing.append(bool((X1 > 0).all()))
    assert sum(passing) == 1, passing
    k = passing.index(True)
    R, t, mask = ep.pose_from_essential(E, p.x1, p.x2, p.K1, p.K2)
    np.testing.assert_array_equal(R, Rs[k])
    assert mask.all()
    np.testing.assert_allclose(R, p.R, atol=1e-9)
    np.testing.assert_allclose(t, p.t / np.linalg.norm(p.t), atol=1e-9)


@given(two_view_problems(n_points=(20, 100), noise=0.5))
def test_pose_from_noisy_essential_picks_the_decomposition_nearest_the_truth(p):
    E = ep.essential_from_fundamental(eight_point(p.x1, p.x2), p.K1, p.K2)
    R, t, mask = ep.pose_from_essential(E, p.x1, p.x2, p.K1, p.K2)
    Rs, ts = ep.decompose_essential(E)
    error = [angular_distance(Ri, p.R) + angle_between(ti, p.t) for Ri, ti in zip(Rs, ts)]
    k = int(np.argmin(error))
    np.testing.assert_array_equal(R, Rs[k])
    np.testing.assert_array_equal(t, ts[k])
    assert mask.mean() > 0.9


# ---------------------------------------------------------------------------- epipoles, lines, errors

@given(two_view_problems(n_points=20))
def test_epipoles_are_null_vectors_and_camera_centre_images(p):
    e1, e2 = ep.epipoles(p.F)
    assert abs(np.linalg.norm(e1) - 1) < 1e-12 and abs(np.linalg.norm(e2) - 1) < 1e-12
    np.testing.assert_allclose(p.F @ e1, 0, atol=1e-12)
    np.testing.assert_allclose(p.F.T @ e2, 0, atol=1e-12)
    # e1 is camera 2's centre seen by camera 1 (homogeneous, up to scale), and vice versa.
    assert_same_up_to_scale(e1, p.cam1.P @ np.r_[p.cam2.center, 1], atol=1e-9)
    assert_same_up_to_scale(e2, p.cam2.P @ np.r_[p.cam1.center, 1], atol=1e-9)


@given(two_view_problems(n_points=(8, 50), noise=(0.0, 2.0)))
def test_lines_and_errors_agree(p):
    l2 = ep.epipolar_lines(p.F, p.x1, image=1)
    l1 = ep.epipolar_lines(p.F, p.x2, image=2)
    np.testing.assert_allclose(np.hypot(l2[:, 0], l2[:, 1]), 1, rtol=1e-12)
    d2 = np.abs(np.einsum("ni,ni->n", l2[:, :2], p.x2) + l2[:, 2])  # pixels, image 2
    d1 = np.abs(np.einsum("ni,ni->n", l1[:, :2], p.x1) + l1[:, 2])  # pixels, image 1
    eps = 1e-14 * np.abs(np.r_[p.x1, p.x2]).max()  # rounding of pixel-sized terms
    np.testing.assert_allclose(ep.symmetric_epipolar_distance(p.F, p.x1, p.x2), np.hypot(d1, d2),
                               rtol=1e-9, atol=eps)
    h1, h2 = np.c_[p.x1, np.ones(len(p.x1))], np.c_[p.x2, np.ones(len(p.x2))]
    np.testing.assert_allclose(ep.algebraic_error(p.F, p.x1, p.x2),
                               np.abs(np.einsum("ni,ij,nj->n", h2, p.F, h1)), rtol=1e-9, atol=1e-13)
    s = ep.sampson_distance(p.F, p.x1, p.x2)
    # Sampson lies between the larger one-image distance / sqrt 2 ... and the symmetric one.
    assert (s <= np.hypot(d1, d2) * (1 + 1e-9) + eps).all()
    out = np.empty(len(p.x1))
    ep._sampson(p.F, p.x1, p.x2, out)
    np.testing.assert_array_equal(out, s)


def geometric_distance(F, x1, x2):
    """Gold standard sqrt(min |x1 - y1|^2 + |x2 - y2|^2 over y2^T F y1 = 0) for one pair: a 1-D
    search over the pencil of epipolar lines through e1 (lines through e1 and a point on a small
    circle around x1, whose corresponding lines in image 2 are F times that point)."""
    e1 = ep.epipoles(F)[0]

    def cost(a):
        a = np.atleast_1d(a)
        p = np.stack([x1[0] + 10 * np.cos(a), x1[1] + 10 * np.sin(a), np.ones_like(a)], axis=1)
        l1, l2 = np.cross(e1, p), p @ F.T
        d1 = (l1[:, :2] @ x1 + l1[:, 2]) ** 2 / (l1[:, 0] ** 2 + l1[:, 1] ** 2)
        d2 = (l2[:, :2] @ x2 + l2[:, 2]) ** 2 / (l2[:, 0] ** 2 + l2[:, 1] ** 2)
        return d1 + d2

    grid = np.linspace(0, 2 * np.pi, 4001)
    a0 = grid[np.argmin(cost(grid))]
    best = minimize_scalar(lambda a: cost(a)[0], bounds=(a0 - grid[1], a0 + grid[1]),
                           method="bounded", options={"xatol": 1e-12})
    return np.sqrt(best.fun)


@settings(max_examples=20)
@given(two_view_problems(n_points=20, noise=(0.05, 0.5)))
def test_sampson_is_the_geometric_distance_to_first_order(p):
    geometric = [geometric_distance(p.F, a, b) for a, b in zip(p.x1, p.x2)]
    np.testing.assert_allclose(ep.sampson_distance(p.F, p.x1, p.x2), geometric, rtol=1e-3, atol=1e-6)


# ---------------------------------------------------------------------------- bad input

GOOD = make_two_view(7, 20, noise=0.5)


def test_pose_and_conversion_functions_reject_bad_input():
    E = ep.essential_from_pose(GOOD.R, GOOD.t)
    with pytest.raises(ValueError, match="E: rank below 2"):
        ep.decompose_essential(np.outer([1.0, 2, 3], [0.0, 1, 0]))
    with pytest.raises(ValueError, match="cheirality does not single out a pose"):
        # Half the points mirrored through camera 1: no pose has a majority in front.
        n = len(GOOD.x1) // 2
        x2 = GOOD.x2.copy()
        x2[:n] = ep.epipoles(GOOD.F)[1][:2] / ep.epipoles(GOOD.F)[1][2] * 2 - GOOD.x2[:n]
        ep.pose_from_essential(E, GOOD.x1, x2, GOOD.K1, GOOD.K2)
    with pytest.raises(ValueError, match="R: not a rotation"):
        ep.essential_from_pose(2 * GOOD.R, GOOD.t)
    with pytest.raises(ValueError, match="K1: expected an upper-triangular"):
        ep.fundamental_from_essential(E, GOOD.K1.T, GOOD.K2)
    with pytest.raises(ValueError, match="cam1, cam2: all camera centres coincide"):
        ep.fundamental_from_cameras(GOOD.cam1, GOOD.cam1)
    with pytest.raises(ValueError, match="cam2: expected a geom.camera.Camera"):
        ep.fundamental_from_cameras(GOOD.cam1, GOOD.K2)
    with pytest.raises(ValueError, match="image: expected 1 or 2"):
        ep.epipolar_lines(GOOD.F, GOOD.x1, image=0)
    with pytest.raises(ValueError, match="F: contains NaN"):
        ep.sampson_distance(np.full((3, 3), np.nan), GOOD.x1, GOOD.x2)
    with pytest.raises(ValueError, match="F: zero matrix"):
        ep.epipoles(np.zeros((3, 3)))
