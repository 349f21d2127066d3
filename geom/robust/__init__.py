"""Robust estimation: one RANSAC engine for F, E, relative pose, H and absolute pose.

Every estimator takes its data positionally and its options by keyword only, its threshold in
PIXELS (whatever the model works in internally), validates its input, runs the numba engine
(`_engine.ransac`: uniform or PROSAC sampling, MSAC or MAGSAC++-style scoring, LO-RANSAC,
adaptive stopping, DEGENSAC for F, final refit; see that module for the method) over a model
kind of `_models`, and returns a `RansacResult`.
Bad input (too few points, NaN, wrong shapes, threshold <= 0, confidence outside (0, 1), a
seed or count that is no integer) raises ValueError naming the argument; data with no
consistent model give `success=False` and a `reason`, never an exception. Data that determine
no model give `success=False` too: for E a pure rotation (identical views, a camera that only
turned: no baseline, t undetermined), for F any homography (also a planar scene).

Conventions (DESIGN.md): pixels (N, 2), `X2 = R X1 + t`, `E = [t]x R`,
`F = K2^-T E K1^-1`, `x2^T F x1 = 0`, `x_cam = R X + t` for absolute poses.
"""
from dataclasses import dataclass, replace
from typing import Optional

import numpy as np

from .. import _checks
from ..camera import Camera, normalize_points, to_homogeneous
from ..epipolar import _cheirality_counts, _sampson, pose_from_essential
from ..homography import _homography_dlt_into, _transfer_error
from ..refine import _refine_absolute, _refine_fundamental, _refine_relative
from ..rotation import skew
from ..triangulate import reprojection_errors
from ._engine import _MSAC_REACH, MAGSAC, MSAC, ransac_for
from ._models import (ABSOLUTE_POSE, ESSENTIAL, FUNDAMENTAL, HOMOGRAPHY, SAMPLE_SIZES,
                      _calibration)

__all__ = ["RansacResult", "estimate_fundamental", "estimate_essential",
           "estimate_relative_pose", "estimate_homography", "estimate_absolute_pose"]

_SCORINGS = {"msac": MSAC, "magsac": MAGSAC}
# Final relative-pose polish: iteratively reweighted LM whose weights are the posterior inlier
# probabilities of a two-class mixture of the pixel Sampson residuals: inliers half-normal of
# scale sigma, outliers of flat density near zero (estimated from the residuals in
# [3T, 9T), where nearly all are outliers); sigma and the inlier fraction by EM from sigma = T/2.
# Unlike a fixed kernel (Tukey's biweight, cut-off 3T: down-weights a 2-sigma true match by a
# fifth) it keeps the true matches at full weight and drops the outliers near their epipolar line
# by how many there are (bench_robust, 60 other seeds at 50 % outliers: mean rotation error
# 0.0491 -> 0.0475 deg, translation 0.0360 -> 0.0349 deg).
_REFINE_ROUNDS = 3
_EM_STEPS = 3
_OUTLIER_BAND = (3.0, 9.0)
# Final F polish (three rounds, each re-selecting the matches within _F_REFINE_REACH x threshold):
# the Cauchy loss of the pixel Sampson errors, its scale the inliers' sigma of the same EM. On
# CMP kusvod2 (bench_robust, median over 15 scenes of the median over 6 seeds of the Sampson
# error on the hand-marked true matches): RANSAC alone 0.337 px; least squares on the matches
# within 3T 0.273 px; EM posterior weights (the relative-pose polish) 0.303 px; Cauchy of scale
# sigma 0.161 px, better than cv2 USAC_MAGSAC (0.246 px) on 13 scenes of 15. A fixed scale
# (T/4) is as good there but worse than least squares on synthetic pairs whose noise sigma is
# near T; sigma tracks the noise. A reach of T instead of 3T: as good on kusvod2, worse than no
# polish on synthetic pairs with noise near T (the fit cannot see the cut-off tail). The price:
# the polished F fits the core of the inliers more tightly than RANSAC's least-squares refit and
# leaves a few more marginal true matches beyond T, so its inlier mask separates inliers from
# outliers slightly worse (bench_multimodel's sequential geom.robust baseline on AdelaideRMF F,
# 24 seeds: 15.97 -> 16.62 % misclassified); refine=False keeps RANSAC's model and mask.
_F_REFINE_REACH = 3.0
# Each round's LM stops once a step gains less than this share of the cost: kusvod2 as above
# (0.1612 vs 0.1610 px at 1e-10) in 0.9 instead of 1.45 ms per pair.
_F_REFINE_TOLERANCE = 1e-6
_NO_BASELINE = ("no baseline: the inliers fit a pure rotation (identical views, or a camera that"
                " only turned), so the translation and E are undetermined")
_NO_PARALLAX = ("no parallax: the inliers fit one homography (identical views, a camera that only"
                " turned, or a planar scene), so F is undetermined")


@dataclass(frozen=True)
class RansacResult:
    """Outcome of a robust estimation.

    success: False when no model was found (then `model`, `R`, `t` are None).
    model: F, E or H (3, 3) at unit Frobenius norm, or [R | t] (3, 4) for an absolute pose.
    inliers: (N,) bool, residual below `threshold`. score: the engine's quality (higher is
    better, about the number of inliers). iterations: RANSAC iterations run.
    threshold: the inlier threshold in pixels. R, t: the pose for relative (|t| = 1) and
    absolute pose estimation, else None. reason: why success is False ('' on success).
    """

    success: bool
    model: Optional[np.ndarray]
    inliers: np.ndarray
    score: float
    iterations: int
    threshold: float
    R: Optional[np.ndarray] = None
    t: Optional[np.ndarray] = None
    reason: str = ""

    @property
    def num_inliers(self):
        return int(self.inliers.sum())


def estimate_fundamental(x1, x2, *, threshold=1.0, confidence=0.999, max_iterations=10000,
                         seed=0, scoring="msac", quality=None, local_optimisation=True,
                         degensac=True, refine=True):
    """Fundamental matrix from pixel correspondences x1, x2 (N, 2), N >= 7, with outliers.

    Seven-point minimal solver, weighted eight-point refit; residual: Sampson distance (pixels).
    threshold: inlier threshold in pixels. confidence: probability of having drawn an
    all-inlier sample when stopping. scoring: 'msac' (default: the more accurate of the two
    in bench_robust) or 'magsac' (noise scale marginalised, see `_engine`). quality: optional (N,)
    match quality (higher is better) that switches on PROSAC sampling. degensac: handle
    samples dominated by a plane. refine: polish the RANSAC model by three rounds of
    Levenberg-Marquardt over rank-2 matrices (`geom.refine.refine_fundamental`) of the Cauchy
    loss of the Sampson errors within 3 x threshold, its scale the inliers' noise sigma
    (inlier/outlier mixture fitted by EM). The inlier mask is that of the returned F. Returns a
    RansacResult with model F (3, 3), rank 2, unit Frobenius norm; success is False (reason: no
    parallax) when the inliers fit one homography.
    """
    x1, x2 = _checks.point_pairs(x1, x2, min_count=SAMPLE_SIZES[FUNDAMENTAL])
    res = _run(FUNDAMENTAL, x1, x2, threshold, None, confidence, max_iterations, seed, scoring,
               quality, local_optimisation, degensac)
    res = _with_parallax(res, FUNDAMENTAL, _NO_PARALLAX,
                         lambda use: _homography_errors(x1, x2, use))
    if not res.success or not refine:
        return res
    F = res.model.copy()
    r = np.empty(len(x1))
    sigma, fraction = res.threshold / 2.0, None
    for _ in range(_REFINE_ROUNDS):
        _sampson(F, x1, x2, r)
        _, sigma, fraction = _inlier_posterior(r, res.threshold, sigma, fraction)
        near = r < _F_REFINE_REACH * res.threshold
        if near.sum() < SAMPLE_SIZES[FUNDAMENTAL]:
            break
        _refine_fundamental(x1[near], x2[near], np.ones(int(near.sum())), sigma, F, 100,
                            _F_REFINE_TOLERANCE)
    _sampson(F, x1, x2, r)
    return replace(res, model=F, inliers=r < res.threshold)


def estimate_essential(x1, x2, K1, K2, *, threshold=1.0, confidence=0.999,
                       max_iterations=10000, seed=0, scoring="msac", quality=None,
                       local_optimisation=True):
    """Essential matrix from pixel correspondences x1, x2 (N, 2), N >= 5, of calibrated
    cameras K1, K2, with outliers.

    Five-point minimal solver on normalised coordinates; residual: the Sampson distance in
    pixels under F = K2^-T E K1^-1; LO refit by Levenberg-Marquardt of the 5-dof pose.
    Options as `estimate_fundamental`. Returns a RansacResult with model E (unit norm);
    success is False (reason: no baseline) when the inliers fit a pure rotation.
    """
    x1, x2 = _checks.point_pairs(x1, x2, min_count=SAMPLE_SIZES[ESSENTIAL])
    K1 = _checks.intrinsics(K1, "K1")
    K2 = _checks.intrinsics(K2, "K2")
    _checks.rays(x1, K1, "x1")
    _checks.rays(x2, K2, "x2")
    res = _run(ESSENTIAL, x1, x2, threshold, (K1, K2), confidence, max_iterations, seed, scoring,
               quality, local_optimisation, False)
    res = _with_parallax(res, ESSENTIAL, _NO_BASELINE,
                         lambda use: _rotation_errors(x1, x2, K1, K2, use))
    if not res.success:
        return res
    E = K2.T @ res.model @ K1
    return replace(res, model=E / np.linalg.norm(E))


def estimate_relative_pose(x1, x2, K1, K2, *, threshold=1.0, confidence=0.999,
                           max_iterations=10000, seed=0, scoring="msac", quality=None,
                           local_optimisation=True, refine=True):
    """Relative pose (R, t), |t| = 1, `X2 = R X1 + t`, from pixel correspondences x1, x2 (N, 2)
    of calibrated cameras K1, K2, with outliers.

    `estimate_essential`, then the decomposition of E that puts most inliers in front of both
    cameras (`geom.epipolar.pose_from_essential`), then (refine=True) three rounds of
    Levenberg-Marquardt of the pixel Sampson error over the points in front of both cameras,
    weighted by their posterior inlier probability (inlier/outlier mixture fitted by EM). The
    inlier mask keeps the correspondences within the threshold and in front of both cameras.
    success is False also when cheirality does not single out a pose. Returns a RansacResult
    with model E and R, t.
    """
    res = estimate_essential(x1, x2, K1, K2, threshold=threshold, confidence=confidence,
                             max_iterations=max_iterations, seed=seed, scoring=scoring,
                             quality=quality, local_optimisation=local_optimisation)
    if not res.success:
        return res
    x1, x2 = _checks.point_pairs(x1, x2)
    K1 = _checks.intrinsics(K1, "K1")
    K2 = _checks.intrinsics(K2, "K2")
    K1inv, K2inv = np.linalg.inv(K1), np.linalg.inv(K2)
    inl = res.inliers
    try:
        R, t, _ = pose_from_essential(res.model, x1[inl], x2[inl], K1, K2)
    except ValueError:  # cheirality does not single out a pose: no usable relative pose
        return replace(res, success=False, model=None, inliers=np.zeros_like(inl),
                       reason="cheirality does not single out a pose")
    R, t = R.copy(), t.copy()
    y1, y2 = normalize_points(x1, K1), normalize_points(x2, K2)

    def residuals():  # pixel Sampson errors under the pose's F, inf behind either camera
        r = np.empty(len(x1))
        _sampson(np.ascontiguousarray(K2inv.T @ skew(t) @ R @ K1inv), x1, x2, r)
        front = np.empty((1, len(x1)), dtype=np.bool_)
        _cheirality_counts(R[None], t[None], y1, y2, np.empty(1, np.int64), front)
        r[~front[0]] = np.inf
        return r

    sigma, fraction = res.threshold / 2.0, None
    for _ in range(_REFINE_ROUNDS if refine else 0):
        r = residuals()
        w, sigma, fraction = _inlier_posterior(r, res.threshold, sigma, fraction)
        near = w > 1e-3
        if near.sum() < 5:
            break
        _refine_relative(x1[near], x2[near], w[near], K1inv, K2inv, R, t, 30)
    inl = residuals() < res.threshold
    E = skew(t) @ R
    return RansacResult(True, E / np.linalg.norm(E), inl, res.score, res.iterations,
                        res.threshold, R, t)


def estimate_homography(x1, x2, *, threshold=1.0, confidence=0.999, max_iterations=10000,
                        seed=0, scoring="msac", quality=None, local_optimisation=True):
    """Homography `x2 ~ H x1` from pixel correspondences x1, x2 (N, 2), N >= 4, with outliers.

    Four-point DLT minimal solver (samples with three collinear points are skipped), weighted
    normalised DLT refit; residual: transfer error in image 2 (pixels). Options as
    `estimate_fundamental`. Returns a RansacResult with model H (3, 3), unit norm.
    """
    x1, x2 = _checks.point_pairs(x1, x2, min_count=SAMPLE_SIZES[HOMOGRAPHY])
    return _run(HOMOGRAPHY, x1, x2, threshold, None, confidence, max_iterations, seed, scoring,
                quality, local_optimisation, False)


def estimate_absolute_pose(X, x, K, *, threshold=2.0, confidence=0.999, max_iterations=10000,
                           seed=0, scoring="msac", quality=None, local_optimisation=True,
                           refine=True):
    """Camera pose (R, t), `x_cam = R X + t`, from world points X (N, 3) seen at pixels
    x (N, 2), N >= 3, by a camera K, with outliers.

    P3P minimal solver, Levenberg-Marquardt refit; residual: reprojection error in pixels.
    refine: a final LM polish on the inliers. Options as
    `estimate_fundamental`. Returns a RansacResult with model [R | t] (3, 4) and R, t.
    """
    X, x = _checks.point_pairs(X, x, min_count=SAMPLE_SIZES[ABSOLUTE_POSE], names=("X", "x"),
                               dims=(3, 2))
    K = _checks.intrinsics(K)
    _checks.rays(x, K, "x")
    res = _run(ABSOLUTE_POSE, X, x, threshold, (K, K), confidence, max_iterations, seed, scoring,
               quality, local_optimisation, False)
    if not res.success:
        return res
    R = res.model[:, :3].copy()
    t = res.model[:, 3].copy()
    inl = res.inliers
    if refine:
        _refine_absolute(X[inl], x[inl], np.ones(int(inl.sum())), K, R, t, 30)
        inl = reprojection_errors([Camera(K, R, t)], X, x[None])[0] < res.threshold
    return RansacResult(True, np.c_[R, t], inl, res.score, res.iterations, res.threshold, R, t)


# ---------------------------------------------------------------------------- helpers

def _run(kind, a, b, threshold, cameras, confidence, max_iterations, seed, scoring, quality,
         local_optimisation, degensac):
    """Validate the options, run the engine, wrap the result. cameras: (K1, K2) or None."""
    threshold = _checks.positive(threshold, "threshold")
    confidence = _checks.probability(confidence, "confidence")
    max_iterations = _checks.integer(max_iterations, "max_iterations", 1)
    seed = _checks.seed(seed)
    if not isinstance(scoring, str) or scoring not in _SCORINGS:
        raise ValueError(f"scoring: expected one of {sorted(_SCORINGS)}, got {scoring!r}")
    n = a.shape[0]
    order = None
    if quality is not None:
        quality = _checks.array(quality, "quality", (n,))
        order = np.argsort(-quality, kind="stable")
        a, b = a[order], b[order]
    model = np.zeros((3, 4))
    mask = np.zeros(n, dtype=np.bool_)
    found, score, iterations = ransac_for(kind)(
        np.ascontiguousarray(a), np.ascontiguousarray(b), _calibration(cameras), threshold,
        confidence, max_iterations, _SCORINGS[scoring], order is not None,
        bool(local_optimisation), bool(degensac), seed, model, mask)
    if order is not None:
        unsorted = np.empty_like(mask)
        unsorted[order] = mask
        mask = unsorted
    # a model supported only by about its own sample is no model
    if not found or mask.sum() < 2 * SAMPLE_SIZES[kind]:
        reason = (f"no model with enough support ({int(mask.sum())} inliers, need "
                  f"{2 * SAMPLE_SIZES[kind]})" if found else
                  "no sample gave a usable model (too few distinct points in general position)")
        return RansacResult(False, None, np.zeros(n, dtype=bool), float(score), int(iterations),
                            threshold, reason=reason)
    out = model if kind == ABSOLUTE_POSE else model[:, :3] / np.linalg.norm(model[:, :3])
    return RansacResult(True, out, mask, float(score), int(iterations), threshold)


def _with_parallax(res, kind, reason, errors):
    """`res`, failed with `reason` when a degenerate model explains its inliers: fewer than twice
    a minimal sample of them (about the model's own sample, as in `_run`) lie beyond the MSAC
    reach of that model. errors(use) -> (N,) pixel errors of the degenerate model fitted to the
    mask `use` (all points when `res` failed: then only `reason` may change)."""
    reach = _MSAC_REACH * res.threshold
    use = res.inliers if res.success else np.ones(len(res.inliers), bool)
    err = np.full(len(use), np.inf)
    for _ in range(3):  # fit, then refit twice on the points within LO's 3T (outliers drop out)
        if use.sum() < 2 * SAMPLE_SIZES[kind]:
            break
        err = errors(use)
        use = err < 3.0 * res.threshold
    explained = err < reach
    if res.success:
        if np.count_nonzero(res.inliers & ~explained) >= 2 * SAMPLE_SIZES[kind]:
            return res
        return replace(res, success=False, model=None, inliers=np.zeros_like(res.inliers),
                       reason=reason)
    return replace(res, reason=reason) if explained.sum() >= 2 * SAMPLE_SIZES[kind] else res


def _rotation_errors(x1, x2, K1, K2, use):
    """Pixel errors in image 2 (N,) of the pure rotation `x2 ~ K2 R K1^-1 x1` that best aligns
    the viewing rays of the correspondences `use` (Kabsch)."""
    b1 = to_homogeneous(normalize_points(x1[use], K1))
    b2 = to_homogeneous(normalize_points(x2[use], K2))
    b1 /= np.linalg.norm(b1, axis=1, keepdims=True)
    b2 /= np.linalg.norm(b2, axis=1, keepdims=True)
    U, _, Vt = np.linalg.svd(b2.T @ b1)
    R = U @ np.diag([1.0, 1.0, np.linalg.det(U @ Vt)]) @ Vt
    err = np.empty(len(x1))
    _transfer_error(np.ascontiguousarray(K2 @ R @ np.linalg.inv(K1)), x1, x2, err)
    return err


def _homography_errors(x1, x2, use):
    """Transfer errors in image 2 (N,) of the homography fitted (normalised DLT) to the
    correspondences `use`; inf everywhere when they do not determine one."""
    H = np.empty((3, 3))
    err = np.full(len(x1), np.inf)
    if _homography_dlt_into(x1[use], x2[use], np.ones(int(use.sum())), H):
        _transfer_error(H, x1, x2, err)
    return err


def _inlier_posterior(r, threshold, sigma, fraction):
    """EM on residuals r (N,) (inf: excluded) of a mixture of inliers, |N(0, sigma^2)|, and
    outliers of flat density (their count in the band _OUTLIER_BAND x threshold per pixel).
    fraction: the inliers' share, None to start from the share within the threshold. Returns
    the inlier posteriors (N,), sigma and fraction."""
    lo, hi = _OUTLIER_BAND[0] * threshold, _OUTLIER_BAND[1] * threshold
    outlier_density = max(np.count_nonzero((r >= lo) & (r < hi)), 1) / (hi - lo) / len(r)
    if fraction is None:
        fraction = np.count_nonzero(r < threshold) / len(r)
    finite = np.isfinite(r)
    rf = np.where(finite, r, 0.0)
    for _ in range(_EM_STEPS):
        inlier = fraction * np.sqrt(2.0 / np.pi) / sigma * np.exp(-0.5 * (rf / sigma) ** 2)
        w = np.where(finite, inlier / (inlier + outlier_density), 0.0)
        if w.sum() <= 0.0:
            break
        sigma = max(np.sqrt(np.sum(w * rf ** 2) / w.sum()), 1e-6 * threshold)
        fraction = w.mean()
    return w, sigma, fraction
