"""Depth maps: a monocular plug-in's per image, as colour pictures and as files."""
from pathlib import Path

import cv2
import numpy as np


def monocular_depths(estimator, images, progress=None):
    """Per image, the estimator's depth map as depth (inverse maps inverted; <= 0 -> NaN);
    progress: optional callable(done, total) after each image."""
    out = []
    for img in images:
        d = np.asarray(estimator(img), np.float64)
        d = np.where(d > 0, d, np.nan)
        out.append(1.0 / d if getattr(estimator, "inverse", False) else d)
        if progress is not None:
            progress(len(out), len(images))
    return out


def depth_preview(depth):
    """Colour image (H, W, 3) uint8 RGB of a depth map: near warm, far cold, black where NaN."""
    valid = np.isfinite(depth)
    out = np.zeros(depth.shape + (3,), np.uint8)
    if valid.any():
        inv = 1.0 / depth[valid]
        lo, hi = np.percentile(inv, [1, 99])
        v = np.clip((1.0 / np.where(valid, depth, 1.0) - lo) / max(hi - lo, 1e-12), 0, 1)
        colored = cv2.applyColorMap((v * 255).astype(np.uint8), cv2.COLORMAP_TURBO)[:, :, ::-1]
        out[valid] = colored[valid]
    return out


def write_depths(folder, depths):
    """`folder/<image stem>.npy` (float32 depth, NaN: none) and `<image stem>.png`
    (`depth_preview`, RGB) for each image name -> depth (H, W) of `depths`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, depth in depths.items():
        stem = Path(name).stem
        np.save(folder / f"{stem}.npy", depth.astype(np.float32))
        if not cv2.imwrite(str(folder / f"{stem}.png"), depth_preview(depth)[:, :, ::-1]):
            raise OSError(f"{folder / stem}.png: could not write the image")
