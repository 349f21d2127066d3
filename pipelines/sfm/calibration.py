"""Camera groups, focal length initialisation and the radial model of self-calibration.

- Camera groups (`camera_groups`): images taken by one physical camera share their intrinsics in
  bundle adjustment. Modes: "single" (one group), "per-image", "auto" (by EXIF make, model,
  focal length and image size; images without EXIF form one group: the folder holds one size).
- Focal initialisation (`initial_focal`), where the focal length is only a guess: log-spaced
  hypotheses from `FOCAL_RANGE` x max(W, H) scored on the fundamental matrices of the group's
  best-matched pairs (how far K^T F K is from an essential matrix), robust median over pairs;
  where the pairs disagree (critical motions) the guess stays and bundle adjustment alone
  refines it. (Scoring hypotheses by the inliers of essential-matrix RANSAC does not work: on
  the temple ring 98 % of the matches fit an essential matrix at every focal from 0.5 to 3
  times the width.)
- Camera model (`CAMERA_MODELS`): COLMAP's SIMPLE_RADIAL (f, cx, cy, k; a pixel
  K [d u, d v, 1], d = 1 + k (u^2 + v^2) of normalised coordinates (u, v)) refines f and k;
  SIMPLE_PINHOLE (f, cx, cy) refines f alone; the principal point stays at the image centre
  unless asked (`refine_flags`: a principal point off the centre is absorbed by f and k
  otherwise, 5.5 % in f on the temple ring, 17 px off).
  Intrinsics from a file are held (PINHOLE, any K). `undistort` maps observed pixels to those
  of the pinhole camera K (registration and triangulation work on those), `project` maps points
  to observed pixels: both through `geom.camera_models`' K_RADIAL (K, skew included, and k), the
  model bundle adjustment refines.
"""
import numpy as np

from geom import camera_models
from geom.robust import estimate_fundamental

from ..exif import read_exif
from ..seeds import derive_seed

CAMERA_MODES = ("auto", "single", "per-image")
CAMERA_MODELS = {"SIMPLE_RADIAL": (True, True), "SIMPLE_PINHOLE": (True, False)}  # (f, k) refined
FOCAL_RANGE = (0.5, 3.0)  # focal hypotheses, times max(W, H)
FOCAL_HYPOTHESES = 61
FOCAL_PAIRS = 20  # best-matched pairs of a group that score the hypotheses
FOCAL_SPREAD = 0.15  # pairs whose own best focal lengths spread more leave f undetermined
FOCAL_MIN_MATCHES = 50
FOCAL_WEAK = 0.02  # a refined focal length whose standard deviation exceeds this share is flagged
GROUP_TAGS = ("Make", "Model", "FocalLength", "FocalLengthIn35mmFilm")


def camera_groups(paths, size, mode="auto"):
    """Camera group per image (N,) int, 0..G-1 in order of first appearance. paths: image
    files; size: (width, height) of every image; mode: one of `CAMERA_MODES`. An unreadable
    EXIF counts as none."""
    if mode not in CAMERA_MODES:
        raise ValueError(f"camera mode: expected one of {', '.join(CAMERA_MODES)}, got {mode!r}")
    if mode == "single":
        return np.zeros(len(paths), np.int64)
    if mode == "per-image":
        return np.arange(len(paths), dtype=np.int64)
    keys = []
    for path in paths:
        try:
            exif = read_exif(path)
        except ValueError:
            exif = {}
        keys.append((tuple(exif.get(t) for t in GROUP_TAGS), tuple(size)))
    index = {}
    return np.array([index.setdefault(k, len(index)) for k in keys], np.int64)


def refine_flags(model, principal_point=False):
    """Which of a group's (f, k, cx, cy) bundle adjustment refines (4,) bool: those of `model`
    (one of `CAMERA_MODELS`, or None: intrinsics held), cx and cy where `principal_point`."""
    if model is None:
        return np.zeros(4, bool)
    return np.array([*CAMERA_MODELS[model], principal_point, principal_point])


def initial_focal(features, candidates, size, seed=0, names=None):
    """Focal length (pixels) of one camera from the descriptor matches of its images -> (f, or
    None where the pairs do not determine it, hypotheses (H,), median cost (H,)).

    features: per image `features.Features`; candidates: `matching.PairMatches` of the group's
    pairs; size: (width, height); names: image names keying the RANSAC
    seeds (default the indices). Each of the `FOCAL_PAIRS` best-matched pairs gives a
    fundamental matrix F (`geom.robust.estimate_fundamental`); a focal hypothesis f costs it
    (s1 - s2) / (s1 + s2) of the singular values of E = K^T F K (an essential matrix has two
    equal ones, Mendonca and Cipolla); the median cost over the pairs is minimised over
    `FOCAL_HYPOTHESES` log-spaced values in `FOCAL_RANGE` x max(W, H), refined by a parabola in
    log f. Critical motions (optical axes through one point, as in an object-centred ring) leave
    each pair's minimum anywhere: where the pairs' own minima spread by more than
    `FOCAL_SPREAD` (median absolute deviation of log f), or fewer than 3 pairs have
    `FOCAL_MIN_MATCHES`, f is None."""
    w, h = size
    keys = names if names is not None else range(len(features))
    best = sorted((pm for pm in candidates if len(pm.matches) >= FOCAL_MIN_MATCHES),
                  key=lambda pm: -len(pm.matches))[:FOCAL_PAIRS]
    focals = max(w, h) * np.geomspace(*FOCAL_RANGE, FOCAL_HYPOTHESES)
    Ks = np.zeros((FOCAL_HYPOTHESES, 3, 3))
    Ks[:, 0, 0] = Ks[:, 1, 1] = focals
    Ks[:, 0, 2], Ks[:, 1, 2], Ks[:, 2, 2] = (w - 1) / 2, (h - 1) / 2, 1.0
    costs = []
    for pm in best:
        i, j, m = pm.i, pm.j, pm.matches
        res = estimate_fundamental(features[i].keypoints[m[:, 0]], features[j].keypoints[m[:, 1]],
                                   threshold=1.0, seed=derive_seed(seed, keys[i], keys[j]))
        if res.success:
            s = np.linalg.svd(Ks.transpose(0, 2, 1) @ res.model @ Ks, compute_uv=False)
            costs.append((s[:, 0] - s[:, 1]) / (s[:, 0] + s[:, 1]))
    if len(costs) < 3:
        return None, focals, np.full(FOCAL_HYPOTHESES, np.nan)
    costs = np.array(costs)
    cost = np.median(costs, axis=0)
    own = np.log(focals[np.argmin(costs, axis=1)])
    if np.median(np.abs(own - np.median(own))) > np.log(1 + FOCAL_SPREAD):
        return None, focals, cost
    n = int(np.argmin(cost))
    f = focals[n]
    if 0 < n < FOCAL_HYPOTHESES - 1:  # vertex of the parabola through the minimum, in log f
        a, b, c = cost[n - 1:n + 2]
        if a - 2 * b + c > 0:
            f *= np.exp(np.log(focals[1] / focals[0]) * 0.5 * (a - c) / (a - 2 * b + c))
    return float(f), focals, cost


def undistort(xy, K, k):
    """Observed pixels (N, 2) of a camera K (3, 3) with radial coefficient k -> the pixels of
    the pinhole camera K (`geom.camera_models.unproject`; NaN where the radial model has no
    inverse, beyond its fold)."""
    if k == 0:
        return xy.copy()
    xn = camera_models.unproject("K_RADIAL", camera_models.k_radial_params(K, k), xy)
    return xn @ K[:2, :2].T + K[:2, 2]


def project(cam, k, X):
    """World points (N, 3) -> observed pixels (N, 2) of `cam` (a pinhole `Camera`) with radial
    coefficient k; NaN at or behind the camera."""
    return camera_models.project("K_RADIAL", camera_models.k_radial_params(cam.K, k),
                                 cam.to_camera(X))
