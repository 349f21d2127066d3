"""Dense stage of `mvdepth two-view --dense`: rectified stereo on the reconstructed pair.

The pair is rectified with its reconstructed cameras (`geom.rectify.rectify_pair`), matched by
`geom.stereo.stereo_disparity` over the disparities of the sparse points' depths, turned into
depth in the rectified frame (`Z' = f b / d`) and mapped back onto image 1's pixel grid: a pixel
x of image 1 lands at `H1 x` (homogeneous), and since both frames share the camera centre, the
depth of the same 3D point in camera 1 is `Z' / (H1 x)_z` (with `H1 = K' R' R1^T K1^-1` as
`rectify_pair` gives it). Same interface as `dense`: `depth_maps` then `fuse`.
"""
import cv2
import numpy as np

from geom.rectify import disparity_to_depth, rectify_images, rectify_pair
from geom.stereo import stereo_disparity


def depth_maps(imgs, rec, progress=None):
    """Depth (H, W) float32 of the first registered image (NaN: no estimate) -> {name: depth};
    raises ValueError unless exactly two images are registered."""
    names = [n for n in rec.image_names if n in rec.cameras]
    if len(names) != 2:
        raise ValueError(f"two-view dense: expected 2 registered images, got {len(names)}")
    images = dict(zip(imgs.names, imgs.images))
    img1, img2 = images[names[0]], images[names[1]]
    cam1, cam2 = rec.cameras[names[0]], rec.cameras[names[1]]
    h, w = img1.shape[:2]
    H1, H2, rcam1, rcam2 = rectify_pair(cam1, cam2, (w, h))
    left, right = rectify_images(img1, img2, H1, H2)
    f = rcam1.K[0, 0]
    b = float(np.linalg.norm(rcam2.center - rcam1.center))
    dmin, count = disparity_range(rec, rcam1, f * b, w)
    disp = stereo_disparity(left, right, num_disparities=count, min_disparity=dmin).disparity
    depth = disparity_to_depth(disp, f, b).astype(np.float32)
    if progress is not None:
        progress(f"two-view stereo: disparities {dmin}..{dmin + count - 1} px, "
                 f"{np.isfinite(disp).mean():.0%} of the rectified pixels matched")
    return {names[0]: unrectify_depth(depth, H1, (w, h))}


def disparity_range(rec, rcam1, fb, width):
    """(min disparity, count) covering the depths of the sparse points in the rectified camera 1
    (1st-99th percentile, widened by the margins of `dense.depth_range`), at most up to the
    image `width`."""
    z = rcam1.depth(rec.points)
    z = z[z > 0]
    if z.size == 0:
        raise ValueError("two-view dense: no sparse point in front of camera 1")
    near, far = float(np.percentile(z, 1)) * 0.8, float(np.percentile(z, 99)) * 1.25
    dmin = int(np.floor(fb / far))
    return dmin, max(1, min(int(np.ceil(fb / near)), width) - dmin + 1)


def unrectify_depth(depth, H1, image_size):
    """Rectified depth (H', W') of camera 1 -> depth (height, width) float32 on the original
    pixel grid of image 1 (nearest rectified pixel; NaN outside or where unknown)."""
    w, h = image_size
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    u = np.einsum("ij,jhw->ihw", H1, np.stack([xs, ys, np.ones_like(xs)]))
    with np.errstate(divide="ignore", invalid="ignore"):
        behind = u[2] <= 0
        map_x = np.where(behind, -1e6, u[0] / u[2]).astype(np.float32)
        map_y = np.where(behind, -1e6, u[1] / u[2]).astype(np.float32)
        z = cv2.remap(depth.astype(np.float32), map_x, map_y, cv2.INTER_NEAREST,
                      borderMode=cv2.BORDER_CONSTANT, borderValue=np.nan)
        return np.where(behind, np.nan, z / u[2]).astype(np.float32)


def fuse(imgs, rec, depths, stride=1):
    """Points (N, 3) and colours (N, 3) uint8 of every `stride`-th pixel with a depth (the
    left-right check of the stereo matcher already filtered them)."""
    images = dict(zip(imgs.names, imgs.images))
    points, colors = [], []
    for name, depth in depths.items():
        ys, xs = np.mgrid[0:depth.shape[0]:stride, 0:depth.shape[1]:stride]
        z = depth[ys, xs].ravel().astype(np.float64)
        ok = np.isfinite(z) & (z > 0)
        x = np.stack([xs.ravel(), ys.ravel()], axis=1)[ok]
        points.append(rec.cameras[name].backproject(x.astype(np.float64), z[ok]))
        colors.append(images[name][x[:, 1], x[:, 0]])
    if not points:
        return np.zeros((0, 3)), np.zeros((0, 3), np.uint8)
    return np.concatenate(points), np.concatenate(colors).astype(np.uint8)
