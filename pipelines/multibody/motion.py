"""Stages 3 and 4: per body and pair, the relative pose and points; then the bodies' scales.

Stage 3: for the background, the pair's relative pose comes from the cameras (reconstructed from
the background's matches by the static pipeline); for every other body, from its own matches
(`geom.robust.estimate_relative_pose`: five-point RANSAC, cheirality, LM refinement), each up to
scale. The matches are triangulated (mid-point) in the first view's frame with a unit baseline.

Stage 4: a monocular depth map per image has one unknown scale for everything in that image.
For each image and body, the mode of the kernel density estimate (`geom.kde.kde_mode`) of the
log-ratios of monocular to triangulated depth gives log(depth scale) + log(body's baseline);
the difference with the background's cancels the depth map's scale and gives the body's
translation relative to the background's, whose size the cameras fix. A body whose ratios are
ill-defined (too few points, a flat or two-peaked density, the two views disagreeing) is left
unscaled (`scale` NaN) with a note saying why: never a guessed scale.
"""
from dataclasses import dataclass

import numpy as np

from geom.camera import Camera, relative_pose
from geom.kde import kde_mode
from geom.robust import estimate_relative_pose
from geom.triangulate import cheirality_parallax_check, midpoint
from pipelines.flowmatches import bilinear

MIN_POINTS = 12  # triangulated points a body's pose and its scale need
MIN_POSE_INLIER_FRACTION = 0.5  # of a body's matches its pose must explain and triangulate
MAX_PEAK_RATIO = 0.8  # second KDE peak over the first above this: ambiguous ratio
MAX_VIEW_DISAGREEMENT = np.log(1.5)  # the two views' log scale estimates may differ by this


@dataclass
class BodyMotion:
    """Body `body`'s motion between views i < j: a point of the body at X (camera-i coordinates,
    view i) is at `R X + scale * t` in camera-j coordinates (view j), |t| = 1.

    matches: (M, 2) keypoint index pairs it rests on; points: (M, 3) their triangulation in
    camera-i coordinates for a unit baseline (multiply by `scale`); scale: the baseline in the
    cameras' units, NaN where unknown; note: why it is unknown ('' when known).
    """

    i: int
    j: int
    body: int
    R: np.ndarray
    t: np.ndarray
    matches: np.ndarray
    points: np.ndarray
    scale: float = np.nan
    note: str = ""

    def inverse(self):
        """(R, t) of the motion from view j to view i (|t| = 1)."""
        return self.R.T, -self.R.T @ self.t


def body_motions(feats, Ks, seg, names, cameras, threshold=1.0, seed=0):
    """Stage 3 -> (dict (i, j, body) -> `BodyMotion`, notes).

    feats: per image `Features`; Ks: per image (3, 3); seg: `Segmentation`; names: the image
    names; cameras: dict image name -> the background `Camera` of the registered images. The
    background's motions take their pose
    and scale from the cameras; the other bodies' are estimated, unscaled."""
    out, notes = {}, []
    for (i, j), bodies in sorted(seg.pair_bodies.items()):
        for b, m in sorted(bodies.items()):
            x1, x2 = feats[i].keypoints[m[:, 0]], feats[j].keypoints[m[:, 1]]
            if b == 0:
                if names[i] not in cameras or names[j] not in cameras:
                    continue
                R, t = relative_pose(cameras[names[i]], cameras[names[j]])
                scale = float(np.linalg.norm(t))
                t = t / scale
                keep = np.ones(len(m), bool)
            else:
                if len(m) < MIN_POINTS:
                    notes.append(f"body {b}, views {i}-{j}: {len(m)} matches, too few for a pose")
                    continue
                res = estimate_relative_pose(x1, x2, Ks[i], Ks[j], threshold=threshold,
                                             seed=seed + 31 * i + j)
                if not res.success or res.inliers.sum() < MIN_POSE_INLIER_FRACTION * len(m):
                    notes.append(f"body {b}, views {i}-{j}: no relative pose explains "
                                 f"{MIN_POSE_INLIER_FRACTION:.0%} of its {len(m)} matches "
                                 f"(a planar body?)")
                    continue
                R, t, scale, keep = res.R, res.t, np.nan, res.inliers
            cam1 = Camera(Ks[i], np.eye(3), np.zeros(3))
            cam2 = Camera(Ks[j], R, t)
            X = midpoint(cam1, cam2, x1[keep], x2[keep])
            ok = cheirality_parallax_check(cam1, cam2, X).ok
            if ok.sum() < max(MIN_POINTS, (b > 0) * MIN_POSE_INLIER_FRACTION * len(m)):
                notes.append(f"body {b}, views {i}-{j}: {int(ok.sum())} of {len(m)} matches "
                             f"triangulated in front with parallax, too few for a reliable pose")
                continue
            out[(i, j, b)] = BodyMotion(i, j, b, R, t, m[keep][ok], X[ok], scale)
    return out, notes


def log_depth_ratios(motion, feats, depth, view):
    """Log of monocular over triangulated (unit-baseline) depth of `motion`'s points in `view`
    (its i or j), at their keypoints; depth: that view's monocular depth map (H, W)."""
    if view == motion.i:
        z, xy = motion.points[:, 2], feats[view].keypoints[motion.matches[:, 0]]
    else:
        z = (motion.points @ motion.R.T + motion.t)[:, 2]
        xy = feats[view].keypoints[motion.matches[:, 1]]
    mono = bilinear(depth, xy)
    ok = np.isfinite(mono) & (mono > 0) & (z > 0)
    return np.log(mono[ok]) - np.log(z[ok])


def reconcile_scales(motions, feats, depths):
    """Stage 4: set `scale` and `note` of every non-background motion of `motions` (dict from
    `body_motions`, changed in place) from the monocular depths (per image (H, W) positive
    depth up to one scale per image, or None when there is no depth plug-in)."""
    for (i, j, b), mo in motions.items():
        if b:
            mo.scale, mo.note = body_scale(mo, motions.get((i, j, 0)), feats, depths)


def body_scale(mo, bg, feats, depths):
    """(scale, note) of body motion `mo` against the background motion `bg` of the same pair
    (None when missing): scale NaN and a note saying why when it is not well defined."""
    if depths is None:
        return np.nan, "no monocular depth: scale unknown"
    if bg is None:
        return np.nan, f"no background motion between views {mo.i} and {mo.j} to scale against"
    estimates, why = [], []
    for view in (mo.i, mo.j):
        d = _log_offset(mo, feats, depths[view], view)
        d0 = _log_offset(bg, feats, depths[view], view)
        if isinstance(d, str) or isinstance(d0, str):
            why.append(f"view {view}: " + (d if isinstance(d, str) else "background " + d0))
        else:
            estimates.append(d - d0)
    if not estimates:
        return np.nan, "; ".join(why)
    if np.ptp(estimates) > MAX_VIEW_DISAGREEMENT:
        return np.nan, (f"views {mo.i} and {mo.j} disagree on the scale (x"
                        f"{np.exp(estimates[0]):.3g} vs x{np.exp(estimates[1]):.3g} the "
                        f"background's)")
    return float(bg.scale * np.exp(np.mean(estimates))), ""


def _log_offset(motion, feats, depth, view):
    """Mode of the log depth ratios of `motion` in `view`, or a string saying why there is none."""
    r = log_depth_ratios(motion, feats, depth, view)
    if len(r) < MIN_POINTS:
        return f"{len(r)} points with a depth, too few"
    k = kde_mode(r)
    if k.peak_ratio > MAX_PEAK_RATIO:
        return f"depth ratios without a clear mode (second peak {k.peak_ratio:.2f} of the first)"
    return k.mode
