"""Stage 2: features, matches and their geometric verification.

SIFT keypoints (OpenCV) with RootSIFT descriptors, nearest-neighbour matching with Lowe's ratio
test and a mutual check, and verification of each pair by a robust relative pose
(`geom.robust.estimate_relative_pose`). Keypoints follow the house pixel convention.
"""
from dataclasses import dataclass

import cv2
import numpy as np

from geom.robust import estimate_relative_pose


@dataclass
class Features:
    """Keypoints (N, 2) pixels, descriptors (N, 128) float32, colours (N, 3) uint8 RGB."""

    keypoints: np.ndarray
    descriptors: np.ndarray
    colors: np.ndarray


@dataclass
class PairMatches:
    """Verified matches of images i < j: index pairs (M, 2) into their keypoints, and the relative
    pose (R, t), |t| = 1, `X_j = R X_i + t`."""

    i: int
    j: int
    matches: np.ndarray
    R: np.ndarray
    t: np.ndarray


def extract_features(image, max_features=8000, root_sift=True, contrast_threshold=0.01):
    """SIFT features of an RGB uint8 image (H, W, 3) -> `Features`; RootSIFT (L1 normalise, square
    root) by default, which compares descriptors by the Hellinger kernel. contrast_threshold:
    SIFT's (OpenCV default 0.04), lowered to find features on weakly textured objects."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    sift = cv2.SIFT_create(nfeatures=max_features, contrastThreshold=contrast_threshold)
    kps, desc = sift.detectAndCompute(gray, None)
    if desc is None:
        return Features(np.zeros((0, 2)), np.zeros((0, 128), np.float32), np.zeros((0, 3), np.uint8))
    xy = np.array([k.pt for k in kps], dtype=np.float64)
    if root_sift:
        desc = np.sqrt(desc / np.maximum(desc.sum(axis=1, keepdims=True), 1e-12))
    h, w = gray.shape
    ij = np.clip(np.round(xy).astype(int), 0, [w - 1, h - 1])
    return Features(xy, desc.astype(np.float32), image[ij[:, 1], ij[:, 0]].copy())


def match_descriptors(d1, d2, ratio=0.8):
    """Mutual nearest neighbours (Euclidean) of descriptor sets d1 (N1, D), d2 (N2, D) that pass
    the ratio test in both directions -> index pairs (M, 2)."""
    if len(d1) < 2 or len(d2) < 2:
        return np.zeros((0, 2), np.int64)
    d1 = np.asarray(d1, np.float32)
    d2 = np.asarray(d2, np.float32)
    # squared distances |a|^2 + |b|^2 - 2 a.b from one matrix product serve both directions
    D = (d1 * d1).sum(1)[:, None] + (d2 * d2).sum(1)[None, :] - 2 * d1 @ d2.T
    np.maximum(D, 0, out=D)
    fwd = _ratio_best(D, ratio)
    bwd = _ratio_best(D.T, ratio)
    i = np.flatnonzero(fwd >= 0)
    keep = bwd[fwd[i]] == i
    return np.stack([i[keep], fwd[i[keep]]], axis=1).astype(np.int64)


def _ratio_best(D, ratio):
    """Per row the column of the smallest entry, or -1 where the second smallest distance is not
    clearly larger (distance ratio test on squared distances)."""
    two = np.partition(D, 1, axis=1)[:, :2]
    best = np.argmin(D, axis=1)
    return np.where(two[:, 0] < ratio ** 2 * two[:, 1], best, -1)


def verify_pair(f1, f2, K1, K2, matches, threshold=1.0, min_inliers=20, seed=0):
    """Keep the matches (M, 2) of features f1, f2 consistent with one relative pose of cameras
    K1, K2 -> (inlier matches, R, t), or None when fewer than `min_inliers` agree."""
    if len(matches) < max(min_inliers, 5):
        return None
    res = estimate_relative_pose(f1.keypoints[matches[:, 0]], f2.keypoints[matches[:, 1]], K1, K2,
                                 threshold=threshold, seed=seed)
    if not res.success or res.num_inliers < min_inliers:
        return None
    return matches[res.inliers], res.R, res.t


def match_and_verify(features, Ks, pairs, ratio=0.8, threshold=1.0, min_inliers=20,
                     progress=None):
    """Match and verify every pair (i, j) of `pairs` -> list of `PairMatches` (failed pairs left
    out). Ks: list of (3, 3) per image. progress: optional callable(done, total)."""
    out = []
    for k, (i, j) in enumerate(pairs):
        m = match_descriptors(features[i].descriptors, features[j].descriptors, ratio)
        v = verify_pair(features[i], features[j], Ks[i], Ks[j], m, threshold, min_inliers, seed=k)
        if v is not None:
            out.append(PairMatches(i, j, *v))
        if progress is not None:
            progress(k + 1, len(pairs))
    return out
