import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geom import eightpoint as ep
from geom.epipolar import fundamental_from_cameras, sampson_distance, symmetric_epipolar_distance
from geom.rotation import random_rotation
from geom.testing import (assert_epipolar, assert_rank2, assert_same_up_to_scale, make_two_view,
                          seeds, similarity_transform, transform_camera, two_view_problems)
from pipelines.datasets import cmp
from pipelines.datasets.middlebury_mview import load_cameras, load_image

GOOD = make_two_view(7, 20, noise=0.5)


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
    assert_same_up_to_scale(fundamental_from_cameras(c1, c2), p.F, atol=1e-9)


def test_private_eight_point_kernel_flags_degenerate_samples_with_nan():
    p = make_two_view(0, 8)
    assert_same_up_to_scale(ep._eight_point(p.x1, p.x2), p.F, atol=1e-7)
    x1 = np.repeat(p.x1[:4], 2, axis=0)  # 4 distinct correspondences, each twice
    x2 = np.repeat(p.x2[:4], 2, axis=0)
    assert np.isnan(ep._eight_point(x1, x2)).all()


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


# ---------------------------------------------------------------------------- bad input

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
    F_gt = fundamental_from_cameras(cams[pair[0]], cams[pair[1]])
    keep = sampson_distance(F_gt, x1, x2) < 2.0  # the matches consistent with the true geometry
    assert keep.sum() >= 50
    x1, x2 = x1[keep], x2[keep]
    F = ep.eight_point(x1, x2)
    assert np.median(sampson_distance(F, x1, x2)) < 1.0
    # Same geometry where the matches are: correspondences made exactly consistent with the
    # true F (optimal correction) fit the estimated F to sub-pixel precision too.
    c1, c2 = cv2.correctMatches(F_gt, x1[None], x2[None])
    assert np.median(sampson_distance(F, c1[0], c2[0])) < 1.0
    sym, sym_gt = (np.median(symmetric_epipolar_distance(G, x1, x2)) for G in (F, F_gt))
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
        medians[name] = np.median(sampson_distance(F, pair.true_x1, pair.true_x2))
    assert max(medians.values()) < 1.0, medians
