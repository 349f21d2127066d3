"""Plane-sweep depth maps from calibrated views, including scenes with several rigid bodies.

For each fronto-parallel plane `z = Z` of the reference camera, every source image is warped into
the reference through the plane-induced homography `H = K_s (R + t n^T / Z) K_r^-1` (relative
pose `X_s = R X_r + t`, `n = (0, 0, 1)`; the form `R - t n^T / d` of the plane `n^T X + d = 0`),
compared with the reference by zero-mean NCC over a window, combined over the sources by keeping
the best `best_k` (occlusion-robust), aggregated (semi-global paths or a box) and reduced by
winner-take-all with sub-plane interpolation in inverse depth. The aggregation, winner-take-all
and filters are `geom.costvolume`'s, shared with `geom.stereo`.

Planes are kept ordered from far to near (inverse depth increasing), so that plane index plays
the role of disparity. Depth is the reference camera's z coordinate.
"""
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from . import _checks
from .camera import check_camera, relative_pose
from .costvolume import (_box_sum, _diagonal, _penalties, _sgm, _winner_take_all, gray_image,
                         postprocess)


@dataclass
class DepthMap:
    """Result of a plane sweep.

    depth: (H, W) float32 reference-camera depth, NaN where invalid (untextured, ambiguous or
    filtered out). confidence: (H, W) float32 in [0, 1] (`1 - best / second` aggregated cost).
    planes: (P,) float64 plane depths, far to near. labels: (H, W) int64 body index (multi-body
    sweep; -1 where the depth is invalid), else None. cost: the aggregated cost volume
    (H, W, P) float32, or (B, H, W, P) for B bodies, when requested; else None.
    """

    depth: np.ndarray
    confidence: np.ndarray
    planes: np.ndarray
    labels: np.ndarray | None = None
    cost: np.ndarray | None = None


def inverse_depth_planes(near, far, num_planes):
    """`num_planes` depths between `near` and `far` (0 < near < far), uniform in inverse depth,
    ordered from far to near: (P,) float64."""
    near = _checks.positive(near, "near")
    far = _checks.positive(far, "far")
    if not near < far:
        raise ValueError(f"depth_range: expected near < far, got ({near}, {far})")
    num_planes = _checks.integer(num_planes, "num_planes", 2)
    return 1.0 / np.linspace(1.0 / far, 1.0 / near, num_planes)


def plane_sweep(ref_image, ref_cam, sources, **options):
    """Depth map of `ref_image` from calibrated source views by plane sweeping.

    ref_image: (H, W) or (H, W, 3) image (uint8, or float in [0, 1]); ref_cam: its Camera.
    sources: non-empty list of `(image, Camera)` (grey and colour may be mixed; sizes may differ
    from the reference's). Options, keyword-only: depths, plane depths (P,) (any order,
    distinct, positive), or None (default) for `num_planes` (64) planes uniform in inverse depth
    over `depth_range = (near, far)`; and those of `multibody_plane_sweep`: window, best_k,
    min_std, aggregation, p1, p2, p2_gradient, paths, box_size, uniqueness, speckle_size, median,
    fill_holes, return_cost.
    Returns a `DepthMap` (labels None).
    """
    check_camera(ref_cam, "ref_cam")
    sources = _sources(sources)
    motions = [[relative_pose(ref_cam, cam) for _, cam in sources]]
    out = multibody_plane_sweep(ref_image, ref_cam, sources, motions, **options)
    out.labels = None
    if out.cost is not None:
        out.cost = out.cost[0]
    return out


def multibody_plane_sweep(ref_image, ref_cam, sources, motions, *, depths=None, num_planes=64,
                          depth_range=None, window=7, best_k=2, min_std=2.0,
                          aggregation="sgm", p1=0.05, p2=0.5, p2_gradient=10.0, paths=8,
                          box_size=5, uniqueness=0.0, speckle_size=0, median=True,
                          fill_holes=False, return_cost=False):
    """Depth and rigid-body label of every reference pixel, several bodies moving independently.

    motions: `motions[b][s]` = `(R, t)` or `(R, t, scale)`, body b's motion from the reference
    camera frame to source s's camera frame: a point X of body b (reference camera coordinates)
    is seen by source s at `R X + scale * t` (scale 1 when omitted; it fixes the unknown scale
    of a body's reconstruction). Body 0 is usually the static background, whose motion is the
    cameras' relative pose. Other arguments as in `plane_sweep`, and:

    window: odd side of the zero-mean NCC window (cost `1 - NCC` in [0, 2]). best_k: average the
    `best_k` lowest source costs (occlusion-robust; all available when fewer see the pixel).
    min_std: reference pixels whose window has a grey-level standard deviation below this
    (in [0, 255] units) are untextured: no depth. aggregation: 'sgm' (semi-global, `paths` 4 or
    8, penalties p1, p2 in cost units with p2 adapted to the grey step as in `sgm_aggregate`),
    'box' (sum over `box_size`^2), or None. uniqueness: see `geom.stereo.stereo_disparity`.
    speckle_size: remove connected regions of at most this many pixels (within one plane).
    median: 3 x 3 median of valid plane indices. fill_holes: fill invalid pixels along rows with
    the farther valid neighbour. return_cost: keep the aggregated volumes (memory B x H x W x P).

    The cost volume covers (body, plane) and is aggregated per body; each pixel takes the body
    and plane of least aggregated cost. Memory is O(B x H x W x P), not growing with the number
    of sources. Returns a `DepthMap` with `labels`.
    """
    ref = gray_image(ref_image, "ref_image")
    check_camera(ref_cam, "ref_cam")
    _check_size(ref_cam, ref, "ref_cam", "ref_image")
    sources = _sources(sources)
    src, sizes = _stack_sources(sources)
    motions = _motions(motions, len(sources))
    planes = _planes(depths, num_planes, depth_range)
    _check_parallax(motions, planes)
    if _checks.integer(window, "window", 3) % 2 == 0:
        raise ValueError(f"window: must be an odd integer >= 3, got {window}")
    best_k = _checks.integer(best_k, "best_k", 1)
    min_std = _checks.real(min_std, "min_std")
    uniqueness = _checks.real(uniqueness, "uniqueness")
    if aggregation not in ("sgm", "box", None):
        raise ValueError(f"aggregation: expected 'sgm', 'box' or None, got {aggregation!r}")
    penalties = _penalties(p1, p2, p2_gradient)
    diagonal = _diagonal(paths)
    if _checks.integer(box_size, "box_size", 1) % 2 == 0:
        raise ValueError(f"box_size: must be a positive odd integer, got {box_size}")

    r = int(window) // 2
    mean, std = _window_stats(ref.astype(np.float64), r)
    textured = std >= min_std
    best = index = conf = labels = None
    volumes = []
    for b, body in enumerate(motions):
        H = _homographies(ref_cam.K, [cam.K for _, cam in sources], body, planes)
        raw = _sweep_cost(ref.astype(np.float64), mean, std, src, sizes, H, r, int(best_k))
        if aggregation == "sgm":
            cost = _sgm(raw, ref, *penalties, diagonal)
        elif aggregation == "box":
            cost = _box_sum(raw, int(box_size) // 2)
        else:
            cost = raw
        if return_cost:
            volumes.append(cost)
        idx_b, best_b, conf_b = _winner_take_all(cost, np.float32(uniqueness), raw)
        if b == 0:
            index, best, conf = idx_b, best_b, conf_b
            labels = np.zeros(ref.shape, np.int64)
        else:
            better = best_b < best
            index = np.where(better, idx_b, index)
            conf = np.where(better, conf_b, conf)
            best = np.where(better, best_b, best)
            labels[better] = b
    index[~textured] = np.nan
    index = postprocess(index, speckle_size=speckle_size, speckle_range=1.0, median=median,
                        fill=fill_holes, prefer_low=True)
    inv = np.interp(np.nan_to_num(index, nan=0.0), np.arange(len(planes)), 1.0 / planes)
    depth = np.where(np.isnan(index), np.nan, 1.0 / inv).astype(np.float32)
    labels[np.isnan(depth)] = -1
    conf[np.isnan(depth)] = 0
    return DepthMap(depth, conf, planes, labels, np.stack(volumes) if return_cost else None)


# ---------------------------------------------------------------------------- validation

def _check_size(cam, img, cam_name, img_name):
    if cam.width is not None and (cam.height, cam.width) != img.shape[:2]:
        raise ValueError(f"{cam_name}: camera image size {cam.width}x{cam.height} does not match "
                         f"{img_name} of size {img.shape[1]}x{img.shape[0]}")


def _sources(sources):
    try:
        sources = list(sources)
    except TypeError as err:
        raise ValueError("sources: expected a list of (image, Camera) pairs") from err
    if not sources:
        raise ValueError("sources: need at least one (image, Camera) pair, got none")
    for i, item in enumerate(sources):
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise ValueError(f"sources[{i}]: expected an (image, Camera) pair")
        check_camera(item[1], f"sources[{i}] camera")
    return sources


def _stack_sources(sources):
    """Grey source images padded into one (S, Hmax, Wmax) float64 array, and their (S, 2) sizes."""
    grays = []
    for i, (img, cam) in enumerate(sources):
        g = gray_image(img, f"sources[{i}] image")
        _check_size(cam, g, f"sources[{i}] camera", f"sources[{i}] image")
        grays.append(g)
    sizes = np.array([g.shape for g in grays], np.int64)
    out = np.zeros((len(grays), sizes[:, 0].max(), sizes[:, 1].max()))
    for i, g in enumerate(grays):
        out[i, :g.shape[0], :g.shape[1]] = g
    return out, sizes


def _motions(motions, n_sources):
    try:
        motions = [list(body) for body in motions]
    except TypeError as err:
        raise ValueError("motions: expected motions[body][source] = (R, t[, scale])") from err
    if not motions:
        raise ValueError("motions: need at least one body")
    out = []
    for b, body in enumerate(motions):
        if len(body) != n_sources:
            raise ValueError(f"motions[{b}]: expected one motion per source ({n_sources}), "
                             f"got {len(body)}")
        rows = []
        for s, m in enumerate(body):
            if len(m) not in (2, 3):
                raise ValueError(f"motions[{b}][{s}]: expected (R, t) or (R, t, scale)")
            R = _checks.rotation(m[0], f"motions[{b}][{s}] R")
            t = _checks.vector3(m[1], f"motions[{b}][{s}] t")
            scale = _checks.positive(m[2], f"motions[{b}][{s}] scale") if len(m) == 3 else 1.0
            rows.append((R, scale * t))
        out.append(rows)
    return out


def _check_parallax(motions, planes):
    """ValueError naming the sources whose translation is zero against the nearest plane: their
    warps are the same for every plane (no parallax, no depth)."""
    for b, body in enumerate(motions):
        bad = [s for s, (_, t) in enumerate(body) if np.linalg.norm(t) <= 1e-12 * planes.min()]
        if bad:
            names = ", ".join(f"sources[{s}]" for s in bad)
            whose = "to the reference camera" if b == 0 else f"for body {b} (motions[{b}])"
            raise ValueError(f"{names}: no baseline {whose} (the reference camera itself, or a "
                             f"pure rotation): its warp is the same at every depth")


def _planes(depths, num_planes, depth_range):
    if depths is None:
        if depth_range is None:
            raise ValueError("depth_range: give (near, far) or the plane depths")
        try:
            near, far = depth_range
        except (TypeError, ValueError) as err:
            raise ValueError(f"depth_range: expected (near, far), got {depth_range}") from err
        return inverse_depth_planes(near, far, num_planes)
    d = _checks.array(depths, "depths", (None,))
    if d.size < 2:
        raise ValueError(f"depths: need at least 2 planes, got {d.size}")
    if (d <= 0).any():
        raise ValueError("depths: must be positive")
    d = np.sort(d)[::-1].copy()
    if (np.diff(d) == 0).any():
        raise ValueError("depths: contains repeated values")
    return d


def _homographies(K_ref, K_src, body, planes):
    """(P, S, 3, 3) homographies from reference pixels to source pixels, per plane and source."""
    Kinv = np.linalg.inv(K_ref)
    n = np.array([0.0, 0.0, 1.0])
    H = np.empty((len(planes), len(body), 3, 3))
    for s, ((R, t), K) in enumerate(zip(body, K_src)):
        for p, Z in enumerate(planes):
            H[p, s] = K @ (R + np.outer(t, n) / Z) @ Kinv
    return H


# ---------------------------------------------------------------------------- kernels

@njit(cache=True)
def _integral(a):
    H, W = a.shape
    out = np.zeros((H + 1, W + 1))
    for y in range(H):
        acc = 0.0
        for x in range(W):
            acc += a[y, x]
            out[y + 1, x + 1] = out[y, x + 1] + acc
    return out


@njit(cache=True)
def _box(ii, y, x, r, H, W):
    """Sum of the (2r + 1)^2 window at (y, x) from an integral image, clipped to the image."""
    y0, y1 = max(y - r, 0), min(y + r + 1, H)
    x0, x1 = max(x - r, 0), min(x + r + 1, W)
    return ii[y1, x1] - ii[y0, x1] - ii[y1, x0] + ii[y0, x0]


@njit(cache=True)
def _window_stats(img, r):
    """Mean and standard deviation of every (2r + 1)^2 window (clipped at the border)."""
    H, W = img.shape
    s1 = _integral(img)
    s2 = _integral(img * img)
    mean = np.empty((H, W))
    std = np.empty((H, W))
    for y in range(H):
        for x in range(W):
            n = (min(y + r + 1, H) - max(y - r, 0)) * (min(x + r + 1, W) - max(x - r, 0))
            m = _box(s1, y, x, r, H, W) / n
            mean[y, x] = m
            std[y, x] = np.sqrt(max(_box(s2, y, x, r, H, W) / n - m * m, 0.0))
    return mean, std


@njit(cache=True)
def _warp(src, h, w, H, out, valid):
    """Bilinear sample of src[:h, :w] at H @ (x, y, 1) for every reference pixel; valid = 1 where
    the sample lies in front of the camera and inside the image."""
    Hr, Wr = out.shape
    for y in range(Hr):
        for x in range(Wr):
            u = H[0, 0] * x + H[0, 1] * y + H[0, 2]
            v = H[1, 0] * x + H[1, 1] * y + H[1, 2]
            q = H[2, 0] * x + H[2, 1] * y + H[2, 2]
            out[y, x] = 0.0
            valid[y, x] = 0.0
            if q <= 0:
                continue
            u /= q
            v /= q
            if not (0.0 <= u <= w - 1 and 0.0 <= v <= h - 1):
                continue
            x0 = min(int(u), w - 2) if w > 1 else 0
            y0 = min(int(v), h - 2) if h > 1 else 0
            fx, fy = u - x0, v - y0
            x1, y1 = min(x0 + 1, w - 1), min(y0 + 1, h - 1)
            out[y, x] = ((1 - fy) * ((1 - fx) * src[y0, x0] + fx * src[y0, x1])
                         + fy * ((1 - fx) * src[y1, x0] + fx * src[y1, x1]))
            valid[y, x] = 1.0


@njit(cache=True, parallel=True)
def _sweep_cost(ref, mean, std, src, sizes, Hs, r, best_k):
    """(H, W, P) float32 cost: per plane, the mean of the `best_k` lowest `1 - ZNCC` over the
    sources that see the whole window (1.0, i.e. NCC 0, where none does). Parallel over planes;
    per-thread memory O(S x H x W)."""
    H, W = ref.shape
    P, S = Hs.shape[0], Hs.shape[1]
    out = np.empty((H, W, P), np.float32)
    for p in prange(P):
        costs = np.empty((S, H, W))
        J = np.empty((H, W))
        V = np.empty((H, W))
        for s in range(S):
            _warp(src[s], sizes[s, 0], sizes[s, 1], Hs[p, s], J, V)
            sv = _integral(V)
            sj = _integral(J)
            sjj = _integral(J * J)
            sij = _integral(ref * J)
            for y in range(H):
                for x in range(W):
                    n = (min(y + r + 1, H) - max(y - r, 0)) * (min(x + r + 1, W) - max(x - r, 0))
                    if _box(sv, y, x, r, H, W) < n - 0.5:
                        costs[s, y, x] = np.inf
                        continue
                    mj = _box(sj, y, x, r, H, W) / n
                    vj = _box(sjj, y, x, r, H, W) / n - mj * mj
                    cov = _box(sij, y, x, r, H, W) / n - mean[y, x] * mj
                    den = std[y, x] * np.sqrt(max(vj, 0.0))
                    ncc = cov / den if den > 1e-9 else 0.0
                    costs[s, y, x] = 1.0 - min(max(ncc, -1.0), 1.0)
        buf = np.empty(S)
        for y in range(H):
            for x in range(W):
                m = 0  # insertion-sort the finite costs into buf[:m]
                for s in range(S):
                    c = costs[s, y, x]
                    if c < np.inf:
                        i = m
                        while i > 0 and buf[i - 1] > c:
                            buf[i] = buf[i - 1]
                            i -= 1
                        buf[i] = c
                        m += 1
                if m == 0:
                    out[y, x, p] = 1.0
                    continue
                k = min(best_k, m)
                acc = 0.0
                for i in range(k):
                    acc += buf[i]
                out[y, x, p] = acc / k
    return out
