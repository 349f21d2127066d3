"""Bundle adjustment: cameras and points refined together by robust least squares.

Minimises the robust cost sum_o rho(|e_o|) of the pixel reprojection errors e_o of observations
(camera c, point p, pixel x) over the camera poses and the points, intrinsics fixed, by
Levenberg-Marquardt in numba kernels:

- analytic Jacobians; a rotation is updated multiplicatively, `R <- exp([w]x) R`, so the
  derivative is taken at w = 0 on every linearisation;
- the robust loss (Huber: rho(e) = e^2 / 2 up to `loss_scale`, linear beyond) by iteratively
  reweighted least squares: every linearisation weighs each observation by rho'(e) / e =
  min(1, scale / e), a quadratic majoriser of the cost at the current errors;
- normal equations (J^T W J + mu D) h = -J^T W r with Marquardt's scaling D = diag(J^T W J),
  reduced to the cameras by the Schur complement on the points (one 3 x 3 block per point,
  inverted in closed form); the reduced camera system, dense 6C x 6C, is solved by Cholesky
  (memory 288 (C / 100)^2 kB: fine to a few hundred cameras, beyond which a sparse or iterative
  solver would be needed);
- Nielsen's damping update from the gain ratio of actual to predicted cost reduction.

Gauge: the first camera's pose is fixed, and so is the coordinate of the second camera's
translation along which the two centres are farthest apart (the scale); the world frame of the
input is kept. Cameras marked `fixed` (a local adjustment around new cameras) are held as they
are; two or more of them set the gauge instead.
"""
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from numba import njit

from geom import _checks
from geom.camera import check_camera


MU_START = 1e-4  # first damping, relative to the diagonal of J^T W J
MU_MAX = 1e16  # damping at which a step is given up
DIAGONAL_MIN = 1e-6  # floor of Marquardt's scaling (parameters the data barely see)


@dataclass
class BundleResult:
    """Refined cameras (list of `Camera`), points X (P, 3), per-observation pixel errors before
    and after (O,; inf where the point is at or behind the camera, as
    `geom.triangulate.reprojection_errors`), and the optimiser's number of cost evaluations."""

    cameras: list
    points: np.ndarray
    initial_errors: np.ndarray
    errors: np.ndarray
    evaluations: int


def bundle_adjust(cameras, X, obs_camera, obs_point, obs_xy, loss="huber", loss_scale=2.0,
                  max_evaluations=50, fix_gauge=True, tolerance=1e-8, fixed=None):
    """Refine cameras and points by minimising robust reprojection errors.

    cameras: C `Camera`s (C >= 2, the first two set the gauge). X: (P, 3) points. obs_camera,
    obs_point: (O,) int indices of the observing camera and the observed point; obs_xy: (O, 2)
    observed pixels. loss: 'huber' (robust) or 'linear' (plain least squares, for observations
    already rid of outliers); loss_scale: pixels where the Huber loss turns linear.
    max_evaluations: cost evaluations in all (one per Levenberg-Marquardt step tried).
    tolerance: stop when an accepted step lowers the cost by less than this fraction, or when
    the largest gradient entry falls below it. fix_gauge: False leaves every pose free (a
    rank-deficient problem; only for tests). fixed: optional (C,) bool, cameras held as given;
    with two or more of them they set the gauge. Returns a `BundleResult`.
    """
    if loss not in ("huber", "linear"):
        raise ValueError(f"loss: expected 'huber' or 'linear', got {loss!r}")
    if len(cameras) < 2:
        raise ValueError(f"cameras: need at least 2, got {len(cameras)}")
    for k, c in enumerate(cameras):
        check_camera(c, f"cameras[{k}]")
    X = _checks.points(X, "X", 3, min_count=1)
    obs_xy = _checks.points(obs_xy, "obs_xy", 2, min_count=1)
    n_obs = obs_xy.shape[0]
    obs_camera = _index(obs_camera, "obs_camera", n_obs, len(cameras))
    obs_point = _index(obs_point, "obs_point", n_obs, X.shape[0])
    _checks.positive(loss_scale, "loss_scale")
    C = len(cameras)
    fixed = np.zeros(C, bool) if fixed is None else np.asarray(fixed)
    if fixed.shape != (C,) or fixed.dtype != bool:
        raise ValueError(f"fixed: expected ({C},) bool, got {fixed.dtype} {fixed.shape}")
    R = np.stack([c.R for c in cameras]).astype(np.float64)
    t = np.stack([c.t for c in cameras]).astype(np.float64)
    K = np.ascontiguousarray(np.stack([c.K for c in cameras]), dtype=np.float64)
    free = np.repeat(~fixed, 6)
    if fix_gauge and fixed.sum() < 2:
        free[:6] = False
        t_rel = t[1] - R[1] @ R[0].T @ t[0]
        free[6 + 3 + int(np.argmax(np.abs(t_rel)))] = False
    scale = float(loss_scale) if loss == "huber" else np.inf
    X = X.copy()
    initial = _reported_errors(R, t, K, X, obs_camera, obs_point, obs_xy)
    evaluations = _levenberg_marquardt(R, t, K, X, obs_camera, obs_point, obs_xy, scale, free,
                                       int(max_evaluations), float(tolerance))
    out = []
    for c in range(C):
        u, _, vt = np.linalg.svd(R[c])
        out.append(cameras[c].with_pose(u @ vt, t[c]))
    return BundleResult(out, X, initial,
                        _reported_errors(R, t, K, X, obs_camera, obs_point, obs_xy), evaluations)


def _levenberg_marquardt(R, t, K, X, oc, op, xy, scale, free, max_evaluations, tolerance):
    """Refine R (C, 3, 3), t (C, 3), X (P, 3) in place; free: (6C,) bool mask of the camera
    parameters (w, t per camera) that move. Returns the number of cost evaluations."""
    C, P, O = len(R), len(X), len(oc)
    cam_ptr, cam_obs = _groups(oc, C)
    pt_ptr, pt_obs = _groups(op, P)
    Jc, Jp = np.empty((O, 2, 6)), np.empty((O, 2, 3))
    r, w = np.empty((O, 2)), np.empty(O)
    U, gc = np.empty((C, 6, 6)), np.empty((C, 6))
    V, gp = np.empty((P, 3, 3)), np.empty((P, 3))
    Wb, Y = np.empty((O, 6, 3)), np.empty((O, 6, 3))
    Vinv = np.empty((P, 3, 3))
    S, b = np.empty((6 * C, 6 * C)), np.empty(6 * C)
    dp = np.empty((P, 3))
    Rn, Xn = np.empty_like(R), np.empty_like(X)
    fidx = np.flatnonzero(free)
    mu, nu = MU_START, 2.0
    cost = _cost(R, t, K, X, oc, op, xy, scale)
    evaluations = 1
    while evaluations < max_evaluations:
        _linearize(R, t, K, X, oc, op, xy, scale, Jc, Jp, r, w)
        _normal_blocks(Jc, Jp, r, w, cam_ptr, cam_obs, pt_ptr, pt_obs, U, gc, V, gp, Wb)
        gc_free = gc.ravel()[fidx]
        if max(np.abs(gc_free).max(initial=0.0), np.abs(gp).max(initial=0.0)) < tolerance:
            break
        Du = np.maximum(np.diagonal(U, axis1=1, axis2=2), DIAGONAL_MIN)
        Dv = np.maximum(np.diagonal(V, axis1=1, axis2=2), DIAGONAL_MIN)
        accepted = False
        while not accepted and evaluations < max_evaluations and mu < MU_MAX:
            _schur(U, gc, V, gp, Wb, Du, Dv, mu, oc, op, cam_ptr, cam_obs, pt_ptr, pt_obs,
                   S, b, Vinv, Y)
            dc = np.zeros(6 * C)
            try:
                if fidx.size:  # else every camera is held: points alone move
                    dc[fidx] = scipy.linalg.cho_solve(
                        scipy.linalg.cho_factor(S[np.ix_(fidx, fidx)], check_finite=False),
                        b[fidx], check_finite=False)
            except np.linalg.LinAlgError:
                mu, nu = mu * nu, 2.0 * nu
                continue
            dc = dc.reshape(C, 6)
            _back_substitute(dc, Vinv, gp, Wb, oc, pt_ptr, pt_obs, dp)
            # predicted reduction of the reweighted quadratic model: h^T (mu D h - g) / 2
            predicted = 0.5 * (np.sum(dc * (mu * Du * dc - gc)) + np.sum(dp * (mu * Dv * dp - gp)))
            _step(R, dc, Rn)
            tn = t + dc[:, 3:]
            np.add(X, dp, out=Xn)
            new_cost = _cost(Rn, tn, K, Xn, oc, op, xy, scale)
            evaluations += 1
            rho = (cost - new_cost) / predicted if predicted > 0 else -1.0
            if rho > 0:
                accepted = True
                R[:], t[:], X[:] = Rn, tn, Xn
                mu *= max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
                nu = 2.0
                converged = cost - new_cost < tolerance * cost
                cost = new_cost
            else:
                mu, nu = mu * nu, 2.0 * nu
        if not accepted or converged:
            break
    return evaluations


def _index(a, name, n, bound):
    a = np.asarray(a)
    if a.shape != (n,) or not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{name}: expected ({n},) integer indices, got {a.dtype} {a.shape}")
    if n and (a.min() < 0 or a.max() >= bound):
        raise ValueError(f"{name}: indices must be in [0, {bound}), got [{a.min()}, {a.max()}]")
    return np.ascontiguousarray(a, dtype=np.int64)


def _groups(index, n):
    """Observations grouped by index value: ptr (n + 1,), members (O,); group k is
    members[ptr[k]:ptr[k + 1]]."""
    members = np.argsort(index, kind="stable").astype(np.int64)
    ptr = np.concatenate([[0], np.cumsum(np.bincount(index, minlength=n))]).astype(np.int64)
    return ptr, members


def _errors(R, t, K, X, oc, op, xy):
    r = np.empty((len(oc), 2))
    _residuals(R, t, K, X, oc, op, xy, r)
    return np.hypot(r[:, 0], r[:, 1])


def _reported_errors(R, t, K, X, oc, op, xy):
    """`_errors`, inf where the point is at or behind the camera (depth <= 0, or not finite). The
    cost cannot tell: a point that slid along its rays through a camera centre or through
    infinity reprojects, mirrored, where it did in front."""
    depth = np.einsum("oj,oj->o", R[oc, 2], X[op]) + t[oc, 2]
    return np.where(depth > 0, _errors(R, t, K, X, oc, op, xy), np.inf)


def _cost(R, t, K, X, oc, op, xy, scale):
    """Robust cost sum_o rho(|e_o|): Huber with `scale` (inf: plain least squares)."""
    e = _errors(R, t, K, X, oc, op, xy)
    q = np.minimum(e, scale)
    return float(np.sum(q * (e - 0.5 * q)))


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
def _step(R, dc, out):
    """out[c] = exp([w_c]x) R[c], w_c = dc[c, :3]."""
    E = np.empty((3, 3))
    for c in range(R.shape[0]):
        _exp(dc[c, :3], E)
        out[c] = E @ R[c]


@njit(cache=True)
def _residuals(R, t, K, X, oc, op, xy, out):
    """Projection minus observation (O, 2)."""
    for o in range(oc.size):
        c, p = oc[o], op[o]
        q0 = R[c, 0, 0] * X[p, 0] + R[c, 0, 1] * X[p, 1] + R[c, 0, 2] * X[p, 2] + t[c, 0]
        q1 = R[c, 1, 0] * X[p, 0] + R[c, 1, 1] * X[p, 1] + R[c, 1, 2] * X[p, 2] + t[c, 1]
        q2 = R[c, 2, 0] * X[p, 0] + R[c, 2, 1] * X[p, 1] + R[c, 2, 2] * X[p, 2] + t[c, 2]
        out[o, 0] = (K[c, 0, 0] * q0 + K[c, 0, 1] * q1) / q2 + K[c, 0, 2] - xy[o, 0]
        out[o, 1] = K[c, 1, 1] * q1 / q2 + K[c, 1, 2] - xy[o, 1]


@njit(cache=True)
def _linearize(R, t, K, X, oc, op, xy, scale, Jc, Jp, r, w):
    """Per observation o: residual r[o] (2,), IRLS weight w[o] = min(1, scale / |r|), and the
    Jacobian blocks Jc[o] = d r / d(w, t) (2, 6) at w = 0 (R <- exp([w]x) R) and
    Jp[o] = d r / d X (2, 3)."""
    for o in range(oc.size):
        c, p = oc[o], op[o]
        a = np.empty(3)  # R X
        for i in range(3):
            a[i] = R[c, i, 0] * X[p, 0] + R[c, i, 1] * X[p, 1] + R[c, i, 2] * X[p, 2]
        q0, q1, q2 = a[0] + t[c, 0], a[1] + t[c, 1], a[2] + t[c, 2]
        iz = 1.0 / q2
        fx, s, fy = K[c, 0, 0], K[c, 0, 1], K[c, 1, 1]
        r[o, 0] = (fx * q0 + s * q1) * iz + K[c, 0, 2] - xy[o, 0]
        r[o, 1] = fy * q1 * iz + K[c, 1, 2] - xy[o, 1]
        e = np.sqrt(r[o, 0] * r[o, 0] + r[o, 1] * r[o, 1])
        w[o] = 1.0 if e <= scale else scale / e
        g = np.empty((2, 3))  # d(u, v) / dq
        g[0, 0], g[0, 1], g[0, 2] = fx * iz, s * iz, -(fx * q0 + s * q1) * iz * iz
        g[1, 0], g[1, 1], g[1, 2] = 0.0, fy * iz, -fy * q1 * iz * iz
        for k in range(2):
            # dq/dw = -[a]x: g . (dw x a) = dw . (a x g)
            Jc[o, k, 0] = a[1] * g[k, 2] - a[2] * g[k, 1]
            Jc[o, k, 1] = a[2] * g[k, 0] - a[0] * g[k, 2]
            Jc[o, k, 2] = a[0] * g[k, 1] - a[1] * g[k, 0]
            for i in range(3):
                Jc[o, k, 3 + i] = g[k, i]
                Jp[o, k, i] = g[k, 0] * R[c, 0, i] + g[k, 1] * R[c, 1, i] + g[k, 2] * R[c, 2, i]


@njit(cache=True)
def _normal_blocks(Jc, Jp, r, w, cam_ptr, cam_obs, pt_ptr, pt_obs, U, gc, V, gp, Wb):
    """Blocks of J^T W J and J^T W r: U (C, 6, 6), gc (C, 6) per camera, V (P, 3, 3),
    gp (P, 3) per point, and the camera-point block Wb[o] = Jc^T w Jp (6, 3) per observation."""
    _group_normals(Jc, r, w, cam_ptr, cam_obs, U, gc)
    _group_normals(Jp, r, w, pt_ptr, pt_obs, V, gp)
    for o in range(Wb.shape[0]):
        for i in range(6):
            for j in range(3):
                Wb[o, i, j] = w[o] * (Jc[o, 0, i] * Jp[o, 0, j] + Jc[o, 1, i] * Jp[o, 1, j])


@njit(cache=True)
def _group_normals(J, r, w, ptr, obs, A, g):
    """Per group k (a camera or a point; its observations obs[ptr[k]:ptr[k + 1]]) the sums over
    them of w J^T J into A[k] (n, n) and of w J^T r into g[k] (n,), J (O, 2, n)."""
    n = A.shape[1]
    for k in range(A.shape[0]):
        A[k] = 0.0
        g[k] = 0.0
        for m in range(ptr[k], ptr[k + 1]):
            o = obs[m]
            for i in range(n):
                g[k, i] += w[o] * (J[o, 0, i] * r[o, 0] + J[o, 1, i] * r[o, 1])
                for j in range(n):
                    A[k, i, j] += w[o] * (J[o, 0, i] * J[o, 0, j] + J[o, 1, i] * J[o, 1, j])


@njit(cache=True)
def _inverse3(A, out):
    """out = A^-1 of a symmetric positive definite 3 x 3 (cofactors)."""
    c00 = A[1, 1] * A[2, 2] - A[1, 2] * A[2, 1]
    c01 = A[1, 2] * A[2, 0] - A[1, 0] * A[2, 2]
    c02 = A[1, 0] * A[2, 1] - A[1, 1] * A[2, 0]
    det = A[0, 0] * c00 + A[0, 1] * c01 + A[0, 2] * c02
    inv = 1.0 / det
    out[0, 0] = c00 * inv
    out[1, 0] = c01 * inv
    out[2, 0] = c02 * inv
    out[0, 1] = (A[0, 2] * A[2, 1] - A[0, 1] * A[2, 2]) * inv
    out[1, 1] = (A[0, 0] * A[2, 2] - A[0, 2] * A[2, 0]) * inv
    out[2, 1] = (A[0, 1] * A[2, 0] - A[0, 0] * A[2, 1]) * inv
    out[0, 2] = (A[0, 1] * A[1, 2] - A[0, 2] * A[1, 1]) * inv
    out[1, 2] = (A[0, 2] * A[1, 0] - A[0, 0] * A[1, 2]) * inv
    out[2, 2] = (A[0, 0] * A[1, 1] - A[0, 1] * A[1, 0]) * inv


@njit(cache=True)
def _schur(U, gc, V, gp, Wb, Du, Dv, mu, oc, op, cam_ptr, cam_obs, pt_ptr, pt_obs, S, b, Vinv, Y):
    """Reduced camera system S dc = b of the damped normal equations:
    S = U + mu Du - W (V + mu Dv)^-1 W^T, b = -gc + W (V + mu Dv)^-1 gp. Also fills
    Vinv = (V + mu Dv)^-1 per point and Y[o] = Wb[o] Vinv[p] per observation."""
    for p in range(V.shape[0]):
        Vd = V[p].copy()
        for i in range(3):
            Vd[i, i] += mu * Dv[p, i]
        _inverse3(Vd, Vinv[p])
        for m in range(pt_ptr[p], pt_ptr[p + 1]):
            o = pt_obs[m]
            for i in range(6):
                for j in range(3):
                    Y[o, i, j] = (Wb[o, i, 0] * Vinv[p, 0, j] + Wb[o, i, 1] * Vinv[p, 1, j]
                                  + Wb[o, i, 2] * Vinv[p, 2, j])
    C = U.shape[0]
    for c in range(C):
        S[6 * c:6 * c + 6, :] = 0.0
        for i in range(6):
            b[6 * c + i] = -gc[c, i]
            for j in range(6):
                S[6 * c + i, 6 * c + j] = U[c, i, j]
            S[6 * c + i, 6 * c + i] += mu * Du[c, i]
        for m in range(cam_ptr[c], cam_ptr[c + 1]):
            a = cam_obs[m]
            p = op[a]
            for i in range(6):
                b[6 * c + i] += (Y[a, i, 0] * gp[p, 0] + Y[a, i, 1] * gp[p, 1]
                                 + Y[a, i, 2] * gp[p, 2])
            for n in range(pt_ptr[p], pt_ptr[p + 1]):
                o = pt_obs[n]
                d = oc[o]
                for i in range(6):
                    for j in range(6):
                        S[6 * c + i, 6 * d + j] -= (Y[a, i, 0] * Wb[o, j, 0]
                                                    + Y[a, i, 1] * Wb[o, j, 1]
                                                    + Y[a, i, 2] * Wb[o, j, 2])


@njit(cache=True)
def _back_substitute(dc, Vinv, gp, Wb, oc, pt_ptr, pt_obs, dp):
    """Point steps dp[p] = Vinv[p] (-gp[p] - sum_o Wb[o]^T dc[camera of o])."""
    for p in range(gp.shape[0]):
        v = np.empty(3)
        for j in range(3):
            v[j] = -gp[p, j]
        for m in range(pt_ptr[p], pt_ptr[p + 1]):
            o = pt_obs[m]
            c = oc[o]
            for j in range(3):
                for i in range(6):
                    v[j] -= Wb[o, i, j] * dc[c, i]
        for i in range(3):
            dp[p, i] = Vinv[p, i, 0] * v[0] + Vinv[p, i, 1] * v[1] + Vinv[p, i, 2] * v[2]
