"""Optical-flow ground truth: Middlebury `.flo` files and KITTI 16-bit PNG flow maps.

Flow maps are `(H, W, 2)` float32 `(u, v)` in pixels from frame 1 to frame 2
(`frame1[y, x] ~ frame2[y + v, x + u]`) with a `(H, W)` bool mask of pixels that have ground truth.
"""
from pathlib import Path

import cv2
import numpy as np

_FLO_MAGIC = 202021.25


def read_flo(path):
    """Middlebury `.flo`: returns (flow (H, W, 2) float32, valid (H, W) bool); unknown -> invalid."""
    with open(path, "rb") as f:
        magic = np.fromfile(f, np.float32, 1)
        if magic.size != 1 or magic[0] != _FLO_MAGIC:
            raise ValueError(f"{path}: not a .flo file (bad magic number)")
        w, h = (int(v) for v in np.fromfile(f, np.int32, 2))
        data = np.fromfile(f, np.float32, 2 * w * h)
    if data.size != 2 * w * h:
        raise ValueError(f"{path}: truncated .flo file ({data.size} of {2 * w * h} values)")
    flow = data.reshape(h, w, 2)
    valid = (np.abs(flow) < 1e9).all(-1)
    return np.where(valid[..., None], flow, 0).astype(np.float32), valid


def read_kitti_flow(path):
    """KITTI 16-bit PNG flow: returns (flow (H, W, 2) float32, valid (H, W) bool)."""
    png = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if png is None or png.dtype != np.uint16 or png.ndim != 3:
        raise ValueError(f"{path}: expected a 3-channel 16-bit PNG flow map")
    rgb = png[..., ::-1].astype(np.float32)
    flow = (rgb[..., :2] - 2.0 ** 15) / 64.0
    valid = rgb[..., 2] > 0
    return np.where(valid[..., None], flow, 0).astype(np.float32), valid


def _read_rgb(path):
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f"{path}: cannot read image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def middlebury_pairs(folder):
    """Pairs of the Middlebury flow folder: list of (name, img1, img2, flow, valid), images RGB uint8."""
    folder = Path(folder)
    out = []
    for gt in sorted(folder.glob("other-gt-flow/*/flow10.flo")):
        seq = gt.parent.name
        frames = folder / "other-data" / seq
        flow, valid = read_flo(gt)
        out.append((seq, _read_rgb(frames / "frame10.png"), _read_rgb(frames / "frame11.png"), flow, valid))
    return out


def kitti_pairs(folder):
    """Pairs of a KITTI flow folder: list of (name, img1, img2, flow, valid), images gray uint8."""
    folder = Path(folder)
    out = []
    for gt in sorted(folder.glob("flow_noc/*_10.png")):
        stem = gt.name[:-len("_10.png")]
        imgs = [cv2.imread(str(folder / "image_0" / f"{stem}_{k}.png"), cv2.IMREAD_GRAYSCALE) for k in (10, 11)]
        if any(i is None for i in imgs):
            raise FileNotFoundError(f"{folder / 'image_0'}: missing frames of pair {stem}")
        flow, valid = read_kitti_flow(gt)
        out.append((stem, imgs[0], imgs[1], flow, valid))
    return out
