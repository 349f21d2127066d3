"""Errors of reconstructed cameras against ground truth, free of the world frame and scale."""
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
