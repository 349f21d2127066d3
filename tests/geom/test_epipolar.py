import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

from geom import epipolar as ep
from geom.camera import normalize_points
from geom.rotation import angle_between, angular_distance, random_rotation
from geom.testing import (assert_epipolar, assert_essential, assert_rank2, assert_rotation,
                          assert_same_up_to_scale, make_two_view, seeds, similarity_transform,
                          transform_camera, two_view_problems)
from pipelines.datasets import cmp
from pipelines.datasets.middlebury_mview import load_cameras, load_image


def reference_eight_point(x1, x2, with_normalizers=False):
    """Textbook normalised eight-point with numpy's SVD of the N x 9 design matrix (and the
    Hartley normalisations T1, T2 when asked)."""
    def normalizer(x):
        c = x.mean(axis=0)
        s = np.sqrt(2) / np.linalg.norm(x - c, axis=1).mean()
        return np.array([[s, 0, -s * c[0]], [0, s, -s * c[1]], [0, 0, 1]])
    T1, T2 = normalizer(x1), normalizer(x2)
    h1 = np.c_[x1, np.ones(len(x1))] @ T1.T
    h2 = np.c_[x2, np.ones(len(x2))] @ T2.T
    A = np.einsum("ni,nj->nij", h2, h1).reshape(-1, 9)
    Fn = np.linalg.svd(A)[2][-1].reshape(3, 3)
    u, s, vt = np.linalg.svd(Fn)
    F = T2.T @ (u * [s[0], s[1], 0]) @ vt @ T1
    F /= np.linalg.norm(F)
    return (F, T1, T2) if with_normalizers else F


# ---------------------------------------------------------------------------- eight-point

@given(two_view_problems(n_points=(8, 200)))
def test_eight_point_recovers_the_truth_without_noise(p):
    F = ep.eight_point(p.x1, p.x2)
    assert F.shape == (3, 3)
    assert abs(np.linalg.norm(F) - 1) < 1e-12
    assert_rank2(F)
    assert_epipolar(F, p.x1, p.x2, atol=1e-9)
    assert_same_up_to_scale(F, p.F, atol=1e-7)


@given(two_view_problems(n_points=(8, 300), noise=(0.1, 3.0)))
def test_eight_point_equals_the_textbook_svd_solution_on_noisy_data(p):
    # Compared where the solver works, in Hartley-normalised coordinates: denormalising scales
    # F's entries by up to the squared image size, which magnifies rounding differences in
    # unit-norm pixel F by the problem's conditioning.
    F_ref, T1, T2 = reference_eight_point(p.x1, p.x2, with_normalizers=True)
    Ti1, Ti2 = np.linalg.inv(T1), np.linalg.inv(T2)
    assert_same_up_to_scale(Ti2.T @ ep.eight_point(p.x1, p.x2) @ Ti1, Ti2.T @ F_ref @ Ti1, atol=1e-10)


@settings(max_examples=20)
@given(two_view_problems(n_points=(30, 100), noise=1.0))
def test_eight_point_agrees_with_opencv(p):
    # OpenCV rounds the points to float32 first: compare on points that float32 represents exactly.
    x1, x2 = (x.astype(np.float32).astype(np.float64) for x in (p.x1, p.x2))
    Fcv, _ = cv2.findFundamentalMat(x1, x2, cv2.FM_8POINT)
    assert_same_up_to_scale(ep.eight_point(x1, x2), Fcv, atol=1e-8)


@given(two_view_problems(n_points=(20, 100), noise=1.0), seeds())
def test_weights_act_as_repetitions_and_zero_weights_drop_points(p, seed):
    rng = np.random.default_rng(seed)
    w = rng.integers(0, 4, len(p.x1)).astype(float)
    w[:8] = 1.0
    keep = np.repeat(np.arange(len(w)), w.astype(int))
    assert_same_up_to_scale(ep.eight_point(p.x1, p.x2, weights=w),
                            ep.eight_point(p.x1[keep], p.x2[keep]), atol=1e-9)


@settings(max_examples=10)
@given(seeds(), st.integers(8, 60), st.floats(0.0, 2.0))
def test_eight_point_batch_equals_eight_point(seed, n, noise):
    problems = [make_two_view(seed + b, n, noise=noise) for b in range(5)]
    Fs = ep.eight_point_batch(np.stack([p.x1 for p in problems]), np.stack([p.x2 for p in problems]))
    assert Fs.shape == (5, 3, 3)
    for F, p in zip(Fs, problems):
        np.testing.assert_array_equal(F, ep.eight_point(p.x1, p.x2))


@given(two_view_problems(n_points=(8, 100)), seeds())
def test_f_is_invariant_under_a_similarity_of_the_world(p, seed):
    rng = np.random.default_rng(seed)
    s, R, T = rng.uniform(0.1, 10), random_rotation(rng), rng.normal(size=3)
    X = similarity_transform(p.X, s, R, T)
    c1, c2 = transform_camera(p.cam1, s, R, T), transform_camera(p.cam2, s, R, T)
    x1, x2 = c1.project(X), c2.project(X)
    assert_same_up_to_scale(ep.eight_point(x1, x2), ep.eight_point(p.x1, p.x2), atol=1e-7)
    assert_same_up_to_scale(ep.fundamental_from_cameras(c1, c2), p.F, atol=1e-9)


def test_private_eight_point_kernel_flags_degenerate_samples_with_nan():
    p = make_two_view(0, 8)
    assert_same_up_to_scale(ep._eight_point(p.x1, p.x2), p.F, atol=1e-7)
    x1 = np.repeat(p.x1[:4], 2, axis=0)  # 4 distinct correspondences, each twice
    x2 = np.repeat(p.x2[:4], 2, axis=0)
    assert np.isnan(ep._eight_point(x1, x2)).all()


def psd_matrix(seed, smallest):
    """A PSD 9x9 matrix with the given smallest eigenvalues and the rest in [0.1, 10]."""
    rng = np.random.default_rng(seed)
    V = np.linalg.qr(rng.normal(size=(9, 9)))[0]
    lam = np.r_[smallest, rng.uniform(0.1, 10, 9 - len(smallest))]
    M = (V * lam) @ V.T
    return (M + M.T) / 2


@given(seeds(), st.sampled_from([1, 2]), st.floats(1e-6, 1.0), st.booleans())
def test_smallest_eigenvectors_match_lapack(seed, m, gap, zero):
    """The eigen-solver under the estimators, on spectra with an exact zero or with clustered
    small eigenvalues (slow subspace convergence, where the dense fallback takes over)."""
    M = psd_matrix(seed, [0.0 if zero else 0.01, 0.01 * (1 + gap), 0.01 * (1 + 2 * gap)])
    s = ep._scratch(0, m)
    ep._smallest_eigenvectors(M, s)
    X, theta = s.X, s.theta
    np.testing.assert_allclose(theta, np.linalg.eigvalsh(M)[:m], atol=1e-12)
    np.testing.assert_allclose(X @ X.T, np.eye(m), atol=1e-12)
    assert np.abs(X @ M - theta[:, None] * X).max() < 1e-11


def test_subspace_iteration_gives_up_on_clustered_eigenvalues():
    M = psd_matrix(0, [0.01, 0.01 * (1 + 1e-6), 0.01 * (1 + 2e-6)])
    s = ep._scratch(0, 1)
    assert not ep._subspace_iteration(M, s)
    assert ep._subspace_iteration(psd_matrix(0, [0.0, 0.01, 0.02]), s)


@pytest.mark.parametrize("m, smallest, vanishes", [
    (1, [0.0, 0.02], False),
    (1, [0.0, 0.0], True),
    (1, [1e-3, 1e-3 * (1 + 1e-7)], False),  # clustered but not null: the dense fallback
    (2, [0.0, 0.0, 0.02], False),
    (2, [0.0, 0.0, 0.0], True),
    (2, [0.0, 1e-14, 1e-13], True),
])
def test_next_eigenvalue_vanishes_detects_a_larger_null_space(m, smallest, vanishes):
    M = psd_matrix(1, smallest)
    s = ep._scratch(0, m)
    ep._smallest_eigenvectors(M, s)
    assert ep._next_eigenvalue_vanishes(M, s) == vanishes
    assert (np.linalg.eigvalsh(M)[m] <= ep._DEGENERATE_EIG * np.trace(M)) == vanishes


@given(seeds(), st.sampled_from([2, 3, 9]))
def test_jacobi_eigh_matches_lapack(seed, n):
    A = np.random.default_rng(seed).normal(size=(n, n))
    A = A + A.T
    D, V = A.copy(), np.empty((n, n))
    ep._jacobi_eigh(D, V)
    np.testing.assert_allclose(np.sort(np.diag(D)), np.linalg.eigvalsh(A), atol=1e-12)
    np.testing.assert_allclose(V.T @ V, np.eye(n), atol=1e-12)
    np.testing.assert_allclose(A @ V, V * np.diag(D), atol=1e-11)


# ---------------------------------------------------------------------------- seven-point

@given(two_view_problems(n_points=7))
def test_seven_point_candidates_fit_and_one_is_the_truth(p):
    Fs = ep.seven_point(p.x1, p.x2)
    assert 1 <= len(Fs) <= 3
    for F in Fs:
        assert abs(np.linalg.norm(F) - 1) < 1e-12
        assert_rank2(F, rtol=1e-7)
        assert_epipolar(F, p.x1, p.x2, atol=1e-8)
    err = [min(np.abs(F - p.F).max(), np.abs(F + p.F).max()) for F in Fs]
    assert min(err) < 1e-6, err


@given(two_view_problems(n_points=7, noise=(0.5, 3.0)))
def test_seven_point_candidates_fit_any_seven_noisy_points_exactly(p):
    for F in ep.seven_point(p.x1, p.x2):
        assert_rank2(F, rtol=1e-7)
        assert_epipolar(F, p.x1, p.x2, atol=1e-8)


def test_private_seven_point_kernel():
    p = make_two_view(3, 7)
    out = np.zeros((3, 3, 3))
    k = ep._seven_point(p.x1, p.x2, out)
    assert 1 <= k <= 3
    np.testing.assert_array_equal(out[:k], ep.seven_point(p.x1, p.x2))
    x = np.c_[np.arange(7.0), 2 * np.arange(7.0) + 1]  # collinear
    assert ep._seven_point(x, p.x2, out) == 0


# ---------------------------------------------------------------------------- essential, poses

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
    E = ep.essential_from_fundamental(ep.eight_point(p.x1, p.x2), p.K1, p.K2)
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
    E = ep.essential_from_fundamental(ep.eight_point(p.x1, p.x2), p.K1, p.K2)
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


@pytest.mark.parametrize("x1, x2, match", [
    (GOOD.x1[:, :1], GOOD.x2, r"x1: expected shape \(N, 2\)"),
    (GOOD.x1, GOOD.x2[:-1], "different lengths"),
    (GOOD.x1[:7], GOOD.x2[:7], "need at least 8 points"),
    (np.where(np.arange(20)[:, None] == 3, np.nan, GOOD.x1), GOOD.x2, "x1: contains NaN or inf"),
    (GOOD.x1, np.where(np.arange(20)[:, None] == 5, np.inf, GOOD.x2), "x2: contains NaN or inf"),
    (np.tile([[3.0, 4.0]], (20, 1)), GOOD.x2, "x1: all points coincide"),
    (GOOD.x1, np.c_[np.arange(20.0), 3 * np.arange(20.0) - 7], "x2: all points are collinear"),
    (np.c_[np.arange(20.0), np.full(20, 5.0)], GOOD.x2, "x1: all points are collinear"),
    (np.repeat(GOOD.x1[:5], 4, axis=0), np.repeat(GOOD.x2[:5], 4, axis=0), "degenerate configuration"),
])
def test_eight_point_rejects_bad_input(x1, x2, match):
    with pytest.raises(ValueError, match=match):
        ep.eight_point(x1, x2)


def test_eight_point_rejects_a_noise_free_planar_scene():
    p = make_two_view(1, 50, planar=True)
    with pytest.raises(ValueError, match="planar scene"):
        ep.eight_point(p.x1, p.x2)


@pytest.mark.parametrize("weights, match", [
    (np.ones(19), r"weights: expected shape \(20\), got \(19,\)"),
    (-np.ones(20), "non-negative"),
    (np.r_[np.ones(7), np.zeros(13)], "at least 8 of them positive"),
    (np.r_[np.nan, np.ones(19)], "weights: contains NaN"),
])
def test_eight_point_rejects_bad_weights(weights, match):
    with pytest.raises(ValueError, match=match):
        ep.eight_point(GOOD.x1, GOOD.x2, weights=weights)


def test_eight_point_batch_rejects_bad_input():
    x1s, x2s = np.stack([GOOD.x1] * 3), np.stack([GOOD.x2] * 3)
    with pytest.raises(ValueError, match=r"x1s: expected shape \(N, N, 2\)"):
        ep.eight_point_batch(GOOD.x1, GOOD.x2)
    with pytest.raises(ValueError, match=r"x2s: expected shape \(3, 20, 2\)"):
        ep.eight_point_batch(x1s, x2s[:2])
    with pytest.raises(ValueError, match="at least 8 points per problem"):
        ep.eight_point_batch(x1s[:, :7], x2s[:, :7])
    bad = x1s.copy()
    bad[1] = 5.0
    with pytest.raises(ValueError, match="problem 1 .*x1s: all points coincide"):
        ep.eight_point_batch(bad, x2s)


@pytest.mark.parametrize("n, match", [(6, "need at least 7 points"), (8, "exactly 7 points")])
def test_seven_point_rejects_wrong_counts(n, match):
    with pytest.raises(ValueError, match=match):
        ep.seven_point(GOOD.x1[:n], GOOD.x2[:n])


def test_seven_point_rejects_degenerate_samples():
    with pytest.raises(ValueError, match="x2: all points are collinear"):
        ep.seven_point(GOOD.x1[:7], np.c_[np.arange(7.0), np.arange(7.0)])
    with pytest.raises(ValueError, match="degenerate configuration"):
        ep.seven_point(np.repeat(GOOD.x1[:4], 2, axis=0)[:7], np.repeat(GOOD.x2[:4], 2, axis=0)[:7])


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
    with pytest.raises(ValueError, match="cam1, cam2: camera centres coincide"):
        ep.fundamental_from_cameras(GOOD.cam1, GOOD.cam1)
    with pytest.raises(ValueError, match="cam2: expected a geom.camera.Camera"):
        ep.fundamental_from_cameras(GOOD.cam1, GOOD.K2)
    with pytest.raises(ValueError, match="image: expected 1 or 2"):
        ep.epipolar_lines(GOOD.F, GOOD.x1, image=0)
    with pytest.raises(ValueError, match="F: contains NaN"):
        ep.sampson_distance(np.full((3, 3), np.nan), GOOD.x1, GOOD.x2)
    with pytest.raises(ValueError, match="F: zero matrix"):
        ep.epipoles(np.zeros((3, 3)))


# ---------------------------------------------------------------------------- real data

@pytest.mark.parametrize("pair", [("templeSR0001.png", "templeSR0002.png"),
                                  ("templeSR0009.png", "templeSR0010.png")])
def test_temple_ring_eight_point_from_sift_matches_agrees_with_ground_truth(dataset, pair):
    folder = dataset("middlebury_mview") / "templeSparseRing"
    cams = load_cameras(folder)
    sift = cv2.SIFT_create()
    k1, d1 = sift.detectAndCompute(load_image(folder, pair[0], gray=True), None)
    k2, d2 = sift.detectAndCompute(load_image(folder, pair[1], gray=True), None)
    knn = cv2.BFMatcher().knnMatch(d1, d2, k=2)
    good = [m[0] for m in knn if len(m) == 2 and m[0].distance < 0.8 * m[1].distance]
    x1 = np.array([k1[m.queryIdx].pt for m in good])
    x2 = np.array([k2[m.trainIdx].pt for m in good])
    F_gt = ep.fundamental_from_cameras(cams[pair[0]], cams[pair[1]])
    keep = ep.sampson_distance(F_gt, x1, x2) < 2.0  # the matches consistent with the true geometry
    assert keep.sum() >= 50
    x1, x2 = x1[keep], x2[keep]
    F = ep.eight_point(x1, x2)
    assert np.median(ep.sampson_distance(F, x1, x2)) < 1.0
    # Same geometry where the matches are: correspondences made exactly consistent with the
    # true F (optimal correction) fit the estimated F to sub-pixel precision too.
    c1, c2 = cv2.correctMatches(F_gt, x1[None], x2[None])
    assert np.median(ep.sampson_distance(F, c1[0], c2[0])) < 1.0
    sym, sym_gt = (np.median(ep.symmetric_epipolar_distance(G, x1, x2)) for G in (F, F_gt))
    assert sym < sym_gt + 0.5, (sym, sym_gt)


def test_cmp_kusvod2_eight_point_on_hand_marked_matches(dataset):
    """Criterion: on each of the 15 pairs, the eight-point F fitted to the hand-marked true
    correspondences (9 to 14 per pair) leaves them a median Sampson distance below 1 px."""
    folder = dataset("cmp_kusvod2_fundamental")
    names = cmp.scenes(folder)
    assert len(names) == 15
    medians = {}
    for name in names:
        pair = cmp.load_pair(folder, name, "fundamental")
        F = ep.eight_point(pair.true_x1, pair.true_x2)
        medians[name] = np.median(ep.sampson_distance(F, pair.true_x1, pair.true_x2))
    assert max(medians.values()) < 1.0, medians


@pytest.mark.parametrize("singular_values", [(3.0, 1.0, 0.2), (1.0, 1.0, 1.0), (2.0, 1.0, 1.0),
                                             (1.0, 1.0, 1e-9), (5.0, 1e-3, 1e-4)])
def test_rank2_projection_is_the_truncated_svd(singular_values):
    rng = np.random.default_rng(3)
    U = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    V = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    F = U @ np.diag(singular_values) @ V.T
    G = F.copy()
    ep._rank2(G, np.empty((3, 3)), np.empty((3, 3)))
    u, s, vt = np.linalg.svd(F)
    s = np.linalg.svd(G, compute_uv=False)
    assert s[2] <= 1e-12 * s[0]
    # the closest rank-2 matrix: unique unless the two smallest singular values are equal
    sv = sorted(singular_values)
    if sv[1] - sv[0] > 1e-6 * sv[2]:
        np.testing.assert_allclose(G, u[:, :2] * singular_values[:2] @ vt[:2], atol=1e-9)
    else:
        assert abs(np.linalg.norm(F - G) - sv[0]) < 1e-9
