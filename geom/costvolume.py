"""Cost-volume machinery shared by rectified stereo (`geom.stereo`) and plane sweeping
(`geom.planesweep`): input images, semi-global path aggregation, winner-take-all with sub-pixel
refinement, and the filters applied to the resulting disparity/depth maps.

A cost volume is a C-contiguous float32 array `(H, W, D)`: `D` hypotheses per pixel (disparities,
or depth planes), lower is better. Stereo is the special case of a plane sweep whose planes are
disparities, so both build their volume their own way and share everything downstream.
"""
import numpy as np
from numba import njit, prange, types
from numba.extending import overload

from . import _checks

_U = np.uint64  # unsigned loop bounds (see `_range_min_kernel`)


def gray_image(img, name):
    """Image `(H, W)` or `(H, W, 3)` (RGB), uint8 or float in [0, 1] -> C-contiguous float32
    grey levels in [0, 255] `(H, W)`. Raises ValueError on any other shape, a non-finite value,
    or an image smaller than 2 x 2."""
    a = np.asarray(img)
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (1, 3)):
        raise ValueError(f"{name}: expected an image of shape (H, W) or (H, W, 3), got {a.shape}")
    if a.shape[0] < 2 or a.shape[1] < 2:
        raise ValueError(f"{name}: image too small {a.shape[:2]}, need at least 2 x 2 pixels")
    if a.dtype == np.uint8:
        f = a.astype(np.float32)
    elif np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer):
        f = a.astype(np.float32)
        if not np.isfinite(f).all():
            raise ValueError(f"{name}: contains NaN or inf")
        if np.issubdtype(a.dtype, np.floating):
            f *= 255.0
    else:
        raise ValueError(f"{name}: expected a uint8 or float image, got dtype {a.dtype}")
    if f.ndim == 3:
        f = f[..., 0] if f.shape[2] == 1 else f @ np.array([0.299, 0.587, 0.114], np.float32)
    return np.ascontiguousarray(f, dtype=np.float32)


def sgm_aggregate(cost, guide, *, p1, p2, paths=8, p2_gradient=None):
    """Semi-global aggregation (Hirschmueller 2008) of a cost volume along `paths` directions.

    cost: (H, W, D) costs, lower is better. guide: (H, W) grey image in [0, 255] that adapts the
    large-jump penalty to the intensity step along the path:
    `P2' = max(P1, P2 / (1 + |dI| / p2_gradient))` (no adaptation when `p2_gradient` is None).
    p1: penalty of a one-hypothesis step, p2: penalty of a larger jump (p2 >= p1 > 0).
    paths: 4 or 8. Returns the (H, W, D) float32 sum of the path costs.
    """
    cost = np.ascontiguousarray(cost, dtype=np.float32)
    if cost.ndim != 3 or min(cost.shape) < 1:
        raise ValueError(f"cost: expected a non-empty (H, W, D) volume, got shape {cost.shape}")
    if not np.isfinite(cost).all():
        raise ValueError("cost: contains NaN or inf")
    guide = _checks.array(guide, "guide", cost.shape[:2]).astype(np.float32)
    return _sgm(cost, guide, *_penalties(p1, p2, p2_gradient), _diagonal(paths))


def _penalties(p1, p2, p2_gradient):
    p1 = _checks.positive(p1, "p1")
    p2 = _checks.positive(p2, "p2")
    if p2 < p1:
        raise ValueError(f"p2: must be >= p1 = {p1}, got {p2}")
    scale = np.inf if p2_gradient is None else _checks.positive(p2_gradient, "p2_gradient")
    return np.float32(p1), np.float32(p2), np.float32(scale)


def _diagonal(paths):
    """paths (4 or 8) -> whether the diagonal paths are aggregated too."""
    if paths not in (4, 8):
        raise ValueError(f"paths: expected 4 or 8, got {paths}")
    return paths == 8


def _cast(x, like):
    """x in the dtype of the array `like`."""
    return like.dtype.type(x)


@overload(_cast)
def _cast_kernel(x, like):
    """For the uint16 path sums an exact truncation (they never overflow), through which LLVM
    narrows numba's int64 arithmetic back to 16-bit vector lanes."""
    dtype = like.dtype

    def cast(x, like):
        return dtype(x)
    return cast


@njit(cache=True, fastmath=True, error_model="numpy", boundscheck=False, inline="always")
def _step(cost, y, x, buf, p, px, c, cx, mprev, p1, jump):
    """One SGM recursion step from the path costs buf[p, px] (minimum `mprev`) to buf[c, cx]:
    `cost[y, x, d] + min(prev[d], prev[d -+ 1] + p1, mprev + jump) - mprev` in buf's dtype
    (float32, or uint16: every term is >= 0), for D >= 2. Returns the new minimum over d.
    Hypothesis d lives at buf[..., 1 + d] between two pads holding the dtype's largest value,
    which a neighbour's min never picks: one loop of trip count D (a multiple of the vector
    width for the usual D), no first / last special cases. Indices rather than views: a view
    per call costs more than the step itself at small D."""
    j = _cast(jump + mprev, buf)
    m = buf[c, cx, 0]  # a pad: the largest value
    for d in range(cost.shape[2]):
        q = _cast(min(buf[p, px, d], buf[p, px, d + 2]) + p1, buf)
        v = _cast(cost[y, x, d] + min(min(buf[p, px, d + 1], q), j) - mprev, buf)
        buf[c, cx, d + 1] = v
        m = min(m, v)
    return m


@njit(cache=True, fastmath=True, error_model="numpy", boundscheck=False, inline="always")
def _start(cost, y, x, buf, c, cx):
    """First pixel of a path: buf[c, cx, 1 + d] = cost[y, x, d]; returns their minimum."""
    m = buf[c, cx, 0]
    for d in range(cost.shape[2]):
        v = _cast(cost[y, x, d], buf)
        buf[c, cx, d + 1] = v
        m = min(m, v)
    return m


@njit(cache=True, fastmath=True, error_model="numpy", boundscheck=False)
def _sgm_pass(cost, guide, p1, p2, scale, diagonal, sg, half, top, S):
    """Half of the paths in one raster pass: rows in order `sg` (+1 top-down, -1 bottom-up),
    pixels in order `sg` along the row; paths arriving from the previous pixel of the row and
    from the previous row (straight, and with `diagonal` both diagonals). Writes their sum to S.
    Path costs live in S's dtype (float32 with float32 costs, or uint16 with uint8 costs: then
    the penalties are rounded, `half` = 0.5), padded with `top` (the dtype's largest value, see
    `_step`): the current and previous pixel of the horizontal path, the current and previous
    row of the others, so the volume is read once and S written once."""
    H, W, D = cost.shape
    npaths = 3 if diagonal else 1
    one = np.float32(1.0)
    hbuf = np.full((2, 1, D + 2), top, S.dtype)  # horizontal path: pixel xi in hbuf[xi % 2, 0]
    vbuf = np.full((2 * npaths, W, D + 2), top, S.dtype)  # row yi, path k: [(yi % 2) npaths + k]
    vmin = np.zeros((2 * npaths, W), S.dtype)  # their minima over d
    pen1 = _cast(p1 + half, S)
    hmin = _cast(0, S)
    for yi in range(H):
        y = yi if sg > 0 else H - 1 - yi
        cb = (yi % 2) * npaths
        pb = npaths - cb
        for xi in range(W):
            x = xi if sg > 0 else W - 1 - xi
            g = guide[y, x]
            h = xi % 2
            if xi == 0:
                hmin = _start(cost, y, x, hbuf, h, 0)
            else:
                jump = _cast(max(p1, p2 / (one + abs(g - guide[y, x - sg]) / scale)) + half, S)
                hmin = _step(cost, y, x, hbuf, 1 - h, 0, h, 0, hmin, pen1, jump)
            for d in range(D):
                S[y, x, d] = hbuf[h, 0, d + 1]
            for k in range(npaths):
                px = x if k == 0 else (x - sg if k == 1 else x + sg)  # predecessor's x
                if yi == 0 or px < 0 or px >= W:
                    vmin[cb + k, x] = _start(cost, y, x, vbuf, cb + k, x)
                else:
                    jump = _cast(max(p1, p2 / (one + abs(g - guide[y - sg, px]) / scale)) + half,
                                 S)
                    vmin[cb + k, x] = _step(cost, y, x, vbuf, pb + k, px, cb + k, x,
                                            vmin[pb + k, px], pen1, jump)
                for d in range(D):
                    S[y, x, d] = _cast(S[y, x, d] + vbuf[cb + k, x, d + 1], S)


def _sgm(cost, guide, p1, p2, scale, diagonal, integer=False):
    """Sum over 4 (or 8 with `diagonal`) paths of a (H, W, D) volume: float32, or with `integer`
    a uint8 volume aggregated in uint16 with penalties rounded to integers (the caller checks
    that the sums fit)."""
    S = _sgm_halves(cost, guide, p1, p2, scale, diagonal, integer)
    if S.shape[0] == 2:
        _add_halves(S)
    return S[0]


def _sgm_halves(cost, guide, p1, p2, scale, diagonal, integer=False):
    """As `_sgm`, but unsummed: (K, H, W, D) partial path sums (K = 2, one per raster pass; 1
    when D = 1) whose sum over K is the aggregated volume, for kernels that fuse the sum with
    what reads it."""
    H, W, D = cost.shape
    dtype = np.uint16 if integer else np.float32
    if D == 1:  # every path cost is the cost itself
        return (cost.astype(dtype) * dtype(8 if diagonal else 4))[None]
    S = np.empty((2, H, W, D), dtype)  # numpy's allocation: huge pages, fewer page faults
    top = dtype((np.iinfo if integer else np.finfo)(dtype).max)
    _sgm_passes(cost, guide, p1, p2, scale, diagonal, np.float32(0.5 if integer else 0), top, S)
    return S


@njit(cache=True, parallel=True, error_model="numpy", boundscheck=False)
def _sgm_passes(cost, guide, p1, p2, scale, diagonal, half, top, S):
    """The two raster passes in parallel, each into its own half of S."""
    for k in prange(2):
        _sgm_pass(cost, guide, p1, p2, scale, diagonal, 1 - 2 * k, half, top, S[k])


@njit(cache=True, parallel=True, error_model="numpy", boundscheck=False)
def _add_halves(S):
    """S[0] += S[1]."""
    H, W, D = S.shape[1:]
    for y in prange(H):
        a = S[0, y]
        b = S[1, y]
        for x in range(W):
            for d in range(D):
                a[x, d] += b[x, d]


@njit(cache=True, parallel=True, fastmath=True)
def _box_sum(cost, r):
    """Sum of a (H, W, D) volume over a (2r + 1)^2 box (clamped at the border), per hypothesis:
    running sums along rows (parallel over rows), then down columns (parallel over blocks of the
    flattened rows, so that a single parallel region covers the whole pass)."""
    H, W, D = cost.shape
    tmp = np.empty_like(cost)
    for y in prange(H):
        acc = np.zeros(D, np.float32)
        for xx in range(-r - 1, r):  # window of x = -1
            c = cost[y, min(max(xx, 0), W - 1)]
            for d in range(D):
                acc[d] += c[d]
        for x in range(W):
            add = cost[y, min(x + r, W - 1)]
            sub = cost[y, max(x - r - 1, 0)]
            row = tmp[y, x]
            for d in range(D):
                v = acc[d] + add[d] - sub[d]
                acc[d] = v
                row[d] = v
    flat = tmp.reshape(H, W * D)
    out = np.empty_like(flat)
    N = W * D
    B = 4096
    for b in prange((N + B - 1) // B):
        lo = b * B
        hi = min(lo + B, N)
        acc = np.zeros(hi - lo, np.float32)
        for yy in range(-r - 1, r):  # window of y = -1
            t = flat[min(max(yy, 0), H - 1), lo:hi]
            for i in range(hi - lo):
                acc[i] += t[i]
        for y in range(H):
            add = flat[min(y + r, H - 1), lo:hi]
            sub = flat[max(y - r - 1, 0), lo:hi]
            o = out[y, lo:hi]
            for i in range(hi - lo):
                v = acc[i] + add[i] - sub[i]
                acc[i] = v
                o[i] = v
    return out.reshape(H, W, D)


def _range_min(c, i, lo, hi, lanes):
    """Minimum of c[i, lo:hi] as float32 (+inf if empty); `lanes`: scratch of 16 of c's dtype.
    Compiled per dtype (`_range_min_kernel`), so that it vectorises either way."""
    return np.float32(c[i, lo:hi].min()) if hi > lo else np.float32(np.inf)


@overload(_range_min, jit_options={"error_model": "numpy", "boundscheck": False})
def _range_min_kernel(c, i, lo, hi, lanes):
    """Integers: a plain running minimum (LLVM vectorises it). Floats: 16 independent running
    minima in `lanes`, which vectorise with no float reassociation. Unsigned loop indices: a
    signed index from a variable start gets numba's negative-index fix-up, which stops LLVM from
    vectorising."""
    if isinstance(c.dtype, types.Integer):
        def integer_min(c, i, lo, hi, lanes):
            if hi <= lo:
                return np.float32(np.inf)
            m = c[i, lo]
            for d in range(_U(lo + 1), _U(hi)):
                m = min(m, c[i, d])
            return np.float32(m)
        return integer_min

    def float_min(c, i, lo, hi, lanes):
        if hi <= lo:
            return np.float32(np.inf)
        lanes[:] = np.inf
        d = _U(lo)
        n = _U(16)
        while d + n <= _U(hi):
            for j in range(n):
                lanes[j] = min(lanes[j], c[i, d + j])
            d += n
        for j in range(_U(hi) - d):
            lanes[j] = min(lanes[j], c[i, d + j])
        m = lanes[0]
        for j in range(1, 16):
            m = min(m, lanes[j])
        return np.float32(m)
    return float_min


@njit(cache=True, parallel=True, error_model="numpy", boundscheck=False)
def _winner_take_all(S, uniqueness, fit):
    """Per pixel: the sub-hypothesis index of the minimum of S (refined by the vertex of the
    parabola through `fit`'s costs at the minimum and its two neighbours, clipped to half a step;
    `fit` is the unaggregated volume, whose shape near the minimum SGM's P1 penalty does not
    bias towards whole hypotheses, or S itself), NaN where the minimum is not unique by the
    ratio `uniqueness`; the minimum aggregated cost; and a confidence `1 - min / second` in
    [0, 1] (second = best cost outside the minimum's neighbours)."""
    H, W, D = S.shape
    index = np.empty((H, W), np.float32)
    best = np.empty((H, W), np.float32)
    conf = np.empty((H, W), np.float32)
    for y in prange(H):
        lanes = np.empty(16, S.dtype)
        Sy = S[y]
        fy = fit[y]
        for x in range(W):
            index[y, x], best[y, x], conf[y, x] = _winner(Sy, fy, x, uniqueness, lanes)
    return index, best, conf


@njit(cache=True, error_model="numpy", boundscheck=False)
def _winner(c, q, i, uniqueness, lanes):
    """`_winner_take_all` of one pixel's costs c[i] (parabola through q[i]): (index, min,
    confidence); `lanes`: scratch of 16 of c's dtype. Rows by index: no view per pixel."""
    D = c.shape[1]
    m = _range_min(c, i, 0, D, lanes)
    k = 0
    while k < D - 1 and not np.float32(c[i, k]) <= m:  # first minimum (m is NaN: last)
        k += 1
    second = min(_range_min(c, i, 0, max(k - 1, 0), lanes),
                 _range_min(c, i, min(k + 2, D), D, lanes))
    f = np.float32(k)
    if 0 < k < D - 1:
        qm = np.float32(q[i, k - 1])  # float: unsigned differences would wrap
        q0 = np.float32(q[i, k])
        qp = np.float32(q[i, k + 1])
        denom = qm - 2 * q0 + qp
        if denom > 0:
            f += min(max(0.5 * (qm - qp) / denom, -0.5), 0.5)
    b = np.float32(c[i, k])
    conf = 1.0 if second == np.inf or second <= 0 else max(0.0, 1.0 - b / second)
    return (f if b * (1 + uniqueness) <= second else np.float32(np.nan)), b, np.float32(conf)


@njit(cache=True)
def _remove_speckles(values, max_size, max_diff):
    """Set to NaN every 4-connected region (neighbours differing by <= max_diff) of at most
    `max_size` valid pixels. In place. Pixels are flat int32 indices y * W + x: one (H W) stack
    whose bottom holds the region's finished members and whose top is the flood fill's."""
    H, W = values.shape
    flat = values.reshape(H * W)
    done = np.zeros(H * W, np.bool_)
    stack = np.empty(H * W, np.int32)
    for i0 in range(H * W):
        if done[i0] or np.isnan(flat[i0]):
            continue
        done[i0] = True
        stack[0] = i0
        count = 0  # stack[:count]: members; stack[count:top]: to visit
        top = 1
        while count < top:
            i = stack[count]
            count += 1
            v = flat[i]
            y, x = i // W, i % W
            for k in range(4):
                if (k == 0 and y + 1 < H) or (k == 1 and y > 0):
                    j = i + W if k == 0 else i - W
                elif (k == 2 and x + 1 < W) or (k == 3 and x > 0):
                    j = i + 1 if k == 2 else i - 1
                else:
                    continue
                if not done[j]:
                    w = flat[j]
                    if not np.isnan(w) and abs(w - v) <= max_diff:
                        done[j] = True
                        stack[top] = j
                        top += 1
        if count <= max_size:
            for m in range(count):
                flat[stack[m]] = np.nan


@njit(cache=True, parallel=True)
def _median3(values):
    """3 x 3 median over the valid (non-NaN) neighbours of each valid pixel."""
    H, W = values.shape
    out = values.copy()
    for y in prange(H):
        buf = np.empty(9, np.float32)
        for x in range(W):
            if np.isnan(values[y, x]):
                continue
            if 0 < y < H - 1 and 0 < x < W - 1:  # scalars, not row views (refcounted)
                a0, a1, a2 = values[y - 1, x - 1], values[y - 1, x], values[y - 1, x + 1]
                b0, b1, b2 = values[y, x - 1], values[y, x], values[y, x + 1]
                c0, c1, c2 = values[y + 1, x - 1], values[y + 1, x], values[y + 1, x + 1]
                if not np.isnan(a0 + a1 + a2 + b0 + b2 + c0 + c1 + c2):
                    out[y, x] = _median9(a0, a1, a2, b0, b1, b2, c0, c1, c2)
                    continue
            n = 0  # insertion-sort the valid neighbours into buf[:n] (no allocation per pixel)
            for yy in range(max(y - 1, 0), min(y + 2, H)):
                for xx in range(max(x - 1, 0), min(x + 2, W)):
                    v = values[yy, xx]
                    if not np.isnan(v):
                        i = n
                        while i > 0 and buf[i - 1] > v:
                            buf[i] = buf[i - 1]
                            i -= 1
                        buf[i] = v
                        n += 1
            out[y, x] = buf[n // 2]
    return out


@njit(cache=True)
def _median9(p0, p1, p2, p3, p4, p5, p6, p7, p8):
    """Median of nine numbers by Paeth's 19 compare-exchanges (branch-free min / max)."""
    p1, p2 = min(p1, p2), max(p1, p2)
    p4, p5 = min(p4, p5), max(p4, p5)
    p7, p8 = min(p7, p8), max(p7, p8)
    p0, p1 = min(p0, p1), max(p0, p1)
    p3, p4 = min(p3, p4), max(p3, p4)
    p6, p7 = min(p6, p7), max(p6, p7)
    p1, p2 = min(p1, p2), max(p1, p2)
    p4, p5 = min(p4, p5), max(p4, p5)
    p7, p8 = min(p7, p8), max(p7, p8)
    p3 = max(p0, p3)
    p5 = min(p5, p8)
    p4, p7 = min(p4, p7), max(p4, p7)
    p6 = max(p3, p6)
    p4 = max(p1, p4)
    p2 = min(p2, p5)
    p4 = min(p4, p7)
    p4, p2 = min(p4, p2), max(p4, p2)
    p4 = max(p6, p4)
    return min(p4, p2)


@njit(cache=True, parallel=True)
def _fill_holes(values, prefer_low):
    """Fill NaN runs of each row with the lower (or higher) of the nearest valid values on their
    left and right (background-favouring for disparity: low; for depth: high)."""
    H, W = values.shape
    out = values.copy()
    for y in prange(H):
        x = 0
        while x < W:
            if not np.isnan(values[y, x]):
                x += 1
                continue
            start = x
            while x < W and np.isnan(values[y, x]):
                x += 1
            left = values[y, start - 1] if start > 0 else np.nan
            right = values[y, x] if x < W else np.nan
            if np.isnan(left):
                fill = right
            elif np.isnan(right):
                fill = left
            else:
                fill = min(left, right) if prefer_low else max(left, right)
            for i in range(start, x):
                out[y, i] = fill
    return out


def postprocess(values, *, speckle_size, speckle_range, median, fill, prefer_low):
    """Speckle removal (regions of <= `speckle_size` pixels within `speckle_range`), 3 x 3 median
    of valid pixels, and scanline hole filling (`prefer_low`: fill with the lower neighbour).
    Works on float32 maps whose invalid pixels are NaN; returns a new map."""
    out = np.array(values, dtype=np.float32)
    if speckle_size > 0:
        _remove_speckles(out, int(speckle_size), np.float32(speckle_range))
    if median:
        out = _median3(out)
    if fill:
        out = _fill_holes(out, prefer_low)
    return out
