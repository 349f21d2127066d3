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


def _same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b))


def test_parallel_batches_are_the_sequence_of_one_process():
    inline = batches(3, 1, 16, 16)
    expected = [next(inline) for _ in range(5)]
    assert not _same(expected[0], expected[1])
    parallel = parallel_batches(batches, 3, 2, 1, 16, 16)
    assert all(_same(next(parallel), e) for e in expected)
    resumed = parallel_batches(batches, 3, 0, 1, 16, 16, start=3)  # e.g. a run resumed at step 3
    assert _same(next(resumed), expected[3]) and _same(next(resumed), expected[4])
