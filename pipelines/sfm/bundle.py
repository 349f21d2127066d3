"""Bundle adjustment: cameras and points refined together by robust least squares.

Minimises the pixel reprojection errors of observations (camera c, point p, pixel x) over the
camera poses and the points, intrinsics fixed, with `scipy.optimize.least_squares` (trust-region
reflective, LSMR steps) on an analytic sparse Jacobian computed by numba kernels. The Huber loss
is applied by iteratively reweighted least squares (`IRLS_ROUNDS` rounds, weights
`min(1, scale / error)` per observation from the errors at the start of the round): scipy's own
robust losses stall with inexact LSMR steps and cost ten times more. A rotation is updated
multiplicatively, `R = exp([w]x) R0`, with the exact derivative of the exponential map (its left
Jacobian), so the optimiser sees consistent derivatives at every step.

Gauge: the first camera's pose is fixed, and so is the coordinate of the second camera's
translation along which the two centres are farthest apart (the scale); the world frame of the
input is kept.
"""
from dataclasses import dataclass

import numpy as np
import scipy.optimize
import scipy.sparse
from numba import njit, prange

from geom import _checks
from geom.camera import Camera


IRLS_ROUNDS = 3


@dataclass
class BundleResult:
    """Refined cameras (list of `Camera`), points X (P, 3), per-observation pixel errors before
    and after (O,), and the optimiser's number of function evaluations."""

    cameras: list
    points: np.ndarray
    initial_errors: np.ndarray
    errors: np.ndarray
    evaluations: int


def bundle_adjust(cameras, X, obs_camera, obs_point, obs_xy, loss="huber", loss_scale=2.0,
                  max_evaluations=50, fix_gauge=True, tolerance=1e-8):
    """Refine cameras and points by minimising robust reprojection errors.

    cameras: C `Camera`s (C >= 2, the first two set the gauge). X: (P, 3) points. obs_camera,
    obs_point: (O,) int indices of the observing camera and the observed point; obs_xy: (O, 2)
    observed pixels. loss: 'huber' (robust, by reweighting) or 'linear' (plain least squares,
    for observations already rid of outliers); loss_scale: pixels where the Huber loss turns
    linear. max_evaluations: residual evaluations in all. tolerance: scipy's ftol, xtol, gtol
    and the LSMR step tolerances. fix_gauge: False
    leaves every pose free (a rank-deficient problem; only for tests). Returns a `BundleResult`.
    """
    if loss not in ("huber", "linear"):
        raise ValueError(f"loss: expected 'huber' or 'linear', got {loss!r}")
    if len(cameras) < 2:
        raise ValueError(f"cameras: need at least 2, got {len(cameras)}")
    for k, c in enumerate(cameras):
        _checks.camera(c, f"cameras[{k}]")
    X = _checks.points(X, "X", 3, min_count=1)
    obs_xy = _checks.points(obs_xy, "obs_xy", 2, min_count=1)
    n_obs = obs_xy.shape[0]
    obs_camera = _index(obs_camera, "obs_camera", n_obs, len(cameras))
    obs_point = _index(obs_point, "obs_point", n_obs, X.shape[0])
    C, P = len(cameras), X.shape[0]
    R0 = np.stack([c.R for c in cameras])
    t0 = np.stack([c.t for c in cameras])
    K = np.stack([c.K for c in cameras])
    free = np.ones(6 * C + 3 * P, dtype=bool)
    if fix_gauge:
        free[:6] = False
        t_rel = t0[1] - R0[1] @ R0[0].T @ t0[0]
        free[6 + 3 + int(np.argmax(np.abs(t_rel)))] = False
    column = np.full(free.size, -1, np.int64)
    column[free] = np.arange(free.sum())
    full = np.concatenate([np.zeros((C, 3)), t0], axis=1).ravel()
    full = np.concatenate([full, X.ravel()])

    def unpack(x):
        v = full.copy()
        v[free] = x
        return v[:6 * C].reshape(C, 6), v[6 * C:].reshape(P, 3)

    weight = np.ones(2 * n_obs)  # square roots of the IRLS weights, per residual row

    def raw_residuals(x):
        cam, pts = unpack(x)
        out = np.empty(2 * n_obs)
        _residuals(cam, R0, K, pts, obs_camera, obs_point, obs_xy, out)
        return out

    def residuals(x):
        return raw_residuals(x) * weight

    rows, cols, keep = _structure(obs_camera, obs_point, column, C)

    def jacobian(x):
        cam, pts = unpack(x)
        data = np.empty(n_obs * 18)
        _jacobian(cam, R0, K, pts, obs_camera, obs_point, data)
        data *= np.repeat(weight, 9)
        return scipy.sparse.csr_matrix((data[keep], (rows, cols)), shape=(2 * n_obs, free.sum()))

    x = full[free]
    r0 = np.hypot(*raw_residuals(x).reshape(-1, 2).T)
    evaluations = 0
    for _ in range(IRLS_ROUNDS if loss == "huber" else 1):
        if loss == "huber":  # Huber's weight min(1, scale / error) of each observation
            err = np.hypot(*raw_residuals(x).reshape(-1, 2).T)
            weight[:] = np.repeat(np.sqrt(np.minimum(1.0, loss_scale / np.maximum(err, 1e-12))), 2)
        sol = scipy.optimize.least_squares(
            residuals, x, jac=jacobian, method="trf", tr_solver="lsmr",
            tr_options={"atol": tolerance, "btol": tolerance},
            max_nfev=max(1, int(max_evaluations) // (IRLS_ROUNDS if loss == "huber" else 1)),
            ftol=tolerance, xtol=tolerance, gtol=tolerance)
        x, evaluations = sol.x, evaluations + sol.nfev
    cam, pts = unpack(x)
    out = []
    for c in range(C):
        R = _exp_rotation(cam[c, :3]) @ R0[c]
        u, _, vt = np.linalg.svd(R)
        out.append(cameras[c].with_pose(u @ vt, cam[c, 3:]))
    return BundleResult(out, pts, r0, np.hypot(*raw_residuals(x).reshape(-1, 2).T),
                        int(evaluations))


def _index(a, name, n, bound):
    a = np.asarray(a)
    if a.shape != (n,) or not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{name}: expected ({n},) integer indices, got {a.dtype} {a.shape}")
    if n and (a.min() < 0 or a.max() >= bound):
        raise ValueError(f"{name}: indices must be in [0, {bound}), got [{a.min()}, {a.max()}]")
    return np.ascontiguousarray(a, dtype=np.int64)


def _structure(obs_camera, obs_point, column, C):
    """Row and column of every Jacobian entry kept (free parameters), in the kernel's order."""
    n = obs_camera.size
    full = np.empty((n, 2, 9), np.int64)
    base_c = 6 * obs_camera[:, None] + np.arange(6)
    base_p = 6 * C + 3 * obs_point[:, None] + np.arange(3)
    full[:, :, :6] = base_c[:, None, :]
    full[:, :, 6:] = base_p[:, None, :]
    rows = np.broadcast_to((2 * np.arange(n)[:, None] + np.arange(2))[:, :, None], full.shape)
    cols = column[full].ravel()
    keep = cols >= 0
    return rows.ravel()[keep], cols[keep], keep


def _exp_rotation(w):
    R = np.empty((3, 3))
    _exp(w, R)
    return R


@njit(cache=True)
def _exp(w, R):
    """Rodrigues' formula: R = exp([w]x)."""
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
def _left_jacobian(w, J):
    """J_l(w) = I + (1 - cos th)/th^2 [w]x + (th - sin th)/th^3 [w]x^2, so that
    exp(w + d) ~ exp(J_l d) exp(w)."""
    th2 = w[0] * w[0] + w[1] * w[1] + w[2] * w[2]
    th = np.sqrt(th2)
    if th < 1e-6:
        b, c = 0.5 - th2 / 24.0, 1.0 / 6.0 - th2 / 120.0
    else:
        b, c = (1.0 - np.cos(th)) / th2, (th - np.sin(th)) / (th2 * th)
    W = np.array([[0.0, -w[2], w[1]], [w[2], 0.0, -w[0]], [-w[1], w[0], 0.0]])
    W2 = W @ W
    for i in range(3):
        for j in range(3):
            J[i, j] = (1.0 if i == j else 0.0) + b * W[i, j] + c * W2[i, j]


@njit(cache=True)
def _rotations(cam, R0):
    C = cam.shape[0]
    R = np.empty((C, 3, 3))
    E = np.empty((3, 3))
    for c in range(C):
        _exp(cam[c, :3], E)
        R[c] = E @ R0[c]
    return R


@njit(cache=True, parallel=True)
def _residuals(cam, R0, K, X, obs_camera, obs_point, obs_xy, out):
    R = _rotations(cam, R0)
    for o in prange(obs_camera.size):
        c, p = obs_camera[o], obs_point[o]
        q = R[c] @ X[p] + cam[c, 3:]
        Kc = K[c]
        out[2 * o] = (Kc[0, 0] * q[0] + Kc[0, 1] * q[1]) / q[2] + Kc[0, 2] - obs_xy[o, 0]
        out[2 * o + 1] = Kc[1, 1] * q[1] / q[2] + Kc[1, 2] - obs_xy[o, 1]


@njit(cache=True, parallel=True)
def _jacobian(cam, R0, K, X, obs_camera, obs_point, data):
    """Per observation 2 rows x 9 entries: d(u, v)/d(w, t, X), in this order."""
    C = cam.shape[0]
    R = _rotations(cam, R0)
    Jl = np.empty((C, 3, 3))
    for c in range(C):
        _left_jacobian(cam[c, :3].copy(), Jl[c])
    for o in prange(obs_camera.size):
        c, p = obs_camera[o], obs_point[o]
        RX = R[c] @ X[p]
        q = RX + cam[c, 3:]
        iz = 1.0 / q[2]
        Kc = K[c]
        # d(u, v)/dq
        du = np.array([Kc[0, 0] * iz, Kc[0, 1] * iz, -(Kc[0, 0] * q[0] + Kc[0, 1] * q[1]) * iz * iz])
        dv = np.array([0.0, Kc[1, 1] * iz, -Kc[1, 1] * q[1] * iz * iz])
        # dq/dw = -[RX]x J_l
        S = np.array([[0.0, RX[2], -RX[1]], [-RX[2], 0.0, RX[0]], [RX[1], -RX[0], 0.0]])
        Dw = S @ Jl[c]
        for r in range(2):
            g = du if r == 0 else dv
            base = o * 18 + r * 9
            for k in range(3):
                data[base + k] = g[0] * Dw[0, k] + g[1] * Dw[1, k] + g[2] * Dw[2, k]
                data[base + 3 + k] = g[k]
                data[base + 6 + k] = g[0] * R[c, 0, k] + g[1] * R[c, 1, k] + g[2] * R[c, 2, k]
