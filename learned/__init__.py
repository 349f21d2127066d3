"""Learned plug-ins (torch): optical flow and monocular depth networks, their losses, training
and metrics, behind one interface (`load_flow`, `load_depth`, `available`; see `plugins`).

Subpackages: `flow` (RAFT-style network, sequence loss, metrics, synthetic data, training),
`depth` (U-Net, losses, metrics, synthetic data, supervised and posed-view training). Shared:
`images` (validation, padding), `warp` (differentiable warping), `checkpoint` (weights files),
`training` (the resumable optimisation loop), `synthetic` (textures, parallel data).
`learned` may import `geom`, never `pipelines`.
"""
from .plugins import available, load_depth, load_flow

__all__ = ["available", "load_depth", "load_flow"]
