import itertools

import numpy as np
import pytest
import torch

from learned.flow.data import batches
from learned.flow.raft import RAFT, convex_upsample
from learned.flow.train import train

MICRO = dict(widths=(8, 8, 16), feature_dim=16, hidden_dim=16, context_dim=8, corr_levels=2,
             corr_radius=2, iters=2)


def test_small_is_about_one_million_parameters():
    n = sum(p.numel() for p in RAFT.from_size("small").parameters())
    assert 0.7e6 < n < 1.5e6


def test_one_full_resolution_flow_per_iteration():
    torch.manual_seed(0)
    model = RAFT.from_size("tiny").eval()
    with torch.no_grad():
        x1, x2 = torch.rand(2, 3, 64, 80), torch.rand(2, 3, 64, 80)
        flows = model(x1, x2, iters=4, all_iterations=True)
        last = model(x1, x2, iters=4)
    assert len(flows) == 4 and all(f.shape == (2, 2, 64, 80) for f in flows)
    assert len(last) == 1 and torch.equal(last[0], flows[-1])


def test_rejects_sizes_not_divisible_by_8():
    model = RAFT.from_size("tiny")
    with pytest.raises(ValueError, match="divisible by 8"):
        model(torch.rand(1, 3, 60, 64), torch.rand(1, 3, 60, 64))
    with pytest.raises(ValueError, match="unknown RAFT size 'huge'"):
        RAFT.from_size("huge")


def test_convex_upsampling_of_a_constant_flow():
    flow = torch.tensor([1.5, -0.5]).reshape(1, 2, 1, 1).expand(1, 2, 3, 4)
    up = convex_upsample(flow, torch.randn(1, 64 * 9, 3, 4))
    assert up.shape == (1, 2, 24, 32)
    # interior fine pixels mix only equal neighbours: exactly 8x the coarse flow
    expected = torch.tensor([12.0, -4.0]).reshape(1, 2, 1, 1).expand(1, 2, 8, 16)
    torch.testing.assert_close(up[..., 8:16, 8:24], expected)


def test_gradients_reach_every_part():
    torch.manual_seed(0)
    model = RAFT(**MICRO)
    flows = model(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32))
    flows[-1].abs().mean().backward()
    for name in ("fnet", "cnet", "update"):
        grads = [p.grad for p in getattr(model, name).parameters()]
        assert any(g is not None and g.abs().sum() > 0 for g in grads), name


def test_tiny_network_overfits_a_few_pairs():
    torch.manual_seed(0)
    model = RAFT(**MICRO)
    batch = next(batches(0, 2, 48, 48, augment=False, max_motion=0.08))
    losses = train(model, itertools.repeat(batch), 60, lr=1e-2)
    assert np.mean(losses[-5:]) < losses[0] / 3
