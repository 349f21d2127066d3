import numpy as np
import torch

from learned.flow.data import batches
from learned.synthetic import parallel_batches, random_mask, random_texture


def test_texture_and_mask():
    rng = np.random.default_rng(0)
    tex = random_texture(rng, 20, 30)
    assert tex.shape == (20, 30, 3) and tex.dtype == np.float32 and 0 <= tex.min() and tex.max() <= 1
    assert tex.std() > 0.1
    mask = random_mask(rng, 20, 30)
    assert set(np.unique(mask)) <= {0.0, 1.0} and 0 < mask.mean() < 1


def test_parallel_batches_are_deterministic_and_differ_per_worker():
    runs = []
    for _ in range(2):
        it = parallel_batches(batches, 3, 2, 1, 16, 16)
        runs.append([next(it) for _ in range(2)])
    for a, b in zip(*runs):
        assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not torch.equal(runs[0][0][0], runs[0][1][0])  # worker 0 and worker 1 draw differently
    inline = next(parallel_batches(batches, 3, 0, 1, 16, 16))
    assert all(torch.equal(x, y) for x, y in zip(inline, next(batches(3, 1, 16, 16))))
