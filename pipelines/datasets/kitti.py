"""KITTI 2012 samples: the stereo frame (`kitti2012_stereo_sample`) and the flow pair
(`kitti2012_flow_sample`).

Stereo: `image_0`/`image_1` grey rectified pair (`colored_0`/`colored_1` RGB), disparity
`disp_noc`/`disp_occ` as 16-bit PNG with `disp = value / 256` (0 = no LiDAR ground truth),
`calib/<frame>.txt` with rectified projection matrices P0..P3 (3 x 4, row-major). Flow: 16-bit
RGB PNG with `u = (R - 2^15) / 64`, `v = (G - 2^15) / 64`, valid = B > 0.
"""
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


@dataclass
class KittiStereoFrame:
    """left/right: (H, W) uint8 grey or (H, W, 3) RGB; disparity: (H, W) float32 pixels, NaN
    without ground truth; masks: 'noc' (non-occluded) and 'occ' (all pixels with ground truth)
    -> (H, W) bool; P: camera name 'P0'..'P3' -> (3, 4) projection; focal (pixels) and
    baseline (metres) of the pair, so that depth = focal * baseline / disparity."""

    name: str
    left: np.ndarray
    right: np.ndarray
    disparity: np.ndarray
    masks: dict
    P: dict
    focal: float
    baseline: float


def load_stereo_frame(folder, frame="000070", color=False):
    """Read one frame of the KITTI 2012 stereo sample (grey pair `image_0/1`, or the RGB pair
    `colored_0/1` with `color=True`; same rectified geometry)."""
    folder = Path(folder)
    sub = ("colored_0", "colored_1") if color else ("image_0", "image_1")
    left, right = (_image(folder / s / f"{frame}_10.png", color) for s in sub)
    disps = {m: _read(folder / f"disp_{m}" / f"{frame}_10.png").astype(np.float32) / 256.0
             for m in ("noc", "occ")}
    P = load_calibration(folder / "calib" / f"{frame}.txt")
    focal = P["P0"][0, 0]
    baseline = -P["P1"][0, 3] / P["P1"][0, 0]
    disparity = np.where(disps["occ"] > 0, disps["occ"], np.nan).astype(np.float32)
    masks = {m: d > 0 for m, d in disps.items()}
    return KittiStereoFrame(frame, left, right, disparity, masks, P, float(focal), float(baseline))


def load_calibration(path):
    """KITTI calibration file -> dict name ('P0'...) -> (3, 4) float64 projection matrix."""
    out = {}
    for line in Path(path).read_text().splitlines():
        name, _, values = line.partition(":")
        v = np.array(values.split(), dtype=np.float64)
        if v.size == 12:
            out[name.strip()] = v.reshape(3, 4)
    return out


def load_flow_pair(folder, frame="000010"):
    """KITTI 2012 flow sample: (image1, image2) uint8 grey, flow (H, W, 2) float32 from image 1
    to image 2 with NaN where there is no ground truth."""
    folder = Path(folder)
    im1, im2 = (_image(folder / "image_0" / f"{frame}_{k}.png", False) for k in ("10", "11"))
    raw = _read(folder / "flow_noc" / f"{frame}_10.png")[..., ::-1].astype(np.float32)  # BGR->RGB
    flow = (raw[..., :2] - 2.0 ** 15) / 64.0
    flow[raw[..., 2] == 0] = np.nan
    return im1, im2, flow


def _read(path, flags=cv2.IMREAD_UNCHANGED):
    img = cv2.imread(str(path), flags)
    if img is None:
        raise FileNotFoundError(f"{path}: cannot read image")
    return img


def _image(path, color):
    if color:
        return cv2.cvtColor(_read(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return _read(path, cv2.IMREAD_GRAYSCALE)
