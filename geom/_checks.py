"""Input validation shared by the public geom functions.

Every public function turns its array arguments into contiguous float64 arrays through these
helpers before calling a numba kernel, so a bad input fails here with a message that names the
argument, never inside a kernel. Options (thresholds, counts, seeds) go through `real`,
`positive`, `integer` and `seed`, which refuse strings, None and bools by name.
"""
import numbers

import numpy as np

LARGEST = 1e150
"""Largest magnitude an array argument may hold: the kernels square values (sums of squares
included), and the square of a float64 above ~1.3e154 overflows."""


def array(a, name, shape):
    """Return `a` as a C-contiguous finite float64 array of `shape` (None matches any size)."""
    try:
        if np.iscomplexobj(a):
            raise TypeError("complex values")
        out = np.ascontiguousarray(a, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: expected a real numeric array of shape {_fmt(shape)}") from err
    if out.ndim != len(shape) or any(s is not None and s != o for s, o in zip(shape, out.shape)):
        raise ValueError(f"{name}: expected shape {_fmt(shape)}, got {out.shape}")
    if out.size and not np.abs(out).max() <= LARGEST:  # one pass: NaN fails the comparison too
        if not np.isfinite(out).all():
            raise ValueError(f"{name}: contains NaN or inf")
        raise ValueError(f"{name}: values up to {np.abs(out).max():.3g} are too large to square in "
                         f"float64 (expected magnitudes <= {LARGEST:.0e})")
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


def real(value, name):
    """Return `value` as a finite float; a ValueError naming `name` for anything else (strings,
    None and bools included)."""
    if not _is_number(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name}: must be a finite number, got {value!r}")
    return float(value)


def positive(value, name):
    """Return `value` as a float in [1 / LARGEST, LARGEST]: positive, and squared neither to 0 nor
    to inf in float64."""
    if not _is_number(value, numbers.Real) or not 1.0 / LARGEST <= value <= LARGEST:
        raise ValueError(f"{name}: must be a positive finite number (between {1 / LARGEST:.0e} "
                         f"and {LARGEST:.0e}, so that its square is finite), got {value!r}")
    return float(value)


def probability(value, name):
    """Return `value` as a float strictly between 0 and 1."""
    if not _is_number(value, numbers.Real) or not 0 < value < 1:
        raise ValueError(f"{name}: must be in (0, 1), got {value!r}")
    return float(value)


def integer(value, name, lowest=None):
    """Return `value` as an int (>= `lowest` when given); a ValueError naming `name` for anything
    else (floats, strings, None and bools included)."""
    if not _is_number(value, numbers.Integral) or (lowest is not None and value < lowest):
        expected = "an integer" if lowest is None else f"an integer >= {lowest}"
        raise ValueError(f"{name}: expected {expected}, got {value!r}")
    return int(value)


def seed(value, name="seed"):
    """Return a random seed as an int in [0, 2^32) (any integer, taken modulo 2^32): randomness
    only through an explicit seed, so None is refused like any non-integer."""
    if not _is_number(value, numbers.Integral):
        raise ValueError(f"{name}: expected an integer seed (same input, same seed, same output), "
                         f"got {value!r}")
    return int(value) % 2**32


RAY_LIMIT = 1e15
"""Largest |K^-1 x| of a pixel: beyond it the viewing ray is within double rounding of 90 degrees
off the optical axis, and products of such coordinates overflow in the solvers."""


def rays(x, K, name):
    """Raise a ValueError naming `name` when pixels x (N, 2) lie farther than RAY_LIMIT focal
    lengths from the principal point of K (validated (3, 3), K[2, 2] = 1)."""
    y = np.abs(x[:, 1] - K[1, 2]) / K[1, 1]
    y = np.maximum(y, np.abs(x[:, 0] - K[0, 2]) / K[0, 0] + y * abs(K[0, 1]) / K[0, 0])
    if y.size and not y.max() <= RAY_LIMIT:
        raise ValueError(f"{name}: pixels {y.max():.3g} focal lengths from the principal point "
                         f"(at most {RAY_LIMIT:.0e}: their rays are no longer resolved in float64)")


def overflow(names):
    """The ValueError for a computation whose float64 intermediates overflowed on `names`."""
    return ValueError(f"{names}: values too large for this computation in float64 (it "
                      f"overflows); rescale them")


def _is_number(value, kind):
    return isinstance(value, kind) and not isinstance(value, (bool, np.bool_))


def _fmt(shape):
    return "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
