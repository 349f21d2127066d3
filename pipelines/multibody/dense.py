"""Stage 5: dense depth and body label per pixel by the multi-body plane sweep."""
import cv2
import numpy as np

from geom.camera import relative_pose
from geom.planesweep import multibody_plane_sweep
from geom.progress import count


def motion_between(motions, names, cameras, body, ref, src):
    """(R, t, scale) of `body` from view `ref` to view `src` (indices into the image `names`),
    or None when unknown or unscaled: the background's from the `cameras` (dict image name ->
    `Camera`), the others' from their pair motion (inverted when ref > src) or, without one,
    composed through a third view with both legs known (the scales are all in the cameras'
    units, so they compose)."""
    if body == 0:
        R, t = relative_pose(cameras[names[ref]], cameras[names[src]])
        return R, t, 1.0
    direct = _pair_motion(motions, body, ref, src)
    if direct is not None:
        return direct
    for k in range(len(names)):
        a = _pair_motion(motions, body, ref, k)
        b = _pair_motion(motions, body, k, src)
        if k not in (ref, src) and a is not None and b is not None:
            t = b[0] @ (a[1] * a[2]) + b[1] * b[2]
            scale = float(np.linalg.norm(t))
            return b[0] @ a[0], t / scale, scale
    return None


def _pair_motion(motions, body, ref, src):
    mo = motions.get((min(ref, src), max(ref, src), body))
    if mo is None or not np.isfinite(mo.scale):
        return None
    R, t = (mo.R, mo.t) if ref < src else mo.inverse()
    return R, t, mo.scale


def near_keypoints(labels, keypoints, keypoint_bodies, max_distance):
    """(H, W) bool: pixels labelled background or unknown, or within `max_distance` x the image
    diagonal of a keypoint (N, 2) of the body they are labelled with (keypoint_bodies (N,))."""
    h, w = labels.shape
    ok = labels <= 0
    radius = max_distance * np.hypot(w, h)
    for b in np.unique(labels[labels > 0]):
        seeds = np.full((h, w), 255, np.uint8)
        ij = np.round(keypoints[keypoint_bodies == b]).astype(int)
        inside = (ij[:, 0] >= 0) & (ij[:, 0] < w) & (ij[:, 1] >= 0) & (ij[:, 1] < h)
        seeds[ij[inside, 1], ij[inside, 0]] = 0
        near = cv2.distanceTransform(seeds, cv2.DIST_L2, 5) <= radius
        ok |= (labels == b) & near
    return ok


def depth_range(motions, camera, ref, background_points):
    """(near, far) around the depths in view `ref`, whose `Camera` is `camera`, of the
    background points (N, 3) (world) and of the scaled body points of the pairs that hold
    `ref`."""
    z = [camera.depth(background_points)]
    for (i, j, b), mo in motions.items():
        if b and ref in (i, j) and np.isfinite(mo.scale):
            X = mo.points * mo.scale
            z.append(X[:, 2] if ref == i else (X @ mo.R.T + mo.scale * mo.t)[:, 2])
    z = np.concatenate(z)
    z = z[z > 0]
    return float(np.percentile(z, 1)) * 0.8, float(np.percentile(z, 99)) * 1.25


def dense_depths(images, names, cameras, motions, n_bodies, background_points, num_planes=64,
                 keypoints=None, keypoint_bodies=None, max_distance=0.05, progress=None):
    """Per registered view: (depth (H, W) float32, NaN unknown; labels (H, W) int body id, -1
    unknown; the bodies swept) -> dict view -> tuple. images, names: per view; cameras: dict
    image name -> `Camera` of the registered views. A body enters a view's sweep when its
    scaled motion to every other registered view is known (directly or through a third view).
    keypoints, keypoint_bodies: per view (N, 2) pixels and (N,) body ids (-1 none); when given,
    a pixel labelled with a moving body farther than `max_distance` x the image diagonal from
    every keypoint of that body is left unknown (a body is where its matches are; elsewhere its
    motion only explains texture by chance)."""
    views = [k for k, name in enumerate(names) if name in cameras]
    out = {}
    for n, ref in enumerate(views):
        srcs = [s for s in views if s != ref]
        bodies = [b for b in range(n_bodies)
                  if all(motion_between(motions, names, cameras, b, ref, s) is not None
                         for s in srcs)]
        sweep = multibody_plane_sweep(
            images[ref], cameras[names[ref]], [(images[s], cameras[names[s]]) for s in srcs],
            [[motion_between(motions, names, cameras, b, ref, s) for s in srcs]
             for b in bodies],
            num_planes=num_planes,
            depth_range=depth_range(motions, cameras[names[ref]], ref, background_points))
        labels = np.where(sweep.labels >= 0, np.asarray(bodies)[np.maximum(sweep.labels, 0)], -1)
        depth = sweep.depth
        if keypoints is not None:
            far = ~near_keypoints(labels, keypoints[ref], keypoint_bodies[ref], max_distance)
            labels = np.where(far, -1, labels)
            depth = np.where(far, np.nan, depth).astype(np.float32)
        out[ref] = (depth, labels, bodies)
        if progress is not None:
            count(progress, "dense depth maps", n + 1, len(views))
    return out
