"""Middlebury stereo v2 pairs (tsukuba, teddy): images, ground-truth disparity, evaluation masks.

Per scene (SOURCE.md): left/right images, `groundtruth.png` = disparity x scale of the left view
(0 = unknown; a palette PNG, so read as grey), masks `nonocc.png`, `all.png`, `disc.png`
(255 = in the region). Left pixel (x, y) matches right pixel (x - d, y).
"""
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

#: scene -> (left file, right file, disparity scale)
SCENES = {"tsukuba": ("im3.png", "im4.png", 16.0), "teddy": ("im2.png", "im6.png", 4.0)}


@dataclass
class StereoPair:
    """A rectified pair with ground truth. left/right: (H, W, 3) uint8 RGB; disparity: (H, W)
    float32 pixels, NaN where unknown; masks: region name ('nonocc', 'all', 'disc') -> (H, W)
    bool, already restricted to pixels with a known disparity."""

    name: str
    left: np.ndarray
    right: np.ndarray
    disparity: np.ndarray
    masks: dict


def load_pair(folder, scene):
    """Read one scene ('tsukuba' or 'teddy') of the `middlebury_stereo_v2` folder."""
    if scene not in SCENES:
        raise ValueError(f"scene: expected one of {sorted(SCENES)}, got {scene!r}")
    left_name, right_name, scale = SCENES[scene]
    folder = Path(folder) / scene
    gt = _read(folder / "groundtruth.png", cv2.IMREAD_GRAYSCALE).astype(np.float32)
    known = gt > 0
    disparity = np.where(known, gt / scale, np.nan).astype(np.float32)
    masks = {m: (_read(folder / f"{m}.png", cv2.IMREAD_GRAYSCALE) == 255) & known
             for m in ("nonocc", "all", "disc")}
    return StereoPair(scene, _rgb(folder / left_name), _rgb(folder / right_name), disparity, masks)


def _read(path, flags):
    img = cv2.imread(str(path), flags)
    if img is None:
        raise FileNotFoundError(f"{path}: cannot read image")
    return img


def _rgb(path):
    return cv2.cvtColor(_read(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
