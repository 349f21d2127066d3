"""Stage 2: features, matches and their geometric verification.

SIFT keypoints (OpenCV) with RootSIFT descriptors, nearest-neighbour matching with Lowe's ratio
test and a mutual check, pair selection, and verification of each pair by a robust relative pose
(`geom.robust.estimate_relative_pose`). Keypoints follow the house pixel convention.
"""
from dataclasses import dataclass

import cv2
import numpy as np

from geom.robust import estimate_relative_pose

EXHAUSTIVE_MAX_IMAGES = 40  # above this, each image is matched to its `window` neighbours in order


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


def extract_features(image, max_features=8000, root_sift=True):
    """SIFT features of an RGB uint8 image (H, W, 3) -> `Features`; RootSIFT (L1 normalise, square
    root) by default, which compares descriptors by the Hellinger kernel."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    sift = cv2.SIFT_create(nfeatures=max_features)
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
    """Mutual nearest neighbours of descriptor sets d1 (N1, D), d2 (N2, D) passing the ratio test
    in both directions -> index pairs (M, 2)."""
    if len(d1) < 2 or len(d2) < 2:
        return np.zeros((0, 2), np.int64)
    matcher = cv2.BFMatcher(cv2.NORM_L2)
    fwd = _ratio_matches(matcher.knnMatch(d1, d2, k=2), ratio, len(d1))
    bwd = _ratio_matches(matcher.knnMatch(d2, d1, k=2), ratio, len(d2))
    i = np.flatnonzero(fwd >= 0)
    keep = bwd[fwd[i]] == i
    return np.stack([i[keep], fwd[i[keep]]], axis=1).astype(np.int64)


def _ratio_matches(knn, ratio, n):
    best = np.full(n, -1, np.int64)
    for m in knn:
        if len(m) == 2 and m[0].distance < ratio * m[1].distance:
            best[m[0].queryIdx] = m[0].trainIdx
    return best


def select_pairs(n_images, window=10):
    """Image pairs (i, j), i < j, to match: all of them up to `EXHAUSTIVE_MAX_IMAGES` images, else
    each image with its `window` successors in file order (wrapping around, for rings)."""
    if n_images <= EXHAUSTIVE_MAX_IMAGES:
        return [(i, j) for i in range(n_images) for j in range(i + 1, n_images)]
    pairs = {tuple(sorted((i, (i + k) % n_images))) for i in range(n_images)
             for k in range(1, window + 1)}
    return sorted(pairs)


def verify_pair(f1, f2, K1, K2, matches, threshold=1.0, min_inliers=30, seed=0):
    """Keep the matches (M, 2) of features f1, f2 consistent with one relative pose of cameras
    K1, K2 -> (inlier matches, R, t), or None when fewer than `min_inliers` agree."""
    if len(matches) < max(min_inliers, 5):
        return None
    res = estimate_relative_pose(f1.keypoints[matches[:, 0]], f2.keypoints[matches[:, 1]], K1, K2,
                                 threshold=threshold, seed=seed)
    if not res.success or res.num_inliers < min_inliers:
        return None
    return matches[res.inliers], res.R, res.t


def match_and_verify(features, Ks, pairs, ratio=0.8, threshold=1.0, min_inliers=30,
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
