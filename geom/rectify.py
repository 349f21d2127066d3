"""Calibrated stereo rectification and the disparity <-> depth relation.

Conventions (see DESIGN.md): pixels x right, y down, origin at the centre of the top-left pixel;
cameras are `geom.camera.Camera` (`x_cam = R X + t`); depth is the camera-frame z; image sizes
are `(width, height)`. After rectification both cameras share R, the focal length and cy (and
cx by default), the baseline runs along +x from camera 1 to camera 2, corresponding points
share a row, and the disparity `d = x1 - x2` gives the depth by `Z = f b / (d + doffs)` with
`doffs = cx2 - cx1` (0 for a shared K), positive for points in front of the cameras.

    H1, H2, rcam1, rcam2 = rectify_pair(cam1, cam2, (w, h))
    r1, r2 = rectify_images(img1, img2, H1, H2)
    b = np.linalg.norm(rcam2.center - rcam1.center)
    depth = disparity_to_depth(disparity, rcam1.K[0, 0], b)
"""
import cv2
import numpy as np
from numba import njit, prange

from . import _checks
from .camera import Camera, _check_baseline, check_camera


def rectify_pair(cam1, cam2, image_size, *, same_principal_point=True):
    """Rectifying homographies and cameras for a calibrated pair (Fusiello et al. 2000).

    cam1, cam2: `Camera`s with distinct centres; image_size: (width, height) of both input
    images and of the rectified ones (a camera with its own size set must agree).
    Returns (H1, H2, new_cam1, new_cam2): H_i (3, 3) maps original pixels of image i to
    rectified pixels, `H_i = K_i' R_new R_i^T K_i^-1`; the new cameras keep their centres and
    share `R_new`, the focal length and `cy` (square pixels, no skew).

    R_new: x axis along the baseline from cam1's centre to cam2's, y axis orthogonal to it and
    to the mean optical axis, z = x cross y. Camera 1 is therefore always the left camera and
    disparities are positive; when cam2 stands on cam1's left, both rectified images come out
    turned by about 180 degrees (swap the arguments to keep them upright).
    K_i': the focal length and principal points that fit the warped corners exactly into
    image_size, so no pixel of either image is lost. same_principal_point=True gives both
    cameras the same K' (fit to both images at once), and `d = x1 - x2 = f b / Z`. False fits
    `cx` to each image alone: verged cameras then keep a larger focal length (less black
    border), and `x1 - x2 + doffs = f b / Z` with `doffs = cx2' - cx1'` (the `doffs` argument
    of `disparity_to_depth`).
    Raises ValueError when the baseline is too close to the viewing direction for the images to
    be warped onto a common plane in front of the cameras.
    """
    check_camera(cam1, "cam1")
    check_camera(cam2, "cam2")
    w, h = _image_size(image_size, "image_size")
    for cam, name in ((cam1, "cam1"), (cam2, "cam2")):
        if cam.image_size is not None and cam.image_size != (w, h):
            raise ValueError(f"{name}: image size {cam.image_size} differs from image_size "
                             f"{(w, h)}")
    c1, c2 = _check_baseline([cam1, cam2], "cam1, cam2")
    x = (c2 - c1) / np.linalg.norm(c2 - c1)
    axis = cam1.R[2] + cam2.R[2]
    y = np.cross(axis, x)
    if np.linalg.norm(y) <= 1e-9 * max(np.linalg.norm(axis), 1e-300):
        raise ValueError("cam1, cam2: baseline parallel to the mean viewing direction, "
                         "cannot rectify")
    y /= np.linalg.norm(y)
    R = np.stack([x, y, np.cross(x, y)])

    corners = np.array([[-0.5, -0.5, 1.0], [w - 0.5, -0.5, 1.0], [w - 0.5, h - 0.5, 1.0],
                        [-0.5, h - 0.5, 1.0]])
    warped = []  # corners in rectified normalised coordinates, per image
    for cam, name in ((cam1, "cam1"), (cam2, "cam2")):
        rays = corners @ np.linalg.inv(cam.K).T @ cam.R @ R.T  # rows: R R_i^T K_i^-1 corner
        if (rays[:, 2] <= 1e-6 * np.linalg.norm(rays, axis=1)).any():
            raise ValueError(f"{name}: image reaches behind the rectified camera (baseline too "
                             "close to the viewing direction), cannot rectify")
        warped.append(rays[:, :2] / rays[:, 2:])
    if same_principal_point:
        warped = [np.concatenate(warped)] * 2
    x_ranges = [(p[:, 0].min(), p[:, 0].max()) for p in warped]
    y_lo = min(p[:, 1].min() for p in warped)
    y_hi = max(p[:, 1].max() for p in warped)
    f = min(h / (y_hi - y_lo), *(w / (hi - lo) for lo, hi in x_ranges))
    cy = (h - 1) / 2 - f * (y_lo + y_hi) / 2
    out = []
    for cam, c, (lo, hi) in ((cam1, c1, x_ranges[0]), (cam2, c2, x_ranges[1])):
        K = np.array([[f, 0.0, (w - 1) / 2 - f * (lo + hi) / 2], [0.0, f, cy], [0.0, 0.0, 1.0]])
        out.append((K @ R @ cam.R.T @ np.linalg.inv(cam.K), Camera(K, R, -R @ c, w, h)))
    (H1, new1), (H2, new2) = out
    return H1, H2, new1, new2


def rectification_maps(H, image_size):
    """Lookup maps for `cv2.remap` that warp an image by the homography H.

    H: (3, 3) invertible, original pixels -> rectified pixels; image_size: (width, height) of
    the rectified image. Returns (map_x, map_y), float32 (height, width): the original pixel
    sampled at each rectified pixel. Rectified pixels whose ray lies behind the original camera
    get -1e6 (far outside, so `cv2.remap` fills them with the border value).
    """
    H = _checks.matrix3(H, "H")
    w, h = _image_size(image_size, "image_size")
    if abs(np.linalg.det(H)) <= 1e-12 * np.abs(H).max() ** 3:
        raise ValueError("H: singular homography")
    G = np.linalg.inv(H)
    if np.linalg.det(G) < 0:  # H is known up to scale; for K R K^-1 (det > 0) the third row of
        G = -G                # H^-1 then gives the depth in the original camera
    map_x = np.empty((h, w), np.float32)
    map_y = np.empty((h, w), np.float32)
    _maps_kernel(G, map_x, map_y)
    return map_x, map_y


@njit(cache=True, parallel=True)
def _maps_kernel(G, map_x, map_y):
    for v in prange(map_x.shape[0]):
        for u in range(map_x.shape[1]):
            z = G[2, 0] * u + G[2, 1] * v + G[2, 2]
            if z > 0.0:
                map_x[v, u] = (G[0, 0] * u + G[0, 1] * v + G[0, 2]) / z
                map_y[v, u] = (G[1, 0] * u + G[1, 1] * v + G[1, 2]) / z
            else:
                map_x[v, u] = -1e6
                map_y[v, u] = -1e6


def rectify_images(img1, img2, H1, H2, *, image_size=None, interpolation=cv2.INTER_LINEAR):
    """Warp both images of a pair with their rectifying homographies (from `rectify_pair`).

    img1, img2: (H, W) or (H, W, C) images (uint8 or float32); H1, H2: (3, 3);
    image_size: (width, height) of the outputs, default img1's size. Returns the two rectified
    images, same dtype and channels as the inputs, black outside the warped images.
    """
    imgs = [_image(img1, "img1"), _image(img2, "img2")]
    size = (imgs[0].shape[1], imgs[0].shape[0]) if image_size is None else image_size
    out = []
    for img, H in zip(imgs, (H1, H2)):
        map_x, map_y = rectification_maps(H, size)
        out.append(cv2.remap(img, map_x, map_y, interpolation, borderMode=cv2.BORDER_CONSTANT))
    return out[0], out[1]


def disparity_to_depth(d, f, baseline, *, doffs=0.0):
    """Depth `Z = f b / (d + doffs)` of rectified disparities `d = x1 - x2` (array of any shape,
    NaN allowed).

    f: focal length in pixels, baseline: distance between the camera centres (both > 0);
    doffs: `cx2 - cx1` of the rectified cameras (0 when they share K; Middlebury's `doffs`).
    d + doffs == 0 gives inf (a point at infinity), d + doffs < 0 gives NaN (no point in front
    of both cameras).
    """
    f = _checks.positive(f, "f")
    baseline = _checks.positive(baseline, "baseline")
    d = _float_array(d, "d") + _checks.real(doffs, "doffs")
    with np.errstate(divide="ignore", invalid="ignore"):
        Z = np.where(d < 0, np.nan, f * baseline / d)
    return Z[()]


def depth_to_disparity(Z, f, baseline, *, doffs=0.0):
    """Disparity `d = f b / Z - doffs` of depths `Z` (array of any shape, NaN allowed), inverse
    of `disparity_to_depth`. Z == inf gives -doffs; Z <= 0 gives NaN (not in front)."""
    f = _checks.positive(f, "f")
    baseline = _checks.positive(baseline, "baseline")
    doffs = _checks.real(doffs, "doffs")
    Z = _float_array(Z, "Z")
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(Z <= 0, np.nan, f * baseline / Z - doffs)
    return d[()]


def _image_size(size, name):
    try:
        w, h = size
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: expected (width, height), got {size!r}") from err
    if int(w) != w or int(h) != h or w <= 0 or h <= 0:
        raise ValueError(f"{name}: expected positive integers (width, height), got {size!r}")
    return int(w), int(h)


def _image(img, name):
    img = np.asarray(img)
    if img.ndim not in (2, 3) or img.shape[0] == 0 or img.shape[1] == 0:
        raise ValueError(f"{name}: expected an image of shape (H, W) or (H, W, C), got {img.shape}")
    if img.dtype not in (np.uint8, np.float32):
        raise ValueError(f"{name}: expected dtype uint8 or float32, got {img.dtype}")
    return img


def _float_array(a, name):
    try:
        return np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: expected a numeric array") from err
