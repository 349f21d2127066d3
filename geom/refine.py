"""Non-linear refinement on the model's manifold, three problems of the one Levenberg-Marquardt
driver (`geom.lm`).

- Relative pose (5 degrees of freedom: rotation and the direction of t) minimising the Sampson
  error of the correspondences, `refine_relative_pose`.
- Fundamental matrix (7 degrees of freedom: rank 2, up to scale) minimising the Sampson error,
  optionally under a robust Cauchy loss, `refine_fundamental`.
- Absolute pose (6 degrees of freedom) minimising the reprojection error of 3D-2D matches,
  `refine_absolute_pose`.

Pose updates are `R <- exp([w]x) R` and, for the relative pose, `t <- normalise(t + a b1 +
b b2)` with `b1, b2` an orthonormal basis of the tangent plane of the unit sphere at `t`. Conventions
(DESIGN.md): `X2 = R X1 + t` for relative poses, `x_cam = R X + t` for absolute poses.
The robust estimators in `geom.robust` call these kernels on their inliers (as the non-minimal
refit of their local optimisation and as the final polish).
"""
from collections import namedtuple

import numpy as np
from numba import literally, njit

from . import _checks, lm
from ._linalg import _normalizer
from .epipolar import _epipolar_terms
from .rotation import _exp_into, _mul3, _skew_into


def refine_relative_pose(R, t, x1, x2, K1, K2, *, max_iterations=30):
    """Relative pose (R, t) refined to minimise the squared Sampson errors (pixels) of x1, x2
    (N, 2), N >= 5 (pass the inliers), under F = K2^-T [t]x R K1^-1. Returns (R (3, 3), t (3,)
    unit norm). The cost does not see the sign of t: cheirality is kept from the initial pose."""
    R = _checks.rotation(R)
    t = _checks.vector3(t, "t")
    if np.linalg.norm(t) == 0:
        raise ValueError("t: zero translation has no direction")
    x1, x2 = _checks.point_pairs(x1, x2, min_count=5)
    K1, K2 = _checks.intrinsics(K1, "K1"), _checks.intrinsics(K2, "K2")
    _checks.rays(x1, K1, "x1")
    _checks.rays(x2, K2, "x2")
    K1inv, K2inv = np.linalg.inv(K1), np.linalg.inv(K2)
    max_iterations = _checks.integer(max_iterations, "max_iterations", 0)
    R, t = R.copy(), t / np.linalg.norm(t)
    _refine_relative(x1, x2, np.ones(len(x1)), K1inv, K2inv, R, t, max_iterations)
    return R, t


def refine_fundamental(F, x1, x2, *, scale=None, max_iterations=100, tolerance=1e-10):
    """Fundamental matrix F (3, 3) refined to minimise the Sampson errors (pixels) of x1, x2
    (N, 2), N >= 7 (pass the inliers), over rank-2 matrices: the sum of squared errors, or with
    `scale` (pixels) the Cauchy loss `scale^2 log(1 + d^2 / scale^2)` of each error d, which
    discounts the errors well beyond `scale`. Returns F (3, 3), rank 2, unit Frobenius norm.
    The initial F need not have rank 2 (its nearest rank-2 matrix is the starting point). With a
    scale below the noise the Cauchy cost converges linearly: allow ~100 iterations. Stops when
    an accepted step lowers the cost by less than `tolerance` times the cost."""
    F = _checks.matrix3(F, "F")
    if not np.any(F):
        raise ValueError("F: the zero matrix is no fundamental matrix")
    x1, x2 = _checks.point_pairs(x1, x2, min_count=7)
    scale = 0.0 if scale is None else _checks.positive(scale, "scale")
    max_iterations = _checks.integer(max_iterations, "max_iterations", 0)
    tolerance = _checks.positive(tolerance, "tolerance")
    F = F / np.linalg.norm(F)
    _refine_fundamental(x1, x2, np.ones(len(x1)), scale, F, max_iterations, tolerance)
    return F


def refine_absolute_pose(R, t, X, x, K, *, max_iterations=30):
    """Absolute pose (R, t) refined to minimise the squared reprojection errors of world points
    X (N, 3) seen at pixels x (N, 2), N >= 3 (pass the inliers). Returns (R (3, 3), t (3,))."""
    R = _checks.rotation(R)
    t = _checks.vector3(t, "t")
    X, x = _checks.point_pairs(X, x, min_count=3, names=("X", "x"), dims=(3, 2))
    K = _checks.intrinsics(K)
    _checks.rays(x, K, "x")
    max_iterations = _checks.integer(max_iterations, "max_iterations", 0)
    R, t = R.copy(), t.copy()
    _refine_absolute(X, x, np.ones(len(x)), K, R, t, max_iterations)
    return R, t


# ---------------------------------------------------------------------------- kernels

# the problems' data (geom.lm): weights w (N,) of the correspondences, and constants
_Relative = namedtuple("_Relative", "x1 x2 w K1inv K2inv")
_Fundamental = namedtuple("_Fundamental", "x1 x2 w scale T1 T2t")
_Absolute = namedtuple("_Absolute", "X x w K")
_UNLIMITED = 1 << 30  # evaluations: the refinements stop by iterations and tolerance


@njit(cache=True)
def _refine_relative(x1, x2, w, K1inv, K2inv, R, t, max_iterations):
    """LM on the pixel Sampson cost (weights w) of x1, x2 (N, 2) pixels under
    F = K2^-T [t]x R K1^-1 over (R, t), |t| = 1, in place. Returns the final cost."""
    params = np.empty(12)
    params[:9] = R.ravel()
    params[9:] = t
    cost, _ = lm.levenberg_marquardt(params, _Relative(x1, x2, w, K1inv, K2inv), 5,
                                     max_iterations, _UNLIMITED, 1e-10)
    R[:] = params[:9].reshape(3, 3)
    t[:] = params[9:]
    return cost


@njit(cache=True)
def _relative_fundamental(params, d):
    """F = K2^-T [t]x R K1^-1 of the relative pose params (R (9,), t (3,))."""
    S = np.empty((3, 3))
    _skew_into(params[9:], S)
    return np.ascontiguousarray(d.K2inv.T) @ S @ params[:9].reshape(3, 3) @ d.K1inv


@njit(cache=True)
def _relative_cost(params, data):
    return _sampson_cost(_relative_fundamental(params, data), data.x1, data.x2, data.w, 0.0)


@njit(cache=True)
def _relative_linearise(params, data):
    """Derivatives of E = [t]x R: rotation d/dw_k = [t]x [e_k]x R, translation [b_j]x R, b_j
    the tangent basis of the unit sphere at t."""
    R = params[:9].reshape(3, 3)
    t = params[9:]
    b1, b2 = _tangent_basis(t)
    S = np.empty((3, 3))
    Ek = np.empty((3, 3))
    _skew_into(t, S)
    dF = np.empty((5, 3, 3))
    K2invT = np.ascontiguousarray(data.K2inv.T)
    ek = np.zeros(3)
    for k in range(3):
        ek[:] = 0.0
        ek[k] = 1.0
        _skew_into(ek, Ek)
        dF[k] = K2invT @ S @ Ek @ R @ data.K1inv
    _skew_into(b1, Ek)
    dF[3] = K2invT @ Ek @ R @ data.K1inv
    _skew_into(b2, Ek)
    dF[4] = K2invT @ Ek @ R @ data.K1inv
    JtJ = np.empty((5, 5))
    Jtr = np.empty(5)
    _sampson_normal_equations(_relative_fundamental(params, data), dF, data.x1, data.x2, data.w, 0.0, JtJ,
                              Jtr, 5)
    return np.max(np.abs(Jtr)), (JtJ, Jtr)


@njit(cache=True)
def _relative_retract(params, step, data, out):
    """R <- exp([w]x) R (re-orthonormalised), t <- normalise(t + a b1 + b b2)."""
    _rotate(params[:9], step[:3], out[:9])
    b1, b2 = _tangent_basis(params[9:])
    t = params[9:] + step[3] * b1 + step[4] * b2
    out[9:] = t / np.sqrt(np.sum(t * t))


lm.register(_Relative, cost=_relative_cost, linearise=_relative_linearise,
            retract=_relative_retract)


@njit(cache=True)
def _rotate(R, w, out):
    """out (9,) = exp([w]x) R of a rotation R (9,), row-major, re-orthonormalised against drift."""
    E = np.empty((3, 3))
    _exp_into(w, E)
    u, _, vt = np.linalg.svd(_mul3(E, R.reshape(3, 3)))
    out[:] = (u @ vt).ravel()


@njit(cache=True)
def _tangent_basis(t):
    """Orthonormal b1, b2 (3,) spanning the plane orthogonal to the unit vector t."""
    a = np.zeros(3)
    a[np.argmin(np.abs(t))] = 1.0
    b1 = np.cross(t, a)
    b1 /= np.sqrt(np.sum(b1 * b1))
    return b1, np.cross(t, b1)


@njit(cache=True)
def _sampson_cost(F, x1, x2, w, scale):
    """sum_i w_i rho(d_i^2), d_i the pixel Sampson distance under F; rho(s) = s, or the Cauchy
    loss c^2 log(1 + s / c^2) of scale c when scale > 0."""
    c = 0.0
    s2 = scale * scale
    for i in range(x1.shape[0]):
        r, g, _, _, _, _ = _epipolar_terms(F, x1[i, 0], x1[i, 1], x2[i, 0], x2[i, 1])
        if g > 0.0:
            c += w[i] * (s2 * np.log1p(r * r / (g * s2)) if scale > 0.0 else r * r / g)
    return c


@njit(cache=True)
def _sampson_normal_equations(F, dF, x1, x2, w, scale, JtJ, Jtr, p):
    """Gauss-Newton normal equations JtJ (p, p), Jtr (p,) of `_sampson_cost` for a model with
    p parameters, derivatives dF (p, 3, 3) of F; the robust loss enters as IRLS weights. p is
    compiled as a constant (`literally`): LLVM then unrolls the per-point loops (measured: the
    relative-pose estimate 5 % faster than with p = dF.shape[0])."""
    literally(p)
    G = np.empty(p)
    JtJ[:] = 0.0
    Jtr[:] = 0.0
    for i in range(x1.shape[0]):
        u1, v1, u2, v2 = x1[i, 0], x1[i, 1], x2[i, 0], x2[i, 1]
        num, g, a, b, d, e = _epipolar_terms(F, u1, v1, u2, v2)
        if g <= 0.0:
            continue
        sg = np.sqrt(g)
        r = num / sg
        wi = w[i] / (1.0 + r * r / (scale * scale)) if scale > 0.0 else w[i]
        for k in range(p):
            # the terms are linear in F: those of dF_k are their derivatives
            dnum, _, da, db, dd, de = _epipolar_terms(dF[k], u1, v1, u2, v2)
            dg = 2.0 * (a * da + b * db + d * dd + e * de)
            G[k] = dnum / sg - 0.5 * num * dg / (g * sg)
        for k in range(p):
            Jtr[k] += wi * G[k] * r
            for m in range(k, p):
                JtJ[k, m] += wi * G[k] * G[m]
    lm.symmetrise(JtJ)


@njit(cache=True)
def _similarity(x, w):
    """Hartley's normalising similarity T (3, 3) of the points x (N, 2) (weights w); the identity
    when they coincide."""
    T = np.eye(3)
    s, a, b = _normalizer(x, w)
    if s > 0.0:
        T[0, 0] = s
        T[1, 1] = s
        T[0, 2] = a
        T[1, 2] = b
    return T


@njit(cache=True)
def _refine_fundamental(x1, x2, w, scale, F, max_iterations, tolerance):
    """LM on the pixel Sampson cost (weights w; Cauchy loss of `scale` px when scale > 0, else
    squared) of x1, x2 (N, 2) over rank-2 matrices F (3, 3), in place, left at unit Frobenius
    norm. Returns the final cost.

    Parametrisation (as COLMAP and PoseLib): F = T2^T U diag(1, sigma, 0) V^T T1, T1, T2
    Hartley's similarities of the two point sets (balance the parameters' scales), U, V
    rotations updated as U exp([a]x), V exp([b]x), and sigma additively (unbounded: the
    normalised F's two singular values are often nearly equal, and the optimum may swap them):
    7 dof, rank 2 by construction. params (19,): U (9,), V^T (9,), sigma."""
    T1 = _similarity(x1, w)
    T2t = np.ascontiguousarray(_similarity(x2, w).T)
    U, S, Vt = np.linalg.svd(np.linalg.inv(T2t) @ F @ np.linalg.inv(T1))
    U = np.ascontiguousarray(U)
    Vt = np.ascontiguousarray(Vt)
    # the third singular vectors meet a zero singular value: their signs are free
    if np.linalg.det(U) < 0.0:
        U[:, 2] = -U[:, 2]
    if np.linalg.det(Vt) < 0.0:
        Vt[2] = -Vt[2]
    params = np.empty(19)
    params[:9] = U.ravel()
    params[9:18] = Vt.ravel()
    params[18] = S[1] / S[0]
    d = _Fundamental(x1, x2, w, scale, T1, T2t)
    cost, _ = lm.levenberg_marquardt(params, d, 7, max_iterations, _UNLIMITED, tolerance)
    F[:] = _fundamental_of(params, d)
    F /= np.sqrt(np.sum(F * F))
    return cost


@njit(cache=True)
def _fundamental_factors(params, d):
    """P = T2^T U (3, 3), D = diag(1, sigma, 0), Q = V^T T1 of the params (19,)."""
    D = np.zeros((3, 3))
    D[0, 0] = 1.0
    D[1, 1] = params[18]
    return (_mul3(d.T2t, params[:9].reshape(3, 3)), D,
            _mul3(params[9:18].reshape(3, 3), d.T1))


@njit(cache=True)
def _fundamental_of(params, d):
    P, D, Q = _fundamental_factors(params, d)
    return _mul3(_mul3(P, D), Q)


@njit(cache=True)
def _fundamental_cost(params, data):
    return _sampson_cost(_fundamental_of(params, data), data.x1, data.x2, data.w, data.scale)


@njit(cache=True)
def _fundamental_linearise(params, data):
    """d/da_k: U [e_k]x D V^T; d/db_k: -U D [e_k]x V^T; d/dsigma: U diag(0, 1, 0) V^T (each
    between T2^T and T1)."""
    P, D, Q = _fundamental_factors(params, data)
    dF = np.empty((7, 3, 3))
    Ek = np.empty((3, 3))
    ek = np.zeros(3)
    for k in range(3):
        ek[:] = 0.0
        ek[k] = 1.0
        _skew_into(ek, Ek)
        dF[k] = _mul3(_mul3(P, _mul3(Ek, D)), Q)
        dF[3 + k] = -_mul3(_mul3(P, _mul3(D, Ek)), Q)
    for i in range(3):
        for j in range(3):
            dF[6, i, j] = P[i, 1] * Q[1, j]
    JtJ = np.empty((7, 7))
    Jtr = np.empty(7)
    _sampson_normal_equations(_mul3(_mul3(P, D), Q), dF, data.x1, data.x2, data.w, data.scale, JtJ, Jtr, 7)
    return np.max(np.abs(Jtr)), (JtJ, Jtr)


@njit(cache=True)
def _fundamental_retract(params, step, data, out):
    """U <- U exp([a]x), V <- V exp([b]x) (so V^T <- exp(-[b]x) V^T), sigma <- sigma + s."""
    E = np.empty((3, 3))
    _exp_into(step[:3], E)
    out[:9] = _mul3(params[:9].reshape(3, 3), E).ravel()
    _exp_into(-step[3:6], E)
    out[9:18] = _mul3(E, params[9:18].reshape(3, 3)).ravel()
    out[18] = params[18] + step[6]


lm.register(_Fundamental, cost=_fundamental_cost, linearise=_fundamental_linearise,
            retract=_fundamental_retract)


@njit(cache=True)
def _refine_absolute(X, x_, w, K, R, t, max_iterations):
    """LM on the pixel reprojection cost (weights w) of X (N, 3) seen at x_ (N, 2) by a camera
    K over (R, t), in place. Returns the final cost."""
    params = np.empty(12)
    params[:9] = R.ravel()
    params[9:] = t
    cost, _ = lm.levenberg_marquardt(params, _Absolute(X, x_, w, K), 6, max_iterations,
                                     _UNLIMITED, 1e-10)
    R[:] = params[:9].reshape(3, 3)
    t[:] = params[9:]
    return cost


@njit(cache=True)
def _absolute_cost(params, data):
    R, t, X, K = params[:9].reshape(3, 3), params[9:], data.X, data.K
    c = 0.0
    for i in range(X.shape[0]):
        x = R[0, 0] * X[i, 0] + R[0, 1] * X[i, 1] + R[0, 2] * X[i, 2] + t[0]
        y = R[1, 0] * X[i, 0] + R[1, 1] * X[i, 1] + R[1, 2] * X[i, 2] + t[1]
        z = R[2, 0] * X[i, 0] + R[2, 1] * X[i, 1] + R[2, 2] * X[i, 2] + t[2]
        if z <= 0.0:
            c += data.w[i] * 1e6  # behind the camera: a large constant keeps the cost finite
            continue
        ex = K[0, 0] * x / z + K[0, 1] * y / z + K[0, 2] - data.x[i, 0]
        ey = K[1, 1] * y / z + K[1, 2] - data.x[i, 1]
        c += data.w[i] * (ex * ex + ey * ey)
    return c


@njit(cache=True)
def _absolute_linearise(params, data):
    R, t, X, K, w = params[:9].reshape(3, 3), params[9:], data.X, data.K, data.w
    JtJ = np.zeros((6, 6))
    Jtr = np.zeros(6)
    J = np.empty((2, 6))
    for i in range(X.shape[0]):
        px = R[0, 0] * X[i, 0] + R[0, 1] * X[i, 1] + R[0, 2] * X[i, 2]
        py = R[1, 0] * X[i, 0] + R[1, 1] * X[i, 1] + R[1, 2] * X[i, 2]
        pz = R[2, 0] * X[i, 0] + R[2, 1] * X[i, 1] + R[2, 2] * X[i, 2]
        x, y, z = px + t[0], py + t[1], pz + t[2]
        if z <= 0.0:
            continue
        iz = 1.0 / z
        rx = K[0, 0] * x * iz + K[0, 1] * y * iz + K[0, 2] - data.x[i, 0]
        ry = K[1, 1] * y * iz + K[1, 2] - data.x[i, 1]
        # d(proj)/d(Xc) = [[1/z, 0, -x/z^2], [0, 1/z, -y/z^2]]; dXc/dt = I and
        # dXc/dw = -[p]x, whose columns are (0, -pz, py), (pz, 0, -px), (-py, px, 0)
        J[0, 0] = -x * iz * iz * py
        J[1, 0] = -iz * pz - y * iz * iz * py
        J[0, 1] = iz * pz + x * iz * iz * px
        J[1, 1] = y * iz * iz * px
        J[0, 2] = -iz * py
        J[1, 2] = iz * px
        J[0, 3] = iz
        J[1, 3] = 0.0
        J[0, 4] = 0.0
        J[1, 4] = iz
        J[0, 5] = -x * iz * iz
        J[1, 5] = -y * iz * iz
        for k in range(6):  # normalised to pixel coordinates: rows times K[:2, :2]
            J[0, k] = K[0, 0] * J[0, k] + K[0, 1] * J[1, k]
            J[1, k] = K[1, 1] * J[1, k]
        for k in range(6):
            Jtr[k] += w[i] * (J[0, k] * rx + J[1, k] * ry)
            for m in range(k, 6):
                JtJ[k, m] += w[i] * (J[0, k] * J[0, m] + J[1, k] * J[1, m])
    lm.symmetrise(JtJ)
    return np.max(np.abs(Jtr)), (JtJ, Jtr)


@njit(cache=True)
def _absolute_retract(params, step, data, out):
    """R <- exp([w]x) R (re-orthonormalised), t <- t + dt."""
    _rotate(params[:9], step[:3], out[:9])
    out[9:] = params[9:] + step[3:]


lm.register(_Absolute, cost=_absolute_cost, linearise=_absolute_linearise,
            retract=_absolute_retract)
