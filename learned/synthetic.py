"""Random textures and shape masks (cv2) for the synthetic training data of `learned.flow.data`
and `learned.depth.data` (all randomness from a numpy `Generator`), the cache of rendered
training sets, and parallel generation of their batches for training."""
from pathlib import Path

import cv2
import numpy as np
import torch


def random_texture(rng, height, width):
    """A random RGB texture `(H, W, 3)` float32 in [0, 1]: multi-octave smooth colour noise plus
    random filled circles and rectangles (sharp edges for matching)."""
    out = np.zeros((height, width, 3), np.float32)
    for octave in range(1, 6):
        cells = 2 ** octave
        small = rng.random((cells + 1, cells + 1, 3)).astype(np.float32)
        out += cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC) / 2 ** (5 - octave) ** 0.5
    out = (out - out.min()) / max(float(np.ptp(out)), 1e-6)
    for _ in range(rng.integers(10, 40)):
        colour = tuple(float(c) for c in rng.random(3))
        cx, cy = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(2, max(3, min(height, width) // 6)))
        if rng.random() < 0.5:
            cv2.circle(out, (cx, cy), size, colour, -1, cv2.LINE_AA)
        else:
            cv2.rectangle(out, (cx, cy), (cx + size, cy + int(rng.integers(2, size + 2))), colour, -1)
    fine = rng.normal(0, 0.04, (height, width, 3)).astype(np.float32)
    return np.clip(out + fine, 0, 1)


def random_mask(rng, height, width):
    """A random filled shape (ellipse or polygon) covering part of an `(H, W)` canvas, as a
    float32 mask in {0, 1}."""
    mask = np.zeros((height, width), np.float32)
    cx, cy = rng.uniform(0.2, 0.8) * width, rng.uniform(0.2, 0.8) * height
    r = rng.uniform(0.08, 0.3) * min(height, width)
    if rng.random() < 0.5:
        axes = (int(r), int(r * rng.uniform(0.4, 1.0)))
        cv2.ellipse(mask, (int(cx), int(cy)), axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
    else:
        n = int(rng.integers(3, 8))
        ang = np.sort(rng.uniform(0, 2 * np.pi, n))
        rad = r * rng.uniform(0.5, 1.0, n)
        pts = np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], -1).astype(np.int32)
        cv2.fillPoly(mask, [pts], 1.0)
    return mask


def cached_arrays(path, make):
    """The dict of arrays `make()` returns, read from the `.npz` file `path` when it exists, else
    computed and written there (never half-written); `path` None: no cache."""
    if path is not None and Path(path).is_file():
        with np.load(path) as f:
            return {k: f[k] for k in f.files}
    arrays = make()
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, **arrays)
        tmp.replace(path)
    return arrays


def batch_stream(make_batch, seed, start=0, stride=1):
    """Endless generator of `make_batch(rng)` for the batch indices `start, start + stride, ...`,
    batch `k` drawing from its own generator seeded `[seed, k]`: the same batch whichever
    process draws it, so a run is reproducible across worker counts and resumed runs."""
    k = start
    while True:
        yield make_batch(np.random.default_rng([seed, k]))
        k += stride


class _Stream(torch.utils.data.IterableDataset):
    """Worker `w` of `n` draws the batches `start + w, start + w + n, ...` of `make`."""

    def __init__(self, make, seed, start, args, kwargs):
        super().__init__()
        self.make, self.seed, self.start, self.args, self.kwargs = make, seed, start, args, kwargs

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        w, n = (0, 1) if info is None else (info.id, info.num_workers)
        return self.make(self.seed, *self.args, start=self.start + w, stride=n, **self.kwargs)


def _one_thread(_):
    torch.set_num_threads(1)  # many workers, each with a thread pool, would oversubscribe the CPU


def parallel_batches(make, seed, workers, *args, start=0, **kwargs):
    """The batches `start, start + 1, ...` of the generator function
    `make(seed, *args, start=, stride=, **kwargs)` (e.g. `learned.flow.data.batches`), made by
    `workers` processes (in order: the same sequence as `make` alone), or by this process
    when `workers` is 0."""
    if workers == 0:
        return make(seed, *args, start=start, **kwargs)
    loader = torch.utils.data.DataLoader(_Stream(make, seed, start, args, kwargs), batch_size=None,
                                         num_workers=workers, persistent_workers=True, prefetch_factor=4,
                                         worker_init_fn=_one_thread)
    return iter(loader)
