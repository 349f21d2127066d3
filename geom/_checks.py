"""Input validation shared by the public geom functions.

Every public function turns its array arguments into contiguous float64 arrays through these
helpers before calling a numba kernel, so a bad input fails here with a message that names the
argument, never inside a kernel.
"""
import numpy as np


def array(a, name, shape):
    """Return `a` as a C-contiguous finite float64 array of `shape` (None matches any size)."""
    try:
        out = np.ascontiguousarray(a, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: expected a numeric array of shape {_fmt(shape)}") from err
    if out.ndim != len(shape) or any(s is not None and s != o for s, o in zip(shape, out.shape)):
        raise ValueError(f"{name}: expected shape {_fmt(shape)}, got {out.shape}")
    if not np.isfinite(out).all():
        raise ValueError(f"{name}: contains NaN or inf")
    return out


def points(x, name, dim=2, min_count=0):
    """Return `x` as a finite C-contiguous float64 `(N, dim)` array with `N >= min_count`."""
    out = array(x, name, (None, dim))
    if out.shape[0] < min_count:
        raise ValueError(f"{name}: need at least {min_count} points, got {out.shape[0]}")
    return out


def point_pairs(x1, x2, min_count=0, names=("x1", "x2"), dims=(2, 2)):
    """Validate two corresponding point arrays of equal length."""
    a = points(x1, names[0], dims[0], min_count)
    b = points(x2, names[1], dims[1], min_count)
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"{names[0]} and {names[1]}: different lengths {a.shape[0]} and {b.shape[0]}")
    return a, b


def matrix3(M, name):
    """Return a finite float64 (3, 3) matrix."""
    return array(M, name, (3, 3))


def intrinsics(K, name="K"):
    """Return a finite (3, 3) upper-triangular calibration matrix with positive focal lengths."""
    K = matrix3(K, name)
    if K[1, 0] != 0 or K[2, 0] != 0 or K[2, 1] != 0 or K[2, 2] == 0:
        raise ValueError(f"{name}: expected an upper-triangular calibration matrix with K[2,2] != 0")
    K = K / K[2, 2]
    if K[0, 0] <= 0 or K[1, 1] <= 0:
        raise ValueError(f"{name}: focal lengths must be positive, got {K[0, 0]} and {K[1, 1]}")
    return K


def rotation(R, name="R", tol=1e-6):
    """Return a finite (3, 3) rotation matrix (orthonormal, det +1 within `tol`)."""
    R = matrix3(R, name)
    if np.abs(R.T @ R - np.eye(3)).max() > tol or abs(np.linalg.det(R) - 1.0) > tol:
        raise ValueError(f"{name}: not a rotation matrix (needs R^T R = I and det R = +1)")
    return R



def vector3(v, name):
    return array(v, name, (3,))


def positive(value, name):
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: must be a positive finite number, got {value}")
    return value


def _fmt(shape):
    return "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
