"""Errors of reconstructed cameras and depth maps against ground truth, free of the world frame
and scale."""
import numpy as np

from geom.camera import relative_pose
from geom.rotation import angle_between, angular_distance


def relative_pose_errors(cameras, truth, min_baseline=1e-6):
    """Errors over every pair of images registered in `cameras` and present in `truth` (dicts
    image name -> Camera). Returns (rotation errors, translation direction errors), radians;
    pairs whose true baseline is below `min_baseline` (the same viewpoint twice) have no
    translation direction and are left out of the second array."""
    names = sorted(n for n in cameras if n in truth)
    rot, trans = [], []
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            Re, te = relative_pose(cameras[names[a]], cameras[names[b]])
            Rg, tg = relative_pose(truth[names[a]], truth[names[b]])
            rot.append(angular_distance(Re, Rg))
            if np.linalg.norm(tg) > min_baseline and np.linalg.norm(te) > 0:
                trans.append(angle_between(te, tg))
    return np.array(rot), np.array(trans)


def depth_absrel(depths, truth, align):
    """AbsRel of predicted depth maps (dict name -> (H, W), NaN unknown) after one global scale,
    the median of true / predicted over the pixels `align` (dict name -> bool (H, W)). Returns
    dict: 'all' and each true label -> (AbsRel, fraction of those pixels with a depth)."""
    sel = {n: align[n] & np.isfinite(d) for n, d in depths.items()}
    ratios = np.concatenate([truth.depth[n][sel[n]] / d[sel[n]] for n, d in depths.items()])
    ratios = ratios[np.isfinite(ratios) & (ratios > 0)]
    s = float(np.median(ratios)) if ratios.size else np.nan
    out = {}
    keys = ["all"] + sorted({int(v) for n in depths for v in np.unique(truth.labels[n])})
    for key in keys:
        err, cover, total = [], 0, 0
        for n, d in depths.items():
            gt = truth.depth[n]
            sel = np.isfinite(gt) & (gt > 0) & (True if key == "all" else truth.labels[n] == key)
            ok = sel & np.isfinite(d)
            err.append(np.abs(s * d[ok] - gt[ok]) / gt[ok])
            cover += int(ok.sum())
            total += int(sel.sum())
        e = np.concatenate(err)
        out[key] = (float(e.mean()) if e.size else np.nan, cover / max(total, 1))
    return out
