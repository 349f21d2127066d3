"""Triangulation: mid-point and linear (DLT) methods, reprojection errors, point checks.

Conventions (see DESIGN.md): pixels `(N, 2)` with x right, y down, origin at the centre of the
top-left pixel; cameras are `geom.camera.Camera` (`x_cam = R X + t`, `P = K [R | t]`); world
points `(N, 3)`; depth is the camera-frame z; angles are radians.

    X = midpoint(cam1, cam2, x1, x2)
    check = cheirality_parallax_check(cam1, cam2, X)   # check.ok: in front of both, enough parallax
    X, x1, x2 = X[check.ok], x1[check.ok], x2[check.ok]
"""
from typing import NamedTuple

import numpy as np
from numba import njit, prange

from . import _checks
from .camera import _check_baseline, _normalize_points, check_camera
from .camera_models import K_RADIAL_ID, _project_point, k_radial_params

MIN_PARALLAX = np.deg2rad(1.5)
"""Default smallest trusted angle (radians) between the two viewing rays of a point (COLMAP's
default minimum triangulation angle, 1.5 degrees)."""


class PointCheck(NamedTuple):
    """Result of `cheirality_parallax_check`, all (N,).

    ok: in_front and parallax >= min_angle; in_front: positive depth in both cameras;
    parallax: angle in radians at the point between the directions to the two camera centres.
    """

    ok: np.ndarray
    in_front: np.ndarray
    parallax: np.ndarray


def midpoint(cam1, cam2, x1, x2, *, weighted=True):
    """Mid-point triangulation: a point of the shortest segment between the two viewing rays.

    cam1, cam2: `Camera`s with distinct centres; x1, x2: (N, 2) corresponding pixels.
    weighted: True (default) takes the point of the segment that weighs each ray's end by the
    inverse variance of its position under equal pixel noise, `(f_i / z_i)^2` (f_i: focal
    length, z_i: depth along ray i); it is as accurate as linear (DLT) triangulation at the
    mid-point's speed. False takes the centre of the segment (the textbook mid-point), which
    trusts both rays equally and loses accuracy when the focal lengths or depths differ (see
    benchmarks/bench_triangulate.py).
    Returns X (N, 3) world points. Rays that are exactly parallel give NaN; nearly parallel rays
    and points behind a camera give finite but untrustworthy points: flag them with
    `cheirality_parallax_check`. Raises ValueError when the computation overflows float64 (rays
    or depths too large). One parallel pass over the points (numba), so it suits 10^6
    correspondences.
    """
    check_camera(cam1, "cam1")
    check_camera(cam2, "cam2")
    x1, x2 = _checks.point_pairs(x1, x2)
    _checks.rays(x1, cam1.K, "x1")
    _checks.rays(x2, cam2.K, "x2")
    _check_baseline([cam1, cam2], "cam1, cam2")
    # A pixel's ray direction in the world is R^T K^-1 [x, y, 1]; its camera-frame z is 1, so
    # the ray parameter at a point is that point's depth.
    M1 = cam1.R.T @ np.linalg.inv(cam1.K)
    M2 = cam2.R.T @ np.linalg.inv(cam2.K)
    X = np.empty((x1.shape[0], 3))
    g1 = cam1.K[0, 0] * cam1.K[1, 1]  # squared geometric-mean focal lengths
    g2 = cam2.K[0, 0] * cam2.K[1, 1]
    _midpoint_kernel(x1, x2, M1, M2, cam1.center, cam2.center, bool(weighted), g1, g2, X)
    if np.isinf(X).any():  # the kernel's overflow mark
        raise _checks.overflow("cam1, cam2, x1, x2")
    return X


@njit(cache=True, parallel=True)
def _midpoint_kernel(x1, x2, M1, M2, c1, c2, weighted, g1, g2, X):
    """X: the points; NaN for parallel rays, inf where the arithmetic overflowed."""
    b0, b1, b2 = c2[0] - c1[0], c2[1] - c1[1], c2[2] - c1[2]
    for i in prange(x1.shape[0]):
        u, v = x1[i, 0], x1[i, 1]
        p0 = M1[0, 0] * u + M1[0, 1] * v + M1[0, 2]
        p1 = M1[1, 0] * u + M1[1, 1] * v + M1[1, 2]
        p2 = M1[2, 0] * u + M1[2, 1] * v + M1[2, 2]
        u, v = x2[i, 0], x2[i, 1]
        q0 = M2[0, 0] * u + M2[0, 1] * v + M2[0, 2]
        q1 = M2[1, 0] * u + M2[1, 1] * v + M2[1, 2]
        q2 = M2[2, 0] * u + M2[2, 1] * v + M2[2, 2]
        # minimise |c1 + s p - c2 - w q|^2; the determinant |p x q|^2 is computed from the
        # cross product, which stays accurate for nearly parallel rays.
        n0 = p1 * q2 - p2 * q1
        n1 = p2 * q0 - p0 * q2
        n2 = p0 * q1 - p1 * q0
        det = n0 * n0 + n1 * n1 + n2 * n2
        if det > 0.0:
            pp = p0 * p0 + p1 * p1 + p2 * p2
            pq = p0 * q0 + p1 * q1 + p2 * q2
            qq = q0 * q0 + q1 * q1 + q2 * q2
            pb = p0 * b0 + p1 * b1 + p2 * b2
            qb = q0 * b0 + q1 * b1 + q2 * b2
            s = (qq * pb - pq * qb) / det  # depth of the segment's end on ray 1
            w = (pq * pb - pp * qb) / det  # and on ray 2
            a1 = 0.5
            if weighted:  # weights g1 / s^2 and g2 / w^2, normalised to sum 1
                a1 = g1 * w * w
                total = a1 + g2 * s * s
                a1 = a1 / total if total > 0.0 else 0.5
            a2 = 1.0 - a1
            X[i, 0] = a1 * (c1[0] + s * p0) + a2 * (c2[0] + w * q0)
            X[i, 1] = a1 * (c1[1] + s * p1) + a2 * (c2[1] + w * q1)
            X[i, 2] = a1 * (c1[2] + s * p2) + a2 * (c2[2] + w * q2)
            if not (det < np.inf and np.isfinite(X[i, 0] + X[i, 1] + X[i, 2])):
                X[i, 0] = np.inf
        else:  # parallel rays, or a ray that overflowed
            X[i, 0] = np.nan if det == 0.0 else np.inf
            X[i, 1] = np.nan
            X[i, 2] = np.nan


def dlt(cam1, cam2, x1, x2):
    """Linear two-view triangulation (normalised DLT, see `dlt_multiview`).

    cam1, cam2: `Camera`s with distinct centres; x1, x2: (N, 2) pixels. Returns X (N, 3).
    """
    check_camera(cam1, "cam1")
    check_camera(cam2, "cam2")
    x1, x2 = _checks.point_pairs(x1, x2)
    _checks.rays(x1, cam1.K, "x1")
    _checks.rays(x2, cam2.K, "x2")
    return _dlt([cam1, cam2], np.stack([x1, x2]), np.ones((2, len(x1)), bool),
                "cam1, cam2, x1, x2")


def dlt_multiview(cams, xs, mask=None):
    """Linear triangulation from any number of views (normalised DLT), one point at a time.

    cams: V `Camera`s (not all at the same centre); xs: (V, N, 2) pixels of N points in each
    view; mask: optional (V, N) bool, True where point n is observed in view v (entries of `xs`
    outside the mask are ignored and may be NaN). Every point needs at least two observations.
    Returns X (N, 3); a solution at infinity (or beyond float64's range) gives NaN, one near it a
    very distant point (flag those with `cheirality_parallax_check`). Raises ValueError when the
    computation overflows float64.

    Each observation gives two equations `x P3 - P1`, `y P3 - P2` in normalised image
    coordinates (`K^-1 x`) times the focal length (so residuals are in pixel units), the world
    is shifted to the mean camera centre and scaled to unit mean centre distance, and the point
    is the smallest right singular vector; the equations are then divided by the depths of that
    solution and solved again (Hartley & Sturm's reweighting), which turns the algebraic
    residuals into pixel errors.
    """
    cams = _check_cameras(cams, "cams", 2)
    V = len(cams)
    xs, mask = _observations(xs, mask, V)
    n_obs = mask.sum(axis=0)
    if (n_obs < 2).any():
        j = int(np.argmax(n_obs < 2))
        raise ValueError(f"mask: point {j} is observed in {n_obs[j]} view(s), need at least 2")
    for v, cam in enumerate(cams):
        _checks.rays(xs[v][mask[v]], cam.K, f"xs[{v}]")
    return _dlt(cams, xs, mask, "cams, xs")


def _dlt(cams, xs, mask, names):
    """dlt_multiview on validated input; names: the arguments an overflow error names."""
    centres = _check_baseline(cams, "cams")
    origin = centres.mean(axis=0)
    scale = np.linalg.norm(centres - origin, axis=1).mean()
    ys = np.stack([_normalize_points(x, c.K, np.empty_like(x)) for x, c in zip(xs, cams)])
    f = np.array([np.sqrt(c.K[0, 0] * c.K[1, 1]) for c in cams])
    # in the normalised world X = origin + scale X', P = [R | R origin + t] / scale up to scale
    Rt = np.stack([np.column_stack([c.R, (c.R @ origin + c.t) / scale]) for c in cams])
    X = np.empty((xs.shape[1], 3))
    _dlt_kernel(ys, mask, f, Rt, X)
    if np.isinf(X).any():  # the kernel's overflow mark
        raise _checks.overflow(names)
    return X * scale + origin


@njit(cache=True, parallel=True)
def _dlt_kernel(ys, mask, f, Rt, X):
    """X: the points from normalised image coordinates ys (V, N, 2); inf marks an overflow."""
    V, N = mask.shape
    chunk = 256  # points per task: the scratch arrays are allocated once per chunk
    for c in prange((N + chunk - 1) // chunk):
        A = np.empty((2 * V, 4))
        W = np.empty((2 * V, 4))
        views = np.empty(V, np.int64)
        z = np.empty(V)
        h = np.empty(4)
        y = np.empty(4)
        for j in range(c * chunk, min(N, (c + 1) * chunk)):
            n = 0
            for v in range(V):
                if not mask[v, j]:
                    continue
                xn, yn = ys[v, j, 0], ys[v, j, 1]
                for k in range(4):
                    A[2 * n, k] = W[2 * n, k] = f[v] * (xn * Rt[v, 2, k] - Rt[v, 0, k])
                    A[2 * n + 1, k] = W[2 * n + 1, k] = f[v] * (yn * Rt[v, 2, k] - Rt[v, 1, k])
                views[n] = v
                n += 1
            h[:] = 0.5
            _null_vector(W, 2 * n, h, y)
            # A row's residual is (depth x pixel error): divide by the depths of that solution
            # and solve again, so that all observations count in pixels (Hartley & Sturm 1997).
            reweight = True
            for o in range(n):
                v = views[o]
                z[o] = abs(Rt[v, 2, 0] * h[0] + Rt[v, 2, 1] * h[1] + Rt[v, 2, 2] * h[2]
                           + Rt[v, 2, 3] * h[3])
                reweight = reweight and z[o] > 0.0
            if reweight:
                for r in range(2 * n):
                    for k in range(4):
                        W[r, k] = A[r, k] / z[r // 2]
                _null_vector(W, 2 * n, h, y)  # starts from the first solution
            for k in range(3):
                X[j, k] = h[k] / h[3] if h[3] != 0.0 else np.nan
                if not abs(X[j, k]) < np.inf:  # at infinity, or beyond float64's range
                    X[j, k] = np.nan
            if not np.isfinite(h[0] + h[1] + h[2] + h[3]):  # the arithmetic overflowed: mark it
                X[j, 0] = np.inf


@njit(cache=True)
def _null_vector(A, m, h, y):
    """Turn h (4,) into the unit right singular vector of A[:m] (m >= 4, 4) for its smallest
    singular value, starting from h: Householder QR `A = Q R` (backward stable, A^T A is never
    formed), then inverse iteration `h <- (R^T R)^-1 h`, which converges by the factor
    (sigma_4 / sigma_3)^2 per step and is exact at once for a singular A. A and the scratch
    y (4,) are overwritten."""
    for k in range(4):
        sq = 0.0
        for i in range(k, m):
            sq += A[i, k] * A[i, k]
        if sq == 0.0:
            continue
        alpha = -np.sqrt(sq) if A[k, k] > 0.0 else np.sqrt(sq)
        v0 = A[k, k] - alpha  # Householder vector (v0, A[k+1:m, k])
        vv = sq - A[k, k] * A[k, k] + v0 * v0
        for j in range(k + 1, 4):
            g = v0 * A[k, j]
            for i in range(k + 1, m):
                g += A[i, k] * A[i, j]
            g *= 2.0 / vv
            A[k, j] -= g * v0
            for i in range(k + 1, m):
                A[i, j] -= g * A[i, k]
        A[k, k] = alpha
    big = 0.0
    for k in range(4):
        big = max(big, abs(A[k, k]))
    floor = max(big * 1e-20, 1e-300)  # stands in for a zero pivot: below rounding, no overflow
    for _ in range(50):
        for i in range(4):  # R^T y = h
            acc = h[i]
            for k in range(i):
                acc -= A[k, i] * y[k]
            d = A[i, i] if abs(A[i, i]) > floor else floor
            y[i] = acc / d
        for i in range(3, -1, -1):  # R x = y, x into y
            acc = y[i]
            for k in range(i + 1, 4):
                acc -= A[i, k] * y[k]
            d = A[i, i] if abs(A[i, i]) > floor else floor
            y[i] = acc / d
        nrm = np.sqrt(y[0] ** 2 + y[1] ** 2 + y[2] ** 2 + y[3] ** 2)
        if not 0.0 < nrm < np.inf:  # overflow or underflow: no direction, h NaN
            h[:] = np.nan
            break
        change = 0.0
        for k in range(4):
            change = max(change, abs(y[k] / nrm - h[k]))
            h[k] = y[k] / nrm
        if change <= 1e-15:
            break


def reprojection_errors(cams, X, xs):
    """Pixel distances between the projections of X and the observations.

    cams: V `Camera`s; X: (N, 3) world points; xs: (V, N, 2) observed pixels.
    Returns (V, N) errors in pixels; a point at or behind a camera (depth <= 0) gets inf there.
    """
    cams = _check_cameras(cams, "cams", 1)
    X = _checks.points(X, "X", 3)
    xs = _checks.array(xs, "xs", (len(cams), X.shape[0], 2))
    R = np.stack([c.R for c in cams])
    t = np.stack([c.t for c in cams])
    params = k_radial_params(np.stack([c.K for c in cams]), 0.0)
    err = np.empty((len(cams), X.shape[0]))
    _reprojection_kernel(R, t, params, X, xs, err)
    return err


@njit(cache=True, parallel=True)
def _reprojection_kernel(R, t, params, X, xs, err):
    """err[v, j]: pixel error of X[j] in camera v (R, t, K_RADIAL params; `_project_point`)."""
    skip_point, skip_params = np.empty((0, 3)), np.empty((0, params.shape[1]))
    for j in prange(X.shape[0]):
        for v in range(R.shape[0]):
            q0 = R[v, 0, 0] * X[j, 0] + R[v, 0, 1] * X[j, 1] + R[v, 0, 2] * X[j, 2] + t[v, 0]
            q1 = R[v, 1, 0] * X[j, 0] + R[v, 1, 1] * X[j, 1] + R[v, 1, 2] * X[j, 2] + t[v, 1]
            q2 = R[v, 2, 0] * X[j, 0] + R[v, 2, 1] * X[j, 1] + R[v, 2, 2] * X[j, 2] + t[v, 2]
            if q2 > 0.0:
                x, y = _project_point(K_RADIAL_ID, params[v], q0, q1, q2, skip_point,
                                      skip_params)
                err[v, j] = np.hypot(x - xs[v, j, 0], y - xs[v, j, 1])
            else:
                err[v, j] = np.inf


def cheirality_parallax_check(cam1, cam2, X, *, min_angle=MIN_PARALLAX):
    """Flag triangulated points that cannot be trusted: behind a camera, or seen from two
    nearly parallel directions (depth along the rays is then ill-conditioned).

    cam1, cam2: `Camera`s with distinct centres; X: (N, 3) world points; min_angle: smallest
    trusted parallax in radians (default 1.5 degrees). Returns a `PointCheck` (ok, in_front,
    parallax), each (N,).
    """
    check_camera(cam1, "cam1")
    check_camera(cam2, "cam2")
    X = _checks.points(X, "X", 3)
    min_angle = float(min_angle)
    if not 0.0 <= min_angle <= np.pi:
        raise ValueError(f"min_angle: expected an angle in radians in [0, pi], got {min_angle}")
    _check_baseline([cam1, cam2], "cam1, cam2")
    in_front = np.empty(X.shape[0], np.bool_)
    parallax = np.empty(X.shape[0])
    _point_check_kernel(X, cam1.R, cam1.t, cam2.R, cam2.t, cam1.center, cam2.center, in_front,
                        parallax)
    return PointCheck(in_front & (parallax >= min_angle), in_front, parallax)


@njit(cache=True, parallel=True)
def _point_check_kernel(X, R1, t1, R2, t2, c1, c2, in_front, parallax):
    for i in prange(X.shape[0]):
        z1 = R1[2, 0] * X[i, 0] + R1[2, 1] * X[i, 1] + R1[2, 2] * X[i, 2] + t1[2]
        z2 = R2[2, 0] * X[i, 0] + R2[2, 1] * X[i, 1] + R2[2, 2] * X[i, 2] + t2[2]
        in_front[i] = z1 > 0.0 and z2 > 0.0
        p0, p1, p2 = X[i, 0] - c1[0], X[i, 1] - c1[1], X[i, 2] - c1[2]
        q0, q1, q2 = X[i, 0] - c2[0], X[i, 1] - c2[1], X[i, 2] - c2[2]
        n0 = p1 * q2 - p2 * q1
        n1 = p2 * q0 - p0 * q2
        n2 = p0 * q1 - p1 * q0
        parallax[i] = np.arctan2(np.sqrt(n0 * n0 + n1 * n1 + n2 * n2), p0 * q0 + p1 * q1 + p2 * q2)


def _check_cameras(cams, name, min_count):
    cams = list(cams)
    if len(cams) < min_count:
        raise ValueError(f"{name}: need at least {min_count} cameras, got {len(cams)}")
    for i, cam in enumerate(cams):
        check_camera(cam, f"{name}[{i}]")
    return cams


def _observations(xs, mask, n_views):
    """Validate (V, N, 2) pixels and a (V, N) bool mask; non-finite values only outside the mask."""
    try:
        xs = np.asarray(xs, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError("xs: expected a numeric array of shape (V, N, 2)") from err
    if xs.ndim != 3 or xs.shape[0] != n_views or xs.shape[2] != 2:
        raise ValueError(f"xs: expected shape ({n_views}, N, 2) for {n_views} cameras, "
                         f"got {xs.shape}")
    if mask is None:
        mask = np.ones(xs.shape[:2], np.bool_)
    else:
        mask = np.asarray(mask)
        if mask.dtype != np.bool_ or mask.shape != xs.shape[:2]:
            raise ValueError(f"mask: expected a bool array of shape {xs.shape[:2]}, got "
                             f"{mask.dtype} {mask.shape}")
    xs = _checks.array(np.where(mask[:, :, None], xs, 0.0), "xs", (n_views, None, 2))
    return xs, np.ascontiguousarray(mask)
