"""RGB-D training data rendered from the 3D scenes of `geom.synth` (ray-cast rooms with boxes,
spheres and slabs, an object ring on a ground plane, flying planar layers), for the shipped
depth weights: unlike the toy planes of `data.make_rgbd`, these carry perspective, shading,
ground contact and occlusion cues.

Rendering costs ~0.05 s a frame, so `render_frames` draws a fixed set of frames once (cached
as a `.npz` file when given a directory) and `batches` makes training batches from them:
random crops, horizontal flips and photometric jitter (gain, gamma, colour balance, noise).
"""
from pathlib import Path

import numpy as np
import torch

from geom.synth.generators import flying_layers, moving_bodies, orbit_ring, random_scene
from geom.synth.render import render

from ..synthetic import batch_stream, cached_arrays

# generator name -> scene(seed, width, height) with 2 frames (two views of each scene)
GENERATORS = {
    "random_scene": lambda s, w, h: random_scene(seed=s, width=w, height=h, n_frames=2),
    "moving_bodies": lambda s, w, h: moving_bodies(n_bodies=1 + s % 3, n_frames=2, seed=s, width=w,
                                                   height=h, camera_step=np.radians(20)),
    "orbit_ring": lambda s, w, h: orbit_ring(n_views=2, seed=s, width=w, height=h,
                                             radius=3.0 + s % 4, elevation=np.radians(15 + s % 4 * 10)),
    "flying_layers": lambda s, w, h: flying_layers(seed=s, width=w, height=h, n_frames=2),
}


def render_frames(n_scenes, height, width, seed=0, cache_dir=None):
    """Images `(N, H, W, 3)` uint8 and depths `(N, H, W)` float32 (camera z; 0 where nothing is
    hit) of the 2 frames of each of `n_scenes` scenes, the generators of `GENERATORS` in turn,
    scene `i` with generator seed `seed * 1_000_000 + i` (distinct seeds: distinct scenes).
    With `cache_dir`, read from / write to `cache_dir/scenes_<seed>_<n>_<W>x<H>.npz`."""
    path = None if cache_dir is None else Path(cache_dir) / f"scenes_{seed}_{n_scenes}_{width}x{height}.npz"

    def make():
        makers = list(GENERATORS.values())
        images, depths = [], []
        for i in range(n_scenes):
            for frame in render(makers[i % len(makers)](seed * 1_000_000 + i, width, height)).frames:
                images.append(frame.image)
                depths.append(np.where(np.isfinite(frame.depth), frame.depth, 0).astype(np.float32))
        return {"images": np.stack(images), "depths": np.stack(depths)}
    out = cached_arrays(path, make)
    return out["images"], out["depths"]


def augment(rng, image, depth, height, width):
    """A random `(height, width)` crop of `image (H, W, 3)` uint8 / `depth (H, W)`, flipped
    left-right half of the time, with photometric jitter: returns float32 `(3, h, w)` in
    [0, 1] and `(1, h, w)`."""
    y = rng.integers(0, image.shape[0] - height + 1)
    x = rng.integers(0, image.shape[1] - width + 1)
    img = image[y:y + height, x:x + width].astype(np.float32) / 255
    d = depth[y:y + height, x:x + width]
    if rng.random() < 0.5:
        img, d = img[:, ::-1], d[:, ::-1]
    img = img ** rng.uniform(0.7, 1.4) * rng.uniform(0.7, 1.3) * rng.uniform(0.85, 1.15, 3)
    img = img + rng.normal(0, rng.uniform(0, 0.03), img.shape)
    return (np.clip(img, 0, 1).astype(np.float32).transpose(2, 0, 1),
            np.ascontiguousarray(d, dtype=np.float32)[None])


def batches(seed, batch_size, height, width, start=0, stride=1, n_scenes=600, render_height=None,
            render_width=None, cache_dir=None):
    """Endless generator of `(images (B, 3, H, W), depths (B, 1, H, W))` tensors: batches number
    `start, start + stride, ...` (`synthetic.batch_stream`) of `augment`ed random frames of
    `render_frames(n_scenes, render_height, render_width, seed, cache_dir)` (render size
    default: 5/4 of the crop size)."""
    rh, rw = render_height or height * 5 // 4, render_width or width * 5 // 4
    images, depths = render_frames(n_scenes, rh, rw, seed, cache_dir)

    def batch(rng):
        picks = rng.integers(0, len(images), batch_size)
        samples = [augment(rng, images[i], depths[i], height, width) for i in picks]
        return (torch.from_numpy(np.stack([s[0] for s in samples])),
                torch.from_numpy(np.stack([s[1] for s in samples])))
    return batch_stream(batch, seed, start, stride)
