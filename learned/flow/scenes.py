"""Optical-flow training pairs rendered from the 3D scenes of `geom.synth`: a moving camera in
rooms with independently moving boxes, spheres and slabs, and flying planar layers. Unlike the
affine layers of `learned.flow.data`, their flow has perspective parallax, rotation in depth,
shading and occlusion by real geometry (ground truth from `geom.synth.render.flow`, defined at
occluded pixels too).

Rendering costs ~0.2-0.8 s a pair on one core (numba, parallel over rows), so `render_pairs`
renders a fixed set once (cached as an `.npz` file) and `sample` draws augmented crops of it.
"""
from pathlib import Path

import numpy as np

from geom.synth.generators import flying_layers, moving_bodies, random_scene
from geom.synth.render import render

from ..synthetic import cached_arrays

# generator name -> scene(seed, width, height) with 2 frames a small camera motion apart
GENERATORS = {
    "random_scene": lambda s, w, h: random_scene(seed=s, width=w, height=h, n_frames=2),
    "moving_bodies": lambda s, w, h: moving_bodies(n_bodies=1 + s % 3, n_frames=2, seed=s, width=w,
                                                   height=h, camera_step=np.radians(2), body_speed=0.04),
    "flying_layers": lambda s, w, h: flying_layers(seed=s, width=w, height=h, n_frames=2),
}


def render_pairs(n_pairs, height, width, seed=0, cache_dir=None):
    """Images `(N, 2, H, W, 3)` uint8 (frames 1 and 2) and flows `(N, H, W, 2)` float32 (frame 1
    -> frame 2) of `n_pairs` scenes, the generators of `GENERATORS` in turn, scene `i` with
    generator seed `seed * 1_000_000 + i`; a scene whose flow is undefined somewhere (a point
    behind the second camera) is skipped. With `cache_dir`, read from / written to
    `cache_dir/flow_scenes_<seed>_<n>_<W>x<H>.npz`."""
    path = None if cache_dir is None else Path(cache_dir) / f"flow_scenes_{seed}_{n_pairs}_{width}x{height}.npz"

    def make():
        makers = list(GENERATORS.values())
        images, flows, i = [], [], 0
        while len(flows) < n_pairs:
            sequence = render(makers[i % len(makers)](seed * 1_000_000 + i, width, height))
            flow = sequence.flow(0, 1)[0]
            if np.isfinite(flow).all():
                images.append(np.stack([f.image for f in sequence.frames]))
                flows.append(flow)
            i += 1
        return {"images": np.stack(images), "flows": np.stack(flows).astype(np.float32)}
    out = cached_arrays(path, make)
    return out["images"], out["flows"]


def sample(rng, images, flows, height, width):
    """A random `(height, width)` crop of a random pair of `render_pairs`' `images`, `flows`,
    mirrored left-right half of the time: img1, img2 `(h, w, 3)` float32 in [0, 1] and flow
    `(h, w, 2)` float32, as `learned.flow.data.make_pair` returns."""
    k = rng.integers(len(flows))
    y = rng.integers(0, flows.shape[1] - height + 1)
    x = rng.integers(0, flows.shape[2] - width + 1)
    window = (k, slice(y, y + height), slice(x, x + width))
    img1, img2 = (images[k, f, window[1], window[2]].astype(np.float32) / 255 for f in (0, 1))
    flow = flows[window]
    if rng.random() < 0.5:  # mirrored: the horizontal motion changes sign
        img1, img2, flow = img1[:, ::-1], img2[:, ::-1], flow[:, ::-1] * np.float32([-1, 1])
    return tuple(np.ascontiguousarray(a, dtype=np.float32) for a in (img1, img2, flow))
