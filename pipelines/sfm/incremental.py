"""Incremental reconstruction: initial pair, then register, triangulate, adjust, filter, repeat.

1. initial pair: the verified pair with the most inliers among those whose median triangulation
   angle is at least `INIT_MIN_ANGLE` (else the one with the widest angle);
2. triangulate every track seen by two or more registered images (`geom.triangulate.
   dlt_multiview`), keep points in front of their cameras, with enough parallax and small
   reprojection errors; observations above `max_error` are marked outliers;
3. register the unregistered image with the most 2D-3D matches by
   `geom.robust.estimate_absolute_pose`; where it has too few (sparse rings: a neighbour's
   matches are mostly of tracks not yet triangulated), chain the verified relative pose to a
   registered neighbour, its scale fixed by the few 2D-3D matches it has; triangulate the
   tracks it completes, bundle-adjust (`bundle.bundle_adjust`), drop outlier observations
   (error above `max_error`, or the point at or behind the camera: the adjustment can slide a
   point of little parallax through infinity or a camera centre without changing its pixels)
   and points left with fewer than two. The adjustment is local (the new image, its
   `LOCAL_IMAGES` - 1 best-connected neighbours and their points; the other images that see
   those points held fixed) except each time the model has grown by `GLOBAL_GROWTH` since the
   last global one, as COLMAP schedules it;
4. repeat until no image registers; a final global adjustment (Huber loss), outlier removal and
   a last least-squares polish, then the same outlier removal on the model written: every point
   finite, in front of the cameras that keep it. The adjustments along the way stop early (few
   evaluations): the next registration only needs good enough cameras.

Self-calibration: the global adjustments of a model of `MIN_CALIBRATION_IMAGES` or more images
also refine the intrinsics of the camera groups that `refine` names (`bundle.bundle_adjust`);
each image's K and radial coefficient follow its group, registered or not. Registration and
triangulation work on the observations undistorted by the current intrinsics
(`calibration.undistort`: rays of the pinhole K); the adjustments and the outlier test on the
observed pixels through the radial model.
"""
import numpy as np

from geom.camera import Camera
from geom.robust import estimate_absolute_pose, estimate_relative_pose
from geom.triangulate import (cheirality_parallax_check, dlt_multiview, midpoint,
                              reprojection_errors)
from geom.progress import count

from ..seeds import derive_seed
from ..tracks import build_tracks
from .bundle import bundle_adjust
from .calibration import undistort
from .reconstruction import Reconstruction

INIT_MIN_ANGLE = np.radians(4.0)
MIN_PARALLAX = np.radians(1.5)
MIN_REGISTER_INLIERS = 12
MIN_SCALE_MATCHES = 3
LOCAL_IMAGES = 6  # a local adjustment refines the new image and its best-connected neighbours
GLOBAL_GROWTH = 1.25  # a global adjustment each time the model grew by this factor
MIN_CALIBRATION_IMAGES = 3  # two views barely fix a focal length: intrinsics held until three
RESTART_CHANGE = 0.005  # a focal length refined by more than this share restarts the model ...
MAX_PASSES = 5  # ... from the refined intrinsics, at most this many reconstructions in all


def reconstruct(names, features, Ks, size, pair_matches, max_error=4.0, seed=0, progress=None, *,
                groups=None, refine=None, models=None):
    """Incremental SfM over verified pairs -> `Reconstruction`.

    names: image names; features: per image `features.Features`; Ks: per image (3, 3), the
    start of refined intrinsics; size: (width, height) of the images; groups: (N,) int camera
    group per image (default: one per image); refine: (G, 4) bool, whether a group's focal
    length, radial coefficient, cx and cy are refined (default: none); models: per group its COLMAP
    camera model name (default PINHOLE), for the model written;
    pair_matches: `features.PairMatches` list; max_error: reprojection error (pixels) above which
    an observation is an outlier; seed: of the registrations' RANSAC, per image by its name
    (`seeds.derive_seed`). progress: optional callable(message).
    """
    say = progress or (lambda msg: None)
    if not pair_matches:
        raise ValueError("no image pair shares enough verified matches to start a reconstruction")
    tracks = build_tracks(features, pair_matches)
    Ks_start, radial = list(Ks), np.zeros(len(Ks))
    for n_pass in range(1, MAX_PASSES + 1):
        state = _State(tracks, Ks, max_error, groups, refine, models, features, Ks_start, radial)
        _incremental(state, names, features, pair_matches, seed, say)
        change = max(abs(np.log(state.Ks[k][0, 0] / Ks_start[k][0, 0])) for k in state.order)
        if n_pass == MAX_PASSES or change < np.log(1 + RESTART_CHANGE):
            return state.result(names, features, size)
        say(f"intrinsics moved by {np.expm1(change):.1%} of their start: reconstructing again "
            "from the refined intrinsics")
        Ks_start, radial = list(state.Ks), state.radial.copy()


def _incremental(state, names, features, pair_matches, seed, say):
    """One incremental reconstruction of `state` (a new `_State`)."""
    i, j, R, t = _initial_pair(state, pair_matches)
    state.register(i, Camera(state.Ks[i], np.eye(3), np.zeros(3)))
    state.register(j, Camera(state.Ks[j], R, t))
    state.order = [i, j]
    state.triangulate()
    state.adjust(max_evaluations=30)
    say(f"initial pair {names[i]} + {names[j]}: {state.n_points()} points")
    count(say, "registered images", 2, len(names))
    failed = set()
    last_global = 2  # model size at the last global adjustment
    while True:
        candidates = [k for k in range(len(names)) if state.cams[k] is None and k not in failed]
        if not candidates:
            break
        counts = [state.matches_2d3d(k)[0].size for k in candidates]
        k = candidates[int(np.argmax(counts))]
        if not (state.register_by_pose(k, derive_seed(seed, names[k]))
                or state.register_by_pair(k, pair_matches)):
            say(f"could not register {names[k]} yet ({max(counts)} 2D-3D matches)")
            failed.add(k)
            continue
        failed.clear()  # new points may make earlier failures registrable
        state.order.append(k)
        state.triangulate()
        if len(state.order) >= GLOBAL_GROWTH * last_global:
            state.adjust(max_evaluations=15)
            last_global = len(state.order)
        else:
            state.adjust(max_evaluations=15, around=k)
        count(say, "registered images", len(state.order), len(names))
    if len(state.order) < len(names):  # some never registered: the count ends here
        count(say, "registered images", len(state.order), len(names), last=True)
    say(f"final bundle adjustment: {len(state.order)} images, {state.n_points()} points")
    state.adjust(max_evaluations=90, loss="huber")
    state.adjust(max_evaluations=50)


def _initial_pair(state, pair_matches):
    best, best_key = None, None
    for pm in pair_matches:
        R, t = state.pair_pose(pm)
        c1 = Camera(state.Ks[pm.i], np.eye(3), np.zeros(3))
        c2 = Camera(state.Ks[pm.j], R, t)
        x1 = state.features[pm.i].keypoints[pm.matches[:, 0]]
        x2 = state.features[pm.j].keypoints[pm.matches[:, 1]]
        check = cheirality_parallax_check(c1, c2, midpoint(c1, c2, x1, x2))
        angle = float(np.median(check.parallax))
        key = (angle >= INIT_MIN_ANGLE, len(pm.matches) if angle >= INIT_MIN_ANGLE else angle)
        if best_key is None or key > best_key:
            best, best_key = (pm.i, pm.j, R, t), key
    return best


class _State:
    """Working model: cameras per image (None until registered), a point per track (NaN until
    triangulated) and an inlier flag per track observation."""

    def __init__(self, tracks, verified_Ks, max_error, groups, refine, models, features, Ks,
                 radial):
        self.tracks = tracks
        self.features = features
        self.verified_Ks = verified_Ks  # those the pairs' relative poses were verified with
        self.Ks = [np.array(K, float) for K in Ks]
        self.max_error = max_error
        self.groups = np.arange(len(Ks)) if groups is None else np.asarray(groups)
        G = int(self.groups.max()) + 1
        self.refine = np.zeros((G, 4), bool) if refine is None else np.asarray(refine)
        self.models = models or ["PINHOLE"] * G
        self.radial = np.array(radial, float)
        self.std = np.full((G, 4), np.nan)  # of the refined (f, k, cx, cy) at the last global one
        self.xy = tracks.xy.copy()  # observations undistorted by the current intrinsics
        self._undistort()
        self.version = 0  # of the intrinsics: how many times they were refined
        self.pair_poses = {}  # (i, j) -> (version, R, t) re-estimated with refined intrinsics
        self.cams = [None] * len(Ks)
        self.X = np.full((tracks.count, 3), np.nan)
        self.ok = np.ones(len(tracks.track), bool)
        self.order = []

    def register(self, k, cam):
        self.cams[k] = cam

    def n_points(self):
        return int(np.isfinite(self.X[:, 0]).sum())

    def _active(self):
        """Observations usable now: registered image, inlier."""
        reg = np.array([c is not None for c in self.cams])
        return reg[self.tracks.image] & self.ok

    def matches_2d3d(self, k):
        tr = self.tracks
        sel = np.flatnonzero((tr.image == k) & np.isfinite(self.X[tr.track, 0]))
        return sel, self.X[tr.track[sel]], self.xy[sel]

    def register_by_pose(self, k, seed):
        sel, X, x = self.matches_2d3d(k)
        if sel.size < MIN_REGISTER_INLIERS:
            return False
        res = estimate_absolute_pose(X, x, self.Ks[k], threshold=self.max_error, seed=seed)
        if not res.success or res.num_inliers < MIN_REGISTER_INLIERS:
            return False
        self.cams[k] = Camera(self.Ks[k], res.R, res.t)
        self.ok[sel[~res.inliers]] = False
        return True

    def register_by_pair(self, k, pair_matches):
        """Pose of image k from its best verified pair with a registered image; the scale of the
        pair's unit translation from k's 2D-3D matches (median of per-point least squares)."""
        sel, X, x = self.matches_2d3d(k)
        if sel.size < MIN_SCALE_MATCHES:
            return False
        y = np.c_[x, np.ones(len(x))] @ np.linalg.inv(self.Ks[k]).T
        pairs = sorted((pm for pm in pair_matches if k in (pm.i, pm.j)
                        and self.cams[pm.i + pm.j - k] is not None), key=lambda pm: -len(pm.matches))
        for pm in pairs:
            r = pm.i + pm.j - k
            R, t = self.pair_pose(pm)
            R, t = (R, t) if pm.j == k else (R.T, -R.T @ t)  # X_k = R X_r + t
            Rk = R @ self.cams[r].R
            a = X @ Rk.T + R @ self.cams[r].t
            ya, yb = np.cross(y, a), np.cross(y, t)
            s = np.median(-(ya * yb).sum(1) / np.maximum((yb * yb).sum(1), 1e-300))
            if not s > 0:
                continue
            cam = Camera(self.Ks[k], Rk, R @ self.cams[r].t + s * t)
            err = reprojection_errors([cam], X, x[None])[0]
            if (err < self.max_error).sum() >= MIN_SCALE_MATCHES:
                self.cams[k] = cam
                self.ok[sel[err >= self.max_error]] = False
                return True
        return False

    def pair_pose(self, pm):
        """Relative pose (R, t) of a verified pair: as verified, or, where the intrinsics of
        either image differ from those it was verified with, re-estimated on its matches
        (undistorted) with them."""
        if all(np.array_equal(self.Ks[k], self.verified_Ks[k]) and self.radial[k] == 0
               for k in (pm.i, pm.j)):
            return pm.R, pm.t
        cached = self.pair_poses.get((pm.i, pm.j))
        if cached is None or cached[0] != self.version:
            x1, x2 = (undistort(self.features[k].keypoints[pm.matches[:, n]], self.Ks[k],
                                self.radial[k]) for n, k in enumerate((pm.i, pm.j)))
            res = estimate_relative_pose(x1, x2, self.Ks[pm.i], self.Ks[pm.j], threshold=1.0,
                                         seed=derive_seed(0, pm.i, pm.j))
            cached = (self.version, *((res.R, res.t) if res.success else (pm.R, pm.t)))
            self.pair_poses[(pm.i, pm.j)] = cached
        return cached[1], cached[2]

    def triangulate(self):
        """Triangulate tracks with no point and two or more active observations."""
        tr = self.tracks
        act = self._active()
        n_act = np.bincount(tr.track[act], minlength=tr.count)
        todo = np.flatnonzero((n_act >= 2) & ~np.isfinite(self.X[:, 0]))
        if todo.size == 0:
            return
        views = [k for k in self.order]
        index = {k: v for v, k in enumerate(views)}
        pos = np.full(tr.count, -1)
        pos[todo] = np.arange(todo.size)
        sel = np.flatnonzero(act & (pos[tr.track] >= 0))
        xs = np.zeros((len(views), todo.size, 2))
        mask = np.zeros((len(views), todo.size), bool)
        v = np.array([index[k] for k in tr.image[sel]])
        xs[v, pos[tr.track[sel]]] = self.xy[sel]
        mask[v, pos[tr.track[sel]]] = True
        cams = [self.cams[k] for k in views]
        X = dlt_multiview(cams, xs, mask)
        good = np.isfinite(X).all(axis=1)
        X[~good] = 0.0
        err = np.where(mask, reprojection_errors(cams, X, xs), np.inf)
        inl = mask & (err < self.max_error)
        good &= inl.sum(axis=0) >= 2
        good &= self._parallax(cams, X, inl) >= MIN_PARALLAX
        self.X[todo[good]] = X[good]
        bad_obs = ~inl[v, pos[tr.track[sel]]]
        self.ok[sel[bad_obs & good[pos[tr.track[sel]]]]] = False

    def _undistort(self):
        tr = self.tracks
        for k in range(len(self.Ks)):
            sel = tr.image == k
            self.xy[sel] = undistort(tr.xy[sel], self.Ks[k], self.radial[k])

    @staticmethod
    def _parallax(cams, X, mask):
        """Per point, the largest angle between the ray of its first inlier view and another's."""
        rays = np.stack([c.center for c in cams])[:, None, :] - X[None]
        rays /= np.maximum(np.linalg.norm(rays, axis=2, keepdims=True), 1e-300)
        first = rays[np.argmax(mask, axis=0), np.arange(X.shape[0])]
        cos = np.einsum("vnk,nk->vn", rays, first)
        return np.where(mask, np.arccos(np.clip(cos, -1, 1)), 0.0).max(axis=0)

    def _neighbourhood(self, k, act):
        """Image k and the `LOCAL_IMAGES` - 1 registered images sharing the most points with it."""
        tr = self.tracks
        seen = np.zeros(tr.count, bool)
        seen[tr.track[act & (tr.image == k)]] = True
        shared = np.bincount(tr.image[act & seen[tr.track]], minlength=len(self.cams))
        shared[k] = 0
        best = [v for v in np.argsort(-shared, kind="stable")[:LOCAL_IMAGES - 1] if shared[v] > 0]
        return {k, *best}

    def adjust(self, max_evaluations, loss="linear", tolerance=1e-6, around=None):
        """Bundle-adjust the registered cameras and the points, then drop outliers. around: an
        image whose neighbourhood alone is refined (its points, with the other images that see
        them held fixed); None: everything (global)."""
        tr = self.tracks
        act = self._observed()
        views = self.order
        fixed = None
        if around is not None:
            local = self._neighbourhood(around, act)
            touched = np.zeros(tr.count, bool)
            touched[tr.track[act & np.isin(tr.image, list(local))]] = True
            act &= touched[tr.track]
            present = set(tr.image[act].tolist())
            views = [k for k in self.order if k in present]
            fixed = np.array([k not in local for k in views])
            if fixed.sum() < 2:  # too few fixed images to hold the gauge: adjust everything
                return self.adjust(max_evaluations, loss, tolerance)
        sel = np.flatnonzero(act)
        pts, point_index = np.unique(tr.track[sel], return_inverse=True)
        index = {k: v for v, k in enumerate(views)}
        cam_index = np.array([index[k] for k in tr.image[sel]], dtype=np.int64)
        present, groups = np.unique(self.groups[views], return_inverse=True)
        calibrate = around is None and len(views) >= MIN_CALIBRATION_IMAGES
        refine = self.refine[present] & calibrate
        res = bundle_adjust([self.cams[k] for k in views], self.X[pts], cam_index,
                            point_index.astype(np.int64), tr.xy[sel], loss=loss,
                            max_evaluations=max_evaluations, tolerance=tolerance, fixed=fixed,
                            radial=self.radial[views], groups=groups.astype(np.int64),
                            refine=refine)
        for v, k in enumerate(views):
            self.cams[k] = res.cameras[v]
        if refine.any():
            for g, group in enumerate(present):
                v = int(np.flatnonzero(groups == g)[0])
                for k in np.flatnonzero(self.groups == group):
                    self.Ks[k], self.radial[k] = res.cameras[v].K, res.radial[v]
                self.std[group] = res.intrinsics_std[g]
            self.version += 1
            self._undistort()
        self.X[pts] = res.points
        self._drop_outliers(sel, res.errors)

    def _drop_outliers(self, sel, errors):
        """Mark the observations `sel` whose pixel errors (same length) are not below max_error
        outliers (inf: the point at or behind the camera; NaN), then drop the points left with
        fewer than two inlier observations."""
        tr = self.tracks
        self.ok[sel[~(errors < self.max_error)]] = False
        n = np.bincount(tr.track[self._observed()], minlength=tr.count)
        self.X[n < 2] = np.nan

    def _observed(self):
        """Observations in the model: active, of a point with finite coordinates."""
        return self._active() & np.isfinite(self.X).all(axis=1)[self.tracks.track]

    def result(self, names, features, size):
        """The `Reconstruction`, checked once more whatever the adjustments left: every point
        finite, every observation of it in front of its camera with an error below max_error,
        two or more of them."""
        self._drop_outliers(np.flatnonzero(self._observed()),
                            self._model(names, features, size).reprojection_errors())
        return self._model(names, features, size)

    def _model(self, names, features, size):
        tr = self.tracks
        sel = np.flatnonzero(self._observed())
        pts, point_index = np.unique(tr.track[sel], return_inverse=True)
        first = np.unique(point_index, return_index=True)[1]
        colors = np.array([features[i].colors[k] for i, k in
                           zip(tr.image[sel[first]], tr.keypoint[sel[first]])],
                          dtype=np.uint8).reshape(-1, 3)
        cameras = {names[k]: Camera(self.cams[k].K, self.cams[k].R, self.cams[k].t, *size)
                   for k in sorted(self.order)}
        groups = [{"model": self.models[g], "images": [names[k] for k in members],
                   "K": self.Ks[members[0]], "radial": float(self.radial[members[0]]),
                   "std": self.std[g], "refine": self.refine[g]}
                  for g in range(len(self.refine))
                  for members in [np.flatnonzero(self.groups == g)] if members.size]
        return Reconstruction(list(names), cameras, self.X[pts], colors,
                              point_index.astype(np.int64), tr.image[sel], tr.keypoint[sel],
                              tr.xy[sel], radial={names[k]: float(self.radial[k])
                                                  for k in sorted(self.order)},
                              camera_groups=groups)
