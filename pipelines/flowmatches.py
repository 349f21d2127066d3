"""Dense matches from a flow plug-in, added to the (SIFT) matches of image pairs.

Grid points of the first image of each pair, moved by the forward flow and kept where the backward
flow brings them back. The grid points of an image are shared by all its pairs (so they join
tracks across pairs, like SIFT keypoints); their flow end points are new keypoints of the second
image. Used by `mvdepth sfm --flow` and `mvdepth multibody --flow`.
"""
import numpy as np

from .features import Features
from .matching import PairMatches


def add_flow_matches(feats, images, candidates, flow, step=16, max_error=1.0, progress=None):
    """(features, candidates) with the flow matches of every pair of `candidates` added.

    feats: per image `Features`; images: per image (H, W, 3) uint8; candidates: `PairMatches`
    (descriptor matches) per pair; flow: a flow plug-in (`flow(img1, img2) -> (H, W, 2)`); step:
    grid spacing in pixels; max_error: forward-backward disagreement (pixels) above which a flow
    match is dropped; progress: optional callable(done, total) after each pair. The new
    keypoints have zero descriptors and the image's colour."""
    kps = [[f.keypoints] for f in feats]
    h, w = images[0].shape[:2]
    ys, xs = np.mgrid[step // 2:h:step, step // 2:w:step]
    grid = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64)
    for k in range(len(feats)):
        kps[k].append(grid)
    sizes = [len(f.keypoints) + len(grid) for f in feats]
    out = []
    for pm in candidates:
        i, j = pm.i, pm.j
        fwd = np.asarray(flow(images[i], images[j]), np.float64)
        bwd = np.asarray(flow(images[j], images[i]), np.float64)
        x2 = grid + fwd[ys.ravel(), xs.ravel()]
        inside = (x2[:, 0] >= 0) & (x2[:, 0] <= w - 1) & (x2[:, 1] >= 0) & (x2[:, 1] <= h - 1)
        back = x2 + bilinear(bwd, x2)
        keep = np.flatnonzero(inside & (np.linalg.norm(back - grid, axis=1) <= max_error))
        new = np.stack([len(feats[i].keypoints) + keep, sizes[j] + np.arange(len(keep))], axis=1)
        kps[j].append(x2[keep])
        sizes[j] += len(keep)
        out.append(PairMatches(i, j, np.concatenate([pm.matches, new])))
        if progress is not None:
            progress(len(out), len(candidates))
    augmented = []
    for f, img, pts in zip(feats, images, kps):
        xy = np.concatenate(pts)
        ij = np.clip(np.round(xy).astype(int), 0, [w - 1, h - 1])
        n_new = len(xy) - len(f.keypoints)
        augmented.append(Features(
            xy, np.concatenate([f.descriptors, np.zeros((n_new, f.descriptors.shape[1]),
                                                        np.float32)]),
            img[ij[:, 1], ij[:, 0]].copy()))
    return augmented, out


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
