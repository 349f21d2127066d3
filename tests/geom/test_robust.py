import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from geom.robust import (_calibration, _inlier_posterior, estimate_absolute_pose,
                         estimate_essential, estimate_fundamental, estimate_homography,
                         estimate_relative_pose)
from geom.robust._engine import MSAC, _score, _sprt_state
from geom.robust._models import ESSENTIAL, _residuals
from geom.homography import transfer_error
from geom.rotation import angle_between, angular_distance
from geom.testing import (assert_epipolar, assert_essential, assert_rank2, make_two_view,
                          seeds, two_view_problems)

DEG = np.pi / 180


def _planar(seed, n=200, noise=0.5, outlier_ratio=0.0):
    return make_two_view(seed, n, noise=noise, outlier_ratio=outlier_ratio, planar=True)


def _true_homography(p):
    """H mapping image 1 to image 2 for the plane through p.X (planar problems)."""
    X = p.X
    c = X.mean(axis=0)
    n = np.linalg.svd(X - c)[2][2]
    # plane n.X = d in camera-1 coordinates
    R1, t1 = p.cam1.R, p.cam1.t
    n1 = R1 @ n
    d1 = n1 @ (R1 @ c + t1)
    H = p.K2 @ (p.R + np.outer(p.t, n1) / d1) @ np.linalg.inv(p.K1)
    return H / np.linalg.norm(H)


# ---------------------------------------------------------------------------- no outliers

@settings(max_examples=10)
@given(two_view_problems(n_points=(30, 150), noise=0.0))
def test_exact_data_give_the_truth(p):
    F = estimate_fundamental(p.x1, p.x2, threshold=0.5)
    assert F.success and F.inliers.all()
    assert_rank2(F.model, rtol=1e-6)
    assert_epipolar(F.model, p.x1, p.x2, atol=1e-6)
    rp = estimate_relative_pose(p.x1, p.x2, p.K1, p.K2, threshold=0.5)
    assert rp.success and rp.inliers.all()
    assert_essential(rp.model, rtol=1e-6)
    assert angular_distance(rp.R, p.R) < 1e-6
    assert angle_between(rp.t, p.t) < 1e-5
    pose = estimate_absolute_pose(p.X, p.x2, p.K2, threshold=0.5)
    assert pose.success and pose.inliers.all()
    assert angular_distance(pose.R, p.cam2.R) < 1e-7
    np.testing.assert_allclose(pose.t, p.cam2.t, atol=1e-6)


@settings(max_examples=10)
@given(seeds())
def test_homography_of_a_plane_without_outliers(seed):
    p = _planar(seed, noise=0.0)
    res = estimate_homography(p.x1, p.x2, threshold=0.5)
    assert res.success and res.inliers.all()
    assert transfer_error(res.model, p.x1, p.x2).max() < 1e-6


# ---------------------------------------------------------------------------- outliers

@settings(max_examples=6)
@given(two_view_problems(n_points=300, noise=0.5, outlier_ratio=(0.0, 0.6)))
def test_outliers_are_found_and_the_pose_recovered(p):
    rp = estimate_relative_pose(p.x1, p.x2, p.K1, p.K2, threshold=1.5)
    assert rp.success
    assert angular_distance(rp.R, p.R) < 1 * DEG
    assert angle_between(rp.t, p.t) < 3 * DEG
    # outliers are uniform pixels: a few fall on their epipolar line by chance
    assert (rp.inliers & ~p.inliers).sum() <= 0.05 * len(p.x1)
    assert (~rp.inliers & p.inliers).sum() <= 0.05 * p.inliers.sum()
    F = estimate_fundamental(p.x1, p.x2, threshold=1.5)
    assert F.success
    assert (F.inliers == p.inliers).mean() > 0.9
    assert np.median(_sampson_px(F.model, p.x1[p.inliers], p.x2[p.inliers])) < 1.0


@settings(max_examples=6)
@given(two_view_problems(n_points=(100, 400), noise=(0.2, 1.0), outlier_ratio=(0.0, 0.5)))
def test_fundamental_result_is_rank_2_unit_norm_with_the_inliers_of_the_returned_f(p):
    for refine in (False, True):
        res = estimate_fundamental(p.x1, p.x2, threshold=1.5, refine=refine)
        assert res.success
        assert_rank2(res.model, rtol=1e-9)
        assert abs(np.linalg.norm(res.model) - 1.0) < 1e-12
        np.testing.assert_array_equal(res.inliers, _sampson_px(res.model, p.x1, p.x2) < 1.5)


def test_the_polish_brings_f_nearer_the_truth_on_synthetic_pairs():
    """RMS Sampson error of the noise-free true matches under the polished F and under RANSAC's
    own, over 12 problems with 40 % outliers and noise (1 px) as large as the threshold:
    RANSAC's inliers cut the noise's tail, the polish reaches over 3 thresholds."""
    raw, polished = [], []
    for seed in range(12):
        p = make_two_view(300 + seed, 300, noise=1.0, outlier_ratio=0.4)
        c1, c2 = p.cam1.project(p.X)[p.inliers], p.cam2.project(p.X)[p.inliers]
        for refine, errs in ((False, raw), (True, polished)):
            F = estimate_fundamental(p.x1, p.x2, threshold=1.0, seed=seed, refine=refine).model
            errs.append(np.sqrt(np.mean(_sampson_px(F, c1, c2) ** 2)))
    raw, polished = np.array(raw), np.array(polished)
    assert np.mean(polished < raw) > 0.5, (raw, polished)
    assert np.median(polished) < np.median(raw), (raw, polished)
    assert polished.mean() < 0.8 * raw.mean(), (raw, polished)  # fewer poor F's


def _sampson_px(F, x1, x2):
    from geom.epipolar import _sampson
    out = np.empty(len(x1))
    _sampson(np.ascontiguousarray(F), np.ascontiguousarray(x1), np.ascontiguousarray(x2), out)
    return out


@settings(max_examples=4)
@given(seeds(), st.sampled_from(["msac", "magsac"]))
def test_homography_and_absolute_pose_with_outliers(seed, scoring):
    p = _planar(seed, n=300, outlier_ratio=0.5)
    # the one-sided transfer error carries image-1 noise magnified by H's local scale (up to
    # ~3 on these oblique planes), so 0.5 px noise needs a threshold of a few pixels and some
    # true correspondences still fall beyond it
    H = estimate_homography(p.x1, p.x2, threshold=3.0, scoring=scoring)
    assert H.success
    assert (H.inliers & p.inliers).sum() > 0.8 * p.inliers.sum()
    assert (H.inliers & ~p.inliers).sum() < 0.03 * (~p.inliers).sum()
    exact = _planar(seed, n=300, noise=0.0)  # same scene without noise and outliers
    assert np.median(transfer_error(H.model, exact.x1, exact.x2)) < 1.0
    q = make_two_view(seed, 300, noise=0.5, outlier_ratio=0.5)
    pose = estimate_absolute_pose(q.X, q.x2, q.K2, threshold=2.0, scoring=scoring)
    assert pose.success
    assert (pose.inliers == q.inliers).mean() > 0.95
    assert angular_distance(pose.R, q.cam2.R) < 0.5 * DEG


def test_prosac_uses_the_quality_order_and_finds_the_model():
    p = make_two_view(5, 400, noise=0.5, outlier_ratio=0.7)
    quality = p.inliers + np.random.default_rng(0).random(400)  # inliers rank first
    uniform = estimate_essential(p.x1, p.x2, p.K1, p.K2)
    prosac = estimate_essential(p.x1, p.x2, p.K1, p.K2, quality=quality)
    assert prosac.success and (prosac.inliers == p.inliers).mean() > 0.95
    assert prosac.iterations < uniform.iterations


def test_a_dominant_plane_does_not_capture_f():
    """90% of the points on one plane (DEGENSAC and LO guard against the plane's F family)."""
    plane = _planar(11, n=400, noise=0.3)
    rng = np.random.default_rng(11)
    # the same two cameras also see 40 points off the plane
    X = plane.X[:40] + rng.normal(scale=0.7, size=(40, 3))
    X = X[(plane.cam1.depth(X) > 0.1) & (plane.cam2.depth(X) > 0.1)]
    x1 = np.r_[plane.x1, plane.cam1.project(X)]
    x2 = np.r_[plane.x2, plane.cam2.project(X)]
    off = np.r_[np.zeros(len(plane.x1), bool), np.ones(len(X), bool)]
    res = estimate_fundamental(x1, x2, threshold=1.0, seed=3)
    assert res.success
    assert res.inliers[off].mean() > 0.9  # the parallax points agree with F


def test_same_seed_same_answer_and_seed_matters_only_slightly():
    p = make_two_view(2, 300, noise=0.5, outlier_ratio=0.5)
    a = estimate_fundamental(p.x1, p.x2, seed=7)
    b = estimate_fundamental(p.x1, p.x2, seed=7)
    np.testing.assert_array_equal(a.model, b.model)
    np.testing.assert_array_equal(a.inliers, b.inliers)
    assert a.iterations == b.iterations
    c = estimate_fundamental(p.x1, p.x2, seed=8)
    assert (a.inliers == c.inliers).mean() > 0.95


# ---------------------------------------------------------------------------- bad input

def test_too_few_points_and_bad_options():
    p = make_two_view(0, 20)
    with pytest.raises(ValueError, match="x1: need at least 7 points"):
        estimate_fundamental(p.x1[:6], p.x2[:6])
    with pytest.raises(ValueError, match="x1: need at least 5 points"):
        estimate_relative_pose(p.x1[:4], p.x2[:4], p.K1, p.K2)
    with pytest.raises(ValueError, match="x1: need at least 4 points"):
        estimate_homography(p.x1[:3], p.x2[:3])
    with pytest.raises(ValueError, match="X: need at least 3 points"):
        estimate_absolute_pose(p.X[:2], p.x2[:2], p.K2)
    with pytest.raises(ValueError, match="threshold: must be a positive"):
        estimate_fundamental(p.x1, p.x2, threshold=0.0)
    with pytest.raises(ValueError, match="threshold: must be a positive"):
        estimate_essential(p.x1, p.x2, p.K1, p.K2, threshold=-1.0)
    with pytest.raises(ValueError, match="confidence: must be in"):
        estimate_homography(p.x1, p.x2, confidence=1.0)
    with pytest.raises(ValueError, match="scoring: expected one of"):
        estimate_homography(p.x1, p.x2, scoring="lmeds")
    with pytest.raises(ValueError, match="quality: expected shape"):
        estimate_homography(p.x1, p.x2, quality=np.ones(3))
    with pytest.raises(ValueError, match="x2: contains NaN"):
        estimate_fundamental(p.x1, np.where(np.arange(20)[:, None] == 3, np.nan, p.x2))
    with pytest.raises(ValueError, match="K1: expected shape"):
        estimate_essential(p.x1, p.x2, np.eye(2), p.K2)


def test_options_are_keyword_only():
    p = make_two_view(0, 20)
    for call in (lambda: estimate_fundamental(p.x1, p.x2, 1.0),
                 lambda: estimate_essential(p.x1, p.x2, p.K1, p.K2, 1.0),
                 lambda: estimate_relative_pose(p.x1, p.x2, p.K1, p.K2, 1.0),
                 lambda: estimate_homography(p.x1, p.x2, 1.0),
                 lambda: estimate_absolute_pose(p.X, p.x2, p.K2, 2.0)):
        with pytest.raises(TypeError, match="positional argument"):
            call()


def test_all_outliers_give_no_model():
    rng = np.random.default_rng(0)
    x1 = rng.random((30, 2)) * 640
    x2 = rng.random((30, 2)) * 640
    K = np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]])
    X = rng.normal(size=(30, 3)) + [0, 0, 5]
    for res in (estimate_fundamental(x1, x2, max_iterations=500),
                estimate_relative_pose(x1, x2, K, K, max_iterations=500),
                estimate_homography(x1, x2, max_iterations=500),
                estimate_absolute_pose(X, x2, K, max_iterations=500)):
        assert not res.success and res.model is None and not res.inliers.any()
        assert res.iterations == 500


def test_duplicate_points_give_no_model():
    x = np.tile([[100.0, 200.0]], (50, 1))
    K = np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]])
    for res in (estimate_fundamental(x, x + 3, max_iterations=200),
                estimate_essential(x, x + 3, K, K, max_iterations=200),
                estimate_homography(x, x + 3, max_iterations=200),
                estimate_absolute_pose(np.tile([[0.0, 0, 5]], (50, 1)), x, K, max_iterations=200)):
        assert not res.success and not res.inliers.any()


# ---------------------------------------------------------------------------- real data

def test_the_polish_improves_f_on_the_hand_marked_cmp_matches(dataset):
    """kusvod2 (SIFT-like matches with outliers): the polished F's median Sampson error on the
    hand-marked true matches is lower than RANSAC's own F's on most scenes and over all."""
    from pipelines.datasets import cmp
    folder = dataset("cmp_kusvod2_fundamental")
    raw, polished = [], []
    for name in cmp.scenes(folder):
        pair = cmp.load_pair(folder, name, "fundamental")
        for refine, errs in ((False, raw), (True, polished)):
            res = estimate_fundamental(pair.x1, pair.x2, threshold=1.0, refine=refine)
            assert res.success, name
            errs.append(np.median(_sampson_px(res.model, pair.true_x1, pair.true_x2)))
    raw, polished = np.array(raw), np.array(polished)
    assert len(raw) == 15
    assert (polished < raw).sum() >= 9, np.c_[raw, polished]
    assert np.median(polished) < 0.8 * np.median(raw), np.c_[raw, polished]


def test_fundamental_on_real_cmp_pairs(dataset):
    from pipelines.datasets import cmp
    folder = dataset("cmp_kusvod2_fundamental")
    for name in ("booksh", "castle", "graff"):
        pair = cmp.load_pair(folder, name, "fundamental")
        res = estimate_fundamental(pair.x1, pair.x2, threshold=1.0)
        assert res.success
        err = _sampson_px(res.model, pair.true_x1, pair.true_x2)
        assert np.median(err) < 2.0, (name, np.median(err))


# ---------------------------------------------------------------------------- SPRT, polish

def _sprt_for(kind, epsilon, delta):
    sprt = np.zeros(5)
    _sprt_state(kind, epsilon, delta, sprt)
    return sprt


@settings(max_examples=10)
@given(seeds())
def test_sprt_keeps_the_true_model_and_drops_a_wrong_one_early(seed):
    p = make_two_view(seed, 1000, noise=0.5, outlier_ratio=0.5)
    calib = _calibration((p.K1, p.K2))
    true = np.zeros((3, 4))
    true[:, :3] = p.F
    rng = np.random.default_rng(seed)
    wrong = np.zeros((3, 4))
    wrong[:, :3] = p.F + 0.05 * np.linalg.norm(p.F) * rng.normal(size=(3, 3))
    r = np.empty(1000)
    # the test built for the true model's inlier ratio
    sprt = _sprt_for(ESSENTIAL, 0.4, 0.01)
    assert np.isfinite(sprt[0]) and sprt[1] < 0.0 < sprt[2]
    s = _score(ESSENTIAL, true, p.x1, p.x2, calib, 1.0, MSAC, sprt, r)
    assert s > 0.3 * 1000  # kept, and scored on all points
    ref = np.empty(1000)
    _residuals(ESSENTIAL, true, p.x1, p.x2, calib, ref)
    np.testing.assert_array_equal(r, ref)
    assert _score(ESSENTIAL, wrong, p.x1, p.x2, calib, 1.0, MSAC, sprt, r) == -1.0
    assert sprt[3] < 100  # points tested before dropping it
    # no test where good and wrong models cannot be told apart
    assert _sprt_for(ESSENTIAL, 0.015, 0.01)[0] == np.inf
    assert _score(ESSENTIAL, wrong, p.x1, p.x2, calib, 1.0, MSAC,
                  _sprt_for(ESSENTIAL, 0.015, 0.01), r) >= 0.0


def test_inlier_posterior_recovers_the_mixture():
    rng = np.random.default_rng(0)
    sigma = 0.4
    inl = np.abs(rng.normal(scale=sigma, size=3000))
    out = rng.uniform(0, 50, size=3000)
    r = np.r_[inl, out, np.inf]
    w, s, fraction = _inlier_posterior(r, 1.0, 0.5, None)
    assert abs(s - sigma) < 0.05 * sigma
    assert abs(fraction - 0.5) < 0.02
    assert w[-1] == 0.0 and np.all((w >= 0) & (w <= 1))
    assert np.median(w[:3000]) > 0.95  # true matches keep (nearly) full weight
    assert np.mean(w[3000:-1][out > 3.0]) < 1e-3  # outliers off the line get none
