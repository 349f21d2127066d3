"""Synthetic RGB-D batches generated on the fly (cv2), for the supervised training loop.

A scene is a slanted background plane and a few nearer planar objects (random shapes), each
with its own random texture; depth is exact per layer (a plane's inverse depth is affine in the
pixel coordinates) with z-buffer occlusion. Colours are attenuated with distance (fog), the one
monocular cue besides occlusion that such a scene carries: a toy source to exercise the training
code, not a substitute for rendered 3D scenes.
"""
import numpy as np
import torch

from ..synthetic import random_mask, random_texture


def _plane_depth(rng, height, width, near, far):
    """Depth `(H, W)` of a random plane whose depth stays within [near, far] over the image."""
    xs, ys = np.meshgrid(np.linspace(-1, 1, width), np.linspace(-1, 1, height))
    inv = 1 / rng.uniform(near, far) + rng.uniform(-0.3, 0.3) / far * xs + rng.uniform(-0.3, 0.3) / far * ys
    return 1 / np.clip(inv, 1 / far, 1 / near)


def make_rgbd(rng, height, width, n_objects=(1, 4), depth_range=(1.0, 10.0), fog=0.08):
    """One sample: image `(H, W, 3)` float32 in [0, 1] and metric depth `(H, W)` float32."""
    rng = np.random.default_rng(rng)
    near, far = depth_range
    depth = _plane_depth(rng, height, width, 0.5 * (near + far), far)
    img = random_texture(rng, height, width)
    for _ in range(rng.integers(n_objects[0], n_objects[1] + 1)):
        mask = random_mask(rng, height, width) > 0.5
        z = _plane_depth(rng, height, width, near, 0.7 * far)
        front = mask & (z < depth)
        depth[front] = z[front]
        img[front] = random_texture(rng, height, width)[front]
    img = img * np.exp(-fog * depth)[..., None] + (1 - np.exp(-fog * depth))[..., None] * 0.7
    return np.clip(img, 0, 1).astype(np.float32), depth.astype(np.float32)


def batches(seed, batch_size, height, width, **scene_options):
    """Endless generator of `(images (B, 3, H, W), depths (B, 1, H, W))` tensors; deterministic
    for a given `seed`."""
    rng = np.random.default_rng(seed)
    while True:
        samples = [make_rgbd(rng, height, width, **scene_options) for _ in range(batch_size)]
        yield (torch.from_numpy(np.stack([s[0] for s in samples])).permute(0, 3, 1, 2).contiguous(),
               torch.from_numpy(np.stack([s[1] for s in samples]))[:, None])
