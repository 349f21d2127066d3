"""Incremental reconstruction: initial pair, then register, triangulate, adjust, filter, repeat.

The steps are public functions over a `WorkingModel` (cameras by image index, a point per track,
an inlier flag per observation, the camera groups' intrinsics), tuned by `IncrementalOptions`,
as COLMAP's IncrementalMapper and OpenSfM's reconstruction functions; `reconstruct` chains them:

1. initial pair (`initial_pair`, `start_from_pair`): the verified pair with the most inliers
   among those whose median triangulation angle is at least `init_min_angle` (else the one with
   the widest angle);
2. triangulate (`triangulate`) every track seen by two or more registered images
   (`geom.triangulate.dlt_multiview`), keep points in front of their cameras, with enough
   parallax (`min_parallax`) and small reprojection errors; observations above `max_error` are
   marked outliers;
3. register (`next_image`, `register_image`) the unregistered image with the most 2D-3D matches
   by `geom.robust.estimate_absolute_pose` (`register_by_pose`); where it has too few (sparse
   rings: a neighbour's matches are mostly of tracks not yet triangulated), chain the verified
   relative pose to a registered neighbour, its scale fixed by the few 2D-3D matches it has
   (`register_by_pair`); triangulate the tracks it completes, bundle-adjust
   (`geom.bundle.bundle_adjust`), drop outlier observations (`filter_observations`: error above
   `max_error`, or the point at or behind the camera: the adjustment can slide a point of little
   parallax through infinity or a camera centre without changing its pixels) and points left
   with fewer than two (`filter_points`). The adjustment (`adjust_new_image`) is local
   (`adjust_local`: the new image, its `local_images` - 1 best-connected neighbours and their
   points; the other images that see those points held fixed) except each time the model has
   grown by `global_growth` since the last global one (`adjust_global`), as COLMAP schedules it;
4. repeat until no image registers (`grow`); a final global adjustment (Huber loss), outlier
   removal and a last least-squares polish, then the same outlier removal on the model written
   (`filter_model`, `to_reconstruction`): every point finite, in front of the cameras that keep
   it. The adjustments along the way stop early (few evaluations): the next registration only
   needs good enough cameras.

Self-calibration: the global adjustments of a model of `min_calibration_images` or more images
also refine the intrinsics of the camera groups that `refine` names (`geom.bundle.bundle_adjust`);
each image's K and radial coefficient follow its group, registered or not. Registration and
triangulation work on the observations undistorted by the current intrinsics
(`calibration.undistort`: rays of the pinhole K); the adjustments and the outlier test on the
observed pixels through the radial model. Where a focal length moved by more than
`restart_change` of its start, the model is reconstructed again from the refined intrinsics
(`focal_change`, `restart`), at most `max_passes` times in all.
"""
from dataclasses import dataclass, field, replace

import numpy as np

from geom.bundle import bundle_adjust
from geom.camera import Camera
from geom.robust import estimate_absolute_pose, estimate_relative_pose
from geom.triangulate import (cheirality_parallax_check, dlt_multiview, midpoint,
                              reprojection_errors)
from geom.progress import count

from ..seeds import derive_seed
from ..tracks import Tracks, build_tracks
from .calibration import undistort
from .reconstruction import Reconstruction


@dataclass(frozen=True, kw_only=True)
class IncrementalOptions:
    """How `reconstruct` and its steps work.

    max_error: reprojection error (pixels) above which an observation is an outlier; seed: of
    the registrations' RANSAC, per image by its name (`seeds.derive_seed`); refine: (G, 4) bool,
    whether a camera group's focal length, radial coefficient, cx and cy are refined (None:
    none). Angles in radians.
    """

    max_error: float = 4.0
    seed: int = 0
    refine: np.ndarray = None
    init_min_angle: float = np.radians(4.0)  # median parallax of a wide initial pair
    min_parallax: float = np.radians(1.5)  # of a triangulated point
    min_register_inliers: int = 12  # of a registration by 2D-3D pose
    min_scale_matches: int = 3  # 2D-3D matches that fix the scale of a registration by pair
    local_images: int = 6  # a local adjustment refines the new image and its best neighbours
    global_growth: float = 1.25  # a global adjustment each time the model grew by this factor
    min_calibration_images: int = 3  # two views barely fix a focal length: held until three
    restart_change: float = 0.005  # a focal length refined by more than this share restarts ...
    max_passes: int = 5  # ... the model from the refined intrinsics, at most this many in all
    initial_evaluations: int = 30  # bundle adjustment budgets: after the initial pair,
    step_evaluations: int = 15  # after each registration,
    final_robust_evaluations: int = 90  # the final one (Huber loss)
    final_evaluations: int = 50  # and its least-squares polish
    tolerance: float = 1e-6  # bundle adjustment's relative cost decrease to stop at

    def refine_flags(self, n_groups):
        """`refine` as a (n_groups, 4) bool array."""
        return np.zeros((n_groups, 4), bool) if self.refine is None else np.asarray(self.refine)


@dataclass
class WorkingModel:
    """The model an incremental reconstruction grows.

    Given: names, size (width, height) and features (`features.Features`) of the images; pairs:
    their verified `matching.PairMatches`; Ks: per image (3, 3), the intrinsics to start from;
    groups: (N,) int camera group per image (default: one per image); models: per group its
    COLMAP camera model name (default PINHOLE), for the model written; radial: (N,) radial
    coefficient per image to start from (default 0); tracks: `reconstruction.Tracks` (default:
    built from the pairs); verified_Ks: those the pairs' relative poses were verified with
    (default: Ks).

    State: cameras per image (None until registered), order (the registered images in order),
    points (a point per track, NaN until triangulated), inlier (a flag per track observation),
    Ks and radial (the current intrinsics, those of a group shared by its images), std (G, 4)
    standard deviations of the refined (f, k, cx, cy) at the last global adjustment, xy (the
    observations undistorted by the current intrinsics), version (how many times the
    intrinsics were refined), start_Ks (the Ks given), last_global_size (registered images at
    the last global adjustment). `restart(model)` is a fresh model from its current intrinsics.
    """

    names: list
    size: tuple
    features: list
    pairs: list
    Ks: list
    groups: np.ndarray = None
    models: list = None
    radial: np.ndarray = None
    tracks: Tracks = None
    verified_Ks: list = None
    cameras: list = field(init=False)
    order: list = field(init=False)
    points: np.ndarray = field(init=False)
    inlier: np.ndarray = field(init=False)
    std: np.ndarray = field(init=False)
    xy: np.ndarray = field(init=False)
    version: int = field(init=False)
    start_Ks: list = field(init=False)
    last_global_size: int = field(init=False)
    pair_poses: dict = field(init=False, repr=False)  # (i, j) -> (version, R, t)

    def __post_init__(self):
        n = len(self.Ks)
        self.verified_Ks = list(self.Ks) if self.verified_Ks is None else self.verified_Ks
        self.Ks = [np.array(K, float) for K in self.Ks]
        self.start_Ks = list(self.Ks)
        self.radial = np.zeros(n) if self.radial is None else np.array(self.radial, float)
        self.groups = np.arange(n) if self.groups is None else np.asarray(self.groups)
        self.models = self.models or ["PINHOLE"] * self.n_groups
        if self.tracks is None:
            self.tracks = build_tracks(self.features, self.pairs)
        self.cameras = [None] * n
        self.order = []
        self.points = np.full((self.tracks.count, 3), np.nan)
        self.inlier = np.ones(len(self.tracks.track), bool)
        self.std = np.full((self.n_groups, 4), np.nan)
        self.xy = self.tracks.xy.copy()
        _undistort_observations(self)
        self.version = 0
        self.last_global_size = 0
        self.pair_poses = {}

    @property
    def n_groups(self):
        return int(self.groups.max()) + 1

    def n_points(self):
        """Triangulated points."""
        return int(np.isfinite(self.points[:, 0]).sum())

    def active(self):
        """(O,) bool: the observations of registered images marked inliers."""
        registered = np.array([c is not None for c in self.cameras])
        return registered[self.tracks.image] & self.inlier

    def observed(self):
        """(O,) bool: the active observations of a point with finite coordinates."""
        return self.active() & np.isfinite(self.points).all(axis=1)[self.tracks.track]


def restart(model):
    """A fresh model of the same images and tracks that starts from `model`'s current
    intrinsics (nothing registered)."""
    return replace(model)


def focal_change(model):
    """Largest |log| ratio of a registered image's focal length to its start."""
    return max(abs(np.log(model.Ks[k][0, 0] / model.start_Ks[k][0, 0])) for k in model.order)


# ---------------------------------------------------------------------------- initial pair

def initial_pair(model, options):
    """(i, j, R, t) of the pair to start from: the one with the most matches among those whose
    median parallax is at least `init_min_angle`, else the one with the widest; (R, t) its
    relative pose (`X_j = R X_i + t`, |t| = 1) with the current intrinsics."""
    def key(pm):
        angle = _median_parallax(model, pm)
        wide = angle >= options.init_min_angle
        return wide, len(pm.matches) if wide else angle
    best = max(model.pairs, key=key)
    return (best.i, best.j, *_pair_pose(model, best))


def start_from_pair(model, i, j, R, t):
    """Register image i at the origin and image j at the relative pose (R, t) from it."""
    _register(model, i, Camera(model.Ks[i], np.eye(3), np.zeros(3)))
    _register(model, j, Camera(model.Ks[j], R, t))


def _median_parallax(model, pm):
    """Median triangulation angle of a pair's matches at its relative pose."""
    R, t = _pair_pose(model, pm)
    c1 = Camera(model.Ks[pm.i], np.eye(3), np.zeros(3))
    c2 = Camera(model.Ks[pm.j], R, t)
    x1 = model.features[pm.i].keypoints[pm.matches[:, 0]]
    x2 = model.features[pm.j].keypoints[pm.matches[:, 1]]
    return float(np.median(cheirality_parallax_check(c1, c2, midpoint(c1, c2, x1, x2)).parallax))


def _pair_pose(model, pm):
    """Relative pose (R, t) of a verified pair: as verified, or, where the intrinsics of either
    image differ from those it was verified with, re-estimated on its matches (undistorted)
    with them."""
    if all(np.array_equal(model.Ks[k], model.verified_Ks[k]) and model.radial[k] == 0
           for k in (pm.i, pm.j)):
        return pm.R, pm.t
    cached = model.pair_poses.get((pm.i, pm.j))
    if cached is None or cached[0] != model.version:
        x1, x2 = (undistort(model.features[k].keypoints[pm.matches[:, n]], model.Ks[k],
                            model.radial[k]) for n, k in enumerate((pm.i, pm.j)))
        res = estimate_relative_pose(x1, x2, model.Ks[pm.i], model.Ks[pm.j], threshold=1.0,
                                     seed=derive_seed(0, pm.i, pm.j))
        cached = (model.version, *((res.R, res.t) if res.success else (pm.R, pm.t)))
        model.pair_poses[(pm.i, pm.j)] = cached
    return cached[1], cached[2]


# ---------------------------------------------------------------------------- registration

def matches_2d3d(model, k):
    """Image k's observations of triangulated points: (observation indices, points (M, 3),
    undistorted pixels (M, 2))."""
    tr = model.tracks
    obs = np.flatnonzero((tr.image == k) & np.isfinite(model.points[tr.track, 0]))
    return obs, model.points[tr.track[obs]], model.xy[obs]


def next_image(model, skip=()):
    """The unregistered image, not in `skip`, with the most 2D-3D matches (None: none left)."""
    candidates = [k for k in range(len(model.cameras))
                  if model.cameras[k] is None and k not in skip]
    if not candidates:
        return None
    return candidates[int(np.argmax([matches_2d3d(model, k)[0].size for k in candidates]))]


def register_image(model, k, options):
    """Register image k by its 2D-3D matches, else by a verified pair -> whether it registered."""
    return register_by_pose(model, k, options) or register_by_pair(model, k, options)


def register_by_pose(model, k, options):
    """Register image k by RANSAC absolute pose on its 2D-3D matches (at least
    `min_register_inliers` inliers), its outlier matches marked -> whether it registered."""
    obs, X, x = matches_2d3d(model, k)
    if obs.size < options.min_register_inliers:
        return False
    res = estimate_absolute_pose(X, x, model.Ks[k], threshold=options.max_error,
                                 seed=derive_seed(options.seed, model.names[k]))
    if not res.success or res.num_inliers < options.min_register_inliers:
        return False
    _register(model, k, Camera(model.Ks[k], res.R, res.t))
    model.inlier[obs[~res.inliers]] = False
    return True


def register_by_pair(model, k, options):
    """Register image k by the relative pose of its best-matched verified pair with a registered
    image that puts `min_scale_matches` of its 2D-3D matches within `max_error` (the scale of the
    pair's unit translation: median of per-match least squares), its other matches marked
    outliers -> whether it registered."""
    obs, X, x = matches_2d3d(model, k)
    if obs.size < options.min_scale_matches:
        return False
    for pm in _pairs_with_registered(model, k):
        cam = _chain_pair_pose(model, k, pm, X, x)
        if cam is None:
            continue
        err = reprojection_errors([cam], X, x[None])[0]
        if (err < options.max_error).sum() >= options.min_scale_matches:
            _register(model, k, cam)
            model.inlier[obs[err >= options.max_error]] = False
            return True
    return False


def _pairs_with_registered(model, k):
    """Verified pairs of image k with a registered image, most matches first."""
    return sorted((pm for pm in model.pairs if k in (pm.i, pm.j)
                   and model.cameras[pm.i + pm.j - k] is not None), key=lambda pm: -len(pm.matches))


def _chain_pair_pose(model, k, pm, X, x):
    """Camera of image k from pair `pm`'s relative pose to its registered image, scaled to
    image k's 2D-3D matches (X, x); None where the scale is not positive."""
    r = model.cameras[pm.i + pm.j - k]
    R, t = _pair_pose(model, pm)
    R, t = (R, t) if pm.j == k else (R.T, -R.T @ t)  # X_k = R X_r + t
    Rk = R @ r.R
    a = X @ Rk.T + R @ r.t
    y = np.c_[x, np.ones(len(x))] @ np.linalg.inv(model.Ks[k]).T
    ya, yb = np.cross(y, a), np.cross(y, t)
    s = np.median(-(ya * yb).sum(1) / np.maximum((yb * yb).sum(1), 1e-300))
    return Camera(model.Ks[k], Rk, R @ r.t + s * t) if s > 0 else None


def _register(model, k, cam):
    model.cameras[k] = cam
    model.order.append(k)


# ---------------------------------------------------------------------------- triangulation

def triangulate(model, options):
    """Triangulate the tracks with no point and two or more active observations (undistorted);
    keep the points seen by two or more of them within `max_error` and with a parallax of at
    least `min_parallax`, and mark the other observations of those points outliers."""
    todo = _untriangulated(model)
    if todo.size == 0:
        return
    cams = [model.cameras[k] for k in model.order]
    obs, view, column, xs, mask = _observation_grid(model, todo)
    X = dlt_multiview(cams, xs, mask)
    good = np.isfinite(X).all(axis=1)
    X[~good] = 0.0
    err = np.where(mask, reprojection_errors(cams, X, xs), np.inf)
    inl = mask & (err < options.max_error)
    good &= inl.sum(axis=0) >= 2
    good &= _parallax(cams, X, inl) >= options.min_parallax
    model.points[todo[good]] = X[good]
    model.inlier[obs[~inl[view, column] & good[column]]] = False


def _untriangulated(model):
    """Tracks with no point and two or more active observations."""
    tr = model.tracks
    n_active = np.bincount(tr.track[model.active()], minlength=tr.count)
    return np.flatnonzero((n_active >= 2) & ~np.isfinite(model.points[:, 0]))


def _observation_grid(model, todo):
    """The active observations of tracks `todo` laid out by registered image (rows, in `order`)
    and track (columns): (observation indices, their row, their column, pixels (V, T, 2),
    mask (V, T))."""
    tr = model.tracks
    row_of = {k: v for v, k in enumerate(model.order)}
    column_of = np.full(tr.count, -1)
    column_of[todo] = np.arange(todo.size)
    obs = np.flatnonzero(model.active() & (column_of[tr.track] >= 0))
    row = np.array([row_of[k] for k in tr.image[obs]])
    column = column_of[tr.track[obs]]
    xs = np.zeros((len(model.order), todo.size, 2))
    mask = np.zeros((len(model.order), todo.size), bool)
    xs[row, column] = model.xy[obs]
    mask[row, column] = True
    return obs, row, column, xs, mask


def _parallax(cams, X, mask):
    """Per point, the largest angle between the ray of its first inlier view and another's."""
    rays = np.stack([c.center for c in cams])[:, None, :] - X[None]
    rays /= np.maximum(np.linalg.norm(rays, axis=2, keepdims=True), 1e-300)
    first = rays[np.argmax(mask, axis=0), np.arange(X.shape[0])]
    cos = np.einsum("vnk,nk->vn", rays, first)
    return np.where(mask, np.arccos(np.clip(cos, -1, 1)), 0.0).max(axis=0)


# ---------------------------------------------------------------------------- adjustment

def adjust_new_image(model, k, options):
    """After registering image k: a global adjustment where the model has grown by
    `global_growth` since the last one, else a local one around k (`step_evaluations`)."""
    if len(model.order) >= options.global_growth * model.last_global_size:
        adjust_global(model, options, options.step_evaluations)
    else:
        adjust_local(model, k, options, options.step_evaluations)


def adjust_global(model, options, max_evaluations, loss="linear"):
    """Bundle-adjust every registered camera and point, with the intrinsics that `refine` names
    once `min_calibration_images` are registered, then filter outliers."""
    _adjust_all(model, options, max_evaluations, loss)
    model.last_global_size = len(model.order)


def adjust_local(model, k, options, max_evaluations):
    """Bundle-adjust image k and its `local_images` - 1 best-connected neighbours and the points
    they see, the other images that see those points held fixed, then filter outliers. Where
    fewer than two would be held (too few to fix the gauge) everything is adjusted, without
    counting as a global adjustment."""
    tr = model.tracks
    obs = model.observed()
    local = _neighbourhood(model, k, obs, options.local_images)
    touched = np.zeros(tr.count, bool)
    touched[tr.track[obs & np.isin(tr.image, list(local))]] = True
    obs &= touched[tr.track]
    present = set(tr.image[obs].tolist())
    views = [v for v in model.order if v in present]
    fixed = np.array([v not in local for v in views])
    if fixed.sum() < 2:
        _adjust_all(model, options, max_evaluations, "linear")
    else:
        _bundle(model, options, obs, views, fixed, max_evaluations, "linear", calibrate=False)


def _neighbourhood(model, k, obs, size):
    """Image k and the `size` - 1 registered images sharing the most points (`obs`) with it."""
    tr = model.tracks
    seen = np.zeros(tr.count, bool)
    seen[tr.track[obs & (tr.image == k)]] = True
    shared = np.bincount(tr.image[obs & seen[tr.track]], minlength=len(model.cameras))
    shared[k] = 0
    best = [v for v in np.argsort(-shared, kind="stable")[:size - 1] if shared[v] > 0]
    return {k, *best}


def _adjust_all(model, options, max_evaluations, loss):
    _bundle(model, options, model.observed(), model.order, None, max_evaluations, loss,
            calibrate=len(model.order) >= options.min_calibration_images)


def _bundle(model, options, obs, views, fixed, max_evaluations, loss, calibrate):
    """Bundle-adjust the observations `obs` (bool mask) of images `views` (`fixed`: (V,) bool
    held, or None), their points and, with `calibrate`, the refined intrinsics; write the
    result into the model and filter outliers."""
    tr = model.tracks
    sel = np.flatnonzero(obs)
    pts, point_index = np.unique(tr.track[sel], return_inverse=True)
    row_of = {k: v for v, k in enumerate(views)}
    cam_index = np.array([row_of[k] for k in tr.image[sel]], dtype=np.int64)
    present, groups = np.unique(model.groups[views], return_inverse=True)
    refine = options.refine_flags(model.n_groups)[present] & calibrate
    res = bundle_adjust([model.cameras[k] for k in views], model.points[pts], cam_index,
                        point_index.astype(np.int64), tr.xy[sel], loss=loss,
                        max_evaluations=max_evaluations, tolerance=options.tolerance,
                        fixed=fixed, radial=model.radial[views], groups=groups.astype(np.int64),
                        refine=refine)
    for v, k in enumerate(views):
        model.cameras[k] = res.cameras[v]
    if refine.any():
        _take_intrinsics(model, res, present, groups)
    model.points[pts] = res.points
    filter_observations(model, sel, res.errors, options)


def _take_intrinsics(model, res, present, groups):
    """The refined intrinsics of the groups `present` (bundle groups `groups` per view) to
    every image of the group; observations undistorted anew."""
    for g, group in enumerate(present):
        v = int(np.flatnonzero(groups == g)[0])
        for k in np.flatnonzero(model.groups == group):
            model.Ks[k], model.radial[k] = res.cameras[v].K, res.radial[v]
        model.std[group] = res.intrinsics_std[g]
    model.version += 1
    _undistort_observations(model)


def _undistort_observations(model):
    tr = model.tracks
    for k in range(len(model.Ks)):
        sel = tr.image == k
        model.xy[sel] = undistort(tr.xy[sel], model.Ks[k], model.radial[k])


# ---------------------------------------------------------------------------- filtering

def filter_observations(model, obs, errors, options):
    """Mark the observations `obs` (indices) whose pixel errors (same length) are not below
    `max_error` outliers (inf: the point at or behind the camera; NaN), then `filter_points`."""
    model.inlier[obs[~(errors < options.max_error)]] = False
    filter_points(model)


def filter_points(model):
    """Drop (NaN) the points left with fewer than two observations in the model."""
    tr = model.tracks
    n = np.bincount(tr.track[model.observed()], minlength=tr.count)
    model.points[n < 2] = np.nan


def filter_model(model, options):
    """`filter_observations` on every observation in the model, its error computed anew from
    the cameras, points and radial model (`Reconstruction.reprojection_errors`)."""
    filter_observations(model, np.flatnonzero(model.observed()),
                        to_reconstruction(model, options).reprojection_errors(), options)


# ---------------------------------------------------------------------------- the loop

def grow(model, options, progress=None):
    """One incremental reconstruction of a fresh `model`: the initial pair, then the images one
    by one (register, triangulate, adjust) until none registers, then the final adjustment.
    progress: optional callable(message)."""
    say = progress or (lambda msg: None)
    n_images = len(model.names)
    start_from_pair(model, *initial_pair(model, options))
    triangulate(model, options)
    adjust_global(model, options, options.initial_evaluations)
    i, j = model.order
    say(f"initial pair {model.names[i]} + {model.names[j]}: {model.n_points()} points")
    count(say, "registered images", 2, n_images)
    failed = set()
    while (k := next_image(model, failed)) is not None:
        if not register_image(model, k, options):
            say(f"could not register {model.names[k]} yet "
                f"({matches_2d3d(model, k)[0].size} 2D-3D matches)")
            failed.add(k)
            continue
        failed.clear()  # new points may make earlier failures registrable
        triangulate(model, options)
        adjust_new_image(model, k, options)
        count(say, "registered images", len(model.order), n_images)
    if len(model.order) < n_images:  # some never registered: the count ends here
        count(say, "registered images", len(model.order), n_images, last=True)
    say(f"final bundle adjustment: {len(model.order)} images, {model.n_points()} points")
    adjust_global(model, options, options.final_robust_evaluations, loss="huber")
    adjust_global(model, options, options.final_evaluations)


def reconstruct(names, features, Ks, size, pair_matches, options=None, progress=None, *,
                groups=None, models=None):
    """Incremental SfM over verified pairs -> `Reconstruction`.

    names: image names; features: per image `features.Features`; Ks: per image (3, 3), the
    start of refined intrinsics; size: (width, height) of the images; pair_matches:
    `matching.PairMatches` list; options: `IncrementalOptions` (default: its defaults);
    progress: optional callable(message); groups: (N,) int camera group per image (default:
    one per image); models: per group its COLMAP camera model name (default PINHOLE), for the
    model written. Restarts from the refined intrinsics while a focal length moves by more
    than `restart_change`, at most `max_passes` reconstructions in all.
    """
    options = options or IncrementalOptions()
    say = progress or (lambda msg: None)
    if not pair_matches:
        raise ValueError("no image pair shares enough verified matches to start a reconstruction")
    model = WorkingModel(names, size, features, pair_matches, Ks, groups=groups, models=models)
    for n_pass in range(1, options.max_passes + 1):
        grow(model, options, say)
        change = focal_change(model)
        if n_pass == options.max_passes or change < np.log(1 + options.restart_change):
            filter_model(model, options)
            return to_reconstruction(model, options)
        say(f"intrinsics moved by {np.expm1(change):.1%} of their start: reconstructing again "
            "from the refined intrinsics")
        model = restart(model)


def to_reconstruction(model, options):
    """The `Reconstruction` of the points in the model and their observations."""
    tr = model.tracks
    sel = np.flatnonzero(model.observed())
    pts, point_index = np.unique(tr.track[sel], return_inverse=True)
    first = np.unique(point_index, return_index=True)[1]
    colors = np.array([model.features[i].colors[k] for i, k in
                       zip(tr.image[sel[first]], tr.keypoint[sel[first]])],
                      dtype=np.uint8).reshape(-1, 3)
    names = list(model.names)
    registered = sorted(model.order)
    cameras = {names[k]: Camera(model.cameras[k].K, model.cameras[k].R, model.cameras[k].t,
                                *model.size) for k in registered}
    return Reconstruction(names, cameras, model.points[pts], colors,
                          point_index.astype(np.int64), tr.image[sel], tr.keypoint[sel],
                          tr.xy[sel], radial={names[k]: float(model.radial[k]) for k in registered},
                          camera_groups=_camera_groups(model, options))


def _camera_groups(model, options):
    """Per camera group with images, the dict `Reconstruction.camera_groups` describes."""
    refine = options.refine_flags(model.n_groups)
    return [{"model": model.models[g], "images": [model.names[k] for k in members],
             "K": model.Ks[members[0]], "radial": float(model.radial[members[0]]),
             "std": model.std[g], "refine": refine[g]}
            for g in range(model.n_groups)
            for members in [np.flatnonzero(model.groups == g)] if members.size]
