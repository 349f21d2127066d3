"""Stage 2: features of each image: SIFT keypoints (OpenCV) with RootSIFT descriptors and the
keypoints' colours. Keypoints follow the house pixel convention.
"""
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np

MIN_IMAGE_SIDE = 32  # pixels; smaller images hold too few SIFT features to verify a pair

@dataclass
class Features:
    """Keypoints (N, 2) pixels, descriptors (N, 128) float32, colours (N, 3) uint8 RGB."""

    keypoints: np.ndarray
    descriptors: np.ndarray
    colors: np.ndarray


_OPENCV_SIFT_OFFSET = 0.25  # px, in x and y (see extract_features)


def extract_features(image, max_features=8000, root_sift=True, contrast_threshold=0.01):
    """SIFT features of an RGB uint8 image (H, W, 3) -> `Features`; RootSIFT (L1 normalise, square
    root) by default, which compares descriptors by the Hellinger kernel. contrast_threshold:
    SIFT's (OpenCV default 0.04), lowered to find features on weakly textured objects.
    Keypoints follow DESIGN.md's pixel convention: OpenCV reports positions in its doubled first
    octave halved, i.e. +0.25 px off in x and y (a principal-point error in every view), which is
    taken off. (`enable_precise_upscale` also removes the offset, but finds other features, less
    accurate in bench_sfm: temple median rotation error 0.31 vs 0.21 deg.)"""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    sift = cv2.SIFT_create(nfeatures=max_features, contrastThreshold=contrast_threshold)
    kps, desc = sift.detectAndCompute(gray, None)
    if desc is None or not kps:  # OpenCV gives an empty array, not None, on some blank images
        return Features(np.zeros((0, 2)), np.zeros((0, 128), np.float32), np.zeros((0, 3), np.uint8))
    xy = np.array([k.pt for k in kps], dtype=np.float64) - _OPENCV_SIFT_OFFSET
    if root_sift:
        desc = np.sqrt(desc / np.maximum(desc.sum(axis=1, keepdims=True), 1e-12))
    h, w = gray.shape
    ij = np.clip(np.round(xy).astype(int), 0, [w - 1, h - 1])
    return Features(xy, desc.astype(np.float32), image[ij[:, 1], ij[:, 0]].copy())


def extract_all(images, progress=None, workers=None):
    """`extract_features` of every image of `images` -> list of `Features`, in order, in
    `workers` threads (default one per CPU: OpenCV's SIFT releases the GIL). progress: optional
    callable(done, total)."""
    out = []
    with ThreadPoolExecutor(workers or os.cpu_count() or 1) as pool:
        for k, f in enumerate(pool.map(extract_features, images)):
            out.append(f)
            if progress is not None:
                progress(k + 1, len(images))
    return out
