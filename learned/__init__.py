"""Learned plug-ins (torch): optical flow and monocular depth networks, their losses, training
and metrics, behind one interface (`load_flow`, `load_depth`, `available`; see `plugins`).

Subpackages: `flow` (RAFT-style network, sequence loss, metrics, synthetic data, training),
`depth` (U-Net, losses, metrics, synthetic data, supervised training and self-supervised training
on posed views: toy planes, real images with SfM poses, rectified stereo pairs). Shared:
`images` (validation, padding), `warp` (differentiable warping), `checkpoint` (weights files),
`training` (the resumable optimisation loop), `synthetic` (textures, parallel data),
`onnx_io` (ONNX export and ONNX plug-ins), `depth_anything` (Depth Anything via transformers).
`learned` may import `geom`, never `pipelines`.
"""
from .onnx_io import export_onnx
from .plugins import available, load_depth, load_flow

__all__ = ["available", "export_onnx", "load_depth", "load_flow"]
