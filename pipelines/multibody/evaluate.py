"""Errors of a multi-body reconstruction against the synthetic writer's ground truth.

The truth (`geom.synth.write_folder`): cameras.json, labels/<stem>.png (body label per pixel,
0 the static background), depth/<stem>.npy and bodies.json (per body and image, body -> world).
Predicted bodies are matched to true labels by the majority of the true labels under their
keypoints; depth is compared after one global scale (reconstructions are up to scale), the
median ratio over the background's pixels. Point-track segmentations (`segment_tracks`) are
scored by `track_misclassification`.
"""
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from geom.io import load_cameras_json
from geom.rotation import angular_distance


@dataclass
class Truth:
    """cameras: dict name -> Camera; labels, depth: dict name -> (H, W); poses: dict label ->
    dict name -> (R, t) body -> world (label 0 the identity)."""

    cameras: dict
    labels: dict
    depth: dict
    poses: dict

    def relative_pose(self, label, a, b):
        """True (R, t) of camera b relative to camera a as seen by body `label` (names a, b)."""
        A = []
        for n in (a, b):
            Rb, tb = self.poses.get(label, {}).get(n, (np.eye(3), np.zeros(3)))
            cam = self.cameras[n]
            A.append((cam.R @ Rb, cam.R @ tb + cam.t))
        (Ra, ta), (Rb_, tb_) = A
        R = Rb_ @ Ra.T
        return R, tb_ - R @ ta


def load_truth(folder, names):
    """`Truth` of the images `names` from `folder`, or None when the files are not all there."""
    folder = Path(folder)
    stems = [Path(n).stem for n in names]
    files = [folder / "cameras.json", folder / "bodies.json"]
    files += [folder / "labels" / f"{s}.png" for s in stems]
    files += [folder / "depth" / f"{s}.npy" for s in stems]
    if not all(f.is_file() for f in files):
        return None
    cameras = load_cameras_json(folder / "cameras.json")
    if not all(n in cameras for n in names):
        return None
    bodies = json.loads((folder / "bodies.json").read_text())["bodies"]
    poses = {b["label"]: {n: (np.array(p["R"]), np.array(p["t"])) for n, p in b["poses"].items()}
             for b in bodies}
    return Truth(cameras,
                 {n: cv2.imread(str(folder / "labels" / f"{s}.png"), cv2.IMREAD_UNCHANGED)
                  for n, s in zip(names, stems)},
                 {n: np.load(folder / "depth" / f"{s}.npy") for n, s in zip(names, stems)},
                 poses)


def _pixel(labels, xy):
    h, w = labels.shape
    ij = np.clip(np.round(xy).astype(int), 0, [w - 1, h - 1])
    return labels[ij[:, 1], ij[:, 0]]


def body_labels(result, truth):
    """dict predicted body -> true label (majority of the true labels at its keypoints)."""
    votes = {}
    for k, n in enumerate(result.names):
        kb = result.segmentation.keypoint_bodies[k]
        true = _pixel(truth.labels[n], result.features[k].keypoints)
        for b, t in zip(kb[kb >= 0], true[kb >= 0]):
            votes.setdefault(int(b), []).append(int(t))
    return {b: int(np.bincount(v).argmax()) for b, v in votes.items()}


def keypoint_misclassification(result, truth, mapping):
    """Fraction of labelled keypoints whose body maps to a different true label."""
    wrong = total = 0
    for k, n in enumerate(result.names):
        kb = result.segmentation.keypoint_bodies[k]
        sel = kb >= 0
        true = _pixel(truth.labels[n], result.features[k].keypoints[sel])
        wrong += int(np.sum(np.array([mapping[int(b)] for b in kb[sel]]) != true))
        total += int(sel.sum())
    return wrong / max(total, 1)


def pixel_misclassification(result, truth, mapping):
    """(fraction of pixels with a dense label whose body maps to another true label, fraction
    of pixels with a label) over the dense maps."""
    wrong = labelled = total = 0
    for k, (_, labels, _) in result.dense.items():
        true = truth.labels[result.names[k]]
        sel = labels >= 0
        mapped = np.vectorize(lambda b: mapping.get(int(b), -1), otypes=[int])(labels[sel])
        wrong += int(np.sum(mapped != true[sel]))
        labelled += int(sel.sum())
        total += sel.size
    return wrong / max(labelled, 1), labelled / max(total, 1)


def motion_errors(result, truth, mapping):
    """Per motion (i, j, body): (rotation error in radians, relative scale error
    |(s_b / s_0) / (|t_b| / |t_0|)_true - 1| or NaN when unscaled or the background)."""
    out = {}
    for (i, j, b), mo in result.motions.items():
        a, c = result.names[i], result.names[j]
        R, t = truth.relative_pose(mapping.get(b, -1), a, c) if b in mapping else (None, None)
        if R is None:
            continue
        rot = angular_distance(mo.R, R)
        scale_err = np.nan
        bg = result.motions.get((i, j, 0))
        if b and bg is not None and np.isfinite(mo.scale):
            _, t0 = truth.relative_pose(0, a, c)
            scale_err = abs((mo.scale / bg.scale) / (np.linalg.norm(t) / np.linalg.norm(t0)) - 1)
        out[(i, j, b)] = (rot, scale_err)
    return out


def track_misclassification(true_labels, labels):
    """Fraction of the labelled tracks whose label is wrong under the best one-to-one relabelling.

    true_labels: (N,) int true motion per track (-1: unlabelled, left out); labels: (N,) int
    found motion per track (-1: called an outlier, always wrong). Found and true motions are
    matched by the assignment maximising the agreement (Hungarian method); tracks of an
    unmatched found motion are wrong."""
    t, p = np.asarray(true_labels), np.asarray(labels)
    if t.ndim != 1 or p.shape != t.shape:
        raise ValueError(f"labels: expected shape {t.shape} like true_labels (N,), got {p.shape}")
    if not (np.issubdtype(t.dtype, np.integer) and np.issubdtype(p.dtype, np.integer)):
        raise ValueError("true_labels, labels: expected integer labels")
    sel = t >= 0
    if not sel.any():
        raise ValueError("true_labels: no labelled track")
    t, p = t[sel], p[sel]
    found = p >= 0
    counts = np.zeros((t.max() + 1, max(p.max() + 1, 1)), np.int64)
    np.add.at(counts, (t[found], p[found]), 1)
    rows, cols = linear_sum_assignment(-counts)
    return 1.0 - counts[rows, cols].sum() / t.size
