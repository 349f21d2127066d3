"""mvdepth's geometry core: numba kernels, numpy in and out, never torch.

Modules: `rotation`, `camera`, `camera_models` (COLMAP's lens distortion models), `io`,
`epipolar`, one solver per module (`eightpoint`, `sevenpoint`, `fivepoint`, `homography`, `p3p`),
`lm` (one Levenberg-Marquardt driver), `refine`, `bundle` (bundle adjustment), `robust` (one
RANSAC engine), `multimodel`, `triangulate`, `rectify`, `costvolume`,
`stereo`, `planesweep`, `synth` (rendered scenes with ground truth), and `testing` (hypothesis
strategies and invariant checks).
Conventions for pixels, poses and depth are in each module's docstring and in DESIGN.md.
"""
from .camera import Camera, decompose_projection, intrinsic_matrix, look_at, relative_pose

__all__ = ["Camera", "decompose_projection", "intrinsic_matrix", "look_at", "relative_pose"]
