"""The estimator concept of the RANSAC engine, one integer model kind per estimator.

A kind supplies four kernels, chosen at compile time: the kind is a compile-time constant of
the engine (`numba.literally`), and each of the four names below is resolved (an `overload` on
the literal kind) to that kind's own kernel, so a fit of one kind compiles only its solver,
residual and refit (one runtime switch over all kinds compiled every solver: 100 s on a cold
cache before the first relative pose, 14 s of it the unused seven-point solver). The kernels
that adapt a solver or a refit to the layout below are inlined: every compiled function
above a solver links and re-optimises the solver's whole code on a cold cache (about 2 s for
the seven-point one). They are callable from numba code only (the engine and
`geom.multimodel`):

- `_minimal(kind, a, b, calib, models, work) -> k`: the minimal solver, models from
  `sample_size(kind)` correspondences `a`, `b`, written into `models` (MAX_MODELS, 3, 4), work a
  scratch of MINIMAL_WORK (the RANSAC loop allocates it once); k = 0 for a degenerate sample;
- `_residual(kind, model, a, b, i, calib)`: the error of correspondence i, a distance in pixels
  (not squared); `_residuals` the same for all of them;
- `_refit(kind, a, b, w, calib, model) -> bool`: the weighted non-minimal fit on a subset (in place,
  starting from the current model for the iterative ones);
- `_sample_ok(kind, a, b) -> bool`: a cheap degeneracy test of a sample before solving.

Data layout: `a` (N, 2 or 3) and `b` (N, 2) contiguous float64; `calib` (4, 3, 3) holds
[K1, K2, K1^-1, K2^-1] (`_calibration`; identities for the uncalibrated kinds); a model is a
(3, 4) array:
- FUNDAMENTAL: a, b pixels of images 1 and 2; model[:, :3] = F; Sampson distance;
  7-point minimal, weighted 8-point refit.
- ESSENTIAL: a, b pixels; model[:, :3] = F = K2^-T E K1^-1, so that the residual is the
  pixel Sampson distance exactly (any focal lengths, skew included); five-point minimal on
  the normalised sample; refit: LM of the 5-dof pose (from one decomposition of E: the
  Sampson error does not depend on which) on the pixel Sampson error.
- HOMOGRAPHY: a, b pixels; model[:, :3] = H; one-sided transfer error in image 2; 4-point DLT.
- ABSOLUTE_POSE: a world points (N, 3), b pixels of the camera K2; model = [R | t];
  reprojection error in pixels (inf behind the camera); P3P minimal on the normalised sample,
  LM refit.
"""
import numpy as np
from numba import literally, njit, types
from numba.extending import overload

from ..camera import _normalize_points
from ..eightpoint import _eight_point_into, _scratch
from ..epipolar import _decompose_essential, _sampson_distance
from ..fivepoint import WORK_SIZE, _five_point
from ..homography import _homography_dlt_into, _transfer_distance
from ..p3p import _p3p
from ..refine import _refine_absolute, _refine_relative
from ..rotation import _skew_into
from ..sevenpoint import _seven_point

FUNDAMENTAL, ESSENTIAL, HOMOGRAPHY, ABSOLUTE_POSE = 0, 1, 2, 3
SAMPLE_SIZES = (7, 5, 4, 3)
MAX_MODELS = 10
# _minimal's scratch: the normalised five-point sample (2 x (5, 2)), its essential matrices
# (10, 3, 3) and the five-point solver's scratch
MINIMAL_WORK = 20 + 90 + WORK_SIZE
# SPRT's time of one minimal solve in residual evaluations, and its models per sample (measured
# once on bench_robust's problems; the SPRT threshold depends on them only weakly)
SOLVE_COST = (300.0, 2000.0, 100.0, 300.0)
MODELS_PER_SAMPLE = (1.5, 4.4, 1.0, 1.5)


def _calibration(cameras):
    """The kernels' calib [K1, K2, K1^-1, K2^-1] (4, 3, 3) of cameras (K1, K2); identities when
    cameras is None (the uncalibrated kinds)."""
    K1, K2 = (np.eye(3), np.eye(3)) if cameras is None else cameras
    return np.ascontiguousarray(np.stack([K1, K2, np.linalg.inv(K1), np.linalg.inv(K2)]))


@njit(cache=True)
def sample_size(kind):
    if kind == FUNDAMENTAL:
        return 7
    if kind == ESSENTIAL:
        return 5
    if kind == HOMOGRAPHY:
        return 4
    return 3


@njit(cache=True)
def _collinear(p, i, j, k):
    """Are the 2D points p[i], p[j], p[k] (nearly) collinear?"""
    ux = p[j, 0] - p[i, 0]
    uy = p[j, 1] - p[i, 1]
    vx = p[k, 0] - p[i, 0]
    vy = p[k, 1] - p[i, 1]
    cross = ux * vy - uy * vx
    return abs(cross) <= 1e-8 * (ux * ux + uy * uy + vx * vx + vy * vy)


@njit(cache=True, inline="always")
def _homography_sample_ok(a, b):
    for i in range(4):
        for j in range(i + 1, 4):
            for k in range(j + 1, 4):
                if _collinear(a, i, j, k) or _collinear(b, i, j, k):
                    return False
    return True


@njit(cache=True, inline="always")
def _any_sample_ok(a, b):
    return True


@njit(cache=True)
def _fundamental_from_essential(E, K2inv, K1inv, out):
    """out[:, :3] = F = K2^-T E K1^-1 at unit Frobenius norm, in scalar loops (a 3 x 3 matmul
    in numba is a BLAS call, slower than the minimal solver's arithmetic around it)."""
    nrm = 0.0
    for a in range(3):
        for b in range(3):
            acc = 0.0
            for c in range(3):
                acc += K2inv[c, a] * (E[c, 0] * K1inv[0, b] + E[c, 1] * K1inv[1, b]
                                      + E[c, 2] * K1inv[2, b])
            out[a, b] = acc
            nrm += acc * acc
    nrm = np.sqrt(nrm)
    for a in range(3):
        for b in range(3):
            out[a, b] /= nrm


@njit(cache=True, inline="always")
def _seven_point_models(a, b, calib, models, work):
    F = np.empty((3, 3, 3))
    k = _seven_point(a, b, F)
    for m in range(k):
        models[m, :, :3] = F[m]
    return k


@njit(cache=True, inline="always")
def _five_point_models(a, b, calib, models, work):
    q1 = _normalize_points(a, calib[0], work[:10].reshape((5, 2)))
    q2 = _normalize_points(b, calib[1], work[10:20].reshape((5, 2)))
    Es = work[20:110].reshape((10, 3, 3))
    k = _five_point(q1, q2, Es, work[110:])
    for m in range(max(k, 0)):
        _fundamental_from_essential(Es[m], calib[3], calib[2], models[m])
    return max(k, 0)


@njit(cache=True, inline="always")
def _four_point_models(a, b, calib, models, work):
    H = np.empty((3, 3))
    if not _homography_dlt_into(a, b, np.ones(4), H):
        return 0
    models[0, :, :3] = H
    return 1


@njit(cache=True, inline="always")
def _p3p_models(a, b, calib, models, work):
    Rs = np.empty((4, 3, 3))
    ts = np.empty((4, 3))
    k = _p3p(a, _normalize_points(b, calib[1], np.empty((3, 2))), Rs, ts)
    for m in range(max(k, 0)):
        models[m, :, :3] = Rs[m]
        models[m, :, 3] = ts[m]
    return max(k, 0)


@njit(cache=True, inline="always")
def _sampson_residual(model, a, b, i, calib):
    return _sampson_distance(model, a, b, i)


@njit(cache=True, inline="always")
def _transfer_residual(model, a, b, i, calib):
    return _transfer_distance(model, a, b, i)


@njit(cache=True, inline="always")
def _reprojection_residual(model, a, b, i, calib):
    """Reprojection error in camera K2 = calib[1] (inf behind the camera)."""
    K = calib[1]
    x = model[0, 0] * a[i, 0] + model[0, 1] * a[i, 1] + model[0, 2] * a[i, 2] + model[0, 3]
    y = model[1, 0] * a[i, 0] + model[1, 1] * a[i, 1] + model[1, 2] * a[i, 2] + model[1, 3]
    z = model[2, 0] * a[i, 0] + model[2, 1] * a[i, 1] + model[2, 2] * a[i, 2] + model[2, 3]
    if z <= 0.0:
        return np.inf
    ex = K[0, 0] * x / z + K[0, 1] * y / z + K[0, 2] - b[i, 0]
    ey = K[1, 1] * y / z + K[1, 2] - b[i, 1]
    return np.sqrt(ex * ex + ey * ey)


@njit(cache=True)
def _residuals(kind, model, a, b, calib, out):
    """out (N,) = `_residual` of every correspondence (kind: any integer, made a constant)."""
    literally(kind)
    for i in range(a.shape[0]):
        out[i] = _residual(kind, model, a, b, i, calib)


@njit(cache=True)
def min_refit_size(kind):
    """Fewest correspondences the non-minimal refit accepts."""
    if kind == FUNDAMENTAL:
        return 8
    return sample_size(kind) + 1


@njit(cache=True, inline="always")
def _eight_point_refit(a, b, w, calib, model):
    F = np.empty((3, 3))
    if _eight_point_into(a, b, w, F, _scratch(a.shape[0], 1)):
        return False
    model[:, :3] = F
    return True


@njit(cache=True, inline="always")
def _homography_refit(a, b, w, calib, model):
    H = np.empty((3, 3))
    if not _homography_dlt_into(a, b, w, H):
        return False
    model[:, :3] = H
    return True


@njit(cache=True, inline="always")
def _relative_pose_refit(a, b, w, calib, model):
    R = np.empty((3, 3))
    t = np.empty(3)
    _decompose_essential(np.ascontiguousarray(calib[1].T) @ np.ascontiguousarray(model[:, :3])
                         @ calib[0], R, t)
    _refine_relative(a, b, w, calib[2], calib[3], R, t, 10)
    S = np.empty((3, 3))
    _skew_into(t, S)
    F = np.ascontiguousarray(calib[3].T) @ S @ R @ calib[2]
    model[:, :3] = F / np.sqrt(np.sum(F * F))
    return True


@njit(cache=True, inline="always")
def _absolute_pose_refit(a, b, w, calib, model):
    R = np.ascontiguousarray(model[:, :3])
    t = np.ascontiguousarray(model[:, 3])
    _refine_absolute(a, b, w, calib[1], R, t, 10)
    model[:, :3] = R
    model[:, 3] = t
    return True


# ------------------------------------------------ the kernels of a kind, chosen at compile time

def _kernel(kernels, kind):
    """kernels[kind] for a compile-time constant kind, else None (numba then asks for one)."""
    if isinstance(kind, types.IntegerLiteral):
        return kernels[kind.literal_value]
    return None


def _minimal(kind, a, b, calib, models, work):
    """Minimal solver: models from a sample (see the module docstring) -> how many."""


@overload(_minimal, prefer_literal=True)
def _minimal_of_kind(kind, a, b, calib, models, work):
    kernel = _kernel((_seven_point_models, _five_point_models, _four_point_models, _p3p_models),
                     kind)
    if kernel is not None:
        return lambda kind, a, b, calib, models, work: kernel(a, b, calib, models, work)


def _residual(kind, model, a, b, i, calib):
    """The error of correspondence i under model, in pixels (inf where undefined)."""


@overload(_residual, prefer_literal=True, inline="always")  # per point inside the SPRT loop
def _residual_of_kind(kind, model, a, b, i, calib):
    kernel = _kernel((_sampson_residual, _sampson_residual, _transfer_residual,
                      _reprojection_residual), kind)
    if kernel is not None:
        return lambda kind, model, a, b, i, calib: kernel(model, a, b, i, calib)


def _refit(kind, a, b, w, calib, model):
    """Weighted non-minimal fit into model (in place); False leaves the model unusable."""


@overload(_refit, prefer_literal=True)
def _refit_of_kind(kind, a, b, w, calib, model):
    kernel = _kernel((_eight_point_refit, _relative_pose_refit, _homography_refit,
                      _absolute_pose_refit), kind)
    if kernel is not None:
        return lambda kind, a, b, w, calib, model: kernel(a, b, w, calib, model)


def _sample_ok(kind, a, b):
    """A cheap degeneracy test of a sample before solving."""


@overload(_sample_ok, prefer_literal=True)
def _sample_ok_of_kind(kind, a, b):
    kernel = _kernel((_any_sample_ok, _any_sample_ok, _homography_sample_ok, _any_sample_ok),
                     kind)
    if kernel is not None:
        return lambda kind, a, b: kernel(a, b)
