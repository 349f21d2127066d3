"""Camera models with lens distortion: COLMAP's models, names and parameter order.

Conventions (see DESIGN.md): pixels `(N, 2)`, x right, y down, origin at the centre of the
top-left pixel (COLMAP's files put it at the corner; their readers and writers shift cx, cy by
0.5 px, this module does not). Camera-frame points `(N, 3)`, z the depth. Normalised coordinates
`(N, 2)` are `(x / z, y / z)`, the undistorted image plane at z = 1.

    model                   params
    SIMPLE_PINHOLE          f, cx, cy
    PINHOLE                 fx, fy, cx, cy
    SIMPLE_RADIAL           f, cx, cy, k
    RADIAL                  f, cx, cy, k1, k2
    OPENCV                  fx, fy, cx, cy, k1, k2, p1, p2
    FULL_OPENCV             fx, fy, cx, cy, k1, k2, p1, p2, k3, k4, k5, k6
    SIMPLE_RADIAL_FISHEYE   f, cx, cy, k
    RADIAL_FISHEYE          f, cx, cy, k1, k2
    OPENCV_FISHEYE          fx, fy, cx, cy, k1, k2, k3, k4

Every model projects a camera-frame point `(x, y, z)`, `z > 0`, the same way:

    (a, b) = (x / z, y / z)
    fisheye models: (a, b) *= theta / r,  r = |(a, b)|, theta = atan(r)   (equidistant)
    r2 = a^2 + b^2
    R  = (1 + k1 r2 + k2 r2^2 + k3 r2^3) / (1 + k4 r2 + k5 r2^2 + k6 r2^3)      perspective
    R  = 1 + k1 r2 + k2 r2^2 + k3 r2^3 + k4 r2^4                           fisheye (r2 = theta^2)
    ad = a R + 2 p1 a b + p2 (r2 + 2 a^2),   bd = b R + p1 (r2 + 2 b^2) + 2 p2 a b
    pixel = (fx ad + skew bd + cx, fy bd + cy)

with the coefficients a model lacks at 0 (`k` is k1, `f` is fx = fy): OpenCV's `projectPoints`
(rational model) and `fisheye.projectPoints` formulas, and COLMAP's. Beside COLMAP's models
(`MODELS`), mvdepth's own (`MVDEPTH_MODELS`):

    K_RADIAL                fx, fy, cx, cy, skew, k

a `geom.camera.Camera`'s K, skew included, with one radial coefficient: the camera of bundle
adjustment (`geom.bundle`) and of self-calibration (SIMPLE_RADIAL where fx = fy and skew = 0,
PINHOLE where k = 0 too; COLMAP's files cannot hold a skew). `k_radial_params(K, k)` builds its
parameters. A point at or behind the
camera plane (`z <= 0`) has no pixel: `project` gives NaN for it, never a mirrored pixel.

    px = project("OPENCV", params, X_cam)                      # (N, 2)
    J_point, J_params = project_jacobians("OPENCV", params, X_cam)
    xn = unproject("OPENCV", params, px)                       # (N, 2): X_cam[:, :2] / z
    K_new = undistorted_calibration("OPENCV", params, w, h)    # PINHOLE, same image size
    map_x, map_y = undistort_maps("OPENCV", params, w, h, K_new)
    undistorted = cv2.remap(img, map_x, map_y, cv2.INTER_LINEAR)

`unproject` inverts the distortion by damped Newton steps on its 2x2 Jacobian; a pixel with no
inverse (beyond a fold of the distortion, where the radial map stops growing, or a fisheye ray at
90 degrees or more off axis) gives NaN, never an unconverged value.

Numba code calls the scalar kernels `_project_point` and `_unproject_point` with the integer
model id `ALL_MODELS[name][0]` (COLMAP's model ids; `K_RADIAL_ID` for K_RADIAL): they are the one
place where mvdepth turns a camera-frame point into a pixel.
"""
import numpy as np
from numba import njit

from . import _checks

MODELS = {
    "SIMPLE_PINHOLE": (0, ("f", "cx", "cy")),
    "PINHOLE": (1, ("fx", "fy", "cx", "cy")),
    "SIMPLE_RADIAL": (2, ("f", "cx", "cy", "k")),
    "RADIAL": (3, ("f", "cx", "cy", "k1", "k2")),
    "OPENCV": (4, ("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2")),
    "OPENCV_FISHEYE": (5, ("fx", "fy", "cx", "cy", "k1", "k2", "k3", "k4")),
    "FULL_OPENCV": (6, ("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2", "k3", "k4", "k5", "k6")),
    "SIMPLE_RADIAL_FISHEYE": (8, ("f", "cx", "cy", "k")),
    "RADIAL_FISHEYE": (9, ("f", "cx", "cy", "k1", "k2")),
}
"""Model name -> (model id, parameter names in order). Ids and names are COLMAP's."""

K_RADIAL_ID = 16  # beyond COLMAP's ids
MVDEPTH_MODELS = {"K_RADIAL": (K_RADIAL_ID, ("fx", "fy", "cx", "cy", "skew", "k"))}
"""mvdepth's models beyond COLMAP's, as `MODELS` (see the module docstring)."""

ALL_MODELS = {**MODELS, **MVDEPTH_MODELS}

FISHEYE = frozenset({"OPENCV_FISHEYE", "SIMPLE_RADIAL_FISHEYE", "RADIAL_FISHEYE"})
"""Models that distort the equidistant angle theta = atan(r) instead of r."""

# One general model serves all: each model's parameters fill slots of the canonical coefficient
# vector (fx, fy, cx, cy, numerator n1..n4, denominator d1..d3, p1, p2, skew) through _LAYOUT
# (model id, slot) -> parameter index or -1 (absent, 0). 'f' fills fx and fy, 'k' fills n1; the
# fisheye k4 is a fourth numerator term, OpenCV's k4..k6 the denominator.
_SLOTS = {False: ("fx", "fy", "cx", "cy", "k1", "k2", "k3", "", "k4", "k5", "k6", "p1", "p2",
                  "skew"),
          True: ("fx", "fy", "cx", "cy", "k1", "k2", "k3", "k4", "", "", "", "", "", "skew")}
_ALIAS = {"f": ("fx", "fy"), "k": ("k1",)}
_N_SLOTS = 14
_N1, _D1, _P1, _P2, _SKEW = 4, 8, 11, 12, 13


def _layout_table():
    table = np.full((max(i for i, _ in ALL_MODELS.values()) + 1, _N_SLOTS), -1, np.int64)
    fisheye = np.zeros(table.shape[0], np.bool_)
    for name, (model_id, names) in ALL_MODELS.items():
        fisheye[model_id] = name in FISHEYE
        slots = _SLOTS[name in FISHEYE]
        for i, p in enumerate(names):
            for q in _ALIAS.get(p, (p,)):
                table[model_id, slots.index(q)] = i
    return table, fisheye


_LAYOUT, _IS_FISHEYE = _layout_table()
_NEWTON_ITERATIONS = 50


# ---------------------------------------------------------------------------- public API

def model_params(model, params):
    """Validate `(model, params)`: returns (model id, params as a float64 (P,) array).

    Raises ValueError naming `model` (unknown name) or `params` (wrong count, NaN or inf, a focal
    length that is not positive). `model`: a name of `ALL_MODELS`.
    """
    if not isinstance(model, str) or model not in ALL_MODELS:
        raise ValueError(f"model: unknown camera model {model!r}; "
                         f"expected one of {', '.join(ALL_MODELS)}")
    model_id, names = ALL_MODELS[model]
    p = _checks.array(params, "params", (None,))
    if p.shape[0] != len(names):
        raise ValueError(f"params: {model} takes {len(names)} parameters ({', '.join(names)}), "
                         f"got {p.shape[0]}")
    if (p[_LAYOUT[model_id, :2]] <= 0).any():
        raise ValueError(f"params: focal lengths must be positive, got {p[_LAYOUT[model_id, :2]]}")
    return model_id, p


def calibration_matrix(model, params):
    """Intrinsic matrix `K` (3, 3) of the model's pinhole part (focal lengths, principal point,
    skew)."""
    model_id, p = model_params(model, params)
    fx, fy, cx, cy, s = (p[i] if i >= 0 else 0.0 for i in _LAYOUT[model_id, [0, 1, 2, 3, _SKEW]])
    return np.array([[fx, s, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def k_radial_params(K, k):
    """K_RADIAL's parameters (..., 6): (fx, fy, cx, cy, skew, k) of calibration matrices K
    (..., 3, 3) (K[2, 2] = 1) with radial coefficients k (...)."""
    K = np.asarray(K, dtype=np.float64)
    return np.stack([K[..., 0, 0], K[..., 1, 1], K[..., 0, 2], K[..., 1, 2], K[..., 0, 1],
                     np.broadcast_to(np.asarray(k, dtype=np.float64), K.shape[:-2])], axis=-1)


def project(model, params, X_cam):
    """Camera-frame points (N, 3) -> pixels (N, 2); NaN rows for points with z <= 0."""
    model_id, p = model_params(model, params)
    X = _checks.points(X_cam, "X_cam", 3)
    out = np.empty((X.shape[0], 2))
    _project_kernel(model_id, p, X, out, np.empty((0, 2, 3)), np.empty((0, 2, p.shape[0])))
    return out


def project_jacobians(model, params, X_cam):
    """Jacobians of `project` at camera-frame points (N, 3).

    Returns J_point (N, 2, 3), d pixel / d (x, y, z), and J_params (N, 2, P), d pixel / d params
    in the model's parameter order; NaN for points with z <= 0.
    """
    model_id, p = model_params(model, params)
    X = _checks.points(X_cam, "X_cam", 3)
    n = X.shape[0]
    J_point, J_params = np.empty((n, 2, 3)), np.empty((n, 2, p.shape[0]))
    _project_kernel(model_id, p, X, np.empty((n, 2)), J_point, J_params)
    return J_point, J_params


def unproject(model, params, xy):
    """Pixels (N, 2) -> normalised undistorted coordinates (N, 2), the inverse of `project` on
    the z = 1 plane; NaN rows for pixels with no inverse (see the module docstring)."""
    model_id, p = model_params(model, params)
    xy = _checks.points(xy, "xy")
    out = np.empty_like(xy)
    _unproject_kernel(model_id, p, xy, out)
    return out


def undistorted_calibration(model, params, width, height, *, blank=0.0):
    """A PINHOLE calibration `K_new` (3, 3) for undistorting `width` x `height` images to the
    same size, as COLMAP's image undistorter chooses one.

    The focal lengths are the model's times one scale and the principal point centres the view:
    blank=0 keeps only valid pixels (each pixel of the undistorted image samples inside the
    original), blank=1 keeps every original pixel centre (with blank borders); values between
    interpolate the field of view. Raises ValueError where the distortion has no inverse on the
    image border.
    """
    model_id, p = model_params(model, params)
    width, height = _checks.integer(width, "width", 1), _checks.integer(height, "height", 1)
    if not 0.0 <= blank <= 1.0:
        raise ValueError(f"blank: expected a number in [0, 1], got {blank}")
    xs, ys = np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64)
    edges = [np.column_stack([np.full(height, x), ys]) for x in (0.0, width - 1.0)]
    edges += [np.column_stack([xs, np.full(width, y)]) for y in (0.0, height - 1.0)]
    left, right, top, bottom = (unproject(model, p, e) for e in edges)
    border = np.concatenate([left, right, top, bottom])
    if not np.isfinite(border).all():
        raise ValueError(f"params: the {model} distortion has no inverse on the image border")
    inner = np.array([[left[:, 0].max(), top[:, 1].max()], [right[:, 0].min(), bottom[:, 1].min()]])
    outer = np.array([border.min(axis=0), border.max(axis=0)])
    f = calibration_matrix(model, p)[[0, 1], [0, 1]]
    size = np.array([width - 1.0, height - 1.0])  # pixel centres span 0 .. size
    s_inner = (size / (f * (inner[1] - inner[0]))).max()
    s_outer = (size / (f * (outer[1] - outer[0]))).min()
    s = 1.0 / ((1.0 - blank) / s_inner + blank / s_outer)
    centre = (1.0 - blank) * inner.mean(axis=0) + blank * outer.mean(axis=0)
    (fx, fy), (cx, cy) = s * f, size / 2 - s * f * centre
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def undistort_maps(model, params, width, height, *, K_new=None):
    """Lookup maps for `cv2.remap` that undistort a `width` x `height` image to a PINHOLE image
    of the same size with calibration `K_new` (3, 3), default `undistorted_calibration(..)`.

    Returns (map_x, map_y), float32 (height, width): the original pixel sampled at each
    undistorted pixel.
    """
    model_id, p = model_params(model, params)
    width, height = _checks.integer(width, "width", 1), _checks.integer(height, "height", 1)
    K_new = (undistorted_calibration(model, p, width, height) if K_new is None
             else _checks.intrinsics(K_new, "K_new"))
    map_x = np.empty((height, width), np.float32)
    map_y = np.empty((height, width), np.float32)
    _maps_kernel(model_id, p, np.linalg.inv(K_new), map_x, map_y)
    return map_x, map_y


# ---------------------------------------------------------------------------- kernels

# Explicit signatures: one compilation each, not one per literal slot a caller passes
@njit("float64(int64, float64[::1], int64)", cache=True)
def _coef(model_id, params, slot):
    i = _LAYOUT[model_id, slot]
    return params[i] if i >= 0 else 0.0


@njit(cache=True, inline="always")
def _radial(model_id, params, r2):
    """Radial factor R(r2) and its derivative dR/dr2, with the denominator D(r2)."""
    n1, n2 = _coef(model_id, params, _N1), _coef(model_id, params, _N1 + 1)
    n3, n4 = _coef(model_id, params, _N1 + 2), _coef(model_id, params, _N1 + 3)
    d1, d2, d3 = (_coef(model_id, params, _D1), _coef(model_id, params, _D1 + 1),
                  _coef(model_id, params, _D1 + 2))
    num = 1.0 + r2 * (n1 + r2 * (n2 + r2 * (n3 + r2 * n4)))
    den = 1.0 + r2 * (d1 + r2 * (d2 + r2 * d3))
    R = num / den
    dnum = n1 + r2 * (2.0 * n2 + r2 * (3.0 * n3 + r2 * 4.0 * n4))
    dden = d1 + r2 * (2.0 * d2 + r2 * 3.0 * d3)
    return R, (dnum - R * dden) / den, den


@njit(cache=True, inline="always")
def _distort(model_id, params, a, b):
    """Distortion (a, b) -> (ad, bd) and its Jacobian (j00, j01, j10, j11)."""
    p1, p2 = _coef(model_id, params, _P1), _coef(model_id, params, _P2)
    r2 = a * a + b * b
    R, dR, _ = _radial(model_id, params, r2)
    ad = a * R + 2.0 * p1 * a * b + p2 * (r2 + 2.0 * a * a)
    bd = b * R + p1 * (r2 + 2.0 * b * b) + 2.0 * p2 * a * b
    cross = 2.0 * a * b * dR + 2.0 * p1 * a + 2.0 * p2 * b
    return (ad, bd, R + 2.0 * a * a * dR + 2.0 * p1 * b + 6.0 * p2 * a, cross,
            cross, R + 2.0 * b * b * dR + 6.0 * p1 * b + 2.0 * p2 * a)


@njit(cache=True)
def _equidistant(u, v):
    """Fisheye angle map (u, v) -> s (u, v), s = atan(r) / r, with its Jacobian."""
    r2 = u * u + v * v
    if r2 < 1e-4:  # series of s and of t = (ds/dr) / r; the closed forms cancel near 0
        s = 1.0 - r2 * (1.0 / 3.0 - r2 * (0.2 - r2 / 7.0))
        t = -2.0 / 3.0 + r2 * (0.8 - r2 * 6.0 / 7.0)
    else:
        r = np.sqrt(r2)
        s = np.arctan(r) / r
        t = (1.0 / (1.0 + r2) - s) / r2
    return s * u, s * v, s + t * u * u, t * u * v, t * u * v, s + t * v * v


@njit(cache=True, inline="always")
def _project_point(model_id, params, x, y, z, J_point, J_params):
    """Project one camera-frame point: returns the pixel (px, py).

    model_id: int, `MODELS[name][0]`; params: float64 (P,) C-contiguous; x, y, z: floats.
    J_point: float64 (2, 3) C-contiguous, filled with d pixel / d (x, y, z); J_params: float64
    (2, P), filled with d pixel / d params. Pass a (0, 3) or (0, P) array to skip either
    Jacobian. z <= 0 (or NaN) gives a NaN pixel and NaN Jacobians. Callable from other njit code.
    """
    want, want_params = J_point.shape[0] > 0, J_params.shape[0] > 0
    if not z > 0.0:
        if want:
            J_point[:] = np.nan
        if want_params:
            J_params[:] = np.nan
        return np.nan, np.nan
    iz = 1.0 / z
    u, v = x * iz, y * iz
    if _IS_FISHEYE[model_id]:
        a, b, f00, f01, f10, f11 = _equidistant(u, v)
    else:
        a, b, f00, f01, f10, f11 = u, v, 1.0, 0.0, 0.0, 1.0
    ad, bd, d00, d01, d10, d11 = _distort(model_id, params, a, b)
    fx, fy = _coef(model_id, params, 0), _coef(model_id, params, 1)
    s = _coef(model_id, params, _SKEW)
    if want:
        m10, m11 = d10 * f00 + d11 * f10, d10 * f01 + d11 * f11  # d (ad, bd) / d (u, v)
        g00 = fx * (d00 * f00 + d01 * f10) + s * m10
        g01 = fx * (d00 * f01 + d01 * f11) + s * m11
        g10, g11 = fy * m10, fy * m11
        J_point[0, 0], J_point[0, 1], J_point[0, 2] = g00 * iz, g01 * iz, -(g00 * u + g01 * v) * iz
        J_point[1, 0], J_point[1, 1], J_point[1, 2] = g10 * iz, g11 * iz, -(g10 * u + g11 * v) * iz
    if want_params:
        _params_jacobian(model_id, params, a, b, fx, fy, s, ad, bd, J_params)
    return fx * ad + s * bd + _coef(model_id, params, 2), fy * bd + _coef(model_id, params, 3)


@njit(cache=True)
def _params_jacobian(model_id, params, a, b, fx, fy, s, ad, bd, J):
    """Fill J (2, P) with d pixel / d params: each canonical slot's derivative is added to the
    column of the parameter that fills it (so a shared 'f' sums the fx and fy terms)."""
    J[:] = 0.0
    r2 = a * a + b * b
    R, _, den = _radial(model_id, params, r2)
    _add(J, model_id, 0, ad, 0.0)
    _add(J, model_id, 1, 0.0, bd)
    _add(J, model_id, 2, 1.0, 0.0)
    _add(J, model_id, 3, 0.0, 1.0)
    _add(J, model_id, _SKEW, bd, 0.0)
    power = r2 / den
    for i in range(4):
        _add(J, model_id, _N1 + i, fx * a * power + s * b * power, fy * b * power)
        if i < 3:
            _add(J, model_id, _D1 + i, -fx * a * R * power - s * b * R * power,
                 -fy * b * R * power)
        power *= r2
    q1, q2 = r2 + 2.0 * b * b, r2 + 2.0 * a * a  # d bd / d p1, d ad / d p2
    _add(J, model_id, _P1, fx * 2.0 * a * b + s * q1, fy * q1)
    _add(J, model_id, _P2, fx * q2 + s * 2.0 * a * b, fy * 2.0 * a * b)


@njit("void(float64[:, ::1], int64, int64, float64, float64)", cache=True)
def _add(J, model_id, slot, d0, d1):
    i = _LAYOUT[model_id, slot]
    if i >= 0:
        J[0, i] += d0
        J[1, i] += d1


@njit(cache=True)
def _project_kernel(model_id, params, X, out, J_point, J_params):
    want = J_point.shape[0] > 0
    skip_point, skip_params = np.empty((0, 3)), np.empty((0, params.shape[0]))
    for i in range(X.shape[0]):
        jp = J_point[i] if want else skip_point
        jq = J_params[i] if want else skip_params
        out[i, 0], out[i, 1] = _project_point(model_id, params, X[i, 0], X[i, 1], X[i, 2], jp, jq)


@njit(cache=True)
def _unproject_point(model_id, params, px, py):
    """Pixel (px, py) -> normalised undistorted coordinates (u, v), or (NaN, NaN) where the
    model has no inverse there. model_id, params as for `_project_point`. Callable from njit."""
    fx, cx = _coef(model_id, params, 0), _coef(model_id, params, 2)
    fy, cy = _coef(model_id, params, 1), _coef(model_id, params, 3)
    bd = (py - cy) / fy
    ad = (px - cx - _coef(model_id, params, _SKEW) * bd) / fx
    a, b = _undistort(model_id, params, ad, bd)
    if not _IS_FISHEYE[model_id]:
        return a, b
    theta = np.sqrt(a * a + b * b)
    if not theta < 0.5 * np.pi:  # NaN included
        return np.nan, np.nan
    s = np.tan(theta) / theta if theta > 1e-8 else 1.0
    return s * a, s * b


@njit(cache=True)
def _undistort(model_id, params, ad, bd):
    """Solve _distort(a, b) = (ad, bd) by Newton steps from (ad, bd), each halved until it lowers
    the residual. Converged: residual <= 1e-12 (1 + |ad| + |bd|) with a positive Jacobian
    determinant (the monotonic side of any fold); else (NaN, NaN)."""
    tol = 1e-12 * (1.0 + abs(ad) + abs(bd))
    a, b = ad, bd
    xa, xb, j00, j01, j10, j11 = _distort(model_id, params, a, b)
    err = np.hypot(xa - ad, xb - bd)
    for _ in range(_NEWTON_ITERATIONS):
        det = j00 * j11 - j01 * j10
        if not det > 0.0 or err <= 1e-4 * tol:
            break
        ea, eb = xa - ad, xb - bd
        sa, sb = (j11 * ea - j01 * eb) / det, (j00 * eb - j10 * ea) / det
        t = 1.0
        while t > 1e-6:
            na, nb = a - t * sa, b - t * sb
            ya, yb, k00, k01, k10, k11 = _distort(model_id, params, na, nb)
            new_err = np.hypot(ya - ad, yb - bd)
            if new_err < err:
                break
            t *= 0.5
        if not new_err < err:  # at the rounding floor, or stuck
            break
        a, b, err = na, nb, new_err
        xa, xb, j00, j01, j10, j11 = ya, yb, k00, k01, k10, k11
    if err <= tol and j00 * j11 - j01 * j10 > 0.0:
        return a, b
    return np.nan, np.nan


@njit(cache=True)
def _unproject_kernel(model_id, params, xy, out):
    for i in range(xy.shape[0]):
        out[i, 0], out[i, 1] = _unproject_point(model_id, params, xy[i, 0], xy[i, 1])


@njit(cache=True)
def _maps_kernel(model_id, params, K_inv, map_x, map_y):
    skip_point, skip_params = np.empty((0, 3)), np.empty((0, params.shape[0]))
    for i in range(map_x.shape[0]):
        for j in range(map_x.shape[1]):
            x = K_inv[0, 0] * j + K_inv[0, 1] * i + K_inv[0, 2]
            y = K_inv[1, 1] * i + K_inv[1, 2]
            map_x[i, j], map_y[i, j] = _project_point(model_id, params, x, y, 1.0, skip_point,
                                                      skip_params)
