"""Stage 2: features, matches and their geometric verification.

SIFT keypoints (OpenCV) with RootSIFT descriptors, nearest-neighbour matching with Lowe's ratio
test and a mutual check, and verification of each pair by a robust relative pose
(`geom.robust.estimate_relative_pose`). Keypoints follow the house pixel convention.
"""
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np
from numba import njit

from geom.robust import estimate_relative_pose

from .seeds import derive_seed

MIN_IMAGE_SIDE = 32  # pixels; smaller images hold too few SIFT features to verify a pair
MATCH_BLOCK_ROWS = 4096  # rows of the distance matrix formed at a time (16 MB per 1000 columns)

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


_OPENCV_SIFT_OFFSET = 0.25  # px, in x and y (see extract_features)


def extract_features(image, max_features=8000, root_sift=True, contrast_threshold=0.01):
    """SIFT features of an RGB uint8 image (H, W, 3) -> `Features`; RootSIFT (L1 normalise, square
    root) by default, which compares descriptors by the Hellinger kernel. contrast_threshold:
    SIFT's (OpenCV default 0.04), lowered to find features on weakly textured objects.
    Keypoints follow DESIGN.md's pixel convention: OpenCV reports positions in its doubled first
    octave halved, i.e. +0.25 px off in x and y (a principal-point error in every view), which is
    taken off. (`enable_precise_upscale` also removes the offset, but finds other features, less
    accurate in bench_sfm: temple median rotation error 0.31 vs 0.21 deg.)"""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    sift = cv2.SIFT_create(nfeatures=max_features, contrastThreshold=contrast_threshold)
    kps, desc = sift.detectAndCompute(gray, None)
    if desc is None or not kps:  # OpenCV gives an empty array, not None, on some blank images
        return Features(np.zeros((0, 2)), np.zeros((0, 128), np.float32), np.zeros((0, 3), np.uint8))
    xy = np.array([k.pt for k in kps], dtype=np.float64) - _OPENCV_SIFT_OFFSET
    if root_sift:
        desc = np.sqrt(desc / np.maximum(desc.sum(axis=1, keepdims=True), 1e-12))
    h, w = gray.shape
    ij = np.clip(np.round(xy).astype(int), 0, [w - 1, h - 1])
    return Features(xy, desc.astype(np.float32), image[ij[:, 1], ij[:, 0]].copy())


def extract_all(images, progress=None, workers=None):
    """`extract_features` of every image of `images` -> list of `Features`, in order, in
    `workers` threads (default one per CPU: OpenCV's SIFT releases the GIL). progress: optional
    callable(done, total)."""
    out = []
    with ThreadPoolExecutor(workers or os.cpu_count() or 1) as pool:
        for k, f in enumerate(pool.map(extract_features, images)):
            out.append(f)
            if progress is not None:
                progress(k + 1, len(images))
    return out


def match_descriptors(d1, d2, ratio=0.8):
    """Mutual nearest neighbours (Euclidean) of descriptor sets d1 (N1, D), d2 (N2, D) that pass
    the ratio test in both directions -> index pairs (M, 2)."""
    if len(d1) < 2 or len(d2) < 2:
        return np.zeros((0, 2), np.int64)
    d1 = np.ascontiguousarray(d1, np.float32)
    d2 = np.ascontiguousarray(d2, np.float32)
    n1, n2 = (d1 * d1).sum(1), (d2 * d2).sum(1)
    rows, cols = _BestTwo(len(d1)), _BestTwo(len(d2))
    # squared distances |a|^2 + |b|^2 - 2 a.b from one matrix product per block of rows serve
    # both directions; the smallest two per row and per column are kept as the blocks pass
    for i0 in range(0, len(d1), MATCH_BLOCK_ROWS):
        G = d1[i0:i0 + MATCH_BLOCK_ROWS] @ d2.T
        _best_two(G, n1[i0:i0 + MATCH_BLOCK_ROWS], n2, i0, rows.index, rows.first, rows.second,
                  cols.index, cols.first, cols.second)
    fwd, bwd = rows.passing(ratio), cols.passing(ratio)
    i = np.flatnonzero(fwd >= 0)
    keep = bwd[fwd[i]] == i
    return np.stack([i[keep], fwd[i[keep]]], axis=1).astype(np.int64)


class _BestTwo:
    """Per row (or column) of a distance matrix: where its smallest entry is, the smallest and
    the second smallest squared distance."""

    def __init__(self, n):
        self.index = np.full(n, -1, np.int64)
        self.first = np.full(n, np.inf, np.float32)
        self.second = np.full(n, np.inf, np.float32)

    def passing(self, ratio):
        """The best index where the distance ratio test passes (on squared distances), else -1."""
        return np.where(self.first < ratio ** 2 * self.second, self.index, -1)


@njit(cache=True, nogil=True)
def _best_two(G, n1, n2, i0, r_index, r_first, r_second, c_index, c_first, c_second):
    """Fold the block of rows i0 + (0..B) of the squared distances n1_i + n2_j - 2 G_ij
    (G: (B, N2) float32 products) into the running smallest two per row and per column, in one
    pass (the updates are rare: their branches are predicted) and clamped at 0 at the end."""
    B, N2 = G.shape
    zero, two = np.float32(0.0), np.float32(2.0)
    for b in range(B):
        i = i0 + b
        first, second, index = r_first[i], r_second[i], r_index[i]
        for j in range(N2):
            d = n1[b] + n2[j] - two * G[b, j]
            if d < second:
                if d < first:
                    second, first, index = first, d, j
                else:
                    second = d
            if d < c_second[j]:
                if d < c_first[j]:
                    c_second[j], c_first[j], c_index[j] = c_first[j], d, i
                else:
                    c_second[j] = d
        r_first[i], r_second[i], r_index[i] = max(first, zero), max(second, zero), index
    for j in range(N2):
        c_first[j], c_second[j] = max(c_first[j], zero), max(c_second[j], zero)


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


def lack_of_motion(features, matches, min_matches=20):
    """Why pairs that match do not give a pose, when the cause is that the views did not move
    -> a sentence, or None when some pair of `matches` (dict (i, j) -> (M, 2) keypoint index
    pairs) with at least `min_matches` matches has parallax.

    A pair has none when most of its matches stay at the same pixel (the same view twice) or
    one homography carries nearly all of them (a rotation about the camera centre, or a single
    plane): no baseline to triangulate from."""
    still = flat = 0
    for (i, j), m in matches.items():
        if len(m) < min_matches:
            continue
        x1, x2 = features[i].keypoints[m[:, 0]], features[j].keypoints[m[:, 1]]
        if np.median(np.hypot(*(x2 - x1).T)) < 0.5:
            still += 1
            continue
        _, inliers = cv2.findHomography(x1, x2, cv2.RANSAC, 1.0)
        if inliers is None or inliers.mean() < 0.9:
            return None
        flat += 1
    if still and not flat:
        return ("the images show the same view (matches stay at the same pixels): no baseline "
                "between the cameras, nothing to triangulate")
    if still or flat:
        return ("the views have no parallax (identical views, a rotation about the camera "
                "centre, or a single plane: one homography carries the matches): move the camera "
                "between photos")
    return None


def pair_matches(features, pairs, ratio=0.8, workers=None):
    """Descriptor matches (`match_descriptors`) of every pair (i, j) of `pairs` -> dict (i, j)
    -> (M, 2) keypoint index pairs; workers: as for `match_and_verify`."""
    def one(pair):
        i, j = pair
        return match_descriptors(features[i].descriptors, features[j].descriptors, ratio)

    with ThreadPoolExecutor(workers or os.cpu_count() or 1) as pool:
        return {(int(i), int(j)): m for (i, j), m in zip(pairs, pool.map(one, pairs))}


def match_and_verify(features, Ks, pairs, ratio=0.8, threshold=1.0, min_inliers=20,
                     progress=None, workers=None, matches=None, names=None, seed=0):
    """Match and verify every pair (i, j) of `pairs` -> list of `PairMatches` (failed pairs left
    out), in the order of `pairs`. Ks: list of (3, 3) per image. progress: optional
    callable(done, total). workers: threads matching pairs at once (default: one per CPU; the
    descriptor products and the distance kernel run without the GIL). matches: dict (i, j) ->
    (M, 2) keypoint index pairs to verify instead of matching the descriptors (e.g. with
    `flowmatches.add_flow_matches`), or None. Each pair's RANSAC seed derives from `seed` and
    the pair's image `names` (default: the image indices), not from its place in `pairs`."""
    keys = names if names is not None else range(len(features))
    def one(k):
        i, j = pairs[k]
        m = (match_descriptors(features[i].descriptors, features[j].descriptors, ratio)
             if matches is None else matches[(int(i), int(j))])
        v = verify_pair(features[i], features[j], Ks[i], Ks[j], m, threshold, min_inliers,
                        seed=derive_seed(seed, keys[i], keys[j]))
        return None if v is None else PairMatches(i, j, *v)

    out = []
    with ThreadPoolExecutor(workers or os.cpu_count() or 1) as pool:
        for k, pm in enumerate(pool.map(one, range(len(pairs)))):
            if pm is not None:
                out.append(pm)
            if progress is not None:
                progress(k + 1, len(pairs))
    return out
