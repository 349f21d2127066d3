"""Bundle adjustment: cameras, points and camera intrinsics refined together by robust least squares.

Minimises the robust cost sum_o rho(|e_o|) of the pixel reprojection errors e_o of observations
(camera c, point p, pixel x), plus the Gaussian priors of the refined intrinsics, over the
camera poses, the points and, per camera group, the focal length, radial coefficient and
(optionally) principal point, by Levenberg-Marquardt in numba kernels:

- camera model: a camera-frame point q projects to the pixel K [d u, d v, 1] with
  (u, v) = (q_0, q_1) / q_2 and d = 1 + k (u^2 + v^2): COLMAP's SIMPLE_RADIAL (f, cx, cy, k)
  when K has one focal length and no skew, PINHOLE (fx, fy, cx, cy) when k = 0;
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

from . import _checks
from .camera import check_camera


MU_START = 1e-4  # first damping, relative to the diagonal of J^T W J
MU_MAX = 1e16  # damping at which a step is given up
DIAGONAL_MIN = 1e-6  # floor of Marquardt's scaling (parameters the data barely see)
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
NC_FOCAL = 8  # the same with every principal point held: pose, f and k
NC_POSE = 6  # the same with the intrinsics held everywhere (the known-K case: 1.8x fewer flops)


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


def bundle_adjust(cameras, X, obs_camera, obs_point, obs_xy, loss="huber", loss_scale=2.0,
                  max_evaluations=50, fix_gauge=True, tolerance=1e-8, fixed=None, *,
                  radial=None, groups=None, refine=None):
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
    radial = np.zeros(C) if radial is None else _checks.array(radial, "radial", (C,)).copy()
    groups = np.arange(C) if groups is None else _index(groups, "groups", C, C)
    G = int(groups.max()) + 1
    refine = np.zeros((G, INTRINSICS), bool) if refine is None else np.asarray(refine)
    if refine.shape != (G, INTRINSICS) or refine.dtype != bool:
        raise ValueError(f"refine: expected ({G}, {INTRINSICS}) bool, got {refine.dtype} "
                         f"{refine.shape}")
    R = np.stack([c.R for c in cameras]).astype(np.float64)
    t = np.stack([c.t for c in cameras]).astype(np.float64)
    K = np.ascontiguousarray(np.stack([c.K for c in cameras]), dtype=np.float64)
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
    scale = float(loss_scale) if loss == "huber" else np.inf
    X = X.copy()
    model = _Model(R, t, K, radial, groups, first, width, sigma, obs_camera, obs_point, obs_xy)
    initial = model.reported_errors(X)
    evaluations, std = _levenberg_marquardt(model, X, scale, free, int(max_evaluations),
                                            float(tolerance))
    out = []
    for c in range(C):
        u, _, vt = np.linalg.svd(model.R[c])
        out.append(cameras[c].with_pose(u @ vt, model.t[c]).with_intrinsics(model.K[c]))
    intrinsics_std = np.full((G, INTRINSICS), np.nan)
    intrinsics_std[:, :width] = std[6 * C:].reshape(G, width)
    return BundleResult(out, model.radial, X, initial, model.reported_errors(X), evaluations,
                        np.where(refine, intrinsics_std, np.nan))


class _Model:
    """The state the adjustment moves: poses R (C, 3, 3), t (C, 3), per camera K (C, 3, 3) and
    radial (C,), camera groups (C,) with their first cameras (G,), the number of reduced
    intrinsics per group (`width`: 2, f and k; 4, and cx, cy), the standard deviations of their
    priors (G, width) (the priors: their start), and the observations."""

    def __init__(self, R, t, K, radial, groups, first, width, sigma, oc, op, xy):
        self.R, self.t, self.K, self.radial = R, t, K, radial
        self.groups, self.first, self.width, self.sigma = groups, first, width, sigma
        self.prior = self.intrinsics()
        self.oc, self.op, self.xy = oc, op, xy
        # per observation the indices of its 6 + width reduced parameters in [poses | intrinsics]
        C, g = len(R), groups[oc]
        self.idx = np.concatenate([6 * oc[:, None] + np.arange(6),
                                   6 * C + width * g[:, None] + np.arange(width)], axis=1)

    def intrinsics(self, K=None, radial=None):
        """(f, k, cx, cy)[:width] per group (G, width), of the current K and radial or those
        given (C, 3, 3), (C,)."""
        K = self.K[self.first] if K is None else K[self.first]
        radial = self.radial[self.first] if radial is None else radial[self.first]
        return np.stack([K[:, 0, 0], radial, K[:, 0, 2], K[:, 1, 2]], axis=1)[:, :self.width]

    def moved(self, dc, refine):
        """Poses, K and radial after the reduced step dc ((6C + width G,)); refine: (G, width)
        bool."""
        C = len(self.R)
        Rn = np.empty_like(self.R)
        _step(self.R, dc[:6 * C].reshape(C, 6), Rn)
        tn = self.t + dc[:6 * C].reshape(C, 6)[:, 3:]
        now = self.intrinsics()
        new = np.where(refine, now + dc[6 * C:].reshape(-1, self.width), now)[self.groups]
        Kn = self.K.copy()
        Kn[:, :2, :2] *= (new[:, 0] / now[self.groups, 0])[:, None, None]
        if self.width == INTRINSICS:
            Kn[:, :2, 2] = np.where(refine[self.groups, 2:], new[:, 2:], self.K[:, :2, 2])
        kn = np.where(refine[self.groups, 1], new[:, 1], self.radial)
        return Rn, tn, Kn, kn

    def errors(self, X, R=None, t=None, K=None, radial=None):
        r = np.empty((len(self.oc), 2))
        _residuals(self.R if R is None else R, self.t if t is None else t,
                   self.K if K is None else K, self.radial if radial is None else radial,
                   X, self.oc, self.op, self.xy, r)
        return np.hypot(r[:, 0], r[:, 1])

    def reported_errors(self, X):
        """`errors`, inf where the point is at or behind the camera (depth <= 0, or not finite).
        The cost cannot tell: a point that slid along its rays through a camera centre or
        through infinity reprojects, mirrored, where it did in front."""
        depth = np.einsum("oj,oj->o", self.R[self.oc, 2], X[self.op]) + self.t[self.oc, 2]
        return np.where(depth > 0, self.errors(X), np.inf)

    def cost(self, X, scale, refine, R=None, t=None, K=None, radial=None):
        """Robust cost sum_o rho(|e_o|) (Huber with `scale`, inf: plain least squares) plus the
        priors of the refined intrinsics."""
        e = self.errors(X, R, t, K, radial)
        q = np.minimum(e, scale)
        z = np.where(refine, (self.intrinsics(K, radial) - self.prior) / self.sigma, 0.0)
        return float(np.sum(q * (e - 0.5 * q)) + 0.5 * np.sum(z * z))


def _levenberg_marquardt(m, X, scale, free, max_evaluations, tolerance):
    """Refine the `_Model` m and X (P, 3) in place; free: (6C + m.width G,) bool mask of the
    reduced parameters (w, t per camera, then f, k[, cx, cy] per group) that move. Returns (the
    number of cost evaluations, the standard deviations of the reduced parameters at the end
    (6C + m.width G,)). The Jacobian has the columns of the intrinsics refined anywhere: 6
    (poses), 8 (and f, k) or 10 (and the principal point)."""
    C, P, O = len(m.R), len(X), len(m.oc)
    N = free.size
    refine = free[6 * C:].reshape(-1, m.width)
    pt_ptr, pt_obs = _groups(m.op, P)
    nc = NC_POSE + m.width if refine.any() else NC_POSE
    idx = np.ascontiguousarray(m.idx[:, :nc])
    Jc, Jp = np.empty((O, 2, nc)), np.empty((O, 2, 3))
    r, w = np.empty((O, 2)), np.empty(O)
    H, g = np.empty((N, N)), np.empty(N)
    V, gp = np.empty((P, 3, 3)), np.empty((P, 3))
    Wb, Y = np.empty((O, nc, 3)), np.empty((O, nc, 3))
    Vinv, T, bt = np.empty((P, 3, 3)), np.empty((N, N)), np.empty(N)
    dp = np.empty((P, 3))
    Xn = np.empty_like(X)
    fidx = np.flatnonzero(free)
    mu, nu = MU_START, 2.0
    cost = m.cost(X, scale, refine)
    evaluations = 1

    def linearize():
        _linearize(m.R, m.t, m.K, m.radial, X, m.oc, m.op, m.xy, scale, Jc, Jp, r, w)
        _normal_blocks(Jc, Jp, r, w, idx, pt_ptr, pt_obs, H, g, V, gp, Wb)
        z = np.where(refine, (m.intrinsics() - m.prior) / m.sigma, 0.0).ravel()
        H[np.arange(6 * C, N), np.arange(6 * C, N)] += refine.ravel() / m.sigma.ravel() ** 2
        g[6 * C:] += z / m.sigma.ravel()

    while evaluations < max_evaluations:
        linearize()
        if max(np.abs(g[fidx]).max(initial=0.0), np.abs(gp).max(initial=0.0)) < tolerance:
            break
        Dh = np.maximum(np.diagonal(H), DIAGONAL_MIN)
        Dv = np.maximum(np.diagonal(V, axis1=1, axis2=2), DIAGONAL_MIN)
        accepted = False
        while not accepted and evaluations < max_evaluations and mu < MU_MAX:
            _schur(V, gp, Wb, Dv, mu, idx, pt_ptr, pt_obs, T, bt, Vinv, Y)
            S = H - T
            S[np.arange(N), np.arange(N)] += mu * Dh
            dc = np.zeros(N)
            try:
                if fidx.size:  # else every camera is held: points alone move
                    dc[fidx] = scipy.linalg.cho_solve(
                        scipy.linalg.cho_factor(S[np.ix_(fidx, fidx)], check_finite=False),
                        (bt - g)[fidx], check_finite=False)
            except np.linalg.LinAlgError:
                mu, nu = mu * nu, 2.0 * nu
                continue
            _back_substitute(dc, Vinv, gp, Wb, idx, pt_ptr, pt_obs, dp)
            # predicted reduction of the reweighted quadratic model: h^T (mu D h - g) / 2
            predicted = 0.5 * (np.sum(dc * (mu * Dh * dc - g)) + np.sum(dp * (mu * Dv * dp - gp)))
            moved = m.moved(dc, refine)
            np.add(X, dp, out=Xn)
            new_cost = m.cost(Xn, scale, refine, *moved)
            evaluations += 1
            rho = (cost - new_cost) / predicted if predicted > 0 else -1.0
            if rho > 0:
                accepted = True
                m.R[:], m.t[:], m.K[:], m.radial[:] = moved
                X[:] = Xn
                mu *= max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
                nu = 2.0
                converged = cost - new_cost < tolerance * cost
                cost = new_cost
            else:
                mu, nu = mu * nu, 2.0 * nu
        if not accepted or converged:
            break
    return evaluations, _standard_deviations(m, X, scale, free, linearize, H, g, V, gp, Wb,
                                             idx, pt_ptr, pt_obs, T, bt, Vinv, Y)


def _standard_deviations(m, X, scale, free, linearize, H, g, V, gp, Wb, idx, pt_ptr, pt_obs,
                         T, bt, Vinv, Y):
    """Marginal standard deviations of the refined intrinsics (6C + m.width G,; NaN
    elsewhere) at the current state: the diagonal of the inverse of the undamped reduced system
    times the residual variance per coordinate (weighted squares over the degrees of freedom)."""
    N, C = free.size, len(m.R)
    out = np.full(N, np.nan)
    sel = np.flatnonzero(free[6 * C:]) + 6 * C
    if sel.size == 0:
        return out
    linearize()
    _schur(V, gp, Wb, np.zeros_like(gp), 0.0, idx, pt_ptr, pt_obs, T, bt, Vinv, Y)
    fidx = np.flatnonzero(free)
    try:
        cov = np.linalg.inv((H - T)[np.ix_(fidx, fidx)])
    except np.linalg.LinAlgError:
        return out
    e = m.errors(X)
    wsq = np.sum(np.where(e <= scale, e * e, scale * e))
    dof = max(2 * len(e) - fidx.size - 3 * len(X), 1)
    var = np.diagonal(cov)[np.searchsorted(fidx, sel)]
    out[sel] = np.sqrt(np.maximum(var, 0.0) * wsq / dof)
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
def _project(R, t, K, radial, X, c, p):
    """Pixel (x, y) of point p in camera c and the camera-frame point (q0, q1, q2), as scalars
    (no array is allocated per observation)."""
    q0 = R[c, 0, 0] * X[p, 0] + R[c, 0, 1] * X[p, 1] + R[c, 0, 2] * X[p, 2] + t[c, 0]
    q1 = R[c, 1, 0] * X[p, 0] + R[c, 1, 1] * X[p, 1] + R[c, 1, 2] * X[p, 2] + t[c, 1]
    q2 = R[c, 2, 0] * X[p, 0] + R[c, 2, 1] * X[p, 1] + R[c, 2, 2] * X[p, 2] + t[c, 2]
    u, v = q0 / q2, q1 / q2
    d = 1.0 + radial[c] * (u * u + v * v)
    return (K[c, 0, 0] * d * u + K[c, 0, 1] * d * v + K[c, 0, 2],
            K[c, 1, 1] * d * v + K[c, 1, 2], q0, q1, q2)


@njit(cache=True)
def _residuals(R, t, K, radial, X, oc, op, xy, out):
    """Projection minus observation (O, 2)."""
    for o in range(oc.size):
        x, y, _, _, _ = _project(R, t, K, radial, X, oc[o], op[o])
        out[o, 0] = x - xy[o, 0]
        out[o, 1] = y - xy[o, 1]


@njit(cache=True)
def _linearize(R, t, K, radial, X, oc, op, xy, scale, Jc, Jp, r, w):
    """Per observation o: residual r[o] (2,), IRLS weight w[o] = min(1, scale / |r|), and the
    Jacobian blocks Jc[o] = d r / d(w, t, f, k, cx, cy) (2, 10; the first 6 or 8 columns where
    Jc has fewer) at w = 0 (R <- exp([w]x) R; f scales K's 2 x 2 block) and Jp[o] = d r / d X
    (2, 3)."""
    B = np.empty((2, 2))
    g = np.empty((2, 3))  # d(pixel) / dq
    for o in range(oc.size):
        c, p = oc[o], op[o]
        x, y, q0, q1, q2 = _project(R, t, K, radial, X, c, p)
        r[o, 0], r[o, 1] = x - xy[o, 0], y - xy[o, 1]
        e = np.sqrt(r[o, 0] * r[o, 0] + r[o, 1] * r[o, 1])
        w[o] = 1.0 if e <= scale else scale / e
        iz = 1.0 / q2
        u, v, k = q0 * iz, q1 * iz, radial[c]
        r2 = u * u + v * v
        d = 1.0 + k * r2
        fx, s, fy = K[c, 0, 0], K[c, 0, 1], K[c, 1, 1]
        # d(pixel) / d(u, v) = A D, A = K's 2 x 2 block, D = d(d u, d v) / d(u, v)
        D00, D01, D11 = d + 2.0 * k * u * u, 2.0 * k * u * v, d + 2.0 * k * v * v
        B[0, 0], B[0, 1] = fx * D00 + s * D01, fx * D01 + s * D11
        B[1, 0], B[1, 1] = fy * D01, fy * D11
        for k2 in range(2):
            g[k2, 0] = B[k2, 0] * iz
            g[k2, 1] = B[k2, 1] * iz
            g[k2, 2] = -(B[k2, 0] * u + B[k2, 1] * v) * iz
        a0, a1, a2 = q0 - t[c, 0], q1 - t[c, 1], q2 - t[c, 2]  # R X
        for k2 in range(2):
            # dq/dw = -[a]x: g . (dw x a) = dw . (a x g)
            Jc[o, k2, 0] = a1 * g[k2, 2] - a2 * g[k2, 1]
            Jc[o, k2, 1] = a2 * g[k2, 0] - a0 * g[k2, 2]
            Jc[o, k2, 2] = a0 * g[k2, 1] - a1 * g[k2, 0]
            for i in range(3):
                Jc[o, k2, 3 + i] = g[k2, i]
                Jp[o, k2, i] = g[k2, 0] * R[c, 0, i] + g[k2, 1] * R[c, 1, i] + g[k2, 2] * R[c, 2, i]
        if Jc.shape[2] == NC_POSE:  # intrinsics held
            continue
        Jc[o, 0, 6] = (fx * d * u + s * d * v) / fx  # K's block scaled by (f + df) / f
        Jc[o, 1, 6] = fy * d * v / fx
        Jc[o, 0, 7] = (fx * u + s * v) * r2
        Jc[o, 1, 7] = fy * v * r2
        if Jc.shape[2] == NC_FOCAL:  # principal points held
            continue
        Jc[o, 0, 8], Jc[o, 1, 8] = 1.0, 0.0
        Jc[o, 0, 9], Jc[o, 1, 9] = 0.0, 1.0


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
        for m in range(pt_ptr[p], pt_ptr[p + 1]):
            a = pt_obs[m]
            for i in range(n):
                for j in range(3):
                    Y[a, i, j] = (Wb[a, i, 0] * Vinv[p, 0, j] + Wb[a, i, 1] * Vinv[p, 1, j]
                                  + Wb[a, i, 2] * Vinv[p, 2, j])
                bt[idx[a, i]] += Y[a, i, 0] * gp[p, 0] + Y[a, i, 1] * gp[p, 1] + Y[a, i, 2] * gp[p, 2]
        for m in range(pt_ptr[p], pt_ptr[p + 1]):
            a = pt_obs[m]
            for m2 in range(pt_ptr[p], pt_ptr[p + 1]):
                o = pt_obs[m2]
                for i in range(n):
                    for j in range(n):
                        T[idx[a, i], idx[o, j]] += (Y[a, i, 0] * Wb[o, j, 0]
                                                    + Y[a, i, 1] * Wb[o, j, 1]
                                                    + Y[a, i, 2] * Wb[o, j, 2])


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
