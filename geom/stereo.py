"""Dense disparity of a rectified stereo pair by census matching and semi-global aggregation.

Convention: left pixel (x, y) matches right pixel (x - d, y); disparity d = f b / Z in pixels.
Stereo is the plane sweep whose planes are disparities: the census cost volume is built here, and
aggregation, winner-take-all and filtering are `geom.costvolume`'s, shared with `geom.planesweep`.
"""
from typing import NamedTuple

import numpy as np
from numba import njit, prange

from . import _checks
from .costvolume import (_U, _box_sum, _diagonal, _penalties, _sgm_halves, _winner, gray_image,
                         postprocess)

_U1 = np.uint64(1)
_NO_KEY = np.uint64(2 ** 64 - 1)
_LOW = np.uint64(2 ** 32 - 1)


class DisparityMap(NamedTuple):
    """Result of `stereo_disparity`, both (H, W) float32. disparity: in pixels, NaN where invalid
    (no estimate). confidence: in [0, 1], `1 - best / second` aggregated cost."""

    disparity: np.ndarray
    confidence: np.ndarray


def census_transform(img, *, window=(7, 9)):
    """Census signature of every pixel: one bit per pixel of the `window` (height, width, both
    odd, at most 65 pixels) other than the centre, set where that pixel is darker than the
    centre (outside the image: the nearest border pixel). (H, W) image -> (H, W) uint64."""
    wh, ww = _window(window)
    return _census(gray_image(img, "img"), wh // 2, ww // 2)


def stereo_disparity(left, right, *, num_disparities, min_disparity=0, census_window=(7, 9),
                     block_size=1, p1=30.0, p2=400.0, p2_gradient=5.0, paths=4,
                     uniqueness=0.0, lr_max_diff=1.0, speckle_size=100, speckle_range=2.0,
                     median=True, fill_holes=False):
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
    accuracy there. Memory: a uint8 and two uint16 (H, W, num_disparities) volumes (census
    Hamming costs; path sums with the penalties rounded to integers), float32 ones instead
    where `block_size` > 1 or p2 is so large that the sums could overflow uint16.

    Returns a `DisparityMap` (disparity, confidence).
    """
    L = gray_image(left, "left")
    R = gray_image(right, "right")
    if L.shape != R.shape:
        raise ValueError(f"left and right: different image sizes {L.shape} and {R.shape}")
    D = _checks.integer(num_disparities, "num_disparities", 1)
    dmin = _checks.integer(min_disparity, "min_disparity")
    if dmin >= L.shape[1] or dmin + D <= -L.shape[1]:
        raise ValueError(f"min_disparity, num_disparities: range [{dmin}, {dmin + D}) leaves no "
                         f"overlap between images of width {L.shape[1]}")
    wh, ww = _window(census_window)
    if _checks.integer(block_size, "block_size", 1) % 2 == 0:
        raise ValueError(f"block_size: must be a positive odd integer, got {block_size}")
    penalties = _penalties(p1, p2, p2_gradient)
    diagonal = _diagonal(paths)
    if _checks.real(uniqueness, "uniqueness") < 0:
        raise ValueError(f"uniqueness: must be a finite number >= 0, got {uniqueness}")
    if lr_max_diff is not None:
        _checks.positive(lr_max_diff, "lr_max_diff")

    cl = _census(L, wh // 2, ww // 2)
    cr = _census(R, wh // 2, ww // 2)
    cost = np.empty((*L.shape, D), np.uint8)  # numpy's allocation: huge pages
    _census_cost(cl, cr, dmin, np.uint8((wh * ww - 1) // 2), cost)
    # path costs are at most max cost + p2 + 1: with uint8 costs, their sum fits uint16 mostly
    integer = block_size == 1 and (8 if diagonal else 4) * (wh * ww + penalties[1]) < 2 ** 16
    if not integer:
        cost = cost.astype(np.float32)
    if block_size > 1:
        cost = _box_sum(cost, block_size // 2)
    # integer penalties from whole grey levels: a 1e-5 grey difference (RGB weights, /255)
    # must not flip a rounded penalty
    S = _sgm_halves(cost, np.rint(L) if integer else L, *penalties, diagonal, integer)
    max_diff = np.float32(np.inf if lr_max_diff is None else lr_max_diff)
    index, conf = _winners(S, np.float32(uniqueness), dmin, max_diff)
    disp = postprocess(index + np.float32(dmin), speckle_size=speckle_size,
                       speckle_range=speckle_range, median=median, fill=fill_holes, prefer_low=True)
    return DisparityMap(disp, conf)


def _window(window):
    try:
        wh, ww = (int(v) for v in window)
    except (TypeError, ValueError) as err:
        raise ValueError(f"census_window: expected (height, width), got {window}") from err
    if wh < 1 or ww < 1 or wh % 2 == 0 or ww % 2 == 0 or wh * ww > 65:
        raise ValueError(f"census_window: expected odd (height, width) with at most 65 pixels, "
                         f"got {window}")
    return wh, ww


def _census(img, ry, rx):
    return _census_padded(np.pad(img, ((ry, ry), (rx, rx)), mode="edge"), ry, rx)


@njit(cache=True, parallel=True, error_model="numpy", boundscheck=False)
def _census_padded(pad, ry, rx):
    """Census of the interior of an edge-padded image: for each window offset, one vectorised
    sweep along the row (no clamping in the inner loop)."""
    H = pad.shape[0] - 2 * ry
    W = pad.shape[1] - 2 * rx
    out = np.zeros((H, W), np.uint64)
    for y in prange(H):
        sig = out[y]
        centre = pad[y + ry, rx:rx + W]
        for dy in range(-ry, ry + 1):
            for dx in range(-rx, rx + 1):
                if dy == 0 and dx == 0:
                    continue
                row = pad[y + ry + dy, rx + dx:rx + dx + W]
                for x in range(W):
                    sig[x] = (sig[x] << _U1) | np.uint64(row[x] < centre[x])
    return out


@njit(cache=True)
def _popcount(v):
    v = v - ((v >> _U1) & np.uint64(0x5555555555555555))
    v = (v & np.uint64(0x3333333333333333)) + ((v >> np.uint64(2)) & np.uint64(0x3333333333333333))
    v = (v + (v >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return (v * np.uint64(0x0101010101010101)) >> np.uint64(56)


@njit(cache=True, parallel=True, error_model="numpy", boundscheck=False)
def _census_cost(cl, cr, dmin, unknown, cost):
    """Hamming distance between left (x, y) and right (x - dmin - d, y) into the (H, W, D)
    uint8 `cost`; `unknown` where the right pixel falls outside the image."""
    H, W, D = cost.shape
    for y in prange(H):
        rev = cr[y, ::-1].copy()  # right pixel x - dmin - d is rev[W - 1 - x + dmin + d]
        for x in range(W):
            a = cl[y, x]
            c = cost[y, x]
            lo, hi = _inside(x, dmin, D, W)
            for d in range(lo):
                c[d] = unknown
            o = _U(W - 1 - x + dmin)
            for d in range(_U(lo), _U(hi)):  # unsigned: vectorises (`costvolume._range_min`)
                c[d] = np.uint8(_popcount(a ^ rev[o + d]))
            for d in range(_U(hi), _U(D)):
                c[d] = unknown


@njit(cache=True)
def _inside(x, dmin, D, W):
    """Range [lo, hi) of the disparity indices d whose right pixel x - dmin - d is in [0, W)."""
    lo = min(max(x - dmin - W + 1, 0), D)
    return lo, max(min(x - dmin + 1, D), lo)


@njit(cache=True, parallel=True, error_model="numpy", boundscheck=False)
def _winners(S, uniqueness, dmin, max_diff):
    """Winner-take-all of the aggregated volume `S.sum(0)` (partial sums (K, H, W, D), summed
    one row at a time, so that the volume is read once), with its left-right check: a left
    pixel is invalid (NaN) where the right pixel it matches lies outside the right image or
    takes a disparity index (argmin_d S[y, xr + dmin + d, d], ties to the lowest d) differing
    by more than `max_diff` (inf: no check). Returns the index and confidence (H, W) float32
    of `geom.costvolume._winner`."""
    K, H, W, D = S.shape
    index = np.empty((H, W), np.float32)
    conf = np.empty((H, W), np.float32)
    for y in prange(H):
        lanes = np.empty(16, S.dtype)
        c = np.empty((1, D), S.dtype)  # the pixel's aggregated costs
        # per right pixel xr (at W - 1 - xr), the least (cost bits, d) key of the hypotheses
        # landing on it: one unsigned min per hypothesis, which vectorises
        best = np.full(W, _NO_KEY, np.uint64)
        for x in range(W):
            for d in range(D):
                c[0, d] = S[0, y, x, d]
            for k in range(1, K):
                for d in range(D):
                    c[0, d] += S[k, y, x, d]
            index[y, x], _, conf[y, x] = _winner(c, c, 0, uniqueness, lanes)
            lo, hi = _inside(x, dmin, D, W)
            o = _U(W - 1 - x + dmin)
            for d in range(_U(lo), _U(hi)):  # unsigned: vectorises (`costvolume._range_min`)
                best[o + d] = min(best[o + d], _key(c[0, d], d))
        if max_diff == np.inf:
            continue
        for x in range(W):
            f = index[y, x]
            if np.isnan(f):
                continue
            xr = int(np.floor(x - dmin - f + 0.5))
            if xr < 0 or xr >= W or best[W - 1 - xr] == _NO_KEY:
                index[y, x] = np.nan
            elif abs(np.float32(best[W - 1 - xr] & _LOW) - f) > max_diff:
                index[y, x] = np.nan
    return index, conf


@njit(cache=True)
def _key(cost, d):
    """(cost, d) as one unsigned integer ordered by cost, then d: the bits of a non-negative
    float32 cost (ordered as the costs are), then d."""
    return (np.uint64(np.float32(cost).view(np.uint32)) << np.uint64(32)) | np.uint64(d)
