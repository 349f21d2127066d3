"""Stage 1: correspondences between every pair of the (few, unordered) input views.

SIFT matches between every pair (`pipelines.sfm.features`), and bilinear sampling of per-pixel
maps at keypoints.
"""
import numpy as np

from pipelines.sfm import features as sfm_features


def all_pairs(n_images):
    """Every pair (i, j), i < j, of `n_images` views."""
    return [(i, j) for i in range(n_images) for j in range(i + 1, n_images)]


def sift_matches(feats, ratio=0.8):
    """Mutual ratio-test SIFT matches of every pair -> dict (i, j) -> (M, 2) keypoint indices."""
    return {(i, j): sfm_features.match_descriptors(feats[i].descriptors, feats[j].descriptors,
                                                   ratio)
            for i, j in all_pairs(len(feats))}


def bilinear(field, xy):
    """Sample field (H, W) or (H, W, C) at pixels xy (N, 2) inside the image, bilinearly."""
    h, w = field.shape[:2]
    x = np.clip(xy[:, 0], 0, w - 1)
    y = np.clip(xy[:, 1], 0, h - 1)
    x0 = np.minimum(np.floor(x).astype(int), w - 2) if w > 1 else np.zeros(len(x), int)
    y0 = np.minimum(np.floor(y).astype(int), h - 2) if h > 1 else np.zeros(len(y), int)
    ax, ay = x - x0, y - y0
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    if field.ndim == 3:
        ax, ay = ax[:, None], ay[:, None]
    return ((1 - ay) * ((1 - ax) * field[y0, x0] + ax * field[y0, x1])
            + ay * ((1 - ax) * field[y1, x0] + ax * field[y1, x1]))
