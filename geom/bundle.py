"""Bundle adjustment: cameras, points and camera intrinsics refined together by robust least squares.

Minimises the robust cost sum_o rho(|e_o|) of the pixel reprojection errors e_o of observations
(camera c, point p, pixel x), plus the Gaussian priors of the refined intrinsics, over the
camera poses, the points and, per camera group, the focal length, radial coefficient and
(optionally) principal point, by Levenberg-Marquardt in numba kernels:

- camera model: a camera-frame point q projects to the pixel K [d u, d v, 1] with
  (u, v) = (q_0, q_1) / q_2 and d = 1 + k (u^2 + v^2): `geom.camera_models`' K_RADIAL (fx, fy,
  cx, cy, skew, k; COLMAP's SIMPLE_RADIAL when K has one focal length and no skew, PINHOLE when
  k = 0), through its scalar kernel `_project_point`, mvdepth's one projection;
- intrinsics: cameras are grouped (`groups`, one physical camera each); per group the focal
  length f (K's 2 x 2 block scaled, so aspect ratio and skew are kept), k and the principal
  point (cx, cy) are refined where `refine` says so, shared by the group's cameras. Each refined
  value has a weak prior at its start (standard deviation `FOCAL_PRIOR` f, `RADIAL_PRIOR` for
  k, `PRINCIPAL_PRIOR` max(W, H) for cx and cy): it holds a value the data cannot see (few
  views, little rotation; a principal point shift looks like a small rotation in a narrow
  field of view) where it was, and moves a well-seen one by a negligible fraction of its
  error. `BundleResult.intrinsics_std` says how well the data pin them down: the marginal
  standard deviation from the inverse of the reduced system, at the prior's value where the
  data say nothing;
- analytic Jacobians; a rotation is updated multiplicatively, `R <- exp([w]x) R`, so the
  derivative is taken at w = 0 on every linearisation;
- the robust loss (Huber: rho(e) = e^2 / 2 up to `loss_scale`, linear beyond) by iteratively
  reweighted least squares: every linearisation weighs each observation by rho'(e) / e =
  min(1, scale / e), a quadratic majoriser of the cost at the current errors;
- normal equations (J^T W J + mu D) h = -J^T W r with Marquardt's scaling D = diag(J^T W J),
  reduced to the cameras and intrinsics by the Schur complement on the points (one 3 x 3 block
  per point, inverted in closed form); the reduced system, dense (6C + 2G)^2 ((6C + 4G)^2
  where a principal point is refined: (f, k) alone per group otherwise), is solved by
  Cholesky (memory 288 (C / 100)^2 kB: fine to a few hundred cameras, beyond which a sparse or
  iterative solver would be needed);
- Nielsen's damping update from the gain ratio of actual to predicted cost reduction: the
  adjustment is a problem of `geom.lm`'s Levenberg-Marquardt driver, one flat state vector
  (per camera R, t and its K_RADIAL parameters, then the points; `_unpack`) and four kernels,
  `_cost`, `_linearise` (the normal equations' blocks), `_solve` (the Schur-reduced damped
  step) and `_retract` (the step applied on the manifold).

Gauge: the first camera's pose is fixed, and so is the coordinate of the second camera's
translation along which the two centres are farthest apart (the scale); the world frame of the
input is kept. Cameras marked `fixed` (a local adjustment around new cameras) are held as they
are; two or more of them set the gauge instead.
"""
import collections
from dataclasses import dataclass

import numpy as np
from numba import njit

from . import _checks, lm
from .camera import check_camera
from .camera_models import K_RADIAL_ID, _project_point, calibration_matrix, k_radial_params
from .rotation import _exp_into, _mul3

FOCAL_PRIOR = 0.3  # standard deviation of a refined focal length's prior, relative to its start
RADIAL_PRIOR = 0.3  # standard deviation of a refined radial coefficient's prior
# ... and of a refined principal point's, relative to max(W, H): real principal points lie
# within a few per cent of the image centre, and a ring of views barely sees one (a shift of cy
# looks like a common tilt of the cameras: 0.1 let a synthetic ring's centred one drift 12 px,
# rotations 0.15 -> 3.9 deg, 0.03 as bad); 0.01 holds it (1.8 px, 0.59 deg) and still lets
# the temple's move 22 of the 17 + 7 px towards the truth (rotations 1.21 -> 0.32 deg)
PRINCIPAL_PRIOR = 0.01
INTRINSICS = 4  # refinable intrinsics per group: f, k, cx, cy
NC = 10  # reduced parameters an observation depends on: its camera's pose (6), f, k, cx, cy
# (8 with every principal point held: pose, f and k)
NC_POSE = 6  # the same with the intrinsics held everywhere (the known-K case: 1.8x fewer flops)
_SLOT = (0, 5, 2, 3)  # f, k, cx, cy in a camera's K_RADIAL parameters (fx, fy, cx, cy, skew, k)


@dataclass
class BundleResult:
    """Refined cameras (list of `Camera`, K with the refined focal length and principal
    point), their radial coefficients (C,), points X (P, 3), per-observation pixel errors before
    and after (O,; inf where the point is at or behind the camera, as
    `geom.triangulate.reprojection_errors`), the optimiser's number of cost evaluations, and per
    group the standard deviations of f, k, cx and cy (G, 4; NaN where held)."""

    cameras: list
    radial: np.ndarray
    points: np.ndarray
    initial_errors: np.ndarray
    errors: np.ndarray
    evaluations: int
    intrinsics_std: np.ndarray


_Problem = collections.namedtuple("_Problem", (
    "groups", "first", "refine", "prior", "sigma", "fidx", "scale",
    "oc", "op", "xy", "idx", "pt_ptr", "pt_obs",
    "Jc", "Jp", "r", "w", "H", "g", "V", "gp", "Wb", "Y", "Vinv", "T", "bt"))
_Problem.__doc__ = """The adjustment's data for the kernels. Cameras: groups (C,) and each group's
first camera first (G,); refine (G, width) bool, the group's (f, k[, cx, cy]) that move (width:
the reduced intrinsics per group, 2 or 4), prior and sigma (G, width) their priors' means and
standard deviations; fidx: the reduced parameters that move (indices into [w, t per camera |
intrinsics per group], N = 6C + width G); scale: the Huber scale (inf: least squares).
Observations oc, op (O,), xy (O, 2), idx (O, nc): each one's reduced parameters; pt_ptr (P + 1,),
pt_obs (O,): the observations of each point (`_groups`). Scratch: Jc (O, 2, nc), Jp (O, 2, 3),
r (O, 2), w (O,), H (N, N), g (N,), V (P, 3, 3), gp (P, 3), Wb, Y (O, nc, 3), Vinv (P, 3, 3),
T (N, N), bt (N,)."""


def bundle_adjust(cameras, X, obs_camera, obs_point, obs_xy, *, loss="huber", loss_scale=2.0,
                  max_evaluations=50, fix_gauge=True, tolerance=1e-8, fixed=None, radial=None,
                  groups=None, refine=None):
    """Refine cameras, points and (optionally) intrinsics by minimising robust reprojection
    errors.

    cameras: C `Camera`s (C >= 2, the first two set the gauge). X: (P, 3) points. obs_camera,
    obs_point: (O,) int indices of the observing camera and the observed point; obs_xy: (O, 2)
    observed pixels. loss: 'huber' (robust) or 'linear' (plain least squares, for observations
    already rid of outliers); loss_scale: pixels where the Huber loss turns linear.
    max_evaluations: cost evaluations in all (one per Levenberg-Marquardt step tried).
    tolerance: stop when an accepted step lowers the cost by less than this fraction, or when
    the largest gradient entry falls below it. fix_gauge: False leaves every pose free (a
    rank-deficient problem; only for tests). fixed: optional (C,) bool, cameras held as given;
    with two or more of them they set the gauge. radial: optional (C,) radial coefficients k
    (default 0). groups: optional (C,) int camera group, 0..G-1 (default: one per camera).
    refine: optional (G, 4) bool, whether a group's f, k, cx, cy move (default: none); the
    cameras of a group with any refined must share K and k. The prior of a principal point
    scales with the image size of the group's first camera (`Camera.image_size`; unknown: the
    image centred on the start principal point). Returns a `BundleResult`.
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
    radial = np.zeros(C) if radial is None else _checks.array(radial, "radial", (C,))
    groups = np.arange(C) if groups is None else _index(groups, "groups", C, C)
    G = int(groups.max()) + 1
    refine = np.zeros((G, INTRINSICS), bool) if refine is None else np.asarray(refine)
    if refine.shape != (G, INTRINSICS) or refine.dtype != bool:
        raise ValueError(f"refine: expected ({G}, {INTRINSICS}) bool, got {refine.dtype} "
                         f"{refine.shape}")
    R = np.stack([c.R for c in cameras]).astype(np.float64)
    t = np.stack([c.t for c in cameras]).astype(np.float64)
    K = np.stack([c.K for c in cameras]).astype(np.float64)
    for g in np.flatnonzero(refine.any(axis=1)):
        members = np.flatnonzero(groups == g)
        if not (np.all(K[members] == K[members[0]]) and np.all(radial[members] == radial[members[0]])):
            raise ValueError(f"cameras of group {g}: refined intrinsics must start equal "
                             "(one K and k per group)")
    first = np.array([np.flatnonzero(groups == g)[0] if (groups == g).any() else 0
                      for g in range(G)])
    width = INTRINSICS if refine[:, 2:].any() else 2  # reduced intrinsics per group
    free = np.concatenate([np.repeat(~fixed, 6), refine[:, :width].ravel()])
    if fix_gauge and fixed.sum() < 2:
        free[:6] = False
        t_rel = t[1] - R[1] @ R[0].T @ t[0]
        free[6 + 3 + int(np.argmax(np.abs(t_rel)))] = False
    side = np.array([max(cameras[c].image_size or (2 * K[c, 0, 2] + 1, 2 * K[c, 1, 2] + 1))
                     for c in first])
    sigma = np.stack([FOCAL_PRIOR * K[first, 0, 0], np.full(G, RADIAL_PRIOR),
                      PRINCIPAL_PRIOR * side, PRINCIPAL_PRIOR * side], axis=1)[:, :width]
    cam = k_radial_params(K, radial)
    params = np.concatenate([R.ravel(), t.ravel(), cam.ravel(), X.ravel()])
    data = _problem_data(groups, first, refine[:, :width], cam[first][:, _SLOT[:width]], sigma,
                         free, float(loss_scale) if loss == "huber" else np.inf, obs_camera,
                         obs_point, obs_xy, X.shape[0])
    initial = _reported_errors(params, data)
    _, evaluations = lm.levenberg_marquardt(params, data, free.size + X.size,
                                            int(max_evaluations), int(max_evaluations),
                                            float(tolerance))
    std = _standard_deviations(params, data)
    R, t, cam, X = _unpack(params, C)
    out = []
    for c in range(C):
        u, _, vt = np.linalg.svd(R[c])
        out.append(cameras[c].with_pose(u @ vt, t[c].copy())
                   .with_intrinsics(calibration_matrix("K_RADIAL", cam[c])))
    intrinsics_std = np.full((G, INTRINSICS), np.nan)
    intrinsics_std[:, :width] = std.reshape(G, width)
    return BundleResult(out, cam[:, 5].copy(), X.copy(), initial, _reported_errors(params, data),
                        evaluations, np.where(refine, intrinsics_std, np.nan))


def _problem_data(groups, first, refine, prior, sigma, free, scale, oc, op, xy, P):
    """The `_Problem` of an adjustment, its scratch arrays allocated; free: (N,) bool, the
    reduced parameters that move."""
    C, O, N = len(groups), len(oc), free.size
    width = refine.shape[1]
    nc = NC_POSE + width if refine.any() else NC_POSE
    g = groups[oc]
    idx = np.concatenate([6 * oc[:, None] + np.arange(6),
                          6 * C + width * g[:, None] + np.arange(width)], axis=1)[:, :nc]
    pt_ptr, pt_obs = _groups(op, P)
    return _Problem(groups, first, np.ascontiguousarray(refine), np.ascontiguousarray(prior),
                    np.ascontiguousarray(sigma), np.flatnonzero(free), scale, oc, op, xy,
                    np.ascontiguousarray(idx), pt_ptr, pt_obs,
                    np.empty((O, 2, nc)), np.empty((O, 2, 3)), np.empty((O, 2)), np.empty(O),
                    np.empty((N, N)), np.empty(N), np.empty((P, 3, 3)), np.empty((P, 3)),
                    np.empty((O, nc, 3)), np.empty((O, nc, 3)), np.empty((P, 3, 3)),
                    np.empty((N, N)), np.empty(N))


def _reported_errors(params, data):
    """Pixel error per observation (O,), inf where the point is at or behind the camera (depth
    <= 0, or not finite). The cost cannot tell: a point that slid along its rays through a
    camera centre or through infinity reprojects, mirrored, where it did in front."""
    e, in_front = _errors(params, data)
    return np.where(in_front, e, np.inf)


def _errors(params, data):
    """Per observation the pixel error (O,) and whether the point is in front (`_residuals`)."""
    r, in_front = np.empty((len(data.oc), 2)), np.empty(len(data.oc), np.bool_)
    _residuals(params, data, r, in_front, data.Jc[:0], data.Jp[:0])
    return np.hypot(r[:, 0], r[:, 1]), in_front


def _standard_deviations(params, data):
    """Marginal standard deviations of the reduced intrinsics (G width,; NaN where held) at
    params: the diagonal of the inverse of the undamped reduced system times the residual
    variance per coordinate (weighted squares over the degrees of freedom)."""
    N, fidx = data.g.size, data.fidx
    n_cam = N - data.refine.size
    out = np.full(data.refine.size, np.nan)
    sel = fidx[fidx >= n_cam]
    if sel.size == 0:
        return out
    _, (H, g, V, gp, Wb) = _linearise(params, data)
    _schur(V, gp, Wb, np.zeros_like(gp), 0.0, data.idx, data.pt_ptr, data.pt_obs, data.T,
           data.bt, data.Vinv, data.Y)
    try:
        cov = np.linalg.inv((H - data.T)[np.ix_(fidx, fidx)])
    except np.linalg.LinAlgError:
        return out
    e, _ = _errors(params, data)
    wsq = np.sum(np.where(e <= data.scale, e * e, data.scale * e))
    dof = max(2 * len(e) - fidx.size - 3 * len(gp), 1)
    var = np.diagonal(cov)[np.searchsorted(fidx, sel)]
    out[sel - n_cam] = np.sqrt(np.maximum(var, 0.0) * wsq / dof)
    return out


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


@njit(cache=True)
def _unpack(params, C):
    """Views of the state params: R (C, 3, 3), t (C, 3), the cameras' K_RADIAL parameters
    (C, 6), X (P, 3)."""
    return (params[:9 * C].reshape(C, 3, 3), params[9 * C:12 * C].reshape(C, 3),
            params[12 * C:18 * C].reshape(C, 6), params[18 * C:].reshape(-1, 3))


@njit(cache=True)
def _residuals(params, data, r, in_front, Jc, Jp):
    """Per observation o the residual r[o] = pixel - observed (2,) and whether the point is in
    front of the camera (depth > 0, not NaN); where Jc (O, 2, nc) and Jp (O, 2, 3) have rows
    (else skipped), the Jacobian blocks Jc[o] = d r / d(w, t, f, k, cx, cy) (2, nc; the first 6
    or 8 columns where nc is) at w = 0 (R <- exp([w]x) R; f scales K's 2 x 2 block) and
    Jp[o] = d r / d X (2, 3), from `camera_models._project_point`'s d pixel / dq and
    d pixel / d(K_RADIAL parameters). A point behind the camera gets the pixel of its mirror
    image -q (the same ray), so the cost stays finite and smooth through infinity."""
    R, t, cam, X = _unpack(params, data.groups.size)
    nc, jacobians = Jc.shape[2], Jc.shape[0] > 0
    J_point = np.empty((2 if jacobians else 0, 3))
    J_params = np.empty((2 if jacobians and nc > NC_POSE else 0, 6))
    for o in range(data.oc.size):
        c, p = data.oc[o], data.op[o]
        q0 = R[c, 0, 0] * X[p, 0] + R[c, 0, 1] * X[p, 1] + R[c, 0, 2] * X[p, 2] + t[c, 0]
        q1 = R[c, 1, 0] * X[p, 0] + R[c, 1, 1] * X[p, 1] + R[c, 1, 2] * X[p, 2] + t[c, 1]
        q2 = R[c, 2, 0] * X[p, 0] + R[c, 2, 1] * X[p, 1] + R[c, 2, 2] * X[p, 2] + t[c, 2]
        s = 1.0 if q2 >= 0.0 else -1.0
        x, y = _project_point(K_RADIAL_ID, cam[c], s * q0, s * q1, s * q2, J_point, J_params)
        r[o, 0], r[o, 1] = x - data.xy[o, 0], y - data.xy[o, 1]
        in_front[o] = q2 > 0.0
        if not jacobians:
            continue
        a0, a1, a2 = q0 - t[c, 0], q1 - t[c, 1], q2 - t[c, 2]  # R X
        for k2 in range(2):  # d pixel / dq at -q is minus that at q: J_point times s
            g0, g1, g2 = s * J_point[k2, 0], s * J_point[k2, 1], s * J_point[k2, 2]
            # dq/dw = -[a]x: g . (dw x a) = dw . (a x g)
            Jc[o, k2, 0] = a1 * g2 - a2 * g1
            Jc[o, k2, 1] = a2 * g0 - a0 * g2
            Jc[o, k2, 2] = a0 * g1 - a1 * g0
            Jc[o, k2, 3], Jc[o, k2, 4], Jc[o, k2, 5] = g0, g1, g2
            for i in range(3):
                Jp[o, k2, i] = g0 * R[c, 0, i] + g1 * R[c, 1, i] + g2 * R[c, 2, i]
            if nc == NC_POSE:  # intrinsics held
                continue
            # K's block scaled by (f + df) / f: fx, fy and the skew move together
            Jc[o, k2, 6] = (cam[c, 0] * J_params[k2, 0] + cam[c, 1] * J_params[k2, 1]
                            + cam[c, 4] * J_params[k2, 4]) / cam[c, 0]
            Jc[o, k2, 7] = J_params[k2, 5]
            if nc == NC:  # principal points too
                Jc[o, k2, 8], Jc[o, k2, 9] = J_params[k2, 2], J_params[k2, 3]


@njit(cache=True)
def _cost(params, data):
    """Robust cost sum_o rho(|e_o|) (Huber with data.scale, inf: plain least squares) plus the
    priors of the refined intrinsics."""
    O = data.oc.size
    r, in_front = np.empty((O, 2)), np.empty(O, np.bool_)
    _residuals(params, data, r, in_front, data.Jc[:0], data.Jp[:0])
    cost = 0.0
    for o in range(O):
        e = np.hypot(r[o, 0], r[o, 1])
        q = e if e < data.scale else data.scale
        cost += q * (e - 0.5 * q)
    cam = _unpack(params, data.groups.size)[2]
    prior = 0.0
    for gi in range(data.refine.shape[0]):
        for j in range(data.refine.shape[1]):
            if data.refine[gi, j]:
                z = (cam[data.first[gi], _SLOT[j]] - data.prior[gi, j]) / data.sigma[gi, j]
                prior += z * z
    return cost + 0.5 * prior


@njit(cache=True)
def _linearise(params, data):
    """The normal equations' blocks at params (`_normal_blocks` of `_residuals`' Jacobians,
    each observation weighted by w = min(1, scale / |r|), with the priors) -> (largest
    |gradient| over the free parameters, (H, g, V, gp, Wb))."""
    C = data.groups.size
    r, w = data.r, data.w
    _residuals(params, data, r, np.empty(w.size, np.bool_), data.Jc, data.Jp)
    for o in range(w.size):
        e = np.sqrt(r[o, 0] * r[o, 0] + r[o, 1] * r[o, 1])
        w[o] = 1.0 if e <= data.scale else data.scale / e
    H, g, V, gp, Wb = data.H, data.g, data.V, data.gp, data.Wb
    _normal_blocks(data.Jc, data.Jp, r, w, data.idx, data.pt_ptr, data.pt_obs, H, g, V, gp, Wb)
    cam = _unpack(params, C)[2]
    width = data.refine.shape[1]
    for gi in range(data.refine.shape[0]):
        for j in range(width):
            if data.refine[gi, j]:
                i, s = 6 * C + width * gi + j, data.sigma[gi, j]
                H[i, i] += 1.0 / s ** 2
                g[i] += (cam[data.first[gi], _SLOT[j]] - data.prior[gi, j]) / s / s
    gradient_max = 0.0
    for i in data.fidx:
        gradient_max = max(gradient_max, abs(g[i]))
    for p in range(gp.shape[0]):
        for j in range(3):
            gradient_max = max(gradient_max, abs(gp[p, j]))
    return gradient_max, (H, g, V, gp, Wb)


@njit(cache=True)
def _solve(system, mu, data, step):
    """The damped step h = [dc | dp] ((N + 3P,), into step) of (J^T W J + mu D) h = -J^T W r,
    D = max(diag(J^T W J), lm.DIAGONAL_MIN): the reduced system S dc = b (`_schur`) on the free
    parameters by LAPACK's Cholesky (blocked: S reaches 1200 x 1200 at 200 views), then the
    points (`_back_substitute`). Returns the predicted cost reduction h^T (mu D h - g) / 2, or
    -1.0 where S is not positive definite."""
    H, g, V, gp, Wb = system
    N, P = g.size, gp.shape[0]
    Dh = np.empty(N)
    for i in range(N):
        Dh[i] = max(H[i, i], lm.DIAGONAL_MIN)
    Dv = np.empty((P, 3))
    for p in range(P):
        for j in range(3):
            Dv[p, j] = max(V[p, j, j], lm.DIAGONAL_MIN)
    T, bt = data.T, data.bt
    _schur(V, gp, Wb, Dv, mu, data.idx, data.pt_ptr, data.pt_obs, T, bt, data.Vinv, data.Y)
    fidx = data.fidx
    F = fidx.size
    dc = step[:N]
    dc[:] = 0.0
    if F:  # else every camera is held: points alone move
        S, b = np.empty((F, F)), np.empty(F)
        for a in range(F):
            i = fidx[a]
            b[a] = bt[i] - g[i]
            for k in range(F):
                S[a, k] = H[i, fidx[k]] - T[i, fidx[k]]
            S[a, a] += mu * Dh[i]
        try:
            L = np.linalg.cholesky(S)
        except Exception:
            return -1.0
        lm.cholesky_solve(L, b)
        for a in range(F):
            dc[fidx[a]] = b[a]
    dp = step[N:].reshape(P, 3)
    _back_substitute(dc, data.Vinv, gp, Wb, data.idx, data.pt_ptr, data.pt_obs, dp)
    predicted = 0.0
    for i in range(N):
        predicted += dc[i] * (mu * Dh[i] * dc[i] - g[i])
    for p in range(P):
        for j in range(3):
            predicted += dp[p, j] * (mu * Dv[p, j] * dp[p, j] - gp[p, j])
    return 0.5 * predicted


@njit(cache=True)
def _retract(params, step, data, out):
    """out = params moved by step [dc | dp]: R <- exp([w]x) R and t += dt per camera, a refined
    f scales K's 2 x 2 block (fx, fy, skew) by (f + df) / f, k, cx and cy add, X += dp."""
    C = data.groups.size
    width = data.refine.shape[1]
    R, t, cam, X = _unpack(params, C)
    Rn, tn, camn, Xn = _unpack(out, C)
    E = np.empty((3, 3))
    for c in range(C):
        _exp_into(step[6 * c:6 * c + 3], E)
        Rn[c] = _mul3(E, R[c])
        gi, f = data.groups[c], data.first[data.groups[c]]
        base = 6 * C + width * gi
        for j in range(3):
            tn[c, j] = t[c, j] + step[6 * c + 3 + j]
        for j in range(6):
            camn[c, j] = cam[c, j]
        if data.refine[gi, 0]:
            s = (cam[f, 0] + step[base]) / cam[f, 0]
            camn[c, 0], camn[c, 1], camn[c, 4] = cam[c, 0] * s, cam[c, 1] * s, cam[c, 4] * s
        for j in range(1, width):
            if data.refine[gi, j]:
                camn[c, _SLOT[j]] = cam[f, _SLOT[j]] + step[base + j]
    N = 6 * C + data.refine.size
    for i in range(X.shape[0]):
        for j in range(3):
            Xn[i, j] = X[i, j] + step[N + 3 * i + j]


@njit(cache=True)
def _normal_blocks(Jc, Jp, r, w, idx, pt_ptr, pt_obs, H, g, V, gp, Wb):
    """Blocks of J^T W J and J^T W r: H (N, N), g (N,) over the reduced parameters (poses,
    intrinsics; observation o's at idx[o]), V (P, 3, 3), gp (P, 3) per point, and the
    reduced-point block Wb[o] = Jc^T w Jp (NC, 3) per observation."""
    H[:] = 0.0
    g[:] = 0.0
    n = Jc.shape[2]
    for o in range(Jc.shape[0]):
        for i in range(n):
            g[idx[o, i]] += w[o] * (Jc[o, 0, i] * r[o, 0] + Jc[o, 1, i] * r[o, 1])
            for j in range(n):
                H[idx[o, i], idx[o, j]] += w[o] * (Jc[o, 0, i] * Jc[o, 0, j]
                                                   + Jc[o, 1, i] * Jc[o, 1, j])
            for j in range(3):
                Wb[o, i, j] = w[o] * (Jc[o, 0, i] * Jp[o, 0, j] + Jc[o, 1, i] * Jp[o, 1, j])
    for p in range(V.shape[0]):
        V[p] = 0.0
        gp[p] = 0.0
        for m in range(pt_ptr[p], pt_ptr[p + 1]):
            o = pt_obs[m]
            for i in range(3):
                gp[p, i] += w[o] * (Jp[o, 0, i] * r[o, 0] + Jp[o, 1, i] * r[o, 1])
                for j in range(3):
                    V[p, i, j] += w[o] * (Jp[o, 0, i] * Jp[o, 0, j] + Jp[o, 1, i] * Jp[o, 1, j])


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
def _schur(V, gp, Wb, Dv, mu, idx, pt_ptr, pt_obs, T, bt, Vinv, Y):
    """The points' part of the reduced system S dc = b of the damped normal equations,
    S = H + mu Dh - T, b = -g + bt: T = W (V + mu Dv)^-1 W^T, bt = W (V + mu Dv)^-1 gp. Also
    fills Vinv = (V + mu Dv)^-1 per point and Y[o] = Wb[o] Vinv[p] per observation."""
    T[:] = 0.0
    bt[:] = 0.0
    n = Wb.shape[1]
    Vd = np.empty((3, 3))
    for p in range(V.shape[0]):
        Vd[:] = V[p]
        for i in range(3):
            Vd[i, i] += mu * Dv[p, i]
        _inverse3(Vd, Vinv[p])
        Vi = Vinv[p]
        for m in range(pt_ptr[p], pt_ptr[p + 1]):
            a = pt_obs[m]
            Ya, Wa = Y[a], Wb[a]
            for i in range(n):
                for j in range(3):
                    Ya[i, j] = Wa[i, 0] * Vi[0, j] + Wa[i, 1] * Vi[1, j] + Wa[i, 2] * Vi[2, j]
                bt[idx[a, i]] += Ya[i, 0] * gp[p, 0] + Ya[i, 1] * gp[p, 1] + Ya[i, 2] * gp[p, 2]
        for m in range(pt_ptr[p], pt_ptr[p + 1]):
            a = pt_obs[m]
            Ya = Y[a]
            for m2 in range(pt_ptr[p], pt_ptr[p + 1]):
                o = pt_obs[m2]
                Wo = Wb[o]
                for i in range(n):
                    Ti = T[idx[a, i]]
                    y0, y1, y2 = Ya[i, 0], Ya[i, 1], Ya[i, 2]
                    for j in range(n):
                        Ti[idx[o, j]] += y0 * Wo[j, 0] + y1 * Wo[j, 1] + y2 * Wo[j, 2]


@njit(cache=True)
def _back_substitute(dc, Vinv, gp, Wb, idx, pt_ptr, pt_obs, dp):
    """Point steps dp[p] = Vinv[p] (-gp[p] - sum_o Wb[o]^T dc[idx[o]])."""
    n = Wb.shape[1]
    for p in range(gp.shape[0]):
        v = np.empty(3)
        for j in range(3):
            v[j] = -gp[p, j]
        for m in range(pt_ptr[p], pt_ptr[p + 1]):
            o = pt_obs[m]
            for j in range(3):
                for i in range(n):
                    v[j] -= Wb[o, i, j] * dc[idx[o, i]]
        for i in range(3):
            dp[p, i] = Vinv[p, i, 0] * v[0] + Vinv[p, i, 1] * v[1] + Vinv[p, i, 2] * v[2]


lm.register(_Problem, cost=_cost, linearise=_linearise, retract=_retract, solve=_solve)
