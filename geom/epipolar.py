"""Epipolar geometry: fundamental and essential matrices, their conversions, poses and errors.

Conventions (see DESIGN.md): pixels `(N, 2)` float64, x right, y down, origin at the centre of
the top-left pixel. A relative pose `(R, t)` maps camera-1 to camera-2 coordinates,
`X2 = R X1 + t`; `E = [t]x R`, `F = K2^-T E K1^-1`, and corresponding pixels satisfy
`x2^T F x1 = 0` (homogeneous `x = (x, y, 1)`). Converted F and E have unit Frobenius norm
(their scale and sign are meaningless); `essential_from_pose` keeps `|E| = sqrt(2) |t|`.

Estimation: `geom.eightpoint`, `geom.sevenpoint`, `geom.fivepoint`, `geom.robust`. The public
functions raise `ValueError` on bad or degenerate data; the kernels (`_sampson`, ...) do not check.
"""
import numpy as np
from numba import njit

from . import _checks
from ._linalg import _det3
from .camera import _check_baseline, check_camera, normalize_points, relative_pose


# ---------------------------------------------------------------------------- conversions

def essential_from_fundamental(F, K1, K2):
    """E = K2^T F K1 (3, 3), unit Frobenius norm (not projected; see `project_to_essential`)."""
    F = _checks.matrix3(F, "F")
    E = _checks.intrinsics(K2, "K2").T @ F @ _checks.intrinsics(K1, "K1")
    return _unit(E, "F")


def fundamental_from_essential(E, K1, K2):
    """F = K2^-T E K1^-1 (3, 3), unit Frobenius norm."""
    E = _checks.matrix3(E, "E")
    K1 = _checks.intrinsics(K1, "K1")
    K2 = _checks.intrinsics(K2, "K2")
    return _unit(np.linalg.solve(K2.T, E) @ np.linalg.inv(K1), "E")


def essential_from_pose(R, t):
    """E = [t]x R (3, 3) of the relative pose `X2 = R X1 + t`, not normalised (|E| = sqrt(2)|t|)."""
    R = _checks.rotation(R, "R")
    t = _checks.vector3(t, "t")
    tx = np.array([[0.0, -t[2], t[1]], [t[2], 0.0, -t[0]], [-t[1], t[0], 0.0]])
    return tx @ R


def fundamental_from_cameras(cam1, cam2):
    """F (3, 3) of two `Camera`s, unit Frobenius norm: `x2^T F x1 = 0` for x_i = cam_i.project(X).
    Raises ValueError when the camera centres coincide (no epipolar geometry)."""
    check_camera(cam1, "cam1")
    check_camera(cam2, "cam2")
    _check_baseline([cam1, cam2], "cam1, cam2")
    R, t = relative_pose(cam1, cam2)
    return fundamental_from_essential(essential_from_pose(R, t), cam1.K, cam2.K)


def project_to_essential(E):
    """Closest essential matrix (Frobenius) to `E` (3, 3): singular values (s, s, 0) with
    s the mean of the two largest singular values of `E`."""
    E = _checks.matrix3(E, "E")
    u, s, vt = np.linalg.svd(E)
    return (u[:, :2] * ((s[0] + s[1]) / 2)) @ vt[:2]


def decompose_essential(E):
    """The four relative poses of an essential matrix `E` (3, 3).

    Returns Rs (4, 3, 3) rotations and ts (4, 3) unit translations, in the order
    (R1, t), (R1, -t), (R2, t), (R2, -t), each with `E ~ [t]x R` up to scale; R2 = (2 t t^T - I) R1
    is R1's twisted pair. Which one is physical is decided by cheirality (`pose_from_essential`).
    """
    E = _checks.matrix3(E, "E")
    R, t = np.empty((3, 3)), np.empty(3)
    ratio = _decompose_essential(E, R, t)
    if not ratio > 1e-9:
        raise ValueError(f"E: rank below 2 (s1 / s0 = {ratio:.1e}), not an essential matrix")
    R2 = (2.0 * np.outer(t, t) - np.eye(3)) @ R
    return np.stack([R, R, R2, R2]), np.stack([t, -t, t, -t])


def pose_from_essential(E, x1, x2, K1, K2):
    """The relative pose `X2 = R X1 + t` encoded by `E` that puts the points in front of both
    cameras (cheirality).

    E: (3, 3); x1, x2: (N, 2) pixels, N >= 1; K1, K2: (3, 3) calibrations. Returns R (3, 3),
    t (3,) with |t| = 1, and mask (N,) bool of the correspondences in front of both cameras
    under that pose. Raises ValueError when no pose has a strict majority of the points in front
    or two poses tie (degenerate or inconsistent data).
    """
    Rs, ts = decompose_essential(E)
    x1, x2 = _checks.point_pairs(x1, x2, 1)
    y1, y2 = normalize_points(x1, K1), normalize_points(x2, K2)
    counts = np.empty(4, np.int64)
    front = np.empty((4, x1.shape[0]), np.bool_)
    _cheirality_counts(Rs, ts, y1, y2, counts, front)
    order = np.argsort(counts)[::-1]
    best, second = counts[order[0]], counts[order[1]]
    if 2 * best <= x1.shape[0] or best == second:
        raise ValueError(f"x1, x2: cheirality does not single out a pose (points in front per pose:"
                         f" {counts.tolist()} of {x1.shape[0]})")
    return Rs[order[0]], ts[order[0]], front[order[0]]


# ---------------------------------------------------------------------------- epipoles, lines

def epipoles(F):
    """Epipoles of `F` (3, 3) as homogeneous unit 3-vectors (e1, e2): `F e1 = 0` (image 1, the
    projection of camera 2's centre) and `F^T e2 = 0` (image 2). Divide by the last coordinate
    for pixels when it is not ~0 (an epipole at infinity has none)."""
    F = _checks.matrix3(F, "F")
    u, s, vt = np.linalg.svd(F)
    if s[0] == 0:
        raise ValueError("F: zero matrix has no epipoles")
    return vt[2], u[:, 2]


def epipolar_lines(F, x, *, image=1):
    """Epipolar lines in the other image of points `x` (N, 2) of image `image` (1 or 2):
    `F x` for image 1, `F^T x` for image 2, as (N, 3) lines (a, b, c) scaled so a^2 + b^2 = 1,
    so that a x + b y + c is the signed distance in pixels of (x, y) to the line."""
    F = _checks.matrix3(F, "F")
    x = _checks.points(x, "x")
    if image not in (1, 2):
        raise ValueError(f"image: expected 1 or 2, got {image}")
    G = F if image == 1 else F.T
    lines = x @ G[:, :2].T + G[:, 2]
    n = np.hypot(lines[:, 0], lines[:, 1])
    if (n == 0).any():
        raise ValueError("x: a point is at the epipole, its epipolar line is undefined")
    return lines / n[:, None]


# ---------------------------------------------------------------------------- errors

def algebraic_error(F, x1, x2):
    """|x2^T F x1| (N,) for F (3, 3) and pixels x1, x2 (N, 2) (its scale follows F's norm)."""
    F, x1, x2 = _checked(F, x1, x2)
    return np.abs(_residual(F, x1, x2))


def symmetric_epipolar_distance(F, x1, x2):
    """sqrt(d(x2, F x1)^2 + d(x1, F^T x2)^2) (N,) in pixels: the point-to-epipolar-line
    distances in both images, combined. F (3, 3); x1, x2 (N, 2)."""
    F, x1, x2 = _checked(F, x1, x2)
    l2 = x1 @ F[:, :2].T + F[:, 2]
    l1 = x2 @ F[:2, :] + F[2, :]
    with np.errstate(divide="ignore"):
        return np.abs(_residual(F, x1, x2)) * np.sqrt(1.0 / (l2[:, 0] ** 2 + l2[:, 1] ** 2)
                                                      + 1.0 / (l1[:, 0] ** 2 + l1[:, 1] ** 2))


def sampson_distance(F, x1, x2):
    """Sampson distance (N,) in pixels of correspondences x1, x2 (N, 2) under F (3, 3):
    |x2^T F x1| / sqrt((F x1)_1^2 + (F x1)_2^2 + (F^T x2)_1^2 + (F^T x2)_2^2), the square root of
    the first-order approximation of the squared geometric (reprojection) error
    min |x1 - x1'|^2 + |x2 - x2'|^2 over x2'^T F x1' = 0."""
    F, x1, x2 = _checked(F, x1, x2)
    out = np.empty(x1.shape[0])
    _sampson(F, x1, x2, out)
    return out


def _checked(F, x1, x2):
    """F, x1, x2 validated for the error functions, which square F x1, F^T x2 and x2^T F x1."""
    F = _checks.matrix3(F, "F")
    x1, x2 = _checks.point_pairs(x1, x2)
    if 3.0 * np.abs(F).max() * (1.0 + max(np.abs(x1).max(initial=0.0),
                                          np.abs(x2).max(initial=0.0))) > _checks.LARGEST:
        raise _checks.overflow("F, x1, x2")
    return F, x1, x2


def _residual(F, x1, x2):
    """x2^T F x1 (N,)."""
    return np.einsum("ni,ni->n", x2, x1 @ F[:2, :2].T + F[:2, 2]) + x1 @ F[2, :2] + F[2, 2]


def _unit(M, name):
    n = np.linalg.norm(M)
    if n == 0:
        raise ValueError(f"{name}: zero matrix")
    return M / n


# ---------------------------------------------------------------------------- kernels


@njit(cache=True)
def _epipolar_terms(F, u1, v1, u2, v2):
    """For one correspondence: the algebraic error r = x2^T F x1, the squared norm g of its
    gradient in the four pixel coordinates (r^2 / g is the squared Sampson distance), and the
    line coefficients a, b (F x1) and d, e (F^T x2) that the gradient is made of."""
    a = F[0, 0] * u1 + F[0, 1] * v1 + F[0, 2]
    b = F[1, 0] * u1 + F[1, 1] * v1 + F[1, 2]
    c = F[2, 0] * u1 + F[2, 1] * v1 + F[2, 2]
    d = F[0, 0] * u2 + F[1, 0] * v2 + F[2, 0]
    e = F[0, 1] * u2 + F[1, 1] * v2 + F[2, 1]
    return u2 * a + v2 * b + c, a * a + b * b + d * d + e * e, a, b, d, e


@njit(cache=True)
def _sampson(F, x1, x2, out):
    """Sampson distances (N,) in pixels (not squared) of correspondences `x1`, `x2` (N, 2)
    under `F` (3, 3) into `out`. No validation."""
    for i in range(x1.shape[0]):
        out[i] = _sampson_distance(F, x1, x2, i)


@njit(cache=True, inline="always")
def _sampson_distance(F, x1, x2, i):
    """The Sampson distance in pixels of correspondence i under F (its first three columns);
    inf where it is undefined."""
    r, g, _, _, _, _ = _epipolar_terms(F, x1[i, 0], x1[i, 1], x2[i, 0], x2[i, 1])
    return abs(r) / np.sqrt(g) if g > 0.0 else np.inf


@njit(cache=True)
def _cheirality_counts(Rs, ts, y1, y2, counts, front):
    """For each candidate pose (Rs (4, 3, 3), ts (4, 3)) count the normalised correspondences
    y1, y2 (N, 2) whose two-ray least-squares depths are positive in both cameras; `front`
    (4, N) marks them."""
    for p in range(Rs.shape[0]):
        R = Rs[p]
        t = ts[p]
        c = 0
        for i in range(y1.shape[0]):
            # Solve lam2 b - lam1 a = t in the least-squares sense, a = R [y1, 1], b = [y2, 1].
            a0 = R[0, 0] * y1[i, 0] + R[0, 1] * y1[i, 1] + R[0, 2]
            a1 = R[1, 0] * y1[i, 0] + R[1, 1] * y1[i, 1] + R[1, 2]
            a2 = R[2, 0] * y1[i, 0] + R[2, 1] * y1[i, 1] + R[2, 2]
            b0 = y2[i, 0]
            b1 = y2[i, 1]
            aa = a0 * a0 + a1 * a1 + a2 * a2
            bb = b0 * b0 + b1 * b1 + 1.0
            ab = a0 * b0 + a1 * b1 + a2
            at = a0 * t[0] + a1 * t[1] + a2 * t[2]
            bt = b0 * t[0] + b1 * t[1] + t[2]
            det = aa * bb - ab * ab
            ok = det > 1e-12 * aa * bb
            if ok:
                lam1 = (ab * bt - bb * at) / det
                lam2 = (aa * bt - ab * at) / det
                ok = lam1 > 0.0 and lam2 > 0.0
            front[p, i] = ok
            c += ok
        counts[p] = c


@njit(cache=True)
def _decompose_essential(E, R, t):
    """One of the four relative poses of `E` (3, 3) into R (3, 3) and the unit t (3,):
    `R = U W V^T`, `t = U[:, 2]` for the SVD `E = U diag(s) V^T` with det U = det V = 1 and W the
    rotation by +90 degrees about z (the others: `decompose_essential`). Returns s[1] / s[0]
    (0 for E = 0): E has rank 2 where that is clear of 0."""
    U, s, Vt = np.linalg.svd(E)
    su = 1.0 if _det3(U) > 0.0 else -1.0
    sv = 1.0 if _det3(Vt) > 0.0 else -1.0
    for i in range(3):
        for j in range(3):  # U W = (U[:, 1], -U[:, 0], U[:, 2])
            R[i, j] = su * sv * (U[i, 1] * Vt[0, j] - U[i, 0] * Vt[1, j] + U[i, 2] * Vt[2, j])
        t[i] = su * U[i, 2]
    return s[1] / s[0] if s[0] > 0.0 else 0.0
