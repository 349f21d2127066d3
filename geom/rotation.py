"""Rotations: axis-angle, quaternions, random rotations and angular distance.

Conventions: rotation matrices are (3, 3) float64 with det +1; an axis-angle vector `r` (3,) has
direction = axis and norm = angle in radians; quaternions are `(w, x, y, z)` with `w >= 0`
(the COLMAP order). Angles are radians.
"""
import numpy as np
from numba import njit

from . import _checks


def skew(v):
    """Cross-product matrix `[v]x` (3, 3) of `v` (3,), so that `skew(v) @ u == cross(v, u)`."""
    S = np.empty((3, 3))
    _skew_into(_checks.vector3(v, "v"), S)
    return S


def rotation_from_axis_angle(r):
    """Rodrigues' formula: axis-angle `r` (3,) -> rotation matrix (3, 3)."""
    R = np.empty((3, 3))
    _exp_into(_checks.vector3(r, "r"), R)
    return R


def axis_angle_from_rotation(R):
    """Inverse of `rotation_from_axis_angle`: rotation (3, 3) -> axis-angle (3,), angle in [0, pi]."""
    q = quaternion_from_rotation(R)
    s = np.linalg.norm(q[1:])
    if s < 1e-15:
        return np.zeros(3)
    return q[1:] / s * 2.0 * np.arctan2(s, q[0])


def quaternion_from_rotation(R):
    """Rotation (3, 3) -> unit quaternion `(w, x, y, z)` with `w >= 0` (numerically stable branch)."""
    R = _checks.rotation(R)
    tr = np.trace(R)
    m = np.array([tr, R[0, 0], R[1, 1], R[2, 2]])
    i = int(np.argmax(m))
    if i == 0:
        w = np.sqrt(1.0 + tr) / 2
        q = np.array([w, (R[2, 1] - R[1, 2]) / (4 * w), (R[0, 2] - R[2, 0]) / (4 * w),
                      (R[1, 0] - R[0, 1]) / (4 * w)])
    else:
        a, b, c = (i - 1), i % 3, (i + 1) % 3
        s = np.sqrt(1.0 + R[a, a] - R[b, b] - R[c, c]) / 2
        q = np.empty(4)
        q[1 + a] = s
        q[1 + b] = (R[b, a] + R[a, b]) / (4 * s)
        q[1 + c] = (R[c, a] + R[a, c]) / (4 * s)
        q[0] = (R[c, b] - R[b, c]) / (4 * s)
    q /= np.linalg.norm(q)
    return q if q[0] >= 0 else -q


def rotation_from_quaternion(q):
    """Quaternion `(w, x, y, z)` (4,), any non-zero norm -> rotation matrix (3, 3)."""
    q = _checks.array(q, "q", (4,))
    n = np.linalg.norm(q)
    if n < 1e-12:
        raise ValueError("q: quaternion has zero norm")
    w, x, y, z = q / n
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def random_rotation(rng=None):
    """A rotation drawn uniformly from SO(3) (normalised Gaussian quaternion).

    rng: a `numpy.random.Generator` or an int seed.
    """
    rng = np.random.default_rng(rng)
    return rotation_from_quaternion(rng.normal(size=4))


def angular_distance(R1, R2):
    """Angle in radians, in [0, pi], of the rotation `R1^T R2` that takes `R1` to `R2`;
    atan2 of its sine (from the skew part) and cosine (from the trace): accurate to ~1e-16 for
    small angles too, where arccos of the trace alone loses half the digits (~1e-8)."""
    R1 = _checks.matrix3(R1, "R1")
    R2 = _checks.matrix3(R2, "R2")
    M = R1.T @ R2
    s = np.linalg.norm([M[2, 1] - M[1, 2], M[0, 2] - M[2, 0], M[1, 0] - M[0, 1]]) / 2.0
    return float(np.arctan2(s, (np.trace(M) - 1.0) / 2.0))


def angle_between(u, v):
    """Angle in radians between two 3-vectors; for directions known up to sign use `min(a, pi - a)`."""
    u = _checks.vector3(u, "u")
    v = _checks.vector3(v, "v")
    nu, nv = np.linalg.norm(u), np.linalg.norm(v)
    if nu == 0 or nv == 0:
        raise ValueError("u, v: zero-length vector has no direction")
    return float(np.arctan2(np.linalg.norm(np.cross(u, v)), u @ v))


# ---------------------------------------------------------------------------- kernels

@njit(cache=True)
def _skew_into(v, S):
    """S (3, 3) = [v]x of v (3,)."""
    S[0, 0], S[0, 1], S[0, 2] = 0.0, -v[2], v[1]
    S[1, 0], S[1, 1], S[1, 2] = v[2], 0.0, -v[0]
    S[2, 0], S[2, 1], S[2, 2] = -v[1], v[0], 0.0


@njit(cache=True)
def _exp_into(w, R):
    """R (3, 3) = exp([w]x) of the axis-angle w (3,) (Rodrigues; below 1e-8 rad the series of
    its two coefficients, exact to rounding)."""
    th2 = w[0] * w[0] + w[1] * w[1] + w[2] * w[2]
    th = np.sqrt(th2)
    if th < 1e-8:
        a, b = 1.0 - th2 / 6.0, 0.5 - th2 / 24.0
    else:
        a, b = np.sin(th) / th, (1.0 - np.cos(th)) / th2
    x, y, z = w[0], w[1], w[2]
    R[0, 0] = 1.0 - b * (y * y + z * z)
    R[0, 1] = -a * z + b * x * y
    R[0, 2] = a * y + b * x * z
    R[1, 0] = a * z + b * x * y
    R[1, 1] = 1.0 - b * (x * x + z * z)
    R[1, 2] = -a * x + b * y * z
    R[2, 0] = -a * y + b * x * z
    R[2, 1] = a * x + b * y * z
    R[2, 2] = 1.0 - b * (x * x + y * y)


@njit(cache=True)
def _mul3(A, B):
    """A @ B of 3 x 3 matrices in scalar loops (numba's @ is a BLAS call: slow at this size)."""
    C = np.empty((3, 3))
    for i in range(3):
        for j in range(3):
            C[i, j] = A[i, 0] * B[0, j] + A[i, 1] * B[1, j] + A[i, 2] * B[2, j]
    return C
