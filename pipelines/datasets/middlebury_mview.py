"""Middlebury multi-view stereo rings (templeSparseRing): images and ground-truth cameras.

`<name>_par.txt`: a count, then per image `name k11..k33 r11..r33 t1 t2 t3` with
`P = K [R | t]` (world to image), the same conventions as `geom.camera.Camera`.
"""
from pathlib import Path

import cv2
import numpy as np

from geom.camera import Camera


def load_cameras(folder):
    """Ground-truth cameras of a ring folder: dict image file name -> Camera (width/height set)."""
    folder = Path(folder)
    par = next(folder.glob("*_par.txt"), None)
    if par is None:
        raise FileNotFoundError(f"{folder}: no *_par.txt camera file")
    lines = par.read_text().split("\n")
    cams = {}
    for line in lines[1:int(lines[0]) + 1]:
        name, *values = line.split()
        v = np.array(values, dtype=np.float64)
        R = v[9:18].reshape(3, 3)
        u, _, vt = np.linalg.svd(R)  # the file's rotations are orthonormal to ~1e-8 only
        h, w = cv2.imread(str(folder / name), cv2.IMREAD_UNCHANGED).shape[:2]
        cams[name] = Camera(v[:9].reshape(3, 3), u @ vt, v[18:21], w, h)
    return cams


def load_image(folder, name, gray=False):
    """One image of the ring as uint8 (H, W, 3) RGB, or (H, W) when `gray`."""
    path = str(Path(folder) / name)
    img = cv2.imread(path, cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f"{path}: cannot read image")
    return img if gray else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def load_bounding_box(folder):
    """The object's bounding box from the ring's README.txt: (lo (3,), hi (3,)) world corners."""
    text = (Path(folder) / "README.txt").read_text()
    corners = [np.array(line.strip("() \t").split(), dtype=np.float64)
               for line in text.splitlines() if line.strip().startswith("(")]
    if len(corners) < 2:
        raise ValueError(f"{folder}/README.txt: no bounding box")
    return corners[0], corners[1]


def depth_range(cam, box, margin=0.05):
    """(near, far) depth of the bounding box `box` = (lo, hi) seen by `cam`, widened by `margin`."""
    lo, hi = box
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1])
                        for z in (lo[2], hi[2])])
    z = cam.depth(corners)
    return (1 - margin) * z.min(), (1 + margin) * z.max()
