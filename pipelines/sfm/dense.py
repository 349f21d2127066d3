"""Optional dense stage: a plane-sweep depth map per registered image, fused across views.

Each image is swept (`geom.planesweep.plane_sweep`) against its `NEIGHBOURS` registered images
sharing the most sparse points (same-viewpoint duplicates skipped), over the depth range of the
sparse points it sees. A pixel's depth is kept in the fused cloud where at least one neighbour's
depth map agrees with it within `rel_tol` (relative depth).
"""
import numpy as np

from geom.planesweep import plane_sweep
from geom.progress import count

NEIGHBOURS = 2


def neighbours(rec, name, count=NEIGHBOURS):
    """Registered images sharing the most points with `name`, farthest from being the same
    viewpoint first among ties (list of names)."""
    k = rec.image_names.index(name)
    pts = np.zeros(len(rec.points), bool)
    pts[rec.obs_point[rec.obs_image == k]] = True
    shared = np.bincount(rec.obs_image[pts[rec.obs_point]], minlength=len(rec.image_names))
    scale = np.ptp(rec.points, axis=0).max() if len(rec.points) else 1.0
    out = []
    for j in np.argsort(-shared, kind="stable"):
        other = rec.image_names[j]
        if j == k or other not in rec.cameras or shared[j] == 0:
            continue
        if np.linalg.norm(rec.cameras[other].center - rec.cameras[name].center) < 1e-3 * scale:
            continue
        out.append(other)
        if len(out) == count:
            break
    return out


def depth_range(rec, name):
    """(near, far) around the depths of the sparse points `name` observes."""
    k = rec.image_names.index(name)
    z = rec.cameras[name].depth(rec.points[rec.obs_point[rec.obs_image == k]])
    z = z[z > 0]
    return float(np.percentile(z, 1)) * 0.8, float(np.percentile(z, 99)) * 1.25


def depth_maps(imgs, rec, num_planes=64, progress=None):
    """Plane-sweep depth (H, W) float32 (NaN: no estimate) per registered image -> dict."""
    images = dict(zip(imgs.names, imgs.images))
    out = {}
    names = [n for n in rec.image_names if n in rec.cameras]
    for i, name in enumerate(names):
        nb = neighbours(rec, name)
        if nb:
            out[name] = plane_sweep(images[name], rec.cameras[name],
                                    [(images[n], rec.cameras[n]) for n in nb],
                                    num_planes=num_planes, depth_range=depth_range(rec, name)).depth
        if progress is not None:
            count(progress, "depth maps", i + 1, len(names))
    return out


def fuse(imgs, rec, depths, rel_tol=0.01, stride=2):
    """Points (N, 3) and colours (N, 3) uint8 of the pixels (every `stride`-th row and column)
    whose depth a neighbour's depth map confirms within `rel_tol`."""
    images = dict(zip(imgs.names, imgs.images))
    points, colors = [], []
    for name, depth in depths.items():
        cam = rec.cameras[name]
        ys, xs = np.mgrid[0:depth.shape[0]:stride, 0:depth.shape[1]:stride]
        z = depth[ys, xs].ravel().astype(np.float64)
        ok = np.isfinite(z)
        x = np.stack([xs.ravel(), ys.ravel()], axis=1)[ok].astype(np.float64)
        X = cam.backproject(x, z[ok])
        agree = np.zeros(len(X), bool)
        for other in neighbours(rec, name):
            if other not in depths:
                continue
            c2 = rec.cameras[other]
            z2 = c2.depth(X)
            p = np.round(c2.project(X)).astype(np.int64)
            h, w = depths[other].shape
            inside = (z2 > 0) & (p[:, 0] >= 0) & (p[:, 0] < w) & (p[:, 1] >= 0) & (p[:, 1] < h)
            d2 = np.full(len(X), np.nan)
            d2[inside] = depths[other][p[inside, 1], p[inside, 0]]
            with np.errstate(invalid="ignore"):
                agree |= np.abs(d2 - z2) < rel_tol * z2
        points.append(X[agree])
        colors.append(images[name][x[agree, 1].astype(int), x[agree, 0].astype(int)])
    if not points:
        return np.zeros((0, 3)), np.zeros((0, 3), np.uint8)
    return np.concatenate(points), np.concatenate(colors).astype(np.uint8)
