"""Dense disparity of a rectified stereo pair by census matching and semi-global aggregation.

Convention: left pixel (x, y) matches right pixel (x - d, y); disparity d = f b / Z in pixels.
Stereo is the plane sweep whose planes are disparities: the census cost volume is built here, and
aggregation, winner-take-all and filtering are `geom.costvolume`'s, shared with `geom.planesweep`.
"""
import numpy as np
from numba import njit, prange

from . import _checks
from .costvolume import (_box_sum, _diagonal, _penalties, _sgm, _winner_take_all, gray_image,
                         postprocess)

_U1 = np.uint64(1)


def census_transform(img, window=(7, 9)):
    """Census signature of every pixel: one bit per pixel of the `window` (height, width, both
    odd, at most 65 pixels) other than the centre, set where that pixel is darker than the
    centre (outside the image: the nearest border pixel). (H, W) image -> (H, W) uint64."""
    wh, ww = _window(window)
    return _census(gray_image(img, "img"), wh // 2, ww // 2)


def stereo_disparity(left, right, num_disparities, min_disparity=0, *, census_window=(7, 9),
                     block_size=1, p1=30.0, p2=400.0, p2_gradient=5.0, paths=4,
                     uniqueness=0.0, lr_max_diff=1.0, speckle_size=100, speckle_range=1.0,
                     median=True, fill_holes=False, return_confidence=False):
    """Disparity map of a rectified pair (semi-global matching on a census cost).

    left, right: (H, W) or (H, W, 3) images (uint8, or float in [0, 1]) of the same size.
    num_disparities: number of candidate disparities, from `min_disparity` (pixels) upwards.
    census_window: (height, width) of the census transform (odd, at most 65 pixels: 64 bits).
    block_size: odd side of the box over which the Hamming costs are summed before aggregation
    (1 = none). p1, p2: SGM penalties (in Hamming-distance units) of a 1 px disparity step and
    of a larger jump; p2 shrinks at intensity edges as `max(p1, p2 / (1 + |dI| / p2_gradient))`
    (grey levels in [0, 255]; None: constant). paths: 4 or 8 aggregation directions.
    uniqueness: reject a pixel whose best cost is not below (1 + uniqueness) x the best cost
    outside its neighbours. lr_max_diff: left-right consistency tolerance in pixels (None: no
    check); the right disparities come from the same aggregated volume. speckle_size,
    speckle_range: remove connected regions of at most that many pixels whose disparities differ
    by at most `speckle_range` (0: keep). median: 3 x 3 median of valid disparities.
    fill_holes: fill invalid pixels along rows with the lower (background) valid neighbour.

    The defaults were chosen on Middlebury tsukuba / teddy and KITTI 2012 000070
    (`benchmarks/bench_stereo.py`); 8 paths double the aggregation time for about the same
    accuracy there. Memory: about three float32 (H, W, num_disparities) volumes.

    Returns disparity (H, W) float32 in pixels, NaN where invalid (no estimate); with
    `return_confidence`, also a confidence (H, W) float32 in [0, 1] (`1 - best / second` cost).
    """
    L = gray_image(left, "left")
    R = gray_image(right, "right")
    if L.shape != R.shape:
        raise ValueError(f"left and right: different image sizes {L.shape} and {R.shape}")
    D = int(num_disparities)
    if D != num_disparities or D < 1:
        raise ValueError(f"num_disparities: must be a positive integer, got {num_disparities}")
    if int(min_disparity) != min_disparity:
        raise ValueError(f"min_disparity: must be an integer, got {min_disparity}")
    dmin = int(min_disparity)
    if dmin >= L.shape[1] or dmin + D <= -L.shape[1]:
        raise ValueError(f"min_disparity, num_disparities: range [{dmin}, {dmin + D}) leaves no "
                         f"overlap between images of width {L.shape[1]}")
    wh, ww = _window(census_window)
    if int(block_size) != block_size or block_size < 1 or block_size % 2 == 0:
        raise ValueError(f"block_size: must be a positive odd integer, got {block_size}")
    penalties = _penalties(p1, p2, p2_gradient)
    diagonal = _diagonal(paths)
    if not (np.isfinite(uniqueness) and uniqueness >= 0):
        raise ValueError(f"uniqueness: must be a finite number >= 0, got {uniqueness}")
    if lr_max_diff is not None:
        _checks.positive(lr_max_diff, "lr_max_diff")

    cl = _census(L, wh // 2, ww // 2)
    cr = _census(R, wh // 2, ww // 2)
    cost = _census_cost(cl, cr, dmin, D, np.float32((wh * ww - 1) / 2))
    if block_size > 1:
        cost = _box_sum(cost, block_size // 2)
    S = _sgm(cost, L, *penalties, diagonal)
    index, _, conf = _winner_take_all(S, np.float32(uniqueness), S)
    if lr_max_diff is not None:
        _left_right_check(index, _right_winner(S, dmin), dmin, np.float32(lr_max_diff))
    disp = postprocess(index + np.float32(dmin), speckle_size, speckle_range, median, fill_holes,
                       prefer_low=True)
    return (disp, conf) if return_confidence else disp


def _window(window):
    try:
        wh, ww = (int(v) for v in window)
    except (TypeError, ValueError) as err:
        raise ValueError(f"census_window: expected (height, width), got {window}") from err
    if wh < 1 or ww < 1 or wh % 2 == 0 or ww % 2 == 0 or wh * ww > 65:
        raise ValueError(f"census_window: expected odd (height, width) with at most 65 pixels, "
                         f"got {window}")
    return wh, ww


@njit(cache=True, parallel=True)
def _census(img, ry, rx):
    H, W = img.shape
    out = np.zeros((H, W), np.uint64)
    for y in prange(H):
        for x in range(W):
            c = img[y, x]
            sig = np.uint64(0)
            for dy in range(-ry, ry + 1):
                yy = min(max(y + dy, 0), H - 1)
                for dx in range(-rx, rx + 1):
                    if dy == 0 and dx == 0:
                        continue
                    xx = min(max(x + dx, 0), W - 1)
                    sig = (sig << _U1) | (_U1 if img[yy, xx] < c else np.uint64(0))
            out[y, x] = sig
    return out


@njit(cache=True)
def _popcount(v):
    v = v - ((v >> _U1) & np.uint64(0x5555555555555555))
    v = (v & np.uint64(0x3333333333333333)) + ((v >> np.uint64(2)) & np.uint64(0x3333333333333333))
    v = (v + (v >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return (v * np.uint64(0x0101010101010101)) >> np.uint64(56)


@njit(cache=True, parallel=True)
def _census_cost(cl, cr, dmin, D, unknown):
    """Hamming distance between left (x, y) and right (x - dmin - d, y): (H, W, D) float32;
    `unknown` where the right pixel falls outside the image."""
    H, W = cl.shape
    cost = np.empty((H, W, D), np.float32)
    for y in prange(H):
        for x in range(W):
            a = cl[y, x]
            for d in range(D):
                xr = x - dmin - d
                cost[y, x, d] = np.float32(_popcount(a ^ cr[y, xr])) if 0 <= xr < W else unknown
    return cost


@njit(cache=True, parallel=True)
def _right_winner(S, dmin):
    """Integer disparity index of every right-image pixel from the left volume:
    argmin_d S[y, xr + dmin + d, d] (-1 where no hypothesis lands in the left image)."""
    H, W, D = S.shape
    out = np.full((H, W), -1, np.int64)
    for y in prange(H):
        for xr in range(W):
            best = np.inf
            for d in range(D):
                x = xr + dmin + d
                if 0 <= x < W and S[y, x, d] < best:
                    best = S[y, x, d]
                    out[y, xr] = d
    return out


@njit(cache=True, parallel=True)
def _left_right_check(index, right_index, dmin, max_diff):
    """Invalidate (NaN) left pixels whose right match disagrees by more than max_diff, or whose
    match falls outside the right image. In place."""
    H, W = index.shape
    for y in prange(H):
        for x in range(W):
            f = index[y, x]
            if np.isnan(f):
                continue
            xr = int(np.floor(x - dmin - f + 0.5))
            if xr < 0 or xr >= W or right_index[y, xr] < 0:
                index[y, x] = np.nan
            elif abs(right_index[y, xr] - f) > max_diff:
                index[y, x] = np.nan
