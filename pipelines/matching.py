"""Stage 3: matches of image pairs and their geometric verification.

Nearest-neighbour matching of descriptors with Lowe's ratio test and a mutual check
(`match_pairs`), and verification of each pair by a robust relative pose
(`geom.robust.estimate_relative_pose`, `verify_pairs`). A pair's matches are one
`PairMatches` throughout: image indices inside the stages, names only in the outputs.
"""
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np
from numba import njit

from geom.robust import estimate_relative_pose

from .seeds import derive_seed

MATCH_BLOCK_ROWS = 4096  # rows of the distance matrix formed at a time (16 MB per 1000 columns)


@dataclass
class PairMatches:
    """Matches of images i < j (indices into the image list): keypoint index pairs (M, 2) into
    their `features.Features`. Verified (`verify_pair`): only the inliers, and the relative pose
    (R, t), |t| = 1, `X_j = R X_i + t`; None before."""

    i: int
    j: int
    matches: np.ndarray
    R: np.ndarray = None
    t: np.ndarray = None


def match_pairs(features, pairs, ratio=0.8, progress=None, workers=None):
    """Descriptor matches (`match_descriptors`) of every pair (i, j) of `pairs` -> list of
    `PairMatches`, in the order of `pairs`. features: per image `features.Features`; progress:
    optional callable(done, total); workers: threads matching pairs at once (default: one per
    CPU; the descriptor products and the distance kernel run without the GIL)."""
    def one(pair):
        i, j = int(pair[0]), int(pair[1])
        return PairMatches(i, j, match_descriptors(features[i].descriptors,
                                                   features[j].descriptors, ratio))

    return _in_threads(one, pairs, progress, workers)


def verify_pairs(features, Ks, candidates, threshold=1.0, min_inliers=20, progress=None,
                 workers=None, names=None, seed=0):
    """`verify_pair` of every `PairMatches` of `candidates` -> list of the verified ones, in
    order (failed pairs left out). Ks: per image (3, 3); progress, workers: as for
    `match_pairs`. Each pair's RANSAC seed derives from `seed` and the pair's image `names`
    (default: the image indices), not from its place in `candidates`."""
    keys = names if names is not None else range(len(features))

    def one(pm):
        return verify_pair(features, Ks, pm, threshold, min_inliers,
                           seed=derive_seed(seed, keys[pm.i], keys[pm.j]))

    return [pm for pm in _in_threads(one, candidates, progress, workers) if pm is not None]


def verify_pair(features, Ks, pm, threshold=1.0, min_inliers=20, seed=0):
    """The matches of `pm` (a `PairMatches`) consistent with one relative pose of cameras Ks[i],
    Ks[j] -> a verified `PairMatches`, or None when fewer than `min_inliers` agree."""
    m = pm.matches
    if len(m) < max(min_inliers, 5):
        return None
    res = estimate_relative_pose(features[pm.i].keypoints[m[:, 0]],
                                 features[pm.j].keypoints[m[:, 1]], Ks[pm.i], Ks[pm.j],
                                 threshold=threshold, seed=seed)
    if not res.success or res.num_inliers < min_inliers:
        return None
    return PairMatches(pm.i, pm.j, m[res.inliers], res.R, res.t)


def _in_threads(fn, items, progress, workers):
    """[fn(item) for item in items], in `workers` threads (default one per CPU), calling
    progress(done, total) after each when given."""
    out = []
    with ThreadPoolExecutor(workers or os.cpu_count() or 1) as pool:
        for value in pool.map(fn, items):
            out.append(value)
            if progress is not None:
                progress(len(out), len(items))
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


def lack_of_motion(features, candidates, min_matches=20):
    """Why pairs that match do not give a pose, when the cause is that the views did not move
    -> a sentence, or None when some pair of `candidates` (`PairMatches`) with at least
    `min_matches` matches has parallax.

    A pair has none when most of its matches stay at the same pixel (the same view twice) or
    one homography carries nearly all of them (a rotation about the camera centre, or a single
    plane): no baseline to triangulate from."""
    still = flat = 0
    for pm in candidates:
        m = pm.matches
        if len(m) < min_matches:
            continue
        x1, x2 = features[pm.i].keypoints[m[:, 0]], features[pm.j].keypoints[m[:, 1]]
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
