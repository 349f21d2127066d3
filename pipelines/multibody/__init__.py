"""Multi-body depth and camera pose from a few views (`mvdepth multibody`).

Stages (plain functions over plain data; see `pipeline` for the order), on the shared layer of
`pipelines` (images, intrinsics, SIFT matches of every pair): `segmentation` (per-pair
multi-model fitting synchronised into bodies), `motion` (per body and pair: pose, points; scales
from monocular depth by kernel density voting), `dense` (multi-body plane sweep), `output`
(folder and report), `evaluate` (errors against synthetic ground truth). `tracks.segment_tracks`
segments point tracks with the same fitting and synchronisation. After Dal Cin, Boracchi and
Magri, 'Multi-body Depth and Camera Pose Estimation from Multiple Views' (ICCV 2023).
"""
from .pipeline import MultiBodyResult, load_depth_plugin, reconstruct, run
from .tracks import segment_tracks

__all__ = ["MultiBodyResult", "load_depth_plugin", "reconstruct", "run", "segment_tracks"]
